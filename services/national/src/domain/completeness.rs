//! Telling a gap from a quiet académie: every national event of a source carries a sequence
//! without holes; heartbeats announce the last one sent.

use chrono::{DateTime, Utc};

/// Whether a source was heard from (a fact or a heartbeat, the later of `last`) within
/// `window_ms` of `now`.
pub fn heard_recently(last: Option<DateTime<Utc>>, now: DateTime<Utc>, window_ms: u64) -> bool {
    last.is_some_and(|t| (now - t).num_milliseconds() <= window_ms as i64)
}

/// Missing sequence ranges (inclusive) after `applied`, given the sequences received above it
/// (any order) and the highest sequence announced by heartbeats.
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

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
}
