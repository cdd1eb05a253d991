//! What the académie's attestation requires beyond the hours, and the presence share it aims at
//! (issue 13 §9): by default as the arrêté says, set per académie by the training office; the
//! presence/distance balance of the sessions is a warning, never a refusal.

use cplds_proto::v1::{self as pb, InternshipActivityKind as K};
use cplds_runtime::testing::authed;

use crate::helpers::{Backend, denied, fields_of, in_training, rule_of, spawn};

on_both!(
    the_defaults_are_the_arrete_s_and_the_office_sets_them,
    an_academie_may_require_the_gpds_meeting,
    an_academie_may_do_without_a_tutor,
    the_presence_balance_of_the_sessions_is_a_warning_not_a_refusal,
);

async fn the_defaults_are_the_arrete_s_and_the_office_sets_them(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let trainer = t.trainer.clone();
    let read = |token: &str| authed(pb::GetTrainingSettingsRequest {}, token);
    let d = t
        .client
        .get_training_settings(read(&trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            d.academy.as_str(),
            d.require_tutor,
            d.require_gpds_session,
            d.target_presence_percent
        ),
        ("toulouse", true, false, 0)
    );
    assert!(d.update_time.is_none());
    let set = |percent: u32| pb::UpdateTrainingSettingsRequest {
        require_tutor: true,
        require_gpds_session: true,
        target_presence_percent: percent,
    };
    denied(
        t.client
            .update_training_settings(authed(set(33), &trainer))
            .await,
    );
    let err = t
        .client
        .update_training_settings(authed(set(101), &t.office))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["target_presence_percent"]);
    let s = t.settings(true, true, 33).await;
    assert_eq!(s.updated_by, "eafc@ac-toulouse.fr");
    let office = t.office.clone();
    let again = t
        .client
        .get_training_settings(read(&office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, s);
}

async fn an_academie_may_require_the_gpds_meeting(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.settings(true, true, 0).await;
    let id = f.trainee.id.clone();
    f.follow_all_but_the_gpds_meeting().await;
    let progress = f.t.get(&id).await.progress.unwrap();
    assert_eq!(
        progress.missing,
        ["la séance du GPDS conduite en stage n'est pas enregistrée"]
    );
    assert_eq!(
        rule_of(&f.t.issue(&id).await.unwrap_err()),
        "GPDS_SESSION_NOT_LED"
    );
    f.t.activity(f.activity(K::GpdsSession, "P2", 0))
        .await
        .unwrap();
    f.t.issue(&id).await.unwrap();
}

/// Where the académie does not require a tutor, a trainer of the cohort records the internship
/// and the attestation does not wait for one.
async fn an_academie_may_do_without_a_tutor(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.settings(false, false, 0).await;
    let id = f.trainee.id.clone();
    f.choose_a2_a3_a5().await;
    for s in f.sessions.clone() {
        f.t.attend_all(&s, &id).await;
    }
    for code in ["P1", "P2"] {
        f.t.client
            .record_internship_activity(authed(f.activity(K::CoLeading, code, 1200), &f.t.trainer))
            .await
            .unwrap();
    }
    let e = f.t.get(&id).await;
    assert!(e.tutor.is_none());
    assert!(e.progress.unwrap().complete);
    let att = f.t.issue(&id).await.unwrap();
    let text = cplds_runtime::pdf::extract_text(&att.pdf);
    assert!(!text.contains("Tuteur"), "{text}");
}

/// The scenario's sessions give 40 h in presence out of 150 h (27 %): an académie aiming at a
/// third is warned, and every session is planned all the same.
async fn the_presence_balance_of_the_sessions_is_a_warning_not_a_refusal(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let list = |f: &mut crate::helpers::InTraining| {
        let mut client = f.t.client.clone();
        let req = authed(
            pb::ListSessionsRequest {
                cohort_id: f.cohort.id.clone(),
            },
            &f.t.office,
        );
        async move { client.list_sessions(req).await.unwrap().into_inner() }
    };
    let quiet = list(&mut f).await.balance.unwrap();
    assert_eq!(
        (
            quiet.presence_minutes,
            quiet.synchronous_distance_minutes,
            quiet.asynchronous_distance_minutes,
            quiet.presence_percent
        ),
        (40 * 60, 60 * 60, 50 * 60, 27)
    );
    assert!(quiet.warnings.is_empty(), "no target by default");
    f.t.settings(true, false, 33).await;
    let listed = list(&mut f).await;
    assert_eq!(listed.sessions.len(), f.sessions.len());
    let b = listed.balance.unwrap();
    assert_eq!(b.target_presence_percent, 33);
    assert_eq!(b.warnings.len(), 1);
    assert!(b.warnings[0].contains("27 %"), "{:?}", b.warnings);
    let office = f.t.office.clone();
    let progress =
        f.t.client
            .get_cohort_progress(authed(
                pb::GetCohortProgressRequest {
                    cohort_id: f.cohort.id.clone(),
                },
                &office,
            ))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(progress.session_balance.unwrap().warnings, b.warnings);
}
