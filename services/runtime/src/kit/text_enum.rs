//! Enums stored as text: one macro for every closed list a service keeps in a column or puts in
//! an event (`submitted`, `validated`…).
//!
//! The generated enum converts itself to and from its column ([`sea_orm::DeriveValueType`]), so
//! entities hold the enum, not a `String`: an unknown stored value is one clear database error
//! (`unknown CandidacyStatus "x"`) where it is read, never a silent default.

/// The error of parsing a text enum: which enum, which text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

/// ```
/// cplds_runtime::text_enum!(
///     /// Where a candidacy stands.
///     Status { Submitted => "submitted", Validated => "validated" }
/// );
/// assert_eq!(Status::parse("validated"), Some(Status::Validated));
/// assert_eq!(Status::Submitted.as_str(), "submitted");
/// assert!("nope".parse::<Status>().unwrap_err().to_string().contains("submitted, validated"));
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, $crate::kit::reexport::DeriveValueType)]
        #[sea_orm(value_type = "String")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value a text names, if any.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // A stored enum may be part of a composite primary key, which sea-orm asks whether it
        // can come from an auto-increment id: it cannot.
        impl $crate::kit::reexport::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, $crate::kit::reexport::DbErr> {
                Err($crate::kit::reexport::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::kit::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::kit::UnknownValue {
                    kind: stringify!($name),
                    value: s.to_owned(),
                    expected: [$($text),+].join(", "),
                })
            }
        }
    };
}
