//! The sessions of a cohort: seminars and distance sessions, planned by the training office,
//! with the trainers who run them; listed with the balance of their hours between presence and
//! distance (a warning against the académie's target, never a refusal).

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Act, parse_id},
};

use super::{Inner, convert, id_field, parsed, refuse_fields};
use crate::{
    domain::{calendar::SchoolYear, programme, session::Schedule},
    store::{self, NewSession},
};

/// The kind of record sessions are in the audit history.
const SESSION: &str = "session";

impl Inner {
    pub(super) async fn create_seminar(
        &self,
        caller: Caller,
        r: pb::CreateSeminarRequest,
    ) -> ServiceResult<pb::TrainingSession> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", parse_id(&r.cohort_id));
        let title = v.check("title", programme::title(&r.title));
        let schedule = parsed(&mut v, Schedule::seminar(&r.first_day, &r.last_day));
        // A city or place name: 1 to 200 characters, like a title.
        let city = v.check("city", programme::title(&r.city));
        let place = v.check("place", programme::title(&r.place));
        if r.modules.is_empty() {
            v.add("modules", "is required: the modules the seminar covers");
        }
        let modules = convert::session_modules(&r.modules, &mut v);
        let trainers = convert::trainers(&r.trainers, &mut v);
        let (cohort_id, title, schedule, city, place, modules, trainers) =
            v.finish_with((cohort_id, title, schedule, city, place, modules, trainers))?;
        self.plan(
            &caller,
            NewSession {
                cohort_id,
                title,
                schedule,
                venue: Some((city, place)),
                modules,
                trainers,
            },
        )
        .await
    }

    pub(super) async fn create_distance_session(
        &self,
        caller: Caller,
        r: pb::CreateDistanceSessionRequest,
    ) -> ServiceResult<pb::TrainingSession> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", parse_id(&r.cohort_id));
        let title = v.check("title", programme::title(&r.title));
        let kind = v.check("mode", convert::distance_mode(r.mode));
        if r.modules.is_empty() {
            v.add("modules", "is required: the modules the session covers");
        }
        let modules = convert::session_modules(&r.modules, &mut v);
        let trainers = convert::trainers(&r.trainers, &mut v);
        let schedule = kind.and_then(|kind| {
            let s = Schedule::distance(kind, &r.starts_at_local, &r.opens_on, &r.closes_on);
            parsed(&mut v, s)
        });
        let (cohort_id, title, schedule, modules, trainers) =
            v.finish_with((cohort_id, title, schedule, modules, trainers))?;
        self.plan(
            &caller,
            NewSession {
                cohort_id,
                title,
                schedule,
                venue: None,
                modules,
                trainers,
            },
        )
        .await
    }

    /// A session checked against its cohort's school year and programme, then stored.
    async fn plan(&self, caller: &Caller, new: NewSession) -> ServiceResult<pb::TrainingSession> {
        let mut uow = self.core.begin().await?;
        let c = self.cohort(uow.txn(), &new.cohort_id).await?;
        let p = self.programme(uow.txn(), &c.programme_id).await?;
        let year = SchoolYear::from_stored(c.school_year);
        refuse_fields(new.schedule.check(year, &p.programme, &new.modules))?;
        let trainers = new.trainers.join(", ");
        let session = store::insert_session(uow.txn(), new, uow.now(), &caller.subject).await?;
        uow.record(session_act(&session.row.id, caller, "planned", trainers))
            .await?;
        uow.commit().await?;
        Ok(convert::session_record_pb(&session))
    }

    /// The office replaces who runs a session: from now on only they record attendance at it.
    pub(super) async fn assign_session_trainers(
        &self,
        caller: Caller,
        r: pb::AssignSessionTrainersRequest,
    ) -> ServiceResult<pb::TrainingSession> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&r.session_id));
        let trainers = convert::trainers(&r.trainers, &mut v);
        let (id, trainers) = v.finish_with((id, trainers))?;

        let mut uow = self.core.begin().await?;
        let not_found = || ServiceError::not_found(format!("session {id}"));
        store::session(uow.txn(), &id)
            .await?
            .ok_or_else(not_found)?;
        let (now, by) = (uow.now(), caller.subject.as_str());
        store::replace_session_trainers(uow.txn(), &id, &trainers, now, by).await?;
        uow.record(session_act(
            &id,
            &caller,
            "trainers_assigned",
            trainers.join(", "),
        ))
        .await?;
        let session = store::session(uow.txn(), &id)
            .await?
            .ok_or_else(not_found)?;
        uow.commit().await?;
        Ok(convert::session_record_pb(&session))
    }

    pub(super) async fn list_sessions(
        &self,
        _caller: Caller,
        r: pb::ListSessionsRequest,
    ) -> ServiceResult<pb::ListSessionsResponse> {
        let id = id_field("cohort_id", &r.cohort_id)?;
        let db = &self.core.db;
        let c = self.cohort(db, &id).await?;
        let sessions = store::sessions_of(db, &c.id).await?;
        let ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
        let modules = store::session_modules(db, &ids).await?;
        let trainers = store::session_trainers(db, &ids).await?;
        let settings = self.settings(db).await?;
        let balance = store::balance(&sessions, &modules);
        Ok(pb::ListSessionsResponse {
            sessions: sessions
                .iter()
                .map(|s| convert::session_pb(s, &modules, &trainers))
                .collect(),
            balance: Some(convert::balance_pb(&balance, &settings)),
        })
    }
}

/// An act on a session, for the audit history; `trainers` as the detail.
fn session_act<'a>(id: &'a str, caller: &'a Caller, action: &'a str, trainers: String) -> Act<'a> {
    Act {
        kind: SESSION,
        subject: id,
        actor: &caller.subject,
        action,
        detail: Some(format!("trainers: {trainers}")),
    }
}
