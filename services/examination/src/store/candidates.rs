//! The exam's copy of the admitted list, as registration's events bring it.

use cplds_runtime::{db::page, kit::Paging};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};

use super::entities::{candidate, pending_withdrawal};

pub async fn candidate<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<candidate::Model>, DbErr> {
    candidate::Entity::find_by_id(id.to_owned()).one(db).await
}

/// A page of the candidates of a year, by candidacy id; `only` those candidacies when given.
pub async fn candidates_page<C: ConnectionTrait>(
    db: &C,
    year: i32,
    only: Option<&[String]>,
    p: &Paging,
) -> Result<Vec<candidate::Model>, DbErr> {
    let mut q = candidate::Entity::find().filter(candidate::Column::Year.eq(year));
    if let Some(ids) = only {
        q = q.filter(candidate::Column::CandidacyId.is_in(ids.iter().cloned()));
    }
    page(
        db,
        q,
        candidate::Column::CandidacyId,
        p.after.clone(),
        p.fetch(),
    )
    .await
}

/// The candidates of a year, in the order of the list (by name).
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

/// Lists a candidate, or refreshes a candidate listed before (the same list again: identity
/// refreshed, the first listing time and any withdrawal kept).
pub async fn list_candidate<C: ConnectionTrait>(
    db: &C,
    row: candidate::Model,
) -> Result<(), DbErr> {
    match candidate(db, &row.candidacy_id).await? {
        None => {
            row.into_active_model().reset_all().insert(db).await?;
        }
        Some(existing) => {
            let mut am = row.clone().into_active_model().reset_all();
            am.listed_at = Set(existing.listed_at);
            am.withdrawn_at = Set(existing.withdrawn_at.or(row.withdrawn_at));
            am.update(db).await?;
        }
    }
    Ok(())
}

pub async fn set_withdrawn<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    candidate::Entity::update_many()
        .col_expr(
            candidate::Column::WithdrawnAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(candidate::Column::CandidacyId.eq(candidacy_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes the withdrawal that overtook the list carrying the candidate, if any.
pub async fn take_pending_withdrawal<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<pending_withdrawal::Model>, DbErr> {
    let w = pending_withdrawal::Entity::find_by_id(candidacy_id.to_owned())
        .one(db)
        .await?;
    if w.is_some() {
        pending_withdrawal::Entity::delete_by_id(candidacy_id.to_owned())
            .exec(db)
            .await?;
    }
    Ok(w)
}

/// Remembers a withdrawal until the list carrying the candidate arrives (once).
pub async fn remember_withdrawal<C: ConnectionTrait>(
    db: &C,
    w: pending_withdrawal::Model,
) -> Result<(), DbErr> {
    pending_withdrawal::Entity::insert(w.into_active_model())
        .on_conflict_do_nothing_on([pending_withdrawal::Column::CandidacyId])
        .exec(db)
        .await?;
    Ok(())
}
