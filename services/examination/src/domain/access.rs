//! Who sees and acts on a candidate's records (issue 12 §4): the exam office and the recteur
//! every candidate; a board member the candidates of the boards they sit on; a candidate their
//! own. A token carrying several roles is judged under each role alone, in the capacities the
//! method allows: roles are never combined to widen access — a candidate who also sits on a
//! board reads results as a candidate (results are not a board's to read), so only their own.

use std::collections::BTreeSet;

use cplds_runtime::auth::Role;

/// The capacity in which an act is performed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capacity {
    /// The exam office or the recteur: every candidate.
    Office,
    /// A board member: the candidates of their boards.
    Board,
    /// A candidate: their own records.
    Candidate,
}

impl Capacity {
    pub fn of(role: Role) -> Option<Capacity> {
        match role {
            Role::ExamOffice | Role::Recteur => Some(Capacity::Office),
            Role::BoardMember => Some(Capacity::Board),
            Role::Candidate => Some(Capacity::Candidate),
            _ => None,
        }
    }
}

/// The capacities a caller acts in for a method open to `allowed`: those of their roles the
/// method allows, the widest first.
pub fn capacities(roles: &BTreeSet<Role>, allowed: &[Role]) -> Vec<Capacity> {
    let mut out: Vec<Capacity> = roles
        .iter()
        .filter(|r| allowed.contains(r))
        .filter_map(|r| Capacity::of(*r))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How a candidate stands to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relation {
    /// The candidate is the caller (the token's subject is their e-mail).
    pub own: bool,
    /// The candidate is assigned to a board the caller sits on.
    pub on_my_board: bool,
}

/// The capacity in which the caller reaches the candidate's records, the widest that does;
/// `None` when no capacity alone does.
pub fn reach(capacities: &[Capacity], r: Relation) -> Option<Capacity> {
    capacities.iter().copied().find(|c| match c {
        Capacity::Office => true,
        Capacity::Board => r.on_my_board,
        Capacity::Candidate => r.own,
    })
}

/// Whether the caller sees every candidate and board (the office) or only those of the boards
/// they sit on.
pub fn sees_all(capacities: &[Capacity]) -> bool {
    capacities.contains(&Capacity::Office)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn roles(r: &[Role]) -> BTreeSet<Role> {
        r.iter().copied().collect()
    }

    const READ_RESULT: &[Role] = &[Role::ExamOffice, Role::Recteur, Role::Candidate];
    const READ_CANDIDATE: &[Role] = &[
        Role::ExamOffice,
        Role::Recteur,
        Role::BoardMember,
        Role::Candidate,
    ];

    #[test]
    fn each_role_is_judged_alone() {
        let both = roles(&[Role::Candidate, Role::BoardMember]);
        // Results are not a board's to read: the candidate+member reads as a candidate.
        let c = capacities(&both, READ_RESULT);
        assert_eq!(c, [Capacity::Candidate]);
        let someone_on_my_board = Relation {
            own: false,
            on_my_board: true,
        };
        assert_eq!(reach(&c, someone_on_my_board), None);
        assert_eq!(
            reach(
                &c,
                Relation {
                    own: true,
                    ..Default::default()
                }
            ),
            Some(Capacity::Candidate)
        );
        // A candidacy is a board's to read, for the candidates of its boards only.
        let c = capacities(&both, READ_CANDIDATE);
        assert_eq!(c, [Capacity::Board, Capacity::Candidate]);
        assert_eq!(reach(&c, someone_on_my_board), Some(Capacity::Board));
        assert_eq!(reach(&c, Relation::default()), None);
    }

    #[test]
    fn the_office_reaches_everyone() {
        let c = capacities(&roles(&[Role::Recteur, Role::Candidate]), READ_RESULT);
        assert_eq!(reach(&c, Relation::default()), Some(Capacity::Office));
        assert!(sees_all(&c));
        assert!(!sees_all(&capacities(
            &roles(&[Role::BoardMember]),
            READ_CANDIDATE
        )));
        assert!(capacities(&roles(&[Role::ItAdmin]), READ_CANDIDATE).is_empty());
    }

    proptest! {
        /// A combination of roles never reaches a candidate that none of its roles reaches alone.
        #[test]
        fn combining_roles_never_widens(mask in 0u8..16, allowed in 0u8..16, own: bool, on_my_board: bool) {
            let all = [Role::ExamOffice, Role::Recteur, Role::BoardMember, Role::Candidate];
            let pick = |m: u8| all.iter().enumerate().filter(|(i, _)| m & (1 << i) != 0).map(|(_, r)| *r).collect::<Vec<_>>();
            let (held, allowed) = (pick(mask), pick(allowed));
            let r = Relation { own, on_my_board };
            let together = reach(&capacities(&roles(&held), &allowed), r).is_some();
            let alone = held.iter().any(|role| reach(&capacities(&roles(&[*role]), &allowed), r).is_some());
            prop_assert_eq!(together, alone);
        }
    }
}
