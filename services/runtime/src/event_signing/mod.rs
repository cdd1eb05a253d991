//! Signed events (issue 12 §1): every envelope is signed by the service that produced it, with an
//! Ed25519 key of its own (per académie and service), and every consumer verifies it before
//! applying it.
//!
//! - The relay signs at publish time, after sequencing: the signature covers the routing key and
//!   the envelope as sent (académie, source, stream, sequence, event id, type, payload...). It is
//!   carried in the envelope itself (fields 9 and 10, appended after the others), so it survives
//!   federation, dead-lettering and redrive unchanged.
//! - A verifier strips those two fields from the raw bytes to get what was signed: an envelope
//!   whose payload it does not know (a newer producer) still verifies.
//! - Keys rotate like document keys ([`crate::signing::KeyRing`]): the first file signs, the
//!   others are retired keys still published; consumers hold a registry of public keys
//!   ([`registry::TrustRegistry`]) naming, for each key id, the académie and service it speaks for.

pub mod registry;

use std::{collections::BTreeMap, path::PathBuf};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

use crate::{auth::read_signing_key, bus::Message, config::Config, signing::KeyRing};

pub use registry::{Refusal, TrustRegistry, TrustedKey, Verifier};

/// Field numbers of the signature in `EventEnvelope`.
const KEY_ID_FIELD: u64 = 9;
const SIGNATURE_FIELD: u64 = 10;
/// What the signature is over starts with this, so a signature over an event can never be
/// replayed as one over something else.
const DOMAIN: &[u8] = b"cplds-event-v1\n";

/// The bytes an event's signature covers: the routing key (length-prefixed) and the envelope as
/// sent, without its signature fields.
pub fn signed_bytes(routing_key: &str, unsigned_envelope: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(DOMAIN.len() + 4 + routing_key.len() + unsigned_envelope.len());
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&(routing_key.len() as u32).to_be_bytes());
    out.extend_from_slice(routing_key.as_bytes());
    out.extend_from_slice(unsigned_envelope);
    out
}

/// An envelope's raw bytes split into what was signed and the signature fields found.
#[derive(Debug, Default)]
pub struct Split {
    pub unsigned: Vec<u8>,
    pub key_id: Option<String>,
    pub signature: Option<Vec<u8>>,
}

/// Walks the top-level protobuf fields of `body`, keeping every field but the signature's in
/// order. Fails on malformed wire data (groups are not used by the contract).
pub fn split(body: &[u8]) -> Result<Split, &'static str> {
    let mut out = Split {
        unsigned: Vec::with_capacity(body.len()),
        ..Default::default()
    };
    let mut at = 0;
    while at < body.len() {
        let start = at;
        let key = varint(body, &mut at)?;
        let (field, wire) = (key >> 3, key & 7);
        let value_start;
        match wire {
            0 => {
                varint(body, &mut at)?;
                value_start = at;
            }
            1 => {
                at = at.checked_add(8).ok_or("truncated")?;
                value_start = at;
            }
            2 => {
                let len = usize::try_from(varint(body, &mut at)?).map_err(|_| "too long")?;
                value_start = at;
                at = at.checked_add(len).ok_or("truncated")?;
            }
            5 => {
                at = at.checked_add(4).ok_or("truncated")?;
                value_start = at;
            }
            _ => return Err("unsupported wire type"),
        }
        if at > body.len() {
            return Err("truncated");
        }
        match (field, wire) {
            (KEY_ID_FIELD, 2) => {
                out.key_id =
                    Some(String::from_utf8(body[value_start..at].to_vec()).map_err(|_| "key id")?);
            }
            (SIGNATURE_FIELD, 2) => out.signature = Some(body[value_start..at].to_vec()),
            _ => out.unsigned.extend_from_slice(&body[start..at]),
        }
    }
    Ok(out)
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*at).ok_or("truncated")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long")
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A service's producer keys: signs what its relay publishes.
#[derive(Clone, Debug)]
pub struct EventSigner {
    academy: String,
    service: String,
    ring: KeyRing,
}

impl EventSigner {
    pub fn new(academy: &str, service: &str, ring: KeyRing) -> Self {
        Self {
            academy: academy.to_owned(),
            service: service.to_owned(),
            ring,
        }
    }

    /// The keys of `service` from `events.signing_key_files` (first signs, the others are
    /// retired public keys); else one generated under `data_dir/secrets` on first start.
    pub fn load(config: &Config, academy: &str, service: &str) -> anyhow::Result<Self> {
        let files = config
            .events
            .signing_key_files
            .get(service)
            .cloned()
            .unwrap_or_default();
        let ring = match files.split_first() {
            Some((current, retired)) => KeyRing::new(
                read_signing_key(current)?,
                retired
                    .iter()
                    .map(|p| crate::signing::read_retired_key(p))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            ),
            None => {
                let path = default_key_path(config, service);
                if !path.exists() {
                    write_key(&path, &SigningKey::generate(&mut rand::rngs::OsRng))?;
                    tracing::warn!(path = %path.display(), service, "generated the service's event signing key; configure events.signing_key_files and publish it to the national node (cplds event-keys)");
                }
                KeyRing::new(read_signing_key(&path)?, Vec::new())
            }
        };
        Ok(Self::new(academy, service, ring))
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs `message` in place: appends the key id and the signature to its envelope. A message
    /// already signed is signed again (a replay, perhaps with a newer key).
    pub fn sign(&self, message: &mut Message) {
        let unsigned = match split(&message.body) {
            Ok(s) => s.unsigned,
            // Not an envelope the relay wrote; sign the bytes as they are (verification fails
            // the same way it would have).
            Err(_) => message.body.clone(),
        };
        let (kid, signature) = self
            .ring
            .sign(&signed_bytes(&message.routing_key, &unsigned));
        let mut body = unsigned;
        put_bytes_field(&mut body, KEY_ID_FIELD, kid.as_bytes());
        put_bytes_field(&mut body, SIGNATURE_FIELD, &signature.to_bytes());
        message.body = body;
    }

    /// This service's public keys, current first, as a registry lists them.
    pub fn published(&self) -> Vec<TrustedKey> {
        self.ring
            .keys()
            .map(|(_, key, _)| TrustedKey::new(&self.academy, &self.service, key))
            .collect()
    }
}

/// Where a service's generated event key lives.
pub fn default_key_path(config: &Config, service: &str) -> PathBuf {
    config
        .secrets_dir()
        .join(format!("events_{service}_ed25519.pem"))
}

/// Writes a private key (PKCS#8 PEM, owner-only).
pub fn write_key(path: &std::path::Path, key: &SigningKey) -> anyhow::Result<()> {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding a key: {e}"))?;
    crate::secrets::write_private(path, pem.as_bytes())
}

/// Verifies a detached signature with `key` (strictly: no malleable signatures).
pub(crate) fn verify_with(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// Keys for a whole federation, generated in memory: the demo, the sandbox and the test harness
/// give each node its services' keys and every node the registry of all of them, so nodes
/// started in any order trust one another with no setup.
pub struct FederationKeys {
    keys: BTreeMap<(String, String), SigningKey>,
}

impl FederationKeys {
    /// A key per académie (and the national node) and producing service.
    pub fn generate() -> Self {
        let mut keys = BTreeMap::new();
        let codes = crate::academy::ACADEMIES
            .iter()
            .map(|a| a.code)
            .chain([crate::node::NATIONAL]);
        for code in codes {
            for service in cplds_proto::PRODUCERS {
                keys.insert(
                    (code.to_owned(), service.to_owned()),
                    SigningKey::generate(&mut rand::rngs::OsRng),
                );
            }
        }
        Self { keys }
    }

    /// One key set per process: every in-process node (the demo, the sandbox, the test
    /// harness) draws from it, so nodes trust one another whatever order they start in.
    pub fn shared() -> &'static FederationKeys {
        static KEYS: std::sync::OnceLock<FederationKeys> = std::sync::OnceLock::new();
        KEYS.get_or_init(FederationKeys::generate)
    }

    /// Signs `message` as its envelope's académie and source would (tests publishing what a
    /// producer would, by hand). Returns false when the envelope names no known producer.
    pub fn sign_as_producer(&self, message: &mut Message) -> bool {
        use prost::Message as _;
        let Ok(e) = crate::events::EventEnvelope::decode(message.body.as_slice()) else {
            return false;
        };
        match self.signer(&e.academy, &e.source) {
            Some(signer) => {
                signer.sign(message);
                true
            }
            None => false,
        }
    }

    /// Gives `config` (a node of `academy`) its services' keys, written under its data
    /// directory, and the registry of every key of the federation.
    pub fn configure(&self, config: &mut Config, academy: &str) -> anyhow::Result<()> {
        for ((code, service), key) in &self.keys {
            if code == academy {
                let path = default_key_path(config, service);
                // A data directory kept from another run holds that run's key: replaced, so
                // every node of this process agrees (replays are signed again when sent).
                if read_signing_key(&path).is_ok_and(|k| k == *key) {
                    continue;
                }
                if path.exists() {
                    std::fs::remove_file(&path)?;
                }
                write_key(&path, key)?;
            }
        }
        config.events.trusted_keys = self.registry();
        Ok(())
    }

    /// Every public key, as a registry lists them.
    pub fn registry(&self) -> Vec<TrustedKey> {
        self.keys
            .iter()
            .map(|((code, service), key)| TrustedKey::new(code, service, &key.verifying_key()))
            .collect()
    }

    /// The signer of `academy`'s `service` (tests sign what they publish by hand with it).
    pub fn signer(&self, academy: &str, service: &str) -> Option<EventSigner> {
        self.keys
            .get(&(academy.to_owned(), service.to_owned()))
            .map(|k| EventSigner::new(academy, service, KeyRing::new(k.clone(), Vec::new())))
    }
}

#[cfg(test)]
mod tests;
