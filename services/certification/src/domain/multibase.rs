//! Multibase and multicodec encodings of the W3C Data Integrity and Controlled Identifiers
//! specifications: base58btc (`z…`) proof values and Ed25519 Multikeys (`z6Mk…`, the public key
//! prefixed by the multicodec varint 0xed 0x01), `did:key` verification methods, and base64url
//! without padding (`u…`) for the status list.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, VerifyingKey};

/// Multicodec `ed25519-pub` as an unsigned varint.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultibaseError {
    #[error("expected a multibase base58btc value (starting with 'z')")]
    NotBase58btc,
    #[error("expected a multibase base64url value (starting with 'u')")]
    NotBase64url,
    #[error("not valid {0}")]
    Alphabet(&'static str),
    #[error("not an Ed25519 Multikey")]
    NotEd25519Key,
    #[error("not an Ed25519 signature (64 bytes)")]
    NotSignature,
    #[error("not a did:key verification method of the form did:key:z6Mk…#z6Mk…")]
    NotDidKey,
    #[error("is longer than {0} characters: more than the value it must hold")]
    TooLong(usize),
}

/// Bytes of an Ed25519 signature, and of a Multikey (codec prefix and public key).
pub const SIGNATURE_BYTES: usize = 64;
pub const MULTIKEY_BYTES: usize = 34;

/// The longest base58btc text (with its `z`) of `bytes` bytes: each character carries
/// log2(58) ≈ 5.858 bits, so `bytes` bytes need at most ⌈bytes × 1.3657⌉ characters (leading
/// zero bytes take one character each, fewer than that).
pub const fn max_base58btc_chars(bytes: usize) -> usize {
    1 + (bytes * 13_657).div_ceil(10_000)
}

pub fn base58btc(bytes: &[u8]) -> String {
    format!("z{}", bs58::encode(bytes).into_string())
}

pub fn from_base58btc(s: &str) -> Result<Vec<u8>, MultibaseError> {
    let body = s.strip_prefix('z').ok_or(MultibaseError::NotBase58btc)?;
    bs58::decode(body)
        .into_vec()
        .map_err(|_| MultibaseError::Alphabet("base58btc"))
}

/// Base58btc of at most `max_bytes` bytes. The length is checked before decoding: base58
/// decoding takes time quadratic in the length, and a long value could only be refused after.
pub fn from_base58btc_max(s: &str, max_bytes: usize) -> Result<Vec<u8>, MultibaseError> {
    let max = max_base58btc_chars(max_bytes);
    if s.len() > max {
        return Err(MultibaseError::TooLong(max));
    }
    from_base58btc(s)
}

pub fn base64url(bytes: &[u8]) -> String {
    format!("u{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn from_base64url(s: &str) -> Result<Vec<u8>, MultibaseError> {
    let body = s.strip_prefix('u').ok_or(MultibaseError::NotBase64url)?;
    URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| MultibaseError::Alphabet("base64url"))
}

/// The public key as a Multikey (`publicKeyMultibase`).
pub fn multikey(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUB.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    base58btc(&bytes)
}

pub fn parse_multikey(s: &str) -> Result<VerifyingKey, MultibaseError> {
    let bytes = from_base58btc_max(s, MULTIKEY_BYTES).map_err(|_| MultibaseError::NotEd25519Key)?;
    let raw = bytes
        .strip_prefix(&ED25519_PUB)
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or(MultibaseError::NotEd25519Key)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| MultibaseError::NotEd25519Key)
}

/// `did:key:{multikey}#{multikey}`: the key names itself, so a verifier needs no network to get
/// it, only the académie's list of keys to know it is the académie's.
pub fn did_key_method(key: &VerifyingKey) -> String {
    let mk = multikey(key);
    format!("did:key:{mk}#{mk}")
}

pub fn parse_did_key_method(s: &str) -> Result<VerifyingKey, MultibaseError> {
    if s.len() > "did:key:#".len() + 2 * max_base58btc_chars(MULTIKEY_BYTES) {
        return Err(MultibaseError::NotDidKey);
    }
    let rest = s
        .strip_prefix("did:key:")
        .ok_or(MultibaseError::NotDidKey)?;
    let (did, fragment) = rest.split_once('#').ok_or(MultibaseError::NotDidKey)?;
    if did != fragment {
        return Err(MultibaseError::NotDidKey);
    }
    parse_multikey(did).map_err(|_| MultibaseError::NotDidKey)
}

pub fn signature(s: &str) -> Result<Signature, MultibaseError> {
    let bytes = from_base58btc_max(s, SIGNATURE_BYTES)?;
    let raw = <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| MultibaseError::NotSignature)?;
    Ok(Signature::from_bytes(&raw))
}

#[cfg(test)]
pub(crate) mod tests {
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    use super::*;

    /// The key pair of the W3C vc-di-eddsa test vectors: the private key is a multibase
    /// `ed25519-priv` (varint 0x80 0x26) seed, the public key its Multikey.
    pub(crate) const W3C_PUBLIC: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    pub(crate) const W3C_PRIVATE: &str = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq";

    pub(crate) fn w3c_signing_key() -> SigningKey {
        let bytes = from_base58btc(W3C_PRIVATE).unwrap();
        let seed = bytes.strip_prefix(&[0x80, 0x26]).unwrap();
        SigningKey::from_bytes(&seed.try_into().unwrap())
    }

    #[test]
    fn the_w3c_key_pair_gives_its_multikey() {
        let key = w3c_signing_key();
        assert_eq!(multikey(&key.verifying_key()), W3C_PUBLIC);
        assert_eq!(parse_multikey(W3C_PUBLIC).unwrap(), key.verifying_key());
        let method = did_key_method(&key.verifying_key());
        assert_eq!(method, format!("did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"));
        assert_eq!(parse_did_key_method(&method).unwrap(), key.verifying_key());
    }

    #[test]
    fn refusals() {
        assert_eq!(from_base58btc("6Mk"), Err(MultibaseError::NotBase58btc));
        assert_eq!(
            from_base58btc("z0OIl"),
            Err(MultibaseError::Alphabet("base58btc"))
        );
        assert_eq!(from_base64url("zAAA"), Err(MultibaseError::NotBase64url));
        // Right base, wrong codec (0xec 0x01 is x25519).
        let mut x25519 = vec![0xec, 0x01];
        x25519.extend([1u8; 32]);
        assert_eq!(
            parse_multikey(&base58btc(&x25519)),
            Err(MultibaseError::NotEd25519Key)
        );
        assert_eq!(
            parse_did_key_method(&format!("did:key:{W3C_PUBLIC}")),
            Err(MultibaseError::NotDidKey)
        );
        let other = multikey(&SigningKey::from_bytes(&[3; 32]).verifying_key());
        assert_eq!(
            parse_did_key_method(&format!("did:key:{W3C_PUBLIC}#{other}")),
            Err(MultibaseError::NotDidKey)
        );
        assert_eq!(
            signature(&base58btc(&[0; 63])),
            Err(MultibaseError::NotSignature)
        );
    }

    #[test]
    fn lengths_are_checked_before_decoding() {
        // The longest values of their kind fit; one character more is refused undecoded.
        assert_eq!(max_base58btc_chars(SIGNATURE_BYTES), 89);
        assert_eq!(max_base58btc_chars(MULTIKEY_BYTES), 48);
        let longest = base58btc(&[0xff; SIGNATURE_BYTES]);
        assert_eq!(longest.len(), 89);
        assert!(signature(&longest).is_ok());
        assert_eq!(
            signature(&format!("{longest}1")),
            Err(MultibaseError::TooLong(89))
        );
        let huge = format!("z{}", "2".repeat(60_000));
        assert_eq!(signature(&huge), Err(MultibaseError::TooLong(89)));
        assert_eq!(parse_multikey(&huge), Err(MultibaseError::NotEd25519Key));
        assert_eq!(
            parse_did_key_method(&format!("did:key:{huge}#{huge}")),
            Err(MultibaseError::NotDidKey)
        );
    }

    proptest! {
        #[test]
        fn round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(from_base58btc(&base58btc(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(from_base64url(&base64url(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn every_value_fits_its_maximal_length(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            prop_assert!(base58btc(&bytes).len() <= max_base58btc_chars(bytes.len()));
        }

        #[test]
        fn every_key_is_a_z6mk_multikey(seed in any::<[u8; 32]>()) {
            let key = SigningKey::from_bytes(&seed).verifying_key();
            let mk = multikey(&key);
            prop_assert!(mk.starts_with("z6Mk"), "{}", mk);
            prop_assert_eq!(parse_multikey(&mk).unwrap(), key);
        }
    }
}
