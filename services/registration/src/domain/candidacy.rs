//! The life of a candidacy: submitted → validated | rejected; submitted or validated → withdrawn.
//! Withdrawal is recorded, never deleted. Once the recteur has published the admitted list, the
//! decisions are frozen; only withdrawals remain possible, until results. A candidacy received
//! after the window closed is inadmissible from the start and stays so (see
//! [`super::campaign::Late`]).
//!
//! Sources (`/work/shared/domain/README.md`, "Registration"): a candidacy can be invalidated
//! (missing piece, not eligible); the recteur publishes the list of admitted candidates;
//! candidates may withdraw at any time (*démissionnaires*).

use cplds_runtime::kit::{RuleViolation, refuse};

use super::documents::DocumentKind;

cplds_runtime::text_enum!(CandidacyStatus { Submitted => "submitted", Validated => "validated", Rejected => "rejected", Withdrawn => "withdrawn", Inadmissible => "inadmissible" });

impl CandidacyStatus {
    /// Submitted or validated: the candidacy may still lead to the exam.
    pub const LIVE: [CandidacyStatus; 2] = [CandidacyStatus::Submitted, CandidacyStatus::Validated];

    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }
}
cplds_runtime::text_enum!(RejectionReason { Ineligible => "ineligible", Incomplete => "incomplete", Inadmissible => "inadmissible", Other => "other" });

/// The longest free text of a decision or a withdrawal.
const MAX_REASON_CHARS: usize = 500;

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
        let text = text.trim();
        let mut errors = Vec::new();
        if let Err(e) = check_length(text) {
            errors.push(("reason_text", e));
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
            Some(reason) if errors.is_empty() => {
                return Ok(Rejection {
                    reason,
                    text: optional_text(text),
                });
            }
            Some(_) => {}
        }
        Err(errors)
    }
}

/// Why a candidate withdraws, if they say: at most 500 characters.
pub fn parse_withdrawal_reason(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    check_length(text)?;
    Ok(optional_text(text))
}

fn check_length(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    Ok(())
}

fn optional_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// What the rules need to know about a candidacy and its campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub status: CandidacyStatus,
    pub eligible: bool,
    pub missing_documents: Vec<DocumentKind>,
    pub list_published: bool,
    pub results_published: bool,
    /// The other live candidacies of the year that give the same staff number.
    pub rivals: Vec<String>,
}

/// The live candidacies of a year that give one staff number, oldest first.
///
/// A staff number is proven by the documents the exam office checks (employment proof,
/// identity), not by being given first: a second candidacy giving it is recorded rather than
/// refused, so nobody can block its owner by giving it first, nor learn from the answer that its
/// owner applied. The oldest holds the number: its facts are the person's on the national stream
/// (which knows people only by the keyed hash of their staff number). None is validated while
/// another lives ([`can_validate`]); when the holder leaves, the next one holds the number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims(Vec<String>);

/// What a departure from the claims changes on the national stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The one leaving held the number: its departure is the person's.
    pub was_holder: bool,
    /// Who holds the number now, if the holder left and another claim lives.
    pub new_holder: Option<String>,
}

impl Claims {
    /// The ids of the live claims, oldest first.
    pub fn new(ids: Vec<String>) -> Self {
        Claims(ids)
    }

    pub fn holder(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// The claims other than `id`.
    pub fn rivals_of(&self, id: &str) -> Vec<String> {
        self.0.iter().filter(|c| *c != id).cloned().collect()
    }

    /// `id` leaves (rejected, withdrawn).
    pub fn release(&self, id: &str) -> Release {
        let was_holder = self.holder() == Some(id);
        Release {
            was_holder,
            new_holder: if was_holder {
                self.0.get(1).cloned()
            } else {
                None
            },
        }
    }
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
    if !f.rivals.is_empty() {
        return refuse(
            "STAFF_NUMBER_CLAIMED_TWICE",
            format!(
                "candidacies {} give the same staff number: reject the ones the documents do not \
                 support first",
                f.rivals.join(", ")
            ),
        );
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
        s @ (CandidacyStatus::Rejected | CandidacyStatus::Inadmissible) => refuse(
            "NOT_PENDING",
            format!("a {s} candidacy cannot be withdrawn"),
        ),
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

/// Another call changed the candidacy between its reading and this act.
pub fn changed_meanwhile() -> RuleViolation {
    RuleViolation::new(
        "CONCURRENT_CHANGE",
        "the candidacy changed meanwhile; read it again",
    )
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
            rivals: vec![],
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

    #[test]
    fn a_staff_number_given_twice_is_validated_for_neither() {
        let mut f = facts(CandidacyStatus::Submitted);
        f.rivals = vec!["c2".into()];
        let e = can_validate(&f).unwrap_err();
        assert_eq!(e.rule, "STAFF_NUMBER_CLAIMED_TWICE");
        assert!(e.message.contains("c2"), "{e}");
        assert!(can_reject(&f).is_ok());
        assert!(can_withdraw(&f).is_ok());
    }

    #[test]
    fn the_oldest_claim_holds_the_number_until_it_leaves() {
        let claims = Claims::new(vec!["c1".into(), "c2".into(), "c3".into()]);
        assert_eq!(claims.holder(), Some("c1"));
        assert_eq!(claims.rivals_of("c2"), ["c1", "c3"]);
        assert_eq!(
            claims.release("c2"),
            Release {
                was_holder: false,
                new_holder: None
            }
        );
        assert_eq!(
            claims.release("c1"),
            Release {
                was_holder: true,
                new_holder: Some("c2".into())
            }
        );
        let alone = Claims::new(vec!["c1".into()]);
        assert_eq!(alone.release("c1").new_holder, None);
    }

    #[test]
    fn an_inadmissible_candidacy_is_final() {
        let f = facts(CandidacyStatus::Inadmissible);
        for e in [
            can_validate(&f).unwrap_err(),
            can_reject(&f).unwrap_err(),
            can_withdraw(&f).unwrap_err(),
            can_add_document(&f).unwrap_err(),
        ] {
            assert_eq!(e.rule, "NOT_PENDING");
        }
        assert!(!CandidacyStatus::Inadmissible.is_live());
    }

    #[test]
    fn a_candidacy_is_validated_once() {
        let e = can_validate(&facts(CandidacyStatus::Validated)).unwrap_err();
        assert_eq!(e.rule, "ALREADY_VALIDATED");
    }

    #[test]
    fn only_a_pending_candidacy_is_validated() {
        for s in [CandidacyStatus::Rejected, CandidacyStatus::Withdrawn] {
            let e = can_validate(&facts(s)).unwrap_err();
            assert_eq!(e.rule, "NOT_PENDING");
            assert!(e.message.contains(s.as_str()), "{}", e.message);
        }
    }

    #[test]
    fn decisions_and_documents_freeze_with_the_list() {
        let mut f = facts(CandidacyStatus::Submitted);
        f.list_published = true;
        for e in [
            can_validate(&f).unwrap_err(),
            can_reject(&f).unwrap_err(),
            can_add_document(&f).unwrap_err(),
        ] {
            assert_eq!(e.rule, "ADMITTED_LIST_PUBLISHED");
        }
        assert!(can_withdraw(&f).is_ok(), "withdrawal stays open");
    }

    #[test]
    fn a_validated_candidacy_may_still_be_rejected() {
        assert!(can_reject(&facts(CandidacyStatus::Submitted)).is_ok());
        assert!(can_reject(&facts(CandidacyStatus::Validated)).is_ok());
        for s in [CandidacyStatus::Rejected, CandidacyStatus::Withdrawn] {
            assert_eq!(can_reject(&facts(s)).unwrap_err().rule, "NOT_PENDING");
        }
    }

    #[test]
    fn no_withdrawal_after_results() {
        let mut f = facts(CandidacyStatus::Validated);
        f.results_published = true;
        assert_eq!(can_withdraw(&f).unwrap_err().rule, "RESULTS_PUBLISHED");
    }

    #[test]
    fn a_candidate_withdraws_once() {
        let e = can_withdraw(&facts(CandidacyStatus::Withdrawn)).unwrap_err();
        assert_eq!(e.rule, "ALREADY_WITHDRAWN");
    }

    #[test]
    fn a_rejected_candidacy_is_not_withdrawn() {
        let e = can_withdraw(&facts(CandidacyStatus::Rejected)).unwrap_err();
        assert_eq!(e.rule, "NOT_PENDING");
    }

    #[test]
    fn documents_are_added_while_the_decision_is_pending() {
        assert!(can_add_document(&facts(CandidacyStatus::Submitted)).is_ok());
        let e = can_add_document(&facts(CandidacyStatus::Validated)).unwrap_err();
        assert_eq!(e.rule, "NOT_PENDING");
    }

    #[test]
    fn reason_texts_are_at_most_500_characters() {
        let long = "é".repeat(501);
        assert_eq!(
            parse_withdrawal_reason(&long).unwrap_err(),
            "must be at most 500 characters"
        );
        assert_eq!(
            parse_withdrawal_reason(&"é".repeat(500))
                .unwrap()
                .unwrap()
                .chars()
                .count(),
            500
        );
        assert_eq!(parse_withdrawal_reason("  ").unwrap(), None);
        let errors = Rejection::parse(Some(RejectionReason::Incomplete), &long).unwrap_err();
        assert_eq!(
            errors,
            [("reason_text", "must be at most 500 characters".to_owned())]
        );
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
