//! Enrolments: requests for a place (accepted while places remain, else waiting), departures
//! (withdrawal, abandonment) that give the freed place to the first person waiting, the
//! trainee's deepening modules and tutor; and the records of this académie's staff trained by
//! another académie of the région.
//!
//! Every act that changes an enrolment reads it under its cohort's lock (PostgreSQL; SQLite has
//! one writer): places, the waiting list and each trainee's ledger change one act at a time.

use cplds_proto::v1 as pb;
use cplds_runtime::kit::Found;
use cplds_runtime::{
    auth::Caller,
    db::is_unique_violation,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Listing, RuleViolation, listing, new_id, parse_id},
};

use super::{Inner, act, convert, enrolment_subject, id_field, paging_of};
use crate::{
    domain::{
        assignment::{self, Around},
        cohort::free_text,
        enrolment::{self as rules, may_act_on},
        identity::{Trainee, academy},
        roster::{Departure, Roster},
    },
    events,
    store::{self, EnrolmentFilter, ExternalFilter, NewEnrolment},
};

/// A departure as the roster decides it: whether hours were credited tells a withdrawal from
/// an abandonment.
type Leave<'a> = Box<
    dyn FnOnce(&mut Roster<String>, bool) -> Result<Departure<String>, RuleViolation> + Send + 'a,
>;

impl Inner {
    pub(super) async fn request_enrolment(
        &self,
        caller: Caller,
        r: pb::RequestEnrolmentRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", parse_id(&r.cohort_id));
        let trainee = convert::trainee(r.trainee.as_ref(), self.academy, self.core.now(), &mut v);
        let (cohort_id, trainee) = v.finish_with((cohort_id, trainee))?;
        rules::may_request(&caller, &trainee, self.academy)?;

        let mut uow = self.core.begin().await?;
        let c = store::cohort_locked(uow.txn(), &cohort_id)
            .await
            .found("cohort", cohort_id)?;
        c.participating_academies
            .admits(trainee.home_academy)
            .on(format!("cohort/{}", c.id))?;
        let account = trainee.email.as_str();
        let own = store::live_enrolment_of_account(uow.txn(), &c.id, account).await?;
        let taken = store::live_enrolment_of(uow.txn(), &c.id, trainee.staff_number.as_str())
            .await?
            .is_some();
        let duplicate = |own: Option<&str>, taken| {
            rules::one_live_request(&c.id, account, own, taken)
                .map_err(|d| ServiceError::AlreadyExists(d.0))
        };
        duplicate(own.as_ref().map(|e| e.id.as_str()), taken)?;
        let mut roster = store::roster(uow.txn(), &c).await?;
        let id = new_id();
        let status = roster.request(id.clone());

        let new = NewEnrolment {
            id: id.clone(),
            cohort_id: &c.id,
            request_number: store::next_counter(uow.txn(), &format!("requests/{}", c.id)).await?,
            status,
            trainee: &trainee,
            candidate_key: self.candidate_key(&trainee),
            at: uow.now(),
            by: &caller.subject,
        };
        let row = store::insert_enrolment(uow.txn(), new).await.map_err(|e| {
            match duplicate(None, true) {
                Err(d) if is_unique_violation(&e) => d,
                _ => e.into(),
            }
        })?;
        let detail = Some(status.as_str().to_owned());
        uow.record(act(&id, &caller.subject, "requested", detail))
            .await?;
        uow.emit(events::enrolled(self.academy, &c, &row)).await?;
        uow.commit().await?;
        tracing::info!(cohort = %c.id, enrolment = %id, %status, home = %row.home_academy, "enrolment requested");
        self.render(&self.core.db, &row).await
    }

    /// This académie's pseudonymous key of its own staff; another académie computes its own.
    fn candidate_key(&self, t: &Trainee) -> Option<String> {
        (t.home_academy == self.academy)
            .then(|| self.pseudonymizer.candidate_key(t.staff_number.as_str()))
    }

    pub(super) async fn get_enrolment(
        &self,
        caller: Caller,
        r: pb::GetEnrolmentRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let id = id_field("enrolment_id", &r.enrolment_id)?;
        let db = &self.core.db;
        let e = self.enrolment(db, &id).await?;
        let cohort_trainers = store::cohort_trainers(db, &e.cohort_id).await?;
        let around = Around {
            trainee: &e.email,
            tutor: e.tutor_email.as_deref(),
            cohort_trainers: &cohort_trainers,
        };
        assignment::may_read_enrolment(&caller, &e.id, &around)?;
        self.render(db, &e).await
    }

    /// In order of request, filtered by status and home académie.
    pub(super) async fn list_enrolments(
        &self,
        caller: Caller,
        r: pb::ListEnrolmentsRequest,
    ) -> ServiceResult<pb::ListEnrolmentsResponse> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", parse_id(&r.cohort_id));
        let status = v.check("status", convert::filter(r.status));
        let home = if r.home_academy.trim().is_empty() {
            Some(None)
        } else {
            v.check("home_academy", academy(&r.home_academy).map(Some))
        };
        let filter = match (cohort_id, status, home) {
            (Some(cohort_id), Some(status), Some(home_academy)) => Some(EnrolmentFilter {
                cohort_id,
                status,
                home_academy,
            }),
            _ => None,
        };
        let paging = paging_of(
            &mut v,
            filter.as_ref().map(EnrolmentFilter::scope),
            r.page_size,
            &r.page_token,
        );
        let (filter, paging) = v.finish_with((filter, paging))?;
        let after = paging.after_as::<i64>()?;

        let db = &self.core.db;
        let c = self.cohort(db, &filter.cohort_id).await?;
        let cohort_trainers = store::cohort_trainers(db, &c.id).await?;
        assignment::may_follow_cohort(&caller, &c.id, &cohort_trainers)?;
        let p = self.programme(db, &c.programme_id).await?;
        let mut rows = listing::list(db, &filter, after, paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |e| e.request_number.to_string());
        let total = listing::count(db, &filter).await?;
        let roster = store::roster(db, &c).await?;
        let ids: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
        let records = store::records_of(db, &ids).await?;
        let settings = self.settings(db).await?;
        let view = self.view(&c, &p.programme, &records, &settings);
        let enrolments = rows
            .iter()
            .map(|e| view.enrolment_pb(e, roster.waiting_position(&e.id).unwrap_or(0)))
            .collect::<Result<_, _>>()?;
        Ok(pb::ListEnrolmentsResponse {
            enrolments,
            next_page_token,
            total_size: total as i64,
        })
    }

    pub(super) async fn withdraw(
        &self,
        caller: Caller,
        r: pb::WithdrawEnrolmentRequest,
    ) -> ServiceResult<pb::WithdrawEnrolmentResponse> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", parse_id(&r.enrolment_id));
        let reason = v.check("reason", free_text(&r.reason, 500));
        let (id, reason) = v.finish_with((id, reason))?;
        let leave: Leave = Box::new(|roster, started| roster.withdraw(&id, started));
        let (enrolment, promoted) = self
            .depart(&caller, &id, Some(reason), leave, "withdrawn")
            .await?;
        Ok(pb::WithdrawEnrolmentResponse {
            enrolment: Some(enrolment),
            promoted,
        })
    }

    pub(super) async fn record_abandonment(
        &self,
        caller: Caller,
        r: pb::RecordAbandonmentRequest,
    ) -> ServiceResult<pb::RecordAbandonmentResponse> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", parse_id(&r.enrolment_id));
        let reason = v.check(
            "reason",
            free_text(&r.reason, 500).and_then(|r| {
                if r.is_empty() {
                    Err("is required: why the trainee stops".to_owned())
                } else {
                    Ok(r)
                }
            }),
        );
        let (id, reason) = v.finish_with((id, reason))?;
        let leave: Leave = Box::new(|roster, _| roster.abandon(&id));
        let (enrolment, promoted) = self
            .depart(&caller, &id, Some(reason), leave, "abandoned")
            .await?;
        Ok(pb::RecordAbandonmentResponse {
            enrolment: Some(enrolment),
            promoted,
        })
    }

    /// Records a departure decided by the roster, gives the freed place to whoever it goes to,
    /// and emits the events. Returns the one who left and the one promoted.
    async fn depart(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
        leave: Leave<'_>,
        action: &str,
    ) -> ServiceResult<(pb::TrainingEnrolment, Option<pb::TrainingEnrolment>)> {
        let mut uow = self.core.begin().await?;
        let f = self.file(uow.txn(), id).await?;
        may_act_on(caller, &f.enrolment.id, &f.enrolment.email)?;
        let mut roster = store::roster(uow.txn(), &f.cohort).await?;
        let d = leave(&mut roster, f.started()).on(enrolment_subject(id))?;

        let hours = f.hours();
        let (now, by) = (uow.now(), caller.subject.as_str());
        let row = store::leave(uow.txn(), f.enrolment, (d.from, d.to), reason, now, by).await?;
        uow.record(act(id, by, action, row.leave_reason.clone()))
            .await?;
        let held = d.from.holds_place();
        uow.emit(events::left(self.academy, &f.cohort, &row, held, hours))
            .await?;
        let mut promoted = Vec::new();
        for pid in &d.promoted {
            let pe = store::accept(uow.txn(), pid, now).await?;
            let detail = Some(format!("place freed by enrolment {id}"));
            uow.record(act(pid, by, "promoted", detail)).await?;
            uow.emit(events::enrolled(self.academy, &f.cohort, &pe))
                .await?;
            promoted.push(pe);
        }
        uow.commit().await?;
        tracing::info!(enrolment = %id, previous = %d.from, status = %row.status, promoted = promoted.len(), "departure recorded");
        let left = self.render(&self.core.db, &row).await?;
        let promoted = match promoted.first() {
            Some(pe) => Some(self.render(&self.core.db, pe).await?),
            None => None,
        };
        Ok((left, promoted))
    }

    pub(super) async fn choose_deepening(
        &self,
        caller: Caller,
        r: pb::ChooseDeepeningModulesRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let id = id_field("enrolment_id", &r.enrolment_id)?;
        let uow = self.core.begin().await?;
        let f = self.file(uow.txn(), &id).await?;
        may_act_on(&caller, &f.enrolment.id, &f.enrolment.email)?;
        let choice = f
            .programme
            .programme
            .choose_deepening(&r.module_codes)
            .map_err(|why| ServiceError::invalid("module_codes", why))?;
        rules::may_choose(f.status(), f.choice.as_ref(), &choice, &f.ledger())
            .on(enrolment_subject(&id))?;

        let row = store::choose_deepening(uow.txn(), f.enrolment, &choice, uow.now()).await?;
        let detail = Some(choice.to_stored());
        let act = act(&id, &caller.subject, "deepening_chosen", detail);
        self.recorded(uow, act, &row).await
    }

    pub(super) async fn assign_tutor(
        &self,
        caller: Caller,
        r: pb::AssignTutorRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", parse_id(&r.enrolment_id));
        let tutor = convert::tutor(&r, &mut v);
        let (id, tutor) = v.finish_with((id, tutor))?;

        let uow = self.core.begin().await?;
        let f = self.file(uow.txn(), &id).await?;
        assignment::may_tutor(&f.enrolment.email, tutor.email.as_str())
            .map_err(|why| ServiceError::invalid("email", why))?;
        rules::in_training(f.status()).on(enrolment_subject(&id))?;

        let (now, by) = (uow.now(), caller.subject.as_str());
        let row = store::assign_tutor(uow.txn(), f.enrolment, &tutor, now, by).await?;
        let detail = Some(tutor.email.as_str().to_owned());
        self.recorded(uow, act(&id, by, "tutor_assigned", detail), &row)
            .await
    }

    /// This académie's staff trained in another académie's cohort, as it reported them.
    pub(super) async fn list_external(
        &self,
        _caller: Caller,
        r: pb::ListExternalTrainingRecordsRequest,
    ) -> ServiceResult<pb::ListExternalTrainingRecordsResponse> {
        let mut v = Violations::default();
        let status = v.check("status", convert::filter(r.status));
        let filter = status.map(|status| ExternalFilter {
            school_year: (r.school_year != 0).then_some(r.school_year),
            status,
        });
        let paging = paging_of(
            &mut v,
            filter.as_ref().map(ExternalFilter::scope),
            r.page_size,
            &r.page_token,
        );
        let (filter, paging) = v.finish_with((filter, paging))?;

        let db = &self.core.db;
        let mut rows =
            store::list_external(db, &filter, paging.after.as_deref(), paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |r| r.enrolment_id.clone());
        Ok(pb::ListExternalTrainingRecordsResponse {
            records: rows
                .iter()
                .map(|r| convert::external_pb(r, self.academy.code))
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }
}
