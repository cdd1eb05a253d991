//! Persistence of programmes, cohorts, sessions, enrolments, the hours ledger, attestations and
//! external records (sea-orm). Functions take any connection, so the api layer decides the
//! transaction; no rule is decided here.

pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::db::{page, stmt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

pub use self::entities::{
    activity, attestation, cohort, credit, enrolment, external_record, history, programme,
    programme_module, session, session_module,
};
use crate::domain::roster::EnrolmentStatus;

/// The next value of a named counter (attestation numbers, request order), 1 first. The upsert
/// locks the counter's row until the transaction ends, so concurrent callers never share one.
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

fn locked<Q: QuerySelect>(q: Q, backend: DbBackend) -> Q {
    // SQLite has one writer (and one connection here): only PostgreSQL needs row locks.
    if backend == DbBackend::Postgres {
        q.lock_exclusive()
    } else {
        q
    }
}

// ---- programmes ------------------------------------------------------------------------------

pub async fn insert_programme<C: ConnectionTrait>(
    db: &C,
    row: programme::Model,
    modules: Vec<programme_module::Model>,
) -> Result<programme::Model, DbErr> {
    let row = row.into_active_model().reset_all().insert(db).await?;
    for m in modules {
        m.into_active_model().reset_all().insert(db).await?;
    }
    Ok(row)
}

pub async fn programme<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<programme::Model>, DbErr> {
    programme::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn programme_by_version<C: ConnectionTrait>(
    db: &C,
    version: i32,
) -> Result<Option<programme::Model>, DbErr> {
    programme::Entity::find()
        .filter(programme::Column::Version.eq(version))
        .one(db)
        .await
}

pub async fn programme_modules<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
) -> Result<Vec<programme_module::Model>, DbErr> {
    programme_module::Entity::find()
        .filter(programme_module::Column::ProgrammeId.eq(programme_id))
        .order_by_asc(programme_module::Column::Position)
        .all(db)
        .await
}

/// Most recent version first; `before` is the last version of the previous page.
pub async fn list_programmes<C: ConnectionTrait>(
    db: &C,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<programme::Model>, DbErr> {
    let mut q = programme::Entity::find()
        .order_by_desc(programme::Column::Version)
        .limit(limit);
    if let Some(v) = before {
        q = q.filter(programme::Column::Version.lt(v));
    }
    q.all(db).await
}

// ---- cohorts ---------------------------------------------------------------------------------

pub async fn insert_cohort<C: ConnectionTrait>(
    db: &C,
    row: cohort::Model,
) -> Result<cohort::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn cohort<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<cohort::Model>, DbErr> {
    cohort::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The cohort row locked until the transaction ends, so places are given one act at a time.
pub async fn cohort_locked<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<cohort::Model>, DbErr> {
    locked(
        cohort::Entity::find_by_id(id.to_owned()),
        txn.get_database_backend(),
    )
    .one(txn)
    .await
}

/// Oldest first (ids are UUIDv7); `after` is the last id of the previous page.
pub async fn list_cohorts<C: ConnectionTrait>(
    db: &C,
    school_year: Option<i32>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<cohort::Model>, DbErr> {
    let mut q = cohort::Entity::find();
    if let Some(y) = school_year {
        q = q.filter(cohort::Column::SchoolYear.eq(y));
    }
    page(db, q, cohort::Column::Id, after, limit).await
}

// ---- sessions --------------------------------------------------------------------------------

pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    row: session::Model,
    modules: Vec<session_module::Model>,
) -> Result<session::Model, DbErr> {
    let row = row.into_active_model().reset_all().insert(db).await?;
    for m in modules {
        m.into_active_model().reset_all().insert(db).await?;
    }
    Ok(row)
}

pub async fn session<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn session_modules<C: ConnectionTrait>(
    db: &C,
    session_ids: &[String],
) -> Result<Vec<session_module::Model>, DbErr> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    session_module::Entity::find()
        .filter(session_module::Column::SessionId.is_in(session_ids.iter().cloned()))
        .order_by_asc(session_module::Column::SessionId)
        .order_by_asc(session_module::Column::Position)
        .all(db)
        .await
}

/// In calendar order.
pub async fn sessions_of<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::CohortId.eq(cohort_id))
        .order_by_asc(session::Column::FirstDay)
        .order_by_asc(session::Column::StartsAt)
        .order_by_asc(session::Column::Id)
        .all(db)
        .await
}

// ---- enrolments ------------------------------------------------------------------------------

pub async fn insert_enrolment<C: ConnectionTrait>(
    db: &C,
    row: enrolment::Model,
) -> Result<enrolment::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn enrolment<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<enrolment::Model>, DbErr> {
    enrolment::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn save_enrolment<C: ConnectionTrait>(
    db: &C,
    row: enrolment::ActiveModel,
) -> Result<enrolment::Model, DbErr> {
    row.update(db).await
}

/// Every request of a cohort, in order: the roster.
pub async fn cohort_enrolments<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<enrolment::Model>, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .order_by_asc(enrolment::Column::RequestNumber)
        .all(db)
        .await
}

pub async fn live_enrolment_of<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
    staff_number: &str,
) -> Result<Option<enrolment::Model>, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .filter(enrolment::Column::StaffNumber.eq(staff_number))
        .filter(
            enrolment::Column::Status.is_in(
                EnrolmentStatus::ALL
                    .iter()
                    .filter(|s| s.is_live())
                    .map(|s| s.as_str()),
            ),
        )
        .one(db)
        .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentFilter {
    pub cohort_id: String,
    pub status: Option<EnrolmentStatus>,
    pub home_academy: Option<String>,
}

impl EnrolmentFilter {
    fn apply<Q: QueryFilter>(&self, q: Q) -> Q {
        let mut q = q.filter(enrolment::Column::CohortId.eq(self.cohort_id.as_str()));
        if let Some(s) = self.status {
            q = q.filter(enrolment::Column::Status.eq(s.as_str()));
        }
        if let Some(a) = &self.home_academy {
            q = q.filter(enrolment::Column::HomeAcademy.eq(a.as_str()));
        }
        q
    }

    /// Identifies the filters in page tokens.
    pub fn scope(&self) -> String {
        format!(
            "enrolments;{};{:?};{:?}",
            self.cohort_id,
            self.status.map(|s| s.as_str()),
            self.home_academy
        )
    }
}

/// In order of request; `after` is the last request number of the previous page.
pub async fn list_enrolments<C: ConnectionTrait>(
    db: &C,
    filter: &EnrolmentFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<enrolment::Model>, DbErr> {
    page(
        db,
        filter.apply(enrolment::Entity::find()),
        enrolment::Column::RequestNumber,
        after,
        limit,
    )
    .await
}

pub async fn count_enrolments<C: ConnectionTrait>(
    db: &C,
    filter: &EnrolmentFilter,
) -> Result<u64, DbErr> {
    filter.apply(enrolment::Entity::find()).count(db).await
}

/// 1 for the first person waiting in the cohort, given one's request number.
pub async fn waiting_position<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
    request_number: i64,
) -> Result<u64, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Waitlisted.as_str()))
        .filter(enrolment::Column::RequestNumber.lte(request_number))
        .count(db)
        .await
}

/// (status, count) of a cohort.
pub async fn status_counts<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<(String, i64)>, DbErr> {
    enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::Status)
        .column_as(Expr::col(enrolment::Column::Id).count(), "n")
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .group_by(enrolment::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

// ---- the hours ledger ------------------------------------------------------------------------

pub async fn credits_of<C: ConnectionTrait>(
    db: &C,
    enrolment_ids: &[String],
) -> Result<Vec<credit::Model>, DbErr> {
    if enrolment_ids.is_empty() {
        return Ok(Vec::new());
    }
    credit::Entity::find()
        .filter(credit::Column::EnrolmentId.is_in(enrolment_ids.iter().cloned()))
        .order_by_asc(credit::Column::Id)
        .all(db)
        .await
}

pub async fn insert_credit<C: ConnectionTrait>(
    db: &C,
    row: credit::ActiveModel,
) -> Result<(), DbErr> {
    row.insert(db).await?;
    Ok(())
}

/// Removes a trainee's attendance at a session (before recording it again).
pub async fn delete_attendance<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
    session_id: &str,
) -> Result<u64, DbErr> {
    Ok(credit::Entity::delete_many()
        .filter(credit::Column::EnrolmentId.eq(enrolment_id))
        .filter(credit::Column::SessionId.eq(session_id))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn insert_activity<C: ConnectionTrait>(
    db: &C,
    row: activity::Model,
) -> Result<activity::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn activities_of<C: ConnectionTrait>(
    db: &C,
    enrolment_ids: &[String],
) -> Result<Vec<activity::Model>, DbErr> {
    if enrolment_ids.is_empty() {
        return Ok(Vec::new());
    }
    activity::Entity::find()
        .filter(activity::Column::EnrolmentId.is_in(enrolment_ids.iter().cloned()))
        .order_by_asc(activity::Column::OnDate)
        .order_by_asc(activity::Column::Id)
        .all(db)
        .await
}

// ---- attestations ----------------------------------------------------------------------------

pub async fn insert_attestation<C: ConnectionTrait>(
    db: &C,
    row: attestation::Model,
) -> Result<attestation::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn attestation<C: ConnectionTrait>(
    db: &C,
    number: &str,
) -> Result<Option<attestation::Model>, DbErr> {
    attestation::Entity::find_by_id(number.to_owned())
        .one(db)
        .await
}

pub async fn attestation_of<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
) -> Result<Option<attestation::Model>, DbErr> {
    attestation::Entity::find()
        .filter(attestation::Column::EnrolmentId.eq(enrolment_id))
        .one(db)
        .await
}

// ---- external records ------------------------------------------------------------------------

pub async fn external_record<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
) -> Result<Option<external_record::Model>, DbErr> {
    external_record::Entity::find_by_id(enrolment_id.to_owned())
        .one(db)
        .await
}

pub async fn insert_external<C: ConnectionTrait>(
    db: &C,
    row: external_record::Model,
) -> Result<(), DbErr> {
    row.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

pub async fn save_external<C: ConnectionTrait>(
    db: &C,
    row: external_record::ActiveModel,
) -> Result<(), DbErr> {
    row.update(db).await?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalFilter {
    pub school_year: Option<i32>,
    pub status: Option<String>,
}

impl ExternalFilter {
    pub fn scope(&self) -> String {
        format!("external;{:?};{:?}", self.school_year, self.status)
    }
}

/// By organiser's enrolment id (UUIDv7: order of enrolment); `after` from the previous page.
pub async fn list_external<C: ConnectionTrait>(
    db: &C,
    filter: &ExternalFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<external_record::Model>, DbErr> {
    let mut q = external_record::Entity::find();
    if let Some(y) = filter.school_year {
        q = q.filter(external_record::Column::SchoolYear.eq(y));
    }
    if let Some(s) = &filter.status {
        q = q.filter(external_record::Column::Status.eq(s.as_str()));
    }
    page(db, q, external_record::Column::EnrolmentId, after, limit).await
}

// ---- history ---------------------------------------------------------------------------------

pub async fn record_history<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: Option<String>,
) -> Result<(), DbErr> {
    history::ActiveModel {
        enrolment_id: Set(enrolment_id.to_owned()),
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

pub async fn history_of<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
) -> Result<Vec<history::Model>, DbErr> {
    history::Entity::find()
        .filter(history::Column::EnrolmentId.eq(enrolment_id))
        .order_by_asc(history::Column::Id)
        .all(db)
        .await
}
