//! The yearly session.

use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(a_session_names_every_bad_field, one_session_per_year,);

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
                ends_on: "2024-11-21".into(),
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
            pb::CreateExamSessionRequest {
                year: 2025,
                starts_on: "2025-11-24".into(),
                ends_on: "2025-11-28".into(),
                appeal_window_days: 0,
            },
            &t.office,
        ))
        .await;
    assert_eq!(code(again), Code::AlreadyExists);
}
