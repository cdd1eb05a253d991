//! The minutes of the deliberation (procès-verbal): prepared from the decisions, signed by a
//! board president with their own registered key, over the latest minutes only, and only while
//! what they print (decisions, who sits on the boards) is unchanged.

use cplds_runtime::kit::{RuleViolation, refuse};

use super::{board::BoardRole, keys};

/// A seat as the minutes print it.
pub struct Printed<'a> {
    pub board_id: &'a str,
    pub member_id: &'a str,
    pub role: BoardRole,
}

/// What signed minutes must still match when closed: the decisions and who sits on the boards
/// (the minutes print both), so a replaced member means preparing them again.
pub fn fingerprint<'a>(
    decisions_json: &str,
    seats: impl IntoIterator<Item = Printed<'a>>,
) -> String {
    let mut seats: Vec<String> = seats
        .into_iter()
        .map(|s| format!("{}\t{}\t{}", s.board_id, s.member_id, s.role))
        .collect();
    seats.sort();
    let text = format!("{decisions_json}\n{}", seats.join("\n"));
    hex::encode(keys::sha256(text.as_bytes()))
}

/// The president signs with a key they registered beforehand.
pub fn ensure_signing_key(registered: bool) -> Result<(), RuleViolation> {
    if registered {
        return Ok(());
    }
    refuse(
        "NO_SIGNING_KEY",
        "register your Ed25519 public key (RegisterBoardMemberKey) before signing",
    )
}

/// The minutes to sign: the latest prepared.
pub fn prepared<T>(latest: Option<T>) -> Result<T, RuleViolation> {
    latest.map_or_else(
        || {
            refuse(
                "MINUTES_NOT_PREPARED",
                "prepare the minutes (PrepareMinutes) and sign their SHA-256",
            )
        },
        Ok,
    )
}

/// The digest signed is that of the latest minutes prepared.
pub fn ensure_latest(latest_sha256: &str, signed: &[u8; 32]) -> Result<(), RuleViolation> {
    if latest_sha256 == hex::encode(signed) {
        return Ok(());
    }
    refuse(
        "MINUTES_OUTDATED",
        format!("these are not the latest minutes prepared (SHA-256 {latest_sha256}); sign those"),
    )
}

/// Nothing the minutes print changed since they were prepared.
pub fn ensure_unchanged(prepared: &str, now: &str) -> Result<(), RuleViolation> {
    if prepared == now {
        return Ok(());
    }
    refuse(
        "MINUTES_OUTDATED",
        "marks, candidates or boards changed since the minutes were prepared: prepare them again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat<'a>(board: &'a str, member: &'a str, role: BoardRole) -> Printed<'a> {
        Printed {
            board_id: board,
            member_id: member,
            role,
        }
    }

    #[test]
    fn the_fingerprint_follows_decisions_and_seats() {
        let f = fingerprint(
            "[]",
            [
                seat("b", "1", BoardRole::President),
                seat("b", "2", BoardRole::Member),
            ],
        );
        let reordered = fingerprint(
            "[]",
            [
                seat("b", "2", BoardRole::Member),
                seat("b", "1", BoardRole::President),
            ],
        );
        assert_eq!(f, reordered);
        let replaced = fingerprint(
            "[]",
            [
                seat("b", "1", BoardRole::President),
                seat("b", "3", BoardRole::Member),
            ],
        );
        assert_ne!(f, replaced);
        assert_ne!(
            f,
            fingerprint("[{}]", [seat("b", "1", BoardRole::President)])
        );
    }

    #[test]
    fn a_key_is_registered_before_signing() {
        assert!(ensure_signing_key(true).is_ok());
        assert_eq!(
            ensure_signing_key(false).unwrap_err().rule,
            "NO_SIGNING_KEY"
        );
    }

    #[test]
    fn minutes_are_prepared_before_signing() {
        assert_eq!(prepared(Some(1)), Ok(1));
        assert_eq!(
            prepared(None::<()>).unwrap_err().rule,
            "MINUTES_NOT_PREPARED"
        );
    }

    #[test]
    fn only_the_latest_unchanged_minutes_are_signed() {
        let digest = keys::sha256(b"minutes");
        assert!(ensure_latest(&hex::encode(digest), &digest).is_ok());
        assert_eq!(
            ensure_latest("00", &digest).unwrap_err().rule,
            "MINUTES_OUTDATED"
        );
        assert!(ensure_unchanged("a", "a").is_ok());
        assert_eq!(
            ensure_unchanged("a", "b").unwrap_err().rule,
            "MINUTES_OUTDATED"
        );
    }
}
