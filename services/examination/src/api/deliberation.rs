//! After the exam: the deliberation and its signed minutes, publication of results, results,
//! appeals and the session statistics.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    db::is_unique_violation,
    db::page,
    error::{ServiceError, ServiceResult, Violations},
    time::to_timestamp,
};
use ed25519_dalek::VerifyingKey;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait,
};
use uuid::Uuid;

use super::{Inner, convert, id_field, is_office, paging, parse_id, rule, seat};
use crate::{
    documents::{self, MinutesBoard, MinutesMember, MinutesRow},
    domain::{
        appeal::{self as appeal_rules, AppealStatus},
        board::BoardRole,
        decision::{Decision, Reason, decide_with},
        keys,
        mark::PartResult,
        people::parse_text,
        schedule::ExamPart,
        session::{appeal_deadline, can_appeal},
        statistics,
    },
    events,
    store::{
        self, HistoryRecord, StoredDecision, appeal, board_member, candidate, decision, minutes,
        session,
    },
};

fn not_deliberated(s: &session::Model) -> ServiceError {
    ServiceError::precondition(
        "DELIBERATION_NOT_CLOSED",
        format!("session/{}", s.id),
        "the deliberation of this session is not closed yet",
    )
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// What signed minutes must still match when closed: the decisions and who sits on the boards
/// (the minutes print both), so a replaced member means preparing them again.
fn fingerprint(decisions_json: &str, members: &[board_member::Model]) -> String {
    let mut seats: Vec<String> = members
        .iter()
        .map(|m| format!("{}\t{}\t{}", m.board_id, m.id, m.role))
        .collect();
    seats.sort();
    let text = format!("{decisions_json}\n{}", seats.join("\n"));
    hex::encode(keys::sha256(text.as_bytes()))
}

/// The caller's president seats in a session.
fn presidencies<'a>(
    members: &'a [board_member::Model],
    caller: &Caller,
) -> Vec<&'a board_member::Model> {
    members
        .iter()
        .filter(|m| {
            BoardRole::parse(&m.role) == Some(BoardRole::President)
                && seat(std::slice::from_ref(*m), caller).is_some()
        })
        .collect()
}

impl Inner {
    /// The decision for every candidate of the session's year, or why the deliberation cannot
    /// take place yet (a mismatch to reconcile, a missing mark, a candidate without board).
    async fn deliberate<C: ConnectionTrait>(
        &self,
        txn: &C,
        s: &session::Model,
    ) -> ServiceResult<Vec<(candidate::Model, Decision)>> {
        let candidates = store::candidates_of_year(txn, s.year).await?;
        let assignments = store::assignments_of_session(txn, &s.id).await?;
        let ids: Vec<String> = candidates.iter().map(|c| c.candidacy_id.clone()).collect();
        let entries = store::entries_of(txn, &ids).await?;
        let recons = store::reconciliations_of(txn, &ids).await?;
        let (mut unassigned, mut incomplete, mut mismatched) = (Vec::new(), Vec::new(), Vec::new());
        let mut out = Vec::with_capacity(candidates.len());
        for c in candidates {
            let name = format!("{} {}", c.first_name, c.last_name);
            let board = assignments
                .iter()
                .find(|a| a.candidacy_id == c.candidacy_id)
                .map(|a| a.board_id.clone());
            let mut results: [Option<PartResult>; 2] = [None, None];
            let mut complete = true;
            for (i, part) in ExamPart::ALL.iter().enumerate() {
                let sheet = convert::SheetRows {
                    candidacy_id: &c.candidacy_id,
                    board_id: board.as_deref().unwrap_or(""),
                    part: *part,
                    entries: entries
                        .iter()
                        .filter(|e| {
                            e.candidacy_id == c.candidacy_id && e.exam_part == part.as_str()
                        })
                        .collect(),
                    reconciliation: recons
                        .iter()
                        .find(|r| r.candidacy_id == c.candidacy_id && r.exam_part == part.as_str()),
                }
                .sheet();
                results[i] = sheet.agreed();
                if c.withdrawn_at.is_none() && board.is_some() && results[i].is_none() {
                    complete = false;
                    let what = format!("{name} (épreuve {})", part.number());
                    match sheet.status() {
                        crate::domain::double_entry::MarkStatus::Mismatch => mismatched.push(what),
                        _ => incomplete.push(what),
                    }
                }
            }
            // A withdrawn candidate is decided whatever was entered before they withdrew.
            if c.withdrawn_at.is_some() {
                let d = decide_with(true, results[0], results[1]);
                out.push((c, d));
                continue;
            }
            if board.is_none() {
                unassigned.push(name);
                continue;
            }
            if complete {
                let d = decide_with(false, results[0], results[1]);
                out.push((c, d));
            }
        }
        let subject = format!("session/{}", s.id);
        if !mismatched.is_empty() {
            return Err(ServiceError::precondition(
                "UNRECONCILED_DOUBLE_ENTRY",
                subject,
                format!(
                    "the two entries differ and the board president must reconcile them first: {}",
                    list(&mismatched)
                ),
            ));
        }
        if !incomplete.is_empty() {
            return Err(ServiceError::precondition(
                "MARKS_INCOMPLETE",
                subject,
                format!(
                    "marks are missing (each is entered by two members): {}",
                    list(&incomplete)
                ),
            ));
        }
        if !unassigned.is_empty() {
            return Err(ServiceError::precondition(
                "CANDIDATES_UNASSIGNED",
                subject,
                format!("candidates without a board: {}", list(&unassigned)),
            ));
        }
        Ok(out)
    }

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

    pub(super) async fn prepare_minutes(
        &self,
        caller: Caller,
        req: pb::PrepareMinutesRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let id = id_field("session_id", &req.session_id)?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let s = self.session_locked(&txn, &id).await?;
        self.open(&s)?;
        let members = store::members_of_session(&txn, &s.id).await?;
        if presidencies(&members, &caller).is_empty() {
            return Err(ServiceError::PermissionDenied(
                "only a board president of the session prepares and signs the minutes".into(),
            ));
        }
        let decided = self.deliberate(&txn, &s).await?;
        let stored: Vec<StoredDecision> = decided
            .iter()
            .map(|(c, d)| StoredDecision::new(c, d))
            .collect();
        let json = serde_json::to_string(&stored).map_err(ServiceError::internal)?;
        let boards = store::boards_of_session(&txn, &s.id).await?;
        let minutes_boards: Vec<MinutesBoard> = boards
            .iter()
            .map(|b| MinutesBoard {
                name: b.name.clone(),
                members: members
                    .iter()
                    .filter(|m| m.board_id == b.id)
                    .map(|m| MinutesMember {
                        name: format!("{} {}", m.first_name, m.last_name),
                        president: BoardRole::parse(&m.role) == Some(BoardRole::President),
                    })
                    .collect(),
            })
            .collect();
        let rows: Vec<MinutesRow> = decided
            .iter()
            .map(|(c, d)| MinutesRow {
                last_name: c.last_name.clone(),
                first_name: c.first_name.clone(),
                part_1: d.part_1,
                part_2: d.part_2,
                total: d.total(),
                outcome: d.outcome,
                reason: d.reason,
            })
            .collect();
        let pdf = documents::minutes_pdf(&documents::Minutes {
            academy_name: self.academy.name,
            year: s.year,
            starts_on: &s.starts_on,
            ends_on: &s.ends_on,
            boards: &minutes_boards,
            rows: &rows,
            prepared_at: now,
            prepared_by: &caller.subject,
        });
        let row = minutes::Model {
            id: Uuid::now_v7().to_string(),
            session_id: s.id.clone(),
            prepared_at: now,
            prepared_by: caller.subject.clone(),
            sha256: hex::encode(keys::sha256(&pdf)),
            document: pdf,
            decisions_fingerprint: fingerprint(&json, &members),
            decisions_json: json,
            closed_at: None,
            signed_by: None,
            signer_key_id: None,
            signature: None,
            academy_key_id: None,
            academy_signature: None,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(convert::minutes_pb(s.year, &row, true))
    }

    pub(super) async fn close_deliberation(
        &self,
        caller: Caller,
        req: pb::CloseDeliberationRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let digest = v.check("minutes_sha256", keys::parse_digest(&req.minutes_sha256));
        let signature = v.check("signature", keys::parse_signature(&req.signature));
        v.finish()?;
        let (id, digest, signature) = (
            id.expect("checked"),
            digest.expect("checked"),
            signature.expect("checked"),
        );
        let now = self.now();
        let subject = format!("session/{id}");
        let txn = self.db.begin().await?;
        let s = self.session_locked(&txn, &id).await?;
        self.open(&s)?;
        let members = store::members_of_session(&txn, &s.id).await?;
        let seats = presidencies(&members, &caller);
        if seats.is_empty() {
            return Err(ServiceError::PermissionDenied(
                "only a board president of the session closes the deliberation".into(),
            ));
        }
        let signer_keys: Vec<(&board_member::Model, VerifyingKey)> = seats
            .iter()
            .filter_map(|m| Some((*m, keys::decode_stored_key(m.public_key.as_deref()?)?)))
            .collect();
        if signer_keys.is_empty() {
            return Err(ServiceError::precondition(
                "NO_SIGNING_KEY",
                subject,
                "register your Ed25519 public key (RegisterBoardMemberKey) before signing",
            ));
        }
        let latest = store::latest_minutes(&txn, &s.id).await?.ok_or_else(|| {
            ServiceError::precondition(
                "MINUTES_NOT_PREPARED",
                subject.clone(),
                "prepare the minutes (PrepareMinutes) and sign their SHA-256",
            )
        })?;
        if latest.sha256 != hex::encode(digest) {
            return Err(ServiceError::precondition(
                "MINUTES_OUTDATED",
                subject,
                format!(
                    "these are not the latest minutes prepared (SHA-256 {}); sign those",
                    latest.sha256
                ),
            ));
        }
        let decided = self.deliberate(&txn, &s).await?;
        let stored: Vec<StoredDecision> = decided
            .iter()
            .map(|(c, d)| StoredDecision::new(c, d))
            .collect();
        let json = serde_json::to_string(&stored).map_err(ServiceError::internal)?;
        if fingerprint(&json, &members) != latest.decisions_fingerprint {
            return Err(ServiceError::precondition(
                "MINUTES_OUTDATED",
                subject,
                "marks, candidates or boards changed since the minutes were prepared: prepare them again",
            ));
        }
        let (signer, key) = signer_keys
            .iter()
            .find(|(_, k)| keys::verify(k, &digest, &signature))
            .ok_or_else(|| {
                ServiceError::invalid(
                    "signature",
                    "does not verify with the signing key you registered for the digest of the minutes",
                )
            })?;
        let (academy_kid, academy_signature) = self.keyring.sign(&digest);
        let mut am = latest.clone().into_active_model();
        am.closed_at = Set(Some(now));
        am.signed_by = Set(Some(signer.email.clone()));
        am.signer_key_id = Set(Some(keys::key_id(key)));
        am.signature = Set(Some(keys::encode_signature(&signature)));
        am.academy_key_id = Set(Some(academy_kid));
        am.academy_signature = Set(Some(keys::encode_signature(&academy_signature)));
        let signed = am.update(&txn).await?;
        let mut sm = s.clone().into_active_model();
        sm.deliberation_closed_at = Set(Some(now));
        sm.updated_at = Set(now);
        let s = store::save_session(&txn, sm).await?;
        for (c, d) in &decided {
            let mut row = decision::ActiveModel {
                candidacy_id: Set(c.candidacy_id.clone()),
                session_id: Set(s.id.clone()),
                decided_at: Set(now),
                revised_at: Set(None),
                revised_by_appeal: Set(None),
                ..Default::default()
            };
            store::set_decision(&mut row, d);
            row.insert(&txn).await?;
        }
        self.emit(
            &txn,
            [events::deliberation_closed(&s, &decided, &signed.sha256)],
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(session = %s.id, decisions = decided.len(), signed_by = %signer.email, "deliberation closed");
        Ok(convert::minutes_pb(s.year, &signed, true))
    }

    pub(super) async fn get_minutes(
        &self,
        caller: Caller,
        req: pb::GetMinutesRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let id = id_field("session_id", &req.session_id)?;
        let s = self.session(&self.db, &id).await?;
        if !is_office(&caller) {
            let members = store::members_of_session(&self.db, &s.id).await?;
            if seat(&members, &caller).is_none() {
                return Err(ServiceError::PermissionDenied(format!(
                    "{} sits on no board of this session",
                    caller.subject
                )));
            }
        }
        let m = match store::signed_minutes(&self.db, &s.id).await? {
            Some(m) => Some(m),
            None => store::latest_minutes(&self.db, &s.id).await?,
        };
        let m = m.ok_or_else(|| {
            ServiceError::NotFound(format!("no minutes were prepared for session {id}"))
        })?;
        Ok(convert::minutes_pb(s.year, &m, true))
    }

    // ---- publication and results -------------------------------------------------------

    pub(super) async fn publish_results(
        &self,
        caller: Caller,
        req: pb::PublishResultsRequest,
    ) -> ServiceResult<pb::PublishResultsResponse> {
        let id = id_field("session_id", &req.session_id)?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let s = self.session_locked(&txn, &id).await?;
        if s.deliberation_closed_at.is_none() {
            return Err(not_deliberated(&s));
        }
        let decided = self.decided(&txn, &s).await?;
        let admitted = decided
            .iter()
            .filter(|(_, d)| d.outcome == crate::domain::decision::Outcome::Admitted)
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
        let mut am = s.into_active_model();
        am.results_published_at = Set(Some(now));
        am.results_published_by = Set(Some(caller.subject.clone()));
        am.updated_at = Set(now);
        let s = store::save_session(&txn, am).await?;
        self.emit(&txn, events::results_published(&s, &decided, now))
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(session = %s.id, candidates = decided.len(), admitted, by = %caller.subject, "results published");
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
            appeals: appeals.iter().map(convert::appeal_pb).collect(),
        })
    }

    pub(super) async fn get_result(
        &self,
        caller: Caller,
        req: pb::GetExamResultRequest,
    ) -> ServiceResult<pb::ExamResult> {
        let id = id_field("candidacy_id", &req.candidacy_id)?;
        let c = self.candidate(&self.db, &id).await?;
        self.ensure_own(&caller, &c)?;
        let s = self.session_of(&self.db, &c).await?;
        if !is_office(&caller) && s.results_published_at.is_none() {
            return Err(ServiceError::precondition(
                "RESULTS_NOT_PUBLISHED",
                format!("candidacy/{id}"),
                "results are not published yet",
            ));
        }
        let d = store::decision(&self.db, &id)
            .await?
            .ok_or_else(|| not_deliberated(&s))?;
        self.result_pb(&self.db, &s, &c, &d).await
    }

    pub(super) async fn list_results(
        &self,
        _caller: Caller,
        req: pb::ListExamResultsRequest,
    ) -> ServiceResult<pb::ListExamResultsResponse> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let p = paging(
            &mut v,
            format!("results;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (id, p) = (id.expect("checked"), p.expect("checked"));
        let s = self.session(&self.db, &id).await?;
        if s.deliberation_closed_at.is_none() {
            return Err(not_deliberated(&s));
        }
        let mut rows = page(
            &self.db,
            decision::Entity::find().filter(decision::Column::SessionId.eq(s.id.as_str())),
            decision::Column::CandidacyId,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |d| d.candidacy_id.clone());
        let mut results = Vec::with_capacity(rows.len());
        for d in &rows {
            let c = self.candidate(&self.db, &d.candidacy_id).await?;
            results.push(self.result_pb(&self.db, &s, &c, d).await?);
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
        v.finish()?;
        let (id, grounds) = (id.expect("checked"), grounds.expect("checked"));
        let subject = format!("candidacy/{id}");
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidate(&txn, &id).await?;
        self.ensure_own(&caller, &c)?;
        let s = self.session_of(&txn, &c).await?;
        let s = self.session_locked(&txn, &s.id).await?;
        can_appeal(s.results_published_at, s.appeal_window_days as u32, now)
            .map_err(|e| rule(e, subject.clone()))?;
        let d = store::decision(&txn, &id)
            .await?
            .ok_or_else(|| not_deliberated(&s))?;
        let decision = store::decision_of(&d);
        let pending = store::appeals_of_candidate(&txn, &id)
            .await?
            .iter()
            .any(|a| a.status == AppealStatus::Pending.as_str());
        appeal_rules::can_file(pending, decision.reason == Some(Reason::Withdrawn))
            .map_err(|e| rule(e, subject.clone()))?;
        let row = appeal::Model {
            id: Uuid::now_v7().to_string(),
            session_id: s.id.clone(),
            candidacy_id: id.clone(),
            status: AppealStatus::Pending.as_str().to_owned(),
            grounds,
            filed_at: now,
            filed_by: caller.subject.clone(),
            decided_at: None,
            decided_by: None,
            decision_text: None,
            before_json: serde_json::to_string(&StoredDecision::new(&c, &decision))
                .map_err(ServiceError::internal)?,
            after_json: None,
        }
        .into_active_model()
        .reset_all()
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ServiceError::precondition(
                    "APPEAL_PENDING",
                    subject.clone(),
                    "an appeal of this candidate is already awaiting its decision",
                )
            } else {
                e.into()
            }
        })?;
        txn.commit().await?;
        tracing::info!(candidacy = %id, appeal = %row.id, "appeal filed");
        Ok(convert::appeal_pb(&row))
    }

    pub(super) async fn decide_appeal(
        &self,
        caller: Caller,
        req: pb::DecideAppealRequest,
    ) -> ServiceResult<pb::ExamAppeal> {
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
        v.finish()?;
        let (id, outcome, text, p1, p2) = (
            id.expect("checked"),
            outcome.expect("checked"),
            text.expect("checked"),
            p1.expect("checked"),
            p2.expect("checked"),
        );
        let upheld = outcome == AppealStatus::Upheld;
        let now = self.now();
        let txn = self.db.begin().await?;
        let a = store::appeal(&txn, &id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("appeal {id}")))?;
        let s = self.session_locked(&txn, &a.session_id).await?;
        appeal_rules::can_decide(AppealStatus::parse(&a.status).unwrap_or(AppealStatus::Pending))
            .map_err(|e| rule(e, format!("appeal/{id}")))?;
        let c = self.candidate(&txn, &a.candidacy_id).await?;
        let d = store::decision(&txn, &c.candidacy_id)
            .await?
            .ok_or_else(|| not_deliberated(&s))?;
        let before = store::decision_of(&d);
        let after = if upheld {
            match appeal_rules::revise(&before, p1, p2) {
                Ok(after) => after,
                Err(e) => {
                    let mut v = Violations::default();
                    v.add("part_1", e.clone());
                    v.add("part_2", e);
                    return Err(v.finish().expect_err("violations were added"));
                }
            }
        } else {
            before
        };
        if upheld {
            for (part, was, now_is) in [
                (ExamPart::TrainingSession, before.part_1, after.part_1),
                (ExamPart::CaseStudy, before.part_2, after.part_2),
            ] {
                if let Some(value) = now_is.filter(|v| Some(*v) != was) {
                    store::record_history(
                        &txn,
                        HistoryRecord {
                            session_id: &s.id,
                            candidacy_id: &c.candidacy_id,
                            part: part.as_str(),
                            action: "revised_on_appeal",
                            actor: &caller.subject,
                            at: now,
                            previous: was,
                            value,
                            reason: Some(text.clone()),
                        },
                    )
                    .await?;
                }
            }
            let mut am = d.into_active_model();
            store::set_decision(&mut am, &after);
            am.revised_at = Set(Some(now));
            am.revised_by_appeal = Set(Some(a.id.clone()));
            am.update(&txn).await?;
        }
        let mut am = a.into_active_model();
        am.status = Set(outcome.as_str().to_owned());
        am.decided_at = Set(Some(now));
        am.decided_by = Set(Some(caller.subject.clone()));
        am.decision_text = Set(Some(text));
        am.after_json = Set(Some(
            serde_json::to_string(&StoredDecision::new(&c, &after))
                .map_err(ServiceError::internal)?,
        ));
        let row = am.update(&txn).await?;
        self.emit(&txn, events::appeal_decided(&s, &c, upheld, &after))
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(appeal = %row.id, outcome = %outcome, by = %caller.subject, "appeal decided");
        Ok(convert::appeal_pb(&row))
    }

    pub(super) async fn list_appeals(
        &self,
        _caller: Caller,
        req: pb::ListAppealsRequest,
    ) -> ServiceResult<pb::ListAppealsResponse> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let p = paging(
            &mut v,
            format!("appeals;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        v.finish()?;
        let (id, p) = (id.expect("checked"), p.expect("checked"));
        self.session(&self.db, &id).await?;
        let mut rows = page(
            &self.db,
            appeal::Entity::find().filter(appeal::Column::SessionId.eq(id.as_str())),
            appeal::Column::Id,
            p.after.as_deref(),
            p.size + 1,
        )
        .await?;
        let next_page_token = p.finish(&mut rows, |a| a.id.clone());
        Ok(pb::ListAppealsResponse {
            appeals: rows.iter().map(convert::appeal_pb).collect(),
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
        let s = self.session(&self.db, &id).await?;
        if s.deliberation_closed_at.is_none() {
            return Err(not_deliberated(&s));
        }
        let decisions: Vec<Decision> = store::decisions_of_session(&self.db, &s.id)
            .await?
            .iter()
            .map(store::decision_of)
            .collect();
        Ok(convert::statistics_pb(&s, &statistics::compute(&decisions)))
    }
}
