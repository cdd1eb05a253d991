//! Persistence of the national node: the event log, progress per source, records, approvals and
//! surveys; `ingest` applies each source's facts in sequence order. What happened to an
//! académie's approval of a year is kept in the runtime's history ([`APPROVAL_KIND`]).

mod batch;
pub mod entities;
pub mod ingest;
pub mod jury;
pub mod migration;
mod reset;
pub mod survey;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cplds_runtime::kit::{Act, history};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

pub use self::entities::{
    approval, jury_remarks, received_event, record, sequence_conflict, stream, survey_row, training,
};
use crate::domain::record::{Record, Training};

/// The kind of record an approval is in the audit history, named `{académie}/{year}`.
pub const APPROVAL_KIND: &str = "approval";

/// The history's name of an académie's approval of a year.
pub fn approval_subject(academy: &str, year: i32) -> String {
    format!("{academy}/{year}")
}

/// Records what happened to an approval: the national node acts on the académie's facts.
pub async fn record_approval_act<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    year: i32,
    at: DateTime<Utc>,
    action: &str,
    detail: String,
) -> Result<(), DbErr> {
    let subject = approval_subject(academy, year);
    let act = Act {
        kind: APPROVAL_KIND,
        subject: &subject,
        actor: crate::NAME,
        action,
        detail: Some(detail),
    };
    history::record(db, act, at).await
}

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

/// Sequences received above the applied one, per (académie, source) (what is waiting behind a
/// gap), in one query for every source: completeness answers for 30 académies in one round trip.
pub async fn pending_sequences<C: ConnectionTrait>(
    db: &C,
) -> Result<BTreeMap<(String, String), Vec<u64>>, DbErr> {
    let rows = db
        .query_all_raw(cplds_runtime::db::stmt(
            db.get_database_backend(),
            "SELECT r.academy, r.source, r.sequence FROM received_events r \
             JOIN streams s ON s.academy = r.academy AND s.source = r.source \
             WHERE r.sequence > s.applied_sequence ORDER BY r.academy, r.source, r.sequence",
            vec![],
        ))
        .await?;
    let mut out: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for r in rows {
        out.entry((r.try_get("", "academy")?, r.try_get("", "source")?))
            .or_default()
            .push(r.try_get::<i64>("", "sequence")? as u64);
    }
    Ok(out)
}

/// The lowest sequence received above `above` (where a gap starting at `above + 1` ends), if any.
pub async fn next_received<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    source: &str,
    above: i64,
) -> Result<Option<u64>, DbErr> {
    Ok(received_event::Entity::find()
        .filter(received_event::Column::Academy.eq(academy))
        .filter(received_event::Column::Source.eq(source))
        .filter(received_event::Column::Sequence.gt(above))
        .order_by_asc(received_event::Column::Sequence)
        .one(db)
        .await?
        .map(|r| r.sequence as u64))
}

/// Per (académie, source): the facts kept for an upgrade and the sequence conflicts recorded.
pub async fn kept_and_conflicts<C: ConnectionTrait>(
    db: &C,
) -> Result<BTreeMap<(String, String), (u64, u64)>, DbErr> {
    use sea_orm::{
        QuerySelect,
        sea_query::{Expr, Func},
    };
    let mut out: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let kept: Vec<(String, String, i64)> = received_event::Entity::find()
        .select_only()
        .column(received_event::Column::Academy)
        .column(received_event::Column::Source)
        .column_as(
            Expr::from(Func::count(Expr::col(received_event::Column::Sequence))),
            "n",
        )
        .filter(received_event::Column::WaitingUpgrade.eq(true))
        .group_by(received_event::Column::Academy)
        .group_by(received_event::Column::Source)
        .into_tuple()
        .all(db)
        .await?;
    for (a, s, n) in kept {
        out.entry((a, s)).or_default().0 = n as u64;
    }
    let conflicts: Vec<(String, String, i64)> = sequence_conflict::Entity::find()
        .select_only()
        .column(sequence_conflict::Column::Academy)
        .column(sequence_conflict::Column::Source)
        .column_as(
            Expr::from(Func::count(Expr::col(sequence_conflict::Column::Sequence))),
            "n",
        )
        .group_by(sequence_conflict::Column::Academy)
        .group_by(sequence_conflict::Column::Source)
        .into_tuple()
        .all(db)
        .await?;
    for (a, s, n) in conflicts {
        out.entry((a, s)).or_default().1 = n as u64;
    }
    Ok(out)
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

/// What happened to an académie's approval of a year, oldest first.
pub async fn approval_history<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    year: i32,
) -> Result<Vec<history::Entry>, DbErr> {
    history::of(db, APPROVAL_KIND, &approval_subject(academy, year)).await
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cplds_runtime::{db::stmt, testing::store_databases};
    use sea_orm::DatabaseConnection;
    use sea_orm_migration::{MigratorTrait, SchemaManager};

    use super::{migration::Migrator, *};

    #[tokio::test]
    async fn the_former_approval_log_moves_into_the_runtime_history() {
        for (db, _pg) in store_databases("the approval log migration on PostgreSQL")
            .await
            .unwrap()
        {
            moves_approval_log(&db).await;
        }
    }

    async fn moves_approval_log(db: &DatabaseConnection) {
        // The schema as it was before the kit: runtime tables and national tables.
        Migrator::up(db, Some(2)).await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 7, 10, 8, 0, 0).unwrap();
        for (action, detail) in [
            ("APPROVED", "approved by the académie (fact reporting #3)"),
            ("REOPENED", "new fact after approval: examination #8"),
        ] {
            db.execute_raw(stmt(
                db.get_database_backend(),
                "INSERT INTO approval_log (academy, year, at, action, detail) VALUES (?, ?, ?, ?, ?)",
                vec![
                    "reims".into(),
                    2025.into(),
                    at.into(),
                    action.into(),
                    detail.into(),
                ],
            ))
            .await
            .unwrap();
        }
        Migrator::up(db, None).await.unwrap();
        let entries = approval_history(db, "reims", 2025).await.unwrap();
        let seen: Vec<(&str, &str, Option<&str>)> = entries
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), e.detail.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "national",
                    "APPROVED",
                    Some("approved by the académie (fact reporting #3)")
                ),
                (
                    "national",
                    "REOPENED",
                    Some("new fact after approval: examination #8")
                ),
            ]
        );
        assert!(entries.iter().all(|e| e.at == at));
        let schema = SchemaManager::new(db);
        assert!(!schema.has_table("approval_log").await.unwrap());
    }
}
