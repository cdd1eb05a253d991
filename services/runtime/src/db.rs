//! Each service's own database (design rule 1): a SQLite file under `data_dir` by default, or a
//! schema of its own in PostgreSQL. Migrations run at start-up; the runtime's tables (outbox,
//! inbox, dead letters) come first in every service's migration list ([`RuntimeTables`], which
//! creates them as they are now), and [`RuntimeUpgrades`] (tracked apart) brings databases made
//! by an older [`RuntimeTables`] up to date.
//!
//! Migrating is safe on concurrent starts and on a crash ([`migrate`]): on PostgreSQL the whole
//! run holds a transaction-level advisory lock of the schema and is one transaction (DDL is
//! transactional there), so a second replica waits and then finds nothing to do; on SQLite each
//! migration runs in its own transaction, so a crash or a failure leaves the database as it was
//! before that migration and the next start resumes from there.

use std::{path::Path, time::Duration};

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement, TransactionTrait, Value,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use sea_orm_migration::prelude::*;

use crate::config::Config;

/// Where a service's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite { path: std::path::PathBuf },
    Postgres { url: String, schema: String },
}

impl DbTarget {
    pub fn for_service(config: &Config, academy: &str, service: &str) -> anyhow::Result<Self> {
        match &config.database_url {
            None => Ok(DbTarget::Sqlite {
                path: config
                    .data_dir
                    .join(academy)
                    .join(format!("{service}.sqlite")),
            }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DbTarget::Postgres {
                    url: url.clone(),
                    schema: schema_name(academy, service),
                })
            }
            Some(url) => anyhow::bail!(
                "database_url must be a postgres:// URL (got {:?}); leave it unset for SQLite files under data_dir",
                redact(url)
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DbTarget::Sqlite { path } => format!("sqlite {}", path.display()),
            DbTarget::Postgres { url, schema } => {
                format!("postgres {} schema {schema}", redact(url))
            }
        }
    }
}

/// `{academy}_{service}` with the académie's hyphens made identifier-safe.
pub fn schema_name(academy: &str, service: &str) -> String {
    format!("{}_{service}", academy.replace('-', "_"))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Opens the database and applies the service's migrations (see [`migrate`]).
pub async fn open<M: MigratorTrait>(target: &DbTarget) -> anyhow::Result<DatabaseConnection> {
    let db = connect(target).await?;
    migrate::<M>(&db)
        .await
        .with_context(|| format!("migrating {}", target.describe()))?;
    Ok(db)
}

/// Advisory-lock classes (first half of the key; the second is the schema's hash).
const MIGRATION_LOCK_CLASS: i32 = 0x63706c6d; // "cplm"
const START_LOCK_CLASS: i32 = 0x63706c73; // "cpls"
const SCHEMA_LOCK_CLASS: i32 = 0x63706c63; // "cplc"

/// Applies `M`'s pending migrations, then the runtime's upgrades, safely (module doc): what a
/// service's `ServiceModule::migrate` should call.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let txn = db.begin().await?;
        lock_schema(&txn, MIGRATION_LOCK_CLASS).await?;
        M::up(&txn, None).await?;
        RuntimeUpgrades::up(&txn, None).await?;
        txn.commit().await
    } else {
        // SQLite: one process owns the file; no lock, a transaction per migration.
        migrate_each::<M>(db).await?;
        migrate_each::<RuntimeUpgrades>(db).await
    }
}

/// Runs a service's own migration code (`run`) as the host does at start-up: on PostgreSQL under
/// an advisory lock held by a transaction beside it, so replicas starting together migrate one
/// after the other; then the runtime's upgrades. A service whose `migrate` calls [`migrate`]
/// also gets SQLite's transaction per migration.
pub async fn migrate_service<F>(db: &DatabaseConnection, run: F) -> Result<(), DbErr>
where
    F: std::future::Future<Output = Result<(), DbErr>>,
{
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let guard = db.begin().await?;
        lock_schema(&guard, START_LOCK_CLASS).await?;
        let ran = run.await;
        let upgraded = match ran {
            Ok(()) => {
                let txn = db.begin().await?;
                RuntimeUpgrades::up(&txn, None).await?;
                txn.commit().await
            }
            Err(e) => Err(e),
        };
        guard.commit().await?;
        upgraded
    } else {
        run.await?;
        migrate_each::<RuntimeUpgrades>(db).await
    }
}

/// Waits for the transaction-level advisory lock `class` of the current schema.
async fn lock_schema<C: ConnectionTrait>(txn: &C, class: i32) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        vec![class.into()],
    ))
    .await
    .map(|_| ())
}

/// Each pending migration of `M` in a transaction of its own, with its record.
async fn migrate_each<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), DbErr> {
    let pending: std::collections::HashSet<String> = M::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    for migration in M::migrations() {
        if !pending.contains(migration.name()) {
            continue;
        }
        let txn = db.begin().await?;
        migration.up(&SchemaManager::new(&txn)).await?;
        let record = Query::insert()
            .into_table(M::migration_table_name())
            .columns([Alias::new("version"), Alias::new("applied_at")])
            .values([
                migration.name().into(),
                chrono::Utc::now().timestamp().into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        txn.execute(&record).await?;
        txn.commit().await?;
        tracing::info!(migration = migration.name(), "migration applied");
    }
    Ok(())
}

/// A pooled connection is pinged before use only once it has been idle this long: a ping on
/// every checkout was one round trip more on every transaction (a tenth of a submission's), and
/// a connection used a moment ago is not the one a restarted server or a firewall has dropped.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

pub async fn connect(target: &DbTarget) -> anyhow::Result<DatabaseConnection> {
    match target {
        DbTarget::Sqlite { path } => connect_sqlite(path).await,
        DbTarget::Postgres { url, schema } => {
            let boot = Database::connect(url.as_str())
                .await
                .with_context(|| format!("connecting to {}", redact(url)))?;
            // Replicas starting together would collide on the catalogue's unique index.
            let txn = boot.begin().await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                vec![SCHEMA_LOCK_CLASS.into(), schema.clone().into()],
            ))
            .await?;
            txn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await?;
            txn.commit().await?;
            boot.close().await?;
            let mut opts = ConnectOptions::new(url.as_str());
            opts.set_schema_search_path(schema.as_str())
                .max_connections(16)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
                .sqlx_logging(false);
            Ok(Database::connect(opts)
                .await
                .with_context(|| format!("connecting to {}", target.describe()))?)
        }
    }
}

async fn connect_sqlite(path: &Path) -> anyhow::Result<DatabaseConnection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    // One connection: SQLite has one writer anyway, and a single connection can never meet
    // SQLITE_BUSY on a read-to-write upgrade. Calls queue on the pool instead.
    opts.max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

/// `INSERT INTO {into} VALUES …` of `rows` in their order, with `?` placeholders, and its values;
/// `None` for no rows. `into` names the table and its `N` columns.
pub fn insert_rows<const N: usize>(
    into: &str,
    rows: Vec<[Value; N]>,
) -> Option<(String, Vec<Value>)> {
    if rows.is_empty() {
        return None;
    }
    let row = format!("({})", vec!["?"; N].join(", "));
    let placeholders = vec![row.as_str(); rows.len()].join(", ");
    Some((
        format!("INSERT INTO {into} VALUES {placeholders}"),
        rows.into_iter().flatten().collect(),
    ))
}

/// A statement written with `?` placeholders, numbered `$n` for PostgreSQL.
pub fn stmt(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DatabaseBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `?, ?, ?` for an IN list.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// True when the error is a unique-constraint violation (a concurrent duplicate insert).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// One page of `select` in ascending `key` order, after the key `after` ended the previous page
/// (keyset pagination: stable while rows are added). Ask for one row more than the page size to
/// know whether another page follows.
pub async fn page<E, C, V>(
    db: &C,
    select: sea_orm::Select<E>,
    key: E::Column,
    after: Option<V>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr>
where
    E: sea_orm::EntityTrait,
    C: ConnectionTrait,
    V: Into<Value>,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = select.order_by_asc(key).limit(limit);
    if let Some(a) = after {
        q = q.filter(key.gt(a));
    }
    q.all(db).await
}

/// Column definitions for migrations, named by what they hold (`text`, `instant`, `flag`...),
/// `_null` for the nullable variant: schema code reads like the table it declares.
pub mod columns {
    use sea_orm_migration::prelude::{
        Alias, ColumnDef, DbErr, ForeignKey, ForeignKeyCreateStatement, Index,
        IndexCreateStatement, IndexDropStatement, SchemaManager, Table,
    };

    /// A foreign key from `table.column` to `to.to_column`.
    pub fn fk(table: &str, column: &str, to: &str, to_column: &str) -> ForeignKeyCreateStatement {
        ForeignKey::create()
            .from(Alias::new(table), Alias::new(column))
            .to(Alias::new(to), Alias::new(to_column))
            .to_owned()
    }

    /// An index `name` on `table`'s `cols`, in that order.
    pub fn index_on(name: &str, table: &str, cols: &[&str]) -> IndexCreateStatement {
        let mut idx = Index::create();
        idx.name(name).table(Alias::new(table));
        for c in cols {
            idx.col(Alias::new(*c));
        }
        idx
    }

    /// Creates the index `name` on `table`'s `cols`, unique or not.
    pub async fn create_index(
        m: &SchemaManager<'_>,
        name: &str,
        table: &str,
        cols: &[&str],
        unique: bool,
    ) -> Result<(), DbErr> {
        let mut idx = index_on(name, table, cols);
        if unique {
            idx.unique();
        }
        m.create_index(idx).await
    }

    /// Drops the index `name` of `table`, if it exists.
    pub fn drop_index(name: &str, table: &str) -> IndexDropStatement {
        Index::drop()
            .name(name)
            .table(Alias::new(table))
            .if_exists()
            .to_owned()
    }

    /// Adds `column` to `table`.
    pub async fn add_column(
        m: &SchemaManager<'_>,
        table: &str,
        mut column: impl std::borrow::BorrowMut<ColumnDef>,
    ) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new(table))
                .add_column(column.borrow_mut())
                .to_owned(),
        )
        .await
    }

    /// Drops `column` of `table` (a `down` undoing [`add_column`]).
    pub async fn drop_column(
        m: &SchemaManager<'_>,
        table: &str,
        column: &str,
    ) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(column))
                .to_owned(),
        )
        .await
    }

    /// Drops `tables`, in that order (dependents first), those that exist.
    pub async fn drop_tables(m: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
        for t in tables {
            m.drop_table(Table::drop().table(Alias::new(*t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }

    pub fn col(name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name))
    }

    macro_rules! column {
        ($($name:ident => $($step:ident)+;)*) => {
            $(pub fn $name(name: &str) -> ColumnDef {
                let mut c = col(name);
                c$(.$step())+;
                c
            })*
        };
    }

    column! {
        id => string not_null primary_key;
        serial => big_integer not_null auto_increment primary_key;
        text => string not_null;
        text_null => string null;
        long_text => text not_null;
        long_text_null => text null;
        int => integer not_null;
        int_null => integer null;
        big => big_integer not_null;
        instant => timestamp_with_time_zone not_null;
        instant_null => timestamp_with_time_zone null;
        flag => boolean not_null;
        flag_null => boolean null;
        bytes => binary not_null;
    }
}

/// Names a migration: `migration_name!(CreateTables, "m20261101_000200_training_tables");`. The
/// name is what the migrations table records, so a released one never changes.
#[macro_export]
macro_rules! migration_name {
    ($migration:ty, $name:literal) => {
        impl ::sea_orm_migration::MigrationName for $migration {
            fn name(&self) -> &str {
                $name
            }
        }
    };
}

/// A service's migrator: the runtime's tables first, then the service's migrations in the order
/// given, which never changes once released (append only).
/// `migrator!(Migrator: CreateTables, HistoryTable);`
#[macro_export]
macro_rules! migrator {
    ($migrator:ident: $($migration:expr),* $(,)?) => {
        pub struct $migrator;

        impl ::sea_orm_migration::MigratorTrait for $migrator {
            fn migrations() -> Vec<Box<dyn ::sea_orm_migration::MigrationTrait>> {
                vec![Box::new($crate::db::RuntimeTables), $(Box::new($migration)),*]
            }
        }
    };
}

/// The runtime's own tables, first in every service's migrations.
pub struct RuntimeTables;

crate::migration_name!(RuntimeTables, "m20261101_000001_runtime_outbox_inbox");

#[async_trait::async_trait]
impl MigrationTrait for RuntimeTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("outbox"))
                .if_not_exists()
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("event_id"))
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Alias::new("stream")).string().not_null())
                // Assigned by the relay at publish time (module `outbox`).
                .col(ColumnDef::new(Alias::new("sequence")).big_integer().null())
                .col(
                    ColumnDef::new(Alias::new("routing_key"))
                        .string()
                        .not_null(),
                )
                .col(ColumnDef::new(Alias::new("event_type")).string().not_null())
                .col(ColumnDef::new(Alias::new("envelope")).binary().not_null())
                .col(
                    ColumnDef::new(Alias::new("created_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("published_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            columns::index_on("outbox_stream_sequence", "outbox", &["stream", "sequence"])
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            columns::index_on("outbox_unpublished", "outbox", &["published_at", "id"])
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("outbox_sequence"))
                .if_not_exists()
                .col(
                    ColumnDef::new(Alias::new("stream"))
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("last_sequence"))
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("inbox"))
                .if_not_exists()
                .col(ColumnDef::new(Alias::new("consumer")).string().not_null())
                .col(ColumnDef::new(Alias::new("event_id")).string().not_null())
                .col(
                    ColumnDef::new(Alias::new("applied_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(Alias::new("consumer"))
                        .col(Alias::new("event_id")),
                )
                .to_owned(),
        )
        .await?;
        create_reliability_tables(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        columns::drop_tables(m, &["dead_letters", "inbox", "outbox_sequence", "outbox"]).await
    }
}

/// Dead letters and the indexes retention prunes by: in [`RuntimeTables`] for new databases,
/// and in [`RuntimeUpgrades`] for older ones (idempotent).
async fn create_reliability_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use columns::*;
    m.create_table(
        Table::create()
            .table(Alias::new("dead_letters"))
            .if_not_exists()
            .col(serial("id"))
            .col(text("consumer"))
            .col(text("queue"))
            .col(text("event_id"))
            .col(text("routing_key"))
            .col(text("event_type"))
            .col(bytes("envelope"))
            .col(long_text("reason"))
            .col(int("attempts"))
            .col(instant("dead_at"))
            .col(instant_null("redriven_at"))
            .to_owned(),
    )
    .await?;
    m.create_index(
        columns::index_on(
            "dead_letters_consumer_event",
            "dead_letters",
            &["consumer", "event_id"],
        )
        .unique()
        .if_not_exists()
        .to_owned(),
    )
    .await?;
    m.create_index(
        columns::index_on("inbox_applied_at", "inbox", &["applied_at"])
            .if_not_exists()
            .to_owned(),
    )
    .await?;
    m.create_index(
        columns::index_on(
            "outbox_stream_published",
            "outbox",
            &["stream", "published_at"],
        )
        .if_not_exists()
        .to_owned(),
    )
    .await
}

/// The runtime's upgrades of databases made by an older [`RuntimeTables`], tracked in their own
/// table so that no service's migration list has to change when the runtime's tables do.
pub struct RuntimeUpgrades;

impl MigratorTrait for RuntimeUpgrades {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(SequenceAtPublish),
            Box::new(crate::quarantine::Migration),
            Box::new(crate::outbox::PublishedThrough),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("cplds_runtime_migrations").into_iden()
    }
}

/// The outbox's sequence is given by the relay, not at append (nullable), and the dead letters
/// table and retention's indexes exist.
struct SequenceAtPublish;

crate::migration_name!(SequenceAtPublish, "m20261201_000001_sequence_at_publish");

#[async_trait::async_trait]
impl MigrationTrait for SequenceAtPublish {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE outbox ALTER COLUMN sequence DROP NOT NULL")
                    .await?;
            }
            _ => {
                let not_null = db
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Sqlite,
                        "SELECT \"notnull\" AS n FROM pragma_table_info('outbox') WHERE name = 'sequence'",
                    ))
                    .await?
                    .map(|r| r.try_get::<i64>("", "n"))
                    .transpose()?
                    .unwrap_or(0);
                if not_null == 1 {
                    // SQLite cannot drop a NOT NULL: the table is rebuilt (in the migration's
                    // transaction), with its ids, so the relay's order is unchanged.
                    db.execute_unprepared("ALTER TABLE outbox RENAME TO outbox_before_upgrade")
                        .await?;
                    for index in ["outbox_stream_sequence", "outbox_unpublished"] {
                        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                            .await?;
                    }
                    RuntimeTables.up(m).await?;
                    db.execute_unprepared(
                        "INSERT INTO outbox (id, event_id, stream, sequence, routing_key, event_type, envelope, created_at, published_at) \
                         SELECT id, event_id, stream, sequence, routing_key, event_type, envelope, created_at, published_at \
                         FROM outbox_before_upgrade",
                    )
                    .await?;
                    db.execute_unprepared("DROP TABLE outbox_before_upgrade")
                        .await?;
                }
            }
        }
        create_reliability_tables(m).await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let s = stmt(
            DatabaseBackend::Postgres,
            "SELECT ? , ?",
            vec![1i64.into(), 2i64.into()],
        );
        assert_eq!(s.sql, "SELECT $1 , $2");
        let s = stmt(DatabaseBackend::Sqlite, "SELECT ?", vec![1i64.into()]);
        assert_eq!(s.sql, "SELECT ?");
    }

    #[test]
    fn targets() {
        let mut c = Config::default();
        assert!(matches!(
            DbTarget::for_service(&c, "aix-marseille", "registration").unwrap(),
            DbTarget::Sqlite { .. }
        ));
        c.database_url = Some("postgres://u:pw@h/db".into());
        let t = DbTarget::for_service(&c, "aix-marseille", "registration").unwrap();
        assert_eq!(
            t,
            DbTarget::Postgres {
                url: "postgres://u:pw@h/db".into(),
                schema: "aix_marseille_registration".into()
            }
        );
        assert!(!t.describe().contains("pw"));
        c.database_url = Some("mysql://x".into());
        assert!(DbTarget::for_service(&c, "lyon", "training").is_err());
    }
}
