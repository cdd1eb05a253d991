//! Marks: entered twice blind by two members of the candidate's board, corrected by their
//! entrant, reconciled by the president; every act kept in the history.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::{Caller, Role},
    db::page,
    error::{ServiceError, ServiceResult, Violations},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{Inner, convert, paging, parse_id, rule, seat};
use crate::{
    domain::{
        board::BoardRole, double_entry, mark::PartResult, people::parse_text, schedule::ExamPart,
    },
    store::{self, HistoryRecord, assignment, mark_entry, reconciliation},
};

enum Act {
    Enter(PartResult),
    Correct(PartResult, String),
    Reconcile(PartResult, String),
}

/// The common fields of the three mark requests.
fn parse(
    candidacy_id: &str,
    exam_part: i32,
    mark: &str,
    absent: bool,
    reason: Option<&str>,
) -> ServiceResult<(String, ExamPart, PartResult, String)> {
    let mut v = Violations::default();
    let id = v.check("candidacy_id", parse_id(candidacy_id));
    let part = v.check("exam_part", convert::exam_part(exam_part));
    let value = v.check("mark", PartResult::parse(mark, absent));
    let reason = match reason {
        Some(r) => v.check("reason", parse_text(r, 500, true)),
        None => Some(String::new()),
    };
    v.finish_with((id, part, value, reason))
}

impl Inner {
    pub(super) async fn enter_mark(
        &self,
        caller: Caller,
        req: pb::EnterMarkRequest,
    ) -> ServiceResult<pb::MarkSheet> {
        let (id, part, value, _) = parse(
            &req.candidacy_id,
            req.exam_part,
            &req.mark,
            req.absent,
            None,
        )?;
        self.mark_act(caller, id, part, Act::Enter(value)).await
    }

    pub(super) async fn correct_mark(
        &self,
        caller: Caller,
        req: pb::CorrectMarkRequest,
    ) -> ServiceResult<pb::MarkSheet> {
        let (id, part, value, reason) = parse(
            &req.candidacy_id,
            req.exam_part,
            &req.mark,
            req.absent,
            Some(&req.reason),
        )?;
        self.mark_act(caller, id, part, Act::Correct(value, reason))
            .await
    }

    pub(super) async fn reconcile_mark(
        &self,
        caller: Caller,
        req: pb::ReconcileMarkRequest,
    ) -> ServiceResult<pb::MarkSheet> {
        let (id, part, value, reason) = parse(
            &req.candidacy_id,
            req.exam_part,
            &req.mark,
            req.absent,
            Some(&req.reason),
        )?;
        self.mark_act(caller, id, part, Act::Reconcile(value, reason))
            .await
    }

    async fn mark_act(
        &self,
        caller: Caller,
        candidacy_id: String,
        part: ExamPart,
        act: Act,
    ) -> ServiceResult<pb::MarkSheet> {
        let subject = format!("candidacy/{candidacy_id}/{}", part.as_str());
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidate(&txn, &candidacy_id).await?;
        let a = store::assignment(&txn, &candidacy_id)
            .await?
            .ok_or_else(|| {
                ServiceError::precondition(
                    "NOT_ASSIGNED",
                    subject.clone(),
                    "the candidate is not assigned to a board",
                )
            })?;
        let b = self.board(&txn, &a.board_id).await?;
        let members = store::members_of(&txn, &b.id).await?;
        let me = self.member_of(&caller, &b, &members)?.clone();
        let s = self.session_locked(&txn, &a.session_id).await?;
        self.open(&s)?;
        if c.withdrawn_at.is_some() {
            return Err(ServiceError::precondition(
                "CANDIDATE_WITHDRAWN",
                subject,
                "the candidate withdrew: no mark is entered",
            ));
        }
        if !store::slots_of_candidate(&txn, &candidacy_id)
            .await?
            .iter()
            .any(|x| x.exam_part == part.as_str())
        {
            return Err(ServiceError::precondition(
                "NOT_SCHEDULED",
                subject,
                "the épreuve is not scheduled for this candidate",
            ));
        }
        let entries = store::entries_of_part(&txn, &candidacy_id, part.as_str()).await?;
        let recon = store::reconciliations_of(&txn, std::slice::from_ref(&candidacy_id))
            .await?
            .into_iter()
            .find(|r| r.exam_part == part.as_str());
        let sheet = convert::SheetRows {
            candidacy_id: &candidacy_id,
            board_id: &b.id,
            part,
            entries: entries.iter().collect(),
            reconciliation: recon.as_ref(),
        }
        .sheet();
        let history = |action, previous, value, reason| HistoryRecord {
            session_id: &s.id,
            candidacy_id: &candidacy_id,
            part: part.as_str(),
            action,
            actor: &me.email,
            at: now,
            previous,
            value,
            reason,
        };
        match act {
            Act::Enter(value) => {
                double_entry::can_enter(&sheet, &me.email).map_err(|e| rule(e, subject.clone()))?;
                mark_entry::Model {
                    id: Uuid::now_v7().to_string(),
                    session_id: s.id.clone(),
                    board_id: b.id.clone(),
                    candidacy_id: candidacy_id.clone(),
                    exam_part: part.as_str().to_owned(),
                    entrant: me.email.clone(),
                    absent: value.is_absent(),
                    half_points: value.stored_half_points(),
                    entered_at: now,
                    updated_at: now,
                    corrections: 0,
                }
                .into_active_model()
                .reset_all()
                .insert(&txn)
                .await?;
                store::record_history(&txn, history("entered", None, value, None)).await?;
            }
            Act::Correct(value, reason) => {
                double_entry::can_correct(&sheet, &me.email, value)
                    .map_err(|e| rule(e, subject.clone()))?;
                let mine = entries
                    .iter()
                    .find(|e| e.entrant == me.email)
                    .expect("can_correct found the entry")
                    .clone();
                let previous = PartResult::from_stored(mine.absent, mine.half_points);
                let corrections = mine.corrections + 1;
                let mut am = mine.into_active_model();
                am.absent = Set(value.is_absent());
                am.half_points = Set(value.stored_half_points());
                am.updated_at = Set(now);
                am.corrections = Set(corrections);
                am.update(&txn).await?;
                // The president settled the former pair; the new pair is settled anew.
                store::delete_reconciliation(&txn, &candidacy_id, part.as_str()).await?;
                store::record_history(&txn, history("corrected", previous, value, Some(reason)))
                    .await?;
            }
            Act::Reconcile(value, reason) => {
                if BoardRole::parse(&me.role) != Some(BoardRole::President) {
                    return Err(ServiceError::PermissionDenied(format!(
                        "only the president of {} reconciles marks",
                        b.name
                    )));
                }
                double_entry::can_reconcile(&sheet).map_err(|e| rule(e, subject.clone()))?;
                let previous = sheet.reconciled;
                store::delete_reconciliation(&txn, &candidacy_id, part.as_str()).await?;
                reconciliation::Model {
                    candidacy_id: candidacy_id.clone(),
                    exam_part: part.as_str().to_owned(),
                    session_id: s.id.clone(),
                    absent: value.is_absent(),
                    half_points: value.stored_half_points(),
                    reconciled_by: me.email.clone(),
                    reconciled_at: now,
                    reason: reason.clone(),
                }
                .into_active_model()
                .reset_all()
                .insert(&txn)
                .await?;
                store::record_history(&txn, history("reconciled", previous, value, Some(reason)))
                    .await?;
            }
        }
        let entries = store::entries_of_part(&txn, &candidacy_id, part.as_str()).await?;
        let recon = store::reconciliations_of(&txn, std::slice::from_ref(&candidacy_id))
            .await?
            .into_iter()
            .find(|r| r.exam_part == part.as_str());
        let out = convert::sheet_pb(
            &convert::SheetRows {
                candidacy_id: &candidacy_id,
                board_id: &b.id,
                part,
                entries: entries.iter().collect(),
                reconciliation: recon.as_ref(),
            },
            Some(&me.email),
        );
        txn.commit().await?;
        Ok(out)
    }

    pub(super) async fn list_mark_sheets(
        &self,
        caller: Caller,
        req: pb::ListMarkSheetsRequest,
    ) -> ServiceResult<pb::ListMarkSheetsResponse> {
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let p = paging(
            &mut v,
            format!("sheets;{}", req.board_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (board_id, p) = (board_id.expect("checked"), p.expect("checked"));
        let b = self.board(&self.db, &board_id).await?;
        let members = store::members_of(&self.db, &b.id).await?;
        // A member sees as an entrant (their own entry while the second is pending); the exam
        // office sees no entry value before both are in.
        let viewer = match seat(&members, &caller) {
            Some(m) => Some(m.email.clone()),
            None if caller.has(Role::ExamOffice) => None,
            None => {
                self.member_of(&caller, &b, &members)?;
                None
            }
        };
        let mut rows = page(
            &self.db,
            assignment::Entity::find().filter(assignment::Column::BoardId.eq(b.id.as_str())),
            assignment::Column::CandidacyId,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |a| a.candidacy_id.clone());
        let ids: Vec<String> = rows.iter().map(|a| a.candidacy_id.clone()).collect();
        let entries = store::entries_of(&self.db, &ids).await?;
        let recons = store::reconciliations_of(&self.db, &ids).await?;
        let mut sheets = Vec::with_capacity(ids.len() * 2);
        for id in &ids {
            for part in ExamPart::ALL {
                let rows = convert::SheetRows {
                    candidacy_id: id,
                    board_id: &b.id,
                    part: *part,
                    entries: entries
                        .iter()
                        .filter(|e| &e.candidacy_id == id && e.exam_part == part.as_str())
                        .collect(),
                    reconciliation: recons
                        .iter()
                        .find(|r| &r.candidacy_id == id && r.exam_part == part.as_str()),
                };
                sheets.push(convert::sheet_pb(&rows, viewer.as_deref()));
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
        let p = paging(
            &mut v,
            format!("history;{}", req.candidacy_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (id, p) = (id.expect("checked"), p.expect("checked"));
        let after = match &p.after {
            Some(t) => Some(t.parse::<i64>().map_err(|_| {
                ServiceError::invalid("page_token", "not a page token of this list")
            })?),
            None => None,
        };
        self.candidate(&self.db, &id).await?;
        let mut rows = store::history_of(&self.db, &id, after, p.size).await?;
        let next_page_token = p.finish(&mut rows, |h| h.id.to_string());
        Ok(pb::ListMarkHistoryResponse {
            entries: rows.iter().map(convert::history_pb).collect(),
            next_page_token,
        })
    }
}
