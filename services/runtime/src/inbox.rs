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
    db::stmt,
    events::EventEnvelope,
    outbox::Outbox,
    telemetry,
};

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be applied (malformed, contradicts the rules): dead-lettered.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Try again later (database unavailable...): requeued.
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

/// Consumes `consumer.queue` until `shutdown`; each delivery is applied, then acknowledged.
pub async fn run(
    db: DatabaseConnection,
    bus: SharedBus,
    consumer: Consumer,
    clock: SharedClock,
    outbox: Option<Outbox>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    'subscribe: loop {
        let mut sub = match bus.subscribe(&consumer.queue).await {
            Ok(s) => {
                backoff = Duration::from_millis(200);
                s
            }
            Err(e) => {
                tracing::warn!(queue = %consumer.queue.name, error = %e, "cannot subscribe; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue 'subscribe;
            }
        };
        loop {
            let delivery = tokio::select! {
                d = sub.next() => d,
                () = shutdown.cancelled() => return,
            };
            let Some(delivery) = delivery else {
                continue 'subscribe;
            };
            // What is already waiting is applied in the same transaction: a replay of years
            // of events is not a transaction per event.
            let mut batch = vec![delivery];
            while batch.len() < BATCH
                && let Some(d) = sub.try_next()
            {
                batch.push(d);
            }
            if batch.len() == 1 {
                process(
                    &db,
                    &consumer,
                    &clock,
                    outbox.as_ref(),
                    batch.pop().expect("one"),
                )
                .await;
            } else {
                process_batch(&db, &consumer, &clock, outbox.as_ref(), batch).await;
            }
        }
    }
}

/// Deliveries applied together at most.
const BATCH: usize = 128;

/// Applies a batch in one transaction; if any event fails, nothing of the batch is kept and
/// each delivery goes through [`process`] on its own, so one bad event cannot hold the others.
async fn process_batch(
    db: &DatabaseConnection,
    consumer: &Consumer,
    clock: &SharedClock,
    outbox: Option<&Outbox>,
    batch: Vec<Delivery>,
) {
    let mut decoded = Vec::with_capacity(batch.len());
    for d in batch {
        match EventEnvelope::decode(d.body.as_slice()) {
            Ok(e) => decoded.push((d, e)),
            Err(e) => {
                tracing::error!(queue = %consumer.queue.name, message_id = %d.message_id, error = %e, "undecodable event; dead-lettered");
                let _ = d.dead_letter().await;
            }
        }
    }
    let span =
        tracing::info_span!("consume_batch", consumer = %consumer.name, events = decoded.len());
    let applied = async {
        let txn = db.begin().await?;
        for (_, envelope) in &decoded {
            let fresh = !consumer.handler.uses_inbox(envelope)
                || record(&txn, &consumer.name, &envelope.event_id, clock.now()).await?;
            if fresh && let Err(e) = consumer.handler.handle(&txn, envelope).await {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
        txn.commit().await?;
        Ok::<(), HandleError>(())
    }
    .instrument(span)
    .await;
    match applied {
        Ok(()) => {
            if let Some(o) = outbox {
                o.wake();
            }
            for (d, _) in decoded {
                if let Err(e) = d.ack().await {
                    tracing::debug!(error = %e, "ack failed; the redelivery will be a duplicate");
                }
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "batch not applied; one event at a time");
            for (d, _) in decoded {
                process(db, consumer, clock, outbox, d).await;
            }
        }
    }
}

async fn process(
    db: &DatabaseConnection,
    consumer: &Consumer,
    clock: &SharedClock,
    outbox: Option<&Outbox>,
    delivery: Delivery,
) {
    let envelope = match EventEnvelope::decode(delivery.body.as_slice()) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(queue = %consumer.queue.name, message_id = %delivery.message_id, error = %e, "undecodable event; dead-lettered");
            let _ = delivery.dead_letter().await;
            return;
        }
    };
    let span = tracing::info_span!("consume", consumer = %consumer.name, event_type = %envelope.r#type, event_id = %envelope.event_id, academy = %envelope.academy);
    telemetry::continue_trace(&span, &envelope.trace_context);
    let result = apply(db, consumer, clock, &envelope).instrument(span).await;
    match result {
        Ok(outcome) => {
            if matches!(outcome, Outcome::Applied)
                && let Some(o) = outbox
            {
                o.wake();
            }
            // If the ack is lost the event comes back and is found in the inbox.
            if let Err(e) = delivery.ack().await {
                tracing::debug!(error = %e, "ack failed; the redelivery will be a duplicate");
            }
        }
        Err(HandleError::Permanent(reason)) => {
            tracing::error!(consumer = %consumer.name, event_id = %envelope.event_id, %reason, "event refused; dead-lettered");
            let _ = delivery.dead_letter().await;
        }
        Err(HandleError::Transient(reason)) => {
            tracing::warn!(consumer = %consumer.name, event_id = %envelope.event_id, %reason, "event not applied; requeued");
            tokio::time::sleep(Duration::from_millis(250)).await;
            let _ = delivery.requeue().await;
        }
    }
}
