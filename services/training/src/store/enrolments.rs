//! Enrolments: the requests of a cohort and what changes them, and each trainee's hours ledger
//! and internship activities. [`EnrolmentFile`] is an enrolment with everything its rules read.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    QueryTrait, Set, Statement,
    sea_query::{Expr, ExprTrait, Func},
};

use cplds_runtime::kit::{Listing, Lock, reads_in_turn};

use super::{
    ProgrammeRecord, calendar, cohort_lock, cohort_locked,
    entities::{activity, cohort, credit, enrolment},
    unreadable,
};
use crate::domain::{
    Unreadable,
    attendance::Attendance,
    calendar::SchoolYear,
    hours::{self, Hours, Internship, Ledger},
    identity::{Trainee, Tutor},
    internship::ActivityKind,
    programme::{DeepeningChoice, ModuleCode, Programme},
    roster::{EnrolmentStatus, Roster},
};

/// A request for a place, as recorded.
pub struct NewEnrolment<'a> {
    pub id: String,
    pub cohort_id: &'a str,
    pub request_number: i64,
    pub status: EnrolmentStatus,
    pub trainee: &'a Trainee,
    /// This académie's pseudonymous key of its own staff; none for another académie's.
    pub candidate_key: Option<String>,
    pub at: DateTime<Utc>,
    pub by: &'a str,
}

pub async fn insert_enrolment<C: ConnectionTrait>(
    db: &C,
    new: NewEnrolment<'_>,
) -> Result<enrolment::Model, DbErr> {
    let t = new.trainee;
    enrolment::Model {
        id: new.id,
        cohort_id: new.cohort_id.to_owned(),
        request_number: new.request_number,
        status: new.status,
        last_name: t.last_name.as_str().to_owned(),
        first_name: t.first_name.as_str().to_owned(),
        birth_date: t.birth_date.map(|b| b.to_iso()),
        email: t.email.as_str().to_owned(),
        staff_number: t.staff_number.as_str().to_owned(),
        sex: t.sex,
        workplace_uai: t.workplace_uai.as_str().to_owned(),
        home_academy: t.home_academy.code.to_owned(),
        candidate_key: new.candidate_key,
        deepening_codes: None,
        tutor_last_name: None,
        tutor_first_name: None,
        tutor_email: None,
        tutor_qualification: None,
        tutor_assigned_at: None,
        tutor_assigned_by: None,
        requested_at: new.at,
        requested_by: new.by.to_owned(),
        accepted_at: (new.status == EnrolmentStatus::Accepted).then_some(new.at),
        left_at: None,
        left_by: None,
        leave_reason: None,
        status_before_leaving: None,
        completed_at: None,
        attestation_number: None,
        created_at: new.at,
        updated_at: new.at,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

pub async fn enrolment<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<enrolment::Model>, DbErr> {
    enrolment::Entity::find_by_id(id.to_owned()).one(db).await
}

/// Every request of a cohort, in order.
pub async fn cohort_enrolments<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<enrolment::Model>, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .order_by_asc(enrolment::Column::RequestNumber)
        .all(db)
        .await
}

/// The places and waiting list of a cohort (tens of rows, read under the cohort's lock).
pub async fn roster<C: ConnectionTrait>(
    db: &C,
    c: &cohort::Model,
) -> Result<Roster<String>, DbErr> {
    let entries = cohort_enrolments(db, &c.id)
        .await?
        .into_iter()
        .map(|e| (e.id, e.status))
        .collect();
    Ok(Roster::new(c.capacity as u32, entries))
}

/// The live request of an account (its e-mail, without case) in a cohort, if any.
pub async fn live_enrolment_of_account<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
    email: &str,
) -> Result<Option<enrolment::Model>, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .filter(
            Expr::expr(Func::lower(Expr::col(enrolment::Column::Email)))
                .eq(email.trim().to_ascii_lowercase()),
        )
        .filter(
            enrolment::Column::Status
                .is_in(EnrolmentStatus::ALL.iter().copied().filter(|s| s.is_live())),
        )
        .one(db)
        .await
}

pub async fn live_enrolment_of<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
    staff_number: &str,
) -> Result<Option<enrolment::Model>, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .filter(enrolment::Column::StaffNumber.eq(staff_number))
        .filter(
            enrolment::Column::Status
                .is_in(EnrolmentStatus::ALL.iter().copied().filter(|s| s.is_live())),
        )
        .one(db)
        .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentFilter {
    pub cohort_id: String,
    pub status: Option<EnrolmentStatus>,
    pub home_academy: Option<&'static cplds_runtime::academy::Academy>,
}

impl Listing for EnrolmentFilter {
    type Entity = enrolment::Entity;

    fn key() -> enrolment::Column {
        enrolment::Column::RequestNumber
    }

    fn apply<Q: QueryFilter>(&self, q: Q) -> Q {
        let mut q = q.filter(enrolment::Column::CohortId.eq(self.cohort_id.as_str()));
        if let Some(s) = self.status {
            q = q.filter(enrolment::Column::Status.eq(s));
        }
        if let Some(a) = self.home_academy {
            q = q.filter(enrolment::Column::HomeAcademy.eq(a.code));
        }
        q
    }

    fn scope(&self) -> String {
        format!(
            "enrolments;{};{:?};{:?}",
            self.cohort_id,
            self.status.map(|s| s.as_str()),
            self.home_academy.map(|a| a.code)
        )
    }
}

/// 1 for the first person waiting in the cohort, given one's request number.
pub async fn waiting_position<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
    request_number: i64,
) -> Result<u64, DbErr> {
    enrolment::Entity::find()
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Waitlisted))
        .filter(enrolment::Column::RequestNumber.lte(request_number))
        .count(db)
        .await
}

/// (status, count) of a cohort.
pub async fn status_counts<C: ConnectionTrait>(
    db: &C,
    cohort_id: &str,
) -> Result<Vec<(EnrolmentStatus, i64)>, DbErr> {
    enrolment::Entity::find()
        .select_only()
        .column(enrolment::Column::Status)
        .column_as(Expr::col(enrolment::Column::Id).count(), "n")
        .filter(enrolment::Column::CohortId.eq(cohort_id))
        .group_by(enrolment::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

// ---- what changes an enrolment ---------------------------------------------------------------

fn changed(e: enrolment::Model, at: DateTime<Utc>) -> enrolment::ActiveModel {
    let mut am = e.into_active_model();
    am.updated_at = Set(at);
    am
}

/// A departure (withdrawal or abandonment), `from` the status held.
pub async fn leave<C: ConnectionTrait>(
    db: &C,
    e: enrolment::Model,
    (from, to): (EnrolmentStatus, EnrolmentStatus),
    reason: Option<String>,
    at: DateTime<Utc>,
    by: &str,
) -> Result<enrolment::Model, DbErr> {
    let mut am = changed(e, at);
    am.status = Set(to);
    am.status_before_leaving = Set(Some(from));
    am.left_at = Set(Some(at));
    am.left_by = Set(Some(by.to_owned()));
    am.leave_reason = Set(reason.filter(|r| !r.is_empty()));
    am.update(db).await
}

/// A person waiting gets a place.
pub async fn accept<C: ConnectionTrait>(
    db: &C,
    id: &str,
    at: DateTime<Utc>,
) -> Result<enrolment::Model, DbErr> {
    let e = enrolment(db, id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("enrolment {id}")))?;
    let mut am = changed(e, at);
    am.status = Set(EnrolmentStatus::Accepted);
    am.accepted_at = Set(Some(at));
    am.update(db).await
}

pub async fn choose_deepening<C: ConnectionTrait>(
    db: &C,
    e: enrolment::Model,
    choice: &DeepeningChoice,
    at: DateTime<Utc>,
) -> Result<enrolment::Model, DbErr> {
    let mut am = changed(e, at);
    am.deepening_codes = Set(Some(choice.to_stored()));
    am.update(db).await
}

pub async fn assign_tutor<C: ConnectionTrait>(
    db: &C,
    e: enrolment::Model,
    tutor: &Tutor,
    at: DateTime<Utc>,
    by: &str,
) -> Result<enrolment::Model, DbErr> {
    let mut am = changed(e, at);
    am.tutor_last_name = Set(Some(tutor.last_name.as_str().to_owned()));
    am.tutor_first_name = Set(Some(tutor.first_name.as_str().to_owned()));
    am.tutor_email = Set(Some(tutor.email.as_str().to_owned()));
    am.tutor_qualification = Set(Some(tutor.qualification));
    am.tutor_assigned_at = Set(Some(at));
    am.tutor_assigned_by = Set(Some(by.to_owned()));
    am.update(db).await
}

/// The training completed, with its attestation.
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    e: enrolment::Model,
    attestation_number: &str,
    at: DateTime<Utc>,
) -> Result<enrolment::Model, DbErr> {
    let mut am = changed(e, at);
    am.status = Set(EnrolmentStatus::Completed);
    am.completed_at = Set(Some(at));
    am.attestation_number = Set(Some(attestation_number.to_owned()));
    am.update(db).await
}

/// Something was recorded for the trainee (hours, an activity): the enrolment as it is then,
/// and the update storing it, for [`cplds_runtime::kit::UnitOfWork::execute_at_commit`] (what
/// the unit reads after does not depend on it).
pub fn touched(
    e: enrolment::Model,
    at: DateTime<Utc>,
    backend: DbBackend,
) -> (enrolment::Model, sea_orm::Statement) {
    let update = cplds_runtime::db::stmt(
        backend,
        "UPDATE enrolments SET updated_at = ? WHERE id = ?",
        vec![at.into(), e.id.clone().into()],
    );
    (
        enrolment::Model {
            updated_at: at,
            ..e
        },
        update,
    )
}

// ---- the hours ledger and the internship -----------------------------------------------------

/// What was recorded for some trainees: the hours credited, in order, and the internship
/// activities, by day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub credits: Vec<credit::Model>,
    pub activities: Vec<activity::Model>,
}

pub async fn records_of<C: ConnectionTrait>(
    db: &C,
    enrolment_ids: &[String],
) -> Result<Records, DbErr> {
    if enrolment_ids.is_empty() {
        return Ok(Records::default());
    }
    let reads = records_reads(db.get_database_backend(), enrolment_ids);
    let mut groups = reads_in_turn(db, reads.to_vec()).await?.into_iter();
    records_from(groups.next(), groups.next())
}

/// The two reads of [`records_of`]: credits, then activities.
pub(super) fn records_reads(backend: DbBackend, enrolment_ids: &[String]) -> [Statement; 2] {
    let ids = || enrolment_ids.iter().cloned();
    [
        credit::Entity::find()
            .filter(credit::Column::EnrolmentId.is_in(ids()))
            .order_by_asc(credit::Column::Id)
            .build(backend),
        activity::Entity::find()
            .filter(activity::Column::EnrolmentId.is_in(ids()))
            .order_by_asc(activity::Column::OnDate)
            .order_by_asc(activity::Column::Id)
            .build(backend),
    ]
}

pub(super) fn records_from(
    credits: Option<Vec<QueryResult>>,
    activities: Option<Vec<QueryResult>>,
) -> Result<Records, DbErr> {
    let (Some(credits), Some(activities)) = (credits, activities) else {
        return Err(DbErr::Custom("the records' reads came back short".into()));
    };
    Ok(Records {
        credits: credits
            .iter()
            .map(|r| credit::Model::from_query_result(r, ""))
            .collect::<Result<_, _>>()?,
        activities: activities
            .iter()
            .map(|r| activity::Model::from_query_result(r, ""))
            .collect::<Result<_, _>>()?,
    })
}

/// An enrolment and its cohort, in one statement (SQLite, where no lock comes between them).
pub(super) fn with_cohort(id: &str) -> sea_orm::SelectTwo<enrolment::Entity, cohort::Entity> {
    enrolment::Entity::find_by_id(id.to_owned())
        .select_also(cohort::Entity)
        .join(
            JoinType::LeftJoin,
            enrolment::Entity::belongs_to(cohort::Entity)
                .from(enrolment::Column::CohortId)
                .to(cohort::Column::Id)
                .into(),
        )
}

/// Minutes credited to a trainee on a module, from a session or an activity.
struct Credit<'a> {
    enrolment_id: &'a str,
    module_code: &'a ModuleCode,
    minutes: u32,
    session_id: Option<&'a str>,
    activity_id: Option<&'a str>,
    day: NaiveDate,
    at: DateTime<Utc>,
    by: &'a str,
}

async fn insert_credit<C: ConnectionTrait>(db: &C, c: Credit<'_>) -> Result<credit::Model, DbErr> {
    credit_row(c).insert(db).await
}

fn credit_row(c: Credit<'_>) -> credit::ActiveModel {
    credit::ActiveModel {
        enrolment_id: Set(c.enrolment_id.to_owned()),
        module_code: Set(c.module_code.clone()),
        minutes: Set(c.minutes as i32),
        session_id: Set(c.session_id.map(str::to_owned)),
        activity_id: Set(c.activity_id.map(str::to_owned)),
        on_date: Set(calendar::iso(c.day)),
        recorded_at: Set(c.at),
        recorded_by: Set(c.by.to_owned()),
        ..Default::default()
    }
}

/// Records a trainee's attendance at a session, replacing an earlier record of it, and updates
/// `records` (the trainee's, read in this transaction) to what is stored now.
pub async fn replace_attendance<C: ConnectionTrait>(
    db: &C,
    (enrolment_id, session_id): (&str, &str),
    attendance: &Attendance,
    (at, by): (DateTime<Utc>, &str),
    records: &mut Records,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let delete = credit::Entity::delete_many()
        .filter(credit::Column::EnrolmentId.eq(enrolment_id))
        .filter(credit::Column::SessionId.eq(session_id))
        .build(backend);
    records
        .credits
        .retain(|c| c.enrolment_id != enrolment_id || c.session_id.as_deref() != Some(session_id));
    let rows: Vec<credit::ActiveModel> = attendance
        .modules
        .iter()
        .map(|(code, minutes)| {
            credit_row(Credit {
                enrolment_id,
                module_code: code,
                minutes: *minutes,
                session_id: Some(session_id),
                activity_id: None,
                day: attendance.day,
                at,
                by,
            })
        })
        .collect();
    // The earlier record deleted and the session's modules inserted in one round trip on SQLite
    // (a round trip each was a sixth of an attendance's).
    if rows.is_empty() {
        db.execute_raw(delete).await?;
        return Ok(());
    }
    let mut insert = credit::Entity::insert_many(rows).into_query();
    insert.returning_all();
    let groups = reads_in_turn(db, vec![delete, backend.build(&insert)]).await?;
    for r in groups.iter().skip(1).flatten() {
        records
            .credits
            .push(credit::Model::from_query_result(r, "")?);
    }
    // As `records_of` reads them.
    records.credits.sort_by_key(|c| c.id);
    Ok(())
}

/// An internship activity, as a trainer records it.
pub struct NewActivity<'a> {
    pub enrolment_id: &'a str,
    pub kind: ActivityKind,
    pub module_code: ModuleCode,
    pub day: NaiveDate,
    pub minutes: u32,
    pub establishment_uai: String,
    pub description: Option<String>,
    pub at: DateTime<Utc>,
    pub by: &'a str,
}

/// Records an activity and credits its minutes to its module (a GPDS session recorded with 0
/// minutes credits nothing).
pub async fn record_activity<C: ConnectionTrait>(
    db: &C,
    a: NewActivity<'_>,
) -> Result<activity::Model, DbErr> {
    let row = activity::Model {
        id: cplds_runtime::kit::new_id(),
        enrolment_id: a.enrolment_id.to_owned(),
        kind: a.kind,
        module_code: a.module_code,
        on_date: calendar::iso(a.day),
        minutes: a.minutes as i32,
        establishment_uai: a.establishment_uai,
        description: a.description.filter(|d| !d.is_empty()),
        recorded_at: a.at,
        recorded_by: a.by.to_owned(),
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await?;
    if a.minutes > 0 {
        let credit = Credit {
            enrolment_id: a.enrolment_id,
            module_code: &row.module_code,
            minutes: a.minutes,
            session_id: None,
            activity_id: Some(&row.id),
            day: a.day,
            at: a.at,
            by: a.by,
        };
        insert_credit(db, credit).await?;
    }
    Ok(row)
}

// ---- read back as the rules see it -----------------------------------------------------------

/// The trainee's deepening choice, read back against their programme.
pub fn choice_of(p: &Programme, e: &enrolment::Model) -> Result<Option<DeepeningChoice>, DbErr> {
    e.deepening_codes
        .as_deref()
        .map(|s| {
            DeepeningChoice::from_stored(p, s).map_err(|reason| {
                unreadable(Unreadable {
                    kind: "deepening choice",
                    value: s.to_owned(),
                    reason,
                })
            })
        })
        .transpose()
}

/// The minutes credited to one enrolment (`credits` may hold others').
pub fn ledger_of(credits: &[credit::Model], enrolment_id: &str) -> Ledger {
    let mut l = Ledger::default();
    for c in credits.iter().filter(|c| c.enrolment_id == enrolment_id) {
        l.record(c.module_code.clone(), c.minutes as u32);
    }
    l
}

/// What one enrolment's internship has beyond its hours (`activities` may hold others').
pub fn internship_of(e: &enrolment::Model, activities: &[activity::Model]) -> Internship {
    Internship {
        tutor_assigned: e.tutor_email.is_some(),
        gpds_session_led: activities
            .iter()
            .any(|a| a.enrolment_id == e.id && a.kind == ActivityKind::GpdsSession),
    }
}

/// An enrolment with everything its rules read: its cohort, programme, the trainee's deepening
/// choice, hours credited and internship activities.
pub struct EnrolmentFile {
    pub enrolment: enrolment::Model,
    pub cohort: cohort::Model,
    pub programme: ProgrammeRecord,
    pub choice: Option<DeepeningChoice>,
    pub records: Records,
}

impl EnrolmentFile {
    pub fn status(&self) -> EnrolmentStatus {
        self.enrolment.status
    }

    pub fn school_year(&self) -> SchoolYear {
        SchoolYear::from_stored(self.cohort.school_year)
    }

    pub fn ledger(&self) -> Ledger {
        ledger_of(&self.records.credits, &self.enrolment.id)
    }

    /// Hours are credited: the training has started.
    pub fn started(&self) -> bool {
        !self.records.credits.is_empty()
    }

    /// The ledger without the credits of one session (recorded again, it replaces them).
    pub fn ledger_without_session(&self, session_id: &str) -> Ledger {
        let others: Vec<credit::Model> = self
            .records
            .credits
            .iter()
            .filter(|c| c.session_id.as_deref() != Some(session_id))
            .cloned()
            .collect();
        ledger_of(&others, &self.enrolment.id)
    }

    pub fn internship(&self) -> Internship {
        internship_of(&self.enrolment, &self.records.activities)
    }

    /// The hours credited, summed by kind and mode.
    pub fn hours(&self) -> Hours {
        hours::progress(
            &self.programme.programme,
            self.choice.as_ref(),
            &self.ledger(),
        )
        .hours
    }
}

/// An enrolment's file, read under its cohort's lock (PostgreSQL): places, the waiting list and
/// each trainee's ledger change one act at a time.
pub async fn enrolment_file<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<EnrolmentFile>, DbErr> {
    file_under(txn, id, Lock::Exclusive).await
}

/// An enrolment's file for an act on its ledger alone (attendance, internship): the cohort's
/// lock shared, so the trainees of a cohort are recorded side by side, and the enrolment's own
/// lock alone, so one trainee's acts run one at a time. Acts on places ([`enrolment_file`])
/// wait for these, and these for them.
pub async fn ledger_file<C: ConnectionTrait>(
    txn: &C,
    id: &str,
) -> Result<Option<EnrolmentFile>, DbErr> {
    file_under(txn, id, Lock::Shared).await
}

async fn file_under<C: ConnectionTrait>(
    txn: &C,
    id: &str,
    lock: Lock,
) -> Result<Option<EnrolmentFile>, DbErr> {
    let missing = |what: String| DbErr::RecordNotFound(format!("{what} of enrolment {id}"));
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        // No lock to take between the two reads: SQLite's one writer, whose turn this unit
        // holds, is what makes them current.
        let Some((enrolment, cohort)) = with_cohort(id).one(txn).await? else {
            return Ok(None);
        };
        let cohort = cohort.ok_or_else(|| missing(format!("cohort {}", enrolment.cohort_id)))?;
        return file_of(txn, enrolment, cohort).await.map(Some);
    }
    let Some(first) = enrolment(txn, id).await? else {
        return Ok(None);
    };
    let cohort = match lock {
        Lock::Exclusive => cohort_locked(txn, &first.cohort_id).await?,
        Lock::Shared => {
            cplds_runtime::kit::hold_all(
                txn,
                &[
                    (&cohort_lock(&first.cohort_id), Lock::Shared),
                    (&format!("enrolment/{id}"), Lock::Exclusive),
                ],
            )
            .await?;
            super::cohort(txn, &first.cohort_id).await?
        }
    }
    .ok_or_else(|| missing(format!("cohort {}", first.cohort_id)))?;
    // Read again now that the cohort is locked.
    let enrolment = enrolment(txn, id)
        .await?
        .ok_or_else(|| missing("row".into()))?;
    file_of(txn, enrolment, cohort).await.map(Some)
}

/// The file of an enrolment read with its cohort: the programme and the trainee's records.
async fn file_of<C: ConnectionTrait>(
    txn: &C,
    enrolment: enrolment::Model,
    cohort: cohort::Model,
) -> Result<EnrolmentFile, DbErr> {
    let records = records_of(txn, std::slice::from_ref(&enrolment.id)).await?;
    file_with(txn, enrolment, cohort, records).await
}

/// [`file_of`] with the records read.
pub(super) async fn file_with<C: ConnectionTrait>(
    txn: &C,
    enrolment: enrolment::Model,
    cohort: cohort::Model,
    records: Records,
) -> Result<EnrolmentFile, DbErr> {
    let programme = super::cohort_programme(txn, &cohort.programme_id)
        .await?
        .ok_or_else(|| {
            DbErr::RecordNotFound(format!(
                "programme {} of enrolment {}",
                cohort.programme_id, enrolment.id
            ))
        })?;
    let choice = choice_of(&programme.programme, &enrolment)?;
    Ok(EnrolmentFile {
        records,
        enrolment,
        cohort,
        programme,
        choice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::programme::tests::standard;

    fn row(codes: Option<&str>) -> enrolment::Model {
        let at = chrono::DateTime::UNIX_EPOCH;
        enrolment::Model {
            id: "e1".into(),
            cohort_id: "c1".into(),
            request_number: 1,
            status: EnrolmentStatus::Accepted,
            last_name: "Durand".into(),
            first_name: "Camille".into(),
            birth_date: None,
            email: "camille@ac-toulouse.fr".into(),
            staff_number: "12E0000001ABC".into(),
            sex: crate::domain::identity::Sex::Female,
            workplace_uai: "0310036W".into(),
            home_academy: "toulouse".into(),
            candidate_key: None,
            deepening_codes: codes.map(str::to_owned),
            tutor_last_name: None,
            tutor_first_name: None,
            tutor_email: None,
            tutor_qualification: None,
            tutor_assigned_at: None,
            tutor_assigned_by: None,
            requested_at: at,
            requested_by: "x".into(),
            accepted_at: None,
            left_at: None,
            left_by: None,
            leave_reason: None,
            status_before_leaving: None,
            completed_at: None,
            attestation_number: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_stored_choice_reads_back_or_fails() {
        let p = standard();
        assert_eq!(choice_of(&p, &row(None)).unwrap(), None);
        let c = choice_of(&p, &row(Some("A1,A3,A5"))).unwrap().unwrap();
        assert_eq!(c.to_stored(), "A1,A3,A5");
        // A choice that no longer fits the programme used to read as no choice, silently.
        assert!(choice_of(&p, &row(Some("A1,T1,A5"))).is_err());
    }
}
