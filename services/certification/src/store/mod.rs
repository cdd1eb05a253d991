//! Persistence of certificates, counters and signing keys (sea-orm); their audit trail is the
//! runtime's history under [`HISTORY_KIND`]. Functions take any connection, so the caller
//! decides the transaction; no rule is decided here.

pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::kit::{Act, Listing};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

pub use self::entities::{certificate, signing_key};
use crate::domain::certificate::CertificateState;

/// The kind of record certificates are in the audit history.
pub const HISTORY_KIND: &str = "certificate";

/// An act on certificate `number`, for the audit history.
pub fn act<'a>(
    number: &'a str,
    actor: &'a str,
    action: &'a str,
    detail: Option<String>,
) -> Act<'a> {
    Act {
        kind: HISTORY_KIND,
        subject: number,
        actor,
        action,
        detail,
    }
}

pub async fn certificate<C: ConnectionTrait>(
    db: &C,
    number: &str,
) -> Result<Option<certificate::Model>, DbErr> {
    certificate::Entity::find_by_id(number.to_owned())
        .one(db)
        .await
}

pub async fn certificate_of_candidacy<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::CandidacyId.eq(candidacy_id))
        .one(db)
        .await
}

pub async fn insert_certificate<C: ConnectionTrait>(
    db: &C,
    model: certificate::Model,
) -> Result<certificate::Model, DbErr> {
    model.into_active_model().reset_all().insert(db).await
}

/// The row written, or `None` when the guarded update matched no row: a concurrent act changed
/// the certificate first.
fn guarded(result: Result<certificate::Model, DbErr>) -> Result<Option<certificate::Model>, DbErr> {
    match result {
        Ok(row) => Ok(Some(row)),
        Err(DbErr::RecordNotUpdated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Saves only if the state is still `expected`; `None` if a concurrent act changed it.
pub async fn save_if_state<C: ConnectionTrait>(
    db: &C,
    am: certificate::ActiveModel,
    expected: CertificateState,
) -> Result<Option<certificate::Model>, DbErr> {
    guarded(
        certificate::Entity::update(am)
            .validate()?
            .filter(certificate::Column::State.eq(expected))
            .exec(db)
            .await,
    )
}

/// Saves a duplicate only if the certificate is still issued with `count` duplicates; `None`
/// if a concurrent act came first.
pub async fn save_duplicate<C: ConnectionTrait>(
    db: &C,
    am: certificate::ActiveModel,
    count: i32,
) -> Result<Option<certificate::Model>, DbErr> {
    guarded(
        certificate::Entity::update(am)
            .validate()?
            .filter(certificate::Column::State.eq(CertificateState::Issued))
            .filter(certificate::Column::DuplicateCount.eq(count))
            .exec(db)
            .await,
    )
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFilter {
    pub year: Option<i32>,
    pub state: Option<CertificateState>,
    /// A candidate sees only the certificates issued to their e-mail.
    pub email: Option<String>,
}

impl Listing for CertificateFilter {
    type Entity = certificate::Entity;

    fn key() -> certificate::Column {
        certificate::Column::Number
    }

    fn apply<Q: QueryFilter>(&self, mut q: Q) -> Q {
        if let Some(y) = self.year {
            q = q.filter(certificate::Column::Year.eq(y));
        }
        if let Some(s) = self.state {
            q = q.filter(certificate::Column::State.eq(s));
        }
        if let Some(e) = &self.email {
            q = q.filter(certificate::Column::Email.eq(e.as_str()));
        }
        q
    }

    fn scope(&self) -> String {
        format!(
            "certificates;{:?};{:?};{:?}",
            self.year,
            self.state.map(|s| s.as_str()),
            self.email
        )
    }
}

/// Every certificate of a year in a state, in number order.
pub async fn certificates_in_state<C: ConnectionTrait>(
    db: &C,
    year: i32,
    state: CertificateState,
) -> Result<Vec<certificate::Model>, DbErr> {
    certificate::Entity::find()
        .filter(certificate::Column::Year.eq(year))
        .filter(certificate::Column::State.eq(state))
        .order_by_asc(certificate::Column::Number)
        .all(db)
        .await
}

/// Whether a certificate holds status list position `index`.
pub async fn status_index_taken<C: ConnectionTrait>(db: &C, index: i64) -> Result<bool, DbErr> {
    Ok(certificate::Entity::find()
        .filter(certificate::Column::StatusIndex.eq(index))
        .count(db)
        .await?
        > 0)
}

/// How many certificates there are, every year and state.
pub async fn certificate_count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    certificate::Entity::find().count(db).await
}

/// The status list positions of revoked certificates, and the highest position given.
pub async fn status_indices<C: ConnectionTrait>(db: &C) -> Result<(Vec<i64>, i64), DbErr> {
    let rows: Vec<(i64, CertificateState)> = certificate::Entity::find()
        .select_only()
        .column(certificate::Column::StatusIndex)
        .column(certificate::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let max = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let revoked = rows
        .into_iter()
        .filter(|r| r.1 == CertificateState::Revoked)
        .map(|r| r.0)
        .collect();
    Ok((revoked, max))
}

pub async fn signing_keys<C: ConnectionTrait>(db: &C) -> Result<Vec<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .order_by_desc(signing_key::Column::FirstSeenAt)
        .order_by_asc(signing_key::Column::Kid)
        .all(db)
        .await
}

pub async fn insert_signing_key<C: ConnectionTrait>(
    db: &C,
    model: signing_key::Model,
) -> Result<(), DbErr> {
    model.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

pub async fn set_key_retired<C: ConnectionTrait>(
    db: &C,
    kid: &str,
    retired_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    signing_key::ActiveModel {
        kid: Set(kid.to_owned()),
        retired_at: Set(retired_at),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cplds_runtime::db::stmt;
    use cplds_runtime::{kit::history, testing::store_databases};
    use sea_orm::DatabaseConnection;
    use sea_orm_migration::{MigratorTrait, SchemaManager};

    use super::{migration::Migrator, *};

    const NUMBER: &str = "CPLDS-TOULOUSE-2025-000001";

    fn prepared(at: DateTime<Utc>) -> certificate::Model {
        certificate::Model {
            candidacy_id: "c1".into(),
            email: "candidate0@ac-toulouse.fr".into(),
            ..certificate::Model::prepared(NUMBER.into(), 2025, 1, 0, "0".repeat(16), at)
        }
    }

    #[tokio::test]
    async fn the_former_history_table_moves_into_the_runtime_history() {
        for (db, _pg) in store_databases("the certification history migration on PostgreSQL")
            .await
            .unwrap()
        {
            moves_history(&db).await;
        }
    }

    async fn moves_history(db: &DatabaseConnection) {
        // The schema as it was before the kit: runtime tables and certification tables.
        Migrator::up(db, Some(2)).await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 7, 10, 8, 0, 0).unwrap();
        db.execute_raw(stmt(
            db.get_database_backend(),
            "INSERT INTO certificate_history (number, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
            vec![
                NUMBER.into(),
                at.into(),
                "recteur@ac-toulouse.fr".into(),
                "issued".into(),
                "key k1".into(),
            ],
        ))
        .await
        .unwrap();
        Migrator::up(db, None).await.unwrap();
        let entries = history::of(db, HISTORY_KIND, NUMBER).await.unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.detail.as_deref(),
                e.at
            ),
            ("recteur@ac-toulouse.fr", "issued", Some("key k1"), at)
        );
        let schema = SchemaManager::new(db);
        assert!(!schema.has_table("certificate_history").await.unwrap());
    }

    #[tokio::test]
    async fn certificates_prepared_before_codes_get_one() {
        for (db, _pg) in store_databases("the verification codes migration on PostgreSQL")
            .await
            .unwrap()
        {
            codes_given(&db).await;
        }
    }

    async fn codes_given(db: &DatabaseConnection) {
        // The schema before verification codes, with two certificates.
        Migrator::up(db, Some(4)).await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 7, 10, 8, 0, 0).unwrap();
        for serial in [1, 2] {
            let number = format!("CPLDS-TOULOUSE-2025-{serial:06}");
            let mut values: Vec<sea_orm::Value> = vec![
                number.into(),
                2025.into(),
                serial.into(),
                format!("c{serial}").into(),
            ];
            for text in [
                "k",
                "s",
                "GARCIA",
                "Inès",
                "1981-02-03",
                "x@y.fr",
                "Inès GARCIA",
            ] {
                values.push(text.into());
            }
            values.extend([
                "issued".into(),
                at.into(),
                i64::from(serial).into(),
                at.into(),
                0.into(),
                at.into(),
            ]);
            db.execute_raw(stmt(
                db.get_database_backend(),
                "INSERT INTO certificates (number, year, serial, candidacy_id, candidate_key, \
                 session_id, last_name, first_name, birth_date, email, holder_name, state, \
                 admitted_at, status_index, prepared_at, duplicate_count, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            ))
            .await
            .unwrap();
        }
        Migrator::up(db, None).await.unwrap();
        let codes: Vec<String> = certificate::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.verification_code.unwrap())
            .collect();
        assert_eq!(codes.len(), 2);
        for code in &codes {
            assert!(
                crate::domain::code::VerificationCode::parse(code).is_ok(),
                "{code}"
            );
        }
        assert_ne!(codes[0], codes[1]);
    }

    #[tokio::test]
    async fn an_unknown_stored_state_is_an_error_where_it_is_read() {
        for (db, _pg) in store_databases("unknown stored values on PostgreSQL")
            .await
            .unwrap()
        {
            unknown_state_is_an_error(&db).await;
        }
    }

    async fn unknown_state_is_an_error(db: &DatabaseConnection) {
        Migrator::up(db, None).await.unwrap();
        let at = Utc.with_ymd_and_hms(2025, 7, 10, 8, 0, 0).unwrap();
        insert_certificate(db, prepared(at)).await.unwrap();
        assert_eq!(
            certificate(db, NUMBER).await.unwrap().map(|c| c.state),
            Some(CertificateState::Prepared)
        );
        db.execute_unprepared("UPDATE certificates SET state = 'withdrawn'")
            .await
            .unwrap();
        let err = certificate(db, NUMBER).await.unwrap_err().to_string();
        assert!(
            err.contains("CertificateState") && err.contains("withdrawn"),
            "{err}"
        );
        assert!(status_indices(db).await.is_err());
    }
}
