//! Nodes started in-process: the demo, the benchmarks, the federation tests and every service's
//! test harness ([`crate::testing::TestNode`]) run académie nodes (and the national node) on
//! loopback this way, each with its own data directory and databases, sharing a bus or each on
//! its own RabbitMQ vhost.

use std::{path::PathBuf, sync::Arc};

use crate::{
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
    /// The node's configuration; `listen` on port 0 for a random port.
    pub config: Config,
    pub modules: Vec<Arc<dyn ServiceModule>>,
    pub bus: SharedBus,
    pub clock: SharedClock,
}

impl LocalNodeSpec {
    /// Embedded defaults for `academy` with its data under `data_dir`, on a random loopback port.
    pub fn new(
        academy: &str,
        data_dir: PathBuf,
        modules: Vec<Arc<dyn ServiceModule>>,
        bus: SharedBus,
    ) -> Self {
        let config = Config {
            academy: Some(academy.to_owned()),
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir,
            ..Config::default()
        };
        Self {
            config,
            modules,
            bus,
            clock: crate::clock::system(),
        }
    }
}

impl LocalNode {
    pub async fn start(spec: LocalNodeSpec) -> anyhow::Result<Self> {
        let LocalNodeSpec {
            mut config,
            modules,
            bus,
            clock,
        } = spec;
        // Every node of the process signs with, and trusts, the process's federation keys.
        if let Some(code) = config.academy.clone() {
            crate::event_signing::FederationKeys::shared().configure(&mut config, &code)?;
        }
        let node = config
            .academy
            .as_deref()
            .map(crate::node::Node::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("a local node needs an académie"))?;
        let listener = TcpListener::bind(config.listen).await?;
        let node = host::start(NodeSpec {
            config: config.clone(),
            node,
            modules,
            peers: Vec::new(),
            bus,
            clock,
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

    pub fn token(&self, subject: &str, roles: &[Role]) -> anyhow::Result<String> {
        self.issuer.mint(subject, self.node.node.code(), roles)
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Endpoint::from_shared(format!("http://{}", self.node.addr))?
            .connect()
            .await?)
    }
}

pub use crate::auth::authed;
