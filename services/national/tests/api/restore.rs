//! An académie restored from a backup issues sequences again with other events: the national
//! node records each conflict and says the source is not complete, with what to do; a plain
//! redelivery of the same event is still a duplicate.

use cplds_proto::v1 as pb;
use cplds_runtime::{bus::EventBus, bus::memory::InMemoryBus};

use crate::helpers::{
    academy_scope, fact, national, registration_fact, wait_completeness, wait_registrations,
};

#[tokio::test]
async fn a_reused_sequence_is_recorded_and_the_source_is_not_complete() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let second = fact("toulouse", "registration", 2, registration_fact("k2"));
    bus.publish(&[
        fact("toulouse", "registration", 1, registration_fact("k1")),
        second.clone(),
    ])
    .await
    .unwrap();
    wait_registrations(&f, academy_scope("toulouse"), 2).await;
    // The same event again (a redelivery, a replay) and another event under sequence 2.
    bus.publish(&[
        second,
        fact("toulouse", "registration", 2, registration_fact("k9")),
    ])
    .await
    .unwrap();
    let source = wait_completeness(&f, "toulouse", "the conflict reported", |c| {
        c.sources
            .iter()
            .find(|s| s.source == "registration" && !s.up_to_date)
            .cloned()
    })
    .await;
    assert_eq!(source.sequence_conflicts, 1, "{source:?}");
    assert_eq!(source.state, pb::SourceState::SequenceReused as i32);
    assert!(
        source
            .operator_action
            .starts_with("sequence reused: restored from backup?"),
        "{}",
        source.operator_action
    );
    assert_eq!(source.applied_sequence, 2);
    wait_registrations(&f, academy_scope("toulouse"), 2).await;
}
