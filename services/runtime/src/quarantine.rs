//! Events a consumer refused before applying them ([`crate::event_signing`]: unsigned, signed by
//! another académie or service, routed under a key that is not theirs, federated through the
//! wrong link). Never applied and never dropped silently: each is kept here with its reason, in
//! the consumer's database, counted in the metrics (`cplds_consumer_quarantined_events_total`),
//! in the node's status and, on the national node, in its completeness.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::prelude::*;

use crate::{db::stmt, events::EventEnvelope};

/// The table, for databases of every age (a runtime upgrade, idempotent).
pub struct Migration;

crate::migration_name!(Migration, "m20261215_000001_quarantine");

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use crate::db::columns::*;
        m.create_table(
            Table::create()
                .table(Alias::new("quarantine"))
                .if_not_exists()
                .col(serial("id"))
                .col(text("consumer"))
                .col(text("event_id"))
                .col(text("routing_key"))
                // What the envelope claims: believed for nothing, kept for the operator.
                .col(text("academy"))
                .col(text("source"))
                .col(big("sequence"))
                .col(text("reason"))
                .col(bytes("envelope"))
                .col(long_text("received_from"))
                .col(instant("received_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index_on(
                "quarantine_claimed",
                "quarantine",
                &["academy", "source", "reason"],
            )
            .if_not_exists()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        crate::db::columns::drop_tables(m, &["quarantine"]).await
    }
}

/// What a refused delivery was.
pub struct Refused<'a> {
    pub consumer: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub envelope: Option<&'a EventEnvelope>,
    pub reason: &'a str,
    pub received_from: &'a str,
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    r: &Refused<'_>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (event_id, academy, source, sequence) = r.envelope.map_or_else(
        || (String::new(), String::new(), String::new(), 0i64),
        |e| {
            (
                e.event_id.clone(),
                e.academy.clone(),
                e.source.clone(),
                <i64 as TryFrom<u64>>::try_from(e.sequence).unwrap_or(i64::MAX),
            )
        },
    );
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO quarantine (consumer, event_id, routing_key, academy, source, sequence, reason, envelope, received_from, received_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            r.consumer.into(),
            event_id.into(),
            r.routing_key.into(),
            academy.into(),
            source.into(),
            sequence.into(),
            r.reason.into(),
            r.body.to_vec().into(),
            r.received_from.into(),
            at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Quarantined events by what they claimed and why they were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub consumer: String,
    pub academy: String,
    pub source: String,
    pub reason: String,
    pub events: i64,
    pub last_at: Option<DateTime<Utc>>,
}

pub async fn counts<C: ConnectionTrait>(db: &C) -> Result<Vec<Count>, DbErr> {
    db.query_all_raw(stmt(
        db.get_database_backend(),
        "SELECT consumer, academy, source, reason, COUNT(*) AS n, MAX(received_at) AS last_at FROM quarantine \
         GROUP BY consumer, academy, source, reason ORDER BY consumer, academy, source, reason",
        vec![],
    ))
    .await?
    .iter()
    .map(|r| {
        Ok(Count {
            consumer: r.try_get("", "consumer")?,
            academy: r.try_get("", "academy")?,
            source: r.try_get("", "source")?,
            reason: r.try_get("", "reason")?,
            events: r.try_get("", "n")?,
            last_at: r.try_get("", "last_at")?,
        })
    })
    .collect()
}

/// Events kept in quarantine, per consumer.
pub async fn per_consumer<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for c in counts(db).await? {
        match out.last_mut() {
            Some((name, n)) if *name == c.consumer => *n += c.events,
            _ => out.push((c.consumer, c.events)),
        }
    }
    Ok(out)
}
