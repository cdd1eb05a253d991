//! The chaos suite's child process, which the suite kills with SIGKILL (no destructor, no flush,
//! the kernel closes its sockets):
//! - `chaos-child relay <postgres url> <schema> <amqp url>`: one replica of a service's outbox
//!   relay (the real [`OutboxRelay`] with its lease, on the real broker); prints `role <role>`
//!   each time its role changes;
//! - `chaos-child embedded <data dir> <events>`: the embedded node (SQLite files, the durable
//!   in-process bus) writing `events` events and consuming them itself; prints `started`.

use std::{
    io::Write,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use cplds_runtime::{
    bus::{Binding, SharedBus, Stream, amqp::AmqpBus},
    clock,
    config::{Config, OutboxConfig, QueueType},
    db::{self, DbTarget},
    host::{self, NodeSpec},
    node::Node,
    outbox::{Outbox, OutboxRelay, RelayRole},
};
use tokio_util::sync::CancellationToken;

#[path = "common.rs"]
mod common;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent reads these lines; one it misses only slows the suite down.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn relay(url: String, schema: String, amqp: String) -> anyhow::Result<()> {
    let conn = db::connect(&DbTarget::Postgres { url, schema }).await?;
    let bus: SharedBus = Arc::new(
        AmqpBus::connect(
            &amqp,
            "chaos-relay",
            QueueType::Quorum,
            Duration::from_secs(5),
        )
        .await?,
    );
    let outbox = Outbox::new(common::ACADEMY, common::SOURCE, clock::system());
    let relay = Arc::new(OutboxRelay::new(conn, bus, outbox, common::relay_config()));
    relay.expect([Binding::new(Stream::Internal, common::PATTERN)]);
    let stop = CancellationToken::new();
    let task = tokio::spawn(OutboxRelay::run_shared(
        relay.clone(),
        stop.clone(),
        Duration::from_secs(5),
    ));
    let mut last = RelayRole::Starting;
    let started = Instant::now();
    while !task.is_finished() {
        let role = relay.role();
        if role != last {
            say(&format!("role {role:?}"));
            last = role;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A relay the suite forgot to kill does not outlive it for long.
        if started.elapsed() > Duration::from_secs(600) {
            stop.cancel();
        }
    }
    task.await?;
    Ok(())
}

async fn embedded(data_dir: PathBuf, events: i64) -> anyhow::Result<()> {
    cplds_runtime::install_crypto_provider();
    let config = Config {
        academy: Some(common::ACADEMY.into()),
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir,
        amqp_queue_type: QueueType::Classic,
        outbox: OutboxConfig {
            heartbeat_interval_ms: 0,
            ..common::relay_config()
        },
        ..Default::default()
    };
    let bus = cplds_runtime::bus::connect(&config, "chaos-embedded").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let node = host::start(NodeSpec {
        config,
        node: Node::parse(common::ACADEMY).map_err(anyhow::Error::msg)?,
        modules: vec![Arc::new(common::EmbeddedStream { events })],
        peers: Vec::new(),
        bus,
        clock: clock::system(),
        listener: Some(listener),
        tls: None,
    })
    .await?;
    say("started");
    // Runs until killed (or, left alone, for ten minutes).
    tokio::time::sleep(Duration::from_secs(600)).await;
    node.shutdown().await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    cplds_runtime::telemetry::init_for_tests();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, url, schema, amqp] if mode == "relay" => {
            relay(url.clone(), schema.clone(), amqp.clone()).await
        }
        [mode, dir, events] if mode == "embedded" => {
            let events = events.parse().context("events: a number")?;
            embedded(PathBuf::from(dir), events).await
        }
        _ => bail!(
            "usage: chaos-child relay <postgres url> <schema> <amqp url> | embedded <data dir> <events>"
        ),
    }
}
