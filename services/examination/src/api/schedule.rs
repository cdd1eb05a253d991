//! The schedule of the épreuves (no one booked twice at once) and the convocations, versioned
//! each time the schedule they show changes.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Paging, UnitOfWork, parse_id, parse_optional_id},
    time::{format_paris_local, parse_paris_local},
};

use super::{Inner, convert, ensure_open, id_field, is_office, member_of};
use crate::{
    documents::{self, ConvocationSlot},
    domain::{
        candidate::{self as candidate_rules, Act},
        keys,
        schedule::{self, Booking, ExamPart, Interval, place, timing},
        session::Period,
    },
    store::{self, assignment, board, session, slot},
};

fn period_of(s: &session::Model) -> ServiceResult<Period> {
    Period::from_stored(&s.starts_on, &s.ends_on)
        .ok_or_else(|| ServiceError::internal(format!("session {} has a bad period", s.id)))
}

fn describe(
    x: &slot::Model,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> String {
    format!(
        "{}, {} to {}",
        x.exam_part.label(),
        format_paris_local(from),
        format_paris_local(to)
    )
}

/// What the candidate and the board are already booked for, but the épreuve being booked.
fn bookings(
    own: &[slot::Model],
    board: &[slot::Model],
    candidacy_id: &str,
    part: ExamPart,
) -> (Vec<Booking>, Vec<Booking>) {
    let candidate = own
        .iter()
        .filter(|x| x.exam_part != part)
        .map(|x| Booking {
            interval: Interval {
                start: x.starts_at,
                end: x.ends_at,
            },
            what: describe(x, x.starts_at, x.ends_at),
        })
        .collect();
    let board = board
        .iter()
        .filter(|x| !(x.candidacy_id == candidacy_id && x.exam_part == part))
        .map(|x| Booking {
            interval: Interval {
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
    (candidate, board)
}

/// A round of convocations: for whom, by whom, and what it did.
struct Round<'a> {
    by: &'a str,
    session: &'a session::Model,
    boards: Vec<board::Model>,
    /// The candidates were named: an incomplete schedule refuses rather than being listed.
    explicit: bool,
    issued: Vec<pb::ExamConvocation>,
    unchanged: i32,
    incomplete: Vec<String>,
}

impl Inner {
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
        let (candidacy_id, part, location) = v.finish_with((candidacy_id, part, location))?;
        let subject = format!("candidacy/{candidacy_id}");
        let uow = self.core.begin().await?;
        let c = self.candidate(uow.txn(), &candidacy_id).await?;
        let a = candidate_rules::assigned(
            store::assignment(uow.txn(), &candidacy_id).await?,
            Act::Schedule,
        )
        .on(&subject)?;
        let s = self.session_locked(uow.txn(), &a.session_id).await?;
        ensure_open(&s)?;
        candidate_rules::not_withdrawn(c.withdrawn_at.is_some(), Act::Schedule).on(&subject)?;
        let t = place(part, &req.starts_at_local, &period_of(&s)?)
            .map_err(|e| ServiceError::invalid("starts_at_local", e))?;
        let own = store::slots_of_candidate(uow.txn(), &candidacy_id).await?;
        let board = store::slots_of_board(uow.txn(), &a.board_id).await?;
        let (candidate_bookings, board_bookings) = bookings(&own, &board, &candidacy_id, part);
        schedule::check_free(&t, &candidate_bookings, &board_bookings).on(&subject)?;
        let existing = own.into_iter().find(|x| x.exam_part == part);
        let now = uow.now();
        let row = store::book(
            uow.txn(),
            existing,
            store::Booked {
                session_id: &s.id,
                board_id: &a.board_id,
                candidacy_id: &candidacy_id,
                timing: &t,
                location,
                by: &caller.subject,
                at: now,
            },
        )
        .await?;
        uow.commit().await?;
        Ok(convert::slot_pb(&row))
    }

    pub(super) async fn list_slots(
        &self,
        caller: Caller,
        req: pb::ListExamSlotsRequest,
    ) -> ServiceResult<pb::ListExamSlotsResponse> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let board_id = v.check("board_id", parse_optional_id(&req.board_id));
        let candidacy_id = v.check("candidacy_id", parse_optional_id(&req.candidacy_id));
        let p = Paging::parse(
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
        let (session_id, board_id, candidacy_id, p) =
            v.finish_with((session_id, board_id, candidacy_id, p))?;
        let db = &self.core.db;
        self.session(db, &session_id).await?;
        if !is_office(&caller) {
            let Some(board_id) = &board_id else {
                return Err(ServiceError::PermissionDenied(
                    "a board member lists the schedule of one of their boards: give board_id"
                        .into(),
                ));
            };
            let b = self.board(db, board_id).await?;
            let members = store::members_of(db, &b.id).await?;
            member_of(&caller, &b, &members)?;
        }
        let mut rows = store::slots_page(
            db,
            &session_id,
            board_id.as_deref(),
            candidacy_id.as_deref(),
            &p,
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
        let session_id = v.finish_with(session_id)?;
        let uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &session_id).await?;
        ensure_open(&s)?;
        let explicit = !named.is_empty();
        let targets = if explicit {
            self.named_targets(&uow, &s, &named).await?
        } else {
            store::assignments_of_session(uow.txn(), &s.id).await?
        };
        let mut round = Round {
            by: &caller.subject,
            session: &s,
            boards: store::boards_of_session(uow.txn(), &s.id).await?,
            explicit,
            issued: Vec::new(),
            unchanged: 0,
            incomplete: Vec::new(),
        };
        for a in &targets {
            self.convoke(&uow, &mut round, a).await?;
        }
        uow.commit().await?;
        tracing::info!(session = %s.id, issued = round.issued.len(), unchanged = round.unchanged, incomplete = round.incomplete.len(), "convocations issued");
        Ok(pb::IssueConvocationsResponse {
            issued: round.issued,
            unchanged: round.unchanged,
            incomplete_candidacy_ids: round.incomplete,
        })
    }

    /// The assignments of the candidates named, each assigned in this session and still sitting.
    async fn named_targets(
        &self,
        uow: &UnitOfWork,
        s: &session::Model,
        named: &[String],
    ) -> ServiceResult<Vec<assignment::Model>> {
        let mut out = Vec::with_capacity(named.len());
        for id in named {
            let c = self.candidate(uow.txn(), id).await?;
            let subject = format!("candidacy/{id}");
            let a = store::assignment(uow.txn(), id)
                .await?
                .filter(|a| a.session_id == s.id);
            let a = candidate_rules::assigned(a, Act::Convoke).on(&subject)?;
            candidate_rules::not_withdrawn(c.withdrawn_at.is_some(), Act::Convoke).on(&subject)?;
            out.push(a);
        }
        Ok(out)
    }

    /// Issues a candidate's convocation if their schedule is complete and changed since the last
    /// one (a new version).
    async fn convoke(
        &self,
        uow: &UnitOfWork,
        round: &mut Round<'_>,
        a: &assignment::Model,
    ) -> ServiceResult<()> {
        let s = round.session;
        let c = self.candidate(uow.txn(), &a.candidacy_id).await?;
        if c.withdrawn_at.is_some() {
            return Ok(());
        }
        let slots = store::slots_of_candidate(uow.txn(), &c.candidacy_id).await?;
        if !schedule::is_complete(slots.len()) {
            if round.explicit {
                schedule::ensure_complete(slots.len())
                    .on(format!("candidacy/{}", c.candidacy_id))?;
            }
            round.incomplete.push(c.candidacy_id.clone());
            return Ok(());
        }
        let fingerprint = schedule::fingerprint(store::shown(&slots));
        let latest = store::latest_convocation(uow.txn(), &c.candidacy_id).await?;
        if latest
            .as_ref()
            .is_some_and(|l| l.schedule_fingerprint == fingerprint)
        {
            round.unchanged += 1;
            return Ok(());
        }
        let version = latest.map_or(1, |l| l.version + 1);
        let board_name = round
            .boards
            .iter()
            .find(|b| b.id == a.board_id)
            .map_or("", |b| b.name.as_str());
        let shown: Vec<ConvocationSlot> = slots
            .iter()
            .map(|x| ConvocationSlot {
                part: x.exam_part,
                timing: timing(x.exam_part, x.starts_at),
                location: x.location.clone(),
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
            issued_at: uow.now(),
            slots: &shown,
        });
        let row = store::insert_convocation(
            uow.txn(),
            store::Issued {
                session_id: &s.id,
                candidacy_id: &c.candidacy_id,
                version,
                by: round.by,
                at: uow.now(),
                fingerprint,
                slots: &slots,
                document_sha256: hex::encode(keys::sha256(&pdf)),
                document: pdf,
            },
        )
        .await?;
        round.issued.push(convert::convocation_pb(&row, false)?);
        Ok(())
    }

    pub(super) async fn list_convocations(
        &self,
        caller: Caller,
        req: pb::ListConvocationsRequest,
    ) -> ServiceResult<pb::ListConvocationsResponse> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let p = Paging::parse(
            &mut v,
            format!("convocations;{}", req.candidacy_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (id, p) = v.finish_with((id, p))?;
        let before = p.after_as::<i32>()?;
        let db = &self.core.db;
        let c = self.candidate(db, &id).await?;
        self.reach(db, &caller, &c, "ListConvocations").await?;
        let latest = store::latest_convocation(db, &id)
            .await?
            .map_or(0, |l| l.version);
        let mut rows = store::convocations_page(db, &id, before, &p).await?;
        let next_page_token = p.finish(&mut rows, |r| r.version.to_string());
        Ok(pb::ListConvocationsResponse {
            convocations: rows
                .iter()
                .map(|r| convert::convocation_pb(r, r.version < latest))
                .collect::<ServiceResult<_>>()?,
            next_page_token,
        })
    }

    pub(super) async fn get_convocation(
        &self,
        caller: Caller,
        req: pb::GetConvocationRequest,
    ) -> ServiceResult<pb::ConvocationDocument> {
        let id = id_field("candidacy_id", &req.candidacy_id)?;
        let db = &self.core.db;
        let c = self.candidate(db, &id).await?;
        self.reach(db, &caller, &c, "GetConvocation").await?;
        let latest = store::latest_convocation(db, &id).await?;
        let latest_version = latest.as_ref().map_or(0, |l| l.version);
        let row = if req.version == 0 {
            latest
        } else {
            store::convocation_version(db, &id, req.version as i32).await?
        };
        let row = row.ok_or_else(|| {
            ServiceError::NotFound(if req.version == 0 {
                format!("no convocation was issued to candidacy {id}")
            } else {
                format!("candidacy {id} has no convocation version {}", req.version)
            })
        })?;
        Ok(pb::ConvocationDocument {
            convocation: Some(convert::convocation_pb(&row, row.version < latest_version)?),
            pdf: row.document.clone(),
        })
    }
}
