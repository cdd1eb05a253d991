//! The federation sandbox: RabbitMQ definitions from `deploy/rabbitmq` rendered for vhosts of
//! the one local broker (a faithful stand-in for one broker per académie) and loaded with
//! `rabbitmqctl import_definitions`; académie nodes and the national node started in-process,
//! each with its own PostgreSQL database and its own vhost.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use cplds::sandbox::{LocalNode, LocalNodeSpec};
use cplds_runtime::{
    bus::{SharedBus, amqp::AmqpBus},
    config::QueueType,
    testing::rabbitmqctl,
};

pub fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/rabbitmq")
}

/// Plain `${NAME}` substitution; every placeholder must be given.
pub fn render(template: &str, vars: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    if let Some(i) = out.find("${") {
        anyhow::bail!(
            "unrendered placeholder near {:?}",
            &out[i..(i + 40).min(out.len())]
        );
    }
    Ok(out)
}

fn template(name: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(deploy_dir().join(name))
        .with_context(|| format!("reading deploy/rabbitmq/{name}"))
}

fn import(json: &str) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(json).context("rendered definitions are not JSON")?;
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), json)?;
    // rabbitmqctl reads it as the broker's user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644))?;
    }

    rabbitmqctl(&["import_definitions", &file.path().display().to_string()])?;
    Ok(())
}

/// One broker's vhosts for a federation of `academies` (with their régions) and the national
/// node, loaded from the deploy definitions. Deletes them when dropped.
pub struct Topology {
    /// Broker address without credentials or vhost: `127.0.0.1:5672`.
    pub authority: String,
    pub prefix: String,
    pub academies: Vec<String>,
    /// The application's and the federation links' users, made for this topology.
    app: (String, String),
    federation: (String, String),
}

impl Topology {
    /// `base`: `amqp://guest:guest@127.0.0.1:5672` (only its host and port are used: the
    /// topology brings its own users).
    pub fn load(base: &str, academies: &[&str]) -> anyhow::Result<Self> {
        let prefix = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let authority = base
            .split_once("://")
            .map_or(base, |(_, r)| r)
            .rsplit_once('@')
            .map_or(base, |(_, a)| a)
            .trim_end_matches('/')
            .to_owned();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let t = Self {
            authority,
            academies: academies.iter().map(|a| a.to_string()).collect(),
            app: (format!("{prefix}_app"), format!("app-{secret}")),
            federation: (format!("{prefix}_fed"), format!("fed-{secret}")),
            prefix,
        };
        import(&render(
            &template("users.definitions.json")?,
            &[
                ("APP_USER", t.app.0.clone()),
                ("APP_PASSWORD", t.app.1.clone()),
                ("FEDERATION_USER", t.federation.0.clone()),
                ("FEDERATION_PASSWORD", t.federation.1.clone()),
            ],
        )?)?;
        let common = |vhost: String| {
            vec![
                ("VHOST", vhost),
                ("FEDERATION_USER", t.federation.0.clone()),
                ("APP_USER", t.app.0.clone()),
            ]
        };

        let mut vars = common(t.vhost("national"));
        vars.push(("ACADEMY", "national".into()));
        import(&render(&template("national.definitions.json")?, &vars)?)?;
        for a in academies {
            let upstream = vec![
                ("VHOST", t.vhost("national")),
                ("UPSTREAM_NAME", (*a).to_owned()),
                ("UPSTREAM_URI", t.link_url(a)),
            ];
            import(&render(&template("upstream.definitions.json")?, &upstream)?)?;
        }
        for a in academies {
            let region = cplds_runtime::academy::Academy::find(a)
                .context("an académie code")?
                .region;
            let peers: Vec<&str> = academies
                .iter()
                .copied()
                .filter(|p| {
                    p != a
                        && cplds_runtime::academy::Academy::find(p)
                            .is_some_and(|x| x.region == region)
                })
                .collect();
            let set = peers
                .iter()
                .map(|p| {
                    render(
                        &template("regional-set-item.json")?,
                        &[("UPSTREAM_NAME", (*p).to_owned())],
                    )
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(",");
            let mut vars = common(t.vhost(a));
            vars.extend([
                ("ACADEMY", (*a).to_owned()),
                ("NATIONAL_URI", t.link_url("national")),
                ("REGIONAL_UPSTREAM_SET", set),
            ]);
            import(&render(&template("academy.definitions.json")?, &vars)?)?;
            for p in peers {
                let upstream = vec![
                    ("VHOST", t.vhost(a)),
                    ("UPSTREAM_NAME", p.to_owned()),
                    ("UPSTREAM_URI", t.link_url(p)),
                ];
                import(&render(&template("upstream.definitions.json")?, &upstream)?)?;
            }
        }
        Ok(t)
    }

    /// What the nodes connect with.
    pub fn url(&self, node: &str) -> String {
        format!(
            "amqp://{}:{}@{}/{}",
            self.app.0,
            self.app.1,
            self.authority,
            self.vhost(node)
        )
    }

    /// What the federation links connect with.
    fn link_url(&self, node: &str) -> String {
        format!(
            "amqp://{}:{}@{}/{}",
            self.federation.0,
            self.federation.1,
            self.authority,
            self.vhost(node)
        )
    }

    pub fn vhost(&self, node: &str) -> String {
        format!("{}_{}", self.prefix, node.replace('-', "_"))
    }

    /// Waits until the national broker's federation links from every académie are up (the
    /// upstream queue exists in the académie's vhost).
    pub async fn wait_for_links(&self, deadline: Duration) -> anyhow::Result<()> {
        let start = tokio::time::Instant::now();
        loop {
            let mut up = 0;
            for a in &self.academies {
                let queues = rabbitmqctl(&["list_queues", "-q", "-p", &self.vhost(a), "name"])?;
                if queues
                    .lines()
                    .any(|l| l.starts_with("federation: cplds.national"))
                {
                    up += 1;
                }
            }
            if up == self.academies.len() {
                return Ok(());
            }
            anyhow::ensure!(
                start.elapsed() < deadline,
                "federation links not up after {deadline:?} ({up}/{})",
                self.academies.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for v in self
            .academies
            .iter()
            .map(String::as_str)
            .chain(["national"])
        {
            let _ = rabbitmqctl(&["delete_vhost", &self.vhost(v)]);
        }
        let _ = rabbitmqctl(&["delete_user", &self.app.0]);
        let _ = rabbitmqctl(&["delete_user", &self.federation.0]);
    }
}

pub async fn amqp_bus(url: &str, name: &str) -> anyhow::Result<SharedBus> {
    Ok(std::sync::Arc::new(
        AmqpBus::connect(url, name, QueueType::Quorum, Duration::from_secs(5)).await?,
    ))
}

/// A node on PostgreSQL with quick heartbeats and gap checks, so a test sees them.
pub async fn start_node(
    academy: &str,
    data_dir: PathBuf,
    modules: Vec<std::sync::Arc<dyn cplds_runtime::host::ServiceModule>>,
    bus: SharedBus,
    database_url: &str,
) -> anyhow::Result<LocalNode> {
    LocalNode::start(node_spec(academy, data_dir, modules, bus, database_url)).await
}

/// The national node of [`start_node`], expecting only `academies` to report in `year` (so
/// that their figures can be final).
pub async fn start_national_node(
    data_dir: PathBuf,
    bus: SharedBus,
    database_url: &str,
    year: i32,
    academies: &[&str],
) -> anyhow::Result<LocalNode> {
    let mut spec = node_spec(
        "national",
        data_dir,
        cplds::national_modules(),
        bus,
        database_url,
    );
    spec.config.national.active_academies.insert(
        year.to_string(),
        academies.iter().map(|a| (*a).to_owned()).collect(),
    );
    LocalNode::start(spec).await
}

fn node_spec(
    academy: &str,
    data_dir: PathBuf,
    modules: Vec<std::sync::Arc<dyn cplds_runtime::host::ServiceModule>>,
    bus: SharedBus,
    database_url: &str,
) -> LocalNodeSpec {
    let mut spec = LocalNodeSpec::new(academy, data_dir, modules, bus);
    spec.config.database_url = Some(database_url.to_owned());
    spec.config.amqp_queue_type = QueueType::Quorum;
    spec.config.outbox.poll_interval_ms = 200;
    spec.config.outbox.heartbeat_interval_ms = 1_000;
    spec.config.national.gap_check_interval_ms = 500;
    spec.config.national.replay_backoff_ms = 2_000;
    spec.config.server.shutdown_grace_ms = 3_000;
    spec
}
