//! Registration rules, without I/O: what a valid candidacy is, who is eligible, when a
//! submission is admissible, and how a candidacy moves from submitted to a decision.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again.

pub mod campaign;
pub mod candidacy;
pub mod candidate;
pub mod documents;
pub mod eligibility;

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
