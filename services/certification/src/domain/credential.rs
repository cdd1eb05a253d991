//! The certificate as a W3C Verifiable Credential 2.0 / Open Badges 3.0 `OpenBadgeCredential`,
//! secured by a W3C Data Integrity proof with the `eddsa-jcs-2022` cryptosuite, and the
//! `BitstringStatusListCredential` that publishes revocations, secured the same way.
//!
//! The proof (vc-di-eddsa, §3.3 "eddsa-jcs-2022"): the proof options (the proof without
//! `proofValue`, carrying the document's `@context`) and the document without its proof are
//! each canonicalized with JCS and hashed with SHA-256; the Ed25519 signature of the two hashes
//! (options first) is the `proofValue`, in multibase base58btc. The verification method is a
//! `did:key` that holds the académie's public key, so a verifier needs no network for the
//! signature; it must only find the key among the académie's published keys.

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    certificate::{SHORT_TITLE, Statement, TITLE},
    jcs::{self, JcsError},
    multibase::{self, MultibaseError},
    number::CertificateNumber,
    status_list::{Bitstring, StatusListError},
};

pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const PROOF_PURPOSE: &str = "assertionMethod";
/// A presented credential larger than this is refused before parsing.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

const CERTIFICATE_ID_PREFIX: &str = "urn:cplds:certificate:";

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The stable identifier of a certificate's credential.
pub fn credential_id(number: &CertificateNumber) -> String {
    format!("{CERTIFICATE_ID_PREFIX}{number}")
}

/// The certificate number a credential claims in its `id`.
pub fn claimed_number(credential: &Value) -> Option<CertificateNumber> {
    credential
        .get("id")?
        .as_str()?
        .strip_prefix(CERTIFICATE_ID_PREFIX)
        .and_then(|n| CertificateNumber::parse(n).ok())
}

/// The académie as issuer (an Open Badges `Profile`).
pub fn issuer(academy_code: &str, academy_name: &str) -> Value {
    json!({
        "id": format!("urn:cplds:academy:{academy_code}"),
        "type": ["Profile"],
        "name": format!("Académie {}", super::certificate::of_academy(academy_name)),
    })
}

/// Where a certificate's revocation bit is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// `id` of the status list credential.
    pub list_id: String,
    pub index: u64,
}

/// The unsigned credential of a certificate: exactly the statements printed on the PDF.
pub fn certificate_credential(s: &Statement, status: &StatusEntry) -> Value {
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(&s.number),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": format!("{TITLE} ({SHORT_TITLE})"),
        "description": format!("Session {}. Délivré par : {}.", s.year(), s.signatory),
        "issuer": issuer(s.academy.code, s.academy.name),
        "validFrom": timestamp(s.issued_at),
        "awardedDate": timestamp(s.admitted_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": s.holder_name,
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": false,
                "identityHash": s.holder_name,
            }],
            "achievement": {
                "id": "urn:cplds:achievement:cplds",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": TITLE,
                "description": "Certificat créé par le décret n° 2017-791 du 5 mai 2017. \
                    Il atteste la qualification des personnels qui exercent dans le champ de \
                    la lutte contre le décrochage scolaire.",
                "criteria": {
                    "narrative": "Deux épreuves devant une commission (séance de formation ; \
                        étude de cas), notées sur 20 : aucune note inférieure ou égale à 5, \
                        total d'au moins 20 sur 40."
                },
            },
        },
        "credentialStatus": {
            "id": format!("{}#{}", status.list_id, status.index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": status.index.to_string(),
            "statusListCredential": status.list_id,
        },
    })
}

/// The unsigned revocation list of the académie.
pub fn status_list_credential(
    issuer: Value,
    list_id: &str,
    bits: &Bitstring,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
) -> Result<Value, StatusListError> {
    Ok(json!({
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": timestamp(valid_from),
        "validUntil": timestamp(valid_until),
        "credentialSubject": {
            "id": format!("{list_id}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode()?,
        },
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("the document has no proof")]
    NoProof,
    #[error("a single proof object is expected (proof sets and chains are not used here)")]
    ProofShape,
    #[error("proof.{0} must be {1:?}")]
    Field(&'static str, &'static str),
    #[error("proof.{0} is missing or not a string")]
    Missing(&'static str),
    #[error("proof.@context does not match the beginning of the document's @context")]
    Context,
    #[error("proof.{0}: {1}")]
    Encoding(&'static str, MultibaseError),
    #[error("{0}")]
    Canonical(#[from] JcsError),
    #[error("the signature does not match the document: it was altered or signed by another key")]
    BadSignature,
}

/// How a proof is made: who signs (the verification method) and when.
#[derive(Debug, Clone)]
pub struct ProofOptions {
    pub verification_method: String,
    pub created: DateTime<Utc>,
}

/// `SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document without proof))`.
fn hash_data(proof_config: &Value, document: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Sha256::digest(jcs::canonicalize(proof_config)?.as_bytes()).to_vec();
    out.extend_from_slice(&Sha256::digest(jcs::canonicalize(document)?.as_bytes()));
    Ok(out)
}

/// Adds an `eddsa-jcs-2022` proof to `document`; `sign` signs the hash data with the key named
/// by the verification method.
pub fn add_proof(
    document: &Value,
    options: &ProofOptions,
    sign: impl FnOnce(&[u8]) -> Signature,
) -> Result<Value, ProofError> {
    let mut unsecured = document.as_object().ok_or(ProofError::NotAnObject)?.clone();
    unsecured.remove("proof");
    let mut proof = Map::new();
    proof.insert("type".into(), PROOF_TYPE.into());
    proof.insert("cryptosuite".into(), CRYPTOSUITE.into());
    proof.insert("created".into(), timestamp(options.created).into());
    proof.insert(
        "verificationMethod".into(),
        options.verification_method.clone().into(),
    );
    proof.insert("proofPurpose".into(), PROOF_PURPOSE.into());
    if let Some(context) = unsecured.get("@context") {
        proof.insert("@context".into(), context.clone());
    }
    let proof_config = Value::Object(proof.clone());
    let data = hash_data(&proof_config, &Value::Object(unsecured.clone()))?;
    let signature = sign(&data);
    proof.insert(
        "proofValue".into(),
        multibase::base58btc(&signature.to_bytes()).into(),
    );
    unsecured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(unsecured))
}

/// A secured document taken apart: what was signed, and the signature.
#[derive(Debug, Clone)]
pub struct SignedParts {
    /// The document without its proof, as the proof's `@context` says it was signed.
    pub unsecured: Value,
    pub verification_method: String,
    pub signature: Signature,
    data: Vec<u8>,
}

/// Checks the form of the proof (`DataIntegrityProof`, `eddsa-jcs-2022`, `assertionMethod`)
/// and computes what its signature covers.
pub fn signed_parts(secured: &Value) -> Result<SignedParts, ProofError> {
    let mut unsecured = secured.as_object().ok_or(ProofError::NotAnObject)?.clone();
    let proof = match unsecured.remove("proof") {
        None => return Err(ProofError::NoProof),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(ProofError::ProofShape),
    };
    let text = |name: &'static str| {
        proof
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ProofError::Missing(name))
    };
    for (name, expected) in [
        ("type", PROOF_TYPE),
        ("cryptosuite", CRYPTOSUITE),
        ("proofPurpose", PROOF_PURPOSE),
    ] {
        if text(name)? != expected {
            return Err(ProofError::Field(name, expected));
        }
    }
    let signature = multibase::signature(text("proofValue")?)
        .map_err(|e| ProofError::Encoding("proofValue", e))?;
    let verification_method = text("verificationMethod")?.to_owned();
    let mut options = proof.clone();
    options.remove("proofValue");
    if let Some(context) = options.get("@context") {
        // The proof's context must be a prefix of the document's; the document is then
        // verified under the proof's context (vc-di-eddsa, Verify Proof).
        let prefix = context.as_array().ok_or(ProofError::Context)?;
        let full = unsecured
            .get("@context")
            .and_then(Value::as_array)
            .ok_or(ProofError::Context)?;
        if prefix.len() > full.len() || prefix[..] != full[..prefix.len()] {
            return Err(ProofError::Context);
        }
        unsecured.insert("@context".into(), context.clone());
    }
    let unsecured = Value::Object(unsecured);
    let data = hash_data(&Value::Object(options), &unsecured)?;
    Ok(SignedParts {
        unsecured,
        verification_method,
        signature,
        data,
    })
}

impl SignedParts {
    /// The public key a `did:key` verification method holds.
    pub fn did_key(&self) -> Result<VerifyingKey, ProofError> {
        multibase::parse_did_key_method(&self.verification_method)
            .map_err(|e| ProofError::Encoding("verificationMethod", e))
    }

    /// Verifies the signature with `key` (strictly: no malleable or small-order signatures).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ProofError> {
        key.verify_strict(&self.data, &self.signature)
            .map_err(|_| ProofError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cplds_runtime::signing::KeyRing;
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::domain::{
        certificate::tests::statement,
        multibase::tests::{W3C_PUBLIC, w3c_signing_key},
    };

    /// The signed "Alumni Credential" of the W3C vc-di-eddsa test vectors (eddsa-jcs-2022).
    const W3C_SIGNED: &str = r#"{
      "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
      "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
      "type": ["VerifiableCredential", "AlumniCredential"],
      "name": "Alumni Credential",
      "description": "A minimum viable example of an Alumni Credential.",
      "issuer": "https://vc.example/issuers/5678",
      "validFrom": "2023-01-01T00:00:00Z",
      "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
      "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": "https://vc.example/issuers/5678#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "proofPurpose": "assertionMethod",
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "proofValue": "z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEsddF9LsVogtuTsijJKh4"
      }
    }"#;

    #[test]
    fn the_w3c_test_vector_verifies_and_is_reproduced_exactly() {
        let signed = jcs::parse_strict(W3C_SIGNED).unwrap();
        let parts = signed_parts(&signed).unwrap();
        let public = multibase::parse_multikey(W3C_PUBLIC).unwrap();
        parts.verify(&public).unwrap();

        // Ed25519 is deterministic: signing the same document with the same key and options
        // through our path (the KeyRing) gives the very same proof value.
        let ring = KeyRing::new(w3c_signing_key(), vec![]);
        let mut unsigned = signed.clone();
        unsigned.as_object_mut().unwrap().remove("proof");
        let again = add_proof(
            &unsigned,
            &ProofOptions {
                verification_method: parts.verification_method.clone(),
                created: Utc.with_ymd_and_hms(2023, 2, 24, 23, 36, 38).unwrap(),
            },
            |data| ring.sign(data).1,
        )
        .unwrap();
        assert_eq!(again, signed);
    }

    /// RFC 8032 §7.1, test 1: the empty message.
    #[test]
    fn rfc8032_test_vector_1_through_the_key_ring() {
        let secret =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        let ring = KeyRing::new(SigningKey::from_bytes(&secret.try_into().unwrap()), vec![]);
        let (kid, public, _) = ring.keys().next().unwrap();
        assert_eq!(
            hex::encode(public.as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let (signed_by, signature) = ring.sign(b"");
        assert_eq!(signed_by, kid);
        assert_eq!(
            hex::encode(signature.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        // And ring, an independent implementation, agrees.
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public.as_bytes())
            .verify(b"", &signature.to_bytes())
            .unwrap();
    }

    fn signed_certificate(ring: &KeyRing) -> Value {
        let unsigned = certificate_credential(
            &statement(),
            &StatusEntry {
                list_id: "urn:cplds:status-list:toulouse".into(),
                index: 11,
            },
        );
        let key = ring.public_key(ring.current_kid()).unwrap();
        add_proof(
            &unsigned,
            &ProofOptions {
                verification_method: multibase::did_key_method(key),
                created: Utc.with_ymd_and_hms(2025, 7, 10, 9, 30, 1).unwrap(),
            },
            |data| ring.sign(data).1,
        )
        .unwrap()
    }

    #[test]
    fn a_certificate_round_trip() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let signed = signed_certificate(&ring);
        let text = serde_json::to_string_pretty(&signed).unwrap();
        let parts = signed_parts(&jcs::parse_strict(&text).unwrap()).unwrap();
        let key = parts.did_key().unwrap();
        assert_eq!(&key, ring.public_key(ring.current_kid()).unwrap());
        parts.verify(&key).unwrap();
        assert_eq!(
            claimed_number(&signed).unwrap().to_string(),
            "CPLDS-TOULOUSE-2025-000012"
        );
        assert_eq!(signed["credentialSubject"]["name"], "Inès GARCIA");
        assert_eq!(signed["credentialStatus"]["statusListIndex"], "11");
        assert_eq!(signed["proof"]["@context"], signed["@context"]);
        // Another key does not verify it.
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        assert_eq!(parts.verify(&other), Err(ProofError::BadSignature));
    }

    #[test]
    fn every_changed_byte_of_the_credential_is_detected() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let signed = signed_certificate(&ring);
        let text = jcs::canonicalize(&signed).unwrap().into_bytes();
        let key = *ring.public_key(ring.current_kid()).unwrap();
        let mut checked = 0;
        for i in 0..text.len() {
            let mut tampered = text.clone();
            tampered[i] ^= 0x01;
            // A change either breaks the JSON or the proof; it never yields a valid credential.
            let accepted = std::str::from_utf8(&tampered)
                .ok()
                .and_then(|t| jcs::parse_strict(t).ok())
                .and_then(|v| signed_parts(&v).ok())
                .is_some_and(|p| p.verify(&key).is_ok() && p.did_key().ok() == Some(key));
            assert!(
                !accepted,
                "byte {i} changed and the credential still verifies"
            );
            checked += 1;
        }
        assert_eq!(checked, text.len());
    }

    #[test]
    fn malformed_proofs_are_named() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let signed = signed_certificate(&ring);
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = signed.clone();
            f(&mut v);
            signed_parts(&v).map(|_| ())
        };
        assert_eq!(
            with(&|v| {
                v.as_object_mut().unwrap().remove("proof");
            }),
            Err(ProofError::NoProof)
        );
        assert_eq!(
            with(&|v| v["proof"] = json!([v["proof"].clone()])),
            Err(ProofError::ProofShape)
        );
        assert_eq!(
            with(&|v| v["proof"]["cryptosuite"] = json!("eddsa-rdfc-2022")),
            Err(ProofError::Field("cryptosuite", CRYPTOSUITE))
        );
        assert_eq!(
            with(&|v| v["proof"]["proofPurpose"] = json!("authentication")),
            Err(ProofError::Field("proofPurpose", PROOF_PURPOSE))
        );
        assert_eq!(
            with(&|v| {
                v["proof"].as_object_mut().unwrap().remove("proofValue");
            }),
            Err(ProofError::Missing("proofValue"))
        );
        assert_eq!(
            with(&|v| v["proof"]["@context"] = json!(["https://example.org/other"])),
            Err(ProofError::Context)
        );
        assert!(matches!(
            with(&|v| v["proof"]["proofValue"] = json!("u123")),
            Err(ProofError::Encoding("proofValue", _))
        ));
        assert_eq!(
            signed_parts(&json!([1])).unwrap_err(),
            ProofError::NotAnObject
        );
    }

    #[test]
    fn the_status_list_credential_is_signed_the_same_way() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let mut bits = Bitstring::for_index(3);
        bits.set(3, true).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 7, 10, 9, 30, 0).unwrap();
        let list = status_list_credential(
            issuer("toulouse", "Toulouse"),
            "urn:cplds:status-list:toulouse",
            &bits,
            now,
            now + chrono::Duration::days(1),
        )
        .unwrap();
        let key = ring.public_key(ring.current_kid()).unwrap();
        let signed = add_proof(
            &list,
            &ProofOptions {
                verification_method: multibase::did_key_method(key),
                created: now,
            },
            |d| ring.sign(d).1,
        )
        .unwrap();
        let parts = signed_parts(&signed).unwrap();
        parts.verify(key).unwrap();
        let decoded =
            Bitstring::decode(signed["credentialSubject"]["encodedList"].as_str().unwrap())
                .unwrap();
        assert!(decoded.get(3).unwrap() && !decoded.get(2).unwrap());
        assert_eq!(signed["issuer"]["name"], "Académie de Toulouse");
    }
}
