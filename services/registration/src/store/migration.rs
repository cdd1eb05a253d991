//! Schema of the registration database. Migrations are append-only: a released one keeps its
//! name and the schema it produces.

use cplds_runtime::{
    db::columns::*,
    kit::{CountersTable, HistoryTable, history::AdoptHistory},
};
use sea_orm_migration::prelude::*;

cplds_runtime::migrator! {
    Migrator:
    CreateTables,
    HistoryTable,
    // The candidacies' own history table, from before the shared one.
    AdoptHistory {
        name: "m20261130_000100_registration_adopt_history",
        table: "candidacy_history",
        subject_column: "candidacy_id",
        kind: crate::store::CANDIDACY,
    },
    // Counters lock an account's and a staff number's acts of a year (see `store`).
    CountersTable,
    StaffNumbersClaimedTwice,
    AccountIndex,
    LookUpIndexesWithStatus,
}

/// A staff number given by two live candidacies is recorded, not refused (the office decides
/// from the documents): the unique index on live staff numbers becomes a plain one.
struct StaffNumbersClaimedTwice;

cplds_runtime::migration_name!(
    StaffNumbersClaimedTwice,
    "m20261201_000100_registration_staff_numbers_claimed_twice"
);

#[async_trait::async_trait]
impl MigrationTrait for StaffNumbersClaimedTwice {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("candidacies_live_staff_number", "candidacies"))
            .await?;
        create_index(
            m,
            "candidacies_year_staff_number",
            "candidacies",
            &["year", "staff_number"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("candidacies_year_staff_number", "candidacies"))
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

/// Finds an account's candidacies of a year by index: each submission looks its account up, and
/// without it that was a scan of the year's candidacies (a cost growing with every one).
struct AccountIndex;

cplds_runtime::migration_name!(AccountIndex, "m20261202_000100_registration_account_index");

#[async_trait::async_trait]
impl MigrationTrait for AccountIndex {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // An index on an expression: the lookup compares `lower(email)` (see `store::opening`).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS candidacies_year_account ON candidacies (year, lower(email))",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("candidacies_year_account", "candidacies"))
            .await
    }
}

/// The look-ups of a new candidacy (`store::OPENING`) filter on the year, the account or the
/// staff number, and the status: indexes on all three are the best path for any parameters, so
/// a plan PostgreSQL caches for the statement (made without them) can only choose these, not
/// the (year, status) index that scans a year.
struct LookUpIndexesWithStatus;

cplds_runtime::migration_name!(
    LookUpIndexesWithStatus,
    "m20261203_000100_registration_look_up_indexes_with_status"
);

#[async_trait::async_trait]
impl MigrationTrait for LookUpIndexesWithStatus {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in [
            "CREATE INDEX IF NOT EXISTS candidacies_year_account_status \
             ON candidacies (year, lower(email), status)",
            "CREATE INDEX IF NOT EXISTS candidacies_year_staff_number_status \
             ON candidacies (year, staff_number, status)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        m.drop_index(drop_index("candidacies_year_account", "candidacies"))
            .await?;
        m.drop_index(drop_index("candidacies_year_staff_number", "candidacies"))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        AccountIndex.up(m).await?;
        create_index(
            m,
            "candidacies_year_staff_number",
            "candidacies",
            &["year", "staff_number"],
            false,
        )
        .await?;
        m.drop_index(drop_index("candidacies_year_account_status", "candidacies"))
            .await?;
        m.drop_index(drop_index(
            "candidacies_year_staff_number_status",
            "candidacies",
        ))
        .await
    }
}

struct CreateTables;

cplds_runtime::migration_name!(CreateTables, "m20261101_000100_registration_tables");

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(campaigns()).await?;
        m.create_table(candidacies()).await?;
        create_index(
            m,
            "candidacies_year_status",
            "candidacies",
            &["year", "status"],
            false,
        )
        .await?;
        create_index(
            m,
            "candidacies_year_department",
            "candidacies",
            &["year", "department"],
            false,
        )
        .await?;
        // Replaced by `StaffNumbersClaimedTwice`; kept so the migrations replay as they ran.
        m.get_connection()
            .execute_unprepared(LIVE_STAFF_NUMBER_UNIQUE)
            .await?;
        m.create_table(documents()).await?;
        create_index(
            m,
            "documents_candidacy",
            "documents",
            &["candidacy_id"],
            false,
        )
        .await?;
        m.create_table(document_contents()).await?;
        m.create_table(candidacy_history()).await?;
        create_index(
            m,
            "candidacy_history_candidacy",
            "candidacy_history",
            &["candidacy_id"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            m,
            &[
                "candidacy_history",
                "document_contents",
                "documents",
                "candidacies",
                "campaigns",
            ],
        )
        .await
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
        .foreign_key(&mut fk("candidacies", "year", "campaigns", "year"))
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
        .foreign_key(&mut fk("documents", "candidacy_id", "candidacies", "id"))
        .to_owned()
}

fn document_contents() -> TableCreateStatement {
    Table::create()
        .table(Alias::new("document_contents"))
        .col(id("document_id"))
        .col(bytes("content"))
        .foreign_key(&mut fk(
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
