//! proto ⇄ domain. Parsing a request field yields a domain value or a message for the field;
//! rendering turns stored rows into proto messages.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    error::{ServiceResult, Violations},
    people::{PersonName, Uai},
    time::{format_paris_local, to_timestamp},
};

use super::state;
use crate::{
    domain::{
        appeal::AppealStatus,
        board::{BoardRole, Member},
        decision::{Decision, Outcome, Reason},
        double_entry::MarkStatus,
        keys,
        mark::{HalfPoints, PartResult},
        people::parse_email,
        schedule::{ExamPart, timing},
        session::{SessionState, appeal_deadline},
        statistics::{MarkSummary, Statistics},
    },
    store::{
        self, SheetRows, SlotSnapshot, StoredDecision, appeal, board, board_member,
        board_replacement, candidate, convocation, mark_history, minutes, session as session_row,
        slot,
    },
};

pub fn exam_part(v: i32) -> Result<ExamPart, String> {
    match pb::ExamPart::try_from(v) {
        Ok(pb::ExamPart::TrainingSession) => Ok(ExamPart::TrainingSession),
        Ok(pb::ExamPart::CaseStudy) => Ok(ExamPart::CaseStudy),
        Ok(pb::ExamPart::Unspecified) => Err("is required: TRAINING_SESSION or CASE_STUDY".into()),
        Err(_) => Err(format!("{v} is not a known épreuve")),
    }
}

pub fn exam_part_pb(p: ExamPart) -> i32 {
    (match p {
        ExamPart::TrainingSession => pb::ExamPart::TrainingSession,
        ExamPart::CaseStudy => pb::ExamPart::CaseStudy,
    }) as i32
}

pub fn board_role(v: i32) -> Result<BoardRole, String> {
    match pb::ExamBoardRole::try_from(v) {
        Ok(pb::ExamBoardRole::President) => Ok(BoardRole::President),
        Ok(pb::ExamBoardRole::Member) => Ok(BoardRole::Member),
        Ok(pb::ExamBoardRole::Unspecified) => Err("is required: PRESIDENT or MEMBER".into()),
        Err(_) => Err(format!("{v} is not a known role")),
    }
}

/// A member as the exam office describes them, every field checked (violations under
/// `members[i].…` or `replacement.…` once nested by the caller).
pub fn member(m: &pb::NewBoardMember) -> Result<Member, Violations> {
    let mut v = Violations::default();
    let email = v.check("email", parse_email(&m.email));
    let last_name = v.check("last_name", PersonName::parse(&m.last_name));
    let first_name = v.check("first_name", PersonName::parse(&m.first_name));
    let uai = if m.workplace_uai.trim().is_empty() {
        Some(None)
    } else {
        v.check("workplace_uai", Uai::parse(&m.workplace_uai).map(Some))
    };
    let role = v.check("role", board_role(m.role));
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

pub fn appeal_outcome(v: i32) -> Result<AppealStatus, String> {
    match pb::ExamAppealStatus::try_from(v) {
        Ok(pb::ExamAppealStatus::Upheld) => Ok(AppealStatus::Upheld),
        Ok(pb::ExamAppealStatus::Dismissed) => Ok(AppealStatus::Dismissed),
        Ok(_) => Err("is required: UPHELD or DISMISSED".into()),
        Err(_) => Err(format!("{v} is not a known outcome")),
    }
}

pub fn part_mark_pb(r: PartResult) -> pb::ExamPartMark {
    match r {
        PartResult::Absent => pb::ExamPartMark {
            absent: true,
            mark: String::new(),
            mark_half_points: 0,
        },
        PartResult::Mark(m) => pb::ExamPartMark {
            absent: false,
            mark: m.to_string(),
            mark_half_points: m.half_points(),
        },
    }
}

fn stored_mark_pb(absent: bool, half_points: Option<i32>) -> Option<pb::ExamPartMark> {
    PartResult::from_stored(absent, half_points).map(part_mark_pb)
}

pub fn mark_status_pb(s: MarkStatus) -> i32 {
    (match s {
        MarkStatus::NotEntered => pb::ExamMarkStatus::NotEntered,
        MarkStatus::AwaitingSecondEntry => pb::ExamMarkStatus::AwaitingSecondEntry,
        MarkStatus::Agreed => pb::ExamMarkStatus::Agreed,
        MarkStatus::Mismatch => pb::ExamMarkStatus::Mismatch,
        MarkStatus::Reconciled => pb::ExamMarkStatus::Reconciled,
    }) as i32
}

pub fn outcome_pb(o: Outcome) -> i32 {
    (match o {
        Outcome::Admitted => pb::ExamOutcome::Admitted,
        Outcome::NotAdmitted => pb::ExamOutcome::NotAdmitted,
    }) as i32
}

pub fn reason_pb(r: Reason) -> i32 {
    (match r {
        Reason::Withdrawn => pb::ExamDecisionReason::Withdrawn,
        Reason::Absent => pb::ExamDecisionReason::Absent,
        Reason::EliminatoryMark => pb::ExamDecisionReason::EliminatoryMark,
        Reason::TotalBelow20 => pb::ExamDecisionReason::TotalBelow20,
    }) as i32
}

fn appeal_status_pb(s: AppealStatus) -> i32 {
    (match s {
        AppealStatus::Pending => pb::ExamAppealStatus::Pending,
        AppealStatus::Upheld => pb::ExamAppealStatus::Upheld,
        AppealStatus::Dismissed => pb::ExamAppealStatus::Dismissed,
    }) as i32
}

pub fn session_pb(academy: &str, s: &session_row::Model) -> pb::ExamSession {
    let state = match state(s) {
        SessionState::Open => pb::ExamSessionState::Open,
        SessionState::Deliberated => pb::ExamSessionState::Deliberated,
        SessionState::ResultsPublished => pb::ExamSessionState::ResultsPublished,
    };
    pb::ExamSession {
        id: s.id.clone(),
        academy: academy.to_owned(),
        year: s.year,
        starts_on: s.starts_on.clone(),
        ends_on: s.ends_on.clone(),
        appeal_window_days: s.appeal_window_days as u32,
        state: state as i32,
        create_time: Some(to_timestamp(s.created_at)),
        created_by: s.created_by.clone(),
        deliberation_close_time: s.deliberation_closed_at.map(to_timestamp),
        results_publish_time: s.results_published_at.map(to_timestamp),
        results_published_by: s.results_published_by.clone().unwrap_or_default(),
        appeal_deadline: s
            .results_published_at
            .map(|p| to_timestamp(appeal_deadline(p, s.appeal_window_days as u32))),
        jury_president_member_id: s.jury_president_member_id.clone().unwrap_or_default(),
    }
}

pub fn member_pb(m: &board_member::Model) -> pb::ExamBoardMember {
    let key = m.public_key.as_deref().and_then(keys::decode_stored_key);
    pb::ExamBoardMember {
        id: m.id.clone(),
        email: m.email.clone(),
        last_name: m.last_name.clone(),
        first_name: m.first_name.clone(),
        workplace_uai: m.workplace_uai.clone().unwrap_or_default(),
        role: (match m.role {
            BoardRole::President => pb::ExamBoardRole::President,
            BoardRole::Member => pb::ExamBoardRole::Member,
        }) as i32,
        signing_key_id: key.map(|k| keys::key_id(&k)).unwrap_or_default(),
        key_register_time: m.key_registered_at.map(to_timestamp),
    }
}

/// `everyone`: who ever sat on the board; those who left appear only in the replacements.
pub fn board_pb(
    b: &board::Model,
    everyone: &[board_member::Model],
    replacements: &[board_replacement::Model],
    candidacy_ids: Vec<String>,
) -> pb::ExamBoard {
    pb::ExamBoard {
        id: b.id.clone(),
        session_id: b.session_id.clone(),
        name: b.name.clone(),
        members: everyone
            .iter()
            .filter(|m| m.left_at.is_none())
            .map(member_pb)
            .collect(),
        candidacy_ids,
        create_time: Some(to_timestamp(b.created_at)),
        replacements: replacements
            .iter()
            .map(|r| pb::BoardMemberReplacement {
                former: everyone
                    .iter()
                    .find(|m| m.id == r.former_member_id)
                    .map(member_pb),
                replacement_member_id: r.replacement_member_id.clone(),
                replace_time: Some(to_timestamp(r.replaced_at)),
                replaced_by: r.replaced_by.clone(),
                reason: r.reason.clone(),
            })
            .collect(),
    }
}

fn local(t: DateTime<Utc>) -> String {
    format_paris_local(t)
}

pub fn snapshot_pb(s: &SlotSnapshot) -> pb::ExamSlot {
    let t = timing(s.exam_part, s.starts_at);
    pb::ExamSlot {
        id: s.id.clone(),
        session_id: s.session_id.clone(),
        board_id: s.board_id.clone(),
        candidacy_id: s.candidacy_id.clone(),
        exam_part: exam_part_pb(s.exam_part),
        starts_at_local: local(t.candidate.start),
        ends_at_local: local(t.candidate.end),
        start_time: Some(to_timestamp(t.candidate.start)),
        end_time: Some(to_timestamp(t.candidate.end)),
        board_start_time: Some(to_timestamp(t.board.start)),
        board_end_time: Some(to_timestamp(t.board.end)),
        location: s.location.clone(),
        phases: t
            .phases
            .iter()
            .map(|p| pb::ExamSlotPhase {
                name: p.name.to_owned(),
                starts_at_local: local(p.interval.start),
                ends_at_local: local(p.interval.end),
                start_time: Some(to_timestamp(p.interval.start)),
                end_time: Some(to_timestamp(p.interval.end)),
                with_board: p.with_board,
            })
            .collect(),
        update_time: Some(to_timestamp(s.updated_at)),
    }
}

pub fn slot_pb(s: &slot::Model) -> pb::ExamSlot {
    snapshot_pb(&SlotSnapshot::of(s))
}

pub fn convocation_pb(
    c: &convocation::Model,
    superseded: bool,
) -> ServiceResult<pb::ExamConvocation> {
    let slots = store::convocation_slots(c)?;
    Ok(pb::ExamConvocation {
        id: c.id.clone(),
        session_id: c.session_id.clone(),
        candidacy_id: c.candidacy_id.clone(),
        version: c.version as u32,
        issue_time: Some(to_timestamp(c.issued_at)),
        issued_by: c.issued_by.clone(),
        slots: slots.iter().map(snapshot_pb).collect(),
        document_sha256: c.document_sha256.clone(),
        superseded,
    })
}

/// A mark sheet as `viewer` may see it (`None`: the exam office).
pub fn sheet_pb(
    rows: &SheetRows,
    candidacy_id: &str,
    board_id: &str,
    part: ExamPart,
    viewer: Option<&str>,
) -> pb::MarkSheet {
    let sheet = rows.sheet(candidacy_id, part);
    let visible = sheet.visible_to(viewer);
    let entries = rows
        .entries(candidacy_id, part)
        .into_iter()
        .filter(|e| visible.iter().any(|v| v.entrant == e.entrant))
        .map(|e| pb::MarkEntry {
            entered_by: e.entrant.clone(),
            value: stored_mark_pb(e.absent, e.half_points),
            enter_time: Some(to_timestamp(e.entered_at)),
            update_time: Some(to_timestamp(e.updated_at)),
            corrections: e.corrections as u32,
        })
        .collect();
    let status = sheet.status();
    let reconciled = rows
        .reconciliation(candidacy_id, part)
        .filter(|_| status == MarkStatus::Reconciled);
    pb::MarkSheet {
        candidacy_id: candidacy_id.to_owned(),
        board_id: board_id.to_owned(),
        exam_part: exam_part_pb(part),
        status: mark_status_pb(status),
        entries,
        entry_count: sheet.entries.len() as u32,
        agreed_mark: sheet.agreed().map(part_mark_pb),
        reconciled_by: reconciled
            .map(|r| r.reconciled_by.clone())
            .unwrap_or_default(),
        reconcile_time: reconciled.map(|r| to_timestamp(r.reconciled_at)),
        reconcile_reason: reconciled.map(|r| r.reason.clone()).unwrap_or_default(),
    }
}

pub fn history_pb(h: &mark_history::Model) -> pb::MarkHistoryEntry {
    pb::MarkHistoryEntry {
        candidacy_id: h.candidacy_id.clone(),
        exam_part: exam_part_pb(h.exam_part),
        action: h.action.clone(),
        actor: h.actor.clone(),
        time: Some(to_timestamp(h.at)),
        previous: h
            .previous_absent
            .and_then(|a| stored_mark_pb(a, h.previous_half_points)),
        value: stored_mark_pb(h.absent, h.half_points),
        reason: h.reason.clone().unwrap_or_default(),
    }
}

pub fn decision_pb(
    candidacy_id: &str,
    last_name: &str,
    first_name: &str,
    d: &Decision,
) -> pb::ExamDecision {
    pb::ExamDecision {
        candidacy_id: candidacy_id.to_owned(),
        last_name: last_name.to_owned(),
        first_name: first_name.to_owned(),
        part_1: d.part_1.map(part_mark_pb),
        part_2: d.part_2.map(part_mark_pb),
        total: d.total().map(HalfPoints::show).unwrap_or_default(),
        total_half_points: d.total().unwrap_or(0),
        outcome: outcome_pb(d.outcome),
        reason: d.reason.map_or(0, reason_pb),
    }
}

pub fn stored_decision_pb(s: &StoredDecision) -> pb::ExamDecision {
    decision_pb(&s.candidacy_id, &s.last_name, &s.first_name, &s.decision())
}

pub fn candidate_decision_pb(c: &candidate::Model, d: &Decision) -> pb::ExamDecision {
    decision_pb(&c.candidacy_id, &c.last_name, &c.first_name, d)
}

pub fn minutes_pb(year: i32, m: &minutes::Model) -> ServiceResult<pb::DeliberationMinutes> {
    let decisions = store::minutes_decisions(m)?;
    Ok(pb::DeliberationMinutes {
        id: m.id.clone(),
        session_id: m.session_id.clone(),
        year,
        sha256: m.sha256.clone(),
        pdf: m.document.clone(),
        decisions: decisions.iter().map(stored_decision_pb).collect(),
        prepare_time: Some(to_timestamp(m.prepared_at)),
        prepared_by: m.prepared_by.clone(),
        close_time: m.closed_at.map(to_timestamp),
        signed_by: m.signed_by.clone().unwrap_or_default(),
        signer_key_id: m.signer_key_id.clone().unwrap_or_default(),
        signature: m.signature.clone().unwrap_or_default(),
        academy_key_id: m.academy_key_id.clone().unwrap_or_default(),
        academy_signature: m.academy_signature.clone().unwrap_or_default(),
    })
}

pub fn appeal_pb(a: &appeal::Model) -> ServiceResult<pb::ExamAppeal> {
    let (before, after) = store::appeal_decisions(a)?;
    Ok(pb::ExamAppeal {
        id: a.id.clone(),
        session_id: a.session_id.clone(),
        candidacy_id: a.candidacy_id.clone(),
        status: appeal_status_pb(a.status),
        grounds: a.grounds.clone(),
        file_time: Some(to_timestamp(a.filed_at)),
        filed_by: a.filed_by.clone(),
        decide_time: a.decided_at.map(to_timestamp),
        decided_by: a.decided_by.clone().unwrap_or_default(),
        decision_text: a.decision_text.clone().unwrap_or_default(),
        decision_before: Some(stored_decision_pb(&before)),
        decision_after: after.as_ref().map(stored_decision_pb),
    })
}

fn summary_pb(s: &MarkSummary) -> pb::ExamMarkSummary {
    pb::ExamMarkSummary {
        present: s.present,
        absent: s.absent,
        eliminatory: s.eliminatory,
        lowest: s.lowest.map(|m| m.to_string()).unwrap_or_default(),
        highest: s.highest.map(|m| m.to_string()).unwrap_or_default(),
        mean: s.mean,
        distribution: s.distribution.to_vec(),
    }
}

pub fn statistics_pb(s: &session_row::Model, st: &Statistics) -> pb::ExamStatistics {
    pb::ExamStatistics {
        session_id: s.id.clone(),
        year: s.year,
        candidates: st.candidates,
        withdrawn: st.withdrawn,
        sat: st.sat,
        absent: st.absent,
        admitted: st.admitted,
        not_admitted: st.not_admitted,
        not_admitted_percent: st.not_admitted_percent,
        part_1: Some(summary_pb(&st.part_1)),
        part_2: Some(summary_pb(&st.part_2)),
        average: Some(pb::ExamAverageSummary {
            count: st.average.count,
            lowest: st.average.lowest.map(|a| a.to_string()).unwrap_or_default(),
            highest: st
                .average
                .highest
                .map(|a| a.to_string())
                .unwrap_or_default(),
            mean: st.average.mean,
        }),
        not_admitted_by_reason: st
            .not_admitted_by_reason
            .iter()
            .map(|(r, n)| pb::ExamReasonCount {
                reason: reason_pb(*r),
                count: *n,
            })
            .collect(),
        published: s.results_published_at.is_some(),
    }
}
