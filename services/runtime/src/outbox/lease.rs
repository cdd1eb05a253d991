//! The lease: which of a service's processes publishes its outbox.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::time::Instant;

/// The right to publish a database's outbox.
///
/// On PostgreSQL, a session-level advisory lock (key derived from the schema) held on a
/// connection of its own, outside the pool: replicas of the service try it in turn, and when
/// the holder dies its connection drops and the lock goes with it. A holder that finds its
/// connection broken stops publishing at once. On SQLite one process owns the file: there is
/// nothing to lock.
pub struct RelayLease {
    postgres: bool,
    /// The dedicated connection (kept while standing by, to try again on it).
    conn: Option<sea_orm::sqlx::PgConnection>,
    /// The service's schema (the pool's search path; the dedicated connection has none).
    schema: Option<String>,
    held: bool,
    checked: Option<Instant>,
}

/// First half of the advisory-lock key of relays ("cplr"); the second is the schema's hash.
const RELAY_LOCK_CLASS: i32 = 0x63706c72;

impl RelayLease {
    pub(super) fn new(db: &DatabaseConnection) -> Self {
        Self {
            postgres: db.get_database_backend() == DbBackend::Postgres,
            conn: None,
            schema: None,
            held: false,
            checked: None,
        }
    }

    /// Whether the lease is held after this call: checks the held connection at most once per
    /// `check_every`, or tries to take the lease.
    pub(super) async fn hold(&mut self, db: &DatabaseConnection, check_every: Duration) -> bool {
        if !self.postgres {
            return true;
        }
        if self.held && self.checked.is_some_and(|c| c.elapsed() < check_every) {
            return true;
        }
        match self.try_hold(db).await {
            Ok(held) => {
                if self.held && !held {
                    tracing::warn!("outbox relay lost its lease; it stops publishing");
                }
                self.held = held;
                self.checked = Some(Instant::now());
            }
            Err(e) => {
                if self.held {
                    tracing::warn!(error = %e, "outbox relay lost its lease connection; it stops publishing");
                } else {
                    tracing::debug!(error = %e, "cannot try the outbox relay lease");
                }
                self.conn = None;
                self.held = false;
            }
        }
        self.held
    }

    /// Pings the held lease, or tries to take it, on the dedicated connection.
    async fn try_hold(&mut self, db: &DatabaseConnection) -> Result<bool, sea_orm::sqlx::Error> {
        use sea_orm::sqlx::{self, Connection as _};
        let pool = db.get_postgres_connection_pool();
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None => {
                let s: String = sqlx::query_scalar("SELECT current_schema()::text")
                    .fetch_one(pool)
                    .await?;
                self.schema.insert(s).clone()
            }
        };
        let conn = match self.conn.as_mut() {
            Some(c) => c,
            None => {
                let options = pool.connect_options();
                self.held = false;
                self.conn
                    .insert(sqlx::PgConnection::connect_with(&options).await?)
            }
        };
        let check = async {
            if self.held {
                conn.ping().await.map(|()| true)
            } else {
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                    .bind(RELAY_LOCK_CLASS)
                    .bind(&schema)
                    .fetch_one(&mut *conn)
                    .await
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), check).await {
            Ok(r) => r,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    pub(super) async fn release(&mut self) {
        use sea_orm::sqlx::Connection as _;
        self.held = false;
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}
