//! Replicas of the aggregator share the national queue and one database.

use std::{sync::Arc, time::Duration};

use cplds_national::NationalModule;
use cplds_proto::v1::{
    self as pb, event_envelope::Payload,
    national_statistics_service_client::NationalStatisticsServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::{EventBus, memory::InMemoryBus},
    testing::{TestNode, TestNodeOptions, authed, wait_for},
};

use crate::helpers::{fact, result};

/// Two aggregator replicas on one PostgreSQL database compete on the national queue: facts
/// delivered out of order to either still apply once each, in sequence order per source.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_aggregators_share_the_queue() {
    let Some(admin) = cplds_runtime::testing::server_url(
        cplds_runtime::testing::POSTGRES_ENV,
        "two aggregators on PostgreSQL",
    ) else {
        return;
    };
    let pg = cplds_runtime::testing::TestPostgres::create(&admin)
        .await
        .unwrap();
    let bus = InMemoryBus::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
        opts.bus = Some(Arc::new(bus.clone()));
        opts.database_url = Some(pg.url.clone());
        replicas.push(TestNode::start(opts).await.unwrap());
    }
    // 3 académies × 2 sources × 40 facts, shuffled.
    let mut messages = Vec::new();
    for academy in ["amiens", "lille", "rennes"] {
        for (source, year) in [("registration", 2025), ("examination", 2025)] {
            for seq in 1..=40u64 {
                let key = format!("{academy}-{seq}");
                let payload = if source == "registration" {
                    Payload::NationalCandidacyRegistered(pb::NationalCandidacyRegistered {
                        year,
                        candidate_key: key,
                        profile: Some(pb::CandidateProfile {
                            sex: pb::Sex::Male as i32,
                            department: "59".into(),
                            ..Default::default()
                        }),
                        eligible: true,
                    })
                } else {
                    result(&key, Some(24), Some(26), "59")
                };
                messages.push(fact(academy, source, seq, payload));
            }
        }
    }
    let n = messages.len();
    for i in 0..n {
        messages.swap(i, (i * 7919 + 13) % n);
    }
    for chunk in messages.chunks(10) {
        bus.publish(chunk).await.unwrap();
    }
    let mut stats = NationalStatisticsServiceClient::new(replicas[0].channel().await);
    let token = replicas[0].token("dgesco@education.gouv.fr", &[Role::Ministry]);
    let c = wait_for(Duration::from_secs(30), "every fact applied", || {
        let (mut stats, token) = (stats.clone(), token.clone());
        async move {
            let c = stats
                .get_completeness(authed(pb::GetCompletenessRequest::default(), &token))
                .await
                .unwrap()
                .into_inner();
            (c.sources.len() == 6
                && c.sources
                    .iter()
                    .all(|s| s.applied_sequence == 40 && s.gaps.is_empty()))
            .then_some(c)
        }
    })
    .await;
    assert_eq!(c.sources.len(), 6);
    let s = stats
        .get_statistics(authed(
            pb::GetStatisticsRequest {
                year: 2025,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let t = s.totals.unwrap();
    assert_eq!(t.registrations.unwrap().value, 120);
    assert_eq!(t.admitted.unwrap().value, 120);
    for r in replicas {
        r.node.shutdown().await.unwrap();
    }
}
