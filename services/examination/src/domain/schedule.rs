//! The timing of the two épreuves and the rule that nobody is booked twice at once.
//!
//! Épreuve 1: a 30-minute training session with several young people, then a 15-minute exchange
//! with the board: candidate and board are busy for 45 minutes. Épreuve 2: 60 minutes of
//! preparation alone, then a presentation of at most 15 minutes and a 15-minute exchange: the
//! candidate is busy 90 minutes, the board only the last 30 (it may hear another candidate while
//! this one prepares). The durations are those of the arrêté; the schedule reserves the maximum.

use chrono::{DateTime, Duration, Utc};
use cplds_runtime::{
    kit::{RuleViolation, refuse},
    time::{paris_date, parse_paris_local},
};

use super::{keys, session::Period};

cplds_runtime::text_enum!(ExamPart {
    TrainingSession => "part_1_training_session",
    CaseStudy => "part_2_case_study",
});

impl ExamPart {
    pub fn number(self) -> u8 {
        match self {
            ExamPart::TrainingSession => 1,
            ExamPart::CaseStudy => 2,
        }
    }

    /// French title for documents.
    pub fn label(self) -> &'static str {
        match self {
            ExamPart::TrainingSession => "Épreuve 1 — séance de formation",
            ExamPart::CaseStudy => "Épreuve 2 — étude de cas",
        }
    }

    /// The timed steps of the épreuve: (name, minutes, with the board).
    pub fn phases(self) -> &'static [(&'static str, i64, bool)] {
        match self {
            ExamPart::TrainingSession => &[("training_session", 30, true), ("exchange", 15, true)],
            ExamPart::CaseStudy => &[
                ("preparation", 60, false),
                ("presentation", 15, true),
                ("exchange", 15, true),
            ],
        }
    }
}

pub fn phase_label(name: &str) -> &'static str {
    match name {
        "training_session" => "séance de formation avec plusieurs jeunes (30 min)",
        "exchange" => "entretien avec la commission (15 min)",
        "preparation" => "préparation de l'étude de cas (60 min)",
        "presentation" => "exposé : diagnostic et propositions (15 min au plus)",
        _ => "étape",
    }
}

/// A half-open interval of time [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub name: &'static str,
    pub interval: Interval,
    pub with_board: bool,
}

/// An épreuve placed in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub part: ExamPart,
    /// When the candidate is expected until they are free again.
    pub candidate: Interval,
    /// When the board sits with the candidate.
    pub board: Interval,
    pub phases: Vec<Phase>,
}

pub fn timing(part: ExamPart, start: DateTime<Utc>) -> Timing {
    // The board joins after the phases the candidate spends alone.
    let alone: i64 = part.phases().iter().take_while(|p| !p.2).map(|p| p.1).sum();
    let mut at = start;
    let mut phases = Vec::new();
    for &(name, minutes, with_board) in part.phases() {
        let end = at + Duration::minutes(minutes);
        phases.push(Phase {
            name,
            interval: Interval { start: at, end },
            with_board,
        });
        at = end;
    }
    Timing {
        part,
        candidate: Interval { start, end: at },
        board: Interval {
            start: start + Duration::minutes(alone),
            end: at,
        },
        phases,
    }
}

/// Parses the start (civil time in Europe/Paris) and places the épreuve within the session's
/// period, on one day.
pub fn place(part: ExamPart, starts_at_local: &str, period: &Period) -> Result<Timing, String> {
    let start = parse_paris_local(starts_at_local.trim())?;
    let t = timing(part, start);
    let (first, last) = (paris_date(t.candidate.start), paris_date(t.candidate.end));
    if first < period.starts_on || first > period.ends_on {
        return Err(format!(
            "{} is outside the session's period ({} to {})",
            first, period.starts_on, period.ends_on
        ));
    }
    if last != first {
        return Err("the épreuve must end on the day it starts".into());
    }
    Ok(t)
}

/// Another booking: someone's (candidate's or board's) interval and what it is, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub interval: Interval,
    pub what: String,
}

/// Refuses a timing that meets a booking of the candidate or of the board.
pub fn check_free(
    t: &Timing,
    candidate_bookings: &[Booking],
    board_bookings: &[Booking],
) -> Result<(), RuleViolation> {
    if let Some(b) = candidate_bookings
        .iter()
        .find(|b| b.interval.overlaps(&t.candidate))
    {
        return refuse(
            "CANDIDATE_DOUBLE_BOOKED",
            format!("the candidate is already expected then ({})", b.what),
        );
    }
    if let Some(b) = board_bookings
        .iter()
        .find(|b| b.interval.overlaps(&t.board))
    {
        return refuse(
            "BOARD_DOUBLE_BOOKED",
            format!("the board already sits then ({})", b.what),
        );
    }
    Ok(())
}

/// Marks are entered for an épreuve the candidate was scheduled to sit.
pub fn ensure_scheduled(scheduled: bool) -> Result<(), RuleViolation> {
    if scheduled {
        return Ok(());
    }
    refuse(
        "NOT_SCHEDULED",
        "the épreuve is not scheduled for this candidate",
    )
}

/// A mark records what the board saw: it is entered once the épreuve has begun (results dated
/// before the épreuves were accepted: issue 13 §3), an absence too.
pub fn ensure_begun(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), RuleViolation> {
    if now >= starts_at {
        return Ok(());
    }
    refuse(
        "EPREUVE_NOT_BEGUN",
        format!(
            "the épreuve begins on {} (Europe/Paris): its mark is entered once it has begun",
            cplds_runtime::time::format_paris_human(starts_at)
        ),
    )
}

/// True once every épreuve of the candidate is scheduled (`scheduled`: how many are).
pub fn is_complete(scheduled: usize) -> bool {
    scheduled >= ExamPart::ALL.len()
}

/// A convocation is issued for a complete schedule only.
pub fn ensure_complete(scheduled: usize) -> Result<(), RuleViolation> {
    if is_complete(scheduled) {
        return Ok(());
    }
    refuse(
        "SCHEDULE_INCOMPLETE",
        "both épreuves must be scheduled before the convocation is issued",
    )
}

/// A booked épreuve as a convocation shows it.
pub struct Shown<'a> {
    pub part: ExamPart,
    pub board_id: &'a str,
    pub starts_at: DateTime<Utc>,
    pub location: &'a str,
}

/// Hex SHA-256 of what a convocation shows (épreuve, board, start, place), whatever the order:
/// a convocation is issued again only when it changed.
pub fn fingerprint<'a>(slots: impl IntoIterator<Item = Shown<'a>>) -> String {
    let mut lines: Vec<String> = slots
        .into_iter()
        .map(|s| {
            format!(
                "{}|{}|{}|{}",
                s.part,
                s.board_id,
                s.starts_at.to_rfc3339(),
                s.location
            )
        })
        .collect();
    lines.sort();
    hex::encode(keys::sha256(lines.join("\n").as_bytes()))
}

/// A location: where the épreuve takes place, 1 to 200 characters.
pub fn parse_location(s: &str) -> Result<String, String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        return Err("is required: where the épreuve takes place".into());
    }
    if t.chars().count() > 200 {
        return Err("must be at most 200 characters".into());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::session::Period;

    fn at(s: &str) -> DateTime<Utc> {
        parse_paris_local(s).unwrap()
    }

    fn period() -> Period {
        Period::parse("2025-11-17", "2025-11-21", 2025).unwrap()
    }

    #[test]
    fn durations_are_those_of_the_rules() {
        let t = timing(ExamPart::TrainingSession, at("2025-11-17T09:00"));
        assert_eq!(t.candidate.end - t.candidate.start, Duration::minutes(45));
        assert_eq!(t.board, t.candidate);
        let t = timing(ExamPart::CaseStudy, at("2025-11-17T09:00"));
        assert_eq!(t.candidate.end - t.candidate.start, Duration::minutes(90));
        assert_eq!(t.board.start, at("2025-11-17T10:00"));
        assert_eq!(t.board.end - t.board.start, Duration::minutes(30));
        assert_eq!(
            t.phases.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["preparation", "presentation", "exchange"]
        );
    }

    #[test]
    fn placing_in_the_period() {
        assert!(place(ExamPart::CaseStudy, "2025-11-17T08:00", &period()).is_ok());
        assert!(
            place(ExamPart::CaseStudy, "2025-11-16T08:00", &period())
                .unwrap_err()
                .contains("outside")
        );
        assert!(place(ExamPart::CaseStudy, "2025-11-22T08:00", &period()).is_err());
        assert!(
            place(ExamPart::CaseStudy, "2025-11-21T23:00", &period())
                .unwrap_err()
                .contains("day it starts")
        );
        assert!(place(ExamPart::TrainingSession, "tomorrow", &period()).is_err());
    }

    #[test]
    fn the_board_may_hear_another_candidate_during_a_preparation() {
        let a = timing(ExamPart::CaseStudy, at("2025-11-17T09:00"));
        // B's épreuve 1 with the same board while A prepares (09:00-10:00): allowed.
        let b = timing(ExamPart::TrainingSession, at("2025-11-17T09:10"));
        let board = [Booking {
            interval: a.board,
            what: "A".into(),
        }];
        assert!(check_free(&b, &[], &board).is_ok());
        // At 09:30, B would still be with the board at 10:00: refused.
        let b = timing(ExamPart::TrainingSession, at("2025-11-17T09:30"));
        assert_eq!(
            check_free(&b, &[], &board).unwrap_err().rule,
            "BOARD_DOUBLE_BOOKED"
        );
        // The candidate cannot sit épreuve 1 while preparing épreuve 2.
        let mine = [Booking {
            interval: a.candidate,
            what: "épreuve 2".into(),
        }];
        assert_eq!(
            check_free(&b, &mine, &[]).unwrap_err().rule,
            "CANDIDATE_DOUBLE_BOOKED"
        );
        // Back to back is fine: intervals are half-open.
        let c = timing(ExamPart::TrainingSession, at("2025-11-17T10:30"));
        assert!(check_free(&c, &mine, &board).is_ok());
    }

    #[test]
    fn marks_need_a_scheduled_epreuve() {
        assert!(ensure_scheduled(true).is_ok());
        assert_eq!(ensure_scheduled(false).unwrap_err().rule, "NOT_SCHEDULED");
    }

    #[test]
    fn a_mark_waits_for_its_epreuve() {
        let start = at("2025-11-17T09:00");
        let e = ensure_begun(start, at("2025-11-17T08:59")).unwrap_err();
        assert_eq!(e.rule, "EPREUVE_NOT_BEGUN");
        assert!(e.message.contains("17/11/2025 à 09:00"), "{}", e.message);
        assert!(ensure_begun(start, start).is_ok());
        assert!(ensure_begun(start, at("2025-11-18T09:00")).is_ok());
    }

    #[test]
    fn convocations_need_both_epreuves() {
        assert!(!is_complete(1));
        assert!(ensure_complete(2).is_ok());
        assert_eq!(ensure_complete(1).unwrap_err().rule, "SCHEDULE_INCOMPLETE");
    }

    #[test]
    fn the_fingerprint_follows_what_is_shown_not_the_order() {
        let shown = |part, start: &str, location| Shown {
            part,
            board_id: "b",
            starts_at: at(start),
            location,
        };
        let a = [
            shown(ExamPart::TrainingSession, "2025-11-17T09:00", "salle 1"),
            shown(ExamPart::CaseStudy, "2025-11-18T09:00", "salle 2"),
        ];
        let [x, y] = a;
        let f = fingerprint([
            shown(ExamPart::TrainingSession, "2025-11-17T09:00", "salle 1"),
            shown(ExamPart::CaseStudy, "2025-11-18T09:00", "salle 2"),
        ]);
        assert_eq!(f, fingerprint([y, x]));
        assert_eq!(f.len(), 64);
        let moved = fingerprint([
            shown(ExamPart::TrainingSession, "2025-11-17T09:00", "salle 1"),
            shown(ExamPart::CaseStudy, "2025-11-18T14:00", "salle 2"),
        ]);
        assert_ne!(f, moved);
    }

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("  Lycée  Déodat de Séverac, salle 12 ").unwrap(),
            "Lycée Déodat de Séverac, salle 12"
        );
        assert!(parse_location(" ").is_err());
        assert!(parse_location(&"x".repeat(201)).is_err());
    }

    proptest! {
        /// Overlap is symmetric, and two bookings of the same person never both pass.
        #[test]
        fn overlap_is_symmetric(a in 0i64..600, la in 1i64..120, b in 0i64..600, lb in 1i64..120) {
            let base = at("2025-11-17T08:00");
            let x = Interval { start: base + Duration::minutes(a), end: base + Duration::minutes(a + la) };
            let y = Interval { start: base + Duration::minutes(b), end: base + Duration::minutes(b + lb) };
            prop_assert_eq!(x.overlaps(&y), y.overlaps(&x));
            let disjoint = a + la <= b || b + lb <= a;
            prop_assert_eq!(x.overlaps(&y), !disjoint);
        }

        /// Any start inside the period gives the fixed durations.
        #[test]
        fn timings_keep_their_durations(minutes in 0i64..(12 * 60), day in 0i64..5, part in 0u8..2) {
            let part = if part == 0 { ExamPart::TrainingSession } else { ExamPart::CaseStudy };
            let start = at("2025-11-17T07:00") + Duration::days(day) + Duration::minutes(minutes);
            let t = timing(part, start);
            let total: i64 = part.phases().iter().map(|p| p.1).sum();
            prop_assert_eq!(t.candidate.end - t.candidate.start, Duration::minutes(total));
            prop_assert!(t.board.start >= t.candidate.start && t.board.end == t.candidate.end);
            prop_assert_eq!(t.board.end - t.board.start, Duration::minutes(if part == ExamPart::CaseStudy { 30 } else { 45 }));
        }
    }
}
