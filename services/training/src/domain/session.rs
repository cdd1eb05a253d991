//! The sessions of a cohort: seminars in presence, synchronous distance sessions (a class at a
//! given time) and asynchronous ones (open between two days). When a session takes place and
//! which modules it covers are checked against the cohort's school year and programme.
//!
//! Sources (`/work/shared/domain/README.md`, "Training"): the training is organised over one
//! school year (arrêté of 5 May 2017 on the training, art. 3); seminars of two days in different
//! cities, synchronous and asynchronous sessions on a distance-learning platform. About one third
//! in presence and two thirds at a distance is how the Poitiers organisation does it, not a
//! text: the [`Balance`] of a cohort's sessions is reported against the académie's target, as a
//! warning, never a refusal.

use chrono::{DateTime, NaiveDate, Utc};
use cplds_runtime::time::{paris_date, parse_paris_local};

use super::{
    FieldError,
    calendar::{SchoolYear, required_day},
    format_minutes,
    programme::{ModuleCode, ModuleKind, ModuleMode, Programme},
};

cplds_runtime::text_enum!(SessionKind { Seminar => "seminar", Synchronous => "synchronous", Asynchronous => "asynchronous" });

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

/// How the planned hours of a cohort's sessions divide between presence (seminars) and distance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub presence: u32,
    pub synchronous: u32,
    pub asynchronous: u32,
}

impl Balance {
    /// A session of `kind` giving its modules `minutes` in all.
    pub fn add(&mut self, kind: SessionKind, minutes: u32) {
        match kind {
            SessionKind::Seminar => self.presence += minutes,
            SessionKind::Synchronous => self.synchronous += minutes,
            SessionKind::Asynchronous => self.asynchronous += minutes,
        }
    }

    pub fn total(&self) -> u32 {
        self.presence + self.synchronous + self.asynchronous
    }

    /// The share of presence, in whole percent (rounded), 0 without sessions.
    pub fn presence_percent(&self) -> u32 {
        let total = u64::from(self.total());
        if total == 0 {
            return 0;
        }
        let percent = (u64::from(self.presence) * 200 + total) / (2 * total);
        u32::try_from(percent).unwrap_or(100)
    }

    /// What the training office should know of this balance against the académie's target
    /// (French): presence below it. A warning, never a refusal.
    pub fn warnings(&self, target_percent: Option<u8>) -> Vec<String> {
        let Some(target) = target_percent else {
            return Vec::new();
        };
        let total = u64::from(self.total());
        if total == 0 || u64::from(self.presence) * 100 >= u64::from(target) * total {
            return Vec::new();
        }
        vec![format!(
            "Les séminaires en présentiel représentent {} % des heures des sessions ({} sur {}) ; \
             l'académie en vise au moins {target} %.",
            self.presence_percent(),
            format_minutes(self.presence),
            format_minutes(self.total())
        )]
    }
}

/// A seminar lasts at most a week: its last day at most this many days after its first.
pub const SEMINAR_MAX_SPAN_DAYS: i64 = 6;

/// When a session takes place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub kind: SessionKind,
    /// First and last day: a seminar's, a synchronous session's one day, an asynchronous
    /// session's opening and closing.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// A synchronous session's start.
    pub start: Option<DateTime<Utc>>,
    /// The request fields the days came from, named if outside the school year.
    day_fields: (&'static str, &'static str),
}

fn field(name: &str, why: impl Into<String>) -> FieldError {
    (name.to_owned(), why.into())
}

impl Schedule {
    /// A seminar's days, `first_day` to `last_day`: at most a week.
    pub fn seminar(first: &str, last: &str) -> Result<Schedule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let first = required_day(first).map_err(|e| errors.push(field("first_day", e)));
        let last = required_day(last).map_err(|e| errors.push(field("last_day", e)));
        let (Ok(first), Ok(last)) = (first, last) else {
            return Err(errors);
        };
        if last < first {
            return Err(vec![field("last_day", "is before first_day")]);
        }
        if (last - first).num_days() > SEMINAR_MAX_SPAN_DAYS {
            return Err(vec![field("last_day", "a seminar lasts at most a week")]);
        }
        Ok(Schedule {
            kind: SessionKind::Seminar,
            first_day: first,
            last_day: last,
            start: None,
            day_fields: ("first_day", "last_day"),
        })
    }

    /// A distance session: a synchronous one starts at a local time (`starts_at_local`, Paris),
    /// an asynchronous one opens and closes on two days; each leaves the other's fields empty.
    pub fn distance(
        kind: SessionKind,
        starts_at_local: &str,
        opens_on: &str,
        closes_on: &str,
    ) -> Result<Schedule, Vec<FieldError>> {
        if kind == SessionKind::Synchronous {
            Self::synchronous(starts_at_local, opens_on, closes_on)
        } else {
            Self::asynchronous(kind, starts_at_local, opens_on, closes_on)
        }
    }

    fn synchronous(at: &str, opens: &str, closes: &str) -> Result<Schedule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let start = if at.trim().is_empty() {
            Err("is required for a synchronous session".to_owned())
        } else {
            parse_paris_local(at.trim())
        }
        .map_err(|e| errors.push(field("starts_at_local", e)));
        for (name, value) in [("opens_on", opens), ("closes_on", closes)] {
            if !value.trim().is_empty() {
                errors.push(field(name, "is only for an asynchronous session"));
            }
        }
        match start {
            Ok(start) if errors.is_empty() => Ok(Schedule {
                kind: SessionKind::Synchronous,
                first_day: paris_date(start),
                last_day: paris_date(start),
                start: Some(start),
                day_fields: ("starts_at_local", "starts_at_local"),
            }),
            _ => Err(errors),
        }
    }

    fn asynchronous(
        kind: SessionKind,
        at: &str,
        opens: &str,
        closes: &str,
    ) -> Result<Schedule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let opens = required_day(opens).map_err(|e| errors.push(field("opens_on", e)));
        let closes = required_day(closes).map_err(|e| errors.push(field("closes_on", e)));
        if !at.trim().is_empty() {
            errors.push(field(
                "starts_at_local",
                "is only for a synchronous session",
            ));
        }
        if let (Ok(o), Ok(c)) = (opens, closes)
            && c < o
        {
            errors.push(field("closes_on", "is before opens_on"));
        }
        match (opens, closes) {
            (Ok(first_day), Ok(last_day)) if errors.is_empty() => Ok(Schedule {
                kind,
                first_day,
                last_day,
                start: None,
                day_fields: ("opens_on", "closes_on"),
            }),
            _ => Err(errors),
        }
    }

    /// The session against its cohort: its days in the school year, and its modules those of
    /// the programme it may credit (of its mode, not practical: the internship credits those)
    /// and at most their hours.
    pub fn check(
        &self,
        year: SchoolYear,
        programme: &Programme,
        modules: &[(ModuleCode, u32)],
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let (first, last) = self.day_fields;
        if let Some(why) = year.outside(self.first_day) {
            errors.push(field(first, why));
        }
        if last != first
            && let Some(why) = year.outside(self.last_day)
        {
            errors.push(field(last, why));
        }
        errors.extend(self.check_modules(programme, modules));
        errors
    }

    fn check_modules(&self, p: &Programme, modules: &[(ModuleCode, u32)]) -> Vec<FieldError> {
        let kind = self.kind;
        let mut errors = Vec::new();
        for (i, (code, minutes)) in modules.iter().enumerate() {
            let code_field = format!("modules[{i}].module_code");
            match p.module(code) {
                None => errors.push((
                    code_field,
                    format!("{code} is not a module of programme version {}", p.version),
                )),
                Some(m) if m.kind == ModuleKind::Practical => errors.push((
                    code_field,
                    format!("{code} is practical: the tutored internship credits it"),
                )),
                Some(m) if m.mode != kind.mode() => errors.push((
                    code_field,
                    format!(
                        "{code} is a {} module; a {kind} session covers {} modules",
                        m.mode,
                        kind.mode()
                    ),
                )),
                Some(m) if *minutes > m.minutes => errors.push((
                    format!("modules[{i}].minutes"),
                    format!("{code} lasts {} in all", format_minutes(m.minutes)),
                )),
                Some(_) => {}
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use cplds_runtime::time::parse_paris_local;

    use super::*;
    use crate::domain::programme::tests::standard;

    fn fields(r: Result<Schedule, Vec<FieldError>>) -> Vec<String> {
        let mut f: Vec<String> = r.unwrap_err().into_iter().map(|e| e.0).collect();
        f.sort();
        f
    }

    fn year() -> SchoolYear {
        SchoolYear::parse(2025, parse_paris_local("2025-10-01T10:00").unwrap()).unwrap()
    }

    fn code(c: &str) -> ModuleCode {
        ModuleCode::parse(c).unwrap()
    }

    #[test]
    fn the_balance_warns_below_the_target_and_refuses_nothing() {
        let mut b = Balance::default();
        assert_eq!(b.presence_percent(), 0);
        assert!(b.warnings(Some(33)).is_empty(), "no session yet");
        b.add(SessionKind::Seminar, 20 * 60);
        b.add(SessionKind::Synchronous, 40 * 60);
        b.add(SessionKind::Asynchronous, 40 * 60);
        assert_eq!(b.presence_percent(), 20);
        let w = b.warnings(Some(33));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("20 %") && w[0].contains("33 %"), "{w:?}");
        assert!(b.warnings(None).is_empty(), "no target, no warning");
        // A third exactly is enough.
        b.add(SessionKind::Seminar, 20 * 60);
        b.add(SessionKind::Seminar, 10 * 60);
        assert_eq!((b.presence, b.total()), (50 * 60, 130 * 60));
        let third = Balance {
            presence: 10,
            synchronous: 10,
            asynchronous: 10,
        };
        assert!(third.warnings(Some(33)).is_empty());
        assert_eq!(third.warnings(Some(34)).len(), 1);
    }

    #[test]
    fn each_kind_covers_modules_of_its_mode() {
        assert_eq!(SessionKind::Seminar.mode(), ModuleMode::Presence);
        assert_eq!(
            SessionKind::Synchronous.mode(),
            ModuleMode::SynchronousDistance
        );
        assert_eq!(
            SessionKind::Asynchronous.mode(),
            ModuleMode::AsynchronousDistance
        );
    }

    #[test]
    fn a_seminar_lasts_at_most_a_week() {
        assert!(Schedule::seminar("2025-10-20", "2025-10-26").is_ok());
        assert_eq!(
            fields(Schedule::seminar("2025-10-20", "2025-10-27")),
            ["last_day"]
        );
        assert_eq!(
            fields(Schedule::seminar("2025-10-22", "2025-10-21")),
            ["last_day"]
        );
        assert_eq!(
            fields(Schedule::seminar("2025-13-01", "")),
            ["first_day", "last_day"]
        );
    }

    #[test]
    fn a_synchronous_session_has_a_start_and_no_days() {
        let s = Schedule::distance(SessionKind::Synchronous, "2025-11-18T14:00", "", "").unwrap();
        assert_eq!(s.first_day, s.last_day);
        assert!(s.start.is_some());
        assert_eq!(
            fields(Schedule::distance(
                SessionKind::Synchronous,
                "",
                "2025-11-01",
                ""
            )),
            ["opens_on", "starts_at_local"]
        );
        // No such local time: the clocks go forward.
        assert_eq!(
            fields(Schedule::distance(
                SessionKind::Synchronous,
                "2026-03-29T02:30",
                "",
                ""
            )),
            ["starts_at_local"]
        );
    }

    #[test]
    fn an_asynchronous_session_opens_then_closes() {
        let s =
            Schedule::distance(SessionKind::Asynchronous, "", "2025-12-01", "2026-01-01").unwrap();
        assert_eq!(s.start, None);
        assert_eq!(
            fields(Schedule::distance(
                SessionKind::Asynchronous,
                "2025-11-18T14:00",
                "",
                "2025-12-01"
            )),
            ["opens_on", "starts_at_local"]
        );
        assert_eq!(
            fields(Schedule::distance(
                SessionKind::Asynchronous,
                "",
                "2025-12-01",
                "2025-11-01"
            )),
            ["closes_on"]
        );
    }

    #[test]
    fn days_fall_in_the_school_year() {
        let p = standard();
        let s = Schedule::seminar("2025-08-28", "2025-08-29").unwrap();
        let f: Vec<String> = s.check(year(), &p, &[]).into_iter().map(|e| e.0).collect();
        assert_eq!(f, ["first_day", "last_day"]);
        // A synchronous session's one day is named once.
        let s = Schedule::distance(SessionKind::Synchronous, "2026-09-02T10:00", "", "").unwrap();
        let e = s.check(year(), &p, &[]);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "starts_at_local");
        assert!(e[0].1.contains("2025-09-01 to 2026-08-31"), "{e:?}");
    }

    #[test]
    fn modules_are_of_the_programme_of_the_mode_not_practical_within_their_hours() {
        let p = standard();
        let s = Schedule::seminar("2025-10-20", "2025-10-21").unwrap();
        let e = s.check(
            year(),
            &p,
            &[
                (code("P1"), 360),
                (code("T3"), 360),
                (code("T1"), 21 * 60),
                (code("Z9"), 60),
                (code("T2"), 360),
            ],
        );
        let f: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            f,
            [
                "modules[0].module_code",
                "modules[1].module_code",
                "modules[2].minutes",
                "modules[3].module_code"
            ]
        );
        assert!(e[0].1.contains("practical"), "{e:?}");
        assert!(
            e[1].1.contains("a seminar session covers presence modules"),
            "{e:?}"
        );
        assert!(e[2].1.contains("20 h in all"), "{e:?}");
        assert!(e[3].1.contains("programme version 1"), "{e:?}");
    }
}
