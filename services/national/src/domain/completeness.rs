//! Telling a gap from a quiet académie: every national event of a source carries a sequence
//! without holes; heartbeats announce the last one sent.

use chrono::{DateTime, Utc};
use cplds_runtime::kit::{RuleViolation, refuse};

/// Whether a source was heard from (a fact or a heartbeat, the later of `last`) within
/// `window_ms` of `now`.
pub fn heard_recently(last: Option<DateTime<Utc>>, now: DateTime<Utc>, window_ms: u64) -> bool {
    last.is_some_and(|t| (now - t).num_milliseconds() <= window_ms as i64)
}

/// Missing sequence ranges (inclusive) after `applied`, given the sequences received above it
/// (any order) and the highest sequence announced by heartbeats.
/// Whether facts wait above the applied sequence. The waiting list and the applied sequence are
/// read by two statements: a fact applied between them is in the list but no longer waiting.
pub fn behind(applied: u64, received_above: &[u64]) -> bool {
    received_above.iter().any(|&s| s > applied)
}

pub fn gaps(applied: u64, received_above: &[u64], announced: u64) -> Vec<(u64, u64)> {
    let mut seen: Vec<u64> = received_above
        .iter()
        .copied()
        .filter(|&s| s > applied)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    let mut out = Vec::new();
    let mut next = applied + 1;
    for s in seen {
        if s > next {
            out.push((next, s - 1));
        }
        next = s + 1;
    }
    if announced >= next {
        out.push((next, announced));
    }
    out
}

/// How far the contiguous prefix extends from `applied` with the received sequences.
pub fn contiguous(applied: u64, received_above: &[u64]) -> u64 {
    let mut seen: Vec<u64> = received_above.to_vec();
    seen.sort_unstable();
    let mut at = applied;
    for s in seen {
        if s == at + 1 {
            at = s;
        } else if s > at + 1 {
            break;
        }
    }
    at
}

/// Replay requests left unanswered after which a gap is reported as one replay cannot fill.
pub const UNANSWERED_LIMIT: i32 = 5;

/// The longest wait between two replay requests for the same gap.
pub const REPLAY_BACKOFF_CAP_MS: u64 = 30 * 60 * 1000;

/// When the gap of a source may be asked for again: at once if it never was; else `backoff_ms`
/// after the last request, doubled for each further request left unanswered (an académie
/// that is down is not asked every few seconds), at most [`REPLAY_BACKOFF_CAP_MS`].
pub fn next_replay_due(
    last_request: Option<DateTime<Utc>>,
    unanswered: i32,
    backoff_ms: u64,
) -> Option<DateTime<Utc>> {
    let last = last_request?;
    let doublings = unanswered.saturating_sub(1).clamp(0, 32) as u32;
    let wait = backoff_ms
        .saturating_mul(1u64 << doublings)
        .min(REPLAY_BACKOFF_CAP_MS.max(backoff_ms));
    Some(last + chrono::Duration::milliseconds(wait as i64))
}

/// What a source's completeness is, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Another event came under a sequence already applied: the académie's history was
    /// rewound (a schema restored from a backup).
    SequenceReused,
    /// A gap the académie was asked to replay [`UNANSWERED_LIMIT`] times, heard from meanwhile,
    /// without anything arriving: its history no longer holds those facts.
    GapUnfillable,
    /// Neither a fact nor a heartbeat within the allowed silence.
    Silent,
    /// A gap being replayed, or facts received and not applied yet.
    CatchingUp,
    /// Every fact received, some kept until this node knows their payload.
    WaitingForUpgrade,
    UpToDate,
}

/// What decides a source's state.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceFacts {
    pub has_gap: bool,
    /// Facts received after the applied sequence.
    pub behind: bool,
    pub heard_recently: bool,
    pub unanswered_replays: i32,
    pub kept_for_upgrade: u64,
    pub sequence_conflicts: u64,
}

pub fn assess(f: SourceFacts) -> SourceState {
    if f.sequence_conflicts > 0 {
        SourceState::SequenceReused
    } else if f.has_gap && f.heard_recently && f.unanswered_replays >= UNANSWERED_LIMIT {
        SourceState::GapUnfillable
    } else if !f.heard_recently {
        SourceState::Silent
    } else if f.has_gap || f.behind {
        SourceState::CatchingUp
    } else if f.kept_for_upgrade > 0 {
        SourceState::WaitingForUpgrade
    } else {
        SourceState::UpToDate
    }
}

impl SourceState {
    /// What the operator does about it; empty when nothing is needed.
    pub fn operator_action(self) -> &'static str {
        match self {
            SourceState::SequenceReused => {
                "sequence reused: restored from backup? Another event came under a sequence already \
                 applied. Follow the restore procedure of deploy/README.md (reset this source on the \
                 national node from the first sequence the backup lacks)."
            }
            SourceState::GapUnfillable => {
                "gap that replay cannot fill: the académie answers heartbeats but not the replay \
                 requests. Check its control queue and federation link, and whether its outbox \
                 history still holds these sequences (retention); if not, restore them from a backup \
                 (deploy/README.md, restore)."
            }
            SourceState::Silent => {
                "nothing heard within the allowed silence: check the académie's node and its \
                 federation link to the national broker."
            }
            SourceState::WaitingForUpgrade => {
                "facts of a newer contract are kept, not applied: upgrade the national node; they \
                 are asked again and applied at its start."
            }
            SourceState::CatchingUp | SourceState::UpToDate => "",
        }
    }
}

/// Where a source is reset from after its académie was restored from a backup: the sequence
/// the operator names, or else the lowest one in conflict (the first the restored académie
/// issued again).
pub fn reset_from(requested: u64, lowest_conflict: Option<u64>) -> Result<u64, RuleViolation> {
    match (requested, lowest_conflict) {
        (0, Some(c)) => Ok(c),
        (0, None) => refuse(
            "RESET_NEEDS_A_SEQUENCE",
            "no sequence conflict is recorded for this source: name the first sequence the restored académie lacks",
        ),
        (n, _) => Ok(n),
    }
}

/// How far beyond the highest sequence actually received a heartbeat is believed. Heartbeats are
/// signed (only the académie's relay can announce), and facts travel before the heartbeats
/// that count them, so a claim further ahead means lost facts: the gap is still seen (replays
/// are asked from the first missing one), but one claim can never mark a source incomplete by
/// millions; as replays fill it, the next heartbeat moves the bound on.
pub const HEARTBEAT_LEAD: i64 = 1_000;

/// What a heartbeat's claim is believed as, given the highest sequence seen.
pub fn bounded_claim(claimed: i64, seen: i64) -> i64 {
    claimed.min(seen.saturating_add(HEARTBEAT_LEAD))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_fact_applied_since_the_waiting_list_was_read_is_not_behind() {
        // Read first: 1049 and 1050 waiting; then the stream: applied up to 1050.
        assert!(!behind(1050, &[1049, 1050]));
        assert!(behind(1048, &[1049, 1050]));
        assert!(!behind(7, &[]));
    }

    #[test]
    fn a_source_is_heard_within_the_window() {
        use chrono::Duration;
        let now = Utc::now();
        assert!(heard_recently(Some(now - Duration::seconds(5)), now, 5_000));
        assert!(!heard_recently(
            Some(now - Duration::seconds(6)),
            now,
            5_000
        ));
        assert!(!heard_recently(None, now, 5_000));
    }

    #[test]
    fn replay_requests_back_off_on_silence_up_to_a_cap() {
        let t = Utc::now();
        let due = |n| next_replay_due(Some(t), n, 15_000).map(|d| (d - t).num_milliseconds());
        assert_eq!(
            next_replay_due(None, 0, 15_000),
            None,
            "never asked: due now"
        );
        assert_eq!(due(0), Some(15_000), "after progress, the base backoff");
        assert_eq!(due(1), Some(15_000));
        assert_eq!(due(2), Some(30_000));
        assert_eq!(due(4), Some(120_000));
        assert_eq!(due(20), Some(REPLAY_BACKOFF_CAP_MS as i64));
        assert_eq!(due(i32::MAX), Some(REPLAY_BACKOFF_CAP_MS as i64));
    }

    #[test]
    fn the_worst_state_wins() {
        let heard = SourceFacts {
            heard_recently: true,
            ..Default::default()
        };
        assert_eq!(assess(heard), SourceState::UpToDate);
        let gap = SourceFacts {
            has_gap: true,
            unanswered_replays: UNANSWERED_LIMIT - 1,
            ..heard
        };
        assert_eq!(assess(gap), SourceState::CatchingUp);
        let unfillable = SourceFacts {
            unanswered_replays: UNANSWERED_LIMIT,
            ..gap
        };
        assert_eq!(assess(unfillable), SourceState::GapUnfillable);
        assert_eq!(
            assess(SourceFacts {
                heard_recently: false,
                ..unfillable
            }),
            SourceState::Silent,
            "a silent académie is not asked whether its history was pruned"
        );
        assert_eq!(
            assess(SourceFacts {
                kept_for_upgrade: 1,
                ..heard
            }),
            SourceState::WaitingForUpgrade
        );
        assert_eq!(
            assess(SourceFacts {
                sequence_conflicts: 1,
                ..unfillable
            }),
            SourceState::SequenceReused
        );
        assert!(
            SourceState::SequenceReused
                .operator_action()
                .starts_with("sequence reused: restored from backup?")
        );
    }

    #[test]
    fn a_reset_starts_at_the_named_sequence_or_the_first_conflict() {
        assert_eq!(reset_from(0, Some(7)), Ok(7));
        assert_eq!(reset_from(5, Some(7)), Ok(5));
        assert_eq!(reset_from(5, None), Ok(5));
        assert_eq!(
            reset_from(0, None).unwrap_err().rule,
            "RESET_NEEDS_A_SEQUENCE"
        );
    }

    #[test]
    fn examples() {
        assert_eq!(gaps(3, &[5, 6, 9], 9), vec![(4, 4), (7, 8)]);
        assert_eq!(gaps(3, &[], 3), vec![]);
        assert_eq!(
            gaps(3, &[], 7),
            vec![(4, 7)],
            "a tail gap seen only through the heartbeat"
        );
        assert_eq!(contiguous(3, &[4, 5, 7]), 5);
    }

    proptest! {
        #[test]
        fn gaps_and_received_partition_the_range(applied in 0u64..20, received in prop::collection::vec(0u64..60, 0..30), announced in 0u64..60) {
            let g = gaps(applied, &received, announced);
            let top = received.iter().copied().chain([announced, applied]).max().unwrap();
            for s in applied + 1..=top {
                let in_gap = g.iter().any(|&(a, b)| a <= s && s <= b);
                prop_assert_eq!(in_gap, !received.contains(&s), "sequence {}", s);
            }
            let c = contiguous(applied, &received);
            prop_assert!(g.first().is_none_or(|&(a, _)| a == c + 1));
        }
    }

    #[test]
    fn a_heartbeat_is_believed_only_so_far_beyond_what_was_seen() {
        assert_eq!(bounded_claim(12, 10), 12);
        assert_eq!(bounded_claim(1_000_000, 10), 10 + HEARTBEAT_LEAD);
        assert_eq!(bounded_claim(i64::MAX, i64::MAX - 1), i64::MAX);
    }
}
