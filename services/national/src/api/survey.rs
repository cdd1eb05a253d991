//! The MLDS annual survey consolidated: the latest version of each académie's, in a scope, and
//! the académies that have not sent one.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::ACADEMIES,
    auth::Caller,
    error::{ServiceError, ServiceResult},
};

use super::{Inner, convert};
use crate::store;

impl Inner {
    pub(super) async fn survey(
        &self,
        _caller: Caller,
        r: pb::GetMldsSurveyRequest,
    ) -> ServiceResult<pb::MldsSurvey> {
        let scope =
            convert::scope(r.scope.as_ref()).map_err(|e| ServiceError::invalid("scope", e))?;
        let wanted = scope.academies();
        let latest = store::latest_surveys(&self.core.db, r.year).await?;
        let cells: Vec<pb::MldsSurveyCell> = latest
            .iter()
            .filter(|(academy, _)| wanted.as_ref().is_none_or(|w| w.contains(academy)))
            .flat_map(|(academy, rows)| {
                rows.iter().map(move |row| pb::MldsSurveyCell {
                    academy: academy.clone(),
                    action_kind: row.action_kind.clone(),
                    sex: row.sex.to_pb(),
                    age_band: row.age_band.clone(),
                    outcome: row.outcome.clone(),
                    young_people: row.young_people,
                })
            })
            .collect();
        let expected: Vec<String> =
            wanted.unwrap_or_else(|| ACADEMIES.iter().map(|a| a.code.to_owned()).collect());
        Ok(pb::MldsSurvey {
            year: r.year,
            scope: Some(convert::scope_pb(&scope)),
            young_people: cells.iter().map(|c| c.young_people).sum(),
            cells,
            missing: expected
                .into_iter()
                .filter(|a| !latest.contains_key(a))
                .collect(),
        })
    }
}
