//! How long the runtime's tables keep what they hold (`retention` in the configuration).
//!
//! Published internal (and regional) outbox rows may name people: they are deleted a short window
//! after they were written. National rows are pseudonymous and are what the national node's replay
//! requests are answered from: they are kept much longer. Inbox ids must outlive any redelivery or
//! replay that could bring their event back. Redriven dead letters go too. Unpublished rows and
//! waiting dead letters are never deleted (the heartbeat reads the stream's watermark, not a row).
//! Deletes are bounded per statement, so a first pass on a large table never holds a long lock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::{clock::SharedClock, config::RetentionConfig, db::stmt};

/// Rows deleted by one pass, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: u64,
    pub inbox: u64,
    pub dead_letters: u64,
}

fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - chrono::Duration::days(i64::from(days)))
}

/// Deletes in bounded statements until nothing matches; returns how many rows.
async fn delete_in_batches<C: ConnectionTrait>(
    db: &C,
    table: &str,
    key: &str,
    condition: &str,
    values: Vec<sea_orm::Value>,
    batch: u32,
) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let mut v = values.clone();
        v.push(i64::from(batch.max(1)).into());
        let n = db
            .execute_raw(stmt(
                db.get_database_backend(),
                &format!(
                    "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT ?)"
                ),
                v,
            ))
            .await?
            .rows_affected();
        total += n;
        if n < u64::from(batch.max(1)) {
            return Ok(total);
        }
    }
}

/// One pass over a service database.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<Pruned, DbErr> {
    let mut pruned = Pruned::default();
    for (streams, days) in [
        (
            &["internal", "regional", "control"][..],
            config.internal_outbox_days,
        ),
        (&["national"][..], config.national_outbox_days),
    ] {
        let Some(before) = cutoff(now, days) else {
            continue;
        };
        for stream in streams {
            pruned.outbox += delete_in_batches(
                db,
                "outbox",
                "id",
                "stream = ? AND created_at < ? AND sequence <= \
                 (SELECT published_through FROM outbox_sequence WHERE stream = ?)",
                vec![(*stream).into(), before.into(), (*stream).into()],
                config.batch,
            )
            .await?;
        }
    }
    if let Some(before) = cutoff(now, config.inbox_days) {
        // The inbox has a composite key: delete by the row's own identity.
        let rowid = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            "ctid"
        } else {
            "rowid"
        };
        pruned.inbox += delete_in_batches(
            db,
            "inbox",
            rowid,
            "applied_at < ?",
            vec![before.into()],
            config.batch,
        )
        .await?;
    }
    if let Some(before) = cutoff(now, config.dead_letter_days) {
        pruned.dead_letters += delete_in_batches(
            db,
            "dead_letters",
            "id",
            "redriven_at IS NOT NULL AND redriven_at < ?",
            vec![before.into()],
            config.batch,
        )
        .await?;
    }
    Ok(pruned)
}

/// Prunes `db` every `config.interval_secs` until `shutdown` (first pass one interval after start,
/// so a restart loop does not prune in a loop).
pub async fn run(
    service: &'static str,
    db: DatabaseConnection,
    config: RetentionConfig,
    clock: SharedClock,
    shutdown: CancellationToken,
) {
    let every = Duration::from_secs(config.interval_secs.max(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        match prune(&db, &config, clock.now()).await {
            Ok(p) if p != Pruned::default() => {
                tracing::info!(
                    service,
                    outbox = p.outbox,
                    inbox = p.inbox,
                    dead_letters = p.dead_letters,
                    "retention: pruned"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(service, error = %e, "retention: pruning failed; next pass later")
            }
        }
    }
}
