//! What the ministry asks of the figures: a session year, a scope (the nation, a région
//! académique or an académie) and up to three breakdown dimensions.

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

    /// As exports name it: `national`, `region-occitanie`, `academy-toulouse`.
    pub fn label(&self) -> String {
        match self {
            Scope::National => "national".into(),
            Scope::Region(c) => format!("region-{c}"),
            Scope::Academy(a) => format!("academy-{}", a.code),
        }
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
