//! Facts that cannot be forged (issue 12 §1): a fact signed by another académie's key, an old
//! fact replayed under a new sequence, an inflated heartbeat and a service publishing another
//! service's fact are refused before ingest, kept in quarantine and counted; the figures and
//! the completeness are what they were, and the genuine fact still applies. A heartbeat the
//! académie did sign is believed only so far beyond what was seen.

use std::collections::BTreeMap;

use cplds_proto::v1::{self as pb, EventEnvelope, NodeHeartbeat, event_envelope::Payload};
use cplds_runtime::{
    bus::{EventBus, Message, Stream, memory::InMemoryBus},
    event_signing::FederationKeys,
};
use prost::Message as _;

use crate::helpers::{Federation, fact, national, registration_fact, wait_completeness};

fn signed_by(academy: &str, service: &str, mut m: Message) -> Message {
    FederationKeys::shared()
        .signer(academy, service)
        .unwrap()
        .sign(&mut m);
    m
}

fn heartbeat(academy: &str, source: &str, last_sequence: u64) -> Message {
    let payload = Payload::NodeHeartbeat(NodeHeartbeat {
        source: source.into(),
        last_sequence,
        sent_at: None,
    });
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: academy.into(),
        source: source.into(),
        r#type: payload.name().into(),
        stream: pb::Stream::National as i32,
        payload: Some(payload),
        ..Default::default()
    };
    Message {
        stream: Stream::National,
        routing_key: format!("{academy}.{source}.heartbeat"),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: BTreeMap::new(),
    }
}

/// What the ministry reads: the figures and the sources' state (the time of asking aside).
async fn observed(f: &Federation) -> (pb::Statistics, Vec<pb::SourceCompleteness>) {
    let stats = f.statistics_as(&f.ministry).await.unwrap();
    let c = wait_completeness(f, "toulouse", "completeness", |c| Some(c.clone())).await;
    let sources = c
        .sources
        .into_iter()
        .map(|mut s| {
            s.last_heartbeat_time = None;
            s.next_replay_request_time = None;
            s.last_replay_request_time = None;
            s
        })
        .collect();
    (stats, sources)
}

#[tokio::test]
async fn forged_facts_are_refused_quarantined_and_counted() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let genuine: Vec<Message> = (1..=3)
        .map(|n| {
            fact(
                "toulouse",
                "registration",
                n,
                registration_fact(&format!("k{n}")),
            )
        })
        .collect();
    bus.publish(&genuine).await.unwrap();
    wait_completeness(&f, "toulouse", "Toulouse's three facts applied", |c| {
        c.sources
            .iter()
            .any(|s| s.academy == "toulouse" && s.applied_sequence == 3)
            .then_some(())
    })
    .await;
    let before = observed(&f).await;

    // Bordeaux signs Toulouse's next fact (first arrival used to win).
    let forged_next = signed_by(
        "bordeaux",
        "registration",
        fact("toulouse", "registration", 4, registration_fact("fake")),
    );
    // Toulouse's first fact, replayed under a new sequence (its signature kept).
    let mut replayed = EventEnvelope::decode(genuine[0].body.as_slice()).unwrap();
    replayed.sequence = 5;
    let replayed = Message {
        body: replayed.encode_to_vec(),
        ..genuine[0].clone()
    };
    // A heartbeat announcing a huge sequence for Toulouse, signed by Bordeaux; another unsigned.
    let inflated = signed_by(
        "bordeaux",
        "registration",
        heartbeat("toulouse", "registration", 1_000_000),
    );
    let unsigned = heartbeat("toulouse", "registration", 2_000_000);
    // Toulouse's training publishing registration's fact, and approving the figures.
    let other_service = signed_by(
        "toulouse",
        "training",
        fact("toulouse", "training", 1, registration_fact("k9")),
    );
    let approval = signed_by(
        "toulouse",
        "registration",
        fact(
            "toulouse",
            "registration",
            4,
            Payload::FiguresApproved(pb::FiguresApproved {
                year: 2025,
                ..Default::default()
            }),
        ),
    );
    bus.publish(&[
        forged_next,
        replayed,
        inflated,
        unsigned,
        other_service,
        approval,
    ])
    .await
    .unwrap();

    let c = wait_completeness(&f, "toulouse", "six facts quarantined", |c| {
        (c.quarantined_total == 6).then(|| c.clone())
    })
    .await;
    let mut reasons: Vec<(String, String, u64)> = c
        .quarantined
        .iter()
        .map(|q| (q.source.clone(), q.reason.clone(), q.facts))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("registration".into(), "bad_signature".into(), 1),
            ("registration".into(), "unsigned".into(), 1),
            ("registration".into(), "wrong_producer".into(), 1),
            ("registration".into(), "wrong_signer".into(), 2),
            ("training".into(), "wrong_producer".into(), 1),
        ],
        "{c:?}"
    );
    assert!(c.quarantined.iter().all(|q| q.academy == "toulouse"));
    assert_eq!(observed(&f).await, before, "the figures moved");

    // The genuine fact 4 still applies: the forged one took nothing from it.
    bus.publish(&[fact("toulouse", "registration", 4, registration_fact("k4"))])
        .await
        .unwrap();
    wait_completeness(&f, "toulouse", "the genuine fact 4 applied", |c| {
        c.sources
            .iter()
            .any(|s| s.applied_sequence == 4 && s.highest_known_sequence == 4 && s.up_to_date)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_signed_heartbeat_is_believed_only_so_far_beyond_what_was_seen() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    bus.publish(&[
        fact("toulouse", "registration", 1, registration_fact("k1")),
        signed_by(
            "toulouse",
            "registration",
            heartbeat("toulouse", "registration", 1_000_000),
        ),
    ])
    .await
    .unwrap();
    let source = wait_completeness(&f, "toulouse", "the heartbeat bounded", |c| {
        c.sources
            .iter()
            .find(|s| s.highest_known_sequence > 1)
            .cloned()
    })
    .await;
    assert_eq!(
        source.highest_known_sequence,
        1 + cplds_national::domain::completeness::HEARTBEAT_LEAD as u64,
        "{source:?}"
    );
    assert_eq!(source.applied_sequence, 1);
}
