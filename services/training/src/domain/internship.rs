//! The tutored internship (*stage avec tuteur*): observing and co-leading training sequences in
//! an establishment, and leading a GPDS meeting, each credited to a practical module.
//!
//! Sources: the practical training in an establishment, two modules, 40 h (arrêté of 5 May 2017
//! on the training, art. 1 c); the tutor who accompanies the trainee, designated by the recteur
//! (art. 2); what the internship holds (`/work/shared/domain/README.md`, "Training": observing
//! and co-leading sequences with an MLDS coordinator, leading a GPDS meeting). Whether the
//! internship waits for a tutor is the académie's setting ([`super::settings`]), by default as
//! art. 2 says.

use cplds_runtime::kit::{RuleViolation, refuse};

use super::{
    enrolment::in_training,
    hours::Ledger,
    programme::{
        DeepeningChoice, MAX_MODULE_MINUTES, Module, ModuleCode, ModuleKind, Programme, minutes,
    },
    roster::EnrolmentStatus,
};

cplds_runtime::text_enum!(ActivityKind { Observation => "observation", CoLeading => "co_leading", GpdsSession => "gpds_session" });

/// An activity's minutes, as planned durations are (a positive multiple of 15); a GPDS session
/// whose time is already counted in co-leading is recorded with 0 minutes.
pub fn activity_minutes(kind: Option<ActivityKind>, m: u32) -> Result<u32, String> {
    if m == 0 && kind == Some(ActivityKind::GpdsSession) {
        return Ok(0);
    }
    minutes(m, MAX_MODULE_MINUTES)
}

/// The module an activity is credited to: a practical module of the programme.
pub fn practical_module<'a>(p: &'a Programme, code: &ModuleCode) -> Result<&'a Module, String> {
    match p.module(code) {
        Some(m) if m.kind == ModuleKind::Practical => Ok(m),
        Some(_) => Err(format!("{code} is not a practical module")),
        None => Err(format!(
            "{code} is not a module of programme version {}",
            p.version
        )),
    }
}

/// Records an activity's minutes in the trainee's ledger, or the rule that forbids it: the
/// trainee is in training, has a tutor where the académie requires one (the internship is
/// tutored), and the module is not credited beyond its hours.
pub fn record(
    status: EnrolmentStatus,
    tutor: Tutoring,
    ledger: &mut Ledger,
    module: &Module,
    choice: Option<&DeepeningChoice>,
    minutes: u32,
) -> Result<(), RuleViolation> {
    in_training(status)?;
    if tutor.required && !tutor.assigned {
        return refuse(
            "NO_TUTOR",
            "the internship is tutored: the recteur designates a tutor first",
        );
    }
    ledger.credit(module, choice, minutes)
}

/// Whether the académie requires a tutor, and whether the trainee has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tutoring {
    pub required: bool,
    pub assigned: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::programme::tests::standard;

    fn code(c: &str) -> ModuleCode {
        ModuleCode::parse(c).unwrap()
    }

    const TUTORED: Tutoring = Tutoring {
        required: true,
        assigned: true,
    };
    const UNTUTORED: Tutoring = Tutoring {
        required: true,
        assigned: false,
    };

    #[test]
    fn a_gpds_session_may_take_no_more_time() {
        assert_eq!(activity_minutes(Some(ActivityKind::GpdsSession), 0), Ok(0));
        assert!(activity_minutes(Some(ActivityKind::Observation), 0).is_err());
        assert!(activity_minutes(None, 0).is_err());
        assert!(activity_minutes(Some(ActivityKind::CoLeading), 7).is_err());
        assert_eq!(
            activity_minutes(Some(ActivityKind::CoLeading), 360),
            Ok(360)
        );
    }

    #[test]
    fn only_practical_modules() {
        let p = standard();
        assert!(practical_module(&p, &code("P1")).is_ok());
        assert!(
            practical_module(&p, &code("T1"))
                .unwrap_err()
                .contains("not a practical module")
        );
        assert!(
            practical_module(&p, &code("Z9"))
                .unwrap_err()
                .contains("not a module of programme version 1")
        );
    }

    #[test]
    fn no_tutor() {
        let p = standard();
        let p1 = p.module(&code("P1")).unwrap();
        let mut l = Ledger::default();
        let e = record(EnrolmentStatus::Accepted, UNTUTORED, &mut l, p1, None, 900).unwrap_err();
        assert_eq!(e.rule, "NO_TUTOR");
        assert_eq!(l.credited(&p1.code), 0, "nothing credited");
        record(EnrolmentStatus::Accepted, TUTORED, &mut l, p1, None, 900).unwrap();
        assert_eq!(l.credited(&p1.code), 900);
    }

    #[test]
    fn an_academie_may_not_require_a_tutor() {
        let p = standard();
        let p1 = p.module(&code("P1")).unwrap();
        let mut l = Ledger::default();
        let optional = Tutoring {
            required: false,
            assigned: false,
        };
        record(EnrolmentStatus::Accepted, optional, &mut l, p1, None, 900).unwrap();
        assert_eq!(l.credited(&p1.code), 900);
    }

    #[test]
    fn not_in_training_before_no_tutor() {
        let p = standard();
        let p1 = p.module(&code("P1")).unwrap();
        let e = record(
            EnrolmentStatus::Completed,
            UNTUTORED,
            &mut Ledger::default(),
            p1,
            None,
            60,
        )
        .unwrap_err();
        assert_eq!(e.rule, "NOT_IN_TRAINING");
    }

    #[test]
    fn internship_hours_are_not_over_credited() {
        let p = standard();
        let p1 = p.module(&code("P1")).unwrap();
        let mut l = Ledger::default();
        record(EnrolmentStatus::Accepted, TUTORED, &mut l, p1, None, 900).unwrap();
        let e = record(EnrolmentStatus::Accepted, TUTORED, &mut l, p1, None, 360).unwrap_err();
        assert_eq!(e.rule, "MODULE_HOURS_EXCEEDED");
        record(EnrolmentStatus::Accepted, TUTORED, &mut l, p1, None, 300).unwrap();
        assert_eq!(l.credited(&p1.code), 20 * 60);
    }
}
