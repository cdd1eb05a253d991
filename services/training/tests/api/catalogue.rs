//! Programme versions and cohorts: every field checked and named, the arrêté's totals, one
//! version once, pages of cohorts; the office creates, readers read.

use cplds_proto::v1 as pb;
use cplds_training::scenario;
use tonic::Code;

use crate::helpers::{Backend, YEAR, denied, fields_of, sorted, spawn};
use cplds_runtime::testing::authed;

on_both!(
    programme_fields_are_checked_and_named,
    a_programme_has_the_arrete_s_totals,
    a_programme_version_exists_once,
    cohort_fields_are_checked_and_named,
    a_cohort_follows_an_existing_programme,
    cohorts_are_listed_page_by_page,
    the_office_creates_and_anyone_with_an_account_reads,
);

async fn programme_fields_are_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
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
            &t.office,
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
}

/// Totals per kind, practical modules in presence, codes once, a choice of deepening modules
/// making 30 h: refused otherwise, and nothing created.
async fn a_programme_has_the_arrete_s_totals(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let mut short = scenario::standard_programme(1);
    short.modules.remove(5);
    short.modules[11].mode = pb::TrainingModuleMode::SynchronousDistance as i32;
    short.modules[1].code = "t1".into();
    let err = t
        .client
        .create_programme(authed(short, &t.office))
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
        .create_programme(authed(deepening, &t.office))
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
        .list_programmes(authed(pb::ListProgrammesRequest::default(), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.programmes.is_empty(), "nothing was created");
}

async fn a_programme_version_exists_once(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let programme = t.programme().await;
    let err = t
        .client
        .create_programme(authed(
            scenario::standard_programme(programme.version),
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
}

async fn cohort_fields_are_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
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
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["school_year", "programme_id", "title", "scope", "capacity"])
    );
}

async fn a_cohort_follows_an_existing_programme(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let request = |programme_id: String| pb::CreateCohortRequest {
        school_year: YEAR,
        programme_id,
        title: String::new(),
        scope: pb::TrainingCohortScope::Academy as i32,
        capacity: 10,
    };
    let err = t
        .client
        .create_cohort(authed(request(uuid::Uuid::now_v7().to_string()), &t.office))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let programme = t.programme().await;
    let cohort = t
        .client
        .create_cohort(authed(request(programme.id.clone()), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cohort.title, "Formation CPLDS 2025-2026");
    assert_eq!(cohort.programme_version, programme.version);
}

async fn cohorts_are_listed_page_by_page(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 10).await;
    t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    let list = |page_token: String| pb::ListCohortsRequest {
        school_year: YEAR,
        page_size: 1,
        page_token,
    };
    let page1 = t
        .client
        .list_cohorts(authed(list(String::new()), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page1.cohorts.len(), 1);
    // A token is bound to its list: another list refuses it.
    let err = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                page_token: page1.next_page_token.clone(),
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["page_token"]);
    let page2 = t
        .client
        .list_cohorts(authed(list(page1.next_page_token), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.cohorts.len(), 1);
    assert_ne!(page2.cohorts[0].id, page1.cohorts[0].id);
}

/// Authentication and roles, checked before any handler: the office creates; candidates read
/// the catalogue.
async fn the_office_creates_and_anyone_with_an_account_reads(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    let mine = t.candidate("camille@ac-toulouse.fr");
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
}
