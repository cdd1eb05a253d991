//! The ingest store functions called as the aggregator's jobs call them, with the clock and the
//! bounds in hand: the replay schedule shared by replicas, its backoff, and catch-up in bounded
//! transactions. On SQLite, and on PostgreSQL when switched on.

use chrono::{Duration, Utc};
use cplds_national::store::{
    self,
    ingest::{CatchUp, catch_up, claim_replay, gaps_to_request, ingest_with},
    migration::Migrator,
};
use cplds_proto::v1::EventEnvelope;
use cplds_runtime::testing::{TestPostgres, store_databases};
use prost::Message as _;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::helpers::{fact, registration_fact};

/// SQLite in memory, and a PostgreSQL database of its own when switched on.
async fn databases(test: &str) -> Vec<(DatabaseConnection, Option<TestPostgres>)> {
    let out = store_databases(test).await.unwrap();
    for (db, _) in &out {
        cplds_runtime::db::migrate::<Migrator>(db).await.unwrap();
    }
    out
}

/// Delivers Toulouse's registration fact `sequence` in a transaction of its own.
async fn deliver(db: &DatabaseConnection, sequence: u64, limit: u32) {
    let m = fact(
        "toulouse",
        "registration",
        sequence,
        registration_fact(&format!("k{sequence}")),
    );
    let e = EventEnvelope::decode(m.body.as_slice()).unwrap();
    let txn = db.begin().await.unwrap();
    ingest_with(&txn, &e, Utc::now(), limit).await.unwrap();
    txn.commit().await.unwrap();
}

async fn applied(db: &DatabaseConnection) -> i64 {
    store::streams(db).await.unwrap()[0].applied_sequence
}

#[tokio::test]
async fn one_replica_asks_each_round_and_silence_backs_off() {
    for (db, _pg) in databases("the replay schedule on PostgreSQL").await {
        deliver(&db, 3, 500).await;
        let t0 = Utc::now();
        let backoff = 1_000;
        let found = gaps_to_request(&db, t0, backoff).await.unwrap();
        assert_eq!(found.len(), 1, "sequences 1 and 2 are missing");
        // Two replicas found the same gap: one of them sends the request.
        assert!(claim_replay(&db, &found[0], t0).await.unwrap());
        assert!(!claim_replay(&db, &found[0], t0).await.unwrap());
        // Unanswered, the next request waits the backoff, then twice as long, and so on.
        let mut at = t0;
        for (n, wait) in [(1, 1_000), (2, 2_000), (3, 4_000)] {
            let early = at + Duration::milliseconds(wait - 1);
            assert!(
                gaps_to_request(&db, early, backoff)
                    .await
                    .unwrap()
                    .is_empty(),
                "asked again too early after {n} unanswered"
            );
            at += Duration::milliseconds(wait);
            let found = gaps_to_request(&db, at, backoff).await.unwrap();
            assert_eq!(found.len(), 1, "due after {n} unanswered");
            assert_eq!(found[0].unanswered_replays, n);
            assert!(claim_replay(&db, &found[0], at).await.unwrap());
        }
        // The replay arrives: the gap closes and the count starts again.
        deliver(&db, 1, 500).await;
        deliver(&db, 2, 500).await;
        let s = &store::streams(&db).await.unwrap()[0];
        assert_eq!((s.applied_sequence, s.unanswered_replays), (3, 0));
    }
}

#[tokio::test]
async fn a_long_buffered_run_is_applied_in_bounded_transactions() {
    for (db, _pg) in databases("bounded catch-up on PostgreSQL").await {
        for sequence in 2..=10 {
            deliver(&db, sequence, 3).await;
        }
        assert_eq!(applied(&db).await, 0);
        // The missing fact comes: it and 3 of the 8 behind it are applied with it.
        deliver(&db, 1, 3).await;
        assert_eq!(applied(&db).await, 4);
        let done = catch_up(&db, "toulouse", "registration", 3, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            done,
            CatchUp {
                facts: 6,
                transactions: 2
            }
        );
        assert_eq!(applied(&db).await, 10);
        assert_eq!(store::records(&db, 2025, None).await.unwrap().len(), 10);
        let again = catch_up(&db, "toulouse", "registration", 3, Utc::now())
            .await
            .unwrap();
        assert_eq!(again, CatchUp::default());
    }
}

/// Figures, not a check: 10 000 facts that waited behind a gap, applied by the catch-up in
/// bounded transactions (`cargo test -p cplds-national --test api -- --ignored --nocapture`).
#[tokio::test]
#[ignore = "benchmark: prints figures"]
async fn catch_up_figures() {
    for (db, pg) in databases("catch-up figures on PostgreSQL").await {
        let backend = if pg.is_some() { "postgres" } else { "sqlite" };
        let n = 10_000u64;
        let started = std::time::Instant::now();
        for sequence in 2..=n {
            deliver(&db, sequence, 500).await;
        }
        let buffered = started.elapsed();
        let started = std::time::Instant::now();
        deliver(&db, 1, 500).await;
        let done = catch_up(
            &db,
            "toulouse",
            "registration",
            store::ingest::CATCH_UP_PER_TRANSACTION,
            Utc::now(),
        )
        .await
        .unwrap();
        let applied_in = started.elapsed();
        assert_eq!(applied(&db).await, n as i64);
        println!(
            "{backend}: {} facts logged out of order in {:.1} s; the gap closed: 501 with the delivery, {} more in {} transactions; all applied in {:.1} s ({:.0} facts/s)",
            n - 1,
            buffered.as_secs_f64(),
            done.facts,
            done.transactions,
            applied_in.as_secs_f64(),
            n as f64 / applied_in.as_secs_f64()
        );
    }
}
