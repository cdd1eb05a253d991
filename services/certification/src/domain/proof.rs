//! W3C Data Integrity proofs with the EdDSA cryptosuites of vc-di-eddsa: `eddsa-jcs-2022`
//! (the document canonicalized with JCS) and `eddsa-rdfc-2022` (its RDF dataset canonicalized
//! with RDFC-1.0). A credential carries both, as a proof set (`proof` is an array, as the
//! 1EdTech Open Badges 3.0 schema wants), each signing the document without its proofs; wallets
//! that know only one suite check that one.
//!
//! For each proof: the proof options (the proof without `proofValue`, with the document's
//! `@context`) and the document without its proof are each canonicalized and hashed with
//! SHA-256; the Ed25519 signature of the two hashes (options first) is the `proofValue`, in
//! multibase base58btc.
//!
//! Credentials issued before the proof set carry one `eddsa-jcs-2022` proof as an object, signed
//! by a `did:key`; they still verify.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{
    credential::timestamp,
    jcs::{self, JcsError},
    multibase::{self, MultibaseError},
    rdfc::{self, RdfcError},
};

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const PROOF_PURPOSE: &str = "assertionMethod";
/// A proof set longer than this is refused before any proof is checked.
pub const MAX_PROOFS: usize = 4;

/// The cryptosuites the académie signs with, in the order of its proof set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cryptosuite {
    EddsaJcs2022,
    EddsaRdfc2022,
}

impl Cryptosuite {
    pub const ALL: [Cryptosuite; 2] = [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaRdfc2022];

    pub fn name(self) -> &'static str {
        match self {
            Cryptosuite::EddsaJcs2022 => "eddsa-jcs-2022",
            Cryptosuite::EddsaRdfc2022 => "eddsa-rdfc-2022",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    fn canonicalize(self, document: &Value) -> Result<String, ProofError> {
        match self {
            Cryptosuite::EddsaJcs2022 => Ok(jcs::canonicalize(document)?),
            Cryptosuite::EddsaRdfc2022 => Ok(rdfc::canonicalize(document)?),
        }
    }

    /// `SHA-256(canon(proof options)) ‖ SHA-256(canon(document without proof))`.
    fn hash_data(self, proof_config: &Value, document: &Value) -> Result<Vec<u8>, ProofError> {
        let mut out = Sha256::digest(self.canonicalize(proof_config)?.as_bytes()).to_vec();
        out.extend_from_slice(&Sha256::digest(self.canonicalize(document)?.as_bytes()));
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("the document has no proof")]
    NoProof,
    #[error("proof must be a proof object or an array of at most {MAX_PROOFS} proof objects")]
    ProofShape,
    #[error("proof.{0} must be {1}")]
    Field(&'static str, &'static str),
    #[error("proof.{0} is missing or not a string")]
    Missing(&'static str),
    #[error("proof.@context does not match the beginning of the document's @context")]
    Context,
    #[error("proof.{0}: {1}")]
    Encoding(&'static str, MultibaseError),
    #[error("{0}")]
    Canonical(#[from] JcsError),
    #[error("{0}")]
    Rdf(#[from] RdfcError),
    #[error("the signature does not match the document: it was altered or signed by another key")]
    BadSignature,
}

/// How a proof is made: who signs (the verification method) and when.
#[derive(Debug, Clone)]
pub struct ProofOptions {
    pub verification_method: String,
    pub created: DateTime<Utc>,
}

/// Adds a proof of each of `suites` to `document` (as a proof set, replacing any proof);
/// `sign` signs the hash data with the key named by the verification method.
pub fn add_proofs(
    document: &Value,
    options: &ProofOptions,
    suites: &[Cryptosuite],
    sign: impl Fn(&[u8]) -> Signature,
) -> Result<Value, ProofError> {
    let mut unsecured = document.as_object().ok_or(ProofError::NotAnObject)?.clone();
    unsecured.remove("proof");
    let context = unsecured.get("@context").cloned();
    let unsecured = Value::Object(unsecured);
    let mut proofs = Vec::with_capacity(suites.len());
    for suite in suites {
        let mut proof = Map::new();
        proof.insert("type".into(), PROOF_TYPE.into());
        proof.insert("cryptosuite".into(), suite.name().into());
        proof.insert("created".into(), timestamp(options.created).into());
        proof.insert(
            "verificationMethod".into(),
            options.verification_method.clone().into(),
        );
        proof.insert("proofPurpose".into(), PROOF_PURPOSE.into());
        let mut config = proof.clone();
        if let Some(context) = &context {
            config.insert("@context".into(), context.clone());
            // The JCS proof carries its context (as the W3C test vectors do); the RDFC proof
            // inherits the document's, as an embedded JSON-LD node.
            if *suite == Cryptosuite::EddsaJcs2022 {
                proof.insert("@context".into(), context.clone());
            }
        }
        let data = suite.hash_data(&Value::Object(config), &unsecured)?;
        proof.insert(
            "proofValue".into(),
            multibase::base58btc(&sign(&data).to_bytes()).into(),
        );
        proofs.push(Value::Object(proof));
    }
    let mut secured = unsecured;
    if let Some(object) = secured.as_object_mut() {
        object.insert("proof".into(), Value::Array(proofs));
    }
    Ok(secured)
}

/// One proof of a secured document, taken apart: who signed, and what the signature covers.
#[derive(Debug, Clone)]
pub struct ProofParts {
    pub cryptosuite: Cryptosuite,
    pub verification_method: String,
    pub signature: Signature,
    data: Vec<u8>,
}

/// A secured document taken apart.
#[derive(Debug, Clone)]
pub struct SignedParts {
    /// The document without its proofs.
    pub unsecured: Value,
    /// At least one, at most [`MAX_PROOFS`].
    pub proofs: Vec<ProofParts>,
}

/// Checks the form of each proof (`DataIntegrityProof`, a known cryptosuite,
/// `assertionMethod`) and computes what its signature covers. A proof object and a proof set
/// (array) are both read.
pub fn signed_parts(secured: &Value) -> Result<SignedParts, ProofError> {
    let mut unsecured = secured.as_object().ok_or(ProofError::NotAnObject)?.clone();
    let proofs = match unsecured.remove("proof") {
        None => return Err(ProofError::NoProof),
        Some(Value::Object(p)) => vec![p],
        Some(Value::Array(list)) if list.is_empty() => return Err(ProofError::NoProof),
        Some(Value::Array(list)) if list.len() <= MAX_PROOFS => list
            .into_iter()
            .map(|p| match p {
                Value::Object(p) => Ok(p),
                _ => Err(ProofError::ProofShape),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ProofError::ProofShape),
    };
    let unsecured = Value::Object(unsecured);
    let proofs = proofs
        .iter()
        .map(|p| proof_parts(p, &unsecured))
        .collect::<Result<_, _>>()?;
    Ok(SignedParts { unsecured, proofs })
}

fn proof_parts(proof: &Map<String, Value>, unsecured: &Value) -> Result<ProofParts, ProofError> {
    let text = |name: &'static str| {
        proof
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ProofError::Missing(name))
    };
    if text("type")? != PROOF_TYPE {
        return Err(ProofError::Field("type", PROOF_TYPE));
    }
    if text("proofPurpose")? != PROOF_PURPOSE {
        return Err(ProofError::Field("proofPurpose", PROOF_PURPOSE));
    }
    let cryptosuite = Cryptosuite::parse(text("cryptosuite")?).ok_or(ProofError::Field(
        "cryptosuite",
        "eddsa-jcs-2022 or eddsa-rdfc-2022",
    ))?;
    let signature = multibase::signature(text("proofValue")?)
        .map_err(|e| ProofError::Encoding("proofValue", e))?;
    let verification_method = text("verificationMethod")?.to_owned();
    let mut options = proof.clone();
    options.remove("proofValue");
    let full = unsecured.get("@context");
    let mut document = unsecured.clone();
    match (options.get("@context"), cryptosuite) {
        (Some(context), _) => {
            // The proof's context must be a prefix of the document's; the document is then
            // verified under the proof's context (vc-di-eddsa, Verify Proof).
            let prefix = context.as_array().ok_or(ProofError::Context)?;
            let full = full.and_then(Value::as_array).ok_or(ProofError::Context)?;
            if prefix.len() > full.len() || prefix[..] != full[..prefix.len()] {
                return Err(ProofError::Context);
            }
            if let Some(object) = document.as_object_mut() {
                object.insert("@context".into(), context.clone());
            }
        }
        (None, Cryptosuite::EddsaRdfc2022) => {
            // An embedded proof is read under the document's context.
            if let Some(context) = full {
                options.insert("@context".into(), context.clone());
            }
        }
        (None, Cryptosuite::EddsaJcs2022) => {}
    }
    let data = cryptosuite.hash_data(&Value::Object(options), &document)?;
    Ok(ProofParts {
        cryptosuite,
        verification_method,
        signature,
        data,
    })
}

impl ProofParts {
    /// The public key a `did:key` verification method holds (credentials issued before did:web).
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
pub(crate) mod tests {
    use chrono::TimeZone;
    use cplds_runtime::signing::KeyRing;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::domain::{
        certificate::tests::statement,
        credential::{StatusEntry, certificate_credential, issuer},
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
    fn the_w3c_jcs_test_vector_verifies_and_is_reproduced_exactly() {
        let signed = jcs::parse_strict(W3C_SIGNED).unwrap();
        let parts = signed_parts(&signed).unwrap();
        let public = multibase::parse_multikey(W3C_PUBLIC).unwrap();
        assert_eq!(parts.proofs.len(), 1);
        parts.proofs[0].verify(&public).unwrap();

        // Ed25519 is deterministic: signing the same document with the same key and options
        // through our path (the KeyRing) gives the very same proof value.
        let ring = KeyRing::new(w3c_signing_key(), vec![]);
        let again = add_proofs(
            &signed,
            &ProofOptions {
                verification_method: parts.proofs[0].verification_method.clone(),
                created: Utc.with_ymd_and_hms(2023, 2, 24, 23, 36, 38).unwrap(),
            },
            &[Cryptosuite::EddsaJcs2022],
            |data| ring.sign(data).1,
        )
        .unwrap();
        assert_eq!(again["proof"][0], signed["proof"]);
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

    pub(crate) const DID: &str = "did:web:cplds.ac-toulouse.fr:verify";

    pub(crate) fn signed_certificate(ring: &KeyRing) -> Value {
        let unsigned = certificate_credential(
            &statement(),
            &StatusEntry {
                list_id: "https://cplds.ac-toulouse.fr/verify/status-list".into(),
                index: 11,
            },
            issuer(DID, "Toulouse"),
            "0123456789abcdef0123456789abcdef",
        );
        add_proofs(
            &unsigned,
            &ProofOptions {
                verification_method: format!("{DID}#{}", ring.current_kid()),
                created: Utc.with_ymd_and_hms(2025, 7, 10, 9, 30, 1).unwrap(),
            },
            &Cryptosuite::ALL,
            |data| ring.sign(data).1,
        )
        .unwrap()
    }

    #[test]
    fn a_certificate_carries_a_proof_of_each_suite() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let signed = signed_certificate(&ring);
        let proofs = signed["proof"].as_array().unwrap();
        assert_eq!(proofs[0]["cryptosuite"], "eddsa-jcs-2022");
        assert_eq!(proofs[0]["@context"], signed["@context"]);
        assert_eq!(proofs[1]["cryptosuite"], "eddsa-rdfc-2022");
        assert!(proofs[1].get("@context").is_none());
        let text = serde_json::to_string_pretty(&signed).unwrap();
        let parts = signed_parts(&jcs::parse_strict(&text).unwrap()).unwrap();
        let key = ring.public_key(ring.current_kid()).unwrap();
        assert_eq!(parts.proofs.len(), 2);
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        for proof in &parts.proofs {
            proof.verify(key).unwrap();
            assert_eq!(proof.verify(&other), Err(ProofError::BadSignature));
        }
        assert!(parts.unsecured.get("proof").is_none());
    }

    #[test]
    fn the_rdfc_proof_ignores_json_form_but_not_content() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let key = *ring.public_key(ring.current_kid()).unwrap();
        let signed = signed_certificate(&ring);
        let rdfc_holds = |doc: &Value| {
            signed_parts(doc).is_ok_and(|p| {
                p.proofs
                    .iter()
                    .filter(|p| p.cryptosuite == Cryptosuite::EddsaRdfc2022)
                    .all(|p| p.verify(&key).is_ok())
            })
        };
        assert!(rdfc_holds(&signed));
        // A one-element array is the same RDF as its element: only the JCS proof breaks.
        let mut same_graph = signed.clone();
        same_graph["credentialSubject"]["achievement"]["type"] = json!("Achievement");
        assert!(rdfc_holds(&same_graph));
        let mut changed = signed.clone();
        changed["credentialSubject"]["name"] = json!("Inès GARCIB");
        assert!(!rdfc_holds(&changed));
        let mut later = signed.clone();
        later["validFrom"] = json!("2025-07-10T09:30:02Z");
        assert!(!rdfc_holds(&later));
    }

    #[test]
    fn every_changed_byte_of_the_credential_is_detected() {
        let ring = KeyRing::new(SigningKey::from_bytes(&[5; 32]), vec![]);
        let mut signed = signed_certificate(&ring);
        // The JCS proof alone here (the RDFC proof is checked above): one pass per byte.
        signed["proof"].as_array_mut().unwrap().truncate(1);
        let text = jcs::canonicalize(&signed).unwrap().into_bytes();
        let key = *ring.public_key(ring.current_kid()).unwrap();
        for i in 0..text.len() {
            let mut tampered = text.clone();
            tampered[i] ^= 0x01;
            // A change either breaks the JSON or the proof; it never yields a valid credential.
            let accepted = std::str::from_utf8(&tampered)
                .ok()
                .and_then(|t| jcs::parse_strict(t).ok())
                .and_then(|v| signed_parts(&v).ok())
                .is_some_and(|p| {
                    p.proofs.iter().all(|p| {
                        p.verify(&key).is_ok()
                            && p.verification_method == format!("{DID}#{}", ring.current_kid())
                    })
                });
            assert!(
                !accepted,
                "byte {i} changed and the credential still verifies"
            );
        }
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
        assert_eq!(with(&|v| v["proof"] = json!([])), Err(ProofError::NoProof));
        assert_eq!(
            with(&|v| v["proof"] = json!([1])),
            Err(ProofError::ProofShape)
        );
        assert_eq!(
            with(&|v| v["proof"] = json!(vec![v["proof"][0].clone(); MAX_PROOFS + 1])),
            Err(ProofError::ProofShape)
        );
        assert_eq!(
            with(&|v| v["proof"][0]["cryptosuite"] = json!("ecdsa-rdfc-2019")),
            Err(ProofError::Field(
                "cryptosuite",
                "eddsa-jcs-2022 or eddsa-rdfc-2022"
            ))
        );
        assert_eq!(
            with(&|v| v["proof"][1]["proofPurpose"] = json!("authentication")),
            Err(ProofError::Field("proofPurpose", PROOF_PURPOSE))
        );
        assert_eq!(
            with(&|v| {
                v["proof"][0].as_object_mut().unwrap().remove("proofValue");
            }),
            Err(ProofError::Missing("proofValue"))
        );
        assert_eq!(
            with(&|v| v["proof"][0]["@context"] = json!(["https://example.org/other"])),
            Err(ProofError::Context)
        );
        assert!(matches!(
            with(&|v| v["proof"][1]["proofValue"] = json!("u123")),
            Err(ProofError::Encoding("proofValue", _))
        ));
        assert!(matches!(
            with(&|v| v["credentialSubject"]["undefinedTerm"] = json!("x")),
            Err(ProofError::Rdf(_))
        ));
        assert_eq!(
            signed_parts(&json!([1])).unwrap_err(),
            ProofError::NotAnObject
        );
    }
}
