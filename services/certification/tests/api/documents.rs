//! The documents of an issued certificate: the PDF its holder prints, and duplicates (same
//! number, signed again, told internally only).

use std::time::Duration;

use cplds_certification::domain::jcs;
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{pdf::extract_text, testing::precondition_rule};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Backend, Ctx, credential_req, decision, email, next_event, results, start, status,
};

on_both!(
    the_holder_fetches_a_pdf_that_prints_the_statements,
    a_prepared_certificate_has_no_duplicate,
    a_duplicate_keeps_the_number_and_is_told_internally_only,
    the_duplicate_pdf_says_so,
    the_original_and_the_duplicate_credential_both_verify,
);

async fn the_holder_fetches_a_pdf_that_prints_the_statements(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let issued = t
        .issued(vec![decision(0, true), decision(1, true)])
        .await
        .remove(1);
    // The holder fetches the PDF: it prints the same statements.
    let pdf = t.pdf(&issued.number, &t.holder(0)).await.unwrap();
    assert_eq!(pdf.file_name, "CPLDS-TOULOUSE-2025-000002.pdf");
    assert_eq!(pdf.sha256, hex::encode(Sha256::digest(&pdf.content)));
    let text = extract_text(&pdf.content);
    for printed in [
        "Inès GARCIA",
        "Certificat n° CPLDS-TOULOUSE-2025-000002",
        "Fait le 10/07/2025",
        "publiée le 03/07/2025",
        "Académie de Toulouse",
    ] {
        assert!(text.contains(printed), "{printed:?} not printed:\n{text}");
    }
    assert!(!text.contains(&email(0)) && !text.contains("1981"));
}

async fn a_prepared_certificate_has_no_duplicate(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, vec![decision(4, true)])).await;
    let number = t.prepared(1).await.remove(0).number;
    let recteur = t.recteur.clone();
    let err = t.duplicate(&number, &recteur).await.unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_ISSUED"));
}

/// Manon Vidal's certificate, issued, then duplicated 200 days later (its events seen): the
/// number, the original credential and the duplicate.
async fn duplicated(t: &mut Ctx) -> (String, String, pb::Certificate) {
    let number = t.issued(vec![decision(4, true)]).await.remove(0).number;
    let recteur = t.recteur.clone();
    let original = t.credential(&number, &recteur).await.unwrap();
    t.drain(2).await;
    t.node.clock.advance(chrono::Duration::days(200));
    let dup = t.duplicate(&number.to_lowercase(), &recteur).await.unwrap();
    (number, original, dup)
}

async fn a_duplicate_keeps_the_number_and_is_told_internally_only(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (number, _, dup) = duplicated(&mut t).await;
    assert_eq!(dup.number, number);
    assert_eq!(dup.duplicate_count, 1);
    assert_eq!(dup.state, pb::CertificateState::Issued as i32);
    // Internal event only: a duplicate is not a new certification for the national figures.
    let e = next_event(&mut t.events).await;
    let Some(Payload::CertificateIssued(i)) = e.payload else {
        panic!("{e:?}")
    };
    assert!(i.duplicate && i.number == number);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), t.events.next())
            .await
            .is_err(),
        "no national event for a duplicate"
    );
}

async fn the_duplicate_pdf_says_so(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (number, _, _) = duplicated(&mut t).await;
    let pdf = t.pdf(&number, &t.holder(4)).await.unwrap();
    let text = extract_text(&pdf.content);
    assert!(text.contains("DUPLICATA délivré le 26/01/2026"), "{text}");
    assert!(text.contains(&format!("Certificat n° {number}")));
}

async fn the_original_and_the_duplicate_credential_both_verify(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (number, original, _) = duplicated(&mut t).await;
    // The new credential states the same; both it and the original verify.
    let recteur = t.recteur.clone();
    let renewed = t.credential(&number, &recteur).await.unwrap();
    assert_ne!(renewed, original);
    let strip = |s: &str| {
        let mut v = jcs::parse_strict(s).unwrap();
        v.as_object_mut().unwrap().remove("proof");
        v
    };
    assert_eq!(strip(&renewed), strip(&original));
    for c in [&original, &renewed] {
        let v = t.verify(credential_req(c)).await;
        assert_eq!(
            status(&v),
            pb::VerificationStatus::Valid,
            "{}",
            v.explanation
        );
        assert_eq!(v.statement.unwrap().last_duplicate_date, "2026-01-26");
    }
}
