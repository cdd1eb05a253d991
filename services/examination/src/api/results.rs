//! After the deliberation: publication of the results, results, appeals and the session
//! statistics.

use cplds_proto::v1 as pb;
use cplds_runtime::kit::Found;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violation, Violations},
    kit::Unique,
    kit::{Decided, Paging, parse_id},
    time::to_timestamp,
};
use sea_orm::ConnectionTrait;

use super::{Inner, convert, ensure_deliberated, id_field, state};
use crate::{
    domain::{
        access::Capacity,
        appeal::{self as appeal_rules, AppealStatus},
        decision::{Decision, Outcome, Reason},
        mark::PartResult,
        people::parse_text,
        session::{self as session_rules, appeal_deadline, can_appeal},
        statistics,
    },
    events,
    store::{self, Change, MarkAct, StoredDecision, candidate, decision, session},
};

/// An appeal's decision: the outcome, its text, and the marks an upheld appeal revises.
struct AppealDecision {
    id: String,
    outcome: AppealStatus,
    text: String,
    part_1: Option<PartResult>,
    part_2: Option<PartResult>,
}

fn parse_appeal_decision(req: &pb::DecideAppealRequest) -> ServiceResult<AppealDecision> {
    let mut v = Violations::default();
    let id = v.check("appeal_id", parse_id(&req.appeal_id));
    let outcome = v.check("outcome", convert::appeal_outcome(req.outcome));
    let text = v.check("decision_text", parse_text(&req.decision_text, 2000, true));
    let mut revision = |field: &str, r: &Option<pb::RevisedMark>| match r {
        None => Some(None),
        Some(r) => v.check(
            &format!("{field}.mark"),
            PartResult::parse(&r.mark, r.absent).map(Some),
        ),
    };
    let p1 = revision("part_1", &req.part_1);
    let p2 = revision("part_2", &req.part_2);
    if outcome == Some(AppealStatus::Dismissed) {
        for (field, given) in [
            ("part_1", req.part_1.is_some()),
            ("part_2", req.part_2.is_some()),
        ] {
            if given {
                v.add(field, "only an upheld appeal revises marks");
            }
        }
    }
    let (id, outcome, text, part_1, part_2) = v.finish_with((id, outcome, text, p1, p2))?;
    Ok(AppealDecision {
        id,
        outcome,
        text,
        part_1,
        part_2,
    })
}

/// The decision after an upheld appeal, or INVALID_ARGUMENT on both marks when it revises none.
fn revised(before: &Decision, d: &AppealDecision) -> ServiceResult<Decision> {
    appeal_rules::revise(before, d.part_1, d.part_2).map_err(|e| {
        ServiceError::InvalidArgument(
            ["part_1", "part_2"]
                .map(|field| Violation {
                    field: field.into(),
                    description: e.clone(),
                })
                .into(),
        )
    })
}

impl Inner {
    /// The stored decisions of a deliberated session with their candidates.
    async fn decided<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
    ) -> ServiceResult<Vec<(candidate::Model, Decision)>> {
        let rows = store::decisions_of_session(db, &s.id).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.candidacy_id.clone()).collect();
        let candidates = store::candidates_by_ids(db, &ids).await?;
        rows.iter()
            .map(|r| {
                let c = candidates
                    .iter()
                    .find(|c| c.candidacy_id == r.candidacy_id)
                    .cloned()
                    .ok_or_else(|| {
                        ServiceError::internal(format!(
                            "decision without candidate {}",
                            r.candidacy_id
                        ))
                    })?;
                Ok((c, store::decision_of(r)))
            })
            .collect()
    }

    /// A candidate's decision, which exists once the deliberation closed.
    async fn decision_of<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
        candidacy_id: &str,
    ) -> ServiceResult<decision::Model> {
        session_rules::decided(store::decision(db, candidacy_id).await?)
            .on(format!("session/{}", s.id))
    }

    pub(super) async fn publish_results(
        &self,
        caller: Caller,
        req: pb::PublishResultsRequest,
    ) -> ServiceResult<pb::PublishResultsResponse> {
        let id = id_field("session_id", &req.session_id)?;
        let mut uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &id).await?;
        ensure_deliberated(&s)?;
        let decided = self.decided(uow.txn(), &s).await?;
        let admitted = decided
            .iter()
            .filter(|(_, d)| d.outcome == Outcome::Admitted)
            .count() as i64;
        let response = |s: &session::Model, newly| pb::PublishResultsResponse {
            session: Some(convert::session_pb(self.academy.code, s)),
            candidates: decided.len() as i64,
            admitted,
            newly_published: newly,
        };
        if s.results_published_at.is_some() {
            // Publishing again is harmless: nothing changes, nothing is sent twice.
            return Ok(response(&s, false));
        }
        let now = uow.now();
        let s = store::publish_session(uow.txn(), s, &caller.subject, now).await?;
        uow.emit(events::results_published(&s, &decided, now))
            .await?;
        uow.commit().await?;
        tracing::info!(session = %s.id, candidates = decided.len(), admitted, by = %caller.log_id(), "results published");
        Ok(response(&s, true))
    }

    async fn result_pb<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
        c: &candidate::Model,
        d: &decision::Model,
    ) -> ServiceResult<pb::ExamResult> {
        let appeals = store::appeals_of_candidate(db, &c.candidacy_id).await?;
        Ok(pb::ExamResult {
            session_id: s.id.clone(),
            year: s.year,
            decision: Some(convert::candidate_decision_pb(c, &store::decision_of(d))),
            publish_time: s.results_published_at.map(to_timestamp),
            appeal_deadline: s
                .results_published_at
                .map(|p| to_timestamp(appeal_deadline(p, s.appeal_window_days as u32))),
            appeals: appeals
                .iter()
                .map(convert::appeal_pb)
                .collect::<ServiceResult<_>>()?,
        })
    }

    pub(super) async fn get_result(
        &self,
        caller: Caller,
        req: pb::GetExamResultRequest,
    ) -> ServiceResult<pb::ExamResult> {
        let id = id_field("candidacy_id", &req.candidacy_id)?;
        let db = &self.core.db;
        let c = self.candidate(db, &id).await?;
        let capacity = self.reach(db, &caller, &c, "GetExamResult").await?;
        let s = self.session_of(db, &c).await?;
        if capacity != Capacity::Office {
            session_rules::ensure_published(state(&s)).on(format!("candidacy/{id}"))?;
        }
        let d = self.decision_of(db, &s, &id).await?;
        self.result_pb(db, &s, &c, &d).await
    }

    pub(super) async fn list_results(
        &self,
        _caller: Caller,
        req: pb::ListExamResultsRequest,
    ) -> ServiceResult<pb::ListExamResultsResponse> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let p = Paging::parse(
            &mut v,
            format!("results;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (id, p) = v.finish_with((id, p))?;
        let db = &self.core.db;
        let s = self.session(db, &id).await?;
        ensure_deliberated(&s)?;
        let mut rows = store::decisions_page(db, &s.id, &p).await?;
        let next_page_token = p.finish(&mut rows, |d| d.candidacy_id.clone());
        let mut results = Vec::with_capacity(rows.len());
        for d in &rows {
            let c = self.candidate(db, &d.candidacy_id).await?;
            results.push(self.result_pb(db, &s, &c, d).await?);
        }
        Ok(pb::ListExamResultsResponse {
            results,
            next_page_token,
        })
    }

    // ---- appeals -----------------------------------------------------------------------

    pub(super) async fn file_appeal(
        &self,
        caller: Caller,
        req: pb::FileAppealRequest,
    ) -> ServiceResult<pb::ExamAppeal> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let grounds = v.check("grounds", parse_text(&req.grounds, 2000, true));
        let (id, grounds) = v.finish_with((id, grounds))?;
        let subject = format!("candidacy/{id}");
        let uow = self.core.begin().await?;
        let c = self.candidate(uow.txn(), &id).await?;
        self.reach(uow.txn(), &caller, &c, "FileAppeal").await?;
        let s = self.session_of(uow.txn(), &c).await?;
        let s = self.session_locked(uow.txn(), &s.id).await?;
        can_appeal(
            s.results_published_at,
            s.appeal_window_days as u32,
            uow.now(),
        )
        .on(&subject)?;
        let decision = store::decision_of(&self.decision_of(uow.txn(), &s, &id).await?);
        let pending = store::appeals_of_candidate(uow.txn(), &id)
            .await?
            .iter()
            .any(|a| a.status == AppealStatus::Pending);
        appeal_rules::can_file(pending, decision.reason == Some(Reason::Withdrawn)).on(&subject)?;
        let filed = store::Filed {
            session_id: &s.id,
            candidate: &c,
            grounds,
            by: &caller.subject,
            at: uow.now(),
            before: &decision,
        };
        // Another appeal filed at the same time: the index keeps one pending.
        let row = store::insert_appeal(uow.txn(), filed)
            .await
            .unless_taken(|| appeal_rules::already_pending().on(&subject))?;
        uow.commit().await?;
        tracing::info!(candidacy = %id, appeal = %row.id, "appeal filed");
        convert::appeal_pb(&row)
    }

    pub(super) async fn decide_appeal(
        &self,
        caller: Caller,
        req: pb::DecideAppealRequest,
    ) -> ServiceResult<pb::ExamAppeal> {
        let decided = parse_appeal_decision(&req)?;
        let upheld = decided.outcome == AppealStatus::Upheld;
        let mut uow = self.core.begin().await?;
        let a = store::appeal(uow.txn(), &decided.id)
            .await
            .found("appeal", &decided.id)?;
        let s = self.session_locked(uow.txn(), &a.session_id).await?;
        appeal_rules::can_decide(a.status).on(format!("appeal/{}", decided.id))?;
        let c = self.candidate(uow.txn(), &a.candidacy_id).await?;
        let d = self.decision_of(uow.txn(), &s, &c.candidacy_id).await?;
        let before = store::decision_of(&d);
        let after = if upheld {
            revised(&before, &decided)?
        } else {
            before
        };
        let now = uow.now();
        if upheld {
            for r in appeal_rules::revisions(&before, &after) {
                let act = MarkAct {
                    session_id: &s.id,
                    candidacy_id: &c.candidacy_id,
                    part: r.part,
                    actor: &caller.subject,
                    at: now,
                };
                let change = Change {
                    action: "revised_on_appeal",
                    previous: r.was,
                    value: r.now,
                    reason: Some(decided.text.clone()),
                };
                uow.insert(store::change_row(&act, change)).await?;
            }
            store::revise_decision(uow.txn(), d, &after, &a.id, now).await?;
        }
        let row = store::decide_appeal(
            uow.txn(),
            a,
            decided.outcome,
            decided.text,
            StoredDecision::new(&c, &after),
            &caller.subject,
            now,
        )
        .await?;
        uow.emit(events::appeal_decided(&s, &c, upheld, &after))
            .await?;
        uow.commit().await?;
        tracing::info!(appeal = %row.id, outcome = %decided.outcome, by = %caller.log_id(), "appeal decided");
        convert::appeal_pb(&row)
    }

    pub(super) async fn list_appeals(
        &self,
        _caller: Caller,
        req: pb::ListAppealsRequest,
    ) -> ServiceResult<pb::ListAppealsResponse> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let p = Paging::parse(
            &mut v,
            format!("appeals;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (id, p) = v.finish_with((id, p))?;
        let db = &self.core.db;
        self.session(db, &id).await?;
        let mut rows = store::appeals_page(db, &id, &p).await?;
        let next_page_token = p.finish(&mut rows, |a| a.id.clone());
        Ok(pb::ListAppealsResponse {
            appeals: rows
                .iter()
                .map(convert::appeal_pb)
                .collect::<ServiceResult<_>>()?,
            next_page_token,
        })
    }

    // ---- statistics --------------------------------------------------------------------

    pub(super) async fn statistics(
        &self,
        _caller: Caller,
        req: pb::GetExamStatisticsRequest,
    ) -> ServiceResult<pb::ExamStatistics> {
        let id = id_field("session_id", &req.session_id)?;
        let s = self.session(&self.core.db, &id).await?;
        ensure_deliberated(&s)?;
        let decisions: Vec<Decision> = store::decisions_of_session(&self.core.db, &s.id)
            .await?
            .iter()
            .map(store::decision_of)
            .collect();
        Ok(convert::statistics_pb(&s, &statistics::compute(&decisions)))
    }
}
