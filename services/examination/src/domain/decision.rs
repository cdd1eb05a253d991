//! The decision of the deliberation (arrêté of 5 May 2017): each épreuve is marked /20; a mark of
//! 5/20 or less in either is eliminatory; the certificate needs a total of at least 20/40; a
//! candidate absent from an épreuve, or who withdrew, is not admitted.

use super::mark::{HalfPoints, PartResult};

cplds_runtime::text_enum!(Outcome { Admitted => "ADMITTED", NotAdmitted => "NOT_ADMITTED" });
cplds_runtime::text_enum!(
    /// Why a candidate is not admitted, in the order the rules are applied.
    Reason {
        Withdrawn => "WITHDRAWN",
        Absent => "ABSENT",
        EliminatoryMark => "ELIMINATORY_MARK",
        TotalBelow20 => "TOTAL_BELOW_20",
    }
);

/// A mark at or below this (5/20, in half points) is eliminatory.
pub const ELIMINATORY_AT_MOST: u32 = 10;
/// The total needed over both épreuves (20/40, in half points).
pub const TOTAL_AT_LEAST: u32 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub part_1: Option<PartResult>,
    pub part_2: Option<PartResult>,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
}

impl Decision {
    /// The total /40 in half points, when both épreuves have a mark.
    pub fn total(&self) -> Option<u32> {
        match (self.part_1?, self.part_2?) {
            (PartResult::Mark(a), PartResult::Mark(b)) => Some(a.half_points() + b.half_points()),
            _ => None,
        }
    }
}

pub fn is_eliminatory(m: HalfPoints) -> bool {
    m.half_points() <= ELIMINATORY_AT_MOST
}

/// What the deliberation decides for a candidate. A candidate who did not withdraw must have a
/// result for both épreuves (the service refuses to deliberate otherwise); a withdrawn one may
/// have none.
pub fn decide(withdrawn: bool, part_1: PartResult, part_2: PartResult) -> Decision {
    decide_with(withdrawn, Some(part_1), Some(part_2))
}

/// [`decide`] where a withdrawn candidate may lack results. A missing result of a candidate who
/// did not withdraw counts as an absence.
pub fn decide_with(
    withdrawn: bool,
    part_1: Option<PartResult>,
    part_2: Option<PartResult>,
) -> Decision {
    let not_admitted = |reason| Decision {
        part_1,
        part_2,
        outcome: Outcome::NotAdmitted,
        reason: Some(reason),
    };
    if withdrawn {
        return not_admitted(Reason::Withdrawn);
    }
    let (a, b) = match (
        part_1.and_then(PartResult::mark),
        part_2.and_then(PartResult::mark),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => return not_admitted(Reason::Absent),
    };
    if is_eliminatory(a) || is_eliminatory(b) {
        return not_admitted(Reason::EliminatoryMark);
    }
    if a.half_points() + b.half_points() < TOTAL_AT_LEAST {
        return not_admitted(Reason::TotalBelow20);
    }
    Decision {
        part_1,
        part_2,
        outcome: Outcome::Admitted,
        reason: None,
    }
}

/// French wording for documents.
pub fn reason_label(r: Reason) -> &'static str {
    match r {
        Reason::Withdrawn => "démissionnaire",
        Reason::Absent => "absence à une épreuve",
        Reason::EliminatoryMark => "note éliminatoire (5/20 ou moins)",
        Reason::TotalBelow20 => "total inférieur à 20/40",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn m(s: &str) -> PartResult {
        PartResult::Mark(HalfPoints::parse(s).unwrap())
    }

    #[test]
    fn boundaries() {
        // 5 is eliminatory, 5.5 is not.
        let d = decide(false, m("5"), m("18"));
        assert_eq!(d.reason, Some(Reason::EliminatoryMark));
        assert_eq!(d.total(), Some(46));
        let d = decide(false, m("5.5"), m("14.5"));
        assert_eq!(d.outcome, Outcome::Admitted, "5.5 + 14.5 = 20 exactly");
        let d = decide(false, m("5.5"), m("14"));
        assert_eq!(d.reason, Some(Reason::TotalBelow20), "19.5/40");
        let d = decide(false, m("10"), m("10"));
        assert_eq!(d.outcome, Outcome::Admitted);
        let d = decide(false, m("20"), m("5"));
        assert_eq!(
            d.reason,
            Some(Reason::EliminatoryMark),
            "25/40 with an eliminatory mark"
        );
        let d = decide(false, m("0"), m("0"));
        assert_eq!(d.reason, Some(Reason::EliminatoryMark));
    }

    #[test]
    fn absences_and_withdrawals() {
        let d = decide(false, PartResult::Absent, m("20"));
        assert_eq!(
            (d.outcome, d.reason),
            (Outcome::NotAdmitted, Some(Reason::Absent))
        );
        assert_eq!(d.total(), None);
        let d = decide(false, m("3"), PartResult::Absent);
        assert_eq!(
            d.reason,
            Some(Reason::Absent),
            "absence comes before the eliminatory mark"
        );
        let d = decide(true, m("18"), m("18"));
        assert_eq!(d.reason, Some(Reason::Withdrawn));
        let d = decide_with(true, None, None);
        assert_eq!(d.reason, Some(Reason::Withdrawn));
        assert_eq!(
            decide_with(false, Some(m("12")), None).reason,
            Some(Reason::Absent)
        );
    }

    fn any_result() -> impl Strategy<Value = PartResult> {
        prop_oneof![
            1 => Just(PartResult::Absent),
            8 => (0u32..=40).prop_map(|h| PartResult::Mark(HalfPoints::new(h).unwrap())),
        ]
    }

    proptest! {
        /// For every pair of results the decision is exactly the rules of the arrêté.
        #[test]
        fn decision_matches_the_rules(withdrawn in any::<bool>(), a in any_result(), b in any_result()) {
            let d = decide(withdrawn, a, b);
            let admitted = !withdrawn
                && match (a, b) {
                    (PartResult::Mark(x), PartResult::Mark(y)) => {
                        x.half_points() > 10 && y.half_points() > 10 && x.half_points() + y.half_points() >= 40
                    }
                    _ => false,
                };
            prop_assert_eq!(d.outcome == Outcome::Admitted, admitted);
            prop_assert_eq!(d.reason.is_none(), admitted);
            match d.reason {
                Some(Reason::Withdrawn) => prop_assert!(withdrawn),
                Some(Reason::Absent) => prop_assert!(!withdrawn && (a.is_absent() || b.is_absent())),
                Some(Reason::EliminatoryMark) => {
                    prop_assert!(!withdrawn && !a.is_absent() && !b.is_absent());
                    prop_assert!(a.mark().unwrap().half_points() <= 10 || b.mark().unwrap().half_points() <= 10);
                }
                Some(Reason::TotalBelow20) => prop_assert!(d.total().unwrap() < 40),
                None => prop_assert!(d.total().unwrap() >= 40),
            }
            // The decision keeps the results it was made on.
            prop_assert_eq!((d.part_1, d.part_2), (Some(a), Some(b)));
        }

        /// Raising a mark never turns an admitted candidate into a failed one.
        #[test]
        fn monotonic(a in 0u32..=40, b in 0u32..=40, up in 0u32..=40) {
            let mark = |h| PartResult::Mark(HalfPoints::new(h).unwrap());
            let before = decide(false, mark(a), mark(b));
            let after = decide(false, mark(a.max(up)), mark(b));
            if before.outcome == Outcome::Admitted {
                prop_assert_eq!(after.outcome, Outcome::Admitted);
            }
        }
    }
}
