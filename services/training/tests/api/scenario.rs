//! A whole cohort through the public API (the demo's scenario): its figures, what the trainee
//! reads, the signed attestation anyone can verify, and the facts it publishes.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{pdf::extract_text, signing::KeyRing, testing::authed};

use cplds_training::scenario::Summary;

use crate::helpers::{Backend, Node, Observer, YEAR, fields_of, hex_sha256, person, sorted, spawn};

on_both!(
    a_cohort_runs_through_the_public_api,
    the_trainee_reads_their_enrolment_and_attestation,
    the_attestation_is_signed_with_the_academie_s_document_key,
    anyone_verifies_an_attestation_without_a_token,
    a_loop_over_attestation_numbers_learns_no_name,
    facts_are_named_inside_and_pseudonymous_nationally,
);

async fn a_cohort_runs_through_the_public_api(backend: Backend) {
    let Some(t) = spawn(backend).await else {
        return;
    };
    let s = t.run_scenario().await;

    assert_eq!((s.requests, s.capacity, s.sessions), (4, 3, 8));
    assert_eq!(s.promoted, "Hugo Lefèvre");
    assert_eq!(
        (
            s.in_training,
            s.completed,
            s.abandoned,
            s.withdrawn,
            s.waiting
        ),
        (1, 1, 1, 1, 0)
    );
    assert_eq!(s.attestation_number, "ATT-TOULOUSE-2025-0001");
    assert!(
        s.attestation_check.starts_with("Attestation authentique"),
        "{}",
        s.attestation_check
    );
    let h = &s.completed_hours;
    assert_eq!(
        (h.theory_minutes, h.deepening_minutes, h.practical_minutes),
        (120 * 60, 30 * 60, 40 * 60)
    );
    assert_eq!(
        (
            h.presence_minutes,
            h.synchronous_distance_minutes,
            h.asynchronous_distance_minutes,
            h.internship_minutes
        ),
        (80 * 60, 60 * 60, 50 * 60, 40 * 60)
    );
    // The abandoned trainee had attended the first two seminars (26 h).
    assert_eq!(s.cohort_credited_minutes, 190 * 60 + 26 * 60);
    let text = extract_text(&s.attestation_pdf);
    for expected in [
        "Camille DURAND",
        "190 h",
        "Académie de Toulouse",
        "ATT-TOULOUSE-2025-0001",
    ] {
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
    assert!(s.to_string().contains("Hugo Lefèvre"));

    let mut health = tonic_health::pb::health_client::HealthClient::new(t.node.channel().await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cplds.v1.TrainingService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

async fn the_trainee_reads_their_enrolment_and_attestation(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let s = t.run_scenario().await;
    let camille = person("toulouse", 0);
    let own = t.candidate(&camille.email);
    let e = t
        .client
        .get_enrolment(authed(
            pb::GetEnrolmentRequest {
                enrolment_id: s.completed_enrolment_id.clone(),
            },
            &own,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.status, pb::TrainingEnrolmentStatus::Completed as i32);
    let progress = e.progress.unwrap();
    assert!(progress.complete, "{:?}", progress.missing);
    assert_eq!(progress.credited_minutes, 190 * 60);
    assert!(e.gpds_session_led);
    assert_eq!(e.attendances.len(), 8);
    assert_eq!(e.internship_activities.len(), 4);
    assert_eq!(e.tutor.unwrap().last_name, "Rivière");
    let a = t
        .attestation(&s.completed_enrolment_id, &own)
        .await
        .unwrap();
    assert_eq!(a.number, s.attestation_number);
    assert_eq!(a.pdf, s.attestation_pdf);
    assert_eq!(a.sha256, hex_sha256(&a.pdf));
}

/// The scenario run, and its attestation as the office reads it.
async fn completed(backend: Backend) -> Option<(Node, Summary, pb::TrainingAttestation)> {
    let mut t = spawn(backend).await?;
    let s = t.run_scenario().await;
    let office = t.office.clone();
    let a = t
        .attestation(&s.completed_enrolment_id, &office)
        .await
        .unwrap();
    Some((t, s, a))
}

async fn the_attestation_is_signed_with_the_academie_s_document_key(backend: Backend) {
    let Some((t, _, a)) = completed(backend).await else {
        return;
    };
    // The académie's document key, the one certification publishes.
    let keys = KeyRing::load(&t.node.config).unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&STANDARD.decode(&a.signature).unwrap()).unwrap();
    let digest = hex::decode(&a.sha256).unwrap();
    assert!(keys.public_key(&a.key_id).is_some(), "{}", a.key_id);
    assert!(keys.verify(&a.key_id, &digest, &signature));
    let mut other = digest.clone();
    other[0] ^= 1;
    assert!(!keys.verify(&a.key_id, &other, &signature));
}

/// Anyone shown the attestation checks it, without a token: the number as typed says it was
/// issued; its code or the PDF's checksum show what it states; one changed byte of the PDF, or
/// another code, shows.
async fn anyone_verifies_an_attestation_without_a_token(backend: Backend) {
    let Some((t, s, a)) = completed(backend).await else {
        return;
    };
    let camille = person("toulouse", 0);
    let mut public = t.client.clone();
    let mut check = async |number: &str, sha256: &str, code: &str| {
        public
            .verify_attestation(pb::VerifyAttestationRequest {
                number: number.into(),
                sha256: sha256.into(),
                code: code.into(),
            })
            .await
    };
    let typed = format!("  {} ", s.attestation_number.to_lowercase());
    // The number alone: issued, and nothing personal.
    let v = check(&typed, "", "").await.unwrap().into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Valid as i32);
    assert_eq!(v.number, s.attestation_number);
    assert!(v.holder_name.is_empty() && v.sha256.is_empty() && v.hours.is_none());
    assert!(
        v.explanation.contains("code de vérification"),
        "{}",
        v.explanation
    );
    // The code printed on it, as typed: what it states.
    assert_eq!(a.verification_code.len(), 19, "{}", a.verification_code);
    let typed_code = a.verification_code.to_lowercase().replace('-', " ");
    let v = check(&typed, "", &typed_code).await.unwrap().into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Valid as i32);
    assert_eq!(
        v.holder_name,
        format!(
            "{} {}",
            camille.first_name,
            camille.last_name.to_uppercase()
        )
    );
    assert_eq!((v.academy.as_str(), v.school_year), ("toulouse", YEAR));
    assert_eq!(v.hours, a.hours);
    assert_eq!(
        (v.key_id.as_str(), v.signature.as_str()),
        (a.key_id.as_str(), a.signature.as_str())
    );
    assert!(v.explanation.contains("authentique"), "{}", v.explanation);
    // The PDF's checksum shows it too.
    let v = check(&s.attestation_number, &a.sha256.to_uppercase(), "")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Valid as i32);
    assert_eq!(v.sha256, a.sha256);
    // Another code: altered, and nothing personal.
    let v = check(&s.attestation_number, "", "7KQ2-M9XD-A4TB-H3NW")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Altered as i32);
    assert!(v.holder_name.is_empty() && !v.explanation.contains(&camille.first_name));
    let mut verify = async |number: &str, sha256: &str| check(number, sha256, "").await;
    let mut edited = a.pdf.clone();
    let last = edited.len() - 1;
    edited[last] ^= 0x20;
    let v = verify(&s.attestation_number, &hex_sha256(&edited))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Altered as i32);
    let unknown = format!("ATT-TOULOUSE-{YEAR}-9999");
    let v = verify(&unknown, "").await.unwrap().into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Unknown as i32);
    assert!(v.holder_name.is_empty() && v.sha256.is_empty());
    let v = verify(&format!("ATT-LYON-{YEAR}-0001"), "")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Unknown as i32);
    assert!(v.explanation.contains("Lyon"), "{}", v.explanation);
    let e = verify("ATT-NOWHERE-2025-0001", "abc").await.unwrap_err();
    assert_eq!(fields_of(&e), sorted(&["number", "sha256"]));
    let e = check(&s.attestation_number, "", "not-a-code")
        .await
        .unwrap_err();
    assert_eq!(fields_of(&e), sorted(&["code"]));
}

/// Numbers are sequential, so anyone can loop over them: by the number alone, or with made-up
/// checksums, the answers name nobody and state nothing the document does (issue 12 §2).
async fn a_loop_over_attestation_numbers_learns_no_name(backend: Backend) {
    let Some((t, s, a)) = completed(backend).await else {
        return;
    };
    let mut public = t.client.clone();
    let secrets: Vec<String> = (0..4)
        .map(|n| person("toulouse", n))
        .flat_map(|p| [p.first_name, p.last_name.to_uppercase(), p.email])
        .chain([a.sha256.clone(), a.signature.clone()])
        .collect();
    let mut valid = 0;
    for n in 1..=12 {
        for sha256 in [String::new(), "0".repeat(64)] {
            let v = public
                .verify_attestation(pb::VerifyAttestationRequest {
                    number: format!("ATT-TOULOUSE-{YEAR}-{n:04}"),
                    sha256,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            if v.status == pb::AttestationVerificationStatus::Valid as i32 {
                valid += 1;
            }
            let seen = format!("{v:?}");
            for secret in &secrets {
                assert!(!seen.contains(secret.as_str()), "{secret:?} learnt: {seen}");
            }
            assert!(v.holder_name.is_empty() && v.hours.is_none() && v.issue_date.is_empty());
        }
    }
    // The loop still learns which numbers were issued (the scenario's one).
    assert_eq!(
        (valid, s.attestation_number.as_str()),
        (1, "ATT-TOULOUSE-2025-0001")
    );
}

/// Internal events carry names; national ones this académie's pseudonymous keys only.
async fn facts_are_named_inside_and_pseudonymous_nationally(backend: Backend) {
    let Some(t) = spawn(backend).await else {
        return;
    };
    let mut events = Observer::new(&t.node.bus, "scenario").await;
    let s = t.run_scenario().await;
    let key = t.key(&person("toulouse", 0).staff_number);
    let completed = events
        .until("the national completion", |e| {
            matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == key)
        })
        .await;
    assert_eq!(completed.academy, "toulouse");
    assert_eq!(completed.source, "training");
    let Some(Payload::TrainingCompleted(internal)) = events
        .until("the internal completion", |e| {
            matches!(e.payload, Some(Payload::TrainingCompleted(_)))
        })
        .await
        .payload
    else {
        unreachable!()
    };
    assert_eq!(internal.attestation_number, s.attestation_number);
    assert_eq!(internal.candidate_key, key);
    // The training facts on the national stream (the runtime adds its own, e.g. heartbeats).
    let national: Vec<&Payload> = events
        .seen
        .iter()
        .filter(|e| e.stream == pb::Stream::National as i32 && e.r#type.starts_with("training_"))
        .filter_map(|e| e.payload.as_ref())
        .collect();
    let count = |pred: fn(&&&Payload) -> bool| national.iter().filter(pred).count();
    let enrolled = count(|p| matches!(p, Payload::NationalTrainingEnrolled(_)));
    let abandoned = count(|p| matches!(p, Payload::NationalTrainingAbandoned(_)));
    // Three accepted at once and one promoted; the withdrawn and the abandoned leave.
    assert_eq!((enrolled, abandoned), (4, 2), "{:?}", events.types());
    let keys: Vec<String> = (0..4)
        .map(|n| t.key(&person("toulouse", n).staff_number))
        .collect();
    for p in &national {
        let k = match p {
            Payload::NationalTrainingEnrolled(e) => &e.candidate_key,
            Payload::NationalTrainingAbandoned(e) => &e.candidate_key,
            Payload::NationalTrainingCompleted(e) => &e.candidate_key,
            other => panic!("unexpected national payload {other:?}"),
        };
        assert!(keys.contains(k));
    }
    assert!(
        !events
            .seen
            .iter()
            .any(|e| matches!(e.payload, Some(Payload::TrainingRecordForwarded(_)))),
        "a cohort of one académie forwards nothing"
    );
}
