//! The relay's life: the lease, the loop of batches until shutdown, heartbeats, draining.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use prost::Message as _;
use sea_orm::DatabaseConnection;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Outbox, OutboxRelay, RelayError, RelayLease, RelayRole};
use crate::{
    bus::{Binding, BusError, Message, SharedBus, topic_matches},
    config::OutboxConfig,
    events::{EventEnvelope, Payload, Stream, routing_key, stream_name},
};

/// How long a busy relay lets commits gather before its next round. Woken at every commit, it
/// ran a round (about ten statements) per one or two commits under load, and on SQLite each
/// statement takes the one connection the writers share; a few milliseconds make it one round
/// per many commits. An idle relay still publishes a first event at once.
const COALESCE: Duration = Duration::from_millis(5);

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
            metrics: crate::metrics::Metrics::default(),
            signer: None,
        }
    }

    /// Signs every event this relay publishes with the service's producer key (the host always
    /// gives one; a relay without one publishes unsigned events, which verifying consumers
    /// refuse).
    pub fn with_signer(mut self, signer: crate::event_signing::EventSigner) -> Self {
        self.signer = Some(signer);
        self
    }

    pub(super) fn sign(&self, message: &mut Message) {
        if let Some(signer) = &self.signer {
            signer.sign(message);
        }
    }

    /// Counts what is published in the node's metrics (else in a registry of its own).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
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

    pub(super) fn awaited(&self, stream: Stream, key: &str) -> bool {
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
        // Whether the last round found work: woken again then, the relay lets a few more commits
        // arrive first (see [`COALESCE`]).
        let mut busy;
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
                    busy = n > 0;
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
                () = self.outbox.wake.notified() => {
                    if busy {
                        tokio::time::sleep(COALESCE).await;
                    }
                }
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
        let last =
            super::watermark::published_through(&self.db, stream_name(Stream::National)).await?;
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
            ..Default::default()
        };
        let mut message = Message {
            stream: Stream::National,
            routing_key: routing_key(&self.outbox.academy, self.outbox.source, "heartbeat"),
            message_id: envelope.event_id.clone(),
            event_type: envelope.r#type.clone(),
            body: envelope.encode_to_vec(),
            headers: BTreeMap::new(),
        };
        self.sign(&mut message);
        let sent = self.bus.publish(&[message]).await;
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
}
