//! Completion: the attestation waits for every requirement, is issued once, and closes the
//! training; the office issues it and its holder reads it; its QR code leads to its page.

use cplds_proto::v1::{self as pb, InternshipActivityKind as K};
use cplds_runtime::{
    pdf::extract_text,
    testing::{authed, http},
};
use tonic::Code;

use crate::helpers::{
    Backend, Node, YEAR, denied, hex_sha256, in_training, person, rule_of, spawn,
};

on_both!(
    the_attestation_waits_for_every_requirement,
    once_completed_nothing_more_is_recorded,
    a_waitlisted_person_has_no_training_to_complete,
    the_office_issues_and_the_holder_reads_the_attestation,
    the_attestation_s_qr_code_leads_to_its_page,
    the_gpds_session_is_an_objective_not_a_condition_by_default,
);

/// In the order the rules are checked: the deepening choice, every module's hours, the GPDS
/// session led (in an académie that requires it); then the attestation is issued with the
/// tutor's name.
async fn the_attestation_waits_for_every_requirement(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.settings(true, true, 0).await;
    let id = f.trainee.id.clone();
    let issue_rule = |r: Result<pb::TrainingAttestation, tonic::Status>| rule_of(&r.unwrap_err());
    assert_eq!(issue_rule(f.t.issue(&id).await), "DEEPENING_NOT_CHOSEN");
    f.choose_a2_a3_a5().await;
    f.t.assign_tutor(&id).await.unwrap();
    f.t.attend_all(&f.sessions[0], &id).await;
    assert_eq!(issue_rule(f.t.issue(&id).await), "MODULES_INCOMPLETE");
    for s in &f.sessions[1..] {
        f.t.attend_all(s, &id).await;
    }
    for (code, minutes) in [("P1", 1200), ("P2", 1200)] {
        f.t.activity(f.activity(K::CoLeading, code, minutes))
            .await
            .unwrap();
    }
    let progress = f.t.get(&id).await.progress.unwrap();
    assert_eq!(progress.credited_minutes, 190 * 60);
    assert_eq!(progress.missing.len(), 1, "{:?}", progress.missing);
    assert!(!progress.complete);
    assert_eq!(issue_rule(f.t.issue(&id).await), "GPDS_SESSION_NOT_LED");
    // The GPDS session's time is already in the co-leading hours: recorded with 0 minutes.
    let e =
        f.t.activity(f.activity(K::GpdsSession, "P2", 0))
            .await
            .unwrap();
    assert!(e.gpds_session_led);
    assert!(e.progress.unwrap().complete);
    let att = f.t.issue(&id).await.unwrap();
    assert_eq!(att.hours.unwrap().theory_minutes, 120 * 60);
    let text = extract_text(&att.pdf);
    assert!(text.contains("Tuteur : Paul Rivière"), "{text}");
}

/// Completed: nothing more is recorded, and the attestation is not issued twice.
async fn once_completed_nothing_more_is_recorded(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let id = f.trainee.id.clone();
    f.t.follow_all(&f.sessions, &id).await;
    f.t.issue(&id).await.unwrap();
    assert_eq!(
        rule_of(&f.t.issue(&id).await.unwrap_err()),
        "ALREADY_COMPLETED"
    );
    let err =
        f.t.attend(f.attendance(&f.sessions[0], &[]))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "NOT_IN_TRAINING");
    let office = f.t.office.clone();
    let err = f.t.withdraw(&id, "", &office).await.unwrap_err();
    assert_eq!(rule_of(&err), "ALREADY_COMPLETED");
}

async fn a_waitlisted_person_has_no_training_to_complete(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let full = t.cohort(pb::TrainingCohortScope::Academy, 1).await;
    t.enrol(&full.id, person("toulouse", 1)).await;
    let waiting = t.enrol(&full.id, person("toulouse", 2)).await;
    assert_eq!(
        rule_of(&t.issue(&waiting.id).await.unwrap_err()),
        "NOT_IN_TRAINING"
    );
    assert_eq!(
        rule_of(&t.assign_tutor(&waiting.id).await.unwrap_err()),
        "NOT_IN_TRAINING"
    );
}

/// The office completes and issues, not trainers; the attestation is read by the office and
/// its holder.
async fn the_office_issues_and_the_holder_reads_the_attestation(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let mine = f.t.candidate(&person("toulouse", 0).email);
    let (a, sessions) = (f.trainee.id.clone(), f.sessions.clone());
    let t: &mut Node = &mut f.t;
    denied(
        t.client
            .issue_attestation(authed(
                pb::IssueAttestationRequest {
                    enrolment_id: a.clone(),
                },
                &t.trainer,
            ))
            .await,
    );
    denied(
        t.client
            .assign_tutor(authed(pb::AssignTutorRequest::default(), &t.trainer))
            .await,
    );
    let other = t.enrol(&f.cohort.id, person("toulouse", 2)).await;
    t.follow_all(&sessions, &other.id).await;
    t.issue(&other.id).await.unwrap();
    denied(t.attestation(&other.id, &mine).await);
    let err = t.attestation(&a, &mine).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "no attestation yet");
    let office = t.office.clone();
    t.attestation(&other.id, &office).await.unwrap();
    denied(
        t.client
            .list_external_training_records(authed(
                pb::ListExternalTrainingRecordsRequest::default(),
                &t.trainer,
            ))
            .await,
    );
}

/// Whoever is shown the printed attestation scans its QR code and lands on the académie's page.
async fn the_attestation_s_qr_code_leads_to_its_page(backend: Backend) {
    let Some(pg) = crate::helpers::database(backend).await else {
        return;
    };
    let tweak: cplds_runtime::testing::ConfigTweak =
        Box::new(|c| c.http_listen = Some(([127, 0, 0, 1], 0).into()));
    let t = Node::start_with("toulouse", pg, None, Some(tweak)).await;
    let web = t.node.node.http_addr.expect("public pages");
    let s = t.run_scenario().await;
    use cplds_training::domain::attestation::{QR_SIDE, QR_X, QR_Y};
    let url = cplds_runtime::testing::read_qr(&s.attestation_pdf, QR_X, QR_Y, QR_SIDE);
    let path = format!("/verify/attestations/{}", s.attestation_number);
    let (page_url, code) = url
        .split_once("?code=")
        .expect("the QR code carries the code");
    assert_eq!(page_url, format!("http://{web}{path}"));
    assert!(
        extract_text(&s.attestation_pdf).contains(&format!("Code : {code}")),
        "the code is printed"
    );
    let get = |p: String, accept: &'static str| async move {
        http(web, "GET", &p, &[("Accept", accept)], b"")
            .await
            .unwrap()
    };
    let first_name = s.completed_trainee.split(' ').next().unwrap().to_owned();

    let page = get(format!("{path}?code={code}"), "text/html").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Attestation de formation authentique"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&first_name));
    assert!(page.body.contains("190 h"), "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // The number alone: issued, nobody named, a form asks for the code.
    let alone = get(path.clone(), "text/html").await;
    assert_eq!(alone.status, 200, "{}", alone.body);
    assert!(alone.body.contains("Attestation de formation délivrée"));
    assert!(alone.body.contains("name=\"code\""));
    assert!(!alone.body.contains(&first_name) && !alone.body.contains("190 h"));
    let v = get(path.clone(), "application/json").await.json();
    assert_eq!(v["status"], "valid");
    assert!(
        v.get("holder_name").is_none() && v.get("minutes").is_none(),
        "{v}"
    );
    let sha = hex_sha256(&s.attestation_pdf);
    let v = get(format!("{path}?sha256={sha}"), "application/json")
        .await
        .json();
    assert_eq!(
        (v["status"].as_str(), v["minutes"].as_u64()),
        (Some("valid"), Some(190 * 60))
    );
    let mut edited = s.attestation_pdf.clone();
    edited[10] ^= 1;
    let v = get(
        format!("{path}?sha256={}", hex_sha256(&edited)),
        "application/json",
    )
    .await;
    assert_eq!(
        (v.status, v.json()["status"].as_str()),
        (200, Some("altered"))
    );
    let unknown = get(
        format!("/verify/attestations/ATT-TOULOUSE-{YEAR}-9999"),
        "text/html",
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("Attestation inconnue"));
    let bad = get("/verify/attestations/nope?format=json".into(), "text/html").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["violations"][0]["field"], "number");
}

/// The annex of the arrêté lists leading a GPDS meeting among the internship's objectives, not
/// as a condition of the attestation: by default the attestation does not wait for it.
async fn the_gpds_session_is_an_objective_not_a_condition_by_default(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let id = f.trainee.id.clone();
    f.follow_all_but_the_gpds_meeting().await;
    let e = f.t.get(&id).await;
    assert!(!e.gpds_session_led);
    assert!(e.progress.unwrap().complete);
    f.t.issue(&id).await.unwrap();
}
