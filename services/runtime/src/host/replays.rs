//! Replays on request: the national node asks, on the control stream, for a source's national
//! events from a sequence on; the académie's relay of that source publishes them again.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::{bus::SharedBus, outbox::OutboxRelay};

/// How long a replay request waits to be served before it is stale (the national node asks again
/// while the gap lasts), and how many may wait: a storm of requests cannot pile up.
pub const CONTROL_TTL_MS: u32 = 10 * 60 * 1000;
pub const CONTROL_MAX_LENGTH: u32 = 1_000;
/// Events one replay request may cause, whatever it asks for.
pub const REPLAY_CAP: u32 = 5_000;
/// Events per publish while replaying, and the pause between two publishes.
pub const REPLAY_BATCH: u32 = 500;
const REPLAY_PAUSE: Duration = Duration::from_millis(20);

/// Where an académie node receives the national node's requests: bounded in age and length.
pub fn control_queue(academy: &str, service: &str) -> crate::bus::QueueSpec {
    crate::bus::QueueSpec::new(
        format!("{academy}.control.{service}"),
        vec![crate::bus::Binding::new(
            crate::events::Stream::Control,
            format!("{academy}.national.replay_requested"),
        )],
    )
    .with_message_ttl(CONTROL_TTL_MS)
    .with_max_length(CONTROL_MAX_LENGTH)
}

/// Answers replay requests from the national node by publishing again, from the outbox history,
/// the national events of the named service: at most [`REPLAY_CAP`] per request, in paced
/// batches. A request for a (service, sequence) already served after it was sent is coalesced
/// (answered by that replay). Replays are idempotent for their consumers.
pub(super) async fn serve_replays(
    bus: SharedBus,
    queue: crate::bus::QueueSpec,
    academy: String,
    relays: HashMap<&'static str, Arc<OutboxRelay>>,
    shutdown: CancellationToken,
) {
    use prost::Message as _;
    let mut served = ServedReplays::default();
    loop {
        let mut sub = match bus.subscribe(&queue).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot consume the control queue; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    () = shutdown.cancelled() => return,
                }
            }
        };
        loop {
            let delivery = tokio::select! {
                d = sub.next() => d,
                () = shutdown.cancelled() => return,
            };
            let Some(delivery) = delivery else { break };
            let request = crate::events::EventEnvelope::decode(delivery.body.as_slice())
                .ok()
                .and_then(|e| match e.payload {
                    Some(crate::events::Payload::ReplayRequested(r)) => {
                        let sent = e
                            .occurred_at
                            .as_ref()
                            .and_then(|t| crate::time::from_timestamp(t).ok());
                        Some((r, sent))
                    }
                    _ => None,
                });
            match request {
                Some((r, sent)) if r.academy == academy => match relays.get(r.source.as_str()) {
                    Some(relay) => {
                        if served.covers(&r.source, r.from_sequence, sent) {
                            tracing::debug!(source = %r.source, from = r.from_sequence, "replay already served since this request; coalesced");
                        } else {
                            let limit = r.limit.clamp(1, REPLAY_CAP);
                            match relay
                                .replay_paced(
                                    crate::events::Stream::National,
                                    r.from_sequence,
                                    limit,
                                    REPLAY_BATCH,
                                    REPLAY_PAUSE,
                                )
                                .await
                            {
                                Ok(n) => {
                                    served.record(&r.source, r.from_sequence, chrono::Utc::now());
                                    tracing::info!(source = %r.source, from = r.from_sequence, replayed = n, "replayed national events on request")
                                }
                                Err(e) => {
                                    tracing::warn!(source = %r.source, error = %e, "replay failed; the request will come again");
                                }
                            }
                        }
                    }
                    None => {
                        tracing::debug!(source = %r.source, "replay requested for a service this node does not run")
                    }
                },
                _ => tracing::debug!("ignored a control message"),
            }
            let _ = delivery.ack().await;
            served.forget_before(chrono::Utc::now());
        }
    }
}

/// Replays served lately, by (source, from sequence), to coalesce the requests for the same
/// range that queued up while one was served. A request is covered when that range was replayed
/// after the request was sent (the national node's clock); a skewed clock only ever turns
/// coalescing off, since a replay counts only within the control queue's TTL after the request.
#[derive(Default)]
struct ServedReplays(HashMap<(String, u64), chrono::DateTime<chrono::Utc>>);

impl ServedReplays {
    fn window() -> chrono::Duration {
        chrono::Duration::milliseconds(i64::from(CONTROL_TTL_MS))
    }

    fn covers(&self, source: &str, from: u64, sent: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        match (self.0.get(&(source.to_owned(), from)), sent) {
            (Some(at), Some(sent)) => *at >= sent && *at - sent < Self::window(),
            _ => false,
        }
    }

    fn record(&mut self, source: &str, from: u64, at: chrono::DateTime<chrono::Utc>) {
        self.0.insert((source.to_owned(), from), at);
    }

    /// Forgets replays too old to cover any request still waiting in the queue.
    fn forget_before(&mut self, now: chrono::DateTime<chrono::Utc>) {
        let horizon = now - Self::window();
        self.0.retain(|_, at| *at > horizon);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::ServedReplays;

    #[test]
    fn replay_requests_for_a_range_just_served_are_coalesced() {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let mut served = ServedReplays::default();
        assert!(
            !served.covers("registration", 41, Some(t0)),
            "nothing served yet"
        );
        served.record("registration", 41, t0 + Duration::seconds(5));
        // Sent before that replay (it queued up meanwhile): answered by it.
        assert!(served.covers("registration", 41, Some(t0)));
        // Sent after it (the gap is still there): served again.
        assert!(!served.covers("registration", 41, Some(t0 + Duration::seconds(6))));
        // Another range, another source, or no sending time: served.
        assert!(!served.covers("registration", 42, Some(t0)));
        assert!(!served.covers("training", 41, Some(t0)));
        assert!(!served.covers("registration", 41, None));
        // A clock far behind does not silence requests for ever.
        assert!(!served.covers("registration", 41, Some(t0 - Duration::days(3))));
        served.forget_before(t0 + Duration::hours(1));
        assert!(!served.covers("registration", 41, Some(t0)));
    }
}
