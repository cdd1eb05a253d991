//! Small store patterns every service needs: row locks that only PostgreSQL takes, and named
//! counters for document numbers.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, QuerySelect, Statement};
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

/// Holds the lock named `name` until the transaction ends, on PostgreSQL: a transaction-level
/// advisory lock of the schema, shared or exclusive. Unlike a `FOR SHARE` row lock it writes
/// nothing (no multixact on a row every writer shares), so many acts may hold it side by side at
/// the cost of one short statement; an act taking it [`Lock::Exclusive`] waits for them and they
/// wait for it. Read the row it guards after taking it: the read then sees the last holder's
/// commit. SQLite serialises writers already (one connection), so it takes none.
pub async fn hold<C: ConnectionTrait>(db: &C, name: &str, lock: Lock) -> Result<(), DbErr> {
    hold_all(db, &[(name, lock)]).await
}

/// [`hold`] of several locks in one round trip, taken in the order given (PostgreSQL evaluates a
/// select list left to right): callers keep the order every other act takes them in.
pub async fn hold_all<C: ConnectionTrait>(db: &C, locks: &[(&str, Lock)]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres || locks.is_empty() {
        return Ok(());
    }
    let calls: Vec<String> = locks.iter().map(|(_, lock)| lock_call(*lock)).collect();
    db.execute_raw(stmt(
        backend,
        &format!("SELECT {}", calls.join(", ")),
        locks.iter().map(|(name, _)| (*name).into()).collect(),
    ))
    .await?;
    Ok(())
}

/// The call taking a named advisory lock (its name a `?`). Schemas of several services (and
/// académies) may share a database: the name is the schema's.
fn lock_call(lock: Lock) -> String {
    let function = match lock {
        Lock::Shared => "pg_advisory_xact_lock_shared",
        Lock::Exclusive => "pg_advisory_xact_lock",
    };
    format!("{function}(hashtextextended(current_schema() || '/' || ?, 0))")
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

/// The next value of several named counters (distinct names), in one statement: each row is
/// taken (and locked until the transaction ends) in the order given, as with [`next_counter`]
/// called for each in turn, after the lock `held` if one is named (on PostgreSQL, as [`hold`]
/// takes it: a round trip less for an act that takes both). Values come back in the order of
/// `names`.
pub async fn next_counters<C: ConnectionTrait>(
    db: &C,
    held: Option<(&str, Lock)>,
    names: &[&str],
) -> Result<Vec<i64>, DbErr> {
    let Some(take) = take_counters(db.get_database_backend(), held, names)? else {
        if let Some((name, lock)) = held {
            hold(db, name, lock).await?;
        }
        return Ok(Vec::new());
    };
    let found = db.query_all_raw(take).await?;
    counter_values(names, &found)
}

/// [`next_counters`], then `read`, which sees the counters taken (its rows are returned), in
/// turn ([`reads_in_turn`]: one round trip on SQLite). On PostgreSQL the read's snapshot is taken once
/// the counters' locks are held, so it sees what their previous holders committed.
pub async fn next_counters_then<C: ConnectionTrait>(
    db: &C,
    held: Option<(&str, Lock)>,
    names: &[&str],
    read: Statement,
) -> Result<(Vec<i64>, Vec<QueryResult>), DbErr> {
    let Some(take) = take_counters(db.get_database_backend(), held, names)? else {
        let values = next_counters(db, held, names).await?;
        return Ok((values, db.query_all_raw(read).await?));
    };
    let mut groups = reads_in_turn(db, vec![take, read]).await?.into_iter();
    match (groups.next(), groups.next()) {
        (Some(taken), Some(read)) => Ok((counter_values(names, &taken)?, read)),
        _ => Err(DbErr::Custom(format!(
            "counters {names:?}: the read came back short"
        ))),
    }
}

/// The column of the row [`reads_in_turn`] puts after each read's rows on SQLite.
const READ_END: &str = "cplds_read_end";

/// Several statements run in turn, each one's rows apart (none for a write without
/// `RETURNING`): a round trip each on PostgreSQL, where a statement's snapshot must follow the
/// locks the one before took; on SQLite one string, where a row of the single column `cplds_read_end` follows each read's rows (no
/// read returns such a column), so a unit reading what a rule needs holds the one writer for one
/// round trip instead of one per read.
pub async fn reads_in_turn<C: ConnectionTrait>(
    db: &C,
    reads: Vec<Statement>,
) -> Result<Vec<Vec<QueryResult>>, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Sqlite {
        let mut all = Vec::with_capacity(reads.len());
        for read in reads {
            all.push(db.query_all_raw(read).await?);
        }
        return Ok(all);
    }
    let expected = reads.len();
    let mut sql = String::new();
    let mut values = Vec::new();
    for read in reads {
        sql.push_str(&read.sql);
        sql.push_str(&format!("; SELECT 1 AS {READ_END}; "));
        values.extend(read.values.map(|v| v.0).unwrap_or_default());
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut all = Vec::with_capacity(expected);
    let mut current = Vec::new();
    for row in rows {
        if row.try_get::<i32>("", READ_END).is_ok() {
            all.push(std::mem::take(&mut current));
        } else {
            current.push(row);
        }
    }
    if all.len() != expected || !current.is_empty() {
        return Err(DbErr::Custom(format!(
            "{expected} reads in turn returned {} groups of rows",
            all.len()
        )));
    }
    Ok(all)
}

/// The upsert taking `names` (after the lock `held`, on PostgreSQL); `None` without names.
fn take_counters(
    backend: DbBackend,
    held: Option<(&str, Lock)>,
    names: &[&str],
) -> Result<Option<Statement>, DbErr> {
    if names.is_empty() {
        return Ok(None);
    }
    if names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n))
    {
        return Err(DbErr::Custom(format!("counters named twice: {names:?}")));
    }
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(names.len() + 1);
    let source = match held {
        // The join yields no row before the lock is taken, so no counter is taken before it.
        Some((name, lock)) if backend == DbBackend::Postgres => {
            values.push(name.into());
            format!(
                "SELECT v.name, 1 FROM (SELECT {}) AS held, (VALUES {}) AS v (name)",
                lock_call(lock),
                vec!["(?)"; names.len()].join(", ")
            )
        }
        _ => format!("VALUES {}", vec!["(?, 1)"; names.len()].join(", ")),
    };
    values.extend(names.iter().map(|n| sea_orm::Value::from(*n)));
    Ok(Some(stmt(
        backend,
        &format!(
            "INSERT INTO counters (name, value) {source} \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING name, value"
        ),
        values,
    )))
}

/// The values the upsert of `names` returned, in the order of `names`.
fn counter_values(names: &[&str], found: &[QueryResult]) -> Result<Vec<i64>, DbErr> {
    let mut by_name = std::collections::HashMap::with_capacity(found.len());
    for r in found {
        by_name.insert(
            r.try_get::<String>("", "name")?,
            r.try_get::<i64>("", "value")?,
        );
    }
    names
        .iter()
        .map(|n| {
            by_name
                .get(*n)
                .copied()
                .ok_or_else(|| DbErr::Custom(format!("counter {n} was not returned")))
        })
        .collect()
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
