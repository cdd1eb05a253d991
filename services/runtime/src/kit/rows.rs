//! Small store patterns every service needs: row locks that only PostgreSQL takes, and named
//! counters for document numbers.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QuerySelect};
use sea_orm_migration::prelude::*;

use crate::db::{
    columns::{big, id},
    stmt,
};

/// How a row is locked until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Others may read-lock it too, nobody may change it (acts that only need it to stay put).
    Shared,
    /// Acts on the same row wait for each other.
    Exclusive,
}

/// `q` with the row lock asked for, on PostgreSQL. SQLite serialises writers already (one
/// writer, one connection here), so it takes none.
pub fn locked<Q: QuerySelect>(q: Q, backend: DbBackend, lock: Lock) -> Q {
    match (backend, lock) {
        (DbBackend::Postgres, Lock::Exclusive) => q.lock_exclusive(),
        (DbBackend::Postgres, Lock::Shared) => q.lock_shared(),
        _ => q,
    }
}

/// The next value of the named counter (1 first), in the caller's transaction: numbers of
/// certificates and attestations are gapless because the counter moves with the document.
pub async fn next_counter<C: ConnectionTrait>(db: &C, name: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "INSERT INTO counters (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            vec![name.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("counter upsert returned no row".into()))?;
    row.try_get("", "value")
}

/// The `counters` table of [`next_counter`]; a service that had its own keeps it (same shape).
pub struct CountersTable;

crate::migration_name!(CountersTable, "m20261130_000002_runtime_counters");

#[async_trait::async_trait]
impl MigrationTrait for CountersTable {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("counters"))
                .if_not_exists()
                .col(id("name"))
                .col(big("value"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("counters"))
                .if_exists()
                .to_owned(),
        )
        .await
    }
}
