//! Before the exam: sessions, boards and their seats, assignments, slots and convocations.

use chrono::{DateTime, Utc};
use cplds_runtime::{
    db::page,
    kit::{Paging, new_id},
    people::{Email, PersonName, Uai},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationDef, Set,
    sea_query::{Expr, ExprTrait, IntoCondition},
};
use serde::{Deserialize, Serialize};

use super::{
    also_columns, as_text,
    entities::{
        assignment, board, board_member, board_replacement, candidate, convocation, session, slot,
    },
    from_json, to_json,
};
use crate::domain::{
    board::{Member, Seat},
    schedule::{ExamPart, Shown, Timing},
};

// ---- sessions ----------------------------------------------------------------------------

pub async fn session<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The session row locked until the transaction ends (PostgreSQL; SQLite has one writer), so
/// acts on one session (bookings, boards, deliberation) never interleave, nor with marks.
pub async fn session_locked<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<session::Model>, DbErr> {
    use cplds_runtime::kit::{Lock, hold, locked};
    hold(txn, &session_lock(id), Lock::Exclusive).await?;
    locked(
        session::Entity::find_by_id(id.to_owned()),
        txn.get_database_backend(),
        Lock::Exclusive,
    )
    .one(txn)
    .await
}

/// The locks of a mark act, held until the transaction ends: the session's shared and one
/// candidate's mark sheets' exclusive. Marks of different candidates are entered side by side,
/// while the acts of [`session_locked`] wait for them (and they for it); two entrants, a
/// correction and a reconciliation of one candidate run one at a time, each reading what the
/// previous committed. Both locks in one round trip, the session's first, as every act takes
/// them.
pub(super) async fn hold_sheets<C: ConnectionTrait>(
    txn: &C,
    id: &str,
    candidacy_id: &str,
) -> Result<(), DbErr> {
    use cplds_runtime::kit::Lock;
    cplds_runtime::kit::hold_all(
        txn,
        &[
            (&session_lock(id), Lock::Shared),
            (&format!("sheets/{candidacy_id}"), Lock::Exclusive),
        ],
    )
    .await
}

fn session_lock(id: &str) -> String {
    format!("session/{id}")
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

pub async fn sessions_page<C: ConnectionTrait>(
    db: &C,
    p: &Paging,
) -> Result<Vec<session::Model>, DbErr> {
    page(
        db,
        session::Entity::find(),
        session::Column::Id,
        p.after.clone(),
        p.fetch(),
    )
    .await
}

pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    row: session::Model,
) -> Result<session::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

/// The session's jury president: a seat of one of its boards.
pub async fn appoint_jury_president<C: ConnectionTrait>(
    db: &C,
    s: session::Model,
    member_id: &str,
    at: DateTime<Utc>,
) -> Result<session::Model, DbErr> {
    let mut am = s.into_active_model();
    am.jury_president_member_id = Set(Some(member_id.to_owned()));
    am.updated_at = Set(at);
    am.update(db).await
}

/// The deliberation closed: the session is frozen.
pub async fn close_session<C: ConnectionTrait>(
    db: &C,
    s: session::Model,
    at: DateTime<Utc>,
) -> Result<session::Model, DbErr> {
    let mut am = s.into_active_model();
    am.deliberation_closed_at = Set(Some(at));
    am.updated_at = Set(at);
    am.update(db).await
}

pub async fn publish_session<C: ConnectionTrait>(
    db: &C,
    s: session::Model,
    by: &str,
    at: DateTime<Utc>,
) -> Result<session::Model, DbErr> {
    let mut am = s.into_active_model();
    am.results_published_at = Set(Some(at));
    am.results_published_by = Set(Some(by.to_owned()));
    am.updated_at = Set(at);
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

/// A page of a session's boards; `only` those boards when given.
pub async fn boards_page<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    only: Option<&[String]>,
    p: &Paging,
) -> Result<Vec<board::Model>, DbErr> {
    let mut q = board::Entity::find().filter(board::Column::SessionId.eq(session_id));
    if let Some(ids) = only {
        q = q.filter(board::Column::Id.is_in(ids.iter().cloned()));
    }
    page(db, q, board::Column::Id, p.after.clone(), p.fetch()).await
}

/// A new seat on board `b`, no key registered yet.
fn seat_row(b: &board::Model, m: &Member) -> board_member::ActiveModel {
    board_member::Model {
        id: new_id(),
        board_id: b.id.clone(),
        session_id: b.session_id.clone(),
        email: m.email.as_str().to_owned(),
        last_name: m.last_name.as_str().to_owned(),
        first_name: m.first_name.as_str().to_owned(),
        workplace_uai: m.workplace_uai.as_ref().map(|u| u.as_str().to_owned()),
        role: m.role,
        public_key: None,
        key_registered_at: None,
        left_at: None,
    }
    .into_active_model()
    .reset_all()
}

/// A board and its seats.
pub async fn insert_board<C: ConnectionTrait>(
    db: &C,
    row: board::Model,
    members: &[Member],
) -> Result<board::Model, DbErr> {
    let b = row.into_active_model().reset_all().insert(db).await?;
    for m in members {
        seat_row(&b, m).insert(db).await?;
    }
    Ok(b)
}

/// `leaving` gives their seat to `replacement`; the change is kept.
pub async fn replace_member<C: ConnectionTrait>(
    db: &C,
    b: &board::Model,
    leaving: board_member::Model,
    replacement: &Member,
    by: &str,
    reason: String,
    at: DateTime<Utc>,
) -> Result<board_member::Model, DbErr> {
    let former = leaving.id.clone();
    let mut am = leaving.into_active_model();
    am.left_at = Set(Some(at));
    am.update(db).await?;
    let seat = seat_row(b, replacement).insert(db).await?;
    board_replacement::Model {
        id: new_id(),
        board_id: b.id.clone(),
        former_member_id: former,
        replacement_member_id: seat.id.clone(),
        replaced_at: at,
        replaced_by: by.to_owned(),
        reason,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    Ok(seat)
}

/// The member's public key (base64), registered at `at`.
pub async fn register_key<C: ConnectionTrait>(
    db: &C,
    seat: board_member::Model,
    public_key: String,
    at: DateTime<Utc>,
) -> Result<board_member::Model, DbErr> {
    let mut am = seat.into_active_model();
    am.public_key = Set(Some(public_key));
    am.key_registered_at = Set(Some(at));
    am.update(db).await
}

/// The current members of a board (those replaced left).
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

/// A seat, current or left.
pub async fn board_member<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<board_member::Model>, DbErr> {
    board_member::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

/// The seats a person holds now, on the boards of every session (e-mails are stored
/// lowercase).
pub async fn seats_of_person<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Vec<board_member::Model>, DbErr> {
    board_member::Entity::find()
        .filter(board_member::Column::Email.eq(email.trim().to_ascii_lowercase()))
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

/// The current members of every board of a session.
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

/// A stored member as the domain knows them, parsed again.
pub fn member(m: &board_member::Model) -> Result<Member, DbErr> {
    let bad = |field: &str, e: String| {
        DbErr::Custom(format!("stored board member {}: {field}: {e}", m.id))
    };
    Ok(Member {
        email: Email::parse(&m.email).map_err(|e| bad("email", e))?,
        last_name: PersonName::parse(&m.last_name).map_err(|e| bad("last_name", e))?,
        first_name: PersonName::parse(&m.first_name).map_err(|e| bad("first_name", e))?,
        workplace_uai: m
            .workplace_uai
            .as_deref()
            .map(Uai::parse)
            .transpose()
            .map_err(|e| bad("workplace_uai", e))?,
        role: m.role,
    })
}

pub fn members(rows: &[board_member::Model]) -> Result<Vec<Member>, DbErr> {
    rows.iter().map(member).collect()
}

/// Every seat of a board, those left included.
pub fn seats(rows: &[board_member::Model]) -> Result<Vec<Seat>, DbErr> {
    rows.iter()
        .map(|m| {
            Ok(Seat {
                id: m.id.clone(),
                member: member(m)?,
                left: m.left_at.is_some(),
            })
        })
        .collect()
}

// ---- assignments -------------------------------------------------------------------------

/// Who may mark a candidate: the candidate, their assignment if any, and its board with its
/// current members ([`members_of`]), oldest seat first.
pub struct Seating {
    pub candidate: candidate::Model,
    pub assignment: Option<assignment::Model>,
    pub board: Option<(board::Model, Vec<board_member::Model>)>,
}

/// [`Seating`] in one statement, a row per current member (a mark read candidate and assignment,
/// then board and members: a round trip each, under SQLite's one writer).
pub async fn seating<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<Seating>, DbErr> {
    let assigned: RelationDef = candidate::Entity::belongs_to(assignment::Entity)
        .from(candidate::Column::CandidacyId)
        .to(assignment::Column::CandidacyId)
        .into();
    let before: RelationDef = assignment::Entity::belongs_to(board::Entity)
        .from(assignment::Column::BoardId)
        .to(board::Column::Id)
        .into();
    let seats: RelationDef = board::Entity::belongs_to(board_member::Entity)
        .from(board::Column::Id)
        .to(board_member::Column::BoardId)
        .on_condition(|_, member| {
            Expr::col((member, board_member::Column::LeftAt))
                .is_null()
                .into_condition()
        })
        .into();
    let mut query = candidate::Entity::find_by_id(candidacy_id.to_owned())
        .join(JoinType::LeftJoin, assigned)
        .join(JoinType::LeftJoin, before)
        .join(JoinType::LeftJoin, seats);
    query = also_columns::<assignment::Entity, _>(query, "assignment_");
    query = also_columns::<board::Entity, _>(query, "board_");
    query = also_columns::<board_member::Entity, _>(query, "member_");
    let query = query.order_by_asc(board_member::Column::Id);
    let rows = db
        .query_all_raw(query.build(db.get_database_backend()))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let board = match board::Model::from_query_result_optional(first, "board_")? {
        None => None,
        Some(board) => {
            let mut members = Vec::with_capacity(rows.len());
            for row in &rows {
                members.extend(board_member::Model::from_query_result_optional(
                    row, "member_",
                )?);
            }
            Some((board, members))
        }
    };
    Ok(Some(Seating {
        candidate: candidate::Model::from_query_result(first, "")?,
        assignment: assignment::Model::from_query_result_optional(first, "assignment_")?,
        board,
    }))
}

pub async fn assignment<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<assignment::Model>, DbErr> {
    assignment::Entity::find_by_id(candidacy_id.to_owned())
        .one(db)
        .await
}

pub async fn insert_assignment<C: ConnectionTrait>(
    db: &C,
    row: assignment::Model,
) -> Result<assignment::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
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

/// A page of a board's assignments, by candidacy id.
pub async fn assignments_page<C: ConnectionTrait>(
    db: &C,
    board_id: &str,
    p: &Paging,
) -> Result<Vec<assignment::Model>, DbErr> {
    page(
        db,
        assignment::Entity::find().filter(assignment::Column::BoardId.eq(board_id)),
        assignment::Column::CandidacyId,
        p.after.clone(),
        p.fetch(),
    )
    .await
}

/// The assignments to any of `boards`.
pub async fn assignments_of_boards<C: ConnectionTrait>(
    db: &C,
    boards: &[String],
) -> Result<Vec<assignment::Model>, DbErr> {
    if boards.is_empty() {
        return Ok(Vec::new());
    }
    assignment::Entity::find()
        .filter(assignment::Column::BoardId.is_in(boards.iter().cloned()))
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

// ---- slots -------------------------------------------------------------------------------

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
        .order_by_asc(slot::Column::Id)
        .all(db)
        .await
}

/// A page of a session's slots, of one board or candidate if given.
pub async fn slots_page<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    board_id: Option<&str>,
    candidacy_id: Option<&str>,
    p: &Paging,
) -> Result<Vec<slot::Model>, DbErr> {
    let mut q = slot::Entity::find().filter(slot::Column::SessionId.eq(session_id));
    if let Some(b) = board_id {
        q = q.filter(slot::Column::BoardId.eq(b));
    }
    if let Some(c) = candidacy_id {
        q = q.filter(slot::Column::CandidacyId.eq(c));
    }
    page(db, q, slot::Column::Id, p.after.clone(), p.fetch()).await
}

/// What a booking writes: where and when the épreuve takes place, by whom it was set.
pub struct Booked<'a> {
    pub session_id: &'a str,
    pub board_id: &'a str,
    pub candidacy_id: &'a str,
    pub timing: &'a Timing,
    pub location: String,
    pub by: &'a str,
    pub at: DateTime<Utc>,
}

/// Books an épreuve, moving the candidate's slot of that épreuve if there is one.
pub async fn book<C: ConnectionTrait>(
    db: &C,
    existing: Option<slot::Model>,
    b: Booked<'_>,
) -> Result<slot::Model, DbErr> {
    let t = b.timing;
    match existing {
        Some(existing) => {
            let mut am = existing.into_active_model();
            am.board_id = Set(b.board_id.to_owned());
            am.starts_at = Set(t.candidate.start);
            am.ends_at = Set(t.candidate.end);
            am.board_starts_at = Set(t.board.start);
            am.board_ends_at = Set(t.board.end);
            am.location = Set(b.location);
            am.updated_at = Set(b.at);
            am.updated_by = Set(b.by.to_owned());
            am.update(db).await
        }
        None => {
            slot::Model {
                id: new_id(),
                session_id: b.session_id.to_owned(),
                board_id: b.board_id.to_owned(),
                candidacy_id: b.candidacy_id.to_owned(),
                exam_part: t.part,
                starts_at: t.candidate.start,
                ends_at: t.candidate.end,
                board_starts_at: t.board.start,
                board_ends_at: t.board.end,
                location: b.location,
                updated_at: b.at,
                updated_by: b.by.to_owned(),
            }
            .into_active_model()
            .reset_all()
            .insert(db)
            .await
        }
    }
}

/// What a convocation shows of its slots.
pub fn shown(slots: &[slot::Model]) -> impl Iterator<Item = Shown<'_>> {
    slots.iter().map(|s| Shown {
        part: s.exam_part,
        board_id: &s.board_id,
        starts_at: s.starts_at,
        location: &s.location,
    })
}

// ---- convocations ------------------------------------------------------------------------

/// A slot as a convocation showed it (JSON in `slots_json`): the data behind the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSnapshot {
    pub id: String,
    pub session_id: String,
    pub board_id: String,
    pub candidacy_id: String,
    #[serde(with = "as_text")]
    pub exam_part: ExamPart,
    pub starts_at: DateTime<Utc>,
    pub location: String,
    pub updated_at: DateTime<Utc>,
}

impl SlotSnapshot {
    pub fn of(s: &slot::Model) -> Self {
        Self {
            id: s.id.clone(),
            session_id: s.session_id.clone(),
            board_id: s.board_id.clone(),
            candidacy_id: s.candidacy_id.clone(),
            exam_part: s.exam_part,
            starts_at: s.starts_at,
            location: s.location.clone(),
            updated_at: s.updated_at,
        }
    }
}

/// The slots a convocation showed.
pub fn convocation_slots(c: &convocation::Model) -> Result<Vec<SlotSnapshot>, DbErr> {
    from_json("convocation slots", &c.slots_json)
}

/// A convocation issued: the document, the slots it shows and their fingerprint.
pub struct Issued<'a> {
    pub session_id: &'a str,
    pub candidacy_id: &'a str,
    pub version: i32,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub fingerprint: String,
    pub slots: &'a [slot::Model],
    pub document: Vec<u8>,
    pub document_sha256: String,
}

pub async fn insert_convocation<C: ConnectionTrait>(
    db: &C,
    c: Issued<'_>,
) -> Result<convocation::Model, DbErr> {
    let snapshots: Vec<SlotSnapshot> = c.slots.iter().map(SlotSnapshot::of).collect();
    convocation::Model {
        id: new_id(),
        session_id: c.session_id.to_owned(),
        candidacy_id: c.candidacy_id.to_owned(),
        version: c.version,
        issued_at: c.at,
        issued_by: c.by.to_owned(),
        schedule_fingerprint: c.fingerprint,
        slots_json: to_json("convocation slots", &snapshots)?,
        document: c.document,
        document_sha256: c.document_sha256,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

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

/// A page of a candidate's convocations, latest version first; `before` is the last version of
/// the previous page.
pub async fn convocations_page<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    before: Option<i32>,
    p: &Paging,
) -> Result<Vec<convocation::Model>, DbErr> {
    let mut q = convocation::Entity::find()
        .filter(convocation::Column::CandidacyId.eq(candidacy_id))
        .order_by_desc(convocation::Column::Version)
        .limit(p.fetch());
    if let Some(b) = before {
        q = q.filter(convocation::Column::Version.lt(b));
    }
    q.all(db).await
}
