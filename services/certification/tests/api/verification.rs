//! Public verification, without a token: by number alone (valid, revoked or unknown: nothing
//! personal), by number and the code printed on the document (what is printed, nothing more),
//! and from the credential the holder presents (offline with the published keys, and online);
//! the public limits (size, rate per client) in front of it.

use cplds_certification::domain::{
    jcs,
    multibase::did_key_method,
    proof::{Cryptosuite, ProofOptions, add_proofs},
};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    config::Config,
    pdf::extract_text,
    testing::{ConfigTweak, authed, bad_fields},
};
use ed25519_dalek::SigningKey;
use serde_json::Value;
use tonic::Code;

use crate::helpers::{
    Backend, Ctx, DID, PEOPLE, candidacy_id, code_req, credential_req, decision, email, number_req,
    public_base, session_decisions, start, start_with, status, verify_with_ring,
};

on_both!(
    anyone_verifies_a_number_and_sees_only_what_is_printed,
    a_loop_over_numbers_reveals_no_name_and_no_reason,
    a_wrong_code_reveals_nothing,
    the_document_carries_its_code,
    status_list_positions_are_drawn_at_random,
    an_oversized_proof_value_is_refused_before_decoding,
    public_calls_are_limited_per_client,
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
    // By the number alone (any case): valid, and nothing of whose it is.
    let v = t.verify(number_req(&issued.number.to_lowercase())).await;
    assert_eq!(status(&v), pb::VerificationStatus::Valid);
    assert_eq!(v.number, issued.number);
    assert!(v.statement.is_none() && v.revocation.is_none());
    assert!(!format!("{v:?}").contains("GARCIA"), "{v:?}");
    assert!(
        v.explanation.contains("code de vérification"),
        "{}",
        v.explanation
    );
    // With the code printed on it (as typed: any case, no hyphens), what is printed.
    assert_eq!(issued.verification_code.len(), 19);
    let typed = issued.verification_code.replace('-', "").to_lowercase();
    let v = t.verify(code_req(&issued.number, &typed)).await;
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

/// What a loop over the sequential numbers learns: which are valid or revoked, and nothing of
/// whom, nor why (the defect of issue 12 §2: it listed every holder and every fraud).
async fn a_loop_over_numbers_reveals_no_name_and_no_reason(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let issued = t.issued(session_decisions()).await;
    t.revoke(
        &issued[0].number,
        pb::RevocationReason::Fraud,
        "copie falsifiée",
    )
    .await
    .unwrap();
    t.revoke(
        &issued[1].number,
        pb::RevocationReason::Other,
        "signalé par M. Dupont",
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for serial in 1..=8 {
        let v = t
            .verify(number_req(&format!("CPLDS-TOULOUSE-2025-{serial:06}")))
            .await;
        let shown = format!("{v:?}").to_lowercase();
        for (last, first) in PEOPLE {
            assert!(
                !shown.contains(&last.to_lowercase()) && !shown.contains(&first.to_lowercase()),
                "serial {serial} names {first} {last}: {shown}"
            );
        }
        for reason in ["fraude", "falsifi", "dupont", "autre motif"] {
            assert!(
                !shown.contains(reason),
                "serial {serial} says {reason}: {shown}"
            );
        }
        assert!(v.statement.is_none() && v.revocation.is_none(), "{v:?}");
        statuses.push(status(&v));
    }
    use pb::VerificationStatus::*;
    assert_eq!(
        statuses,
        [
            Revoked, Revoked, Valid, Unknown, Unknown, Unknown, Unknown, Unknown
        ]
    );
    // With the code, the revocation's date and its reason from the closed list; never the
    // recteur's words.
    for (c, reason, label) in [
        (&issued[0], pb::RevocationReason::Fraud, "fraude"),
        (&issued[1], pb::RevocationReason::Other, "autre motif"),
    ] {
        let v = t.verify(code_req(&c.number, &c.verification_code)).await;
        assert_eq!(status(&v), Revoked);
        let r = v.revocation.clone().unwrap();
        assert_eq!(pb::RevocationReason::try_from(r.reason), Ok(reason));
        assert!(r.reason_text.is_empty() && r.revoked_by.is_empty());
        assert_eq!(v.statement.as_ref().unwrap().holder_name, c.holder_name);
        assert!(v.explanation.contains(label), "{}", v.explanation);
        let shown = format!("{v:?}");
        assert!(
            !shown.contains("falsifi") && !shown.contains("Dupont"),
            "{shown}"
        );
    }
}

async fn a_wrong_code_reveals_nothing(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let issued = t.issued(session_decisions()).await;
    let (a, b) = (&issued[0], &issued[1]);
    assert_ne!(a.verification_code, b.verification_code);
    // Another certificate's code, or a made-up one: INVALID, and nothing else.
    for wrong in [b.verification_code.as_str(), "0000-0000-0000-0000"] {
        let v = t.verify(code_req(&a.number, wrong)).await;
        assert_eq!(status(&v), pb::VerificationStatus::Invalid);
        assert!(v.statement.is_none() && v.revocation.is_none());
        assert!(!format!("{v:?}").contains(&a.holder_name), "{v:?}");
        assert!(
            v.explanation.contains("ne correspond pas"),
            "{}",
            v.explanation
        );
    }
    // A code that cannot be one is named.
    let err = t
        .client
        .verify_certificate(code_req(&a.number, "not a code"))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["code"]);
    // An unknown number stays unknown, code or not.
    let v = t
        .verify(code_req("CPLDS-TOULOUSE-2025-000099", &a.verification_code))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
}

/// The code is printed on the PDF, its QR code carries it, and the holder's reprint and the
/// staff's copy carry the same.
async fn the_document_carries_its_code(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (issued, _) = garcias(&mut t).await;
    let code = &issued.verification_code;
    // No public address here: the QR code holds the number and the code.
    assert_eq!(issued.verification_url, format!("{} {code}", issued.number));
    let pdf = t.pdf(&issued.number, &t.holder(0)).await.unwrap();
    let text = extract_text(&pdf.content);
    assert!(
        text.contains(&format!("Code de vérification : {code}")),
        "{text}"
    );
    let office = t.office.clone();
    let seen = t.get(&issued.number, &office).await.unwrap();
    assert_eq!(&seen.verification_code, code);
}

/// 50 certificates: their status list positions are distinct and spread over the list, not
/// 0, 1, 2... in the order of issuance.
async fn status_list_positions_are_drawn_at_random(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let issued = t.issued((0..50).map(|n| decision(n, true)).collect()).await;
    assert_eq!(issued.len(), 50);
    let mut indexes: Vec<i64> = issued.iter().map(|c| c.status_list_index).collect();
    let in_order = indexes.clone();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 50, "positions are unique");
    assert_ne!(indexes, (0..50).collect::<Vec<i64>>());
    assert_ne!(
        in_order, indexes,
        "positions do not follow the order of issuance"
    );
    assert!(
        indexes.iter().any(|i| *i >= 65_536),
        "spread over the list: {indexes:?}"
    );
    // The published list stays its minimal size, and the credentials point where it says.
    let list = t.status_list().await;
    assert_eq!(list.size, 131_072);
}

/// A credential whose proof value is 60 KB (a genuine one has 89 characters): refused by its
/// length, naming the field, before base58 decoding (quadratic: over a second of CPU).
async fn an_oversized_proof_value_is_refused_before_decoding(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, credential) = garcias(&mut t).await;
    let mut doc: Value = serde_json::from_str(&credential).unwrap();
    doc["proof"][1]["proofValue"] = Value::String(format!("z{}", "2".repeat(60_000)));
    let err = t
        .client
        .verify_certificate(credential_req(&doc.to_string()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["credential_json.proof[1].proofValue"]);
    assert!(
        err.message().contains("at most 89 characters"),
        "{}",
        err.message()
    );
    // One character more than a signature can take is refused the same way, in a lone proof
    // (the shape before proof sets) too.
    let mut lone = doc["proof"][0].clone();
    lone["proofValue"] = Value::String(format!("z{}", "2".repeat(89)));
    doc["proof"] = lone;
    let err = t
        .client
        .verify_certificate(credential_req(&doc.to_string()))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["credential_json.proof.proofValue"]);
}

/// One address gets its burst of public calls, then RESOURCE_EXHAUSTED; calls with a token
/// are not counted against it.
async fn public_calls_are_limited_per_client(backend: Backend) {
    let tweak: ConfigTweak = Box::new(|c: &mut Config| {
        c.server.public.per_client_burst = 5;
        c.server.public.per_client_per_minute = 1;
    });
    let Some(mut t) = start_with(backend, Some(tweak)).await else {
        return;
    };
    let number = "CPLDS-TOULOUSE-2025-000001";
    for call in 1..=5 {
        let v = t.client.verify_certificate(number_req(number)).await;
        assert!(v.is_ok(), "call {call}: {v:?}");
    }
    let err = t
        .client
        .verify_certificate(number_req(number))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("too many requests"),
        "{}",
        err.message()
    );
    // Every public method shares the allowance; the staff's methods do not.
    let err = t
        .client
        .get_status_list(pb::GetStatusListRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    let recteur = t.recteur.clone();
    t.client
        .list_certificates(authed(pb::ListCertificatesRequest::default(), &recteur))
        .await
        .unwrap();
}

async fn the_credential_verifies_offline_and_online(backend: Backend) {
    let Some(mut t) = start_with(backend, Some(public_base())).await else {
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
    // Issued by the académie's did:web, which controls the key of both proofs.
    assert_eq!(vc["issuer"]["id"], DID);
    assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
    let proofs = vc["proof"].as_array().unwrap();
    assert_eq!(proofs[0]["cryptosuite"], "eddsa-jcs-2022");
    assert_eq!(proofs[1]["cryptosuite"], "eddsa-rdfc-2022");
    for proof in proofs {
        assert_eq!(
            proof["verificationMethod"],
            format!("{DID}#{}", keys[0].key_id)
        );
        assert_eq!(proof["verificationMethod"], keys[0].verification_method);
    }
    // The Open Badges identifier hashes the name with a salt.
    let identifier = &vc["credentialSubject"]["identifier"][0];
    assert_eq!(identifier["hashed"], true);
    assert!(
        identifier["identityHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256$")
    );
    assert!(!identifier.to_string().contains("GARCIA"), "{identifier}");
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
    let Some(mut t) = start_with(backend, Some(public_base())).await else {
        return;
    };
    let (_, credential) = garcias(&mut t).await;
    // The same credential signed by someone else's key.
    let mut doc = jcs::parse_strict(&credential).unwrap();
    let impostor = SigningKey::from_bytes(&[42; 32]);
    doc.as_object_mut().unwrap().remove("proof");
    // Its own did:key, a key id the académie's did:web does not list, another did:web.
    for method in [
        did_key_method(&impostor.verifying_key()),
        format!("{DID}#0123456789abcdef"),
        "did:web:ac-lyon.fr#0123456789abcdef".to_owned(),
    ] {
        let signed = add_proofs(
            &doc,
            &ProofOptions {
                verification_method: method.clone(),
                created: chrono::Utc::now(),
            },
            &Cryptosuite::ALL,
            |d| ed25519_dalek::Signer::sign(&impostor, d),
        )
        .unwrap();
        let v = t
            .verify(credential_req(&serde_json::to_string(&signed).unwrap()))
            .await;
        assert_eq!(status(&v), pb::VerificationStatus::Invalid, "{method}");
        assert!(
            v.explanation.contains("pas une clé de l'académie"),
            "{method}: {}",
            v.explanation
        );
    }
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
