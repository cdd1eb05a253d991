//! What trainers record (attendance at the sessions they run) and tutors (the internship of
//! their trainees), and what the training office and a cohort's trainers follow (its progress).
//! The ledger never credits a module beyond its hours.

use cplds_proto::v1 as pb;
use cplds_runtime::kit::Found;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceResult, Violations},
    kit::{Decided, parse_id},
};
use sea_orm::ConnectionTrait;

use super::{Inner, act, convert, enrolment_subject, id_field, invalid};
use crate::{
    domain::{
        assignment::{self, Around},
        attendance,
        calendar::{optional_day, required_day},
        cohort::free_text,
        format_minutes,
        hours::Hours,
        identity::Uai,
        internship::{self, Tutoring, activity_minutes},
        programme::ModuleCode,
        roster::EnrolmentStatus,
    },
    store::{self, NewActivity, enrolment},
};

impl Inner {
    pub(super) async fn record_activity(
        &self,
        caller: Caller,
        r: pb::RecordInternshipActivityRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", parse_id(&r.enrolment_id));
        let kind = v.check("kind", convert::required(r.kind));
        let code = v.check("module_code", ModuleCode::parse(&r.module_code));
        let day = v.check("date", required_day(&r.date));
        let minutes = v.check("minutes", activity_minutes(kind, r.minutes));
        let uai = v.check("establishment_uai", Uai::parse(&r.establishment_uai));
        let description = v.check("description", free_text(&r.description, 500));
        let (id, kind, code, day, minutes, uai, description) =
            v.finish_with((id, kind, code, day, minutes, uai, description))?;

        let mut uow = self.core.begin().await?;
        let f = self.ledger_file(uow.txn(), &id).await?;
        let cohort_trainers = store::cohort_trainers(uow.txn(), &f.cohort.id).await?;
        let around = Around {
            trainee: &f.enrolment.email,
            tutor: f.enrolment.tutor_email.as_deref(),
            cohort_trainers: &cohort_trainers,
        };
        assignment::may_record_internship(&caller, &around)?;
        let mut v = Violations::default();
        let module = v.check(
            "module_code",
            internship::practical_module(&f.programme.programme, &code),
        );
        if let Some(why) = f.school_year().outside(day) {
            v.add("date", why);
        }
        let module = v.finish_with(module)?;
        let tutoring = Tutoring {
            required: self.settings(uow.txn()).await?.require_tutor,
            assigned: f.enrolment.tutor_email.is_some(),
        };
        let mut ledger = f.ledger();
        internship::record(
            f.status(),
            tutoring,
            &mut ledger,
            module,
            f.choice.as_ref(),
            minutes,
        )
        .on(enrolment_subject(&id))?;

        let (now, by) = (uow.now(), caller.subject.as_str());
        let detail = Some(format!("{kind} {code} {}", format_minutes(minutes)));
        let activity = NewActivity {
            enrolment_id: &f.enrolment.id,
            kind,
            module_code: code,
            day,
            minutes,
            establishment_uai: uai.as_str().to_owned(),
            description: Some(description),
            at: now,
            by,
        };
        store::record_activity(uow.txn(), activity).await?;
        let (row, touch) = store::touched(f.enrolment, now, uow.txn().get_database_backend());
        uow.execute_at_commit(touch).await?;
        let act = act(&id, by, "internship_activity", detail);
        self.recorded_in(uow, act, &row, &f.cohort, &f.programme.programme)
            .await
    }

    pub(super) async fn record_attendance(
        &self,
        caller: Caller,
        r: pb::RecordAttendanceRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&r.session_id));
        let id = v.check("enrolment_id", parse_id(&r.enrolment_id));
        let given = convert::session_modules(&r.modules, &mut v);
        let completed_on = v.check("completed_on", optional_day(&r.completed_on));
        let (session_id, id, given, completed_on) =
            v.finish_with((session_id, id, given, completed_on))?;

        let mut uow = self.core.begin().await?;
        let reads = store::attendance_reads(uow.txn(), &id, &session_id, self.academy.code)
            .await
            .found("enrolment", &id)?;
        let (f, settings) = (reads.file, reads.settings);
        let session = Ok::<_, sea_orm::DbErr>(reads.session).found("session", &session_id)?;
        assignment::may_record_attendance(&caller, &session.trainers, &f.enrolment.email)?;
        let p = &f.programme.programme;
        let choice = f.choice.as_ref();
        let attended = attendance::read(&session, &f.cohort.id, p, choice, given, completed_on)
            .map_err(invalid)?;
        let mut ledger = f.ledger_without_session(&session_id);
        attendance::credit(f.status(), &attended, p, choice, &mut ledger)
            .on(enrolment_subject(&id))?;

        let (now, by) = (uow.now(), caller.subject.as_str());
        let mut records = f.records;
        store::replace_attendance(
            uow.txn(),
            (&f.enrolment.id, &session_id),
            &attended,
            (now, by),
            &mut records,
        )
        .await?;
        let (row, touch) = store::touched(f.enrolment, now, uow.txn().get_database_backend());
        uow.execute_at_commit(touch).await?;
        let modules: Vec<String> = attended
            .modules
            .iter()
            .map(|(c, m)| format!("{c} {}", format_minutes(*m)))
            .collect();
        let detail = Some(format!("session {session_id}: {}", modules.join(", ")));
        let act = act(&id, by, "attendance", detail);
        uow.record(act).await?;
        // What this transaction read and wrote under the enrolment's lock is what is stored.
        // Rendered in the unit: a read after it waits for the connection on SQLite, where the
        // next group of units holds it.
        let reply = self
            .render_settled(
                uow.txn(),
                &row,
                &f.cohort,
                &f.programme.programme,
                &records,
                &settings,
            )
            .await?;
        uow.commit().await?;
        Ok(reply)
    }

    /// Every trainee followed (in training, completed or abandoned) with their progress, the
    /// cohort's counts, and the balance of its sessions.
    pub(super) async fn cohort_progress(
        &self,
        caller: Caller,
        r: pb::GetCohortProgressRequest,
    ) -> ServiceResult<pb::CohortProgress> {
        let id = id_field("cohort_id", &r.cohort_id)?;
        let db = &self.core.db;
        let c = self.cohort(db, &id).await?;
        let cohort_trainers = store::cohort_trainers(db, &c.id).await?;
        assignment::may_follow_cohort(&caller, &c.id, &cohort_trainers)?;
        let p = self.programme(db, &c.programme_id).await?;
        let all = store::cohort_enrolments(db, &c.id).await?;
        let followed: Vec<&enrolment::Model> = all
            .iter()
            .filter(|e| {
                matches!(
                    e.status,
                    EnrolmentStatus::Accepted
                        | EnrolmentStatus::Completed
                        | EnrolmentStatus::Abandoned
                )
            })
            .collect();
        let ids: Vec<String> = followed.iter().map(|e| e.id.clone()).collect();
        let records = store::records_of(db, &ids).await?;
        let settings = self.settings(db).await?;
        let view = self.view(&c, &p.programme, &records, &settings);
        let mut total = Hours::default();
        let mut trainees = Vec::with_capacity(followed.len());
        for e in followed {
            total = total.plus(view.hours(e)?);
            trainees.push(pb::TraineeProgress {
                enrolment_id: e.id.clone(),
                last_name: e.last_name.clone(),
                first_name: e.first_name.clone(),
                home_academy: e.home_academy.clone(),
                status: convert::wire(e.status),
                progress: Some(view.progress_pb(e)?),
            });
        }
        let count = |s: EnrolmentStatus| all.iter().filter(|e| e.status == s).count() as u32;
        let sessions = store::sessions_of(db, &c.id).await?;
        let session_ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
        let modules = store::session_modules(db, &session_ids).await?;
        let balance = store::balance(&sessions, &modules);
        Ok(pb::CohortProgress {
            session_balance: Some(convert::balance_pb(&balance, &settings)),
            cohort: Some(self.render_cohort(db, &c).await?),
            trainees,
            total_hours: Some(convert::hours_pb(&total)),
            total_credited_minutes: u64::from(total.total()),
            in_training: count(EnrolmentStatus::Accepted),
            completed: count(EnrolmentStatus::Completed),
            abandoned: count(EnrolmentStatus::Abandoned),
            withdrawn: count(EnrolmentStatus::Withdrawn),
            waiting: count(EnrolmentStatus::Waitlisted),
        })
    }
}
