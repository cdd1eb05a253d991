use std::collections::BTreeMap;

use cplds_proto::v1::{NationalCandidacyRegistered, NodeHeartbeat};
use prost::Message as _;

use super::*;
use crate::{
    event_signing::registry::Received,
    events::{EventEnvelope, Payload, Stream, routing_key_of},
    node::Node,
};

fn fact(academy: &str, source: &str, sequence: u64, payload: Payload) -> Message {
    let key = routing_key_of(academy, source, &payload);
    let e = EventEnvelope {
        event_id: format!("e-{sequence}"),
        academy: academy.into(),
        source: source.into(),
        sequence,
        r#type: payload.name().into(),
        stream: payload.stream() as i32,
        payload: Some(payload),
        ..Default::default()
    };
    Message {
        stream: Stream::National,
        routing_key: key,
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: BTreeMap::new(),
    }
}

fn registered() -> Payload {
    Payload::NationalCandidacyRegistered(NationalCandidacyRegistered::default())
}

fn check(v: &Verifier, m: &Message) -> Result<(), Refusal> {
    let e = EventEnvelope::decode(m.body.as_slice()).unwrap();
    v.check(
        &Received {
            routing_key: &m.routing_key,
            body: &m.body,
            headers: &m.headers,
            envelope: &e,
        },
        chrono::Utc::now(),
    )
}

fn national(keys: &FederationKeys) -> Verifier {
    Verifier::new(
        TrustRegistry::from_keys(&keys.registry()).unwrap(),
        Node::National,
        BTreeMap::new(),
    )
}

#[test]
fn a_signed_fact_verifies_and_any_change_breaks_it() {
    let keys = FederationKeys::generate();
    let v = national(&keys);
    let signer = keys.signer("toulouse", "registration").unwrap();
    let mut m = fact("toulouse", "registration", 7, registered());
    assert_eq!(check(&v, &m), Err(Refusal::Unsigned));
    signer.sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()));
    // Signing again (a replay) replaces the signature rather than adding one.
    signer.sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()));

    // The same fact under another sequence (a replayed old fact renumbered).
    let mut e = EventEnvelope::decode(m.body.as_slice()).unwrap();
    e.sequence = 8;
    let renumbered = Message {
        body: e.encode_to_vec(),
        ..m.clone()
    };
    assert_eq!(check(&v, &renumbered), Err(Refusal::BadSignature));
}

#[test]
fn another_academys_or_services_key_is_refused() {
    let keys = FederationKeys::generate();
    let v = national(&keys);
    // Bordeaux signs a fact claiming to be Toulouse's.
    let mut m = fact("toulouse", "registration", 1, registered());
    keys.signer("bordeaux", "registration")
        .unwrap()
        .sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::WrongSigner));
    // Toulouse's training signs registration's fact.
    let mut m = fact("toulouse", "registration", 1, registered());
    keys.signer("toulouse", "training").unwrap().sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::WrongSigner));
    // Training publishes registration's fact under its own name.
    let mut m = fact("toulouse", "training", 1, registered());
    keys.signer("toulouse", "training").unwrap().sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::WrongProducer));
    // A key nobody registered.
    let mut m = fact("toulouse", "registration", 1, registered());
    EventSigner::new(
        "toulouse",
        "registration",
        KeyRing::new(SigningKey::from_bytes(&[9; 32]), vec![]),
    )
    .sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::UnknownKey));
}

#[test]
fn the_routing_key_is_covered_and_checked() {
    let keys = FederationKeys::generate();
    let v = national(&keys);
    let signer = keys.signer("toulouse", "registration").unwrap();
    let mut m = fact("toulouse", "registration", 1, registered());
    signer.sign(&mut m);
    let mut moved = m.clone();
    moved.routing_key = "toulouse.registration.figures_approved".into();
    assert_eq!(check(&v, &moved), Err(Refusal::BadSignature));
    // Signed under a key that does not say what the envelope says.
    let mut m = fact("toulouse", "registration", 1, registered());
    m.routing_key = "toulouse.registration.candidacy_decided".into();
    signer.sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::RoutingKey));
}

#[test]
fn a_payload_unknown_to_the_verifier_still_verifies() {
    let keys = FederationKeys::generate();
    let v = national(&keys);
    let mut m = fact("toulouse", "registration", 3, registered());
    // A field number this build does not know, as a newer producer would send.
    m.body.extend_from_slice(&[0xfa, 0x3e, 0x02, 0x08, 0x01]);
    m.routing_key = "toulouse.registration.candidacy_registered".into();
    keys.signer("toulouse", "registration")
        .unwrap()
        .sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()));
}

#[test]
fn heartbeats_speak_for_their_own_relay_only() {
    let keys = FederationKeys::generate();
    let v = national(&keys);
    let beat = |source: &str| {
        Payload::NodeHeartbeat(NodeHeartbeat {
            source: source.into(),
            last_sequence: 5,
            sent_at: None,
        })
    };
    let mut m = fact("toulouse", "training", 0, beat("training"));
    keys.signer("toulouse", "training").unwrap().sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()));
    let mut m = fact("toulouse", "training", 0, beat("registration"));
    keys.signer("toulouse", "training").unwrap().sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::WrongProducer));
}

#[test]
fn a_federated_fact_comes_through_its_academys_link() {
    let keys = FederationKeys::generate();
    let v = Verifier::new(
        TrustRegistry::from_keys(&keys.registry()).unwrap(),
        Node::National,
        [
            (
                "toulouse".to_owned(),
                "amqp://broker.toulouse/cplds".to_owned(),
            ),
            (
                "bordeaux".to_owned(),
                "amqp://broker.bordeaux/cplds".to_owned(),
            ),
        ]
        .into(),
    );
    let mut m = fact("toulouse", "registration", 1, registered());
    keys.signer("toulouse", "registration")
        .unwrap()
        .sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()), "not federated: nothing to check");
    m.headers.insert(
        registry::RECEIVED_FROM.into(),
        "amqp://broker.toulouse/cplds".into(),
    );
    assert_eq!(check(&v, &m), Ok(()));
    m.headers.insert(
        registry::RECEIVED_FROM.into(),
        "amqp://broker.bordeaux/cplds".into(),
    );
    assert_eq!(check(&v, &m), Err(Refusal::Upstream));
}

#[test]
fn internal_events_never_come_from_another_academy() {
    let keys = FederationKeys::generate();
    let toulouse = Node::parse("toulouse").unwrap();
    let v = Verifier::new(
        TrustRegistry::from_keys(&keys.registry()).unwrap(),
        toulouse,
        BTreeMap::new(),
    );
    let submitted = Payload::CandidacySubmitted(Default::default());
    let mut m = fact("bordeaux", "registration", 1, submitted.clone());
    keys.signer("bordeaux", "registration")
        .unwrap()
        .sign(&mut m);
    assert_eq!(check(&v, &m), Err(Refusal::WrongAcademy));
    let mut m = fact("toulouse", "registration", 1, submitted);
    keys.signer("toulouse", "registration")
        .unwrap()
        .sign(&mut m);
    assert_eq!(check(&v, &m), Ok(()));
}

#[test]
fn a_registry_entry_with_a_wrong_key_id_is_refused() {
    let keys = FederationKeys::generate();
    let mut entry = keys.registry().remove(0);
    entry.key_id = Some("0000000000000000".into());
    assert!(TrustRegistry::from_keys(&[entry]).is_err());
}
