//! Who may say what: the public keys a node accepts events from, and the checks every event
//! passes before a consumer applies it.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::{signed_bytes, split, verify_with};
use crate::{
    auth::key_id,
    events::{EventEnvelope, Payload, Stream, routing_key},
    node::Node,
};

/// One public key of a producer: the académie and service it speaks for, and until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrustedKey {
    pub academy: String,
    pub service: String,
    /// The raw 32-byte Ed25519 public key, base64 (standard alphabet).
    pub public_key: String,
    /// Its id (as `cplds event-keys` prints it); checked against the key when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Events signed with it are refused after this instant (a retired key's end of grace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<DateTime<Utc>>,
}

impl TrustedKey {
    pub fn new(academy: &str, service: &str, key: &VerifyingKey) -> Self {
        Self {
            academy: academy.to_owned(),
            service: service.to_owned(),
            public_key: base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
            key_id: Some(key_id(key)),
            not_after: None,
        }
    }

    fn key(&self) -> anyhow::Result<VerifyingKey> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.public_key.trim())
            .map_err(|e| anyhow::anyhow!("public_key is not base64: {e}"))?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("public_key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|e| anyhow::anyhow!("public_key is not an Ed25519 key: {e}"))?;
        if let Some(kid) = &self.key_id
            && *kid != key_id(&key)
        {
            anyhow::bail!(
                "key_id {kid} is not the id of this public key ({})",
                key_id(&key)
            );
        }
        Ok(key)
    }
}

/// A file of trusted keys, as `cplds event-keys` prints it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TrustedKeyFile {
    #[serde(default)]
    pub trusted_keys: Vec<TrustedKey>,
}

impl TrustedKeyFile {
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string(self)?)
    }
}

struct Entry {
    academy: String,
    service: String,
    key: VerifyingKey,
    not_after: Option<DateTime<Utc>>,
}

/// The public keys a node accepts events from, by key id.
#[derive(Default)]
pub struct TrustRegistry {
    by_kid: HashMap<String, Vec<Entry>>,
}

impl std::fmt::Debug for TrustRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRegistry")
            .field("keys", &self.by_kid.len())
            .finish()
    }
}

impl TrustRegistry {
    /// From `events.trusted_keys`, the files of `events.trusted_key_files`, and `own` (the keys
    /// of the services this process runs).
    pub fn load(config: &crate::config::Config, own: &[TrustedKey]) -> anyhow::Result<Self> {
        let mut all: Vec<TrustedKey> = config.events.trusted_keys.clone();
        for path in &config.events.trusted_key_files {
            all.extend(read_key_file(path)?.trusted_keys);
        }
        all.extend(own.iter().cloned());
        Self::from_keys(&all)
    }

    pub fn from_keys(keys: &[TrustedKey]) -> anyhow::Result<Self> {
        let mut by_kid: HashMap<String, Vec<Entry>> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            let key = k.key().map_err(|e| {
                anyhow::anyhow!(
                    "events.trusted_keys[{i}] ({} {}): {e}",
                    k.academy,
                    k.service
                )
            })?;
            let entries = by_kid.entry(key_id(&key)).or_default();
            if !entries
                .iter()
                .any(|e| e.academy == k.academy && e.service == k.service)
            {
                entries.push(Entry {
                    academy: k.academy.clone(),
                    service: k.service.clone(),
                    key,
                    not_after: k.not_after,
                });
            }
        }
        Ok(Self { by_kid })
    }

    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }
}

pub fn read_key_file(path: &Path) -> anyhow::Result<TrustedKeyFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Why an event was refused (and quarantined, never applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No signature, or one that is not over this event.
    Unsigned,
    BadSignature,
    /// Signed with a key nobody registered.
    UnknownKey,
    /// Signed with the key of another académie or service than the envelope names.
    WrongSigner,
    /// Signed with a key past its `not_after`.
    ExpiredKey,
    /// The routing key does not say what the envelope says (académie, source, event).
    RoutingKey,
    /// The source service does not produce this payload (one service forging another's).
    WrongProducer,
    /// The payload does not travel on the envelope's stream, or not on this consumer's.
    WrongStream,
    /// An event of another académie on a stream that never leaves the académie.
    WrongAcademy,
    /// Federated from another académie's broker than the one the envelope names.
    Upstream,
    /// Not an envelope at all.
    Malformed,
}

impl Refusal {
    /// The stored and metric label of the refusal.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
            Refusal::UnknownKey => "unknown_key",
            Refusal::WrongSigner => "wrong_signer",
            Refusal::ExpiredKey => "expired_key",
            Refusal::RoutingKey => "routing_key",
            Refusal::WrongProducer => "wrong_producer",
            Refusal::WrongStream => "wrong_stream",
            Refusal::WrongAcademy => "wrong_academy",
            Refusal::Upstream => "upstream",
            Refusal::Malformed => "malformed",
        }
    }

    pub const ALL: [Refusal; 11] = [
        Refusal::Unsigned,
        Refusal::BadSignature,
        Refusal::UnknownKey,
        Refusal::WrongSigner,
        Refusal::ExpiredKey,
        Refusal::RoutingKey,
        Refusal::WrongProducer,
        Refusal::WrongStream,
        Refusal::WrongAcademy,
        Refusal::Upstream,
        Refusal::Malformed,
    ];
}

/// The header the RabbitMQ federation plugin adds (flattened by the AMQP bus to the URIs of the
/// hops, space-separated): which upstream broker a message came through.
pub const RECEIVED_FROM: &str = "x-received-from";

/// What a node checks of every event before its consumers apply it.
#[derive(Debug)]
pub struct Verifier {
    registry: TrustRegistry,
    node: Node,
    /// Per académie, the URI (without credentials) of the broker its events are federated from.
    upstreams: BTreeMap<String, String>,
}

/// What a consumer received: the envelope with how it came.
pub struct Received<'a> {
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub headers: &'a BTreeMap<String, String>,
    pub envelope: &'a EventEnvelope,
}

impl Verifier {
    pub fn new(registry: TrustRegistry, node: Node, upstreams: BTreeMap<String, String>) -> Self {
        Self {
            registry,
            node,
            upstreams,
        }
    }

    /// Every check, in the order that names the most precise cause.
    pub fn check(&self, r: &Received<'_>, now: DateTime<Utc>) -> Result<(), Refusal> {
        let e = r.envelope;
        let split = split(r.body).map_err(|_| Refusal::Malformed)?;
        let (Some(kid), Some(signature)) = (split.key_id, split.signature) else {
            return Err(Refusal::Unsigned);
        };
        let entries = self.registry.by_kid.get(&kid).ok_or(Refusal::UnknownKey)?;
        let entry = entries
            .iter()
            .find(|x| x.academy == e.academy && x.service == e.source)
            .ok_or(Refusal::WrongSigner)?;
        if !verify_with(
            &entry.key,
            &signed_bytes(r.routing_key, &split.unsigned),
            &signature,
        ) {
            return Err(Refusal::BadSignature);
        }
        if entry.not_after.is_some_and(|t| now > t) {
            return Err(Refusal::ExpiredKey);
        }
        check_routing(e, r.routing_key)?;
        self.check_place(e)?;
        self.check_upstream(e, r.headers)
    }

    /// The envelope is on the stream its payload belongs to, and internal events never come
    /// from another académie.
    fn check_place(&self, e: &EventEnvelope) -> Result<(), Refusal> {
        if let Some(p) = &e.payload
            && p.stream() as i32 != e.stream
        {
            return Err(Refusal::WrongStream);
        }
        let stream = Stream::try_from(e.stream).map_err(|_| Refusal::WrongStream)?;
        match (self.node, stream) {
            (Node::National, Stream::National) => Ok(()),
            (Node::National, _) => Err(Refusal::WrongStream),
            (Node::Academy(a), Stream::Internal) if a.code != e.academy => {
                Err(Refusal::WrongAcademy)
            }
            _ => Ok(()),
        }
    }

    fn check_upstream(
        &self,
        e: &EventEnvelope,
        headers: &BTreeMap<String, String>,
    ) -> Result<(), Refusal> {
        let Some(hops) = headers.get(RECEIVED_FROM) else {
            // Not federated (published on this broker, or the embedded bus).
            return Ok(());
        };
        if self.upstreams.is_empty() {
            return Ok(());
        }
        let expected = self.upstreams.get(&e.academy).ok_or(Refusal::Upstream)?;
        let mut hops = hops.split_whitespace();
        match (hops.next(), hops.next()) {
            (Some(only), None) if same_uri(only, expected) => Ok(()),
            _ => Err(Refusal::Upstream),
        }
    }
}

/// The same broker and vhost, whatever the credentials and TLS parameters.
fn same_uri(a: &str, b: &str) -> bool {
    fn bare(u: &str) -> &str {
        let u = u.split(['?', '#']).next().unwrap_or(u);
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        rest.trim_end_matches('/')
    }
    bare(a) == bare(b)
}

/// The routing key is the one the envelope's académie, source and payload give, and the source
/// is the service that produces that payload.
fn check_routing(e: &EventEnvelope, key: &str) -> Result<(), Refusal> {
    match &e.payload {
        Some(p) => {
            // Records committed before payloads were addressed keep their unaddressed key.
            if (crate::events::routing_key_of(&e.academy, &e.source, p) != key
                && routing_key(&e.academy, &e.source, p.name()) != key)
                || p.name() != e.r#type
            {
                return Err(Refusal::RoutingKey);
            }
            let producer = p.producer();
            let own_heartbeat = match p {
                Payload::NodeHeartbeat(h) => h.source == e.source,
                _ => true,
            };
            if (producer != "*" && producer != e.source) || !own_heartbeat {
                return Err(Refusal::WrongProducer);
            }
            Ok(())
        }
        // A payload this build does not know: the key must still name its académie and source.
        None => {
            let base = routing_key(&e.academy, &e.source, &e.r#type);
            if key == base || key.strip_prefix(&base).is_some_and(|r| r.starts_with('.')) {
                Ok(())
            } else {
                Err(Refusal::RoutingKey)
            }
        }
    }
}
