//! The gRPC face of certification: each handler parses its request into domain values, loads
//! through [`crate::store`], decides with a rule of [`crate::domain`], and writes the change,
//! its history and its events in one unit of work. Authentication and roles are checked before,
//! by the node's auth layer against [`policy`]; what depends on data (a candidate only sees
//! their own certificate, [`crate::domain::reader`]) is checked here.
//!
//! By area: `reading` (certificates, their PDF and credential), `issuing` (the recteur's
//! acts), `keys` (the key history, signing, the status list), `verification` (public
//! answers); `web` serves the public answers over plain HTTP through the same methods.

pub mod convert;
mod issuing;
mod keys;
pub mod limits;
mod reading;
mod verification;
mod web;

use cplds_runtime::kit::Found;
use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    certification_service_server::{CertificationService, CertificationServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    error::{ServiceError, ServiceResult},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    kit::ServiceCore,
    signing::KeyRing,
    web::{PublicBase, route_prefix},
};
use sea_orm::ConnectionTrait;
use tokio::sync::OnceCell;

use crate::{
    NAME,
    domain::{
        code::VerificationCode, credential::MAX_CREDENTIAL_BYTES, did_web,
        number::CertificateNumber, reader::Reader,
    },
    store::{self, certificate, migration::Migrator},
};

/// How long verifiers may cache the status list before fetching it again.
pub const STATUS_LIST_TTL_HOURS: i64 = 24;

/// The largest request certification decodes: a presented credential (64 KiB) and its framing.
/// Every other request of the service is a number or a year; the node's general limit
/// (`server.max_message_bytes`, 8 MiB) is for documents going out.
pub const MAX_REQUEST_BYTES: usize = MAX_CREDENTIAL_BYTES + 1024;

/// Mounts certification in a node.
pub struct CertificationModule;

#[async_trait]
impl ServiceModule for CertificationModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    fn queue(&self, academy: &'static Academy) -> Option<cplds_runtime::bus::QueueSpec> {
        Some(crate::consumer::queue(academy.code))
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let public = PublicBase::resolve(&ctx.config, ctx.http_addr)?;
        if public.is_none() {
            tracing::warn!(
                "documents.verification_base_url is not set: certificates' QR codes hold the bare number"
            );
        }
        let prefix = route_prefix(public.as_ref()).to_owned();
        // The issuer's did:web follows the public address; its DID document is served there.
        let did = public
            .as_ref()
            .map(|p| did_web::did_for_base(p.url()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("documents.verification_base_url: {e}"))?;
        let did_path = public.as_ref().map(|p| did_web::document_path(p.path()));
        let inner = Arc::new(Inner {
            academy,
            core: ServiceCore::new(ctx),
            keys: KeyRing::load(&ctx.config)?,
            base_url: public.map(|p| p.url().to_owned()),
            did,
            keys_recorded: OnceCell::new(),
            issued: ctx.metrics.counter(
                "cplds_certificates_issued",
                "Certificates issued (signed) by the recteur's office; duplicates excluded",
            ),
        });
        let api = CertificationApi {
            inner: inner.clone(),
        };
        // The public methods and pages share one gate: concurrency, and a rate per client.
        let gate = Arc::new(limits::PublicGate::new(&ctx.config.server.public));
        let max = ctx.config.server.max_message_bytes;
        let server = CertificationServiceServer::new(api)
            .max_decoding_message_size(max.min(MAX_REQUEST_BYTES))
            .max_encoding_message_size(max);
        let public = PUBLIC.iter().map(|m| format!("/{SERVICE}/{m}")).collect();
        mount.add_grpc(limits::Gated::new(server, gate.clone(), public));
        policy(mount.policy());
        mount.add_http(web::routes(
            inner.clone(),
            &prefix,
            did_path.as_deref(),
            gate.clone(),
        ));
        mount.job(Box::pin(gate.tidy(ctx.shutdown.clone())));
        mount.consume(crate::consumer::consumer(academy, ctx.clock.clone()));
        // The key history is written at start, so the published list dates each key from the
        // first start that used it (calls that need it wait for it, or retry it on failure).
        mount.job(Box::pin(async move {
            if let Err(e) = inner.ensure_keys().await {
                tracing::warn!(error = %e, "recording the signing keys failed; retried on first use");
            }
        }));
        Ok(())
    }
}

const SERVICE: &str = "cplds.v1.CertificationService";
const RECTEUR: &[Role] = &[Role::Recteur];
/// Staff who read certificates, and holders (their own only, checked in the handlers).
const READERS: &[Role] = &[Role::Recteur, Role::ExamOffice, Role::Candidate];

/// The methods anyone may call, without a token (and within [`limits`]).
const PUBLIC: &[&str] = &["VerifyCertificate", "ListSigningKeys", "GetStatusList"];

/// Who may call what. Issuing, revoking and duplicates are acts of the recteur's office;
/// verification, keys and the status list are public.
pub fn policy(p: &mut Policy) {
    let rules: &[(&str, Access)] = &[
        ("GetCertificate", Access::Roles(READERS)),
        ("ListCertificates", Access::Roles(READERS)),
        ("IssueCertificate", Access::Roles(RECTEUR)),
        ("IssueCertificates", Access::Roles(RECTEUR)),
        ("RevokeCertificate", Access::Roles(RECTEUR)),
        ("IssueDuplicate", Access::Roles(RECTEUR)),
        ("GetCertificatePdf", Access::Roles(READERS)),
        ("GetCertificateCredential", Access::Roles(READERS)),
    ];
    for (method, access) in rules {
        p.allow(SERVICE, method, *access);
    }
    // The same list the gate stands in front of.
    for method in PUBLIC {
        p.allow(SERVICE, method, Access::Public);
    }
}

#[derive(Clone)]
pub struct CertificationApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    core: ServiceCore,
    keys: KeyRing,
    /// `documents.verification_base_url`, where QR codes and the status list point.
    base_url: Option<String>,
    /// The académie's did:web (from the public address): the issuer of its credentials, the
    /// controller of its keys. `None` without a public address: the legacy `urn:` issuer and
    /// `did:key` methods.
    did: Option<String>,
    keys_recorded: OnceCell<()>,
    /// `cplds_certificates_issued_total`, counted once committed.
    issued: cplds_runtime::metrics::MetricCounter,
}

cplds_runtime::grpc_handlers! {
    impl CertificationService for CertificationApi => inner {
        get_certificate(pb::GetCertificateRequest) -> pb::Certificate => get;
        list_certificates(pb::ListCertificatesRequest) -> pb::ListCertificatesResponse => list;
        issue_certificate(pb::IssueCertificateRequest) -> pb::Certificate => issue_one;
        issue_certificates(pb::IssueCertificatesRequest) -> pb::IssueCertificatesResponse => issue_batch;
        revoke_certificate(pb::RevokeCertificateRequest) -> pb::Certificate => revoke;
        issue_duplicate(pb::IssueDuplicateRequest) -> pb::Certificate => duplicate;
        get_certificate_pdf(pb::GetCertificatePdfRequest) -> pb::CertificatePdf => pdf;
        get_certificate_credential(pb::GetCertificateCredentialRequest) -> pb::CertificateCredential => credential;
        #[public] verify_certificate(pb::VerifyCertificateRequest) -> pb::CertificateVerification => verify;
        #[public] list_signing_keys(pb::ListSigningKeysRequest) -> pb::ListSigningKeysResponse => list_signing_keys;
        #[public] get_status_list(pb::GetStatusListRequest) -> pb::StatusList => get_status_list;
    }
}

/// A certificate number from a request field, or INVALID_ARGUMENT naming the field.
fn parse_number(field: &str, s: &str) -> ServiceResult<CertificateNumber> {
    convert::number(s).map_err(|e| ServiceError::invalid(field, e))
}

/// What a refusal about certificate `number` is about.
fn subject(number: &str) -> String {
    format!("certificate/{number}")
}

/// The verification code a certificate holds, if it has a readable one.
fn stored_code(c: &certificate::Model) -> Option<VerificationCode> {
    c.verification_code
        .as_deref()
        .and_then(|t| VerificationCode::parse(t).ok())
}

/// The reader a token makes.
fn reader(caller: &Caller) -> Reader {
    Reader::new(
        caller.has(Role::Recteur) || caller.has(Role::ExamOffice),
        caller.has(Role::Candidate),
        &caller.subject,
    )
}

impl Inner {
    /// What the QR code of a certificate holds: its page with the code, so whoever scans the
    /// document sees what it states; or the number and the code, when the académie has no
    /// public address.
    fn verification_url(&self, c: &certificate::Model) -> String {
        let number = &c.number;
        match (&self.base_url, stored_code(c)) {
            (Some(base), Some(code)) => format!("{base}/{number}?code={}", code.grouped()),
            (Some(base), None) => format!("{base}/{number}"),
            (None, Some(code)) => format!("{number} {}", code.grouped()),
            (None, None) => number.clone(),
        }
    }

    fn status_list_id(&self) -> String {
        match &self.base_url {
            Some(base) => format!("{base}/status-list"),
            None => format!("urn:cplds:status-list:{}", self.academy.code),
        }
    }

    fn render(&self, c: &certificate::Model) -> pb::Certificate {
        convert::certificate_pb(self.academy, c, self.verification_url(c))
    }

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        number: &str,
    ) -> ServiceResult<certificate::Model> {
        store::certificate(db, number)
            .await
            .found("certificate", number)
    }

    /// Staff see every certificate; a candidate only their own (matched on the token's e-mail).
    fn ensure_access(&self, caller: &Caller, c: &certificate::Model) -> ServiceResult<()> {
        if reader(caller).may_read(&c.email) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied(format!(
                "certificate {} is not yours",
                c.number
            )))
        }
    }
}
