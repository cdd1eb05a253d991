//! Past sessions imported for the national series: parse the file (every bad row named),
//! pseudonymise each staff number here, and send nationally, in one unit of work, the candidates
//! new or changed since an earlier import.

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    time::paris_year,
};

use super::Inner;
use crate::{
    domain::past::{self, PastCandidate},
    events, store,
};

impl Inner {
    pub(super) async fn import_past(
        &self,
        _caller: Caller,
        r: pb::ImportPastSessionRequest,
    ) -> ServiceResult<pb::ImportPastSessionResponse> {
        let mut v = Violations::default();
        let this_year = paris_year(self.core.now());
        if !(2017..=this_year).contains(&r.year) {
            v.add(
                "year",
                format!("must be a past session, from 2017 (the first) to {this_year}"),
            );
        }
        let rows = past::parse(&r.csv)
            .map_err(|errors| {
                for (field, e) in errors {
                    v.add(field, e);
                }
            })
            .ok();
        let rows = v.finish_with(rows)?;

        let mut uow = self.core.begin().await?;
        if store::session_of_year(uow.txn(), r.year).await?.is_some() {
            return Err(ServiceError::invalid(
                "year",
                format!(
                    "the session {} is run on this node: its results come from it",
                    r.year
                ),
            ));
        }
        let known = store::past_digests(uow.txn(), r.year).await?;
        let now = uow.now();
        let mut facts = Vec::new();
        for row in &rows {
            let key = self.pseudonymizer.candidate_key(&row.staff_number);
            let digest = row.digest();
            if known.get(&key) == Some(&digest) {
                continue;
            }
            store::save_past(uow.txn(), r.year, &key, &digest, now).await?;
            facts.push(past_candidate(r.year, key, row));
        }
        let imported = facts.len() as u32;
        uow.emit(facts).await?;
        uow.commit().await?;
        Ok(pb::ImportPastSessionResponse {
            year: r.year,
            candidates: rows.len() as u32,
            imported,
            unchanged: rows.len() as u32 - imported,
        })
    }
}

fn past_candidate(year: i32, candidate_key: String, row: &PastCandidate) -> Payload {
    let name = |prefix: &str, value: &str| format!("{prefix}_{}", value.to_ascii_uppercase());
    let profile = pb::CandidateProfile {
        sex: pb::Sex::from_str_name(&name("SEX", row.sex)).map_or(0, |v| v as i32),
        department: row.department.clone(),
        staff_category: pb::StaffCategory::from_str_name(&name(
            "STAFF_CATEGORY",
            row.staff_category,
        ))
        .map_or(0, |v| v as i32),
        workplace_type: pb::WorkplaceType::from_str_name(&name(
            "WORKPLACE_TYPE",
            row.workplace_type,
        ))
        .map_or(0, |v| v as i32),
        runs_mlds_actions: row.mlds_actions,
        is_dropout_referent: row.dropout_referent,
    };
    let d = row.decision;
    Payload::NationalPastCandidate(pb::NationalPastCandidate {
        year,
        candidate_key,
        profile: Some(profile),
        status: row.status.to_owned(),
        was_admitted_to_sit: row.was_admitted_to_sit(),
        part_1: d.and_then(|d| events::part(d.part_1)),
        part_2: d.and_then(|d| events::part(d.part_2)),
        outcome: d.map(|d| d.outcome.as_str().to_owned()).unwrap_or_default(),
        reason: d
            .and_then(|d| d.reason.map(|r| r.as_str().to_owned()))
            .unwrap_or_default(),
    })
}
