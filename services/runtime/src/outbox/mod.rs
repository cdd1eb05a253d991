//! The transactional outbox (design rule 2) and its relay.
//!
//! A service appends its events in the same transaction as the change they describe; each row
//! gets its UUIDv7 and the current trace context, and **no sequence**: appending touches no shared
//! row, so concurrent writers never wait on one another. After commit the service wakes the relay.
//!
//! The relay is the one writer of sequences. In a transaction of its own it locks the per-stream
//! counters, gives the next sequence of its stream to each unassigned row in id order (a bounded
//! batch), writes it into the row and into the stored envelope, and commits. Only then does it
//! publish, per stream in sequence order, with publisher confirms, and move the stream's watermark
//! (`published_through`: every row up to it is published, see [`watermark`]). So:
//! - a relay that dies after publishing and before marking leaves rows that the next relay
//!   publishes again with the **same** sequence and event id (duplicates, dropped by consumers),
//!   never a sequence reused for another event;
//! - a row whose transaction commits late (smaller id) simply gets a later sequence; causally
//!   related events stay in order, since the later one's transaction began after the earlier one
//!   committed;
//! - sequences are gapless per stream: they are handed out from the counter, in one transaction,
//!   to rows that already exist.
//!
//! One relay is active per service database ([`RelayLease`]): on PostgreSQL it holds a session
//! advisory lock on a connection of its own; replicas stand by and take over when that connection
//! drops. Even an overlap during takeover is safe: the counter lock serialises assignment and each
//! relay publishes in sequence order, so the worst case is a duplicate.
//!
//! Streams are published independently: a stream nobody can receive yet (the national stream before
//! the federation link is up) is parked and retried without holding back the others. Rows are
//! kept as history after publication (see [`crate::retention`]): a consumer that detects a gap can
//! have a range replayed.

mod lease;
mod publish;
mod relay;
mod sequencing;
mod watermark;

pub use lease::RelayLease;
pub(crate) use watermark::PublishedThrough;
pub use watermark::{numbered_unpublished_count, published_count};

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, atomic::AtomicU8},
    time::Duration,
};

use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tokio::{sync::Notify, time::Instant};
use uuid::Uuid;

use crate::{
    bus::{Binding, BusError, Message, SharedBus},
    clock::SharedClock,
    config::OutboxConfig,
    db::stmt,
    events::{EventEnvelope, Payload, Stream, parse_stream, routing_key_of, stream_name},
    telemetry,
};

/// Every stream a service may publish on, in the order the relay visits them.
const STREAMS: [Stream; 4] = [
    Stream::Internal,
    Stream::National,
    Stream::Regional,
    Stream::Control,
];

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

    /// Writes one event in the caller's transaction: one insert, no lock on anything shared.
    /// Returns the envelope as stored; its `sequence` is 0 until the relay assigns it.
    pub async fn append<C: ConnectionTrait>(
        &self,
        txn: &C,
        payload: Payload,
    ) -> Result<EventEnvelope, DbErr> {
        let mut out = self.append_all(txn, [payload]).await?;
        out.pop()
            .ok_or_else(|| DbErr::Custom("an appended event went missing".into()))
    }

    /// Writes events in the caller's transaction, in their order, in **one** statement (a round
    /// trip per event was a good part of a write's time). Returns the envelopes as stored.
    pub async fn append_all<C: ConnectionTrait>(
        &self,
        txn: &C,
        payloads: impl IntoIterator<Item = Payload>,
    ) -> Result<Vec<EventEnvelope>, DbErr> {
        let mut rows = Vec::new();
        let envelopes = self.rows(payloads, &mut rows);
        if let Some((sql, values)) = insert_sql(rows) {
            txn.execute_raw(stmt(txn.get_database_backend(), &sql, values))
                .await?;
        }
        Ok(envelopes)
    }

    /// The outbox rows of events, as [`Self::append_all`] writes them, pushed onto `rows` for a
    /// caller that writes them later in the same transaction ([`crate::kit::UnitOfWork`]). The
    /// instant and the trace context are this call's.
    pub(crate) fn rows(
        &self,
        payloads: impl IntoIterator<Item = Payload>,
        rows: &mut Vec<PendingRow>,
    ) -> Vec<EventEnvelope> {
        let now = self.clock.now();
        let trace_context = telemetry::current_trace_context();
        let mut envelopes = Vec::new();
        for payload in payloads {
            let stream = payload.stream();
            let event_type = payload.name();
            let key = routing_key_of(&self.academy, self.source, &payload);
            let envelope = EventEnvelope {
                event_id: Uuid::now_v7().to_string(),
                academy: self.academy.clone(),
                source: self.source.to_owned(),
                sequence: 0,
                occurred_at: Some(crate::time::to_timestamp(now)),
                r#type: event_type.to_owned(),
                stream: stream as i32,
                trace_context: trace_context.clone(),
                payload: Some(payload),
                ..Default::default()
            };
            rows.push(PendingRow([
                envelope.event_id.clone().into(),
                stream_name(stream).into(),
                key.into(),
                event_type.into(),
                envelope.encode_to_vec().into(),
                now.into(),
            ]));
            envelopes.push(envelope);
        }
        envelopes
    }

    /// Tells the relay there is something to publish (call after commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// An outbox row built and not yet written: its values in [`OUTBOX_COLUMNS`] order.
pub(crate) struct PendingRow([sea_orm::Value; 6]);

/// The columns an appended row sets.
const OUTBOX_COLUMNS: &str =
    "outbox (event_id, stream, routing_key, event_type, envelope, created_at)";

/// The insert of `rows` in their order (UUIDv7 ids grow, and rows are inserted in VALUES order:
/// the outbox ids keep the order): SQL with `?` placeholders and its values, `None` for no rows.
pub(crate) fn insert_sql(rows: Vec<PendingRow>) -> Option<(String, Vec<sea_orm::Value>)> {
    crate::db::insert_rows(OUTBOX_COLUMNS, rows.into_iter().map(|r| r.0).collect())
}

/// A row of the outbox, as the relay reads it.
struct Row {
    sequence: i64,
    message: Message,
}

fn read_row(r: &sea_orm::QueryResult) -> Result<Row, DbErr> {
    let envelope_bytes: Vec<u8> = r.try_get("", "envelope")?;
    let stream: String = r.try_get("", "stream")?;
    let headers: BTreeMap<String, String> = EventEnvelope::decode(envelope_bytes.as_slice())
        .map(|e| e.trace_context.into_iter().collect())
        .unwrap_or_default();
    Ok(Row {
        sequence: r.try_get("", "sequence")?,
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

/// Whether this relay is the one publishing for its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayRole {
    /// Not yet known (before the first attempt).
    Starting,
    Active,
    /// Another process holds the lease; this one waits to take over.
    Standby,
}

/// Publishes a service's outbox. One per service database (and process).
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: SharedBus,
    outbox: Outbox,
    config: OutboxConfig,
    lease: tokio::sync::Mutex<RelayLease>,
    role: AtomicU8,
    /// Bindings of the consumer queues this node declared (see [`OutboxRelay::expect`]).
    expected: std::sync::RwLock<Vec<Binding>>,
    parked: std::sync::Mutex<HashMap<Stream, Parked>>,
    /// Whether every stream's counter row is known to exist.
    counters_ready: std::sync::atomic::AtomicBool,
    metrics: crate::metrics::Metrics,
    /// Signs each event at publish time ([`crate::event_signing`]).
    signer: Option<crate::event_signing::EventSigner>,
}

/// A stream whose head could not be routed: retried after `until`, with a growing backoff.
#[derive(Debug, Clone, Copy)]
struct Parked {
    until: Instant,
    backoff: Duration,
}

/// Rows not yet published, for health and tests.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(backlog(db).await?.waiting)
}

/// What waits in an outbox: how many rows, and since when the oldest.
#[derive(Debug, Clone, PartialEq)]
pub struct Backlog {
    pub waiting: i64,
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn backlog<C: ConnectionTrait>(db: &C) -> Result<Backlog, DbErr> {
    // Rows without a sequence, and numbered rows above their stream's watermark: each half by
    // its index.
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM (\
             SELECT created_at FROM outbox WHERE sequence IS NULL \
             UNION ALL SELECT o.created_at FROM outbox_sequence s \
             JOIN outbox o ON o.stream = s.stream AND o.sequence > s.published_through) w",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("count returned no row".into()))?;
    Ok(Backlog {
        waiting: row.try_get("", "n")?,
        oldest: row.try_get("", "oldest")?,
    })
}
