//! Marks: entered twice blind by two members of the candidate's board, corrected by their
//! entrant, reconciled by the president; every act kept in the mark history.

use cplds_proto::v1 as pb;
use cplds_runtime::kit::Found;
use cplds_runtime::{
    auth::{Caller, Role},
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Paging, UnitOfWork, parse_id},
};

use super::{Inner, convert, ensure_open, member_of, not_admitted, seat};
use crate::{
    domain::{
        board::BoardRole,
        candidate::{self as candidate_rules, Act},
        double_entry,
        mark::PartResult,
        people::parse_text,
        schedule::{self, ExamPart},
    },
    store::{self, Change, MarkAct, SheetRows, board, board_member, session},
};

pub(super) enum Acting {
    Enter(PartResult),
    Correct(PartResult, String),
    Reconcile(PartResult, String),
}

/// The three mark requests: the same fields, and what each asks.
pub(super) trait MarkRequest {
    fn fields(&self) -> (&str, i32, &str, bool);
    /// The reason the request must give, if it asks for one.
    fn reason(&self) -> Option<&str>;
    fn acting(value: PartResult, reason: String) -> Acting;
}

impl MarkRequest for pb::EnterMarkRequest {
    fn fields(&self) -> (&str, i32, &str, bool) {
        (&self.candidacy_id, self.exam_part, &self.mark, self.absent)
    }
    fn reason(&self) -> Option<&str> {
        None
    }
    fn acting(value: PartResult, _: String) -> Acting {
        Acting::Enter(value)
    }
}

impl MarkRequest for pb::CorrectMarkRequest {
    fn fields(&self) -> (&str, i32, &str, bool) {
        (&self.candidacy_id, self.exam_part, &self.mark, self.absent)
    }
    fn reason(&self) -> Option<&str> {
        Some(&self.reason)
    }
    fn acting(value: PartResult, reason: String) -> Acting {
        Acting::Correct(value, reason)
    }
}

impl MarkRequest for pb::ReconcileMarkRequest {
    fn fields(&self) -> (&str, i32, &str, bool) {
        (&self.candidacy_id, self.exam_part, &self.mark, self.absent)
    }
    fn reason(&self) -> Option<&str> {
        Some(&self.reason)
    }
    fn acting(value: PartResult, reason: String) -> Acting {
        Acting::Reconcile(value, reason)
    }
}

/// A mark request's fields, every bad one named.
fn parse(req: &impl MarkRequest) -> ServiceResult<(String, ExamPart, PartResult, String)> {
    let (candidacy_id, exam_part, mark, absent) = req.fields();
    let mut v = Violations::default();
    let id = v.check("candidacy_id", parse_id(candidacy_id));
    let part = v.check("exam_part", convert::exam_part(exam_part));
    let value = v.check("mark", PartResult::parse(mark, absent));
    let reason = match req.reason() {
        Some(r) => v.check("reason", parse_text(r, 500, true)),
        None => Some(String::new()),
    };
    v.finish_with((id, part, value, reason))
}

/// What a mark act needs: the session, the board, the acting member's seat, the sheet's rows.
struct Marking {
    session: session::Model,
    board: board::Model,
    me: board_member::Model,
    rows: SheetRows,
}

impl Inner {
    /// EnterMark, CorrectMark and ReconcileMark.
    pub(super) async fn mark<R: MarkRequest>(
        &self,
        caller: Caller,
        req: R,
    ) -> ServiceResult<pb::MarkSheet> {
        let (id, part, value, reason) = parse(&req)?;
        self.mark_act(caller, id, part, R::acting(value, reason))
            .await
    }

    /// The candidate's board, the caller's seat on it, and the rules before any mark: an open
    /// session, a candidate still sitting, the épreuve scheduled and begun.
    async fn load_marking(
        &self,
        uow: &UnitOfWork,
        caller: &Caller,
        candidacy_id: &str,
        part: ExamPart,
    ) -> ServiceResult<Marking> {
        let subject = format!("candidacy/{candidacy_id}/{part}");
        let seating = store::seating(uow.txn(), candidacy_id)
            .await?
            .ok_or_else(|| not_admitted(candidacy_id))?;
        let c = seating.candidate;
        let a = candidate_rules::assigned(seating.assignment, Act::Mark).on(&subject)?;
        let (board, members) =
            Ok::<_, sea_orm::DbErr>(seating.board).found("board", &a.board_id)?;
        let me = member_of(caller, &board, &members)?.clone();
        // Shared: marks of other candidates go side by side; this candidate's sheets alone.
        let frame = store::marking_frame(uow.txn(), &a.session_id, candidacy_id, part)
            .await
            .found("exam session", &a.session_id)?;
        ensure_open(&frame.session)?;
        candidate_rules::not_withdrawn(c.withdrawn_at.is_some(), Act::Mark).on(&subject)?;
        schedule::ensure_scheduled(frame.slot.is_some()).on(&subject)?;
        if let Some(x) = &frame.slot {
            schedule::ensure_begun(x.starts_at, uow.now()).on(&subject)?;
        }
        // The sheet of this épreuve: its entries and its reconciliation (read with the session).
        let rows = SheetRows {
            entries: frame.entries,
            reconciliations: frame.reconciliation.into_iter().collect(),
        };
        Ok(Marking {
            session: frame.session,
            board,
            me,
            rows,
        })
    }

    async fn mark_act(
        &self,
        caller: Caller,
        candidacy_id: String,
        part: ExamPart,
        acting: Acting,
    ) -> ServiceResult<pb::MarkSheet> {
        let subject = format!("candidacy/{candidacy_id}/{part}");
        let mut uow = self.core.begin().await?;
        let mut m = self
            .load_marking(&uow, &caller, &candidacy_id, part)
            .await?;
        let sheet = m.rows.sheet(&candidacy_id, part);
        let act = MarkAct {
            session_id: &m.session.id,
            candidacy_id: &candidacy_id,
            part,
            actor: &m.me.email,
            at: uow.now(),
        };
        let change = match acting {
            Acting::Enter(value) => {
                double_entry::can_enter(&sheet, &m.me.email).on(&subject)?;
                let entry = store::new_entry(&act, &m.board.id, value);
                uow.insert(entry.clone()).await?;
                // The sheet as the commit leaves it: the rows read, and this entry (the latest).
                m.rows.entries.push(entry);
                change("entered", None, value, None)
            }
            Acting::Correct(value, reason) => {
                double_entry::can_correct(&sheet, &m.me.email, value).on(&subject)?;
                let mine = m
                    .rows
                    .entries(&candidacy_id, part)
                    .into_iter()
                    .find(|e| e.entrant == m.me.email)
                    .cloned()
                    .ok_or_else(|| {
                        ServiceError::internal("the entry to correct was found, then lost")
                    })?;
                let previous = PartResult::from_stored(mine.absent, mine.half_points);
                // The president settled the former pair; the new pair is settled anew.
                store::correct_entry(uow.txn(), &act, mine, value).await?;
                m.rows = SheetRows::of(uow.txn(), std::slice::from_ref(&candidacy_id)).await?;
                change("corrected", previous, value, Some(reason))
            }
            Acting::Reconcile(value, reason) => {
                if m.me.role != BoardRole::President {
                    return Err(ServiceError::PermissionDenied(format!(
                        "only the president of {} reconciles marks",
                        m.board.name
                    )));
                }
                double_entry::can_reconcile(&sheet).on(&subject)?;
                store::reconcile(uow.txn(), &act, value, &reason).await?;
                m.rows = SheetRows::of(uow.txn(), std::slice::from_ref(&candidacy_id)).await?;
                change("reconciled", sheet.reconciled, value, Some(reason))
            }
        };
        uow.insert(store::change_row(&act, change)).await?;
        let out = convert::sheet_pb(&m.rows, &candidacy_id, &m.board.id, part, Some(&m.me.email));
        uow.commit().await?;
        Ok(out)
    }

    pub(super) async fn list_mark_sheets(
        &self,
        caller: Caller,
        req: pb::ListMarkSheetsRequest,
    ) -> ServiceResult<pb::ListMarkSheetsResponse> {
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let p = Paging::parse(
            &mut v,
            format!("sheets;{}", req.board_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (board_id, p) = v.finish_with((board_id, p))?;
        let db = &self.core.db;
        let b = self.board(db, &board_id).await?;
        let members = store::members_of(db, &b.id).await?;
        // A member sees as an entrant (their own entry while the second is pending); the exam
        // office sees no entry value before both are in.
        let viewer = match seat(&members, &caller) {
            Some(m) => Some(m.email.clone()),
            None if caller.has(Role::ExamOffice) => None,
            None => {
                member_of(&caller, &b, &members)?;
                None
            }
        };
        let mut rows = store::assignments_page(db, &b.id, &p).await?;
        let next_page_token = p.finish(&mut rows, |a| a.candidacy_id.clone());
        let ids: Vec<String> = rows.iter().map(|a| a.candidacy_id.clone()).collect();
        let sheet_rows = SheetRows::of(db, &ids).await?;
        let mut sheets = Vec::with_capacity(ids.len() * ExamPart::ALL.len());
        for id in &ids {
            for part in ExamPart::ALL {
                sheets.push(convert::sheet_pb(
                    &sheet_rows,
                    id,
                    &b.id,
                    *part,
                    viewer.as_deref(),
                ));
            }
        }
        Ok(pb::ListMarkSheetsResponse {
            sheets,
            next_page_token,
        })
    }

    pub(super) async fn list_mark_history(
        &self,
        _caller: Caller,
        req: pb::ListMarkHistoryRequest,
    ) -> ServiceResult<pb::ListMarkHistoryResponse> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let p = Paging::parse(
            &mut v,
            format!("history;{}", req.candidacy_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (id, p) = v.finish_with((id, p))?;
        let after = p.after_as::<i64>()?;
        let db = &self.core.db;
        self.candidate(db, &id).await?;
        let mut rows = store::history_page(db, &id, after, &p).await?;
        let next_page_token = p.finish(&mut rows, |h| h.id.to_string());
        Ok(pb::ListMarkHistoryResponse {
            entries: rows.iter().map(convert::history_pb).collect(),
            next_page_token,
        })
    }
}

fn change(
    action: &str,
    previous: Option<PartResult>,
    value: PartResult,
    reason: Option<String>,
) -> Change<'_> {
    Change {
        action,
        previous,
        value,
        reason,
    }
}
