//! The académie as a `did:web` issuer: one DID per académie, derived from the public address of
//! its pages (`documents.verification_base_url`), whose DID document lists every key the
//! académie ever signed with, so a verifier finds that the issuer controls the key of a proof,
//! and key rotation keeps one issuer identity.
//!
//! The mapping is the did:web method's (W3C CCG did:web, "Read"): the host, its port
//! percent-encoded (`:` → `%3A`), then each path segment after a `:`. The DID document is at the
//! path of the base followed by `/did.json`, or at `/.well-known/did.json` when the base is a bare
//! host:
//!
//! | public base URL | DID | DID document |
//! |---|---|---|
//! | `https://cplds.ac-toulouse.fr` | `did:web:cplds.ac-toulouse.fr` | `/.well-known/did.json` |
//! | `https://cplds.ac-toulouse.fr/verify` | `did:web:cplds.ac-toulouse.fr:verify` | `/verify/did.json` |
//! | `https://ac-lyon.fr:8443/cplds/verify` | `did:web:ac-lyon.fr%3A8443:cplds:verify` | `/cplds/verify/did.json` |
//!
//! did:web is resolved over HTTPS: the reverse proxy in front of the node serves that path
//! (deploy/README.md). A key's verification method is `{did}#{key id}`.

use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};

use super::multibase::multikey;

pub const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
pub const MULTIKEY_CONTEXT: &str = "https://w3id.org/security/multikey/v1";

/// The did:web of the pages at `base` (an http(s) URL without query or fragment).
pub fn did_for_base(base: &str) -> Result<String, String> {
    let uri: http::Uri = base
        .parse()
        .map_err(|e| format!("{base:?} is not a URL: {e}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{base:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{base:?} must not carry user information"));
    }
    let mut did = format!("did:web:{}", encode(authority.as_str()));
    for segment in uri.path().split('/').filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(&encode(segment));
    }
    Ok(did)
}

/// Percent-encodes what a did:web segment cannot hold (`:` above all); keeps `%XX` escapes.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'%') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the DID document is served, from the path of the public base (`/verify`, or empty).
pub fn document_path(base_path: &str) -> String {
    let base = base_path.trim_end_matches('/');
    if base.is_empty() {
        "/.well-known/did.json".into()
    } else {
        format!("{base}/did.json")
    }
}

/// The verification method of key `kid`.
pub fn method_id(did: &str, kid: &str) -> String {
    format!("{did}#{kid}")
}

/// The key id a verification method names, when it is one of `did`'s.
pub fn kid_of<'a>(did: &str, method: &'a str) -> Option<&'a str> {
    method
        .strip_prefix(did)?
        .strip_prefix('#')
        .filter(|kid| !kid.is_empty())
}

/// The DID document: every key under `verificationMethod` (Multikey) and `assertionMethod`.
pub fn document(did: &str, keys: &[(String, VerifyingKey)]) -> Value {
    let methods: Vec<Value> = keys
        .iter()
        .map(|(kid, key)| {
            json!({
                "id": method_id(did, kid),
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multikey(key),
            })
        })
        .collect();
    let assertion: Vec<String> = keys.iter().map(|(kid, _)| method_id(did, kid)).collect();
    json!({
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": assertion,
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    #[test]
    fn the_did_follows_the_public_base() {
        for (base, did) in [
            (
                "https://cplds.ac-toulouse.fr",
                "did:web:cplds.ac-toulouse.fr",
            ),
            (
                "https://cplds.ac-toulouse.fr/verify",
                "did:web:cplds.ac-toulouse.fr:verify",
            ),
            (
                "https://ac-lyon.fr:8443/cplds/verify",
                "did:web:ac-lyon.fr%3A8443:cplds:verify",
            ),
            (
                "http://127.0.0.1:8080/verify",
                "did:web:127.0.0.1%3A8080:verify",
            ),
        ] {
            assert_eq!(did_for_base(base).unwrap(), did);
        }
        assert_eq!(document_path(""), "/.well-known/did.json");
        assert_eq!(document_path("/verify"), "/verify/did.json");
        assert_eq!(document_path("/cplds/verify/"), "/cplds/verify/did.json");
        assert!(did_for_base("not a url").is_err());
        assert!(did_for_base("https://user@host/x").is_err());
    }

    #[test]
    fn a_method_names_a_key_of_the_did() {
        let did = "did:web:cplds.ac-toulouse.fr:verify";
        assert_eq!(kid_of(did, &method_id(did, "0a1b")), Some("0a1b"));
        assert_eq!(kid_of(did, "did:web:cplds.ac-toulouse.fr:verify#"), None);
        assert_eq!(
            kid_of(did, "did:web:cplds.ac-toulouse.fr:verifyx#0a1b"),
            None
        );
        assert_eq!(kid_of(did, "did:web:ac-lyon.fr#0a1b"), None);
    }

    #[test]
    fn the_document_lists_every_key_for_assertions() {
        let did = "did:web:cplds.ac-toulouse.fr";
        let a = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let b = SigningKey::from_bytes(&[2; 32]).verifying_key();
        let doc = document(did, &[("k1".into(), a), ("k2".into(), b)]);
        assert_eq!(doc["id"], did);
        assert_eq!(
            doc["assertionMethod"],
            json!([format!("{did}#k1"), format!("{did}#k2")])
        );
        let method = &doc["verificationMethod"][1];
        assert_eq!(method["type"], "Multikey");
        assert_eq!(method["controller"], did);
        assert_eq!(method["publicKeyMultibase"], multikey(&b));
    }
}
