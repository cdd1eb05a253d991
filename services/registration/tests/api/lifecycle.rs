//! A whole campaign, from its opening to a withdrawal after the admitted list, as the other
//! services and the national node see it: each change once on each stream, in order, and no
//! name or contact on the national one.

use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use prost::Message;

use crate::helpers::*;

on_both!(a_whole_campaign_publishes_each_change_on_both_streams);

async fn a_whole_campaign_publishes_each_change_on_both_streams(backend: Backend) {
    let Some(mut t) = spawn_at(backend, DURING).await else {
        return;
    };
    let mut events = t.listen().await;
    t.campaign(2025, OPENS, CLOSES).await;
    // Three candidates register online; one of them on a fixed-term contract.
    let a = t.submit_online(person(1)).await.unwrap();
    let b = t.submit_online(person(2)).await.unwrap();
    let c = t.submit_online(fixed_term(3)).await.unwrap();
    // A sends their documents; the office validates A, rejects C, B withdraws.
    let token_a = t.candidate_token(1);
    t.upload(&a.id, pb::DocumentKind::EmploymentProof, &token_a)
        .await
        .unwrap();
    t.upload(&a.id, pb::DocumentKind::Identity, &token_a)
        .await
        .unwrap();
    t.validate(&a.id).await.unwrap();
    t.reject(&c.id, pb::RejectionReason::Ineligible, "")
        .await
        .unwrap();
    let token_b = t.candidate_token(2);
    t.withdraw(&b.id, "mutation", &token_b).await.unwrap();
    // The list is published after the window; A withdraws afterwards.
    t.set_clock(AFTER);
    t.publish().await.unwrap();
    t.withdraw(&a.id, "", &token_a).await.unwrap();

    let mut internal = Vec::new();
    let mut national = Vec::new();
    for _ in 0..18 {
        let e = next_event(&mut events).await;
        assert_eq!(e.academy, "toulouse");
        assert_eq!(e.source, "registration");
        if e.stream == pb::Stream::National as i32 {
            assert_nothing_personal(&e);
            national.push(e);
        } else {
            internal.push(e);
        }
    }
    let types = |v: &[EventEnvelope]| v.iter().map(|e| e.r#type.clone()).collect::<Vec<_>>();
    assert_eq!(
        types(&internal),
        [
            "campaign_opened",
            "candidacy_submitted",
            "candidacy_submitted",
            "candidacy_submitted",
            "candidacy_validated",
            "candidacy_rejected",
            "candidacy_withdrawn",
            "admitted_list_published",
            "candidacy_withdrawn"
        ]
    );
    assert_eq!(
        types(&national),
        [
            "campaign_opened",
            "candidacy_registered",
            "candidacy_registered",
            "candidacy_registered",
            "candidacy_decided",
            "candidacy_decided",
            "candidacy_withdrawn",
            "admitted_list_published",
            "candidacy_withdrawn"
        ]
    );
    let sequences: Vec<u64> = national.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=9).collect::<Vec<_>>(),
        "national sequences are gapless"
    );
    match &internal[5].payload {
        Some(Payload::CandidacyRejected(r)) => assert_eq!(r.reason, "ineligible"),
        other => panic!("unexpected {other:?}"),
    }
    match &internal[7].payload {
        Some(Payload::AdmittedListPublished(p)) => {
            assert_eq!(p.entries.len(), 1);
            assert_eq!(
                p.entries[0].identity.as_ref().unwrap().last_name,
                "Martin-Petit"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match &national[8].payload {
        Some(Payload::NationalCandidacyWithdrawn(w)) => assert!(w.was_admitted_to_sit),
        other => panic!("unexpected {other:?}"),
    }
    t.node.node.shutdown().await.unwrap();
}

/// National facts never carry a name, a contact, a staff number, a workplace or a birth date.
fn assert_nothing_personal(e: &EventEnvelope) {
    let bytes = e.encode_to_vec();
    for secret in [
        "Martin",
        "Camille",
        "ac-toulouse.fr",
        "12E0000001ABC",
        "0310036W",
        "1984-03-12",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} leaked to the national stream in {}",
            e.r#type
        );
    }
}
