//! The embedded node (SQLite files, the in-process bus in `<data_dir>/bus.sqlite`) killed in the
//! middle of a stream — its runtime dropped, no graceful shutdown — loses nothing: after a
//! restart on the same data directory every event written is applied, once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use common::{Migrator, Recorder, count, payload};
use cplds_runtime::{
    bus::{Binding, QueueSpec, Stream},
    clock,
    config::{Config, OutboxConfig, QueueType},
    db::{self, DbTarget, stmt},
    host::{self, Mount, NodeSpec, Schema, ServiceContext, ServiceModule},
    inbox::Consumer,
    outbox::Outbox,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use tokio_util::sync::CancellationToken;

const EVENTS: i64 = 300;

/// Writes EVENTS events, one transaction each, resuming after what it already wrote; consumes
/// them itself, recording each application.
struct Stream300;

/// Applies more slowly than events are written, so a backlog waits in the bus at the crash.
struct Slow;

#[async_trait]
impl cplds_runtime::inbox::EventHandler for Slow {
    async fn handle(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        event: &cplds_runtime::events::EventEnvelope,
    ) -> Result<(), cplds_runtime::inbox::HandleError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Recorder.handle(txn, event).await
    }
}

async fn produce(db: DatabaseConnection, outbox: Outbox, stop: CancellationToken) {
    let backend = db.get_database_backend();
    let written = count(&db, "SELECT COUNT(*) FROM produced").await;
    for n in written..EVENTS {
        if stop.is_cancelled() {
            return;
        }
        let txn = db.begin().await.unwrap();
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO produced (n) VALUES (?)",
            vec![n.into()],
        ))
        .await
        .unwrap();
        outbox.append(&txn, payload(2 * n as i32)).await.unwrap();
        txn.commit().await.unwrap();
        outbox.wake();
        if n % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[async_trait]
impl ServiceModule for Stream300 {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>("registration")
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        self.schema().migrate(db).await?;
        db.execute_unprepared("CREATE TABLE IF NOT EXISTS produced (n BIGINT PRIMARY KEY)")
            .await
            .map(|_| ())
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        mount.consume(Consumer {
            name: "self".into(),
            queue: QueueSpec::new(
                "toulouse.self",
                vec![Binding::new(Stream::Internal, "toulouse.registration.#")],
            ),
            handler: Arc::new(Slow),
        });
        mount.job(Box::pin(produce(
            ctx.db.clone(),
            ctx.outbox.clone(),
            ctx.shutdown.clone(),
        )));
        Ok(())
    }
}

fn config(data_dir: &Path) -> Config {
    Config {
        academy: Some("toulouse".into()),
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: data_dir.to_path_buf(),
        amqp_queue_type: QueueType::Classic,
        outbox: OutboxConfig {
            poll_interval_ms: 50,
            batch_size: 16,
            heartbeat_interval_ms: 0,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Starts the node on its own runtime; returns the runtime (dropping it is the crash).
fn start_node(data_dir: &Path) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = config(data_dir);
    rt.block_on(async move {
        cplds_runtime::install_crypto_provider();
        let bus = cplds_runtime::bus::connect(&config, "crash-test")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let node = host::start(NodeSpec {
            config,
            node: cplds_runtime::node::Node::parse("toulouse").unwrap(),
            modules: vec![Arc::new(Stream300)],
            peers: Vec::new(),
            bus,
            clock: clock::system(),
            listener: Some(listener),
            tls: None,
        })
        .await
        .unwrap();
        // Kept running by the runtime; never shut down gracefully.
        std::mem::forget(node);
    });
    rt
}

/// Counts through a connection of its own (the node's SQLite file, read beside it).
fn effects(data_dir: &Path) -> (i64, i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = db::connect(&DbTarget::Sqlite {
            path: data_dir.join("toulouse").join("registration.sqlite"),
        })
        .await
        .unwrap();
        let counts = (
            count(&conn, "SELECT COUNT(DISTINCT event_id) FROM effects").await,
            count(&conn, "SELECT COUNT(*) FROM effects").await,
        );
        conn.close().await.unwrap();
        counts
    })
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killed_mid_stream_the_embedded_node_loses_nothing() {
    cplds_runtime::telemetry::init_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let first = start_node(dir.path());
    wait_until("some events applied", || effects(dir.path()).0 >= 40);
    // The crash: every task dropped where it stands, nothing flushed.
    first.shutdown_timeout(Duration::ZERO);
    let (applied_before, _) = effects(dir.path());
    assert!(applied_before < EVENTS, "killed mid-stream");
    let second = start_node(dir.path());
    wait_until("every event applied after the restart", || {
        effects(dir.path()).0 == EVENTS
    });
    // Give a straggling duplicate the chance to show before counting rows.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(effects(dir.path()), (EVENTS, EVENTS), "each applied once");
    second.shutdown_timeout(Duration::from_secs(1));
}
