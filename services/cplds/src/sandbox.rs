//! Nodes started in-process: the demo, the benchmarks and the federation tests use it to run
//! académie nodes (and the national node) on loopback, each with its own data directory and
//! databases, sharing a bus or each on its own RabbitMQ vhost.

use std::{path::PathBuf, sync::Arc};

use cplds_runtime::{
    auth::{AuthKeys, Role, TokenIssuer},
    bus::SharedBus,
    clock::SharedClock,
    config::Config,
    host::{self, NodeSpec, RunningNode, ServiceModule},
};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

pub struct LocalNode {
    pub node: RunningNode,
    pub issuer: TokenIssuer,
    pub config: Config,
}

pub struct LocalNodeSpec {
    pub academy: String,
    pub data_dir: PathBuf,
    pub modules: Vec<Arc<dyn ServiceModule>>,
    pub bus: SharedBus,
    pub clock: SharedClock,
    /// `127.0.0.1:0` for a random port.
    pub listen: std::net::SocketAddr,
    pub database_url: Option<String>,
}

impl LocalNode {
    pub async fn start(spec: LocalNodeSpec) -> anyhow::Result<Self> {
        let config = Config {
            academy: Some(spec.academy.clone()),
            listen: spec.listen,
            data_dir: spec.data_dir,
            database_url: spec.database_url,
            ..Config::default()
        };
        let listener = TcpListener::bind(spec.listen).await?;
        let node = host::start(NodeSpec {
            config: config.clone(),
            academy: spec.academy,
            modules: spec.modules,
            bus: spec.bus,
            clock: spec.clock,
            listener: Some(listener),
            tls: None,
        })
        .await?;
        let issuer = AuthKeys::load(&config)?.issuer(&config)?;
        Ok(Self {
            node,
            issuer,
            config,
        })
    }

    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.issuer
            .mint(subject, &self.node.academy, roles)
            .expect("minting a token")
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Endpoint::from_shared(format!("http://{}", self.node.addr))?
            .connect()
            .await?)
    }
}

/// A request with a bearer token.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a token is ASCII"),
    );
    r
}
