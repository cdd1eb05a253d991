//! Who may act on which candidacy, and as which role (issue 12 §4).
//!
//! The node's auth layer lets a call through when the token holds one of the roles the method
//! grants; what depends on the data is decided here. A caller acts under one role: a staff role
//! the act grants if they hold one, else as a candidate. A role the act does not grant never
//! widens what another allows: a recteur who also has a candidate account reads any candidacy
//! (the recteur may), but uploads, downloads and withdraws only their own (the recteur may not).
//!
//! A candidate account opens at most one live candidacy a year and at most
//! [`MAX_CANDIDACIES_PER_ACCOUNT`] in all, and learns nothing about other people from the
//! answers: the staff number it gives is not proven until the exam office checks the documents,
//! so giving someone else's neither blocks them nor tells whether they applied
//! ([`super::candidacy::Claims`]).

use cplds_runtime::{
    auth::{Caller, Role},
    kit::{RuleViolation, refuse},
};

use super::{campaign::Channel, candidate::Candidate};

/// An act this caller may not do, whatever the procedure says (PERMISSION_DENIED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAllowed(pub String);

/// The role a caller performs an act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acting<'a> {
    /// A staff role the act grants (exam office, recteur).
    Staff(Role),
    /// A candidate, on the candidacy registered with their account's e-mail address.
    Candidate { account: &'a str },
}

/// How `caller` acts in an act that grants `staff` to staff and their own candidacy to a
/// candidate: the first of `staff` they hold, else as a candidate.
pub fn acting<'a>(caller: &'a Caller, staff: &[Role]) -> Result<Acting<'a>, NotAllowed> {
    if let Some(role) = staff.iter().find(|r| caller.has(**r)) {
        return Ok(Acting::Staff(*role));
    }
    if caller.has(Role::Candidate) {
        return Ok(Acting::Candidate {
            account: caller.subject.trim(),
        });
    }
    Err(NotAllowed(
        "this act is for the exam office or the candidate".into(),
    ))
}

impl Acting<'_> {
    pub fn is_staff(&self) -> bool {
        matches!(self, Acting::Staff(_))
    }

    /// Staff act on every candidacy; a candidate on the one registered with their account's
    /// e-mail address.
    pub fn may_see(&self, candidacy_id: &str, email: &str) -> Result<(), NotAllowed> {
        match self {
            Acting::Staff(_) => Ok(()),
            Acting::Candidate { account } if email.eq_ignore_ascii_case(account) => Ok(()),
            Acting::Candidate { .. } => {
                Err(NotAllowed(format!("candidacy {candidacy_id} is not yours")))
            }
        }
    }

    /// The exam office enters any candidacy, including those received by post or e-mail; a
    /// candidate registers only themselves, online, under their account's e-mail address.
    pub fn may_submit(&self, candidate: &Candidate, channel: Channel) -> Result<(), NotAllowed> {
        let Acting::Candidate { account } = self else {
            return Ok(());
        };
        if channel != Channel::Online {
            return Err(NotAllowed(
                "only the exam office enters candidacies received by post or e-mail".into(),
            ));
        }
        if !candidate.email.same_person(account) {
            return Err(NotAllowed(
                "a candidate registers with the e-mail address of their own account".into(),
            ));
        }
        Ok(())
    }
}

/// At most this many candidacies an account opens in a year as a candidate (the first, then
/// again after a withdrawal or a rejection): each may bring documents, so withdrawing and
/// registering again cannot fill the académie's storage. The exam office is not bound by it.
pub const MAX_CANDIDACIES_PER_ACCOUNT: i64 = 3;

/// What an account already has in a year, for a new candidacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountYear<'a> {
    /// Candidacies opened so far in the year, whatever became of them.
    pub opened: i64,
    /// The account's live (submitted or validated) candidacy, if any.
    pub live: Option<&'a str>,
}

/// Why an account may not open a candidacy now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRefusal {
    /// It has a live one (ALREADY_EXISTS): the message names only the account's own.
    Live(String),
    Rule(RuleViolation),
}

/// One live candidacy per account and year (whoever enters it); a candidate opens at most
/// [`MAX_CANDIDACIES_PER_ACCOUNT`] a year.
pub fn may_open(
    acting: &Acting<'_>,
    account: &str,
    year: i32,
    a: &AccountYear<'_>,
) -> Result<(), AccountRefusal> {
    if let Some(id) = a.live {
        return Err(AccountRefusal::Live(format!(
            "the account {account} already has a live candidacy for {year} ({id}); \
             withdraw it first to register again"
        )));
    }
    if !acting.is_staff() && a.opened >= MAX_CANDIDACIES_PER_ACCOUNT {
        return refuse(
            "TOO_MANY_CANDIDACIES",
            format!(
                "an account opens at most {MAX_CANDIDACIES_PER_ACCOUNT} candidacies a year; \
                 the exam office can still enter one received by post or e-mail"
            ),
        )
        .map_err(AccountRefusal::Rule);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::candidate::{Email, fixtures::tenured_teacher};

    fn caller(subject: &str, roles: &[Role]) -> Caller {
        Caller {
            subject: subject.into(),
            academy: "toulouse".into(),
            roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        }
    }

    const STAFF: &[Role] = &[Role::ExamOffice, Role::Recteur];
    const OFFICE: &[Role] = &[Role::ExamOffice];

    #[test]
    fn a_caller_acts_under_a_role_the_act_grants() {
        let both = caller("camille@ac-toulouse.fr", &[Role::Candidate, Role::Recteur]);
        assert_eq!(acting(&both, STAFF).unwrap(), Acting::Staff(Role::Recteur));
        // Where the recteur has no part, the same token acts as a candidate.
        assert_eq!(
            acting(&both, OFFICE).unwrap(),
            Acting::Candidate {
                account: "camille@ac-toulouse.fr"
            }
        );
        let trainer = caller("x@ac-toulouse.fr", &[Role::Trainer]);
        assert!(acting(&trainer, OFFICE).is_err());
    }

    #[test]
    fn a_candidate_sees_only_their_own() {
        let me = caller("Camille@ac-toulouse.fr", &[Role::Candidate, Role::Recteur]);
        let as_candidate = acting(&me, OFFICE).unwrap();
        assert!(as_candidate.may_see("c1", "camille@ac-toulouse.fr").is_ok());
        assert_eq!(
            as_candidate
                .may_see("c2", "hugo@ac-toulouse.fr")
                .unwrap_err()
                .0,
            "candidacy c2 is not yours"
        );
        assert!(
            acting(&me, STAFF)
                .unwrap()
                .may_see("c2", "hugo@ac-toulouse.fr")
                .is_ok()
        );
    }

    #[test]
    fn a_candidate_registers_only_themselves_online() {
        let c = tenured_teacher();
        let own = caller(c.email.as_str(), &[Role::Candidate, Role::Trainer]);
        let as_candidate = acting(&own, OFFICE).unwrap();
        assert!(as_candidate.may_submit(&c, Channel::Online).is_ok());
        let letter = Channel::Post {
            postmark: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        };
        assert!(as_candidate.may_submit(&c, letter).is_err());
        let mut other = c.clone();
        other.email = Email::parse("hugo@ac-toulouse.fr").unwrap();
        assert!(as_candidate.may_submit(&other, Channel::Online).is_err());
        let office = caller("dec@ac-toulouse.fr", &[Role::ExamOffice]);
        assert!(
            acting(&office, OFFICE)
                .unwrap()
                .may_submit(&other, letter)
                .is_ok()
        );
    }

    #[test]
    fn one_live_candidacy_per_account_and_a_bounded_number() {
        let candidate = Acting::Candidate { account: "a@b.fr" };
        let office = Acting::Staff(Role::ExamOffice);
        let fresh = AccountYear {
            opened: 0,
            live: None,
        };
        assert!(may_open(&candidate, "a@b.fr", 2025, &fresh).is_ok());
        let live = AccountYear {
            opened: 1,
            live: Some("c1"),
        };
        for who in [&candidate, &office] {
            match may_open(who, "a@b.fr", 2025, &live) {
                Err(AccountRefusal::Live(m)) => assert!(m.contains("c1"), "{m}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        let spent = AccountYear {
            opened: MAX_CANDIDACIES_PER_ACCOUNT,
            live: None,
        };
        match may_open(&candidate, "a@b.fr", 2025, &spent) {
            Err(AccountRefusal::Rule(r)) => assert_eq!(r.rule, "TOO_MANY_CANDIDACIES"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(may_open(&office, "a@b.fr", 2025, &spent).is_ok());
    }
}
