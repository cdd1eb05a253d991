//! Board members' signing keys (Ed25519) and the jury president's signature of the minutes: the
//! president signs the 32 bytes of the SHA-256 of the minutes document, locally, with their own
//! key; the service only ever holds the public key.
//!
//! A key is what the minutes' signature is checked against, so a token alone never changes it
//! (issue 12 §4): the exam office registers a member's key (the first one, or after a loss),
//! and a member replaces their own only with the old key's signature of the new one.

use base64::{Engine, engine::general_purpose::STANDARD};
use cplds_runtime::kit::{RuleViolation, refuse};
use ed25519_dalek::{Signature, VerifyingKey, pkcs8::DecodePublicKey};
use sha2::{Digest, Sha256};

/// A public key given as PEM (SubjectPublicKeyInfo) or as its 32 raw bytes in base64.
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is required: an Ed25519 public key (PEM or 32 bytes in base64)".into());
    }
    if t.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(t)
            .map_err(|_| "is not a PEM Ed25519 public key".to_string());
    }
    let bytes = STANDARD
        .decode(t)
        .map_err(|_| "is neither PEM nor base64".to_string())?;
    let raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("an Ed25519 public key has 32 bytes ({} given)", bytes.len()))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| "is not a valid Ed25519 point".to_string())
}

/// The stored form: the 32 bytes in base64.
pub fn encode_public_key(k: &VerifyingKey) -> String {
    STANDARD.encode(k.as_bytes())
}

pub fn decode_stored_key(s: &str) -> Option<VerifyingKey> {
    let bytes = STANDARD.decode(s).ok()?;
    VerifyingKey::from_bytes(bytes.as_slice().try_into().ok()?).ok()
}

pub fn key_id(k: &VerifyingKey) -> String {
    cplds_runtime::auth::key_id(k)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A hex SHA-256 as given by a client: 64 hex digits, lowercased.
pub fn parse_digest(s: &str) -> Result<[u8; 32], String> {
    let t = s.trim().to_ascii_lowercase();
    let bytes = hex::decode(&t).map_err(|_| "is not a hex SHA-256 (64 hex digits)".to_string())?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| "is not a hex SHA-256 (64 hex digits)".to_string())
}

pub fn parse_signature(s: &str) -> Result<Signature, String> {
    let bytes = STANDARD
        .decode(s.trim())
        .map_err(|_| "is not base64".to_string())?;
    Signature::from_slice(&bytes)
        .map_err(|_| format!("an Ed25519 signature has 64 bytes ({} given)", bytes.len()))
}

/// Strict verification (no malleable signatures) of a signature of `digest`.
pub fn verify(key: &VerifyingKey, digest: &[u8; 32], signature: &Signature) -> bool {
    key.verify_strict(digest, signature).is_ok()
}

pub fn encode_signature(s: &Signature) -> String {
    STANDARD.encode(s.to_bytes())
}

/// The key a member replaces by themself: they must hold one, registered by the exam office.
pub fn holder_may_replace(current: Option<VerifyingKey>) -> Result<VerifyingKey, RuleViolation> {
    current.map_or_else(
        || {
            refuse(
                "FIRST_KEY_BY_EXAM_OFFICE",
                "your first signing key is registered by the exam office; give it your public key",
            )
        },
        Ok,
    )
}

/// True when `old` signed the new key: the signature is of its 32 raw bytes.
pub fn verify_replacement(old: &VerifyingKey, new: &VerifyingKey, signature: &Signature) -> bool {
    old.verify_strict(new.as_bytes(), signature).is_ok()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{
        Signer, SigningKey,
        pkcs8::{EncodePublicKey, spki::der::pem::LineEnding},
    };

    use super::*;

    #[test]
    fn keys_in_both_forms_and_signatures() {
        let sk = SigningKey::from_bytes(&[3; 32]);
        let pem = sk
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let raw = STANDARD.encode(sk.verifying_key().as_bytes());
        assert_eq!(parse_public_key(&pem).unwrap(), sk.verifying_key());
        assert_eq!(parse_public_key(&raw).unwrap(), sk.verifying_key());
        assert_eq!(
            decode_stored_key(&encode_public_key(&sk.verifying_key())),
            Some(sk.verifying_key())
        );
        assert!(parse_public_key("").is_err());
        assert!(parse_public_key("AAAA").unwrap_err().contains("32 bytes"));
        assert!(
            parse_public_key("-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----").is_err()
        );

        let digest = sha256(b"minutes");
        let sig = sk.sign(&digest);
        let parsed = parse_signature(&encode_signature(&sig)).unwrap();
        assert!(verify(&sk.verifying_key(), &digest, &parsed));
        assert!(!verify(&sk.verifying_key(), &sha256(b"other"), &parsed));
        let other = SigningKey::from_bytes(&[4; 32]);
        assert!(!verify(&other.verifying_key(), &digest, &parsed));
        assert!(parse_signature("AAAA").is_err());
        assert_eq!(
            parse_digest(&hex::encode(digest).to_uppercase()).unwrap(),
            digest
        );
        assert!(parse_digest("abc").is_err());
    }

    #[test]
    fn only_the_old_key_replaces_a_key() {
        let old = SigningKey::from_bytes(&[3; 32]);
        let new = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert_eq!(
            holder_may_replace(None).unwrap_err().rule,
            "FIRST_KEY_BY_EXAM_OFFICE"
        );
        assert_eq!(
            holder_may_replace(Some(old.verifying_key())),
            Ok(old.verifying_key())
        );
        let signed = old.sign(new.as_bytes());
        assert!(verify_replacement(&old.verifying_key(), &new, &signed));
        // The new key signing itself proves nothing.
        let own = SigningKey::from_bytes(&[4; 32]).sign(new.as_bytes());
        assert!(!verify_replacement(&old.verifying_key(), &new, &own));
        let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert!(!verify_replacement(&old.verifying_key(), &other, &signed));
    }
}
