//! The life of a candidacy: submitted → validated | rejected; submitted or validated → withdrawn.
//! Withdrawal is recorded, never deleted. Once the recteur has published the admitted list, the
//! decisions are frozen; only withdrawals remain possible, until results.

use super::{documents::DocumentKind, text_enum};

text_enum!(CandidacyStatus { Submitted => "submitted", Validated => "validated", Rejected => "rejected", Withdrawn => "withdrawn" });
text_enum!(RejectionReason { Ineligible => "ineligible", Incomplete => "incomplete", Inadmissible => "inadmissible", Other => "other" });

/// A rule of the procedure that forbids an act now (FAILED_PRECONDITION on the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleViolation {
    pub rule: &'static str,
    pub message: String,
}

fn refuse(rule: &'static str, message: impl Into<String>) -> Result<(), RuleViolation> {
    Err(RuleViolation {
        rule,
        message: message.into(),
    })
}

/// A rejection as the exam office states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectionReason,
    pub text: Option<String>,
}

impl Rejection {
    /// `OTHER` needs a text saying why; any text is at most 500 characters.
    pub fn parse(
        reason: Option<RejectionReason>,
        text: &str,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let text = text.trim();
        if text.chars().count() > 500 {
            errors.push(("reason_text", "must be at most 500 characters".to_owned()));
        }
        match reason {
            None => errors.push((
                "reason",
                "is required: INELIGIBLE, INCOMPLETE, INADMISSIBLE or OTHER".to_owned(),
            )),
            Some(RejectionReason::Other) if text.is_empty() => errors.push((
                "reason_text",
                "is required when the reason is OTHER".to_owned(),
            )),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Rejection {
            reason: reason.expect("checked"),
            text: (!text.is_empty()).then(|| text.to_owned()),
        })
    }
}

/// What the rules need to know about a candidacy and its campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub status: CandidacyStatus,
    pub eligible: bool,
    pub missing_documents: Vec<DocumentKind>,
    pub list_published: bool,
    pub results_published: bool,
}

fn frozen(f: &Facts) -> Result<(), RuleViolation> {
    if f.list_published {
        return refuse(
            "ADMITTED_LIST_PUBLISHED",
            "the admitted list is published: decisions are frozen",
        );
    }
    Ok(())
}

pub fn can_validate(f: &Facts) -> Result<(), RuleViolation> {
    frozen(f)?;
    match f.status {
        CandidacyStatus::Submitted => {}
        CandidacyStatus::Validated => {
            return refuse("ALREADY_VALIDATED", "the candidacy is already validated");
        }
        s => {
            return refuse(
                "NOT_PENDING",
                format!("a {s} candidacy cannot be validated"),
            );
        }
    }
    if !f.eligible {
        return refuse(
            "INELIGIBLE",
            "the candidate is not eligible: reject the candidacy with reason INELIGIBLE",
        );
    }
    if !f.missing_documents.is_empty() {
        let names: Vec<_> = f.missing_documents.iter().map(|d| d.label()).collect();
        return refuse(
            "MISSING_DOCUMENTS",
            format!("supporting documents missing: {}", names.join(", ")),
        );
    }
    Ok(())
}

/// A validated candidacy may still be rejected (an error found later) until the list is out.
pub fn can_reject(f: &Facts) -> Result<(), RuleViolation> {
    frozen(f)?;
    match f.status {
        CandidacyStatus::Submitted | CandidacyStatus::Validated => Ok(()),
        s => refuse("NOT_PENDING", format!("a {s} candidacy cannot be rejected")),
    }
}

pub fn can_withdraw(f: &Facts) -> Result<(), RuleViolation> {
    if f.results_published {
        return refuse(
            "RESULTS_PUBLISHED",
            "results are published: it is too late to withdraw",
        );
    }
    match f.status {
        CandidacyStatus::Submitted | CandidacyStatus::Validated => Ok(()),
        CandidacyStatus::Withdrawn => {
            refuse("ALREADY_WITHDRAWN", "the candidate has already withdrawn")
        }
        CandidacyStatus::Rejected => {
            refuse("NOT_PENDING", "a rejected candidacy cannot be withdrawn")
        }
    }
}

/// Documents are added while the candidacy awaits its decision.
pub fn can_add_document(f: &Facts) -> Result<(), RuleViolation> {
    frozen(f)?;
    match f.status {
        CandidacyStatus::Submitted => Ok(()),
        s => refuse(
            "NOT_PENDING",
            format!("documents cannot be added to a {s} candidacy"),
        ),
    }
}

/// The status after an act that the rules allowed.
pub enum Act {
    Validate,
    Reject,
    Withdraw,
}

pub fn next(f: &Facts, act: &Act) -> Result<CandidacyStatus, RuleViolation> {
    match act {
        Act::Validate => can_validate(f).map(|()| CandidacyStatus::Validated),
        Act::Reject => can_reject(f).map(|()| CandidacyStatus::Rejected),
        Act::Withdraw => can_withdraw(f).map(|()| CandidacyStatus::Withdrawn),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn facts(status: CandidacyStatus) -> Facts {
        Facts {
            status,
            eligible: true,
            missing_documents: vec![],
            list_published: false,
            results_published: false,
        }
    }

    #[test]
    fn validation_needs_eligibility_and_documents() {
        assert!(can_validate(&facts(CandidacyStatus::Submitted)).is_ok());
        let mut f = facts(CandidacyStatus::Submitted);
        f.eligible = false;
        assert_eq!(can_validate(&f).unwrap_err().rule, "INELIGIBLE");
        let mut f = facts(CandidacyStatus::Submitted);
        f.missing_documents = vec![DocumentKind::Identity];
        let e = can_validate(&f).unwrap_err();
        assert_eq!(e.rule, "MISSING_DOCUMENTS");
        assert!(e.message.contains("identity"));
    }

    #[test]
    fn rejection_reasons() {
        assert!(Rejection::parse(Some(RejectionReason::Other), " ").is_err());
        assert_eq!(Rejection::parse(None, "").unwrap_err()[0].0, "reason");
        let r = Rejection::parse(
            Some(RejectionReason::Incomplete),
            " pièce d'identité illisible ",
        )
        .unwrap();
        assert_eq!(r.text.as_deref(), Some("pièce d'identité illisible"));
    }

    fn any_act() -> impl Strategy<Value = u8> {
        0u8..4
    }

    proptest! {
        /// Over any sequence of acts: withdrawn and rejected are terminal for decisions, nothing
        /// but a withdrawal happens after publication, and validation only with eligibility and
        /// documents.
        #[test]
        fn state_machine_invariants(
            eligible in any::<bool>(),
            missing in any::<bool>(),
            acts in prop::collection::vec(any_act(), 0..12),
        ) {
            let mut f = facts(CandidacyStatus::Submitted);
            f.eligible = eligible;
            if missing { f.missing_documents = vec![DocumentKind::EmploymentProof]; }
            for a in acts {
                let before = f.clone();
                let act = match a { 0 => Some(Act::Validate), 1 => Some(Act::Reject), 2 => Some(Act::Withdraw), _ => None };
                match act {
                    None => f.list_published = true,
                    Some(act) => {
                        if let Ok(status) = next(&f, &act) {
                            match act {
                                Act::Validate => {
                                    prop_assert!(eligible && !missing);
                                    prop_assert!(!before.list_published);
                                    prop_assert_eq!(before.status, CandidacyStatus::Submitted);
                                }
                                Act::Reject => prop_assert!(!before.list_published),
                                Act::Withdraw => prop_assert!(matches!(before.status, CandidacyStatus::Submitted | CandidacyStatus::Validated)),
                            }
                            prop_assert!(!matches!(before.status, CandidacyStatus::Withdrawn | CandidacyStatus::Rejected));
                            f.status = status;
                        }
                    }
                }
            }
        }
    }
}
