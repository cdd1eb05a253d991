//! The yearly exam session: its period (set by the recteur), its state, and the appeal window
//! that opens at publication.
//!
//! Sources: the exam takes place once a year in a period set by the recteur (arrêté of 5 May
//! 2017 on the exam); sessions straddle calendar years — Toulouse held épreuve 2 of its session
//! 2021 on 16-20 November 2020, épreuve 1 later (`/work/shared/domain/README.md`, "Details of
//! the sources"). So a session N may start in the autumn of N-1 and runs, once a year, for less
//! than a year.

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use cplds_runtime::{
    kit::{RuleViolation, refuse},
    time::parse_date,
};

/// First session of the CPLDS (décret of 5 May 2017).
pub const FIRST_YEAR: i32 = 2017;
/// A session N starts at the earliest at the school year's start in N-1: 1 September.
pub const EARLIEST_START_MONTH: u32 = 9;
pub const DEFAULT_APPEAL_WINDOW_DAYS: u32 = 60;
pub const MAX_APPEAL_WINDOW_DAYS: u32 = 120;

/// The days of the exam, both included, in Europe/Paris.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{0}")]
    StartsOn(String),
    #[error("{0}")]
    EndsOn(String),
}

/// The days a session of `year` may use: from 1 September of the year before to 31 December.
pub fn bounds(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        // A year out of any calendar (i32::MIN) has no bounds rather than an overflow.
        NaiveDate::from_ymd_opt(year.checked_sub(1)?, EARLIEST_START_MONTH, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

impl Period {
    /// The period of a session of `year`: within [`bounds`], ordered, less than a year long.
    pub fn parse(starts_on: &str, ends_on: &str, year: i32) -> Result<Self, Vec<PeriodError>> {
        let Some((first, last)) = bounds(year) else {
            return Err(vec![PeriodError::StartsOn(format!(
                "no period exists for the year {year}"
            ))]);
        };
        let s = parse_date(starts_on.trim()).and_then(|d| {
            if d < first {
                Err(format!(
                    "{d} is too early: a session {year} starts on {first} at the earliest (the autumn before)"
                ))
            } else {
                Ok(d)
            }
        });
        let e = parse_date(ends_on.trim()).and_then(|d| {
            if d > last {
                Err(format!(
                    "{d} is too late: a session {year} ends on {last} at the latest"
                ))
            } else {
                Ok(d)
            }
        });
        match (s, e) {
            (Ok(s), Ok(e)) if e < s => Err(vec![PeriodError::EndsOn(
                "the period must end on or after the day it starts".into(),
            )]),
            (Ok(s), Ok(e)) if s.checked_add_months(Months::new(12)).is_none_or(|y| e >= y) => {
                Err(vec![PeriodError::EndsOn(
                    "the period lasts less than a year: the exam takes place once a year".into(),
                )])
            }
            (Ok(s), Ok(e)) => Ok(Period {
                starts_on: s,
                ends_on: e,
            }),
            (s, e) => Err([
                s.err().map(PeriodError::StartsOn),
                e.err().map(PeriodError::EndsOn),
            ]
            .into_iter()
            .flatten()
            .collect()),
        }
    }

    pub fn from_stored(starts_on: &str, ends_on: &str) -> Option<Self> {
        Some(Period {
            starts_on: parse_date(starts_on).ok()?,
            ends_on: parse_date(ends_on).ok()?,
        })
    }
}

/// A session year: from the first CPLDS session to two years ahead of `now`.
pub fn parse_year(year: i32, now: DateTime<Utc>) -> Result<i32, String> {
    let max = cplds_runtime::time::paris_year(now) + 2;
    if (FIRST_YEAR..=max).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be between {FIRST_YEAR} and {max}"))
    }
}

pub fn parse_appeal_window(days: u32) -> Result<u32, String> {
    match days {
        0 => Ok(DEFAULT_APPEAL_WINDOW_DAYS),
        d if d <= MAX_APPEAL_WINDOW_DAYS => Ok(d),
        _ => Err(format!(
            "must be between 1 and {MAX_APPEAL_WINDOW_DAYS} days"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Open,
    Deliberated,
    ResultsPublished,
}

pub fn state(deliberated: bool, published: bool) -> SessionState {
    match (deliberated, published) {
        (_, true) => SessionState::ResultsPublished,
        (true, false) => SessionState::Deliberated,
        (false, false) => SessionState::Open,
    }
}

/// Boards, assignments, schedules and marks change only before the deliberation.
pub fn ensure_open(s: SessionState) -> Result<(), RuleViolation> {
    match s {
        SessionState::Open => Ok(()),
        _ => refuse(
            "DELIBERATION_CLOSED",
            "the deliberation is closed: marks, boards and schedules are frozen",
        ),
    }
}

/// Results, statistics and publication wait for the deliberation.
pub fn ensure_deliberated(s: SessionState) -> Result<(), RuleViolation> {
    match s {
        SessionState::Open => Err(not_deliberated()),
        SessionState::Deliberated | SessionState::ResultsPublished => Ok(()),
    }
}

/// A candidate's decision, which the deliberation made.
pub fn decided<T>(decision: Option<T>) -> Result<T, RuleViolation> {
    decision.ok_or_else(not_deliberated)
}

fn not_deliberated() -> RuleViolation {
    RuleViolation::new(
        "DELIBERATION_NOT_CLOSED",
        "the deliberation of this session is not closed yet",
    )
}

/// A candidate reads their result once results are published.
pub fn ensure_published(s: SessionState) -> Result<(), RuleViolation> {
    match s {
        SessionState::ResultsPublished => Ok(()),
        SessionState::Open | SessionState::Deliberated => {
            refuse("RESULTS_NOT_PUBLISHED", "results are not published yet")
        }
    }
}

/// The session of a candidate's year, which must exist before anything is asked of it.
pub fn of_year<T>(session: Option<T>, year: i32) -> Result<T, RuleViolation> {
    session.map_or_else(
        || {
            refuse(
                "NO_SESSION",
                format!("no exam session exists for {year} yet"),
            )
        },
        Ok,
    )
}

/// The last instant an appeal is received.
pub fn appeal_deadline(published_at: DateTime<Utc>, window_days: u32) -> DateTime<Utc> {
    published_at + Duration::days(i64::from(window_days))
}

/// Appeals are received after publication, within the window.
pub fn can_appeal(
    published_at: Option<DateTime<Utc>>,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<(), RuleViolation> {
    let Some(published) = published_at else {
        return refuse(
            "RESULTS_NOT_PUBLISHED",
            "results are not published yet: appeals open at publication",
        );
    };
    let deadline = appeal_deadline(published, window_days);
    if now > deadline {
        return refuse(
            "APPEAL_WINDOW_CLOSED",
            format!(
                "appeals were received until {} (Europe/Paris)",
                cplds_runtime::time::format_paris_human(deadline)
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;
    use cplds_runtime::time::parse_paris_local;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_year_out_of_the_calendar_has_no_bounds() {
        assert_eq!(bounds(i32::MIN), None);
        assert!(Period::parse("2025-01-01", "2025-01-02", i32::MIN).is_err());
    }

    #[test]
    fn periods() {
        let p = Period::parse("2025-11-17", "2025-11-21", 2025).unwrap();
        assert_eq!(p.starts_on.to_string(), "2025-11-17");
        assert_eq!(
            Period::parse("2025-11-17", "2025-11-17", 2025)
                .unwrap()
                .ends_on,
            p.starts_on
        );
        assert!(matches!(
            Period::parse("2025-11-21", "2025-11-17", 2025).unwrap_err()[..],
            [PeriodError::EndsOn(_)]
        ));
        assert_eq!(Period::parse("x", "2024-01-01", 2025).unwrap_err().len(), 1);
        assert_eq!(Period::parse("x", "y", 2025).unwrap_err().len(), 2);
        // Longer than a quarter is fine: Toulouse's sessions run from autumn to spring.
        assert!(Period::parse("2025-01-01", "2025-06-30", 2025).is_ok());
        assert!(Period::parse("2024-12-20", "2025-01-10", 2025).is_ok());
    }

    /// Toulouse's session 2021 held épreuve 2 on 16-20 November 2020: a session N starts in the
    /// autumn of N-1.
    #[test]
    fn a_session_starts_in_the_autumn_before_its_year() {
        let p = Period::parse("2020-11-16", "2021-04-02", 2021).unwrap();
        assert_eq!(p.starts_on.year(), 2020);
        assert!(Period::parse("2020-09-01", "2020-09-30", 2021).is_ok());
        let e = Period::parse("2020-08-31", "2020-11-20", 2021).unwrap_err();
        assert!(matches!(&e[..], [PeriodError::StartsOn(m)] if m.contains("2020-09-01")));
        let e = Period::parse("2021-11-16", "2022-01-05", 2021).unwrap_err();
        assert!(matches!(&e[..], [PeriodError::EndsOn(m)] if m.contains("2021-12-31")));
        // Once a year: less than a year long.
        assert!(Period::parse("2020-09-01", "2021-08-31", 2021).is_ok());
        let e = Period::parse("2020-09-01", "2021-09-01", 2021).unwrap_err();
        assert!(matches!(&e[..], [PeriodError::EndsOn(m)] if m.contains("less than a year")));
    }

    #[test]
    fn appeal_window() {
        let published = parse_paris_local("2025-12-01T10:00").unwrap();
        assert_eq!(
            can_appeal(None, 15, published).unwrap_err().rule,
            "RESULTS_NOT_PUBLISHED"
        );
        assert!(can_appeal(Some(published), 15, published).is_ok());
        let last = parse_paris_local("2025-12-16T10:00").unwrap();
        assert!(can_appeal(Some(published), 15, last).is_ok());
        assert_eq!(
            can_appeal(Some(published), 15, last + Duration::seconds(1))
                .unwrap_err()
                .rule,
            "APPEAL_WINDOW_CLOSED"
        );
        assert_eq!(parse_appeal_window(0), Ok(60));
        assert!(parse_appeal_window(121).is_err());
    }

    #[test]
    fn frozen_after_deliberation() {
        assert!(ensure_open(state(false, false)).is_ok());
        assert_eq!(
            ensure_open(state(true, false)).unwrap_err().rule,
            "DELIBERATION_CLOSED"
        );
        assert_eq!(state(true, true), SessionState::ResultsPublished);
    }

    #[test]
    fn results_wait_for_the_deliberation() {
        assert_eq!(
            ensure_deliberated(state(false, false)).unwrap_err().rule,
            "DELIBERATION_NOT_CLOSED"
        );
        assert!(ensure_deliberated(state(true, false)).is_ok());
        assert!(ensure_deliberated(state(true, true)).is_ok());
        assert_eq!(decided(Some(1)), Ok(1));
        assert_eq!(
            decided(None::<()>).unwrap_err().rule,
            "DELIBERATION_NOT_CLOSED"
        );
    }

    #[test]
    fn candidates_read_published_results_only() {
        assert_eq!(
            ensure_published(state(true, false)).unwrap_err().rule,
            "RESULTS_NOT_PUBLISHED"
        );
        assert!(ensure_published(state(true, true)).is_ok());
    }

    #[test]
    fn a_session_for_the_year() {
        assert_eq!(of_year(Some(1), 2025), Ok(1));
        let e = of_year(None::<()>, 2025).unwrap_err();
        assert_eq!(e.rule, "NO_SESSION");
        assert!(e.message.contains("2025"));
    }

    proptest! {
        #[test]
        fn period_days_are_ordered_and_within_the_bounds(a in 0i64..500, len in 0i64..400) {
            let start = NaiveDate::from_ymd_opt(2024, 8, 1).unwrap() + Duration::days(a);
            let end = start + Duration::days(len);
            let r = Period::parse(&start.to_string(), &end.to_string(), 2025);
            let (first, last) = bounds(2025).unwrap();
            let a_year_later = start.checked_add_months(Months::new(12)).unwrap();
            let valid = start >= first && end <= last && end < a_year_later;
            prop_assert_eq!(r.is_ok(), valid);
            if let Ok(p) = r {
                prop_assert!(p.starts_on <= p.ends_on);
            }
        }
    }
}
