//! Boards (commissions): their composition and the conflict of interest that keeps a member from
//! examining a candidate of their own establishment.

use super::{RuleViolation, refuse, text_enum};

text_enum!(BoardRole { President => "president", Member => "member" });

pub const MIN_MEMBERS: usize = 2;
pub const MAX_MEMBERS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub last_name: String,
    pub first_name: String,
    pub workplace_uai: Option<String>,
    pub role: BoardRole,
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
                format!("{} is already a member of this board", m.email),
            ));
        }
    }
    out
}

/// Refuses a member who works where the candidate works.
pub fn check_conflict_of_interest<'a>(
    members: impl IntoIterator<Item = &'a Member>,
    candidate_uai: &str,
) -> Result<(), RuleViolation> {
    for m in members {
        if m.workplace_uai
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(candidate_uai.trim()))
        {
            return refuse(
                "CONFLICT_OF_INTEREST",
                format!(
                    "{} {} ({}) works in the candidate's establishment {}: they may not examine them",
                    m.first_name, m.last_name, m.email, candidate_uai
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

    fn member(email: &str, uai: Option<&str>, role: BoardRole) -> Member {
        Member {
            email: email.into(),
            last_name: "Dupont".into(),
            first_name: "Anne".into(),
            workplace_uai: uai.map(str::to_owned),
            role,
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
        fn conflict_iff_same_establishment(uais in prop::collection::vec(proptest::option::of(0u8..5), 1..6), cand in 0u8..5) {
            let code = |n: u8| format!("UAI{n}");
            let members: Vec<Member> = uais.iter().enumerate().map(|(i, u)| member(&format!("m{i}@x.fr"), u.map(code).as_deref(), BoardRole::Member)).collect();
            let conflict = uais.contains(&Some(cand));
            prop_assert_eq!(check_conflict_of_interest(&members, &code(cand)).is_err(), conflict);
        }
    }
}
