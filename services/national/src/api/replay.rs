//! Closing gaps: the job that looks for sources whose facts stopped short of what is known to
//! exist, and asks the académie concerned, on the control stream, to publish them again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cplds_proto::v1::{self as pb, EventEnvelope, ReplayRequested, event_envelope::Payload};
use cplds_runtime::{
    bus::{Message, SharedBus, Stream},
    config::NationalConfig,
    kit::{ServiceCore, new_id},
    node::NATIONAL,
    time::to_timestamp,
};
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::{NAME, store};

/// How many facts one request asks for; a longer gap is asked again from where it stops.
const REPLAY_LIMIT: u32 = 5_000;

/// Runs of kept facts asked again at start, at most (the rest at the next start).
const KEPT_RUNS_ASKED: usize = 100;

/// Looks for gaps and asks the académie concerned to publish again from the first missing
/// sequence, while the gap lasts, backing off while it goes unanswered. Replicas share the
/// schedule through the database: each request is claimed by one of them. Facts waiting behind
/// a closed gap are applied first, a bounded transaction at a time. At start, facts kept for an
/// upgrade are asked again: this build may know their payload.
pub(super) async fn request_replays(
    core: ServiceCore,
    bus: SharedBus,
    config: NationalConfig,
    shutdown: CancellationToken,
) {
    let every = Duration::from_millis(config.gap_check_interval_ms.max(100));
    let mut kept_asked = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        let now = core.now();
        if !kept_asked {
            kept_asked = ask_kept_again(&core, &bus, now).await;
        }
        catch_up(&core, now).await;
        let gaps =
            match store::ingest::gaps_to_request(&core.db, now, config.replay_backoff_ms).await {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for gaps");
                    continue;
                }
            };
        for s in gaps {
            match store::ingest::claim_replay(&core.db, &s, now).await {
                Ok(true) => {}
                Ok(false) => continue, // another replica asked this round
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a replay request");
                    continue;
                }
            }
            let from = s.applied_sequence as u64 + 1;
            // Only the gap: what follows it is here already, and an académie whose history lost
            // the gap would otherwise send it all again at every request.
            let limit =
                match store::next_received(&core.db, &s.academy, &s.source, s.applied_sequence)
                    .await
                {
                    Ok(Some(next)) => gap_limit(from, next),
                    Ok(None) => REPLAY_LIMIT,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot measure the gap; asking for the most");
                        REPLAY_LIMIT
                    }
                };
            match bus
                .publish(&[replay_request(&s.academy, &s.source, from, limit, now)])
                .await
            {
                Ok(()) => {
                    tracing::info!(academy = %s.academy, source = %s.source, from, unanswered = s.unanswered_replays, "gap found: replay requested");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot request a replay");
                    if let Err(e) = store::ingest::release_replay(&core.db, &s).await {
                        tracing::warn!(error = %e, "cannot release the replay request; asked again after the backoff");
                    }
                }
            }
        }
    }
}

/// Applies what waits behind gaps that closed, [`store::ingest::CATCH_UP_PER_TRANSACTION`]
/// facts per transaction.
async fn catch_up(core: &ServiceCore, now: DateTime<Utc>) {
    let behind = match store::ingest::streams_behind(&core.db).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for facts waiting");
            return;
        }
    };
    for s in behind {
        match store::ingest::catch_up(
            &core.db,
            &s.academy,
            &s.source,
            store::ingest::CATCH_UP_PER_TRANSACTION,
            now,
        )
        .await
        {
            Ok(done) if done.facts > 0 => {
                tracing::info!(academy = %s.academy, source = %s.source, facts = done.facts, transactions = done.transactions, "caught up")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(academy = %s.academy, source = %s.source, error = %e, "catch-up failed; next check")
            }
        }
    }
}

/// How many facts to ask for a gap from `from` up to the fact received at `next`: the gap, at
/// most [`REPLAY_LIMIT`] (the rest is asked from where that stops).
fn gap_limit(from: u64, next: u64) -> u32 {
    u32::try_from(next.saturating_sub(from))
        .unwrap_or(REPLAY_LIMIT)
        .clamp(1, REPLAY_LIMIT)
}

/// Asks again, once per start, for the facts kept because their payload was unknown; true once
/// asked (or nothing to ask).
async fn ask_kept_again(core: &ServiceCore, bus: &SharedBus, now: DateTime<Utc>) -> bool {
    let runs = match store::ingest::kept_runs(&core.db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the facts kept for an upgrade");
            return false;
        }
    };
    let requests: Vec<Message> = runs
        .iter()
        .take(KEPT_RUNS_ASKED)
        .map(|(academy, source, from, n)| {
            replay_request(academy, source, *from, (*n).min(REPLAY_LIMIT), now)
        })
        .collect();
    if requests.is_empty() {
        return true;
    }
    match bus.publish(&requests).await {
        Ok(()) => {
            tracing::info!(
                runs = requests.len(),
                "facts kept for an upgrade asked again"
            );
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask again for the facts kept for an upgrade");
            false
        }
    }
}

/// The control message asking `academy` to publish `source`'s facts again from `from`.
fn replay_request(
    academy: &str,
    source: &str,
    from: u64,
    limit: u32,
    now: DateTime<Utc>,
) -> Message {
    let payload = Payload::ReplayRequested(ReplayRequested {
        academy: academy.to_owned(),
        source: source.to_owned(),
        from_sequence: from,
        limit,
    });
    let envelope = EventEnvelope {
        event_id: new_id(),
        academy: NATIONAL.into(),
        source: NAME.into(),
        sequence: 0,
        occurred_at: Some(to_timestamp(now)),
        r#type: payload.name().into(),
        stream: pb::Stream::Control as i32,
        trace_context: Default::default(),
        payload: Some(payload),
        ..Default::default()
    };
    Message {
        stream: Stream::Control,
        routing_key: format!("{academy}.national.replay_requested"),
        message_id: envelope.event_id.clone(),
        event_type: envelope.r#type.clone(),
        body: envelope.encode_to_vec(),
        headers: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_asked_for_its_length_at_most_the_limit() {
        assert_eq!(gap_limit(4001, 4011), 10);
        assert_eq!(gap_limit(1, 2), 1);
        assert_eq!(gap_limit(1, 1_000_000), REPLAY_LIMIT);
        assert_eq!(gap_limit(5, 5), 1);
    }

    #[test]
    fn a_replay_request_goes_to_the_academy_on_the_control_stream() {
        let m = replay_request("toulouse", "registration", 7, REPLAY_LIMIT, Utc::now());
        assert_eq!(m.stream, Stream::Control);
        assert_eq!(m.routing_key, "toulouse.national.replay_requested");
        let e = EventEnvelope::decode(m.body.as_slice()).unwrap();
        assert_eq!(
            (e.academy.as_str(), e.source.as_str()),
            ("national", "national")
        );
        let Some(Payload::ReplayRequested(r)) = e.payload else {
            panic!("{e:?}")
        };
        assert_eq!(
            (
                r.academy.as_str(),
                r.source.as_str(),
                r.from_sequence,
                r.limit
            ),
            ("toulouse", "registration", 7, 5_000)
        );
    }
}
