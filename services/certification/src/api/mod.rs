//! The gRPC face of certification: each handler parses its request into domain values, applies
//! the rules, and writes the change and its events in one transaction. Authentication and roles
//! are checked before, by the node's auth layer against [`policy`]; what depends on data (a
//! candidate only sees their own certificate) is checked here.

pub mod convert;
mod web;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use cplds_proto::v1::{
    self as pb,
    certification_service_server::{CertificationService, CertificationServiceServer},
    event_envelope::Payload,
    verify_certificate_request::Subject,
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role, key_id, public_key_pem},
    clock::SharedClock,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    outbox::Outbox,
    pagination,
    signing::KeyRing,
    web::{PublicBase, route_prefix},
};
use ed25519_dalek::VerifyingKey;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tonic::{Request, Response, Status};

use crate::{
    NAME,
    domain::{
        certificate::{
            self as rules, CertificateState, Issuance, RuleViolation, Statement,
            parse_session_year, parse_signatory_name,
        },
        credential::{
            self, MAX_CREDENTIAL_BYTES, ProofOptions, StatusEntry, certificate_credential,
            signed_parts, status_list_credential,
        },
        jcs,
        multibase::{did_key_method, multikey},
        number::CertificateNumber,
        status_list::Bitstring,
    },
    events, printable,
    store::{self, CertificateFilter, certificate, migration::Migrator, signing_key},
};

/// How long verifiers may cache the status list before fetching it again.
pub const STATUS_LIST_TTL_HOURS: i64 = 24;

/// Mounts certification in a node.
pub struct CertificationModule;

#[async_trait]
impl ServiceModule for CertificationModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let keys = KeyRing::load(&ctx.config)?;
        let public = PublicBase::resolve(&ctx.config, ctx.http_addr)?;
        if public.is_none() {
            tracing::warn!(
                "documents.verification_base_url is not set: certificates' QR codes hold the bare number"
            );
        }
        let prefix = route_prefix(public.as_ref()).to_owned();
        let base_url = public.map(|p| p.url().to_owned());
        let inner = Arc::new(Inner {
            academy,
            db: ctx.db.clone(),
            outbox: ctx.outbox.clone(),
            clock: ctx.clock.clone(),
            keys,
            base_url,
            keys_recorded: OnceCell::new(),
        });
        let max = ctx.config.server.max_message_bytes;
        mount.add_grpc(
            CertificationServiceServer::new(CertificationApi {
                inner: inner.clone(),
            })
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        );
        policy(mount.policy());
        mount.add_http(web::routes(inner.clone(), &prefix));
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
        ("VerifyCertificate", Access::Public),
        ("ListSigningKeys", Access::Public),
        ("GetStatusList", Access::Public),
    ];
    for (method, access) in rules {
        p.allow(SERVICE, method, *access);
    }
}

#[derive(Clone)]
pub struct CertificationApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    db: DatabaseConnection,
    outbox: Outbox,
    clock: SharedClock,
    keys: KeyRing,
    base_url: Option<String>,
    keys_recorded: OnceCell<()>,
}

fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    Caller::of(req).cloned()
}

fn rule(v: RuleViolation, number: &str) -> ServiceError {
    ServiceError::precondition(v.rule, format!("certificate/{number}"), v.message)
}

fn state_of(c: &certificate::Model) -> ServiceResult<CertificateState> {
    CertificateState::parse(&c.state)
        .ok_or_else(|| ServiceError::internal(format!("bad state {:?} of {}", c.state, c.number)))
}

fn concurrent(err: DbErr, number: &str) -> ServiceError {
    match err {
        DbErr::RecordNotUpdated => ServiceError::precondition(
            "CONCURRENT_CHANGE",
            format!("certificate/{number}"),
            "the certificate changed meanwhile; read it again",
        ),
        e => e.into(),
    }
}

/// A verification answer without a certificate behind it.
fn answer(
    status: pb::VerificationStatus,
    number: String,
    explanation: impl Into<String>,
) -> pb::CertificateVerification {
    pb::CertificateVerification {
        status: status as i32,
        number,
        explanation: explanation.into(),
        ..Default::default()
    }
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn emit<C: ConnectionTrait>(
        &self,
        txn: &C,
        payloads: impl IntoIterator<Item = Payload>,
    ) -> Result<(), DbErr> {
        for p in payloads {
            self.outbox.append(txn, p).await?;
        }
        Ok(())
    }

    /// What the QR code of a certificate holds.
    fn verification_url(&self, number: &str) -> String {
        match &self.base_url {
            Some(base) => format!("{base}/{number}"),
            None => number.to_owned(),
        }
    }

    fn status_list_id(&self) -> String {
        match &self.base_url {
            Some(base) => format!("{base}/status-list"),
            None => format!("urn:cplds:status-list:{}", self.academy.code),
        }
    }

    fn render(&self, c: &certificate::Model) -> pb::Certificate {
        convert::certificate_pb(self.academy, c, self.verification_url(&c.number))
    }

    // ---- keys ----------------------------------------------------------------------------

    /// Records the key ring in the key history once per process: new keys, keys now retired
    /// (including keys dropped from the configuration), a key made current again.
    async fn ensure_keys(&self) -> ServiceResult<()> {
        self.keys_recorded
            .get_or_try_init(|| async {
                let now = self.now();
                let txn = self.db.begin().await?;
                let known = store::signing_keys(&txn).await?;
                for (kid, key, retired) in self.keys.keys() {
                    match known.iter().find(|k| k.kid == kid) {
                        None => {
                            store::insert_signing_key(
                                &txn,
                                signing_key::Model {
                                    kid: kid.to_owned(),
                                    public_key: hex::encode(key.as_bytes()),
                                    first_seen_at: now,
                                    retired_at: retired.then_some(now),
                                },
                            )
                            .await?
                        }
                        Some(k) if k.retired_at.is_some() != retired => {
                            store::set_key_retired(&txn, kid, retired.then_some(now)).await?
                        }
                        Some(_) => {}
                    }
                }
                for k in &known {
                    if k.retired_at.is_none() && self.keys.public_key(&k.kid).is_none() {
                        store::set_key_retired(&txn, &k.kid, Some(now)).await?;
                    }
                }
                txn.commit().await?;
                Ok::<(), ServiceError>(())
            })
            .await
            .map(|_| ())
    }

    /// The académie's key `key`, if it is one: its id and whether it is retired. Keys of the
    /// history verify too, so a retired key dropped from the configuration keeps its certificates
    /// valid.
    async fn academy_key(&self, key: &VerifyingKey) -> ServiceResult<Option<(String, bool)>> {
        let kid = key_id(key);
        if let Some((_, _, retired)) = self
            .keys
            .keys()
            .find(|(k, public, _)| *k == kid && *public == key)
        {
            return Ok(Some((kid, retired)));
        }
        self.ensure_keys().await?;
        let hex_key = hex::encode(key.as_bytes());
        Ok(store::signing_keys(&self.db)
            .await?
            .into_iter()
            .any(|k| k.kid == kid && k.public_key == hex_key)
            .then_some((kid, true)))
    }

    /// Signs `document` with the current key; returns the secured JSON and the key id.
    fn sign(&self, document: &Value, now: DateTime<Utc>) -> ServiceResult<(String, String)> {
        let kid = self.keys.current_kid().to_owned();
        let key = self
            .keys
            .public_key(&kid)
            .ok_or_else(|| ServiceError::internal("the current key is not in the key ring"))?;
        let secured = credential::add_proof(
            document,
            &ProofOptions {
                verification_method: did_key_method(key),
                created: now,
            },
            |data| self.keys.sign(data).1,
        )
        .map_err(ServiceError::internal)?;
        let text = serde_json::to_string_pretty(&secured).map_err(ServiceError::internal)?;
        Ok((text, kid))
    }

    fn certificate_credential(
        &self,
        s: &Statement,
        c: &certificate::Model,
    ) -> ServiceResult<Value> {
        let index = u64::try_from(c.status_index)
            .map_err(|_| ServiceError::internal(format!("bad status index of {}", c.number)))?;
        Ok(certificate_credential(
            s,
            &StatusEntry {
                list_id: self.status_list_id(),
                index,
            },
        ))
    }

    // ---- reading -------------------------------------------------------------------------

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        number: &str,
    ) -> ServiceResult<certificate::Model> {
        store::certificate(db, number)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("certificate {number}")))
    }

    /// Staff see every certificate; a candidate only their own (matched on the token's e-mail).
    fn ensure_access(&self, caller: &Caller, c: &certificate::Model) -> ServiceResult<()> {
        if caller.has(Role::Recteur) || caller.has(Role::ExamOffice) {
            return Ok(());
        }
        if caller.has(Role::Candidate) && c.email.eq_ignore_ascii_case(caller.subject.trim()) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(format!(
            "certificate {} is not yours",
            c.number
        )))
    }

    fn parse_number(field: &str, s: &str) -> ServiceResult<CertificateNumber> {
        convert::number(s).map_err(|e| ServiceError::invalid(field, e))
    }

    async fn get(
        &self,
        caller: Caller,
        req: pb::GetCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let number = Self::parse_number("number", &req.number)?;
        let c = self.find(&self.db, &number.to_string()).await?;
        self.ensure_access(&caller, &c)?;
        Ok(self.render(&c))
    }

    async fn list(
        &self,
        caller: Caller,
        req: pb::ListCertificatesRequest,
    ) -> ServiceResult<pb::ListCertificatesResponse> {
        let mut v = Violations::default();
        let year = v.check(
            "year",
            match req.year {
                0 => Ok(None),
                y if (crate::domain::number::FIRST_YEAR..=9999).contains(&y) => Ok(Some(y)),
                _ => Err(format!(
                    "must be 0 (all years) or a session year from {}",
                    crate::domain::number::FIRST_YEAR
                )),
            },
        );
        let state = v.check("state", convert::state_filter(req.state));
        let size = v.check("page_size", pagination::page_size(req.page_size));
        let filter = CertificateFilter {
            year: year.flatten(),
            state: state.flatten(),
            // A candidate's list holds only their own certificates.
            email: (!caller.has(Role::Recteur) && !caller.has(Role::ExamOffice))
                .then(|| caller.subject.trim().to_lowercase()),
        };
        let after = v.check(
            "page_token",
            pagination::decode_token(&filter.scope(), &req.page_token),
        );
        v.finish()?;
        let (size, after) = (size.expect("checked"), after.expect("checked"));
        let mut rows =
            store::list_certificates(&self.db, &filter, after.as_deref(), size + 1).await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            pagination::encode_token(&filter.scope(), &rows.last().expect("non-empty").number)
        } else {
            String::new()
        };
        Ok(pb::ListCertificatesResponse {
            certificates: rows.iter().map(|c| self.render(c)).collect(),
            next_page_token: next,
            total_size: store::count_certificates(&self.db, &filter).await? as i64,
        })
    }

    // ---- the recteur's acts --------------------------------------------------------------

    /// Signs and issues a prepared certificate inside `txn`; `None` if a concurrent call issued
    /// (or otherwise changed) it first.
    async fn issue_in<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: &Caller,
        c: certificate::Model,
        signatory_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> ServiceResult<Option<certificate::Model>> {
        let signatory = rules::signatory(self.academy, signatory_name);
        let mut issued = c.clone();
        issued.issued_at = Some(now);
        issued.signatory = Some(signatory.clone());
        let statement = convert::statement(self.academy, &issued)
            .ok_or_else(|| ServiceError::internal(format!("bad number {}", c.number)))?;
        let document = self.certificate_credential(&statement, &c)?;
        let (credential, kid) = self.sign(&document, now)?;
        let number = c.number.clone();
        let mut am = c.into_active_model();
        am.state = Set(CertificateState::Issued.as_str().into());
        am.issued_at = Set(Some(now));
        am.issued_by = Set(Some(caller.subject.clone()));
        am.signatory = Set(Some(signatory));
        am.key_id = Set(Some(kid.clone()));
        am.credential = Set(Some(credential));
        am.updated_at = Set(now);
        let row = match store::save_if_state(txn, am, CertificateState::Prepared).await {
            Ok(row) => row,
            Err(DbErr::RecordNotUpdated) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        store::record_history(
            txn,
            &number,
            now,
            &caller.subject,
            "issued",
            Some(format!("key {kid}")),
        )
        .await?;
        self.emit(txn, events::issued(&row)).await?;
        Ok(Some(row))
    }

    async fn issue_one(
        &self,
        caller: Caller,
        req: pb::IssueCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let mut v = Violations::default();
        let number = v.check("number", convert::number(&req.number));
        let signatory_name = v.check("signatory_name", parse_signatory_name(&req.signatory_name));
        v.finish()?;
        let (number, signatory_name) = (
            number.expect("checked").to_string(),
            signatory_name.expect("checked"),
        );
        self.ensure_keys().await?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.find(&txn, &number).await?;
        let row = match rules::can_issue(state_of(&c)?).map_err(|e| rule(e, &number))? {
            Issuance::AlreadyIssued => c,
            Issuance::Issue => self
                .issue_in(&txn, &caller, c, signatory_name.as_deref(), now)
                .await?
                .ok_or_else(|| concurrent(DbErr::RecordNotUpdated, &number))?,
        };
        txn.commit().await?;
        self.outbox.wake();
        Ok(self.render(&row))
    }

    async fn issue_batch(
        &self,
        caller: Caller,
        req: pb::IssueCertificatesRequest,
    ) -> ServiceResult<pb::IssueCertificatesResponse> {
        let now = self.now();
        let mut v = Violations::default();
        let year = v.check("year", parse_session_year(req.year, now));
        let signatory_name = v.check("signatory_name", parse_signatory_name(&req.signatory_name));
        v.finish()?;
        let (year, signatory_name) = (year.expect("checked"), signatory_name.expect("checked"));
        self.ensure_keys().await?;
        let txn = self.db.begin().await?;
        let of_year = |state| CertificateFilter {
            year: Some(year),
            state,
            email: None,
        };
        if store::count_certificates(&txn, &of_year(None)).await? == 0 {
            return Err(ServiceError::precondition(
                "NO_ADMITTED_CANDIDATES",
                format!("session/{year}"),
                format!(
                    "no admitted candidate of the {year} session has reached certification: \
                     are the results published?"
                ),
            ));
        }
        let mut already = store::count_certificates(&txn, &of_year(Some(CertificateState::Issued)))
            .await?
            + store::count_certificates(&txn, &of_year(Some(CertificateState::Revoked))).await?;
        let prepared = store::certificates_in_state(&txn, year, CertificateState::Prepared).await?;
        let mut issued = Vec::with_capacity(prepared.len());
        for c in prepared {
            match self
                .issue_in(&txn, &caller, c, signatory_name.as_deref(), now)
                .await?
            {
                Some(row) => issued.push(row),
                None => already += 1,
            }
        }
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(year, issued = issued.len(), already, by = %caller.subject, "certificates issued");
        Ok(pb::IssueCertificatesResponse {
            issued: issued.iter().map(|c| self.render(c)).collect(),
            already_issued_count: already as i64,
        })
    }

    async fn revoke(
        &self,
        caller: Caller,
        req: pb::RevokeCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let mut v = Violations::default();
        let number = v.check("number", convert::number(&req.number));
        let reason = v.check("reason", convert::reason(req.reason));
        let text = req.reason_text.trim().to_owned();
        if text.chars().count() > 500 {
            v.add("reason_text", "must be at most 500 characters");
        } else if text.is_empty() && reason == Some(rules::RevocationReason::Other) {
            v.add("reason_text", "is required when the reason is OTHER");
        }
        v.finish()?;
        let (number, reason) = (
            number.expect("checked").to_string(),
            reason.expect("checked"),
        );
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.find(&txn, &number).await?;
        rules::can_revoke(state_of(&c)?).map_err(|e| rule(e, &number))?;
        let mut am = c.into_active_model();
        am.state = Set(CertificateState::Revoked.as_str().into());
        am.revoked_at = Set(Some(now));
        am.revoked_by = Set(Some(caller.subject.clone()));
        am.revocation_reason = Set(Some(reason.as_str().into()));
        am.revocation_text = Set((!text.is_empty()).then_some(text));
        am.updated_at = Set(now);
        let row = store::save_if_state(&txn, am, CertificateState::Issued)
            .await
            .map_err(|e| concurrent(e, &number))?;
        store::record_history(
            &txn,
            &number,
            now,
            &caller.subject,
            "revoked",
            Some(reason.as_str().into()),
        )
        .await?;
        self.emit(&txn, events::revoked(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(%number, %reason, by = %caller.subject, "certificate revoked");
        Ok(self.render(&row))
    }

    async fn duplicate(
        &self,
        caller: Caller,
        req: pb::IssueDuplicateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let number = Self::parse_number("number", &req.number)?.to_string();
        self.ensure_keys().await?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.find(&txn, &number).await?;
        rules::can_deliver(state_of(&c)?).map_err(|e| rule(e, &number))?;
        // Same statements, signed again with today's key: a holder who lost everything gets a
        // credential that verifies even if the original key has since left the configuration.
        let statement = convert::statement(self.academy, &c).ok_or_else(|| {
            ServiceError::internal(format!("issued certificate {number} without statement"))
        })?;
        let document = self.certificate_credential(&statement, &c)?;
        let (credential, kid) = self.sign(&document, now)?;
        let count = c.duplicate_count;
        let mut am = c.into_active_model();
        am.duplicate_count = Set(count + 1);
        am.last_duplicate_at = Set(Some(now));
        am.key_id = Set(Some(kid.clone()));
        am.credential = Set(Some(credential));
        am.updated_at = Set(now);
        let row = certificate::Entity::update(am)
            .validate()?
            .filter(certificate::Column::State.eq(CertificateState::Issued.as_str()))
            .filter(certificate::Column::DuplicateCount.eq(count))
            .exec(&txn)
            .await
            .map_err(|e| concurrent(e, &number))?;
        store::record_history(
            &txn,
            &number,
            now,
            &caller.subject,
            "duplicate",
            Some(format!("duplicate {} signed with key {kid}", count + 1)),
        )
        .await?;
        self.emit(&txn, events::duplicated(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(self.render(&row))
    }

    // ---- documents -----------------------------------------------------------------------

    /// An issued, unrevoked certificate the caller may read.
    async fn deliverable(
        &self,
        caller: &Caller,
        number: &str,
    ) -> ServiceResult<certificate::Model> {
        let number = Self::parse_number("number", number)?.to_string();
        let c = self.find(&self.db, &number).await?;
        self.ensure_access(caller, &c)?;
        rules::can_deliver(state_of(&c)?).map_err(|e| rule(e, &number))?;
        Ok(c)
    }

    async fn pdf(
        &self,
        caller: Caller,
        req: pb::GetCertificatePdfRequest,
    ) -> ServiceResult<pb::CertificatePdf> {
        let c = self.deliverable(&caller, &req.number).await?;
        let statement = convert::statement(self.academy, &c).ok_or_else(|| {
            ServiceError::internal(format!("issued certificate {} without statement", c.number))
        })?;
        let content = printable::certificate_pdf(&statement, &self.verification_url(&c.number))
            .map_err(ServiceError::internal)?;
        Ok(pb::CertificatePdf {
            number: c.number.clone(),
            file_name: format!("{}.pdf", c.number),
            sha256: hex::encode(Sha256::digest(&content)),
            content,
        })
    }

    async fn credential(
        &self,
        caller: Caller,
        req: pb::GetCertificateCredentialRequest,
    ) -> ServiceResult<pb::CertificateCredential> {
        let c = self.deliverable(&caller, &req.number).await?;
        Ok(pb::CertificateCredential {
            number: c.number.clone(),
            credential_json: c.credential.ok_or_else(|| {
                ServiceError::internal(format!(
                    "issued certificate {} without credential",
                    c.number
                ))
            })?,
            media_type: "application/vc".into(),
        })
    }

    // ---- public --------------------------------------------------------------------------

    async fn verify(
        &self,
        req: pb::VerifyCertificateRequest,
    ) -> ServiceResult<pb::CertificateVerification> {
        match req.subject {
            Some(Subject::Number(n)) => {
                let number = Self::parse_number("number", &n)?;
                self.verify_number(number).await
            }
            Some(Subject::CredentialJson(json)) => self.verify_credential(&json).await,
            None => Err(ServiceError::invalid(
                "number",
                "a certificate number (or credential_json) is required",
            )),
        }
    }

    /// The answer for a number: the registry's state and the statements as printed.
    async fn verify_number(
        &self,
        number: CertificateNumber,
    ) -> ServiceResult<pb::CertificateVerification> {
        let text = number.to_string();
        if number.academy() != self.academy.code {
            return Ok(answer(
                pb::VerificationStatus::Unknown,
                text,
                format!(
                    "Ce numéro a été attribué par l'académie « {} » : vérifiez-le auprès de son service de vérification.",
                    number.academy()
                ),
            ));
        }
        let Some(c) = store::certificate(&self.db, &text).await? else {
            return Ok(answer(
                pb::VerificationStatus::Unknown,
                text,
                "Aucun certificat portant ce numéro n'a été délivré par l'académie.",
            ));
        };
        let statement = match (state_of(&c)?, convert::statement(self.academy, &c)) {
            (CertificateState::Issued | CertificateState::Revoked, Some(s)) => s,
            _ => {
                return Ok(answer(
                    pb::VerificationStatus::Unknown,
                    text,
                    "Aucun certificat portant ce numéro n'a été délivré par l'académie.",
                ));
            }
        };
        let statement_pb = convert::statement_pb(&statement);
        Ok(if state_of(&c)? == CertificateState::Revoked {
            let reason = c
                .revocation_reason
                .as_deref()
                .and_then(rules::RevocationReason::parse)
                .map_or("", |r| r.label_fr());
            pb::CertificateVerification {
                status: pb::VerificationStatus::Revoked as i32,
                number: text,
                explanation: format!(
                    "Ce certificat a été délivré à {} puis révoqué le {} (motif : {reason}) : il n'est plus valide.",
                    statement.holder_name,
                    c.revoked_at
                        .map(cplds_runtime::time::paris_date)
                        .map(|d| d.format("%d/%m/%Y").to_string())
                        .unwrap_or_default()
                ),
                statement: Some(statement_pb),
                revocation: convert::revocation_pb(&c, false),
                ..Default::default()
            }
        } else {
            pb::CertificateVerification {
                status: pb::VerificationStatus::Valid as i32,
                number: text,
                explanation: format!(
                    "Certificat authentique et valide, délivré à {} le {} : vérifiez que ces mentions sont celles du document présenté.",
                    statement.holder_name,
                    cplds_runtime::time::paris_date(statement.issued_at).format("%d/%m/%Y")
                ),
                statement: Some(statement_pb),
                ..Default::default()
            }
        })
    }

    /// The answer for a presented credential: its proof, then the registry.
    async fn verify_credential(&self, json: &str) -> ServiceResult<pb::CertificateVerification> {
        if json.len() > MAX_CREDENTIAL_BYTES {
            return Err(ServiceError::invalid(
                "credential_json",
                format!("must be at most {MAX_CREDENTIAL_BYTES} bytes"),
            ));
        }
        let document = jcs::parse_strict(json)
            .map_err(|e| ServiceError::invalid("credential_json", format!("is not JSON: {e}")))?;
        if !document.is_object() {
            return Err(ServiceError::invalid(
                "credential_json",
                "must be a JSON object",
            ));
        }
        let claimed = credential::claimed_number(&document)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let invalid = |why: String| answer(pb::VerificationStatus::Invalid, claimed.clone(), why);
        let parts = match signed_parts(&document) {
            Ok(p) => p,
            Err(e) => {
                return Ok(invalid(format!(
                    "La preuve de signature n'est pas valable : {e}."
                )));
            }
        };
        let key = match parts.did_key() {
            Ok(k) => k,
            Err(e) => {
                return Ok(invalid(format!(
                    "La clé de signature n'est pas reconnue : {e}."
                )));
            }
        };
        let Some((kid, retired)) = self.academy_key(&key).await? else {
            return Ok(invalid(format!(
                "Signé avec une clé qui n'est pas une clé de l'académie {} : ce document n'a pas été délivré par elle.",
                rules::of_academy(self.academy.name)
            )));
        };
        if parts.verify(&key).is_err() {
            return Ok(invalid(
                "La signature ne correspond pas au contenu : le document a été modifié.".into(),
            ));
        }
        let Some(number) = credential::claimed_number(&parts.unsecured) else {
            return Ok(invalid(
                "Ce document signé n'est pas un certificat CPLDS.".into(),
            ));
        };
        let mut result = self.verify_number(number).await?;
        result.key_id = kid;
        result.key_retired = retired;
        // The registry must hold these very statements: a signed credential that differs from
        // what was issued (never seen unless a key leaked) is not accepted.
        if result.status != pb::VerificationStatus::Unknown as i32 {
            let stored = store::certificate(&self.db, &number.to_string())
                .await?
                .and_then(|c| c.credential)
                .and_then(|text| jcs::parse_strict(&text).ok())
                .and_then(|v| signed_parts(&v).ok());
            if stored.map(|s| s.unsecured) != Some(parts.unsecured) {
                return Ok(pb::CertificateVerification {
                    status: pb::VerificationStatus::Invalid as i32,
                    statement: None,
                    revocation: None,
                    explanation:
                        "Ce document ne correspond pas au certificat délivré sous ce numéro.".into(),
                    ..result
                });
            }
        }
        Ok(result)
    }

    async fn signing_keys(&self) -> ServiceResult<pb::ListSigningKeysResponse> {
        self.ensure_keys().await?;
        let current = self.keys.current_kid();
        let mut keys = store::signing_keys(&self.db)
            .await?
            .into_iter()
            .map(|k| {
                let raw: [u8; 32] = hex::decode(&k.public_key)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        ServiceError::internal(format!("bad public key of {}", k.kid))
                    })?;
                let key = VerifyingKey::from_bytes(&raw).map_err(ServiceError::internal)?;
                let status = if k.kid == current {
                    pb::SigningKeyStatus::Current
                } else {
                    pb::SigningKeyStatus::Retired
                };
                Ok(pb::SigningKey {
                    key_id: k.kid.clone(),
                    multikey: multikey(&key),
                    public_key_pem: public_key_pem(&key),
                    status: status as i32,
                    verification_method: did_key_method(&key),
                    first_seen_time: Some(cplds_runtime::time::to_timestamp(k.first_seen_at)),
                    retire_time: k.retired_at.map(cplds_runtime::time::to_timestamp),
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        // Current first; the history is already most recent first.
        keys.sort_by_key(|k| k.status != pb::SigningKeyStatus::Current as i32);
        Ok(pb::ListSigningKeysResponse {
            keys,
            academy: self.academy.code.to_owned(),
        })
    }

    async fn status_list(&self) -> ServiceResult<pb::StatusList> {
        self.ensure_keys().await?;
        let now = self.now();
        let (revoked, max) = store::status_indices(&self.db).await?;
        let mut bits = Bitstring::for_index(max.max(0) as u64);
        for i in revoked {
            bits.set(i as u64, true).map_err(ServiceError::internal)?;
        }
        let valid_until = now + Duration::hours(STATUS_LIST_TTL_HOURS);
        let id = self.status_list_id();
        let document = status_list_credential(
            credential::issuer(self.academy.code, self.academy.name),
            &id,
            &bits,
            now,
            valid_until,
        );
        let (credential_json, _) = self.sign(&document, now)?;
        Ok(pb::StatusList {
            id,
            credential_json,
            size: bits.len() as i64,
            valid_until: Some(cplds_runtime::time::to_timestamp(valid_until)),
        })
    }
}

#[async_trait]
impl CertificationService for CertificationApi {
    async fn get_certificate(
        &self,
        r: Request<pb::GetCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let c = caller(&r)?;
        reply(self.inner.get(c, r.into_inner()).await)
    }

    async fn list_certificates(
        &self,
        r: Request<pb::ListCertificatesRequest>,
    ) -> Result<Response<pb::ListCertificatesResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.list(c, r.into_inner()).await)
    }

    async fn issue_certificate(
        &self,
        r: Request<pb::IssueCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let c = caller(&r)?;
        reply(self.inner.issue_one(c, r.into_inner()).await)
    }

    async fn issue_certificates(
        &self,
        r: Request<pb::IssueCertificatesRequest>,
    ) -> Result<Response<pb::IssueCertificatesResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.issue_batch(c, r.into_inner()).await)
    }

    async fn revoke_certificate(
        &self,
        r: Request<pb::RevokeCertificateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let c = caller(&r)?;
        reply(self.inner.revoke(c, r.into_inner()).await)
    }

    async fn issue_duplicate(
        &self,
        r: Request<pb::IssueDuplicateRequest>,
    ) -> Result<Response<pb::Certificate>, Status> {
        let c = caller(&r)?;
        reply(self.inner.duplicate(c, r.into_inner()).await)
    }

    async fn get_certificate_pdf(
        &self,
        r: Request<pb::GetCertificatePdfRequest>,
    ) -> Result<Response<pb::CertificatePdf>, Status> {
        let c = caller(&r)?;
        reply(self.inner.pdf(c, r.into_inner()).await)
    }

    async fn get_certificate_credential(
        &self,
        r: Request<pb::GetCertificateCredentialRequest>,
    ) -> Result<Response<pb::CertificateCredential>, Status> {
        let c = caller(&r)?;
        reply(self.inner.credential(c, r.into_inner()).await)
    }

    async fn verify_certificate(
        &self,
        r: Request<pb::VerifyCertificateRequest>,
    ) -> Result<Response<pb::CertificateVerification>, Status> {
        reply(self.inner.verify(r.into_inner()).await)
    }

    async fn list_signing_keys(
        &self,
        _: Request<pb::ListSigningKeysRequest>,
    ) -> Result<Response<pb::ListSigningKeysResponse>, Status> {
        reply(self.inner.signing_keys().await)
    }

    async fn get_status_list(
        &self,
        _: Request<pb::GetStatusListRequest>,
    ) -> Result<Response<pb::StatusList>, Status> {
        reply(self.inner.status_list().await)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_covers_every_method() {
        let mut p = cplds_runtime::auth::Policy::new();
        super::policy(&mut p);
        assert_eq!(p.uncovered_methods(super::SERVICE), Vec::<String>::new());
    }
}
