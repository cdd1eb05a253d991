//! The school year a cohort runs (1 September to 31 August) and the days inside it.
//!
//! Source: arrêté of 5 May 2017 on the training, art. 3: the training is organised over one
//! school year (`/work/shared/domain/README.md`, "Training": e.g. October to April).

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

    pub fn contains(self, day: NaiveDate) -> bool {
        Self::containing(day) == self
    }

    /// Why `day` cannot be a day of this school year, if it cannot.
    pub fn outside(self, day: NaiveDate) -> Option<String> {
        (!self.contains(day)).then(|| {
            format!(
                "{day} is outside the cohort's school year {} ({:04}-09-01 to {:04}-08-31)",
                self.label(),
                self.0,
                self.0 + 1
            )
        })
    }

    /// `2025-2026`.
    pub fn label(self) -> String {
        format!("{}-{}", self.0, self.0 + 1)
    }
}

/// A day a request gives: required, `YYYY-MM-DD`.
pub fn required_day(s: &str) -> Result<NaiveDate, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    parse_date(s.trim())
}

/// An optional day: empty means none.
pub fn optional_day(s: &str) -> Result<Option<NaiveDate>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        required_day(s).map(Some)
    }
}

/// A day as the store keeps it (`YYYY-MM-DD`), read back.
pub fn stored_day(s: &str) -> Result<NaiveDate, super::Unreadable> {
    parse_date(s).map_err(|reason| super::Unreadable {
        kind: "day",
        value: s.to_owned(),
        reason,
    })
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
        let day = |s: &str| required_day(s).map(|d| y.outside(d));
        assert_eq!(day("2026-04-23"), Ok(None));
        assert!(day("2025-08-31").unwrap().unwrap().contains("outside"));
        assert!(day("").unwrap_err().contains("required"));
        assert!(day("2025-02-30").is_err());
        assert_eq!(optional_day(" "), Ok(None));
        assert!(stored_day("2025-13-01").is_err());
    }

    proptest! {
        #[test]
        fn every_day_is_in_exactly_its_school_year(offset in 0i64..40_000) {
            let day = NaiveDate::from_ymd_opt(2017, 1, 1).unwrap() + chrono::Duration::days(offset);
            let y = SchoolYear::containing(day);
            prop_assert!(y.contains(day));
            prop_assert!(!SchoolYear(y.0 + 1).contains(day));
            prop_assert!(!SchoolYear(y.0 - 1).contains(day));
            // The bounds the message gives are the year's.
            let first = NaiveDate::from_ymd_opt(y.0, 9, 1).unwrap();
            let last = NaiveDate::from_ymd_opt(y.0 + 1, 8, 31).unwrap();
            prop_assert!(first <= day && day <= last);
            prop_assert!(y.outside(first).is_none() && y.outside(last).is_none());
            prop_assert!(y.outside(first.pred_opt().unwrap()).is_some());
            prop_assert!(y.outside(last.succ_opt().unwrap()).is_some());
        }
    }
}
