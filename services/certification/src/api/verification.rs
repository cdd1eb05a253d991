//! Public verification, by number or from a presented credential: no token needed, and the
//! answer shows only what the certificate prints ([`crate::domain::verification`] decides it).

use cplds_proto::v1::{self as pb, verify_certificate_request::Subject};
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult},
};
use serde_json::Value;

use super::{Inner, convert, parse_number};
use crate::{
    domain::{
        credential::{SignedParts, claimed_number, signed_parts},
        number::CertificateNumber,
        verification::{self, Registered, Rejection, parse_presented},
    },
    store,
};

/// The proof of a presented credential holds, signed by this key of the académie.
struct Proven {
    parts: SignedParts,
    kid: String,
    retired: bool,
}

impl Inner {
    pub(super) async fn verify(
        &self,
        _caller: Option<Caller>,
        r: pb::VerifyCertificateRequest,
    ) -> ServiceResult<pb::CertificateVerification> {
        match r.subject {
            Some(Subject::Number(n)) => self.verify_number(parse_number("number", &n)?).await,
            Some(Subject::CredentialJson(json)) => self.verify_credential(&json).await,
            None => Err(ServiceError::invalid(
                "number",
                "a certificate number (or credential_json) is required",
            )),
        }
    }

    /// The answer for a number: the registry's state and the statements as printed.
    pub(super) async fn verify_number(
        &self,
        number: CertificateNumber,
    ) -> ServiceResult<pb::CertificateVerification> {
        let text = number.to_string();
        let registered = store::certificate(&self.core.db, &text)
            .await?
            .map(|c| Registered {
                state: c.state,
                statement: convert::statement(self.academy, &c),
                revoked_at: c.revoked_at,
                reason: c.revocation_reason,
            });
        let finding = verification::finding(self.academy, &number, registered);
        Ok(convert::verification_pb(text, &finding))
    }

    /// The answer for a presented credential: its proof, then the registry.
    pub(super) async fn verify_credential(
        &self,
        json: &str,
    ) -> ServiceResult<pb::CertificateVerification> {
        let document =
            parse_presented(json).map_err(|e| ServiceError::invalid("credential_json", e))?;
        let claimed = claimed_number(&document)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let proven = match self.prove(&document).await? {
            Ok(p) => p,
            Err(rejection) => return Ok(convert::rejection_pb(claimed, &rejection)),
        };
        let Some(number) = claimed_number(&proven.parts.unsecured) else {
            return Ok(convert::rejection_pb(claimed, &Rejection::NotACertificate));
        };
        let mut result = self.verify_number(number).await?;
        result.key_id = proven.kid;
        result.key_retired = proven.retired;
        // The registry must hold these very statements: a signed credential that differs from
        // what was issued (never seen unless a key leaked) is not accepted.
        if result.status != pb::VerificationStatus::Unknown as i32 {
            let stored = store::certificate(&self.core.db, &result.number)
                .await?
                .and_then(|c| c.credential);
            if !verification::as_issued(stored.as_deref(), &proven.parts) {
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

    /// Whether the proof of `document` holds with a key of the académie.
    async fn prove(&self, document: &Value) -> ServiceResult<Result<Proven, Rejection>> {
        let parts = match signed_parts(document) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Rejection::Proof(e))),
        };
        let key = match parts.did_key() {
            Ok(k) => k,
            Err(e) => return Ok(Err(Rejection::Key(e))),
        };
        let Some((kid, retired)) = self.academy_key(&key).await? else {
            return Ok(Err(Rejection::ForeignKey(self.academy.name)));
        };
        if parts.verify(&key).is_err() {
            return Ok(Err(Rejection::Altered));
        }
        Ok(Ok(Proven {
            parts,
            kid,
            retired,
        }))
    }
}
