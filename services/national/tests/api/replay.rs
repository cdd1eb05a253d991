//! A fact lost on the way (a broken federation link) is found, by its sequence or the
//! heartbeat, and replayed on request.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use cplds_proto::v1 as pb;
use cplds_runtime::{
    bus::memory::InMemoryBus,
    testing::{authed, wait_for},
};

use cplds_runtime::bus::EventBus;

use crate::helpers::{
    LossyBus, academy, academy_scope, fact, national, register, registration_fact,
    wait_completeness, wait_registrations,
};

#[tokio::test]
async fn a_lost_fact_is_found_and_replayed() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let lossy = Arc::new(LossyBus {
        inner: bus.clone(),
        drop_sequences: vec![3, 6],
        dropped: Mutex::new(Vec::new()),
    });
    let toulouse = academy("toulouse", lossy.clone()).await;
    register(&toulouse, &["31"], 5, 0).await;
    // 6 national facts (campaign + 5 registrations); #3 and #6 (the last, seen only through the
    // heartbeat) were lost on the way.
    wait_registrations(&f, academy_scope("toulouse"), 5).await;
    assert_eq!(lossy.dropped.lock().unwrap().len(), 2);
    let stats = f.stats.clone();
    let token = f.ministry.clone();
    let completeness = wait_for(Duration::from_secs(20), "completeness", || {
        let (mut stats, token) = (stats.clone(), token.clone());
        async move {
            let c = stats
                .get_completeness(authed(
                    pb::GetCompletenessRequest {
                        academy: "toulouse".into(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            c.sources
                .iter()
                .find(|s| {
                    s.source == "registration" && s.applied_sequence == 6 && s.gaps.is_empty()
                })
                .cloned()
        }
    })
    .await;
    assert!(
        completeness.last_replay_request_time.is_some(),
        "the gap was closed by a replay request"
    );
    assert!(completeness.up_to_date);
}

/// More facts wait behind a gap than one transaction applies: the delivery that closes the gap
/// applies the first ones, the replay job the rest, and nothing is left behind.
#[tokio::test]
async fn a_long_run_behind_a_gap_is_applied_in_full() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let n = cplds_national::store::ingest::CATCH_UP_PER_TRANSACTION as u64 * 2 + 50;
    let waiting: Vec<_> = (2..=n)
        .map(|s| {
            fact(
                "toulouse",
                "registration",
                s,
                registration_fact(&format!("k{s}")),
            )
        })
        .collect();
    for chunk in waiting.chunks(200) {
        bus.publish(chunk).await.unwrap();
    }
    bus.publish(&[fact("toulouse", "registration", 1, registration_fact("k1"))])
        .await
        .unwrap();
    let source = wait_completeness(&f, "toulouse", "every fact applied", |c| {
        c.sources.iter().find(|s| s.applied_sequence == n).cloned()
    })
    .await;
    assert!(source.up_to_date, "{source:?}");
    wait_registrations(&f, academy_scope("toulouse"), n as i64).await;
}
