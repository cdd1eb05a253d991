//! One process per service, first rollout: the producing service starts before the service that
//! consumes its internal events. Its node declares the consumer's queue (the peer's `queue`) and
//! publishes into it, so when the consumer starts later it applies every event, none lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use common::{Migrator, Recorder, count, payload};
use cplds_runtime::{
    academy::Academy,
    bus::{Binding, QueueSpec, SharedBus, Stream, memory::InMemoryBus},
    clock,
    config::{Config, OutboxConfig},
    host::{self, Mount, NodeSpec, RunningNode, Schema, ServiceContext, ServiceModule},
    inbox::Consumer,
    kit::ServiceCore,
    node::Node,
    outbox::published_count,
    testing::wait_for,
};

const EVENTS: i32 = 50;

/// Publishes EVENTS internal events as soon as it is mounted.
struct Producer;

/// Consumes the producer's internal events, recording each application.
struct Peer;

#[async_trait]
impl ServiceModule for Producer {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>("registration")
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let core = ServiceCore::new(ctx);
        mount.job(Box::pin(async move {
            for n in 0..EVENTS {
                let mut uow = core.begin().await.unwrap();
                uow.emit([payload(2 * n)]).await.unwrap();
                uow.commit().await.unwrap();
            }
        }));
        Ok(())
    }
}

fn peer_queue() -> QueueSpec {
    QueueSpec::new(
        "toulouse.examination",
        vec![Binding::new(Stream::Internal, "toulouse.registration.#")],
    )
}

#[async_trait]
impl ServiceModule for Peer {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>("examination")
    }

    fn mount(&self, _ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        mount.consume(Consumer {
            name: "examination".into(),
            queue: peer_queue(),
            handler: Arc::new(Recorder),
        });
        Ok(())
    }

    fn queue(&self, _academy: &'static Academy) -> Option<QueueSpec> {
        Some(peer_queue())
    }
}

async fn start(
    dir: &Path,
    bus: SharedBus,
    modules: Vec<Arc<dyn ServiceModule>>,
    peers: Vec<Arc<dyn ServiceModule>>,
) -> RunningNode {
    let mut config = Config {
        academy: Some("toulouse".into()),
        data_dir: dir.to_path_buf(),
        outbox: OutboxConfig {
            poll_interval_ms: 50,
            heartbeat_interval_ms: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    // Each process holds its own service's key and trusts the others' (as `cplds event-keys`
    // files would make it): the process's federation key set.
    cplds_runtime::event_signing::FederationKeys::shared()
        .configure(&mut config, "toulouse")
        .unwrap();
    host::start(NodeSpec {
        config,
        node: Node::parse("toulouse").unwrap(),
        modules,
        peers,
        bus,
        clock: clock::system(),
        listener: Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
        tls: None,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_consumer_started_after_its_producer_misses_nothing() {
    cplds_runtime::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let bus: SharedBus = Arc::new(InMemoryBus::new());

    // The registration process alone, knowing examination runs elsewhere.
    let producer = start(
        &dir.path().join("registration"),
        bus.clone(),
        vec![Arc::new(Producer)],
        vec![Arc::new(Peer)],
    )
    .await;
    let db = producer.databases["registration"].clone();
    wait_for(Duration::from_secs(20), "every event published", || {
        let db = db.clone();
        async move { (published_count(&db).await.unwrap() == i64::from(EVENTS)).then_some(()) }
    })
    .await;

    // Examination's process starts now, and finds every event waiting in its queue.
    let consumer = start(
        &dir.path().join("examination"),
        bus.clone(),
        vec![Arc::new(Peer)],
        vec![Arc::new(Producer)],
    )
    .await;
    let applied = consumer.databases["examination"].clone();
    wait_for(Duration::from_secs(20), "every event applied", || {
        let db = applied.clone();
        async move {
            (count(&db, "SELECT COUNT(*) FROM effects").await == i64::from(EVENTS)).then_some(())
        }
    })
    .await;
    consumer.shutdown().await.unwrap();
    producer.shutdown().await.unwrap();
}
