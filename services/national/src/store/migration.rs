//! Schema of the national database. Migrations are append-only.

use cplds_runtime::db::RuntimeTables;
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

fn c(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
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
            .col(c("academy").string().not_null())
            .col(c("source").string().not_null())
            .col(c("sequence").big_integer().not_null())
            .col(c("event_id").string().not_null().unique_key())
            .col(c("event_type").string().not_null())
            .col(c("occurred_at").timestamp_with_time_zone().not_null())
            .col(c("envelope").binary().not_null())
            .col(c("applied").boolean().not_null())
            .col(c("received_at").timestamp_with_time_zone().not_null());
        pk(&mut t, &["academy", "source", "sequence"]);
        m.create_table(t.to_owned()).await?;

        let mut t = Table::create();
        t.table(Alias::new("streams"))
            .col(c("academy").string().not_null())
            .col(c("source").string().not_null())
            .col(c("applied_sequence").big_integer().not_null())
            .col(c("highest_seen").big_integer().not_null())
            .col(c("announced_sequence").big_integer().not_null())
            .col(c("last_event_at").timestamp_with_time_zone().null())
            .col(c("last_heartbeat_at").timestamp_with_time_zone().null())
            .col(
                c("last_replay_request_at")
                    .timestamp_with_time_zone()
                    .null(),
            );
        pk(&mut t, &["academy", "source"]);
        m.create_table(t.to_owned()).await?;

        for (name, year) in [("records", "year"), ("trainings", "school_year")] {
            let mut t = Table::create();
            t.table(Alias::new(name))
                .col(c("academy").string().not_null())
                .col(c(year).integer().not_null())
                .col(c("candidate_key").string().not_null())
                .col(c("data").text().not_null());
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
            .col(c("academy").string().not_null())
            .col(c("year").integer().not_null())
            .col(c("approved").boolean().not_null())
            .col(c("approved_at").timestamp_with_time_zone().null())
            .col(c("remarks").text().not_null());
        pk(&mut t, &["academy", "year"]);
        m.create_table(t.to_owned()).await?;

        m.create_table(
            Table::create()
                .table(Alias::new("approval_log"))
                .col(
                    c("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(c("academy").string().not_null())
                .col(c("year").integer().not_null())
                .col(c("at").timestamp_with_time_zone().not_null())
                .col(c("action").string().not_null())
                .col(c("detail").text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("mlds_survey_rows"))
                .col(
                    c("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(c("academy").string().not_null())
                .col(c("year").integer().not_null())
                .col(c("version").integer().not_null())
                .col(c("action_kind").string().not_null())
                .col(c("sex").string().not_null())
                .col(c("age_band").string().not_null())
                .col(c("outcome").string().not_null())
                .col(c("young_people").big_integer().not_null())
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
