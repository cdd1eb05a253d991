//! An outbox of the schema before the watermark (each published row marked `published_at`) is
//! upgraded without republishing or losing anything: each stream's watermark is its published
//! prefix, the rows after it still wait, and the relay carries on from there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{sync::Arc, time::Duration};

use common::{Migrator, count, queue_of_both_streams};
use cplds_runtime::{
    bus::{EventBus, memory::InMemoryBus},
    clock,
    config::OutboxConfig,
    db::{self, DbTarget, RuntimeUpgrades, stmt},
    outbox::{Outbox, OutboxRelay, backlog, numbered_unpublished_count, published_count},
    testing::{POSTGRES_ENV, TestPostgres, server_url},
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

/// The runtime's upgrades before the watermark: the sequence at publish, the quarantine.
const BEFORE_WATERMARK: u32 = 2;

async fn old_schema(target: &DbTarget) -> DatabaseConnection {
    let conn = db::connect(target).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    RuntimeUpgrades::up(&conn, Some(BEFORE_WATERMARK))
        .await
        .unwrap();
    conn
}

async fn upgrades_keep_what_was_published(target: DbTarget) {
    let conn = old_schema(&target).await;
    let backend = conn.get_database_backend();
    // (stream, sequence, published): national 1–3 and internal 1–2 were sent; national 4 was
    // numbered and not confirmed; one row waits for its sequence.
    let rows: [(&str, Option<i64>, bool); 7] = [
        ("national", Some(1), true),
        ("national", Some(2), true),
        ("internal", Some(1), true),
        ("national", Some(3), true),
        ("internal", Some(2), true),
        ("national", Some(4), false),
        ("internal", None, false),
    ];
    let now = chrono::Utc::now();
    for (i, (stream, sequence, published)) in rows.iter().enumerate() {
        conn.execute_raw(stmt(
            backend,
            "INSERT INTO outbox (event_id, stream, sequence, routing_key, event_type, envelope, created_at, published_at) \
             VALUES (?, ?, ?, 'toulouse.registration.t', 't', ?, ?, ?)",
            vec![
                format!("e{i}").into(),
                (*stream).into(),
                (*sequence).into(),
                Vec::<u8>::new().into(),
                now.into(),
                published.then_some(now).into(),
            ],
        ))
        .await
        .unwrap();
    }
    for (stream, last) in [
        ("national", 4),
        ("internal", 2),
        ("regional", 0),
        ("control", 0),
    ] {
        conn.execute_raw(stmt(
            backend,
            "INSERT INTO outbox_sequence (stream, last_sequence) VALUES (?, ?)",
            vec![stream.into(), last.into()],
        ))
        .await
        .unwrap();
    }
    drop(conn);

    let conn = db::open::<Migrator>(&target).await.unwrap();
    assert_eq!(published_count(&conn).await.unwrap(), 5);
    assert_eq!(numbered_unpublished_count(&conn).await.unwrap(), 1);
    assert_eq!(backlog(&conn).await.unwrap().waiting, 2);
    assert_eq!(
        count(
            &conn,
            "SELECT published_through FROM outbox_sequence WHERE stream = 'national'"
        )
        .await,
        3
    );
    // The relay publishes what waited, and only that: national 4, and the unnumbered row as
    // internal 3.
    let bus = InMemoryBus::new();
    let queue = queue_of_both_streams("toulouse.test", "#");
    bus.declare(&queue).await.unwrap();
    let relay = OutboxRelay::new(
        conn.clone(),
        Arc::new(bus.clone()),
        Outbox::new("toulouse", "registration", clock::system()),
        OutboxConfig {
            heartbeat_interval_ms: 0,
            ..Default::default()
        },
    );
    assert_eq!(relay.drain().await.unwrap(), 2);
    let mut sub = bus.subscribe(&queue).await.unwrap();
    let mut sent = Vec::new();
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
        sent.push(d.message_id.clone());
        d.ack().await.unwrap();
    }
    // Streams go independently: compared as a set.
    sent.sort();
    assert_eq!(sent, ["e5", "e6"]);
    assert_eq!(published_count(&conn).await.unwrap(), 7);
    assert_eq!(backlog(&conn).await.unwrap().waiting, 0);
}

#[tokio::test]
async fn an_outbox_marked_row_by_row_is_upgraded_to_the_watermark_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    upgrades_keep_what_was_published(DbTarget::Sqlite {
        path: dir.path().join("old.sqlite"),
    })
    .await;
}

#[tokio::test]
async fn an_outbox_marked_row_by_row_is_upgraded_to_the_watermark_postgres() {
    let Some(admin) = server_url(POSTGRES_ENV, "the watermark upgrade on PostgreSQL") else {
        return;
    };
    let pg = TestPostgres::create(&admin).await.unwrap();
    upgrades_keep_what_was_published(DbTarget::Postgres {
        url: pg.url.clone(),
        schema: "toulouse_registration".into(),
    })
    .await;
}
