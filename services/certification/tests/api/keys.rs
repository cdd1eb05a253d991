//! The académie's document keys across restarts: the public address goes where credentials
//! point, and a rotated-out key (even one dropped from the configuration) keeps verifying what
//! it signed.

use cplds_certification::domain::{
    jcs,
    multibase::did_key_method,
    proof::{Cryptosuite, ProofOptions, add_proofs},
};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Role,
    clock::{Clock, ManualClock},
    testing::{authed, http},
    time::{parse_paris_local, to_timestamp},
};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::helpers::{
    Backend, Client, KeyedNode, NOW, credential_req, database, decision, envelope, publish,
    results, start_keyed, status, verify_with_ring, wait_certificates,
};

on_both!(
    the_public_address_goes_into_qr_codes_and_the_status_list,
    key_rotation_keeps_old_certificates_valid,
);

/// The recteur's token on `n`.
fn recteur(n: &KeyedNode) -> String {
    n.issuer
        .mint("recteur@ac-toulouse.fr", "toulouse", &[Role::Recteur])
        .unwrap()
}

/// The credential verified valid, signed by `kid` (retired or not).
fn assert_signed_by(v: &pb::CertificateVerification, kid: &str, retired: bool) {
    assert_eq!(
        status(v),
        pb::VerificationStatus::Valid,
        "{}",
        v.explanation
    );
    assert_eq!((v.key_id.as_str(), v.key_retired), (kid, retired));
}

/// The keys `n` publishes.
async fn keys_of(n: &KeyedNode) -> Vec<pb::SigningKey> {
    n.client
        .clone()
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys
}

/// Candidate 0's certificate issued on `n`, and its credential.
async fn first_issued(n: &KeyedNode) -> (pb::Certificate, String) {
    let recteur = recteur(n);
    publish(&n.bus, &envelope(results(2025, vec![decision(0, true)]))).await;
    let first = wait_certificates(&n.client, &recteur, pb::CertificateState::Prepared, 1)
        .await
        .remove(0);
    let mut client = n.client.clone();
    let issued = client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: first.number.clone(),
                signatory_name: String::new(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    let credential = client
        .get_certificate_credential(authed(
            pb::GetCertificateCredentialRequest {
                number: first.number.clone(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential_json;
    (issued, credential)
}

async fn the_public_address_goes_into_qr_codes_and_the_status_list(backend: Backend) {
    let Some(pg) = database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(parse_paris_local(NOW).unwrap());
    let a = SigningKey::from_bytes(&[0xa; 32]);
    let n1 = start_keyed(dir.path(), pg.as_ref().map(|p| p.url.clone()), &[&a], clock).await;
    let (issued, credential) = first_issued(&n1).await;
    assert_eq!(
        issued.verification_url,
        format!(
            "https://cplds.ac-toulouse.fr/verifier/CPLDS-TOULOUSE-2025-000001?code={}",
            issued.verification_code
        )
    );
    let vc: Value = serde_json::from_str(&credential).unwrap();
    assert_eq!(
        vc["credentialStatus"]["statusListCredential"],
        "https://cplds.ac-toulouse.fr/verifier/status-list"
    );
    n1.node.shutdown().await.unwrap();
    drop(pg);
}

async fn key_rotation_keeps_old_certificates_valid(backend: Backend) {
    let Some(pg) = database(backend).await else {
        return;
    };
    let url = pg.as_ref().map(|p| p.url.clone());
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(parse_paris_local(NOW).unwrap());
    let (a, b) = (
        SigningKey::from_bytes(&[0xa; 32]),
        SigningKey::from_bytes(&[0xb; 32]),
    );
    let verify = |client: &Client, json: String| {
        let mut c = client.clone();
        async move {
            c.verify_certificate(credential_req(&json))
                .await
                .unwrap()
                .into_inner()
        }
    };

    // Key A signs the first certificate.
    let n1 = start_keyed(dir.path(), url.clone(), &[&a], clock.clone()).await;
    let (issued, old_credential) = first_issued(&n1).await;
    let keys_a = keys_of(&n1).await;
    let kid_a = keys_a[0].key_id.clone();
    assert_eq!(issued.key_id, kid_a);
    assert!(
        keys_a[0]
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert!(keys_a[0].multikey.starts_with("z6Mk"));
    n1.node.shutdown().await.unwrap();

    // Rotation: B becomes current, A is kept as retired.
    clock.advance(chrono::Duration::days(30));
    let n2 = start_keyed(dir.path(), url.clone(), &[&b, &a], clock.clone()).await;
    let mut client = n2.client.clone();
    let keys = keys_of(&n2).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].status, pb::SigningKeyStatus::Current as i32);
    assert_ne!(keys[0].key_id, kid_a);
    let kid_b = keys[0].key_id.clone();
    assert_eq!(
        (keys[1].key_id.as_str(), keys[1].status),
        (kid_a.as_str(), pb::SigningKeyStatus::Retired as i32)
    );
    assert_eq!(keys[1].retire_time, Some(to_timestamp(clock.now())));
    assert_eq!(keys[1].first_seen_time, keys_a[0].first_seen_time);
    // A's certificate still verifies, as signed by a retired key.
    assert_eq!(verify_with_ring(&old_credential, &keys).unwrap(), kid_a);
    let v = verify(&n2.client, old_credential.clone()).await;
    assert_signed_by(&v, &kid_a, true);

    // New certificates are signed with B.
    let recteur = recteur(&n2);
    publish(&n2.bus, &envelope(results(2025, vec![decision(1, true)]))).await;
    wait_certificates(&n2.client, &recteur, pb::CertificateState::Prepared, 1).await;
    let batch = client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: 2025,
                signatory_name: String::new(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.issued.len(), 1);
    assert_eq!(batch.already_issued_count, 1);
    assert_eq!(batch.issued[0].key_id, kid_b);
    let new_credential = client
        .get_certificate_credential(authed(
            pb::GetCertificateCredentialRequest {
                number: batch.issued[0].number.clone(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential_json;
    assert_eq!(verify_with_ring(&new_credential, &keys).unwrap(), kid_b);
    n2.node.shutdown().await.unwrap();

    // A leaves the configuration: the key history still vouches for what it signed.
    let n3 = start_keyed(dir.path(), url, &[&b], clock.clone()).await;
    let keys = keys_of(&n3).await;
    assert_eq!(keys.len(), 2);
    let v = verify(&n3.client, old_credential.clone()).await;
    assert_signed_by(&v, &kid_a, true);
    let v = verify(&n3.client, new_credential).await;
    assert_signed_by(&v, &kid_b, false);
    // One issuer across the rotation: its DID document lists both keys for assertions, the
    // current first.
    let did = "did:web:cplds.ac-toulouse.fr:verifier";
    let addr = n3.node.http_addr.expect("public pages served");
    let doc = http(addr, "GET", "/verifier/did.json", &[], b"")
        .await
        .unwrap();
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.header("content-type"), Some("application/did+ld+json"));
    let doc = doc.json();
    assert_eq!(doc["id"], did);
    assert_eq!(
        doc["assertionMethod"],
        serde_json::json!([format!("{did}#{kid_b}"), format!("{did}#{kid_a}")])
    );
    assert_eq!(
        doc["verificationMethod"][1]["publicKeyMultibase"],
        keys[1].multikey
    );
    assert_eq!(doc["verificationMethod"][1]["controller"], did);
    // A credential of the shape issued before did:web (one eddsa-jcs-2022 proof object, a
    // did:key method) still verifies, by the key it names.
    let mut legacy = jcs::parse_strict(&old_credential).unwrap();
    legacy.as_object_mut().unwrap().remove("proof");
    let legacy = add_proofs(
        &legacy,
        &ProofOptions {
            verification_method: did_key_method(&a.verifying_key()),
            created: clock.now(),
        },
        &[Cryptosuite::EddsaJcs2022],
        |d| ed25519_dalek::Signer::sign(&a, d),
    )
    .unwrap();
    let mut legacy = legacy.as_object().unwrap().clone();
    let lone = legacy["proof"][0].clone();
    legacy.insert("proof".into(), lone);
    let v = verify(&n3.client, Value::Object(legacy).to_string()).await;
    assert_signed_by(&v, &kid_a, true);
    n3.node.shutdown().await.unwrap();
    drop(pg);
}
