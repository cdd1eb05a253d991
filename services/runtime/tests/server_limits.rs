//! Whole-server limits of the gRPC listener (`[server.limits]`), through the real server: a
//! connection beyond `max_connections` is not accepted until one closes, a call beyond
//! `max_concurrent_streams` on a connection waits until a stream ends, and limits that would
//! refuse every call stop the node from starting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, time::Duration};

use cplds_runtime::{
    config::ServerLimits,
    testing::{TestNode, TestNodeOptions},
};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Long enough for a call on loopback, short enough for the test.
const PATIENCE: Duration = Duration::from_millis(700);

async fn node(limits: ServerLimits) -> anyhow::Result<TestNode> {
    let mut opts = TestNodeOptions::new("toulouse", vec![]);
    opts.tweak_config = Some(Box::new(move |c| c.server.limits = limits));
    TestNode::start(opts).await
}

/// A client on a connection of its own.
fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    HealthClient::new(channel)
}

fn any_service() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let t = node(ServerLimits {
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut first = client(t.addr);
    let mut second = client(t.addr);
    first.check(any_service()).await.unwrap();
    second.check(any_service()).await.unwrap();

    let mut third = client(t.addr);
    let waiting = tokio::spawn(async move { third.check(any_service()).await });
    tokio::time::sleep(PATIENCE).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served while two were open"
    );
    // The connections still open go on being served.
    second.check(any_service()).await.unwrap();

    drop(first);
    let answered = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting connection is accepted once one closes")
        .unwrap();
    answered.unwrap();
}

#[tokio::test]
async fn streams_beyond_the_limit_wait_until_one_ends() {
    let t = node(ServerLimits {
        max_concurrent_streams: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    // One connection; health watches stay open until dropped.
    let mut c = client(t.addr);
    let first = c.watch(any_service()).await.unwrap().into_inner();
    let second = c.watch(any_service()).await.unwrap().into_inner();

    let mut third = c.clone();
    let waiting = tokio::spawn(async move { third.check(any_service()).await });
    tokio::time::sleep(PATIENCE).await;
    assert!(
        !waiting.is_finished(),
        "a third stream was opened beyond the server's limit"
    );
    // Other connections are not held up by this one's streams.
    client(t.addr).check(any_service()).await.unwrap();

    drop(first);
    let answered = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting call is sent once a stream ends")
        .unwrap();
    answered.unwrap();
    drop(second);
}

#[tokio::test]
async fn limits_that_would_refuse_every_call_stop_the_start() {
    for limits in [
        ServerLimits {
            max_connections: 0,
            ..Default::default()
        },
        ServerLimits {
            max_concurrent_streams: 0,
            ..Default::default()
        },
        ServerLimits {
            concurrency_per_connection: 0,
            ..Default::default()
        },
    ] {
        let err = node(limits).await.err().expect("refused").to_string();
        assert!(err.contains("server.limits."), "{err}");
    }
}

#[test]
fn defaults_are_bounded() {
    let d = ServerLimits::default();
    assert_eq!(
        (
            d.max_connections,
            d.max_concurrent_streams,
            d.concurrency_per_connection
        ),
        (1024, 128, 64)
    );
    assert!(d.http2_keepalive_interval_ms > 0 && d.tcp_keepalive_ms > 0);
}
