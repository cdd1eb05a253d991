//! Public verification, without a token: by number (what is printed, nothing more) and from the
//! credential the holder presents (offline with the published keys, and online).

use cplds_certification::domain::{
    credential::{ProofOptions, add_proof},
    jcs,
    multibase::did_key_method,
};
use cplds_proto::v1 as pb;
use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::helpers::{
    Backend, Ctx, candidacy_id, credential_req, email, number_req, session_decisions, start,
    status, verify_with_ring,
};

on_both!(
    anyone_verifies_a_number_and_sees_only_what_is_printed,
    the_credential_verifies_offline_and_online,
    an_altered_credential_does_not_verify,
    a_credential_signed_by_another_key_is_not_valid,
    unknown_numbers_and_numbers_of_another_academy_are_unknown,
);

/// Garcia's issued certificate (number 000002, Bernard being 000001) and her credential.
async fn garcias(t: &mut Ctx) -> (pb::Certificate, String) {
    let issued = t.issued(session_decisions()).await.remove(1);
    let credential = t.credential(&issued.number, &t.holder(0)).await.unwrap();
    (issued, credential)
}

async fn anyone_verifies_a_number_and_sees_only_what_is_printed(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (issued, _) = garcias(&mut t).await;
    // Anyone verifies by the number (any case), and sees what is printed: nothing more.
    let v = t.verify(number_req(&issued.number.to_lowercase())).await;
    assert_eq!(status(&v), pb::VerificationStatus::Valid);
    assert_eq!(v.number, issued.number);
    let s = v.statement.clone().unwrap();
    assert_eq!(s.holder_name, "Inès GARCIA");
    assert_eq!(
        s.title,
        "Certificat de professionnalisation en matière de lutte contre le décrochage scolaire"
    );
    assert_eq!(
        (s.academy.as_str(), s.academy_name.as_str(), s.year),
        ("toulouse", "Académie de Toulouse", 2025)
    );
    assert_eq!(
        (s.admission_date.as_str(), s.issue_date.as_str()),
        ("2025-07-03", "2025-07-10")
    );
    assert_eq!(s.signatory, issued.signatory);
    assert!(s.last_duplicate_date.is_empty());
    let shown = format!("{v:?}");
    for private in [
        email(0).as_str(),
        "1981-02-03",
        "12E0000000ABC",
        &candidacy_id(0),
    ] {
        assert!(
            !shown.contains(private),
            "{private} shown by the verification"
        );
    }
}

async fn the_credential_verifies_offline_and_online(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, credential) = garcias(&mut t).await;
    let keys = t.keys().await;
    // The credential verifies offline with ring and the published key,
    assert_eq!(
        verify_with_ring(&credential, &keys).unwrap(),
        keys[0].key_id
    );
    let vc: Value = serde_json::from_str(&credential).unwrap();
    assert_eq!(vc["type"][1], "OpenBadgeCredential");
    assert_eq!(vc["credentialSubject"]["name"], "Inès GARCIA");
    assert_eq!(vc["issuer"]["name"], "Académie de Toulouse");
    assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-jcs-2022");
    assert!(!credential.contains(&email(0)) && !credential.contains("1981"));
    // ...and online.
    let v = t.verify(credential_req(&credential)).await;
    assert_eq!(
        status(&v),
        pb::VerificationStatus::Valid,
        "{}",
        v.explanation
    );
    assert_eq!(
        (v.key_id.as_str(), v.key_retired),
        (keys[0].key_id.as_str(), false)
    );
    assert_eq!(v.statement.unwrap().holder_name, "Inès GARCIA");
}

async fn an_altered_credential_does_not_verify(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, credential) = garcias(&mut t).await;
    let keys = t.keys().await;
    // One changed character (the name on it) and it no longer verifies.
    let forged = credential.replacen("Inès GARCIA", "Inès GARCIB", 1);
    assert_ne!(forged, credential);
    assert!(verify_with_ring(&forged, &keys).is_err());
    let v = t.verify(credential_req(&forged)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert!(v.statement.is_none());
    assert!(v.explanation.contains("modifié"), "{}", v.explanation);
}

async fn a_credential_signed_by_another_key_is_not_valid(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, credential) = garcias(&mut t).await;
    // The same credential signed by someone else's key.
    let mut doc = jcs::parse_strict(&credential).unwrap();
    let impostor = SigningKey::from_bytes(&[42; 32]);
    doc.as_object_mut().unwrap().remove("proof");
    let signed = add_proof(
        &doc,
        &ProofOptions {
            verification_method: did_key_method(&impostor.verifying_key()),
            created: chrono::Utc::now(),
        },
        |d| ed25519_dalek::Signer::sign(&impostor, d),
    )
    .unwrap();
    let v = t
        .verify(credential_req(&serde_json::to_string(&signed).unwrap()))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert!(
        v.explanation.contains("pas une clé de l'académie"),
        "{}",
        v.explanation
    );
}

async fn unknown_numbers_and_numbers_of_another_academy_are_unknown(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    garcias(&mut t).await;
    let v = t.verify(number_req("CPLDS-TOULOUSE-2025-000099")).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
    assert!(v.statement.is_none());
    let v = t.verify(number_req("CPLDS-LYON-2025-000001")).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
    assert!(v.explanation.contains("lyon"));
}
