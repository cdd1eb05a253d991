//! The cases whose fault is a SIGKILL: relays and the embedded node run as child processes
//! (`chaos-child`), so nothing of theirs is flushed or shut down when they die.

use std::{
    collections::HashSet,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cplds_runtime::{
    bus::memory::InMemoryBus,
    db::{self, DbTarget},
    outbox::numbered_unpublished_count,
};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{
    common::count,
    harness::{CONVERGE, EVENTS, Line, Pipeline, order},
};

const CHILD: &str = env!("CARGO_BIN_EXE_chaos-child");

/// A child process and the last line it printed.
struct Proc {
    child: Child,
    last: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(CHILD)
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start chaos-child");
        let last = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let into = last.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                *into.lock().unwrap() = line;
            }
        });
        Self { child, last }
    }

    fn said(&self) -> String {
        self.last.lock().unwrap().clone()
    }

    /// SIGKILL, and wait for the process to be gone.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

async fn wait(what: &str, deadline: Duration, check: impl AsyncFnMut() -> bool) {
    cplds_runtime::testing::wait_until(deadline, what, check).await
}

/// Case 2: two relay processes on one schema; the active one killed mid-batch, twice.
pub async fn relay_killed_mid_batch(mut p: Pipeline) {
    p.start_spy().await;
    p.declare_queue().await;
    let pool = p.consumer_pool(None).await;
    let bus = p.bus("chaos-consumer", None).await;
    p.spawn_consumer(pool, bus);
    let DbTarget::Postgres { url, schema } = p.producer_target.clone() else {
        unreachable!()
    };
    let amqp = p.vhost.url.clone();
    let spawn = || Proc::spawn(&["relay", &url, &schema, &amqp]);
    let mut relays = vec![spawn(), spawn()];
    let writer = p.spawn_writer(Duration::from_millis(30));
    let mut mid_batch = 0;
    for kill in 1..=2 {
        let at = EVENTS * kill / 3;
        // Rows numbered and not yet marked published: the batch the active relay has in hand.
        let in_hand = async || numbered_unpublished_count(&p.producer).await.unwrap();
        wait("the kill's point", Duration::from_secs(120), async || {
            p.published().await >= at
                && relays.iter().any(|r| r.said() == "role Active")
                && in_hand().await > 0
        })
        .await;
        let active = relays.iter().position(|r| r.said() == "role Active");
        let victim = relays.remove(active.unwrap());
        victim.kill().await;
        // Still unpublished after the kill: the batch died with the relay.
        let in_hand = in_hand().await;
        if in_hand > 0 {
            mid_batch += 1;
        }
        relays.push(spawn());
    }
    eprintln!("chaos | 2: {mid_batch} of 2 kills left a numbered batch unpublished");
    let healed = Instant::now();
    writer.await.unwrap();
    // Say which of the survivors took over, for the log.
    wait("a relay active again", CONVERGE, async || {
        relays.iter().any(|r| r.said() == "role Active")
    })
    .await;
    let line = p.finish("2 relay kill -9 x2 (2 relays)", healed).await;
    for r in relays {
        r.kill().await;
    }
    line.report_and_check();
}

/// What the embedded node's SQLite file shows: (committed, applied distinct, effect rows).
async fn embedded_counts(db: &DatabaseConnection) -> (i64, i64, i64) {
    (
        count(db, "SELECT COUNT(*) FROM produced")
            .await
            .unwrap_or(0),
        count(db, "SELECT COUNT(DISTINCT event_id) FROM effects")
            .await
            .unwrap_or(0),
        count(db, "SELECT COUNT(*) FROM effects").await.unwrap_or(0),
    )
}

/// (stream, sequence, event id) rows of `table` in insertion order.
async fn arrivals(db: &DatabaseConnection, sql: &str) -> Vec<(i32, u64, String)> {
    db.query_all_raw(cplds_runtime::db::stmt(
        db.get_database_backend(),
        sql,
        vec![],
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let sequence: i64 = r.try_get("", "sequence").unwrap();
        (
            r.try_get("", "stream").unwrap(),
            sequence as u64,
            r.try_get("", "event_id").unwrap(),
        )
    })
    .collect()
}

async fn embedded_db(dir: &Path) -> DatabaseConnection {
    let path = dir.join("toulouse").join("registration.sqlite");
    wait("the embedded node's database", CONVERGE, async || {
        path.exists()
    })
    .await;
    db::connect(&DbTarget::Sqlite { path }).await.unwrap()
}

/// Case 9: the embedded node killed with SIGKILL twice mid-stream, restarted on its data.
pub async fn embedded_node_killed() -> Option<Line> {
    cplds_runtime::telemetry::init_for_tests();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let events = EVENTS.to_string();
    let spawn = || Proc::spawn(&["embedded", &data, &events]);
    let mut node = spawn();
    let db = embedded_db(dir.path()).await;
    for kill in 1..=2 {
        let at = EVENTS * kill / 3;
        wait("the kill's point", Duration::from_secs(120), async || {
            embedded_counts(&db).await.1 >= at
        })
        .await;
        node.kill().await;
        let (committed, applied, _) = embedded_counts(&db).await;
        assert!(
            applied < EVENTS && committed > applied,
            "killed mid-stream with events in flight ({committed} committed, {applied} applied)"
        );
        node = spawn();
    }
    let healed = Instant::now();
    wait("every event applied and spied", CONVERGE, async || {
        let (committed, applied, _) = embedded_counts(&db).await;
        let spied = count(&db, "SELECT COUNT(DISTINCT event_id) FROM spy")
            .await
            .unwrap_or(0);
        committed == EVENTS && applied == EVENTS && spied == EVENTS
    })
    .await;
    let converge_s = healed.elapsed().as_secs_f64();
    node.kill().await;
    let (committed, applied, rows) = embedded_counts(&db).await;
    let (delivered, spy_violations) = order(
        &arrivals(
            &db,
            "SELECT stream, sequence, event_id FROM spy ORDER BY id",
        )
        .await,
        &HashSet::new(),
    );
    let (_, apply_violations) = order(
        &arrivals(
            &db,
            "SELECT 1 AS stream, sequence, event_id FROM effects ORDER BY id",
        )
        .await,
        &HashSet::new(),
    );
    let bus = InMemoryBus::open(&dir.path().join("bus.sqlite"))
        .await
        .unwrap();
    let dead = count(&db, "SELECT COUNT(*) FROM dead_letters")
        .await
        .unwrap()
        + (bus.ready_count("toulouse.examination.dead") + bus.ready_count("toulouse.spy.dead"))
            as i64;
    Some(Line {
        case: "9 embedded kill -9 x2",
        committed,
        delivered,
        applied,
        duplicates: rows - applied,
        order_violations: spy_violations + apply_violations,
        dead_lettered: dead,
        converge_s,
        total_s: started.elapsed().as_secs_f64(),
    })
}
