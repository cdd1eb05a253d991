//! Training rules, without I/O: what a valid programme is (the totals per kind of the arrêté),
//! who gets a place and in which order (the waiting list), how hours are credited and summed
//! (never beyond a module's hours), and when the training is complete.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again.

pub mod attestation;
pub mod calendar;
pub mod cohort;
pub mod hours;
pub mod identity;
pub mod programme;
pub mod roster;

/// Enums stored as text: `as_str` for the database and events, `parse` back.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// A rule of the procedure that forbids an act now (FAILED_PRECONDITION on the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleViolation {
    pub rule: &'static str,
    pub message: String,
}

pub(crate) fn refuse<T>(
    rule: &'static str,
    message: impl Into<String>,
) -> Result<T, RuleViolation> {
    Err(RuleViolation {
        rule,
        message: message.into(),
    })
}

/// `20 h`, `1 h 30`, `45 min`: how hours read on documents and in messages.
pub fn format_minutes(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02}"),
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
