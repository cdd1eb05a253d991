//! `cplds bench national`: replays a national history (30 académies, 10 years of synthetic
//! pseudonymous facts) into an empty aggregator and prints events/s and the time to answer the
//! national report, beside the raw RabbitMQ consume rate of the same messages measured in the
//! same run; then measures, at a steady rate, the latency from an académie's commit to the
//! national node having applied the fact (p50/p99). Figures are printed, never asserted.

use std::{
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use cplds_proto::v1::{
    self as pb, EventEnvelope, event_envelope::Payload,
    national_statistics_service_client::NationalStatisticsServiceClient,
    registration_service_client::RegistrationServiceClient,
};
use cplds_runtime::{
    academy::ACADEMIES,
    auth::Role,
    bus::{
        Binding, EventBus, Message, QueueSpec, SharedBus, Stream, amqp::AmqpBus,
        memory::InMemoryBus,
    },
    config::QueueType,
    poll::{self, Check},
    time::to_timestamp,
};
use futures_util::StreamExt;
use prost::Message as _;
use sea_orm::{ConnectionTrait, Database};

use crate::sandbox::{LocalNode, LocalNodeSpec, authed};

pub struct NationalBenchOptions {
    pub years: i32,
    /// Average candidates per académie and year.
    pub candidates: u32,
    pub amqp_url: Option<String>,
    pub postgres_url: Option<String>,
    /// Submissions per second in the latency phase, and its length.
    pub rate: u32,
    pub seconds: u32,
}

/// A small deterministic generator (xorshift), so every run replays the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn envelope(academy: &str, source: &str, sequence: u64, payload: Payload) -> Message {
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: academy.into(),
        source: source.into(),
        sequence,
        occurred_at: Some(to_timestamp(Utc::now())),
        r#type: payload.name().into(),
        stream: pb::Stream::National as i32,
        trace_context: Default::default(),
        payload: Some(payload),
        ..Default::default()
    };
    let mut m = Message {
        stream: Stream::National,
        routing_key: format!("{academy}.{source}.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    };
    // Signed as the académie's service would: the sandbox's national node trusts these keys.
    cplds_runtime::event_signing::FederationKeys::shared().sign_as_producer(&mut m);
    m
}

/// Every académie's national facts over `years` years, each source in sequence order.
pub fn synthesize(years: i32, candidates: u32, last_year: i32) -> Vec<Message> {
    let mut rng = Rng(0x5eed_cafe_f00d);
    let mut out = Vec::new();
    for a in ACADEMIES {
        let mut seq = std::collections::HashMap::<&str, u64>::new();
        let mut push = |out: &mut Vec<Message>, source: &'static str, p: Payload| {
            let s = seq.entry(source).or_insert(0);
            *s += 1;
            out.push(envelope(a.code, source, *s, p));
        };
        for year in last_year - years + 1..=last_year {
            push(
                &mut out,
                "registration",
                Payload::NationalCampaignOpened(pb::NationalCampaignOpened { year }),
            );
            let n = u64::from(candidates) / 2 + rng.below(u64::from(candidates) + 1);
            for i in 0..n {
                let key = format!("{}-{year}-{i:04}", a.code);
                let department = a.departments[rng.below(a.departments.len() as u64) as usize]
                    .code
                    .to_owned();
                let profile = pb::CandidateProfile {
                    sex: 1 + rng.below(2) as i32,
                    department,
                    staff_category: 1 + rng.below(4) as i32,
                    workplace_type: 1 + rng.below(5) as i32,
                    runs_mlds_actions: rng.below(3) == 0,
                    is_dropout_referent: rng.below(4) == 0,
                };
                push(
                    &mut out,
                    "registration",
                    Payload::NationalCandidacyRegistered(pb::NationalCandidacyRegistered {
                        year,
                        candidate_key: key.clone(),
                        profile: Some(profile.clone()),
                        eligible: true,
                    }),
                );
                let validated = rng.below(100) < 88;
                push(
                    &mut out,
                    "registration",
                    Payload::NationalCandidacyDecided(pb::NationalCandidacyDecided {
                        year,
                        candidate_key: key.clone(),
                        validated,
                        rejection_reason: if validated {
                            String::new()
                        } else {
                            "incomplete".into()
                        },
                    }),
                );
                if !validated {
                    continue;
                }
                if rng.below(100) < 6 {
                    push(
                        &mut out,
                        "registration",
                        Payload::NationalCandidacyWithdrawn(pb::NationalCandidacyWithdrawn {
                            year,
                            candidate_key: key.clone(),
                            was_admitted_to_sit: true,
                        }),
                    );
                    continue;
                }
                if rng.below(100) < 40 {
                    let hours = pb::TrainingHours {
                        theory_minutes: 7200,
                        deepening_minutes: 1800,
                        practical_minutes: 2400,
                        ..Default::default()
                    };
                    push(
                        &mut out,
                        "training",
                        Payload::NationalTrainingEnrolled(pb::NationalTrainingEnrolled {
                            school_year: year - 1,
                            candidate_key: key.clone(),
                            sex: profile.sex,
                            shared_cohort: false,
                        }),
                    );
                    push(
                        &mut out,
                        "training",
                        Payload::NationalTrainingCompleted(pb::NationalTrainingCompleted {
                            school_year: year - 1,
                            candidate_key: key.clone(),
                            hours: Some(hours),
                        }),
                    );
                }
                let part = |rng: &mut Rng| {
                    if rng.below(100) < 3 {
                        pb::ExamPartResult {
                            absent: true,
                            mark_half_points: 0,
                        }
                    } else {
                        pb::ExamPartResult {
                            absent: false,
                            mark_half_points: 8 + rng.below(33) as u32,
                        }
                    }
                };
                let (p1, p2) = (part(&mut rng), part(&mut rng));
                let admitted = !p1.absent
                    && !p2.absent
                    && p1.mark_half_points > 10
                    && p2.mark_half_points > 10
                    && p1.mark_half_points + p2.mark_half_points >= 40;
                push(
                    &mut out,
                    "examination",
                    Payload::NationalExamResult(pb::NationalExamResult {
                        year,
                        candidate_key: key.clone(),
                        profile: Some(profile),
                        part_1: Some(p1),
                        part_2: Some(p2),
                        outcome: if admitted {
                            "ADMITTED".into()
                        } else {
                            "NOT_ADMITTED".into()
                        },
                        reason: String::new(),
                    }),
                );
                if admitted {
                    push(
                        &mut out,
                        "certification",
                        Payload::NationalCertificateIssued(pb::NationalCertificateIssued {
                            year,
                            candidate_key: key,
                        }),
                    );
                }
            }
        }
    }
    out
}

struct Replay {
    label: String,
    /// Through RabbitMQ: compared with the raw consume rate.
    amqp: bool,
    events: usize,
    elapsed: Duration,
    /// The national report of the last year (by académie, with the year before), and the
    /// completeness of every source: the median of [`QUERY_RUNS`] calls once the replay is done.
    report: Duration,
    completeness: Duration,
    /// Peak resident memory of the process during the replay (the facts held by the bench
    /// included).
    peak_mib: Option<f64>,
}

/// Starts an empty national node on `bus`, has `facts` delivered, and times the replay until
/// every fact is applied, then the national report.
async fn replay(
    label: &str,
    bus: SharedBus,
    facts: &[Message],
    preload: bool,
    database_url: Option<String>,
    last_year: i32,
) -> anyhow::Result<Replay> {
    let dir = tempfile::tempdir()?;
    let queue = cplds_national::api::queue();
    bus.declare(&queue).await?;
    crate::memory::reset_peak();
    let started = Instant::now();
    if preload {
        for chunk in facts.chunks(1000) {
            bus.publish(chunk).await?;
        }
    }
    let start = if preload { Instant::now() } else { started };
    let mut spec = LocalNodeSpec::new(
        cplds_national::NATIONAL,
        dir.path().to_path_buf(),
        crate::national_modules(),
        bus.clone(),
    );
    spec.config.database_url = database_url;
    let national = LocalNode::start(spec).await?;
    if !preload {
        for chunk in facts.chunks(1000) {
            bus.publish(chunk).await?;
        }
    }
    let mut client = NationalStatisticsServiceClient::new(national.channel().await?);
    let ministry = national.token("bench@education.gouv.fr", &[Role::Ministry])?;
    let mut expected: std::collections::HashMap<(String, String), u64> = Default::default();
    for f in facts {
        let e = EventEnvelope::decode(f.body.as_slice()).context("decoding a synthesized fact")?;
        let v = expected.entry((e.academy, e.source)).or_insert(0);
        *v = (*v).max(e.sequence);
    }
    // Not polled faster: each completeness call is work for the node (and holds SQLite's one
    // connection), which would slow the replay being measured.
    let (deadline, every) = (Duration::from_secs(1800), Duration::from_millis(250));
    poll::until(deadline, every, async || {
        let c = client
            .get_completeness(authed(pb::GetCompletenessRequest::default(), &ministry))
            .await?
            .into_inner();
        let behind = expected
            .iter()
            .filter(|((a, s), max)| {
                !c.sources
                    .iter()
                    .any(|x| &x.academy == a && &x.source == s && x.applied_sequence >= **max)
            })
            .count();
        Ok(match behind {
            0 => Check::Done(()),
            n => Check::Waiting(format!("{n} sources not yet replayed")),
        })
    })
    .await?;
    let elapsed = start.elapsed();
    let peak_mib = crate::memory::peak_mib();
    let mut report = Vec::new();
    let mut completeness = Vec::new();
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        let stats = client
            .get_statistics(authed(
                pb::GetStatisticsRequest {
                    year: last_year,
                    breakdown: vec![pb::Dimension::Academy as i32],
                    with_previous_year: true,
                    ..Default::default()
                },
                &ministry,
            ))
            .await?
            .into_inner();
        report.push(t.elapsed());
        anyhow::ensure!(
            stats.cells.len() == ACADEMIES.len(),
            "every académie is in the report"
        );
        let t = Instant::now();
        let c = client
            .get_completeness(authed(pb::GetCompletenessRequest::default(), &ministry))
            .await?
            .into_inner();
        completeness.push(t.elapsed());
        anyhow::ensure!(
            c.sources.len() == expected.len(),
            "every source is in the completeness"
        );
    }
    national.node.shutdown().await?;
    Ok(Replay {
        label: label.into(),
        amqp: preload,
        events: facts.len(),
        elapsed,
        report: median(report),
        completeness: median(completeness),
        peak_mib,
    })
}

/// Calls of each query timed after a replay.
const QUERY_RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A PostgreSQL database of its own for a bench run, dropped at the end.
pub struct BenchDatabase {
    admin: sea_orm::DatabaseConnection,
    name: String,
    pub url: String,
}

impl BenchDatabase {
    /// Creates a fresh database next to the one `admin_url` names.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("cplds_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(b, _)| b)
            .to_owned();
        Ok(Self {
            admin,
            url: format!("{base}/{name}"),
            name,
        })
    }

    pub async fn drop(self) {
        let _ = self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// Consumes the same messages from a plain queue with lapin, acknowledging each: the broker's
/// own pace, without any processing.
async fn raw_consume_rate(url: &str, facts: &[Message]) -> anyhow::Result<f64> {
    use lapin::{Connection, ConnectionProperties, options::*, types::FieldTable};
    let bus = AmqpBus::connect(
        url,
        "bench-raw",
        QueueType::Classic,
        Duration::from_secs(30),
    )
    .await?;
    let q = QueueSpec::new("bench.raw", vec![Binding::new(Stream::National, "#")]);
    bus.declare(&q).await?;
    for chunk in facts.chunks(1000) {
        bus.publish(chunk).await?;
    }
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(256, BasicQosOptions::default()).await?;
    let mut consumer = ch
        .basic_consume(
            "bench.raw".into(),
            "raw".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let start = Instant::now();
    let mut n = 0;
    while n < facts.len() {
        let d = consumer.next().await.context("consumer closed")??;
        d.acker.ack(BasicAckOptions::default()).await?;
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    conn.close(200, "done".into()).await?;
    Ok(rate)
}

/// From an académie's commit to the national node having applied the fact, at a steady rate.
async fn latency(
    label: &str,
    academy_bus: SharedBus,
    national_bus: SharedBus,
    rate: u32,
    seconds: u32,
) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let mut spec = LocalNodeSpec::new(
        cplds_national::NATIONAL,
        dir.path().join("national"),
        crate::national_modules(),
        national_bus,
    );
    spec.config.national.gap_check_interval_ms = 1000;
    let national = LocalNode::start(spec).await?;
    let spec = LocalNodeSpec::new(
        "toulouse",
        dir.path().join("toulouse"),
        crate::academy_modules(&["registration".into()])?,
        academy_bus,
    );
    let node = LocalNode::start(spec).await?;
    let mut client = RegistrationServiceClient::new(node.channel().await?);
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice])?;
    let now = Utc::now();
    let year = cplds_runtime::time::paris_year(now);
    let day = chrono::Duration::days(1);
    crate::demo::open_campaign(&mut client, &office, year, now - day, now + day).await?;
    let total = (rate * seconds) as usize;
    let every = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut tick = tokio::time::interval(every);
    for i in 0..total {
        tick.tick().await;
        let mut d = crate::demo::details(i % 12, &crate::demo::PEOPLE[i % 12]);
        d.staff_number = format!("L{i:012}");
        d.email = format!("latency{i}@ac-toulouse.fr");
        client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(d),
                    ..Default::default()
                },
                &office,
            ))
            .await?;
    }
    let db = national
        .node
        .databases
        .get("national")
        .context("national database")?
        .clone();
    let every = Duration::from_millis(100);
    let applied = poll::until(Duration::from_secs(60), every, async || {
        let rows = db
            .query_all_raw(cplds_runtime::db::stmt(
                db.get_database_backend(),
                "SELECT sequence, received_at FROM received_events WHERE academy = ? AND source = ? AND applied = ?",
                vec!["toulouse".into(), "registration".into(), true.into()],
            ))
            .await?;
        Ok(match rows.len() > total {
            true => Check::Done(rows),
            false => Check::Waiting(format!("{} of {total} facts applied", rows.len())),
        })
    })
    .await?;
    // Commit instants: the outbox rows of the académie's national facts, written in the
    // transaction of each change (sequence 1 is the campaign). Read once the facts arrived: the
    // relay numbers a row when it publishes it, so the last ones had no sequence yet before.
    let academy_db = node
        .node
        .databases
        .get("registration")
        .context("registration database")?
        .clone();
    let committed: Vec<(i64, chrono::DateTime<Utc>)> = academy_db
        .query_all_raw(cplds_runtime::db::stmt(
            academy_db.get_database_backend(),
            "SELECT sequence, created_at FROM outbox WHERE stream = ? AND sequence > 1",
            vec!["national".into()],
        ))
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64>("", "sequence")?,
                r.try_get::<chrono::DateTime<Utc>>("", "created_at")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let at: std::collections::HashMap<i64, chrono::DateTime<Utc>> = applied
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64>("", "sequence")?,
                r.try_get::<chrono::DateTime<Utc>>("", "received_at")?,
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let mut lat: Vec<f64> = committed
        .iter()
        .filter_map(|(s, t)| {
            at.get(s)
                .map(|a| (*a - *t).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    node.node.shutdown().await?;
    national.node.shutdown().await?;
    anyhow::ensure!(
        lat.len() == total,
        "{} of {total} facts reached the national node",
        lat.len()
    );
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Ok(format!(
        "  {label:<44} {rate:>4}/s for {seconds:>3} s: p50 {:>8.1} ms  p99 {:>8.1} ms  (n = {})\n",
        q(0.5),
        q(0.99),
        lat.len()
    ))
}

pub async fn run(opts: NationalBenchOptions) -> anyhow::Result<String> {
    let last_year = cplds_runtime::time::paris_year(Utc::now());
    let facts = synthesize(opts.years, opts.candidates, last_year);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== national replay: {} facts ({} académies × {} years, ~{} candidates per académie and year) ==",
        facts.len(),
        ACADEMIES.len(),
        opts.years,
        opts.candidates
    );
    let mut replays = vec![
        replay(
            "in-process bus, SQLite",
            Arc::new(InMemoryBus::new()),
            &facts,
            false,
            None,
            last_year,
        )
        .await?,
    ];
    let mut databases = Vec::new();
    if let Some(admin) = &opts.postgres_url {
        let db = BenchDatabase::create(admin).await?;
        replays.push(
            replay(
                "in-process bus, PostgreSQL",
                Arc::new(InMemoryBus::new()),
                &facts,
                false,
                Some(db.url.clone()),
                last_year,
            )
            .await?,
        );
        databases.push(db);
    }
    let mut raw = None;
    let mut vhosts = Vec::new();
    if let Some(base) = &opts.amqp_url {
        let url = bench_vhost(base, &mut vhosts)?;
        raw = Some(raw_consume_rate(&url, &facts).await?);
        let mut backends = vec![("SQLite", None)];
        if let Some(admin) = &opts.postgres_url {
            let db = BenchDatabase::create(admin).await?;
            backends.push(("PostgreSQL", Some(db.url.clone())));
            databases.push(db);
        }
        for (backend, database_url) in backends {
            // A vhost per replay: each starts from a queue holding exactly the history.
            let url = bench_vhost(base, &mut vhosts)?;
            let bus: SharedBus = Arc::new(
                AmqpBus::connect(
                    &url,
                    "bench-national",
                    QueueType::Classic,
                    Duration::from_secs(30),
                )
                .await?,
            );
            replays.push(
                replay(
                    &format!("RabbitMQ (queue filled first), {backend}"),
                    bus,
                    &facts,
                    true,
                    database_url,
                    last_year,
                )
                .await?,
            );
        }
    }
    let _ = writeln!(
        out,
        "  {:<40} {:>9} {:>9} {:>9} {:>11} {:>13} {:>9}",
        "", "events/s", "× raw", "replay s", "report ms", "complete ms", "peak MiB"
    );
    for r in &replays {
        let rate = r.events as f64 / r.elapsed.as_secs_f64();
        let ratio = match raw {
            Some(raw) if r.amqp => format!("{:.2}", rate / raw),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {:<40} {:>9.0} {:>9} {:>9.2} {:>11.1} {:>13.1} {:>9}",
            r.label,
            rate,
            ratio,
            r.elapsed.as_secs_f64(),
            r.report.as_secs_f64() * 1e3,
            r.completeness.as_secs_f64() * 1e3,
            crate::memory::format(r.peak_mib)
        );
    }
    if let Some(rate) = raw {
        let _ = writeln!(
            out,
            "  {:<40} {:>9.0}   (same messages, lapin consume + ack each, no processing)",
            "raw RabbitMQ consume rate", rate
        );
    }
    let _ = writeln!(
        out,
        "  report: GetStatistics of the last year by académie with the year before; complete: \
         GetCompleteness of every source; medians of {QUERY_RUNS} calls"
    );
    let _ = writeln!(
        out,
        "\n== commit → national figure latency (one académie, steady rate) =="
    );
    let memory: SharedBus = Arc::new(InMemoryBus::new());
    out.push_str(
        &latency(
            "in-process bus, SQLite",
            memory.clone(),
            memory,
            opts.rate,
            opts.seconds,
        )
        .await?,
    );
    if let Some(base) = &opts.amqp_url {
        let url = bench_vhost(base, &mut vhosts)?;
        let a: SharedBus = Arc::new(
            AmqpBus::connect(
                &url,
                "bench-academy",
                QueueType::Classic,
                Duration::from_secs(30),
            )
            .await?,
        );
        let n: SharedBus = Arc::new(
            AmqpBus::connect(
                &url,
                "bench-national",
                QueueType::Classic,
                Duration::from_secs(30),
            )
            .await?,
        );
        out.push_str(
            &latency(
                "RabbitMQ (one vhost, no federation hop)",
                a,
                n,
                opts.rate,
                opts.seconds,
            )
            .await?,
        );
    }
    for v in vhosts {
        let _ = rabbitmqctl(&["delete_vhost", &v]);
    }
    for db in databases {
        db.drop().await;
    }
    Ok(out)
}

/// A vhost of its own on the broker at `base`, remembered in `vhosts` to delete at the end;
/// returns its URL.
fn bench_vhost(base: &str, vhosts: &mut Vec<String>) -> anyhow::Result<String> {
    let vhost = format!("bench_{}", uuid::Uuid::new_v4().simple());
    rabbitmqctl(&["add_vhost", &vhost])?;
    vhosts.push(vhost.clone());
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])?;
    Ok(format!("{}/{vhost}", base.trim_end_matches('/')))
}

/// Vhosts of their own for the bench (the local broker's `rabbitmqctl`).
fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .context("running rabbitmqctl (the bench needs a local broker)")?;
    anyhow::ensure!(
        out.status.success(),
        "rabbitmqctl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
