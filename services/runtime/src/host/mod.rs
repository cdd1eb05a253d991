//! Hosting services in a node: each service brings its migrations, gRPC services, method policy,
//! consumers and background jobs ([`ServiceModule`]); the host gives each its own database and
//! outbox, declares the bus topology, starts relays and consumers, and serves everything on one
//! address behind the same layers (metrics, auth, timeout, tracing) with health and reflection.
//! Services that have pages for the public (certificate verification) add them to a second,
//! plain HTTP address (`http_listen`), behind the [`web`] layers; it also serves the node's
//! metrics (`GET /metrics`, [`crate::metrics`]). The gRPC listener holds whole-server limits
//! (`limits`: connections, HTTP/2 streams and calls per connection, keepalives).
//!
//! Every node also serves the operator API ([`crate::admin`]: dead letters, status) and keeps, per
//! service database, a dead-letter keeper per consumer and a pruning job ([`crate::retention`]).
//!
//! Shutdown (SIGINT/SIGTERM in the binary, or [`RunningNode::shutdown`]): health turns
//! NOT_SERVING, the server stops accepting and drains in-flight calls, consumers stop between
//! two events, then each relay flushes what was committed, within the configured grace. A crash
//! loses nothing either: the outbox keeps what is not confirmed, the bus (RabbitMQ, or the
//! embedded bus's file) what is not acknowledged.

use std::{collections::HashMap, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tonic::{
    body::Body,
    server::NamedService,
    service::RoutesBuilder,
    transport::{Server, ServerTlsConfig},
};
use tower::Service;

use cplds_proto::v1::admin_service_server::AdminServiceServer;

mod limits;

use crate::{
    academy::Academy,
    admin::{self, Admin, AdminApi, ServiceHandle},
    auth::{AuthKeys, AuthLayer, Policy, TokenVerifier},
    bus::SharedBus,
    clock::SharedClock,
    config::Config,
    db::{self, DbTarget},
    dead_letters,
    event_signing::{EventSigner, TrustRegistry, Verifier},
    inbox::{self, Consumer},
    metrics::{GrpcMetricsLayer, KnownMethods, Metrics},
    node::Node,
    outbox::{Outbox, OutboxRelay},
    pseudonym::Pseudonymizer,
    retention, web,
};

mod replays;

use replays::serve_replays;
pub use replays::{CONTROL_MAX_LENGTH, CONTROL_TTL_MS, REPLAY_BATCH, REPLAY_CAP, control_queue};

/// What every service receives from the host.
#[derive(Clone)]
pub struct ServiceContext {
    /// The académie this node serves, or the national node.
    pub node: Node,
    pub db: DatabaseConnection,
    pub bus: SharedBus,
    pub outbox: Outbox,
    pub clock: SharedClock,
    /// The académie's pseudonymisation (absent on the national node, which never sees identities).
    pub pseudonymizer: Option<Pseudonymizer>,
    pub config: Arc<Config>,
    pub shutdown: CancellationToken,
    /// Where the node's public pages are served, when `http_listen` is set.
    pub http_addr: Option<SocketAddr>,
    /// The node's metrics, where a service declares its own.
    pub metrics: Metrics,
}

impl ServiceContext {
    /// The académie's pseudonymisation, which `service` cannot run without.
    pub fn pseudonymizer(&self, service: &str) -> anyhow::Result<Pseudonymizer> {
        self.pseudonymizer.clone().ok_or_else(|| {
            anyhow::anyhow!("{service} needs the académie's pseudonymisation secret")
        })
    }
}

/// What a service adds to the node it is mounted in.
#[derive(Default)]
pub struct Mount {
    routes: RoutesBuilder,
    policy: Policy,
    consumers: Vec<Consumer>,
    grpc_names: Vec<&'static str>,
    jobs: Vec<BoxFuture<'static, ()>>,
    http: Option<axum::Router>,
}

impl Mount {
    pub fn add_grpc<S>(&mut self, svc: S) -> &mut Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.grpc_names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    pub fn policy(&mut self) -> &mut Policy {
        &mut self.policy
    }

    pub fn consume(&mut self, consumer: Consumer) -> &mut Self {
        self.consumers.push(consumer);
        self
    }

    /// Public pages, served on `http_listen` (ignored when it is unset). Routes must not overlap
    /// those of another service.
    pub fn add_http(&mut self, router: axum::Router) -> &mut Self {
        self.http = Some(match self.http.take() {
            Some(r) => r.merge(router),
            None => router,
        });
        self
    }

    /// A background job; it must return when the context's shutdown token is cancelled.
    pub fn job(&mut self, job: BoxFuture<'static, ()>) -> &mut Self {
        self.jobs.push(job);
        self
    }
}

/// A service's name and its database's migrations: `Schema::of::<Migrator>(NAME)`.
#[derive(Clone, Copy)]
pub struct Schema {
    /// Short name: database file / schema, event source, queue suffix (`registration`).
    pub name: &'static str,
    migrate: for<'a> fn(&'a DatabaseConnection) -> BoxFuture<'a, Result<(), DbErr>>,
}

impl Schema {
    /// Named `name`, migrated by `M` through [`db::migrate`] (a transaction per migration on
    /// SQLite, the schema's advisory lock on PostgreSQL).
    pub fn of<M: sea_orm_migration::MigratorTrait + 'static>(name: &'static str) -> Self {
        fn run<M: sea_orm_migration::MigratorTrait + 'static>(
            db: &DatabaseConnection,
        ) -> BoxFuture<'_, Result<(), DbErr>> {
            Box::pin(db::migrate::<M>(db))
        }
        Schema {
            name,
            migrate: run::<M>,
        }
    }

    pub async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        (self.migrate)(db).await
    }
}

#[async_trait]
pub trait ServiceModule: Send + Sync + 'static {
    /// The service's name and migrations.
    fn schema(&self) -> Schema;

    fn name(&self) -> &'static str {
        self.schema().name
    }

    /// Applies the service's migrations. The host runs it under a start-up lock (PostgreSQL),
    /// then the runtime's own upgrades (see [`db::migrate_service`]). A service whose database
    /// needs more than its migrator (a test's extra tables) overrides it.
    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        self.schema().migrate(db).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()>;

    /// The consumer queue this service has in an académie's node (the one it mounts). A process
    /// running other services of the académie declares it too and holds back an internal event
    /// that it awaits until the queue exists: with one process per service, the first to start
    /// does not publish into the void.
    fn queue(&self, _academy: &'static Academy) -> Option<crate::bus::QueueSpec> {
        None
    }

    /// Whether the service publishes events. One that only consumes (the académie's copy of its
    /// national figures) sends no heartbeat: it would announce an empty source to the national
    /// node, which would then wait for it.
    fn publishes(&self) -> bool {
        true
    }

    /// Whether the service turns staff numbers into national candidate keys. Only then does a
    /// process load the académie's pseudonymisation secret: a process running other services
    /// never holds it.
    fn uses_pseudonym_secret(&self) -> bool {
        false
    }
}

/// Everything a node needs that is not in the configuration.
pub struct NodeSpec {
    pub config: Config,
    pub node: Node,
    pub modules: Vec<Arc<dyn ServiceModule>>,
    /// The académie's other services, run by other processes: their queues are declared and
    /// awaited here too (see [`ServiceModule::queues`]).
    pub peers: Vec<Arc<dyn ServiceModule>>,
    pub bus: SharedBus,
    pub clock: SharedClock,
    /// Bind here instead of `config.listen` (tests pass a listener on port 0).
    pub listener: Option<TcpListener>,
    pub tls: Option<ServerTlsConfig>,
}

pub struct RunningNode {
    pub addr: SocketAddr,
    /// The public pages' address, when served.
    pub http_addr: Option<SocketAddr>,
    pub node: Node,
    /// Each service's database, by service name (tests and tools read them).
    pub databases: HashMap<&'static str, DatabaseConnection>,
    /// Each service's outbox relay, for replay requests.
    pub relays: HashMap<&'static str, Arc<OutboxRelay>>,
    /// What `GET /metrics` on the HTTP address shows.
    pub metrics: Metrics,
    shutdown: CancellationToken,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningNode {
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops gracefully and waits for the end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the node stops (after its shutdown token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.done.await.context("node task panicked")?
    }
}

pub async fn start(spec: NodeSpec) -> anyhow::Result<RunningNode> {
    let NodeSpec {
        config,
        node,
        modules,
        peers,
        bus,
        clock,
        listener,
        tls,
    } = spec;
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let relay_stop = CancellationToken::new();
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);

    let pseudonymizer = match node {
        Node::Academy(_) if modules.iter().any(|m| m.uses_pseudonym_secret()) => Some(
            Pseudonymizer::new(crate::secrets::pseudonym_secret(&config)?),
        ),
        _ => None,
    };
    let academy = node.code().to_owned();
    let keys = AuthKeys::load(&config)?;
    let verifier: TokenVerifier = keys.verifier(&config)?;

    // Bound before mounting, so services know their public address (port 0 in tests).
    let http_listener = match config.http_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding {a} (http_listen)"))?,
        ),
        None => None,
    };
    let http_addr = http_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;

    let mut mount = Mount {
        policy: Policy::new(),
        ..Default::default()
    };
    let mut databases = HashMap::new();
    let mut relays = HashMap::new();
    let mut handles = Vec::new();
    let mut tasks = JoinSet::new();
    let mut consumers = Vec::new();
    let mut service_buses: HashMap<&'static str, SharedBus> = HashMap::new();
    // The public keys of the services this process runs: trusted without configuration.
    let mut own_keys = Vec::new();

    for module in &modules {
        let name = module.name();
        let target = DbTarget::for_service(&config, &academy, name)?;
        let database = db::connect(&target).await?;
        db::migrate_service(&database, module.migrate(&database))
            .await
            .with_context(|| format!("migrating {}", target.describe()))?;
        tracing::info!(service = name, database = %target.describe(), "database ready");
        // A broker user of its own when configured: it may publish only the service's routing keys.
        let bus = match config.amqp_service_urls.get(name) {
            Some(url) => crate::bus::connect_to(&config, url, &format!("{academy}-{name}"))
                .await
                .with_context(|| format!("connecting {name} to its broker user"))?,
            None => bus.clone(),
        };
        let outbox = Outbox::new(academy.clone(), name, clock.clone());
        let ctx = ServiceContext {
            node,
            db: database.clone(),
            bus: bus.clone(),
            outbox: outbox.clone(),
            clock: clock.clone(),
            pseudonymizer: pseudonymizer.clone(),
            config: config.clone(),
            shutdown: shutdown.clone(),
            http_addr,
            metrics: metrics.clone(),
        };
        let signer = EventSigner::load(&config, &academy, name)
            .with_context(|| format!("loading {name}'s event signing key"))?;
        own_keys.extend(signer.published());
        let before = mount.consumers.len();
        module
            .mount(&ctx, &mut mount)
            .with_context(|| format!("mounting {name}"))?;
        let relay = Arc::new(
            OutboxRelay::new(database.clone(), bus.clone(), outbox.clone(), {
                // The national node announces nothing to itself, nor a service with nothing to
                // announce.
                let mut c = config.outbox.clone();
                if node.is_national() || !module.publishes() {
                    c.heartbeat_interval_ms = 0;
                }
                c
            })
            .with_metrics(metrics.clone())
            .with_signer(signer),
        );
        let mut handle = ServiceHandle {
            name,
            bus: bus.clone(),
            db: database.clone(),
            relay: relay.clone(),
            consumers: Vec::new(),
        };
        for c in mount.consumers.drain(before..) {
            handle
                .consumers
                .push((c.name.clone(), c.queue.name.clone()));
            consumers.push((c, database.clone(), outbox.clone(), bus.clone()));
        }
        handles.push(handle);
        if !node.is_national() && module.publishes() {
            for stream in [
                crate::events::Stream::Internal,
                crate::events::Stream::National,
            ] {
                metrics.init_relay(name, stream);
            }
        }
        relays.insert(name, relay);
        service_buses.insert(name, bus);
        tasks.spawn(retention::run(
            name,
            database.clone(),
            config.retention.clone(),
            clock.clone(),
            shutdown.clone(),
        ));
        databases.insert(name, database);
    }

    // Queues exist before any relay publishes, so no event meant for them is dropped; and every
    // relay of the node knows which internal events have a consumer here (see
    // `OutboxRelay::expect`).
    for (c, _, _, bus) in &consumers {
        bus.declare(&c.queue)
            .await
            .with_context(|| format!("declaring queue {}", c.queue.name))?;
        for relay in relays.values() {
            relay.expect(c.queue.bindings.iter().cloned());
        }
    }
    for queue in peers.iter().filter_map(|p| p.queue(node.academy()?)) {
        // Best effort: a broker user limited to its own service may not declare another's queue,
        // which the broker definitions then declare. Either way the relays wait for it.
        if let Err(e) = bus.declare(&queue).await {
            tracing::warn!(queue = %queue.name, error = %e, "could not declare a peer service's queue; the broker definitions must");
        }
        for relay in relays.values() {
            relay.expect(queue.bindings.iter().cloned());
        }
    }
    let events_verifier = Arc::new(Verifier::new(
        TrustRegistry::load(&config, &own_keys).context("events.trusted_keys")?,
        node,
        config.events.upstreams.clone(),
    ));
    for (c, database, outbox, bus) in consumers {
        metrics.init_consumer(&c.name, &c.queue.name);
        tasks.spawn(dead_letters::keep(
            database.clone(),
            bus.clone(),
            c.name.clone(),
            c.queue.clone(),
            clock.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(inbox::run(
            database,
            bus.clone(),
            c,
            clock.clone(),
            shutdown.clone(),
            inbox::ConsumerOptions {
                outbox: Some(outbox),
                config: config.inbox.clone(),
                metrics: metrics.clone(),
                verifier: Some(events_verifier.clone()),
            },
        ));
    }
    let mut relay_tasks = JoinSet::new();
    for relay in relays.values() {
        let relay = relay.clone();
        let stop = relay_stop.clone();
        relay_tasks.spawn(async move {
            // The relay is shared (replays) but runs once: it only reads its own fields.
            OutboxRelay::run_shared(relay, stop, grace).await
        });
    }
    for job in std::mem::take(&mut mount.jobs) {
        tasks.spawn(job);
    }
    if !node.is_national() {
        // A queue per service: when services run in separate processes, each gets every request
        // and answers those for itself (replicas of one service share its queue).
        for (name, relay) in &relays {
            let control = control_queue(&academy, name);
            let bus = service_buses.get(name).unwrap_or(&bus);
            bus.declare(&control)
                .await
                .context("declaring the control queue")?;
            let own: HashMap<&'static str, Arc<OutboxRelay>> = [(*name, relay.clone())].into();
            tasks.spawn(serve_replays(
                bus.clone(),
                control,
                academy.clone(),
                own,
                shutdown.clone(),
            ));
        }
    }

    let admin = Arc::new(Admin {
        node,
        bus: bus.clone(),
        clock: clock.clone(),
        services: handles,
    });
    let metrics_page = metrics_route(metrics.clone(), admin.clone());
    let max = config.server.max_message_bytes;
    mount.add_grpc(
        AdminServiceServer::new(AdminApi::new(admin.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    );
    admin::policy(mount.policy());

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Known before the first call is served; kept up to date after.
    admin::update_health(&admin, &health_reporter, &mut None).await;
    tasks.spawn(admin::watch_health(
        admin,
        health_reporter.clone(),
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    for name in &mount.grpc_names {
        health_reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let served: Vec<&str> = mount
        .grpc_names
        .iter()
        .copied()
        .chain(ALWAYS_SERVED)
        .collect();
    // Both reflection versions: grpcurl before 1.9, grpc_cli and several GUI clients speak only
    // v1alpha. Each lists only what this node serves; the google.rpc error details are there so
    // that clients can print a refusal's BadRequest / PreconditionFailure.
    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure();
        for set in DESCRIPTOR_SETS {
            b = b.register_encoded_file_descriptor_set(set);
        }
        for name in &served {
            b = b.with_service_name(*name);
        }
        b
    };
    let reflection_v1 = reflection()
        .build_v1()
        .context("building the reflection service")?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("building the reflection service (v1alpha)")?;
    let known_methods = KnownMethods::from_descriptor_sets(&DESCRIPTOR_SETS)
        .context("reading the contracts' methods")?;
    metrics.init_calls(&known_methods, &served);

    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?,
    };
    let addr = listener.local_addr()?;

    limits::check(&config.server.limits)?;
    let mut builder = limits::apply(
        Server::builder()
            .timeout(Duration::from_millis(config.server.request_timeout_ms))
            .trace_fn(|req| tracing::info_span!("grpc", method = %req.uri().path())),
        &config.server.limits,
        grace,
    );
    let tls = match tls {
        Some(t) => Some(t),
        None => crate::tls::server_config(&config.tls)?,
    };
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).context("TLS configuration")?;
    }
    mount
        .policy
        .check_complete(&mount.grpc_names)
        .map_err(|wrong| {
            anyhow::anyhow!("the access policy is not complete: {}", wrong.join(", "))
        })?;
    let routes = std::mem::take(&mut mount.routes).routes();
    let router = builder
        // Outside the auth layer, so that its refusals are counted too.
        .layer(GrpcMetricsLayer::new(
            metrics.clone(),
            known_methods,
            Duration::from_millis(config.server.request_timeout_ms),
        ))
        .layer(AuthLayer::new(verifier, mount.policy, academy.clone()))
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    // The HTTP address serves the metrics, and the services' public pages if any.
    let http_addr = match http_listener {
        Some(listener) => {
            let pages = mount.http.take().unwrap_or_default();
            let router = web::layers(pages.merge(metrics_page), &config);
            let stop = shutdown.clone();
            tasks.spawn(async move {
                // The peer's address reaches the pages (`ConnectInfo`): public pages limit
                // their rate per client.
                let served = axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stop.clone().cancelled_owned());
                tokio::select! {
                    r = served => if let Err(e) = r {
                        tracing::error!(error = %e, "public pages server failed");
                    },
                    () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {}
                }
            });
            http_addr
        }
        None => None,
    };

    let stop = shutdown.clone();
    let names = mount.grpc_names.clone();
    let incoming = limits::incoming(listener, &config.server.limits);
    let done = tokio::spawn(async move {
        let signal = {
            let stop = stop.clone();
            let reporter = health_reporter.clone();
            async move {
                stop.cancelled().await;
                for name in names {
                    reporter
                        .set_service_status(name, tonic_health::ServingStatus::NotServing)
                        .await;
                }
            }
        };
        let served = router.serve_with_incoming_shutdown(incoming, signal);
        let result = tokio::select! {
            r = served => r.context("gRPC server"),
            // Calls that outlive the grace period are cut.
            () = async { stop.cancelled().await; tokio::time::sleep(grace).await } => Ok(()),
        };
        stop.cancel();
        while tasks.join_next().await.is_some() {}
        relay_stop.cancel();
        while relay_tasks.join_next().await.is_some() {}
        result
    });
    tracing::info!(%addr, http = ?http_addr, node = %node, services = ?modules.iter().map(|m| m.name()).collect::<Vec<_>>(), bus = bus.kind(), "node serving");
    Ok(RunningNode {
        addr,
        http_addr,
        node,
        databases,
        relays,
        metrics,
        shutdown,
        done,
    })
}

/// Descriptor sets served by reflection: the contracts, health, and google.rpc's error details.
const DESCRIPTOR_SETS: [&[u8]; 5] = [
    cplds_proto::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_types::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// Services every node serves beside its mounted ones.
const ALWAYS_SERVED: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// `GET /metrics`: the node's metrics, gauges read from the databases at each scrape.
fn metrics_route(metrics: Metrics, admin: Arc<Admin>) -> axum::Router {
    use axum::{
        http::{StatusCode, header},
        response::IntoResponse,
    };
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            let admin = admin.clone();
            async move {
                metrics.refresh(&admin).await;
                match metrics.encode() {
                    Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text)
                        .into_response(),
                    Err(e) => {
                        tracing::error!(error = %e, "encoding the metrics failed");
                        StatusCode::INTERNAL_SERVER_ERROR.into_response()
                    }
                }
            }
        }),
    )
}

/// Waits for SIGINT or SIGTERM.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        () = term => tracing::info!("SIGTERM received; shutting down"),
    }
}
