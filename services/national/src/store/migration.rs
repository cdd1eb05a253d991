//! Schema of the national database. Migrations are append-only.

use cplds_runtime::{
    db::columns::*,
    kit::{HistoryTable, history::AdoptHistory},
};
use sea_orm_migration::prelude::*;

use super::APPROVAL_KIND;

cplds_runtime::migrator! {
    Migrator:
    CreateTables,
    HistoryTable,
    AdoptApprovalLog,
    IngestGuards,
    SurveyParts,
    JuryRemarksTable,
}

struct CreateTables;

cplds_runtime::migration_name!(CreateTables, "m20261101_000500_national_tables");

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
        create_log_and_streams(m).await?;
        create_records(m).await?;
        create_approvals(m).await?;
        create_surveys(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            m,
            &[
                "mlds_survey_rows",
                "approval_log",
                "approvals",
                "trainings",
                "records",
                "streams",
                "received_events",
            ],
        )
        .await
    }
}

/// The facts as received, and each source's progress.
async fn create_log_and_streams(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut t = Table::create();
    t.table(Alias::new("received_events"))
        .col(text("academy"))
        .col(text("source"))
        .col(big("sequence"))
        .col(text("event_id").unique_key())
        .col(text("event_type"))
        .col(instant("occurred_at"))
        .col(bytes("envelope"))
        .col(flag("applied"))
        .col(instant("received_at"));
    pk(&mut t, &["academy", "source", "sequence"]);
    m.create_table(t.to_owned()).await?;

    let mut t = Table::create();
    t.table(Alias::new("streams"))
        .col(text("academy"))
        .col(text("source"))
        .col(big("applied_sequence"))
        .col(big("highest_seen"))
        .col(big("announced_sequence"))
        .col(instant_null("last_event_at"))
        .col(instant_null("last_heartbeat_at"))
        .col(instant_null("last_replay_request_at"));
    pk(&mut t, &["academy", "source"]);
    m.create_table(t.to_owned()).await
}

/// Candidates' records by session year, trainees' by school year.
async fn create_records(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (name, year) in [("records", "year"), ("trainings", "school_year")] {
        let mut t = Table::create();
        t.table(Alias::new(name))
            .col(text("academy"))
            .col(int(year))
            .col(text("candidate_key"))
            .col(long_text("data"));
        pk(&mut t, &["academy", year, "candidate_key"]);
        m.create_table(t.to_owned()).await?;
        m.create_index(index_on(&format!("{name}_by_year"), name, &[year]))
            .await?;
    }
    Ok(())
}

/// Approvals, and their former log (moved into the history by [`AdoptApprovalLog`]).
async fn create_approvals(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut t = Table::create();
    t.table(Alias::new("approvals"))
        .col(text("academy"))
        .col(int("year"))
        .col(flag("approved"))
        .col(instant_null("approved_at"))
        .col(long_text("remarks"));
    pk(&mut t, &["academy", "year"]);
    m.create_table(t.to_owned()).await?;
    m.create_table(
        Table::create()
            .table(Alias::new("approval_log"))
            .col(serial("id"))
            .col(text("academy"))
            .col(int("year"))
            .col(instant("at"))
            .col(text("action"))
            .col(long_text("detail"))
            .to_owned(),
    )
    .await
}

async fn create_surveys(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("mlds_survey_rows"))
            .col(serial("id"))
            .col(text("academy"))
            .col(int("year"))
            .col(int("version"))
            .col(text("action_kind"))
            .col(text("sex"))
            .col(text("age_band"))
            .col(text("outcome"))
            .col(big("young_people"))
            .to_owned(),
    )
    .await?;
    m.create_index(index_on(
        "mlds_survey_rows_by_year",
        "mlds_survey_rows",
        &["year", "academy", "version"],
    ))
    .await
}

/// Moves the approval log into the runtime's history: each entry becomes an act on the
/// approval `{académie}/{year}`, by the national node. The log names its record by two columns
/// and has no actor, so both are added first for [`AdoptHistory`] to copy.
struct AdoptApprovalLog;

const ADOPT: AdoptHistory = AdoptHistory {
    name: "m20261201_000500_national_adopt_approval_log",
    table: "approval_log",
    subject_column: "subject",
    kind: APPROVAL_KIND,
};

impl MigrationName for AdoptApprovalLog {
    fn name(&self) -> &str {
        ADOPT.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AdoptApprovalLog {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if !m.has_table(ADOPT.table).await? {
            return Ok(());
        }
        for column in ["subject", "actor"] {
            add_column(m, ADOPT.table, text_null(column)).await?;
        }
        m.get_connection()
            .execute_unprepared(&format!(
                "UPDATE approval_log SET subject = academy || '/' || CAST(year AS TEXT), actor = '{}'",
                crate::NAME
            ))
            .await?;
        ADOPT.up(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        ADOPT.down(m).await
    }
}

/// What ingestion must not lose or hide: facts kept until this node knows their payload,
/// sequences reused with another event (a restored académie), and the replay scheduler's state
/// (a round taken by one replica at a time, requests unanswered since the gap last narrowed).
struct IngestGuards;

cplds_runtime::migration_name!(IngestGuards, "m20261202_000500_national_ingest_guards");

#[async_trait::async_trait]
impl MigrationTrait for IngestGuards {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, "received_events", flag("waiting_upgrade").default(false)).await?;
        for mut column in [big("replay_round"), int("unanswered_replays")] {
            add_column(m, "streams", column.default(0)).await?;
        }
        let mut t = Table::create();
        t.table(Alias::new("sequence_conflicts"))
            .col(text("academy"))
            .col(text("source"))
            .col(big("sequence"))
            .col(text("event_id"))
            .col(text("event_type"))
            .col(text("kept_event_id"))
            .col(bytes("envelope"))
            .col(instant("received_at"));
        pk(&mut t, &["academy", "source", "sequence", "event_id"]);
        m.create_table(t.to_owned()).await?;
        m.create_index(index_on(
            "received_events_waiting_upgrade",
            "received_events",
            &["waiting_upgrade"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["sequence_conflicts"]).await
    }
}

/// The MLDS survey in its own terms: each row is a part of the survey — `headcount` (sex, age
/// band), `action` (type in `action_kind`, sex) or `outcome` (outcome, sex); rows of the former
/// format stay `cell`.
struct SurveyParts;

cplds_runtime::migration_name!(SurveyParts, "m20261203_000500_national_survey_parts");

#[async_trait::async_trait]
impl MigrationTrait for SurveyParts {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, "mlds_survey_rows", text("part").default("cell")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_column(m, "mlds_survey_rows", "part").await
    }
}

/// The jury's remarks of each académie's session, for its report.
struct JuryRemarksTable;

cplds_runtime::migration_name!(JuryRemarksTable, "m20261203_000600_national_jury_remarks");

#[async_trait::async_trait]
impl MigrationTrait for JuryRemarksTable {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table(Alias::new("jury_remarks"))
            .col(text("academy"))
            .col(int("year"))
            .col(long_text("sections"));
        pk(&mut t, &["academy", "year"]);
        m.create_table(t.to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["jury_remarks"]).await
    }
}
