//! What reporting publishes: national facts only (the survey, an approval).

use cplds_proto::v1::{self as pb, event_envelope::Payload};

use crate::domain::Survey;

pub fn survey_submitted(year: i32, version: u32, survey: &Survey) -> Payload {
    let (headcount, actions, outcomes) = survey_pb(survey);
    Payload::MldsSurveySubmitted(pb::MldsSurveySubmitted {
        year,
        version,
        rows: Vec::new(),
        headcount,
        actions,
        outcomes,
    })
}

/// The survey in the contract's words, for the fact and for the API.
pub fn survey_pb(
    s: &Survey,
) -> (
    Vec<pb::MldsHeadcount>,
    Vec<pb::MldsActionCount>,
    Vec<pb::MldsOutcomeCount>,
) {
    (
        s.headcount
            .iter()
            .map(|c| pb::MldsHeadcount {
                sex: c.sex.to_pb(),
                age_band: c.category.into(),
                young_people: c.young_people,
            })
            .collect(),
        s.actions
            .iter()
            .map(|c| pb::MldsActionCount {
                action_type: c.category.into(),
                sex: c.sex.to_pb(),
                young_people: c.young_people,
            })
            .collect(),
        s.outcomes
            .iter()
            .map(|c| pb::MldsOutcomeCount {
                outcome: c.category.into(),
                sex: c.sex.to_pb(),
                young_people: c.young_people,
            })
            .collect(),
    )
}

pub fn figures_approved(year: i32, remarks: String) -> Payload {
    Payload::FiguresApproved(pb::FiguresApproved { year, remarks })
}
