//! What the ministry asks of the figures: a session year, a scope (the nation, a région
//! académique or an académie) and up to three breakdown dimensions.

use std::collections::BTreeMap;

use cplds_runtime::academy::{ACADEMIES, Academy, regions};

use super::record::Dimension;

/// The first session of the CPLDS, and the last year a query may name.
pub const FIRST_YEAR: i32 = 2017;
pub const LAST_YEAR: i32 = 2100;
/// A breakdown names at most this many dimensions.
pub const MAX_DIMENSIONS: usize = 3;

/// A session year the figures may be asked for.
pub fn parse_year(year: i32) -> Result<i32, String> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be a session year from {FIRST_YEAR}"))
    }
}

/// An optional académie filter: empty for every académie.
pub fn parse_academy_filter(code: &str) -> Result<Option<&'static Academy>, String> {
    if code.is_empty() {
        return Ok(None);
    }
    Academy::find(code)
        .map(Some)
        .ok_or_else(|| format!("{code:?} is not an académie code"))
}

/// Where the figures are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    National,
    Region(&'static str),
    Academy(&'static Academy),
}

impl Scope {
    /// A région académique by its code; the error lists the codes.
    pub fn region(code: &str) -> Result<Scope, String> {
        let all = regions();
        all.iter()
            .find(|r| r.code == code)
            .map(|r| Scope::Region(r.code))
            .ok_or_else(|| {
                format!(
                    "{code:?} is not a région académique; expected one of: {}",
                    all.iter().map(|r| r.code).collect::<Vec<_>>().join(", ")
                )
            })
    }

    pub fn academy(code: &str) -> Result<Scope, String> {
        Academy::parse(code).map(Scope::Academy)
    }

    /// The académies of the scope (`None`: all).
    pub fn academies(&self) -> Option<Vec<String>> {
        match self {
            Scope::National => None,
            Scope::Region(code) => Some(
                ACADEMIES
                    .iter()
                    .filter(|a| a.region.code == *code)
                    .map(|a| a.code.to_owned())
                    .collect(),
            ),
            Scope::Academy(a) => Some(vec![a.code.to_owned()]),
        }
    }

    /// The académies of the scope expected to report for `year`, by code: the active ones of
    /// the nation or the région; an académie asked for by name is expected.
    pub fn expected(&self, active: &ActiveAcademies, year: i32) -> Vec<String> {
        match self {
            Scope::Academy(a) => vec![a.code.to_owned()],
            Scope::National => active.of(year).iter().map(|a| a.code.to_owned()).collect(),
            Scope::Region(code) => active
                .of(year)
                .iter()
                .filter(|a| a.region.code == *code)
                .map(|a| a.code.to_owned())
                .collect(),
        }
    }

    /// As exports name it: `national`, `region-occitanie`, `academy-toulouse`.
    pub fn label(&self) -> String {
        match self {
            Scope::National => "national".into(),
            Scope::Region(c) => format!("region-{c}"),
            Scope::Academy(a) => format!("academy-{}", a.code),
        }
    }
}

/// The académies expected to report each session year: every académie unless configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveAcademies(BTreeMap<i32, Vec<&'static Academy>>);

impl ActiveAcademies {
    /// From the configuration: session years (as text) to académie codes.
    pub fn parse(config: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut years = BTreeMap::new();
        for (year, codes) in config {
            let y = year
                .parse::<i32>()
                .map_err(|_| format!("{year:?} is not a session year"))
                .and_then(parse_year)
                .map_err(|e| format!("active_academies.{year}: {e}"))?;
            let academies = codes
                .iter()
                .map(|c| Academy::parse(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("active_academies.{year}: {e}"))?;
            years.insert(y, academies);
        }
        Ok(Self(years))
    }

    /// The académies expected for `year`.
    pub fn of(&self, year: i32) -> Vec<&'static Academy> {
        self.0
            .get(&year)
            .cloned()
            .unwrap_or_else(|| ACADEMIES.iter().collect())
    }
}

/// A statistics query, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub year: i32,
    pub scope: Scope,
    pub dims: Vec<Dimension>,
    pub with_previous: bool,
    pub for_publication: bool,
}

/// Adds the next dimension of a breakdown: each is named once. (It is added anyway, so that
/// [`check_dimension_count`] counts what was asked.)
pub fn add_dimension(dims: &mut Vec<Dimension>, d: Dimension) -> Result<(), String> {
    let twice = dims.contains(&d);
    dims.push(d);
    if twice {
        Err("is given twice".into())
    } else {
        Ok(())
    }
}

/// A breakdown names at most [`MAX_DIMENSIONS`] dimensions.
pub fn check_dimension_count(dims: &[Dimension]) -> Result<(), String> {
    if dims.len() > MAX_DIMENSIONS {
        Err("at most three dimensions".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_academies_expected_are_configured_per_year() {
        let config: BTreeMap<String, Vec<String>> =
            [("2025".to_owned(), vec!["reims".to_owned()])].into();
        let active = ActiveAcademies::parse(&config).unwrap();
        assert_eq!(Scope::National.expected(&active, 2025), ["reims"]);
        assert_eq!(Scope::National.expected(&active, 2024).len(), 30);
        let grand_est = Scope::region("grand-est").unwrap();
        assert_eq!(grand_est.expected(&active, 2025), ["reims"]);
        assert_eq!(
            grand_est.expected(&active, 2024),
            ["nancy-metz", "reims", "strasbourg"]
        );
        for bad in [("25", "reims"), ("2025", "gotham")] {
            let config = [(bad.0.to_owned(), vec![bad.1.to_owned()])].into();
            let e = ActiveAcademies::parse(&config).unwrap_err();
            assert!(e.starts_with(&format!("active_academies.{}", bad.0)), "{e}");
        }
    }

    #[test]
    fn years_start_with_the_first_session() {
        assert_eq!(parse_year(2017), Ok(2017));
        assert!(parse_year(2016).unwrap_err().contains("2017"));
        assert!(parse_year(2101).is_err());
    }

    #[test]
    fn an_academy_filter_is_empty_or_an_academy() {
        assert_eq!(parse_academy_filter(""), Ok(None));
        assert_eq!(
            parse_academy_filter("reims").unwrap().map(|a| a.code),
            Some("reims")
        );
        assert!(
            parse_academy_filter("gotham")
                .unwrap_err()
                .contains("gotham")
        );
    }

    #[test]
    fn a_region_scope_covers_its_academies() {
        let s = Scope::region("occitanie").unwrap();
        let academies = s.academies().unwrap();
        assert!(academies.contains(&"toulouse".to_owned()));
        assert!(academies.contains(&"montpellier".to_owned()));
        assert_eq!(s.label(), "region-occitanie");
        assert!(
            Scope::region("atlantide")
                .unwrap_err()
                .contains("occitanie")
        );
    }

    #[test]
    fn an_academy_scope_is_that_academy() {
        let s = Scope::academy("reims").unwrap();
        assert_eq!(s.academies(), Some(vec!["reims".to_owned()]));
        assert_eq!(s.label(), "academy-reims");
        assert!(Scope::academy("gotham").is_err());
        assert_eq!(Scope::National.academies(), None);
        assert_eq!(Scope::National.label(), "national");
    }

    #[test]
    fn a_breakdown_names_each_dimension_once() {
        use Dimension::*;
        let mut dims = Vec::new();
        assert!(add_dimension(&mut dims, Sex).is_ok());
        assert!(add_dimension(&mut dims, Department).is_ok());
        assert_eq!(add_dimension(&mut dims, Sex).unwrap_err(), "is given twice");
    }

    #[test]
    fn a_breakdown_has_at_most_three_dimensions() {
        use Dimension::*;
        assert!(check_dimension_count(&[Department, Sex, Academy]).is_ok());
        assert!(check_dimension_count(&[Department, Sex, Academy, WorkplaceType]).is_err());
    }
}
