//! The one way a service writes: a [`UnitOfWork`] is the transaction a change runs in, with its
//! events (outbox) and its audit history; committing it wakes the relay.
//!
//! ```text
//! let mut uow = self.core.begin().await?;
//! store::insert_candidacy(uow.txn(), &row).await?;
//! uow.record(Act { kind: "candidacy", subject: &row.id, actor, action: "submitted", detail: None }).await?;
//! uow.emit(events::submitted(&row)).await?;
//! uow.commit().await?;
//! ```

use std::ops::Deref;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait,
};

use super::history::{self, Act, PendingAct};
use crate::{
    clock::SharedClock,
    db::stmt,
    events::Payload,
    host::ServiceContext,
    outbox::{self, Outbox, PendingRow},
};

/// What every service's handlers share: its database, its outbox and the clock.
#[derive(Clone)]
pub struct ServiceCore {
    pub db: DatabaseConnection,
    pub outbox: Outbox,
    pub clock: SharedClock,
}

impl ServiceCore {
    pub fn new(ctx: &ServiceContext) -> Self {
        Self {
            db: ctx.db.clone(),
            outbox: ctx.outbox.clone(),
            clock: ctx.clock.clone(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a unit of work; `now` is fixed for all it records.
    pub async fn begin(&self) -> Result<UnitOfWork, DbErr> {
        Ok(UnitOfWork {
            txn: self.db.begin().await?,
            outbox: self.outbox.clone(),
            now: self.clock.now(),
            acts: Vec::new(),
            events: Vec::new(),
            emitted: false,
        })
    }
}

/// A transaction with its events and history. Dropped without [`UnitOfWork::commit`], it rolls
/// back and publishes nothing.
///
/// Acts and events are kept and written together just before the commit, in one round trip (one
/// per kind of row was a tenth of a submission's time); a query in the unit does not see them. A
/// unit that gathers many writes them out as it goes, [`FLUSH_AT`] rows at a time, so no
/// statement outgrows a database's limit on parameters.
pub struct UnitOfWork {
    txn: DatabaseTransaction,
    outbox: Outbox,
    now: DateTime<Utc>,
    acts: Vec<PendingAct>,
    events: Vec<PendingRow>,
    emitted: bool,
}

/// Rows of one kind a unit keeps before writing them (six parameters each).
const FLUSH_AT: usize = 256;

impl UnitOfWork {
    pub fn txn(&self) -> &DatabaseTransaction {
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
            let events = std::mem::take(&mut self.events);
            self.write(Vec::new(), events).await?;
        }
        Ok(())
    }

    /// Records an act in the audit history, in this transaction.
    pub async fn record(&mut self, act: Act<'_>) -> Result<(), DbErr> {
        self.acts.push(PendingAct::new(act, self.now));
        if self.acts.len() >= FLUSH_AT {
            let acts = std::mem::take(&mut self.acts);
            self.write(acts, Vec::new()).await?;
        }
        Ok(())
    }

    /// Writes the acts and events kept, in one round trip.
    async fn write(&self, acts: Vec<PendingAct>, events: Vec<PendingRow>) -> Result<(), DbErr> {
        let backend = self.txn.get_database_backend();
        let (sql, values) = match (history::insert_sql(acts), outbox::insert_sql(events)) {
            (Some((acts, mut values)), Some((events, more))) => {
                values.extend(more);
                // PostgreSQL prepares one statement: the acts' insert goes in a WITH, which runs
                // whether or not the query reads it. SQLite's driver runs the statements of one
                // string in turn, binding the `?`s in order.
                let sql = if backend == DbBackend::Postgres {
                    format!("WITH acts AS ({acts}) {events}")
                } else {
                    format!("{acts}; {events}")
                };
                (sql, values)
            }
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => return Ok(()),
        };
        self.txn.execute_raw(stmt(backend, &sql, values)).await?;
        Ok(())
    }

    /// Writes what is kept, commits, then wakes the relay if events were appended.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let (acts, events) = (
            std::mem::take(&mut self.acts),
            std::mem::take(&mut self.events),
        );
        self.write(acts, events).await?;
        self.txn.commit().await?;
        if self.emitted {
            self.outbox.wake();
        }
        Ok(())
    }

    /// Rolls back now (releasing locks at once rather than when the connection is reused).
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for UnitOfWork {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}
