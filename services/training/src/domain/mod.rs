//! Training rules, without I/O: what a valid programme is (the totals per kind of the arrêté),
//! who gets a place and in which order (the waiting list), who may act on an enrolment, which
//! trainer runs which session and which tutor accompanies which trainee ([`assignment`]), how
//! sessions are planned and attended, what the tutored internship records, how hours are
//! credited and summed (never beyond a module's hours), when the training is complete (with the
//! académie's [`settings`]), and how a record sent by another académie of the région is applied.
//! Each module says where its rules come from (the décret and arrêtés of 5 May 2017, as
//! `/work/shared/domain/README.md` states them).
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again. Rules of the procedure refuse with a
//! [`cplds_runtime::kit::RuleViolation`] naming the rule; checks of a request against what is
//! recorded (a module of the programme, a day of the school year) give [`FieldError`]s.

pub mod assignment;
pub mod attendance;
pub mod attestation;
pub mod calendar;
pub mod cohort;
pub mod enrolment;
pub mod hours;
pub mod identity;
pub mod internship;
pub mod programme;
pub mod regional;
pub mod roster;
pub mod session;
pub mod settings;

/// A field path in the request (`modules[2].mode`, `modules`) and what is wrong with it.
pub type FieldError = (String, String);

/// A stored value that no longer reads as what it was written as (the column types of the
/// store parse with it, so corrupt data is one clear error where it is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {kind} {value:?} is not valid: {reason}")]
pub struct Unreadable {
    pub kind: &'static str,
    pub value: String,
    pub reason: String,
}

/// `20 h`, `1 h 30`, `45 min`: how hours read on documents and in messages.
pub fn format_minutes(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
    }
}

/// A caller of the académie de Toulouse, for the rules' tests.
#[cfg(test)]
pub(crate) fn caller(
    subject: &str,
    roles: &[cplds_runtime::auth::Role],
) -> cplds_runtime::auth::Caller {
    cplds_runtime::auth::Caller {
        subject: subject.into(),
        academy: "toulouse".into(),
        roles: roles.iter().copied().collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn minutes_read_as_hours() {
        assert_eq!(super::format_minutes(1200), "20 h");
        assert_eq!(super::format_minutes(90), "1 h 30");
        assert_eq!(super::format_minutes(45), "45 min");
        assert_eq!(super::format_minutes(0), "0 min");
    }
}
