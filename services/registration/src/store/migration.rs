//! Schema of the registration database. Migrations are append-only.

use cplds_runtime::db::{RuntimeTables, columns::*};
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
        "m20261101_000100_registration_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("campaigns"))
                .col(col("year").integer().not_null().primary_key())
                .col(text("academy"))
                .col(instant("opens_at"))
                .col(instant("closes_at"))
                .col(text("opens_at_local"))
                .col(text("closes_at_local"))
                .col(instant_null("list_published_at"))
                .col(text_null("list_published_by"))
                .col(instant_null("results_published_at"))
                .col(instant("created_at"))
                .col(instant("updated_at"))
                .to_owned(),
        )
        .await?;
        let mut candidacies = Table::create();
        candidacies
            .table(Alias::new("candidacies"))
            .col(col("id").string().not_null().primary_key())
            .col(col("year").integer().not_null());
        for name in [
            "status",
            "last_name",
            "first_name",
            "birth_date",
            "email",
            "staff_number",
            "candidate_key",
            "sex",
            "sector",
            "staff_status",
            "staff_function",
            "corps",
            "staff_category",
            "workplace_uai",
            "workplace_type",
            "department",
        ] {
            candidacies.col(text(name));
        }
        candidacies
            .col(text_null("phone"))
            .col(flag("runs_mlds_actions"))
            .col(flag("is_dropout_referent"))
            .col(flag("eligible"))
            .col(text("eligibility_explanations"))
            .col(text("channel"))
            .col(text_null("postmark_date"))
            .col(instant("effective_submit_at"))
            .col(text("submitted_by"))
            .col(text_null("decision_reason"))
            .col(text_null("decision_text"))
            .col(instant_null("decided_at"))
            .col(text_null("decided_by"))
            .col(instant_null("withdrawn_at"))
            .col(text_null("withdrawn_by"))
            .col(text_null("withdrawal_reason"))
            .col(text_null("status_before_withdrawal"))
            .col(flag("on_admitted_list"))
            .col(instant("created_at"))
            .col(instant("updated_at"))
            .foreign_key(
                ForeignKey::create()
                    .from(Alias::new("candidacies"), Alias::new("year"))
                    .to(Alias::new("campaigns"), Alias::new("year")),
            );
        m.create_table(candidacies.to_owned()).await?;
        for (name, cols) in [
            ("candidacies_year_status", ["year", "status"]),
            ("candidacies_year_department", ["year", "department"]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Alias::new("candidacies"));
            for c in cols {
                idx.col(Alias::new(c));
            }
            m.create_index(idx.to_owned()).await?;
        }
        // One live candidacy per person and year; a rejected or withdrawn one may be followed by
        // a new one. Partial unique indexes exist in both SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX candidacies_live_staff_number ON candidacies (year, staff_number) \
                 WHERE status IN ('submitted', 'validated')",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("documents"))
                .col(col("id").string().not_null().primary_key())
                .col(text("candidacy_id"))
                .col(text("kind"))
                .col(text("file_name"))
                .col(text("content_type"))
                .col(col("size_bytes").big_integer().not_null())
                .col(text("sha256"))
                .col(instant("uploaded_at"))
                .col(text("uploaded_by"))
                .foreign_key(
                    ForeignKey::create()
                        .from(Alias::new("documents"), Alias::new("candidacy_id"))
                        .to(Alias::new("candidacies"), Alias::new("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("documents_candidacy")
                .table(Alias::new("documents"))
                .col(Alias::new("candidacy_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("document_contents"))
                .col(col("document_id").string().not_null().primary_key())
                .col(col("content").binary().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Alias::new("document_contents"), Alias::new("document_id"))
                        .to(Alias::new("documents"), Alias::new("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("candidacy_history"))
                .col(
                    col("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(text("candidacy_id"))
                .col(instant("at"))
                .col(text("actor"))
                .col(text("action"))
                .col(text_null("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("candidacy_history_candidacy")
                .table(Alias::new("candidacy_history"))
                .col(Alias::new("candidacy_id"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "candidacy_history",
            "document_contents",
            "documents",
            "candidacies",
            "campaigns",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
