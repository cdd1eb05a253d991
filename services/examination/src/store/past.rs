//! Candidates of past sessions as imported: one row each, what was last sent nationally.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use super::past_candidate;

/// The digests of a year's imported candidates, by candidate key.
pub async fn past_digests<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<HashMap<String, String>, DbErr> {
    Ok(past_candidate::Entity::find()
        .filter(past_candidate::Column::Year.eq(year))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.candidate_key, p.digest))
        .collect())
}

/// Records what was sent of a candidate (replacing an earlier import).
pub async fn save_past<C: ConnectionTrait>(
    db: &C,
    year: i32,
    candidate_key: &str,
    digest: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let id = format!("{year}/{candidate_key}");
    past_candidate::Entity::delete_by_id(id.clone())
        .exec(db)
        .await?;
    past_candidate::Model {
        id,
        year,
        candidate_key: candidate_key.to_owned(),
        digest: digest.to_owned(),
        imported_at: at,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(())
}
