//! The exam half of the jury's session report: who sat, who was absent, admitted or not and why,
//! eliminatory marks per épreuve, lowest / highest / mean per épreuve and of the two-épreuve
//! average, and the distribution of marks.
//!
//! **Averages and rounding, one rule for every report** (the académie's and the national one):
//! - a candidate's two-épreuve average is half their total /40 and is **never rounded**: marks
//!   are given in half points, so the average is exact in quarter points ([`Average`],
//!   "11.25"). The arrêté of 5 May 2017 decides on the total (at least 20/40, "an average of
//!   10" in `/work/shared/domain/README.md`); the report shows the lowest, highest and mean "of
//!   the two-épreuve average" — the same number the jury decided on. Rounding it down to the
//!   half point would show a candidate with 9.75 as 9.5 and a mean that is no candidate's.
//! - means over candidates (per épreuve, of the averages) are shown rounded to the hundredth,
//!   half away from zero ([`round_mean`]), once, where the figure is made.

use std::fmt;

use super::{
    decision::{Decision, Outcome, Reason, is_eliminatory},
    mark::{HalfPoints, PartResult},
};

#[derive(Debug, Clone, PartialEq)]
pub struct MarkSummary {
    pub present: i64,
    pub absent: i64,
    pub eliminatory: i64,
    pub lowest: Option<HalfPoints>,
    pub highest: Option<HalfPoints>,
    /// Rounded to the hundredth ([`round_mean`]).
    pub mean: f64,
    /// Index i counts marks in [i, i+1); index 20 counts the marks of 20.
    pub distribution: [i64; 21],
}

#[derive(Debug, Clone, PartialEq)]
pub struct AverageSummary {
    pub count: i64,
    pub lowest: Option<Average>,
    pub highest: Option<Average>,
    /// The mean of the averages, rounded to the hundredth ([`round_mean`]).
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub candidates: i64,
    pub withdrawn: i64,
    pub sat: i64,
    pub absent: i64,
    pub admitted: i64,
    pub not_admitted: i64,
    pub not_admitted_percent: f64,
    pub part_1: MarkSummary,
    pub part_2: MarkSummary,
    pub average: AverageSummary,
    pub not_admitted_by_reason: Vec<(Reason, i64)>,
}

/// A candidate's two-épreuve average /20, exact: the total /40 in half points is the average in
/// quarter points (a total of 41 half points, 20.5/40, is an average of 10.25/20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Average(u32);

impl Average {
    /// The average of two marks, unrounded.
    pub fn of(a: HalfPoints, b: HalfPoints) -> Self {
        Self(a.half_points() + b.half_points())
    }

    /// The average of a total /40 given in half points.
    pub fn of_total(total_half_points: u32) -> Self {
        Self(total_half_points)
    }

    /// The average in quarter points (0..=80): 41 is 10.25/20.
    pub fn quarter_points(self) -> u32 {
        self.0
    }

    pub fn value(self) -> f64 {
        f64::from(self.0) / 4.0
    }
}

/// "11.25", "10.5", "9.75", "20".
impl fmt::Display for Average {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 4;
        match self.0 % 4 {
            0 => write!(f, "{whole}"),
            1 => write!(f, "{whole}.25"),
            2 => write!(f, "{whole}.5"),
            _ => write!(f, "{whole}.75"),
        }
    }
}

/// A mean as the report shows it: to the hundredth, half away from zero.
pub fn round_mean(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn summarize(results: impl Iterator<Item = Option<PartResult>>) -> MarkSummary {
    let mut s = MarkSummary {
        present: 0,
        absent: 0,
        eliminatory: 0,
        lowest: None,
        highest: None,
        mean: 0.0,
        distribution: [0; 21],
    };
    let mut sum = 0u64;
    for r in results {
        match r {
            Some(PartResult::Mark(m)) => {
                s.present += 1;
                sum += u64::from(m.half_points());
                if is_eliminatory(m) {
                    s.eliminatory += 1;
                }
                s.lowest = Some(s.lowest.map_or(m, |l| l.min(m)));
                s.highest = Some(s.highest.map_or(m, |h| h.max(m)));
                s.distribution[(m.half_points() / 2) as usize] += 1;
            }
            // A missing result of a candidate who did not withdraw is an absence.
            Some(PartResult::Absent) | None => s.absent += 1,
        }
    }
    if s.present > 0 {
        s.mean = round_mean(sum as f64 / 2.0 / s.present as f64);
    }
    s
}

pub fn compute(decisions: &[Decision]) -> Statistics {
    let candidates = decisions.len() as i64;
    let withdrawn: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.reason == Some(Reason::Withdrawn))
        .collect();
    let staying: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.reason != Some(Reason::Withdrawn))
        .collect();
    let averages: Vec<Average> = staying
        .iter()
        .filter_map(|d| d.total())
        .map(Average::of_total)
        .collect();
    let admitted = staying
        .iter()
        .filter(|d| d.outcome == Outcome::Admitted)
        .count() as i64;
    let not_admitted = staying.len() as i64 - admitted;
    let absent = staying
        .iter()
        .filter(|d| {
            !matches!(d.part_1, Some(PartResult::Mark(_)))
                || !matches!(d.part_2, Some(PartResult::Mark(_)))
        })
        .count() as i64;
    let not_admitted_by_reason = [
        Reason::Absent,
        Reason::EliminatoryMark,
        Reason::TotalBelow20,
    ]
    .into_iter()
    .map(|r| {
        (
            r,
            staying.iter().filter(|d| d.reason == Some(r)).count() as i64,
        )
    })
    .chain(std::iter::once((Reason::Withdrawn, withdrawn.len() as i64)))
    .collect();
    Statistics {
        candidates,
        withdrawn: withdrawn.len() as i64,
        sat: staying.len() as i64 - absent,
        absent,
        admitted,
        not_admitted,
        not_admitted_percent: if staying.is_empty() {
            0.0
        } else {
            not_admitted as f64 * 100.0 / staying.len() as f64
        },
        part_1: summarize(staying.iter().map(|d| d.part_1)),
        part_2: summarize(staying.iter().map(|d| d.part_2)),
        average: AverageSummary {
            count: averages.len() as i64,
            lowest: averages.iter().copied().min(),
            highest: averages.iter().copied().max(),
            mean: if averages.is_empty() {
                0.0
            } else {
                round_mean(averages.iter().map(|a| a.value()).sum::<f64>() / averages.len() as f64)
            },
        },
        not_admitted_by_reason,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::decision::{decide, decide_with};

    fn m(h: u32) -> PartResult {
        PartResult::Mark(HalfPoints::new(h).unwrap())
    }

    #[test]
    fn a_small_session() {
        let ds = [
            decide(false, m(24), m(30)),              // 12 + 15: admitted
            decide(false, m(10), m(36)),              // 5: eliminatory in épreuve 1
            decide(false, PartResult::Absent, m(20)), // absent
            decide(false, m(19), m(20)),              // 9.5 + 10 = 19.5: below 20
            decide_with(true, None, None),            // withdrawn
        ];
        let s = compute(&ds);
        assert_eq!(s.candidates, 5);
        assert_eq!(s.withdrawn, 1);
        assert_eq!(s.sat, 3);
        assert_eq!(s.absent, 1);
        assert_eq!(s.admitted, 1);
        assert_eq!(s.not_admitted, 3);
        assert!((s.not_admitted_percent - 75.0).abs() < 1e-9);
        assert_eq!(s.part_1.present, 3);
        assert_eq!(s.part_1.absent, 1);
        assert_eq!(s.part_1.eliminatory, 1);
        assert_eq!(s.part_1.lowest.unwrap().to_string(), "5");
        assert_eq!(s.part_1.highest.unwrap().to_string(), "12");
        assert_eq!(s.part_1.mean, 8.83, "(12 + 5 + 9.5) / 3, to the hundredth");
        assert_eq!(s.part_1.distribution[9], 1, "9.5 falls in [9, 10)");
        assert_eq!(s.part_2.present, 4);
        assert_eq!(s.part_2.distribution[18], 1);
        assert_eq!(s.average.count, 3);
        assert_eq!(s.average.lowest.unwrap().to_string(), "9.75");
        assert_eq!(s.average.highest.unwrap().to_string(), "13.5");
        assert_eq!(
            s.not_admitted_by_reason,
            vec![
                (Reason::Absent, 1),
                (Reason::EliminatoryMark, 1),
                (Reason::TotalBelow20, 1),
                (Reason::Withdrawn, 1)
            ]
        );
    }

    #[test]
    fn empty_session() {
        let s = compute(&[]);
        assert_eq!(s.candidates, 0);
        assert_eq!(s.part_1.lowest, None);
        assert_eq!(s.not_admitted_percent, 0.0);
        assert_eq!(Average::of_total(45).to_string(), "11.25");
        assert_eq!(Average::of_total(80).to_string(), "20");
    }

    /// A candidate's average is never rounded (9.75 stays 9.75, not 9.5); means are rounded to
    /// the hundredth, half away from zero.
    #[test]
    fn averages_are_exact_and_means_rounded_to_the_hundredth() {
        let mark = |s: &str| HalfPoints::parse(s).unwrap();
        assert_eq!(Average::of(mark("9.5"), mark("10")).to_string(), "9.75");
        assert_eq!(Average::of(mark("10"), mark("10.5")).quarter_points(), 41);
        let ds = [
            decide(false, m(20), m(21)), // 10.25
            decide(false, m(20), m(22)), // 10.5
            decide(false, m(21), m(21)), // 10.5
            decide(false, m(19), m(20)), // 9.75
        ];
        let s = compute(&ds);
        assert_eq!(s.average.lowest.unwrap().to_string(), "9.75");
        assert_eq!(s.average.highest.unwrap().to_string(), "10.5");
        assert_eq!(s.average.mean, 10.25);
        let s = compute(&ds[..3]);
        assert_eq!(
            s.average.mean, 10.42,
            "(10.25 + 10.5 + 10.5) / 3 = 10.41666…"
        );
        assert_eq!(round_mean(10.125), 10.13);
        assert_eq!(round_mean(8.8333), 8.83);
    }

    fn any_result() -> impl Strategy<Value = PartResult> {
        prop_oneof![1 => Just(PartResult::Absent), 6 => (0u32..=40).prop_map(m)]
    }

    proptest! {
        /// The counts always add up, and every mark lands in one bucket.
        #[test]
        fn counts_add_up(rows in prop::collection::vec((any::<bool>(), any_result(), any_result()), 0..40)) {
            let ds: Vec<Decision> = rows.iter().map(|&(w, a, b)| decide(w, a, b)).collect();
            let s = compute(&ds);
            prop_assert_eq!(s.candidates, s.withdrawn + s.admitted + s.not_admitted);
            prop_assert_eq!(s.candidates - s.withdrawn, s.sat + s.absent);
            prop_assert_eq!(s.part_1.present + s.part_1.absent, s.candidates - s.withdrawn);
            prop_assert_eq!(s.part_1.distribution.iter().sum::<i64>(), s.part_1.present);
            prop_assert_eq!(s.part_2.distribution.iter().sum::<i64>(), s.part_2.present);
            prop_assert_eq!(s.average.count, s.sat);
            prop_assert!(s.admitted <= s.sat);
            let by_reason: i64 = s.not_admitted_by_reason.iter().map(|r| r.1).sum();
            prop_assert_eq!(by_reason, s.not_admitted + s.withdrawn);
            if let (Some(l), Some(h)) = (s.part_1.lowest, s.part_1.highest) {
                prop_assert!(l <= h);
                prop_assert!(s.part_1.mean >= f64::from(l.half_points()) / 2.0 - 0.005);
                prop_assert!(s.part_1.mean <= f64::from(h.half_points()) / 2.0 + 0.005);
            }
            if let (Some(l), Some(h)) = (s.average.lowest, s.average.highest) {
                prop_assert!(s.average.mean >= l.value() - 0.005 && s.average.mean <= h.value() + 0.005);
                // The mean is shown to the hundredth.
                prop_assert!((s.average.mean * 100.0 - (s.average.mean * 100.0).round()).abs() < 1e-6);
            }
        }
    }
}
