//! The MLDS survey, entered by the académie in its own terms (a headcount, the actions followed,
//! the outcomes), consolidated nationally: the latest version counts.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    bus::memory::InMemoryBus,
    testing::{authed, bad_fields},
};

use crate::helpers::{national, reims, wait_survey};

fn headcount(sex: pb::Sex, band: &str, n: u32) -> pb::MldsHeadcount {
    pb::MldsHeadcount {
        sex: sex as i32,
        age_band: band.into(),
        young_people: n,
    }
}

fn action(kind: &str, sex: pb::Sex, n: u32) -> pb::MldsActionCount {
    pb::MldsActionCount {
        action_type: kind.into(),
        sex: sex as i32,
        young_people: n,
    }
}

fn outcome(outcome: &str, sex: pb::Sex, n: u32) -> pb::MldsOutcomeCount {
    pb::MldsOutcomeCount {
        outcome: outcome.into(),
        sex: sex as i32,
        young_people: n,
    }
}

#[tokio::test]
async fn the_survey_consolidates_the_latest_version() {
    use pb::Sex::{Female, Male};
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let mut r = reims(&bus).await;
    let mut submit = async |req: pb::SubmitMldsSurveyRequest| {
        r.reporting
            .submit_mlds_survey(authed(req, &r.recteur))
            .await
            .map(|s| s.into_inner())
    };

    // The former cells make no headcount; a return whose counts contradict each other is refused.
    let err = submit(pb::SubmitMldsSurveyRequest {
        year: 2025,
        lines: vec![pb::MldsSurveyLine {
            action_kind: "remobilisation".into(),
            sex: Male as i32,
            age_band: "16-17".into(),
            outcome: "school".into(),
            young_people: 3,
        }],
        headcount: vec![headcount(Male, "16-17", 3)],
        outcomes: vec![outcome("school", Male, 3)],
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["lines"]);
    let err = submit(pb::SubmitMldsSurveyRequest {
        year: 2025,
        headcount: vec![
            headcount(Male, "under_16", 3),
            headcount(Female, "18-20", 4),
        ],
        actions: vec![action("remobilisation", Female, 5)],
        outcomes: vec![outcome("school", Female, 3)],
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["headcount[0].age_band"]);
    let err = submit(pb::SubmitMldsSurveyRequest {
        year: 2025,
        headcount: vec![headcount(Female, "18-20", 4)],
        actions: vec![action("remobilisation", Female, 5)],
        outcomes: vec![outcome("school", Female, 3)],
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["actions[0].young_people", "outcomes"]);

    submit(pb::SubmitMldsSurveyRequest {
        year: 2025,
        headcount: vec![headcount(Male, "16-17", 3)],
        outcomes: vec![outcome("school", Male, 3)],
        ..Default::default()
    })
    .await
    .unwrap();
    // 32 young people, 40 actions followed (eight young women followed two).
    let v2 = submit(pb::SubmitMldsSurveyRequest {
        year: 2025,
        headcount: vec![headcount(Male, "16-17", 20), headcount(Female, "18-20", 12)],
        actions: vec![
            action("remobilisation", Male, 20),
            action("pafi", Female, 12),
            action("return_to_training", Female, 8),
        ],
        outcomes: vec![
            outcome("school", Male, 20),
            outcome("apprenticeship", Female, 10),
            outcome("unknown", Female, 2),
        ],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!((v2.version, v2.young_people), (2, 32));
    assert_eq!(v2.actions.len(), 3);

    let survey = wait_survey(&f, "survey v2", |s| {
        s.academies.first().is_some_and(|a| a.version == 2)
    })
    .await;
    assert_eq!(
        survey.young_people, 32,
        "a headcount, not the actions added up"
    );
    let actions: u32 = survey.actions.iter().map(|a| a.young_people).sum();
    assert_eq!(actions, 40);
    let outcomes: u32 = survey.outcomes.iter().map(|o| o.young_people).sum();
    assert_eq!(outcomes, 32);
    assert_eq!(survey.academies[0].academy, "reims");
    assert_eq!(
        survey.headcount.len(),
        2,
        "the later version replaced the first"
    );
    assert_eq!(survey.missing.len(), 29);
    assert!(survey.outdated.is_empty() && survey.cells.is_empty());
}

/// A survey sent in the former format (cells crossing action, age and outcome) is kept, shown
/// as such, and its académie named as outdated instead of being counted as a headcount.
#[tokio::test]
async fn a_survey_of_the_former_format_is_not_a_headcount() {
    use cplds_runtime::bus::EventBus as _;
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let former = pb::event_envelope::Payload::MldsSurveySubmitted(pb::MldsSurveySubmitted {
        year: 2025,
        version: 1,
        rows: vec![pb::MldsSurveyRow {
            action_kind: "remobilisation".into(),
            sex: pb::Sex::Male as i32,
            age_band: "16-17".into(),
            outcome: "school".into(),
            young_people: 30,
        }],
        ..Default::default()
    });
    bus.publish(&[crate::helpers::fact("lille", "reporting", 1, former)])
        .await
        .unwrap();
    let survey = wait_survey(&f, "the former survey", |s| !s.cells.is_empty()).await;
    assert_eq!(survey.outdated, ["lille"]);
    assert_eq!(survey.young_people, 0);
    assert!(survey.academies.is_empty());
}
