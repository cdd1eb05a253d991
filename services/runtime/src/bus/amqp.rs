//! RabbitMQ via lapin. Topology (design.md): durable topic exchanges `cplds.events` (internal)
//! and `cplds.national` (federated); a durable queue per consumer (quorum by default) bound to
//! the keys it needs; a direct exchange `cplds.dead` with a `{queue}.dead` queue per consumer
//! for poison messages.
//!
//! Publishing uses publisher confirms and `mandatory`: `publish` returns only when the broker has
//! taken responsibility for every message, which is what lets the outbox mark rows sent, and a
//! message the broker returns because no queue is bound for it fails the publish
//! ([`BusError::Unroutable`]) instead of being confirmed and dropped. Any other failure drops the
//! connection; the next call reconnects. Consumers reconnect on their own.
//!
//! Consumer queues are declared with `x-single-active-consumer` (one replica applies a stream at
//! a time, in order), and queues that ask for bounds with `x-message-ttl` and `x-max-length`
//! (`x-overflow: drop-head`).

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    Acker, BusError, Delivery, EventBus, Message, QueueKind, QueueSpec, Stream, Subscription,
};
use crate::{
    config::QueueType, event_signing::registry::RECEIVED_FROM, events::DEAD_LETTER_EXCHANGE,
};

/// Redeliveries after which a quorum queue dead-letters a message nobody can process.
const DELIVERY_LIMIT: i32 = 20;

pub struct AmqpBus {
    url: String,
    tls: lapin::tcp::OwnedTLSConfig,
    connection_name: String,
    queue_type: QueueType,
    publish_timeout: Duration,
    publisher: Mutex<Option<(Connection, Channel)>>,
}

impl AmqpBus {
    /// Connects once to check the URL and declare the exchanges; later failures reconnect.
    pub async fn connect(
        url: &str,
        connection_name: &str,
        queue_type: QueueType,
        publish_timeout: Duration,
    ) -> Result<Self, BusError> {
        Self::connect_tls(
            url,
            connection_name,
            queue_type,
            publish_timeout,
            lapin::tcp::OwnedTLSConfig::default(),
        )
        .await
    }

    /// [`AmqpBus::connect`] with TLS settings for an `amqps://` broker.
    pub async fn connect_tls(
        url: &str,
        connection_name: &str,
        queue_type: QueueType,
        publish_timeout: Duration,
        tls: lapin::tcp::OwnedTLSConfig,
    ) -> Result<Self, BusError> {
        let bus = Self {
            url: url.to_owned(),
            tls,
            connection_name: connection_name.to_owned(),
            queue_type,
            publish_timeout,
            publisher: Mutex::new(None),
        };
        let opened = bus.open().await?;
        *bus.publisher.lock().await = Some(opened);
        Ok(bus)
    }

    async fn open(&self) -> Result<(Connection, Channel), BusError> {
        within(
            self.publish_timeout,
            "opening a publishing channel",
            async {
                let props = ConnectionProperties::default()
                    .with_connection_name(self.connection_name.clone().into());
                let conn = self.dial(props).await.map_err(unavailable)?;
                let channel = conn.create_channel().await.map_err(unavailable)?;
                declare_exchanges(&channel).await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(unavailable)?;
                Ok((conn, channel))
            },
        )
        .await
    }

    async fn dial(&self, props: ConnectionProperties) -> lapin::Result<Connection> {
        Connection::connect_with_config(
            &self.url,
            props,
            self.tls.clone(),
            lapin::runtime::default_runtime()?,
        )
        .await
    }

    fn queue_arguments(&self, spec: &QueueSpec) -> FieldTable {
        let mut args = FieldTable::default();
        let kind = match self.queue_type {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        };
        args.insert("x-queue-type".into(), AMQPValue::LongString(kind.into()));
        if spec.single_active_consumer {
            args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        }
        if let Some(ttl) = spec.message_ttl_ms {
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(i64::from(ttl)),
            );
        }
        if let Some(max) = spec.max_length {
            args.insert(
                "x-max-length".into(),
                AMQPValue::LongLongInt(i64::from(max)),
            );
            args.insert(
                "x-overflow".into(),
                AMQPValue::LongString("drop-head".into()),
            );
        }
        if spec.kind == QueueKind::Consumer {
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(spec.name.clone().into()),
            );
            if self.queue_type == QueueType::Quorum {
                args.insert(
                    "x-delivery-limit".into(),
                    AMQPValue::LongInt(DELIVERY_LIMIT),
                );
            }
        }
        args
    }

    async fn declare_on(&self, channel: &Channel, spec: &QueueSpec) -> Result<(), BusError> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        if spec.kind == QueueKind::Consumer {
            let dead = spec.dead_letters();
            channel
                .queue_declare(
                    dead.name.clone().into(),
                    durable,
                    self.queue_arguments(&dead),
                )
                .await
                .map_err(unavailable)?;
            channel
                .queue_bind(
                    dead.name.into(),
                    DEAD_LETTER_EXCHANGE.into(),
                    spec.name.clone().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
        }
        channel
            .queue_declare(
                spec.name.clone().into(),
                durable,
                self.queue_arguments(spec),
            )
            .await
            .map_err(unavailable)?;
        for b in &spec.bindings {
            channel
                .queue_bind(
                    spec.name.clone().into(),
                    b.stream.exchange().into(),
                    b.pattern.clone().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn open_consumer(
        &self,
        spec: &QueueSpec,
    ) -> Result<(Connection, lapin::Consumer), BusError> {
        within(self.publish_timeout, "opening a consumer", async {
            let props = ConnectionProperties::default().with_connection_name(
                format!("{} consumer {}", self.connection_name, spec.name).into(),
            );
            let conn = self.dial(props).await.map_err(unavailable)?;
            let channel = conn.create_channel().await.map_err(unavailable)?;
            declare_exchanges(&channel).await?;
            self.declare_on(&channel, spec).await?;
            channel
                .basic_qos(spec.prefetch.max(1), BasicQosOptions::default())
                .await
                .map_err(unavailable)?;
            let consumer = channel
                .basic_consume(
                    spec.name.clone().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
            Ok((conn, consumer))
        })
        .await
    }
}

/// Bounds an exchange with the broker. A broker that accepts the connection and then says
/// nothing must not stall a relay (which holds the publishing channel meanwhile) or a consumer's
/// reconnection forever; lapin waits for every reply without a deadline.
async fn within<T>(
    limit: Duration,
    what: &str,
    exchange: impl std::future::Future<Output = Result<T, BusError>>,
) -> Result<T, BusError> {
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(BusError::Unavailable(format!("{what} timed out"))))
}

/// Closes without waiting more than a moment for the broker's reply (it may never come).
async fn close(conn: &Connection, code: u16, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_WAIT, conn.close(code, reason.into())).await;
}

const CLOSE_WAIT: Duration = Duration::from_secs(1);

async fn declare_exchanges(channel: &Channel) -> Result<(), BusError> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for stream in [
        Stream::Internal,
        Stream::National,
        Stream::Regional,
        Stream::Control,
    ] {
        channel
            .exchange_declare(
                stream.exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
    }
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

fn unavailable(e: lapin::Error) -> BusError {
    BusError::Unavailable(e.to_string())
}

fn properties(m: &Message) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (k, v) in &m.headers {
        headers.insert(
            ShortString::from(k.clone()),
            AMQPValue::LongString(LongString::from(v.clone())),
        );
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/protobuf".into())
        .with_message_id(m.message_id.clone().into())
        .with_type(m.event_type.clone().into())
        .with_app_id("cplds".into())
        .with_headers(headers)
}

fn headers_of(props: &BasicProperties) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(table) = props.headers() {
        for (k, v) in table.inner() {
            match v {
                // Only the plugin writes the trail, as an array: a string is a publisher's claim.
                AMQPValue::LongString(_) if k.as_str() == RECEIVED_FROM => {
                    out.insert(k.to_string(), "(not a federation trail)".into());
                }
                AMQPValue::LongString(s) => {
                    out.insert(
                        k.to_string(),
                        String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    );
                }
                // The federation plugin's trail: which upstream brokers the message came through.
                AMQPValue::FieldArray(hops) if k.as_str() == RECEIVED_FROM => {
                    out.insert(k.to_string(), received_from(hops.as_slice()));
                }
                _ => {}
            }
        }
    }
    out
}

/// The `uri` of each hop of `x-received-from`, space-separated (credentials are never in it).
fn received_from(hops: &[AMQPValue]) -> String {
    let mut uris = Vec::new();
    for hop in hops {
        if let AMQPValue::FieldTable(t) = hop {
            for (k, v) in t.inner() {
                match v {
                    AMQPValue::LongString(s) if k.as_str() == "uri" => {
                        uris.push(String::from_utf8_lossy(s.as_bytes()).into_owned());
                    }
                    _ => {}
                }
            }
        }
    }
    uris.join(" ")
}

#[async_trait]
impl EventBus for AmqpBus {
    async fn declare(&self, queue: &QueueSpec) -> Result<(), BusError> {
        let (conn, channel) = self.open().await?;
        let result = within(
            self.publish_timeout,
            "declaring a queue",
            self.declare_on(&channel, queue),
        )
        .await;
        close(&conn, 200, "declared").await;
        result
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let targets: Vec<(&str, &str, &Message)> = messages
            .iter()
            .map(|m| (m.stream.exchange(), m.routing_key.as_str(), m))
            .collect();
        self.publish_confirmed(&targets).await
    }

    async fn publish_to_queue(&self, queue: &str, message: &Message) -> Result<(), BusError> {
        // The default exchange routes by queue name to that queue only.
        self.publish_confirmed(&[("", queue, message)]).await
    }

    async fn subscribe(&self, spec: &QueueSpec) -> Result<Subscription, BusError> {
        self.subscribe_to(spec).await
    }

    fn kind(&self) -> &'static str {
        "amqp"
    }
}

impl AmqpBus {
    /// Publishes each (exchange, routing key, message) mandatory and waits for every confirm.
    async fn publish_confirmed(&self, messages: &[(&str, &str, &Message)]) -> Result<(), BusError> {
        let mut guard = self.publisher.lock().await;
        let healthy = guard
            .as_ref()
            .is_some_and(|(conn, ch)| conn.status().connected() && ch.status().connected());
        if !healthy {
            *guard = Some(self.open().await?);
        }
        let Some((_, channel)) = guard.as_ref() else {
            return Err(BusError::Unavailable("no publishing channel".into()));
        };
        let outcome = tokio::time::timeout(self.publish_timeout, async {
            let mut confirms = Vec::with_capacity(messages.len());
            for (exchange, key, m) in messages {
                let confirm = channel
                    .basic_publish(
                        (*exchange).into(),
                        (*key).into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &m.body,
                        properties(m),
                    )
                    .await
                    .map_err(unavailable)?;
                confirms.push((confirm, *key, *m));
            }
            for (confirm, key, m) in confirms {
                match confirm.await.map_err(unavailable)? {
                    Confirmation::Ack(None) => {}
                    // Returned: no queue was bound for it. Confirmed, yet stored nowhere.
                    Confirmation::Ack(Some(_)) => {
                        return Err(BusError::Unroutable {
                            routing_key: key.to_owned(),
                            message_id: m.message_id.clone(),
                        });
                    }
                    Confirmation::Nack(_) => {
                        return Err(BusError::Refused("broker nacked a message".into()));
                    }
                    Confirmation::NotRequested => {
                        return Err(BusError::Other("publisher confirms are off".into()));
                    }
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|_| {
            Err(BusError::Unavailable(
                "publish not confirmed in time".into(),
            ))
        });
        if outcome
            .as_ref()
            .is_err_and(|e| !matches!(e, BusError::Unroutable { .. }))
        {
            // Unconfirmed messages may or may not have arrived: the caller retries them all on a
            // fresh connection, and consumers drop the duplicates.
            if let Some((conn, _)) = guard.take() {
                close(&conn, 320, "publish failed").await;
            }
        }
        outcome
    }

    async fn subscribe_to(&self, spec: &QueueSpec) -> Result<Subscription, BusError> {
        // The first connection is made here so a wrong URL or topology fails loudly now.
        let first = self.open_consumer(spec).await?;
        let (tx, rx) = mpsc::channel(spec.prefetch.max(1) as usize);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let bus = Self {
            url: self.url.clone(),
            tls: self.tls.clone(),
            connection_name: self.connection_name.clone(),
            queue_type: self.queue_type,
            publish_timeout: self.publish_timeout,
            publisher: Mutex::new(None),
        };
        let spec = spec.clone();
        tokio::spawn(async move {
            let mut next = Some(first);
            let mut backoff = Duration::from_millis(100);
            loop {
                let opened = match next.take() {
                    Some(c) => Ok(c),
                    None => bus.open_consumer(&spec).await,
                };
                match opened {
                    Ok((conn, mut consumer)) => {
                        backoff = Duration::from_millis(100);
                        let channel = NEXT_CHANNEL.fetch_add(1, Ordering::Relaxed);
                        loop {
                            let item = tokio::select! {
                                item = consumer.next() => item,
                                () = stopped.cancelled() => {
                                    close(&conn, 200, "consumer stopped").await;
                                    return;
                                }
                            };
                            match item {
                                Some(Ok(d)) => {
                                    let delivery = Delivery::new(
                                        d.routing_key.to_string(),
                                        d.properties
                                            .message_id()
                                            .as_ref()
                                            .map(|s| s.to_string())
                                            .unwrap_or_default(),
                                        d.data,
                                        headers_of(&d.properties),
                                        d.redelivered,
                                        Box::new(AmqpAcker {
                                            acker: Some(d.acker),
                                            channel,
                                        }),
                                    );
                                    if tx.send(delivery).await.is_err() {
                                        close(&conn, 200, "consumer stopped").await;
                                        return;
                                    }
                                }
                                Some(Err(e)) => {
                                    tracing::warn!(queue = %spec.name, error = %e, "consumer connection lost; reconnecting");
                                    break;
                                }
                                None => {
                                    tracing::warn!(queue = %spec.name, "consumer cancelled by the broker; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(queue = %spec.name, error = %e, "cannot consume; retrying")
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Ok(Subscription::new(rx, stop))
    }
}

/// Numbers the consumer channels of this process, so deliveries of one channel are told from
/// those of the channel before a reconnection (a `multiple` acknowledgement covers one channel).
static NEXT_CHANNEL: AtomicU64 = AtomicU64::new(1);

struct AmqpAcker {
    acker: Option<lapin::Acker>,
    channel: u64,
}

#[async_trait]
impl Acker for AmqpAcker {
    async fn ack(&mut self) -> Result<(), BusError> {
        match self.acker.take() {
            Some(a) => settle(a.ack(BasicAckOptions::default())).await,
            None => Ok(()),
        }
    }

    fn channel(&self) -> Option<u64> {
        Some(self.channel)
    }

    async fn ack_through(&mut self) -> Result<(), BusError> {
        match self.acker.take() {
            Some(a) => settle(a.ack(BasicAckOptions { multiple: true })).await,
            None => Ok(()),
        }
    }

    async fn nack(&mut self, requeue: bool) -> Result<(), BusError> {
        match self.acker.take() {
            Some(a) => {
                settle(a.nack(BasicNackOptions {
                    requeue,
                    ..Default::default()
                }))
                .await
            }
            None => Ok(()),
        }
    }
}

/// Settling on a channel whose connection died may never complete: give up after a while. The
/// broker returns unsettled messages when the connection closes, and the consumer's inbox drops
/// the redelivered duplicate.
async fn settle(
    op: impl std::future::Future<Output = lapin::Result<bool>>,
) -> Result<(), BusError> {
    match tokio::time::timeout(Duration::from_secs(5), op).await {
        Ok(r) => r.map(|_| ()).map_err(unavailable),
        Err(_) => Err(BusError::Unavailable(
            "settling a delivery timed out".into(),
        )),
    }
}
