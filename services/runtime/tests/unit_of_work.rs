//! The unit of work writes a change's history acts and its events in its transaction, in the
//! order they were recorded, and nothing of a unit dropped without a commit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_runtime::{
    clock,
    events::Payload,
    kit::{self, ServiceCore, history},
    outbox::Outbox,
};
use prost::Message as _;
use sea_orm::ConnectionTrait;

use sea_orm_migration::{MigrationTrait, SchemaManager};

mod common;

use common::{count, open_db, payload};

fn act<'a>(subject: &'a str, action: &'a str) -> history::Act<'a> {
    history::Act {
        kind: "candidacy",
        subject,
        actor: "dec@ac-toulouse.fr",
        action,
        detail: (action == "submitted").then(|| "channel online".to_owned()),
    }
}

/// A service's core on `conn`: the services' schemas have the history table, the runtime's test
/// schema adds it here.
async fn core_with_history(conn: &sea_orm::DatabaseConnection) -> ServiceCore {
    kit::HistoryTable
        .up(&SchemaManager::new(conn))
        .await
        .unwrap();
    ServiceCore::with(
        conn.clone(),
        Outbox::new("toulouse", "registration", clock::system()),
        clock::system(),
    )
}

/// [`core_with_history`], with the kit's counters table.
async fn core_with_counters(conn: &sea_orm::DatabaseConnection) -> ServiceCore {
    kit::CountersTable
        .up(&SchemaManager::new(conn))
        .await
        .unwrap();
    core_with_history(conn).await
}

async fn history_and_events_commit_together(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_history(&conn).await;
    {
        let mut dropped = core.begin().await.unwrap();
        dropped.record(act("c-0", "submitted")).await.unwrap();
        dropped.emit([payload(1)]).await.unwrap();
    }
    // Acts before and after the events.
    let mut uow = core.begin().await.unwrap();
    uow.record(act("c-1", "submitted")).await.unwrap();
    uow.record(act("c-1", "checked")).await.unwrap();
    uow.emit([payload(1), payload(2)]).await.unwrap();
    uow.record(act("c-1", "validated")).await.unwrap();
    uow.commit().await.unwrap();
    // A unit without events.
    let mut uow = core.begin().await.unwrap();
    uow.record(act("c-2", "withdrawn")).await.unwrap();
    uow.commit().await.unwrap();
    // Events without acts.
    let mut uow = core.begin().await.unwrap();
    uow.emit([payload(3)]).await.unwrap();
    uow.commit().await.unwrap();

    let c1 = history::of(&conn, "candidacy", "c-1").await.unwrap();
    let actions: Vec<&str> = c1.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["submitted", "checked", "validated"]);
    assert_eq!(c1[0].detail.as_deref(), Some("channel online"));
    assert_eq!(c1[1].detail, None);
    assert_eq!(c1[0].actor, "dec@ac-toulouse.fr");
    let c2 = history::of(&conn, "candidacy", "c-2").await.unwrap();
    assert_eq!(c2.len(), 1);
    assert!(
        history::of(&conn, "candidacy", "c-0")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM outbox").await, 3);
}

#[tokio::test]
async fn history_and_events_commit_together_sqlite() {
    history_and_events_commit_together(false).await;
}

#[tokio::test]
async fn history_and_events_commit_together_postgres() {
    history_and_events_commit_together(true).await;
}

/// A unit that gathers more acts and events than it keeps before writing (a batch of
/// certificates, say) still writes them all, each kind in the order it was given.
async fn a_large_unit_keeps_every_row_in_order(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_history(&conn).await;
    let n = 700;
    let mut uow = core.begin().await.unwrap();
    for k in 0..n {
        uow.record(act("c-9", &format!("act {k:04}")))
            .await
            .unwrap();
        uow.emit([payload(k)]).await.unwrap();
    }
    uow.commit().await.unwrap();

    let actions: Vec<String> = history::of(&conn, "candidacy", "c-9")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    let expected: Vec<String> = (0..n).map(|k| format!("act {k:04}")).collect();
    assert_eq!(actions, expected);
    let years: Vec<i32> = conn
        .query_all_raw(cplds_runtime::db::stmt(
            conn.get_database_backend(),
            "SELECT envelope FROM outbox ORDER BY id",
            vec![],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let bytes: Vec<u8> = r.try_get("", "envelope").unwrap();
            let envelope = cplds_runtime::events::EventEnvelope::decode(bytes.as_slice()).unwrap();
            match envelope.payload.unwrap() {
                Payload::CampaignOpened(e) => e.year,
                Payload::NationalCampaignOpened(e) => e.year,
                other => panic!("unexpected {other:?}"),
            }
        })
        .collect();
    assert_eq!(years, (0..n).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_large_unit_keeps_every_row_in_order_sqlite() {
    a_large_unit_keeps_every_row_in_order(false).await;
}

#[tokio::test]
async fn a_large_unit_keeps_every_row_in_order_postgres() {
    a_large_unit_keeps_every_row_in_order(true).await;
}

/// A new history entry, its id left to the database, as a service gives the unit a row of its own.
fn entry(subject: &str, action: String) -> history::entity::ActiveModel {
    use sea_orm::Set;
    history::entity::ActiveModel {
        kind: Set("document".into()),
        subject: Set(subject.into()),
        at: Set(chrono::Utc::now()),
        actor: Set("dec@ac-toulouse.fr".into()),
        action: Set(action),
        detail: Set(None),
        ..Default::default()
    }
}

/// New rows given to the unit are written at its commit with its acts and events, in their
/// order, more of them than it keeps before writing too; a unit dropped writes none; a row that
/// breaks a constraint fails the commit and leaves nothing of its unit.
async fn new_rows_commit_with_the_unit(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_history(&conn).await;
    {
        let mut dropped = core.begin().await.unwrap();
        dropped
            .insert(entry("dropped", "inserted".into()))
            .await
            .unwrap();
        dropped.emit([payload(1)]).await.unwrap();
    }
    let n = 150;
    let mut uow = core.begin().await.unwrap();
    for k in 0..n {
        uow.insert(entry("kept", format!("row {k:03}")))
            .await
            .unwrap();
        if k % 50 == 0 {
            uow.record(act("c-1", &format!("act {k}"))).await.unwrap();
            uow.emit([payload(k)]).await.unwrap();
        }
    }
    uow.commit().await.unwrap();
    let kept = history::of(&conn, "document", "kept").await.unwrap();
    let actions: Vec<&str> = kept.iter().map(|e| e.action.as_str()).collect();
    let expected: Vec<String> = (0..n).map(|k| format!("row {k:03}")).collect();
    assert_eq!(actions, expected);
    assert!(
        history::of(&conn, "document", "dropped")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        history::of(&conn, "candidacy", "c-1").await.unwrap().len(),
        3
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM outbox").await, 3);

    let mut clash = core.begin().await.unwrap();
    clash.record(act("c-2", "submitted")).await.unwrap();
    let mut taken = entry("clash", "inserted".into());
    taken.id = sea_orm::Set(kept[0].id);
    clash.insert(taken).await.unwrap();
    clash.emit([payload(9)]).await.unwrap();
    let err = clash.commit().await.unwrap_err();
    assert!(cplds_runtime::db::is_unique_violation(&err), "{err}");
    assert!(
        history::of(&conn, "candidacy", "c-2")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM outbox").await, 3);
}

#[tokio::test]
async fn new_rows_commit_with_the_unit_sqlite() {
    new_rows_commit_with_the_unit(false).await;
}

#[tokio::test]
async fn new_rows_commit_with_the_unit_postgres() {
    new_rows_commit_with_the_unit(true).await;
}

/// Counters taken and a read in one call: the read sees the counters as taken, a refused unit
/// (dropped) takes none, and the read's rows come back whole, apart from the counters' (on
/// SQLite both go in one round trip and their rows come back in one list).
async fn counters_then_a_read(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_counters(&conn).await;
    let backend = conn.get_database_backend();
    let read = || {
        cplds_runtime::db::stmt(
            backend,
            "SELECT name, value FROM counters WHERE name IN (?, ?, ?) ORDER BY name",
            vec!["a".into(), "b".into(), "c".into()],
        )
    };
    let held = Some(("campaign/2025", kit::Lock::Shared));
    for expected in 1..=3_i64 {
        let uow = core.begin().await.unwrap();
        let (taken, rows) = kit::next_counters_then(uow.txn(), held, &["b", "a"], read())
            .await
            .unwrap();
        assert_eq!(taken, [expected, expected]);
        let seen: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "name").unwrap(),
                    r.try_get("", "value").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("a".to_owned(), expected), ("b".to_owned(), expected)]
        );
        uow.commit().await.unwrap();
    }
    {
        let refused = core.begin().await.unwrap();
        kit::next_counters_then(refused.txn(), held, &["a"], read())
            .await
            .unwrap();
    }
    let uow = core.begin().await.unwrap();
    let (taken, rows) = kit::next_counters_then(uow.txn(), None, &["a", "c"], read())
        .await
        .unwrap();
    assert_eq!(taken, [4, 1], "the refused unit took nothing");
    assert_eq!(rows.len(), 3);
    uow.commit().await.unwrap();
    assert!(
        kit::next_counters_then(&conn, None, &["a", "a"], read())
            .await
            .is_err(),
        "a counter named twice is refused"
    );
}

#[tokio::test]
async fn counters_then_a_read_sqlite() {
    counters_then_a_read(false).await;
}

#[tokio::test]
async fn counters_then_a_read_postgres() {
    counters_then_a_read(true).await;
}

/// A write kept for the commit (SQLite) or run at once (PostgreSQL) is stored with its unit, ahead
/// of the unit's kept rows, and not at all when the unit is dropped.
async fn a_write_at_commit_goes_with_its_unit(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_counters(&conn).await;
    let backend = conn.get_database_backend();
    let bump = |name: &str| {
        cplds_runtime::db::stmt(
            backend,
            "UPDATE counters SET value = value + 10 WHERE name = ?",
            vec![name.into()],
        )
    };
    let value = |name: &'static str| {
        let conn = conn.clone();
        async move {
            count(
                &conn,
                &format!("SELECT value FROM counters WHERE name = '{name}'"),
            )
            .await
        }
    };
    let uow = core.begin().await.unwrap();
    kit::next_counters(uow.txn(), None, &["a", "b"])
        .await
        .unwrap();
    uow.commit().await.unwrap();
    {
        let mut dropped = core.begin().await.unwrap();
        dropped.execute_at_commit(bump("a")).await.unwrap();
        dropped.record(act("c-0", "submitted")).await.unwrap();
    }
    let mut uow = core.begin().await.unwrap();
    uow.execute_at_commit(bump("b")).await.unwrap();
    uow.record(act("c-1", "submitted")).await.unwrap();
    uow.commit().await.unwrap();
    assert_eq!(value("a").await, 1, "the dropped unit wrote nothing");
    assert_eq!(value("b").await, 11);
    assert_eq!(
        history::of(&conn, "candidacy", "c-1").await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_write_at_commit_goes_with_its_unit_sqlite() {
    a_write_at_commit_goes_with_its_unit(false).await;
}

#[tokio::test]
async fn a_write_at_commit_goes_with_its_unit_postgres() {
    a_write_at_commit_goes_with_its_unit(true).await;
}

/// Reads in turn come back apart, in their order, an empty read as an empty group, each seeing
/// what the unit wrote before them.
async fn reads_in_turn_come_back_apart(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let core = core_with_counters(&conn).await;
    let backend = conn.get_database_backend();
    let uow = core.begin().await.unwrap();
    kit::next_counters(uow.txn(), None, &["a", "b", "c"])
        .await
        .unwrap();
    let read =
        |sql: &str, values: Vec<sea_orm::Value>| cplds_runtime::db::stmt(backend, sql, values);
    let groups = kit::reads_in_turn(
        uow.txn(),
        vec![
            read(
                "SELECT name FROM counters WHERE name <> ? ORDER BY name",
                vec!["b".into()],
            ),
            read("SELECT name FROM counters WHERE name = ?", vec!["z".into()]),
            read(
                "SELECT value, name FROM counters WHERE name = ?",
                vec!["b".into()],
            ),
        ],
    )
    .await
    .unwrap();
    let names = |rows: &[sea_orm::QueryResult]| -> Vec<String> {
        rows.iter()
            .map(|r| r.try_get("", "name").unwrap())
            .collect()
    };
    assert_eq!(groups.len(), 3);
    assert_eq!(names(&groups[0]), ["a", "c"]);
    assert!(groups[1].is_empty());
    assert_eq!(names(&groups[2]), ["b"]);
    assert_eq!(groups[2][0].try_get::<i64>("", "value").unwrap(), 1);
    uow.commit().await.unwrap();
}

#[tokio::test]
async fn reads_in_turn_come_back_apart_sqlite() {
    reads_in_turn_come_back_apart(false).await;
}

#[tokio::test]
async fn reads_in_turn_come_back_apart_postgres() {
    reads_in_turn_come_back_apart(true).await;
}
