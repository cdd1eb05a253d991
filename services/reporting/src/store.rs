//! The reporting tables: survey submissions (every version kept) and figure approvals.

use cplds_runtime::db::{
    RuntimeTables,
    columns::{instant, int, long_text, serial, text},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use sea_orm_migration::prelude::*;

pub mod submission {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mlds_survey_submissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub submitted_at: DateTimeUtc,
        pub submitted_by: String,
        /// JSON array of lines.
        pub lines: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval {
    use sea_orm::entity::prelude::*;

    /// Every approval is kept: a year may be approved again after a correction.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "figures_approvals")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub year: i32,
        pub approved_at: DateTimeUtc,
        pub approved_by: String,
        pub remarks: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The latest version of a year's survey.
pub async fn latest_submission<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Option<submission::Model>, DbErr> {
    submission::Entity::find()
        .filter(submission::Column::Year.eq(year))
        .order_by_desc(submission::Column::Version)
        .one(db)
        .await
}

pub async fn insert_submission<C: ConnectionTrait>(
    db: &C,
    row: submission::Model,
) -> Result<submission::Model, DbErr> {
    submission::ActiveModel::from(row).insert(db).await
}

pub async fn insert_approval<C: ConnectionTrait>(
    db: &C,
    row: approval::ActiveModel,
) -> Result<approval::Model, DbErr> {
    row.insert(db).await
}

pub async fn approvals<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<approval::Model>, DbErr> {
    approval::Entity::find()
        .filter(approval::Column::Year.eq(year))
        .order_by_asc(approval::Column::Id)
        .all(db)
        .await
}

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(RuntimeTables), Box::new(CreateTables)]
    }
}

struct CreateTables;

cplds_runtime::migration_name!(CreateTables, "m20261101_000600_reporting_tables");

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("mlds_survey_submissions"))
                .col(int("year"))
                .col(int("version"))
                .col(instant("submitted_at"))
                .col(text("submitted_by"))
                .col(long_text("lines"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("year"))
                        .col(Alias::new("version")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("figures_approvals"))
                .col(serial("id"))
                .col(int("year"))
                .col(instant("approved_at"))
                .col(text("approved_by"))
                .col(long_text("remarks"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["figures_approvals", "mlds_survey_submissions"] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A survey line as stored (JSON in `lines`): the domain's words as text.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLine {
    action_kind: String,
    sex: String,
    age_band: String,
    outcome: String,
    young_people: u32,
}

pub fn encode_lines(lines: &[crate::domain::Line]) -> Result<String, DbErr> {
    let stored: Vec<StoredLine> = lines
        .iter()
        .map(|l| StoredLine {
            action_kind: l.action_kind.into(),
            sex: l.sex.as_str().into(),
            age_band: l.age_band.into(),
            outcome: l.outcome.into(),
            young_people: l.young_people,
        })
        .collect();
    serde_json::to_string(&stored).map_err(|e| DbErr::Custom(e.to_string()))
}

/// The lines of a stored submission, checked again as they were at submission.
pub fn decode_lines(json: &str) -> Result<Vec<crate::domain::Line>, DbErr> {
    use crate::domain::{RawLine, Sex, parse_lines};
    let stored: Vec<StoredLine> = serde_json::from_str(json)
        .map_err(|e| DbErr::Custom(format!("stored survey lines: {e}")))?;
    let raw: Vec<RawLine<'_>> = stored
        .iter()
        .map(|l| RawLine {
            action_kind: &l.action_kind,
            sex: Sex::parse(&l.sex),
            age_band: &l.age_band,
            outcome: &l.outcome,
            young_people: l.young_people,
        })
        .collect();
    parse_lines(&raw)
        .map_err(|errors| DbErr::Custom(format!("stored survey lines no longer valid: {errors:?}")))
}
