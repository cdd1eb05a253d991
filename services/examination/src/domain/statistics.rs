//! The exam half of the jury's session report: who sat, who was absent, admitted or not and why,
//! eliminatory marks per épreuve, lowest / highest / mean per épreuve and of the two-épreuve
//! average, and the distribution of marks.

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
    pub mean: f64,
    /// Index i counts marks in [i, i+1); index 20 counts the marks of 20.
    pub distribution: [i64; 21],
}

#[derive(Debug, Clone, PartialEq)]
pub struct AverageSummary {
    pub count: i64,
    /// Totals /40 in half points; the average /20 is the total / 4.
    pub lowest_total: Option<u32>,
    pub highest_total: Option<u32>,
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

/// "11.25": an average /20 from a total /40 in half points.
pub fn show_average(total_half_points: u32) -> String {
    let whole = total_half_points / 4;
    match total_half_points % 4 {
        0 => format!("{whole}"),
        1 => format!("{whole}.25"),
        2 => format!("{whole}.5"),
        _ => format!("{whole}.75"),
    }
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
        s.mean = sum as f64 / 2.0 / s.present as f64;
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
    let totals: Vec<u32> = staying.iter().filter_map(|d| d.total()).collect();
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
            count: totals.len() as i64,
            lowest_total: totals.iter().copied().min(),
            highest_total: totals.iter().copied().max(),
            mean: if totals.is_empty() {
                0.0
            } else {
                totals.iter().map(|&t| f64::from(t)).sum::<f64>() / 4.0 / totals.len() as f64
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
        assert!((s.part_1.mean - (12.0 + 5.0 + 9.5) / 3.0).abs() < 1e-9);
        assert_eq!(s.part_1.distribution[9], 1, "9.5 falls in [9, 10)");
        assert_eq!(s.part_2.present, 4);
        assert_eq!(s.part_2.distribution[18], 1);
        assert_eq!(s.average.count, 3);
        assert_eq!(show_average(s.average.lowest_total.unwrap()), "9.75");
        assert_eq!(show_average(s.average.highest_total.unwrap()), "13.5");
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
        assert_eq!(show_average(45), "11.25");
        assert_eq!(show_average(80), "20");
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
                prop_assert!(s.part_1.mean >= f64::from(l.half_points()) / 2.0 - 1e-9);
                prop_assert!(s.part_1.mean <= f64::from(h.half_points()) / 2.0 + 1e-9);
            }
        }
    }
}
