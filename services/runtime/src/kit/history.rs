//! The audit history every service keeps of what was done to its records, by whom and when:
//! one table (`history`) and its queries, written in the same transaction as the change
//! ([`super::UnitOfWork::record`]).
//!
//! A record is named by its kind and id (`candidacy`, `0192…`), so one service may keep the
//! history of several kinds of records.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sea_orm_migration::prelude::*;

use crate::db::columns::{instant, long_text_null, serial, text};

/// One act on a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act<'a> {
    /// The kind of record (`candidacy`, `enrolment`, `certificate`).
    pub kind: &'static str,
    pub subject: &'a str,
    /// Who acted: the token's subject, or the service that reacted to an event.
    pub actor: &'a str,
    /// What was done, a word (`submitted`, `validated`).
    pub action: &'a str,
    pub detail: Option<String>,
}

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub subject: String,
        pub at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub detail: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use entity::Model as Entry;

/// Writes one act now, in the caller's transaction (a unit of work keeps its acts for its
/// commit: [`super::UnitOfWork::record`]).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    act: Act<'_>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if let Some((sql, values)) = insert_sql(vec![PendingAct::new(act, at)]) {
        db.execute_raw(crate::db::stmt(db.get_database_backend(), &sql, values))
            .await?;
    }
    Ok(())
}

/// An act's row built and not yet written (see [`super::UnitOfWork`]).
pub(crate) struct PendingAct([sea_orm::Value; 6]);

impl PendingAct {
    pub(crate) fn new(act: Act<'_>, at: DateTime<Utc>) -> Self {
        Self([
            act.kind.into(),
            act.subject.into(),
            at.into(),
            act.actor.into(),
            act.action.into(),
            act.detail.into(),
        ])
    }
}

/// The insert of acts in their order: SQL with `?` placeholders and its values, `None` for none.
pub(crate) fn insert_sql(acts: Vec<PendingAct>) -> Option<(String, Vec<sea_orm::Value>)> {
    crate::db::insert_rows(
        "history (kind, subject, at, actor, action, detail)",
        acts.into_iter().map(|a| a.0).collect(),
    )
}

/// The history of one record, oldest first.
pub async fn of<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subject: &str,
) -> Result<Vec<Entry>, DbErr> {
    entity::Entity::find()
        .filter(entity::Column::Kind.eq(kind))
        .filter(entity::Column::Subject.eq(subject))
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await
}

/// A page of a record's history after entry `after` (keyset on the entry id).
pub async fn page_of<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    subject: &str,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<Entry>, DbErr> {
    let mut q = entity::Entity::find()
        .filter(entity::Column::Kind.eq(kind))
        .filter(entity::Column::Subject.eq(subject))
        .order_by_asc(entity::Column::Id)
        .limit(limit);
    if let Some(a) = after {
        q = q.filter(entity::Column::Id.gt(a));
    }
    q.all(db).await
}

/// The `history` table, in every service's migrations after [`crate::db::RuntimeTables`].
pub struct HistoryTable;

crate::migration_name!(HistoryTable, "m20261130_000001_runtime_history");

#[async_trait::async_trait]
impl MigrationTrait for HistoryTable {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("history"))
                .if_not_exists()
                .col(serial("id"))
                .col(text("kind"))
                .col(text("subject"))
                .col(instant("at"))
                .col(text("actor"))
                .col(text("action"))
                .col(long_text_null("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("history_subject")
                .table(Alias::new("history"))
                .col(Alias::new("kind"))
                .col(Alias::new("subject"))
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(Alias::new("history"))
                .if_exists()
                .to_owned(),
        )
        .await
    }
}

/// A migration that moves a service's former history table (`subject_column` naming the
/// record) into `history` under `kind`, then drops it: existing audit trails are kept.
pub struct AdoptHistory {
    pub name: &'static str,
    pub table: &'static str,
    pub subject_column: &'static str,
    pub kind: &'static str,
}

impl MigrationName for AdoptHistory {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AdoptHistory {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if !m.has_table(self.table).await? {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO history (kind, subject, at, actor, action, detail) \
             SELECT '{kind}', {col}, at, actor, action, detail FROM {table} ORDER BY id",
            kind = self.kind,
            col = self.subject_column,
            table = self.table,
        ))
        .await?;
        m.drop_table(Table::drop().table(Alias::new(self.table)).to_owned())
            .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(format!(
            "{} moved rows into `history`; restore a backup to go back",
            self.name
        )))
    }
}
