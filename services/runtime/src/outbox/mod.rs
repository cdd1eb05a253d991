//! The transactional outbox (design rule 2) and its relay.
//!
//! A service appends its events in the same transaction as the change they describe; each row
//! gets its UUIDv7 and the current trace context, and **no sequence**: appending touches no shared
//! row, so concurrent writers never wait on one another. After commit the service wakes the relay.
//!
//! The relay is the one writer of sequences. In a transaction of its own it locks the per-stream
//! counters, gives the next sequence of its stream to each unassigned row in id order (a bounded
//! batch), writes it into the row and into the stored envelope, and commits. Only then does it
//! publish, per stream in sequence order, with publisher confirms, and mark rows published. So:
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

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    bus::{Binding, BusError, Message, SharedBus, topic_matches},
    clock::SharedClock,
    config::OutboxConfig,
    db::{placeholders, stmt},
    events::{
        EventEnvelope, Payload, Stream, parse_stream, routing_key, routing_key_of, stream_name,
    },
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
        let stream = payload.stream();
        let now = self.clock.now();
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
            trace_context: telemetry::current_trace_context(),
            payload: Some(payload),
        };
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO outbox (event_id, stream, routing_key, event_type, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                envelope.event_id.clone().into(),
                stream_name(stream).into(),
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
}

/// A stream whose head could not be routed: retried after `until`, with a growing backoff.
#[derive(Debug, Clone, Copy)]
struct Parked {
    until: Instant,
    backoff: Duration,
}

impl OutboxRelay {
    pub fn new(
        db: DatabaseConnection,
        bus: SharedBus,
        outbox: Outbox,
        config: OutboxConfig,
    ) -> Self {
        let lease = RelayLease::new(&db);
        Self {
            db,
            bus,
            outbox,
            config,
            lease: tokio::sync::Mutex::new(lease),
            role: AtomicU8::new(0),
            expected: std::sync::RwLock::new(Vec::new()),
            parked: std::sync::Mutex::new(HashMap::new()),
            counters_ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Tells the relay which internal-stream keys have a consumer in this node. An internal event
    /// that reaches no queue is held back when one of these bindings matches it (its queue is
    /// missing: it must wait for it), and counted as sent when none does (nobody in the académie
    /// consumes that event). National, regional and control events always have a consumer
    /// elsewhere (the national node, another académie, reached through federation): reaching no
    /// queue always means "not yet", and they wait.
    pub fn expect(&self, bindings: impl IntoIterator<Item = Binding>) {
        if let Ok(mut e) = self.expected.write() {
            e.extend(bindings);
        }
    }

    fn awaited(&self, stream: Stream, key: &str) -> bool {
        match stream {
            Stream::Internal | Stream::Unspecified => self.expected.read().is_ok_and(|e| {
                e.iter()
                    .any(|b| b.stream == Stream::Internal && topic_matches(&b.pattern, key))
            }),
            Stream::National | Stream::Regional | Stream::Control => true,
        }
    }

    pub fn role(&self) -> RelayRole {
        match self.role.load(Ordering::Relaxed) {
            1 => RelayRole::Active,
            2 => RelayRole::Standby,
            _ => RelayRole::Starting,
        }
    }

    fn set_role(&self, role: RelayRole) {
        let before = self.role.swap(
            match role {
                RelayRole::Starting => 0,
                RelayRole::Active => 1,
                RelayRole::Standby => 2,
            },
            Ordering::Relaxed,
        );
        if before != self.role.load(Ordering::Relaxed) {
            tracing::info!(source = self.outbox.source, role = ?role, "outbox relay role");
        }
    }

    /// Runs until `shutdown`, then flushes what is committed (bounded by `grace`).
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        Self::run_shared(Arc::new(self), shutdown, grace).await
    }

    /// [`OutboxRelay::run`] on a relay also used for replays.
    pub async fn run_shared(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        let standby_retry = Duration::from_millis(self.config.standby_retry_ms.max(10));
        let heartbeat_every = Duration::from_millis(self.config.heartbeat_interval_ms);
        let mut next_heartbeat = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            if !self.hold_lease().await {
                tokio::select! {
                    () = tokio::time::sleep(standby_retry) => {}
                    () = shutdown.cancelled() => return,
                }
                continue;
            }
            // A batch at a time: any success resets the backoff, so a flaky broker that takes
            // most batches is not waited on as if it were down.
            match self.step().await {
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
            if !heartbeat_every.is_zero() && Instant::now() >= next_heartbeat {
                if let Err(e) = self.heartbeat().await {
                    tracing::debug!(source = self.outbox.source, error = %e, "heartbeat not sent");
                }
                next_heartbeat = Instant::now() + heartbeat_every;
            }
            let mut wait = poll;
            if !heartbeat_every.is_zero() {
                wait = wait.min(next_heartbeat.saturating_duration_since(Instant::now()));
            }
            if let Some(until) = self.next_unpark() {
                wait = wait.min(until.saturating_duration_since(Instant::now()));
            }
            tokio::select! {
                () = self.outbox.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        if self.role() != RelayRole::Active {
            return;
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

    /// True when this relay may publish (it holds, or just took, the lease).
    async fn hold_lease(&self) -> bool {
        let held = self
            .lease
            .lock()
            .await
            .hold(&self.db, Duration::from_millis(self.config.lease_check_ms))
            .await;
        self.set_role(if held {
            RelayRole::Active
        } else {
            RelayRole::Standby
        });
        held
    }

    /// Gives up the lease (tests play a crash by dropping the relay instead).
    pub async fn release(&self) {
        self.lease.lock().await.release().await;
        self.set_role(RelayRole::Standby);
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
        let sent = self
            .bus
            .publish(&[Message {
                stream: Stream::National,
                routing_key: routing_key(&self.outbox.academy, self.outbox.source, "heartbeat"),
                message_id: envelope.event_id.clone(),
                event_type: envelope.r#type.clone(),
                body: envelope.encode_to_vec(),
                headers: BTreeMap::new(),
            }])
            .await;
        match sent {
            // Outside the sequence: one that nobody can receive yet is simply not sent.
            Err(BusError::Unroutable { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn source(&self) -> &'static str {
        self.outbox.source
    }

    /// Assigns and publishes everything committed, ignoring parked streams' backoff; returns how
    /// many rows were published. Stops at the first error.
    pub async fn drain(&self) -> Result<usize, RelayError> {
        if let Ok(mut p) = self.parked.lock() {
            p.clear();
        }
        let mut total = 0;
        loop {
            let n = self.step().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// One round: assign sequences to a batch, then publish a batch of what is assigned. Returns
    /// how many rows were assigned or settled (0 when there was nothing to do).
    async fn step(&self) -> Result<usize, RelayError> {
        let assigned = self.assign_sequences().await?;
        let published = self.publish_assigned().await?;
        Ok(assigned.max(published))
    }

    /// Gives the next sequences of their streams to a batch of rows without one, in id order, in
    /// one committed transaction; returns how many.
    pub async fn assign_sequences(&self) -> Result<usize, RelayError> {
        let limit = self.config.batch_size.max(1) as i64;
        // Cheap look first: an idle relay takes no lock at all.
        if select_unassigned(&self.db, 1).await?.is_empty() {
            return Ok(0);
        }
        let backend = self.db.get_database_backend();
        if !self.counters_ready.load(Ordering::Relaxed) {
            for stream in STREAMS {
                self.db
                    .execute_raw(stmt(
                        backend,
                        "INSERT INTO outbox_sequence (stream, last_sequence) VALUES (?, 0) ON CONFLICT (stream) DO NOTHING",
                        vec![stream_name(stream).into()],
                    ))
                    .await?;
            }
            self.counters_ready.store(true, Ordering::Relaxed);
        }
        let txn = self.db.begin().await?;
        // The counters are locked before the rows are read: a relay overlapping during a takeover
        // waits here, then sees what this one assigned.
        let lock = if backend == DbBackend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let mut counters: HashMap<String, (i64, bool)> = HashMap::new();
        for r in txn
            .query_all_raw(stmt(
                backend,
                &format!("SELECT stream, last_sequence FROM outbox_sequence ORDER BY stream{lock}"),
                vec![],
            ))
            .await?
        {
            counters.insert(
                r.try_get("", "stream")?,
                (r.try_get("", "last_sequence")?, false),
            );
        }
        let rows = select_unassigned(&txn, limit).await?;
        let mut assigned = Vec::with_capacity(rows.len());
        for row in &rows {
            let (counter, changed) = counters.entry(row.stream.clone()).or_insert((0, false));
            *counter += 1;
            *changed = true;
            let mut envelope = EventEnvelope::decode(row.envelope.as_slice())
                .map_err(|e| DbErr::Custom(format!("outbox row {} is unreadable: {e}", row.id)))?;
            envelope.sequence = *counter as u64;
            assigned.push((row.id, *counter, envelope.encode_to_vec()));
        }
        // One statement per chunk rather than one per row.
        for chunk in assigned.chunks(100) {
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 5);
            let mut sequence_case = String::from("CASE id");
            let mut envelope_case = String::from("CASE id");
            for (id, sequence, _) in chunk {
                sequence_case.push_str(" WHEN ? THEN ?");
                values.push((*id).into());
                values.push((*sequence).into());
            }
            for (id, _, envelope) in chunk {
                envelope_case.push_str(" WHEN ? THEN ?");
                values.push((*id).into());
                values.push(envelope.clone().into());
            }
            values.extend(chunk.iter().map(|(id, _, _)| sea_orm::Value::from(*id)));
            txn.execute_raw(stmt(
                backend,
                &format!(
                    "UPDATE outbox SET sequence = {sequence_case} END, envelope = {envelope_case} END WHERE id IN ({})",
                    placeholders(chunk.len())
                ),
                values,
            ))
            .await?;
        }
        for (stream, (last, changed)) in &counters {
            if *changed {
                txn.execute_raw(stmt(
                    backend,
                    "UPDATE outbox_sequence SET last_sequence = ? WHERE stream = ?",
                    vec![(*last).into(), stream.clone().into()],
                ))
                .await?;
            }
        }
        txn.commit().await?;
        Ok(rows.len())
    }

    /// Publishes a batch of assigned rows of the streams not parked, each stream in sequence
    /// order; returns how many were settled (published, or found to have no consumer).
    async fn publish_assigned(&self) -> Result<usize, RelayError> {
        let streams: Vec<Stream> = STREAMS
            .into_iter()
            .filter(|s| !self.is_parked(*s))
            .collect();
        if streams.is_empty() {
            return Ok(0);
        }
        let limit = self.config.batch_size.max(1) as i64;
        let mut values: Vec<sea_orm::Value> =
            streams.iter().map(|s| stream_name(*s).into()).collect();
        values.push(limit.into());
        let rows: Vec<Row> = self
            .db
            .query_all_raw(stmt(
                self.db.get_database_backend(),
                &format!(
                    "SELECT id, event_id, stream, routing_key, event_type, envelope FROM outbox \
                     WHERE published_at IS NULL AND sequence IS NOT NULL AND stream IN ({}) \
                     ORDER BY stream, sequence LIMIT ?",
                    placeholders(streams.len())
                ),
                values,
            ))
            .await?
            .iter()
            .map(read_row)
            .collect::<Result<_, _>>()?;
        let mut settled = 0;
        for group in rows.chunk_by(|a, b| a.message.stream == b.message.stream) {
            settled += self.publish_rows(group[0].message.stream, group).await?;
        }
        Ok(settled)
    }

    /// Publishes rows of one stream, in order; stops at a row no queue receives yet (parking the
    /// stream). Returns how many were settled.
    async fn publish_rows(&self, stream: Stream, rows: &[Row]) -> Result<usize, RelayError> {
        let mut rest = rows;
        let mut settled = 0;
        while !rest.is_empty() {
            tracing::debug!(
                source = self.outbox.source,
                rows = rest.len(),
                stream = stream_name(stream),
                "publishing"
            );
            let messages: Vec<Message> = rest.iter().map(|r| r.message.clone()).collect();
            match self.bus.publish(&messages).await {
                Ok(()) => {
                    mark_published(&self.db, rest, self.outbox.clock.now()).await?;
                    self.unpark(stream);
                    return Ok(settled + rest.len());
                }
                Err(BusError::Unroutable {
                    routing_key,
                    message_id,
                }) => {
                    // What came before the returned message was confirmed; it is sent.
                    let at = rest
                        .iter()
                        .position(|r| r.message.message_id == message_id)
                        .unwrap_or(0);
                    let (done, tail) = rest.split_at(at);
                    mark_published(&self.db, done, self.outbox.clock.now()).await?;
                    settled += done.len();
                    if self.awaited(stream, &routing_key) {
                        self.park(stream, &routing_key);
                        return Ok(settled);
                    }
                    // Nobody in the académie consumes this event: it is sent, to no one.
                    tracing::debug!(source = self.outbox.source, %routing_key, "no consumer for this event");
                    mark_published(&self.db, &tail[..1], self.outbox.clock.now()).await?;
                    settled += 1;
                    rest = &tail[1..];
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(settled)
    }

    fn is_parked(&self, stream: Stream) -> bool {
        self.parked
            .lock()
            .is_ok_and(|p| p.get(&stream).is_some_and(|p| p.until > Instant::now()))
    }

    fn next_unpark(&self) -> Option<Instant> {
        self.parked
            .lock()
            .ok()
            .and_then(|p| p.values().map(|p| p.until).min())
    }

    fn park(&self, stream: Stream, routing_key: &str) {
        if let Ok(mut parked) = self.parked.lock() {
            let backoff = parked.get(&stream).map_or(Duration::from_millis(200), |p| {
                (p.backoff * 2).min(Duration::from_secs(30))
            });
            tracing::warn!(source = self.outbox.source, stream = stream_name(stream), %routing_key, retry_in = ?backoff,
                "no queue receives this event yet; the stream waits (nothing is counted as sent)");
            parked.insert(
                stream,
                Parked {
                    until: Instant::now() + backoff,
                    backoff,
                },
            );
        }
    }

    fn unpark(&self, stream: Stream) {
        if let Ok(mut p) = self.parked.lock() {
            p.remove(&stream);
        }
    }

    /// Publishes again the events of `stream` from `from_sequence` on (at most `limit`), for a
    /// consumer that found a gap. Consumers drop what they already applied. Returns how many.
    pub async fn replay(
        &self,
        stream: Stream,
        from_sequence: u64,
        limit: u32,
    ) -> Result<usize, RelayError> {
        self.replay_paced(
            stream,
            from_sequence,
            limit,
            self.config.batch_size,
            Duration::ZERO,
        )
        .await
    }

    /// [`OutboxRelay::replay`] in publishes of at most `batch` events, `pause` apart, so one
    /// request cannot monopolise the database and the broker.
    pub async fn replay_paced(
        &self,
        stream: Stream,
        from_sequence: u64,
        limit: u32,
        batch: u32,
        pause: Duration,
    ) -> Result<usize, RelayError> {
        let batch = i64::from(batch.max(1));
        let limit = i64::from(limit);
        let mut from = from_sequence as i64;
        let mut total = 0i64;
        while total < limit {
            if total > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let take = batch.min(limit - total);
            let rows = self
                .db
                .query_all_raw(stmt(
                    self.db.get_database_backend(),
                    "SELECT id, event_id, stream, routing_key, event_type, envelope, sequence FROM outbox \
                     WHERE stream = ? AND sequence >= ? AND published_at IS NOT NULL ORDER BY sequence LIMIT ?",
                    vec![stream_name(stream).into(), from.into(), take.into()],
                ))
                .await?;
            let Some(last) = rows.last() else { break };
            from = last.try_get::<i64>("", "sequence")? + 1;
            let rows: Vec<Row> = rows.iter().map(read_row).collect::<Result<_, _>>()?;
            let messages: Vec<Message> = rows.iter().map(|r| r.message.clone()).collect();
            self.bus.publish(&messages).await?;
            total += rows.len() as i64;
            if (rows.len() as i64) < take {
                break;
            }
        }
        Ok(total as usize)
    }
}

/// An unassigned row: enough to give it its sequence.
struct Unassigned {
    id: i64,
    stream: String,
    envelope: Vec<u8>,
}

async fn select_unassigned<C: ConnectionTrait>(
    db: &C,
    limit: i64,
) -> Result<Vec<Unassigned>, DbErr> {
    db.query_all_raw(stmt(
        db.get_database_backend(),
        "SELECT id, stream, envelope FROM outbox \
         WHERE published_at IS NULL AND sequence IS NULL ORDER BY id LIMIT ?",
        vec![limit.into()],
    ))
    .await?
    .iter()
    .map(|r| {
        Ok(Unassigned {
            id: r.try_get("", "id")?,
            stream: r.try_get("", "stream")?,
            envelope: r.try_get("", "envelope")?,
        })
    })
    .collect()
}

async fn mark_published<C: ConnectionTrait>(
    db: &C,
    rows: &[Row],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut values: Vec<sea_orm::Value> = vec![at.into()];
    values.extend(rows.iter().map(|r| r.id.into()));
    db.execute_raw(stmt(
        db.get_database_backend(),
        &format!(
            "UPDATE outbox SET published_at = ? WHERE id IN ({}) AND published_at IS NULL",
            placeholders(rows.len())
        ),
        values,
    ))
    .await?;
    Ok(())
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
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE published_at IS NULL",
            vec![],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("count returned no row".into()))?;
    Ok(Backlog {
        waiting: row.try_get("", "n")?,
        oldest: row.try_get("", "oldest")?,
    })
}

/// The right to publish a database's outbox.
///
/// On PostgreSQL, a session-level advisory lock (key derived from the schema) held on a
/// connection of its own, outside the pool: replicas of the service try it in turn, and when
/// the holder dies its connection drops and the lock goes with it. A holder that finds its
/// connection broken stops publishing at once. On SQLite one process owns the file: there is
/// nothing to lock.
pub struct RelayLease {
    postgres: bool,
    /// The dedicated connection (kept while standing by, to try again on it).
    conn: Option<sea_orm::sqlx::PgConnection>,
    /// The service's schema (the pool's search path; the dedicated connection has none).
    schema: Option<String>,
    held: bool,
    checked: Option<Instant>,
}

/// First half of the advisory-lock key of relays ("cplr"); the second is the schema's hash.
const RELAY_LOCK_CLASS: i32 = 0x63706c72;

impl RelayLease {
    fn new(db: &DatabaseConnection) -> Self {
        Self {
            postgres: db.get_database_backend() == DbBackend::Postgres,
            conn: None,
            schema: None,
            held: false,
            checked: None,
        }
    }

    /// Whether the lease is held after this call: checks the held connection at most once per
    /// `check_every`, or tries to take the lease.
    async fn hold(&mut self, db: &DatabaseConnection, check_every: Duration) -> bool {
        if !self.postgres {
            return true;
        }
        if self.held && self.checked.is_some_and(|c| c.elapsed() < check_every) {
            return true;
        }
        match self.try_hold(db).await {
            Ok(held) => {
                if self.held && !held {
                    tracing::warn!("outbox relay lost its lease; it stops publishing");
                }
                self.held = held;
                self.checked = Some(Instant::now());
            }
            Err(e) => {
                if self.held {
                    tracing::warn!(error = %e, "outbox relay lost its lease connection; it stops publishing");
                } else {
                    tracing::debug!(error = %e, "cannot try the outbox relay lease");
                }
                self.conn = None;
                self.held = false;
            }
        }
        self.held
    }

    /// Pings the held lease, or tries to take it, on the dedicated connection.
    async fn try_hold(&mut self, db: &DatabaseConnection) -> Result<bool, sea_orm::sqlx::Error> {
        use sea_orm::sqlx::{self, Connection as _};
        let pool = db.get_postgres_connection_pool();
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                let s: String = sqlx::query_scalar("SELECT current_schema()::text")
                    .fetch_one(pool)
                    .await?;
                self.schema.insert(s).clone()
            }
        };
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => {
                let options = pool.connect_options();
                self.held = false;
                self.conn
                    .insert(sqlx::PgConnection::connect_with(&options).await?)
            }
        };
        let check = async {
            if self.held {
                conn.ping().await.map(|()| true)
            } else {
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                    .bind(RELAY_LOCK_CLASS)
                    .bind(&schema)
                    .fetch_one(&mut *conn)
                    .await
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), check).await {
            Ok(r) => r,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    async fn release(&mut self) {
        use sea_orm::sqlx::Connection as _;
        self.held = false;
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}
