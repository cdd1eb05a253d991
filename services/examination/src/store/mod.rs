//! Persistence of the exam (sea-orm). Functions take any connection, so the api layer decides
//! the transaction; no rule is decided here.

pub mod entities;
pub mod migration;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

pub use self::entities::{
    appeal, assignment, board, board_member, board_replacement, candidate, convocation, decision,
    mark_entry, mark_history, minutes, pending_withdrawal, reconciliation, session, slot,
};
use crate::domain::{
    decision::{Decision, Outcome, Reason},
    mark::PartResult,
};

// ---- candidates --------------------------------------------------------------------------

pub async fn candidate<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<candidate::Model>, DbErr> {
    candidate::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn candidates_of_year<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<candidate::Model>, DbErr> {
    candidate::Entity::find()
        .filter(candidate::Column::Year.eq(year))
        .order_by_asc(candidate::Column::LastName)
        .order_by_asc(candidate::Column::FirstName)
        .order_by_asc(candidate::Column::CandidacyId)
        .all(db)
        .await
}

pub async fn candidates_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<Vec<candidate::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    candidate::Entity::find()
        .filter(candidate::Column::CandidacyId.is_in(ids.iter().cloned()))
        .all(db)
        .await
}

// ---- sessions ----------------------------------------------------------------------------

pub async fn session<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The session row locked until the transaction ends (PostgreSQL; SQLite has one writer), so
/// acts on one session (entries, bookings, deliberation) never interleave.
pub async fn session_locked<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<session::Model>, DbErr> {
    let q = session::Entity::find_by_id(id.to_owned());
    let q = if txn.get_database_backend() == DbBackend::Postgres {
        q.lock_exclusive()
    } else {
        q
    };
    q.one(txn).await
}

pub async fn session_of_year<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::Year.eq(year))
        .one(db)
        .await
}

pub async fn save_session<C: ConnectionTrait>(
    db: &C,
    am: session::ActiveModel,
) -> Result<session::Model, DbErr> {
    am.update(db).await
}

// ---- boards ------------------------------------------------------------------------------

pub async fn board<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<board::Model>, DbErr> {
    board::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn boards_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<board::Model>, DbErr> {
    board::Entity::find()
        .filter(board::Column::SessionId.eq(session_id))
        .order_by_asc(board::Column::Id)
        .all(db)
        .await
}

pub async fn members_of<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
) -> Result<Vec<board_member::Model>, DbErr> {
    board_member::Entity::find()
        .filter(board_member::Column::BoardId.eq(board_id))
        .filter(board_member::Column::LeftAt.is_null())
        .order_by_asc(board_member::Column::Id)
        .all(db)
        .await
}

/// Everyone who ever sat on the board, those replaced included.
pub async fn all_members_of<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
) -> Result<Vec<board_member::Model>, DbErr> {
    board_member::Entity::find()
        .filter(board_member::Column::BoardId.eq(board_id))
        .order_by_asc(board_member::Column::Id)
        .all(db)
        .await
}

pub async fn replacements_of<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
) -> Result<Vec<board_replacement::Model>, DbErr> {
    board_replacement::Entity::find()
        .filter(board_replacement::Column::BoardId.eq(board_id))
        .order_by_asc(board_replacement::Column::Id)
        .all(db)
        .await
}

pub async fn members_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<board_member::Model>, DbErr> {
    board_member::Entity::find()
        .filter(board_member::Column::SessionId.eq(session_id))
        .filter(board_member::Column::LeftAt.is_null())
        .order_by_asc(board_member::Column::Id)
        .all(db)
        .await
}

/// Every board seat of a person (by e-mail, lowercase).
pub async fn seats_of<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Vec<board_member::Model>, DbErr> {
    board_member::Entity::find()
        .filter(board_member::Column::Email.eq(email.trim().to_ascii_lowercase()))
        .filter(board_member::Column::LeftAt.is_null())
        .all(db)
        .await
}

// ---- assignments and slots ---------------------------------------------------------------

pub async fn assignment<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<assignment::Model>, DbErr> {
    assignment::Entity::find_by_id(candidacy_id.to_owned())
        .one(db)
        .await
}

pub async fn assignments_of_board<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
) -> Result<Vec<assignment::Model>, DbErr> {
    assignment::Entity::find()
        .filter(assignment::Column::BoardId.eq(board_id))
        .order_by_asc(assignment::Column::CandidacyId)
        .all(db)
        .await
}

pub async fn assignments_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<assignment::Model>, DbErr> {
    assignment::Entity::find()
        .filter(assignment::Column::SessionId.eq(session_id))
        .order_by_asc(assignment::Column::CandidacyId)
        .all(db)
        .await
}

pub async fn slots_of_candidate<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<slot::Model>, DbErr> {
    slot::Entity::find()
        .filter(slot::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(slot::Column::StartsAt)
        .all(db)
        .await
}

pub async fn slots_of_board<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
) -> Result<Vec<slot::Model>, DbErr> {
    slot::Entity::find()
        .filter(slot::Column::BoardId.eq(board_id))
        .order_by_asc(slot::Column::BoardStartsAt)
        .all(db)
        .await
}

pub async fn slots_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<slot::Model>, DbErr> {
    slot::Entity::find()
        .filter(slot::Column::SessionId.eq(session_id))
        .all(db)
        .await
}

// ---- convocations ------------------------------------------------------------------------

pub async fn latest_convocation<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<convocation::Model>, DbErr> {
    convocation::Entity::find()
        .filter(convocation::Column::CandidacyId.eq(candidacy_id))
        .order_by_desc(convocation::Column::Version)
        .one(db)
        .await
}

pub async fn convocation_version<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    version: i32,
) -> Result<Option<convocation::Model>, DbErr> {
    convocation::Entity::find()
        .filter(convocation::Column::CandidacyId.eq(candidacy_id))
        .filter(convocation::Column::Version.eq(version))
        .one(db)
        .await
}

/// Latest version first; `before` is the last version of the previous page.
pub async fn convocations_of<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<convocation::Model>, DbErr> {
    let mut q = convocation::Entity::find()
        .filter(convocation::Column::CandidacyId.eq(candidacy_id))
        .order_by_desc(convocation::Column::Version)
        .limit(limit + 1);
    if let Some(b) = before {
        q = q.filter(convocation::Column::Version.lt(b));
    }
    q.all(db).await
}

// ---- marks -------------------------------------------------------------------------------

pub async fn entries_of<C: ConnectionTrait>(
    db: &C,
    candidacy_ids: &[String],
) -> Result<Vec<mark_entry::Model>, DbErr> {
    if candidacy_ids.is_empty() {
        return Ok(Vec::new());
    }
    mark_entry::Entity::find()
        .filter(mark_entry::Column::CandidacyId.is_in(candidacy_ids.iter().cloned()))
        .order_by_asc(mark_entry::Column::EnteredAt)
        .order_by_asc(mark_entry::Column::Id)
        .all(db)
        .await
}

pub async fn entries_of_part<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    part: &str,
) -> Result<Vec<mark_entry::Model>, DbErr> {
    mark_entry::Entity::find()
        .filter(mark_entry::Column::CandidacyId.eq(candidacy_id))
        .filter(mark_entry::Column::ExamPart.eq(part))
        .order_by_asc(mark_entry::Column::EnteredAt)
        .order_by_asc(mark_entry::Column::Id)
        .all(db)
        .await
}

pub async fn reconciliations_of<C: ConnectionTrait>(
    db: &C,
    candidacy_ids: &[String],
) -> Result<Vec<reconciliation::Model>, DbErr> {
    if candidacy_ids.is_empty() {
        return Ok(Vec::new());
    }
    reconciliation::Entity::find()
        .filter(reconciliation::Column::CandidacyId.is_in(candidacy_ids.iter().cloned()))
        .all(db)
        .await
}

pub async fn delete_reconciliation<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    part: &str,
) -> Result<(), DbErr> {
    reconciliation::Entity::delete_many()
        .filter(reconciliation::Column::CandidacyId.eq(candidacy_id))
        .filter(reconciliation::Column::ExamPart.eq(part))
        .exec(db)
        .await?;
    Ok(())
}

pub struct HistoryRecord<'a> {
    pub session_id: &'a str,
    pub candidacy_id: &'a str,
    pub part: &'a str,
    pub action: &'a str,
    pub actor: &'a str,
    pub at: chrono::DateTime<chrono::Utc>,
    pub previous: Option<PartResult>,
    pub value: PartResult,
    pub reason: Option<String>,
}

pub async fn record_history<C: ConnectionTrait>(db: &C, r: HistoryRecord<'_>) -> Result<(), DbErr> {
    mark_history::ActiveModel {
        session_id: Set(r.session_id.to_owned()),
        candidacy_id: Set(r.candidacy_id.to_owned()),
        exam_part: Set(r.part.to_owned()),
        action: Set(r.action.to_owned()),
        actor: Set(r.actor.to_owned()),
        at: Set(r.at),
        previous_absent: Set(r.previous.map(PartResult::is_absent)),
        previous_half_points: Set(r.previous.and_then(PartResult::stored_half_points)),
        absent: Set(r.value.is_absent()),
        half_points: Set(r.value.stored_half_points()),
        reason: Set(r.reason),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn history_of<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<mark_history::Model>, DbErr> {
    let mut q = mark_history::Entity::find()
        .filter(mark_history::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(mark_history::Column::Id)
        .limit(limit + 1);
    if let Some(a) = after {
        q = q.filter(mark_history::Column::Id.gt(a));
    }
    q.all(db).await
}

// ---- minutes, decisions, appeals ---------------------------------------------------------

pub async fn latest_minutes<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Option<minutes::Model>, DbErr> {
    minutes::Entity::find()
        .filter(minutes::Column::SessionId.eq(session_id))
        .order_by_desc(minutes::Column::Id)
        .one(db)
        .await
}

pub async fn signed_minutes<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Option<minutes::Model>, DbErr> {
    minutes::Entity::find()
        .filter(minutes::Column::SessionId.eq(session_id))
        .filter(minutes::Column::ClosedAt.is_not_null())
        .one(db)
        .await
}

pub async fn decision<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<decision::Model>, DbErr> {
    decision::Entity::find_by_id(candidacy_id.to_owned())
        .one(db)
        .await
}

pub async fn decisions_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<decision::Model>, DbErr> {
    decision::Entity::find()
        .filter(decision::Column::SessionId.eq(session_id))
        .order_by_asc(decision::Column::CandidacyId)
        .all(db)
        .await
}

pub async fn appeal<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<appeal::Model>, DbErr> {
    appeal::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn appeals_of_candidate<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<appeal::Model>, DbErr> {
    appeal::Entity::find()
        .filter(appeal::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(appeal::Column::Id)
        .all(db)
        .await
}

/// A decision as stored in JSON snapshots (minutes, appeals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDecision {
    pub candidacy_id: String,
    pub last_name: String,
    pub first_name: String,
    pub part_1: Option<StoredPart>,
    pub part_2: Option<StoredPart>,
    pub outcome: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    pub absent: bool,
    pub half_points: Option<i32>,
}

impl StoredPart {
    pub fn of(r: PartResult) -> Self {
        Self {
            absent: r.is_absent(),
            half_points: r.stored_half_points(),
        }
    }

    pub fn result(self) -> Option<PartResult> {
        PartResult::from_stored(self.absent, self.half_points)
    }
}

impl StoredDecision {
    pub fn new(c: &candidate::Model, d: &Decision) -> Self {
        Self {
            candidacy_id: c.candidacy_id.clone(),
            last_name: c.last_name.clone(),
            first_name: c.first_name.clone(),
            part_1: d.part_1.map(StoredPart::of),
            part_2: d.part_2.map(StoredPart::of),
            outcome: d.outcome.as_str().to_owned(),
            reason: d.reason.map(|r| r.as_str().to_owned()),
        }
    }

    pub fn decision(&self) -> Decision {
        Decision {
            part_1: self.part_1.and_then(StoredPart::result),
            part_2: self.part_2.and_then(StoredPart::result),
            outcome: Outcome::parse(&self.outcome).unwrap_or(Outcome::NotAdmitted),
            reason: self.reason.as_deref().and_then(Reason::parse),
        }
    }
}

/// The domain decision of a stored row.
pub fn decision_of(row: &decision::Model) -> Decision {
    Decision {
        part_1: PartResult::from_stored(row.part_1_absent, row.part_1_half_points),
        part_2: PartResult::from_stored(row.part_2_absent, row.part_2_half_points),
        outcome: Outcome::parse(&row.outcome).unwrap_or(Outcome::NotAdmitted),
        reason: row.reason.as_deref().and_then(Reason::parse),
    }
}

/// Writes a domain decision into a row's columns.
pub fn set_decision(am: &mut decision::ActiveModel, d: &Decision) {
    let part = |p: Option<PartResult>| {
        (
            p.is_some_and(PartResult::is_absent),
            p.and_then(PartResult::stored_half_points),
        )
    };
    let (a1, h1) = part(d.part_1);
    let (a2, h2) = part(d.part_2);
    am.part_1_absent = Set(a1);
    am.part_1_half_points = Set(h1);
    am.part_2_absent = Set(a2);
    am.part_2_half_points = Set(h2);
    am.outcome = Set(d.outcome.as_str().to_owned());
    am.reason = Set(d.reason.map(|r| r.as_str().to_owned()));
}
