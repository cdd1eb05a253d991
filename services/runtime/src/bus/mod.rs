//! The event bus: one trait, two implementations that pass the same contract tests.
//!
//! - [`memory::InMemoryBus`]: the embedded default, one process, no server; durable in a SQLite
//!   file when opened with a path (what the node uses), or purely in memory (tests).
//! - [`amqp::AmqpBus`]: RabbitMQ via lapin: durable topic exchanges, publisher confirms, durable
//!   (quorum) queues per consumer, dead-lettering of poison messages.
//!
//! Semantics both honour: a publish returns once every message is safely stored (confirmed);
//! a message routes to every queue bound to a matching pattern (`*` one word, `#` any words), and
//! one that reaches no queue is **not** stored and fails the publish ([`BusError::Unroutable`]);
//! a queue keeps messages while no consumer is attached; a delivery not acknowledged (consumer
//! gone, connection lost) is redelivered, in its place; a consumer queue gives its deliveries to
//! one subscriber at a time (single active consumer), the next taking over when it goes; a
//! dead-lettered delivery goes to `{queue}.dead`; a queue may bound its messages' age and its
//! length (dropping the oldest).

use std::{collections::BTreeMap, fmt, sync::Arc};

use async_trait::async_trait;
use tokio::sync::mpsc;

pub use crate::events::Stream;

pub mod amqp;
pub mod memory;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    #[error("broker refused the message: {0}")]
    Refused(String),
    /// The message reached no queue (mandatory publish returned). Messages before it in the same
    /// publish were stored; it and those after it may not have been.
    #[error("no queue receives {routing_key} (message {message_id})")]
    Unroutable {
        routing_key: String,
        message_id: String,
    },
    #[error("bus error: {0}")]
    Other(String),
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub stream: Stream,
    pub routing_key: String,
    /// The event id; brokers keep it as message id.
    pub message_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    /// Trace context and other string headers.
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub stream: Stream,
    /// Topic pattern, e.g. `toulouse.registration.*` or `*.#`.
    pub pattern: String,
}

impl Binding {
    pub fn new(stream: Stream, pattern: impl Into<String>) -> Self {
        Self {
            stream,
            pattern: pattern.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// A consumer's durable queue, dead-lettering to `{name}.dead`.
    Consumer,
    /// The `{name}.dead` queue of a consumer queue, for inspection and replay by hand.
    DeadLetters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// `{academy}.{consumer}`, e.g. `toulouse.examination`.
    pub name: String,
    pub bindings: Vec<Binding>,
    /// Deliveries in flight (unacknowledged) at once.
    pub prefetch: u16,
    pub kind: QueueKind,
    /// One subscriber at a time receives the queue's deliveries (`x-single-active-consumer`), so
    /// replicas of a consumer apply a stream in order. On by default.
    pub single_active_consumer: bool,
    /// Messages older than this are dropped (`x-message-ttl`).
    pub message_ttl_ms: Option<u32>,
    /// At most this many ready messages; the oldest are dropped (`x-max-length`, drop-head).
    pub max_length: Option<u32>,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>, bindings: Vec<Binding>) -> Self {
        Self {
            name: name.into(),
            bindings,
            prefetch: 32,
            kind: QueueKind::Consumer,
            single_active_consumer: true,
            message_ttl_ms: None,
            max_length: None,
        }
    }

    /// Drops messages older than `ms` (a request nobody served in time is stale).
    pub fn with_message_ttl(mut self, ms: u32) -> Self {
        self.message_ttl_ms = Some(ms);
        self
    }

    /// Keeps at most `n` ready messages, dropping the oldest.
    pub fn with_max_length(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }

    /// Lets several subscribers share the deliveries, for a consumer that does not depend on
    /// their order (it orders by construction, like the national aggregator).
    pub fn order_insensitive(mut self) -> Self {
        self.single_active_consumer = false;
        self
    }

    pub fn dead_letter_queue_name(&self) -> String {
        format!("{}.dead", self.name)
    }

    /// The spec to read this queue's dead letters.
    pub fn dead_letters(&self) -> QueueSpec {
        QueueSpec {
            name: self.dead_letter_queue_name(),
            bindings: Vec::new(),
            prefetch: self.prefetch,
            kind: QueueKind::DeadLetters,
            single_active_consumer: true,
            message_ttl_ms: None,
            max_length: None,
        }
    }
}

/// Settles one delivery with the broker.
#[async_trait]
pub trait Acker: Send + Sync {
    async fn ack(&mut self) -> Result<(), BusError>;
    /// `requeue = false` dead-letters the message.
    async fn nack(&mut self, requeue: bool) -> Result<(), BusError>;

    /// The channel whose deliveries one acknowledgement can settle together (AMQP's
    /// `multiple`), if the bus has one: deliveries of the same channel are settled by
    /// [`Acker::ack_through`] on the last of them.
    fn channel(&self) -> Option<u64> {
        None
    }

    /// Acknowledges this delivery and every earlier unsettled one of its [`Acker::channel`].
    async fn ack_through(&mut self) -> Result<(), BusError> {
        self.ack().await
    }
}

pub struct Delivery {
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub redelivered: bool,
    acker: Box<dyn Acker>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("routing_key", &self.routing_key)
            .field("message_id", &self.message_id)
            .field("redelivered", &self.redelivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    pub fn new(
        routing_key: String,
        message_id: String,
        body: Vec<u8>,
        headers: BTreeMap<String, String>,
        redelivered: bool,
        acker: Box<dyn Acker>,
    ) -> Self {
        Self {
            routing_key,
            message_id,
            body,
            headers,
            redelivered,
            acker,
        }
    }

    pub async fn ack(mut self) -> Result<(), BusError> {
        self.acker.ack().await
    }

    /// Acknowledges `deliveries`, given in delivery order, once all of them are applied: one
    /// acknowledgement per channel when the bus can settle several at once (a batch of 128
    /// deliveries is one frame to RabbitMQ, not 128), else one each. Returns the first failure;
    /// a delivery whose acknowledgement is lost comes back and is found already applied.
    pub async fn ack_all(deliveries: Vec<Delivery>) -> Result<(), BusError> {
        let mut first_error = None;
        let mut deliveries = deliveries.into_iter().peekable();
        while let Some(d) = deliveries.next() {
            let channel = d.acker.channel();
            let settled_later = channel.is_some()
                && deliveries
                    .peek()
                    .is_some_and(|next| next.acker.channel() == channel);
            if settled_later {
                // The last delivery of the channel in this run acknowledges it too.
                continue;
            }
            let mut acker = d.acker;
            let result = if channel.is_some() {
                acker.ack_through().await
            } else {
                acker.ack().await
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Returns the message to the queue, to be delivered again.
    pub async fn requeue(mut self) -> Result<(), BusError> {
        self.acker.nack(true).await
    }

    /// Moves the message to the queue's dead-letter queue.
    pub async fn dead_letter(mut self) -> Result<(), BusError> {
        self.acker.nack(false).await
    }
}

/// A consumer's stream of deliveries. Dropping it stops consuming; unsettled deliveries return to
/// the queue.
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    _stop: tokio_util::sync::DropGuard,
}

impl Subscription {
    pub fn new(rx: mpsc::Receiver<Delivery>, stop: tokio_util::sync::CancellationToken) -> Self {
        Self {
            rx,
            _stop: stop.drop_guard(),
        }
    }

    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// A delivery already waiting, if any (never waits).
    pub fn try_next(&mut self) -> Option<Delivery> {
        self.rx.try_recv().ok()
    }
}

#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Creates the queue, its dead-letter queue and its bindings, so messages published from now
    /// on are kept even before anyone consumes. Idempotent.
    async fn declare(&self, queue: &QueueSpec) -> Result<(), BusError>;

    /// Publishes and returns once the broker has confirmed every message.
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError>;

    /// Declares the queue and starts consuming it. Survives broker restarts (reconnects).
    async fn subscribe(&self, queue: &QueueSpec) -> Result<Subscription, BusError>;

    /// Publishes one message to the named queue only (RabbitMQ's default exchange), confirmed;
    /// [`BusError::Unroutable`] when the queue does not exist. Redriving a dead letter uses it.
    async fn publish_to_queue(&self, queue: &str, message: &Message) -> Result<(), BusError> {
        let _ = (queue, message);
        Err(BusError::Other(format!(
            "the {} bus cannot publish to a single queue",
            self.kind()
        )))
    }

    /// `memory` or `amqp`, for logs and the demo summary.
    fn kind(&self) -> &'static str;
}

pub type SharedBus = Arc<dyn EventBus>;

/// The bus the configuration asks for: RabbitMQ when `amqp_url` is set, else in-process.
pub async fn connect(
    config: &crate::config::Config,
    connection_name: &str,
) -> Result<SharedBus, BusError> {
    match &config.amqp_url {
        Some(url) => connect_to(config, url, connection_name).await,
        // Durable: what was published survives a crash or restart of the embedded node.
        None => Ok(Arc::new(
            memory::InMemoryBus::open(&config.data_dir.join("bus.sqlite")).await?,
        )),
    }
}

/// RabbitMQ at `url` (a service's own broker user, `amqp_service_urls`), with the node's TLS,
/// queue type and timeouts.
pub async fn connect_to(
    config: &crate::config::Config,
    url: &str,
    connection_name: &str,
) -> Result<SharedBus, BusError> {
    let timeout = std::time::Duration::from_millis(config.outbox.publish_timeout_ms);
    let tls =
        crate::tls::amqp_config(&config.amqp_tls).map_err(|e| BusError::Other(e.to_string()))?;
    Ok(Arc::new(
        amqp::AmqpBus::connect_tls(url, connection_name, config.amqp_queue_type, timeout, tls)
            .await?,
    ))
}

/// Topic-exchange matching: words split on `.`, `*` matches one word, `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match p.split_first() {
            None => k.is_empty(),
            Some((&"#", rest)) => (0..=k.len()).any(|i| go(rest, &k[i..])),
            Some((&"*", rest)) => !k.is_empty() && go(rest, &k[1..]),
            Some((word, rest)) => k.first() == Some(word) && go(rest, &k[1..]),
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod contract;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::topic_matches;

    #[test]
    fn topic_examples() {
        assert!(topic_matches(
            "toulouse.registration.*",
            "toulouse.registration.candidacy_submitted"
        ));
        assert!(!topic_matches(
            "toulouse.registration.*",
            "lyon.registration.candidacy_submitted"
        ));
        assert!(topic_matches("*.registration.#", "lyon.registration.a"));
        assert!(topic_matches("#", "a.b.c"));
        assert!(topic_matches("a.#", "a"));
        assert!(topic_matches("#.c", "a.b.c"));
        assert!(!topic_matches("a.*", "a"));
        assert!(!topic_matches("a.*", "a.b.c"));
    }

    proptest! {
        #[test]
        fn hash_matches_everything(words in prop::collection::vec("[a-z_]{1,8}", 1..6)) {
            let key = words.join(".");
            prop_assert!(topic_matches("#", &key));
            prop_assert!(topic_matches(&key, &key));
            let stars = vec!["*"; words.len()].join(".");
            prop_assert!(topic_matches(&stars, &key));
            let one_more = format!("{stars}.*");
            prop_assert!(!topic_matches(&one_more, &key));
        }
    }
}
