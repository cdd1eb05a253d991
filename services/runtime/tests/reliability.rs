//! The guarantees under real operation (issues 11 and 14): writers never wait on one another;
//! sequences stay gapless with concurrent writers; two relays on one schema publish in order and
//! one takes over when the other dies; an event nobody can receive yet waits instead of being
//! counted as sent; a consumer rides out its database's outage without spending its delivery
//! budget; migrations are safe on concurrent starts and on failure; retention prunes what it may.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{collections::HashMap, sync::Arc, time::Duration};

use common::{Migrator, Recorder, count, open_db, payload, queue_of_both_streams};
use cplds_runtime::{
    bus::{
        Binding, BusError, EventBus, Message, QueueSpec, SharedBus, Stream, amqp::AmqpBus,
        memory::InMemoryBus,
    },
    clock,
    config::{InboxConfig, OutboxConfig, QueueType, RetentionConfig},
    db::{self, DbTarget, stmt},
    events::EventEnvelope,
    inbox::{self, Consumer},
    outbox::{Outbox, OutboxRelay, RelayRole, pending_count, published_count},
    testing::{
        AMQP_ENV, CuttableProxy, POSTGRES_ENV, TestPostgres, TestVhost, server_url, wait_for,
        with_authority,
    },
};
use prost::Message as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, TransactionTrait};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// A fresh PostgreSQL database and the target of a schema in it.
async fn postgres(what: &str) -> Option<(TestPostgres, DbTarget)> {
    let admin = server_url(POSTGRES_ENV, what)?;
    let pg = TestPostgres::create(&admin).await.unwrap();
    let target = DbTarget::Postgres {
        url: pg.url.clone(),
        schema: "toulouse_registration".into(),
    };
    Some((pg, target))
}

fn fast_relay() -> OutboxConfig {
    OutboxConfig {
        poll_interval_ms: 50,
        batch_size: 8,
        heartbeat_interval_ms: 0,
        standby_retry_ms: 100,
        lease_check_ms: 100,
        ..Default::default()
    }
}

// ---- issue 14: no serialisation of writers ----

/// A writer whose transaction is open with an event appended does not hold back another writer
/// of the same stream (the old counter row was locked from the append to the commit).
#[tokio::test]
async fn appends_do_not_wait_for_each_other() {
    let Some((conn, _guard)) = open_db(true).await else {
        return;
    };
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    let first = conn.begin().await.unwrap();
    outbox.append(&first, payload(0)).await.unwrap();
    let second = async {
        let txn = conn.begin().await.unwrap();
        outbox.append(&txn, payload(2)).await.unwrap();
        txn.commit().await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("a second writer commits while the first one's transaction is open");
    first.commit().await.unwrap();
    assert_eq!(pending_count(&conn).await.unwrap(), 2);
}

/// Many tasks append at once while the relay assigns: every stream ends numbered 1..n, each
/// sequence once, and each stored envelope carries its row's sequence.
async fn sequences_gapless_under_concurrent_appends(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    let relay = Arc::new(OutboxRelay::new(
        conn.clone(),
        Arc::new(InMemoryBus::new()),
        outbox.clone(),
        fast_relay(),
    ));
    let stop = CancellationToken::new();
    let assigner = {
        let relay = relay.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                relay.assign_sequences().await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..16 {
        let (conn, outbox) = (conn.clone(), outbox.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..25 {
                let txn = conn.begin().await.unwrap();
                outbox.append(&txn, payload(w * 100 + n)).await.unwrap();
                if n % 7 == 3 {
                    txn.rollback().await.unwrap();
                } else {
                    txn.commit().await.unwrap();
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.cancel();
    assigner.await.unwrap();
    while relay.assign_sequences().await.unwrap() > 0 {}
    let rows = conn
        .query_all_raw(stmt(
            conn.get_database_backend(),
            "SELECT stream, sequence, envelope FROM outbox",
            vec![],
        ))
        .await
        .unwrap();
    let mut per_stream: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &rows {
        let sequence: i64 = r.try_get("", "sequence").unwrap();
        let envelope: Vec<u8> = r.try_get("", "envelope").unwrap();
        assert_eq!(
            EventEnvelope::decode(envelope.as_slice()).unwrap().sequence,
            sequence as u64
        );
        per_stream
            .entry(r.try_get("", "stream").unwrap())
            .or_default()
            .push(sequence);
    }
    assert_eq!(rows.len(), 16 * 21, "rolled-back appends left no row");
    for (stream, mut seqs) in per_stream {
        seqs.sort_unstable();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(
            seqs, expected,
            "stream {stream} is gapless, each sequence once"
        );
    }
}

#[tokio::test]
async fn sequences_gapless_under_concurrent_appends_sqlite() {
    sequences_gapless_under_concurrent_appends(false).await;
}

#[tokio::test]
async fn sequences_gapless_under_concurrent_appends_postgres() {
    sequences_gapless_under_concurrent_appends(true).await;
}

// ---- issue 11.2: one active relay per schema, takeover ----

/// A broker that takes a while to confirm, unevenly: relays publishing side by side would
/// overtake one another.
struct SlowBus {
    inner: InMemoryBus,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl EventBus for SlowBus {
    async fn declare(&self, q: &QueueSpec) -> Result<(), cplds_runtime::bus::BusError> {
        self.inner.declare(q).await
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), cplds_runtime::bus::BusError> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(if n.is_multiple_of(2) {
            15
        } else {
            1
        }))
        .await;
        self.inner.publish(messages).await
    }

    async fn subscribe(
        &self,
        q: &QueueSpec,
    ) -> Result<cplds_runtime::bus::Subscription, cplds_runtime::bus::BusError> {
        self.inner.subscribe(q).await
    }

    fn kind(&self) -> &'static str {
        "slow-memory"
    }
}

/// What a spy queue received: per stream, (sequence, event id) in arrival order.
async fn spy_drain(
    sub: &mut cplds_runtime::bus::Subscription,
    into: &mut HashMap<i32, Vec<(u64, String)>>,
) {
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        into.entry(e.stream)
            .or_default()
            .push((e.sequence, e.event_id.clone()));
        d.ack().await.unwrap();
    }
}

/// Each stream reached the spy in sequence order: first arrivals are 1, 2, 3... and a repeat is
/// always the same event again (a duplicate after a takeover), never another event.
fn assert_in_order(received: &HashMap<i32, Vec<(u64, String)>>, expected: &HashMap<i32, usize>) {
    for (stream, total) in expected {
        let got = received.get(stream).cloned().unwrap_or_default();
        let mut next = 1u64;
        let mut ids: HashMap<u64, String> = HashMap::new();
        for (sequence, id) in got {
            if let Some(known) = ids.get(&sequence) {
                assert_eq!(
                    known, &id,
                    "sequence {sequence} carried two different events"
                );
                continue;
            }
            assert_eq!(
                sequence, next,
                "stream {stream}: first arrivals out of order"
            );
            ids.insert(sequence, id);
            next += 1;
        }
        assert_eq!(
            next - 1,
            *total as u64,
            "stream {stream}: every event arrived"
        );
    }
}

#[tokio::test]
async fn two_relays_publish_in_order_and_one_takes_over() {
    cplds_runtime::telemetry::init_for_tests();
    let Some((_pg, target)) = postgres("two relays on one schema").await else {
        return;
    };
    let writer = db::open::<Migrator>(&target).await.unwrap();
    let bus = InMemoryBus::new();
    let spy = queue_of_both_streams("toulouse.spy", "#");
    bus.declare(&spy).await.unwrap();
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    const EVENTS: i32 = 400;
    // A backlog waits when the replicas start, so both would find work at once.
    for n in 0..EVENTS / 2 {
        let txn = writer.begin().await.unwrap();
        outbox.append(&txn, payload(8000 + n)).await.unwrap();
        txn.commit().await.unwrap();
    }
    let mut expected: HashMap<i32, usize> = HashMap::new();
    for n in 0..EVENTS / 2 {
        *expected
            .entry(payload(8000 + n).stream() as i32)
            .or_default() += 1;
    }
    let slow: SharedBus = Arc::new(SlowBus {
        inner: bus.clone(),
        calls: Default::default(),
    });
    // Two replicas: their own pools and relays on the one schema.
    let stop = CancellationToken::new();
    let mut relays = Vec::new();
    for _ in 0..2 {
        let conn = db::connect(&target).await.unwrap();
        let relay = Arc::new(OutboxRelay::new(
            conn,
            slow.clone(),
            outbox.clone(),
            fast_relay(),
        ));
        let task = tokio::spawn(OutboxRelay::run_shared(
            relay.clone(),
            stop.clone(),
            Duration::from_secs(5),
        ));
        relays.push((relay, task));
    }
    let active = wait_for(WAIT, "one relay active", || {
        let roles: Vec<RelayRole> = relays.iter().map(|(r, _)| r.role()).collect();
        async move {
            let active = roles.iter().filter(|r| **r == RelayRole::Active).count();
            let standby = roles.iter().filter(|r| **r == RelayRole::Standby).count();
            (active == 1 && standby == 1)
                .then(|| roles.iter().position(|r| *r == RelayRole::Active).unwrap())
        }
    })
    .await;

    let mut sub = bus.subscribe(&spy).await.unwrap();
    let mut received = HashMap::new();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (conn, outbox) = (writer.clone(), outbox.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..EVENTS / 16 {
                let txn = conn.begin().await.unwrap();
                outbox.append(&txn, payload(w * 1000 + n)).await.unwrap();
                txn.commit().await.unwrap();
                outbox.wake();
            }
        }));
    }
    for w in 0..8 {
        for n in 0..EVENTS / 16 {
            *expected
                .entry(payload(w * 1000 + n).stream() as i32)
                .or_default() += 1;
        }
    }
    // Kill the active relay mid-stream: its task and its connections go, as in a crash.
    wait_for(WAIT, "some events published", || {
        let writer = writer.clone();
        async move { (published_count(&writer).await.unwrap() > 60).then_some(()) }
    })
    .await;
    let (dead, task) = relays.remove(active);
    task.abort();
    let _ = task.await;
    drop(dead);
    let (survivor, survivor_task) = relays.remove(0);
    for w in writers {
        w.await.unwrap();
    }
    wait_for(
        WAIT,
        "the standby takes over and publishes everything",
        || {
            let writer = writer.clone();
            let role = survivor.role();
            async move {
                (role == RelayRole::Active && pending_count(&writer).await.unwrap() == 0)
                    .then_some(())
            }
        },
    )
    .await;
    spy_drain(&mut sub, &mut received).await;
    assert_in_order(&received, &expected);
    stop.cancel();
    survivor_task.await.unwrap();
}

// ---- issue 11.3: unroutable events wait ----

async fn unroutable_event_waits_until_its_queue_exists(bus: SharedBus) {
    let Some((conn, _guard)) = open_db(false).await else {
        return;
    };
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    let relay = Arc::new(OutboxRelay::new(
        conn.clone(),
        bus.clone(),
        outbox.clone(),
        fast_relay(),
    ));
    // This node's examination consumes the registration's internal events; its queue is gone.
    relay.expect([Binding::new(Stream::Internal, "toulouse.registration.#")]);
    let stop = CancellationToken::new();
    let task = tokio::spawn(OutboxRelay::run_shared(
        relay.clone(),
        stop.clone(),
        Duration::from_secs(5),
    ));
    let txn = conn.begin().await.unwrap();
    let national = outbox.append(&txn, payload(1)).await.unwrap();
    let internal = outbox.append(&txn, payload(2)).await.unwrap();
    txn.commit().await.unwrap();
    outbox.wake();
    let published = |id: String| {
        let conn = conn.clone();
        async move {
            count(
                &conn,
                &format!(
                    "SELECT COUNT(*) FROM outbox o JOIN outbox_sequence s ON s.stream = o.stream \
                     WHERE o.event_id = '{id}' AND o.sequence <= s.published_through"
                ),
            )
            .await
                == 1
        }
    };
    wait_for(WAIT, "sequences assigned", || {
        let conn = conn.clone();
        async move {
            (count(&conn, "SELECT COUNT(*) FROM outbox WHERE sequence IS NULL").await == 0)
                .then_some(())
        }
    })
    .await;
    // Retries happen meanwhile; absence can only be checked by waiting a little.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !published(national.event_id.clone()).await,
        "a national event no queue receives is not counted as sent"
    );
    assert!(
        !published(internal.event_id.clone()).await,
        "nor an internal one whose consumer's queue is missing"
    );
    let federation = QueueSpec::new(
        "federation.national",
        vec![Binding::new(Stream::National, "#")],
    );
    let examination = QueueSpec::new(
        "toulouse.examination",
        vec![Binding::new(Stream::Internal, "toulouse.registration.#")],
    );
    bus.declare(&federation).await.unwrap();
    bus.declare(&examination).await.unwrap();
    for (queue, event) in [(&federation, &national), (&examination, &internal)] {
        wait_for(WAIT, "published once its queue exists", || {
            let done = published(event.event_id.clone());
            async move { done.await.then_some(()) }
        })
        .await;
        let mut sub = bus.subscribe(queue).await.unwrap();
        let d = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.message_id, event.event_id);
        d.ack().await.unwrap();
    }
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn unroutable_event_waits_in_process() {
    unroutable_event_waits_until_its_queue_exists(Arc::new(InMemoryBus::new())).await;
}

#[tokio::test]
async fn unroutable_event_waits_on_rabbitmq() {
    let Some(base) = server_url(AMQP_ENV, "unroutable on RabbitMQ") else {
        return;
    };
    let vhost = TestVhost::create(&base).unwrap();
    let bus = AmqpBus::connect(
        &vhost.url,
        "unroutable-test",
        QueueType::Quorum,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    unroutable_event_waits_until_its_queue_exists(Arc::new(bus)).await;
}

/// An internal event no consumer of the node wants is sent (to no one) and does not hold back
/// the stream behind it.
#[tokio::test]
async fn internal_event_nobody_consumes_does_not_block_its_stream() {
    let Some((conn, _guard)) = open_db(false).await else {
        return;
    };
    let bus = InMemoryBus::new();
    let q = QueueSpec::new(
        "toulouse.examination",
        vec![Binding::new(
            Stream::Internal,
            "toulouse.registration.candidacy_submitted",
        )],
    );
    bus.declare(&q).await.unwrap();
    let outbox = Outbox::new("toulouse", "registration", clock::system());
    let relay = OutboxRelay::new(
        conn.clone(),
        Arc::new(bus.clone()),
        outbox.clone(),
        fast_relay(),
    );
    relay.expect(q.bindings.clone());
    let txn = conn.begin().await.unwrap();
    // campaign_opened: nobody's; then one the examination consumes.
    outbox.append(&txn, payload(2)).await.unwrap();
    let wanted = outbox
        .append(
            &txn,
            cplds_runtime::events::Payload::CandidacySubmitted(Default::default()),
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    relay.drain().await.unwrap();
    assert_eq!(pending_count(&conn).await.unwrap(), 0);
    let mut sub = bus.subscribe(&q).await.unwrap();
    let d = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.message_id, wanted.event_id);
}

// ---- issue 11.1: a database outage spends no delivery budget ----

#[tokio::test]
async fn consumer_rides_out_its_database_outage() {
    cplds_runtime::telemetry::init_for_tests();
    let Some((_pg, target)) = postgres("consumer database outage").await else {
        return;
    };
    let direct = db::open::<Migrator>(&target).await.unwrap();
    let DbTarget::Postgres { url, schema } = &target else {
        unreachable!()
    };
    let upstream = tokio::net::lookup_host("127.0.0.1:5432")
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = CuttableProxy::start(upstream).await.unwrap();
    let mut opts = ConnectOptions::new(with_authority(url, proxy.addr));
    // Fail fast while the database is away, as a pool in production would after its timeout.
    opts.set_schema_search_path(schema.as_str())
        .max_connections(4)
        .acquire_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .sqlx_logging(false);
    let through_proxy = Database::connect(opts).await.unwrap();
    let bus = InMemoryBus::new();
    let queue = QueueSpec::new("toulouse.outage", vec![Binding::new(Stream::Internal, "#")]);
    bus.declare(&queue).await.unwrap();
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(inbox::run(
        through_proxy,
        Arc::new(bus.clone()),
        Consumer {
            name: "outage".into(),
            queue: queue.clone(),
            handler: Arc::new(Recorder),
        },
        clock::system(),
        stop.clone(),
        inbox::ConsumerOptions {
            config: InboxConfig {
                retry_first_ms: 50,
                retry_cap_ms: 400,
                poison_attempts: 5,
            },
            ..Default::default()
        },
    ));
    let publish = |n: i32| common::campaign_message(2 * n);
    let applied = |n: i64| {
        let direct = direct.clone();
        move || {
            let direct = direct.clone();
            async move { (count(&direct, "SELECT COUNT(*) FROM effects").await >= n).then_some(()) }
        }
    };
    bus.publish(&(1..=5).map(publish).collect::<Vec<_>>())
        .await
        .unwrap();
    wait_for(WAIT, "applied before the outage", applied(5)).await;
    // The database goes away for longer than the old requeue loop's budget (20 deliveries).
    proxy.set_refusing(true);
    proxy.cut();
    // One event meets the outage (alone, it would get the old requeue loop's whole budget).
    bus.publish(&[publish(6)]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    proxy.set_refusing(false);
    bus.publish(&(7..=10).map(publish).collect::<Vec<_>>())
        .await
        .unwrap();
    wait_for(WAIT, "applied after the outage", applied(10)).await;
    assert_eq!(count(&direct, "SELECT COUNT(*) FROM effects").await, 10);
    assert_eq!(count(&direct, "SELECT COUNT(*) FROM dead_letters").await, 0);
    assert_eq!(
        bus.ready_count("toulouse.outage.dead"),
        0,
        "nothing dead-lettered"
    );
    stop.cancel();
    consumer.await.unwrap();
}

// ---- issue 11.8: migrations ----

/// Replicas starting at once on a fresh schema all migrate it, one after the other.
#[tokio::test]
async fn concurrent_starts_migrate_a_fresh_schema() {
    let Some((_pg, target)) = postgres("concurrent migrations").await else {
        return;
    };
    let mut starts = Vec::new();
    for _ in 0..4 {
        let target = target.clone();
        starts.push(tokio::spawn(
            async move { db::open::<Migrator>(&target).await },
        ));
    }
    for s in starts {
        s.await.unwrap().expect("every replica starts");
    }
    let conn = db::connect(&target).await.unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM seaql_migrations").await,
        2
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM cplds_runtime_migrations").await,
        3,
        "the runtime's own migrations: outbox/inbox/dead letters, the quarantine, the watermark"
    );
}

mod failing {
    use sea_orm_migration::prelude::*;

    use super::common;

    /// A migration that creates a table, then fails (a bug, a crash): or, fixed, succeeds.
    pub struct Halfway {
        pub fail: bool,
    }

    impl MigrationName for Halfway {
        fn name(&self) -> &str {
            "m20261202_000001_halfway"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Halfway {
        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            m.create_table(
                Table::create()
                    .table(Alias::new("halfway"))
                    .col(ColumnDef::new(Alias::new("id")).integer().not_null())
                    .to_owned(),
            )
            .await?;
            if self.fail {
                return Err(DbErr::Custom("the second step failed".into()));
            }
            Ok(())
        }

        async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
            Ok(())
        }
    }

    pub struct Broken;
    pub struct Fixed;

    impl MigratorTrait for Broken {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            let mut m = common::Migrator::migrations();
            m.push(Box::new(Halfway { fail: true }));
            m
        }
    }

    impl MigratorTrait for Fixed {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            let mut m = common::Migrator::migrations();
            m.push(Box::new(Halfway { fail: false }));
            m
        }
    }
}

/// On SQLite, a migration that fails midway leaves the database as it was before it, and the
/// next start (with the migration fixed) succeeds.
#[tokio::test]
async fn failed_migration_leaves_sqlite_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let target = DbTarget::Sqlite {
        path: dir.path().join("svc.sqlite"),
    };
    let err = db::open::<failing::Broken>(&target).await.unwrap_err();
    assert!(format!("{err:#}").contains("the second step failed"));
    let conn = db::connect(&target).await.unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'halfway'"
        )
        .await,
        0,
        "the failed migration's first step was rolled back"
    );
    drop(conn);
    let conn = db::open::<failing::Fixed>(&target).await.unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM halfway").await, 0);
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM seaql_migrations").await,
        3
    );
}

// ---- issue 11.9: retention ----

async fn retention_prunes_what_it_may(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    let now = chrono::Utc::now();
    let days = |d: i64| now - chrono::Duration::days(d);
    let backend = conn.get_database_backend();
    // (stream, sequence, written days ago); each stream is published through sequence 3.
    let rows: [(&str, Option<i64>, i64); 9] = [
        ("internal", Some(1), 40),
        ("internal", Some(2), 35),
        ("internal", Some(3), 10),
        ("internal", Some(4), 45),
        ("internal", None, 50),
        ("national", Some(1), 500),
        ("national", Some(2), 450),
        ("national", Some(3), 40),
        ("national", Some(4), 420),
    ];
    for (i, (stream, sequence, age)) in rows.iter().enumerate() {
        conn.execute_raw(stmt(
            backend,
            "INSERT INTO outbox (event_id, stream, sequence, routing_key, event_type, envelope, created_at) \
             VALUES (?, ?, ?, 'k', 't', ?, ?)",
            vec![
                format!("e{i}").into(),
                (*stream).into(),
                (*sequence).into(),
                vec![0u8].into(),
                days(*age).into(),
            ],
        ))
        .await
        .unwrap();
    }
    conn.execute_unprepared(
        "INSERT INTO outbox_sequence (stream, last_sequence, published_through) \
         VALUES ('internal', 4, 3), ('national', 4, 3)",
    )
    .await
    .unwrap();
    for (id, age) in [("old", 40), ("recent", 2)] {
        conn.execute_raw(stmt(
            backend,
            "INSERT INTO inbox (consumer, event_id, applied_at) VALUES ('c', ?, ?)",
            vec![id.into(), days(age).into()],
        ))
        .await
        .unwrap();
    }
    let config = RetentionConfig {
        batch: 1,
        ..Default::default()
    };
    let pruned = cplds_runtime::retention::prune(&conn, &config, now)
        .await
        .unwrap();
    let left = |sql: &'static str| count(&conn, sql);
    assert_eq!(
        left("SELECT COUNT(*) FROM outbox WHERE stream = 'internal'").await,
        3,
        "internal rows published and written over 30 days ago are gone; recent, numbered and \
         unpublished, and unnumbered ones stay"
    );
    assert_eq!(
        left("SELECT COUNT(*) FROM outbox WHERE event_id IN ('e2', 'e3', 'e4', 'e7', 'e8')").await,
        5,
        "national rows are kept 400 days, and unpublished ones always"
    );
    assert_eq!(left("SELECT COUNT(*) FROM inbox").await, 1);
    assert_eq!((pruned.outbox, pruned.inbox), (4, 1));
    // Forever, when asked.
    let keep = RetentionConfig {
        internal_outbox_days: 0,
        national_outbox_days: 0,
        inbox_days: 0,
        ..Default::default()
    };
    let again = cplds_runtime::retention::prune(&conn, &keep, days(-3650))
        .await
        .unwrap();
    assert_eq!((again.outbox, again.inbox), (0, 0));
}

#[tokio::test]
async fn retention_prunes_what_it_may_sqlite() {
    retention_prunes_what_it_may(false).await;
}

#[tokio::test]
async fn retention_prunes_what_it_may_postgres() {
    retention_prunes_what_it_may(true).await;
}

// ---- a broker that stops answering ----

/// A broker that completes the handshake and then says nothing (a hung node, a half-open path)
/// must not stall the relay's publish, which holds the publishing channel, nor a consumer's
/// reconnection, forever: both give up after the bus timeout and try again, so the stream moves
/// on once the broker answers.
#[tokio::test]
async fn a_silent_broker_stalls_neither_publish_nor_consumer() {
    let Some(base) = server_url(AMQP_ENV, "silent broker") else {
        return;
    };
    let vhost = TestVhost::create(&base).unwrap();
    let authority = base.rsplit_once('@').map_or(base.as_str(), |(_, a)| a);
    let host_port = authority
        .trim_start_matches("amqp://")
        .split('/')
        .next()
        .unwrap();
    let broker = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = CuttableProxy::start(broker).await.unwrap();
    let url = with_authority(&vhost.url, proxy.addr);
    let bus = AmqpBus::connect(
        &url,
        "silent-test",
        QueueType::Quorum,
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    let queue = QueueSpec::new("toulouse.silent", vec![Binding::new(Stream::Internal, "#")]);
    bus.declare(&queue).await.unwrap();
    let mut sub = bus.subscribe(&queue).await.unwrap();
    let message = |id: &str| Message {
        stream: Stream::Internal,
        routing_key: "toulouse.registration.submitted".into(),
        message_id: id.into(),
        event_type: "submitted".into(),
        body: b"x".to_vec(),
        headers: Default::default(),
    };

    // Connection.Start, Connection.Tune and Connection.OpenOk pass; nothing after.
    proxy.set_answering_frames(Some(3));
    proxy.cut();
    let publish = tokio::time::timeout(WAIT, bus.publish(&[message("m1")])).await;
    eprintln!("PUBLISH {publish:?}");
    let publish = tokio::time::timeout(WAIT, bus.publish(&[message("m1")])).await;
    eprintln!("PUBLISH2 {publish:?}");
    assert!(
        matches!(publish, Ok(Err(BusError::Unavailable(_)))),
        "the publish fails as unavailable instead of hanging: {publish:?}"
    );

    // The broker answers again: the publish goes through and the consumer, which reconnected
    // into the silence meanwhile, gets the message.
    proxy.set_answering_frames(None);
    bus.publish(&[message("m2")]).await.unwrap();
    let delivery = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("the consumer recovered from the silent broker")
        .unwrap();
    assert_eq!(delivery.message_id, "m2");
    delivery.ack().await.unwrap();
}
