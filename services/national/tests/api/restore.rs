//! An académie restored from a backup issues sequences again with other events: the national
//! node records each conflict and says the source is not complete, with what to do; a plain
//! redelivery of the same event is still a duplicate. The operator then resets the source: the
//! facts the académie lost are forgotten, its records rebuilt, its new facts taken.

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    auth::Role,
    bus::{EventBus, memory::InMemoryBus},
    testing::authed,
};

use crate::helpers::{
    academy_scope, fact, national, registration_fact, wait_completeness, wait_registrations,
    wait_totals,
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
    // The same event again (a redelivery, a replay), and the restored académie's own sequence
    // 2: k2's registration was lost with the restore, k1 withdrew since.
    let reissued = fact(
        "toulouse",
        "registration",
        2,
        Payload::NationalCandidacyWithdrawn(pb::NationalCandidacyWithdrawn {
            year: 2025,
            candidate_key: "k1".into(),
            was_admitted_to_sit: false,
        }),
    );
    bus.publish(&[second, reissued.clone()]).await.unwrap();
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
    let figures = f.statistics_as(&f.ministry).await.unwrap();
    let toulouse = figures.academies.iter().find(|a| a.academy == "toulouse");
    assert!(
        toulouse.is_some_and(|a| !a.up_to_date),
        "the figures do not call a rewound académie up to date: {toulouse:?}"
    );

    // The restore procedure: the national IT resets the source from the first conflict.
    let mut stats = f.stats.clone();
    let it = f.national.token("it@education.gouv.fr", &[Role::ItAdmin]);
    let reset = |academy: &str, from_sequence| {
        authed(
            pb::ResetSourceRequest {
                academy: academy.into(),
                source: "registration".into(),
                from_sequence,
            },
            &it,
        )
    };
    let refused = stats.reset_source(reset("atlantis", 0)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("academy"), "{refused:?}");
    assert_eq!(
        stats
            .reset_source(reset("lyon", 0))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    let done = stats
        .reset_source(reset("toulouse", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            done.from_sequence,
            done.facts_forgotten,
            done.conflicts_cleared
        ),
        (2, 1, 1)
    );
    // Nothing left in conflict: resetting again needs the sequence named.
    let again = stats.reset_source(reset("toulouse", 0)).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    // The académie's facts from there come again (its replay): the records are rebuilt.
    bus.publish(&[reissued]).await.unwrap();
    wait_totals(&f, academy_scope("toulouse"), "the records rebuilt", |t| {
        t.registrations.unwrap().value == 1 && t.withdrawn.is_some_and(|w| w.value == 1)
    })
    .await;
    let source = wait_completeness(&f, "toulouse", "the source complete again", |c| {
        c.sources.iter().find(|s| s.up_to_date).cloned()
    })
    .await;
    assert_eq!((source.applied_sequence, source.sequence_conflicts), (2, 0));
}
