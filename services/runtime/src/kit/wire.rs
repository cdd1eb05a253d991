//! Domain enums and their proto twins. A contract enum is the domain's variants plus
//! `UNSPECIFIED` (0); [`crate::wire_enums!`] writes both directions once per pair, and
//! [`required`] / [`optional`] say the same thing about a missing or unknown value in every
//! service.

/// A domain enum and its proto twin: the same variants, plus the proto's UNSPECIFIED.
pub trait Wire: Sized + Copy {
    /// `None` for a number the contract does not know, `Some(None)` for UNSPECIFIED.
    fn from_wire(value: i32) -> Option<Option<Self>>;
    fn to_wire(self) -> i32;
}

/// A required enum field: UNSPECIFIED means missing.
pub fn required<T: Wire>(value: i32) -> Result<T, String> {
    match T::from_wire(value) {
        Some(Some(v)) => Ok(v),
        Some(None) => Err("is required".into()),
        None => Err(format!("{value} is not a known value")),
    }
}

/// An optional enum field (a filter, a reason checked later): UNSPECIFIED means none.
pub fn optional<T: Wire>(value: i32, noun: &str) -> Result<Option<T>, String> {
    T::from_wire(value).ok_or_else(|| format!("{value} is not a known {noun}"))
}

/// ```text
/// cplds_runtime::wire_enums! {
///     Sex => pb::Sex { Female, Male }
///     CandidacyStatus => pb::CandidacyStatus { Submitted, Validated, Rejected, Withdrawn }
/// }
/// ```
/// The proto enum must name its zero value `Unspecified` and the others as the domain does.
#[macro_export]
macro_rules! wire_enums {
    ($($domain:ident => $($proto:ident)::+ { $($variant:ident),+ $(,)? })*) => {$(
        impl $crate::kit::wire::Wire for $domain {
            fn from_wire(value: i32) -> Option<Option<Self>> {
                use $($proto)::+ as W;
                W::try_from(value).ok().map(|w| match w {
                    W::Unspecified => None,
                    $(W::$variant => Some($domain::$variant),)+
                })
            }

            fn to_wire(self) -> i32 {
                use $($proto)::+ as W;
                (match self { $($domain::$variant => W::$variant,)+ }) as i32
            }
        }
    )*};
}
