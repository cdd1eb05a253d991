//! When the deliberation may take place: every candidate who did not withdraw has sat every
//! épreuve — the last one is over (issue 13 §3: results dated before the épreuves were
//! accepted) —, sits before a board and has the mark of each épreuve settled (both entries
//! agree, or the president reconciled them). Then each is decided by the rules of
//! [`super::decision`] (arrêté of 5 May 2017).

use chrono::{DateTime, Utc};
use cplds_runtime::kit::{RuleViolation, refuse};

use super::{
    decision::{Decision, decide_with},
    double_entry::{MarkStatus, Sheet},
    schedule::ExamPart,
};

/// A candidate as the deliberation finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// "First Last", for the refusal's message.
    pub name: String,
    pub withdrawn: bool,
    pub assigned: bool,
    /// The sheets of épreuve 1 and épreuve 2.
    pub sheets: [Sheet; 2],
    /// When the candidate's last scheduled épreuve ends, if any is scheduled.
    pub epreuves_end: Option<DateTime<Utc>>,
}

/// The decision for each candidate, in their order, or why the deliberation cannot take place
/// yet: an épreuve not over, then a mismatch to reconcile, then a missing mark, then a
/// candidate without a board. A withdrawn candidate is decided whatever was entered before
/// they withdrew.
pub fn deliberate(
    candidates: &[Standing],
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, RuleViolation> {
    let (mut unassigned, mut incomplete, mut mismatched) = (Vec::new(), Vec::new(), Vec::new());
    let mut sitting = Vec::new();
    let mut last_end: Option<DateTime<Utc>> = None;
    let mut out = Vec::with_capacity(candidates.len());
    for c in candidates {
        let results = [c.sheets[0].agreed(), c.sheets[1].agreed()];
        if c.withdrawn {
            out.push(decide_with(true, results[0], results[1]));
            continue;
        }
        if let Some(end) = c.epreuves_end.filter(|end| *end > now) {
            sitting.push(c.name.clone());
            last_end = last_end.max(Some(end));
        }
        if !c.assigned {
            unassigned.push(c.name.clone());
            continue;
        }
        let mut complete = true;
        for (sheet, part) in c.sheets.iter().zip(ExamPart::ALL) {
            if sheet.agreed().is_none() {
                complete = false;
                let what = format!("{} (épreuve {})", c.name, part.number());
                match sheet.status() {
                    MarkStatus::Mismatch => mismatched.push(what),
                    _ => incomplete.push(what),
                }
            }
        }
        if complete {
            out.push(decide_with(false, results[0], results[1]));
        }
    }
    if let Some(end) = last_end {
        return refuse(
            "EPREUVES_NOT_OVER",
            format!(
                "the deliberation takes place after the last épreuve, which ends on {} (Europe/Paris); still to sit: {}",
                cplds_runtime::time::format_paris_human(end),
                list(&sitting)
            ),
        );
    }
    if !mismatched.is_empty() {
        return refuse(
            "UNRECONCILED_DOUBLE_ENTRY",
            format!(
                "the two entries differ and the board president must reconcile them first: {}",
                list(&mismatched)
            ),
        );
    }
    if !incomplete.is_empty() {
        return refuse(
            "MARKS_INCOMPLETE",
            format!(
                "marks are missing (each is entered by two members): {}",
                list(&incomplete)
            ),
        );
    }
    if !unassigned.is_empty() {
        return refuse(
            "CANDIDATES_UNASSIGNED",
            format!("candidates without a board: {}", list(&unassigned)),
        );
    }
    Ok(out)
}

/// The first names of a list, and how many more.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{
        decision::{Outcome, Reason},
        double_entry::Entry,
        mark::{HalfPoints, PartResult},
    };

    fn mark(h: u32) -> PartResult {
        PartResult::Mark(HalfPoints::new(h).unwrap())
    }

    fn sheet(values: &[PartResult], reconciled: Option<PartResult>) -> Sheet {
        Sheet {
            entries: values
                .iter()
                .enumerate()
                .map(|(i, v)| Entry {
                    entrant: format!("m{i}@x.fr"),
                    value: *v,
                })
                .collect(),
            reconciled,
        }
    }

    fn agreed(v: PartResult) -> Sheet {
        sheet(&[v, v], None)
    }

    fn standing(name: &str, withdrawn: bool, assigned: bool, sheets: [Sheet; 2]) -> Standing {
        Standing {
            name: name.into(),
            withdrawn,
            assigned,
            sheets,
            epreuves_end: Some(at("2025-11-18T11:30")),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        cplds_runtime::time::parse_paris_local(s).unwrap()
    }

    /// The day after the épreuves.
    fn after() -> DateTime<Utc> {
        at("2025-11-19T09:00")
    }

    #[test]
    fn every_candidate_is_decided_once_marks_are_settled() {
        let d = deliberate(
            &[
                standing("A", false, true, [agreed(mark(28)), agreed(mark(29))]),
                standing(
                    "B",
                    false,
                    true,
                    [
                        sheet(&[mark(20), mark(22)], Some(mark(22))),
                        agreed(PartResult::Absent),
                    ],
                ),
                standing("C", true, false, [Sheet::default(), Sheet::default()]),
            ],
            after(),
        )
        .unwrap();
        assert_eq!(d[0].outcome, Outcome::Admitted);
        assert_eq!(d[1].reason, Some(Reason::Absent));
        assert_eq!(d[1].part_1, Some(mark(22)), "the reconciled mark counts");
        assert_eq!(d[2].reason, Some(Reason::Withdrawn));
    }

    #[test]
    fn a_mismatch_is_reconciled_first() {
        let e = deliberate(
            &[
                standing(
                    "A",
                    false,
                    true,
                    [sheet(&[mark(20), mark(22)], None), Sheet::default()],
                ),
                standing("B", false, false, [Sheet::default(), Sheet::default()]),
            ],
            after(),
        )
        .unwrap_err();
        assert_eq!(e.rule, "UNRECONCILED_DOUBLE_ENTRY");
        assert!(e.message.contains("A (épreuve 1)"));
    }

    #[test]
    fn missing_marks_are_named() {
        let e = deliberate(
            &[standing(
                "A",
                false,
                true,
                [agreed(mark(28)), sheet(&[mark(20)], None)],
            )],
            after(),
        )
        .unwrap_err();
        assert_eq!(e.rule, "MARKS_INCOMPLETE");
        assert!(e.message.ends_with("A (épreuve 2)"));
    }

    #[test]
    fn every_candidate_sits_before_a_board() {
        let e = deliberate(
            &[standing(
                "A",
                false,
                false,
                [agreed(mark(28)), agreed(mark(28))],
            )],
            after(),
        )
        .unwrap_err();
        assert_eq!(e.rule, "CANDIDATES_UNASSIGNED");
        assert!(e.message.ends_with("A"));
    }

    /// Marks may all be in while a candidate has still an épreuve to sit (a slot moved later):
    /// the deliberation waits for its end; a withdrawn candidate's slots do not count.
    #[test]
    fn the_deliberation_waits_for_the_last_epreuve() {
        let done = [agreed(mark(28)), agreed(mark(28))];
        let mut late = standing("B", false, true, done.clone());
        late.epreuves_end = Some(at("2025-11-20T16:00"));
        let mut gone = standing("C", true, true, [Sheet::default(), Sheet::default()]);
        gone.epreuves_end = Some(at("2025-11-21T16:00"));
        let all = [standing("A", false, true, done.clone()), late, gone];
        let e = deliberate(&all, at("2025-11-20T15:59")).unwrap_err();
        assert_eq!(e.rule, "EPREUVES_NOT_OVER");
        assert!(
            e.message.contains("20/11/2025 à 16:00") && e.message.ends_with(": B"),
            "{}",
            e.message
        );
        assert_eq!(deliberate(&all, at("2025-11-20T16:00")).unwrap().len(), 3);
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..12).map(|i| format!("N{i}")).collect();
        assert_eq!(list(&names[..2]), "N0, N1");
        assert!(list(&names).ends_with("N9 and 2 more"));
    }

    proptest! {
        /// Whatever the marks, the deliberation either decides everyone or refuses, and it
        /// refuses exactly when a candidate still sitting lacks a settled mark or a board.
        #[test]
        fn decides_all_or_refuses(cases in prop::collection::vec((any::<bool>(), any::<bool>(), 0u32..=40, proptest::option::of(0u32..=40)), 0..6)) {
            let cands: Vec<Standing> = cases.iter().enumerate().map(|(i, (withdrawn, assigned, a, b))| {
                let second = b.map_or_else(|| sheet(&[mark(*a)], None), |b| sheet(&[mark(*a), mark(b)], None));
                standing(&format!("N{i}"), *withdrawn, *assigned, [agreed(mark(*a)), second])
            }).collect();
            let blocked = cands.iter().any(|c| !c.withdrawn && (!c.assigned || c.sheets.iter().any(|s| s.agreed().is_none())));
            match deliberate(&cands, after()) {
                Ok(d) => {
                    prop_assert!(!blocked);
                    prop_assert_eq!(d.len(), cands.len());
                }
                Err(_) => prop_assert!(blocked),
            }
        }
    }
}
