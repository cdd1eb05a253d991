//! The yearly session: its period on the real calendar (a session N may start in the autumn of
//! N-1), one per year.

use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(
    a_session_names_every_bad_field,
    a_session_may_start_in_the_autumn_before_its_year,
    one_session_per_year,
);

fn session_request(year: i32, starts_on: &str, ends_on: &str) -> pb::CreateExamSessionRequest {
    pb::CreateExamSessionRequest {
        year,
        starts_on: starts_on.into(),
        ends_on: ends_on.into(),
        appeal_window_days: 0,
    }
}

/// Every bad field named at once.
async fn a_session_names_every_bad_field(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let bad = t
        .exam
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2025,
                starts_on: "17/11/2025".into(),
                ends_on: "2026-01-05".into(),
                appeal_window_days: 121,
            },
            &t.office,
        ))
        .await;
    assert_eq!(
        fields_of(bad),
        ["starts_on", "ends_on", "appeal_window_days"]
    );
    let bad = t
        .exam
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2010,
                starts_on: "2010-11-17".into(),
                ends_on: "2010-11-21".into(),
                appeal_window_days: 0,
            },
            &t.office,
        ))
        .await;
    assert_eq!(fields_of(bad), ["year"]);
}

/// Toulouse's session 2021: épreuve 2 on 16-20 November 2020, épreuve 1 in the spring.
async fn a_session_may_start_in_the_autumn_before_its_year(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    let office = t.office.clone();
    let create = |year, starts_on: &str, ends_on: &str| {
        let req = authed(session_request(year, starts_on, ends_on), &office);
        let mut exam = t.exam.clone();
        async move { exam.create_exam_session(req).await.map(|r| r.into_inner()) }
    };
    let s = create(2021, "2020-11-16", "2021-04-09").await.unwrap();
    assert_eq!((s.year, s.starts_on.as_str()), (2021, "2020-11-16"));
    // Not before the school year that precedes it, not after its own year, once a year.
    assert_eq!(
        fields_of(create(2022, "2021-08-31", "2021-11-19").await),
        ["starts_on"]
    );
    assert_eq!(
        fields_of(create(2022, "2022-11-14", "2023-01-06").await),
        ["ends_on"]
    );
    assert_eq!(
        fields_of(create(2022, "2021-09-01", "2022-09-01").await),
        ["ends_on"]
    );
    create(2022, "2021-09-01", "2022-08-31").await.unwrap();
}

async fn one_session_per_year(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let session = t.create_session().await;
    assert_eq!(session.state, pb::ExamSessionState::Open as i32);
    assert_eq!(session.appeal_window_days, 15);
    let again = t
        .exam
        .create_exam_session(authed(
            session_request(2025, "2025-11-24", "2025-11-28"),
            &t.office,
        ))
        .await;
    assert_eq!(code(again), Code::AlreadyExists);
}
