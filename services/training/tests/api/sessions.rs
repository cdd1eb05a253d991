//! Seminars and distance sessions: the request's form first, then the session against the
//! cohort's school year and programme; nothing refused is stored.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::authed;

use crate::helpers::{Backend, Node, fields_of, session_module as sm, sorted, spawn};

on_both!(
    seminar_fields_are_checked_and_named,
    a_seminar_lasts_a_week_at_most_and_names_a_module_once,
    a_seminar_fits_the_school_year_and_the_programme,
    a_distance_session_is_synchronous_or_asynchronous,
);

async fn with_cohort(backend: Backend) -> Option<(Node, pb::TrainingCohort)> {
    let mut t = spawn(backend).await?;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 10).await;
    Some((t, cohort))
}

fn seminar(
    cohort: &pb::TrainingCohort,
    first: &str,
    last: &str,
    modules: Vec<pb::SessionModule>,
) -> pb::CreateSeminarRequest {
    pb::CreateSeminarRequest {
        cohort_id: cohort.id.clone(),
        title: "Séminaire".into(),
        first_day: first.into(),
        last_day: last.into(),
        city: "Toulouse".into(),
        place: "Lycée Pierre-de-Fermat".into(),
        modules,
        trainers: vec![],
    }
}

async fn refused_seminar(t: &mut Node, request: pb::CreateSeminarRequest) -> Vec<String> {
    let err = t
        .client
        .create_seminar(authed(request, &t.office))
        .await
        .unwrap_err();
    fields_of(&err)
}

async fn seminar_fields_are_checked_and_named(backend: Backend) {
    let Some((mut t, cohort)) = with_cohort(backend).await else {
        return;
    };
    let fields = refused_seminar(
        &mut t,
        pb::CreateSeminarRequest {
            cohort_id: String::new(),
            title: String::new(),
            first_day: "2025-13-01".into(),
            last_day: String::new(),
            city: String::new(),
            place: " ".into(),
            modules: vec![],
            trainers: vec![
                "formateur@ac-toulouse.fr".into(),
                "Formateur@ac-toulouse.fr".into(),
                "personne".into(),
            ],
        },
    )
    .await;
    assert_eq!(
        fields,
        sorted(&[
            "cohort_id",
            "title",
            "first_day",
            "last_day",
            "city",
            "place",
            "modules",
            "trainers[1]",
            "trainers[2]",
        ])
    );
    assert!(t.listed_sessions(&cohort.id).await.is_empty());
}

async fn a_seminar_lasts_a_week_at_most_and_names_a_module_once(backend: Backend) {
    let Some((mut t, cohort)) = with_cohort(backend).await else {
        return;
    };
    let modules = vec![sm("T1", 6 * 60), sm("t1", 6 * 60)];
    let fields = refused_seminar(
        &mut t,
        seminar(&cohort, "2025-10-22", "2025-10-21", modules),
    )
    .await;
    assert_eq!(fields, sorted(&["last_day", "modules[1].module_code"]));
    assert!(t.listed_sessions(&cohort.id).await.is_empty());
}

async fn a_seminar_fits_the_school_year_and_the_programme(backend: Backend) {
    let Some((mut t, cohort)) = with_cohort(backend).await else {
        return;
    };
    let modules = vec![
        sm("P1", 6 * 60),
        sm("T3", 6 * 60),
        sm("T1", 21 * 60),
        sm("Z9", 60),
    ];
    let fields = refused_seminar(
        &mut t,
        seminar(&cohort, "2025-08-28", "2025-08-29", modules),
    )
    .await;
    assert_eq!(
        fields,
        sorted(&[
            "first_day",
            "last_day",
            "modules[0].module_code",
            "modules[1].module_code",
            "modules[2].minutes",
            "modules[3].module_code"
        ])
    );
    assert!(t.listed_sessions(&cohort.id).await.is_empty());
}

async fn a_distance_session_is_synchronous_or_asynchronous(backend: Backend) {
    let Some((mut t, cohort)) = with_cohort(backend).await else {
        return;
    };
    let distance = |mode: pb::TrainingDistanceMode, at: &str, opens: &str, closes: &str| {
        pb::CreateDistanceSessionRequest {
            cohort_id: cohort.id.clone(),
            title: "Classe virtuelle".into(),
            mode: mode as i32,
            starts_at_local: at.into(),
            opens_on: opens.into(),
            closes_on: closes.into(),
            modules: vec![sm("T3", 2 * 60)],
            trainers: vec![],
        }
    };
    use pb::TrainingDistanceMode::{Asynchronous, Synchronous, Unspecified};
    for (req, fields) in [
        (distance(Unspecified, "", "", ""), vec!["mode"]),
        (
            distance(Synchronous, "", "2025-11-01", ""),
            vec!["starts_at_local", "opens_on"],
        ),
        // No such local time: the clocks go forward.
        (
            distance(Synchronous, "2026-03-29T02:30", "", ""),
            vec!["starts_at_local"],
        ),
        (
            distance(Asynchronous, "2025-11-18T14:00", "", "2025-12-01"),
            vec!["opens_on", "starts_at_local"],
        ),
        (
            distance(Asynchronous, "", "2025-12-01", "2025-11-01"),
            vec!["closes_on"],
        ),
        // T3 is a synchronous module.
        (
            distance(Asynchronous, "", "2025-12-01", "2026-01-01"),
            vec!["modules[0].module_code"],
        ),
        // Outside the school year.
        (
            distance(Synchronous, "2026-09-02T10:00", "", ""),
            vec!["starts_at_local"],
        ),
    ] {
        let err = t
            .client
            .create_distance_session(authed(req, &t.office))
            .await
            .unwrap_err();
        assert_eq!(fields_of(&err), sorted(&fields), "{err:?}");
    }
    let sessions = t.sessions(&cohort.id).await;
    assert_eq!(
        t.listed_sessions(&cohort.id).await.len(),
        sessions.len(),
        "no refused session was stored"
    );
}
