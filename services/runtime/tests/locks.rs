//! Named locks (`kit::hold`) on PostgreSQL, which let the busy writes share what they only read:
//! shared holders go side by side, an exclusive holder waits for them (and they for it), and a
//! name is the schema's, so services sharing a database never wait on one another's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cplds_runtime::{
    db::{self, DbTarget},
    kit::{Lock, hold},
    testing::{POSTGRES_ENV, TestPostgres, server_url},
};
use sea_orm::TransactionTrait;

const QUICK: Duration = Duration::from_secs(5);

#[tokio::test]
async fn shared_holders_go_side_by_side_and_an_exclusive_one_waits_for_them() {
    let Some(admin) = server_url(POSTGRES_ENV, "named locks on PostgreSQL") else {
        return;
    };
    let pg = TestPostgres::create(&admin).await.unwrap();
    let target = |schema: &str| DbTarget::Postgres {
        url: pg.url.clone(),
        schema: schema.into(),
    };
    let db = db::connect(&target("toulouse_registration")).await.unwrap();
    let other = db::connect(&target("bordeaux_registration")).await.unwrap();

    let a = db.begin().await.unwrap();
    hold(&a, "campaign/2025", Lock::Shared).await.unwrap();
    let b = db.begin().await.unwrap();
    tokio::time::timeout(QUICK, hold(&b, "campaign/2025", Lock::Shared))
        .await
        .expect("a second shared holder does not wait")
        .unwrap();

    let c = db.begin().await.unwrap();
    let exclusive = tokio::spawn(async move {
        hold(&c, "campaign/2025", Lock::Exclusive).await.unwrap();
        c
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !exclusive.is_finished(),
        "an exclusive holder waits for the shared ones"
    );

    // Another name, or the same name in another schema, is free.
    let d = db.begin().await.unwrap();
    tokio::time::timeout(QUICK, hold(&d, "campaign/2026", Lock::Exclusive))
        .await
        .expect("another name does not wait")
        .unwrap();
    let e = other.begin().await.unwrap();
    tokio::time::timeout(QUICK, hold(&e, "campaign/2025", Lock::Exclusive))
        .await
        .expect("another schema's lock of that name does not wait")
        .unwrap();

    a.commit().await.unwrap();
    b.commit().await.unwrap();
    let c = tokio::time::timeout(QUICK, exclusive)
        .await
        .expect("the exclusive holder goes once the shared ones ended")
        .unwrap();
    // And a shared holder now waits for it.
    let f = db.begin().await.unwrap();
    let shared = tokio::spawn(async move {
        hold(&f, "campaign/2025", Lock::Shared).await.unwrap();
        f
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !shared.is_finished(),
        "a shared holder waits for the exclusive one"
    );
    c.commit().await.unwrap();
    let f = tokio::time::timeout(QUICK, shared).await.unwrap().unwrap();
    for t in [d, e, f] {
        t.rollback().await.unwrap();
    }
}
