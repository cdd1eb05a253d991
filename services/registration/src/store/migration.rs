//! Schema of the registration database. Migrations are append-only: a released one keeps its
//! name and the schema it produces.

use cplds_runtime::{
    db::{RuntimeTables, columns::*},
    kit::{CountersTable, HistoryTable, history::AdoptHistory},
};
use sea_orm_migration::prelude::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(RuntimeTables),
            Box::new(CreateTables),
            Box::new(HistoryTable),
            // The candidacies' own history table, from before the shared one.
            Box::new(AdoptHistory {
                name: "m20261130_000100_registration_adopt_history",
                table: "candidacy_history",
                subject_column: "candidacy_id",
                kind: crate::store::CANDIDACY,
            }),
            // Counters lock an account's and a staff number's acts of a year (see `store`).
            Box::new(CountersTable),
            Box::new(StaffNumbersClaimedTwice),
        ]
    }
}

/// A staff number given by two live candidacies is recorded, not refused (the office decides
/// from the documents): the unique index on live staff numbers becomes a plain one.
struct StaffNumbersClaimedTwice;

impl MigrationName for StaffNumbersClaimedTwice {
    fn name(&self) -> &str {
        "m20261201_000100_registration_staff_numbers_claimed_twice"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StaffNumbersClaimedTwice {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("candidacies_live_staff_number")
                .table(Alias::new("candidacies"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        index(
            m,
            "candidacies_year_staff_number",
            "candidacies",
            &["year", "staff_number"],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("candidacies_year_staff_number")
                .table(Alias::new("candidacies"))
                .if_exists()
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(LIVE_STAFF_NUMBER_UNIQUE)
            .await
            .map(|_| ())
    }
}

/// One live candidacy per staff number and year, as the first schema had it. Partial unique
/// indexes exist in both SQLite and PostgreSQL.
const LIVE_STAFF_NUMBER_UNIQUE: &str = "CREATE UNIQUE INDEX candidacies_live_staff_number ON candidacies (year, staff_number) \
     WHERE status IN ('submitted', 'validated')";

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261101_000100_registration_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(campaigns()).await?;
        m.create_table(candidacies()).await?;
        index(
            m,
            "candidacies_year_status",
            "candidacies",
            &["year", "status"],
        )
        .await?;
        index(
            m,
            "candidacies_year_department",
            "candidacies",
            &["year", "department"],
        )
        .await?;
        // Replaced by `StaffNumbersClaimedTwice`; kept so the migrations replay as they ran.
        m.get_connection()
            .execute_unprepared(LIVE_STAFF_NUMBER_UNIQUE)
            .await?;
        m.create_table(documents()).await?;
        index(m, "documents_candidacy", "documents", &["candidacy_id"]).await?;
        m.create_table(document_contents()).await?;
        m.create_table(candidacy_history()).await?;
        index(
            m,
            "candidacy_history_candidacy",
            "candidacy_history",
            &["candidacy_id"],
        )
        .await
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

fn campaigns() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("campaigns"))
        .col(int("year").primary_key())
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
        .to_owned()
}

fn candidacies() -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new("candidacies"))
        .col(id("id"))
        .col(int("year"));
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
        t.col(text(name));
    }
    t.col(text_null("phone"))
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
        .foreign_key(&mut references("candidacies", "year", "campaigns", "year"))
        .to_owned()
}

fn documents() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("documents"))
        .col(id("id"))
        .col(text("candidacy_id"))
        .col(text("kind"))
        .col(text("file_name"))
        .col(text("content_type"))
        .col(big("size_bytes"))
        .col(text("sha256"))
        .col(instant("uploaded_at"))
        .col(text("uploaded_by"))
        .foreign_key(&mut references(
            "documents",
            "candidacy_id",
            "candidacies",
            "id",
        ))
        .to_owned()
}

fn document_contents() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("document_contents"))
        .col(id("document_id"))
        .col(bytes("content"))
        .foreign_key(&mut references(
            "document_contents",
            "document_id",
            "documents",
            "id",
        ))
        .to_owned()
}

/// Moved into the shared `history` by [`AdoptHistory`]; still created so that the migrations
/// replay from an empty database as they ran.
fn candidacy_history() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("candidacy_history"))
        .col(serial("id"))
        .col(text("candidacy_id"))
        .col(instant("at"))
        .col(text("actor"))
        .col(text("action"))
        .col(text_null("detail"))
        .to_owned()
}

fn references(from: &str, from_col: &str, to: &str, to_col: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(from_col))
        .to(Alias::new(to), Alias::new(to_col))
        .to_owned()
}

async fn index(m: &SchemaManager<'_>, name: &str, table: &str, cols: &[&str]) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(Alias::new(table));
    for c in cols {
        idx.col(Alias::new(*c));
    }
    m.create_index(idx.to_owned()).await
}
