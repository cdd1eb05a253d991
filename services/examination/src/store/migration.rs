//! Schema of the examination database. Migrations are append-only.

use cplds_runtime::{db::columns::*, kit::HistoryTable};
use sea_orm_migration::prelude::*;

cplds_runtime::migrator! {
    Migrator:
    CreateTables,
    BoardReplacements,
    HistoryTable,
    Jury,
    PastSessions,
}

struct CreateTables;

cplds_runtime::migration_name!(CreateTables, "m20261124_000100_examination_tables");

/// Members leave a board (`left_at`) when replaced; each replacement is kept.
struct BoardReplacements;

cplds_runtime::migration_name!(
    BoardReplacements,
    "m20261124_000200_examination_board_replacements"
);

#[async_trait::async_trait]
impl MigrationTrait for BoardReplacements {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, "board_members", instant_null("left_at")).await?;
        m.create_table(
            Table::create()
                .table(Alias::new("board_replacements"))
                .col(id("id"))
                .col(text("board_id"))
                .col(text("former_member_id"))
                .col(text("replacement_member_id"))
                .col(instant("replaced_at"))
                .col(text("replaced_by"))
                .col(text("reason"))
                .foreign_key(&mut fk("board_replacements", "board_id", "boards", "id"))
                .foreign_key(&mut fk(
                    "board_replacements",
                    "former_member_id",
                    "board_members",
                    "id",
                ))
                .to_owned(),
        )
        .await?;
        create_index(
            m,
            "board_replacements_board",
            "board_replacements",
            &["board_id"],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["board_replacements"]).await?;
        drop_column(m, "board_members", "left_at").await
    }
}

/// The session's jury president (a seat) and the jury's remarks.
struct Jury;

cplds_runtime::migration_name!(Jury, "m20261201_000100_examination_jury");

#[async_trait::async_trait]
impl MigrationTrait for Jury {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_column(m, "sessions", text_null("jury_president_member_id")).await?;
        m.create_table(
            Table::create()
                .table(Alias::new("jury_remarks"))
                .col(id("session_id"))
                .col(long_text("draft_json"))
                .col(instant("draft_updated_at"))
                .col(text("draft_updated_by"))
                .col(int("version"))
                .col(long_text_null("published_json"))
                .col(instant_null("published_at"))
                .col(text_null("published_by"))
                .foreign_key(&mut fk("jury_remarks", "session_id", "sessions", "id"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["jury_remarks"]).await?;
        drop_column(m, "sessions", "jury_president_member_id").await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        candidate_tables(m).await?;
        board_tables(m).await?;
        schedule_tables(m).await?;
        convocation_tables(m).await?;
        mark_tables(m).await?;
        mark_history_table(m).await?;
        result_tables(m).await?;
        appeal_tables(m).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            m,
            &[
                "appeals",
                "decisions",
                "minutes",
                "mark_history",
                "reconciliations",
                "mark_entries",
                "convocations",
                "slots",
                "assignments",
                "board_members",
                "boards",
                "sessions",
                "pending_withdrawals",
                "candidates",
            ],
        )
        .await
    }
}

/// The exam's copy of the admitted list, and withdrawals that overtook it.
async fn candidate_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut candidates = Table::create();
    candidates
        .table(Alias::new("candidates"))
        .col(id("candidacy_id"))
        .col(int("year"));
    for name in [
        "candidate_key",
        "last_name",
        "first_name",
        "birth_date",
        "email",
        "staff_number",
        "workplace_uai",
        "sex",
        "department",
        "staff_category",
        "workplace_type",
    ] {
        candidates.col(text(name));
    }
    candidates
        .col(flag("runs_mlds_actions"))
        .col(flag("is_dropout_referent"))
        .col(instant("listed_at"))
        .col(instant_null("withdrawn_at"));
    m.create_table(candidates.to_owned()).await?;
    create_index(
        m,
        "candidates_year",
        "candidates",
        &["year", "candidacy_id"],
        false,
    )
    .await?;
    create_index(m, "candidates_email", "candidates", &["email"], false).await?;

    m.create_table(
        Table::create()
            .table(Alias::new("pending_withdrawals"))
            .col(id("candidacy_id"))
            .col(int("year"))
            .col(instant("withdrawn_at"))
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// Sessions, boards and their members.
async fn board_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("sessions"))
            .col(id("id"))
            .col(col("year").integer().not_null().unique_key())
            .col(text("starts_on"))
            .col(text("ends_on"))
            .col(int("appeal_window_days"))
            .col(instant("created_at"))
            .col(text("created_by"))
            .col(instant_null("deliberation_closed_at"))
            .col(instant_null("results_published_at"))
            .col(text_null("results_published_by"))
            .col(instant("updated_at"))
            .to_owned(),
    )
    .await?;

    m.create_table(
        Table::create()
            .table(Alias::new("boards"))
            .col(id("id"))
            .col(text("session_id"))
            .col(text("name"))
            .col(instant("created_at"))
            .col(text("created_by"))
            .foreign_key(&mut fk("boards", "session_id", "sessions", "id"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "boards_session_name",
        "boards",
        &["session_id", "name"],
        true,
    )
    .await?;

    m.create_table(
        Table::create()
            .table(Alias::new("board_members"))
            .col(id("id"))
            .col(text("board_id"))
            .col(text("session_id"))
            .col(text("email"))
            .col(text("last_name"))
            .col(text("first_name"))
            .col(text_null("workplace_uai"))
            .col(text("role"))
            .col(text_null("public_key"))
            .col(instant_null("key_registered_at"))
            .foreign_key(&mut fk("board_members", "board_id", "boards", "id"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "board_members_board_email",
        "board_members",
        &["board_id", "email"],
        true,
    )
    .await?;
    create_index(m, "board_members_email", "board_members", &["email"], false).await?;
    Ok(())
}

/// Assignments and slots.
async fn schedule_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("assignments"))
            .col(id("candidacy_id"))
            .col(text("session_id"))
            .col(text("board_id"))
            .col(instant("assigned_at"))
            .col(text("assigned_by"))
            .foreign_key(&mut fk(
                "assignments",
                "candidacy_id",
                "candidates",
                "candidacy_id",
            ))
            .foreign_key(&mut fk("assignments", "board_id", "boards", "id"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "assignments_board",
        "assignments",
        &["board_id", "candidacy_id"],
        false,
    )
    .await?;

    m.create_table(
        Table::create()
            .table(Alias::new("slots"))
            .col(id("id"))
            .col(text("session_id"))
            .col(text("board_id"))
            .col(text("candidacy_id"))
            .col(text("exam_part"))
            .col(instant("starts_at"))
            .col(instant("ends_at"))
            .col(instant("board_starts_at"))
            .col(instant("board_ends_at"))
            .col(text("location"))
            .col(instant("updated_at"))
            .col(text("updated_by"))
            .foreign_key(&mut fk(
                "slots",
                "candidacy_id",
                "assignments",
                "candidacy_id",
            ))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "slots_candidate_part",
        "slots",
        &["candidacy_id", "exam_part"],
        true,
    )
    .await?;
    create_index(
        m,
        "slots_board",
        "slots",
        &["board_id", "board_starts_at"],
        false,
    )
    .await?;
    create_index(m, "slots_session", "slots", &["session_id", "id"], false).await?;
    Ok(())
}

/// Every version of each convocation.
async fn convocation_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("convocations"))
            .col(id("id"))
            .col(text("session_id"))
            .col(text("candidacy_id"))
            .col(int("version"))
            .col(instant("issued_at"))
            .col(text("issued_by"))
            .col(text("schedule_fingerprint"))
            .col(long_text("slots_json"))
            .col(bytes("document"))
            .col(text("document_sha256"))
            .foreign_key(&mut fk(
                "convocations",
                "candidacy_id",
                "candidates",
                "candidacy_id",
            ))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "convocations_candidate_version",
        "convocations",
        &["candidacy_id", "version"],
        true,
    )
    .await?;
    Ok(())
}

/// Mark entries and reconciliations.
async fn mark_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("mark_entries"))
            .col(id("id"))
            .col(text("session_id"))
            .col(text("board_id"))
            .col(text("candidacy_id"))
            .col(text("exam_part"))
            .col(text("entrant"))
            .col(flag("absent"))
            .col(int_null("half_points"))
            .col(instant("entered_at"))
            .col(instant("updated_at"))
            .col(int("corrections"))
            .foreign_key(&mut fk(
                "mark_entries",
                "candidacy_id",
                "assignments",
                "candidacy_id",
            ))
            .to_owned(),
    )
    .await?;
    // One entry per member and épreuve; the limit of two entries is checked under the
    // session's lock.
    create_index(
        m,
        "mark_entries_entrant",
        "mark_entries",
        &["candidacy_id", "exam_part", "entrant"],
        true,
    )
    .await?;
    create_index(
        m,
        "mark_entries_board",
        "mark_entries",
        &["board_id", "candidacy_id"],
        false,
    )
    .await?;

    m.create_table(
        Table::create()
            .table(Alias::new("reconciliations"))
            .col(text("candidacy_id"))
            .col(text("exam_part"))
            .col(text("session_id"))
            .col(flag("absent"))
            .col(int_null("half_points"))
            .col(text("reconciled_by"))
            .col(instant("reconciled_at"))
            .col(text("reason"))
            .primary_key(
                Index::create()
                    .col(Alias::new("candidacy_id"))
                    .col(Alias::new("exam_part")),
            )
            .to_owned(),
    )
    .await?;
    Ok(())
}

/// The history of every act on a mark.
async fn mark_history_table(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("mark_history"))
            .col(
                col("id")
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(text("session_id"))
            .col(text("candidacy_id"))
            .col(text("exam_part"))
            .col(text("action"))
            .col(text("actor"))
            .col(instant("at"))
            .col(flag_null("previous_absent"))
            .col(int_null("previous_half_points"))
            .col(flag("absent"))
            .col(int_null("half_points"))
            .col(text_null("reason"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "mark_history_candidate",
        "mark_history",
        &["candidacy_id", "id"],
        false,
    )
    .await?;
    Ok(())
}

/// Minutes and decisions.
async fn result_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("minutes"))
            .col(id("id"))
            .col(text("session_id"))
            .col(instant("prepared_at"))
            .col(text("prepared_by"))
            .col(bytes("document"))
            .col(text("sha256"))
            .col(long_text("decisions_json"))
            .col(text("decisions_fingerprint"))
            .col(instant_null("closed_at"))
            .col(text_null("signed_by"))
            .col(text_null("signer_key_id"))
            .col(text_null("signature"))
            .col(text_null("academy_key_id"))
            .col(text_null("academy_signature"))
            .foreign_key(&mut fk("minutes", "session_id", "sessions", "id"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "minutes_session",
        "minutes",
        &["session_id", "id"],
        false,
    )
    .await?;

    m.create_table(
        Table::create()
            .table(Alias::new("decisions"))
            .col(id("candidacy_id"))
            .col(text("session_id"))
            .col(flag("part_1_absent"))
            .col(int_null("part_1_half_points"))
            .col(flag("part_2_absent"))
            .col(int_null("part_2_half_points"))
            .col(text("outcome"))
            .col(text_null("reason"))
            .col(instant("decided_at"))
            .col(instant_null("revised_at"))
            .col(text_null("revised_by_appeal"))
            .foreign_key(&mut fk("decisions", "session_id", "sessions", "id"))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "decisions_session",
        "decisions",
        &["session_id", "candidacy_id"],
        false,
    )
    .await?;
    Ok(())
}

/// Appeals, one pending per candidate.
async fn appeal_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    m.create_table(
        Table::create()
            .table(Alias::new("appeals"))
            .col(id("id"))
            .col(text("session_id"))
            .col(text("candidacy_id"))
            .col(text("status"))
            .col(long_text("grounds"))
            .col(instant("filed_at"))
            .col(text("filed_by"))
            .col(instant_null("decided_at"))
            .col(text_null("decided_by"))
            .col(long_text_null("decision_text"))
            .col(long_text("before_json"))
            .col(long_text_null("after_json"))
            .foreign_key(&mut fk(
                "appeals",
                "candidacy_id",
                "decisions",
                "candidacy_id",
            ))
            .to_owned(),
    )
    .await?;
    create_index(
        m,
        "appeals_session",
        "appeals",
        &["session_id", "id"],
        false,
    )
    .await?;
    // One pending appeal per candidate, whatever the race.
    m.get_connection()
        .execute_unprepared(
            "CREATE UNIQUE INDEX appeals_one_pending ON appeals (candidacy_id) WHERE status = 'pending'",
        )
        .await?;
    Ok(())
}

/// Candidates of past sessions imported for the national series.
struct PastSessions;

cplds_runtime::migration_name!(PastSessions, "m20261203_000100_examination_past_sessions");

#[async_trait::async_trait]
impl MigrationTrait for PastSessions {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Alias::new("past_candidates"))
                .col(id("id"))
                .col(int("year"))
                .col(text("candidate_key"))
                .col(text("digest"))
                .col(instant("imported_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(m, &["past_candidates"]).await
    }
}
