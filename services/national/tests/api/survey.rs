//! The MLDS survey, entered by the académie, consolidated nationally: the latest version counts.

use std::time::Duration;

use cplds_proto::v1 as pb;
use cplds_runtime::{
    bus::memory::InMemoryBus,
    testing::{authed, bad_fields, wait_for},
};

use crate::helpers::{national, reims};

#[tokio::test]
async fn the_survey_consolidates_the_latest_version() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let mut r = reims(&bus).await;
    let (stats, token) = (f.stats.clone(), f.ministry.clone());
    // The MLDS survey, entered by the académie, consolidated nationally.
    let line = |kind: &str, sex: pb::Sex, band: &str, outcome: &str, n: u32| pb::MldsSurveyLine {
        action_kind: kind.into(),
        sex: sex as i32,
        age_band: band.into(),
        outcome: outcome.into(),
        young_people: n,
    };
    let err = r
        .reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![line("knitting", pb::Sex::Male, "16-17", "school", 3)],
            },
            &r.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["lines[0].action_kind"]);
    r.reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![line("remobilisation", pb::Sex::Male, "16-17", "school", 3)],
            },
            &r.recteur,
        ))
        .await
        .unwrap();
    let v2 = r
        .reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![
                    line("remobilisation", pb::Sex::Male, "16-17", "school", 30),
                    line(
                        "remise_a_niveau",
                        pb::Sex::Female,
                        "18-20",
                        "apprenticeship",
                        12,
                    ),
                ],
            },
            &r.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v2.version, 2);
    let survey = wait_for(Duration::from_secs(10), "survey v2", || {
        let (mut c, tok) = (stats.clone(), token.clone());
        async move {
            let s = c
                .get_mlds_survey(authed(
                    pb::GetMldsSurveyRequest {
                        year: 2025,
                        scope: None,
                    },
                    &tok,
                ))
                .await
                .unwrap()
                .into_inner();
            (s.young_people == 42).then_some(s)
        }
    })
    .await;
    assert_eq!(
        survey.cells.len(),
        2,
        "the later version replaced the first"
    );
    assert_eq!(survey.missing.len(), 29);
}
