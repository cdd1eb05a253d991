//! The one way a service writes: a [`UnitOfWork`] is the transaction a change runs in, with its
//! events (outbox) and its audit history; committing it wakes the relay.
//!
//! ```text
//! let mut uow = self.core.begin().await?;
//! let opening = store::opening(uow.txn(), year, &counters).await?; // reads, locks
//! uow.insert(store::candidacy_row(&new)); // written at commit
//! uow.record(Act { kind: "candidacy", subject: &row.id, actor, action: "submitted", detail: None }).await?;
//! uow.emit(events::submitted(&row)).await?;
//! uow.commit().await?;
//! ```

use std::{ops::Deref, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, ExecResult, IntoActiveModel, QueryResult, QueryTrait, Statement, TransactionTrait,
    Value,
};

use super::{
    group::{GroupCommit, GroupTxn, Seat},
    history::{self, Act, PendingAct},
};
use crate::{
    clock::SharedClock,
    db::stmt,
    events::Payload,
    host::ServiceContext,
    metrics::GroupMetrics,
    outbox::{self, Outbox, PendingRow},
};

/// What every service's handlers share: its database, its outbox and the clock.
#[derive(Clone)]
pub struct ServiceCore {
    pub db: DatabaseConnection,
    pub outbox: Outbox,
    pub clock: SharedClock,
    /// On SQLite, the units that overlap commit together (see [`super::group`]).
    group: Option<GroupCommit>,
}

impl ServiceCore {
    pub fn new(ctx: &ServiceContext) -> Self {
        // Only SQLite commits in groups: a PostgreSQL node shows no such series.
        let measures = match ctx.db.get_database_backend() {
            DbBackend::Sqlite => ctx.metrics.group_commit(ctx.outbox.source()),
            _ => GroupMetrics::default(),
        };
        Self::build(
            ctx.db.clone(),
            ctx.outbox.clone(),
            ctx.clock.clone(),
            measures,
        )
    }

    /// A core on `db` (one per database: its units share one group commit on SQLite), outside
    /// a node: its group sizes are counted nowhere.
    pub fn with(db: DatabaseConnection, outbox: Outbox, clock: SharedClock) -> Self {
        Self::build(db, outbox, clock, GroupMetrics::default())
    }

    fn build(
        db: DatabaseConnection,
        outbox: Outbox,
        clock: SharedClock,
        measures: GroupMetrics,
    ) -> Self {
        Self {
            group: GroupCommit::for_database(&db, measures),
            db,
            outbox,
            clock,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a unit of work; `now` is fixed for all it records.
    pub async fn begin(&self) -> Result<UnitOfWork, DbErr> {
        let (txn, seat) = match &self.group {
            Some(group) => {
                let (seat, txn) = group.seat().await?;
                (UnitTxn(Txn::Group(txn)), Some(seat))
            }
            None => (UnitTxn(Txn::Own(self.db.begin().await?)), None),
        };
        Ok(UnitOfWork {
            txn,
            seat,
            outbox: self.outbox.clone(),
            now: self.clock.now(),
            later: Vec::new(),
            rows: Vec::new(),
            kept_rows: 0,
            acts: Vec::new(),
            events: Vec::new(),
            emitted: false,
        })
    }
}

/// A transaction with its events and history. Dropped without [`UnitOfWork::commit`], it rolls
/// back and publishes nothing.
///
/// Acts and events, and the new rows given to [`UnitOfWork::insert`], are kept and written
/// together just before the commit, in one round trip (a round trip per row was a third of a
/// submission's time); a query in the unit does not see them. A unit that gathers many writes
/// them out as it goes, [`FLUSH_AT`] rows at a time, so no statement outgrows a database's
/// limit on parameters.
pub struct UnitOfWork {
    /// The transaction, or on SQLite the group's, where the unit runs in a savepoint (dropped
    /// before the seat, which has the group undo a unit that fails before the next one runs).
    txn: UnitTxn,
    seat: Option<Seat>,
    outbox: Outbox,
    now: DateTime<Utc>,
    /// Statements kept for the next write (SQLite), before the rows.
    later: Vec<(String, Vec<Value>)>,
    /// New rows, one insert per table.
    rows: Vec<KeptInsert>,
    kept_rows: usize,
    acts: Vec<PendingAct>,
    events: Vec<PendingRow>,
    emitted: bool,
}

/// The new rows of one table a unit keeps: `INSERT INTO t (columns)`, a `(?, …)` per row, and
/// the rows' values.
struct KeptInsert {
    head: String,
    tuples: Vec<String>,
    values: Vec<Value>,
}

/// Acts or events a unit keeps before writing them (six parameters each).
const FLUSH_AT: usize = 256;

/// New rows a unit keeps before writing them (a few dozen parameters each): with the acts and
/// events, well under SQLite's 32 766 parameters a statement.
const ROWS_FLUSH_AT: usize = 64;

/// Where a unit's statements run: a transaction of its own (PostgreSQL), or its savepoint in its
/// group's transaction (SQLite).
pub struct UnitTxn(Txn);

enum Txn {
    Own(DatabaseTransaction),
    Group(Arc<GroupTxn>),
}

#[async_trait::async_trait]
impl ConnectionTrait for UnitTxn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.0 {
            Txn::Own(txn) => txn.get_database_backend(),
            Txn::Group(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Txn::Own(txn) => txn.execute_raw(stmt).await,
            Txn::Group(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.0 {
            Txn::Own(txn) => txn.execute_unprepared(sql).await,
            Txn::Group(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.0 {
            Txn::Own(txn) => txn.query_one_raw(stmt).await,
            Txn::Group(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.0 {
            Txn::Own(txn) => txn.query_all_raw(stmt).await,
            Txn::Group(txn) => txn.query_all_raw(stmt).await,
        }
    }
}

impl UnitOfWork {
    pub fn txn(&self) -> &UnitTxn {
        &self.txn
    }

    /// The instant of this change: every row and event it writes carries the same one.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Appends events to the outbox, in this transaction and in their order; each carries the
    /// instant and trace context of this call.
    pub async fn emit(&mut self, payloads: impl IntoIterator<Item = Payload>) -> Result<(), DbErr> {
        let appended = self.outbox.rows(payloads, &mut self.events);
        self.emitted |= !appended.is_empty();
        if self.events.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Inserts a new row at commit, before the acts and events, with them in one round trip.
    /// For a row nothing later in the unit reads: its constraints are checked when it is
    /// written, and a violation fails the commit as it would have failed an insert made now.
    pub async fn insert<A, R>(&mut self, row: R) -> Result<(), DbErr>
    where
        A: ActiveModelTrait,
        R: IntoActiveModel<A>,
    {
        // A model's values are all written (its active model would hold them as unchanged).
        let row = row.into_active_model().reset_all();
        // Built with `?` placeholders (SQLite's builder); [`stmt`] numbers them for PostgreSQL.
        let built = <A::Entity as EntityTrait>::insert(row).build(DbBackend::Sqlite);
        let values = built.values.map(|v| v.0).unwrap_or_default();
        let Some((head, tuple)) = built.sql.split_once(" VALUES ") else {
            return Err(DbErr::Custom(format!(
                "an insert of an unexpected shape: {}",
                built.sql
            )));
        };
        // Rows of one table go in one insert, in their order: PostgreSQL runs the statements of
        // a WITH in no set order, and serial ids must follow the order the rows were given in.
        match self.rows.iter_mut().find(|k| k.head == head) {
            Some(kept) => {
                kept.tuples.push(tuple.to_owned());
                kept.values.extend(values);
            }
            None => self.rows.push(KeptInsert {
                head: head.to_owned(),
                tuples: vec![tuple.to_owned()],
                values,
            }),
        }
        self.kept_rows += 1;
        if self.kept_rows >= ROWS_FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Runs a write whose outcome nothing in the unit reads (an `UPDATE` of a timestamp, say). On
    /// SQLite it is kept and sent with the unit's next write of what it keeps, ahead of the rows
    /// (the one writer's lock is held over each round trip); on PostgreSQL it runs now. So it
    /// must not touch what the unit's later queries read, nor the rows kept with
    /// [`Self::insert`], and a failure ends the unit either way.
    pub async fn execute_at_commit(&mut self, statement: Statement) -> Result<(), DbErr> {
        if self.txn.get_database_backend() != DbBackend::Sqlite {
            self.txn.execute_raw(statement).await?;
            return Ok(());
        }
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        self.later.push((statement.sql, values));
        Ok(())
    }

    /// Records an act in the audit history, in this transaction.
    pub async fn record(&mut self, act: Act<'_>) -> Result<(), DbErr> {
        self.acts.push(PendingAct::new(act, self.now));
        if self.acts.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the rows, acts and events kept, in one round trip.
    async fn flush(&mut self) -> Result<(), DbErr> {
        self.write_kept(false).await
    }

    /// Writes what is kept; at the unit's `end`, with the statement releasing its savepoint.
    async fn write_kept(&mut self, end: bool) -> Result<(), DbErr> {
        self.kept_rows = 0;
        let mut parts: Vec<(String, Vec<Value>)> = std::mem::take(&mut self.later);
        parts.extend(std::mem::take(&mut self.rows).into_iter().map(|k| {
            (
                format!("{} VALUES {}", k.head, k.tuples.join(", ")),
                k.values,
            )
        }));
        parts.extend(history::insert_sql(std::mem::take(&mut self.acts)));
        parts.extend(outbox::insert_sql(std::mem::take(&mut self.events)));
        let group = match (&self.txn, end) {
            (UnitTxn(Txn::Group(group)), true) => Some(group.clone()),
            _ => None,
        };
        let release = group
            .as_ref()
            .and_then(|g| g.release_after(!parts.is_empty()));
        if let Some(release) = release {
            parts.push((release.to_owned(), Vec::new()));
        }
        let Some((last, _)) = parts.last() else {
            return Ok(());
        };
        let backend = self.txn.get_database_backend();
        // PostgreSQL prepares one statement: every insert but the last goes in a WITH, which
        // runs whether or not the query reads it. SQLite's driver runs the statements of one
        // string in turn, binding the `?`s in order.
        let sql = if backend == DbBackend::Postgres {
            let withs: Vec<String> = parts[..parts.len() - 1]
                .iter()
                .enumerate()
                .map(|(i, (sql, _))| format!("w{i} AS ({sql})"))
                .collect();
            if withs.is_empty() {
                last.clone()
            } else {
                format!("WITH {} {last}", withs.join(", "))
            }
        } else {
            let sqls: Vec<&str> = parts.iter().map(|(sql, _)| sql.as_str()).collect();
            sqls.join("; ")
        };
        let values = parts.into_iter().flat_map(|(_, values)| values).collect();
        self.txn.execute_raw(stmt(backend, &sql, values)).await?;
        if let (Some(group), Some(_)) = (group, release) {
            group.released();
        }
        Ok(())
    }

    /// Writes what is kept, commits, then wakes the relay if events were appended.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        self.write_kept(true).await?;
        match (self.seat.take(), self.txn.0) {
            (Some(seat), Txn::Group(txn)) => seat.finish(txn).await?,
            (None, Txn::Own(txn)) => txn.commit().await?,
            _ => {
                return Err(DbErr::Custom(
                    "a unit's seat and transaction disagree".into(),
                ));
            }
        }
        if self.emitted {
            self.outbox.wake();
        }
        Ok(())
    }

    /// Rolls back now (releasing locks at once rather than when the connection is reused); on
    /// SQLite, the group undoes the unit before the next one runs.
    pub async fn rollback(self) -> Result<(), DbErr> {
        match self.txn.0 {
            Txn::Own(txn) => txn.rollback().await,
            Txn::Group(_) => Ok(()),
        }
    }
}

impl Deref for UnitOfWork {
    type Target = UnitTxn;

    fn deref(&self) -> &UnitTxn {
        &self.txn
    }
}
