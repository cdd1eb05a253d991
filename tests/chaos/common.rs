//! What the chaos suite and its child process share: the tables that show each application of
//! an event (in apply order), the handlers that fill them, and the embedded node the suite kills.
#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use cplds_proto::v1::CampaignOpened;
use cplds_runtime::{
    bus::{Binding, QueueSpec, Stream},
    config::OutboxConfig,
    db::{RuntimeTables, stmt},
    events::{EventEnvelope, Payload},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    inbox::{Consumer, EventHandler, HandleError},
    outbox::Outbox,
};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    TransactionTrait,
};
use sea_orm_migration::prelude::*;
use tokio_util::sync::CancellationToken;

/// The académie and service whose stream every runtime case drives.
pub const ACADEMY: &str = "toulouse";
pub const SOURCE: &str = "registration";
/// The consumer's queue and what it binds (the académie's examination, say).
pub const QUEUE: &str = "toulouse.examination";
pub const PATTERN: &str = "toulouse.registration.#";

/// Prefetch as large as the inbox's batch (128), so a consumer applies full batches.
pub fn consumer_queue() -> QueueSpec {
    let mut q = QueueSpec::new(QUEUE, vec![Binding::new(Stream::Internal, PATTERN)]);
    q.prefetch = 128;
    q
}

/// Event `n` of a runtime case: an internal event (its year says which one it is).
pub fn internal_event(n: i64) -> Payload {
    Payload::CampaignOpened(CampaignOpened {
        year: n as i32,
        ..Default::default()
    })
}

/// Only the runtime's tables; the suite's own are created beside them.
pub struct RuntimeOnly;

impl MigratorTrait for RuntimeOnly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(RuntimeTables)]
    }
}

/// `effects` (one row per application, in apply order: no unique key, so a second application
/// shows), `spy` (one row per arrival on a queue bound to `#`) and `produced` (what the embedded
/// node's writer committed, in the events' own transactions).
pub async fn create_suite_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let id = match db.get_database_backend() {
        DatabaseBackend::Postgres => "id BIGSERIAL PRIMARY KEY",
        _ => "id INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    for ddl in [
        format!(
            "CREATE TABLE IF NOT EXISTS effects ({id}, event_id TEXT NOT NULL, sequence BIGINT NOT NULL)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS spy ({id}, stream INTEGER NOT NULL, sequence BIGINT NOT NULL, event_id TEXT NOT NULL)"
        ),
        "CREATE TABLE IF NOT EXISTS produced (n BIGINT PRIMARY KEY)".to_owned(),
    ] {
        db.execute_unprepared(&ddl).await?;
    }
    Ok(())
}

/// The consumer under test: records each application of an event.
#[allow(unused_imports)] // not every test binary including this module uses it
pub use cplds_runtime::testing::Recorder;

/// The embedded node's spy: every arrival, redeliveries included (no inbox).
pub struct SpyRecorder;

#[async_trait]
impl EventHandler for SpyRecorder {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO spy (stream, sequence, event_id) VALUES (?, ?, ?)",
            vec![
                event.stream.into(),
                (event.sequence as i64).into(),
                event.event_id.clone().into(),
            ],
        ))
        .await?;
        Ok(())
    }

    fn uses_inbox(&self, _event: &EventEnvelope) -> bool {
        false
    }
}

/// The relay settings of the suite: small batches, a quick takeover.
pub fn relay_config() -> OutboxConfig {
    OutboxConfig {
        poll_interval_ms: 50,
        batch_size: 200,
        heartbeat_interval_ms: 0,
        standby_retry_ms: 100,
        lease_check_ms: 100,
        ..Default::default()
    }
}

/// Events per transaction of the writers.
pub const BATCH: i64 = 100;

/// Appends events `from..to` with [`Outbox::append`], [`BATCH`] per transaction, recording each
/// in `produced` in the same transaction (so a writer killed mid-stream resumes exactly).
pub async fn produce(
    db: &DatabaseConnection,
    outbox: &Outbox,
    from: i64,
    to: i64,
    pace: Duration,
    stop: &CancellationToken,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut n = from;
    while n < to && !stop.is_cancelled() {
        let end = std::cmp::min(n + BATCH, to);
        let txn = db.begin().await?;
        for k in n..end {
            outbox.append(&txn, internal_event(k)).await?;
        }
        let values = (n..end).map(|k| format!("({k})")).collect::<Vec<_>>();
        txn.execute_raw(stmt(
            backend,
            &format!("INSERT INTO produced (n) VALUES {}", values.join(", ")),
            vec![],
        ))
        .await?;
        txn.commit().await?;
        outbox.wake();
        n = end;
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    Ok(())
}

/// The embedded node's service: writes `events` events (resuming after what it committed),
/// consumes them itself, and spies on its bus.
pub struct EmbeddedStream {
    pub events: i64,
}

pub async fn count(db: &impl ConnectionTrait, sql: &str) -> Result<i64, DbErr> {
    db.query_one_raw(stmt(db.get_database_backend(), sql, vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row for {sql}")))?
        .try_get_by_index(0)
}

#[async_trait]
impl ServiceModule for EmbeddedStream {
    fn schema(&self) -> Schema {
        Schema::of::<RuntimeOnly>(SOURCE)
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        self.schema().migrate(db).await?;
        create_suite_tables(db).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        mount.consume(Consumer {
            name: "chaos".into(),
            queue: consumer_queue(),
            handler: Arc::new(Recorder),
        });
        mount.consume(Consumer {
            name: "spy".into(),
            queue: QueueSpec::new("toulouse.spy", vec![Binding::new(Stream::Internal, "#")]),
            handler: Arc::new(SpyRecorder),
        });
        let (db, outbox, stop, events) = (
            ctx.db.clone(),
            ctx.outbox.clone(),
            ctx.shutdown.clone(),
            self.events,
        );
        mount.job(Box::pin(async move {
            let resume = count(&db, "SELECT COUNT(*) FROM produced").await;
            match resume {
                Ok(from) => {
                    if let Err(e) =
                        produce(&db, &outbox, from, events, Duration::from_millis(5), &stop).await
                    {
                        eprintln!("chaos writer stopped: {e}");
                    }
                }
                Err(e) => eprintln!("chaos writer cannot resume: {e}"),
            }
        }));
        Ok(())
    }
}
