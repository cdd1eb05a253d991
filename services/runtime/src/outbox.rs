//! The transactional outbox (design rule 2) and its relay.
//!
//! A service appends its events in the same transaction as the change they describe; each gets
//! its UUIDv7, its sequence (gapless per stream: a counter row bumped in the transaction, whose
//! lock also orders concurrent appends) and the current trace context. After commit the service
//! wakes the relay, which publishes unpublished rows in order with publisher confirms and marks
//! them published only once confirmed. Rows are kept as history: a consumer that detects a gap
//! can have a range replayed.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    bus::{BusError, Message, SharedBus},
    clock::SharedClock,
    config::OutboxConfig,
    db::{placeholders, stmt},
    events::{
        EventEnvelope, Payload, Stream, parse_stream, routing_key, routing_key_of, stream_name,
    },
    telemetry,
};

/// Appends events; cheap to clone, one per service.
#[derive(Clone)]
pub struct Outbox {
    academy: String,
    source: &'static str,
    clock: SharedClock,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(academy: impl Into<String>, source: &'static str, clock: SharedClock) -> Self {
        Self {
            academy: academy.into(),
            source,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn academy(&self) -> &str {
        &self.academy
    }

    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Writes one event in the caller's transaction. Returns the envelope as it will travel.
    pub async fn append<C: ConnectionTrait>(
        &self,
        txn: &C,
        payload: Payload,
    ) -> Result<EventEnvelope, DbErr> {
        let backend = txn.get_database_backend();
        let stream = payload.stream();
        let stream_label = stream_name(stream);
        let row = txn
            .query_one_raw(stmt(
                backend,
                "INSERT INTO outbox_sequence (stream, last_sequence) VALUES (?, 1) \
                 ON CONFLICT (stream) DO UPDATE SET last_sequence = outbox_sequence.last_sequence + 1 \
                 RETURNING last_sequence",
                vec![stream_label.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("sequence upsert returned no row".into()))?;
        let sequence: i64 = row.try_get("", "last_sequence")?;
        let now = self.clock.now();
        let event_type = payload.name();
        let key = routing_key_of(&self.academy, self.source, &payload);
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            academy: self.academy.clone(),
            source: self.source.to_owned(),
            sequence: sequence as u64,
            occurred_at: Some(crate::time::to_timestamp(now)),
            r#type: event_type.to_owned(),
            stream: stream as i32,
            trace_context: telemetry::current_trace_context(),
            payload: Some(payload),
        };
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO outbox (event_id, stream, sequence, routing_key, event_type, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            vec![
                envelope.event_id.clone().into(),
                stream_label.into(),
                sequence.into(),
                key.into(),
                event_type.into(),
                envelope.encode_to_vec().into(),
                now.into(),
            ],
        ))
        .await?;
        Ok(envelope)
    }

    /// Tells the relay there is something to publish (call after commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// A row of the outbox, as the relay reads it.
struct Row {
    id: i64,
    message: Message,
}

fn read_row(r: &sea_orm::QueryResult) -> Result<Row, DbErr> {
    let envelope_bytes: Vec<u8> = r.try_get("", "envelope")?;
    let stream: String = r.try_get("", "stream")?;
    let headers: BTreeMap<String, String> = EventEnvelope::decode(envelope_bytes.as_slice())
        .map(|e| e.trace_context.into_iter().collect())
        .unwrap_or_default();
    Ok(Row {
        id: r.try_get("", "id")?,
        message: Message {
            stream: parse_stream(&stream).unwrap_or(Stream::Internal),
            routing_key: r.try_get("", "routing_key")?,
            message_id: r.try_get("", "event_id")?,
            event_type: r.try_get("", "event_type")?,
            body: envelope_bytes,
            headers,
        },
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Publishes a service's outbox. One per service database.
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: SharedBus,
    outbox: Outbox,
    config: OutboxConfig,
}

impl OutboxRelay {
    pub fn new(
        db: DatabaseConnection,
        bus: SharedBus,
        outbox: Outbox,
        config: OutboxConfig,
    ) -> Self {
        Self {
            db,
            bus,
            outbox,
            config,
        }
    }

    /// Runs until `shutdown`, then flushes what is committed (bounded by `grace`).
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        Self::run_shared(Arc::new(self), shutdown, grace).await
    }

    /// [`OutboxRelay::run`] on a relay also used for replays.
    pub async fn run_shared(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        let heartbeat_every = Duration::from_millis(self.config.heartbeat_interval_ms);
        let mut next_heartbeat = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            // A batch at a time: any success resets the backoff, so a flaky broker that takes
            // most batches is not waited on as if it were down.
            match self.publish_batch().await {
                Ok(n) => {
                    backoff = Duration::from_millis(100);
                    if n >= self.config.batch_size.max(1) as usize {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(source = self.outbox.source, error = %e, "outbox relay: publish failed; will retry");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
            if !heartbeat_every.is_zero() && tokio::time::Instant::now() >= next_heartbeat {
                if let Err(e) = self.heartbeat().await {
                    tracing::debug!(source = self.outbox.source, error = %e, "heartbeat not sent");
                }
                next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
            }
            let wait = if heartbeat_every.is_zero() {
                poll
            } else {
                poll.min(next_heartbeat.saturating_duration_since(tokio::time::Instant::now()))
            };
            tokio::select! {
                () = self.outbox.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        match tokio::time::timeout(grace, self.drain()).await {
            Ok(Ok(n)) => tracing::info!(
                source = self.outbox.source,
                flushed = n,
                "outbox relay stopped"
            ),
            Ok(Err(e)) => {
                tracing::warn!(source = self.outbox.source, error = %e, "outbox relay stopped with events left to publish; they go at next start")
            }
            Err(_) => tracing::warn!(
                source = self.outbox.source,
                "outbox flush timed out; the rest goes at next start"
            ),
        }
    }

    /// Announces on the national stream the last national sequence published, outside the
    /// sequence itself, so the national node can tell a silent gap from a quiet académie.
    pub async fn heartbeat(&self) -> Result<(), RelayError> {
        let row = self
            .db
            .query_one_raw(stmt(
                self.db.get_database_backend(),
                "SELECT COALESCE(MAX(sequence), 0) AS last FROM outbox WHERE stream = ? AND published_at IS NOT NULL",
                vec![stream_name(Stream::National).into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("max returned no row".into()))?;
        let last: i64 = row.try_get("", "last")?;
        let now = self.outbox.clock.now();
        let payload = Payload::NodeHeartbeat(cplds_proto::v1::NodeHeartbeat {
            source: self.outbox.source.to_owned(),
            last_sequence: last as u64,
            sent_at: Some(crate::time::to_timestamp(now)),
        });
        let envelope = EventEnvelope {
            event_id: Uuid::now_v7().to_string(),
            academy: self.outbox.academy.clone(),
            source: self.outbox.source.to_owned(),
            sequence: 0,
            occurred_at: Some(crate::time::to_timestamp(now)),
            r#type: payload.name().to_owned(),
            stream: Stream::National as i32,
            trace_context: Default::default(),
            payload: Some(payload),
        };
        self.bus
            .publish(&[Message {
                stream: Stream::National,
                routing_key: routing_key(&self.outbox.academy, self.outbox.source, "heartbeat"),
                message_id: envelope.event_id.clone(),
                event_type: envelope.r#type.clone(),
                body: envelope.encode_to_vec(),
                headers: BTreeMap::new(),
            }])
            .await?;
        Ok(())
    }

    pub fn source(&self) -> &'static str {
        self.outbox.source
    }

    /// Publishes every unpublished row; returns how many.
    pub async fn drain(&self) -> Result<usize, RelayError> {
        let mut total = 0;
        loop {
            let n = self.publish_batch().await?;
            total += n;
            if n < self.config.batch_size as usize {
                return Ok(total);
            }
        }
    }

    async fn publish_batch(&self) -> Result<usize, RelayError> {
        let backend = self.db.get_database_backend();
        let limit = self.config.batch_size.max(1) as i64;
        if backend == DbBackend::Postgres {
            // Replicas of a service share the outbox: SKIP LOCKED hands each row to one relay.
            let txn = self.db.begin().await?;
            let rows = select_unpublished(&txn, limit, " FOR UPDATE SKIP LOCKED").await?;
            if rows.is_empty() {
                txn.commit().await?;
                return Ok(0);
            }
            tracing::debug!(source = self.outbox.source, rows = rows.len(), "publishing");
            // Roll back at once on failure: until then the rows stay locked, and SKIP LOCKED
            // would hide them from the next attempt.
            let published = match self.publish(&rows).await {
                Ok(()) => mark_published(&txn, &rows, self.outbox.clock.now())
                    .await
                    .map_err(RelayError::from),
                Err(e) => Err(e.into()),
            };
            match published {
                Ok(()) => txn.commit().await?,
                Err(e) => {
                    let _ = txn.rollback().await;
                    return Err(e);
                }
            }
            Ok(rows.len())
        } else {
            let rows = select_unpublished(&self.db, limit, "").await?;
            if rows.is_empty() {
                return Ok(0);
            }
            tracing::debug!(source = self.outbox.source, rows = rows.len(), "publishing");
            self.publish(&rows).await?;

            mark_published(&self.db, &rows, self.outbox.clock.now()).await?;
            Ok(rows.len())
        }
    }

    async fn publish(&self, rows: &[Row]) -> Result<(), BusError> {
        let messages: Vec<Message> = rows.iter().map(|r| r.message.clone()).collect();
        self.bus.publish(&messages).await
    }

    /// Publishes again the events of `stream` from `from_sequence` on (at most `limit`), for a
    /// consumer that found a gap. Consumers drop what they already applied.
    pub async fn replay(
        &self,
        stream: Stream,
        from_sequence: u64,
        limit: u32,
    ) -> Result<usize, RelayError> {
        let rows = self
            .db
            .query_all_raw(stmt(
                self.db.get_database_backend(),
                "SELECT id, event_id, stream, routing_key, event_type, envelope FROM outbox \
                 WHERE stream = ? AND sequence >= ? AND published_at IS NOT NULL ORDER BY sequence LIMIT ?",
                vec![stream_name(stream).into(), (from_sequence as i64).into(), (limit as i64).into()],
            ))
            .await?
            .iter()
            .map(read_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.publish(&rows).await?;
        Ok(rows.len())
    }
}

async fn select_unpublished<C: ConnectionTrait>(
    db: &C,
    limit: i64,
    lock: &str,
) -> Result<Vec<Row>, DbErr> {
    db.query_all_raw(stmt(
        db.get_database_backend(),
        &format!(
            "SELECT id, event_id, stream, routing_key, event_type, envelope FROM outbox \
             WHERE published_at IS NULL ORDER BY id LIMIT ?{lock}"
        ),
        vec![limit.into()],
    ))
    .await?
    .iter()
    .map(read_row)
    .collect()
}

async fn mark_published<C: ConnectionTrait>(
    db: &C,
    rows: &[Row],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let mut values: Vec<sea_orm::Value> = vec![at.into()];
    values.extend(rows.iter().map(|r| r.id.into()));
    db.execute_raw(stmt(
        db.get_database_backend(),
        &format!(
            "UPDATE outbox SET published_at = ? WHERE id IN ({})",
            placeholders(rows.len())
        ),
        values,
    ))
    .await?;
    Ok(())
}

/// Counts of the outbox, for health and tests.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("count returned no row".into()))?;
    row.try_get("", "n")
}
