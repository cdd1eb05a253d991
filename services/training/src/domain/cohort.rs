//! A cohort: who may enrol (the académie, or every académie of its région académique), how many
//! places, and the kinds of sessions it runs.

use cplds_runtime::academy::Academy;

use super::{programme::ModuleMode, text_enum};

text_enum!(CohortScope { Academy => "academy", AcademicRegion => "academic_region" });
text_enum!(SessionKind { Seminar => "seminar", Synchronous => "synchronous", Asynchronous => "asynchronous" });
text_enum!(ActivityKind { Observation => "observation", CoLeading => "co_leading", GpdsSession => "gpds_session" });

pub const MAX_CAPACITY: u32 = 200;

impl CohortScope {
    /// The académies whose staff may enrol, the organising one first.
    pub fn participating(self, organizing: &'static Academy) -> Vec<&'static Academy> {
        let mut out = vec![organizing];
        if self == CohortScope::AcademicRegion {
            out.extend(organizing.region_academies().filter(|a| *a != organizing));
        }
        out
    }
}

impl SessionKind {
    /// The mode of the modules a session of this kind covers.
    pub fn mode(self) -> ModuleMode {
        match self {
            SessionKind::Seminar => ModuleMode::Presence,
            SessionKind::Synchronous => ModuleMode::SynchronousDistance,
            SessionKind::Asynchronous => ModuleMode::AsynchronousDistance,
        }
    }
}

pub fn capacity(n: u32) -> Result<u32, String> {
    match n {
        0 => Err("is required (number of places, 1 or more)".into()),
        n if n > MAX_CAPACITY => Err(format!("at most {MAX_CAPACITY} places")),
        n => Ok(n),
    }
}

/// Stored form of the participating académies: `bordeaux,limoges,poitiers`.
pub fn academies_to_stored(academies: &[&Academy]) -> String {
    academies
        .iter()
        .map(|a| a.code)
        .collect::<Vec<_>>()
        .join(",")
}

pub fn academies_from_stored(s: &str) -> Vec<&'static Academy> {
    s.split(',').filter_map(Academy::find).collect()
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

    #[test]
    fn scopes() {
        let bordeaux = Academy::find("bordeaux").unwrap();
        let region = CohortScope::AcademicRegion.participating(bordeaux);
        assert_eq!(academies_to_stored(&region), "bordeaux,limoges,poitiers");
        assert_eq!(academies_from_stored("bordeaux,limoges,poitiers"), region);
        assert_eq!(CohortScope::Academy.participating(bordeaux), vec![bordeaux]);
        let mayotte = Academy::find("mayotte").unwrap();
        assert_eq!(
            CohortScope::AcademicRegion.participating(mayotte),
            vec![mayotte]
        );
        assert!(capacity(0).is_err());
        assert!(capacity(201).is_err());
        assert_eq!(
            SessionKind::Asynchronous.mode(),
            ModuleMode::AsynchronousDistance
        );
        assert!(free_text(&"x".repeat(501), 500).is_err());
    }
}
