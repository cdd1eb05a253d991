//! A trainee's attendance at a session, as a trainer records it: by default the whole session
//! (the modules the trainee follows, at their planned minutes), or the modules and minutes the
//! trainer gives, each planned and at most its planned minutes. An asynchronous session is
//! attended on the day the trainee completed it, inside its opening days. A second record for a
//! session replaces the first: the ledger it is checked against leaves the first out.
//!
//! Who records it is [`super::assignment`]: a trainer who runs the session. The hours credited
//! are those of the arrêté's modules ([`super::programme`]).

use chrono::NaiveDate;
use cplds_runtime::kit::{RuleViolation, refuse};

use super::{
    FieldError,
    enrolment::in_training,
    format_minutes,
    hours::Ledger,
    programme::{DeepeningChoice, ModuleCode, Programme, is_required},
    roster::EnrolmentStatus,
    session::SessionKind,
};

/// A session as it was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub cohort_id: String,
    pub kind: SessionKind,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// The modules it covers, with their minutes.
    pub modules: Vec<(ModuleCode, u32)>,
    /// The e-mail addresses of the trainers who run it.
    pub trainers: Vec<String>,
}

/// What a record credits: on which day, which modules, how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendance {
    pub day: NaiveDate,
    pub modules: Vec<(ModuleCode, u32)>,
}

/// Reads a trainer's record of `session` for a trainee of `cohort_id`: the modules given (all
/// the trainee follows when none is given) and the day. Errors name the request's fields.
pub fn read(
    session: &Planned,
    cohort_id: &str,
    programme: &Programme,
    choice: Option<&DeepeningChoice>,
    given: Vec<(ModuleCode, u32)>,
    completed_on: Option<NaiveDate>,
) -> Result<Attendance, Vec<FieldError>> {
    if session.cohort_id != cohort_id {
        return Err(vec![(
            "session_id".into(),
            "the session belongs to another cohort than the enrolment".into(),
        )]);
    }
    let mut errors = Vec::new();
    let day = day(session, completed_on).map_err(|why| errors.push(("completed_on".into(), why)));
    let modules = if given.is_empty() {
        session
            .modules
            .iter()
            .filter(|(code, _)| {
                programme
                    .module(code)
                    .is_some_and(|m| is_required(m, choice))
            })
            .cloned()
            .collect()
    } else {
        errors.extend(beyond_plan(session, &given));
        given
    };
    match day {
        Ok(day) if errors.is_empty() => Ok(Attendance { day, modules }),
        _ => Err(errors),
    }
}

/// The day attended: the session's (first) day, or for an asynchronous session the day the
/// trainee completed it, while it was open.
fn day(session: &Planned, completed_on: Option<NaiveDate>) -> Result<NaiveDate, String> {
    match (session.kind, completed_on) {
        (SessionKind::Asynchronous, None) => Err("is required for an asynchronous session".into()),
        (SessionKind::Asynchronous, Some(d)) if d < session.first_day || d > session.last_day => {
            Err(format!(
                "the session is open from {} to {}",
                session.first_day, session.last_day
            ))
        }
        (SessionKind::Asynchronous, Some(d)) => Ok(d),
        (_, Some(_)) => Err("is only for an asynchronous session".into()),
        (_, None) => Ok(session.first_day),
    }
}

/// The modules given that the session does not cover, or for longer than planned.
fn beyond_plan(session: &Planned, given: &[(ModuleCode, u32)]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, (code, minutes)) in given.iter().enumerate() {
        match session.modules.iter().find(|(c, _)| c == code) {
            None => errors.push((
                format!("modules[{i}].module_code"),
                format!("the session does not cover {code}"),
            )),
            Some((_, planned)) if minutes > planned => errors.push((
                format!("modules[{i}].minutes"),
                format!("the session gives {code} {}", format_minutes(*planned)),
            )),
            Some(_) => {}
        }
    }
    errors
}

/// Credits the attendance to the trainee's ledger (which leaves out any earlier record of the
/// same session), or the rule that forbids it: a trainee in training, something they follow,
/// and no module beyond its hours.
pub fn credit(
    status: EnrolmentStatus,
    attendance: &Attendance,
    programme: &Programme,
    choice: Option<&DeepeningChoice>,
    ledger: &mut Ledger,
) -> Result<(), RuleViolation> {
    in_training(status)?;
    if attendance.modules.is_empty() {
        return refuse(
            "MODULE_NOT_CHOSEN",
            "the session covers only deepening modules the trainee has not chosen",
        );
    }
    for (code, minutes) in &attendance.modules {
        let Some(module) = programme.module(code) else {
            return refuse(
                "NOT_IN_PROGRAMME",
                format!(
                    "{code} is not a module of programme version {}",
                    programme.version
                ),
            );
        };
        ledger.credit(module, choice, *minutes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::programme::tests::standard;

    fn code(c: &str) -> ModuleCode {
        ModuleCode::parse(c).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn seminar() -> Planned {
        Planned {
            cohort_id: "c1".into(),
            kind: SessionKind::Seminar,
            first_day: day("2025-10-20"),
            last_day: day("2025-10-21"),
            modules: vec![(code("T1"), 720), (code("T2"), 360)],
            trainers: vec![],
        }
    }

    fn deepening() -> Planned {
        Planned {
            modules: vec![(code("A1"), 600), (code("A4"), 600)],
            ..seminar()
        }
    }

    fn asynchronous() -> Planned {
        Planned {
            kind: SessionKind::Asynchronous,
            first_day: day("2025-12-01"),
            last_day: day("2026-01-31"),
            modules: vec![(code("T5"), 600)],
            ..seminar()
        }
    }

    fn fields(r: Result<Attendance, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.0).collect()
    }

    #[test]
    fn the_whole_session_by_default() {
        let p = standard();
        let a = read(&seminar(), "c1", &p, None, vec![], None).unwrap();
        assert_eq!(a.day, day("2025-10-20"));
        assert_eq!(a.modules, seminar().modules);
    }

    #[test]
    fn by_default_only_the_modules_the_trainee_follows() {
        let p = standard();
        let a = read(&deepening(), "c1", &p, None, vec![], None).unwrap();
        assert!(a.modules.is_empty());
        let choice = p
            .choose_deepening(&["A1".into(), "A2".into(), "A3".into()])
            .unwrap();
        let a = read(&deepening(), "c1", &p, Some(&choice), vec![], None).unwrap();
        assert_eq!(a.modules, [(code("A1"), 600)]);
    }

    #[test]
    fn a_session_of_another_cohort() {
        let p = standard();
        let r = read(&seminar(), "c2", &p, None, vec![], Some(day("2025-10-20")));
        assert_eq!(fields(r), ["session_id"]);
    }

    #[test]
    fn modules_given_are_planned_and_within_their_minutes() {
        let p = standard();
        let r = read(
            &seminar(),
            "c1",
            &p,
            None,
            vec![(code("T2"), 400), (code("T3"), 60), (code("T1"), 60)],
            None,
        );
        assert_eq!(fields(r), ["modules[0].minutes", "modules[1].module_code"]);
        let a = read(&seminar(), "c1", &p, None, vec![(code("T1"), 480)], None).unwrap();
        assert_eq!(a.modules, [(code("T1"), 480)]);
    }

    #[test]
    fn completed_on_is_for_asynchronous_sessions_while_open() {
        let p = standard();
        let r = read(&seminar(), "c1", &p, None, vec![], Some(day("2025-10-21")));
        assert_eq!(fields(r), ["completed_on"]);
        assert_eq!(
            fields(read(&asynchronous(), "c1", &p, None, vec![], None)),
            ["completed_on"]
        );
        let late = read(
            &asynchronous(),
            "c1",
            &p,
            None,
            vec![],
            Some(day("2026-03-01")),
        );
        assert!(
            late.unwrap_err()[0]
                .1
                .contains("open from 2025-12-01 to 2026-01-31")
        );
        let a = read(
            &asynchronous(),
            "c1",
            &p,
            None,
            vec![],
            Some(day("2026-01-31")),
        )
        .unwrap();
        assert_eq!(a.day, day("2026-01-31"));
    }

    #[test]
    fn module_not_chosen() {
        let p = standard();
        let none = Attendance {
            day: day("2025-10-20"),
            modules: vec![],
        };
        let mut l = Ledger::default();
        let e = credit(EnrolmentStatus::Accepted, &none, &p, None, &mut l).unwrap_err();
        assert_eq!(e.rule, "MODULE_NOT_CHOSEN");
        let a2 = Attendance {
            modules: vec![(code("A2"), 600)],
            ..none
        };
        let e = credit(EnrolmentStatus::Accepted, &a2, &p, None, &mut l).unwrap_err();
        assert_eq!(e.rule, "MODULE_NOT_CHOSEN");
    }

    #[test]
    fn not_in_training_comes_first() {
        let p = standard();
        let a = read(&seminar(), "c1", &p, None, vec![], None).unwrap();
        let e = credit(
            EnrolmentStatus::Completed,
            &a,
            &p,
            None,
            &mut Ledger::default(),
        )
        .unwrap_err();
        assert_eq!(e.rule, "NOT_IN_TRAINING");
    }

    #[test]
    fn module_hours_exceeded() {
        let p = standard();
        let mut l = Ledger::default();
        let a = read(&seminar(), "c1", &p, None, vec![], None).unwrap();
        credit(EnrolmentStatus::Accepted, &a, &p, None, &mut l).unwrap();
        assert_eq!(l.credited(&code("T1")), 720);
        // The same again would be T1 24 h: refused, naming the module's hours.
        let e = credit(EnrolmentStatus::Accepted, &a, &p, None, &mut l).unwrap_err();
        assert_eq!(e.rule, "MODULE_HOURS_EXCEEDED");
        assert!(e.message.contains("20 h"), "{e}");
    }

    #[test]
    fn not_in_programme() {
        let p = standard();
        let a = Attendance {
            day: day("2025-10-20"),
            modules: vec![(code("Z9"), 60)],
        };
        let e = credit(
            EnrolmentStatus::Accepted,
            &a,
            &p,
            None,
            &mut Ledger::default(),
        )
        .unwrap_err();
        assert_eq!(e.rule, "NOT_IN_PROGRAMME");
    }
}
