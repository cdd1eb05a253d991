//! The suite's instruments: the table line each case prints, the spy queue that checks order per
//! stream on the exchange, and the pipeline of the runtime cases (a service's outbox and relay in
//! one PostgreSQL schema, a consumer in another, a vhost of their own).

use std::{
    collections::{HashMap, HashSet},
    io::Write,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cplds_runtime::{
    bus::{Binding, QueueSpec, SharedBus, Stream, amqp::AmqpBus},
    clock,
    config::{InboxConfig, QueueType},
    db::{self, DbTarget},
    events::EventEnvelope,
    inbox::{self, Consumer},
    outbox::{Outbox, OutboxRelay, published_count},
    testing::{AMQP_ENV, POSTGRES_ENV, TestPostgres, TestVhost, rabbitmqctl, server_url},
};
use prost::Message as _;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common::{self, RuntimeOnly, count};

/// How long a case may take to converge once its fault is over.
pub const CONVERGE: Duration = Duration::from_secs(180);
/// Events every case drives.
pub const EVENTS: i64 = 10_000;

/// One line of the suite's table.
#[derive(Debug, Clone)]
pub struct Line {
    pub case: &'static str,
    pub committed: i64,
    pub delivered: i64,
    pub applied: i64,
    pub duplicates: i64,
    pub order_violations: i64,
    pub dead_lettered: i64,
    /// From the end of the fault to convergence.
    pub converge_s: f64,
    /// The whole case, set-up included.
    pub total_s: f64,
}

pub const HEADER: &str = "case                         committed delivered   applied dup-applied out-of-order dead-lettered converge-s total-s";

impl Line {
    pub fn text(&self) -> String {
        format!(
            "{:<28} {:>9} {:>9} {:>9} {:>11} {:>12} {:>13} {:>10.1} {:>7.1}",
            self.case,
            self.committed,
            self.delivered,
            self.applied,
            self.duplicates,
            self.order_violations,
            self.dead_lettered,
            self.converge_s,
            self.total_s
        )
    }

    /// Prints the line (stderr, so CI logs show it without `--nocapture`) and appends it to
    /// `chaos-table.txt` in the target's test directory; then checks the guarantees.
    pub fn report_and_check(&self) {
        eprintln!("chaos | {HEADER}\nchaos | {}", self.text());
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos-table.txt");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(f, "{}", self.text());
        }
        assert_eq!(self.applied, self.committed, "{}: lost events", self.case);
        assert_eq!(self.delivered, self.committed, "{}: undelivered", self.case);
        assert_eq!(self.duplicates, 0, "{}: applied twice", self.case);
        assert_eq!(self.order_violations, 0, "{}: out of order", self.case);
        assert_eq!(self.dead_lettered, 0, "{}: dead-lettered", self.case);
    }
}

/// Arrivals (stream, sequence, event id) in arrival order: the number of distinct sequences and
/// of order violations. A first arrival must be the stream's next sequence; a repeat must be the
/// same event (a redelivery, a replay), never another one. Sequences in `excused` (lost on the
/// way by the fault itself, so first seen in a replay) are not held against the order.
pub fn order(arrivals: &[(i32, u64, String)], excused: &HashSet<u64>) -> (i64, i64) {
    let mut seen: HashMap<(i32, u64), &str> = HashMap::new();
    let mut next: HashMap<i32, u64> = HashMap::new();
    let mut violations = 0;
    for (stream, sequence, id) in arrivals {
        if let Some(known) = seen.get(&(*stream, *sequence)) {
            if *known != id.as_str() {
                violations += 1;
            }
            continue;
        }
        seen.insert((*stream, *sequence), id);
        if excused.contains(sequence) {
            continue;
        }
        let expected = next.entry(*stream).or_insert(1);
        while excused.contains(expected) {
            *expected += 1;
        }
        if *sequence != *expected {
            violations += 1;
        }
        *expected = (*expected).max(*sequence + 1);
    }
    (seen.len() as i64, violations)
}

/// A queue bound to `#` on the exchange, consumed by a task that records every arrival.
pub struct Spy {
    pub arrivals: Arc<Mutex<Vec<(i32, u64, String)>>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Spy {
    pub async fn start(bus: SharedBus, name: &str, stream: Stream) -> Self {
        let spec = QueueSpec::new(name, vec![Binding::new(stream, "#")]);
        bus.declare(&spec).await.expect("declare the spy queue");
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let (into, halt) = (arrivals.clone(), stop.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok(mut sub) = bus.subscribe(&spec).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                loop {
                    let d = tokio::select! {
                        d = sub.next() => d,
                        () = halt.cancelled() => return,
                    };
                    let Some(d) = d else { break };
                    if let Ok(e) = EventEnvelope::decode(d.body.as_slice())
                        && e.sequence > 0
                    {
                        into.lock()
                            .unwrap()
                            .push((e.stream, e.sequence, e.event_id));
                    }
                    let _ = d.ack().await;
                }
            }
        });
        Self {
            arrivals,
            stop,
            task,
        }
    }

    pub fn order(&self, excused: &HashSet<u64>) -> (i64, i64) {
        order(&self.arrivals.lock().unwrap(), excused)
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Messages waiting in the vhost's dead-letter queues (`*.dead`).
pub fn dead_queue_messages(vhost: &str) -> i64 {
    let out = rabbitmqctl(&["list_queues", "-q", "-p", vhost, "name", "messages"])
        .expect("rabbitmqctl list_queues");
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, n) = (w.next()?, w.next()?.parse::<i64>().ok()?);
            name.ends_with(".dead").then_some(n)
        })
        .sum()
}

/// The server's address in a URL (`…@host:port/…`), to put a proxy in front of it.
pub async fn server_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let authority = rest.split('/').next().unwrap();
    tokio::net::lookup_host(authority)
        .await
        .unwrap()
        .next()
        .unwrap()
}

/// The inbox settings of the suite: a consumer whose database is away retries every 400 ms at
/// most, so a 10 s outage is 25 attempts, more than the 20 deliveries a requeue loop would get.
pub fn inbox_config() -> InboxConfig {
    InboxConfig {
        retry_first_ms: 50,
        retry_cap_ms: 400,
        poison_attempts: 5,
    }
}

/// A runtime case: the producing service's schema (outbox), the consumer's schema (inbox,
/// effects), a vhost, and the spy.
pub struct Pipeline {
    pub started: Instant,
    pub pg: TestPostgres,
    pub vhost: TestVhost,
    pub amqp_base: String,
    pub producer_target: DbTarget,
    pub producer: DatabaseConnection,
    pub consumer_target: DbTarget,
    /// The consumer's database, read directly (never through a proxy) for the counts.
    pub consumer_db: DatabaseConnection,
    pub outbox: Outbox,
    pub spy: Option<Spy>,
    tasks: Vec<(CancellationToken, JoinHandle<()>)>,
}

impl Pipeline {
    /// `None` (and a note) when the real-server tests are not switched on.
    pub async fn new(case: &str) -> Option<Self> {
        let started = Instant::now();
        let admin = server_url(POSTGRES_ENV, case)?;
        let amqp_base = server_url(AMQP_ENV, case)?;
        cplds_runtime::install_crypto_provider();
        cplds_runtime::telemetry::init_for_tests();
        let pg = TestPostgres::create(&admin).await.unwrap();
        let vhost = TestVhost::create(&amqp_base).unwrap();
        let producer_target = DbTarget::Postgres {
            url: pg.url.clone(),
            schema: "toulouse_registration".into(),
        };
        let consumer_target = DbTarget::Postgres {
            url: pg.url.clone(),
            schema: "toulouse_examination".into(),
        };
        let producer = db::open::<RuntimeOnly>(&producer_target).await.unwrap();
        common::create_suite_tables(&producer).await.unwrap();
        let consumer_db = db::open::<RuntimeOnly>(&consumer_target).await.unwrap();
        common::create_suite_tables(&consumer_db).await.unwrap();
        Some(Self {
            started,
            pg,
            vhost,
            amqp_base,
            producer_target,
            producer,
            consumer_target,
            consumer_db,
            outbox: Outbox::new(common::ACADEMY, common::SOURCE, clock::system()),
            spy: None,
            tasks: Vec::new(),
        })
    }

    /// A bus on the case's vhost, directly or through a proxy at `via`.
    pub async fn bus(&self, name: &str, via: Option<SocketAddr>) -> SharedBus {
        let url = match via {
            Some(addr) => cplds_runtime::testing::with_authority(&self.vhost.url, addr),
            None => self.vhost.url.clone(),
        };
        Arc::new(
            AmqpBus::connect(&url, name, QueueType::Quorum, Duration::from_secs(5))
                .await
                .unwrap(),
        )
    }

    pub async fn start_spy(&mut self) {
        let bus = self.bus("chaos-spy", None).await;
        self.spy = Some(Spy::start(bus, "toulouse.spy", Stream::Internal).await);
    }

    /// Declares the consumer's queue (as the broker definitions would).
    pub async fn declare_queue(&self) {
        self.bus("chaos-declare", None)
            .await
            .declare(&common::consumer_queue())
            .await
            .unwrap();
    }

    /// An in-process relay on its own pool, running until the case ends.
    pub async fn spawn_relay(&mut self, bus: SharedBus) -> Arc<OutboxRelay> {
        let conn = db::connect(&self.producer_target).await.unwrap();
        let relay = Arc::new(OutboxRelay::new(
            conn,
            bus,
            self.outbox.clone(),
            common::relay_config(),
        ));
        relay.expect(common::consumer_queue().bindings);
        let stop = CancellationToken::new();
        let task = tokio::spawn(OutboxRelay::run_shared(
            relay.clone(),
            stop.clone(),
            Duration::from_secs(5),
        ));
        self.tasks.push((stop, task));
        relay
    }

    /// A consumer replica (the real inbox runner) on `db`, running until the case ends.
    pub fn spawn_consumer(&mut self, db: DatabaseConnection, bus: SharedBus) {
        let stop = CancellationToken::new();
        let task = tokio::spawn(inbox::run(
            db,
            bus,
            Consumer {
                name: "chaos".into(),
                queue: common::consumer_queue(),
                handler: Arc::new(common::Recorder),
            },
            clock::system(),
            stop.clone(),
            inbox::ConsumerOptions {
                config: inbox_config(),
                ..Default::default()
            },
        ));
        self.tasks.push((stop, task));
    }

    /// A pool on the consumer's schema, directly or through a proxy in front of PostgreSQL;
    /// short timeouts, as a pool in production fails once its own timeout is over.
    pub async fn consumer_pool(&self, via: Option<SocketAddr>) -> DatabaseConnection {
        let DbTarget::Postgres { url, schema } = &self.consumer_target else {
            unreachable!()
        };
        let url = match via {
            Some(addr) => cplds_runtime::testing::with_authority(url, addr),
            None => url.clone(),
        };
        let mut opts = ConnectOptions::new(url);
        opts.set_schema_search_path(schema.as_str())
            .max_connections(4)
            .acquire_timeout(Duration::from_millis(500))
            .connect_timeout(Duration::from_millis(500))
            .sqlx_logging(false);
        Database::connect(opts).await.unwrap()
    }

    /// Appends the stream in the background (`EVENTS` events, paced so faults land mid-stream).
    pub fn spawn_writer(&self, pace: Duration) -> JoinHandle<()> {
        let (db, outbox) = (self.producer.clone(), self.outbox.clone());
        tokio::spawn(async move {
            common::produce(&db, &outbox, 0, EVENTS, pace, &CancellationToken::new())
                .await
                .unwrap();
        })
    }

    pub async fn applied(&self) -> i64 {
        count(
            &self.consumer_db,
            "SELECT COUNT(DISTINCT event_id) FROM effects",
        )
        .await
        .unwrap()
    }

    pub async fn published(&self) -> i64 {
        published_count(&self.producer).await.unwrap()
    }

    /// Waits until `check` holds (polled), failing after `deadline`.
    pub async fn until(&self, what: &str, deadline: Duration, check: impl AsyncFn() -> bool) {
        cplds_runtime::testing::wait_until(deadline, what, async || check().await).await
    }

    /// Waits for every committed event to be applied and seen by the spy, stops every task and
    /// counts. `healed` is when the fault ended.
    pub async fn finish(mut self, case: &'static str, healed: Instant) -> Line {
        let committed = count(&self.producer, "SELECT COUNT(*) FROM produced")
            .await
            .unwrap();
        assert_eq!(committed, EVENTS, "the writer committed the whole stream");
        let start = Instant::now();
        loop {
            let spied = self.spy.as_ref().map_or(0, |s| s.order(&HashSet::new()).0);
            let applied = self.applied().await;
            if applied == committed && spied == committed {
                break;
            }
            // What stalled, for a failure read from a CI log.
            assert!(
                start.elapsed() < CONVERGE,
                "{case}: not converged after {CONVERGE:?}: committed {committed}, published {}, \
                 seen by the spy {spied}, applied {applied}",
                self.published().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let converge_s = healed.elapsed().as_secs_f64();
        for (stop, task) in self.tasks.drain(..) {
            stop.cancel();
            let _ = task.await;
        }
        let spy = self.spy.take().unwrap();
        let (delivered, spy_violations) = spy.order(&HashSet::new());
        spy.stop().await;
        let rows = count(&self.consumer_db, "SELECT COUNT(*) FROM effects")
            .await
            .unwrap();
        let applied = self.applied().await;
        let apply_violations = self.apply_order().await;
        let dead = count(&self.consumer_db, "SELECT COUNT(*) FROM dead_letters")
            .await
            .unwrap()
            + dead_queue_messages(&self.vhost.name);
        Line {
            case,
            committed,
            delivered,
            applied,
            duplicates: rows - applied,
            order_violations: spy_violations + apply_violations,
            dead_lettered: dead,
            converge_s,
            total_s: self.started.elapsed().as_secs_f64(),
        }
    }

    /// The consumer's own apply order: effects in insertion order must follow the sequence.
    async fn apply_order(&self) -> i64 {
        use sea_orm::ConnectionTrait;
        let rows = self
            .consumer_db
            .query_all_raw(cplds_runtime::db::stmt(
                self.consumer_db.get_database_backend(),
                "SELECT sequence, event_id FROM effects ORDER BY id",
                vec![],
            ))
            .await
            .unwrap();
        let arrivals: Vec<(i32, u64, String)> = rows
            .iter()
            .map(|r| {
                let s: i64 = r.try_get("", "sequence").unwrap();
                (0, s as u64, r.try_get("", "event_id").unwrap())
            })
            .collect();
        order(&arrivals, &HashSet::new()).1
    }
}
