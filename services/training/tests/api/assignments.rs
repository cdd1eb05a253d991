//! Who acts on which session and trainee (issue 12 §4): a trainer records attendance only at
//! the sessions the training office assigned them to run, and follows only the cohorts they
//! teach; the recteur designates each trainee's tutor, who records the internship; each act is
//! judged under the role it is performed as.

use cplds_proto::v1::{self as pb, InternshipActivityKind as K};
use cplds_runtime::{auth::Role, testing::authed};

use crate::helpers::{Backend, InTraining, denied, fields_of, in_training, person};

on_both!(
    a_trainer_records_attendance_only_at_the_sessions_they_run,
    only_the_tutor_records_the_internship,
    the_recteur_designates_tutors,
    a_trainer_follows_only_the_cohorts_they_teach,
    a_trainee_who_is_also_a_trainer_records_nothing_for_themselves,
    the_office_assigns_who_runs_a_session,
    a_tutor_reads_and_records_for_their_trainee_only,
);

/// A trainer of the académie the office assigned to nothing.
fn stranger(f: &InTraining) -> String {
    f.t.node
        .token("autre.formateur@ac-toulouse.fr", &[Role::Trainer])
}

async fn a_trainer_records_attendance_only_at_the_sessions_they_run(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let request = f.attendance(&f.sessions[0], &[]);
    denied(
        f.t.client
            .record_attendance(authed(request.clone(), &stranger(&f)))
            .await,
    );
    let e = f.t.get(&f.trainee.id).await;
    assert_eq!(e.progress.unwrap().credited_minutes, 0, "nothing recorded");
    f.t.attend(request).await.unwrap();
}

async fn only_the_tutor_records_the_internship(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.assign_tutor(&f.trainee.id).await.unwrap();
    let activity = f.activity(K::Observation, "P1", 900);
    for token in [stranger(&f), f.t.trainer.clone()] {
        denied(
            f.t.client
                .record_internship_activity(authed(activity.clone(), &token))
                .await,
        );
    }
    let e = f.t.get(&f.trainee.id).await;
    assert!(e.internship_activities.is_empty());
}

async fn the_recteur_designates_tutors(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let tutor = pb::AssignTutorRequest {
        enrolment_id: f.trainee.id.clone(),
        last_name: "Rivière".into(),
        first_name: "Paul".into(),
        email: "paul.riviere@ac-toulouse.fr".into(),
        qualification: pb::TrainingTutorQualification::Cplds as i32,
    };
    denied(
        f.t.client
            .assign_tutor(authed(tutor.clone(), &f.t.office))
            .await,
    );
    assert!(f.t.get(&f.trainee.id).await.tutor.is_none());
}

async fn a_trainer_follows_only_the_cohorts_they_teach(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let other = stranger(&f);
    denied(
        f.t.client
            .get_enrolment(authed(
                pb::GetEnrolmentRequest {
                    enrolment_id: f.trainee.id.clone(),
                },
                &other,
            ))
            .await,
    );
    denied(
        f.t.client
            .list_enrolments(authed(
                pb::ListEnrolmentsRequest {
                    cohort_id: f.cohort.id.clone(),
                    ..Default::default()
                },
                &other,
            ))
            .await,
    );
    denied(
        f.t.client
            .get_cohort_progress(authed(
                pb::GetCohortProgressRequest {
                    cohort_id: f.cohort.id.clone(),
                },
                &other,
            ))
            .await,
    );
    // The trainer who runs its sessions follows the cohort, and the recteur, who designates
    // the tutors, reads its enrolments.
    for token in [f.t.trainer.clone(), f.t.recteur.clone()] {
        f.t.client
            .get_cohort_progress(authed(
                pb::GetCohortProgressRequest {
                    cohort_id: f.cohort.id.clone(),
                },
                &token,
            ))
            .await
            .unwrap();
        f.t.client
            .list_enrolments(authed(
                pb::ListEnrolmentsRequest {
                    cohort_id: f.cohort.id.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap();
    }
}

/// A trainer who is also in training does not credit their own hours, whatever the session.
async fn a_trainee_who_is_also_a_trainer_records_nothing_for_themselves(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let me = person("toulouse", 0).email;
    let both = f.t.node.token(&me, &[Role::Candidate, Role::Trainer]);
    denied(
        f.t.client
            .record_attendance(authed(f.attendance(&f.sessions[0], &[]), &both))
            .await,
    );
}

/// Reassigned to another trainer, a session is recorded by them and no longer by the first.
async fn the_office_assigns_who_runs_a_session(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let session = f.sessions[0].clone();
    assert_eq!(session.trainers, ["formateur@ac-toulouse.fr"]);
    let assign = |trainers: Vec<String>| pb::AssignSessionTrainersRequest {
        session_id: session.id.clone(),
        trainers,
    };
    let other = "autre.formateur@ac-toulouse.fr".to_owned();
    denied(
        f.t.client
            .assign_session_trainers(authed(assign(vec![other.clone()]), &f.t.trainer))
            .await,
    );
    let err =
        f.t.client
            .assign_session_trainers(authed(assign(vec!["x".into()]), &f.t.office))
            .await
            .unwrap_err();
    assert_eq!(fields_of(&err), ["trainers[0]"]);
    let s =
        f.t.client
            .assign_session_trainers(authed(assign(vec![other.clone()]), &f.t.office))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(s.trainers, [other.as_str()]);
    let request = f.attendance(&session, &[]);
    denied(f.t.attend(request.clone()).await);
    f.t.client
        .record_attendance(authed(request, &stranger(&f)))
        .await
        .unwrap();
}

/// The tutor follows the trainees they accompany, not the rest of the cohort.
async fn a_tutor_reads_and_records_for_their_trainee_only(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    f.t.assign_tutor(&f.trainee.id).await.unwrap();
    let other = f.t.enrol(&f.cohort.id, person("toulouse", 3)).await;
    let tutor = f.t.tutor.clone();
    let get = |id: &str| {
        authed(
            pb::GetEnrolmentRequest {
                enrolment_id: id.into(),
            },
            &tutor,
        )
    };
    f.t.client.get_enrolment(get(&f.trainee.id)).await.unwrap();
    denied(f.t.client.get_enrolment(get(&other.id)).await);
    f.t.activity(f.activity(K::Observation, "P1", 900))
        .await
        .unwrap();
    let mut theirs = f.activity(K::Observation, "P1", 900);
    theirs.enrolment_id = other.id.clone();
    denied(f.t.activity(theirs).await);
}
