//! What is published: per stream, every row up to a watermark.
//!
//! The relay publishes each stream in sequence order and records, once the broker has confirmed a
//! batch, the last sequence it sent (`outbox_sequence.published_through`): one row updated per
//! stream and batch. A row is published when its sequence is at most its stream's watermark. A
//! published mark on each row cost a second update of every row (a new row version and an entry
//! in each of the outbox's indexes), which on PostgreSQL was a third of the relay's time.

use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::prelude::*;

use crate::db::{columns, stmt};

/// Rows published (for tests and tools): every stream's rows up to its watermark.
pub async fn published_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    count(db, "o.sequence <= s.published_through").await
}

/// Rows numbered by the relay and not yet confirmed by the broker: the batch in its hands.
pub async fn numbered_unpublished_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    count(db, "o.sequence > s.published_through").await
}

async fn count<C: ConnectionTrait>(db: &C, condition: &str) -> Result<i64, DbErr> {
    db.query_one_raw(stmt(
        db.get_database_backend(),
        &format!(
            "SELECT COUNT(*) AS n FROM outbox_sequence s \
             JOIN outbox o ON o.stream = s.stream AND {condition}"
        ),
        vec![],
    ))
    .await?
    .ok_or_else(|| DbErr::Custom("count returned no row".into()))?
    .try_get("", "n")
}

/// The last sequence of `stream` the broker confirmed (0 before any).
pub(super) async fn published_through<C: ConnectionTrait>(
    db: &C,
    stream: &str,
) -> Result<i64, DbErr> {
    Ok(db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT published_through FROM outbox_sequence WHERE stream = ?",
            vec![stream.into()],
        ))
        .await?
        .map(|r| r.try_get("", "published_through"))
        .transpose()?
        .unwrap_or(0))
}

/// Moves `stream`'s watermark up to `sequence` (never down: a relay overlapping during a
/// takeover may confirm an older batch after a newer one).
pub(super) async fn advance<C: ConnectionTrait>(
    db: &C,
    stream: &str,
    sequence: i64,
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "UPDATE outbox_sequence SET published_through = ? \
         WHERE stream = ? AND published_through < ?",
        vec![sequence.into(), stream.into(), sequence.into()],
    ))
    .await?;
    Ok(())
}

/// The watermark replaces the rows' `published_at`: set from the rows already published, whose
/// mark and indexes then go. Rows waiting for a sequence are found by a partial index, which a
/// row leaves when it is numbered.
pub(crate) struct PublishedThrough;

crate::migration_name!(
    PublishedThrough,
    "m20261204_000001_outbox_published_through"
);

#[async_trait::async_trait]
impl MigrationTrait for PublishedThrough {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        columns::add_column(
            m,
            "outbox_sequence",
            ColumnDef::new(Alias::new("published_through"))
                .big_integer()
                .not_null()
                .default(0),
        )
        .await?;
        // Published rows are a prefix of each stream: the highest published one is the mark.
        db.execute_unprepared(
            "UPDATE outbox_sequence SET published_through = COALESCE((SELECT MAX(o.sequence) \
             FROM outbox o WHERE o.stream = outbox_sequence.stream AND o.published_at IS NOT NULL), 0)",
        )
        .await?;
        for index in ["outbox_unpublished", "outbox_stream_published"] {
            m.drop_index(columns::drop_index(index, "outbox")).await?;
        }
        columns::drop_column(m, "outbox", "published_at").await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS outbox_unassigned ON outbox (id) WHERE sequence IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
