//! The MLDS annual survey consolidated: the latest version of each académie's, in a scope, and
//! the académies that have not sent one. The headcount is the académies' headcounts added up
//! (a young person is accompanied by one académie); actions and outcomes are totals by category
//! and sex beside it, never added to it.

use std::collections::BTreeMap;

use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::ACADEMIES,
    auth::Caller,
    error::{ServiceError, ServiceResult},
};

use super::{Inner, convert};
use crate::store::{self, survey_row};

/// Counts by (part, category, sex): one académie's, or a scope's added up.
#[derive(Default)]
struct Counts(BTreeMap<(String, String, i32), i64>);

impl Counts {
    fn add(&mut self, row: &survey_row::Model) {
        let category = match row.part.as_str() {
            "headcount" => &row.age_band,
            "action" => &row.action_kind,
            _ => &row.outcome,
        };
        *self
            .0
            .entry((row.part.clone(), category.clone(), row.sex.to_pb()))
            .or_default() += row.young_people;
    }

    fn part(&self, part: &str) -> impl Iterator<Item = (&str, i32, u32)> {
        self.0
            .iter()
            .filter(move |((p, _, _), _)| p == part)
            .map(|((_, c, sex), n)| (c.as_str(), *sex, u32::try_from(*n).unwrap_or(u32::MAX)))
    }

    fn young_people(&self) -> i64 {
        self.0
            .iter()
            .filter(|((p, _, _), _)| p == "headcount")
            .map(|(_, n)| n)
            .sum()
    }

    fn headcount(&self) -> Vec<pb::MldsHeadcount> {
        self.part("headcount")
            .map(|(age_band, sex, young_people)| pb::MldsHeadcount {
                sex,
                age_band: age_band.into(),
                young_people,
            })
            .collect()
    }

    fn actions(&self) -> Vec<pb::MldsActionCount> {
        self.part("action")
            .map(|(action_type, sex, young_people)| pb::MldsActionCount {
                action_type: action_type.into(),
                sex,
                young_people,
            })
            .collect()
    }

    fn outcomes(&self) -> Vec<pb::MldsOutcomeCount> {
        self.part("outcome")
            .map(|(outcome, sex, young_people)| pb::MldsOutcomeCount {
                outcome: outcome.into(),
                sex,
                young_people,
            })
            .collect()
    }
}

impl Inner {
    pub(super) async fn survey(
        &self,
        _caller: Caller,
        r: pb::GetMldsSurveyRequest,
    ) -> ServiceResult<pb::MldsSurvey> {
        let scope =
            convert::scope(r.scope.as_ref()).map_err(|e| ServiceError::invalid("scope", e))?;
        let wanted = scope.academies();
        let latest = store::survey::latest(&self.core.db, r.year).await?;
        let mut total = Counts::default();
        let mut academies = Vec::new();
        let mut cells = Vec::new();
        let mut outdated = Vec::new();
        for (academy, (version, rows)) in latest
            .iter()
            .filter(|(academy, _)| wanted.as_ref().is_none_or(|w| w.contains(academy)))
        {
            let (former, current): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.part == "cell");
            if !former.is_empty() {
                outdated.push(academy.clone());
                cells.extend(former.into_iter().map(|row| pb::MldsSurveyCell {
                    academy: academy.clone(),
                    action_kind: row.action_kind.clone(),
                    sex: row.sex.to_pb(),
                    age_band: row.age_band.clone(),
                    outcome: row.outcome.clone(),
                    young_people: row.young_people,
                }));
                continue;
            }
            let mut own = Counts::default();
            for row in current {
                own.add(row);
                total.add(row);
            }
            academies.push(pb::MldsAcademySurvey {
                academy: academy.clone(),
                version: *version as u32,
                young_people: own.young_people(),
                headcount: own.headcount(),
                actions: own.actions(),
                outcomes: own.outcomes(),
            });
        }
        let expected: Vec<String> =
            wanted.unwrap_or_else(|| ACADEMIES.iter().map(|a| a.code.to_owned()).collect());
        Ok(pb::MldsSurvey {
            year: r.year,
            scope: Some(convert::scope_pb(&scope)),
            young_people: total.young_people(),
            cells,
            missing: expected
                .into_iter()
                .filter(|a| !latest.contains_key(a))
                .collect(),
            headcount: total.headcount(),
            actions: total.actions(),
            outcomes: total.outcomes(),
            academies,
            outdated,
        })
    }
}
