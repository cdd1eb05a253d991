//! Who may act on an enrolment, and the rules of an enrolment in training: who is followed,
//! and when the deepening modules may be chosen again.
//!
//! Roles are checked before the handlers by the node's auth layer; these are the rules that
//! depend on the enrolment (a candidate acts on their own only). Who acts on sessions and
//! trainees by assignment (trainers, tutors) is [`super::assignment`].
//!
//! Source (`/work/shared/domain/README.md`, "Training"): the deepening modules are chosen by the
//! trainee (arrêté of 5 May 2017 on the training, art. 1 b, *au choix*).

use cplds_runtime::{
    academy::Academy,
    auth::{Caller, Role},
    kit::{RuleViolation, refuse},
};

use super::{
    hours::Ledger,
    identity::Trainee,
    programme::{DeepeningChoice, ModuleCode, codes},
    roster::EnrolmentStatus,
};

/// An act this caller may not do on this enrolment, whatever the procedure says
/// (PERMISSION_DENIED on the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAllowed(pub String);

/// The training office enrols anyone; a member of staff asks for a place for themselves only,
/// with the e-mail address of their account, as staff of this académie.
pub fn may_request(caller: &Caller, trainee: &Trainee, node: &Academy) -> Result<(), NotAllowed> {
    if caller.has(Role::TrainingOffice) {
        return Ok(());
    }
    if !trainee.email.same_person(&caller.subject) {
        return Err(NotAllowed(
            "a member of staff asks for a place with the e-mail address of their own account"
                .into(),
        ));
    }
    if trainee.home_academy != node {
        return Err(NotAllowed(format!(
            "staff of the académie de {} are enrolled by the training office",
            trainee.home_academy.name
        )));
    }
    Ok(())
}

/// The training office acts on every enrolment; a candidate on their own only (the
/// enrolment's e-mail address is the token's subject).
pub fn may_act_on(caller: &Caller, enrolment_id: &str, email: &str) -> Result<(), NotAllowed> {
    if caller.has(Role::TrainingOffice) {
        return Ok(());
    }
    if caller.has(Role::Candidate) && email.eq_ignore_ascii_case(caller.subject.trim()) {
        return Ok(());
    }
    Err(NotAllowed(format!("enrolment {enrolment_id} is not yours")))
}

/// Why a request duplicates one already live in the cohort (ALREADY_EXISTS); the message names
/// no one but the account's own request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Duplicate(pub String);

/// One live request per person and cohort (issue 12 §4): per account, so that one account does
/// not take several places by giving other staff numbers, and per staff number.
pub fn one_live_request(
    cohort_id: &str,
    account: &str,
    account_request: Option<&str>,
    staff_number_taken: bool,
) -> Result<(), Duplicate> {
    if let Some(id) = account_request {
        return Err(Duplicate(format!(
            "the account {account} already has a request in cohort {cohort_id} ({id})"
        )));
    }
    if staff_number_taken {
        return Err(Duplicate(format!(
            "a request in cohort {cohort_id} already gives this staff number; the training \
             office can tell more"
        )));
    }
    Ok(())
}

/// Only a trainee holding a place, and not done, is followed: a tutor, hours, an attestation.
pub fn in_training(status: EnrolmentStatus) -> Result<(), RuleViolation> {
    match status {
        EnrolmentStatus::Accepted => Ok(()),
        s => refuse(
            "NOT_IN_TRAINING",
            format!("the enrolment is {s}: only a trainee in training is followed"),
        ),
    }
}

/// The deepening modules are chosen while waiting or in training; chosen again, those with
/// credited hours stay among them.
pub fn may_choose(
    status: EnrolmentStatus,
    previous: Option<&DeepeningChoice>,
    new: &DeepeningChoice,
    ledger: &Ledger,
) -> Result<(), RuleViolation> {
    if !matches!(
        status,
        EnrolmentStatus::Waitlisted | EnrolmentStatus::Accepted
    ) {
        return refuse(
            "NOT_IN_TRAINING",
            format!("a {status} enrolment has no choice to make"),
        );
    }
    let started: Vec<&ModuleCode> = previous
        .into_iter()
        .flat_map(|p| p.dropped(new))
        .filter(|code| ledger.credited(code) > 0)
        .collect();
    if started.is_empty() {
        return Ok(());
    }
    refuse(
        "DEEPENING_MODULE_STARTED",
        format!(
            "hours are credited on {}: it stays among the chosen modules",
            codes(started)
        ),
    )
}

#[cfg(test)]
mod tests {
    use cplds_runtime::people::{Email, PersonName, StaffNumber, Uai};

    use super::*;
    use crate::domain::{caller, identity::Sex, programme::tests::standard};

    fn trainee(email: &str, home: &str) -> Trainee {
        let home = Academy::find(home).unwrap();
        let digits = if home.code == "toulouse" {
            "0310036"
        } else {
            "0340002"
        };
        Trainee {
            last_name: PersonName::parse("Durand").unwrap(),
            first_name: PersonName::parse("Camille").unwrap(),
            birth_date: None,
            email: Email::parse(email).unwrap(),
            staff_number: StaffNumber::parse("12E0000001ABC").unwrap(),
            sex: Sex::Female,
            workplace_uai: Uai::parse(&format!(
                "{digits}{}",
                Uai::check_letter(digits).unwrap() as char
            ))
            .unwrap(),
            home_academy: home,
        }
    }

    fn choice(codes: &[&str]) -> DeepeningChoice {
        standard()
            .choose_deepening(&codes.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn a_member_of_staff_asks_for_themselves() {
        let toulouse = Academy::find("toulouse").unwrap();
        let me = caller("camille@ac-toulouse.fr", &[Role::Candidate]);
        assert!(
            may_request(
                &me,
                &trainee("Camille@ac-toulouse.fr", "toulouse"),
                toulouse
            )
            .is_ok()
        );
        let other = may_request(&me, &trainee("hugo@ac-toulouse.fr", "toulouse"), toulouse);
        assert!(other.unwrap_err().0.contains("their own account"));
    }

    #[test]
    fn staff_of_another_academie_are_enrolled_by_the_office() {
        let toulouse = Academy::find("toulouse").unwrap();
        let me = caller("camille@ac-toulouse.fr", &[Role::Candidate]);
        let e = may_request(
            &me,
            &trainee("camille@ac-toulouse.fr", "montpellier"),
            toulouse,
        );
        assert!(e.unwrap_err().0.contains("Montpellier"));
        let office = caller("eafc@ac-toulouse.fr", &[Role::TrainingOffice]);
        assert!(
            may_request(
                &office,
                &trainee("camille@ac-toulouse.fr", "montpellier"),
                toulouse
            )
            .is_ok()
        );
    }

    #[test]
    fn a_candidate_acts_on_their_own_enrolment_only() {
        let me = caller("Camille@ac-toulouse.fr", &[Role::Candidate]);
        assert!(may_act_on(&me, "e1", "camille@ac-toulouse.fr").is_ok());
        let e = may_act_on(&me, "e2", "hugo@ac-toulouse.fr");
        assert_eq!(e.unwrap_err().0, "enrolment e2 is not yours");
        let office = caller("eafc@ac-toulouse.fr", &[Role::TrainingOffice]);
        assert!(may_act_on(&office, "e2", "x@y.fr").is_ok());
        // A trainer acts on an enrolment by assignment only (see `assignment`).
        let trainer = caller(
            "formateur@ac-toulouse.fr",
            &[Role::Trainer, Role::Candidate],
        );
        assert!(may_act_on(&trainer, "e2", "x@y.fr").is_err());
    }

    #[test]
    fn one_live_request_per_account_and_staff_number() {
        assert!(one_live_request("c1", "a@b.fr", None, false).is_ok());
        let own = one_live_request("c1", "a@b.fr", Some("e1"), false).unwrap_err();
        assert!(own.0.contains("e1") && own.0.contains("a@b.fr"), "{own}");
        let taken = one_live_request("c1", "a@b.fr", None, true).unwrap_err();
        assert!(!taken.0.contains('@'), "names nobody: {taken}");
    }

    #[test]
    fn not_in_training() {
        assert!(in_training(EnrolmentStatus::Accepted).is_ok());
        for s in [
            EnrolmentStatus::Waitlisted,
            EnrolmentStatus::Withdrawn,
            EnrolmentStatus::Abandoned,
            EnrolmentStatus::Completed,
        ] {
            assert_eq!(in_training(s).unwrap_err().rule, "NOT_IN_TRAINING");
        }
    }

    #[test]
    fn no_choice_once_left_or_completed() {
        let new = choice(&["A1", "A2", "A3"]);
        let l = Ledger::default();
        assert!(may_choose(EnrolmentStatus::Waitlisted, None, &new, &l).is_ok());
        assert!(may_choose(EnrolmentStatus::Accepted, None, &new, &l).is_ok());
        for s in [
            EnrolmentStatus::Withdrawn,
            EnrolmentStatus::Abandoned,
            EnrolmentStatus::Completed,
        ] {
            assert_eq!(
                may_choose(s, None, &new, &l).unwrap_err().rule,
                "NOT_IN_TRAINING"
            );
        }
    }

    #[test]
    fn deepening_module_started() {
        let p = standard();
        let previous = choice(&["A2", "A3", "A5"]);
        let mut l = Ledger::default();
        for c in ["A2", "A5", "A3"] {
            let m = p.find(c).unwrap();
            if c != "A3" {
                l.credit(m, Some(&previous), 60).unwrap();
            }
        }
        // Keeping the started ones is fine; dropping them is not, and the message names them.
        let keeps = choice(&["A1", "A2", "A5"]);
        assert!(may_choose(EnrolmentStatus::Accepted, Some(&previous), &keeps, &l).is_ok());
        let drops = choice(&["A1", "A3", "A4"]);
        let e = may_choose(EnrolmentStatus::Accepted, Some(&previous), &drops, &l).unwrap_err();
        assert_eq!(e.rule, "DEEPENING_MODULE_STARTED");
        assert!(e.message.contains("A2, A5"), "{e}");
    }
}
