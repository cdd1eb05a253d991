//! Candidacies: submitted online by the candidate or entered by the exam office (post, e-mail),
//! read by their candidate and the staff, listed and counted for the office and the recteur.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Paging, new_id},
};

use super::{Inner, access, act, campaign_subject, convert, duplicate, parse_candidacy_id};
use crate::{
    domain::{campaign as rules, candidate::Department, eligibility},
    events,
    store::{self, CandidacyFilter, Lock, NewCandidacy},
};

impl Inner {
    pub(super) async fn submit(
        &self,
        caller: Caller,
        req: pb::SubmitCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let now = self.core.now();
        let mut v = Violations::default();
        let candidate = convert::candidate(req.candidate.as_ref(), self.academy, now, &mut v);
        let channel = convert::channel(&req, now, &mut v);
        let (candidate, channel) = v.finish_with((candidate, channel))?;
        access::ensure_may_submit(&caller, &candidate, channel)?;

        let mut uow = self.core.begin().await?;
        let campaign = self
            .campaign_locked(uow.txn(), req.year, Lock::Shared)
            .await?;
        let year = campaign.year;
        let effective =
            rules::can_submit(&campaign.facts(), channel, uow.now()).on(campaign_subject(year))?;
        let staff_number = candidate.staff_number.as_str();
        if let Some(existing) = store::live_candidacy_of(uow.txn(), year, staff_number).await? {
            return Err(ServiceError::AlreadyExists(format!(
                "staff number {staff_number} already has a live candidacy for {year} ({})",
                existing.id
            )));
        }
        let eligibility = eligibility::evaluate(
            candidate.sector,
            candidate.status,
            candidate.function,
            candidate.corps,
        );
        let new = NewCandidacy {
            id: new_id(),
            year,
            candidate: &candidate,
            candidate_key: self.pseudonymizer.candidate_key(staff_number),
            eligibility: &eligibility,
            channel,
            effective_at: effective,
            submitted_by: &caller.subject,
            at: uow.now(),
        };
        let row = store::insert_candidacy(uow.txn(), new).await.map_err(|e| {
            duplicate(e, || {
                format!("staff number {staff_number} already has a live candidacy for {year}")
            })
        })?;
        let detail = format!("channel {}", channel.kind());
        uow.record(act(&row.id, &caller, "submitted", Some(detail)))
            .await?;
        uow.emit(events::submitted(&row)).await?;
        uow.commit().await?;
        self.render(&self.core.db, &row).await
    }

    pub(super) async fn get(
        &self,
        caller: Caller,
        req: pb::GetCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let id = parse_candidacy_id(&req.candidacy_id)?;
        let c = self.candidacy(&self.core.db, &id).await?;
        access::ensure_own(&caller, &c)?;
        self.render(&self.core.db, &c).await
    }

    pub(super) async fn list(
        &self,
        _caller: Caller,
        req: pb::ListCandidaciesRequest,
    ) -> ServiceResult<pb::ListCandidaciesResponse> {
        let mut v = Violations::default();
        let status = v.check("status", convert::optional(req.status, "status"));
        let department = if req.department.trim().is_empty() {
            Some(None)
        } else {
            v.check(
                "department",
                Department::parse(&req.department, self.academy).map(Some),
            )
        };
        let filter = match (status, department) {
            (Some(status), Some(department)) => Some(CandidacyFilter {
                year: req.year,
                status,
                department,
            }),
            _ => None,
        };
        // A token is bound to the filters it came with: with bad filters, none to check it by.
        let (scope, token) = match &filter {
            Some(f) => (f.scope(), req.page_token.as_str()),
            None => (String::new(), ""),
        };
        let paging = Paging::parse(&mut v, scope, req.page_size, token);
        let (filter, paging) = v.finish_with((filter, paging))?;

        let db = &self.core.db;
        self.campaign(db, req.year).await?;
        let mut rows =
            store::list_candidacies(db, &filter, paging.after.as_deref(), paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |c| c.id.clone());
        let total_size = store::count_candidacies(db, &filter).await? as i64;
        let mut candidacies = Vec::with_capacity(rows.len());
        for r in &rows {
            candidacies.push(self.render(db, r).await?);
        }
        Ok(pb::ListCandidaciesResponse {
            candidacies,
            next_page_token,
            total_size,
        })
    }

    pub(super) async fn count(
        &self,
        _caller: Caller,
        req: pb::CountCandidaciesRequest,
    ) -> ServiceResult<pb::CountCandidaciesResponse> {
        let db = &self.core.db;
        self.campaign(db, req.year).await?;
        let rows = store::status_counts(db, req.year).await?;
        Ok(convert::counts_pb(&rows))
    }
}
