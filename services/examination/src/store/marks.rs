//! Marks: the entries of the double blind entry, the president's reconciliations, and the
//! history of every act on a mark.

use chrono::{DateTime, Utc};
use cplds_runtime::{
    db::page,
    kit::{Paging, new_id},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationDef, Set,
    sea_query::{Expr, ExprTrait, IntoCondition, Order},
};

use super::{
    also_columns,
    entities::{mark_entry, mark_history, reconciliation, session, slot},
};
use crate::domain::{
    double_entry::{Entry, Sheet},
    mark::PartResult,
    schedule::ExamPart,
};

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

/// What a mark act reads once its locks are held: the session, the candidate's slot for the
/// épreuve, the épreuve's reconciliation if the president made one, and the candidate's entries
/// (both épreuves, as [`entries_of`] reads them).
pub struct MarkingFrame {
    pub session: session::Model,
    pub slot: Option<slot::Model>,
    pub reconciliation: Option<reconciliation::Model>,
    pub entries: Vec<mark_entry::Model>,
}

/// [`MarkingFrame`] in one statement, after the locks of [`super::planning::hold_sheets`] (a
/// statement takes its snapshot before a lock it would take itself). Slot and
/// reconciliation are unique by candidate and épreuve: one row at most, so the statement
/// returns a row per entry (one with none), each carrying the session, slot and
/// reconciliation.
pub async fn marking_frame<C: ConnectionTrait>(
    txn: &C,
    session_id: &str,
    candidacy_id: &str,
    part: ExamPart,
) -> Result<Option<MarkingFrame>, DbErr> {
    super::planning::hold_sheets(txn, session_id, candidacy_id).await?;
    let slot_of = sheet_row::<slot::Entity>(
        (slot::Column::SessionId, slot::Column::CandidacyId),
        slot::Column::ExamPart,
        candidacy_id,
        part,
    );
    let reconciled = sheet_row::<reconciliation::Entity>(
        (
            reconciliation::Column::SessionId,
            reconciliation::Column::CandidacyId,
        ),
        reconciliation::Column::ExamPart,
        candidacy_id,
        part,
    );
    let mut query = session::Entity::find_by_id(session_id.to_owned())
        .join(JoinType::LeftJoin, slot_of)
        .join(JoinType::LeftJoin, reconciled);
    query = also_columns::<slot::Entity, _>(query, "slot_");
    query = also_columns::<reconciliation::Entity, _>(query, "reconciliation_");
    query = also_columns::<mark_entry::Entity, _>(query, "entry_");
    QueryTrait::query(&mut query)
        .left_join(
            mark_entry::Entity,
            Expr::col((mark_entry::Entity, mark_entry::Column::CandidacyId)).eq(candidacy_id),
        )
        .order_by(
            (mark_entry::Entity, mark_entry::Column::EnteredAt),
            Order::Asc,
        )
        .order_by((mark_entry::Entity, mark_entry::Column::Id), Order::Asc);
    let rows = txn
        .query_all_raw(query.build(txn.get_database_backend()))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        entries.extend(mark_entry::Model::from_query_result_optional(
            row, "entry_",
        )?);
    }
    Ok(Some(MarkingFrame {
        session: session::Model::from_query_result(first, "")?,
        slot: slot::Model::from_query_result_optional(first, "slot_")?,
        reconciliation: reconciliation::Model::from_query_result_optional(
            first,
            "reconciliation_",
        )?,
        entries,
    }))
}

/// The join from a session to the row of `E` (of that session) of one candidate's épreuve.
fn sheet_row<E: EntityTrait>(
    (session_id, candidacy): (E::Column, E::Column),
    exam_part: E::Column,
    candidacy_id: &str,
    part: ExamPart,
) -> RelationDef {
    let candidacy_id = candidacy_id.to_owned();
    session::Entity::belongs_to(E::default())
        .from(session::Column::Id)
        .to(session_id)
        .on_condition(move |_, row| {
            Expr::col((row.clone(), candidacy))
                .eq(candidacy_id.clone())
                .and(Expr::col((row, exam_part)).eq(part.as_str()))
                .into_condition()
        })
        .into()
}

/// The rows behind the mark sheets of some candidates, both épreuves.
#[derive(Debug, Clone, Default)]
pub struct SheetRows {
    pub entries: Vec<mark_entry::Model>,
    pub reconciliations: Vec<reconciliation::Model>,
}

impl SheetRows {
    pub async fn of<C: ConnectionTrait>(db: &C, candidacy_ids: &[String]) -> Result<Self, DbErr> {
        Ok(Self {
            entries: entries_of(db, candidacy_ids).await?,
            reconciliations: reconciliations_of(db, candidacy_ids).await?,
        })
    }

    /// The entries of one épreuve of one candidate, in the order they were made.
    pub fn entries(&self, candidacy_id: &str, part: ExamPart) -> Vec<&mark_entry::Model> {
        self.entries
            .iter()
            .filter(|e| e.candidacy_id == candidacy_id && e.exam_part == part)
            .collect()
    }

    pub fn reconciliation(
        &self,
        candidacy_id: &str,
        part: ExamPart,
    ) -> Option<&reconciliation::Model> {
        self.reconciliations
            .iter()
            .find(|r| r.candidacy_id == candidacy_id && r.exam_part == part)
    }

    /// The domain's sheet of one épreuve of one candidate.
    pub fn sheet(&self, candidacy_id: &str, part: ExamPart) -> Sheet {
        Sheet {
            entries: self
                .entries(candidacy_id, part)
                .into_iter()
                .filter_map(|e| {
                    Some(Entry {
                        entrant: e.entrant.clone(),
                        value: PartResult::from_stored(e.absent, e.half_points)?,
                    })
                })
                .collect(),
            reconciled: self
                .reconciliation(candidacy_id, part)
                .and_then(|r| PartResult::from_stored(r.absent, r.half_points)),
        }
    }
}

/// Who acts on which mark, when: what every write of a mark shares.
pub struct MarkAct<'a> {
    pub session_id: &'a str,
    pub candidacy_id: &'a str,
    pub part: ExamPart,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
}

/// A member's entry, made for the board they sit on: the row a unit of work inserts.
pub fn new_entry(act: &MarkAct<'_>, board_id: &str, value: PartResult) -> mark_entry::Model {
    mark_entry::Model {
        id: new_id(),
        session_id: act.session_id.to_owned(),
        board_id: board_id.to_owned(),
        candidacy_id: act.candidacy_id.to_owned(),
        exam_part: act.part,
        entrant: act.actor.to_owned(),
        absent: value.is_absent(),
        half_points: value.stored_half_points(),
        entered_at: act.at,
        updated_at: act.at,
        corrections: 0,
    }
}

/// An entrant's correction of their entry; the president's reconciliation of the former pair
/// no longer applies.
pub async fn correct_entry<C: ConnectionTrait>(
    db: &C,
    act: &MarkAct<'_>,
    entry: mark_entry::Model,
    value: PartResult,
) -> Result<(), DbErr> {
    let corrections = entry.corrections + 1;
    let mut am = entry.into_active_model();
    am.absent = Set(value.is_absent());
    am.half_points = Set(value.stored_half_points());
    am.updated_at = Set(act.at);
    am.corrections = Set(corrections);
    am.update(db).await?;
    delete_reconciliation(db, act.candidacy_id, act.part).await
}

/// The president's settlement of a mismatch, replacing a former one.
pub async fn reconcile<C: ConnectionTrait>(
    db: &C,
    act: &MarkAct<'_>,
    value: PartResult,
    reason: &str,
) -> Result<(), DbErr> {
    delete_reconciliation(db, act.candidacy_id, act.part).await?;
    reconciliation::Model {
        candidacy_id: act.candidacy_id.to_owned(),
        exam_part: act.part,
        session_id: act.session_id.to_owned(),
        absent: value.is_absent(),
        half_points: value.stored_half_points(),
        reconciled_by: act.actor.to_owned(),
        reconciled_at: act.at,
        reason: reason.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    Ok(())
}

async fn delete_reconciliation<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    part: ExamPart,
) -> Result<(), DbErr> {
    reconciliation::Entity::delete_many()
        .filter(reconciliation::Column::CandidacyId.eq(candidacy_id))
        .filter(reconciliation::Column::ExamPart.eq(part))
        .exec(db)
        .await?;
    Ok(())
}

/// One act in a mark's history: what it was before, what it is now, why.
pub struct Change<'a> {
    pub action: &'a str,
    pub previous: Option<PartResult>,
    pub value: PartResult,
    pub reason: Option<String>,
}

/// The row of an act in a mark's history, for a unit of work to insert (nothing reads it back
/// in the act).
pub fn change_row(act: &MarkAct<'_>, c: Change<'_>) -> mark_history::ActiveModel {
    mark_history::ActiveModel {
        session_id: Set(act.session_id.to_owned()),
        candidacy_id: Set(act.candidacy_id.to_owned()),
        exam_part: Set(act.part),
        action: Set(c.action.to_owned()),
        actor: Set(act.actor.to_owned()),
        at: Set(act.at),
        previous_absent: Set(c.previous.map(PartResult::is_absent)),
        previous_half_points: Set(c.previous.and_then(PartResult::stored_half_points)),
        absent: Set(c.value.is_absent()),
        half_points: Set(c.value.stored_half_points()),
        reason: Set(c.reason),
        ..Default::default()
    }
}

/// A page of a candidate's mark history, oldest first, after entry `after`.
pub async fn history_page<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    after: Option<i64>,
    p: &Paging,
) -> Result<Vec<mark_history::Model>, DbErr> {
    page(
        db,
        mark_history::Entity::find().filter(mark_history::Column::CandidacyId.eq(candidacy_id)),
        mark_history::Column::Id,
        after,
        p.fetch(),
    )
    .await
}
