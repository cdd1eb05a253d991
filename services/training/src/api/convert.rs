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

use crate::{
    domain::{
        cohort::{ActivityKind, CohortScope, SessionKind, academies_from_stored},
        hours::{self, Hours, Internship, Ledger},
        identity::*,
        programme::{
            self, DeepeningChoice, MAX_MODULE_MINUTES, Module, ModuleCode, ModuleKind, ModuleMode,
            Programme,
        },
        roster::EnrolmentStatus,
    },
    store::{
        activity, attestation, cohort, credit, enrolment, external_record,
        programme as programme_row, programme_module, session, session_module,
    },
};

/// An enum field: UNSPECIFIED means missing.
fn required<T>(value: i32, convert: impl Fn(i32) -> Option<Option<T>>) -> Result<T, String> {
    match convert(value) {
        Some(Some(v)) => Ok(v),
        Some(None) => Err("is required".into()),
        None => Err(format!("{value} is not a known value")),
    }
}

pub fn sex(v: i32) -> Result<Sex, String> {
    required(v, |v| {
        pb::Sex::try_from(v).ok().map(|s| match s {
            pb::Sex::Unspecified => None,
            pb::Sex::Female => Some(Sex::Female),
            pb::Sex::Male => Some(Sex::Male),
        })
    })
}

pub fn sex_pb(s: Option<Sex>) -> i32 {
    (match s {
        None => pb::Sex::Unspecified,
        Some(Sex::Female) => pb::Sex::Female,
        Some(Sex::Male) => pb::Sex::Male,
    }) as i32
}

pub fn module_kind(v: i32) -> Result<ModuleKind, String> {
    required(v, |v| {
        pb::TrainingModuleKind::try_from(v).ok().map(|k| match k {
            pb::TrainingModuleKind::Unspecified => None,
            pb::TrainingModuleKind::Theory => Some(ModuleKind::Theory),
            pb::TrainingModuleKind::Deepening => Some(ModuleKind::Deepening),
            pb::TrainingModuleKind::Practical => Some(ModuleKind::Practical),
        })
    })
}

pub fn module_kind_pb(k: ModuleKind) -> i32 {
    (match k {
        ModuleKind::Theory => pb::TrainingModuleKind::Theory,
        ModuleKind::Deepening => pb::TrainingModuleKind::Deepening,
        ModuleKind::Practical => pb::TrainingModuleKind::Practical,
    }) as i32
}

pub fn module_mode(v: i32) -> Result<ModuleMode, String> {
    required(v, |v| {
        pb::TrainingModuleMode::try_from(v).ok().map(|m| match m {
            pb::TrainingModuleMode::Unspecified => None,
            pb::TrainingModuleMode::Presence => Some(ModuleMode::Presence),
            pb::TrainingModuleMode::SynchronousDistance => Some(ModuleMode::SynchronousDistance),
            pb::TrainingModuleMode::AsynchronousDistance => Some(ModuleMode::AsynchronousDistance),
        })
    })
}

pub fn module_mode_pb(m: ModuleMode) -> i32 {
    (match m {
        ModuleMode::Presence => pb::TrainingModuleMode::Presence,
        ModuleMode::SynchronousDistance => pb::TrainingModuleMode::SynchronousDistance,
        ModuleMode::AsynchronousDistance => pb::TrainingModuleMode::AsynchronousDistance,
    }) as i32
}

pub fn scope(v: i32) -> Result<CohortScope, String> {
    required(v, |v| {
        pb::TrainingCohortScope::try_from(v).ok().map(|s| match s {
            pb::TrainingCohortScope::Unspecified => None,
            pb::TrainingCohortScope::Academy => Some(CohortScope::Academy),
            pb::TrainingCohortScope::AcademicRegion => Some(CohortScope::AcademicRegion),
        })
    })
}

pub fn distance_mode(v: i32) -> Result<SessionKind, String> {
    required(v, |v| {
        pb::TrainingDistanceMode::try_from(v).ok().map(|m| match m {
            pb::TrainingDistanceMode::Unspecified => None,
            pb::TrainingDistanceMode::Synchronous => Some(SessionKind::Synchronous),
            pb::TrainingDistanceMode::Asynchronous => Some(SessionKind::Asynchronous),
        })
    })
}

pub fn qualification(v: i32) -> Result<TutorQualification, String> {
    required(v, |v| {
        pb::TrainingTutorQualification::try_from(v)
            .ok()
            .map(|q| match q {
                pb::TrainingTutorQualification::Unspecified => None,
                pb::TrainingTutorQualification::Cpif => Some(TutorQualification::Cpif),
                pb::TrainingTutorQualification::Cplds => Some(TutorQualification::Cplds),
            })
    })
}

fn qualification_pb(q: TutorQualification) -> i32 {
    (match q {
        TutorQualification::Cpif => pb::TrainingTutorQualification::Cpif,
        TutorQualification::Cplds => pb::TrainingTutorQualification::Cplds,
    }) as i32
}

pub fn activity_kind(v: i32) -> Result<ActivityKind, String> {
    required(v, |v| {
        pb::InternshipActivityKind::try_from(v)
            .ok()
            .map(|k| match k {
                pb::InternshipActivityKind::Unspecified => None,
                pb::InternshipActivityKind::Observation => Some(ActivityKind::Observation),
                pb::InternshipActivityKind::CoLeading => Some(ActivityKind::CoLeading),
                pb::InternshipActivityKind::GpdsSession => Some(ActivityKind::GpdsSession),
            })
    })
}

fn activity_kind_pb(k: ActivityKind) -> i32 {
    (match k {
        ActivityKind::Observation => pb::InternshipActivityKind::Observation,
        ActivityKind::CoLeading => pb::InternshipActivityKind::CoLeading,
        ActivityKind::GpdsSession => pb::InternshipActivityKind::GpdsSession,
    }) as i32
}

pub fn status_pb(s: EnrolmentStatus) -> i32 {
    (match s {
        EnrolmentStatus::Waitlisted => pb::TrainingEnrolmentStatus::Waitlisted,
        EnrolmentStatus::Accepted => pb::TrainingEnrolmentStatus::Accepted,
        EnrolmentStatus::Withdrawn => pb::TrainingEnrolmentStatus::Withdrawn,
        EnrolmentStatus::Abandoned => pb::TrainingEnrolmentStatus::Abandoned,
        EnrolmentStatus::Completed => pb::TrainingEnrolmentStatus::Completed,
    }) as i32
}

/// Optional filter: UNSPECIFIED means no filter.
pub fn status_filter(v: i32) -> Result<Option<EnrolmentStatus>, String> {
    match pb::TrainingEnrolmentStatus::try_from(v) {
        Ok(pb::TrainingEnrolmentStatus::Unspecified) => Ok(None),
        Ok(pb::TrainingEnrolmentStatus::Waitlisted) => Ok(Some(EnrolmentStatus::Waitlisted)),
        Ok(pb::TrainingEnrolmentStatus::Accepted) => Ok(Some(EnrolmentStatus::Accepted)),
        Ok(pb::TrainingEnrolmentStatus::Withdrawn) => Ok(Some(EnrolmentStatus::Withdrawn)),
        Ok(pb::TrainingEnrolmentStatus::Abandoned) => Ok(Some(EnrolmentStatus::Abandoned)),
        Ok(pb::TrainingEnrolmentStatus::Completed) => Ok(Some(EnrolmentStatus::Completed)),
        Err(_) => Err(format!("{v} is not a known status")),
    }
}

/// Stored status of an external record, from the filter.
pub fn external_status_filter(v: i32) -> Result<Option<&'static str>, String> {
    match pb::ExternalTrainingStatus::try_from(v) {
        Ok(pb::ExternalTrainingStatus::Unspecified) => Ok(None),
        Ok(pb::ExternalTrainingStatus::Enrolled) => Ok(Some("enrolled")),
        Ok(pb::ExternalTrainingStatus::Completed) => Ok(Some("completed")),
        Ok(pb::ExternalTrainingStatus::Abandoned) => Ok(Some("abandoned")),
        Err(_) => Err(format!("{v} is not a known status")),
    }
}

fn external_status_pb(s: &str) -> i32 {
    (match s {
        "enrolled" => pb::ExternalTrainingStatus::Enrolled,
        "completed" => pb::ExternalTrainingStatus::Completed,
        "abandoned" => pb::ExternalTrainingStatus::Abandoned,
        _ => pb::ExternalTrainingStatus::Unspecified,
    }) as i32
}

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

pub fn hours_from_stored(s: &str) -> Hours {
    serde_json::from_str(s).unwrap_or_default()
}

pub fn hours_to_stored(h: &Hours) -> String {
    serde_json::to_string(h).expect("plain numbers serialize")
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
        let kind = mv.check("kind", module_kind(m.kind));
        let mode = mv.check("mode", module_mode(m.mode));
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
    let sex = c.check("sex", sex(d.sex));
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

pub fn tutor(r: &pb::AssignTutorRequest, v: &mut Violations) -> Option<Tutor> {
    let last_name = v.check("last_name", PersonName::parse(&r.last_name));
    let first_name = v.check("first_name", PersonName::parse(&r.first_name));
    let email = v.check("email", Email::parse(&r.email));
    let qualification = v.check("qualification", qualification(r.qualification));
    Some(Tutor {
        last_name: last_name?,
        first_name: first_name?,
        email: email?,
        qualification: qualification?,
    })
}

// ---- rendering -------------------------------------------------------------------------------

/// The domain programme from its stored rows (they were checked when written).
pub fn programme_domain(
    row: &programme_row::Model,
    modules: &[programme_module::Model],
) -> Result<Programme, String> {
    let modules = modules
        .iter()
        .map(|m| {
            Ok(Module {
                code: ModuleCode::parse(&m.code)?,
                title: m.title.clone(),
                kind: ModuleKind::parse(&m.kind).ok_or("stored module kind")?,
                mode: ModuleMode::parse(&m.mode).ok_or("stored module mode")?,
                minutes: u32::try_from(m.minutes).map_err(|e| e.to_string())?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Programme::new(
        row.version,
        row.title.clone(),
        modules,
        programme::ARRETE_2017,
    )
    .map_err(|e| format!("stored programme {} no longer valid: {e:?}", row.id))
}

pub fn programme_pb(row: &programme_row::Model, p: &Programme) -> pb::TrainingProgramme {
    pb::TrainingProgramme {
        id: row.id.clone(),
        version: row.version,
        title: row.title.clone(),
        modules: p
            .modules
            .iter()
            .map(|m| pb::ProgrammeModule {
                code: m.code.as_str().to_owned(),
                title: m.title.clone(),
                kind: module_kind_pb(m.kind),
                mode: module_mode_pb(m.mode),
                minutes: m.minutes,
            })
            .collect(),
        trainee_minutes: p.requirements.trainee_minutes(),
        create_time: Some(to_timestamp(row.created_at)),
        created_by: row.created_by.clone(),
    }
}

pub fn cohort_pb(
    c: &cohort::Model,
    organizing: &str,
    programme_version: i32,
    counts: &[(String, i64)],
) -> pb::TrainingCohort {
    let count = |pred: fn(EnrolmentStatus) -> bool| -> u32 {
        counts
            .iter()
            .filter(|(s, _)| EnrolmentStatus::parse(s).is_some_and(pred))
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
        scope: (match CohortScope::parse(&c.scope) {
            Some(CohortScope::Academy) => pb::TrainingCohortScope::Academy,
            Some(CohortScope::AcademicRegion) => pb::TrainingCohortScope::AcademicRegion,
            None => pb::TrainingCohortScope::Unspecified,
        }) as i32,
        participating_academies: academies_from_stored(&c.participating_academies)
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

pub fn session_pb(s: &session::Model, modules: &[session_module::Model]) -> pb::TrainingSession {
    use pb::training_session::Details;
    let details = match SessionKind::parse(&s.kind) {
        Some(SessionKind::Seminar) => Some(Details::Seminar(pb::SeminarDetails {
            first_day: s.first_day.clone(),
            last_day: s.last_day.clone(),
            city: s.city.clone().unwrap_or_default(),
            place: s.place.clone().unwrap_or_default(),
        })),
        Some(SessionKind::Synchronous) => {
            Some(Details::Synchronous(pb::SynchronousSessionDetails {
                starts_at_local: s.starts_at_local.clone().unwrap_or_default(),
                start_time: s.starts_at.map(to_timestamp),
            }))
        }
        Some(SessionKind::Asynchronous) => {
            Some(Details::Asynchronous(pb::AsynchronousSessionDetails {
                opens_on: s.first_day.clone(),
                closes_on: s.last_day.clone(),
            }))
        }
        None => None,
    };
    pb::TrainingSession {
        id: s.id.clone(),
        cohort_id: s.cohort_id.clone(),
        title: s.title.clone(),
        details,
        modules: modules
            .iter()
            .filter(|m| m.session_id == s.id)
            .map(|m| pb::SessionModule {
                module_code: m.module_code.clone(),
                minutes: m.minutes as u32,
            })
            .collect(),
        create_time: Some(to_timestamp(s.created_at)),
        created_by: s.created_by.clone(),
    }
}

pub fn trainee_pb(e: &enrolment::Model) -> pb::TraineeDetails {
    pb::TraineeDetails {
        last_name: e.last_name.clone(),
        first_name: e.first_name.clone(),
        birth_date: e.birth_date.clone().unwrap_or_default(),
        email: e.email.clone(),
        staff_number: e.staff_number.clone(),
        sex: sex_pb(Sex::parse(&e.sex)),
        workplace_uai: e.workplace_uai.clone(),
        home_academy: e.home_academy.clone(),
    }
}

/// The trainee's deepening choice, read back.
pub fn choice(p: &Programme, e: &enrolment::Model) -> Option<DeepeningChoice> {
    e.deepening_codes
        .as_deref()
        .and_then(|s| DeepeningChoice::from_stored(p, s).ok())
}

pub fn ledger(credits: &[credit::Model], enrolment_id: &str) -> Ledger {
    let mut l = Ledger::default();
    for c in credits.iter().filter(|c| c.enrolment_id == enrolment_id) {
        if let Ok(code) = ModuleCode::parse(&c.module_code) {
            l.record(code, c.minutes as u32);
        }
    }
    l
}

pub fn internship(e: &enrolment::Model, activities: &[activity::Model]) -> Internship {
    Internship {
        tutor_assigned: e.tutor_email.is_some(),
        gpds_session_led: activities
            .iter()
            .any(|a| a.enrolment_id == e.id && a.kind == ActivityKind::GpdsSession.as_str()),
    }
}

/// The hours of a trainee, summed by kind and mode.
pub fn hours_of(p: &Programme, e: &enrolment::Model, credits: &[credit::Model]) -> Hours {
    let c = choice(p, e);
    hours::progress(p, c.as_ref(), &ledger(credits, &e.id)).hours
}

pub fn progress_pb(
    p: &Programme,
    e: &enrolment::Model,
    credits: &[credit::Model],
    activities: &[activity::Model],
) -> pb::TrainingProgress {
    let c = choice(p, e);
    let l = ledger(credits, &e.id);
    let pr = hours::progress(p, c.as_ref(), &l);
    let missing: Vec<String> = hours::missing(p, c.as_ref(), &l, internship(e, activities))
        .into_iter()
        .map(|(_, why)| why)
        .collect();
    pb::TrainingProgress {
        required_minutes: pr.required_minutes,
        credited_minutes: pr.credited_minutes,
        hours: Some(hours_pb(&pr.hours)),
        modules: pr
            .modules
            .iter()
            .map(|m| pb::ModuleProgress {
                module_code: m.module.code.as_str().to_owned(),
                title: m.module.title.clone(),
                kind: module_kind_pb(m.module.kind),
                mode: module_mode_pb(m.module.mode),
                module_minutes: m.module.minutes,
                credited_minutes: m.credited,
                required: m.required,
                complete: m.complete(),
            })
            .collect(),
        complete: missing.is_empty(),
        missing,
    }
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
            module_code: c.module_code.clone(),
            minutes: c.minutes as u32,
        });
        a.completed_on = c.on_date.clone();
    }
    by_session.into_values().collect()
}

fn activity_pb(a: &activity::Model) -> pb::InternshipActivity {
    pb::InternshipActivity {
        id: a.id.clone(),
        kind: ActivityKind::parse(&a.kind).map_or(0, activity_kind_pb),
        module_code: a.module_code.clone(),
        date: a.on_date.clone(),
        minutes: a.minutes as u32,
        establishment_uai: a.establishment_uai.clone(),
        description: a.description.clone().unwrap_or_default(),
        record_time: Some(to_timestamp(a.recorded_at)),
        recorded_by: a.recorded_by.clone(),
    }
}

/// Everything about an enrolment; `credits` and `activities` may hold other enrolments' rows.
pub fn enrolment_pb(
    organizing: &str,
    c: &cohort::Model,
    p: &Programme,
    e: &enrolment::Model,
    credits: &[credit::Model],
    activities: &[activity::Model],
    waiting_position: u32,
) -> pb::TrainingEnrolment {
    let status = EnrolmentStatus::parse(&e.status);
    let own_activities: Vec<activity::Model> = activities
        .iter()
        .filter(|a| a.enrolment_id == e.id)
        .cloned()
        .collect();
    pb::TrainingEnrolment {
        id: e.id.clone(),
        cohort_id: e.cohort_id.clone(),
        organizing_academy: organizing.to_owned(),
        school_year: c.school_year,
        request_number: e.request_number as u32,
        status: status.map_or(0, status_pb),
        waiting_position: if status == Some(EnrolmentStatus::Waitlisted) {
            waiting_position
        } else {
            0
        },
        trainee: Some(trainee_pb(e)),
        deepening_module_codes: e
            .deepening_codes
            .as_deref()
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        tutor: e.tutor_email.as_ref().map(|email| pb::TrainingTutor {
            last_name: e.tutor_last_name.clone().unwrap_or_default(),
            first_name: e.tutor_first_name.clone().unwrap_or_default(),
            email: email.clone(),
            qualification: e
                .tutor_qualification
                .as_deref()
                .and_then(TutorQualification::parse)
                .map_or(0, qualification_pb),
            assign_time: e.tutor_assigned_at.map(to_timestamp),
            assigned_by: e.tutor_assigned_by.clone().unwrap_or_default(),
        }),
        internship_activities: own_activities.iter().map(activity_pb).collect(),
        gpds_session_led: internship(e, &own_activities).gpds_session_led,
        attendances: attendances_pb(credits, &e.id),
        progress: Some(progress_pb(p, e, credits, &own_activities)),
        requested_by: e.requested_by.clone(),
        request_time: Some(to_timestamp(e.requested_at)),
        accept_time: e.accepted_at.map(to_timestamp),
        departure: e.left_at.map(|at| pb::TrainingDeparture {
            leave_time: Some(to_timestamp(at)),
            left_by: e.left_by.clone().unwrap_or_default(),
            reason: e.leave_reason.clone().unwrap_or_default(),
            previous_status: e
                .status_before_leaving
                .as_deref()
                .and_then(EnrolmentStatus::parse)
                .map_or(0, status_pb),
        }),
        complete_time: e.completed_at.map(to_timestamp),
        attestation_number: e.attestation_number.clone().unwrap_or_default(),
        update_time: Some(to_timestamp(e.updated_at)),
    }
}

pub fn attestation_pb(a: &attestation::Model) -> pb::TrainingAttestation {
    pb::TrainingAttestation {
        number: a.number.clone(),
        enrolment_id: a.enrolment_id.clone(),
        cohort_id: a.cohort_id.clone(),
        issue_time: Some(to_timestamp(a.issued_at)),
        issued_by: a.issued_by.clone(),
        hours: Some(hours_pb(&hours_from_stored(&a.hours))),
        pdf: a.pdf.clone(),
        sha256: a.sha256.clone(),
        key_id: a.key_id.clone().unwrap_or_default(),
        signature: a.signature.clone().unwrap_or_default(),
    }
}

/// A record of this académie's staff (`home`) trained elsewhere.
pub fn external_pb(r: &external_record::Model, home: &str) -> pb::ExternalTrainingRecord {
    pb::ExternalTrainingRecord {
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
            sex: sex_pb(Sex::parse(&r.sex)),
            workplace_uai: r.workplace_uai.clone(),
            home_academy: home.to_owned(),
        }),
        status: external_status_pb(&r.status),
        hours: Some(hours_pb(&hours_from_stored(&r.hours))),
        attestation_number: r.attestation_number.clone().unwrap_or_default(),
        reason: r.reason.clone().unwrap_or_default(),
        enroll_time: Some(to_timestamp(r.enrolled_at)),
        update_time: Some(to_timestamp(r.updated_at)),
    }
}
