//! The national cases: an académie node (the real host: its relay, heartbeats and replay
//! answers) whose "registration" service writes 10 000 national facts with `Outbox::append`, and
//! the national node (the real ingest, replay job and completeness), on one PostgreSQL database
//! (a schema each) and one vhost; the académie's bus goes through a [`Tap`] that plays the
//! network (facts lost on the way) or a newer académie build (payloads this build does not know).

use std::{
    collections::{HashMap, HashSet},
    ops::RangeInclusive,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use cplds_national::NationalModule;
use cplds_proto::v1::{
    self as pb, national_statistics_service_client::NationalStatisticsServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::{BusError, EventBus, Message, QueueSpec, SharedBus, Stream, Subscription, amqp::AmqpBus},
    clock::ManualClock,
    config::QueueType,
    db::stmt,
    events::{EventEnvelope, Payload},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    outbox::Outbox,
    poll::Check,
    testing::{
        AMQP_ENV, POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, TestVhost, authed,
        server_url,
    },
};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use tokio_util::sync::CancellationToken;

use crate::{
    common::{RuntimeOnly, count},
    harness::{CONVERGE, EVENTS, Line, Spy, dead_queue_messages},
};

const ACADEMY: &str = "toulouse";
const SOURCE: &str = "registration";

/// The académie's bus as the network and the académie's build make it: national facts whose
/// sequence is in `lose` are lost on the way the first time (as on a broken federation link);
/// while `newer_every` is set, every such multiple is sent in the encoding of a newer build (its
/// payload under a field this build does not know).
pub struct Tap {
    inner: SharedBus,
    lose: Mutex<Option<RangeInclusive<u64>>>,
    lost: Mutex<HashSet<u64>>,
    newer_every: AtomicU64,
}

impl Tap {
    fn unknown_payload(body: &[u8]) -> Option<Vec<u8>> {
        let mut e = EventEnvelope::decode(body).ok()?;
        e.payload = None;
        e.r#type = "national_candidacy_relocated".into();
        let mut body = e.encode_to_vec();
        let inner = b"\x0a\x05k-new\x10\xe9\x0f";
        prost::encoding::encode_key(199, prost::encoding::WireType::LengthDelimited, &mut body);
        prost::encoding::encode_varint(inner.len() as u64, &mut body);
        body.extend_from_slice(inner);
        Some(body)
    }
}

#[async_trait]
impl EventBus for Tap {
    async fn declare(&self, q: &QueueSpec) -> Result<(), BusError> {
        self.inner.declare(q).await
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let mut sent = Vec::with_capacity(messages.len());
        for m in messages {
            let sequence = (m.stream == Stream::National)
                .then(|| EventEnvelope::decode(m.body.as_slice()).ok())
                .flatten()
                .map_or(0, |e| e.sequence);
            if sequence > 0 {
                let lose = self.lose.lock().unwrap().clone();
                if lose.is_some_and(|r| r.contains(&sequence))
                    && self.lost.lock().unwrap().insert(sequence)
                {
                    continue;
                }
                let every = self.newer_every.load(Ordering::SeqCst);
                if every > 0
                    && sequence.is_multiple_of(every)
                    && let Some(body) = Self::unknown_payload(&m.body)
                {
                    // As a newer académie would send it: routed under its own name and signed by
                    // the producer (the sandbox's nodes share one key set).
                    let mut m = m.clone();
                    m.body = body;
                    if let Some(base) = m.routing_key.rsplit_once('.').map(|(base, _)| base) {
                        m.routing_key = format!("{base}.national_candidacy_relocated");
                    }
                    m.event_type = "national_candidacy_relocated".into();
                    cplds_runtime::event_signing::FederationKeys::shared().sign_as_producer(&mut m);
                    sent.push(m);
                    continue;
                }
            }
            sent.push(m.clone());
        }
        self.inner.publish(&sent).await
    }

    async fn subscribe(&self, q: &QueueSpec) -> Result<Subscription, BusError> {
        self.inner.subscribe(q).await
    }

    fn kind(&self) -> &'static str {
        "chaos-tap"
    }
}

/// The académie's "registration": only its outbox (relay, heartbeats, replay answers by the
/// host); the suite writes its facts.
struct FactSource;

#[async_trait]
impl ServiceModule for FactSource {
    fn schema(&self) -> Schema {
        Schema::of::<RuntimeOnly>(SOURCE)
    }

    fn mount(&self, _ctx: &ServiceContext, _mount: &mut Mount) -> anyhow::Result<()> {
        Ok(())
    }
}

pub fn registration(key: &str) -> Payload {
    Payload::NationalCandidacyRegistered(pb::NationalCandidacyRegistered {
        year: 2025,
        candidate_key: key.into(),
        profile: Some(pb::CandidateProfile {
            sex: pb::Sex::Female as i32,
            department: "31".into(),
            ..Default::default()
        }),
        eligible: true,
    })
}

pub struct Fed {
    started: Instant,
    pg: TestPostgres,
    vhost: TestVhost,
    pub tap: Arc<Tap>,
    spy: Spy,
    /// Follows real time, for the national node's replay backoff (test nodes' clocks are set by
    /// hand).
    clock: Arc<ManualClock>,
    ticker: CancellationToken,
    pub national: Option<TestNode>,
    pub academy: Option<TestNode>,
}

impl Fed {
    pub async fn new(case: &str) -> Option<Self> {
        let started = Instant::now();
        let admin = server_url(POSTGRES_ENV, case)?;
        let amqp = server_url(AMQP_ENV, case)?;
        let pg = TestPostgres::create(&admin).await.unwrap();
        let vhost = TestVhost::create(&amqp).unwrap();
        let connect = |name: &'static str| {
            let url = vhost.url.clone();
            async move {
                Arc::new(
                    AmqpBus::connect(&url, name, QueueType::Classic, Duration::from_secs(5))
                        .await
                        .unwrap(),
                ) as SharedBus
            }
        };
        let spy = Spy::start(connect("chaos-spy").await, "spy.national", Stream::National).await;
        let tap = Arc::new(Tap {
            inner: connect("chaos-academie").await,
            lose: Mutex::new(None),
            lost: Mutex::new(HashSet::new()),
            newer_every: AtomicU64::new(0),
        });
        let clock = ManualClock::new(chrono::Utc::now());
        let ticker = CancellationToken::new();
        let (c, stop) = (clock.clone(), ticker.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                c.set(chrono::Utc::now());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Some(Self {
            started,
            pg,
            vhost,
            tap,
            spy,
            clock,
            ticker,
            national: None,
            academy: None,
        })
    }

    pub async fn start_national(&mut self) {
        let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
        opts.database_url = Some(self.pg.url.clone());
        opts.amqp_url = Some(self.vhost.url.clone());
        opts.clock = Some(self.clock.clone());
        opts.tweak_config = Some(Box::new(|c| {
            c.national.gap_check_interval_ms = 200;
            c.national.replay_backoff_ms = 100;
        }));
        self.national = Some(TestNode::start(opts).await.unwrap());
    }

    pub async fn stop_national(&mut self) {
        if let Some(n) = self.national.take() {
            n.node.shutdown().await.unwrap();
        }
    }

    pub async fn start_academy(&mut self) {
        let mut opts = TestNodeOptions::new(ACADEMY, vec![Arc::new(FactSource)]);
        opts.database_url = Some(self.pg.url.clone());
        opts.amqp_url = Some(self.vhost.url.clone());
        opts.bus = Some(self.tap.clone());
        opts.clock = Some(self.clock.clone());
        opts.tweak_config = Some(Box::new(|c| {
            c.outbox.batch_size = 500;
            c.outbox.poll_interval_ms = 50;
        }));
        self.academy = Some(TestNode::start(opts).await.unwrap());
    }

    pub async fn stop_academy(&mut self) {
        if let Some(a) = self.academy.take() {
            a.node.shutdown().await.unwrap();
        }
    }

    pub fn academy_db(&self) -> DatabaseConnection {
        self.academy.as_ref().unwrap().node.databases[SOURCE].clone()
    }

    pub fn national_db(&self) -> DatabaseConnection {
        self.national.as_ref().unwrap().node.databases["national"].clone()
    }

    /// Appends facts `from..to` (candidate keys `{prefix}{n}`), 100 per transaction.
    pub async fn write(&self, prefix: &str, from: i64, to: i64) {
        let db = self.academy_db();
        let outbox = Outbox::new(ACADEMY, SOURCE, self.clock.clone());
        let mut n = from;
        while n < to {
            let end = std::cmp::min(n + crate::common::BATCH, to);
            let txn = db.begin().await.unwrap();
            for k in n..end {
                outbox
                    .append(&txn, registration(&format!("{prefix}{k}")))
                    .await
                    .unwrap();
            }
            txn.commit().await.unwrap();
            n = end;
        }
    }

    /// The académie's national events not yet published.
    pub async fn academy_pending(&self) -> i64 {
        count(
            &self.academy_db(),
            "SELECT COUNT(*) FROM outbox o LEFT JOIN outbox_sequence s ON s.stream = o.stream \
             WHERE o.stream = 'national' AND (o.sequence IS NULL OR o.sequence > s.published_through)",
        )
        .await
        .unwrap()
    }

    /// Facts of the académie applied by the national node (kept ones not counted).
    pub async fn applied(&self) -> i64 {
        count(
            &self.national_db(),
            "SELECT COUNT(*) FROM received_events WHERE academy = 'toulouse' AND applied AND NOT waiting_upgrade",
        )
        .await
        .unwrap()
    }

    pub async fn records(&self, like: &str) -> i64 {
        count(
            &self.national_db(),
            &format!(
                "SELECT COUNT(*) FROM records WHERE academy = 'toulouse' AND candidate_key LIKE '{like}'"
            ),
        )
        .await
        .unwrap()
    }

    /// What GetCompleteness (the public gRPC API) says of the académie's registration.
    pub async fn completeness(&self) -> Option<pb::SourceCompleteness> {
        let node = self.national.as_ref()?;
        let mut client = NationalStatisticsServiceClient::new(node.channel().await);
        let token = node.token("dgesco@education.gouv.fr", &[Role::Ministry]);
        let c = client
            .get_completeness(authed(
                pb::GetCompletenessRequest {
                    academy: ACADEMY.into(),
                },
                &token,
            ))
            .await
            .ok()?
            .into_inner();
        c.sources.into_iter().find(|s| s.source == SOURCE)
    }

    pub async fn wait_source(
        &self,
        what: &str,
        deadline: Duration,
        done: impl Fn(&pb::SourceCompleteness) -> bool,
    ) -> pb::SourceCompleteness {
        let every = Duration::from_millis(100);
        cplds_runtime::poll::until(deadline, every, async || {
            Ok(match self.completeness().await {
                Some(s) if done(&s) => Check::Done(s),
                seen => Check::Waiting(format!("{what}: {seen:?}")),
            })
        })
        .await
        .unwrap()
    }

    pub async fn reset_source(&self) -> pb::ResetSourceResponse {
        let node = self.national.as_ref().unwrap();
        let mut client = NationalStatisticsServiceClient::new(node.channel().await);
        let it = node.token("it@education.gouv.fr", &[Role::ItAdmin]);
        client
            .reset_source(authed(
                pb::ResetSourceRequest {
                    academy: ACADEMY.into(),
                    source: SOURCE.into(),
                    from_sequence: 0,
                },
                &it,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until the national node applied the académie's whole stream, is up to date and the
    /// spy saw every fact; then counts, against the académie's outbox (sequence → event id).
    /// The spy's arrivals from `spy_from` on (a restored académie's second life) are checked
    /// for order apart, with `excused` (sequences not published again in that life, or lost on
    /// the way) not held against it.
    pub async fn finish(
        mut self,
        case: &'static str,
        healed: Instant,
        spy_from: usize,
        excused: HashSet<u64>,
    ) -> Line {
        let stream = self.academy_stream().await;
        let committed = stream.len() as i64;
        assert_eq!(committed, EVENTS, "the académie committed the whole stream");
        let state = self
            .wait_source("the source up to date", CONVERGE, |s| {
                s.applied_sequence == EVENTS as u64
                    && s.state == pb::SourceState::UpToDate as i32
                    && s.facts_waiting_for_upgrade == 0
            })
            .await;
        assert!(state.gaps.is_empty(), "{state:?}");
        let delivered = |arrivals: &[(i32, u64, String)]| {
            arrivals
                .iter()
                .filter(|(_, s, id)| stream.get(s) == Some(id))
                .map(|(_, s, _)| *s)
                .collect::<HashSet<_>>()
                .len() as i64
        };
        let start = Instant::now();
        while delivered(&self.spy.arrivals.lock().unwrap()) < committed {
            assert!(start.elapsed() < CONVERGE, "the spy saw every fact");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let converge_s = healed.elapsed().as_secs_f64();
        let arrivals = self.spy.arrivals.lock().unwrap().clone();
        // Each life of the académie in its own order (a restored one issues sequences again).
        let spy_violations = crate::harness::order(&arrivals[..spy_from], &HashSet::new()).1
            + crate::harness::order(&arrivals[spy_from..], &excused).1;
        let national = self.national_db();
        let rows = national
            .query_all_raw(stmt(
                national.get_database_backend(),
                "SELECT sequence, event_id FROM received_events \
                 WHERE academy = 'toulouse' AND source = 'registration' AND applied AND NOT waiting_upgrade",
                vec![],
            ))
            .await
            .unwrap();
        let mut applied = 0;
        let mut ids = HashSet::new();
        let mut beyond = 0;
        for r in &rows {
            let sequence: i64 = r.try_get("", "sequence").unwrap();
            let id: String = r.try_get("", "event_id").unwrap();
            if stream.get(&(sequence as u64)) == Some(&id) {
                applied += 1;
            }
            if sequence > state.applied_sequence as i64 {
                beyond += 1;
            }
            ids.insert(id);
        }
        let records = self.records("%").await;
        assert_eq!(records, committed, "one record per registration fact");
        let dead = count(&national, "SELECT COUNT(*) FROM dead_letters")
            .await
            .unwrap()
            + dead_queue_messages(&self.vhost.name);
        self.stop_academy().await;
        self.stop_national().await;
        self.ticker.cancel();
        Line {
            case,
            committed,
            delivered: delivered(&arrivals),
            applied,
            duplicates: rows.len() as i64 - ids.len() as i64,
            // Applied beyond the contiguous sequence = applied out of order.
            order_violations: spy_violations + beyond,
            dead_lettered: dead,
            converge_s,
            total_s: self.started.elapsed().as_secs_f64(),
        }
    }

    /// The académie's national stream as it stands: sequence → event id.
    async fn academy_stream(&self) -> HashMap<u64, String> {
        let db = self.academy_db();
        db.query_all_raw(stmt(
            db.get_database_backend(),
            "SELECT sequence, event_id FROM outbox WHERE stream = 'national' AND sequence IS NOT NULL",
            vec![],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let s: i64 = r.try_get("", "sequence").unwrap();
            (s as u64, r.try_get("", "event_id").unwrap())
        })
        .collect()
    }

    /// Logs how far the case is (stderr), to see where its time goes.
    pub fn phase(&self, what: &str) {
        eprintln!(
            "chaos | {what} at {:.1} s",
            self.started.elapsed().as_secs_f64()
        );
    }

    async fn wait(&self, what: &str, check: impl AsyncFn(&Self) -> bool) {
        cplds_runtime::testing::wait_until(CONVERGE, what, async || check(self).await).await
    }
}

/// Case 6.
pub async fn national_down_then_unfillable_gap() -> Option<Line> {
    let mut f = Fed::new("chaos: national down, unfillable gap").await?;
    f.start_national().await;
    f.start_academy().await;
    const LOST: RangeInclusive<u64> = 4001..=4010;
    *f.tap.lose.lock().unwrap() = Some(LOST);
    f.write("k", 0, 3000).await;
    f.wait("a first part applied", async |f| f.applied().await >= 2000)
        .await;
    // The national node goes down; the académie keeps writing (its facts wait in the national
    // node's durable queue).
    f.phase("6: first part applied, national down");
    f.stop_national().await;
    f.write("k", 3000, EVENTS).await;
    f.wait("the académie published everything", async |f| {
        f.academy_pending().await == 0
    })
    .await;
    // The académie's history of the lost facts is pruned (kept aside: the operator's backup).
    let db = f.academy_db();
    let backup = format!(
        "CREATE TABLE pruned AS SELECT * FROM outbox WHERE stream = 'national' AND sequence BETWEEN {} AND {}",
        LOST.start(),
        LOST.end()
    );
    db.execute_unprepared(&backup).await.unwrap();
    db.execute_unprepared("DELETE FROM outbox WHERE id IN (SELECT id FROM pruned)")
        .await
        .unwrap();
    f.start_national().await;
    f.phase("6: history pruned, national up");
    let s = f
        .wait_source("the gap called unfillable", CONVERGE, |s| {
            s.state == pb::SourceState::GapUnfillable as i32
        })
        .await;
    assert_eq!(
        s.gaps,
        [pb::SequenceRange {
            from: *LOST.start(),
            to: *LOST.end()
        }],
        "{s:?}"
    );
    assert_eq!(s.applied_sequence, LOST.start() - 1, "{s:?}");
    assert!(
        s.operator_action.starts_with("gap that replay cannot fill"),
        "{}",
        s.operator_action
    );
    // The backlog of the national node's downtime keeps coming in behind the gap.
    f.wait("the facts after the gap received", async |f| {
        count(
            &f.national_db(),
            "SELECT COUNT(*) FROM received_events WHERE academy = 'toulouse'",
        )
        .await
        .unwrap()
            == EVENTS - LOST.clone().count() as i64
    })
    .await;
    let s = f.completeness().await.unwrap();
    assert_eq!(
        (s.state, s.applied_sequence),
        (pb::SourceState::GapUnfillable as i32, LOST.start() - 1),
        "the facts after the gap wait, none lost: {s:?}"
    );
    f.phase("6: gap unfillable, the rest waiting");
    // The operator restores the facts from the backup; the next replay fills the gap.
    db.execute_unprepared("INSERT INTO outbox SELECT * FROM pruned")
        .await
        .unwrap();
    let healed = Instant::now();
    let excused = f.tap.lost.lock().unwrap().clone();
    Some(f.finish("6 national down + gap", healed, 0, excused).await)
}

/// Case 7.
pub async fn unknown_payloads() -> Option<Line> {
    let mut f = Fed::new("chaos: unknown payloads").await?;
    f.start_national().await;
    f.start_academy().await;
    // Every 1000th fact in a newer build's encoding: 10 facts this national node cannot read.
    f.tap.newer_every.store(1000, Ordering::SeqCst);
    f.write("k", 0, EVENTS).await;
    f.phase("7: written");
    let s = f
        .wait_source("the stream read to its end", CONVERGE, |s| {
            s.applied_sequence == EVENTS as u64 && s.facts_waiting_for_upgrade == 10
        })
        .await;
    assert_eq!(s.state, pb::SourceState::WaitingForUpgrade as i32, "{s:?}");
    assert_eq!(
        f.applied().await,
        EVENTS - 10,
        "the facts after the unknown ones applied"
    );
    // The "upgrade": the national node restarts with a build that reads the newer payload (here:
    // the académie's replay is sent readable) and asks again for the facts it kept.
    f.phase("7: read to its end, 10 kept");
    f.stop_national().await;
    f.tap.newer_every.store(0, Ordering::SeqCst);
    f.start_national().await;
    let healed = Instant::now();
    Some(
        f.finish("7 unknown payload x10", healed, 0, HashSet::new())
            .await,
    )
}

/// Case 8.
pub async fn restored_schema() -> Option<Line> {
    let mut f = Fed::new("chaos: restored académie schema").await?;
    f.start_national().await;
    f.start_academy().await;
    const BACKUP_AT: i64 = 6000;
    f.write("k", 0, BACKUP_AT).await;
    f.wait("the backup point published", async |f| {
        f.academy_pending().await == 0
    })
    .await;
    // The nightly backup of the académie's schema (what a restore brings back).
    let db = f.academy_db();
    for t in ["outbox", "outbox_sequence"] {
        db.execute_unprepared(&format!("CREATE TABLE backup_{t} AS SELECT * FROM {t}"))
            .await
            .unwrap();
    }
    f.write("k", BACKUP_AT, EVENTS).await;
    f.wait("the first life applied", async |f| {
        f.applied().await == EVENTS
    })
    .await;
    f.phase("8: first life applied");
    // The schema is restored from the backup; the académie runs again and writes other facts
    // under the sequences it issues again.
    f.stop_academy().await;
    for t in ["outbox", "outbox_sequence"] {
        db.execute_unprepared(&format!(
            "DELETE FROM {t}; INSERT INTO {t} SELECT * FROM backup_{t}"
        ))
        .await
        .unwrap();
    }
    let spy_from = f.spy.arrivals.lock().unwrap().len();
    f.start_academy().await;
    f.write("r", BACKUP_AT, EVENTS).await;
    f.phase("8: second life written");
    let s = f
        .wait_source("the reuse reported", CONVERGE, |s| {
            s.state == pb::SourceState::SequenceReused as i32
                && s.sequence_conflicts == (EVENTS - BACKUP_AT) as u64
        })
        .await;
    assert!(!s.up_to_date);
    f.phase("8: reuse reported");
    assert_eq!(
        (f.records("k%").await, f.records("r%").await),
        (EVENTS, 0),
        "nothing overwritten"
    );
    let reset = f.reset_source().await;
    assert_eq!(reset.from_sequence, BACKUP_AT as u64 + 1, "{reset:?}");
    let healed = Instant::now();
    f.phase("8: reset");
    f.wait_source("the source reset and replayed", CONVERGE, |s| {
        s.applied_sequence == EVENTS as u64 && s.sequence_conflicts == 0
    })
    .await;
    assert_eq!(
        (f.records("k%").await, f.records("r%").await),
        (BACKUP_AT, EVENTS - BACKUP_AT),
        "the records rebuilt from the restored académie's facts"
    );
    f.phase("8: replayed");
    let excused: HashSet<u64> = (1..=BACKUP_AT as u64).collect();
    let line = f
        .finish("8 restored academie schema", healed, spy_from, excused)
        .await;
    Some(line)
}
