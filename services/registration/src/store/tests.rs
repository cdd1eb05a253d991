//! The store on a real (SQLite) database: the migrations, and what reading a stored row refuses.

use chrono::{DateTime, Utc};
use cplds_runtime::{
    academy::Academy,
    db::{DbTarget, connect, stmt},
    kit::history,
    time::parse_paris_local,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use sea_orm_migration::{MigratorTrait, SchemaManager};

use super::{migration::Migrator, *};
use crate::domain::{
    candidate::{StaffCategory, fixtures::tenured_teacher},
    eligibility,
};

async fn database(dir: &tempfile::TempDir) -> DatabaseConnection {
    connect(&DbTarget::Sqlite {
        path: dir.path().join("registration.db"),
    })
    .await
    .unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    parse_paris_local(s).unwrap()
}

#[tokio::test]
async fn the_old_candidacy_history_moves_into_the_shared_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    // The schema as it was before the shared history: runtime tables and registration's own.
    Migrator::up(&db, Some(2)).await.unwrap();
    for (action, detail, when) in [
        ("submitted", Some("channel post"), "2025-06-01T10:00"),
        ("validated", None, "2025-06-02T11:30"),
    ] {
        db.execute_raw(stmt(
            DbBackend::Sqlite,
            "INSERT INTO candidacy_history (candidacy_id, at, actor, action, detail) \
             VALUES (?, ?, ?, ?, ?)",
            vec![
                "c-1".into(),
                at(when).into(),
                "dec@ac-toulouse.fr".into(),
                action.into(),
                detail.map(str::to_owned).into(),
            ],
        ))
        .await
        .unwrap();
    }

    Migrator::up(&db, None).await.unwrap();

    let entries = history::of(&db, CANDIDACY, "c-1").await.unwrap();
    let seen: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.detail.as_deref(),
                e.at,
                e.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "submitted",
                Some("channel post"),
                at("2025-06-01T10:00"),
                "dec@ac-toulouse.fr"
            ),
            (
                "validated",
                None,
                at("2025-06-02T11:30"),
                "dec@ac-toulouse.fr"
            ),
        ]
    );
    let schema = SchemaManager::new(&db);
    assert!(!schema.has_table("candidacy_history").await.unwrap());
}

/// A database that refused a second live candidacy giving a staff number takes one once
/// migrated, and keeps what it had.
#[tokio::test]
async fn a_staff_number_may_be_given_twice_once_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    // The schema before: runtime tables, registration's, the shared history (and its adoption).
    Migrator::up(&db, Some(4)).await.unwrap();
    let first = one_candidacy(&db).await;
    assert!(second_claim(&db).await.is_err(), "the old unique index");
    Migrator::up(&db, None).await.unwrap();
    second_claim(&db).await.unwrap();
    let claims = live_claims(&db, 2025, &first.staff_number).await.unwrap();
    assert_eq!(claims.holder(), Some(first.id.as_str()));
    assert_eq!(claims.rivals_of(&first.id).len(), 1);
}

/// Another account's candidacy giving the same staff number as [`one_candidacy`].
async fn second_claim(db: &DatabaseConnection) -> Result<candidacy::Model, DbErr> {
    let mut candidate = tenured_teacher();
    candidate.email = crate::domain::candidate::Email::parse("hugo@ac-toulouse.fr").unwrap();
    insert(db, &candidate, at("2025-06-02T10:00")).await
}

/// A campaign and one submitted candidacy, straight through the store.
async fn one_candidacy(db: &DatabaseConnection) -> candidacy::Model {
    let academy = Academy::find("toulouse").unwrap();
    let now = at("2025-06-01T10:00");
    let window = Window::parse_local("2025-05-26T00:00", "2025-06-20T17:00").unwrap();
    insert_campaign(db, 2025, academy, window, now)
        .await
        .unwrap();
    insert(db, &tenured_teacher(), now).await.unwrap()
}

/// `candidate`'s candidacy for 2025, submitted online by themselves at `now`.
async fn insert(
    db: &DatabaseConnection,
    candidate: &Candidate,
    now: DateTime<Utc>,
) -> Result<candidacy::Model, DbErr> {
    let eligibility = eligibility::evaluate(
        candidate.sector,
        candidate.status,
        candidate.function,
        candidate.corps,
    );
    let row = new_candidacy(NewCandidacy {
        id: cplds_runtime::kit::new_id(),
        year: 2025,
        candidate,
        candidate_key: "key".into(),
        eligibility: &eligibility,
        channel: Channel::Online,
        effective_at: now,
        submitted_by: candidate.email.as_str(),
        at: now,
        inadmissible: None,
    })?;
    // What the database returns, to compare with what a read gives back.
    row.into_active_model().reset_all().insert(db).await
}

#[tokio::test]
async fn a_candidacy_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    Migrator::up(&db, None).await.unwrap();
    let written = one_candidacy(&db).await;
    let read = candidacy(&db, &written.id).await.unwrap().unwrap();
    assert_eq!(read, written);
    assert_eq!(read.status, CandidacyStatus::Submitted);
    assert_eq!(read.staff_category, StaffCategory::SecondDegreeTenured);
    assert!(
        explanations(&read)
            .unwrap()
            .iter()
            .any(|e| e.contains("titulaire"))
    );
}

/// Before stored enums were typed, an unknown status read back as `submitted`, an unknown
/// channel as online, a document of an unknown kind as no document at all.
#[tokio::test]
async fn an_unknown_stored_value_is_an_error_where_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    Migrator::up(&db, None).await.unwrap();
    let c = one_candidacy(&db).await;
    db.execute_unprepared("UPDATE candidacies SET status = 'archived'")
        .await
        .unwrap();
    let err = candidacy(&db, &c.id).await.unwrap_err().to_string();
    assert!(
        err.contains("CandidacyStatus") && err.contains("archived"),
        "{err}"
    );

    db.execute_unprepared("UPDATE candidacies SET status = 'submitted', channel = 'pigeon'")
        .await
        .unwrap();
    let err = candidacy(&db, &c.id).await.unwrap_err().to_string();
    assert!(
        err.contains("ChannelKind") && err.contains("pigeon"),
        "{err}"
    );

    db.execute_unprepared("UPDATE candidacies SET channel = 'online'")
        .await
        .unwrap();
    let meta = document::Model {
        id: cplds_runtime::kit::new_id(),
        candidacy_id: c.id.clone(),
        kind: DocumentKind::Identity,
        file_name: "id.pdf".into(),
        content_type: "application/pdf".into(),
        size_bytes: 8,
        sha256: "0".repeat(64),
        uploaded_at: c.created_at,
        uploaded_by: c.submitted_by.clone(),
    };
    insert_document(&db, meta, b"%PDF-1.7".to_vec())
        .await
        .unwrap();
    assert_eq!(
        document_kinds(&db, &c.id).await.unwrap(),
        [DocumentKind::Identity]
    );
    db.execute_unprepared("UPDATE documents SET kind = 'diploma'")
        .await
        .unwrap();
    let err = document_kinds(&db, &c.id).await.unwrap_err().to_string();
    assert!(
        err.contains("DocumentKind") && err.contains("diploma"),
        "{err}"
    );
}

/// Before, unreadable explanations were shown as none.
#[tokio::test]
async fn unreadable_explanations_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    Migrator::up(&db, None).await.unwrap();
    let c = one_candidacy(&db).await;
    db.execute_unprepared("UPDATE candidacies SET eligibility_explanations = 'not json'")
        .await
        .unwrap();
    let c = candidacy(&db, &c.id).await.unwrap().unwrap();
    let err = explanations(&c).unwrap_err().to_string();
    assert!(err.contains(&c.id), "{err}");
}

/// Each submission looks up its account's and its staff number's live candidacies: both by
/// index. The account's was a scan of the year's candidacies (no index on `lower(email)`, and the
/// (year, status) index matches every live one), a cost growing with each submission.
#[tokio::test]
async fn a_submission_finds_its_account_and_staff_number_by_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(&dir).await;
    Migrator::up(&db, None).await.unwrap();
    let rows = db
        .query_all_raw(stmt(
            DbBackend::Sqlite,
            &format!("EXPLAIN QUERY PLAN {OPENING}"),
            vec![
                2025.into(),
                "camille@ac-toulouse.fr".into(),
                "submitted".into(),
                "validated".into(),
                2025.into(),
                "12E1234567ABC".into(),
                "submitted".into(),
                "validated".into(),
                2025.into(),
            ],
        ))
        .await
        .unwrap();
    let plan = plan_text(&rows, "detail");
    assert!(
        plan.contains("USING INDEX candidacies_year_account"),
        "{plan}"
    );
    assert!(
        plan.contains("USING INDEX candidacies_year_staff_number"),
        "{plan}"
    );
}

/// The same look-up on PostgreSQL, planned once for any parameters as a pooled connection caches
/// it (a generic plan, made here on an empty table as in a new year's first submissions): it must
/// still go through the account's and the staff number's indexes, not scan the year through the
/// (year, status) one. Until the indexes carried the status, such a plan cost 15 ms per
/// submission and growing, and every statement of every service was planned afresh to avoid it.
#[tokio::test]
async fn a_cached_plan_of_the_look_up_uses_the_account_and_staff_number_indexes() {
    use cplds_runtime::testing::{POSTGRES_ENV, TestPostgres, server_url};
    use sea_orm::TransactionTrait;

    let Some(url) = server_url(POSTGRES_ENV, "the look-up's cached plan on PostgreSQL") else {
        return;
    };
    let pg = TestPostgres::create(&url).await.unwrap();
    let db = sea_orm::Database::connect(pg.url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let txn = db.begin().await.unwrap();
    let numbered = stmt(DbBackend::Postgres, OPENING, vec![]).sql;
    for sql in [
        "SET LOCAL plan_cache_mode = force_generic_plan".to_owned(),
        format!(
            "PREPARE opening (int, text, text, text, int, text, text, text, int) AS {numbered}"
        ),
    ] {
        txn.execute_unprepared(&sql).await.unwrap();
    }
    let rows = txn
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "EXPLAIN EXECUTE opening (2025, 'camille@ac-toulouse.fr', 'submitted', 'validated', \
             2025, '12E1234567ABC', 'submitted', 'validated', 2025)",
        ))
        .await
        .unwrap();
    let plan = plan_text(&rows, "QUERY PLAN");
    assert!(plan.contains("candidacies_year_account_status"), "{plan}");
    assert!(
        plan.contains("candidacies_year_staff_number_status"),
        "{plan}"
    );
    assert!(!plan.contains("candidacies_year_status "), "{plan}");
    txn.rollback().await.unwrap();
    drop(db);
    drop(pg);
}

/// The lines of an `EXPLAIN` answer, its text in `column`.
fn plan_text(rows: &[sea_orm::QueryResult], column: &str) -> String {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", column).unwrap())
        .collect();
    lines.join("\n")
}
