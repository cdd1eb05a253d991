//! Candidates (as learnt from registration), the yearly session and its jury president.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::Unique,
    kit::{Act, Paging, new_id, parse_id},
    time::to_timestamp,
};
use sea_orm::ConnectionTrait;

use super::{Inner, capacities, convert, ensure_open, id_field};
use crate::{
    domain::{
        access,
        schedule::{self, ExamPart},
        session::{self as session_rules, Period, PeriodError},
    },
    events,
    store::{self, candidate, session},
};

/// The fields of a new session, every bad one named.
fn parse_session(
    req: &pb::CreateExamSessionRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> ServiceResult<(i32, Period, u32)> {
    let mut v = Violations::default();
    let year = v.check("year", session_rules::parse_year(req.year, now));
    let period = Period::parse(&req.starts_on, &req.ends_on, req.year)
        .map_err(|errors| {
            for e in errors {
                match e {
                    PeriodError::StartsOn(m) => v.add("starts_on", m),
                    PeriodError::EndsOn(m) => v.add("ends_on", m),
                }
            }
        })
        .ok();
    let window = v.check(
        "appeal_window_days",
        session_rules::parse_appeal_window(req.appeal_window_days),
    );
    v.finish_with((year, period, window))
}

impl Inner {
    // ---- candidates --------------------------------------------------------------------

    async fn candidate_pb<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidate::Model,
    ) -> ServiceResult<pb::ExamCandidate> {
        let assignment = store::assignment(db, &c.candidacy_id).await?;
        let latest = store::latest_convocation(db, &c.candidacy_id).await?;
        let slots = store::slots_of_candidate(db, &c.candidacy_id).await?;
        let outdated = c.withdrawn_at.is_none()
            && slots.len() == ExamPart::ALL.len()
            && latest.as_ref().is_none_or(|l| {
                l.schedule_fingerprint != schedule::fingerprint(store::shown(&slots))
            });
        Ok(pb::ExamCandidate {
            candidacy_id: c.candidacy_id.clone(),
            year: c.year,
            last_name: c.last_name.clone(),
            first_name: c.first_name.clone(),
            email: c.email.clone(),
            workplace_uai: c.workplace_uai.clone(),
            department: c.department.clone(),
            withdrawn: c.withdrawn_at.is_some(),
            withdraw_time: c.withdrawn_at.map(to_timestamp),
            board_id: assignment.map(|a| a.board_id).unwrap_or_default(),
            convocation_version: latest.map_or(0, |l| l.version as u32),
            convocation_outdated: outdated,
            list_time: Some(to_timestamp(c.listed_at)),
        })
    }

    /// The office lists every candidate; a board member those of the boards they sit on.
    pub(super) async fn list_candidates(
        &self,
        caller: Caller,
        req: pb::ListExamCandidatesRequest,
    ) -> ServiceResult<pb::ListExamCandidatesResponse> {
        let mut v = Violations::default();
        let p = Paging::parse(
            &mut v,
            format!("candidates;{}", req.year),
            req.page_size,
            &req.page_token,
        );
        let p = v.finish_with(p)?;
        let db = &self.core.db;
        let only = if access::sees_all(&capacities(&caller, "ListExamCandidates")) {
            None
        } else {
            let boards = self.my_boards(db, &caller, None).await?;
            Some(
                store::assignments_of_boards(db, &boards)
                    .await?
                    .into_iter()
                    .map(|a| a.candidacy_id)
                    .collect::<Vec<_>>(),
            )
        };
        let mut rows = store::candidates_page(db, req.year, only.as_deref(), &p).await?;
        let next_page_token = p.finish(&mut rows, |c| c.candidacy_id.clone());
        let mut candidates = Vec::with_capacity(rows.len());
        for c in &rows {
            candidates.push(self.candidate_pb(db, c).await?);
        }
        Ok(pb::ListExamCandidatesResponse {
            candidates,
            next_page_token,
        })
    }

    pub(super) async fn get_candidate(
        &self,
        caller: Caller,
        req: pb::GetExamCandidateRequest,
    ) -> ServiceResult<pb::ExamCandidate> {
        let id = id_field("candidacy_id", &req.candidacy_id)?;
        let c = self.candidate(&self.core.db, &id).await?;
        self.reach(&self.core.db, &caller, &c, "GetExamCandidate")
            .await?;
        self.candidate_pb(&self.core.db, &c).await
    }

    // ---- sessions ----------------------------------------------------------------------

    pub(super) async fn create_session(
        &self,
        caller: Caller,
        req: pb::CreateExamSessionRequest,
    ) -> ServiceResult<pb::ExamSession> {
        let (year, period, window) = parse_session(&req, self.core.now())?;
        let exists = || {
            ServiceError::AlreadyExists(format!(
                "the {year} exam session of académie {} already exists",
                self.academy.code
            ))
        };
        let mut uow = self.core.begin().await?;
        if store::session_of_year(uow.txn(), year).await?.is_some() {
            return Err(exists());
        }
        let now = uow.now();
        let row = store::insert_session(
            uow.txn(),
            session::Model {
                id: new_id(),
                year,
                starts_on: period.starts_on.to_string(),
                ends_on: period.ends_on.to_string(),
                appeal_window_days: window as i32,
                created_at: now,
                created_by: caller.subject.clone(),
                deliberation_closed_at: None,
                results_published_at: None,
                results_published_by: None,
                updated_at: now,
                jury_president_member_id: None,
            },
        )
        .await
        .unless_taken(exists)?;
        uow.emit([events::session_created(&row)]).await?;
        uow.commit().await?;
        tracing::info!(year, by = %caller.log_id(), "exam session created");
        Ok(convert::session_pb(self.academy.code, &row))
    }

    /// The exam office appoints the jury president among the current members of the session's
    /// boards, until the deliberation.
    pub(super) async fn appoint_jury_president(
        &self,
        caller: Caller,
        req: pb::AppointJuryPresidentRequest,
    ) -> ServiceResult<pb::ExamSession> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let member_id = v.check("member_id", parse_id(&req.member_id));
        let (session_id, member_id) = v.finish_with((session_id, member_id))?;
        let mut uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &session_id).await?;
        ensure_open(&s)?;
        let seat = store::board_member(uow.txn(), &member_id)
            .await?
            .filter(|m| m.session_id == s.id && m.left_at.is_none())
            .ok_or_else(|| {
                ServiceError::not_found(format!(
                    "member {member_id} sitting on a board of session {}",
                    s.id
                ))
            })?;
        let s = store::appoint_jury_president(uow.txn(), s, &seat.id, uow.now()).await?;
        uow.record(Act {
            kind: "session",
            subject: &s.id,
            actor: &caller.subject,
            action: "jury_president_appointed",
            detail: Some(format!("member {}", seat.id)),
        })
        .await?;
        uow.commit().await?;
        tracing::info!(session = %s.id, member = %seat.id, "jury president appointed");
        Ok(convert::session_pb(self.academy.code, &s))
    }

    pub(super) async fn get_session(
        &self,
        _caller: Caller,
        req: pb::GetExamSessionRequest,
    ) -> ServiceResult<pb::ExamSession> {
        let id = id_field("session_id", &req.session_id)?;
        let s = self.session(&self.core.db, &id).await?;
        Ok(convert::session_pb(self.academy.code, &s))
    }

    pub(super) async fn list_sessions(
        &self,
        _caller: Caller,
        req: pb::ListExamSessionsRequest,
    ) -> ServiceResult<pb::ListExamSessionsResponse> {
        let mut v = Violations::default();
        let p = Paging::parse(&mut v, "sessions", req.page_size, &req.page_token);
        let p = v.finish_with(p)?;
        let mut rows = store::sessions_page(&self.core.db, &p).await?;
        let next_page_token = p.finish(&mut rows, |s| s.id.clone());
        Ok(pb::ListExamSessionsResponse {
            sessions: rows
                .iter()
                .map(|s| convert::session_pb(self.academy.code, s))
                .collect(),
            next_page_token,
        })
    }
}
