//! The reporting tables: survey submissions (every version kept) and figure approvals.

use cplds_runtime::db::columns::{instant, int, long_text, serial, text};
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

cplds_runtime::migrator!(Migrator: CreateTables);

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
        cplds_runtime::db::columns::drop_tables(
            m,
            &["figures_approvals", "mlds_survey_submissions"],
        )
        .await
    }
}

/// A survey as stored (JSON in `lines`): the domain's words as text. A submission of the former
/// format (a JSON array of cells) is kept as it was and reads as an empty survey.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSurvey {
    headcount: Vec<StoredCount>,
    actions: Vec<StoredCount>,
    outcomes: Vec<StoredCount>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCount {
    category: String,
    sex: String,
    young_people: u32,
}

pub fn encode_survey(survey: &crate::domain::Survey) -> Result<String, DbErr> {
    let counts = |counts: &[crate::domain::Count]| -> Vec<StoredCount> {
        counts
            .iter()
            .map(|c| StoredCount {
                category: c.category.into(),
                sex: c.sex.as_str().into(),
                young_people: c.young_people,
            })
            .collect()
    };
    let stored = StoredSurvey {
        headcount: counts(&survey.headcount),
        actions: counts(&survey.actions),
        outcomes: counts(&survey.outcomes),
    };
    serde_json::to_string(&stored).map_err(|e| DbErr::Custom(e.to_string()))
}

/// The survey of a stored submission, checked again as it was at submission.
pub fn decode_survey(json: &str) -> Result<crate::domain::Survey, DbErr> {
    use crate::domain::{RawCount, RawSurvey, Sex, Survey, parse_survey};
    if json.trim_start().starts_with('[') {
        return Ok(Survey::default());
    }
    let stored: StoredSurvey =
        serde_json::from_str(json).map_err(|e| DbErr::Custom(format!("stored survey: {e}")))?;
    fn raw(counts: &[StoredCount]) -> Vec<RawCount<'_>> {
        counts
            .iter()
            .map(|c| RawCount {
                category: &c.category,
                sex: Sex::parse(&c.sex),
                young_people: c.young_people,
            })
            .collect()
    }
    parse_survey(&RawSurvey {
        former_lines: 0,
        headcount: raw(&stored.headcount),
        actions: raw(&stored.actions),
        outcomes: raw(&stored.outcomes),
    })
    .map_err(|errors| DbErr::Custom(format!("stored survey no longer valid: {errors:?}")))
}
