//! Dead letters: events a consumer could not apply, kept in the consumer's own database so an
//! operator can see them (logs at ERROR, health `cplds.dead_letters`, the admin API) and send
//! them again (redrive) once the cause is fixed.
//!
//! A consumer writes one when it gives up on an event (refused, or failing again and again while
//! its database is healthy) and then acknowledges the delivery; the [`keep`] task moves here what
//! the broker dead-lettered by itself into `{queue}.dead` (a quorum queue's delivery limit, after
//! crashes). Redriving publishes the stored envelope to that consumer's queue only and marks the
//! row; a second redrive of the same row does nothing unless forced, and the consumer's inbox
//! drops a duplicate anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::{
    bus::{BusError, Delivery, Message, QueueSpec, SharedBus, Stream},
    clock::SharedClock,
    db::{placeholders, stmt},
    events::EventEnvelope,
};

/// One dead letter, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub queue: String,
    pub event_id: String,
    pub routing_key: String,
    pub event_type: String,
    pub envelope: Vec<u8>,
    pub reason: String,
    pub attempts: i32,
    pub dead_at: DateTime<Utc>,
    pub redriven_at: Option<DateTime<Utc>>,
}

/// What is known of an event given up on.
pub struct Death<'a> {
    pub consumer: &'a str,
    pub queue: &'a str,
    pub event_id: &'a str,
    pub routing_key: &'a str,
    pub event_type: &'a str,
    pub envelope: &'a [u8],
    pub reason: &'a str,
    pub attempts: u32,
}

/// Records a dead letter (again, if that event died before and was redriven) and logs it.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    death: Death<'_>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO dead_letters (consumer, queue, event_id, routing_key, event_type, envelope, reason, attempts, dead_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (consumer, event_id) DO UPDATE SET reason = excluded.reason, attempts = excluded.attempts, \
         dead_at = excluded.dead_at, redriven_at = NULL",
        vec![
            death.consumer.into(),
            death.queue.into(),
            death.event_id.into(),
            death.routing_key.into(),
            death.event_type.into(),
            death.envelope.to_vec().into(),
            death.reason.into(),
            (death.attempts.min(i32::MAX as u32) as i32).into(),
            at.into(),
        ],
    ))
    .await?;
    tracing::error!(
        consumer = death.consumer,
        event_id = death.event_id,
        routing_key = death.routing_key,
        reason = death.reason,
        attempts = death.attempts,
        "event dead-lettered; list and redrive with `cplds dead-letters`"
    );
    Ok(())
}

fn read(r: &sea_orm::QueryResult) -> Result<DeadLetter, DbErr> {
    Ok(DeadLetter {
        id: r.try_get("", "id")?,
        consumer: r.try_get("", "consumer")?,
        queue: r.try_get("", "queue")?,
        event_id: r.try_get("", "event_id")?,
        routing_key: r.try_get("", "routing_key")?,
        event_type: r.try_get("", "event_type")?,
        envelope: r.try_get("", "envelope")?,
        reason: r.try_get("", "reason")?,
        attempts: r.try_get::<i32>("", "attempts")?,
        dead_at: r.try_get("", "dead_at")?,
        redriven_at: r.try_get("", "redriven_at")?,
    })
}

const COLUMNS: &str = "id, consumer, queue, event_id, routing_key, event_type, envelope, reason, attempts, dead_at, redriven_at";

/// Dead letters in id order, waiting ones only unless `include_redriven`, of one consumer or all.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    consumer: Option<&str>,
    include_redriven: bool,
    after_id: i64,
    limit: u64,
) -> Result<Vec<DeadLetter>, DbErr> {
    let mut sql = format!("SELECT {COLUMNS} FROM dead_letters WHERE id > ?");
    let mut values: Vec<sea_orm::Value> = vec![after_id.into()];
    if let Some(c) = consumer {
        sql.push_str(" AND consumer = ?");
        values.push(c.into());
    }
    if !include_redriven {
        sql.push_str(" AND redriven_at IS NULL");
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    values.push((limit as i64).into());
    db.query_all_raw(stmt(db.get_database_backend(), &sql, values))
        .await?
        .iter()
        .map(read)
        .collect()
}

/// Dead letters waiting (not redriven), per consumer.
pub async fn waiting<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
    db.query_all_raw(stmt(
        db.get_database_backend(),
        "SELECT consumer, COUNT(*) AS n FROM dead_letters WHERE redriven_at IS NULL GROUP BY consumer ORDER BY consumer",
        vec![],
    ))
    .await?
    .iter()
    .map(|r| Ok((r.try_get("", "consumer")?, r.try_get("", "n")?)))
    .collect()
}

/// What to redrive.
pub enum Selection<'a> {
    Ids(&'a [i64]),
    /// Every waiting dead letter of the consumer.
    AllOf(&'a str),
}

/// Publishes the selected dead letters to their consumer's queue, in id order, and marks them
/// redriven. Rows already redriven are skipped unless `force`. Returns the rows redriven.
pub async fn redrive(
    db: &DatabaseConnection,
    bus: &SharedBus,
    selection: Selection<'_>,
    force: bool,
    clock: &SharedClock,
) -> Result<Vec<DeadLetter>, RedriveError> {
    let backend = db.get_database_backend();
    let (mut sql, mut values): (String, Vec<sea_orm::Value>) = match selection {
        Selection::Ids([]) => return Ok(Vec::new()),
        Selection::Ids(ids) => (
            format!(
                "SELECT {COLUMNS} FROM dead_letters WHERE id IN ({})",
                placeholders(ids.len())
            ),
            ids.iter().map(|i| (*i).into()).collect(),
        ),
        Selection::AllOf(consumer) => (
            format!("SELECT {COLUMNS} FROM dead_letters WHERE consumer = ?"),
            vec![consumer.into()],
        ),
    };
    if !force {
        sql.push_str(" AND redriven_at IS NULL");
    }
    sql.push_str(" ORDER BY id");
    let rows: Vec<DeadLetter> = db
        .query_all_raw(stmt(backend, &sql, std::mem::take(&mut values)))
        .await?
        .iter()
        .map(read)
        .collect::<Result<_, _>>()?;
    let mut done = Vec::with_capacity(rows.len());
    for row in rows {
        let stream = EventEnvelope::decode(row.envelope.as_slice())
            .ok()
            .and_then(|e| Stream::try_from(e.stream).ok())
            .unwrap_or(Stream::Internal);
        let headers = EventEnvelope::decode(row.envelope.as_slice())
            .map(|e| e.trace_context.into_iter().collect())
            .unwrap_or_default();
        bus.publish_to_queue(
            &row.queue,
            &Message {
                stream,
                routing_key: row.routing_key.clone(),
                message_id: row.event_id.clone(),
                event_type: row.event_type.clone(),
                body: row.envelope.clone(),
                headers,
            },
        )
        .await?;
        let now = clock.now();
        db.execute_raw(stmt(
            backend,
            "UPDATE dead_letters SET redriven_at = ? WHERE id = ?",
            vec![now.into(), row.id.into()],
        ))
        .await?;
        tracing::info!(consumer = %row.consumer, event_id = %row.event_id, "dead letter redriven");
        done.push(DeadLetter {
            redriven_at: Some(now),
            ..row
        });
    }
    Ok(done)
}

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Records a delivery the consumer gives up on: decoded when it can be, kept whole in any case.
pub(crate) async fn record_delivery<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    queue: &str,
    delivery: &Delivery,
    reason: &str,
    attempts: u32,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let decoded = EventEnvelope::decode(delivery.body.as_slice()).ok();
    let event_id = match &decoded {
        Some(e) if !e.event_id.is_empty() => e.event_id.clone(),
        _ if !delivery.message_id.is_empty() => delivery.message_id.clone(),
        _ => format!("undecodable-{}", uuid::Uuid::now_v7()),
    };
    let event_type = decoded.map(|e| e.r#type).unwrap_or_default();
    record(
        db,
        Death {
            consumer,
            queue,
            event_id: &event_id,
            routing_key: &delivery.routing_key,
            event_type: &event_type,
            envelope: &delivery.body,
            reason,
            attempts,
        },
        at,
    )
    .await
}

/// Moves what the broker dead-lettered by itself into `{queue}.dead` (a quorum queue's delivery
/// limit, reached through crashes) into the consumer's table, until `shutdown`.
pub async fn keep(
    db: DatabaseConnection,
    bus: SharedBus,
    consumer: String,
    queue: QueueSpec,
    clock: SharedClock,
    shutdown: CancellationToken,
) {
    let dead = queue.dead_letters();
    let mut backoff = Duration::from_millis(500);
    loop {
        let mut sub = match bus.subscribe(&dead).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(queue = %dead.name, error = %e, "cannot watch the dead-letter queue; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        loop {
            let delivery = tokio::select! {
                d = sub.next() => d,
                () = shutdown.cancelled() => return,
            };
            let Some(delivery) = delivery else { break };
            let recorded = record_delivery(
                &db,
                &consumer,
                &queue.name,
                &delivery,
                "dead-lettered by the broker (delivery limit reached)",
                0,
                clock.now(),
            )
            .await;
            match recorded {
                Ok(()) => {
                    let _ = delivery.ack().await;
                }
                Err(e) => {
                    // Left in the broker's queue; tried again after a pause.
                    tracing::warn!(queue = %dead.name, error = %e, "cannot record a dead letter; retrying");
                    drop(delivery);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => return,
                    }
                    break;
                }
            }
        }
    }
}
