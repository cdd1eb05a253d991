//! The outbox and inbox together: every committed event reaches the consumer and is applied
//! exactly once in effect, on SQLite and PostgreSQL, on the in-process bus and on RabbitMQ,
//! including when the broker connection is cut mid-stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use cplds_runtime::{
    bus::{
        Binding, BusError, EventBus, Message, QueueSpec, SharedBus, Subscription, amqp::AmqpBus,
        memory::InMemoryBus,
    },
    clock,
    config::{OutboxConfig, QueueType},
    db::stmt,
    events::{EventEnvelope, Stream},
    inbox::{self, Consumer},
    outbox::{Outbox, OutboxRelay, pending_count},
    testing::{AMQP_ENV, CuttableProxy, TestVhost, server_url, wait_for, with_authority},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sea_orm_migration::prelude::*;
use tokio_util::sync::CancellationToken;

mod common;

use common::{Recorder, count, open_db, payload, queue_of_both_streams};

async fn sequences_are_gapless_per_stream(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    for n in 0..10 {
        let txn = conn.begin().await.unwrap();
        let e = outbox.append(&txn, payload(n)).await.unwrap();
        assert_eq!(e.sequence, 0, "the relay gives sequences, not the append");
        txn.commit().await.unwrap();
    }
    // A rolled-back append leaves neither a row nor a hole in the sequence.
    let txn = conn.begin().await.unwrap();
    outbox.append(&txn, payload(1)).await.unwrap();
    txn.rollback().await.unwrap();
    let txn = conn.begin().await.unwrap();
    let e = outbox.append(&txn, payload(1)).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(e.academy, "toulouse");
    assert_eq!(e.r#type, "campaign_opened");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM outbox").await, 11);
    assert_eq!(pending_count(&conn).await.unwrap(), 11);
    let relay = OutboxRelay::new(
        conn.clone(),
        Arc::new(InMemoryBus::new()),
        outbox,
        OutboxConfig {
            batch_size: 4,
            ..Default::default()
        },
    );
    while relay.assign_sequences().await.unwrap() > 0 {}
    let rows = conn
        .query_all_raw(stmt(
            conn.get_database_backend(),
            "SELECT stream, sequence, envelope FROM outbox ORDER BY id",
            vec![],
        ))
        .await
        .unwrap();
    let mut seen: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for r in rows {
        let stream: String = r.try_get("", "stream").unwrap();
        let sequence: i64 = r.try_get("", "sequence").unwrap();
        let envelope: Vec<u8> = r.try_get("", "envelope").unwrap();
        use prost::Message as _;
        assert_eq!(
            EventEnvelope::decode(envelope.as_slice()).unwrap().sequence,
            sequence as u64,
            "the stored envelope carries its sequence"
        );
        seen.entry(stream).or_default().push(sequence);
    }
    assert_eq!(
        seen["internal"],
        vec![1, 2, 3, 4, 5],
        "each stream counts on its own, in id order"
    );
    assert_eq!(seen["national"], vec![1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn sequences_are_gapless_per_stream_sqlite() {
    sequences_are_gapless_per_stream(false).await;
}

#[tokio::test]
async fn sequences_are_gapless_per_stream_postgres() {
    sequences_are_gapless_per_stream(true).await;
}

/// Wraps a bus so that every third publish stores half the batch and then fails, as a broker
/// that dies between two confirms would.
struct FlakyBus {
    inner: InMemoryBus,
    calls: AtomicUsize,
}

#[async_trait]
impl EventBus for FlakyBus {
    async fn declare(&self, q: &QueueSpec) -> Result<(), BusError> {
        self.inner.declare(q).await
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
            self.inner.publish(&messages[..messages.len() / 2]).await?;
            return Err(BusError::Unavailable("connection reset mid-batch".into()));
        }
        self.inner.publish(messages).await
    }

    async fn subscribe(&self, q: &QueueSpec) -> Result<Subscription, BusError> {
        self.inner.subscribe(q).await
    }

    fn kind(&self) -> &'static str {
        "flaky-memory"
    }
}

const EVENTS: i32 = 300;

/// Produces EVENTS events while `disturb` runs, and checks each was applied exactly once.
async fn exactly_once<F, Fut>(
    conn: DatabaseConnection,
    publisher: SharedBus,
    consumer_bus: SharedBus,
    disturb: F,
) where
    F: FnOnce(i32) -> Fut + Send + 'static + Clone,
    Fut: std::future::Future<Output = ()> + Send,
{
    let clock = clock::system();
    let outbox = Outbox::new("toulouse", "registration", clock.clone());
    let config = OutboxConfig {
        poll_interval_ms: 200,
        batch_size: 16,
        publish_timeout_ms: 2000,
        heartbeat_interval_ms: 0,
        ..Default::default()
    };
    let stop = CancellationToken::new();
    let queue = queue_of_both_streams("toulouse.test", "toulouse.#");
    consumer_bus.declare(&queue).await.unwrap();
    let relay = OutboxRelay::new(conn.clone(), publisher, outbox.clone(), config);
    let relay_task = tokio::spawn(relay.run(stop.clone(), Duration::from_secs(5)));
    let consumer = Consumer {
        name: "test".into(),
        queue,
        handler: Arc::new(Recorder),
    };
    let consumer_task = tokio::spawn(inbox::run(
        conn.clone(),
        consumer_bus,
        consumer,
        clock,
        stop.clone(),
        inbox::ConsumerOptions::default(),
    ));

    for n in 0..EVENTS {
        let txn = conn.begin().await.unwrap();
        outbox.append(&txn, payload(n)).await.unwrap();
        txn.commit().await.unwrap();
        outbox.wake();
        if n % 100 == 50 {
            disturb.clone()(n).await;
        }
        if n % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    wait_for(Duration::from_secs(90), "every event applied", || {
        let conn = conn.clone();
        async move {
            (count(&conn, "SELECT COUNT(DISTINCT event_id) FROM effects").await == EVENTS as i64)
                .then_some(())
        }
    })
    .await;
    // Give a straggling duplicate the chance to show up before counting rows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM effects").await,
        EVENTS as i64,
        "no event applied twice"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM inbox").await,
        EVENTS as i64
    );
    wait_for(Duration::from_secs(10), "outbox drained", || {
        let conn = conn.clone();
        async move { (pending_count(&conn).await.unwrap() == 0).then_some(()) }
    })
    .await;
    stop.cancel();
    relay_task.await.unwrap();
    consumer_task.await.unwrap();
}

#[tokio::test]
async fn exactly_once_through_a_flaky_in_process_bus() {
    cplds_runtime::telemetry::init_for_tests();
    let Some((conn, _guard)) = open_db(false).await else {
        return;
    };
    let inner = InMemoryBus::new();
    let flaky: SharedBus = Arc::new(FlakyBus {
        inner: inner.clone(),
        calls: AtomicUsize::new(0),
    });
    exactly_once(conn, flaky, Arc::new(inner), |_| async {}).await;
}

async fn exactly_once_through_rabbitmq_cut_mid_stream(postgres: bool) {
    cplds_runtime::telemetry::init_for_tests();
    let Some(base) = server_url(AMQP_ENV, "outbox through RabbitMQ") else {
        return;
    };
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let vhost = TestVhost::create(&base).unwrap();
    let broker: std::net::SocketAddr = broker_addr(&base).await;
    let proxy = Arc::new(CuttableProxy::start(broker).await.unwrap());
    let url = with_authority(&vhost.url, proxy.addr);
    let publisher: SharedBus = Arc::new(
        AmqpBus::connect(
            &url,
            "outbox-test",
            QueueType::Quorum,
            Duration::from_secs(2),
        )
        .await
        .unwrap(),
    );
    let consumer: SharedBus = Arc::new(
        AmqpBus::connect(
            &url,
            "inbox-test",
            QueueType::Quorum,
            Duration::from_secs(2),
        )
        .await
        .unwrap(),
    );
    let p = proxy.clone();
    exactly_once(conn, publisher, consumer, move |_| {
        let p = p.clone();
        async move {
            // Cut both the relay's and the consumer's connections, and refuse for a moment.
            p.set_refusing(true);
            p.cut();
            tokio::time::sleep(Duration::from_millis(300)).await;
            p.set_refusing(false);
        }
    })
    .await;
    assert!(proxy.cuts() >= 2, "the stream was cut");
}

async fn broker_addr(base: &str) -> std::net::SocketAddr {
    let authority = base
        .split_once("://")
        .unwrap()
        .1
        .rsplit_once('@')
        .map_or(base.split_once("://").unwrap().1, |(_, a)| a);
    let host_port = authority.split('/').next().unwrap();
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5672")
    };
    tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn exactly_once_through_rabbitmq_cut_mid_stream_sqlite() {
    exactly_once_through_rabbitmq_cut_mid_stream(false).await;
}

#[tokio::test]
async fn exactly_once_through_rabbitmq_cut_mid_stream_postgres() {
    exactly_once_through_rabbitmq_cut_mid_stream(true).await;
}

#[tokio::test]
async fn relay_flushes_on_shutdown() {
    let Some((conn, _guard)) = open_db(false).await else {
        return;
    };
    let bus = InMemoryBus::new();
    let queue = QueueSpec::new("toulouse.flush", vec![Binding::new(Stream::Internal, "#")]);
    bus.declare(&queue).await.unwrap();
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    // A relay that would not poll for an hour: only the shutdown flush can publish.
    let relay = OutboxRelay::new(
        conn.clone(),
        Arc::new(bus.clone()),
        outbox.clone(),
        OutboxConfig {
            poll_interval_ms: 3_600_000,
            batch_size: 4,
            publish_timeout_ms: 1000,
            heartbeat_interval_ms: 0,
            ..Default::default()
        },
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone(), Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    for n in 0..10 {
        let txn = conn.begin().await.unwrap();
        outbox.append(&txn, payload(n * 2)).await.unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(bus.ready_count("toulouse.flush"), 0);
    stop.cancel();
    task.await.unwrap();
    assert_eq!(bus.ready_count("toulouse.flush"), 10);
    assert_eq!(pending_count(&conn).await.unwrap(), 0);
}

/// A replay keeps to the range asked for: when the académie's history lost the head of it
/// (pruned), what follows the range is not sent (the consumer has it; sending it at every request
/// was a storm of duplicates, seen by the chaos suite's case 6).
#[tokio::test]
async fn a_replay_sends_only_the_range_asked_for() {
    let Some((conn, _guard)) = open_db(false).await else {
        return;
    };
    let bus = InMemoryBus::new();
    let q = QueueSpec::new("national.spy", vec![Binding::new(Stream::National, "#")]);
    bus.declare(&q).await.unwrap();
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    let relay = OutboxRelay::new(
        conn.clone(),
        Arc::new(bus.clone()),
        outbox.clone(),
        OutboxConfig {
            heartbeat_interval_ms: 0,
            ..Default::default()
        },
    );
    let txn = conn.begin().await.unwrap();
    for n in 0..6 {
        // Odd years are national events: national sequences 1..=6.
        outbox.append(&txn, payload(2 * n + 1)).await.unwrap();
    }
    txn.commit().await.unwrap();
    relay.drain().await.unwrap();
    let mut sub = bus.subscribe(&q).await.unwrap();
    let mut drain = async || {
        let mut got = Vec::new();
        while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            use prost::Message as _;
            got.push(EventEnvelope::decode(d.body.as_slice()).unwrap().sequence);
            d.ack().await.unwrap();
        }
        got
    };
    assert_eq!(drain().await, [1, 2, 3, 4, 5, 6]);
    // History pruned: sequences 2 and 3 are gone.
    conn.execute_unprepared("DELETE FROM outbox WHERE sequence IN (2, 3) AND stream = 'national'")
        .await
        .unwrap();
    assert_eq!(relay.replay(Stream::National, 2, 2).await.unwrap(), 0);
    assert_eq!(drain().await, Vec::<u64>::new(), "nothing beyond the range");
    assert_eq!(relay.replay(Stream::National, 2, 3).await.unwrap(), 1);
    assert_eq!(drain().await, [4]);
    assert_eq!(relay.replay(Stream::National, 1, 5_000).await.unwrap(), 4);
    assert_eq!(drain().await, [1, 4, 5, 6]);
}
