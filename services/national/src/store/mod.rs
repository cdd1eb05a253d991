//! Persistence of the national node: the event log, progress per source, records, approvals and
//! surveys; `ingest` applies each source's facts in sequence order.

pub mod entities;
pub mod ingest;
pub mod migration;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

pub use self::entities::{
    approval, approval_log, received_event, record, stream, survey_row, training,
};
use crate::domain::record::{Record, Training};

pub async fn records<C: ConnectionTrait>(
    db: &C,
    year: i32,
    academies: Option<&[String]>,
) -> Result<Vec<Record>, DbErr> {
    let mut q = record::Entity::find().filter(record::Column::Year.eq(year));
    if let Some(a) = academies {
        q = q.filter(record::Column::Academy.is_in(a.iter().cloned()));
    }
    q.order_by_asc(record::Column::Academy)
        .order_by_asc(record::Column::CandidateKey)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            serde_json::from_str(&m.data)
                .map_err(|e| DbErr::Custom(format!("record {}: {e}", m.candidate_key)))
        })
        .collect()
}

pub async fn trainings<C: ConnectionTrait>(
    db: &C,
    school_year: i32,
    academies: Option<&[String]>,
) -> Result<Vec<Training>, DbErr> {
    let mut q = training::Entity::find().filter(training::Column::SchoolYear.eq(school_year));
    if let Some(a) = academies {
        q = q.filter(training::Column::Academy.is_in(a.iter().cloned()));
    }
    q.all(db)
        .await?
        .into_iter()
        .map(|m| {
            serde_json::from_str(&m.data)
                .map_err(|e| DbErr::Custom(format!("training {}: {e}", m.candidate_key)))
        })
        .collect()
}

pub async fn streams<C: ConnectionTrait>(db: &C) -> Result<Vec<stream::Model>, DbErr> {
    stream::Entity::find()
        .order_by_asc(stream::Column::Academy)
        .order_by_asc(stream::Column::Source)
        .all(db)
        .await
}

/// Sequences received above the applied one, per stream (what is waiting behind a gap).
pub async fn pending_sequences<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    source: &str,
    above: i64,
) -> Result<Vec<u64>, DbErr> {
    Ok(received_event::Entity::find()
        .filter(received_event::Column::Academy.eq(academy))
        .filter(received_event::Column::Source.eq(source))
        .filter(received_event::Column::Sequence.gt(above))
        .order_by_asc(received_event::Column::Sequence)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.sequence as u64)
        .collect())
}

pub async fn approvals<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<approval::Model>, DbErr> {
    approval::Entity::find()
        .filter(approval::Column::Year.eq(year))
        .order_by_asc(approval::Column::Academy)
        .all(db)
        .await
}

pub async fn approval_history<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<approval_log::Model>, DbErr> {
    approval_log::Entity::find()
        .filter(approval_log::Column::Year.eq(year))
        .order_by_asc(approval_log::Column::Id)
        .all(db)
        .await
}

/// The latest survey version of each académie for a year.
pub async fn latest_surveys<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<BTreeMap<String, Vec<survey_row::Model>>, DbErr> {
    let rows = survey_row::Entity::find()
        .filter(survey_row::Column::Year.eq(year))
        .order_by_asc(survey_row::Column::Id)
        .all(db)
        .await?;
    let mut latest: BTreeMap<String, i32> = BTreeMap::new();
    for r in &rows {
        let v = latest.entry(r.academy.clone()).or_insert(r.version);
        *v = (*v).max(r.version);
    }
    let mut out: BTreeMap<String, Vec<survey_row::Model>> = BTreeMap::new();
    for r in rows {
        if latest.get(&r.academy) == Some(&r.version) {
            out.entry(r.academy.clone()).or_default().push(r);
        }
    }
    Ok(out)
}

/// Académies that sent any fact for a year.
pub async fn academies_with_data<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<String>, DbErr> {
    use sea_orm::QuerySelect;
    let rows: Vec<String> = record::Entity::find()
        .select_only()
        .column(record::Column::Academy)
        .distinct()
        .filter(record::Column::Year.eq(year))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

pub fn is_recent(at: Option<DateTime<Utc>>, now: DateTime<Utc>, window_ms: u64) -> bool {
    at.is_some_and(|t| (now - t).num_milliseconds() <= window_ms as i64)
}
