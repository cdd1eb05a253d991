//! Training through its public gRPC interface, on a node started in-process on a random loopback
//! port: a whole cohort, places and the waiting list, hours and completion, every refusal with
//! its status code and the field or rule it names.

mod common;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::signing::KeyRing;
use cplds_runtime::{
    auth::Role,
    pdf::extract_text,
    testing::{authed, bad_fields, http, precondition_rule},
};
use cplds_training::scenario;
use sha2::{Digest, Sha256};
use tonic::Code;

use common::{Backend, Node, Observer, YEAR, database, person};

on_both!(
    a_whole_cohort_through_the_public_api,
    places_and_the_waiting_list,
    hours_are_never_over_credited_and_completion_waits_for_everything,
    every_field_is_checked_and_named,
    who_may_do_what,
    concurrent_requests_never_exceed_capacity,
    the_attestation_s_qr_code_leads_to_its_page,
);

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rule_of(s: &tonic::Status) -> String {
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    precondition_rule(s).unwrap_or_default()
}

fn fields_of(s: &tonic::Status) -> Vec<String> {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let mut f = bad_fields(s);
    f.sort();
    f
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    f.sort();
    f
}

fn denied<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
}

fn module<'a>(e: &'a pb::TrainingEnrolment, code: &str) -> &'a pb::ModuleProgress {
    e.progress
        .as_ref()
        .unwrap()
        .modules
        .iter()
        .find(|m| m.module_code == code)
        .unwrap()
}

async fn a_whole_cohort_through_the_public_api(backend: Backend) {
    let Some(pg) = database(backend, "training scenario").await else {
        return;
    };
    let t = Node::start("toulouse", pg.as_ref(), None).await;
    let mut events = Observer::new(&t.node.bus, "scenario").await;
    let issuer = t.node.issuer.clone();
    let mint = move |sub: &str, roles: &[Role]| issuer.mint(sub, "toulouse", roles).unwrap();
    let s = scenario::run_for_year(t.node.channel().await, "toulouse", &mint, YEAR)
        .await
        .unwrap();

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

    // The trainee reads their enrolment and attestation with their own token.
    let camille = person("toulouse", 0);
    let mut client = t.client.clone();
    let own = t.candidate(&camille.email);
    let e = client
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
    let a = client
        .get_attestation(authed(
            pb::GetAttestationRequest {
                enrolment_id: s.completed_enrolment_id.clone(),
            },
            &own,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.number, s.attestation_number);
    assert_eq!(a.pdf, s.attestation_pdf);
    assert_eq!(a.sha256, hex_sha256(&a.pdf));

    // Signed with the académie's document key, the one certification publishes.
    let keys = KeyRing::load(&t.node.config).unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&STANDARD.decode(&a.signature).unwrap()).unwrap();
    let digest = hex::decode(&a.sha256).unwrap();
    assert!(keys.public_key(&a.key_id).is_some(), "{}", a.key_id);
    assert!(keys.verify(&a.key_id, &digest, &signature));
    let mut other = digest.clone();
    other[0] ^= 1;
    assert!(!keys.verify(&a.key_id, &other, &signature));

    // Anyone shown the attestation checks it, without a token: the number as typed, then the
    // PDF's checksum; one changed byte of the PDF shows.
    let verify = |number: &str, sha256: &str| pb::VerifyAttestationRequest {
        number: number.into(),
        sha256: sha256.into(),
    };
    let mut public = t.client.clone();
    let typed = format!("  {} ", s.attestation_number.to_lowercase());
    let v = public
        .verify_attestation(verify(&typed, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Valid as i32);
    assert_eq!(v.number, s.attestation_number);
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
    let v = public
        .verify_attestation(verify(&s.attestation_number, &a.sha256.to_uppercase()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Valid as i32);
    let mut edited = a.pdf.clone();
    let last = edited.len() - 1;
    edited[last] ^= 0x20;
    let v = public
        .verify_attestation(verify(&s.attestation_number, &hex_sha256(&edited)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Altered as i32);
    let unknown = format!("ATT-TOULOUSE-{YEAR}-9999");
    let v = public
        .verify_attestation(verify(&unknown, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Unknown as i32);
    assert!(v.holder_name.is_empty() && v.sha256.is_empty());
    let v = public
        .verify_attestation(verify(&format!("ATT-LYON-{YEAR}-0001"), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.status, pb::AttestationVerificationStatus::Unknown as i32);
    assert!(v.explanation.contains("Lyon"), "{}", v.explanation);
    let e = public
        .verify_attestation(verify("ATT-NOWHERE-2025-0001", "abc"))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&e), sorted(&["number", "sha256"]));

    // Events: internal with names, national pseudonymous with this académie's keys.
    let key = t.key(&camille.staff_number);
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
    let enrolled = national
        .iter()
        .filter(|p| matches!(p, Payload::NationalTrainingEnrolled(_)))
        .count();
    let abandoned = national
        .iter()
        .filter(|p| matches!(p, Payload::NationalTrainingAbandoned(_)))
        .count();
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

async fn places_and_the_waiting_list(backend: Backend) {
    let Some(pg) = database(backend, "training waiting list").await else {
        return;
    };
    let mut t = Node::start("toulouse", pg.as_ref(), None).await;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 2).await;
    let people: Vec<pb::TraineeDetails> = (0..5).map(|n| person("toulouse", n)).collect();
    let a_token = t.candidate(&people[0].email);
    let a = t
        .request(&cohort.id, people[0].clone(), &a_token)
        .await
        .unwrap();
    let b = t.enrol(&cohort.id, people[1].clone()).await;
    let c = t.enrol(&cohort.id, people[2].clone()).await;
    let d = t.enrol(&cohort.id, people[3].clone()).await;
    let e = t.enrol(&cohort.id, people[4].clone()).await;
    use pb::TrainingEnrolmentStatus as S;
    let status = |x: &pb::TrainingEnrolment| (x.status, x.waiting_position);
    assert_eq!(status(&a), (S::Accepted as i32, 0));
    assert_eq!(a.requested_by, people[0].email);
    assert_eq!(status(&b), (S::Accepted as i32, 0));
    assert_eq!(status(&c), (S::Waitlisted as i32, 1));
    assert_eq!(status(&d), (S::Waitlisted as i32, 2));
    assert_eq!(status(&e), (S::Waitlisted as i32, 3));
    assert_eq!((a.request_number, e.request_number), (1, 5));
    let got = t
        .client
        .get_cohort(authed(
            pb::GetCohortRequest {
                cohort_id: cohort.id.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.places_taken, got.waiting_count), (2, 3));

    // One live request per person and cohort.
    let err = t
        .request(&cohort.id, people[1].clone(), &t.office.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // The cohort is the académie's own: staff of Montpellier are not taken.
    let err = t
        .request(&cohort.id, person("montpellier", 1), &t.office.clone())
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "ACADEMY_NOT_PARTICIPATING");

    // A withdraws: C, first waiting, gets the place; the others move up.
    let w = t
        .client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: a.id.clone(),
                reason: "mutation".into(),
            },
            &a_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let left = w.enrolment.unwrap();
    assert_eq!(left.status, S::Withdrawn as i32);
    let departure = left.departure.unwrap();
    assert_eq!(departure.previous_status, S::Accepted as i32);
    assert_eq!(departure.reason, "mutation");
    let promoted = w.promoted.unwrap();
    assert_eq!(
        (promoted.id.as_str(), promoted.status),
        (c.id.as_str(), S::Accepted as i32)
    );
    assert!(promoted.accept_time.is_some());
    assert_eq!(status(&t.get(&d.id).await), (S::Waitlisted as i32, 1));
    assert_eq!(status(&t.get(&e.id).await), (S::Waitlisted as i32, 2));
    let again = t
        .client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: a.id.clone(),
                reason: String::new(),
            },
            &a_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&again), "ALREADY_LEFT");
    // Abandonment is for trainees holding a place.
    let err = t
        .client
        .record_abandonment(authed(
            pb::RecordAbandonmentRequest {
                enrolment_id: d.id.clone(),
                reason: "santé".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "NOT_ACCEPTED");
    // E leaves the waiting list: no place is freed.
    let w = t
        .client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: e.id.clone(),
                reason: String::new(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(w.promoted.is_none());
    assert_eq!(
        w.enrolment.unwrap().departure.unwrap().previous_status,
        S::Waitlisted as i32
    );

    // B has started (hours credited): withdrawal is refused, abandonment frees the place for D.
    let sessions = t.sessions(&cohort.id).await;
    let trainer = t.trainer.clone();
    scenario::attend(&mut t.client, &sessions[0], &b.id, &trainer)
        .await
        .unwrap();
    let err = t
        .client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: b.id.clone(),
                reason: String::new(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "TRAINING_STARTED");
    let ab = t
        .client
        .record_abandonment(authed(
            pb::RecordAbandonmentRequest {
                enrolment_id: b.id.clone(),
                reason: "raisons de santé".into(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ab.enrolment.unwrap().status, S::Abandoned as i32);
    assert_eq!(ab.promoted.unwrap().id, d.id);

    // A, who left, may ask again: at the end of the waiting list.
    let a2 = t
        .request(&cohort.id, people[0].clone(), &a_token)
        .await
        .unwrap();
    assert_eq!(status(&a2), (S::Waitlisted as i32, 1));
    assert_eq!(a2.request_number, 6);

    // Lists: in order of request, filtered, paged.
    let list = |status: S, token: String, size: i32| pb::ListEnrolmentsRequest {
        cohort_id: cohort.id.clone(),
        status: status as i32,
        home_academy: String::new(),
        page_size: size,
        page_token: token,
    };
    let accepted = t
        .client
        .list_enrolments(authed(list(S::Accepted, String::new(), 0), &t.office))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = accepted.enrolments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [c.id.as_str(), d.id.as_str()]);
    assert_eq!(accepted.total_size, 2);
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = t
            .client
            .list_enrolments(authed(list(S::Unspecified, token.clone(), 4), &t.office))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 6);
        all.extend(page.enrolments.into_iter().map(|e| e.request_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(all, [1, 2, 3, 4, 5, 6]);
    let progress = t
        .client
        .get_cohort_progress(authed(
            pb::GetCohortProgressRequest {
                cohort_id: cohort.id.clone(),
            },
            &t.trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            progress.in_training,
            progress.abandoned,
            progress.withdrawn,
            progress.waiting,
            progress.completed
        ),
        (2, 1, 2, 1, 0)
    );
    assert_eq!(
        progress.trainees.len(),
        3,
        "accepted and abandoned trainees are followed"
    );
    assert_eq!(progress.total_credited_minutes, 12 * 60);
    assert_eq!(progress.cohort.unwrap().places_taken, 2);

    // A cohort of the région académique takes staff of Montpellier, not of Limoges.
    let region = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    assert_eq!(region.participating_academies, ["toulouse", "montpellier"]);
    let m = t.enrol(&region.id, person("montpellier", 1)).await;
    assert_eq!(m.trainee.unwrap().home_academy, "montpellier");
    let err = t
        .request(&region.id, person("limoges", 1), &t.office.clone())
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "ACADEMY_NOT_PARTICIPATING");
}

async fn hours_are_never_over_credited_and_completion_waits_for_everything(backend: Backend) {
    let Some(pg) = database(backend, "training hours").await else {
        return;
    };
    let mut t = Node::start("toulouse", pg.as_ref(), None).await;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 5).await;
    let sessions = t.sessions(&cohort.id).await;
    let a = t.enrol(&cohort.id, person("toulouse", 0)).await;
    let office = t.office.clone();
    let trainer = t.trainer.clone();
    let issue_rule = |r: Result<pb::TrainingAttestation, tonic::Status>| rule_of(&r.unwrap_err());
    assert_eq!(issue_rule(t.issue(&a.id).await), "DEEPENING_NOT_CHOSEN");

    let attend =
        |session: &pb::TrainingSession, modules: Vec<(&str, u32)>| pb::RecordAttendanceRequest {
            session_id: session.id.clone(),
            enrolment_id: a.id.clone(),
            modules: modules
                .into_iter()
                .map(|(c, m)| pb::SessionModule {
                    module_code: c.into(),
                    minutes: m,
                })
                .collect(),
            completed_on: String::new(),
        };
    // Deepening modules are credited once chosen.
    let deepening_session = &sessions[5];
    let err = t
        .client
        .record_attendance(authed(attend(deepening_session, vec![]), &trainer))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_NOT_CHOSEN");
    let err = t
        .client
        .record_attendance(authed(
            attend(deepening_session, vec![("A2", 600)]),
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_NOT_CHOSEN");
    t.client
        .choose_deepening_modules(authed(
            pb::ChooseDeepeningModulesRequest {
                enrolment_id: a.id.clone(),
                module_codes: vec!["a2".into(), "A3".into(), "A5".into()],
            },
            &office,
        ))
        .await
        .unwrap();

    // T1: 12 h at the first seminar; recorded twice, counted once (a correction replaces).
    for _ in 0..2 {
        let e = t
            .client
            .record_attendance(authed(attend(&sessions[0], vec![]), &trainer))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(module(&e, "T1").credited_minutes, 12 * 60);
        assert_eq!(e.attendances.len(), 1);
    }
    let e = t
        .client
        .record_attendance(authed(
            attend(&sessions[1], vec![("T1", 480), ("T2", 360)]),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(module(&e, "T1").complete);
    // A catch-up seminar would credit T1 beyond its 20 h: refused, nothing changes.
    let catch_up = t
        .client
        .create_seminar(authed(
            pb::CreateSeminarRequest {
                cohort_id: cohort.id.clone(),
                title: "Rattrapage".into(),
                first_day: "2026-05-12".into(),
                last_day: "2026-05-12".into(),
                city: "Albi".into(),
                place: "Lycée Bellevue".into(),
                modules: vec![pb::SessionModule {
                    module_code: "T1".into(),
                    minutes: 240,
                }],
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    let err = t
        .client
        .record_attendance(authed(attend(&catch_up, vec![]), &trainer))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");
    assert!(err.message().contains("20 h"), "{}", err.message());
    assert_eq!(module(&t.get(&a.id).await, "T1").credited_minutes, 20 * 60);
    // Correct the second seminar down to 5 h of T1: 3 h of catch-up fit, 4 h do not.
    t.client
        .record_attendance(authed(
            attend(&sessions[1], vec![("T1", 300), ("T2", 360)]),
            &trainer,
        ))
        .await
        .unwrap();
    let err = t
        .client
        .record_attendance(authed(attend(&catch_up, vec![("T1", 240)]), &trainer))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");
    let e = t
        .client
        .record_attendance(authed(attend(&catch_up, vec![("T1", 180)]), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(module(&e, "T1").credited_minutes, 20 * 60);

    // Deepening modules with hours stay chosen.
    t.client
        .record_attendance(authed(attend(deepening_session, vec![]), &trainer))
        .await
        .unwrap();
    let err = t
        .client
        .choose_deepening_modules(authed(
            pb::ChooseDeepeningModulesRequest {
                enrolment_id: a.id.clone(),
                module_codes: vec!["A1".into(), "A3".into(), "A4".into()],
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "DEEPENING_MODULE_STARTED");
    assert!(err.message().contains("A2, A5"), "{}", err.message());

    // The internship is tutored, and its modules are not over-credited either.
    let activity = |kind: pb::InternshipActivityKind, code: &str, minutes: u32| {
        pb::RecordInternshipActivityRequest {
            enrolment_id: a.id.clone(),
            kind: kind as i32,
            module_code: code.into(),
            date: "2026-03-02".into(),
            minutes,
            establishment_uai: scenario::establishment(t.academy, 3),
            description: "Séquence collective, classe relais".into(),
        }
    };
    let err = t
        .client
        .record_internship_activity(authed(
            activity(pb::InternshipActivityKind::Observation, "P1", 900),
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "NO_TUTOR");
    scenario::assign_tutor(&mut t.client, &a.id, t.academy, &office)
        .await
        .unwrap();
    t.client
        .record_internship_activity(authed(
            activity(pb::InternshipActivityKind::Observation, "P1", 900),
            &trainer,
        ))
        .await
        .unwrap();
    let err = t
        .client
        .record_internship_activity(authed(
            activity(pb::InternshipActivityKind::CoLeading, "P1", 360),
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");

    assert_eq!(issue_rule(t.issue(&a.id).await), "MODULES_INCOMPLETE");
    for s in &sessions[2..] {
        scenario::attend(&mut t.client, s, &a.id, &trainer)
            .await
            .unwrap();
    }
    for (kind, code, minutes) in [
        (pb::InternshipActivityKind::CoLeading, "P1", 300),
        (pb::InternshipActivityKind::CoLeading, "P2", 1200),
    ] {
        t.client
            .record_internship_activity(authed(activity(kind, code, minutes), &trainer))
            .await
            .unwrap();
    }
    let e = t.get(&a.id).await;
    let progress = e.progress.clone().unwrap();
    assert_eq!(progress.credited_minutes, 190 * 60);
    assert_eq!(progress.missing.len(), 1, "{:?}", progress.missing);
    assert!(!progress.complete);
    assert_eq!(issue_rule(t.issue(&a.id).await), "GPDS_SESSION_NOT_LED");
    // The GPDS session's time is already in the co-leading hours: recorded with 0 minutes.
    let e = t
        .client
        .record_internship_activity(authed(
            activity(pb::InternshipActivityKind::GpdsSession, "P2", 0),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(e.gpds_session_led);
    assert!(e.progress.unwrap().complete);
    let att = t.issue(&a.id).await.unwrap();
    assert_eq!(att.hours.unwrap().theory_minutes, 120 * 60);
    let text = extract_text(&att.pdf);
    assert!(text.contains("Tuteur : Paul Rivière"), "{text}");

    // Completed: nothing more is recorded, and it cannot be issued twice.
    assert_eq!(issue_rule(t.issue(&a.id).await), "ALREADY_COMPLETED");
    let err = t
        .client
        .record_attendance(authed(attend(&sessions[0], vec![]), &trainer))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "NOT_IN_TRAINING");
    let err = t
        .client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: a.id.clone(),
                reason: String::new(),
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "ALREADY_COMPLETED");
    // A waitlisted person has no training to complete.
    let full = t.cohort(pb::TrainingCohortScope::Academy, 1).await;
    t.enrol(&full.id, person("toulouse", 1)).await;
    let waiting = t.enrol(&full.id, person("toulouse", 2)).await;
    assert_eq!(issue_rule(t.issue(&waiting.id).await), "NOT_IN_TRAINING");
    let err = scenario::assign_tutor(&mut t.client, &waiting.id, t.academy, &office)
        .await
        .unwrap_err();
    let status = err.downcast_ref::<tonic::Status>().unwrap();
    assert_eq!(rule_of(status), "NOT_IN_TRAINING");
}

async fn every_field_is_checked_and_named(backend: Backend) {
    let Some(pg) = database(backend, "training fields").await else {
        return;
    };
    let mut t = Node::start("toulouse", pg.as_ref(), None).await;
    let office = t.office.clone();
    let trainer = t.trainer.clone();

    // Programmes: every module field, then the totals per kind.
    let err = t
        .client
        .create_programme(authed(
            pb::CreateProgrammeRequest {
                version: 0,
                title: " ".into(),
                modules: vec![pb::ProgrammeModule {
                    code: "T 1".into(),
                    title: String::new(),
                    kind: 0,
                    mode: 99,
                    minutes: 100,
                }],
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "version",
            "title",
            "modules[0].code",
            "modules[0].title",
            "modules[0].kind",
            "modules[0].mode",
            "modules[0].minutes"
        ])
    );
    let mut short = scenario::standard_programme(1);
    short.modules.remove(5);
    short.modules[11].mode = pb::TrainingModuleMode::SynchronousDistance as i32;
    short.modules[1].code = "t1".into();
    let err = t
        .client
        .create_programme(authed(short, &office))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["modules", "modules[1].code", "modules[11].mode"])
    );
    assert!(
        err.message().contains("5 modules for 100 h"),
        "{}",
        err.message()
    );
    let mut deepening = scenario::standard_programme(1);
    for m in deepening
        .modules
        .iter_mut()
        .filter(|m| m.code.starts_with('A'))
    {
        m.minutes = 8 * 60;
    }
    let err = t
        .client
        .create_programme(authed(deepening, &office))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["modules"]);
    assert!(
        err.message().contains("totalling 30 h"),
        "{}",
        err.message()
    );
    let listed = t
        .client
        .list_programmes(authed(pb::ListProgrammesRequest::default(), &office))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.programmes.is_empty(), "nothing was created");
    let programme = t.programme().await;
    let err = t
        .client
        .create_programme(authed(
            scenario::standard_programme(programme.version),
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Cohorts.
    let err = t
        .client
        .create_cohort(authed(
            pb::CreateCohortRequest {
                school_year: 2030,
                programme_id: "x".into(),
                title: "y".repeat(201),
                scope: 0,
                capacity: 0,
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["school_year", "programme_id", "title", "scope", "capacity"])
    );
    let err = t
        .client
        .create_cohort(authed(
            pb::CreateCohortRequest {
                school_year: YEAR,
                programme_id: uuid::Uuid::now_v7().to_string(),
                title: String::new(),
                scope: pb::TrainingCohortScope::Academy as i32,
                capacity: 10,
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let cohort = t
        .client
        .create_cohort(authed(
            pb::CreateCohortRequest {
                school_year: YEAR,
                programme_id: programme.id.clone(),
                title: String::new(),
                scope: pb::TrainingCohortScope::Academy as i32,
                capacity: 10,
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cohort.title, "Formation CPLDS 2025-2026");
    assert_eq!(cohort.programme_version, programme.version);

    // Sessions: form first, then against the programme and the school year.
    let err = t
        .client
        .create_seminar(authed(
            pb::CreateSeminarRequest {
                cohort_id: String::new(),
                title: String::new(),
                first_day: "2025-13-01".into(),
                last_day: String::new(),
                city: String::new(),
                place: " ".into(),
                modules: vec![],
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "cohort_id",
            "title",
            "first_day",
            "last_day",
            "city",
            "place",
            "modules"
        ])
    );
    let sm = |c: &str, h: u32| pb::SessionModule {
        module_code: c.into(),
        minutes: h * 60,
    };
    let seminar =
        |first: &str, last: &str, modules: Vec<pb::SessionModule>| pb::CreateSeminarRequest {
            cohort_id: cohort.id.clone(),
            title: "Séminaire".into(),
            first_day: first.into(),
            last_day: last.into(),
            city: "Toulouse".into(),
            place: "Lycée Pierre-de-Fermat".into(),
            modules,
        };
    let err = t
        .client
        .create_seminar(authed(
            seminar("2025-10-22", "2025-10-21", vec![sm("T1", 6), sm("t1", 6)]),
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["last_day", "modules[1].module_code"])
    );
    let err = t
        .client
        .create_seminar(authed(
            seminar(
                "2025-08-28",
                "2025-08-29",
                vec![sm("P1", 6), sm("T3", 6), sm("T1", 21), sm("Z9", 1)],
            ),
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "first_day",
            "last_day",
            "modules[0].module_code",
            "modules[1].module_code",
            "modules[2].minutes",
            "modules[3].module_code"
        ])
    );
    let distance = |mode: pb::TrainingDistanceMode, at: &str, opens: &str, closes: &str| {
        pb::CreateDistanceSessionRequest {
            cohort_id: cohort.id.clone(),
            title: "Classe virtuelle".into(),
            mode: mode as i32,
            starts_at_local: at.into(),
            opens_on: opens.into(),
            closes_on: closes.into(),
            modules: vec![sm("T3", 2)],
        }
    };
    for (req, fields) in [
        (
            distance(pb::TrainingDistanceMode::Unspecified, "", "", ""),
            vec!["mode"],
        ),
        (
            distance(pb::TrainingDistanceMode::Synchronous, "", "2025-11-01", ""),
            vec!["starts_at_local", "opens_on"],
        ),
        (
            distance(
                pb::TrainingDistanceMode::Synchronous,
                "2026-03-29T02:30",
                "",
                "",
            ),
            vec!["starts_at_local"],
        ),
        (
            distance(
                pb::TrainingDistanceMode::Asynchronous,
                "2025-11-18T14:00",
                "",
                "2025-12-01",
            ),
            vec!["opens_on", "starts_at_local"],
        ),
        (
            distance(
                pb::TrainingDistanceMode::Asynchronous,
                "",
                "2025-12-01",
                "2025-11-01",
            ),
            vec!["closes_on"],
        ),
        (
            distance(
                pb::TrainingDistanceMode::Asynchronous,
                "",
                "2025-12-01",
                "2026-01-01",
            ),
            vec!["modules[0].module_code"],
        ),
        (
            distance(
                pb::TrainingDistanceMode::Synchronous,
                "2026-09-02T10:00",
                "",
                "",
            ),
            vec!["starts_at_local"],
        ),
    ] {
        let err = t
            .client
            .create_distance_session(authed(req, &office))
            .await
            .unwrap_err();
        assert_eq!(fields_of(&err), sorted(&fields), "{err:?}");
    }
    let sessions = t.sessions(&cohort.id).await;
    let listed = t
        .client
        .list_sessions(authed(
            pb::ListSessionsRequest {
                cohort_id: cohort.id.clone(),
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.sessions.len(),
        sessions.len(),
        "no refused session was stored"
    );

    // Enrolment requests: the trainee message, field by field.
    let err = t
        .client
        .request_enrolment(authed(
            pb::RequestEnrolmentRequest {
                cohort_id: cohort.id.clone(),
                trainee: None,
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["trainee"]);
    let bad = pb::TraineeDetails {
        last_name: "R2D2".into(),
        first_name: String::new(),
        birth_date: "2015-01-01".into(),
        email: "camille@".into(),
        staff_number: "12E01".into(),
        sex: 0,
        workplace_uai: "0310036X".into(),
        home_academy: "atlantis".into(),
    };
    let err = t.request("nope", bad, &office).await.unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "cohort_id",
            "trainee.last_name",
            "trainee.first_name",
            "trainee.birth_date",
            "trainee.email",
            "trainee.staff_number",
            "trainee.sex",
            "trainee.workplace_uai",
            "trainee.home_academy"
        ])
    );
    let mut elsewhere = person("toulouse", 1);
    elsewhere.workplace_uai = scenario::establishment(
        cplds_runtime::academy::Academy::find("bordeaux").unwrap(),
        1,
    );
    let err = t.request(&cohort.id, elsewhere, &office).await.unwrap_err();
    assert_eq!(fields_of(&err), ["trainee.workplace_uai"]);
    assert!(err.message().contains("Bordeaux"), "{}", err.message());

    let a = t.enrol(&cohort.id, person("toulouse", 0)).await;
    // Attendance.
    let att = |session: &str, modules: Vec<pb::SessionModule>, completed_on: &str| {
        pb::RecordAttendanceRequest {
            session_id: session.into(),
            enrolment_id: a.id.clone(),
            modules,
            completed_on: completed_on.into(),
        }
    };
    for (req, fields) in [
        (
            att("", vec![], "31/12/2025"),
            vec!["session_id", "completed_on"],
        ),
        (
            att(&sessions[0].id, vec![sm("T2", 1)], ""),
            vec!["modules[0].module_code"],
        ),
        (
            att(&sessions[0].id, vec![sm("T1", 13)], ""),
            vec!["modules[0].minutes"],
        ),
        (
            att(&sessions[0].id, vec![sm("T1", 0)], ""),
            vec!["modules[0].minutes"],
        ),
        (
            att(&sessions[0].id, vec![], "2025-10-21"),
            vec!["completed_on"],
        ),
        (att(&sessions[6].id, vec![], ""), vec!["completed_on"]),
        (
            att(&sessions[6].id, vec![], "2026-03-01"),
            vec!["completed_on"],
        ),
    ] {
        let err = t
            .client
            .record_attendance(authed(req, &trainer))
            .await
            .unwrap_err();
        assert_eq!(fields_of(&err), sorted(&fields), "{err:?}");
    }
    let other = t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    let other_sessions = t.sessions(&other.id).await;
    let err = t
        .client
        .record_attendance(authed(att(&other_sessions[0].id, vec![], ""), &trainer))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["session_id"]);
    let err = t
        .client
        .record_attendance(authed(
            att(&uuid::Uuid::now_v7().to_string(), vec![], ""),
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Internship, tutor, choice, abandonment.
    let err = t
        .client
        .record_internship_activity(authed(
            pb::RecordInternshipActivityRequest {
                enrolment_id: a.id.clone(),
                kind: 0,
                module_code: String::new(),
                date: "demain".into(),
                minutes: 7,
                establishment_uai: "123".into(),
                description: "x".repeat(501),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "kind",
            "module_code",
            "date",
            "minutes",
            "establishment_uai",
            "description"
        ])
    );
    let err = t
        .client
        .record_internship_activity(authed(
            pb::RecordInternshipActivityRequest {
                enrolment_id: a.id.clone(),
                kind: pb::InternshipActivityKind::Observation as i32,
                module_code: "T1".into(),
                date: "2026-09-01".into(),
                minutes: 0,
                establishment_uai: scenario::establishment(t.academy, 1),
                description: String::new(),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), sorted(&["minutes"]));
    let err = t
        .client
        .record_internship_activity(authed(
            pb::RecordInternshipActivityRequest {
                enrolment_id: a.id.clone(),
                kind: pb::InternshipActivityKind::Observation as i32,
                module_code: "T1".into(),
                date: "2026-09-01".into(),
                minutes: 60,
                establishment_uai: scenario::establishment(t.academy, 1),
                description: String::new(),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), sorted(&["module_code", "date"]));
    let err = t
        .client
        .assign_tutor(authed(
            pb::AssignTutorRequest {
                enrolment_id: "z".into(),
                last_name: String::new(),
                first_name: "Paul3".into(),
                email: "paul".into(),
                qualification: 7,
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "enrolment_id",
            "last_name",
            "first_name",
            "email",
            "qualification"
        ])
    );
    for codes in [
        vec!["A1", "A2"],
        vec!["A1", "A2", "T1"],
        vec!["A1", "A1", "A2"],
    ] {
        let err = t
            .client
            .choose_deepening_modules(authed(
                pb::ChooseDeepeningModulesRequest {
                    enrolment_id: a.id.clone(),
                    module_codes: codes.iter().map(|s| s.to_string()).collect(),
                },
                &office,
            ))
            .await
            .unwrap_err();
        assert_eq!(fields_of(&err), ["module_codes"]);
    }
    let err = t
        .client
        .record_abandonment(authed(
            pb::RecordAbandonmentRequest {
                enrolment_id: a.id.clone(),
                reason: "  ".into(),
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["reason"]);

    // Lists.
    let err = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                status: 99,
                home_academy: "atlantis".into(),
                page_size: -1,
                page_token: "%%".into(),
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["status", "home_academy", "page_size"])
    );
    let first = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: other.id.clone(),
                page_size: 1,
                ..Default::default()
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(first.next_page_token.is_empty());
    let page1 = t
        .client
        .list_cohorts(authed(
            pb::ListCohortsRequest {
                school_year: YEAR,
                page_size: 1,
                page_token: String::new(),
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page1.cohorts.len(), 1);
    let err = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                page_token: page1.next_page_token.clone(),
                ..Default::default()
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["page_token"]);
    let page2 = t
        .client
        .list_cohorts(authed(
            pb::ListCohortsRequest {
                school_year: YEAR,
                page_size: 1,
                page_token: page1.next_page_token,
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.cohorts.len(), 1);
    assert_ne!(page2.cohorts[0].id, page1.cohorts[0].id);

    // Nothing refused was recorded: one request, no hours.
    let e = t.get(&a.id).await;
    assert_eq!(e.progress.unwrap().credited_minutes, 0);
    assert!(e.deepening_module_codes.is_empty());
    assert!(e.tutor.is_none());
    assert_eq!(e.status, pb::TrainingEnrolmentStatus::Accepted as i32);
}

async fn who_may_do_what(backend: Backend) {
    let Some(pg) = database(backend, "training roles").await else {
        return;
    };
    let mut t = Node::start("toulouse", pg.as_ref(), None).await;
    let cohort = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    let sessions = t.sessions(&cohort.id).await;
    let me = person("toulouse", 0);
    let other = person("toulouse", 1);
    let mine = t.candidate(&me.email);
    let theirs = t.candidate(&other.email);

    // Authentication and roles, checked before any handler.
    let err = t
        .client
        .list_cohorts(tonic::Request::new(pb::ListCohortsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    denied(
        t.client
            .create_programme(authed(scenario::standard_programme(9), &t.trainer))
            .await,
    );
    denied(
        t.client
            .create_cohort(authed(pb::CreateCohortRequest::default(), &mine))
            .await,
    );
    denied(
        t.client
            .list_enrolments(authed(
                pb::ListEnrolmentsRequest {
                    cohort_id: cohort.id.clone(),
                    ..Default::default()
                },
                &mine,
            ))
            .await,
    );
    denied(
        t.client
            .get_cohort_progress(authed(
                pb::GetCohortProgressRequest {
                    cohort_id: cohort.id.clone(),
                },
                &mine,
            ))
            .await,
    );
    // Tokens are per académie: one for Montpellier is refused here, whatever its roles.
    let montpellier_office = t
        .node
        .issuer
        .mint(
            "eafc@ac-montpellier.fr",
            "montpellier",
            &[Role::TrainingOffice],
        )
        .unwrap();
    denied(
        t.client
            .request_enrolment(authed(
                pb::RequestEnrolmentRequest {
                    cohort_id: cohort.id.clone(),
                    trainee: Some(person("montpellier", 2)),
                },
                &montpellier_office,
            ))
            .await,
    );

    // A member of staff asks for themselves only, as staff of this académie.
    let err = t
        .request(&cohort.id, other.clone(), &mine)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut from_montpellier = person("montpellier", 2);
    from_montpellier.email = me.email.clone();
    let err = t
        .request(&cohort.id, from_montpellier, &mine)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut defaulted = me.clone();
    defaulted.home_academy = String::new();
    let a = t.request(&cohort.id, defaulted, &mine).await.unwrap();
    assert_eq!(a.trainee.as_ref().unwrap().home_academy, "toulouse");
    let b = t.request(&cohort.id, other.clone(), &theirs).await.unwrap();

    // Candidates read the catalogue, and act on their own enrolment only.
    t.client
        .get_cohort(authed(
            pb::GetCohortRequest {
                cohort_id: cohort.id.clone(),
            },
            &mine,
        ))
        .await
        .unwrap();
    t.client
        .list_sessions(authed(
            pb::ListSessionsRequest {
                cohort_id: cohort.id.clone(),
            },
            &mine,
        ))
        .await
        .unwrap();
    t.client
        .get_programme(authed(
            pb::GetProgrammeRequest {
                programme_id: cohort.programme_id.clone(),
            },
            &mine,
        ))
        .await
        .unwrap();
    t.client
        .get_enrolment(authed(
            pb::GetEnrolmentRequest {
                enrolment_id: a.id.clone(),
            },
            &mine,
        ))
        .await
        .unwrap();
    denied(
        t.client
            .get_enrolment(authed(
                pb::GetEnrolmentRequest {
                    enrolment_id: b.id.clone(),
                },
                &mine,
            ))
            .await,
    );
    denied(
        t.client
            .withdraw_enrolment(authed(
                pb::WithdrawEnrolmentRequest {
                    enrolment_id: b.id.clone(),
                    reason: String::new(),
                },
                &mine,
            ))
            .await,
    );
    denied(
        t.client
            .choose_deepening_modules(authed(
                pb::ChooseDeepeningModulesRequest {
                    enrolment_id: b.id.clone(),
                    module_codes: vec!["A2".into(), "A3".into(), "A5".into()],
                },
                &mine,
            ))
            .await,
    );
    t.client
        .choose_deepening_modules(authed(
            pb::ChooseDeepeningModulesRequest {
                enrolment_id: a.id.clone(),
                module_codes: vec!["A2".into(), "A3".into(), "A5".into()],
            },
            &mine,
        ))
        .await
        .unwrap();
    denied(
        t.client
            .record_abandonment(authed(
                pb::RecordAbandonmentRequest {
                    enrolment_id: a.id.clone(),
                    reason: "x".into(),
                },
                &mine,
            ))
            .await,
    );

    // Trainers record hours; the office does not, candidates neither.
    let attend = |id: &str| pb::RecordAttendanceRequest {
        session_id: sessions[0].id.clone(),
        enrolment_id: id.into(),
        modules: vec![],
        completed_on: String::new(),
    };
    denied(
        t.client
            .record_attendance(authed(attend(&a.id), &t.office))
            .await,
    );
    denied(
        t.client
            .record_attendance(authed(attend(&a.id), &mine))
            .await,
    );
    denied(
        t.client
            .record_internship_activity(authed(
                pb::RecordInternshipActivityRequest::default(),
                &t.office,
            ))
            .await,
    );
    t.client
        .record_attendance(authed(attend(&a.id), &t.trainer))
        .await
        .unwrap();
    // The office completes and issues; not trainers. Attestations: the office and their owner.
    denied(
        t.client
            .issue_attestation(authed(
                pb::IssueAttestationRequest {
                    enrolment_id: a.id.clone(),
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
    let b_full = t.enrol(&cohort.id, person("toulouse", 2)).await;
    let office_token = t.office.clone();
    t.follow_all(&sessions, &b_full.id).await;
    t.issue(&b_full.id).await.unwrap();
    denied(
        t.client
            .get_attestation(authed(
                pb::GetAttestationRequest {
                    enrolment_id: b_full.id.clone(),
                },
                &mine,
            ))
            .await,
    );
    let err = t
        .client
        .get_attestation(authed(
            pb::GetAttestationRequest {
                enrolment_id: a.id.clone(),
            },
            &mine,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "no attestation yet");
    t.client
        .get_attestation(authed(
            pb::GetAttestationRequest {
                enrolment_id: b_full.id.clone(),
            },
            &office_token,
        ))
        .await
        .unwrap();
    denied(
        t.client
            .list_external_training_records(authed(
                pb::ListExternalTrainingRecordsRequest::default(),
                &t.trainer,
            ))
            .await,
    );
}

async fn concurrent_requests_never_exceed_capacity(backend: Backend) {
    let Some(pg) = database(backend, "training concurrency").await else {
        return;
    };
    let mut t = Node::start("toulouse", pg.as_ref(), None).await;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    // Warm the connection pool first, so the requests below really run side by side.
    let mut reads = Vec::new();
    for _ in 0..10 {
        let mut client = t.client.clone();
        let req = authed(pb::ListCohortsRequest::default(), &t.office);
        reads.push(tokio::spawn(async move {
            client.list_cohorts(req).await.map(|_| ())
        }));
    }
    for r in reads {
        r.await.unwrap().unwrap();
    }
    let mut calls = Vec::new();
    for n in 0..10 {
        let mut client = t.client.clone();
        let office = t.office.clone();
        let cohort_id = cohort.id.clone();
        let mut trainee = person("toulouse", n % 5);
        trainee.staff_number = format!("{:02}E{:07}CCR", 20 + n, n);
        trainee.email = format!("agent{n}@ac-toulouse.fr");
        calls.push(tokio::spawn(async move {
            client
                .request_enrolment(authed(
                    pb::RequestEnrolmentRequest {
                        cohort_id,
                        trainee: Some(trainee),
                    },
                    &office,
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap().unwrap());
    }
    let accepted: Vec<&pb::TrainingEnrolment> = results
        .iter()
        .filter(|e| e.status == pb::TrainingEnrolmentStatus::Accepted as i32)
        .collect();
    assert_eq!(accepted.len(), 3);
    let mut numbers: Vec<u32> = results.iter().map(|e| e.request_number).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    // The places went to the first three requests; the others wait in order.
    assert!(accepted.iter().all(|e| e.request_number <= 3));
    let list = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                status: pb::TrainingEnrolmentStatus::Waitlisted as i32,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let positions: Vec<u32> = list.enrolments.iter().map(|e| e.waiting_position).collect();
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
}

/// Whoever is shown the printed attestation scans its QR code and lands on the académie's page.
async fn the_attestation_s_qr_code_leads_to_its_page(backend: Backend) {
    let Some(pg) = database(backend, "training attestation page").await else {
        return;
    };
    let tweak: cplds_runtime::testing::ConfigTweak =
        Box::new(|c| c.http_listen = Some(([127, 0, 0, 1], 0).into()));
    let t = Node::start_with("toulouse", pg.as_ref(), None, Some(tweak)).await;
    let web = t.node.node.http_addr.expect("public pages");
    let issuer = t.node.issuer.clone();
    let mint = move |sub: &str, roles: &[Role]| issuer.mint(sub, "toulouse", roles).unwrap();
    let s = scenario::run_for_year(t.node.channel().await, "toulouse", &mint, YEAR)
        .await
        .unwrap();
    use cplds_training::domain::attestation::{QR_SIDE, QR_X, QR_Y};
    let url = cplds_runtime::testing::read_qr(&s.attestation_pdf, QR_X, QR_Y, QR_SIDE);
    let path = format!("/verify/attestations/{}", s.attestation_number);
    assert_eq!(url, format!("http://{web}{path}"));
    let get = |p: String, accept: &'static str| async move {
        http(web, "GET", &p, &[("Accept", accept)], b"")
            .await
            .unwrap()
    };

    let page = get(path.clone(), "text/html").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Attestation de formation authentique"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&s.completed_trainee.split(' ').next().unwrap().to_owned())
    );
    assert!(page.body.contains("190 h"), "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
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
