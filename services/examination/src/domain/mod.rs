//! Examination rules, without I/O: marks in half points, the decision of the deliberation,
//! double blind entry of marks, the timing of the two épreuves, sessions and boards, appeals and
//! the session statistics.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again.

pub mod appeal;
pub mod board;
pub mod decision;
pub mod double_entry;
pub mod keys;
pub mod mark;
pub mod people;
pub mod schedule;
pub mod session;
pub mod statistics;

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
