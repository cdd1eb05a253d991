//! Public verification, by number (with or without the document's verification code) or from a
//! presented credential: no token needed. [`crate::domain::verification`] decides what the
//! verifier may see: by the number alone, nothing personal.
//!
//! Parsing a credential, canonicalising it and checking its signature take CPU: they run on the
//! blocking pool, never on the workers that answer every other call (health included), and the
//! lengths of the proof's values are checked before anything is decoded.

use cplds_proto::v1::{self as pb, verify_certificate_request::Subject};
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult},
};
use ed25519_dalek::VerifyingKey;

use super::{Inner, convert, parse_number, stored_code};
use crate::{
    domain::{
        code::VerificationCode,
        credential::claimed_number,
        did_web,
        number::CertificateNumber,
        proof::{ProofParts, SignedParts, signed_parts},
        verification::{self, Evidence, Rejection, oversized_proof, parse_presented},
    },
    store,
};

/// Every proof of a presented credential holds, signed by keys of the académie; the key of the
/// first proof.
struct Proven {
    parts: SignedParts,
    kid: String,
    retired: bool,
}

/// Runs CPU-bound work on the blocking pool.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ServiceError::internal)
}

/// A code typed beside a number, or INVALID_ARGUMENT naming `code`; empty means none.
pub(super) fn parse_code(s: &str) -> ServiceResult<Option<VerificationCode>> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    VerificationCode::parse(s)
        .map(Some)
        .map_err(|e| ServiceError::invalid("code", e))
}

impl Inner {
    pub(super) async fn verify(
        &self,
        _caller: Option<Caller>,
        r: pb::VerifyCertificateRequest,
    ) -> ServiceResult<pb::CertificateVerification> {
        match r.subject {
            Some(Subject::Number(n)) => {
                let number = parse_number("number", &n)?;
                let code = parse_code(&r.code)?;
                let evidence = code.as_ref().map_or(Evidence::Nothing, Evidence::Code);
                self.verify_number(number, evidence).await
            }
            Some(Subject::CredentialJson(json)) => self.verify_credential(json).await,
            None => Err(ServiceError::invalid(
                "number",
                "a certificate number (or credential_json) is required",
            )),
        }
    }

    /// The answer for a number: the registry's state, and the statements as printed when the
    /// verifier holds the document (`evidence`).
    pub(super) async fn verify_number(
        &self,
        number: CertificateNumber,
        evidence: Evidence<'_>,
    ) -> ServiceResult<pb::CertificateVerification> {
        let text = number.to_string();
        let row = store::certificate(&self.core.db, &text).await?;
        let code = row.as_ref().and_then(stored_code);
        let registered = row.map(|c| verification::Registered {
            state: c.state,
            statement: convert::statement(self.academy, &c),
            revoked_at: c.revoked_at,
            reason: c.revocation_reason,
        });
        let finding = verification::finding(self.academy, &number, registered);
        let answer = verification::answer(finding, evidence, code.as_ref());
        Ok(convert::verification_pb(text, &answer))
    }

    /// The answer for a presented credential: its proof, then the registry.
    pub(super) async fn verify_credential(
        &self,
        json: String,
    ) -> ServiceResult<pb::CertificateVerification> {
        // Parsed, measured and canonicalised off the workers; nothing is decoded from a proof
        // value longer than any genuine one.
        let parsed = off_workers(move || {
            let document = parse_presented(&json).map_err(|e| ("credential_json".to_owned(), e))?;
            if let Some(oversized) = oversized_proof(&document) {
                return Err(oversized);
            }
            let claimed = claimed_number(&document)
                .map(|n| n.to_string())
                .unwrap_or_default();
            let parts = signed_parts(&document).map_err(Rejection::Proof);
            Ok((claimed, parts))
        })
        .await?;
        let (claimed, parts) = parsed.map_err(|(field, e)| ServiceError::invalid(field, e))?;
        let proven = match parts {
            Ok(parts) => match self.prove(parts).await? {
                Ok(p) => p,
                Err(rejection) => return Ok(convert::rejection_pb(claimed, &rejection)),
            },
            Err(rejection) => return Ok(convert::rejection_pb(claimed, &rejection)),
        };
        let Some(number) = claimed_number(&proven.parts.unsecured) else {
            return Ok(convert::rejection_pb(claimed, &Rejection::NotACertificate));
        };
        let mut result = self.verify_number(number, Evidence::Credential).await?;
        result.key_id = proven.kid;
        result.key_retired = proven.retired;
        // The registry must hold these very statements: a signed credential that differs from
        // what was issued (never seen unless a key leaked) is not accepted.
        if result.status != pb::VerificationStatus::Unknown as i32 {
            let stored = store::certificate(&self.core.db, &result.number)
                .await?
                .and_then(|c| c.credential);
            let parts = proven.parts;
            let same =
                off_workers(move || verification::as_issued(stored.as_deref(), &parts)).await?;
            if !same {
                let rejected = convert::rejection_pb(String::new(), &Rejection::NotAsIssued);
                return Ok(pb::CertificateVerification {
                    status: rejected.status,
                    explanation: rejected.explanation,
                    statement: None,
                    revocation: None,
                    ..result
                });
            }
        }
        Ok(result)
    }

    /// The key of the académie a proof names: `{did}#{kid}` of its did:web, or (credentials
    /// signed before did:web) a did:key; with whether it is retired.
    async fn proof_key(
        &self,
        proof: &ProofParts,
    ) -> ServiceResult<Result<(VerifyingKey, String, bool), Rejection>> {
        let method = &proof.verification_method;
        if method.starts_with("did:key:") {
            let key = match proof.did_key() {
                Ok(key) => key,
                Err(e) => return Ok(Err(Rejection::Key(e))),
            };
            return Ok(match self.academy_key(&key).await? {
                Some((kid, retired)) => Ok((key, kid, retired)),
                None => Err(Rejection::ForeignKey(self.academy.name)),
            });
        }
        let kid = self
            .did
            .as_deref()
            .and_then(|did| did_web::kid_of(did, method));
        let Some(kid) = kid else {
            return Ok(Err(Rejection::ForeignKey(self.academy.name)));
        };
        Ok(match self.academy_key_by_id(kid).await? {
            Some((key, retired)) => Ok((key, kid.to_owned(), retired)),
            None => Err(Rejection::ForeignKey(self.academy.name)),
        })
    }

    /// Whether every proof holds with the académie's key it names.
    async fn prove(&self, parts: SignedParts) -> ServiceResult<Result<Proven, Rejection>> {
        let mut keys = Vec::with_capacity(parts.proofs.len());
        for proof in &parts.proofs {
            match self.proof_key(proof).await? {
                Ok(found) => keys.push(found),
                Err(rejection) => return Ok(Err(rejection)),
            }
        }
        off_workers(move || {
            let all_hold = parts
                .proofs
                .iter()
                .zip(&keys)
                .all(|(proof, (key, _, _))| proof.verify(key).is_ok());
            match keys.into_iter().next() {
                Some((_, kid, retired)) if all_hold => Ok(Proven {
                    parts,
                    kid,
                    retired,
                }),
                _ => Err(Rejection::Altered),
            }
        })
        .await
    }
}
