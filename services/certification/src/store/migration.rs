//! Schema of the certification database. Migrations are append-only.

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
        "m20261101_000400_certification_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut certificates = Table::create();
        certificates
            .table(Alias::new("certificates"))
            .col(col("number").string().not_null().primary_key())
            .col(col("year").integer().not_null())
            .col(col("serial").integer().not_null())
            .col(col("candidacy_id").string().not_null().unique_key());
        for name in [
            "candidate_key",
            "session_id",
            "last_name",
            "first_name",
            "birth_date",
            "email",
            "holder_name",
            "state",
        ] {
            certificates.col(text(name));
        }
        certificates
            .col(instant("admitted_at"))
            .col(col("status_index").big_integer().not_null().unique_key())
            .col(instant("prepared_at"))
            .col(instant_null("issued_at"))
            .col(text_null("issued_by"))
            .col(text_null("signatory"))
            .col(text_null("key_id"))
            .col(col("credential").text().null())
            .col(col("duplicate_count").integer().not_null())
            .col(instant_null("last_duplicate_at"))
            .col(instant_null("revoked_at"))
            .col(text_null("revoked_by"))
            .col(text_null("revocation_reason"))
            .col(text_null("revocation_text"))
            .col(instant("updated_at"));
        m.create_table(certificates.to_owned()).await?;
        for (name, cols) in [
            ("certificates_year_serial", &["year", "serial"][..]),
            ("certificates_year_state", &["year", "state"][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Alias::new("certificates"));
            if name == "certificates_year_serial" {
                idx.unique();
            }
            for c in cols {
                idx.col(Alias::new(*c));
            }
            m.create_index(idx.to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("certificates_email")
                .table(Alias::new("certificates"))
                .col(Alias::new("email"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("counters"))
                .col(col("name").string().not_null().primary_key())
                .col(col("value").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("signing_keys"))
                .col(col("kid").string().not_null().primary_key())
                .col(text("public_key"))
                .col(instant("first_seen_at"))
                .col(instant_null("retired_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("certificate_history"))
                .col(
                    col("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(text("number"))
                .col(instant("at"))
                .col(text("actor"))
                .col(text("action"))
                .col(text_null("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("certificate_history_number")
                .table(Alias::new("certificate_history"))
                .col(Alias::new("number"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "certificate_history",
            "signing_keys",
            "counters",
            "certificates",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
