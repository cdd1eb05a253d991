//! Schema of the certification database. Migrations are append-only.

use cplds_runtime::{
    db::columns::*,
    kit::{HistoryTable, history::AdoptHistory},
    verification_code::AddVerificationCodes,
};
use sea_orm_migration::prelude::*;

use super::HISTORY_KIND;

cplds_runtime::migrator! {
    Migrator:
    CreateTables,
    HistoryTable,
    // The certificates' own history table moves into the runtime's.
    AdoptHistory {
        name: "m20261201_000400_certification_adopt_history",
        table: "certificate_history",
        subject_column: "number",
        kind: HISTORY_KIND,
    },
    // Every certificate gets a verification code (printed on its PDF, carried by its QR
    // code): those prepared before get theirs now, printed from their next PDF on.
    AddVerificationCodes {
        name: "m20261201_000500_certification_verification_codes",
        table: "certificates",
        key: "number",
    },
}

struct CreateTables;

cplds_runtime::migration_name!(CreateTables, "m20261101_000400_certification_tables");

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_certificates(m).await?;
        create_counters_and_keys(m).await?;
        create_history(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            m,
            &[
                "certificate_history",
                "signing_keys",
                "counters",
                "certificates",
            ],
        )
        .await
    }
}

async fn create_certificates(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut certificates = Table::create();
    certificates
        .table(Alias::new("certificates"))
        .col(id("number"))
        .col(int("year"))
        .col(int("serial"))
        .col(text("candidacy_id").unique_key());
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
        .col(big("status_index").unique_key())
        .col(instant("prepared_at"))
        .col(instant_null("issued_at"))
        .col(text_null("issued_by"))
        .col(text_null("signatory"))
        .col(text_null("key_id"))
        .col(long_text_null("credential"))
        .col(int("duplicate_count"))
        .col(instant_null("last_duplicate_at"))
        .col(instant_null("revoked_at"))
        .col(text_null("revoked_by"))
        .col(text_null("revocation_reason"))
        .col(text_null("revocation_text"))
        .col(instant("updated_at"));
    m.create_table(certificates.to_owned()).await?;
    m.create_index(
        index_on(
            "certificates_year_serial",
            "certificates",
            &["year", "serial"],
        )
        .unique()
        .to_owned(),
    )
    .await?;
    for (name, cols) in [
        ("certificates_year_state", &["year", "state"][..]),
        ("certificates_email", &["email"][..]),
    ] {
        m.create_index(index_on(name, "certificates", cols)).await?;
    }
    Ok(())
}

async fn create_counters_and_keys(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("counters"))
            .col(id("name"))
            .col(big("value"))
            .to_owned(),
    )
    .await?;
    m.create_table(
        Table::create()
            .table(Alias::new("signing_keys"))
            .col(id("kid"))
            .col(text("public_key"))
            .col(instant("first_seen_at"))
            .col(instant_null("retired_at"))
            .to_owned(),
    )
    .await
}

/// Moved into `history` by the adopting migration.
async fn create_history(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("certificate_history"))
            .col(serial("id"))
            .col(text("number"))
            .col(instant("at"))
            .col(text("actor"))
            .col(text("action"))
            .col(text_null("detail"))
            .to_owned(),
    )
    .await?;
    m.create_index(index_on(
        "certificate_history_number",
        "certificate_history",
        &["number"],
    ))
    .await
}
