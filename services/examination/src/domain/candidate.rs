//! What may be done for a candidate of the admitted list: a candidate who withdrew is assigned,
//! scheduled, convoked and marked no more; a candidate sits in the session of their year, before
//! one board, which must be known before they are scheduled, convoked or marked.

use cplds_runtime::kit::{RuleViolation, refuse};

/// What the exam office or a board is doing for the candidate, for the refusal's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Assign,
    Schedule,
    Convoke,
    Mark,
}

/// Refuses any act for a candidate who withdrew.
pub fn not_withdrawn(withdrawn: bool, act: Act) -> Result<(), RuleViolation> {
    if !withdrawn {
        return Ok(());
    }
    refuse(
        "CANDIDATE_WITHDRAWN",
        match act {
            Act::Mark => "the candidate withdrew: no mark is entered",
            Act::Assign | Act::Schedule | Act::Convoke => "the candidate withdrew",
        },
    )
}

/// The candidate's assignment to a board, which scheduling, convoking and marking need.
pub fn assigned<T>(assignment: Option<T>, act: Act) -> Result<T, RuleViolation> {
    assignment.map_or_else(
        || {
            refuse(
                "NOT_ASSIGNED",
                match act {
                    Act::Schedule => {
                        "assign the candidate to a board before scheduling their épreuves"
                    }
                    Act::Convoke => "the candidate is not assigned to a board of this session",
                    Act::Assign | Act::Mark => "the candidate is not assigned to a board",
                },
            )
        },
        Ok,
    )
}

/// A candidate sits in the session of the year they were admitted for.
pub fn same_year(candidate_year: i32, session_year: i32) -> Result<(), RuleViolation> {
    if candidate_year == session_year {
        return Ok(());
    }
    refuse(
        "OTHER_SESSION_YEAR",
        format!(
            "the candidate is admitted to sit in {candidate_year}, not in the {session_year} session"
        ),
    )
}

/// Whether assigning to `board` is new, or was already done (harmless again); another board
/// is refused: a candidate sits before one board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigning {
    New,
    Already,
}

pub fn assigning(current_board: Option<&str>, board: &str) -> Result<Assigning, RuleViolation> {
    match current_board {
        None => Ok(Assigning::New),
        Some(b) if b == board => Ok(Assigning::Already),
        Some(b) => refuse(
            "ALREADY_ASSIGNED",
            format!("the candidate is already assigned to board {b}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withdrawn_candidate_is_refused() {
        assert!(not_withdrawn(false, Act::Mark).is_ok());
        let e = not_withdrawn(true, Act::Mark).unwrap_err();
        assert_eq!(e.rule, "CANDIDATE_WITHDRAWN");
        assert!(e.message.contains("no mark"));
        assert_eq!(
            not_withdrawn(true, Act::Assign).unwrap_err().message,
            "the candidate withdrew"
        );
    }

    #[test]
    fn acts_need_an_assignment() {
        assert_eq!(assigned(Some(3), Act::Mark), Ok(3));
        let e = assigned(None::<()>, Act::Schedule).unwrap_err();
        assert_eq!(e.rule, "NOT_ASSIGNED");
        assert!(e.message.contains("before scheduling"));
        assert!(
            assigned(None::<()>, Act::Convoke)
                .unwrap_err()
                .message
                .contains("of this session")
        );
    }

    #[test]
    fn the_session_of_the_candidates_year() {
        assert!(same_year(2025, 2025).is_ok());
        let e = same_year(2024, 2025).unwrap_err();
        assert_eq!(e.rule, "OTHER_SESSION_YEAR");
        assert!(e.message.contains("2024") && e.message.contains("2025"));
    }

    #[test]
    fn one_board_per_candidate() {
        assert_eq!(assigning(None, "a"), Ok(Assigning::New));
        assert_eq!(assigning(Some("a"), "a"), Ok(Assigning::Already));
        assert_eq!(
            assigning(Some("b"), "a").unwrap_err().rule,
            "ALREADY_ASSIGNED"
        );
    }
}
