//! `cplds bench registration`: the busy writes through gRPC with many concurrent clients —
//! candidacy submission, and (`bench_writes`) entering a mark and recording attendance —, on
//! SQLite and (when given) PostgreSQL, beside three bare baselines measured in the same run: a
//! tonic echo call (health check on a server with nothing else), a single-row insert through
//! sea-orm on the same database, and the floor of the write path: a bare tonic unary handler
//! running a transaction of two inserts (a row and an outbox row) straight on the driver. The
//! floor runs again right after each write, and the write's ratios are to the mean of the floor
//! runs just before and after it: they say what the service stack costs, whatever the machine's
//! speed did meanwhile. Figures are printed, never asserted.

use std::{
    fmt::Write as _,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use cplds_proto::v1::{self as pb, registration_service_client::RegistrationServiceClient};
use cplds_runtime::{
    auth::Role,
    bus::{SharedBus, memory::InMemoryBus},
    db::{self, DbTarget},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, TransactionTrait};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server};

use crate::sandbox::{LocalNode, LocalNodeSpec, authed};

pub struct BenchOptions {
    pub clients: usize,
    pub requests: usize,
    /// An existing PostgreSQL database to create the bench database from; SQLite only when unset.
    pub postgres_url: Option<String>,
    /// Skip SQLite (with a PostgreSQL URL): to iterate on one backend.
    pub skip_sqlite: bool,
    /// The writes measured, in this order.
    pub writes: Vec<Write>,
}

/// A write the bench drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Write {
    /// SubmitCandidacy (registration).
    Submit,
    /// EnterMark (examination).
    Mark,
    /// RecordAttendance (training).
    Attendance,
}

impl Write {
    pub const ALL: [Write; 3] = [Write::Submit, Write::Mark, Write::Attendance];

    /// The floor's run measured right after this write (its rows' ids are the run's).
    fn floor_after(self) -> &'static str {
        match self {
            Write::Submit => "after-submit",
            Write::Mark => "after-mark",
            Write::Attendance => "after-attendance",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub name: String,
    pub count: usize,
    pub wall: Duration,
    /// CPU time of the whole process (node and clients) per request, where it can be read.
    pub cpu_per_request: Option<Duration>,
    /// CPU time of the local PostgreSQL server's processes per request (none on SQLite, or
    /// where the server runs elsewhere).
    pub db_cpu_per_request: Option<Duration>,
    pub p50: Duration,
    pub p99: Duration,
    /// On SQLite, the mean units of work one COMMIT ended during the run (group commit), and
    /// the share of the run the write lock was held.
    pub units_per_commit: Option<f64>,
    pub lock_held: Option<f64>,
}

impl Stats {
    pub(crate) fn of(name: &str, run: Elapsed, mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        Self {
            name: name.into(),
            count: latencies.len(),
            wall: run.wall,
            cpu_per_request: run
                .cpu
                .and_then(|c| c.checked_div(u32::try_from(latencies.len()).ok()?)),
            db_cpu_per_request: run
                .db_cpu
                .filter(|c| !c.is_zero())
                .and_then(|c| c.checked_div(u32::try_from(latencies.len()).ok()?)),
            p50: at(0.50),
            p99: at(0.99),
            units_per_commit: None,
            lock_held: None,
        }
    }

    /// With the node's group commits between two readings of [`GroupCommits::read`].
    pub(crate) fn with_groups(mut self, before: GroupCommits, after: GroupCommits) -> Self {
        let commits = after.commits - before.commits;
        if commits > 0.0 {
            self.units_per_commit = Some((after.units - before.units) / commits);
            self.lock_held = Some((after.held - before.held) / self.wall.as_secs_f64());
        }
        self
    }

    pub fn throughput(&self) -> f64 {
        self.count as f64 / self.wall.as_secs_f64()
    }
}

/// Units of work and COMMITs so far on a node's SQLite databases, read from its metrics as a
/// scrape would (`cplds_group_commit_units`, all services).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupCommits {
    units: f64,
    commits: f64,
    held: f64,
}

impl GroupCommits {
    pub(crate) fn read(node: &LocalNode) -> Self {
        let text = node.node.metrics.encode().unwrap_or_default();
        let total = |name: &str| -> f64 {
            text.lines()
                .filter_map(|l| {
                    let rest = l.strip_prefix(name)?.strip_prefix('{')?;
                    rest.rsplit(' ').next()?.parse::<f64>().ok()
                })
                .sum()
        };
        Self {
            units: total("cplds_group_commit_units_sum"),
            commits: total("cplds_group_commit_units_count"),
            held: total("cplds_group_commit_held_seconds_total"),
        }
    }
}

/// How long a run took, on the clock and on the CPUs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Elapsed {
    pub wall: Duration,
    pub cpu: Option<Duration>,
    /// The local PostgreSQL server's CPU over the run.
    pub db_cpu: Option<Duration>,
}

/// Runs `requests` calls of `call(i)` from `clients` concurrent tasks.
pub(crate) async fn drive<F, Fut>(
    clients: usize,
    requests: usize,
    call: F,
) -> anyhow::Result<(Elapsed, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let cpu = crate::memory::cpu_time();
    let db_cpu = crate::memory::processes_cpu("postgres");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while i < requests {
                let t = Instant::now();
                call(i).await?;
                lat.push(t.elapsed());
                i += clients;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = start.elapsed();
    let cpu = cpu
        .zip(crate::memory::cpu_time())
        .map(|(a, b)| b.saturating_sub(a));
    let db_cpu = db_cpu
        .zip(crate::memory::processes_cpu("postgres"))
        .map(|(a, b)| b.saturating_sub(a));
    Ok((Elapsed { wall, cpu, db_cpu }, all))
}

pub(crate) async fn channels(addr: std::net::SocketAddr, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Endpoint::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    Ok(out)
}

/// Health checks (`Check`) against the server at `addr`, from `clients` tasks.
async fn drive_health_checks(
    addr: std::net::SocketAddr,
    clients: usize,
    requests: usize,
) -> anyhow::Result<(Elapsed, Vec<Duration>)> {
    let chans = Arc::new(channels(addr, clients.min(16)).await?);
    drive(clients, requests, move |i| {
        let mut client =
            tonic_health::pb::health_client::HealthClient::new(chans[i % chans.len()].clone());
        async move {
            client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await?;
            Ok(())
        }
    })
    .await
}

/// Stands for the consumers a node's events have in production (the académie's other services,
/// the federation link to the national node): a queue taking every internal and national event,
/// emptied as it fills. Without it the relay would meet no queue and treat each event apart.
pub(crate) async fn sink(bus: &SharedBus) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use cplds_runtime::bus::{Binding, QueueSpec, Stream};
    let q = QueueSpec::new(
        "toulouse.bench-sink",
        vec![
            Binding::new(Stream::Internal, "#"),
            Binding::new(Stream::National, "#"),
        ],
    );
    bus.declare(&q).await?;
    let mut sub = bus.subscribe(&q).await?;
    Ok(tokio::spawn(async move {
        while let Some(d) = sub.next().await {
            let _ = d.ack().await;
        }
    }))
}

async fn echo_baseline(clients: usize, requests: usize) -> anyhow::Result<Stats> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    let server = tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let result = drive_health_checks(addr, clients, requests).await;
    server.abort();
    let (wall, lat) = result?;
    Ok(Stats::of(
        "tonic echo (health check, bare server)",
        wall,
        lat,
    ))
}

async fn insert_baseline(
    db: DatabaseConnection,
    clients: usize,
    requests: usize,
    run: &'static str,
) -> anyhow::Result<Stats> {
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_rows (id VARCHAR PRIMARY KEY, payload VARCHAR NOT NULL)",
    )
    .await?;
    let backend = db.get_database_backend();
    let (wall, lat) = drive(clients, requests, move |i| {
        let db = db.clone();
        async move {
            db.execute_raw(db::stmt(
                backend,
                "INSERT INTO bench_rows (id, payload) VALUES (?, ?)",
                vec![format!("{run}-{i}").into(), "x".repeat(200).into()],
            ))
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(Stats::of(
        "single-row insert (sea-orm, same database)",
        wall,
        lat,
    ))
}

/// The floor of a write: a tonic unary handler (the health service's `Check`, implemented here)
/// that runs one transaction inserting a row and an outbox-shaped row, with nothing else.
struct FloorHandler {
    db: DatabaseConnection,
    run: &'static str,
    next: std::sync::atomic::AtomicU64,
    /// Also read one row every call shares, share-locked on PostgreSQL, as SubmitCandidacy reads
    /// its campaign: what that lock alone costs.
    shared_row: bool,
}

#[tonic::async_trait]
impl tonic_health::pb::health_server::Health for FloorHandler {
    async fn check(
        &self,
        _request: tonic::Request<tonic_health::pb::HealthCheckRequest>,
    ) -> Result<tonic::Response<tonic_health::pb::HealthCheckResponse>, tonic::Status> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{}-{n}", self.run);
        let backend = self.db.get_database_backend();
        let write = async {
            let txn = self.db.begin().await?;
            if self.shared_row {
                let lock = if backend == sea_orm::DbBackend::Postgres {
                    " FOR SHARE"
                } else {
                    ""
                };
                txn.execute_unprepared(&format!(
                    "SELECT id FROM bench_floor_campaign WHERE id = 1{lock}"
                ))
                .await?;
            }
            txn.execute_raw(db::stmt(
                backend,
                "INSERT INTO bench_floor_rows (id, payload) VALUES (?, ?)",
                vec![id.clone().into(), "x".repeat(400).into()],
            ))
            .await?;
            txn.execute_raw(db::stmt(
                backend,
                "INSERT INTO bench_floor_outbox (event_id, stream, routing_key, event_type, envelope, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    id.into(),
                    "internal".into(),
                    "toulouse.registration.candidacy_submitted".into(),
                    "candidacy_submitted".into(),
                    vec![7u8; 400].into(),
                    Utc::now().into(),
                ],
            ))
            .await?;
            txn.commit().await
        };
        write
            .await
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(
            tonic_health::pb::HealthCheckResponse {
                status: tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            },
        ))
    }

    type WatchStream =
        tokio_stream::Empty<Result<tonic_health::pb::HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        _request: tonic::Request<tonic_health::pb::HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("the floor bench only writes"))
    }
}

async fn floor_bench(
    db: DatabaseConnection,
    clients: usize,
    requests: usize,
    run: &'static str,
    shared_row: bool,
) -> anyhow::Result<Stats> {
    let serial = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        "BIGSERIAL PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_floor_rows (id VARCHAR PRIMARY KEY, payload VARCHAR NOT NULL)",
    )
    .await?;
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS bench_floor_outbox (id {serial}, event_id VARCHAR NOT NULL UNIQUE, \
         stream VARCHAR NOT NULL, routing_key VARCHAR NOT NULL, event_type VARCHAR NOT NULL, \
         envelope BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL, published_at TIMESTAMPTZ)"
    ))
    .await?;
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS bench_floor_campaign (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)",
    )
    .await?;
    db.execute_unprepared(
        "INSERT INTO bench_floor_campaign (id, name) VALUES (1, 'campaign') ON CONFLICT (id) DO NOTHING",
    )
    .await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handler = FloorHandler {
        db,
        run,
        next: std::sync::atomic::AtomicU64::new(0),
        shared_row,
    };
    let server = tokio::spawn(
        Server::builder()
            .add_service(tonic_health::pb::health_server::HealthServer::new(handler))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let result = drive_health_checks(addr, clients, requests).await;
    server.abort();
    let (wall, lat) = result?;
    let name = match (shared_row, run.strip_prefix("after-")) {
        (true, _) => "floor + one shared row read in the txn (FOR SHARE on PostgreSQL)".to_owned(),
        (false, Some(write)) => format!("floor again, right after {write}"),
        (false, None) => "floor: bare tonic handler, txn of row + outbox row (driver)".to_owned(),
    };
    Ok(Stats::of(&name, wall, lat))
}

async fn submit_bench(node: &LocalNode, clients: usize, requests: usize) -> anyhow::Result<Stats> {
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice])?;
    let chans = channels(node.node.addr, clients.min(16)).await?;
    let mut client = RegistrationServiceClient::new(chans[0].clone());
    let now = Utc::now();
    let year = cplds_runtime::time::paris_year(now);
    let day = chrono::Duration::days(1);
    crate::demo::open_campaign(&mut client, &office, year, now - day, now + day).await?;
    let groups = GroupCommits::read(node);
    let chans = Arc::new(chans);
    let (wall, lat) = drive(clients, requests, move |i| {
        let mut client = RegistrationServiceClient::new(chans[i % chans.len()].clone());
        let token = office.clone();
        async move {
            let mut d = crate::demo::details(i % 12, &crate::demo::PEOPLE[i % 12]);
            d.staff_number = format!("B{i:012}");
            d.email = format!("bench{i}@ac-toulouse.fr");
            client
                .submit_candidacy(authed(
                    pb::SubmitCandidacyRequest {
                        year,
                        candidate: Some(d),
                        ..Default::default()
                    },
                    &token,
                ))
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(Stats::of(
        "SubmitCandidacy (gRPC + auth + validation + row + 2 outbox events)",
        wall,
        lat,
    )
    .with_groups(groups, GroupCommits::read(node)))
}

async fn one_backend(
    label: &str,
    database_url: Option<String>,
    opts: &BenchOptions,
) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let baseline_db = match &database_url {
        Some(url) => {
            db::connect(&DbTarget::Postgres {
                url: url.clone(),
                schema: "bench_baseline".into(),
            })
            .await?
        }
        None => {
            db::connect(&DbTarget::Sqlite {
                path: dir.path().join("baseline.sqlite"),
            })
            .await?
        }
    };
    // Warm-up: connections, prepared statements, page cache.
    let _ = insert_baseline(baseline_db.clone(), 4, 200, "warmup").await?;
    let _ = floor_bench(baseline_db.clone(), 4, 200, "warmup", false).await?;
    let echo = echo_baseline(opts.clients, opts.requests).await?;
    let insert =
        insert_baseline(baseline_db.clone(), opts.clients, opts.requests, "measured").await?;
    let floor = floor_bench(
        baseline_db.clone(),
        opts.clients,
        opts.requests,
        "measured",
        false,
    )
    .await?;
    let floor_shared = floor_bench(
        baseline_db.clone(),
        opts.clients,
        opts.requests,
        "shared",
        true,
    )
    .await?;
    // The machine's speed drifts from one phase to the next (by a quarter on a shared host): each
    // write is compared with the floor measured just before and just after it.
    let mut floor_before = (floor.throughput(), floor.p99);
    let mut writes = Vec::new();
    for write in &opts.writes {
        // Each write on a node (and databases) of its own; node and clients share the process,
        // so the peak bounds the node's own footprint from above.
        crate::memory::reset_peak();
        let bus: SharedBus = Arc::new(InMemoryBus::new());
        let consumers = sink(&bus).await?;
        let (c, r) = (opts.clients, opts.requests);
        let stats = match write {
            Write::Submit => {
                let mut spec = LocalNodeSpec::new(
                    "toulouse",
                    dir.path().join("registration"),
                    crate::academy_modules(&["registration".to_owned()])?,
                    bus,
                );
                spec.config.database_url = database_url.clone();
                let node = LocalNode::start(spec).await?;
                let stats = submit_bench(&node, c, r).await?;
                node.node.shutdown().await?;
                stats
            }
            Write::Mark => {
                crate::bench_writes::marks(dir.path(), database_url.clone(), bus, c, r).await?
            }
            Write::Attendance => {
                crate::bench_writes::attendance(dir.path(), database_url.clone(), bus, c, r).await?
            }
        };
        consumers.abort();
        let peak = crate::memory::peak_mib();
        let after = floor_bench(baseline_db.clone(), c, r, write.floor_after(), false).await?;
        let around = (
            (floor_before.0 + after.throughput()) / 2.0,
            (floor_before.1 + after.p99) / 2,
        );
        floor_before = (after.throughput(), after.p99);
        writes.push((stats, peak, after, around));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== {label}: {} requests, {} concurrent clients ==",
        opts.requests, opts.clients
    );
    let _ = writeln!(
        out,
        "{:<72} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "PG CPU µs/r"
    );
    let baselines = [&echo, &insert, &floor, &floor_shared];
    let measured = writes.iter().flat_map(|(s, _, after, _)| [s, after]);
    for s in baselines.into_iter().chain(measured) {
        let micros =
            |c: Option<Duration>| c.map_or_else(|| "n/a".to_owned(), |c| c.as_micros().to_string());
        let _ = writeln!(
            out,
            "{:<72} {:>10.0} {:>10.2} {:>10.2} {:>12} {:>12}",
            s.name,
            s.throughput(),
            s.p50.as_secs_f64() * 1e3,
            s.p99.as_secs_f64() * 1e3,
            micros(s.cpu_per_request),
            micros(s.db_cpu_per_request.filter(|_| database_url.is_some())),
        );
    }
    for (s, peak, _, (floor_throughput, floor_p99)) in &writes {
        let name = s.name.split_whitespace().next().unwrap_or_default();
        let groups = s
            .units_per_commit
            .zip(s.lock_held)
            .map(|(u, h)| {
                format!(
                    "; {u:.1} units per COMMIT, write lock held {:.0}% of the run",
                    h * 100.0
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "ratios to the floor (mean of the runs just before and after): {name} throughput = {:.2}× floor (target ≥ 0.7); p99 = {:.2}× floor (target ≤ 1.5); {:.2}× echo, {:.2}× single insert; peak RSS {} MiB{groups}",
            s.throughput() / floor_throughput,
            s.p99.as_secs_f64() / floor_p99.as_secs_f64(),
            s.throughput() / echo.throughput(),
            s.throughput() / insert.throughput(),
            crate::memory::format(*peak)
        );
    }
    Ok(out)
}

pub async fn run(opts: BenchOptions) -> anyhow::Result<String> {
    let mut out = String::new();
    if !opts.skip_sqlite || opts.postgres_url.is_none() {
        out.push_str(&one_backend("SQLite (embedded default)", None, &opts).await?);
    }
    if let Some(admin) = &opts.postgres_url {
        let name = format!("cplds_bench_{}", uuid::Uuid::new_v4().simple());
        let admin_db = Database::connect(admin.as_str())
            .await
            .context("connecting to PostgreSQL")?;
        admin_db
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let result = one_backend("PostgreSQL", Some(format!("{base}/{name}")), &opts).await;
        let _ = admin_db
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        out.push_str(&result?);
    }
    Ok(out)
}
