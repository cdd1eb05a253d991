//! Idempotent consumers (design rule 3): the id of every applied event is recorded in the inbox
//! in the same transaction as its effect, so a redelivered or replayed event changes nothing.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    bus::{Delivery, QueueSpec, SharedBus},
    clock::SharedClock,
    config::InboxConfig,
    db::stmt,
    dead_letters,
    event_signing::{Refusal, Verifier, registry::Received},
    events::EventEnvelope,
    metrics::Metrics,
    outbox::Outbox,
    telemetry,
};

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be applied (malformed, contradicts the rules): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Try again later (database unavailable...): retried in place; poison if it keeps failing
    /// while the database is healthy.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<DbErr> for HandleError {
    fn from(e: DbErr) -> Self {
        HandleError::Transient(e.to_string())
    }
}

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Applies one event inside `txn`; events it emits go to the outbox in the same `txn`.
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError>;

    /// Applies several events, in delivery order, inside one `txn` (the runner's batch of what
    /// was already waiting). One by one through [`EventHandler::handle`] unless the handler
    /// shares work across them (the national ingest reads each stream and record once per
    /// batch). An error rolls the whole batch back; the runner then applies each on its own.
    async fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&EventEnvelope],
    ) -> Result<(), HandleError> {
        for event in events {
            self.handle(txn, event).await?;
        }
        Ok(())
    }

    /// Whether the runner records the event id in the inbox. A handler that is idempotent by a
    /// natural key of its own (the national node keys facts by académie, source and sequence)
    /// may say no for events that would only bloat the inbox, such as heartbeats.
    fn uses_inbox(&self, _event: &EventEnvelope) -> bool {
        true
    }
}

/// A service's consumer: its queue and what applies the events.
#[derive(Clone)]
pub struct Consumer {
    /// Inbox key: one service may run several consumers.
    pub name: String,
    pub queue: QueueSpec,
    pub handler: Arc<dyn EventHandler>,
}

/// Records `event_id` for `consumer`; false if it was already there.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    event_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let res = db
        .execute_raw(stmt(
            db.get_database_backend(),
            "INSERT INTO inbox (consumer, event_id, applied_at) VALUES (?, ?, ?) ON CONFLICT (consumer, event_id) DO NOTHING",
            vec![consumer.into(), event_id.into(), at.into()],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

pub enum Outcome {
    Applied,
    Duplicate,
}

/// Applies one envelope exactly once in effect.
pub async fn apply(
    db: &DatabaseConnection,
    consumer: &Consumer,
    clock: &SharedClock,
    envelope: &EventEnvelope,
) -> Result<Outcome, HandleError> {
    let txn = db.begin().await?;
    if consumer.handler.uses_inbox(envelope)
        && !record(&txn, &consumer.name, &envelope.event_id, clock.now()).await?
    {
        txn.rollback().await?;
        return Ok(Outcome::Duplicate);
    }
    if let Err(e) = consumer.handler.handle(&txn, envelope).await {
        // Release the inbox row's lock now, not when the pool next uses the connection.
        let _ = txn.rollback().await;
        return Err(e);
    }
    txn.commit().await?;
    Ok(Outcome::Applied)
}

/// What a consumer runs with besides its queue and handler; the default is what tools and tests
/// need (no outbox to wake, default [`InboxConfig`], metrics of its own, no signature check).
#[derive(Clone, Default)]
pub struct ConsumerOptions {
    /// The service's outbox, woken after an event whose handler appended to it.
    pub outbox: Option<Outbox>,
    pub config: InboxConfig,
    /// Redeliveries, dead letters and quarantined events are counted here.
    pub metrics: Metrics,
    /// Checks every event before it is applied (what the host does): a refused event is
    /// quarantined ([`crate::quarantine`]), counted and acknowledged, never applied.
    pub verifier: Option<Arc<Verifier>>,
}

/// Consumes `consumer.queue` until `shutdown`; each delivery is applied, then acknowledged, in
/// delivery order (the queue has one active consumer).
///
/// A delivery is never requeued: requeueing spends the broker's delivery budget (20, then the
/// dead-letter queue), and a database outage would spend it on good events. Instead, a transient
/// failure keeps the delivery in hand and tries it again with backoff for as long as the database
/// does not answer; only when the database is healthy and the same event keeps failing is it
/// poison. Events given up on are recorded in `dead_letters` ([`crate::dead_letters`]) and then
/// acknowledged.
pub async fn run(
    db: DatabaseConnection,
    bus: SharedBus,
    consumer: Consumer,
    clock: SharedClock,
    shutdown: CancellationToken,
    options: ConsumerOptions,
) {
    let ConsumerOptions {
        outbox,
        config,
        metrics,
        verifier,
    } = options;
    let runner = Runner {
        db,
        consumer,
        clock,
        outbox,
        config,
        shutdown,
        metrics,
        verifier,
    };
    let mut backoff = Duration::from_millis(200);
    'subscribe: loop {
        let mut sub = match bus.subscribe(&runner.consumer.queue).await {
            Ok(s) => {
                backoff = Duration::from_millis(200);
                s
            }
            Err(e) => {
                tracing::warn!(queue = %runner.consumer.queue.name, error = %e, "cannot subscribe; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = runner.shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue 'subscribe;
            }
        };
        loop {
            let delivery = tokio::select! {
                d = sub.next() => d,
                () = runner.shutdown.cancelled() => return,
            };
            let Some(delivery) = delivery else {
                continue 'subscribe;
            };
            runner.count_redelivery(&delivery);
            // What is already waiting is applied in the same transaction: a replay of years
            // of events is not a transaction per event.
            let mut batch = vec![delivery];
            while batch.len() < BATCH
                && let Some(d) = sub.try_next()
            {
                runner.count_redelivery(&d);
                batch.push(d);
            }
            let settled = match batch.pop() {
                Some(only) if batch.is_empty() => runner.process(only).await,
                Some(last) => {
                    batch.push(last);
                    runner.process_batch(batch).await
                }
                None => Settled::Yes,
            };
            if settled == Settled::Stopped {
                return;
            }
        }
    }
}

/// Deliveries applied together at most.
const BATCH: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Yes,
    /// Shutdown came while a delivery waited for its database: left unsettled, it comes back.
    Stopped,
}

struct Runner {
    db: DatabaseConnection,
    consumer: Consumer,
    clock: SharedClock,
    outbox: Option<Outbox>,
    config: InboxConfig,
    shutdown: CancellationToken,
    metrics: Metrics,
    verifier: Option<Arc<Verifier>>,
}

/// Whether the database answers at all (a failure then is the event's, not the database's).
pub async fn database_healthy(db: &DatabaseConnection) -> bool {
    let ping = db.execute_unprepared("SELECT 1");
    matches!(
        tokio::time::timeout(Duration::from_secs(5), ping).await,
        Ok(Ok(_))
    )
}

impl Runner {
    fn count_redelivery(&self, delivery: &Delivery) {
        if delivery.redelivered {
            self.metrics
                .redelivered(&self.consumer.name, &self.consumer.queue.name);
        }
    }

    /// Applies a batch in one transaction; if that fails, each delivery goes through
    /// [`Runner::process`] on its own, so one bad event cannot hold the others.
    async fn process_batch(&self, batch: Vec<Delivery>) -> Settled {
        let mut decoded = Vec::with_capacity(batch.len());
        let mut undecodable = Vec::new();
        for d in batch {
            match EventEnvelope::decode(d.body.as_slice()) {
                Ok(e) if self.refusal(&d, &e).is_none() => decoded.push((d, e)),
                // Refused or undecodable: settled one at a time below.
                _ => undecodable.push(d),
            }
        }
        if !undecodable.is_empty() {
            // Out of the fast path: one at a time, in order, with the rest.
            let mut all: Vec<Delivery> = decoded.into_iter().map(|(d, _)| d).collect();
            all.extend(undecodable);
            return self.one_by_one(all).await;
        }
        let consumer = &self.consumer;
        let span =
            tracing::info_span!("consume_batch", consumer = %consumer.name, events = decoded.len());
        let applied = async {
            let txn = self.db.begin().await?;
            let mut fresh = Vec::with_capacity(decoded.len());
            for (_, envelope) in &decoded {
                if !consumer.handler.uses_inbox(envelope)
                    || record(&txn, &consumer.name, &envelope.event_id, self.clock.now()).await?
                {
                    fresh.push(envelope);
                }
            }
            if let Err(e) = consumer.handler.handle_batch(&txn, &fresh).await {
                let _ = txn.rollback().await;
                return Err(e);
            }
            txn.commit().await?;
            Ok::<(), HandleError>(())
        }
        .instrument(span)
        .await;
        match applied {
            Ok(()) => {
                if let Some(o) = &self.outbox {
                    o.wake();
                }
                let deliveries = decoded.into_iter().map(|(d, _)| d).collect();
                if let Err(e) = Delivery::ack_all(deliveries).await {
                    tracing::debug!(error = %e, "ack failed; the redeliveries will be duplicates");
                }
                Settled::Yes
            }
            Err(e) => {
                tracing::debug!(error = %e, "batch not applied; one event at a time");
                self.one_by_one(decoded.into_iter().map(|(d, _)| d).collect())
                    .await
            }
        }
    }

    async fn one_by_one(&self, deliveries: Vec<Delivery>) -> Settled {
        let mut deliveries = deliveries.into_iter();
        for d in deliveries.by_ref() {
            if self.process(d).await == Settled::Stopped {
                // The rest are dropped unsettled with the subscription: they come back in order.
                return Settled::Stopped;
            }
        }
        Settled::Yes
    }

    /// Applies one delivery, retrying while its database is unavailable; settles it unless
    /// shutdown comes first.
    async fn process(&self, delivery: Delivery) -> Settled {
        let consumer = &self.consumer;
        let envelope = match EventEnvelope::decode(delivery.body.as_slice()) {
            Ok(e) => e,
            Err(e) => {
                return self
                    .give_up(delivery, &format!("undecodable event: {e}"), 1)
                    .await;
            }
        };
        if let Some(refusal) = self.refusal(&delivery, &envelope) {
            return self.quarantine(delivery, &envelope, refusal).await;
        }
        let mut failures = 0u32;
        let mut wait = Duration::from_millis(self.config.retry_first_ms.max(1));
        let cap = Duration::from_millis(self.config.retry_cap_ms.max(1));
        loop {
            let span = tracing::info_span!("consume", consumer = %consumer.name, event_type = %envelope.r#type, event_id = %envelope.event_id, academy = %envelope.academy);
            telemetry::continue_trace(&span, &envelope.trace_context);
            let result = apply(&self.db, consumer, &self.clock, &envelope)
                .instrument(span)
                .await;
            match result {
                Ok(outcome) => {
                    if matches!(outcome, Outcome::Applied)
                        && let Some(o) = &self.outbox
                    {
                        o.wake();
                    }
                    // If the ack is lost the event comes back and is found in the inbox.
                    if let Err(e) = delivery.ack().await {
                        tracing::debug!(error = %e, "ack failed; the redelivery will be a duplicate");
                    }
                    return Settled::Yes;
                }
                Err(HandleError::Permanent(reason)) => {
                    return self
                        .give_up(delivery, &format!("refused: {reason}"), failures + 1)
                        .await;
                }
                Err(HandleError::Transient(reason)) => {
                    if database_healthy(&self.db).await {
                        failures += 1;
                        if failures >= self.config.poison_attempts.max(1) {
                            return self
                                .give_up(
                                    delivery,
                                    &format!(
                                        "failed {failures} times with the database up: {reason}"
                                    ),
                                    failures,
                                )
                                .await;
                        }
                        tracing::warn!(consumer = %consumer.name, event_id = %envelope.event_id, %reason, failures, "event not applied; trying again");
                    } else {
                        tracing::warn!(consumer = %consumer.name, event_id = %envelope.event_id, %reason, retry_in = ?wait,
                            "database unavailable; the event waits (its delivery budget is not spent)");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.shutdown.cancelled() => return Settled::Stopped,
                    }
                    wait = (wait * 2).min(cap);
                }
            }
        }
    }

    /// Why the verifier refuses this delivery, if it does.
    fn refusal(&self, delivery: &Delivery, envelope: &EventEnvelope) -> Option<Refusal> {
        let verifier = self.verifier.as_ref()?;
        verifier
            .check(
                &Received {
                    routing_key: &delivery.routing_key,
                    body: &delivery.body,
                    headers: &delivery.headers,
                    envelope,
                },
                self.clock.now(),
            )
            .err()
    }

    /// Keeps a refused delivery in the quarantine table, counts it, then acknowledges it; like a
    /// dead letter, never dropped without its record.
    async fn quarantine(
        &self,
        delivery: Delivery,
        envelope: &EventEnvelope,
        refusal: Refusal,
    ) -> Settled {
        let consumer = &self.consumer;
        tracing::warn!(consumer = %consumer.name, event_id = %envelope.event_id, academy = %envelope.academy,
            source = %envelope.source, routing_key = %delivery.routing_key, reason = refusal.code(),
            "event refused and quarantined: not applied");
        let mut wait = Duration::from_millis(self.config.retry_first_ms.max(1));
        let cap = Duration::from_millis(self.config.retry_cap_ms.max(1));
        let received_from = delivery
            .headers
            .get(crate::event_signing::registry::RECEIVED_FROM)
            .cloned()
            .unwrap_or_default();
        loop {
            let refused = crate::quarantine::Refused {
                consumer: &consumer.name,
                routing_key: &delivery.routing_key,
                body: &delivery.body,
                envelope: Some(envelope),
                reason: refusal.code(),
                received_from: &received_from,
            };
            match crate::quarantine::record(&self.db, &refused, self.clock.now()).await {
                Ok(()) => {
                    self.metrics
                        .quarantined(&consumer.name, &consumer.queue.name, refusal.code());
                    if let Err(e) = delivery.ack().await {
                        tracing::debug!(error = %e, "ack failed; the redelivery will be quarantined again");
                    }
                    return Settled::Yes;
                }
                Err(e) => {
                    tracing::warn!(consumer = %consumer.name, error = %e, "cannot record a quarantined event yet");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.shutdown.cancelled() => return Settled::Stopped,
                    }
                    wait = (wait * 2).min(cap);
                }
            }
        }
    }

    /// Records the delivery as a dead letter, then acknowledges it. If the record cannot be
    /// written (the database went away meanwhile), waits and tries again: a dead letter is never
    /// dropped without its record.
    async fn give_up(&self, delivery: Delivery, reason: &str, attempts: u32) -> Settled {
        let mut wait = Duration::from_millis(self.config.retry_first_ms.max(1));
        let cap = Duration::from_millis(self.config.retry_cap_ms.max(1));
        loop {
            let recorded = dead_letters::record_delivery(
                &self.db,
                &self.consumer.name,
                &self.consumer.queue.name,
                &delivery,
                reason,
                attempts,
                self.clock.now(),
            )
            .await;
            match recorded {
                Ok(()) => {
                    self.metrics
                        .dead_lettered(&self.consumer.name, &self.consumer.queue.name);
                    if let Err(e) = delivery.ack().await {
                        tracing::debug!(error = %e, "ack failed; the redelivery will be dead-lettered again");
                    }
                    return Settled::Yes;
                }
                Err(e) => {
                    tracing::warn!(consumer = %self.consumer.name, error = %e, "cannot record a dead letter yet");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.shutdown.cancelled() => return Settled::Stopped,
                    }
                    wait = (wait * 2).min(cap);
                }
            }
        }
    }
}
