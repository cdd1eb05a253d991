//! Group commit on SQLite: units of work that come while another runs share its transaction,
//! each in a savepoint of its own, and one COMMIT ends them all.
//!
//! Why: SQLite has one writer and the node keeps one connection to it, so units run one after
//! the other. A submission held that connection for about 0.5 ms, and half of it was its COMMIT
//! writing to the WAL every table and index page the unit touched. Units committed together
//! write each page once.
//!
//! How: a unit holds the group's lock for its whole run (as it held the only connection), opens
//! the group's transaction if none is open, and runs in a savepoint. The savepoint costs no round
//! trip of its own: it is opened by the unit's first statement and released by its last, sent
//! with them (each round trip to the driver's thread is time the lock is held, and a submission
//! made five). When the unit is done, if another waits for the lock and the group is not full,
//! it leaves the transaction open for that unit and waits for the group's outcome; otherwise it
//! commits the group and tells every member. A unit that fails is rolled back to its savepoint
//! before the next one runs, and the others keep their work. A member returns only after the
//! COMMIT, so what it acknowledges is durable, as before; if the COMMIT fails, every member fails
//! and nothing of the group is written.

use std::{
    borrow::Cow,
    sync::{
        Arc, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::metrics::GroupMetrics;

/// Units a group takes at most: a bound on how long the relay and readers wait for the one
/// connection while units keep coming, and on the work lost if the COMMIT fails.
const MAX_MEMBERS: usize = 32;

/// A service's group commit (one per database; SQLite only).
#[derive(Clone)]
pub(crate) struct GroupCommit(Arc<Shared>);

struct Shared {
    db: DatabaseConnection,
    /// The open group, if any; held by the unit running.
    open: Arc<Mutex<Option<Group>>>,
    /// Units waiting for the lock: a unit that ends leaves the group open only for them.
    waiting: AtomicUsize,
    /// Members per COMMIT, and the time units held the lock.
    measures: GroupMetrics,
}

struct Group {
    txn: Arc<GroupTxn>,
    members: usize,
    measures: GroupMetrics,
    /// The COMMIT's outcome, for the members waiting on it (`None` until then).
    outcome: watch::Sender<Option<Result<(), String>>>,
}

/// A unit's place in a group: the group's lock, until the unit ends.
pub(crate) struct Seat {
    shared: Arc<Shared>,
    guard: Option<OwnedMutexGuard<Option<Group>>>,
    since: Instant,
}

/// The group's transaction, used by one unit at a time (the one holding the lock), which runs
/// its statements in a savepoint of its own.
pub struct GroupTxn {
    txn: DatabaseTransaction,
    savepoint: std::sync::Mutex<Savepoint>,
}

/// Where the running unit's savepoint is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Savepoint {
    /// No unit runs, or it ended having opened none.
    None,
    /// To be opened with the unit's first statement.
    Owed,
    /// Opened; released by the unit's last statement.
    Open,
    /// Left open by a unit that failed: rolled back before the group goes on.
    Undo,
}

const OPEN_SAVEPOINT: &str = "SAVEPOINT unit";
const RELEASE_SAVEPOINT: &str = "RELEASE SAVEPOINT unit";
const UNDO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit";

impl GroupCommit {
    /// Group commit for `db` if it is SQLite, measured in `measures`; PostgreSQL runs writers
    /// side by side instead.
    pub(crate) fn for_database(db: &DatabaseConnection, measures: GroupMetrics) -> Option<Self> {
        (db.get_database_backend() == DbBackend::Sqlite).then(|| {
            Self(Arc::new(Shared {
                db: db.clone(),
                open: Arc::new(Mutex::new(None)),
                waiting: AtomicUsize::new(0),
                measures,
            }))
        })
    }

    /// A seat in the open group (opening one if none is), and the group's transaction, where the
    /// unit's statements run in its savepoint.
    pub(crate) async fn seat(&self) -> Result<(Seat, Arc<GroupTxn>), DbErr> {
        let guard = {
            let waiting = Waiting::new(&self.0);
            let guard = self.0.open.clone().lock_owned().await;
            waiting.acquired();
            guard
        };
        let mut seat = Seat {
            shared: self.0.clone(),
            guard: Some(guard),
            since: Instant::now(),
        };
        let open = seat.group_slot()?;
        let group = match open.take() {
            Some(group) => match group.txn.settle().await {
                Ok(()) => group,
                // What a failed unit left is not undone: the group's members fail with it.
                Err(e) => {
                    group.abandon(&e).await;
                    self.new_group().await?
                }
            },
            None => self.new_group().await?,
        };
        group.txn.set(Savepoint::Owed);
        let txn = group.txn.clone();
        *open = Some(group);
        Ok((seat, txn))
    }

    async fn new_group(&self) -> Result<Group, DbErr> {
        Ok(Group {
            txn: Arc::new(GroupTxn {
                txn: self.0.db.begin().await?,
                savepoint: std::sync::Mutex::new(Savepoint::None),
            }),
            members: 0,
            measures: self.0.measures.clone(),
            outcome: watch::channel(None).0,
        })
    }
}

impl GroupTxn {
    fn state(&self) -> std::sync::MutexGuard<'_, Savepoint> {
        // A state is a plain value: one left by a panicking holder is still whole.
        self.savepoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, to: Savepoint) {
        *self.state() = to;
    }

    /// `sql`, preceded by the unit's savepoint if it is yet to be opened.
    fn with_savepoint<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        let mut state = self.state();
        if *state == Savepoint::Owed {
            *state = Savepoint::Open;
            Cow::Owned(format!("{OPEN_SAVEPOINT}; {sql}"))
        } else {
            Cow::Borrowed(sql)
        }
    }

    fn statement(&self, mut stmt: Statement) -> Statement {
        if let Cow::Owned(sql) = self.with_savepoint(&stmt.sql) {
            stmt.sql = sql;
        }
        stmt
    }

    /// The statement that releases the unit's savepoint, to run after the unit's last one, if
    /// there is one to release: one is open, or is opened by that last statement (`writes`).
    pub(crate) fn release_after(&self, writes: bool) -> Option<&'static str> {
        let mut state = self.state();
        match *state {
            Savepoint::Open => Some(RELEASE_SAVEPOINT),
            Savepoint::Owed if writes => Some(RELEASE_SAVEPOINT),
            Savepoint::Owed => {
                *state = Savepoint::None;
                None
            }
            Savepoint::None | Savepoint::Undo => None,
        }
    }

    /// Notes that the statement [`GroupTxn::release_after`] gave has run.
    pub(crate) fn released(&self) {
        self.set(Savepoint::None);
    }

    /// Undoes what a failed unit left in its savepoint.
    ///
    /// A unit stopped while a statement was on its way (its request dropped) may have opened no
    /// savepoint, or released it: SQLite then has none to roll back to. Either way the group
    /// holds nothing of the unit or all of it, since the savepoint is opened by the unit's
    /// first statement and released by its last: it can go on.
    async fn settle(&self) -> Result<(), DbErr> {
        if *self.state() != Savepoint::Undo {
            return Ok(());
        }
        match self.txn.execute_unprepared(UNDO_SAVEPOINT).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("no such savepoint") => {}
            Err(e) => return Err(e),
        }
        self.set(Savepoint::None);
        Ok(())
    }

    /// The unit is over: a savepoint it still has open is released, and one it left unopened
    /// is no longer owed.
    async fn end(&self) -> Result<(), DbErr> {
        if let Some(release) = self.release_after(false) {
            self.txn.execute_unprepared(release).await?;
        }
        self.released();
        Ok(())
    }

    /// The unit failed: what it did in its savepoint is to be undone.
    fn fail(&self) {
        let mut state = self.state();
        *state = match *state {
            Savepoint::Open | Savepoint::Undo => Savepoint::Undo,
            Savepoint::None | Savepoint::Owed => Savepoint::None,
        };
    }
}

/// The unit's statements: each runs in the group's transaction, the first one opening the
/// unit's savepoint.
#[async_trait::async_trait]
impl ConnectionTrait for GroupTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(self.statement(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let sql = self.with_savepoint(sql);
        self.txn.execute_unprepared(&sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(self.statement(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(self.statement(stmt)).await
    }
}

impl Seat {
    fn group_slot(&mut self) -> Result<&mut Option<Group>, DbErr> {
        self.guard
            .as_deref_mut()
            .ok_or_else(|| DbErr::Custom("a unit's seat was used after it ended".into()))
    }

    /// Gives the lock up, counting the time it was held.
    fn release(&mut self) -> Option<OwnedMutexGuard<Option<Group>>> {
        let guard = self.guard.take()?;
        let held = self.since.elapsed().as_secs_f64();
        self.shared.measures.held.inc_by(held);
        Some(guard)
    }

    /// Ends the unit: its savepoint released (if its last statement did not), then the group
    /// committed now (by this unit) or by a later member. Returns once the group's COMMIT is
    /// done.
    pub(crate) async fn finish(mut self, txn: Arc<GroupTxn>) -> Result<(), DbErr> {
        txn.end().await?;
        // The group's transaction is taken whole by whoever commits it.
        drop(txn);
        let Some(group) = self.guard.as_deref_mut().and_then(Option::as_mut) else {
            return Err(outside_group());
        };
        group.members += 1;
        let mut outcome = group.outcome.subscribe();
        if group.members >= MAX_MEMBERS || self.shared.waiting.load(Ordering::Acquire) == 0 {
            // Taken out of the lock, which is released before the COMMIT.
            return match self.release().and_then(|mut open| open.take()) {
                Some(group) => group.close().await,
                None => Err(outside_group()),
            };
        }
        // The next unit joins the group; this one waits for whoever commits it.
        drop(self.release());
        loop {
            if let Some(result) = outcome.borrow_and_update().clone() {
                return result.map_err(DbErr::Custom);
            }
            if outcome.changed().await.is_err() {
                return Err(DbErr::Custom(
                    "the group this unit committed in ended without an outcome".into(),
                ));
            }
        }
    }
}

fn outside_group() -> DbErr {
    DbErr::Custom("a unit ended outside its group".into())
}

impl Group {
    /// Commits the group and tells its members. The COMMIT runs in a task of its own: a caller
    /// dropped (its client gone) must not drop the transaction halfway.
    async fn close(self) -> Result<(), DbErr> {
        if self.members > 0 {
            self.measures.units.observe(self.members as f64);
        }
        let commit = tokio::spawn(async move {
            let result = match Arc::into_inner(self.txn) {
                Some(txn) => match txn.settle().await {
                    Ok(()) => txn.txn.commit().await,
                    Err(e) => Err(e),
                },
                None => Err(DbErr::Custom(
                    "a group's transaction was still in use at its commit".into(),
                )),
            };
            let result = result.map_err(|e| e.to_string());
            self.outcome.send_replace(Some(result.clone()));
            result
        });
        match commit.await {
            Ok(result) => result.map_err(DbErr::Custom),
            Err(e) => Err(DbErr::Custom(format!("the group's commit failed: {e}"))),
        }
    }
}

impl Group {
    /// Rolls the group back: its members fail with `why`.
    async fn abandon(self, why: &DbErr) {
        let outcome = Err(format!(
            "the group this unit committed in was rolled back: {why}"
        ));
        self.outcome.send_replace(Some(outcome));
        if let Some(txn) = Arc::into_inner(self.txn)
            && let Err(e) = txn.txn.rollback().await
        {
            tracing::warn!(error = %e, "a group of units failed to roll back");
        }
    }
}

impl Drop for Seat {
    /// A unit that ends without [`Seat::finish`] (an error, a rollback, a dropped request) is no
    /// member, and its savepoint is rolled back before the group goes on; the group it leaves
    /// open is closed unless a unit waits to join it.
    fn drop(&mut self) {
        if let Some(guard) = self.release() {
            if let Some(group) = guard.as_ref() {
                group.txn.fail();
            }
            drop(guard);
            close_if_idle(&self.shared);
        }
    }
}

/// Commits the open group if no unit waits for it, from a task of its own (called where the
/// caller cannot wait: a drop).
fn close_if_idle(shared: &Arc<Shared>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let shared = shared.clone();
    runtime.spawn(async move {
        let mut open = shared.open.clone().lock_owned().await;
        if shared.waiting.load(Ordering::Acquire) > 0 {
            return;
        }
        if let Some(group) = open.take() {
            drop(open);
            if let Err(e) = group.close().await {
                tracing::warn!(error = %e, "a group of units failed to commit");
            }
        }
    });
}

/// Counts a unit waiting for the lock; one that stops waiting before it gets it (its request
/// dropped) may leave a group open with nobody to close it, so it has it closed.
struct Waiting<'a> {
    shared: &'a Arc<Shared>,
    acquired: bool,
}

impl<'a> Waiting<'a> {
    fn new(shared: &'a Arc<Shared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::AcqRel);
        Self {
            shared,
            acquired: false,
        }
    }

    fn acquired(mut self) {
        self.acquired = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.waiting.fetch_sub(1, Ordering::AcqRel);
        if !self.acquired {
            close_if_idle(self.shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    async fn setup() -> (DatabaseConnection, GroupCommit) {
        let db = crate::testing::sqlite_in_memory().await.unwrap();
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
            .await
            .unwrap();
        let group = GroupCommit::for_database(&db, GroupMetrics::default()).unwrap();
        (db, group)
    }

    async fn values(db: &DatabaseConnection) -> Vec<String> {
        db.query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT v FROM t ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "v").unwrap())
        .collect()
    }

    async fn insert(txn: &impl ConnectionTrait, v: &str) -> Result<(), DbErr> {
        txn.execute_unprepared(&format!("INSERT INTO t (v) VALUES ('{v}')"))
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn units_that_overlap_commit_together_and_a_failed_one_leaves_the_others() {
        let (db, group) = setup().await;
        let mut units = Vec::new();
        for i in 0..40 {
            let group = group.clone();
            units.push(tokio::spawn(async move {
                let (seat, txn) = group.seat().await?;
                // Every seventh unit fails on its first statement, which opens its savepoint.
                if i % 7 == 6 {
                    txn.execute_unprepared("INSERT INTO t (v) VALUES (NULL)")
                        .await?;
                }
                insert(&*txn, &format!("v{i}")).await?;
                // Every fifth unit breaks the unique constraint: it alone is undone.
                if i % 5 == 4 {
                    insert(&*txn, &format!("v{i}")).await?;
                }
                tokio::task::yield_now().await;
                seat.finish(txn).await
            }));
        }
        let mut failed = 0;
        for u in units {
            if u.await.unwrap().is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 12);
        let stored = values(&db).await;
        assert_eq!(stored.len(), 28, "{stored:?}");
        assert!(stored.iter().all(|v| {
            let n: u32 = v[1..].parse().unwrap();
            n % 5 != 4 && n % 7 != 6
        }));
        // Nothing is left open: the connection serves a plain transaction again.
        let txn = db.begin().await.unwrap();
        insert(&txn, "after").await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(values(&db).await.len(), 29);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_closes_the_group_left_open_for_it() {
        let (db, group) = setup().await;
        let (seat, txn) = group.seat().await.unwrap();
        insert(&*txn, "kept").await.unwrap();
        // A unit counted as waiting for the lock, whose request is dropped before it gets it.
        let waiting = Waiting::new(&group.0);
        let finishing = tokio::spawn(seat.finish(txn));
        // The first unit leaves the group open for it and waits for the outcome.
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while group.0.open.try_lock().map_or(true, |open| open.is_none()) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the group is left open for the waiter");
        assert!(!finishing.is_finished());
        drop(waiting);
        tokio::time::timeout(std::time::Duration::from_secs(10), finishing)
            .await
            .expect("the group is committed once its waiter is gone")
            .unwrap()
            .unwrap();
        assert_eq!(values(&db).await, vec!["kept".to_owned()]);
    }

    #[tokio::test]
    async fn a_unit_stopped_after_its_last_statement_is_kept_whole() {
        let (db, group) = setup().await;
        let (seat, txn) = group.seat().await.unwrap();
        insert(&*txn, "whole").await.unwrap();
        // Its last statement released the savepoint, but the unit was dropped before it heard.
        txn.execute_unprepared(RELEASE_SAVEPOINT).await.unwrap();
        drop((txn, seat));
        let (seat, txn) = group.seat().await.unwrap();
        insert(&*txn, "next").await.unwrap();
        seat.finish(txn).await.unwrap();
        assert_eq!(
            values(&db).await,
            vec!["whole".to_owned(), "next".to_owned()]
        );
    }

    #[tokio::test]
    async fn a_unit_dropped_halfway_is_undone_and_its_group_still_closes() {
        let (db, group) = setup().await;
        let (seat, txn) = group.seat().await.unwrap();
        insert(&*txn, "kept").await.unwrap();
        // A second unit queues while the first runs, so the first leaves the group open.
        let joining = {
            let group = group.clone();
            tokio::spawn(async move {
                let (seat, txn) = group.seat().await?;
                insert(&*txn, "dropped").await?;
                drop((txn, seat));
                Ok::<_, DbErr>(())
            })
        };
        while group.0.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        seat.finish(txn).await.unwrap();
        joining.await.unwrap().unwrap();
        assert_eq!(values(&db).await, vec!["kept".to_owned()]);
    }
}
