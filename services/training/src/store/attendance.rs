//! What recording an attendance reads, in as few round trips as the database allows.

use cplds_runtime::kit::reads_in_turn;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryTrait};

use super::{
    EnrolmentFile,
    entities::{cohort, enrolment, settings},
    file_with, ledger_file, records_from, records_reads, with_cohort,
};
use crate::domain::{attendance::Planned, settings::Settings};

/// What recording an attendance reads: the trainee's ledger file ([`ledger_file`]), the session
/// as planned and the académie's settings.
pub struct AttendanceReads {
    pub file: EnrolmentFile,
    pub session: Option<Planned>,
    pub settings: Settings,
}

/// [`AttendanceReads`]: on SQLite in one round trip ([`reads_in_turn`]; its one writer, whose
/// turn the unit holds, makes them current); on PostgreSQL the file under its locks, then the
/// rest. `None` without the enrolment.
pub async fn attendance_reads<C: ConnectionTrait>(
    txn: &C,
    id: &str,
    session_id: &str,
    academy: &str,
) -> Result<Option<AttendanceReads>, DbErr> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        let Some(file) = ledger_file(txn, id).await? else {
            return Ok(None);
        };
        return Ok(Some(AttendanceReads {
            file,
            session: super::planned_session(txn, session_id).await?,
            settings: super::settings(txn, academy).await?.0,
        }));
    }
    let [credits, activities] = records_reads(backend, &[id.to_owned()]);
    let reads = vec![
        with_cohort(id).build(backend),
        credits,
        activities,
        super::planned_read(backend, session_id),
        settings::Entity::find_by_id(academy.to_owned()).build(backend),
    ];
    let mut groups = reads_in_turn(txn, reads).await?.into_iter();
    let Some(row) = groups.next().and_then(|rows| rows.into_iter().next()) else {
        return Ok(None);
    };
    let enrolment = enrolment::Model::from_query_result(&row, "A_")?;
    let cohort = cohort::Model::from_query_result_optional(&row, "B_")?.ok_or_else(|| {
        DbErr::RecordNotFound(format!("cohort {} of enrolment {id}", enrolment.cohort_id))
    })?;
    let records = records_from(groups.next(), groups.next())?;
    let session = super::planned_of(&groups.next().unwrap_or_default())?;
    let stored = match groups.next().and_then(|rows| rows.into_iter().next()) {
        Some(r) => Some(settings::Model::from_query_result(&r, "")?),
        None => None,
    };
    Ok(Some(AttendanceReads {
        file: file_with(txn, enrolment, cohort, records).await?,
        session,
        settings: super::settings_of(stored.as_ref())?,
    }))
}
