//! Each académie's approval of its figures for a year, with what happened to it (approved,
//! reopened by a later fact), and the académies with figures but no approval.

use cplds_proto::v1 as pb;
use cplds_runtime::{auth::Caller, error::ServiceResult, kit::history, time::to_timestamp};

use super::Inner;
use crate::store::{self, approval};

impl Inner {
    pub(super) async fn approvals(
        &self,
        _caller: Caller,
        r: pb::ListApprovalsRequest,
    ) -> ServiceResult<pb::ListApprovalsResponse> {
        let db = &self.core.db;
        let rows = store::approvals(db, r.year).await?;
        let mut approvals = Vec::with_capacity(rows.len());
        for a in &rows {
            let history = store::approval_history(db, &a.academy, r.year).await?;
            approvals.push(approval_pb(a, &history));
        }
        let not_approved = store::academies_with_data(db, r.year)
            .await?
            .into_iter()
            .filter(|a| !rows.iter().any(|r| &r.academy == a && r.approved))
            .collect();
        Ok(pb::ListApprovalsResponse {
            approvals,
            not_approved,
        })
    }
}

fn approval_pb(a: &approval::Model, history: &[history::Entry]) -> pb::Approval {
    pb::Approval {
        academy: a.academy.clone(),
        year: a.year,
        approved: a.approved,
        approved_at: a.approved_at.map(to_timestamp),
        remarks: a.remarks.clone(),
        history: history
            .iter()
            .map(|h| pb::ApprovalEntry {
                at: Some(to_timestamp(h.at)),
                action: h.action.clone(),
                detail: h.detail.clone().unwrap_or_default(),
            })
            .collect(),
    }
}
