//! The exam office's decisions and the candidates' withdrawals, and the rule each obeys.

use std::time::Duration;

use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::{
    bus::Stream,
    testing::{authed, bad_fields, precondition_rule, wait_for},
    time::{parse_paris_local, to_timestamp},
};
use prost::Message;

use crate::helpers::*;

on_both!(
    a_candidacy_is_validated_once,
    an_ineligible_candidate_is_not_validated,
    a_rejection_says_why,
    a_validated_candidacy_may_still_be_rejected,
    a_withdrawal_is_recorded_with_what_it_ended,
    a_candidate_withdraws_once,
    no_withdrawal_after_results,
);

async fn a_candidacy_is_validated_once(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.validated(1).await;
    assert_eq!(c.status, pb::CandidacyStatus::Validated as i32);
    assert!(c.missing_documents.is_empty());
    assert_eq!(c.decision.unwrap().decided_by, OFFICE);
    let err = t.validate(&c.id).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ALREADY_VALIDATED")
    );
}

async fn an_ineligible_candidate_is_not_validated(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(fixed_term(3)).await.unwrap();
    t.complete(&c.id).await;
    let err = t.validate(&c.id).await.unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("INELIGIBLE"));
    let rejected = t
        .reject(&c.id, pb::RejectionReason::Ineligible, "")
        .await
        .unwrap();
    assert_eq!(rejected.status, pb::CandidacyStatus::Rejected as i32);
    assert_eq!(
        rejected.decision.unwrap().reason,
        pb::RejectionReason::Ineligible as i32
    );
}

async fn a_rejection_says_why(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let err = t
        .reject(&c.id, pb::RejectionReason::Unspecified, "")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason"]);
    let err = t
        .reject(&c.id, pb::RejectionReason::Other, " ")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason_text"]);
    let r = t
        .reject(&c.id, pb::RejectionReason::Other, " hors délai ")
        .await
        .unwrap();
    assert_eq!(r.decision.unwrap().reason_text, "hors délai");
}

/// An error found later: a validated candidacy may be rejected until the list is out.
async fn a_validated_candidacy_may_still_be_rejected(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.validated(1).await;
    let r = t
        .reject(&c.id, pb::RejectionReason::Incomplete, "pièce illisible")
        .await
        .unwrap();
    assert_eq!(r.status, pb::CandidacyStatus::Rejected as i32);
    let err = t
        .reject(&c.id, pb::RejectionReason::Incomplete, "")
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_PENDING"));
}

async fn a_withdrawal_is_recorded_with_what_it_ended(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let b = t.submit_online(person(2)).await.unwrap();
    let token_b = t.candidate_token(2);
    let withdrawn = t.withdraw(&b.id, "mutation", &token_b).await.unwrap();
    assert_eq!(withdrawn.status, pb::CandidacyStatus::Withdrawn as i32);
    let w = withdrawn.withdrawal.unwrap();
    assert_eq!(w.previous_status, pb::CandidacyStatus::Submitted as i32);
    assert_eq!(
        (w.reason_text.as_str(), w.withdrawn_by),
        ("mutation", email(2))
    );
    let err = t
        .withdraw(&b.id, &"x".repeat(501), &token_b)
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason_text"]);
}

async fn a_candidate_withdraws_once(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let b = t.submit_online(person(2)).await.unwrap();
    let token_b = t.candidate_token(2);
    t.withdraw(&b.id, "", &token_b).await.unwrap();
    let err = t.withdraw(&b.id, "", &token_b).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ALREADY_WITHDRAWN")
    );
}

/// The event that announces results, as the examination service puts it on the internal stream.
fn results_published(year: i32) -> cplds_runtime::bus::Message {
    let event = EventEnvelope {
        event_id: "0196f7a2-0000-7000-8000-00000000abcd".into(),
        academy: "toulouse".into(),
        source: "examination".into(),
        sequence: 1,
        occurred_at: Some(to_timestamp(parse_paris_local("2025-07-01T10:00").unwrap())),
        r#type: "results_published".into(),
        stream: pb::Stream::Internal as i32,
        trace_context: Default::default(),
        payload: Some(Payload::ResultsPublished(pb::ResultsPublished {
            session_id: "s".into(),
            year,
            decisions: vec![],
            published_at: None,
            deliberated_at: None,
        })),
        ..Default::default()
    };
    cplds_runtime::testing::signed(vec![cplds_runtime::bus::Message {
        stream: Stream::Internal,
        routing_key: "toulouse.examination.results_published".into(),
        message_id: event.event_id.clone(),
        event_type: event.r#type.clone(),
        body: event.encode_to_vec(),
        headers: Default::default(),
    }])
    .remove(0)
}

async fn no_withdrawal_after_results(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let a = t.submit_online(person(1)).await.unwrap();
    let b = t.submit_online(person(2)).await.unwrap();
    let me = t.candidate_token(1);
    t.withdraw(&a.id, "", &me).await.unwrap();
    // Delivered twice: the second changes nothing.
    let message = results_published(2025);
    t.node
        .bus
        .publish(&[message.clone(), message])
        .await
        .unwrap();
    let office = t.office.clone();
    let client = t.client.clone();
    wait_for(
        Duration::from_secs(10),
        "results to reach registration",
        || {
            let (mut client, office) = (client.clone(), office.clone());
            async move {
                let c = client
                    .get_campaign(authed(pb::GetCampaignRequest { year: 2025 }, &office))
                    .await
                    .unwrap()
                    .into_inner();
                c.results_published_at.map(|_| ())
            }
        },
    )
    .await;
    let err = t.withdraw(&b.id, "", &office).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("RESULTS_PUBLISHED")
    );
    let b = t.get(&b.id, &office).await.unwrap();
    assert_eq!(b.status, pb::CandidacyStatus::Submitted as i32);
}
