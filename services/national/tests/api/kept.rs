//! A fact whose payload the national node does not know yet (its académie was upgraded first) is
//! kept and counted, never dead-lettered, and holds back none of the facts around it.

use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::{
    bus::{EventBus, memory::InMemoryBus},
    host::control_queue,
    testing::{POSTGRES_ENV, TestPostgres, server_url},
};
use prost::Message as _;

use crate::helpers::{
    academy_scope, dead_letters, fact, national, national_on, registration_fact, unknown_fact,
    wait_completeness, wait_registrations, wait_totals,
};

#[tokio::test]
async fn an_unknown_payload_is_kept_and_the_facts_around_it_apply() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    bus.publish(&[
        fact("toulouse", "registration", 1, registration_fact("k1")),
        unknown_fact("toulouse", "registration", 2),
        fact("toulouse", "registration", 3, registration_fact("k3")),
    ])
    .await
    .unwrap();
    wait_registrations(&f, academy_scope("toulouse"), 2).await;
    let source = wait_completeness(&f, "toulouse", "the stream read to its end", |c| {
        c.sources
            .iter()
            .find(|s| s.source == "registration" && s.applied_sequence == 3)
            .cloned()
    })
    .await;
    assert!(source.gaps.is_empty(), "{source:?}");
    assert_eq!(source.facts_waiting_for_upgrade, 1);
    assert_eq!(source.state, pb::SourceState::WaitingForUpgrade as i32);
    assert!(
        !source.up_to_date,
        "a kept fact is missing from the figures"
    );
    let figures = f.statistics_as(&f.ministry).await.unwrap();
    let toulouse = figures.academies.iter().find(|a| a.academy == "toulouse");
    assert!(toulouse.is_some_and(|a| !a.up_to_date), "{toulouse:?}");
    assert!(dead_letters(&f).await.is_empty());
}

/// The national node upgraded (restarted) asks again for the facts it kept; the replay, which it
/// now reads, is applied and the fact is no longer counted as kept. On PostgreSQL, which the
/// restarted node finds again.
#[tokio::test]
async fn kept_facts_are_asked_again_at_start_and_applied() {
    let Some(admin) = server_url(POSTGRES_ENV, "kept facts across a restart on PostgreSQL") else {
        return;
    };
    let pg = TestPostgres::create(&admin).await.unwrap();
    let bus = InMemoryBus::new();
    let control = control_queue("toulouse", "registration");
    bus.declare(&control).await.unwrap();
    let mut requests = bus.subscribe(&control).await.unwrap();
    let start = || national_on(&bus, &pg.url);
    let kept = unknown_fact("toulouse", "registration", 2);
    let f = start().await;
    bus.publish(&[
        fact("toulouse", "registration", 1, registration_fact("k1")),
        kept.clone(),
        fact("toulouse", "registration", 3, registration_fact("k3")),
    ])
    .await
    .unwrap();
    wait_completeness(&f, "toulouse", "one fact kept", |c| {
        c.sources
            .iter()
            .any(|s| s.applied_sequence == 3 && s.facts_waiting_for_upgrade == 1)
            .then_some(())
    })
    .await;
    f.national.node.shutdown().await.unwrap();

    let f = start().await;
    let asked = loop {
        let d = tokio::time::timeout(std::time::Duration::from_secs(20), requests.next())
            .await
            .expect("a replay request")
            .expect("the control queue is open");
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        d.ack().await.unwrap();
        if let Some(Payload::ReplayRequested(r)) = e.payload {
            break r;
        }
    };
    assert_eq!((asked.from_sequence, asked.limit), (2, 1));
    // The académie replays the fact; the upgraded node knows its payload (here: a withdrawal).
    let mut replayed = EventEnvelope::decode(kept.body.as_slice()).unwrap();
    replayed.payload = Some(Payload::NationalCandidacyWithdrawn(
        pb::NationalCandidacyWithdrawn {
            year: 2025,
            candidate_key: "k1".into(),
            was_admitted_to_sit: false,
        },
    ));
    // As the upgraded node reads it: a known payload, named and routed as such (signed).
    replayed.r#type = "candidacy_withdrawn".into();
    let mut m = kept.clone();
    m.routing_key = "toulouse.registration.candidacy_withdrawn".into();
    m.body = replayed.encode_to_vec();
    let m = crate::helpers::sign(m);
    bus.publish(&[m]).await.unwrap();
    wait_totals(
        &f,
        academy_scope("toulouse"),
        "the kept fact applied",
        |t| t.withdrawn.is_some_and(|w| w.value == 1),
    )
    .await;
    let source = wait_completeness(&f, "toulouse", "nothing kept", |c| {
        c.sources
            .iter()
            .find(|s| s.facts_waiting_for_upgrade == 0)
            .cloned()
    })
    .await;
    assert_eq!(source.state, pb::SourceState::UpToDate as i32, "{source:?}");
    f.national.node.shutdown().await.unwrap();
}

/// A fact logged before this node knew its payload, still waiting behind a gap, is replaced by
/// the readable copy a replay brings to the upgraded node, and applied in its order.
#[tokio::test]
async fn a_readable_replay_replaces_a_waiting_unknown_fact() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let unknown = unknown_fact("toulouse", "registration", 3);
    bus.publish(&[
        unknown.clone(),
        fact("toulouse", "registration", 4, registration_fact("k4")),
    ])
    .await
    .unwrap();
    wait_completeness(&f, "toulouse", "facts 3 and 4 waiting", |c| {
        c.sources
            .iter()
            .any(|s| s.highest_known_sequence == 4)
            .then_some(())
    })
    .await;
    // The replay of the gap, from an académie whose fact this node now reads (a withdrawal).
    let mut readable = EventEnvelope::decode(unknown.body.as_slice()).unwrap();
    readable.payload = Some(Payload::NationalCandidacyWithdrawn(
        pb::NationalCandidacyWithdrawn {
            year: 2025,
            candidate_key: "k1".into(),
            was_admitted_to_sit: false,
        },
    ));
    readable.r#type = "candidacy_withdrawn".into();
    let mut replayed = unknown.clone();
    replayed.routing_key = "toulouse.registration.candidacy_withdrawn".into();
    replayed.body = readable.encode_to_vec();
    let replayed = crate::helpers::sign(replayed);
    // One queue, one consumer: the copy is logged before the gap closes.
    bus.publish(&[
        replayed,
        fact("toulouse", "registration", 1, registration_fact("k1")),
        fact("toulouse", "registration", 2, registration_fact("k2")),
    ])
    .await
    .unwrap();
    let source = wait_completeness(&f, "toulouse", "the stream applied", |c| {
        c.sources.iter().find(|s| s.applied_sequence == 4).cloned()
    })
    .await;
    assert_eq!(source.facts_waiting_for_upgrade, 0, "{source:?}");
    wait_totals(
        &f,
        academy_scope("toulouse"),
        "the withdrawal applied",
        |t| t.withdrawn.is_some_and(|w| w.value == 1),
    )
    .await;
}
