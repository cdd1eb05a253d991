//! proto ⇄ domain. Parsing a request message yields domain values or field violations named by
//! their path in the request; rendering turns stored rows into proto messages.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::Academy,
    error::Violations,
    time::{paris_date, to_timestamp},
};
use sea_orm::DbErr;

use crate::{
    domain::{
        assignment::MAX_SESSION_TRAINERS,
        cohort::CohortScope,
        hours::{self, Hours},
        identity::*,
        internship::ActivityKind,
        programme::{
            self, MAX_MODULE_MINUTES, Module, ModuleCode, ModuleKind, ModuleMode, Programme,
        },
        regional::ExternalStatus,
        roster::EnrolmentStatus,
        session::{Balance, SessionKind},
        settings::Settings,
    },
    store::{
        self, ProgrammeRecord, Records, SessionRecord, activity, attestation, cohort, credit,
        enrolment, external_record, session, session_module, session_trainer, settings,
    },
};

// ---- enums -----------------------------------------------------------------------------------

/// A domain enum and its proto enum, both ways. The proto's UNSPECIFIED (0) is no value.
pub trait Wire: Sized + Copy {
    /// `None` for a number the contract does not know, `Some(None)` for UNSPECIFIED.
    fn from_wire(v: i32) -> Option<Option<Self>>;
    fn to_wire(self) -> i32;
}

macro_rules! wire {
    ($domain:ident, $pb:ident { $($d:ident => $p:ident),+ $(,)? }) => {
        impl Wire for $domain {
            fn from_wire(v: i32) -> Option<Option<Self>> {
                Some(match pb::$pb::try_from(v).ok()? {
                    pb::$pb::Unspecified => None,
                    $(pb::$pb::$p => Some($domain::$d),)+
                })
            }

            fn to_wire(self) -> i32 {
                (match self { $($domain::$d => pb::$pb::$p,)+ }) as i32
            }
        }
    };
}

wire!(Sex, Sex { Female => Female, Male => Male });
wire!(ModuleKind, TrainingModuleKind { Theory => Theory, Deepening => Deepening, Practical => Practical });
wire!(ModuleMode, TrainingModuleMode {
    Presence => Presence,
    SynchronousDistance => SynchronousDistance,
    AsynchronousDistance => AsynchronousDistance,
});
wire!(CohortScope, TrainingCohortScope { Academy => Academy, AcademicRegion => AcademicRegion });
wire!(TutorQualification, TrainingTutorQualification { Cpif => Cpif, Cplds => Cplds });
wire!(ActivityKind, InternshipActivityKind {
    Observation => Observation,
    CoLeading => CoLeading,
    GpdsSession => GpdsSession,
});
wire!(EnrolmentStatus, TrainingEnrolmentStatus {
    Waitlisted => Waitlisted,
    Accepted => Accepted,
    Withdrawn => Withdrawn,
    Abandoned => Abandoned,
    Completed => Completed,
});
wire!(ExternalStatus, ExternalTrainingStatus { Enrolled => Enrolled, Completed => Completed, Abandoned => Abandoned });

/// A required enum field: UNSPECIFIED means missing.
pub fn required<T: Wire>(v: i32) -> Result<T, String> {
    match T::from_wire(v) {
        Some(Some(x)) => Ok(x),
        Some(None) => Err("is required".into()),
        None => Err(format!("{v} is not a known value")),
    }
}

/// An optional filter: UNSPECIFIED means no filter.
pub fn filter<T: Wire>(v: i32) -> Result<Option<T>, String> {
    T::from_wire(v).ok_or_else(|| format!("{v} is not a known status"))
}

pub fn wire<T: Wire>(x: T) -> i32 {
    x.to_wire()
}

/// A distance session's mode (a seminar is created apart).
pub fn distance_mode(v: i32) -> Result<SessionKind, String> {
    match pb::TrainingDistanceMode::try_from(v) {
        Ok(pb::TrainingDistanceMode::Synchronous) => Ok(SessionKind::Synchronous),
        Ok(pb::TrainingDistanceMode::Asynchronous) => Ok(SessionKind::Asynchronous),
        Ok(pb::TrainingDistanceMode::Unspecified) => Err("is required".into()),
        Err(_) => Err(format!("{v} is not a known value")),
    }
}

// ---- hours -----------------------------------------------------------------------------------

pub fn hours_pb(h: &Hours) -> pb::TrainingHours {
    pb::TrainingHours {
        theory_minutes: h.theory,
        deepening_minutes: h.deepening,
        practical_minutes: h.practical,
        presence_minutes: h.presence,
        synchronous_distance_minutes: h.synchronous_distance,
        asynchronous_distance_minutes: h.asynchronous_distance,
        internship_minutes: h.internship,
    }
}

pub fn hours_from_pb(h: &pb::TrainingHours) -> Hours {
    Hours {
        theory: h.theory_minutes,
        deepening: h.deepening_minutes,
        practical: h.practical_minutes,
        presence: h.presence_minutes,
        synchronous_distance: h.synchronous_distance_minutes,
        asynchronous_distance: h.asynchronous_distance_minutes,
        internship: h.internship_minutes,
    }
}

// ---- requests --------------------------------------------------------------------------------

/// The modules of a programme request; violations named `modules[i].<field>`.
pub fn modules(ms: &[pb::ProgrammeModule], v: &mut Violations) -> Option<Vec<Module>> {
    let mut out = Vec::with_capacity(ms.len());
    let mut ok = true;
    for (i, m) in ms.iter().enumerate() {
        let mut mv = Violations::default();
        let code = mv.check("code", ModuleCode::parse(&m.code));
        let title = mv.check("title", programme::title(&m.title));
        let kind = mv.check("kind", required(m.kind));
        let mode = mv.check("mode", required(m.mode));
        let minutes = mv.check("minutes", programme::minutes(m.minutes, MAX_MODULE_MINUTES));
        if mv.is_empty() {
            out.push(Module {
                code: code?,
                title: title?,
                kind: kind?,
                mode: mode?,
                minutes: minutes?,
            });
        } else {
            ok = false;
            v.nest(&format!("modules[{i}]"), mv);
        }
    }
    ok.then_some(out)
}

/// The modules covered by a session, before they are checked against the programme.
pub fn session_modules(
    ms: &[pb::SessionModule],
    v: &mut Violations,
) -> Option<Vec<(ModuleCode, u32)>> {
    let mut out: Vec<(ModuleCode, u32)> = Vec::with_capacity(ms.len());
    let mut ok = true;
    for (i, m) in ms.iter().enumerate() {
        let mut mv = Violations::default();
        let code = mv.check("module_code", ModuleCode::parse(&m.module_code));
        let minutes = mv.check("minutes", programme::minutes(m.minutes, MAX_MODULE_MINUTES));
        if let Some(c) = &code
            && let Some(j) = out.iter().position(|(o, _)| o == c)
        {
            mv.add("module_code", format!("{c} is already in modules[{j}]"));
        }
        if mv.is_empty() {
            out.push((code?, minutes?));
        } else {
            ok = false;
            v.nest(&format!("modules[{i}]"), mv);
        }
    }
    ok.then_some(out)
}

/// Parses the trainee message; violations are named `trainee.<field>`.
pub fn trainee(
    d: Option<&pb::TraineeDetails>,
    node: &'static Academy,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<Trainee> {
    let Some(d) = d else {
        v.add("trainee", "is required");
        return None;
    };
    let mut c = Violations::default();
    let last_name = c.check("last_name", PersonName::parse(&d.last_name));
    let first_name = c.check("first_name", PersonName::parse(&d.first_name));
    let birth_date = if d.birth_date.trim().is_empty() {
        Some(None)
    } else {
        c.check(
            "birth_date",
            BirthDate::parse(&d.birth_date, paris_date(now)).map(Some),
        )
    };
    let email = c.check("email", Email::parse(&d.email));
    let staff_number = c.check("staff_number", StaffNumber::parse(&d.staff_number));
    let sex = c.check("sex", required(d.sex));
    let workplace_uai = c.check("workplace_uai", Uai::parse(&d.workplace_uai));
    let home_academy = if d.home_academy.trim().is_empty() {
        Some(node)
    } else {
        c.check("home_academy", academy(&d.home_academy))
    };
    if !c.is_empty() {
        v.nest("trainee", c);
        return None;
    }
    let t = Trainee {
        last_name: last_name?,
        first_name: first_name?,
        birth_date: birth_date?,
        email: email?,
        staff_number: staff_number?,
        sex: sex?,
        workplace_uai: workplace_uai?,
        home_academy: home_academy?,
    };
    if let Some(why) = t.workplace_violation() {
        v.add("trainee.workplace_uai", why);
        return None;
    }
    Some(t)
}

/// The trainers who run a session: e-mail addresses, at most ten, none twice; violations named
/// `trainers[i]`.
pub fn trainers(emails: &[String], v: &mut Violations) -> Option<Vec<String>> {
    if emails.len() > MAX_SESSION_TRAINERS {
        v.add(
            "trainers",
            format!("at most {MAX_SESSION_TRAINERS} trainers run a session"),
        );
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(emails.len());
    let mut ok = true;
    for (i, e) in emails.iter().enumerate() {
        let field = format!("trainers[{i}]");
        match Email::parse(e) {
            Ok(email) if out.iter().any(|o| email.same_person(o)) => {
                ok = false;
                v.add(field, format!("{} is given twice", email.as_str()));
            }
            Ok(email) => out.push(email.as_str().to_owned()),
            Err(why) => {
                ok = false;
                v.add(field, why);
            }
        }
    }
    ok.then_some(out)
}

pub fn tutor(r: &pb::AssignTutorRequest, v: &mut Violations) -> Option<Tutor> {
    let last_name = v.check("last_name", PersonName::parse(&r.last_name));
    let first_name = v.check("first_name", PersonName::parse(&r.first_name));
    let email = v.check("email", Email::parse(&r.email));
    let qualification = v.check("qualification", required(r.qualification));
    Some(Tutor {
        last_name: last_name?,
        first_name: first_name?,
        email: email?,
        qualification: qualification?,
    })
}

// ---- rendering -------------------------------------------------------------------------------

pub fn programme_pb(p: &ProgrammeRecord) -> pb::TrainingProgramme {
    pb::TrainingProgramme {
        id: p.row.id.clone(),
        version: p.row.version,
        title: p.row.title.clone(),
        modules: p
            .programme
            .modules
            .iter()
            .map(|m| pb::ProgrammeModule {
                code: m.code.as_str().to_owned(),
                title: m.title.clone(),
                kind: wire(m.kind),
                mode: wire(m.mode),
                minutes: m.minutes,
            })
            .collect(),
        trainee_minutes: p.programme.requirements.trainee_minutes(),
        create_time: Some(to_timestamp(p.row.created_at)),
        created_by: p.row.created_by.clone(),
    }
}

pub fn cohort_pb(
    c: &cohort::Model,
    organizing: &str,
    programme_version: i32,
    counts: &[(EnrolmentStatus, i64)],
) -> pb::TrainingCohort {
    let count = |pred: fn(EnrolmentStatus) -> bool| -> u32 {
        counts
            .iter()
            .filter(|(s, _)| pred(*s))
            .map(|(_, n)| *n as u32)
            .sum()
    };
    pb::TrainingCohort {
        id: c.id.clone(),
        organizing_academy: organizing.to_owned(),
        school_year: c.school_year,
        title: c.title.clone(),
        programme_id: c.programme_id.clone(),
        programme_version,
        scope: wire(c.scope),
        participating_academies: c
            .participating_academies
            .academies()
            .iter()
            .map(|a| a.code.to_owned())
            .collect(),
        capacity: c.capacity as u32,
        places_taken: count(EnrolmentStatus::holds_place),
        waiting_count: count(|s| s == EnrolmentStatus::Waitlisted),
        create_time: Some(to_timestamp(c.created_at)),
        created_by: c.created_by.clone(),
    }
}

/// A stored session.
pub fn session_record_pb(r: &SessionRecord) -> pb::TrainingSession {
    session_pb(&r.row, &r.modules, &r.trainers)
}

/// One of `sessions`; `modules` and `trainers` may hold other sessions' rows.
pub fn session_pb(
    s: &session::Model,
    modules: &[session_module::Model],
    trainers: &[session_trainer::Model],
) -> pb::TrainingSession {
    use pb::training_session::Details;
    let details = match s.kind {
        SessionKind::Seminar => Details::Seminar(pb::SeminarDetails {
            first_day: s.first_day.clone(),
            last_day: s.last_day.clone(),
            city: s.city.clone().unwrap_or_default(),
            place: s.place.clone().unwrap_or_default(),
        }),
        SessionKind::Synchronous => Details::Synchronous(pb::SynchronousSessionDetails {
            starts_at_local: s.starts_at_local.clone().unwrap_or_default(),
            start_time: s.starts_at.map(to_timestamp),
        }),
        SessionKind::Asynchronous => Details::Asynchronous(pb::AsynchronousSessionDetails {
            opens_on: s.first_day.clone(),
            closes_on: s.last_day.clone(),
        }),
    };
    pb::TrainingSession {
        id: s.id.clone(),
        cohort_id: s.cohort_id.clone(),
        title: s.title.clone(),
        details: Some(details),
        modules: modules
            .iter()
            .filter(|m| m.session_id == s.id)
            .map(|m| pb::SessionModule {
                module_code: m.module_code.as_str().to_owned(),
                minutes: m.minutes as u32,
            })
            .collect(),
        create_time: Some(to_timestamp(s.created_at)),
        created_by: s.created_by.clone(),
        trainers: trainers
            .iter()
            .filter(|t| t.session_id == s.id)
            .map(|t| t.email.clone())
            .collect(),
    }
}

/// The balance of a cohort's sessions against the académie's target.
pub fn balance_pb(b: &Balance, settings: &Settings) -> pb::SessionBalance {
    pb::SessionBalance {
        presence_minutes: b.presence,
        synchronous_distance_minutes: b.synchronous,
        asynchronous_distance_minutes: b.asynchronous,
        presence_percent: b.presence_percent(),
        target_presence_percent: settings.target_presence_percent.map_or(0, u32::from),
        warnings: b.warnings(settings.target_presence_percent),
    }
}

pub fn settings_pb(
    academy: &str,
    s: &Settings,
    row: Option<&settings::Model>,
) -> pb::TrainingSettings {
    pb::TrainingSettings {
        academy: academy.to_owned(),
        require_tutor: s.require_tutor,
        require_gpds_session: s.require_gpds_session,
        target_presence_percent: s.target_presence_percent.map_or(0, u32::from),
        update_time: row.map(|r| to_timestamp(r.updated_at)),
        updated_by: row.map(|r| r.updated_by.clone()).unwrap_or_default(),
    }
}

pub fn trainee_pb(e: &enrolment::Model) -> pb::TraineeDetails {
    pb::TraineeDetails {
        last_name: e.last_name.clone(),
        first_name: e.first_name.clone(),
        birth_date: e.birth_date.clone().unwrap_or_default(),
        email: e.email.clone(),
        staff_number: e.staff_number.clone(),
        sex: wire(e.sex),
        workplace_uai: e.workplace_uai.clone(),
        home_academy: e.home_academy.clone(),
    }
}

/// Rendering the enrolments of one cohort; `credits` and `activities` may hold several
/// enrolments' rows.
pub struct EnrolmentView<'a> {
    pub organizing: &'a str,
    pub cohort: &'a cohort::Model,
    pub programme: &'a Programme,
    pub records: &'a Records,
    /// What the académie's attestation requires beyond the hours.
    pub settings: &'a Settings,
}

impl EnrolmentView<'_> {
    /// The hours of a trainee, summed by kind and mode.
    pub fn hours(&self, e: &enrolment::Model) -> Result<Hours, DbErr> {
        let choice = store::choice_of(self.programme, e)?;
        let ledger = store::ledger_of(&self.records.credits, &e.id);
        Ok(hours::progress(self.programme, choice.as_ref(), &ledger).hours)
    }

    pub fn progress_pb(&self, e: &enrolment::Model) -> Result<pb::TrainingProgress, DbErr> {
        let p = self.programme;
        let choice = store::choice_of(p, e)?;
        let ledger = store::ledger_of(&self.records.credits, &e.id);
        let internship = store::internship_of(e, &self.records.activities);
        let pr = hours::progress(p, choice.as_ref(), &ledger);
        let missing: Vec<String> =
            hours::missing(p, choice.as_ref(), &ledger, internship, self.settings)
                .into_iter()
                .map(|(_, why)| why)
                .collect();
        Ok(pb::TrainingProgress {
            required_minutes: pr.required_minutes,
            credited_minutes: pr.credited_minutes,
            hours: Some(hours_pb(&pr.hours)),
            modules: pr
                .modules
                .iter()
                .map(|m| pb::ModuleProgress {
                    module_code: m.module.code.as_str().to_owned(),
                    title: m.module.title.clone(),
                    kind: wire(m.module.kind),
                    mode: wire(m.module.mode),
                    module_minutes: m.module.minutes,
                    credited_minutes: m.credited,
                    required: m.required,
                    complete: m.complete(),
                })
                .collect(),
            complete: missing.is_empty(),
            missing,
        })
    }

    /// Everything about an enrolment.
    pub fn enrolment_pb(
        &self,
        e: &enrolment::Model,
        waiting_position: u32,
    ) -> Result<pb::TrainingEnrolment, DbErr> {
        let waiting = e.status == EnrolmentStatus::Waitlisted;
        Ok(pb::TrainingEnrolment {
            id: e.id.clone(),
            cohort_id: e.cohort_id.clone(),
            organizing_academy: self.organizing.to_owned(),
            school_year: self.cohort.school_year,
            request_number: e.request_number as u32,
            status: wire(e.status),
            waiting_position: if waiting { waiting_position } else { 0 },
            trainee: Some(trainee_pb(e)),
            deepening_module_codes: e
                .deepening_codes
                .as_deref()
                .map(|s| s.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            tutor: tutor_pb(e),
            internship_activities: self
                .records
                .activities
                .iter()
                .filter(|a| a.enrolment_id == e.id)
                .map(activity_pb)
                .collect(),
            gpds_session_led: store::internship_of(e, &self.records.activities).gpds_session_led,
            attendances: attendances_pb(&self.records.credits, &e.id),
            progress: Some(self.progress_pb(e)?),
            requested_by: e.requested_by.clone(),
            request_time: Some(to_timestamp(e.requested_at)),
            accept_time: e.accepted_at.map(to_timestamp),
            departure: e.left_at.map(|at| pb::TrainingDeparture {
                leave_time: Some(to_timestamp(at)),
                left_by: e.left_by.clone().unwrap_or_default(),
                reason: e.leave_reason.clone().unwrap_or_default(),
                previous_status: e.status_before_leaving.map_or(0, wire),
            }),
            complete_time: e.completed_at.map(to_timestamp),
            attestation_number: e.attestation_number.clone().unwrap_or_default(),
            update_time: Some(to_timestamp(e.updated_at)),
        })
    }
}

fn tutor_pb(e: &enrolment::Model) -> Option<pb::TrainingTutor> {
    e.tutor_email.as_ref().map(|email| pb::TrainingTutor {
        last_name: e.tutor_last_name.clone().unwrap_or_default(),
        first_name: e.tutor_first_name.clone().unwrap_or_default(),
        email: email.clone(),
        qualification: e.tutor_qualification.map_or(0, wire),
        assign_time: e.tutor_assigned_at.map(to_timestamp),
        assigned_by: e.tutor_assigned_by.clone().unwrap_or_default(),
    })
}

fn attendances_pb(credits: &[credit::Model], enrolment_id: &str) -> Vec<pb::SessionAttendance> {
    let mut by_session: BTreeMap<(i64, String), pb::SessionAttendance> = BTreeMap::new();
    let mut first_seen: BTreeMap<String, i64> = BTreeMap::new();
    for c in credits.iter().filter(|c| c.enrolment_id == enrolment_id) {
        let Some(sid) = &c.session_id else { continue };
        let order = *first_seen.entry(sid.clone()).or_insert(c.id);
        let a = by_session
            .entry((order, sid.clone()))
            .or_insert_with(|| pb::SessionAttendance {
                session_id: sid.clone(),
                modules: Vec::new(),
                completed_on: String::new(),
                record_time: Some(to_timestamp(c.recorded_at)),
                recorded_by: c.recorded_by.clone(),
            });
        a.modules.push(pb::SessionModule {
            module_code: c.module_code.as_str().to_owned(),
            minutes: c.minutes as u32,
        });
        a.completed_on = c.on_date.clone();
    }
    by_session.into_values().collect()
}

fn activity_pb(a: &activity::Model) -> pb::InternshipActivity {
    pb::InternshipActivity {
        id: a.id.clone(),
        kind: wire(a.kind),
        module_code: a.module_code.as_str().to_owned(),
        date: a.on_date.clone(),
        minutes: a.minutes as u32,
        establishment_uai: a.establishment_uai.clone(),
        description: a.description.clone().unwrap_or_default(),
        record_time: Some(to_timestamp(a.recorded_at)),
        recorded_by: a.recorded_by.clone(),
    }
}

pub fn attestation_pb(a: &attestation::Model) -> Result<pb::TrainingAttestation, DbErr> {
    Ok(pb::TrainingAttestation {
        number: a.number.clone(),
        enrolment_id: a.enrolment_id.clone(),
        cohort_id: a.cohort_id.clone(),
        issue_time: Some(to_timestamp(a.issued_at)),
        issued_by: a.issued_by.clone(),
        hours: Some(hours_pb(&store::decode_hours(&a.hours)?)),
        pdf: a.pdf.clone(),
        sha256: a.sha256.clone(),
        key_id: a.key_id.clone().unwrap_or_default(),
        signature: a.signature.clone().unwrap_or_default(),
        // The code and the QR code's content need the public address: `Inner::attestation_pb`.
        ..Default::default()
    })
}

/// A record of this académie's staff (`home`) trained elsewhere.
pub fn external_pb(
    r: &external_record::Model,
    home: &str,
) -> Result<pb::ExternalTrainingRecord, DbErr> {
    Ok(pb::ExternalTrainingRecord {
        enrolment_id: r.enrolment_id.clone(),
        organizing_academy: r.organizing_academy.clone(),
        cohort_id: r.cohort_id.clone(),
        school_year: r.school_year,
        trainee: Some(pb::TraineeDetails {
            last_name: r.last_name.clone(),
            first_name: r.first_name.clone(),
            birth_date: r.birth_date.clone().unwrap_or_default(),
            email: r.email.clone(),
            staff_number: r.staff_number.clone(),
            sex: r.sex.sex().map_or(0, wire),
            workplace_uai: r.workplace_uai.clone(),
            home_academy: home.to_owned(),
        }),
        status: wire(r.status),
        hours: Some(hours_pb(&store::decode_hours(&r.hours)?)),
        attestation_number: r.attestation_number.clone().unwrap_or_default(),
        reason: r.reason.clone().unwrap_or_default(),
        enroll_time: Some(to_timestamp(r.enrolled_at)),
        update_time: Some(to_timestamp(r.updated_at)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_cross_the_wire_both_ways() {
        for s in EnrolmentStatus::ALL {
            assert_eq!(required::<EnrolmentStatus>(wire(*s)), Ok(*s));
        }
        for k in ActivityKind::ALL {
            assert_eq!(required::<ActivityKind>(wire(*k)), Ok(*k));
        }
        assert_eq!(required::<Sex>(0), Err("is required".to_owned()));
        assert!(
            required::<Sex>(9)
                .unwrap_err()
                .contains("not a known value")
        );
        assert_eq!(filter::<ExternalStatus>(0), Ok(None));
        assert!(
            filter::<ExternalStatus>(9)
                .unwrap_err()
                .contains("not a known status")
        );
        assert_eq!(distance_mode(0), Err("is required".to_owned()));
    }
}
