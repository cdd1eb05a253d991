//! Appeals against a result: filed by the candidate within the window after publication, one at
//! a time; upheld (marks revised, decision recomputed by the same rules) or dismissed.

use cplds_runtime::kit::{RuleViolation, refuse};

use super::{
    decision::{Decision, decide_with},
    mark::PartResult,
    schedule::ExamPart,
};

cplds_runtime::text_enum!(AppealStatus { Pending => "pending", Upheld => "upheld", Dismissed => "dismissed" });

pub fn can_file(pending: bool, withdrawn: bool) -> Result<(), RuleViolation> {
    if withdrawn {
        return refuse(
            "CANDIDATE_WITHDRAWN",
            "the candidate withdrew: there is no result to appeal against",
        );
    }
    if pending {
        return Err(already_pending());
    }
    Ok(())
}

/// One appeal at a time: what a second one meets.
pub fn already_pending() -> RuleViolation {
    RuleViolation::new(
        "APPEAL_PENDING",
        "an appeal of this candidate is already awaiting its decision",
    )
}

pub fn can_decide(status: AppealStatus) -> Result<(), RuleViolation> {
    match status {
        AppealStatus::Pending => Ok(()),
        s => refuse(
            "APPEAL_ALREADY_DECIDED",
            format!("the appeal was already decided ({s})"),
        ),
    }
}

/// The decision after an upheld appeal revised some marks, or why the revision is not one.
pub fn revise(
    before: &Decision,
    part_1: Option<PartResult>,
    part_2: Option<PartResult>,
) -> Result<Decision, String> {
    let p1 = part_1.or(before.part_1);
    let p2 = part_2.or(before.part_2);
    if p1 == before.part_1 && p2 == before.part_2 {
        return Err("an upheld appeal revises at least one mark".into());
    }
    Ok(decide_with(false, p1, p2))
}

/// A mark an upheld appeal changed: the épreuve, what it was, what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub part: ExamPart,
    pub was: Option<PartResult>,
    pub now: PartResult,
}

/// The marks that differ between the decision before an appeal and after it.
pub fn revisions(before: &Decision, after: &Decision) -> Vec<Revision> {
    [
        (ExamPart::TrainingSession, before.part_1, after.part_1),
        (ExamPart::CaseStudy, before.part_2, after.part_2),
    ]
    .into_iter()
    .filter_map(|(part, was, now)| {
        now.filter(|v| Some(*v) != was)
            .map(|now| Revision { part, was, now })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        decision::{Outcome, Reason, decide},
        mark::HalfPoints,
    };

    fn m(h: u32) -> PartResult {
        PartResult::Mark(HalfPoints::new(h).unwrap())
    }

    #[test]
    fn upheld_appeal_recomputes_the_decision() {
        let before = decide(false, m(10), m(30));
        assert_eq!(before.reason, Some(Reason::EliminatoryMark));
        let after = revise(&before, Some(m(12)), None).unwrap();
        assert_eq!(after.outcome, Outcome::Admitted);
        assert_eq!(after.part_2, Some(m(30)));
        assert!(revise(&before, Some(m(10)), None).is_err());
        assert!(revise(&before, None, None).is_err());
        assert_eq!(
            revisions(&before, &after),
            [Revision {
                part: ExamPart::TrainingSession,
                was: Some(m(10)),
                now: m(12)
            }]
        );
        assert!(revisions(&before, &before).is_empty());
    }

    #[test]
    fn filing_and_deciding() {
        assert!(can_file(false, false).is_ok());
        assert_eq!(can_file(true, false).unwrap_err().rule, "APPEAL_PENDING");
        assert_eq!(
            can_file(false, true).unwrap_err().rule,
            "CANDIDATE_WITHDRAWN"
        );
        assert!(can_decide(AppealStatus::Pending).is_ok());
        assert_eq!(
            can_decide(AppealStatus::Upheld).unwrap_err().rule,
            "APPEAL_ALREADY_DECIDED"
        );
    }
}
