//! Group commit on SQLite: units of work that come while another runs share its transaction,
//! each in a savepoint of its own, and one COMMIT ends them all.
//!
//! Why: SQLite has one writer and the node keeps one connection to it, so units run one after
//! the other. A submission held that connection for about 0.5 ms, and half of it was its COMMIT
//! writing to the WAL every table and index page the unit touched. Units committed together
//! write each page once.
//!
//! How: a unit holds the group's lock for its whole run (as it held the only connection), opens
//! the group's transaction if none is open, and runs in a savepoint. When it is done it releases
//! the savepoint. If another unit waits for the lock and the group is not full, it leaves the
//! transaction open for that unit and waits for the group's outcome; otherwise it commits the
//! group and tells every member. A unit that fails rolls back to its savepoint, and the others
//! keep their work. A member returns only after the COMMIT, so what it acknowledges is durable,
//! as before; if the COMMIT fails, every member fails and nothing of the group is written.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};
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
    txn: DatabaseTransaction,
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

    /// A seat in the open group (opening one if none is), and the unit's savepoint in it.
    pub(crate) async fn seat(&self) -> Result<(Seat, DatabaseTransaction), DbErr> {
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
            Some(group) => group,
            None => Group {
                txn: self.0.db.begin().await?,
                members: 0,
                measures: self.0.measures.clone(),
                outcome: watch::channel(None).0,
            },
        };
        let savepoint = group.txn.begin().await;
        *open = Some(group);
        Ok((seat, savepoint?))
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

    /// Ends the unit: its savepoint released, then the group committed now (by this unit) or
    /// by a later member. Returns once the group's COMMIT is done.
    pub(crate) async fn finish(mut self, savepoint: DatabaseTransaction) -> Result<(), DbErr> {
        savepoint.commit().await?;
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
            let result = self.txn.commit().await.map_err(|e| e.to_string());
            self.outcome.send_replace(Some(result.clone()));
            result
        });
        match commit.await {
            Ok(result) => result.map_err(DbErr::Custom),
            Err(e) => Err(DbErr::Custom(format!("the group's commit failed: {e}"))),
        }
    }
}

impl Drop for Seat {
    /// A unit that ends without [`Seat::finish`] (an error, a rollback, a dropped request) is no
    /// member, and its savepoint is rolled back; the group it leaves open is closed unless a unit
    /// waits to join it.
    fn drop(&mut self) {
        if self.release().is_some() {
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

    async fn insert(txn: &DatabaseTransaction, v: &str) -> Result<(), DbErr> {
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
                insert(&txn, &format!("v{i}")).await?;
                // Every fifth unit breaks the unique constraint: it alone is undone.
                if i % 5 == 4 {
                    insert(&txn, &format!("v{i}")).await?;
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
        assert_eq!(failed, 8);
        let stored = values(&db).await;
        assert_eq!(stored.len(), 32, "{stored:?}");
        assert!(stored.iter().all(|v| {
            let n: u32 = v[1..].parse().unwrap();
            n % 5 != 4
        }));
        // Nothing is left open: the connection serves a plain transaction again.
        let txn = db.begin().await.unwrap();
        insert(&txn, "after").await.unwrap();
        txn.commit().await.unwrap();
        assert_eq!(values(&db).await.len(), 33);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_closes_the_group_left_open_for_it() {
        let (db, group) = setup().await;
        let (seat, txn) = group.seat().await.unwrap();
        insert(&txn, "kept").await.unwrap();
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
    async fn a_unit_dropped_halfway_is_undone_and_its_group_still_closes() {
        let (db, group) = setup().await;
        let (seat, txn) = group.seat().await.unwrap();
        insert(&txn, "kept").await.unwrap();
        // A second unit queues while the first runs, so the first leaves the group open.
        let joining = {
            let group = group.clone();
            tokio::spawn(async move {
                let (seat, txn) = group.seat().await?;
                insert(&txn, "dropped").await?;
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
