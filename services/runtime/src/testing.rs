//! Test support (feature `test-support`): throwaway PostgreSQL databases and RabbitMQ vhosts on
//! the real local servers, and waiting on a condition with a deadline instead of sleeping.
//!
//! Real-server tests run when `CPLDS_TEST_POSTGRES_URL` / `CPLDS_TEST_AMQP_URL` are set (CI sets
//! them); without them they print that they were skipped.

use std::{future::Future, process::Command, time::Duration};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction};

use crate::{
    db::stmt,
    events::EventEnvelope,
    inbox::{EventHandler, HandleError},
};

pub const POSTGRES_ENV: &str = "CPLDS_TEST_POSTGRES_URL";
pub const AMQP_ENV: &str = "CPLDS_TEST_AMQP_URL";

/// The server URL, or `None` (and a note on stderr) when the test is not switched on.
pub fn server_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: set {var} to run it against a real server");
            None
        }
    }
}

/// SQLite in memory, on one connection (each new one would open another, empty, database).
pub async fn sqlite_in_memory() -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new("sqlite::memory:");
    opts.max_connections(1);
    Database::connect(opts).await
}

/// The empty databases a store test runs on: SQLite in memory, and a PostgreSQL database of its
/// own (dropped with its guard) when the test is switched on.
pub async fn store_databases(
    test: &str,
) -> anyhow::Result<Vec<(DatabaseConnection, Option<TestPostgres>)>> {
    let mut out = vec![(sqlite_in_memory().await?, None)];
    if let Some(url) = server_url(POSTGRES_ENV, test) {
        let pg = TestPostgres::create(&url).await?;
        out.push((Database::connect(pg.url.as_str()).await?, Some(pg)));
    }
    Ok(out)
}

/// A database of its own on the PostgreSQL server, dropped at the end of the test.
///
/// Dropping a database costs a second or more (a checkpoint), so it is not waited for: the drop
/// runs on a thread of its own, and a database a finished test process left behind (its name
/// carries its creation time) is reclaimed by the next test that creates one.
pub struct TestPostgres {
    admin_url: String,
    pub name: String,
    pub url: String,
}

/// Leftover test databases older than this, with nobody connected, are dropped.
const LEFTOVER_AFTER_SECS: i64 = 600;

impl TestPostgres {
    /// `admin_url` points at an existing database (e.g. `postgres://postgres@127.0.0.1:5432/test`).
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let now = chrono::Utc::now().timestamp();
        let name = format!(
            "t_{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let admin = Database::connect(admin_url).await?;
        reclaim_leftovers(&admin, now).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }
}

/// Drops test databases whose test is long over (best effort: another run may race us to it).
async fn reclaim_leftovers(admin: &sea_orm::DatabaseConnection, now: i64) {
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database d WHERE datname LIKE 't\\_%' \
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
                .to_owned(),
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name.split('_').nth(1).and_then(|t| t.parse::<i64>().ok());
        if created.is_some_and(|t| now - t > LEFTOVER_AFTER_SECS) {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Not joined: the test need not wait for the checkpoint a drop costs. If the process ends
        // first, `reclaim_leftovers` drops it later.
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
    }
}

/// A vhost of its own on the RabbitMQ server (made with `rabbitmqctl`), deleted at the end.
pub struct TestVhost {
    pub name: String,
    /// AMQP URL of the vhost.
    pub url: String,
}

impl TestVhost {
    /// `base_url` is the server URL without vhost, e.g. `amqp://guest:guest@127.0.0.1:5672`.
    pub fn create(base_url: &str) -> anyhow::Result<Self> {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name])?;
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])?;
        Ok(Self {
            url: format!("{}/{name}", base_url.trim_end_matches('/')),
            name,
        })
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_vhost", &self.name]);
    }
}

pub fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("rabbitmqctl").args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "rabbitmqctl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Signs hand-made messages as their envelopes' producers would (the process's federation keys,
/// those every [`TestNode`] trusts): what a test publishes in a service's name.
pub fn signed(mut messages: Vec<crate::bus::Message>) -> Vec<crate::bus::Message> {
    let keys = crate::event_signing::FederationKeys::shared();
    for m in &mut messages {
        assert!(
            keys.sign_as_producer(m),
            "{}: not an envelope of a known producer",
            m.routing_key
        );
    }
    messages
}

/// Polls `check` until it returns `Some`, or fails the test after `deadline`.
pub async fn wait_for<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    use crate::poll::{Check, until};
    until(deadline, Duration::from_millis(20), async || {
        Ok(match check().await {
            Some(v) => Check::Done(v),
            None => Check::Waiting(format!("waiting for {what}")),
        })
    })
    .await
    .unwrap_or_else(|e| panic!("timed out: {e}"))
}

/// Polls `check` until it holds, or fails the test after `deadline`.
pub async fn wait_until(deadline: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    use crate::poll::{Check, until};
    until(deadline, Duration::from_millis(20), async || {
        Ok(match check().await {
            true => Check::Done(()),
            false => Check::Waiting(format!("waiting for {what}")),
        })
    })
    .await
    .unwrap_or_else(|e| panic!("timed out: {e}"))
}

/// A TCP proxy whose connections a test can cut, to play a network failure between a client
/// (the bus) and a real server (RabbitMQ) without touching anything else on that server.
pub struct CuttableProxy {
    pub addr: std::net::SocketAddr,
    state: std::sync::Arc<ProxyState>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    refusing: std::sync::atomic::AtomicBool,
    /// For new connections: how many AMQP frames of the server's to pass before going silent.
    answering_frames: std::sync::Mutex<Option<usize>>,
    cuts: std::sync::atomic::AtomicU64,
    connections: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl CuttableProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = std::sync::Arc::new(ProxyState::default());
        let st = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if st.refusing.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let answering = *st.answering_frames.lock().expect("proxy poisoned");
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        match answering {
                            None => {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                            Some(frames) => {
                                let (mut from_client, to_client) = inbound.into_split();
                                let (from_server, mut to_server) = outbound.into_split();
                                let up = tokio::io::copy(&mut from_client, &mut to_server);
                                let down = pass_frames(from_server, to_client, frames);
                                let _ = tokio::join!(up, down);
                            }
                        }
                    }
                });
                st.connections
                    .lock()
                    .expect("proxy poisoned")
                    .push(task.abort_handle());
            }
        });
        Ok(Self {
            addr,
            state,
            accept,
        })
    }

    /// Kills every open connection (both sides see a reset).
    pub fn cut(&self) {
        for c in self
            .state
            .connections
            .lock()
            .expect("proxy poisoned")
            .drain(..)
        {
            c.abort();
        }
        self.state
            .cuts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// While refusing, new connections are closed at once.
    pub fn set_refusing(&self, refusing: bool) {
        self.state
            .refusing
            .store(refusing, std::sync::atomic::Ordering::SeqCst);
    }

    /// While set, new connections pass only the server's first `frames` AMQP frames and then
    /// keep the socket open in silence: a broker that completes the handshake and stops
    /// answering (a hung node, a half-open path).
    pub fn set_answering_frames(&self, frames: Option<usize>) {
        *self.state.answering_frames.lock().expect("proxy poisoned") = frames;
    }

    pub fn cuts(&self) -> u64 {
        self.state.cuts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Copies whole AMQP frames (type, channel, size, payload, end) from the server to the client,
/// `frames` of them, then reads and drops the rest.
async fn pass_frames(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frames: usize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..frames {
        let mut header = [0_u8; 7];
        from.read_exact(&mut header).await?;
        let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
        let mut rest = vec![0_u8; size + 1];
        from.read_exact(&mut rest).await?;
        to.write_all(&header).await?;
        to.write_all(&rest).await?;
    }
    tokio::io::copy(&mut from, &mut tokio::io::sink()).await?;
    Ok(())
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Rewrites the host:port of an AMQP URL (to go through a [`CuttableProxy`]).
pub fn with_authority(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with a scheme");
    let (userinfo, after) = match rest.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    let path = after.find('/').map_or("", |i| &after[i..]);
    match userinfo {
        Some(u) => format!("{scheme}://{u}@{addr}{path}"),
        None => format!("{scheme}://{addr}{path}"),
    }
}

/// An académie node (or the national node) started in-process on a random loopback port, with
/// its own data directory, a hand-set clock and a token issuer: the sandbox tests talk to through
/// the public gRPC interface only.
pub struct TestNode {
    pub node: crate::host::RunningNode,
    pub addr: std::net::SocketAddr,
    pub issuer: crate::auth::TokenIssuer,
    pub clock: std::sync::Arc<crate::clock::ManualClock>,
    pub bus: crate::bus::SharedBus,
    pub config: crate::config::Config,
    _dir: tempfile::TempDir,
}

/// A last change to a test node's configuration.
pub type ConfigTweak = Box<dyn FnOnce(&mut crate::config::Config) + Send>;

pub struct TestNodeOptions {
    pub academy: String,
    pub modules: Vec<std::sync::Arc<dyn crate::host::ServiceModule>>,
    pub bus: Option<crate::bus::SharedBus>,
    pub clock: Option<std::sync::Arc<crate::clock::ManualClock>>,
    pub database_url: Option<String>,
    pub amqp_url: Option<String>,
    /// Last say on the configuration (intervals, thresholds...).
    pub tweak_config: Option<ConfigTweak>,
}

impl TestNodeOptions {
    pub fn new(
        academy: &str,
        modules: Vec<std::sync::Arc<dyn crate::host::ServiceModule>>,
    ) -> Self {
        Self {
            academy: academy.to_owned(),
            modules,
            bus: None,
            clock: None,
            database_url: None,
            amqp_url: None,
            tweak_config: None,
        }
    }
}

impl TestNode {
    /// Waits until `service`'s database keeps at least `n` dead letters (of every consumer of
    /// that service), and returns them oldest first.
    pub async fn wait_dead_letters(
        &self,
        service: &str,
        n: usize,
    ) -> Vec<crate::dead_letters::DeadLetter> {
        let db = self.node.databases.get(service).cloned();
        wait_for(
            std::time::Duration::from_secs(20),
            &format!("{n} dead letter(s) in {service}"),
            || {
                let db = db.clone();
                async move {
                    let db = db?;
                    let found = crate::dead_letters::list(&db, None, true, 0, 1_000)
                        .await
                        .ok()?;
                    (found.len() >= n).then_some(found)
                }
            },
        )
        .await
    }

    pub async fn start(opts: TestNodeOptions) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        crate::telemetry::init_for_tests();
        let dir = tempfile::tempdir()?;
        let mut config = crate::config::Config {
            academy: Some(opts.academy.clone()),
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir: dir.path().to_path_buf(),
            database_url: opts.database_url.clone(),
            amqp_url: opts.amqp_url.clone(),
            amqp_queue_type: crate::config::QueueType::Classic,
            outbox: crate::config::OutboxConfig {
                poll_interval_ms: 200,
                heartbeat_interval_ms: 1000,
                ..Default::default()
            },
            server: crate::config::ServerConfig {
                shutdown_grace_ms: 3000,
                ..Default::default()
            },
            ..Default::default()
        };
        if let Some(tweak) = opts.tweak_config {
            tweak(&mut config);
        }
        let clock = opts
            .clock
            .unwrap_or_else(|| crate::clock::ManualClock::new(chrono::Utc::now()));
        let bus = match opts.bus {
            Some(b) => b,
            None => crate::bus::connect(&config, &format!("test-{}", opts.academy)).await?,
        };
        let crate::sandbox::LocalNode {
            node,
            issuer,
            config,
        } = crate::sandbox::LocalNode::start(crate::sandbox::LocalNodeSpec {
            config,
            modules: opts.modules,
            bus: bus.clone(),
            clock: clock.clone(),
        })
        .await?;
        Ok(Self {
            addr: node.addr,
            node,
            issuer,
            clock,
            bus,
            config,
            _dir: dir,
        })
    }

    /// A token of this node's académie.
    pub fn token(&self, subject: &str, roles: &[crate::auth::Role]) -> String {
        self.issuer
            .mint(subject, self.node.node.code(), roles)
            .expect("mint")
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect")
    }
}

/// Reads back the QR code drawn with [`crate::pdf::Page::qr_code`] at (x, y), `side` wide, by
/// rasterising the page's filled rectangles around it: what a phone's camera would read.
pub fn read_qr(pdf: &[u8], x: f32, y: f32, side: f32) -> String {
    let text = String::from_utf8_lossy(pdf);
    let px_per_pt = 4.0;
    let margin = 20.0; // quiet zone, points
    let size = ((side + 2.0 * margin) * px_per_pt) as usize;
    let mut dark = vec![false; size * size];
    for line in text.lines().filter(|l| l.ends_with(" re f")) {
        let n: Vec<f32> = line
            .split_whitespace()
            .take(4)
            .map(|t| t.parse().expect("a number"))
            .collect();
        // Only what lies within the code's square and its quiet zone.
        if n[0] < x - margin
            || n[0] > x + side + margin
            || n[1] < y - margin
            || n[1] > y + side + margin
        {
            continue;
        }
        let to_px = |v: f32| ((v + margin) * px_per_pt).round() as usize;
        let (x0, x1) = (to_px(n[0] - x), to_px(n[0] - x + n[2]));
        // PDF y grows upwards; image rows grow downwards.
        let (y0, y1) = (to_px(n[1] - y), to_px(n[1] - y + n[3]));
        for row in y0..y1.min(size) {
            for col in x0..x1.min(size) {
                dark[(size - 1 - row) * size + col] = true;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(size, size, |c, r| {
        if dark[r * size + c] { 0 } else { 255 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code at ({x}, {y})");
    grids[0].decode().expect("a readable QR code").1
}

/// What a plain HTTP call answered.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.0 call (the server closes after answering, so no client stack is needed): what a
/// browser or `curl` does with the node's public pages.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> anyhow::Result<HttpReply> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await??;
    let text = String::from_utf8(raw)?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no header end in {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("bad status line in {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpReply {
        status,
        headers,
        body: body.to_owned(),
    })
}

pub use crate::auth::authed;

/// The field paths named in an INVALID_ARGUMENT status.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

/// The rule named in a FAILED_PRECONDITION status.
pub fn precondition_rule(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
}

/// Everything the process logs from now on (every level of the project's crates, `info` of the
/// others), as text: for tests that check what logs and traces may hold. Installs the global
/// subscriber, so it must run first in its test binary.
pub fn capture_logs() -> LogCapture {
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let installed = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,cplds=trace"))
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .try_init()
        .is_ok();
    assert!(
        installed,
        "capture_logs must run before any other subscriber"
    );
    LogCapture(buffer)
}

pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A consumer for tests: each application of an event is a row of `effects (event_id,
/// sequence)`, a table the test creates without a unique key, so a second application shows.
pub struct Recorder;

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO effects (event_id, sequence) VALUES (?, ?)",
            vec![
                event.event_id.clone().into(),
                (event.sequence as i64).into(),
            ],
        ))
        .await?;
        Ok(())
    }
}
