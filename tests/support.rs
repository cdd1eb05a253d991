//! The federation sandbox: RabbitMQ definitions from `deploy/rabbitmq` rendered for vhosts of
//! the one local broker (a faithful stand-in for one broker per académie) and loaded with
//! `rabbitmqctl import_definitions`; académie nodes and the national node started in-process,
//! each with its own PostgreSQL database and its own vhost.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

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

/// The services of an académie node, each with a broker user of its own.
pub const ACADEMY_SERVICES: [&str; 6] = [
    "registration",
    "training",
    "examination",
    "certification",
    "reporting",
    "figures",
];

/// One broker's vhosts for a federation of `academies` (with their régions) and the national
/// node, loaded from the deploy definitions: a user per service of each académie, the national
/// node's user, and a federation user per link (each académie's link to the national broker and
/// to each regional peer; the national broker's link to each académie). Deletes them when
/// dropped.
pub struct Topology {
    /// Broker address without credentials or vhost: `127.0.0.1:5672`.
    pub authority: String,
    pub prefix: String,
    pub academies: Vec<String>,
    /// The users made for this topology, and their common password suffix.
    users: Vec<String>,
    secret: String,
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
        let mut t = Self {
            authority,
            academies: academies.iter().map(|a| a.to_string()).collect(),
            users: Vec::new(),
            secret: uuid::Uuid::new_v4().simple().to_string(),
            prefix,
        };
        let (app, fed) = (t.app_prefix(), t.federation_prefix());
        let regions = |a: &str| -> anyhow::Result<Vec<&str>> {
            let region = cplds_runtime::academy::Academy::find(a)
                .context("an académie code")?
                .region;
            Ok(academies
                .iter()
                .copied()
                .filter(|p| {
                    *p != a
                        && cplds_runtime::academy::Academy::find(p)
                            .is_some_and(|x| x.region == region)
                })
                .collect())
        };
        // Users first: a permission names an existing user.
        let mut users = vec![app.clone()];
        for a in academies {
            users.extend(ACADEMY_SERVICES.iter().map(|s| format!("{app}-{a}-{s}")));
            users.push(format!("{fed}-{a}-national"));
            users.push(format!("{fed}-national-{a}"));
            for p in regions(a)? {
                users.push(format!("{fed}-{a}-{p}"));
            }
        }
        for user in &users {
            import(&render(
                &template("user.definitions.json")?,
                &[
                    ("USER_NAME", user.clone()),
                    ("USER_PASSWORD", t.password(user)),
                ],
            )?)?;
        }
        t.users = users;

        // The national broker: its node's user, and a link user per académie (the académie's
        // link reads its own replay requests only).
        import(&render(
            &template("national.definitions.json")?,
            &[
                ("VHOST", t.vhost("national")),
                ("ACADEMY", "national".into()),
                ("APP_USER", app.clone()),
            ],
        )?)?;
        for a in academies {
            import(&render(
                &template("national-downstream.definitions.json")?,
                &[
                    ("VHOST", t.vhost("national")),
                    ("FEDERATION_USER", format!("{fed}-national")),
                    ("DOWNSTREAM", (*a).to_owned()),
                ],
            )?)?;
            let upstream = vec![
                ("VHOST", t.vhost("national")),
                ("UPSTREAM_NAME", (*a).to_owned()),
                ("UPSTREAM_URI", t.link_url(a, "national")),
            ];
            import(&render(&template("upstream.definitions.json")?, &upstream)?)?;
        }
        for a in academies {
            let peers = regions(a)?;
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
            import(&render(
                &template("academy.definitions.json")?,
                &[
                    ("VHOST", t.vhost(a)),
                    ("ACADEMY", (*a).to_owned()),
                    ("APP_USER", format!("{app}-{a}")),
                    ("FEDERATION_USER", format!("{fed}-{a}")),
                    ("NATIONAL_URI", t.link_url("national", a)),
                    ("REGIONAL_UPSTREAM_SET", set),
                ],
            )?)?;
            for p in peers {
                import(&render(
                    &template("regional-downstream.definitions.json")?,
                    &[
                        ("VHOST", t.vhost(a)),
                        ("FEDERATION_USER", format!("{fed}-{a}")),
                        ("DOWNSTREAM", p.to_owned()),
                    ],
                )?)?;
                let upstream = vec![
                    ("VHOST", t.vhost(a)),
                    ("UPSTREAM_NAME", p.to_owned()),
                    ("UPSTREAM_URI", t.link_url(p, a)),
                ];
                import(&render(&template("upstream.definitions.json")?, &upstream)?)?;
            }
        }
        Ok(t)
    }

    fn app_prefix(&self) -> String {
        format!("{}_app", self.prefix)
    }

    fn federation_prefix(&self) -> String {
        format!("{}_fed", self.prefix)
    }

    fn password(&self, user: &str) -> String {
        format!("{user}-{}", self.secret)
    }

    fn url_as(&self, user: &str, vhost_of: &str) -> String {
        format!(
            "amqp://{user}:{}@{}/{}",
            self.password(user),
            self.authority,
            self.vhost(vhost_of)
        )
    }

    /// What the national node connects with (its own user), or an académie's `service`.
    pub fn url(&self, node: &str) -> String {
        if node == "national" {
            self.url_as(&self.app_prefix(), node)
        } else {
            self.service_url(node, "registration")
        }
    }

    /// What `service` of `academy` connects with: a user limited to its own routing keys.
    pub fn service_url(&self, academy: &str, service: &str) -> String {
        self.url_as(
            &format!("{}-{academy}-{service}", self.app_prefix()),
            academy,
        )
    }

    /// Every service's URL of `academy` (`amqp_service_urls`).
    pub fn service_urls(&self, academy: &str) -> BTreeMap<String, String> {
        ACADEMY_SERVICES
            .iter()
            .map(|s| ((*s).to_owned(), self.service_url(academy, s)))
            .collect()
    }

    /// A URL with every right on `node`'s vhost (the broker's `guest`), for observers and tests
    /// of the permissions themselves.
    pub fn admin_url(&self, node: &str) -> anyhow::Result<String> {
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost(node),
            "guest",
            ".*",
            ".*",
            ".*",
        ])?;
        Ok(format!(
            "amqp://guest:guest@{}/{}",
            self.authority,
            self.vhost(node)
        ))
    }

    /// What `downstream`'s federation link to `upstream` connects with: the link user the
    /// upstream broker made for that downstream.
    fn link_url(&self, upstream: &str, downstream: &str) -> String {
        self.url_as(
            &format!("{}-{upstream}-{downstream}", self.federation_prefix()),
            upstream,
        )
    }

    /// The URI the federation plugin names in `x-received-from` for `academy`'s link (its
    /// credentials left out), as the national node's `events.upstreams` lists it.
    pub fn received_from(&self, academy: &str) -> String {
        format!("amqp://{}/{}", self.authority, self.vhost(academy))
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
        for user in &self.users {
            let _ = rabbitmqctl(&["delete_user", user]);
        }
    }
}

pub async fn amqp_bus(url: &str, name: &str) -> anyhow::Result<SharedBus> {
    Ok(std::sync::Arc::new(
        AmqpBus::connect(url, name, QueueType::Quorum, Duration::from_secs(5)).await?,
    ))
}

/// A node on PostgreSQL with quick heartbeats and gap checks, so a test sees them; each of its
/// services on the broker with its own user (through `proxy` when given: a link the test cuts).
pub async fn start_node(
    academy: &str,
    data_dir: PathBuf,
    modules: Vec<std::sync::Arc<dyn cplds_runtime::host::ServiceModule>>,
    topology: &Topology,
    proxy: Option<std::net::SocketAddr>,
    database_url: &str,
) -> anyhow::Result<LocalNode> {
    let via = |url: String| match proxy {
        Some(addr) => cplds_runtime::testing::with_authority(&url, addr),
        None => url,
    };
    let bus = amqp_bus(&via(topology.url(academy)), academy).await?;
    let mut spec = node_spec(academy, data_dir, modules, bus, database_url);
    spec.config.amqp_service_urls = topology
        .service_urls(academy)
        .into_iter()
        .map(|(s, u)| (s, via(u)))
        .collect();
    LocalNode::start(spec).await
}

/// The national node of [`start_node`], expecting only `academies` to report in `year` (so
/// that their figures can be final), and each académie's facts through its own link only.
pub async fn start_national_node(
    data_dir: PathBuf,
    topology: &Topology,
    database_url: &str,
    year: i32,
    academies: &[&str],
) -> anyhow::Result<LocalNode> {
    let bus = amqp_bus(&topology.url("national"), "national").await?;
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
    spec.config.events.upstreams = academies
        .iter()
        .map(|a| ((*a).to_owned(), topology.received_from(a)))
        .collect();
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
