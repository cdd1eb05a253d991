//! Revocation: the recteur's act, told on both streams, seen by verification (date and reason,
//! never the free text) and in the signed status list; final.

use cplds_certification::domain::status_list::Bitstring;
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    bus::Stream,
    testing::{bad_fields, precondition_rule},
    time::{parse_paris_local, to_timestamp},
};
use serde_json::Value;
use tonic::Code;

use crate::helpers::{
    Backend, Ctx, NOW, code_req, credential_req, decision, next_event, number_req, start, status,
    verify_with_ring,
};

on_both!(
    a_bad_revocation_changes_nothing,
    revocation_is_told_on_both_streams,
    verification_says_revoked_with_date_and_reason_only,
    the_status_list_has_the_bit_of_the_revoked_certificate,
    revoked_is_final,
);

const FRAUD_TEXT: &str = "pièces falsifiées (dossier 2025-17)";

/// Two issued certificates (their events seen): the one kept, the one to revoke, and the
/// latter's credential.
async fn two_issued(t: &mut Ctx) -> (pb::Certificate, pb::Certificate, String) {
    let mut batch = t.issued(vec![decision(0, true), decision(1, true)]).await;
    t.drain(4).await;
    let revoked = batch.remove(1);
    let kept = batch.remove(0);
    let office = t.office.clone();
    let credential = t.credential(&revoked.number, &office).await.unwrap();
    (kept, revoked, credential)
}

fn bits(list: &pb::StatusList) -> Bitstring {
    let vc: Value = serde_json::from_str(&list.credential_json).unwrap();
    assert_eq!(vc["type"][1], "BitstringStatusListCredential");
    assert_eq!(vc["credentialSubject"]["statusPurpose"], "revocation");
    Bitstring::decode(vc["credentialSubject"]["encodedList"].as_str().unwrap()).unwrap()
}

fn index(list: &pb::StatusList, credential: &str) -> u64 {
    let vc: Value = serde_json::from_str(credential).unwrap();
    assert_eq!(vc["credentialStatus"]["statusListCredential"], list.id);
    vc["credentialStatus"]["statusListIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn a_bad_revocation_changes_nothing(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, revoked, _) = two_issued(&mut t).await;
    let err = t
        .revoke(&revoked.number, pb::RevocationReason::Unspecified, "")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason"]);
    let err = t
        .revoke(&revoked.number, pb::RevocationReason::Other, " ")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason_text"]);
    assert_eq!(
        status(&t.verify(number_req(&revoked.number)).await),
        pb::VerificationStatus::Valid
    );
}

async fn revocation_is_told_on_both_streams(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, revoked, _) = two_issued(&mut t).await;
    // The recteur revokes it for fraud.
    let r = t
        .revoke(&revoked.number, pb::RevocationReason::Fraud, FRAUD_TEXT)
        .await
        .unwrap();
    assert_eq!(r.state, pb::CertificateState::Revoked as i32);
    let rev = r.revocation.unwrap();
    assert_eq!(rev.reason, pb::RevocationReason::Fraud as i32);
    assert_eq!(rev.revoked_by, "recteur@ac-toulouse.fr");
    assert_eq!(rev.reason_text, FRAUD_TEXT);

    let e = next_event(&mut t.events).await;
    let Some(Payload::CertificateRevoked(c)) = e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(
        (c.number.as_str(), c.reason.as_str()),
        (revoked.number.as_str(), "fraud")
    );
    let e = next_event(&mut t.events).await;
    assert_eq!(e.stream, Stream::National as i32);
    let Some(Payload::NationalCertificateRevoked(n)) = e.payload else {
        panic!("{e:?}")
    };
    assert_eq!((n.year, n.reason.as_str()), (2025, "fraud"));
}

async fn verification_says_revoked_with_date_and_reason_only(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (kept, revoked, credential) = two_issued(&mut t).await;
    t.revoke(&revoked.number, pb::RevocationReason::Fraud, FRAUD_TEXT)
        .await
        .unwrap();
    // By the number alone: revoked, and nothing more.
    let v = t.verify(number_req(&revoked.number)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Revoked);
    assert!(v.revocation.is_none() && v.statement.is_none(), "{v:?}");
    // With its code, verification says revoked, with date and reason, and never the recteur's
    // free text.
    let v = t
        .verify(code_req(&revoked.number, &revoked.verification_code))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Revoked);
    let pub_rev = v.revocation.clone().unwrap();
    assert_eq!(pub_rev.reason, pb::RevocationReason::Fraud as i32);
    assert_eq!(
        pub_rev.revoke_time,
        Some(to_timestamp(parse_paris_local(NOW).unwrap()))
    );
    assert!(pub_rev.reason_text.is_empty() && pub_rev.revoked_by.is_empty());
    assert!(!format!("{v:?}").contains("falsifiées"));
    assert_eq!(
        v.statement.as_ref().unwrap().holder_name,
        revoked.holder_name
    );
    assert!(v.explanation.contains("fraude"), "{}", v.explanation);
    // So does the credential the holder still has; the other certificate stays valid.
    let v = t.verify(credential_req(&credential)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Revoked);
    assert_eq!(
        status(&t.verify(number_req(&kept.number)).await),
        pb::VerificationStatus::Valid
    );
}

async fn the_status_list_has_the_bit_of_the_revoked_certificate(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (kept, revoked, credential) = two_issued(&mut t).await;
    let list = t.status_list().await;
    let keys = t.keys().await;
    assert_eq!(list.id, "urn:cplds:status-list:toulouse");
    assert_eq!(list.size, 131_072);
    assert_eq!(index(&list, &credential), revoked.status_list_index as u64);
    assert!(!bits(&list).get(revoked.status_list_index as u64).unwrap());

    t.revoke(&revoked.number, pb::RevocationReason::Fraud, FRAUD_TEXT)
        .await
        .unwrap();
    // The status list has the bit set, and only that one; it is signed like certificates.
    let list = t.status_list().await;
    assert_eq!(
        verify_with_ring(&list.credential_json, &keys).unwrap(),
        keys[0].key_id
    );
    let b = bits(&list);
    assert!(b.get(index(&list, &credential)).unwrap());
    assert!(!b.get(kept.status_list_index as u64).unwrap());
    let vc: Value = serde_json::from_str(&list.credential_json).unwrap();
    assert_eq!(vc["validUntil"], "2025-07-11T08:00:00Z");
}

async fn revoked_is_final(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, revoked, _) = two_issued(&mut t).await;
    let number = revoked.number.clone();
    t.revoke(&number, pb::RevocationReason::Fraud, FRAUD_TEXT)
        .await
        .unwrap();
    // Revoked is final: no second revocation, no PDF, no credential, no duplicate.
    let err = t
        .revoke(&number, pb::RevocationReason::Fraud, "")
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("ALREADY_REVOKED"));
    let recteur = t.recteur.clone();
    let err = t.pdf(&number, &recteur).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
    let err = t.credential(&number, &recteur).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = t.duplicate(&number, &recteur).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
    let err = t.issue_one(&number, &recteur).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
}
