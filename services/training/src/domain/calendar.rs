//! The school year a cohort runs (1 September to 31 August) and the days inside it.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cplds_runtime::time::{paris_date, parse_date};

/// First school year of the CPLDS training (décret and arrêtés of 5 May 2017).
pub const FIRST_SCHOOL_YEAR: i32 = 2017;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchoolYear(i32);

impl SchoolYear {
    /// From the first CPLDS training to the school year after the current one.
    pub fn parse(year: i32, now: DateTime<Utc>) -> Result<Self, String> {
        let max = Self::containing(paris_date(now)).0 + 1;
        if (FIRST_SCHOOL_YEAR..=max).contains(&year) {
            Ok(Self(year))
        } else {
            Err(format!(
                "must be a school year between {FIRST_SCHOOL_YEAR} and {max} (2025 for 2025-2026)"
            ))
        }
    }

    /// A year read back from storage (it was checked when written).
    pub fn from_stored(year: i32) -> Self {
        Self(year)
    }

    /// The school year a day belongs to.
    pub fn containing(day: NaiveDate) -> Self {
        Self(if day.month() >= 9 {
            day.year()
        } else {
            day.year() - 1
        })
    }

    pub fn year(self) -> i32 {
        self.0
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0, 9, 1).expect("1 September exists")
    }

    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0 + 1, 8, 31).expect("31 August exists")
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&day)
    }

    /// `2025-2026`.
    pub fn label(self) -> String {
        format!("{}-{}", self.0, self.0 + 1)
    }
}

/// A day of the school year, `YYYY-MM-DD`.
pub fn day_in(year: SchoolYear, s: &str) -> Result<NaiveDate, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    let d = parse_date(s.trim())?;
    if year.contains(d) {
        Ok(d)
    } else {
        Err(format!(
            "{d} is outside the school year {} ({} to {})",
            year.label(),
            year.first_day(),
            year.last_day()
        ))
    }
}

pub fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use cplds_runtime::time::parse_paris_local;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn school_years() {
        let now = parse_paris_local("2025-10-01T10:00").unwrap();
        assert!(SchoolYear::parse(2026, now).is_ok());
        assert!(SchoolYear::parse(2027, now).unwrap_err().contains("2026"));
        assert!(SchoolYear::parse(2016, now).is_err());
        let y = SchoolYear::parse(2025, now).unwrap();
        assert_eq!(y.label(), "2025-2026");
        assert!(day_in(y, "2026-04-23").is_ok());
        assert!(day_in(y, "2025-08-31").unwrap_err().contains("outside"));
        assert!(day_in(y, "").unwrap_err().contains("required"));
        assert!(day_in(y, "2025-02-30").is_err());
    }

    proptest! {
        #[test]
        fn every_day_is_in_exactly_its_school_year(offset in 0i64..40_000) {
            let day = NaiveDate::from_ymd_opt(2017, 1, 1).unwrap() + chrono::Duration::days(offset);
            let y = SchoolYear::containing(day);
            prop_assert!(y.contains(day));
            prop_assert!(!SchoolYear(y.0 + 1).contains(day));
            prop_assert!(!SchoolYear(y.0 - 1).contains(day));
        }
    }
}
