//! The recteur issues the session: certificates signed with the académie's key, told on both
//! streams, never twice.

use std::time::Duration;

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{bus::Stream, testing::precondition_rule};
use tonic::Code;

use crate::helpers::{Backend, Ctx, next_event, results, session_decisions, start};

on_both!(
    the_recteur_issues_the_session,
    issuing_tells_each_certificate_and_its_national_fact,
    issuing_again_issues_nothing_twice,
    a_session_without_results_is_not_issued,
);

/// Garcia, Bernard and Roux admitted, Fabre not: the three prepared certificates.
async fn prepared_session(t: &Ctx) -> Vec<pb::Certificate> {
    t.publish(results(2025, session_decisions())).await;
    t.prepared(3).await
}

async fn the_recteur_issues_the_session(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    prepared_session(&t).await;
    let batch = t.issue_all().await;
    assert_eq!(batch.issued.len(), 3);
    assert_eq!(batch.already_issued_count, 0);
    let issued = &batch.issued[1];
    assert_eq!(issued.state, pb::CertificateState::Issued as i32);
    assert_eq!(issued.issued_by, "recteur@ac-toulouse.fr");
    assert_eq!(
        issued.signatory,
        "Le recteur de l'académie de Toulouse, chancelier des universités"
    );
    let keys = t.keys().await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, pb::SigningKeyStatus::Current as i32);
    assert_eq!(issued.key_id, keys[0].key_id);
    // No public address configured: the QR code holds the number and the code.
    assert_eq!(
        issued.verification_url,
        format!("{} {}", issued.number, issued.verification_code)
    );
}

async fn issuing_tells_each_certificate_and_its_national_fact(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let prepared = prepared_session(&t).await;
    t.issue_all().await;
    // Events: each certificate on the internal stream, and the pseudonymous fact nationally.
    let mut internal = Vec::new();
    let mut national = Vec::new();
    for _ in 0..6 {
        let e = next_event(&mut t.events).await;
        assert_eq!(e.source, "certification");
        match e.payload.unwrap() {
            Payload::CertificateIssued(i) => {
                assert_eq!(e.stream, Stream::Internal as i32);
                assert!(!i.duplicate);
                internal.push(i.number);
            }
            Payload::NationalCertificateIssued(n) => {
                assert_eq!(e.stream, Stream::National as i32);
                assert_eq!(n.year, 2025);
                national.push(n.candidate_key);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    internal.sort();
    national.sort();
    assert_eq!(
        internal,
        prepared
            .iter()
            .map(|c| c.number.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        national,
        [
            format!("{:032x}", 0),
            format!("{:032x}", 1),
            format!("{:032x}", 2)
        ]
    );
}

async fn issuing_again_issues_nothing_twice(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    prepared_session(&t).await;
    let issued = t.issue_all().await.issued.remove(1);
    t.drain(6).await;
    // Running the batch again, or issuing one again, issues nothing twice.
    let again = t.issue_all().await;
    assert!(again.issued.is_empty());
    assert_eq!(again.already_issued_count, 3);
    let one = t
        .client
        .issue_certificate(cplds_runtime::testing::authed(
            pb::IssueCertificateRequest {
                number: issued.number.clone(),
                signatory_name: "Someone Else".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one, issued);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), t.events.next())
            .await
            .is_err(),
        "re-running issued no event"
    );
}

async fn a_session_without_results_is_not_issued(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    // No results for the year yet: nothing to issue.
    let err = t
        .client
        .clone()
        .issue_certificates(cplds_runtime::testing::authed(
            pb::IssueCertificatesRequest {
                year: 2025,
                signatory_name: String::new(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("NO_ADMITTED_CANDIDATES")
    );
}
