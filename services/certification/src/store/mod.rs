//! Persistence of certificates, counters, signing keys and history (sea-orm). Functions take
//! any connection, so the api layer decides the transaction; no rule is decided here.

pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::db::{page, stmt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use self::entities::{certificate, history, signing_key};
use crate::domain::certificate::CertificateState;

/// Bumps the counter `name` and returns its new value (1 first). The row lock orders
/// concurrent callers, so two certificates never get the same serial or status index.
pub async fn next_counter<C: ConnectionTrait>(db: &C, name: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "INSERT INTO counters (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            vec![name.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("counter upsert returned no row".into()))?;
    row.try_get("", "value")
}

pub async fn certificate<C: ConnectionTrait>(
    db: &C,
    number: &str,
) -> Result<Option<certificate::Model>, DbErr> {
    certificate::Entity::find_by_id(number.to_owned())
        .one(db)
        .await
}

pub async fn certificate_of_candidacy<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::CandidacyId.eq(candidacy_id))
        .one(db)
        .await
}

pub async fn insert_certificate<C: ConnectionTrait>(
    db: &C,
    model: certificate::Model,
) -> Result<certificate::Model, DbErr> {
    model.into_active_model().reset_all().insert(db).await
}

/// Saves only if the state is still `expected` (a concurrent act may have changed it); fails
/// with `RecordNotUpdated` otherwise.
pub async fn save_if_state<C: ConnectionTrait>(
    db: &C,
    am: certificate::ActiveModel,
    expected: CertificateState,
) -> Result<certificate::Model, DbErr> {
    certificate::Entity::update(am)
        .validate()?
        .filter(certificate::Column::State.eq(expected.as_str()))
        .exec(db)
        .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFilter {
    pub year: Option<i32>,
    pub state: Option<CertificateState>,
    /// A candidate sees only the certificates issued to their e-mail.
    pub email: Option<String>,
}

impl CertificateFilter {
    fn apply<Q: QueryFilter>(&self, mut q: Q) -> Q {
        if let Some(y) = self.year {
            q = q.filter(certificate::Column::Year.eq(y));
        }
        if let Some(s) = self.state {
            q = q.filter(certificate::Column::State.eq(s.as_str()));
        }
        if let Some(e) = &self.email {
            q = q.filter(certificate::Column::Email.eq(e.as_str()));
        }
        q
    }

    /// Identifies the filters in page tokens.
    pub fn scope(&self) -> String {
        format!(
            "certificates;{:?};{:?};{:?}",
            self.year,
            self.state.map(|s| s.as_str()),
            self.email
        )
    }
}

/// In number order; `after` is the last number of the previous page.
pub async fn list_certificates<C: ConnectionTrait>(
    db: &C,
    filter: &CertificateFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<certificate::Model>, DbErr> {
    page(
        db,
        filter.apply(certificate::Entity::find()),
        certificate::Column::Number,
        after,
        limit,
    )
    .await
}

pub async fn count_certificates<C: ConnectionTrait>(
    db: &C,
    filter: &CertificateFilter,
) -> Result<u64, DbErr> {
    filter.apply(certificate::Entity::find()).count(db).await
}

/// Every certificate of a year in a state, in number order.
pub async fn certificates_in_state<C: ConnectionTrait>(
    db: &C,
    year: i32,
    state: CertificateState,
) -> Result<Vec<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::Year.eq(year))
        .filter(certificate::Column::State.eq(state.as_str()))
        .order_by_asc(certificate::Column::Number)
        .all(db)
        .await
}

/// The status list positions of revoked certificates, and the highest position given.
pub async fn status_indices<C: ConnectionTrait>(db: &C) -> Result<(Vec<i64>, i64), DbErr> {
    let rows: Vec<(i64, String)> = certificate::Entity::find()
        .select_only()
        .column(certificate::Column::StatusIndex)
        .column(certificate::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let max = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let revoked = rows
        .into_iter()
        .filter(|r| r.1 == CertificateState::Revoked.as_str())
        .map(|r| r.0)
        .collect();
    Ok((revoked, max))
}

pub async fn signing_keys<C: ConnectionTrait>(db: &C) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .order_by_desc(signing_key::Column::FirstSeenAt)
        .order_by_asc(signing_key::Column::Kid)
        .all(db)
        .await
}

pub async fn insert_signing_key<C: ConnectionTrait>(
    db: &C,
    model: signing_key::Model,
) -> Result<(), DbErr> {
    model.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

pub async fn set_key_retired<C: ConnectionTrait>(
    db: &C,
    kid: &str,
    retired_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    signing_key::ActiveModel {
        kid: Set(kid.to_owned()),
        retired_at: Set(retired_at),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

pub async fn record_history<C: ConnectionTrait>(
    db: &C,
    number: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: Option<String>,
) -> Result<(), DbErr> {
    history::ActiveModel {
        number: Set(number.to_owned()),
        at: Set(at),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
