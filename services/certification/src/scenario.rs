//! A scripted use of the service through its public gRPC client only (the demo and the tests
//! run it): the recteur issues the certificates of a session, then anyone verifies one of them
//! by its number and by its credential, without a token.

use std::{fmt, time::Duration};

use anyhow::Context;
use cplds_proto::v1::{self as pb, certification_service_client::CertificationServiceClient};
use cplds_runtime::{
    auth::authed,
    poll::{self, Check},
};
use tonic::transport::Channel;

use crate::domain::{jcs, multibase::parse_multikey, proof::signed_parts};

pub struct ScenarioOptions {
    pub year: i32,
    /// Wait until at least this many certificates of the year are known (prepared from the
    /// published results, which arrive asynchronously), at most `wait`.
    pub expected: usize,
    pub wait: Duration,
    /// Printed under the title; the office's title alone when `None`.
    pub signatory_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSummary {
    pub year: i32,
    /// Certificates this run issued, and those issued before it.
    pub issued: usize,
    pub already_issued: usize,
    /// The certificate verified publicly.
    pub verified_number: String,
    pub holder_name: String,
    /// Verification by number, then by the presented credential (both `VALID` when all is well).
    pub status_by_number: pb::VerificationStatus,
    pub status_by_credential: pb::VerificationStatus,
    /// The key that signed the credential, and the QR code's target.
    pub key_id: String,
    pub verification_url: String,
}

impl fmt::Display for ScenarioSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "certification {}: {} certificate(s) issued by the recteur ({} already issued)",
            self.year, self.issued, self.already_issued
        )?;
        writeln!(
            f,
            "  public verification of {} ({}): by number {}, by credential {} (key {})",
            self.verified_number,
            self.holder_name,
            self.status_by_number.as_str_name(),
            self.status_by_credential.as_str_name(),
            self.key_id
        )?;
        write!(f, "  QR code: {}", self.verification_url)
    }
}

/// Issues the batch of `opts.year` as the recteur (`recteur_token`), then verifies the first
/// certificate of the year publicly. Fails if no certificate could be verified as valid.
pub async fn issue_and_verify(
    channel: Channel,
    recteur_token: &str,
    opts: ScenarioOptions,
) -> anyhow::Result<ScenarioSummary> {
    let mut client = CertificationServiceClient::new(channel);
    let list = |client: &mut CertificationServiceClient<Channel>| {
        let req = authed(
            pb::ListCertificatesRequest {
                year: opts.year,
                ..Default::default()
            },
            recteur_token,
        );
        let mut client = client.clone();
        async move { anyhow::Ok(client.list_certificates(req).await?.into_inner()) }
    };
    poll::until(opts.wait, Duration::from_millis(50), async || {
        let known = list(&mut client).await?.total_size as usize;
        Ok(match known >= opts.expected {
            true => Check::Done(()),
            false => Check::Waiting(format!(
                "only {known} of {} certificates of {} prepared: are the results published?",
                opts.expected, opts.year
            )),
        })
    })
    .await?;

    let batch = client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: opts.year,
                signatory_name: opts.signatory_name.clone().unwrap_or_default(),
            },
            recteur_token,
        ))
        .await
        .context("issuing the certificates")?
        .into_inner();
    let first = list(&mut client)
        .await?
        .certificates
        .into_iter()
        .find(|c| c.state == pb::CertificateState::Issued as i32)
        .context("no issued certificate to verify")?;

    // Anyone, without a token: by the number and the code printed on the certificate (the
    // number alone says only valid or revoked)...
    let by_number = client
        .verify_certificate(pb::VerifyCertificateRequest {
            subject: Some(pb::verify_certificate_request::Subject::Number(
                first.number.clone(),
            )),
            code: first.verification_code.clone(),
        })
        .await?
        .into_inner();
    // ...and by the credential the holder presents, whose key must be one the académie publishes.
    let credential = client
        .get_certificate_credential(authed(
            pb::GetCertificateCredentialRequest {
                number: first.number.clone(),
            },
            recteur_token,
        ))
        .await?
        .into_inner()
        .credential_json;
    let keys = client
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await?
        .into_inner()
        .keys;
    // Each proof (JCS and RDFC) names a key the académie publishes, and holds with it.
    let parts = signed_parts(&jcs::parse_strict(&credential).map_err(anyhow::Error::msg)?)?;
    for proof in &parts.proofs {
        let published = keys
            .iter()
            .find(|k| k.verification_method == proof.verification_method)
            .context("the credential is signed by a key the académie does not publish")?;
        proof.verify(&parse_multikey(&published.multikey)?)?;
    }
    let by_credential = client
        .verify_certificate(pb::VerifyCertificateRequest {
            subject: Some(pb::verify_certificate_request::Subject::CredentialJson(
                credential,
            )),
            code: String::new(),
        })
        .await?
        .into_inner();
    let status = |v: &pb::CertificateVerification| {
        pb::VerificationStatus::try_from(v.status).unwrap_or(pb::VerificationStatus::Unspecified)
    };
    let summary = ScenarioSummary {
        year: opts.year,
        issued: batch.issued.len(),
        already_issued: batch.already_issued_count as usize,
        verified_number: first.number.clone(),
        holder_name: by_number
            .statement
            .as_ref()
            .map(|s| s.holder_name.clone())
            .unwrap_or_default(),
        status_by_number: status(&by_number),
        status_by_credential: status(&by_credential),
        key_id: by_credential.key_id.clone(),
        verification_url: first.verification_url.clone(),
    };
    anyhow::ensure!(
        summary.status_by_number == pb::VerificationStatus::Valid
            && summary.status_by_credential == pb::VerificationStatus::Valid,
        "verification failed: {summary}"
    );
    Ok(summary)
}
