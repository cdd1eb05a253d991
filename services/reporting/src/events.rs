//! What reporting publishes: national facts only (the survey's cells, an approval).

use cplds_proto::v1::{self as pb, event_envelope::Payload};

use crate::domain::Line;

pub fn survey_submitted(year: i32, version: u32, lines: &[Line]) -> Payload {
    Payload::MldsSurveySubmitted(pb::MldsSurveySubmitted {
        year,
        version,
        rows: lines
            .iter()
            .map(|l| pb::MldsSurveyRow {
                action_kind: l.action_kind.into(),
                sex: l.sex.to_pb(),
                age_band: l.age_band.into(),
                outcome: l.outcome.into(),
                young_people: l.young_people,
            })
            .collect(),
    })
}

pub fn figures_approved(year: i32, remarks: String) -> Payload {
    Payload::FiguresApproved(pb::FiguresApproved { year, remarks })
}
