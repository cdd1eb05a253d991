//! Persistence of programmes, cohorts, sessions, enrolments, the hours ledger, attestations and
//! external records (sea-orm). Functions take any connection, so the api layer decides the
//! transaction (a [`cplds_runtime::kit::UnitOfWork`]); no rule is decided here. What is read
//! back comes back as domain values where the rules need them (a programme, a deepening choice,
//! a ledger); what no longer reads is an error, never a default.

mod attendance;
mod enrolments;
pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::{db::page, kit::new_id};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};

pub use self::{
    attendance::*,
    enrolments::*,
    entities::{
        activity, attestation, cohort, credit, enrolment, external_record, programme,
        programme_module, session, session_module, session_trainer, settings,
    },
};
use crate::domain::{
    Unreadable,
    attendance::Planned,
    calendar::{self, stored_day},
    hours::Hours,
    programme::{ARRETE_2017, Module, ModuleCode, Programme},
    regional::ExternalStatus,
    session::{Balance, Schedule},
    settings::Settings,
};

/// The kind of record the audit history of this service is about.
pub const HISTORY_KIND: &str = "enrolment";

fn unreadable(e: Unreadable) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Hours as stored (JSON of the domain `Hours`).
pub fn encode_hours(h: &Hours) -> Result<String, DbErr> {
    serde_json::to_string(h).map_err(|e| DbErr::Custom(format!("hours: {e}")))
}

/// Stored hours read back; corrupt JSON is an error, not zero hours.
pub fn decode_hours(s: &str) -> Result<Hours, DbErr> {
    serde_json::from_str(s).map_err(|e| DbErr::Custom(format!("stored hours {s:?}: {e}")))
}

/// The next value of a named counter (attestation numbers, request order), 1 first. The upsert
/// locks the counter's row until the transaction ends, so concurrent callers never share one.
pub use cplds_runtime::kit::next_counter;

fn locked<Q: QuerySelect>(q: Q, backend: DbBackend) -> Q {
    cplds_runtime::kit::locked(q, backend, cplds_runtime::kit::Lock::Exclusive)
}

// ---- programmes ------------------------------------------------------------------------------

/// A programme version as stored, with its catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgrammeRecord {
    pub row: programme::Model,
    pub programme: Programme,
}

pub async fn insert_programme<C: ConnectionTrait>(
    db: &C,
    p: &Programme,
    at: DateTime<Utc>,
    by: &str,
) -> Result<programme::Model, DbErr> {
    let row = programme::Model {
        id: new_id(),
        version: p.version,
        title: p.title.clone(),
        created_at: at,
        created_by: by.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    for (i, m) in p.modules.iter().enumerate() {
        programme_module::Model {
            programme_id: row.id.clone(),
            code: m.code.clone(),
            position: i as i32,
            title: m.title.clone(),
            kind: m.kind,
            mode: m.mode,
            minutes: m.minutes as i32,
        }
        .into_active_model()
        .reset_all()
        .insert(db)
        .await?;
    }
    Ok(row)
}

/// The catalogue of a stored programme (it was checked when written: one that no longer
/// passes the rules is an error).
async fn with_modules<C: ConnectionTrait>(
    db: &C,
    row: programme::Model,
) -> Result<ProgrammeRecord, DbErr> {
    let modules = programme_module::Entity::find()
        .filter(programme_module::Column::ProgrammeId.eq(row.id.as_str()))
        .order_by_asc(programme_module::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Module {
            code: m.code,
            title: m.title,
            kind: m.kind,
            mode: m.mode,
            minutes: m.minutes as u32,
        })
        .collect();
    let programme =
        Programme::new(row.version, row.title.clone(), modules, ARRETE_2017).map_err(|e| {
            DbErr::Custom(format!(
                "stored programme {} no longer valid: {e:?}",
                row.id
            ))
        })?;
    Ok(ProgrammeRecord { row, programme })
}

pub async fn programme<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<ProgrammeRecord>, DbErr> {
    match programme::Entity::find_by_id(id.to_owned()).one(db).await? {
        Some(row) => with_modules(db, row).await.map(Some),
        None => Ok(None),
    }
}

/// Programmes read on the ledger's path, by id. A programme is never changed once written (a new
/// version is a new row with a new id), so a copy read once stays true: recording attendance
/// reads it from here instead of two statements per call. Bounded; only rows a committed cohort
/// refers to are put here.
static PROGRAMMES: std::sync::LazyLock<
    std::sync::RwLock<std::collections::HashMap<String, ProgrammeRecord>>,
> = std::sync::LazyLock::new(Default::default);

/// How many programmes [`PROGRAMMES`] keeps (an académie has a handful).
const PROGRAMMES_KEPT: usize = 256;

/// [`programme`] of a cohort's programme, read once per process.
pub async fn cohort_programme<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<ProgrammeRecord>, DbErr> {
    if let Some(p) = PROGRAMMES.read().ok().and_then(|m| m.get(id).cloned()) {
        return Ok(Some(p));
    }
    let p = programme(db, id).await?;
    if let (Some(p), Ok(mut m)) = (&p, PROGRAMMES.write()) {
        if m.len() >= PROGRAMMES_KEPT {
            m.clear();
        }
        m.insert(id.to_owned(), p.clone());
    }
    Ok(p)
}

/// The version of a programme, without its catalogue.
pub async fn programme_version<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<i32>, DbErr> {
    Ok(programme::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(|p| p.version))
}

pub async fn programme_version_exists<C: ConnectionTrait>(
    db: &C,
    version: i32,
) -> Result<bool, DbErr> {
    Ok(programme::Entity::find()
        .filter(programme::Column::Version.eq(version))
        .one(db)
        .await?
        .is_some())
}

/// Most recent version first; `before` is the last version of the previous page.
pub async fn list_programmes<C: ConnectionTrait>(
    db: &C,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<ProgrammeRecord>, DbErr> {
    let mut q = programme::Entity::find()
        .order_by_desc(programme::Column::Version)
        .limit(limit);
    if let Some(v) = before {
        q = q.filter(programme::Column::Version.lt(v));
    }
    let mut out = Vec::new();
    for row in q.all(db).await? {
        out.push(with_modules(db, row).await?);
    }
    Ok(out)
}

// ---- cohorts ---------------------------------------------------------------------------------

pub async fn insert_cohort<C: ConnectionTrait>(
    db: &C,
    row: cohort::Model,
) -> Result<cohort::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn cohort<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<cohort::Model>, DbErr> {
    cohort::Entity::find_by_id(id.to_owned()).one(db).await
}

/// The cohort row locked until the transaction ends, so places are given one act at a time;
/// its advisory lock too, which acts on one trainee's ledger share (see
/// [`ledger_file`]).
pub async fn cohort_locked<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<cohort::Model>, DbErr> {
    cplds_runtime::kit::hold(txn, &cohort_lock(id), cplds_runtime::kit::Lock::Exclusive).await?;
    locked(
        cohort::Entity::find_by_id(id.to_owned()),
        txn.get_database_backend(),
    )
    .one(txn)
    .await
}

/// The name of a cohort's advisory lock.
pub(crate) fn cohort_lock(id: &str) -> String {
    format!("cohort/{id}")
}

/// Oldest first (ids are UUIDv7); `after` is the last id of the previous page.
pub async fn list_cohorts<C: ConnectionTrait>(
    db: &C,
    school_year: Option<i32>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<cohort::Model>, DbErr> {
    let mut q = cohort::Entity::find();
    if let Some(y) = school_year {
        q = q.filter(cohort::Column::SchoolYear.eq(y));
    }
    page(db, q, cohort::Column::Id, after, limit).await
}

// ---- sessions --------------------------------------------------------------------------------

/// A session as the training office plans it.
pub struct NewSession {
    pub cohort_id: String,
    pub title: String,
    pub schedule: Schedule,
    /// City and place of a seminar.
    pub venue: Option<(String, String)>,
    pub modules: Vec<(ModuleCode, u32)>,
    /// The e-mail addresses of the trainers who run it.
    pub trainers: Vec<String>,
}

/// A session as stored, with its modules and trainers.
pub struct SessionRecord {
    pub row: session::Model,
    pub modules: Vec<session_module::Model>,
    pub trainers: Vec<session_trainer::Model>,
}

pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    new: NewSession,
    at: DateTime<Utc>,
    by: &str,
) -> Result<SessionRecord, DbErr> {
    let (city, place) = new.venue.map_or((None, None), |(c, p)| (Some(c), Some(p)));
    let s = &new.schedule;
    let row = session::Model {
        id: new_id(),
        cohort_id: new.cohort_id,
        kind: s.kind,
        title: new.title,
        first_day: calendar::iso(s.first_day),
        last_day: calendar::iso(s.last_day),
        starts_at: s.start,
        starts_at_local: s.start.map(cplds_runtime::time::format_paris_local),
        city,
        place,
        created_at: at,
        created_by: by.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    let mut modules = Vec::with_capacity(new.modules.len());
    for (i, (code, minutes)) in new.modules.into_iter().enumerate() {
        let m = session_module::Model {
            session_id: row.id.clone(),
            module_code: code,
            position: i as i32,
            minutes: minutes as i32,
        };
        m.clone().into_active_model().reset_all().insert(db).await?;
        modules.push(m);
    }
    let trainers = replace_session_trainers(db, &row.id, &new.trainers, at, by).await?;
    Ok(SessionRecord {
        row,
        modules,
        trainers,
    })
}

pub async fn session<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<SessionRecord>, DbErr> {
    let Some(row) = session::Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    let ids = std::slice::from_ref(&row.id);
    Ok(Some(SessionRecord {
        modules: session_modules(db, ids).await?,
        trainers: session_trainers(db, ids).await?,
        row,
    }))
}

/// Replaces the trainers of a session, in the order given.
pub async fn replace_session_trainers<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    emails: &[String],
    at: DateTime<Utc>,
    by: &str,
) -> Result<Vec<session_trainer::Model>, DbErr> {
    session_trainer::Entity::delete_many()
        .filter(session_trainer::Column::SessionId.eq(session_id))
        .exec(db)
        .await?;
    let mut out = Vec::with_capacity(emails.len());
    for (i, email) in emails.iter().enumerate() {
        let t = session_trainer::Model {
            session_id: session_id.to_owned(),
            email: email.clone(),
            position: i as i32,
            assigned_at: at,
            assigned_by: by.to_owned(),
        };
        t.clone().into_active_model().reset_all().insert(db).await?;
        out.push(t);
    }
    Ok(out)
}

pub async fn session_trainers<C: ConnectionTrait>(
    db: &C,
    session_ids: &[String],
) -> Result<Vec<session_trainer::Model>, DbErr> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    session_trainer::Entity::find()
        .filter(session_trainer::Column::SessionId.is_in(session_ids.iter().cloned()))
        .order_by_asc(session_trainer::Column::SessionId)
        .order_by_asc(session_trainer::Column::Position)
        .all(db)
        .await
}

/// The trainers who run at least one session of a cohort.
pub async fn cohort_trainers<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<String>, DbErr> {
    let sessions: Vec<String> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::CohortId.eq(cohort_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut emails: Vec<String> = session_trainers(db, &sessions)
        .await?
        .into_iter()
        .map(|t| t.email)
        .collect();
    emails.sort();
    emails.dedup();
    Ok(emails)
}

/// How the planned hours of sessions divide between presence and distance.
pub fn balance(sessions: &[session::Model], modules: &[session_module::Model]) -> Balance {
    let mut b = Balance::default();
    for s in sessions {
        let minutes = modules
            .iter()
            .filter(|m| m.session_id == s.id)
            .map(|m| m.minutes as u32)
            .sum();
        b.add(s.kind, minutes);
    }
    b
}

/// A session's plan and, on one row each, its modules (`m`: code, minutes) and trainers (`t`:
/// e-mail), each in its order; one row with no part for a session with neither.
const PLANNED: &str = "SELECT s.cohort_id, s.kind, s.first_day, s.last_day, p.part, p.value, p.minutes \
     FROM sessions s LEFT JOIN (\
     SELECT session_id, 'm' AS part, module_code AS value, minutes, position \
     FROM session_modules WHERE session_id = ? \
     UNION ALL SELECT session_id, 't' AS part, email AS value, 0 AS minutes, position \
     FROM session_trainers WHERE session_id = ?) AS p ON p.session_id = s.id \
     WHERE s.id = ? ORDER BY p.part, p.position";

/// A session as it was planned, for the attendance rules: one round trip (attendance is
/// recorded per trainee and call, and each round trip was a tenth of it).
pub async fn planned_session<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<Planned>, DbErr> {
    planned_of(
        &db.query_all_raw(planned_read(db.get_database_backend(), id))
            .await?,
    )
}

pub(super) fn planned_read(backend: DbBackend, id: &str) -> sea_orm::Statement {
    cplds_runtime::db::stmt(backend, PLANNED, vec![id.into(), id.into(), id.into()])
}

pub(super) fn planned_of(rows: &[sea_orm::QueryResult]) -> Result<Option<Planned>, DbErr> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut modules = Vec::new();
    let mut trainers = Vec::new();
    for r in rows {
        match r.try_get::<Option<String>>("", "part")?.as_deref() {
            Some("m") => {
                let code: ModuleCode = r.try_get("", "value")?;
                let minutes: i32 = r.try_get("", "minutes")?;
                modules.push((code, minutes as u32));
            }
            Some(_) => trainers.push(r.try_get::<String>("", "value")?),
            None => {}
        }
    }
    let first_day: String = first.try_get("", "first_day")?;
    let last_day: String = first.try_get("", "last_day")?;
    Ok(Some(Planned {
        trainers,
        kind: first.try_get("", "kind")?,
        first_day: stored_day(&first_day).map_err(unreadable)?,
        last_day: stored_day(&last_day).map_err(unreadable)?,
        cohort_id: first.try_get("", "cohort_id")?,
        modules,
    }))
}

pub async fn session_modules<C: ConnectionTrait>(
    db: &C,
    session_ids: &[String],
) -> Result<Vec<session_module::Model>, DbErr> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    session_module::Entity::find()
        .filter(session_module::Column::SessionId.is_in(session_ids.iter().cloned()))
        .order_by_asc(session_module::Column::SessionId)
        .order_by_asc(session_module::Column::Position)
        .all(db)
        .await
}

/// In calendar order.
pub async fn sessions_of<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::CohortId.eq(cohort_id))
        .order_by_asc(session::Column::FirstDay)
        .order_by_asc(session::Column::StartsAt)
        .order_by_asc(session::Column::Id)
        .all(db)
        .await
}

// ---- settings --------------------------------------------------------------------------------

/// The académie's settings; the arrêté's while none are stored.
pub async fn settings<C: ConnectionTrait>(
    db: &C,
    academy: &str,
) -> Result<(Settings, Option<settings::Model>), DbErr> {
    let row = settings::Entity::find_by_id(academy.to_owned())
        .one(db)
        .await?;
    Ok((settings_of(row.as_ref())?, row))
}

/// The settings a stored row says (the arrêté's without one).
pub(super) fn settings_of(row: Option<&settings::Model>) -> Result<Settings, DbErr> {
    Ok(match row {
        None => Settings::default(),
        Some(r) => Settings {
            require_tutor: r.require_tutor,
            require_gpds_session: r.require_gpds_session,
            target_presence_percent: match r.target_presence_percent {
                None => None,
                Some(p) => Some(
                    u8::try_from(p)
                        .ok()
                        .filter(|p| (1..=100).contains(p))
                        .ok_or_else(|| {
                            unreadable(Unreadable {
                                kind: "target presence percent",
                                value: p.to_string(),
                                reason: "not between 1 and 100".into(),
                            })
                        })?,
                ),
            },
        },
    })
}

pub async fn save_settings<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    s: &Settings,
    at: DateTime<Utc>,
    by: &str,
) -> Result<settings::Model, DbErr> {
    settings::Entity::delete_by_id(academy.to_owned())
        .exec(db)
        .await?;
    settings::Model {
        academy: academy.to_owned(),
        require_tutor: s.require_tutor,
        require_gpds_session: s.require_gpds_session,
        target_presence_percent: s.target_presence_percent.map(i32::from),
        updated_at: at,
        updated_by: by.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

// ---- attestations ----------------------------------------------------------------------------

pub async fn insert_attestation<C: ConnectionTrait>(
    db: &C,
    row: attestation::Model,
) -> Result<attestation::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn attestation<C: ConnectionTrait>(
    db: &C,
    number: &str,
) -> Result<Option<attestation::Model>, DbErr> {
    attestation::Entity::find_by_id(number.to_owned())
        .one(db)
        .await
}

pub async fn attestation_of<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
) -> Result<Option<attestation::Model>, DbErr> {
    attestation::Entity::find()
        .filter(attestation::Column::EnrolmentId.eq(enrolment_id))
        .one(db)
        .await
}

// ---- external records ------------------------------------------------------------------------

pub async fn external_record<C: ConnectionTrait>(
    db: &C,
    enrolment_id: &str,
) -> Result<Option<external_record::Model>, DbErr> {
    external_record::Entity::find_by_id(enrolment_id.to_owned())
        .one(db)
        .await
}

pub async fn insert_external<C: ConnectionTrait>(
    db: &C,
    row: external_record::Model,
) -> Result<external_record::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

/// How a record of staff trained elsewhere ends.
pub struct Closing {
    pub status: ExternalStatus,
    pub hours: Hours,
    pub attestation_number: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Closes a record; the attestation number of a completion, the reason of an abandonment.
pub async fn close_external<C: ConnectionTrait>(
    db: &C,
    row: external_record::Model,
    closing: Closing,
) -> Result<(), DbErr> {
    use sea_orm::Set;
    let completed = closing.status == ExternalStatus::Completed;
    let mut am = row.into_active_model();
    am.status = Set(closing.status);
    am.hours = Set(encode_hours(&closing.hours)?);
    am.updated_at = Set(closing.at);
    if completed {
        am.attestation_number = Set(closing.attestation_number);
    } else {
        am.reason = Set(closing.reason);
    }
    am.update(db).await?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalFilter {
    pub school_year: Option<i32>,
    pub status: Option<ExternalStatus>,
}

impl ExternalFilter {
    pub fn scope(&self) -> String {
        format!(
            "external;{:?};{:?}",
            self.school_year,
            self.status.map(ExternalStatus::as_str)
        )
    }
}

/// By organiser's enrolment id (UUIDv7: order of enrolment); `after` from the previous page.
pub async fn list_external<C: ConnectionTrait>(
    db: &C,
    filter: &ExternalFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<external_record::Model>, DbErr> {
    let mut q = external_record::Entity::find();
    if let Some(y) = filter.school_year {
        q = q.filter(external_record::Column::SchoolYear.eq(y));
    }
    if let Some(s) = filter.status {
        q = q.filter(external_record::Column::Status.eq(s));
    }
    page(db, q, external_record::Column::EnrolmentId, after, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_read_back_or_fail() {
        let h = Hours {
            theory: 7200,
            internship: 60,
            ..Default::default()
        };
        assert_eq!(decode_hours(&encode_hours(&h).unwrap()).unwrap(), h);
        // Corrupt hours used to read as zero hours, silently.
        assert!(decode_hours("not json").is_err());
    }
}
