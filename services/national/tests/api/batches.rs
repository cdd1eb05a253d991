//! Deliveries applied in batches (one transaction each, as the consumer hands over what waits
//! in the queue) leave exactly what the same facts applied one by one in sequence order leave:
//! records, trainings, approvals, progress per source, facts kept for an upgrade, conflicts;
//! whatever the delivery order, the batch sizes and the duplicates. On SQLite, and on
//! PostgreSQL when switched on.

use chrono::{Duration, TimeZone, Utc};
use cplds_national::store::{
    self,
    ingest::{catch_up, ingest_batch, ingest_with},
    migration::Migrator,
};
use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::testing::{POSTGRES_ENV, TestPostgres, server_url, sqlite_in_memory};
use prost::Message as _;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};

use crate::helpers::{fact_at, registration_fact, result, unknown_fact};

/// An empty national database: SQLite in memory, or a PostgreSQL database of its own on the
/// server at `postgres`.
async fn database(postgres: Option<&str>) -> (DatabaseConnection, Option<TestPostgres>) {
    let (db, guard) = match postgres {
        Some(url) => {
            let pg = TestPostgres::create(url).await.unwrap();
            (Database::connect(pg.url.as_str()).await.unwrap(), Some(pg))
        }
        None => (sqlite_in_memory().await.unwrap(), None),
    };
    cplds_runtime::db::migrate::<Migrator>(&db).await.unwrap();
    (db, guard)
}

/// Two académies' histories, each source in sequence order: candidates registered, decided,
/// trained, examined, certified; a fact of a payload this node does not know; the figures
/// approved.
fn history() -> Vec<EventEnvelope> {
    let t0 = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
    let mut out = Vec::new();
    for academy in ["reims", "lyon"] {
        let mut seq = std::collections::HashMap::<&str, u64>::new();
        let mut minute = 0;
        let mut push = |source: &'static str, payload: Option<Payload>| {
            let s = seq.entry(source).or_insert(0);
            *s += 1;
            minute += 1;
            let at = t0 + Duration::minutes(minute);
            let m = match payload {
                Some(p) => fact_at(academy, source, *s, p, at),
                None => unknown_fact(academy, source, *s),
            };
            out.push(EventEnvelope::decode(m.body.as_slice()).unwrap());
        };
        for i in 0..40u32 {
            let key = format!("{academy}-{i}");
            push("registration", Some(registration_fact(&key)));
            push(
                "registration",
                Some(Payload::NationalCandidacyDecided(
                    pb::NationalCandidacyDecided {
                        year: 2025,
                        candidate_key: key.clone(),
                        validated: i % 7 != 0,
                        rejection_reason: if i % 7 == 0 {
                            "incomplete".into()
                        } else {
                            String::new()
                        },
                    },
                )),
            );
            if i == 11 {
                push("registration", None);
            }
            if i % 3 == 0 {
                push(
                    "training",
                    Some(Payload::NationalTrainingEnrolled(
                        pb::NationalTrainingEnrolled {
                            school_year: 2024,
                            candidate_key: key.clone(),
                            sex: pb::Sex::Female as i32,
                            shared_cohort: false,
                        },
                    )),
                );
                push(
                    "training",
                    Some(Payload::NationalTrainingCompleted(
                        pb::NationalTrainingCompleted {
                            school_year: 2024,
                            candidate_key: key.clone(),
                            hours: Some(pb::TrainingHours {
                                theory_minutes: 600 + i,
                                ..Default::default()
                            }),
                        },
                    )),
                );
            }
            let (p1, p2) = (Some(8 + i % 33), (i % 5 != 0).then_some(12 + i % 29));
            push("examination", Some(result(&key, p1, p2, "51")));
            if i % 2 == 0 {
                push(
                    "certification",
                    Some(Payload::NationalCertificateIssued(
                        pb::NationalCertificateIssued {
                            year: 2025,
                            candidate_key: key.clone(),
                        },
                    )),
                );
            }
        }
        // Last of all (a fact after it, in any source, would reopen it; across sources the
        // order of application is free, so that case would not be the same in every order).
        push(
            "reporting",
            Some(Payload::FiguresApproved(pb::FiguresApproved {
                year: 2025,
                remarks: "vu".into(),
            })),
        );
    }
    out
}

/// Everything the ingest leaves, comparable.
async fn state(db: &DatabaseConnection) -> String {
    let mut out = String::new();
    for r in store::records(db, 2025, None).await.unwrap() {
        out.push_str(&format!("{r:?}\n"));
    }
    let mut trainings = store::trainings(db, 2024, None).await.unwrap();
    trainings.sort_by(|a, b| (&a.academy, &a.candidate_key).cmp(&(&b.academy, &b.candidate_key)));
    for t in trainings {
        out.push_str(&format!("{t:?}\n"));
    }
    for s in store::streams(db).await.unwrap() {
        out.push_str(&format!(
            "{}/{} applied {} highest {}\n",
            s.academy, s.source, s.applied_sequence, s.highest_seen
        ));
    }
    for a in store::approvals(db, 2025).await.unwrap() {
        out.push_str(&format!("{} approved {}\n", a.academy, a.approved));
    }
    out.push_str(&format!(
        "{:?}\n",
        store::kept_and_conflicts(db).await.unwrap()
    ));
    // The log: every fact once, and which are marked applied.
    let rows = db
        .query_all_raw(cplds_runtime::db::stmt(
            db.get_database_backend(),
            "SELECT academy, source, sequence, applied, waiting_upgrade FROM received_events \
             ORDER BY academy, source, sequence",
            vec![],
        ))
        .await
        .unwrap();
    for r in rows {
        out.push_str(&format!(
            "{} {} {} {} {}\n",
            r.try_get::<String>("", "academy").unwrap(),
            r.try_get::<String>("", "source").unwrap(),
            r.try_get::<i64>("", "sequence").unwrap(),
            r.try_get::<bool>("", "applied").unwrap(),
            r.try_get::<bool>("", "waiting_upgrade").unwrap(),
        ));
    }
    out
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::test]
async fn batches_leave_what_one_by_one_in_order_leaves() {
    let history = history();
    let now = Utc.with_ymd_and_hms(2025, 7, 1, 8, 0, 0).unwrap();
    let mut servers = vec![None];
    servers.extend(server_url(POSTGRES_ENV, "batched ingest on PostgreSQL").map(Some));
    for server in &servers {
        let pg = server.as_deref();
        let (reference, _guard) = database(pg).await;
        for e in &history {
            let txn = reference.begin().await.unwrap();
            ingest_with(&txn, e, now, 500).await.unwrap();
            txn.commit().await.unwrap();
        }
        let expected = state(&reference).await;
        assert!(expected.contains("reims approved true"), "{expected}");
        assert!(
            expected.contains("reims/registration applied 81"),
            "{expected}"
        );
        drop(reference);

        for seed in [1u64, 7, 42] {
            let (db, _guard) = database(pg).await;
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
            // Shuffled, with a fifth delivered twice.
            let mut deliveries: Vec<&EventEnvelope> = history.iter().collect();
            for i in 0..history.len() / 5 {
                deliveries.push(&history[(i * 5 + seed as usize) % history.len()]);
            }
            for i in (1..deliveries.len()).rev() {
                deliveries.swap(i, rng.below(i + 1));
            }
            let mut rest = deliveries.as_slice();
            while !rest.is_empty() {
                let n = (1 + rng.below(60)).min(rest.len());
                let (batch, after) = rest.split_at(n);
                let txn = db.begin().await.unwrap();
                ingest_batch(&txn, batch, now, 100).await.unwrap();
                txn.commit().await.unwrap();
                rest = after;
            }
            // What waits behind a closed gap beyond a batch's bound: the catch-up job's part.
            for s in store::ingest::streams_behind(&db).await.unwrap() {
                catch_up(&db, &s.academy, &s.source, 500, now)
                    .await
                    .unwrap();
            }
            assert_eq!(state(&db).await, expected, "seed {seed}");
        }
    }
}

#[tokio::test]
async fn a_batch_applies_at_most_its_bound_of_facts_waiting_behind_gaps() {
    let (db, _) = database(None).await;
    let now = Utc::now();
    let facts: Vec<EventEnvelope> = (1..=12u64)
        .map(|s| {
            let m = fact_at(
                "toulouse",
                "registration",
                s,
                registration_fact(&format!("k{s}")),
                now,
            );
            EventEnvelope::decode(m.body.as_slice()).unwrap()
        })
        .collect();
    // 2..=6 and 8..=12 wait behind gaps.
    let waiting: Vec<&EventEnvelope> = facts
        .iter()
        .filter(|e| ![1, 7].contains(&e.sequence))
        .collect();
    let txn = db.begin().await.unwrap();
    ingest_batch(&txn, &waiting, now, 3).await.unwrap();
    txn.commit().await.unwrap();
    // Both gaps close in one batch: the two facts, and 3 waiting facts in all, not 3 each.
    let closing = [&facts[0], &facts[6]];
    let txn = db.begin().await.unwrap();
    ingest_batch(&txn, &closing, now, 3).await.unwrap();
    txn.commit().await.unwrap();
    let s = &store::streams(&db).await.unwrap()[0];
    assert_eq!(s.applied_sequence, 4, "1 and the 3 after it");
    let done = catch_up(&db, "toulouse", "registration", 500, now)
        .await
        .unwrap();
    assert_eq!(done.facts, 8);
    assert_eq!(store::streams(&db).await.unwrap()[0].applied_sequence, 12);
}
