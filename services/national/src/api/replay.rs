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

/// Looks for gaps and asks the académie concerned to publish again from the first missing
/// sequence; repeated while the gap lasts.
pub(super) async fn request_replays(
    core: ServiceCore,
    bus: SharedBus,
    config: NationalConfig,
    shutdown: CancellationToken,
) {
    let every = Duration::from_millis(config.gap_check_interval_ms.max(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        let now = core.now();
        let gaps =
            match store::ingest::gaps_to_request(&core.db, now, config.replay_backoff_ms).await {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for gaps");
                    continue;
                }
            };
        for s in gaps {
            let from = s.applied_sequence as u64 + 1;
            match bus
                .publish(&[replay_request(&s.academy, &s.source, from, now)])
                .await
            {
                Ok(()) => {
                    tracing::info!(academy = %s.academy, source = %s.source, from, "gap found: replay requested");
                    if let Err(e) =
                        store::ingest::mark_replay_requested(&core.db, &s.academy, &s.source, now)
                            .await
                    {
                        tracing::warn!(error = %e, "cannot note the replay request; it will be sent again");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot request a replay"),
            }
        }
    }
}

/// The control message asking `academy` to publish `source`'s facts again from `from`.
fn replay_request(academy: &str, source: &str, from: u64, now: DateTime<Utc>) -> Message {
    let payload = Payload::ReplayRequested(ReplayRequested {
        academy: academy.to_owned(),
        source: source.to_owned(),
        from_sequence: from,
        limit: REPLAY_LIMIT,
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
    fn a_replay_request_goes_to_the_academy_on_the_control_stream() {
        let m = replay_request("toulouse", "registration", 7, Utc::now());
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
