//! The sessions of a cohort: seminars and distance sessions, planned by the training office.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceResult, Violations},
    kit::parse_id,
};

use super::{Inner, convert, id_field, parsed, refuse_fields};
use crate::{
    domain::{calendar::SchoolYear, programme, session::Schedule},
    store::{self, NewSession},
};

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
        let (cohort_id, title, schedule, city, place, modules) =
            v.finish_with((cohort_id, title, schedule, city, place, modules))?;
        self.plan(
            &caller,
            NewSession {
                cohort_id,
                title,
                schedule,
                venue: Some((city, place)),
                modules,
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
        let schedule = kind.and_then(|kind| {
            let s = Schedule::distance(kind, &r.starts_at_local, &r.opens_on, &r.closes_on);
            parsed(&mut v, s)
        });
        let (cohort_id, title, schedule, modules) =
            v.finish_with((cohort_id, title, schedule, modules))?;
        self.plan(
            &caller,
            NewSession {
                cohort_id,
                title,
                schedule,
                venue: None,
                modules,
            },
        )
        .await
    }

    /// A session checked against its cohort's school year and programme, then stored.
    async fn plan(&self, caller: &Caller, new: NewSession) -> ServiceResult<pb::TrainingSession> {
        let uow = self.core.begin().await?;
        let c = self.cohort(uow.txn(), &new.cohort_id).await?;
        let p = self.programme(uow.txn(), &c.programme_id).await?;
        let year = SchoolYear::from_stored(c.school_year);
        refuse_fields(new.schedule.check(year, &p.programme, &new.modules))?;
        let (row, modules) =
            store::insert_session(uow.txn(), new, uow.now(), &caller.subject).await?;
        uow.commit().await?;
        Ok(convert::session_pb(&row, &modules))
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
        Ok(pb::ListSessionsResponse {
            sessions: sessions
                .iter()
                .map(|s| convert::session_pb(s, &modules))
                .collect(),
        })
    }
}
