//! Schema of the training database. Migrations are append-only.

use cplds_runtime::{
    db::columns::*,
    kit::{HistoryTable, history::AdoptHistory},
    verification_code::AddVerificationCodes,
};
use sea_orm_migration::prelude::*;

cplds_runtime::migrator! {
    Migrator:
    CreateTables,
    SignedAttestations,
    HistoryTable,
    // The enrolments' audit trail joins the runtime's one history table.
    AdoptHistory {
        name: "m20261130_000200_training_adopt_history",
        table: "enrolment_history",
        subject_column: "enrolment_id",
        kind: super::HISTORY_KIND,
    },
    Assignments,
    // Every attestation gets a verification code (printed on its PDF, carried by its QR
    // code); those issued before keep their printed PDF, shown by its checksum.
    AddVerificationCodes {
        name: "m20261202_000100_training_attestation_verification_codes",
        table: "attestations",
        key: "number",
    },
}

/// Who runs each session (the training office assigns them), and the académie's settings of
/// what the attestation requires beyond the hours.
struct Assignments;

cplds_runtime::migration_name!(
    Assignments,
    "m20261201_000200_training_session_trainers_and_settings"
);

#[async_trait::async_trait]
impl MigrationTrait for Assignments {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let trainers = vec![
            text("session_id"),
            text("email"),
            int("position"),
            instant("assigned_at"),
            text("assigned_by"),
        ];
        m.create_table(table(
            "session_trainers",
            trainers,
            &[("session_id", "sessions")],
            &["session_id", "email"],
        ))
        .await?;
        create_index(
            m,
            "session_trainers_email",
            "session_trainers",
            &["email"],
            false,
        )
        .await?;
        let settings = vec![
            id("academy"),
            flag("require_tutor"),
            flag("require_gpds_session"),
            int_null("target_presence_percent"),
            instant("updated_at"),
            text("updated_by"),
        ];
        m.create_table(table("settings", settings, &[], &[])).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["settings", "session_trainers"]).await
    }
}

struct CreateTables;

/// Attestations carry the académie's signature of their digest (null for earlier ones).
struct SignedAttestations;

cplds_runtime::migration_name!(
    SignedAttestations,
    "m20261124_000100_training_signed_attestations"
);

#[async_trait::async_trait]
impl MigrationTrait for SignedAttestations {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column at a time.
        for column in ["key_id", "signature"] {
            add_column(m, "attestations", text_null(column)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in ["signature", "key_id"] {
            drop_column(m, "attestations", column).await?;
        }
        Ok(())
    }
}

cplds_runtime::migration_name!(CreateTables, "m20261101_000200_training_tables");

/// A table of `columns`, each `(column, table)` of `references` a foreign key to that table's
/// `id` (every key in this schema is an `id`), and an optional composite primary key.
fn table(
    name: &str,
    columns: Vec<ColumnDef>,
    references: &[(&str, &str)],
    primary_key: &[&str],
) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(name));
    for mut c in columns {
        t.col(&mut c);
    }
    for (column, to) in references {
        t.foreign_key(
            ForeignKey::create()
                .from(Alias::new(name), Alias::new(*column))
                .to(Alias::new(*to), Alias::new("id")),
        );
    }
    if !primary_key.is_empty() {
        let mut pk = Index::create();
        for c in primary_key {
            pk.col(Alias::new(*c));
        }
        t.primary_key(&mut pk);
    }
    t.to_owned()
}

const TABLES: &[&str] = &[
    "enrolment_history",
    "external_records",
    "attestations",
    "internship_activities",
    "credits",
    "session_modules",
    "sessions",
    "enrolments",
    "cohorts",
    "programme_modules",
    "programmes",
    "counters",
];

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        catalogue(m).await?;
        enrolments(m).await?;
        sessions(m).await?;
        ledger(m).await?;
        outcomes(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, TABLES).await
    }
}

/// Counters, programme versions and their modules, cohorts.
async fn catalogue(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let value = col("value").big_integer().not_null().to_owned();
    m.create_table(table("counters", vec![id("name"), value], &[], &[]))
        .await?;
    let programmes = vec![
        id("id"),
        int("version").unique_key().to_owned(),
        text("title"),
        instant("created_at"),
        text("created_by"),
    ];
    m.create_table(table("programmes", programmes, &[], &[]))
        .await?;
    let modules = vec![
        text("programme_id"),
        text("code"),
        int("position"),
        text("title"),
        text("kind"),
        text("mode"),
        int("minutes"),
    ];
    m.create_table(table(
        "programme_modules",
        modules,
        &[("programme_id", "programmes")],
        &["programme_id", "code"],
    ))
    .await?;
    let cohorts = vec![
        id("id"),
        int("school_year"),
        text("title"),
        text("programme_id"),
        text("scope"),
        text("participating_academies"),
        int("capacity"),
        instant("created_at"),
        text("created_by"),
        instant("updated_at"),
    ];
    m.create_table(table(
        "cohorts",
        cohorts,
        &[("programme_id", "programmes")],
        &[],
    ))
    .await?;
    create_index(m, "cohorts_school_year", "cohorts", &["school_year"], false).await
}

/// Requests for a place, with the trainee, the tutor and the departure.
async fn enrolments(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut columns = vec![
        id("id"),
        text("cohort_id"),
        col("request_number").big_integer().not_null().to_owned(),
    ];
    columns.extend(
        [
            "status",
            "last_name",
            "first_name",
            "email",
            "staff_number",
            "sex",
            "workplace_uai",
            "home_academy",
            "requested_by",
        ]
        .map(text),
    );
    columns.extend(
        [
            "birth_date",
            "candidate_key",
            "deepening_codes",
            "tutor_last_name",
            "tutor_first_name",
            "tutor_email",
            "tutor_qualification",
            "tutor_assigned_by",
            "left_by",
            "leave_reason",
            "status_before_leaving",
            "attestation_number",
        ]
        .map(text_null),
    );
    columns.extend([
        instant("requested_at"),
        instant_null("tutor_assigned_at"),
        instant_null("accepted_at"),
        instant_null("left_at"),
        instant_null("completed_at"),
        instant("created_at"),
        instant("updated_at"),
    ]);
    m.create_table(table(
        "enrolments",
        columns,
        &[("cohort_id", "cohorts")],
        &[],
    ))
    .await?;
    m.create_index(
        Index::create()
            .name("enrolments_cohort_request")
            .table(Alias::new("enrolments"))
            .col(Alias::new("cohort_id"))
            .col(Alias::new("request_number"))
            .unique()
            .to_owned(),
    )
    .await?;
    create_index(m, "enrolments_email", "enrolments", &["email"], false).await?;
    // One live request per person and cohort; one who left may ask again. Partial unique
    // indexes exist in both SQLite and PostgreSQL.
    m.get_connection()
        .execute_unprepared(
            "CREATE UNIQUE INDEX enrolments_live_staff_number ON enrolments (cohort_id, staff_number) \
             WHERE status IN ('waitlisted', 'accepted', 'completed')",
        )
        .await?;
    Ok(())
}

/// Seminars and distance sessions, with the modules each covers.
async fn sessions(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let sessions = vec![
        id("id"),
        text("cohort_id"),
        text("kind"),
        text("title"),
        text("first_day"),
        text("last_day"),
        instant_null("starts_at"),
        text_null("starts_at_local"),
        text_null("city"),
        text_null("place"),
        instant("created_at"),
        text("created_by"),
    ];
    m.create_table(table(
        "sessions",
        sessions,
        &[("cohort_id", "cohorts")],
        &[],
    ))
    .await?;
    create_index(
        m,
        "sessions_cohort",
        "sessions",
        &["cohort_id", "first_day"],
        false,
    )
    .await?;
    let modules = vec![
        text("session_id"),
        text("module_code"),
        int("position"),
        int("minutes"),
    ];
    m.create_table(table(
        "session_modules",
        modules,
        &[("session_id", "sessions")],
        &["session_id", "module_code"],
    ))
    .await
}

/// Internship activities and the hours ledger.
async fn ledger(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let activities = vec![
        id("id"),
        text("enrolment_id"),
        text("kind"),
        text("module_code"),
        text("on_date"),
        int("minutes"),
        text("establishment_uai"),
        text_null("description"),
        instant("recorded_at"),
        text("recorded_by"),
    ];
    m.create_table(table(
        "internship_activities",
        activities,
        &[("enrolment_id", "enrolments")],
        &[],
    ))
    .await?;
    create_index(
        m,
        "internship_activities_enrolment",
        "internship_activities",
        &["enrolment_id"],
        false,
    )
    .await?;
    let credits = vec![
        serial("id"),
        text("enrolment_id"),
        text("module_code"),
        int("minutes"),
        text_null("session_id"),
        text_null("activity_id"),
        text("on_date"),
        instant("recorded_at"),
        text("recorded_by"),
    ];
    let references = [
        ("enrolment_id", "enrolments"),
        ("session_id", "sessions"),
        ("activity_id", "internship_activities"),
    ];
    m.create_table(table("credits", credits, &references, &[]))
        .await?;
    create_index(
        m,
        "credits_enrolment",
        "credits",
        &["enrolment_id", "session_id"],
        false,
    )
    .await
}

/// Attestations, records of staff trained elsewhere, and the enrolments' history (since moved
/// into the runtime's history table).
async fn outcomes(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let attestations = vec![
        id("number"),
        text("enrolment_id").unique_key().to_owned(),
        text("cohort_id"),
        instant("issued_at"),
        text("issued_by"),
        text("hours"),
        col("pdf").binary().not_null().to_owned(),
        text("sha256"),
    ];
    m.create_table(table(
        "attestations",
        attestations,
        &[("enrolment_id", "enrolments")],
        &[],
    ))
    .await?;
    let mut external = vec![id("enrolment_id"), int("school_year")];
    external.extend(
        [
            "organizing_academy",
            "cohort_id",
            "last_name",
            "first_name",
            "email",
            "staff_number",
            "sex",
            "workplace_uai",
            "candidate_key",
            "status",
            "hours",
        ]
        .map(text),
    );
    external.extend([
        text_null("birth_date"),
        text_null("attestation_number"),
        text_null("reason"),
        instant("enrolled_at"),
        instant("updated_at"),
    ]);
    m.create_table(table("external_records", external, &[], &[]))
        .await?;
    create_index(
        m,
        "external_records_year",
        "external_records",
        &["school_year", "status"],
        false,
    )
    .await?;
    let history = vec![
        serial("id"),
        text("enrolment_id"),
        instant("at"),
        text("actor"),
        text("action"),
        text_null("detail"),
    ];
    m.create_table(table("enrolment_history", history, &[], &[]))
        .await?;
    create_index(
        m,
        "enrolment_history_enrolment",
        "enrolment_history",
        &["enrolment_id"],
        false,
    )
    .await
}

#[cfg(test)]
mod tests {
    use cplds_runtime::db::{self, DbTarget};
    use sea_orm::ConnectionTrait;

    use super::*;

    /// An audit trail written before the shared history table keeps every row, in order.
    #[tokio::test]
    async fn the_enrolment_history_moves_into_the_shared_history() {
        let dir = tempfile::tempdir().unwrap();
        let db = db::connect(&DbTarget::Sqlite {
            path: dir.path().join("training.sqlite"),
        })
        .await
        .unwrap();
        // Up to the last migration before the shared history.
        Migrator::up(&db, Some(3)).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO enrolment_history (enrolment_id, at, actor, action, detail) VALUES \
             ('e1', '2025-10-01T08:00:00Z', 'eafc@ac-toulouse.fr', 'requested', 'accepted'), \
             ('e2', '2025-10-01T09:00:00Z', 'eafc@ac-toulouse.fr', 'requested', 'waitlisted'), \
             ('e1', '2025-10-02T08:00:00Z', 'formateur@ac-toulouse.fr', 'attendance', NULL)",
        )
        .await
        .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let e1 = cplds_runtime::kit::history::of(&db, super::super::HISTORY_KIND, "e1")
            .await
            .unwrap();
        let actions: Vec<(&str, Option<&str>)> = e1
            .iter()
            .map(|h| (h.action.as_str(), h.detail.as_deref()))
            .collect();
        assert_eq!(
            actions,
            [("requested", Some("accepted")), ("attendance", None)]
        );
        assert_eq!(e1[1].actor, "formateur@ac-toulouse.fr");
        assert!(
            !SchemaManager::new(&db)
                .has_table("enrolment_history")
                .await
                .unwrap()
        );
    }
}
