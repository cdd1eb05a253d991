//! A gap that no replay fills (the académie's history was pruned) is reported as such, with
//! the operator's action, after a few unanswered requests; requests go on, backing off.

use cplds_proto::v1 as pb;
use cplds_proto::v1::{EventEnvelope, event_envelope::Payload};
use cplds_runtime::{
    bus::{EventBus, memory::InMemoryBus},
    host::control_queue,
};
use prost::Message as _;

use crate::helpers::{fact, national, registration_fact, wait_completeness};

#[tokio::test]
async fn a_gap_replay_cannot_fill_is_reported_with_the_action() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    // The académie's control queue is there; nobody answers it.
    let control = control_queue("toulouse", "registration");
    bus.declare(&control).await.unwrap();
    let mut requests = bus.subscribe(&control).await.unwrap();
    // Sequence 1 is gone for good: nothing answers the replay requests.
    bus.publish(&[fact("toulouse", "registration", 2, registration_fact("k2"))])
        .await
        .unwrap();
    let source = wait_completeness(&f, "toulouse", "the gap called unfillable", |c| {
        c.sources
            .iter()
            .find(|s| s.state == pb::SourceState::GapUnfillable as i32)
            .cloned()
    })
    .await;
    assert!(!source.up_to_date);
    assert_eq!(
        source.gaps,
        [pb::SequenceRange { from: 1, to: 1 }],
        "{source:?}"
    );
    assert!(source.unanswered_replay_requests >= 5);
    assert!(source.next_replay_request_time.is_some());
    assert!(
        source
            .operator_action
            .starts_with("gap that replay cannot fill"),
        "{}",
        source.operator_action
    );
    // Each request asked from the first missing sequence for the gap only (fact 2 is here: an
    // académie whose history lost 1 must not send 2 and what follows again), once per round.
    let mut asked = 0;
    while let Some(d) = requests.try_next() {
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        let Some(Payload::ReplayRequested(r)) = e.payload else {
            panic!("{e:?}")
        };
        assert_eq!(
            (r.source.as_str(), r.from_sequence, r.limit),
            ("registration", 1, 1)
        );
        asked += 1;
    }
    assert!(asked >= 5, "{asked} requests");
}
