//! What trainers record: attendance at sessions and the tutored internship. Deepening modules
//! count once chosen, a second record of a session replaces the first, no module is credited
//! beyond its hours, the internship is tutored; every field is checked and nothing refused is
//! recorded; only trainers record.

use cplds_proto::v1::{self as pb, InternshipActivityKind as K};
use cplds_runtime::testing::authed;
use cplds_training::scenario;
use tonic::Code;

use crate::helpers::{
    Backend, InTraining, denied, fields_of, in_training, module, rule_of, session_module as sm,
    sorted,
};

on_both!(
    deepening_modules_are_credited_once_chosen,
    a_second_record_of_a_session_replaces_the_first,
    a_module_is_never_credited_beyond_its_hours,
    deepening_modules_with_hours_stay_chosen,
    the_internship_is_tutored,
    internship_hours_are_not_over_credited_either,
    attendance_fields_are_checked_and_change_nothing,
    internship_fields_are_checked_and_named,
    trainers_record_hours,
);

async fn deepening_modules_are_credited_once_chosen(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let deepening_session = f.sessions[5].clone();
    let err =
        f.t.attend(f.attendance(&deepening_session, &[]))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_NOT_CHOSEN");
    let err =
        f.t.attend(f.attendance(&deepening_session, &[("A2", 600)]))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_NOT_CHOSEN");
    f.choose_a2_a3_a5().await;
    let e =
        f.t.attend(f.attendance(&deepening_session, &[]))
            .await
            .unwrap();
    assert!(module(&e, "A2").credited_minutes > 0);
}

/// T1: 12 h at the first seminar; recorded twice, counted once (a correction replaces).
async fn a_second_record_of_a_session_replaces_the_first(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    for _ in 0..2 {
        let e = f.t.attend(f.attendance(&f.sessions[0], &[])).await.unwrap();
        assert_eq!(module(&e, "T1").credited_minutes, 12 * 60);
        assert_eq!(e.attendances.len(), 1);
    }
}

async fn catch_up_seminar(f: &mut InTraining) -> pb::TrainingSession {
    f.t.client
        .create_seminar(authed(
            pb::CreateSeminarRequest {
                cohort_id: f.cohort.id.clone(),
                title: "Rattrapage".into(),
                first_day: "2026-05-12".into(),
                last_day: "2026-05-12".into(),
                city: "Albi".into(),
                place: "Lycée Bellevue".into(),
                modules: vec![sm("T1", 240)],
                trainers: vec![scenario::trainer_email(f.t.academy)],
            },
            &f.t.office,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn a_module_is_never_credited_beyond_its_hours(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.attend(f.attendance(&f.sessions[0], &[])).await.unwrap();
    let e =
        f.t.attend(f.attendance(&f.sessions[1], &[("T1", 480), ("T2", 360)]))
            .await
            .unwrap();
    assert!(module(&e, "T1").complete);
    // A catch-up seminar would credit T1 beyond its 20 h: refused, nothing changes.
    let catch_up = catch_up_seminar(&mut f).await;
    let err = f.t.attend(f.attendance(&catch_up, &[])).await.unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");
    assert!(err.message().contains("20 h"), "{}", err.message());
    assert_eq!(
        module(&f.t.get(&f.trainee.id).await, "T1").credited_minutes,
        20 * 60
    );
    // Correct the second seminar down to 5 h of T1: 3 h of catch-up fit, 4 h do not.
    f.t.attend(f.attendance(&f.sessions[1], &[("T1", 300), ("T2", 360)]))
        .await
        .unwrap();
    let err =
        f.t.attend(f.attendance(&catch_up, &[("T1", 240)]))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");
    let e =
        f.t.attend(f.attendance(&catch_up, &[("T1", 180)]))
            .await
            .unwrap();
    assert_eq!(module(&e, "T1").credited_minutes, 20 * 60);
}

async fn deepening_modules_with_hours_stay_chosen(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.choose_a2_a3_a5().await;
    f.t.attend(f.attendance(&f.sessions[5], &[])).await.unwrap();
    let office = f.t.office.clone();
    let err =
        f.t.choose(&f.trainee.id, &["A1", "A3", "A4"], &office)
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "DEEPENING_MODULE_STARTED");
    assert!(err.message().contains("A2, A5"), "{}", err.message());
}

/// The cohort's trainer is told the internship waits for a tutor; once the recteur designated
/// one, the tutor records it.
async fn the_internship_is_tutored(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let err =
        f.t.client
            .record_internship_activity(authed(f.activity(K::Observation, "P1", 900), &f.t.trainer))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "NO_TUTOR");
    f.t.assign_tutor(&f.trainee.id).await.unwrap();
    let e =
        f.t.activity(f.activity(K::Observation, "P1", 900))
            .await
            .unwrap();
    assert_eq!(module(&e, "P1").credited_minutes, 900);
    assert_eq!(e.internship_activities.len(), 1);
}

async fn internship_hours_are_not_over_credited_either(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.assign_tutor(&f.trainee.id).await.unwrap();
    f.t.activity(f.activity(K::Observation, "P1", 900))
        .await
        .unwrap();
    let err =
        f.t.activity(f.activity(K::CoLeading, "P1", 360))
            .await
            .unwrap_err();
    assert_eq!(rule_of(&err), "MODULE_HOURS_EXCEEDED");
}

async fn attendance_fields_are_checked_and_change_nothing(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let att = |session: &str, modules: Vec<pb::SessionModule>, completed_on: &str| {
        pb::RecordAttendanceRequest {
            session_id: session.into(),
            enrolment_id: f.trainee.id.clone(),
            modules,
            completed_on: completed_on.into(),
        }
    };
    let (seminar, asynchronous) = (&f.sessions[0].id, &f.sessions[6].id);
    for (req, fields) in [
        (
            att("", vec![], "31/12/2025"),
            vec!["session_id", "completed_on"],
        ),
        (
            att(seminar, vec![sm("T2", 60)], ""),
            vec!["modules[0].module_code"],
        ),
        (
            att(seminar, vec![sm("T1", 13 * 60)], ""),
            vec!["modules[0].minutes"],
        ),
        (
            att(seminar, vec![sm("T1", 0)], ""),
            vec!["modules[0].minutes"],
        ),
        (att(seminar, vec![], "2025-10-21"), vec!["completed_on"]),
        (att(asynchronous, vec![], ""), vec!["completed_on"]),
        (
            att(asynchronous, vec![], "2026-03-01"),
            vec!["completed_on"],
        ),
    ] {
        let err = f.t.attend(req).await.unwrap_err();
        assert_eq!(fields_of(&err), sorted(&fields), "{err:?}");
    }
    let other = f.t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    let other_sessions = f.t.sessions(&other.id).await;
    let err =
        f.t.attend(att(&other_sessions[0].id, vec![], ""))
            .await
            .unwrap_err();
    assert_eq!(fields_of(&err), ["session_id"]);
    let err =
        f.t.attend(att(&uuid::Uuid::now_v7().to_string(), vec![], ""))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let e = f.t.get(&f.trainee.id).await;
    assert_eq!(e.progress.unwrap().credited_minutes, 0);
    assert_eq!(e.status, pb::TrainingEnrolmentStatus::Accepted as i32);
}

async fn internship_fields_are_checked_and_named(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.assign_tutor(&f.trainee.id).await.unwrap();
    let err =
        f.t.activity(pb::RecordInternshipActivityRequest {
            enrolment_id: f.trainee.id.clone(),
            kind: 0,
            module_code: String::new(),
            date: "demain".into(),
            minutes: 7,
            establishment_uai: "123".into(),
            description: "x".repeat(501),
        })
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
    let activity = |minutes: u32| pb::RecordInternshipActivityRequest {
        enrolment_id: f.trainee.id.clone(),
        kind: K::Observation as i32,
        module_code: "T1".into(),
        date: "2026-09-01".into(),
        minutes,
        establishment_uai: scenario::establishment(f.t.academy, 1),
        description: String::new(),
    };
    // Only a GPDS session may take no minutes.
    let err = f.t.activity(activity(0)).await.unwrap_err();
    assert_eq!(fields_of(&err), sorted(&["minutes"]));
    // A practical module, on a day of the school year.
    let err = f.t.activity(activity(60)).await.unwrap_err();
    assert_eq!(fields_of(&err), sorted(&["module_code", "date"]));
    let e = f.t.get(&f.trainee.id).await;
    assert!(e.internship_activities.is_empty());
}

/// Trainers record hours; the office does not, candidates neither.
async fn trainers_record_hours(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let mine = f.t.candidate(&crate::helpers::person("toulouse", 0).email);
    let attend = f.attendance(&f.sessions[0], &[]);
    let t = &mut f.t;
    denied(
        t.client
            .record_attendance(authed(attend.clone(), &t.office))
            .await,
    );
    denied(
        t.client
            .record_attendance(authed(attend.clone(), &mine))
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
        .record_attendance(authed(attend, &t.trainer))
        .await
        .unwrap();
}
