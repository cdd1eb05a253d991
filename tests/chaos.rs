//! The chaos suite (issue 11): each case drives a stream of 10 000 events through the real
//! runtime on the local PostgreSQL and RabbitMQ (a database and a vhost of its own), injects its
//! fault, waits for convergence and prints one line of the table (also appended to
//! `chaos-table.txt` in the target's test directory); then asserts 0 lost, 0 applied twice, 0 out
//! of order, 0 valid events dead-lettered.
//!
//! Runtime cases: the service's events are appended with `Outbox::append` (100 per transaction),
//! published by the real `OutboxRelay` with confirms on the real `AmqpBus` (quorum queues, the
//! 20-delivery limit), applied by the real inbox runner (`inbox::run`); a spy queue bound to
//! `#` checks each stream's order on the exchange, and the consumer's `effects` rows (one per
//! application, in apply order, no unique key) show duplicates and the apply order.
//! National cases (`chaos/national.rs`): académie nodes and the national node of the real host,
//! on PostgreSQL and one vhost. The embedded case runs the embedded node in a child process.
//!
//! Switched on like the other real-server tests (`CPLDS_TEST_POSTGRES_URL`,
//! `CPLDS_TEST_AMQP_URL`); skipped with a note otherwise. Case 9 needs neither server and always
//! runs. `--test-threads 1 --nocapture` gives one table with each case's own timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "chaos/common.rs"]
mod common;
#[path = "chaos/harness.rs"]
mod harness;
#[path = "chaos/national.rs"]
mod national;
#[path = "chaos/processes.rs"]
mod processes;

use std::time::{Duration, Instant};

use cplds_runtime::testing::CuttableProxy;
use harness::{EVENTS, Pipeline, server_addr};
use sea_orm::{ConnectionTrait, TransactionTrait};

/// (1) The consumer's database is unreachable for 10 s mid-stream (a proxy in front of
/// PostgreSQL refuses and cuts every connection of the consumer's pool; other databases are
/// untouched): 25 retries at the suite's 400 ms cap, more than the 20 deliveries a requeue loop
/// would have spent before dead-lettering. The consumer pauses without spending its budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_1_consumer_database_outage() {
    let Some(mut p) = Pipeline::new("chaos: consumer database outage").await else {
        return;
    };
    p.start_spy().await;
    p.declare_queue().await;
    let proxy = CuttableProxy::start(server_addr(&p.pg.url).await)
        .await
        .unwrap();
    let bus = p.bus("chaos-relay", None).await;
    p.spawn_relay(bus).await;
    let pool = p.consumer_pool(Some(proxy.addr)).await;
    let bus = p.bus("chaos-consumer", None).await;
    p.spawn_consumer(pool, bus);
    let writer = p.spawn_writer(Duration::from_millis(20));
    p.until("a third applied", Duration::from_secs(120), async || {
        p.applied().await >= EVENTS / 3
    })
    .await;
    proxy.set_refusing(true);
    proxy.cut();
    let during = p.applied().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        p.applied().await <= during + common::BATCH * 2,
        "the outage held the consumer back"
    );
    proxy.set_refusing(false);
    let healed = Instant::now();
    writer.await.unwrap();
    p.finish("1 consumer db outage 10s", healed)
        .await
        .report_and_check();
}

/// (3) Two consumers (replicas, each with its own pool and broker connection) on one
/// single-active-consumer queue; each loses its broker connection once mid-stream (a proxy cuts
/// it and refuses for 2 s), so deliveries in flight go to the other replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_3_two_consumers_per_queue() {
    let Some(mut p) = Pipeline::new("chaos: two consumers per queue").await else {
        return;
    };
    p.start_spy().await;
    p.declare_queue().await;
    let broker = server_addr(&p.amqp_base).await;
    let bus = p.bus("chaos-relay", None).await;
    p.spawn_relay(bus).await;
    let mut proxies = Vec::new();
    for replica in ["a", "b"] {
        let proxy = CuttableProxy::start(broker).await.unwrap();
        let bus = p
            .bus(&format!("chaos-consumer-{replica}"), Some(proxy.addr))
            .await;
        let pool = p.consumer_pool(None).await;
        p.spawn_consumer(pool, bus);
        proxies.push(proxy);
    }
    let writer = p.spawn_writer(Duration::from_millis(20));
    for (i, proxy) in proxies.iter().enumerate() {
        let at = EVENTS * (i as i64 + 1) / 3;
        p.until(
            "the next cut's point",
            Duration::from_secs(120),
            async || p.applied().await >= at,
        )
        .await;
        proxy.set_refusing(true);
        proxy.cut();
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.set_refusing(false);
    }
    let healed = Instant::now();
    writer.await.unwrap();
    p.finish("3 two consumers per queue", healed)
        .await
        .report_and_check();
}

/// (4) The stream is written and the relay runs before the consumer's queue exists (a first
/// rollout): every publish is returned (mandatory) and waits in the outbox; once the queue is
/// declared (with the spy), everything flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_4_publish_before_the_queue_exists() {
    let Some(mut p) = Pipeline::new("chaos: publish before the queue exists").await else {
        return;
    };
    let bus = p.bus("chaos-relay", None).await;
    let relay = p.spawn_relay(bus).await;
    let writer = p.spawn_writer(Duration::ZERO);
    writer.await.unwrap();
    // The relay numbers rows before it publishes them: once all are numbered, it has tried.
    p.until(
        "every row numbered and tried",
        Duration::from_secs(60),
        async || {
            common::count(
                &p.producer,
                "SELECT COUNT(*) FROM outbox WHERE sequence IS NULL",
            )
            .await
            .unwrap()
                == 0
                && relay.role() == cplds_runtime::outbox::RelayRole::Active
        },
    )
    .await;
    let returned_before = p.published().await;
    assert_eq!(
        returned_before, 0,
        "nothing counted as sent while no queue takes it"
    );
    // Both queues must appear at once for the relay: a publish between the spy's declaration and
    // the consumer's would reach the spy alone, be confirmed, and never reach the consumer (a
    // harness race, seen once in CI). The relay is held on a lock of the outbox meanwhile.
    let hold = p.producer.begin().await.unwrap();
    hold.execute_unprepared("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    p.until(
        "the relay waiting on the outbox",
        Duration::from_secs(60),
        async || {
            common::count(
                &p.producer,
                "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
            .unwrap()
                > 0
        },
    )
    .await;
    p.start_spy().await;
    p.declare_queue().await;
    hold.commit().await.unwrap();
    let healed = Instant::now();
    let pool = p.consumer_pool(None).await;
    let bus = p.bus("chaos-consumer", None).await;
    p.spawn_consumer(pool, bus);
    p.finish("4 publish before queue", healed)
        .await
        .report_and_check();
}

/// (5) The broker link is cut three times mid-stream: a proxy in front of RabbitMQ (the shared
/// broker is not restarted) drops every connection of the relay and the consumer and refuses new
/// ones for 1.5 s. Publishes in flight are unconfirmed and sent again; deliveries in flight are
/// redelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_5_broker_connections_cut() {
    let Some(mut p) = Pipeline::new("chaos: broker connections cut").await else {
        return;
    };
    p.start_spy().await;
    p.declare_queue().await;
    let proxy = CuttableProxy::start(server_addr(&p.amqp_base).await)
        .await
        .unwrap();
    let bus = p.bus("chaos-relay", Some(proxy.addr)).await;
    p.spawn_relay(bus).await;
    let pool = p.consumer_pool(None).await;
    let bus = p.bus("chaos-consumer", Some(proxy.addr)).await;
    p.spawn_consumer(pool, bus);
    let writer = p.spawn_writer(Duration::from_millis(20));
    for quarter in 1..=3 {
        p.until(
            "the next cut's point",
            Duration::from_secs(120),
            async || p.published().await >= EVENTS * quarter / 4,
        )
        .await;
        proxy.set_refusing(true);
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.set_refusing(false);
    }
    let healed = Instant::now();
    writer.await.unwrap();
    p.finish("5 broker connections cut x3", healed)
        .await
        .report_and_check();
}

/// (2) Two relays per stream, each a child process (`chaos-child relay`: the real relay and
/// lease); the active one is killed with SIGKILL mid-batch, twice (a fresh replica replaces each
/// killed one, so two relays run throughout). The standby takes the lease over when the dead
/// one's connection drops; an overlap can only publish a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_2_relay_killed_mid_batch() {
    let Some(p) = Pipeline::new("chaos: relay killed mid-batch").await else {
        return;
    };
    processes::relay_killed_mid_batch(p).await;
}

/// (9) The embedded node (SQLite, the durable in-process bus) in a child process, killed with
/// SIGKILL twice mid-stream and restarted on the same data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_9_embedded_node_killed() {
    let Some(line) = processes::embedded_node_killed().await else {
        return;
    };
    line.report_and_check();
}

/// (6) The national node down while the académie keeps writing; facts lost on the way whose
/// history the académie pruned: a gap nobody can fill (GAP_UNFILLABLE), the rest waits; the
/// operator restores the facts and everything applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_6_national_down_then_unfillable_gap() {
    let Some(line) = national::national_down_then_unfillable_gap().await else {
        return;
    };
    line.report_and_check();
}

/// (7) Facts whose payload this national build does not know (an académie upgraded first): kept,
/// the later facts apply, none dead-lettered; applied after the national node's "upgrade".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_7_unknown_payloads_from_a_newer_academie() {
    let Some(line) = national::unknown_payloads().await else {
        return;
    };
    line.report_and_check();
}

/// (8) The académie's schema restored from a backup: sequences reissued with other events
/// (SEQUENCE_REUSED, nothing overwritten); `ResetSource` then converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_8_restored_academie_schema() {
    let Some(line) = national::restored_schema().await else {
        return;
    };
    line.report_and_check();
}
