//! Schema of the training database. Migrations are append-only.

use cplds_runtime::{
    db::{RuntimeTables, columns::*},
    kit::{HistoryTable, history::AdoptHistory},
};
use sea_orm_migration::prelude::*;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(RuntimeTables),
            Box::new(CreateTables),
            Box::new(SignedAttestations),
            Box::new(HistoryTable),
            // The enrolments' audit trail joins the runtime's one history table.
            Box::new(AdoptHistory {
                name: "m20261130_000200_training_adopt_history",
                table: "enrolment_history",
                subject_column: "enrolment_id",
                kind: super::HISTORY_KIND,
            }),
        ]
    }
}

struct CreateTables;

/// Attestations carry the académie's signature of their digest (null for earlier ones).
struct SignedAttestations;

impl MigrationName for SignedAttestations {
    fn name(&self) -> &str {
        "m20261124_000100_training_signed_attestations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SignedAttestations {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column at a time.
        for column in ["key_id", "signature"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("attestations"))
                    .add_column(text_null(column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in ["signature", "key_id"] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new("attestations"))
                    .drop_column(Alias::new(column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261101_000200_training_tables"
    }
}

fn fk(from: &str, column: &str, to: &str, to_column: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(column))
        .to(Alias::new(to), Alias::new(to_column))
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
        m.create_table(
            Table::create()
                .table(Alias::new("counters"))
                .col(id("name"))
                .col(col("value").big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("programmes"))
                .col(id("id"))
                .col(int("version").unique_key())
                .col(text("title"))
                .col(instant("created_at"))
                .col(text("created_by"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("programme_modules"))
                .col(text("programme_id"))
                .col(text("code"))
                .col(int("position"))
                .col(text("title"))
                .col(text("kind"))
                .col(text("mode"))
                .col(int("minutes"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("programme_id"))
                        .col(Alias::new("code")),
                )
                .foreign_key(&mut fk(
                    "programme_modules",
                    "programme_id",
                    "programmes",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("cohorts"))
                .col(id("id"))
                .col(int("school_year"))
                .col(text("title"))
                .col(text("programme_id"))
                .col(text("scope"))
                .col(text("participating_academies"))
                .col(int("capacity"))
                .col(instant("created_at"))
                .col(text("created_by"))
                .col(instant("updated_at"))
                .foreign_key(&mut fk("cohorts", "programme_id", "programmes", "id"))
                .to_owned(),
        )
        .await?;
        index(m, "cohorts_school_year", "cohorts", &["school_year"]).await?;

        let mut enrolments = Table::create();
        enrolments
            .table(Alias::new("enrolments"))
            .col(id("id"))
            .col(text("cohort_id"))
            .col(col("request_number").big_integer().not_null());
        for name in [
            "status",
            "last_name",
            "first_name",
            "email",
            "staff_number",
            "sex",
            "workplace_uai",
            "home_academy",
            "requested_by",
        ] {
            enrolments.col(text(name));
        }
        for name in [
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
        ] {
            enrolments.col(text_null(name));
        }
        enrolments
            .col(instant("requested_at"))
            .col(instant_null("tutor_assigned_at"))
            .col(instant_null("accepted_at"))
            .col(instant_null("left_at"))
            .col(instant_null("completed_at"))
            .col(instant("created_at"))
            .col(instant("updated_at"))
            .foreign_key(&mut fk("enrolments", "cohort_id", "cohorts", "id"));
        m.create_table(enrolments.to_owned()).await?;
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
        index(m, "enrolments_email", "enrolments", &["email"]).await?;
        // One live request per person and cohort; one who left may ask again. Partial unique
        // indexes exist in both SQLite and PostgreSQL.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX enrolments_live_staff_number ON enrolments (cohort_id, staff_number) \
                 WHERE status IN ('waitlisted', 'accepted', 'completed')",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(Alias::new("sessions"))
                .col(id("id"))
                .col(text("cohort_id"))
                .col(text("kind"))
                .col(text("title"))
                .col(text("first_day"))
                .col(text("last_day"))
                .col(instant_null("starts_at"))
                .col(text_null("starts_at_local"))
                .col(text_null("city"))
                .col(text_null("place"))
                .col(instant("created_at"))
                .col(text("created_by"))
                .foreign_key(&mut fk("sessions", "cohort_id", "cohorts", "id"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "sessions_cohort",
            "sessions",
            &["cohort_id", "first_day"],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("session_modules"))
                .col(text("session_id"))
                .col(text("module_code"))
                .col(int("position"))
                .col(int("minutes"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("session_id"))
                        .col(Alias::new("module_code")),
                )
                .foreign_key(&mut fk("session_modules", "session_id", "sessions", "id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("internship_activities"))
                .col(id("id"))
                .col(text("enrolment_id"))
                .col(text("kind"))
                .col(text("module_code"))
                .col(text("on_date"))
                .col(int("minutes"))
                .col(text("establishment_uai"))
                .col(text_null("description"))
                .col(instant("recorded_at"))
                .col(text("recorded_by"))
                .foreign_key(&mut fk(
                    "internship_activities",
                    "enrolment_id",
                    "enrolments",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "internship_activities_enrolment",
            "internship_activities",
            &["enrolment_id"],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("credits"))
                .col(serial("id"))
                .col(text("enrolment_id"))
                .col(text("module_code"))
                .col(int("minutes"))
                .col(text_null("session_id"))
                .col(text_null("activity_id"))
                .col(text("on_date"))
                .col(instant("recorded_at"))
                .col(text("recorded_by"))
                .foreign_key(&mut fk("credits", "enrolment_id", "enrolments", "id"))
                .foreign_key(&mut fk("credits", "session_id", "sessions", "id"))
                .foreign_key(&mut fk(
                    "credits",
                    "activity_id",
                    "internship_activities",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "credits_enrolment",
            "credits",
            &["enrolment_id", "session_id"],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("attestations"))
                .col(id("number"))
                .col(text("enrolment_id").unique_key())
                .col(text("cohort_id"))
                .col(instant("issued_at"))
                .col(text("issued_by"))
                .col(text("hours"))
                .col(col("pdf").binary().not_null())
                .col(text("sha256"))
                .foreign_key(&mut fk("attestations", "enrolment_id", "enrolments", "id"))
                .to_owned(),
        )
        .await?;
        let mut external = Table::create();
        external
            .table(Alias::new("external_records"))
            .col(id("enrolment_id"))
            .col(int("school_year"));
        for name in [
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
        ] {
            external.col(text(name));
        }
        external
            .col(text_null("birth_date"))
            .col(text_null("attestation_number"))
            .col(text_null("reason"))
            .col(instant("enrolled_at"))
            .col(instant("updated_at"));
        m.create_table(external.to_owned()).await?;
        index(
            m,
            "external_records_year",
            "external_records",
            &["school_year", "status"],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("enrolment_history"))
                .col(serial("id"))
                .col(text("enrolment_id"))
                .col(instant("at"))
                .col(text("actor"))
                .col(text("action"))
                .col(text_null("detail"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "enrolment_history_enrolment",
            "enrolment_history",
            &["enrolment_id"],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(Alias::new(*t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
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
