//! The event envelope (design.md) and routing keys `{academy}.{source}.{event}`, followed by
//! `.{addressee}` for payloads meant for one académie.

pub use cplds_proto::v1::{EventEnvelope, Stream, event_envelope::Payload};

/// Exchange where rejected (poison) messages are kept for inspection, one queue per consumer.
pub const DEAD_LETTER_EXCHANGE: &str = "cplds.dead";

pub fn routing_key(academy: &str, source: &str, event_type: &str) -> String {
    format!("{academy}.{source}.{event_type}")
}

/// The routing key of a payload published by `academy`'s `source`.
pub fn routing_key_of(academy: &str, source: &str, payload: &Payload) -> String {
    let key = routing_key(academy, source, payload.name());
    match payload.addressee() {
        Some(to) => format!("{key}.{to}"),
        None => key,
    }
}

/// An event a service wants published, before the outbox gives it identity and sequence.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub payload: Payload,
}

impl From<Payload> for NewEvent {
    fn from(payload: Payload) -> Self {
        Self { payload }
    }
}

pub fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::National => "national",
        Stream::Regional => "regional",
        Stream::Control => "control",
        Stream::Internal | Stream::Unspecified => "internal",
    }
}

pub fn parse_stream(name: &str) -> Option<Stream> {
    match name {
        "national" => Some(Stream::National),
        "internal" => Some(Stream::Internal),
        "regional" => Some(Stream::Regional),
        "control" => Some(Stream::Control),
        _ => None,
    }
}
