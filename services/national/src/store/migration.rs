//! Schema of the national database. Migrations are append-only.

use cplds_runtime::db::{RuntimeTables, columns::col};
use sea_orm_migration::prelude::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(RuntimeTables), Box::new(CreateTables)]
    }
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261101_000500_national_tables"
    }
}

fn pk(t: &mut TableCreateStatement, cols: &[&str]) {
    let mut idx = Index::create();
    for col in cols {
        idx.col(Alias::new(*col));
    }
    t.primary_key(&mut idx);
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table(Alias::new("received_events"))
            .col(col("academy").string().not_null())
            .col(col("source").string().not_null())
            .col(col("sequence").big_integer().not_null())
            .col(col("event_id").string().not_null().unique_key())
            .col(col("event_type").string().not_null())
            .col(col("occurred_at").timestamp_with_time_zone().not_null())
            .col(col("envelope").binary().not_null())
            .col(col("applied").boolean().not_null())
            .col(col("received_at").timestamp_with_time_zone().not_null());
        pk(&mut t, &["academy", "source", "sequence"]);
        m.create_table(t.to_owned()).await?;

        let mut t = Table::create();
        t.table(Alias::new("streams"))
            .col(col("academy").string().not_null())
            .col(col("source").string().not_null())
            .col(col("applied_sequence").big_integer().not_null())
            .col(col("highest_seen").big_integer().not_null())
            .col(col("announced_sequence").big_integer().not_null())
            .col(col("last_event_at").timestamp_with_time_zone().null())
            .col(col("last_heartbeat_at").timestamp_with_time_zone().null())
            .col(
                col("last_replay_request_at")
                    .timestamp_with_time_zone()
                    .null(),
            );
        pk(&mut t, &["academy", "source"]);
        m.create_table(t.to_owned()).await?;

        for (name, year) in [("records", "year"), ("trainings", "school_year")] {
            let mut t = Table::create();
            t.table(Alias::new(name))
                .col(col("academy").string().not_null())
                .col(col(year).integer().not_null())
                .col(col("candidate_key").string().not_null())
                .col(col("data").text().not_null());
            pk(&mut t, &["academy", year, "candidate_key"]);
            m.create_table(t.to_owned()).await?;
            m.create_index(
                Index::create()
                    .name(format!("{name}_by_year"))
                    .table(Alias::new(name))
                    .col(Alias::new(year))
                    .to_owned(),
            )
            .await?;
        }

        let mut t = Table::create();
        t.table(Alias::new("approvals"))
            .col(col("academy").string().not_null())
            .col(col("year").integer().not_null())
            .col(col("approved").boolean().not_null())
            .col(col("approved_at").timestamp_with_time_zone().null())
            .col(col("remarks").text().not_null());
        pk(&mut t, &["academy", "year"]);
        m.create_table(t.to_owned()).await?;

        m.create_table(
            Table::create()
                .table(Alias::new("approval_log"))
                .col(
                    col("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(col("academy").string().not_null())
                .col(col("year").integer().not_null())
                .col(col("at").timestamp_with_time_zone().not_null())
                .col(col("action").string().not_null())
                .col(col("detail").text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("mlds_survey_rows"))
                .col(
                    col("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(col("academy").string().not_null())
                .col(col("year").integer().not_null())
                .col(col("version").integer().not_null())
                .col(col("action_kind").string().not_null())
                .col(col("sex").string().not_null())
                .col(col("age_band").string().not_null())
                .col(col("outcome").string().not_null())
                .col(col("young_people").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("mlds_survey_rows_by_year")
                .table(Alias::new("mlds_survey_rows"))
                .col(Alias::new("year"))
                .col(Alias::new("academy"))
                .col(Alias::new("version"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "mlds_survey_rows",
            "approval_log",
            "approvals",
            "trainings",
            "records",
            "streams",
            "received_events",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
