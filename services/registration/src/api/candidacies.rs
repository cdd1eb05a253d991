//! Candidacies: submitted online by the candidate or entered by the exam office (post, e-mail),
//! read by their candidate and the staff, listed and counted for the office and the recteur.
//! One received after the window closed is recorded as inadmissible and answered as such.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Listing, Paging, listing, new_id},
};

use super::{Inner, OFFICE, STAFF_READERS, act, campaign_subject, convert, parse_candidacy_id};
use crate::{
    NAME,
    domain::{
        access::{self, AccountRefusal, AccountYear, Acting},
        campaign::{self as rules, Reception},
        candidate::Department,
        eligibility,
    },
    events,
    store::{self, CandidacyFilter, NewCandidacy},
};

/// One live candidacy per account and year, and a bounded number of them.
fn may_open(
    acting: &Acting<'_>,
    year: i32,
    account: &str,
    o: &store::Opening,
) -> ServiceResult<()> {
    let account_year = AccountYear {
        opened: o.opened,
        live: o.live_of_account.as_deref(),
    };
    access::may_open(acting, account, year, &account_year).map_err(|r| match r {
        AccountRefusal::Live(why) => ServiceError::AlreadyExists(why),
        AccountRefusal::Rule(rule) => rule.on(campaign_subject(year)),
    })
}

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
        let acting = access::acting(&caller, OFFICE)?;
        acting.may_submit(&candidate, channel)?;
        // What needs no database is done before the transaction: a connection held while this
        // task waits for the CPU is a connection (on SQLite, the only one) nobody else can use.
        let staff_number = candidate.staff_number.as_str();
        let candidate_key = self.pseudonymizer.candidate_key(staff_number);
        let eligibility = eligibility::evaluate(
            candidate.sector,
            candidate.status,
            candidate.function,
            candidate.corps,
        );
        let id = new_id();

        let counters =
            store::OpeningCounters::new(req.year, candidate.email.as_str(), &candidate_key);

        let mut uow = self.core.begin().await?;
        // The account's and the staff number's acts of the year are locked from here on.
        let (campaign, opening) = store::opening(uow.txn(), req.year, &counters, staff_number)
            .await?
            .ok_or_else(|| self.no_campaign(req.year))?;
        let year = campaign.year;
        let reception =
            rules::can_submit(&campaign.facts(), channel, uow.now()).on(campaign_subject(year))?;
        may_open(&acting, year, candidate.email.as_str(), &opening)?;
        let holds_staff_number = opening.claims.holder().is_none();
        let (effective_at, late) = match reception {
            Reception::InTime(at) => (at, None),
            Reception::Late(late) => (late.received_at, Some(late)),
        };
        let new = NewCandidacy {
            id,
            year,
            candidate: &candidate,
            candidate_key,
            eligibility: &eligibility,
            channel,
            effective_at,
            submitted_by: &caller.subject,
            at: uow.now(),
            inadmissible: late.map(|l| (l.explanation(), NAME)),
        };
        let row = store::new_candidacy(new)?;
        uow.insert(row.clone()).await?;
        let detail = format!("channel {}", channel.kind());
        uow.record(act(&row.id, &caller, "submitted", Some(detail)))
            .await?;
        match late {
            Some(late) => {
                uow.record(act(
                    &row.id,
                    &caller,
                    "inadmissible",
                    Some(late.explanation()),
                ))
                .await?;
                uow.emit(events::inadmissible(&row, &late)).await?;
            }
            None => {
                uow.emit(events::submitted(&row, holds_staff_number))
                    .await?
            }
        }
        uow.commit().await?;
        // A new candidacy has no documents, and its rivals are the claims read above (what its
        // transaction saw): no query after the commit.
        let rivals = match acting {
            Acting::Staff(_) if row.status.is_live() => opening.claims.rivals_of(&row.id),
            _ => Vec::new(),
        };
        convert::candidacy_pb(self.academy.code, &row, &[], rivals)
    }

    pub(super) async fn get(
        &self,
        caller: Caller,
        req: pb::GetCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let id = parse_candidacy_id(&req.candidacy_id)?;
        let acting = access::acting(&caller, STAFF_READERS)?;
        let c = self.candidacy(&self.core.db, &id).await?;
        acting.may_see(&c.id, &c.email)?;
        self.render(&self.core.db, &c, &acting).await
    }

    pub(super) async fn list(
        &self,
        caller: Caller,
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
        let acting = access::acting(&caller, STAFF_READERS)?;

        let db = &self.core.db;
        self.campaign(db, req.year).await?;
        let mut rows = listing::list(db, &filter, paging.after.as_deref(), paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |c| c.id.clone());
        let total_size = listing::count(db, &filter).await? as i64;
        let mut candidacies = Vec::with_capacity(rows.len());
        for r in &rows {
            candidacies.push(self.render(db, r, &acting).await?);
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
