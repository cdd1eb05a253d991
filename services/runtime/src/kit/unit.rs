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
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

use super::history::{self, Act};
use crate::{clock::SharedClock, events::Payload, host::ServiceContext, outbox::Outbox};

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
            emitted: false,
        })
    }
}

/// A transaction with its events and history. Dropped without [`UnitOfWork::commit`], it rolls
/// back and publishes nothing.
pub struct UnitOfWork {
    txn: DatabaseTransaction,
    outbox: Outbox,
    now: DateTime<Utc>,
    emitted: bool,
}

impl UnitOfWork {
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The instant of this change: every row and event it writes carries the same one.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Appends events to the outbox, in this transaction (one statement for all of them).
    pub async fn emit(&mut self, payloads: impl IntoIterator<Item = Payload>) -> Result<(), DbErr> {
        let appended = self.outbox.append_all(&self.txn, payloads).await?;
        self.emitted |= !appended.is_empty();
        Ok(())
    }

    /// Records an act in the audit history, in this transaction.
    pub async fn record(&self, act: Act<'_>) -> Result<(), DbErr> {
        history::record(&self.txn, act, self.now).await
    }

    /// Commits, then wakes the relay if events were appended.
    pub async fn commit(self) -> Result<(), DbErr> {
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
