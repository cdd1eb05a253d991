//! A cohort: who may enrol (the académie, or every académie of its région académique) and how
//! many places it has.
//!
//! Source (`/work/shared/domain/README.md`, "Training"): the training is sometimes organised by
//! a whole région académique for several académies together (Bordeaux, Limoges and Poitiers in
//! Nouvelle-Aquitaine); its places are limited.

use std::{fmt, str::FromStr};

use cplds_runtime::{
    academy::Academy,
    kit::{RuleViolation, reexport::DeriveValueType, refuse},
};

use super::Unreadable;

cplds_runtime::text_enum!(CohortScope { Academy => "academy", AcademicRegion => "academic_region" });

pub const MAX_CAPACITY: u32 = 200;

impl CohortScope {
    /// The académies whose staff may enrol, the organising one first.
    pub fn participating(self, organizing: &'static Academy) -> Participating {
        let mut out = vec![organizing];
        if self == CohortScope::AcademicRegion {
            out.extend(organizing.region_academies().filter(|a| *a != organizing));
        }
        Participating(out)
    }
}

/// The académies whose staff may enrol in a cohort, the organising one first. Stored as their
/// codes, `bordeaux,limoges,poitiers`; an unknown code is an error where it is read.
#[derive(Debug, Clone, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub struct Participating(Vec<&'static Academy>);

impl Participating {
    pub fn academies(&self) -> &[&'static Academy] {
        &self.0
    }

    /// A member of staff of `home` may ask for a place, or the rule that forbids it.
    pub fn admits(&self, home: &Academy) -> Result<(), RuleViolation> {
        if self.0.contains(&home) {
            return Ok(());
        }
        refuse(
            "ACADEMY_NOT_PARTICIPATING",
            format!(
                "the cohort is open to staff of {}; not of the académie de {}",
                self.codes().join(", "),
                home.name
            ),
        )
    }

    fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(|a| a.code).collect()
    }
}

impl fmt::Display for Participating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.codes().join(","))
    }
}

impl FromStr for Participating {
    type Err = Unreadable;

    fn from_str(s: &str) -> Result<Self, Unreadable> {
        s.split(',')
            .map(Academy::parse)
            .collect::<Result<_, _>>()
            .map(Participating)
            .map_err(|reason| Unreadable {
                kind: "participating académies",
                value: s.to_owned(),
                reason,
            })
    }
}

pub fn capacity(n: u32) -> Result<u32, String> {
    match n {
        0 => Err("is required (number of places, 1 or more)".into()),
        n if n > MAX_CAPACITY => Err(format!("at most {MAX_CAPACITY} places")),
        n => Ok(n),
    }
}

/// Free text (a reason, a description): at most `max` characters, spaces trimmed.
pub fn free_text(s: &str, max: usize) -> Result<String, String> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn academy(code: &str) -> &'static Academy {
        Academy::find(code).unwrap()
    }

    #[test]
    fn a_regional_cohort_takes_the_academies_of_the_region() {
        let bordeaux = academy("bordeaux");
        let region = CohortScope::AcademicRegion.participating(bordeaux);
        assert_eq!(region.to_string(), "bordeaux,limoges,poitiers");
        assert_eq!(
            "bordeaux,limoges,poitiers"
                .parse::<Participating>()
                .unwrap(),
            region
        );
        assert_eq!(
            CohortScope::Academy.participating(bordeaux).academies(),
            [bordeaux]
        );
        let mayotte = academy("mayotte");
        assert_eq!(
            CohortScope::AcademicRegion
                .participating(mayotte)
                .academies(),
            [mayotte]
        );
    }

    #[test]
    fn an_unknown_stored_academie_is_an_error() {
        assert!("bordeaux,atlantis".parse::<Participating>().is_err());
    }

    #[test]
    fn academy_not_participating() {
        let region = CohortScope::AcademicRegion.participating(academy("toulouse"));
        assert!(region.admits(academy("montpellier")).is_ok());
        let e = region.admits(academy("limoges")).unwrap_err();
        assert_eq!(e.rule, "ACADEMY_NOT_PARTICIPATING");
        assert!(e.message.contains("toulouse, montpellier"), "{e}");
        assert!(e.message.contains("Limoges"), "{e}");
    }

    #[test]
    fn capacity_and_free_text() {
        assert!(capacity(0).is_err());
        assert!(capacity(201).is_err());
        assert_eq!(capacity(200), Ok(200));
        assert!(free_text(&"x".repeat(501), 500).is_err());
        assert_eq!(free_text("  mutation ", 500).unwrap(), "mutation");
    }
}
