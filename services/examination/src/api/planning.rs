//! Before the exam: candidates (as learnt from registration), the session, boards and their
//! members' keys, assignments, the schedule and the convocations.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    db::is_unique_violation,
    db::page,
    error::{ServiceError, ServiceResult, Violations},
    time::{format_paris_local, parse_paris_local, to_timestamp},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::{Inner, convert, id_field, is_office, paging, parse_id, rule};
use crate::{
    documents::{self, ConvocationSlot},
    domain::{
        board::{self as board_rules, BoardRole, Member},
        keys,
        people::{parse_email, parse_name, parse_text, parse_uai},
        schedule::{self, Booking, ExamPart, place, timing},
        session::{self as session_rules, Period, PeriodError},
    },
    events,
    store::{
        self, assignment, board, board_member, board_replacement, candidate, convocation, session,
        slot,
    },
};

/// Hex SHA-256 of what a convocation shows (board, épreuve, start, place), in épreuve order.
pub(super) fn schedule_fingerprint(slots: &[slot::Model]) -> String {
    let mut lines: Vec<String> = slots
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}|{}",
                s.exam_part,
                s.board_id,
                s.starts_at.to_rfc3339(),
                s.location
            )
        })
        .collect();
    lines.sort();
    hex::encode(keys::sha256(lines.join("\n").as_bytes()))
}

pub(super) fn member_of_row(m: &board_member::Model) -> Member {
    Member {
        email: m.email.clone(),
        last_name: m.last_name.clone(),
        first_name: m.first_name.clone(),
        workplace_uai: m.workplace_uai.clone(),
        role: BoardRole::parse(&m.role).unwrap_or(BoardRole::Member),
    }
}

/// A new seat on board `b`, no key registered yet.
fn seat_row(b: &board::Model, m: &Member) -> board_member::ActiveModel {
    board_member::Model {
        id: Uuid::now_v7().to_string(),
        board_id: b.id.clone(),
        session_id: b.session_id.clone(),
        email: m.email.clone(),
        last_name: m.last_name.clone(),
        first_name: m.first_name.clone(),
        workplace_uai: m.workplace_uai.clone(),
        role: m.role.as_str().to_owned(),
        public_key: None,
        key_registered_at: None,
        left_at: None,
    }
    .into_active_model()
    .reset_all()
}

/// A member as the exam office describes them, every field checked.
fn parse_member(m: &pb::NewBoardMember) -> Result<Member, Violations> {
    let mut v = Violations::default();
    let email = v.check("email", parse_email(&m.email));
    let last_name = v.check("last_name", parse_name(&m.last_name));
    let first_name = v.check("first_name", parse_name(&m.first_name));
    let uai = if m.workplace_uai.trim().is_empty() {
        Some(None)
    } else {
        v.check("workplace_uai", parse_uai(&m.workplace_uai).map(Some))
    };
    let role = v.check("role", convert::board_role(m.role));
    match (email, last_name, first_name, uai, role) {
        (Some(email), Some(last_name), Some(first_name), Some(workplace_uai), Some(role)) => {
            Ok(Member {
                email,
                last_name,
                first_name,
                workplace_uai,
                role,
            })
        }
        _ => Err(v),
    }
}

fn assignment_pb(a: &assignment::Model) -> pb::BoardAssignment {
    pb::BoardAssignment {
        session_id: a.session_id.clone(),
        board_id: a.board_id.clone(),
        candidacy_id: a.candidacy_id.clone(),
        assign_time: Some(to_timestamp(a.assigned_at)),
        assigned_by: a.assigned_by.clone(),
    }
}

fn period_of(s: &session::Model) -> ServiceResult<Period> {
    Period::from_stored(&s.starts_on, &s.ends_on)
        .ok_or_else(|| ServiceError::internal(format!("session {} has a bad period", s.id)))
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
            && latest
                .as_ref()
                .is_none_or(|l| l.schedule_fingerprint != schedule_fingerprint(&slots));
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

    pub(super) async fn list_candidates(
        &self,
        _caller: Caller,
        req: pb::ListExamCandidatesRequest,
    ) -> ServiceResult<pb::ListExamCandidatesResponse> {
        let mut v = Violations::default();
        let p = paging(
            &mut v,
            format!("candidates;{}", req.year),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let p = p.expect("checked");
        let mut rows = page(
            &self.db,
            candidate::Entity::find().filter(candidate::Column::Year.eq(req.year)),
            candidate::Column::CandidacyId,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |c| c.candidacy_id.clone());
        let mut candidates = Vec::with_capacity(rows.len());
        for c in &rows {
            candidates.push(self.candidate_pb(&self.db, c).await?);
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
        let c = self.candidate(&self.db, &id).await?;
        self.ensure_own(&caller, &c)?;
        self.candidate_pb(&self.db, &c).await
    }

    // ---- sessions ----------------------------------------------------------------------

    pub(super) async fn create_session(
        &self,
        caller: Caller,
        req: pb::CreateExamSessionRequest,
    ) -> ServiceResult<pb::ExamSession> {
        let now = self.now();
        let mut v = Violations::default();
        let year = v.check("year", session_rules::parse_year(req.year, now));
        let period = match Period::parse(&req.starts_on, &req.ends_on, req.year) {
            Ok(p) => Some(p),
            Err(errors) => {
                for e in errors {
                    match e {
                        PeriodError::StartsOn(m) => v.add("starts_on", m),
                        PeriodError::EndsOn(m) => v.add("ends_on", m),
                    }
                }
                None
            }
        };
        let window = v.check(
            "appeal_window_days",
            session_rules::parse_appeal_window(req.appeal_window_days),
        );
        v.finish()?;
        let (year, period, window) = (
            year.expect("checked"),
            period.expect("checked"),
            window.expect("checked"),
        );
        let exists = || {
            ServiceError::AlreadyExists(format!(
                "the {year} exam session of académie {} already exists",
                self.academy.code
            ))
        };
        let txn = self.db.begin().await?;
        if store::session_of_year(&txn, year).await?.is_some() {
            return Err(exists());
        }
        let row = session::Model {
            id: Uuid::now_v7().to_string(),
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
        };
        let row = row
            .into_active_model()
            .reset_all()
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    exists()
                } else {
                    e.into()
                }
            })?;
        self.emit(&txn, [events::session_created(&row)]).await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(year, by = %caller.subject, "exam session created");
        Ok(convert::session_pb(self.academy.code, &row))
    }

    pub(super) async fn get_session(
        &self,
        _caller: Caller,
        req: pb::GetExamSessionRequest,
    ) -> ServiceResult<pb::ExamSession> {
        let id = id_field("session_id", &req.session_id)?;
        let s = self.session(&self.db, &id).await?;
        Ok(convert::session_pb(self.academy.code, &s))
    }

    pub(super) async fn list_sessions(
        &self,
        _caller: Caller,
        req: pb::ListExamSessionsRequest,
    ) -> ServiceResult<pb::ListExamSessionsResponse> {
        let mut v = Violations::default();
        let p = paging(&mut v, "sessions".into(), req.page_size, &req.page_token);
        v.finish()?;
        let p = p.expect("checked");
        let mut rows = page(
            &self.db,
            session::Entity::find(),
            session::Column::Id,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |s| s.id.clone());
        Ok(pb::ListExamSessionsResponse {
            sessions: rows
                .iter()
                .map(|s| convert::session_pb(self.academy.code, s))
                .collect(),
            next_page_token,
        })
    }

    // ---- boards ------------------------------------------------------------------------

    async fn board_pb<C: ConnectionTrait>(
        &self,
        db: &C,
        b: &board::Model,
    ) -> ServiceResult<pb::ExamBoard> {
        let everyone = store::all_members_of(db, &b.id).await?;
        let replacements = store::replacements_of(db, &b.id).await?;
        let assigned = store::assignments_of_board(db, &b.id).await?;
        Ok(convert::board_pb(
            b,
            &everyone,
            &replacements,
            assigned.into_iter().map(|a| a.candidacy_id).collect(),
        ))
    }

    pub(super) async fn create_board(
        &self,
        caller: Caller,
        req: pb::CreateBoardRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let now = self.now();
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let name = v.check("name", parse_text(&req.name, 100, true));
        let mut members = Vec::with_capacity(req.members.len());
        for (i, m) in req.members.iter().enumerate() {
            match parse_member(m) {
                Ok(m) => members.push(m),
                Err(mv) => v.nest(&format!("members[{i}]"), mv),
            }
        }
        if members.len() == req.members.len() {
            for (field, message) in board_rules::composition_violations(&members) {
                v.add(field, message);
            }
        }
        v.finish()?;
        let (session_id, name) = (session_id.expect("checked"), name.expect("checked"));
        let txn = self.db.begin().await?;
        let s = self.session_locked(&txn, &session_id).await?;
        self.open(&s)?;
        let exists = || {
            ServiceError::AlreadyExists(format!("the session already has a board named {name:?}"))
        };
        if store::boards_of_session(&txn, &s.id)
            .await?
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&name))
        {
            return Err(exists());
        }
        let b = board::Model {
            id: Uuid::now_v7().to_string(),
            session_id: s.id.clone(),
            name: name.clone(),
            created_at: now,
            created_by: caller.subject.clone(),
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                exists()
            } else {
                e.into()
            }
        })?;
        for m in &members {
            seat_row(&b, m).insert(&txn).await?;
        }
        let out = self.board_pb(&txn, &b).await?;
        txn.commit().await?;
        tracing::info!(board = %b.id, session = %s.id, members = members.len(), by = %caller.subject, "board created");
        Ok(out)
    }

    pub(super) async fn replace_member(
        &self,
        caller: Caller,
        req: pb::ReplaceBoardMemberRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let now = self.now();
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let member_id = v.check("member_id", parse_id(&req.member_id));
        let reason = v.check("reason", parse_text(&req.reason, 500, true));
        let replacement = match &req.replacement {
            Some(m) => match parse_member(m) {
                Ok(m) => Some(m),
                Err(mv) => {
                    v.nest("replacement", mv);
                    None
                }
            },
            None => {
                v.add("replacement", "the member taking the seat is required");
                None
            }
        };
        v.finish()?;
        let (board_id, member_id, reason, replacement) = (
            board_id.expect("checked"),
            member_id.expect("checked"),
            reason.expect("checked"),
            replacement.expect("checked"),
        );
        let subject = format!("board/{board_id}");
        let txn = self.db.begin().await?;
        let b = self.board(&txn, &board_id).await?;
        let s = self.session_locked(&txn, &b.session_id).await?;
        self.open(&s)?;
        let everyone = store::all_members_of(&txn, &b.id).await?;
        let leaving = everyone
            .iter()
            .find(|m| m.id == member_id && m.left_at.is_none())
            .ok_or_else(|| {
                ServiceError::not_found(format!("member {member_id} of board {}", b.id))
            })?;
        if let Some(m) = everyone.iter().find(|m| m.email == replacement.email) {
            return Err(ServiceError::precondition(
                "ALREADY_A_MEMBER",
                subject,
                if m.left_at.is_none() {
                    format!("{} already sits on this board", m.email)
                } else {
                    format!(
                        "{} was replaced on this board and cannot sit again",
                        m.email
                    )
                },
            ));
        }
        let mut after: Vec<Member> = everyone
            .iter()
            .filter(|m| m.left_at.is_none() && m.id != leaving.id)
            .map(member_of_row)
            .collect();
        after.push(replacement.clone());
        let broken = board_rules::composition_violations(&after);
        if !broken.is_empty() {
            return Err(ServiceError::precondition(
                "BOARD_COMPOSITION",
                subject,
                broken
                    .into_iter()
                    .map(|(_, why)| why)
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        for a in store::assignments_of_board(&txn, &b.id).await? {
            let c = self.candidate(&txn, &a.candidacy_id).await?;
            board_rules::check_conflict_of_interest([&replacement], &c.workplace_uai)
                .map_err(|e| rule(e, format!("candidacy/{}", c.candidacy_id)))?;
        }
        let mut am = leaving.clone().into_active_model();
        am.left_at = Set(Some(now));
        am.update(&txn).await?;
        let seat = seat_row(&b, &replacement).insert(&txn).await?;
        board_replacement::Model {
            id: Uuid::now_v7().to_string(),
            board_id: b.id.clone(),
            former_member_id: leaving.id.clone(),
            replacement_member_id: seat.id.clone(),
            replaced_at: now,
            replaced_by: caller.subject.clone(),
            reason,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        let out = self.board_pb(&txn, &b).await?;
        txn.commit().await?;
        tracing::info!(board = %b.id, former = %leaving.email, replacement = %seat.email, by = %caller.subject, "board member replaced");
        Ok(out)
    }

    pub(super) async fn get_board(
        &self,
        _caller: Caller,
        req: pb::GetBoardRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let id = id_field("board_id", &req.board_id)?;
        let b = self.board(&self.db, &id).await?;
        self.board_pb(&self.db, &b).await
    }

    pub(super) async fn list_boards(
        &self,
        _caller: Caller,
        req: pb::ListBoardsRequest,
    ) -> ServiceResult<pb::ListBoardsResponse> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let p = paging(
            &mut v,
            format!("boards;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (session_id, p) = (session_id.expect("checked"), p.expect("checked"));
        self.session(&self.db, &session_id).await?;
        let mut rows = page(
            &self.db,
            board::Entity::find().filter(board::Column::SessionId.eq(session_id.as_str())),
            board::Column::Id,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |b| b.id.clone());
        let mut boards = Vec::with_capacity(rows.len());
        for b in &rows {
            boards.push(self.board_pb(&self.db, b).await?);
        }
        Ok(pb::ListBoardsResponse {
            boards,
            next_page_token,
        })
    }

    pub(super) async fn register_key(
        &self,
        caller: Caller,
        req: pb::RegisterBoardMemberKeyRequest,
    ) -> ServiceResult<pb::ExamBoardMember> {
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let key = v.check("public_key", keys::parse_public_key(&req.public_key));
        v.finish()?;
        let (board_id, key) = (board_id.expect("checked"), key.expect("checked"));
        let txn = self.db.begin().await?;
        let b = self.board(&txn, &board_id).await?;
        let s = self.session_locked(&txn, &b.session_id).await?;
        self.open(&s)?;
        let members = store::members_of(&txn, &b.id).await?;
        let seat = self.member_of(&caller, &b, &members)?.clone();
        let mut am = seat.into_active_model();
        am.public_key = Set(Some(keys::encode_public_key(&key)));
        am.key_registered_at = Set(Some(self.now()));
        let row = am.update(&txn).await?;
        txn.commit().await?;
        tracing::info!(board = %b.id, member = %row.email, kid = %keys::key_id(&key), "signing key registered");
        Ok(convert::member_pb(&row))
    }

    pub(super) async fn assign(
        &self,
        caller: Caller,
        req: pb::AssignCandidateRequest,
    ) -> ServiceResult<pb::BoardAssignment> {
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let candidacy_id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        v.finish()?;
        let (board_id, candidacy_id) = (board_id.expect("checked"), candidacy_id.expect("checked"));
        let subject = format!("candidacy/{candidacy_id}");
        let txn = self.db.begin().await?;
        let b = self.board(&txn, &board_id).await?;
        let s = self.session_locked(&txn, &b.session_id).await?;
        self.open(&s)?;
        let c = self.candidate(&txn, &candidacy_id).await?;
        if c.year != s.year {
            return Err(ServiceError::precondition(
                "OTHER_SESSION_YEAR",
                subject,
                format!(
                    "the candidate is admitted to sit in {}, not in the {} session",
                    c.year, s.year
                ),
            ));
        }
        if c.withdrawn_at.is_some() {
            return Err(ServiceError::precondition(
                "CANDIDATE_WITHDRAWN",
                subject,
                "the candidate withdrew",
            ));
        }
        if let Some(a) = store::assignment(&txn, &candidacy_id).await? {
            if a.board_id == b.id {
                return Ok(assignment_pb(&a));
            }
            return Err(ServiceError::precondition(
                "ALREADY_ASSIGNED",
                subject,
                format!("the candidate is already assigned to board {}", a.board_id),
            ));
        }
        let members = store::members_of(&txn, &b.id).await?;
        board_rules::check_conflict_of_interest(
            members.iter().map(member_of_row).collect::<Vec<_>>().iter(),
            &c.workplace_uai,
        )
        .map_err(|e| rule(e, subject.clone()))?;
        let row = assignment::Model {
            candidacy_id: candidacy_id.clone(),
            session_id: s.id.clone(),
            board_id: b.id.clone(),
            assigned_at: self.now(),
            assigned_by: caller.subject.clone(),
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(assignment_pb(&row))
    }

    // ---- schedule ----------------------------------------------------------------------

    pub(super) async fn schedule(
        &self,
        caller: Caller,
        req: pb::ScheduleExamPartRequest,
    ) -> ServiceResult<pb::ExamSlot> {
        let mut v = Violations::default();
        let candidacy_id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let part = v.check("exam_part", convert::exam_part(req.exam_part));
        v.check(
            "starts_at_local",
            parse_paris_local(req.starts_at_local.trim()),
        );
        let location = v.check("location", schedule::parse_location(&req.location));
        v.finish()?;
        let (candidacy_id, part, location) = (
            candidacy_id.expect("checked"),
            part.expect("checked"),
            location.expect("checked"),
        );
        let subject = format!("candidacy/{candidacy_id}");
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidate(&txn, &candidacy_id).await?;
        let a = store::assignment(&txn, &candidacy_id)
            .await?
            .ok_or_else(|| {
                ServiceError::precondition(
                    "NOT_ASSIGNED",
                    subject.clone(),
                    "assign the candidate to a board before scheduling their épreuves",
                )
            })?;
        let s = self.session_locked(&txn, &a.session_id).await?;
        self.open(&s)?;
        if c.withdrawn_at.is_some() {
            return Err(ServiceError::precondition(
                "CANDIDATE_WITHDRAWN",
                subject,
                "the candidate withdrew",
            ));
        }
        let t = place(part, &req.starts_at_local, &period_of(&s)?)
            .map_err(|e| ServiceError::invalid("starts_at_local", e))?;
        let own = store::slots_of_candidate(&txn, &candidacy_id).await?;
        let same = own.iter().find(|x| x.exam_part == part.as_str()).cloned();
        let describe = |x: &slot::Model, from, to| {
            let p = ExamPart::parse(&x.exam_part).map_or("épreuve", |p| p.label());
            format!(
                "{p}, {} to {}",
                format_paris_local(from),
                format_paris_local(to)
            )
        };
        let candidate_bookings: Vec<Booking> = own
            .iter()
            .filter(|x| x.exam_part != part.as_str())
            .map(|x| Booking {
                interval: schedule::Interval {
                    start: x.starts_at,
                    end: x.ends_at,
                },
                what: describe(x, x.starts_at, x.ends_at),
            })
            .collect();
        let board_bookings: Vec<Booking> = store::slots_of_board(&txn, &a.board_id)
            .await?
            .iter()
            .filter(|x| !(x.candidacy_id == candidacy_id && x.exam_part == part.as_str()))
            .map(|x| Booking {
                interval: schedule::Interval {
                    start: x.board_starts_at,
                    end: x.board_ends_at,
                },
                what: format!(
                    "candidacy {}: {}",
                    x.candidacy_id,
                    describe(x, x.board_starts_at, x.board_ends_at)
                ),
            })
            .collect();
        schedule::check_free(&t, &candidate_bookings, &board_bookings)
            .map_err(|e| rule(e, subject.clone()))?;
        let row = match same {
            Some(existing) => {
                let mut am = existing.into_active_model();
                am.board_id = Set(a.board_id.clone());
                am.starts_at = Set(t.candidate.start);
                am.ends_at = Set(t.candidate.end);
                am.board_starts_at = Set(t.board.start);
                am.board_ends_at = Set(t.board.end);
                am.location = Set(location);
                am.updated_at = Set(now);
                am.updated_by = Set(caller.subject.clone());
                am.update(&txn).await?
            }
            None => {
                slot::Model {
                    id: Uuid::now_v7().to_string(),
                    session_id: s.id.clone(),
                    board_id: a.board_id.clone(),
                    candidacy_id: candidacy_id.clone(),
                    exam_part: part.as_str().to_owned(),
                    starts_at: t.candidate.start,
                    ends_at: t.candidate.end,
                    board_starts_at: t.board.start,
                    board_ends_at: t.board.end,
                    location,
                    updated_at: now,
                    updated_by: caller.subject.clone(),
                }
                .into_active_model()
                .reset_all()
                .insert(&txn)
                .await?
            }
        };
        txn.commit().await?;
        Ok(convert::slot_pb(&row))
    }

    pub(super) async fn list_slots(
        &self,
        caller: Caller,
        req: pb::ListExamSlotsRequest,
    ) -> ServiceResult<pb::ListExamSlotsResponse> {
        let optional = |v: &mut Violations, field: &str, s: &str| {
            if s.trim().is_empty() {
                Some(None)
            } else {
                v.check(field, parse_id(s).map(Some))
            }
        };
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let board_id = optional(&mut v, "board_id", &req.board_id);
        let candidacy_id = optional(&mut v, "candidacy_id", &req.candidacy_id);
        let p = paging(
            &mut v,
            format!(
                "slots;{};{};{}",
                req.session_id.trim(),
                req.board_id.trim(),
                req.candidacy_id.trim()
            ),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (session_id, board_id, candidacy_id, p) = (
            session_id.expect("checked"),
            board_id.expect("checked"),
            candidacy_id.expect("checked"),
            p.expect("checked"),
        );
        self.session(&self.db, &session_id).await?;
        if !is_office(&caller) {
            let Some(board_id) = &board_id else {
                return Err(ServiceError::PermissionDenied(
                    "a board member lists the schedule of one of their boards: give board_id"
                        .into(),
                ));
            };
            let b = self.board(&self.db, board_id).await?;
            let members = store::members_of(&self.db, &b.id).await?;
            self.member_of(&caller, &b, &members)?;
        }
        let mut q = slot::Entity::find().filter(slot::Column::SessionId.eq(session_id.as_str()));
        if let Some(b) = &board_id {
            q = q.filter(slot::Column::BoardId.eq(b.as_str()));
        }
        if let Some(c) = &candidacy_id {
            q = q.filter(slot::Column::CandidacyId.eq(c.as_str()));
        }
        let mut rows = page(
            &self.db,
            q,
            slot::Column::Id,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |s| s.id.clone());
        Ok(pb::ListExamSlotsResponse {
            slots: rows.iter().map(convert::slot_pb).collect(),
            next_page_token,
        })
    }

    // ---- convocations ------------------------------------------------------------------

    pub(super) async fn issue_convocations(
        &self,
        caller: Caller,
        req: pb::IssueConvocationsRequest,
    ) -> ServiceResult<pb::IssueConvocationsResponse> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let mut named = Vec::new();
        for (i, id) in req.candidacy_ids.iter().enumerate() {
            if let Some(id) = v.check(&format!("candidacy_ids[{i}]"), parse_id(id)) {
                named.push(id);
            }
        }
        v.finish()?;
        let session_id = session_id.expect("checked");
        let now = self.now();
        let txn = self.db.begin().await?;
        let s = self.session_locked(&txn, &session_id).await?;
        self.open(&s)?;
        let explicit = !named.is_empty();
        let targets: Vec<assignment::Model> = if explicit {
            let mut out = Vec::new();
            for id in &named {
                let c = self.candidate(&txn, id).await?;
                let subject = format!("candidacy/{id}");
                let a = store::assignment(&txn, id)
                    .await?
                    .filter(|a| a.session_id == s.id)
                    .ok_or_else(|| {
                        ServiceError::precondition(
                            "NOT_ASSIGNED",
                            subject.clone(),
                            "the candidate is not assigned to a board of this session",
                        )
                    })?;
                if c.withdrawn_at.is_some() {
                    return Err(ServiceError::precondition(
                        "CANDIDATE_WITHDRAWN",
                        subject,
                        "the candidate withdrew",
                    ));
                }
                out.push(a);
            }
            out
        } else {
            store::assignments_of_session(&txn, &s.id).await?
        };
        let boards = store::boards_of_session(&txn, &s.id).await?;
        let mut issued = Vec::new();
        let mut unchanged = 0;
        let mut incomplete = Vec::new();
        for a in &targets {
            let c = self.candidate(&txn, &a.candidacy_id).await?;
            if c.withdrawn_at.is_some() {
                continue;
            }
            let slots = store::slots_of_candidate(&txn, &c.candidacy_id).await?;
            if slots.len() < ExamPart::ALL.len() {
                if explicit {
                    return Err(ServiceError::precondition(
                        "SCHEDULE_INCOMPLETE",
                        format!("candidacy/{}", c.candidacy_id),
                        "both épreuves must be scheduled before the convocation is issued",
                    ));
                }
                incomplete.push(c.candidacy_id.clone());
                continue;
            }
            let fingerprint = schedule_fingerprint(&slots);
            let latest = store::latest_convocation(&txn, &c.candidacy_id).await?;
            if latest
                .as_ref()
                .is_some_and(|l| l.schedule_fingerprint == fingerprint)
            {
                unchanged += 1;
                continue;
            }
            let version = latest.map_or(1, |l| l.version + 1);
            let board_name = boards
                .iter()
                .find(|b| b.id == a.board_id)
                .map_or("", |b| b.name.as_str());
            let shown: Vec<ConvocationSlot> = slots
                .iter()
                .filter_map(|x| {
                    let part = ExamPart::parse(&x.exam_part)?;
                    Some(ConvocationSlot {
                        part,
                        timing: timing(part, x.starts_at),
                        location: x.location.clone(),
                    })
                })
                .collect();
            let pdf = documents::convocation_pdf(&documents::Convocation {
                academy_name: self.academy.name,
                year: s.year,
                last_name: &c.last_name,
                first_name: &c.first_name,
                candidacy_id: &c.candidacy_id,
                board_name,
                version,
                issued_at: now,
                slots: &shown,
            });
            let snapshots: Vec<convert::SlotSnapshot> =
                slots.iter().map(convert::SlotSnapshot::of).collect();
            let row = convocation::Model {
                id: Uuid::now_v7().to_string(),
                session_id: s.id.clone(),
                candidacy_id: c.candidacy_id.clone(),
                version,
                issued_at: now,
                issued_by: caller.subject.clone(),
                schedule_fingerprint: fingerprint,
                slots_json: serde_json::to_string(&snapshots).map_err(ServiceError::internal)?,
                document_sha256: hex::encode(keys::sha256(&pdf)),
                document: pdf,
            }
            .into_active_model()
            .reset_all()
            .insert(&txn)
            .await?;
            issued.push(convert::convocation_pb(&row, false));
        }
        txn.commit().await?;
        tracing::info!(session = %s.id, issued = issued.len(), unchanged, incomplete = incomplete.len(), "convocations issued");
        Ok(pb::IssueConvocationsResponse {
            issued,
            unchanged,
            incomplete_candidacy_ids: incomplete,
        })
    }

    pub(super) async fn list_convocations(
        &self,
        caller: Caller,
        req: pb::ListConvocationsRequest,
    ) -> ServiceResult<pb::ListConvocationsResponse> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let p = paging(
            &mut v,
            format!("convocations;{}", req.candidacy_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (id, p) = (id.expect("checked"), p.expect("checked"));
        let before = match &p.after {
            Some(t) => Some(t.parse::<i32>().map_err(|_| {
                ServiceError::invalid("page_token", "not a page token of this list")
            })?),
            None => None,
        };
        let c = self.candidate(&self.db, &id).await?;
        self.ensure_own(&caller, &c)?;
        let latest = store::latest_convocation(&self.db, &id)
            .await?
            .map_or(0, |l| l.version);
        let mut rows = store::convocations_of(&self.db, &id, before, p.size).await?;
        let next_page_token = p.finish(&mut rows, |r| r.version.to_string());
        Ok(pb::ListConvocationsResponse {
            convocations: rows
                .iter()
                .map(|r| convert::convocation_pb(r, r.version < latest))
                .collect(),
            next_page_token,
        })
    }

    pub(super) async fn get_convocation(
        &self,
        caller: Caller,
        req: pb::GetConvocationRequest,
    ) -> ServiceResult<pb::ConvocationDocument> {
        let id = id_field("candidacy_id", &req.candidacy_id)?;
        let c = self.candidate(&self.db, &id).await?;
        self.ensure_own(&caller, &c)?;
        let latest = store::latest_convocation(&self.db, &id).await?;
        let latest_version = latest.as_ref().map_or(0, |l| l.version);
        let row = if req.version == 0 {
            latest
        } else {
            store::convocation_version(&self.db, &id, req.version as i32).await?
        };
        let row = row.ok_or_else(|| {
            ServiceError::NotFound(if req.version == 0 {
                format!("no convocation was issued to candidacy {id}")
            } else {
                format!("candidacy {id} has no convocation version {}", req.version)
            })
        })?;
        Ok(pb::ConvocationDocument {
            convocation: Some(convert::convocation_pb(&row, row.version < latest_version)),
            pdf: row.document.clone(),
        })
    }
}
