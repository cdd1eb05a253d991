//! Boards (commissions): their composition, the replacement of a member until the deliberation,
//! and the conflict of interest that keeps a member from examining a candidate of their own
//! establishment.

use cplds_runtime::{
    kit::{RuleViolation, refuse},
    people::{Email, PersonName, Uai},
};

cplds_runtime::text_enum!(BoardRole { President => "president", Member => "member" });

pub const MIN_MEMBERS: usize = 2;
pub const MAX_MEMBERS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Lowercase: the subject of the member's tokens.
    pub email: Email,
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub workplace_uai: Option<Uai>,
    pub role: BoardRole,
}

/// A seat on a board as it stands: who holds it, and whether they left it (replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub id: String,
    pub member: Member,
    pub left: bool,
}

/// Composition rules, as (field, message) pairs against the request's `members`: two members at
/// least (double entry needs two), twelve at most, one president exactly, no one twice.
pub fn composition_violations(members: &[Member]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if members.len() < MIN_MEMBERS {
        out.push((
            "members".into(),
            format!("a board has at least {MIN_MEMBERS} members (every mark is entered twice)"),
        ));
    }
    if members.len() > MAX_MEMBERS {
        out.push((
            "members".into(),
            format!("a board has at most {MAX_MEMBERS} members"),
        ));
    }
    let presidents = members
        .iter()
        .filter(|m| m.role == BoardRole::President)
        .count();
    if presidents != 1 && !members.is_empty() {
        out.push((
            "members".into(),
            format!("a board has exactly one president ({presidents} given)"),
        ));
    }
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|o| o.email == m.email) {
            out.push((
                format!("members[{i}].email"),
                format!("{} is already a member of this board", m.email.as_str()),
            ));
        }
    }
    out
}

/// The members after `replacement` takes seat `leaving`, or why they may not: nobody who sits
/// or sat on the board takes a seat again, and the board keeps the composition rules.
pub fn replace(
    seats: &[Seat],
    leaving: &str,
    replacement: &Member,
) -> Result<Vec<Member>, RuleViolation> {
    if let Some(s) = seats.iter().find(|s| s.member.email == replacement.email) {
        let email = s.member.email.as_str();
        return refuse(
            "ALREADY_A_MEMBER",
            if s.left {
                format!("{email} was replaced on this board and cannot sit again")
            } else {
                format!("{email} already sits on this board")
            },
        );
    }
    let mut after: Vec<Member> = seats
        .iter()
        .filter(|s| !s.left && s.id != leaving)
        .map(|s| s.member.clone())
        .collect();
    after.push(replacement.clone());
    let broken = composition_violations(&after);
    if !broken.is_empty() {
        return refuse(
            "BOARD_COMPOSITION",
            broken
                .into_iter()
                .map(|(_, why)| why)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    Ok(after)
}

/// Refuses a member who works where the candidate works.
pub fn check_conflict_of_interest<'a>(
    members: impl IntoIterator<Item = &'a Member>,
    candidate_uai: &str,
) -> Result<(), RuleViolation> {
    for m in members {
        if m.workplace_uai
            .as_ref()
            .is_some_and(|u| u.as_str().eq_ignore_ascii_case(candidate_uai.trim()))
        {
            return refuse(
                "CONFLICT_OF_INTEREST",
                format!(
                    "{} {} ({}) works in the candidate's establishment {}: they may not examine them",
                    m.first_name.as_str(),
                    m.last_name.as_str(),
                    m.email.as_str(),
                    candidate_uai
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::people::uai_of;

    fn member(email: &str, uai: Option<&str>, role: BoardRole) -> Member {
        Member {
            email: Email::parse(email).unwrap(),
            last_name: PersonName::parse("Dupont").unwrap(),
            first_name: PersonName::parse("Anne").unwrap(),
            workplace_uai: uai.map(|u| Uai::parse(u).unwrap()),
            role,
        }
    }

    fn seat(id: &str, m: Member, left: bool) -> Seat {
        Seat {
            id: id.into(),
            member: m,
            left,
        }
    }

    #[test]
    fn composition() {
        let p = member("p@x.fr", None, BoardRole::President);
        let m = member("m@x.fr", Some("0310036W"), BoardRole::Member);
        assert!(composition_violations(&[p.clone(), m.clone()]).is_empty());
        assert_eq!(composition_violations(std::slice::from_ref(&p)).len(), 1);
        let two_presidents = [p.clone(), member("q@x.fr", None, BoardRole::President)];
        assert!(
            composition_violations(&two_presidents)[0]
                .1
                .contains("exactly one")
        );
        let no_president = [m.clone(), member("n@x.fr", None, BoardRole::Member)];
        assert!(!composition_violations(&no_president).is_empty());
        let twice = [p.clone(), m.clone(), m.clone()];
        assert_eq!(composition_violations(&twice)[0].0, "members[2].email");
    }

    fn board() -> Vec<Seat> {
        vec![
            seat("p", member("p@x.fr", None, BoardRole::President), false),
            seat("m", member("m@x.fr", None, BoardRole::Member), false),
            seat("gone", member("gone@x.fr", None, BoardRole::Member), true),
        ]
    }

    #[test]
    fn a_replacement_takes_the_seat() {
        let after = replace(&board(), "m", &member("n@x.fr", None, BoardRole::Member)).unwrap();
        let emails: Vec<&str> = after.iter().map(|m| m.email.as_str()).collect();
        assert_eq!(emails, ["p@x.fr", "n@x.fr"]);
    }

    #[test]
    fn who_sits_or_sat_does_not_take_a_seat_again() {
        let e = replace(&board(), "m", &member("p@x.fr", None, BoardRole::Member)).unwrap_err();
        assert_eq!(e.rule, "ALREADY_A_MEMBER");
        assert!(e.message.contains("already sits"));
        let e = replace(&board(), "m", &member("gone@x.fr", None, BoardRole::Member)).unwrap_err();
        assert_eq!(e.rule, "ALREADY_A_MEMBER");
        assert!(e.message.contains("cannot sit again"));
    }

    #[test]
    fn a_replacement_keeps_the_composition() {
        let e = replace(&board(), "p", &member("n@x.fr", None, BoardRole::Member)).unwrap_err();
        assert_eq!(e.rule, "BOARD_COMPOSITION");
        assert!(e.message.contains("exactly one president"));
    }

    #[test]
    fn conflict_of_interest() {
        let members = [
            member("p@x.fr", None, BoardRole::President),
            member("m@x.fr", Some("0310036W"), BoardRole::Member),
        ];
        let e = check_conflict_of_interest(&members, "0310036w").unwrap_err();
        assert_eq!(e.rule, "CONFLICT_OF_INTEREST");
        assert!(e.message.contains("m@x.fr"));
        assert!(check_conflict_of_interest(&members, "0311234J").is_ok());
    }

    proptest! {
        /// A conflict exists exactly when some member shares the candidate's UAI.
        #[test]
        fn conflict_iff_same_establishment(uais in prop::collection::vec(proptest::option::of(0u32..5), 1..6), cand in 0u32..5) {
            let members: Vec<Member> = uais.iter().enumerate().map(|(i, u)| member(&format!("m{i}@x.fr"), u.map(uai_of).as_deref(), BoardRole::Member)).collect();
            let conflict = uais.contains(&Some(cand));
            prop_assert_eq!(check_conflict_of_interest(&members, &uai_of(cand)).is_err(), conflict);
        }
    }
}
