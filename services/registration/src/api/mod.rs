//! The gRPC face of registration: each handler parses its request into domain values, applies
//! the rules, and writes the change and its events in one transaction. Authentication and roles
//! are checked before, by the node's auth layer against [`policy`]; what depends on data (a
//! candidate only sees their own candidacy) is checked here.

pub mod convert;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{
    self as pb,
    event_envelope::Payload,
    registration_service_server::{RegistrationService, RegistrationServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    clock::SharedClock,
    db::is_unique_violation,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    outbox::Outbox,
    pagination,
    pseudonym::Pseudonymizer,
    time::{format_paris_local, from_timestamp, paris_date, parse_date},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, Set, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    NAME,
    domain::{
        campaign::{self, Channel, Inadmissible, Window, parse_year},
        candidacy::{self as rules, CandidacyStatus, Facts, Rejection, RuleViolation},
        documents, eligibility,
    },
    events,
    store::{
        self, CandidacyFilter, campaign as campaign_row, candidacy, document, migration::Migrator,
    },
};

/// Mounts registration in a node.
pub struct RegistrationModule;

#[async_trait]
impl ServiceModule for RegistrationModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let pseudonymizer = ctx.pseudonymizer.clone().ok_or_else(|| {
            anyhow::anyhow!("registration needs the académie's pseudonymisation secret")
        })?;
        let api = RegistrationApi {
            inner: Arc::new(Inner {
                academy,
                db: ctx.db.clone(),
                outbox: ctx.outbox.clone(),
                clock: ctx.clock.clone(),
                pseudonymizer,
            }),
        };
        let max = ctx.config.server.max_message_bytes;
        mount.add_grpc(
            RegistrationServiceServer::new(api)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        );
        policy(mount.policy());
        mount.consume(cplds_runtime::inbox::Consumer {
            name: "registration.results".into(),
            queue: events::queue(academy.code),
            handler: Arc::new(events::ResultsPublishedHandler),
        });
        Ok(())
    }
}

const SERVICE: &str = "cplds.v1.RegistrationService";
const OFFICE: &[Role] = &[Role::ExamOffice];
const OFFICE_OR_CANDIDATE: &[Role] = &[Role::ExamOffice, Role::Candidate];
const READERS: &[Role] = &[Role::ExamOffice, Role::Recteur, Role::Candidate];
const STAFF_READERS: &[Role] = &[Role::ExamOffice, Role::Recteur];
const ANYONE_OF_THE_ACADEMY: &[Role] = &[
    Role::Candidate,
    Role::ExamOffice,
    Role::Recteur,
    Role::ItAdmin,
    Role::TrainingOffice,
    Role::Trainer,
    Role::BoardMember,
];

/// Who may call what. Identity data is never open to IT administrators.
pub fn policy(p: &mut Policy) {
    let rules: &[(&str, &'static [Role])] = &[
        ("CreateCampaign", OFFICE),
        ("UpdateCampaign", OFFICE),
        ("GetCampaign", ANYONE_OF_THE_ACADEMY),
        ("ListCampaigns", ANYONE_OF_THE_ACADEMY),
        ("SubmitCandidacy", OFFICE_OR_CANDIDATE),
        ("GetCandidacy", READERS),
        ("ListCandidacies", STAFF_READERS),
        (
            "CountCandidacies",
            &[Role::ExamOffice, Role::Recteur, Role::ItAdmin],
        ),
        ("UploadSupportingDocument", OFFICE_OR_CANDIDATE),
        ("ListSupportingDocuments", OFFICE_OR_CANDIDATE),
        ("DownloadSupportingDocument", OFFICE_OR_CANDIDATE),
        ("ValidateCandidacy", OFFICE),
        ("RejectCandidacy", OFFICE),
        ("WithdrawCandidacy", OFFICE_OR_CANDIDATE),
        ("PublishAdmittedList", &[Role::Recteur]),
        (
            "GetAdmittedList",
            &[Role::ExamOffice, Role::Recteur, Role::BoardMember],
        ),
    ];
    for (method, roles) in rules {
        p.allow(SERVICE, method, Access::Roles(roles));
    }
}

#[derive(Clone)]
pub struct RegistrationApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    db: DatabaseConnection,
    outbox: Outbox,
    clock: SharedClock,
    pseudonymizer: Pseudonymizer,
}

fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    Caller::of(req).cloned()
}

fn rule(v: RuleViolation, subject: &str) -> ServiceError {
    ServiceError::precondition(v.rule, subject, v.message)
}

fn parse_id(_field: &str, s: &str) -> Result<String, String> {
    Uuid::parse_str(s.trim())
        .map(|u| u.to_string())
        .map_err(|_| format!("{s:?} is not an identifier"))
}

fn concurrent(err: DbErr, subject: &str) -> ServiceError {
    match err {
        DbErr::RecordNotUpdated => ServiceError::precondition(
            "CONCURRENT_CHANGE",
            subject,
            "the candidacy changed meanwhile; read it again",
        ),
        e => e.into(),
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

    async fn campaign<C: ConnectionTrait>(
        &self,
        db: &C,
        year: i32,
    ) -> ServiceResult<campaign_row::Model> {
        store::campaign(db, year).await?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no registration campaign for {year} in académie {}",
                self.academy.code
            ))
        })
    }

    /// The campaign row locked until the transaction ends (PostgreSQL), so a decision and the
    /// publication of the list cannot interleave.
    async fn campaign_locked<C: ConnectionTrait>(
        &self,
        txn: &C,
        year: i32,
        lock: Lock,
    ) -> ServiceResult<campaign_row::Model> {
        let q = campaign_row::Entity::find_by_id(year);
        let q = match (txn.get_database_backend(), lock) {
            (sea_orm::DbBackend::Postgres, Lock::Exclusive) => q.lock_exclusive(),
            (sea_orm::DbBackend::Postgres, Lock::Shared) => q.lock_shared(),
            _ => q,
        };
        q.one(txn).await?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no registration campaign for {year} in académie {}",
                self.academy.code
            ))
        })
    }

    async fn candidacy<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<candidacy::Model> {
        store::candidacy(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("candidacy {id}")))
    }

    /// Staff see every candidacy; a candidate only their own (matched on the token's e-mail).
    fn ensure_access(&self, caller: &Caller, c: &candidacy::Model) -> ServiceResult<()> {
        if caller.has(Role::ExamOffice) || caller.has(Role::Recteur) {
            return Ok(());
        }
        if caller.has(Role::Candidate) && c.email.eq_ignore_ascii_case(caller.subject.trim()) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(format!(
            "candidacy {} is not yours",
            c.id
        )))
    }

    async fn facts<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidacy::Model,
        campaign: &campaign_row::Model,
    ) -> ServiceResult<Facts> {
        let present = store::document_kinds(db, &c.id).await?;
        Ok(Facts {
            status: CandidacyStatus::parse(&c.status)
                .ok_or_else(|| ServiceError::internal(format!("bad status {}", c.status)))?,
            eligible: c.eligible,
            missing_documents: documents::missing(&present),
            list_published: campaign.list_published_at.is_some(),
            results_published: campaign.results_published_at.is_some(),
        })
    }

    async fn render<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidacy::Model,
    ) -> ServiceResult<pb::Candidacy> {
        let present = store::document_kinds(db, &c.id).await?;
        Ok(convert::candidacy_pb(self.academy.code, c, &present))
    }

    // ---- campaigns -----------------------------------------------------------------------

    async fn create_campaign(
        &self,
        caller: Caller,
        req: pb::CreateCampaignRequest,
    ) -> ServiceResult<pb::Campaign> {
        let now = self.now();
        let mut v = Violations::default();
        let year = v.check("year", parse_year(req.year, now));
        let window = window(&req.opens_at_local, &req.closes_at_local, &mut v);
        v.finish()?;
        let (year, window) = (year.expect("checked"), window.expect("checked"));
        let txn = self.inner_db().begin().await?;
        if store::campaign(&txn, year).await?.is_some() {
            return Err(ServiceError::AlreadyExists(format!(
                "the {year} campaign of académie {} already exists",
                self.academy.code
            )));
        }
        let row = store::insert_campaign(
            &txn,
            campaign_row::Model {
                year,
                academy: self.academy.code.to_owned(),
                opens_at: window.opens_at,
                closes_at: window.closes_at,
                opens_at_local: format_paris_local(window.opens_at),
                closes_at_local: format_paris_local(window.closes_at),
                list_published_at: None,
                list_published_by: None,
                results_published_at: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ServiceError::AlreadyExists(format!("the {year} campaign already exists"))
            } else {
                e.into()
            }
        })?;
        self.emit(&txn, events::campaign_opened(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(year, by = %caller.subject, "campaign created");
        Ok(convert::campaign_pb(&row, now))
    }

    async fn update_campaign(
        &self,
        caller: Caller,
        req: pb::UpdateCampaignRequest,
    ) -> ServiceResult<pb::Campaign> {
        let now = self.now();
        let mut v = Violations::default();
        let window = window(&req.opens_at_local, &req.closes_at_local, &mut v);
        v.finish()?;
        let window = window.expect("checked");
        let txn = self.inner_db().begin().await?;
        let row = self
            .campaign_locked(&txn, req.year, Lock::Exclusive)
            .await?;
        if row.list_published_at.is_some() {
            return Err(ServiceError::precondition(
                "ADMITTED_LIST_PUBLISHED",
                format!("campaign/{}", row.year),
                "the admitted list is published: the campaign is frozen",
            ));
        }
        let mut am = row.into_active_model();
        am.opens_at = Set(window.opens_at);
        am.closes_at = Set(window.closes_at);
        am.opens_at_local = Set(format_paris_local(window.opens_at));
        am.closes_at_local = Set(format_paris_local(window.closes_at));
        am.updated_at = Set(now);
        let row = store::save_campaign(&txn, am).await?;
        self.emit(
            &txn,
            [Payload::CampaignUpdated(pb::CampaignUpdated {
                year: row.year,
                opens_at: Some(cplds_runtime::time::to_timestamp(row.opens_at)),
                closes_at: Some(cplds_runtime::time::to_timestamp(row.closes_at)),
            })],
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(year = row.year, by = %caller.subject, "campaign window changed");
        Ok(convert::campaign_pb(&row, now))
    }

    fn inner_db(&self) -> &DatabaseConnection {
        &self.db
    }

    // ---- candidacies ---------------------------------------------------------------------

    async fn submit(
        &self,
        caller: Caller,
        req: pb::SubmitCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let now = self.now();
        let mut v = Violations::default();
        let candidate = convert::candidate(req.candidate.as_ref(), self.academy, now, &mut v);
        let channel = channel(&req, now, &mut v);
        v.finish()?;
        let (candidate, channel) = (candidate.expect("checked"), channel.expect("checked"));

        if caller.is_only_candidate() {
            if channel != Channel::Online {
                return Err(ServiceError::PermissionDenied(
                    "only the exam office enters candidacies received by post or e-mail".into(),
                ));
            }
            if !candidate.email.same_person(&caller.subject) {
                return Err(ServiceError::PermissionDenied(
                    "a candidate registers with the e-mail address of their own account".into(),
                ));
            }
        }

        let txn = self.db.begin().await?;
        let campaign = self.campaign_locked(&txn, req.year, Lock::Shared).await?;
        let subject = format!("campaign/{}", campaign.year);
        if campaign.list_published_at.is_some() {
            return Err(ServiceError::precondition(
                "ADMITTED_LIST_PUBLISHED",
                subject,
                "the admitted list is published: registration is over",
            ));
        }
        let effective = campaign::admissibility(
            Window {
                opens_at: campaign.opens_at,
                closes_at: campaign.closes_at,
            },
            channel,
            now,
        )
        .map_err(|e| match e {
            Inadmissible::BeforeOpening { .. } => {
                ServiceError::precondition("WINDOW_NOT_OPEN", subject.clone(), e.to_string())
            }
            Inadmissible::AfterClosing { .. } => {
                ServiceError::precondition("WINDOW_CLOSED", subject.clone(), e.to_string())
            }
        })?;
        if let Some(existing) =
            store::live_candidacy_of(&txn, campaign.year, candidate.staff_number.as_str()).await?
        {
            return Err(ServiceError::AlreadyExists(format!(
                "staff number {} already has a live candidacy for {} ({})",
                candidate.staff_number.as_str(),
                campaign.year,
                existing.id
            )));
        }
        let eligibility = eligibility::evaluate(
            candidate.sector,
            candidate.status,
            candidate.function,
            candidate.corps,
        );
        let row = candidacy::Model {
            id: Uuid::now_v7().to_string(),
            year: campaign.year,
            status: CandidacyStatus::Submitted.as_str().into(),
            last_name: candidate.last_name.as_str().into(),
            first_name: candidate.first_name.as_str().into(),
            birth_date: candidate.birth_date.to_iso(),
            email: candidate.email.as_str().into(),
            phone: candidate.phone.as_ref().map(|p| p.as_str().to_owned()),
            staff_number: candidate.staff_number.as_str().into(),
            candidate_key: self
                .pseudonymizer
                .candidate_key(candidate.staff_number.as_str()),
            sex: candidate.sex.as_str().into(),
            sector: candidate.sector.as_str().into(),
            staff_status: candidate.status.as_str().into(),
            staff_function: candidate.function.as_str().into(),
            corps: candidate.corps.as_str().into(),
            staff_category: candidate.staff_category().as_str().into(),
            workplace_uai: candidate.workplace_uai.as_str().into(),
            workplace_type: candidate.workplace_type.as_str().into(),
            department: candidate.department.as_str().into(),
            runs_mlds_actions: candidate.runs_mlds_actions,
            is_dropout_referent: candidate.is_dropout_referent,
            eligible: eligibility.eligible,
            eligibility_explanations: serde_json::to_string(&eligibility.explanations)
                .expect("strings serialize"),
            channel: channel.as_str().into(),
            postmark_date: match channel {
                Channel::Post { postmark } => Some(postmark.format("%Y-%m-%d").to_string()),
                _ => None,
            },
            effective_submit_at: effective,
            submitted_by: caller.subject.clone(),
            decision_reason: None,
            decision_text: None,
            decided_at: None,
            decided_by: None,
            withdrawn_at: None,
            withdrawn_by: None,
            withdrawal_reason: None,
            status_before_withdrawal: None,
            on_admitted_list: false,
            created_at: now,
            updated_at: now,
        };
        let row = store::insert_candidacy(&txn, row).await.map_err(|e| {
            if is_unique_violation(&e) {
                ServiceError::AlreadyExists(format!(
                    "staff number {} already has a live candidacy for {}",
                    candidate.staff_number.as_str(),
                    campaign.year
                ))
            } else {
                e.into()
            }
        })?;
        store::record_history(
            &txn,
            &row.id,
            now,
            &caller.subject,
            "submitted",
            Some(format!("channel {}", channel.as_str())),
        )
        .await?;
        self.emit(&txn, events::submitted(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        self.render(&self.db, &row).await
    }

    async fn get(
        &self,
        caller: Caller,
        req: pb::GetCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let id = parse_id("candidacy_id", &req.candidacy_id)
            .map_err(|e| ServiceError::invalid("candidacy_id", e))?;
        let c = self.candidacy(&self.db, &id).await?;
        self.ensure_access(&caller, &c)?;
        self.render(&self.db, &c).await
    }

    async fn list(
        &self,
        req: pb::ListCandidaciesRequest,
    ) -> ServiceResult<pb::ListCandidaciesResponse> {
        let mut v = Violations::default();
        let status = v.check("status", convert::status_filter(req.status));
        let department = if req.department.trim().is_empty() {
            Some(None)
        } else {
            v.check(
                "department",
                crate::domain::candidate::Department::parse(&req.department, self.academy)
                    .map(|d| Some(d.as_str().to_owned())),
            )
        };
        let page_size = v.check("page_size", pagination::page_size(req.page_size));
        let filter = match (status, department) {
            (Some(status), Some(department)) => Some(CandidacyFilter {
                year: req.year,
                status,
                department,
            }),
            _ => None,
        };
        let after = filter.as_ref().and_then(|f| {
            v.check(
                "page_token",
                pagination::decode_token(&f.scope(), &req.page_token),
            )
        });
        v.finish()?;
        let (filter, after) = (filter.expect("checked"), after.expect("checked"));
        self.campaign(&self.db, req.year).await?;
        let limit = page_size.expect("checked");
        let mut rows =
            store::list_candidacies(&self.db, &filter, after.as_deref(), limit + 1).await?;
        let next_page_token = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            pagination::encode_token(&filter.scope(), &rows.last().expect("non-empty").id)
        } else {
            String::new()
        };
        let total_size = store::count_candidacies(&self.db, &filter).await? as i64;
        let mut candidacies = Vec::with_capacity(rows.len());
        for r in &rows {
            candidacies.push(self.render(&self.db, r).await?);
        }
        Ok(pb::ListCandidaciesResponse {
            candidacies,
            next_page_token,
            total_size,
        })
    }

    async fn count(
        &self,
        req: pb::CountCandidaciesRequest,
    ) -> ServiceResult<pb::CountCandidaciesResponse> {
        self.campaign(&self.db, req.year).await?;
        let rows = store::status_counts(&self.db, req.year).await?;
        let status_of = |s: &str| CandidacyStatus::parse(s).map_or(0, convert::status_pb);
        let mut totals: Vec<pb::StatusCount> = CandidacyStatus::ALL
            .iter()
            .map(|s| pb::StatusCount {
                status: convert::status_pb(*s),
                count: 0,
            })
            .collect();
        let mut by_department: Vec<pb::DepartmentCounts> = Vec::new();
        for (department, status, n) in &rows {
            if let Some(t) = totals.iter_mut().find(|t| t.status == status_of(status)) {
                t.count += n;
            }
            match by_department
                .iter_mut()
                .find(|d| &d.department == department)
            {
                Some(d) => d.counts.push(pb::StatusCount {
                    status: status_of(status),
                    count: *n,
                }),
                None => by_department.push(pb::DepartmentCounts {
                    department: department.clone(),
                    counts: vec![pb::StatusCount {
                        status: status_of(status),
                        count: *n,
                    }],
                }),
            }
        }
        let total = totals.iter().map(|t| t.count).sum();
        Ok(pb::CountCandidaciesResponse {
            counts: totals,
            by_department,
            total,
        })
    }

    // ---- documents -----------------------------------------------------------------------

    async fn upload(
        &self,
        caller: Caller,
        req: pb::UploadSupportingDocumentRequest,
    ) -> ServiceResult<pb::SupportingDocument> {
        let now = self.now();
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id("candidacy_id", &req.candidacy_id));
        let kind = v.check("kind", convert::document_kind(req.kind));
        let file_name = v.check("file_name", documents::parse_file_name(&req.file_name));
        let content = v.check(
            "content",
            documents::check_content(&req.content, &req.content_type),
        );
        v.finish()?;
        let (id, kind, file_name, (content_type, sha256)) = (
            id.expect("checked"),
            kind.expect("checked"),
            file_name.expect("checked"),
            content.expect("checked"),
        );
        let txn = self.db.begin().await?;
        let c = self.candidacy(&txn, &id).await?;
        self.ensure_access(&caller, &c)?;
        let campaign = self.campaign_locked(&txn, c.year, Lock::Shared).await?;
        let facts = self.facts(&txn, &c, &campaign).await?;
        rules::can_add_document(&facts).map_err(|e| rule(e, &format!("candidacy/{id}")))?;
        let meta = store::insert_document(
            &txn,
            document::Model {
                id: Uuid::now_v7().to_string(),
                candidacy_id: id.clone(),
                kind: kind.as_str().into(),
                file_name,
                content_type: content_type.into(),
                size_bytes: req.content.len() as i64,
                sha256,
                uploaded_at: now,
                uploaded_by: caller.subject.clone(),
            },
            req.content,
        )
        .await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "document_uploaded",
            Some(format!("{} {}", kind.as_str(), meta.sha256)),
        )
        .await?;
        txn.commit().await?;
        Ok(convert::document_pb(&meta))
    }

    async fn list_documents(
        &self,
        caller: Caller,
        req: pb::ListSupportingDocumentsRequest,
    ) -> ServiceResult<pb::ListSupportingDocumentsResponse> {
        let id = parse_id("candidacy_id", &req.candidacy_id)
            .map_err(|e| ServiceError::invalid("candidacy_id", e))?;
        let c = self.candidacy(&self.db, &id).await?;
        self.ensure_access(&caller, &c)?;
        let docs = store::documents(&self.db, &id).await?;
        Ok(pb::ListSupportingDocumentsResponse {
            documents: docs.iter().map(convert::document_pb).collect(),
        })
    }

    async fn download(
        &self,
        caller: Caller,
        req: pb::DownloadSupportingDocumentRequest,
    ) -> ServiceResult<pb::DownloadSupportingDocumentResponse> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id("candidacy_id", &req.candidacy_id));
        let doc_id = v.check("document_id", parse_id("document_id", &req.document_id));
        v.finish()?;
        let (id, doc_id) = (id.expect("checked"), doc_id.expect("checked"));
        let c = self.candidacy(&self.db, &id).await?;
        self.ensure_access(&caller, &c)?;
        let (meta, content) = store::document_with_content(&self.db, &id, &doc_id)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(format!("document {doc_id} of candidacy {id}"))
            })?;
        Ok(pb::DownloadSupportingDocumentResponse {
            document: Some(convert::document_pb(&meta)),
            content,
        })
    }

    // ---- decisions -----------------------------------------------------------------------

    async fn validate(
        &self,
        caller: Caller,
        req: pb::ValidateCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let id = parse_id("candidacy_id", &req.candidacy_id)
            .map_err(|e| ServiceError::invalid("candidacy_id", e))?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidacy(&txn, &id).await?;
        let campaign = self.campaign_locked(&txn, c.year, Lock::Shared).await?;
        let facts = self.facts(&txn, &c, &campaign).await?;
        rules::can_validate(&facts).map_err(|e| rule(e, &format!("candidacy/{id}")))?;
        let previous = c.status.clone();
        let mut am = c.into_active_model();
        am.status = Set(CandidacyStatus::Validated.as_str().into());
        am.decision_reason = Set(None);
        am.decision_text = Set(None);
        am.decided_at = Set(Some(now));
        am.decided_by = Set(Some(caller.subject.clone()));
        am.updated_at = Set(now);
        let row = save_if_status(&txn, am, &previous)
            .await
            .map_err(|e| concurrent(e, &format!("candidacy/{id}")))?;
        store::record_history(&txn, &id, now, &caller.subject, "validated", None).await?;
        self.emit(&txn, events::validated(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        self.render(&self.db, &row).await
    }

    async fn reject(
        &self,
        caller: Caller,
        req: pb::RejectCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id("candidacy_id", &req.candidacy_id));
        let reason = v.check("reason", convert::rejection_reason(req.reason));
        let rejection = match reason {
            Some(reason) => match Rejection::parse(reason, &req.reason_text) {
                Ok(r) => Some(r),
                Err(errors) => {
                    for (f, e) in errors {
                        v.add(f, e);
                    }
                    None
                }
            },
            None => None,
        };
        v.finish()?;
        let (id, rejection) = (id.expect("checked"), rejection.expect("checked"));
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidacy(&txn, &id).await?;
        let campaign = self.campaign_locked(&txn, c.year, Lock::Shared).await?;
        let facts = self.facts(&txn, &c, &campaign).await?;
        rules::can_reject(&facts).map_err(|e| rule(e, &format!("candidacy/{id}")))?;
        let previous = c.status.clone();
        let mut am = c.into_active_model();
        am.status = Set(CandidacyStatus::Rejected.as_str().into());
        am.decision_reason = Set(Some(rejection.reason.as_str().into()));
        am.decision_text = Set(rejection.text.clone());
        am.decided_at = Set(Some(now));
        am.decided_by = Set(Some(caller.subject.clone()));
        am.updated_at = Set(now);
        let row = save_if_status(&txn, am, &previous)
            .await
            .map_err(|e| concurrent(e, &format!("candidacy/{id}")))?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "rejected",
            Some(rejection.reason.as_str().into()),
        )
        .await?;
        self.emit(&txn, events::rejected(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        self.render(&self.db, &row).await
    }

    async fn withdraw(
        &self,
        caller: Caller,
        req: pb::WithdrawCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id("candidacy_id", &req.candidacy_id));
        let text = req.reason_text.trim().to_owned();
        if text.chars().count() > 500 {
            v.add("reason_text", "must be at most 500 characters");
        }
        v.finish()?;
        let id = id.expect("checked");
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.candidacy(&txn, &id).await?;
        self.ensure_access(&caller, &c)?;
        let campaign = self.campaign_locked(&txn, c.year, Lock::Shared).await?;
        let facts = self.facts(&txn, &c, &campaign).await?;
        rules::can_withdraw(&facts).map_err(|e| rule(e, &format!("candidacy/{id}")))?;
        let previous = c.status.clone();
        let mut am = c.into_active_model();
        am.status = Set(CandidacyStatus::Withdrawn.as_str().into());
        am.status_before_withdrawal = Set(Some(previous.clone()));
        am.withdrawn_at = Set(Some(now));
        am.withdrawn_by = Set(Some(caller.subject.clone()));
        am.withdrawal_reason = Set((!text.is_empty()).then_some(text));
        am.updated_at = Set(now);
        let row = save_if_status(&txn, am, &previous)
            .await
            .map_err(|e| concurrent(e, &format!("candidacy/{id}")))?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "withdrawn",
            Some(format!("was {previous}")),
        )
        .await?;
        self.emit(&txn, events::withdrawn(&row)).await?;
        txn.commit().await?;
        self.outbox.wake();
        self.render(&self.db, &row).await
    }

    // ---- the admitted list ---------------------------------------------------------------

    async fn publish_list(
        &self,
        caller: Caller,
        req: pb::PublishAdmittedListRequest,
    ) -> ServiceResult<pb::AdmittedList> {
        let now = self.now();
        let txn = self.db.begin().await?;
        let campaign = self
            .campaign_locked(&txn, req.year, Lock::Exclusive)
            .await?;
        let subject = format!("campaign/{}", campaign.year);
        if campaign.list_published_at.is_some() {
            return Err(ServiceError::precondition(
                "ADMITTED_LIST_ALREADY_PUBLISHED",
                subject,
                "the admitted list is published once; it is now frozen",
            ));
        }
        if now <= campaign.closes_at {
            return Err(ServiceError::precondition(
                "WINDOW_NOT_CLOSED",
                subject,
                format!(
                    "registration is open until {} (Europe/Paris); publish the list after it closes",
                    cplds_runtime::time::format_paris_human(campaign.closes_at)
                ),
            ));
        }
        let pending =
            store::candidacies_with_status(&txn, campaign.year, CandidacyStatus::Submitted).await?;
        if !pending.is_empty() {
            return Err(ServiceError::precondition(
                "UNDECIDED_CANDIDACIES",
                subject,
                format!(
                    "{} candidacies still await a decision of the exam office",
                    pending.len()
                ),
            ));
        }
        let admitted =
            store::candidacies_with_status(&txn, campaign.year, CandidacyStatus::Validated).await?;
        let ids: Vec<String> = admitted.iter().map(|c| c.id.clone()).collect();
        store::put_on_admitted_list(&txn, &ids, now).await?;
        let updated = campaign_row::Entity::update_many()
            .col_expr(
                campaign_row::Column::ListPublishedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .col_expr(
                campaign_row::Column::ListPublishedBy,
                sea_orm::sea_query::Expr::value(caller.subject.clone()),
            )
            .col_expr(
                campaign_row::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(campaign_row::Column::Year.eq(campaign.year))
            .filter(campaign_row::Column::ListPublishedAt.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(ServiceError::precondition(
                "ADMITTED_LIST_ALREADY_PUBLISHED",
                subject,
                "the admitted list was published meanwhile",
            ));
        }
        let admitted = store::admitted(&txn, campaign.year).await?;
        for c in &admitted {
            store::record_history(&txn, &c.id, now, &caller.subject, "admitted_to_sit", None)
                .await?;
        }
        self.emit(
            &txn,
            events::admitted_list_published(campaign.year, &admitted),
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(year = campaign.year, admitted = admitted.len(), by = %caller.subject, "admitted list published");
        self.admitted_list(req.year).await
    }

    async fn admitted_list(&self, year: i32) -> ServiceResult<pb::AdmittedList> {
        let campaign = self.campaign(&self.db, year).await?;
        let Some(at) = campaign.list_published_at else {
            return Err(ServiceError::NotFound(format!(
                "no admitted list is published for {year} yet"
            )));
        };
        let rows = store::admitted(&self.db, year).await?;
        Ok(pb::AdmittedList {
            academy: self.academy.code.to_owned(),
            year,
            publish_time: Some(cplds_runtime::time::to_timestamp(at)),
            published_by: campaign.list_published_by.unwrap_or_default(),
            candidates: rows
                .iter()
                .map(|c| pb::AdmittedCandidate {
                    candidacy_id: c.id.clone(),
                    last_name: c.last_name.clone(),
                    first_name: c.first_name.clone(),
                    department: c.department.clone(),
                    withdrawn: c.status == CandidacyStatus::Withdrawn.as_str(),
                })
                .collect(),
        })
    }
}

/// How a campaign row is locked for the rest of a transaction (PostgreSQL). Acts within the
/// campaign share it, so they run side by side; publishing the list and moving the window take
/// it alone, so no decision or submission slips in beside them.
#[derive(Clone, Copy)]
enum Lock {
    Shared,
    Exclusive,
}

/// Saves only if the status is still `expected` (another call may have changed it meanwhile).
async fn save_if_status<C: ConnectionTrait>(
    db: &C,
    am: candidacy::ActiveModel,
    expected: &str,
) -> Result<candidacy::Model, DbErr> {
    candidacy::Entity::update(am)
        .validate()?
        .filter(candidacy::Column::Status.eq(expected))
        .exec(db)
        .await
}

fn window(opens: &str, closes: &str, v: &mut Violations) -> Option<Window> {
    match Window::parse_local(opens, closes) {
        Ok(w) => Some(w),
        Err(errors) => {
            for e in errors {
                match e {
                    campaign::WindowError::Opens(m) => v.add("opens_at_local", m),
                    campaign::WindowError::Closes(m) => v.add("closes_at_local", m),
                    campaign::WindowError::Order => v.add("closes_at_local", e.to_string()),
                }
            }
            None
        }
    }
}

fn channel(
    req: &pb::SubmitCandidacyRequest,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<Channel> {
    let kind = pb::SubmissionChannel::try_from(req.channel);
    let has_postmark = !req.postmark_date.trim().is_empty();
    let channel = match kind {
        Ok(pb::SubmissionChannel::Unspecified | pb::SubmissionChannel::Online) => {
            Some(Channel::Online)
        }
        Ok(pb::SubmissionChannel::Post) => {
            if has_postmark {
                match parse_date(req.postmark_date.trim()) {
                    Ok(d) if d > paris_date(now) => {
                        v.add("postmark_date", "is in the future");
                        None
                    }
                    Ok(d) => Some(Channel::Post { postmark: d }),
                    Err(e) => {
                        v.add("postmark_date", e);
                        None
                    }
                }
            } else {
                v.add(
                    "postmark_date",
                    "is required for a candidacy received by post",
                );
                None
            }
        }
        Ok(pb::SubmissionChannel::Email) => match req
            .email_received_at
            .as_ref()
            .map(from_timestamp)
            .transpose()
        {
            Ok(Some(t)) if t > now => {
                v.add("email_received_at", "is in the future");
                None
            }
            Ok(t) => Some(Channel::Email {
                received_at: t.unwrap_or(now),
            }),
            Err(e) => {
                v.add("email_received_at", e);
                None
            }
        },
        Err(_) => {
            v.add("channel", format!("{} is not a known channel", req.channel));
            None
        }
    };
    if has_postmark && !matches!(channel, Some(Channel::Post { .. }) | None) {
        v.add(
            "postmark_date",
            "is only for a candidacy received by post (channel POST)",
        );
    }
    if req.email_received_at.is_some() && !matches!(kind, Ok(pb::SubmissionChannel::Email)) {
        v.add(
            "email_received_at",
            "is only for a candidacy received by e-mail (channel EMAIL)",
        );
    }
    channel
}

#[async_trait]
impl RegistrationService for RegistrationApi {
    async fn create_campaign(
        &self,
        r: Request<pb::CreateCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        let c = caller(&r)?;
        reply(self.inner.create_campaign(c, r.into_inner()).await)
    }

    async fn get_campaign(
        &self,
        r: Request<pb::GetCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        let year = r.into_inner().year;
        reply(
            self.inner
                .campaign(&self.inner.db, year)
                .await
                .map(|c| convert::campaign_pb(&c, self.inner.now())),
        )
    }

    async fn list_campaigns(
        &self,
        r: Request<pb::ListCampaignsRequest>,
    ) -> Result<Response<pb::ListCampaignsResponse>, Status> {
        let r = r.into_inner();
        reply(
            async {
                let mut v = Violations::default();
                let size = v.check("page_size", pagination::page_size(r.page_size));
                let before = v.check(
                    "page_token",
                    pagination::decode_token("campaigns", &r.page_token),
                );
                v.finish()?;
                let before = match before.expect("checked") {
                    Some(y) => Some(y.parse::<i32>().map_err(|_| {
                        ServiceError::invalid("page_token", "not a page token of this list")
                    })?),
                    None => None,
                };
                let size = size.expect("checked");
                let mut rows = store::list_campaigns(&self.inner.db, before, size + 1).await?;
                let next = if rows.len() as u64 > size {
                    rows.truncate(size as usize);
                    pagination::encode_token(
                        "campaigns",
                        &rows.last().expect("non-empty").year.to_string(),
                    )
                } else {
                    String::new()
                };
                let now = self.inner.now();
                Ok(pb::ListCampaignsResponse {
                    campaigns: rows.iter().map(|c| convert::campaign_pb(c, now)).collect(),
                    next_page_token: next,
                })
            }
            .await,
        )
    }

    async fn update_campaign(
        &self,
        r: Request<pb::UpdateCampaignRequest>,
    ) -> Result<Response<pb::Campaign>, Status> {
        let c = caller(&r)?;
        reply(self.inner.update_campaign(c, r.into_inner()).await)
    }

    async fn submit_candidacy(
        &self,
        r: Request<pb::SubmitCandidacyRequest>,
    ) -> Result<Response<pb::Candidacy>, Status> {
        let c = caller(&r)?;
        reply(self.inner.submit(c, r.into_inner()).await)
    }

    async fn get_candidacy(
        &self,
        r: Request<pb::GetCandidacyRequest>,
    ) -> Result<Response<pb::Candidacy>, Status> {
        let c = caller(&r)?;
        reply(self.inner.get(c, r.into_inner()).await)
    }

    async fn list_candidacies(
        &self,
        r: Request<pb::ListCandidaciesRequest>,
    ) -> Result<Response<pb::ListCandidaciesResponse>, Status> {
        reply(self.inner.list(r.into_inner()).await)
    }

    async fn count_candidacies(
        &self,
        r: Request<pb::CountCandidaciesRequest>,
    ) -> Result<Response<pb::CountCandidaciesResponse>, Status> {
        reply(self.inner.count(r.into_inner()).await)
    }

    async fn upload_supporting_document(
        &self,
        r: Request<pb::UploadSupportingDocumentRequest>,
    ) -> Result<Response<pb::SupportingDocument>, Status> {
        let c = caller(&r)?;
        reply(self.inner.upload(c, r.into_inner()).await)
    }

    async fn list_supporting_documents(
        &self,
        r: Request<pb::ListSupportingDocumentsRequest>,
    ) -> Result<Response<pb::ListSupportingDocumentsResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.list_documents(c, r.into_inner()).await)
    }

    async fn download_supporting_document(
        &self,
        r: Request<pb::DownloadSupportingDocumentRequest>,
    ) -> Result<Response<pb::DownloadSupportingDocumentResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.download(c, r.into_inner()).await)
    }

    async fn validate_candidacy(
        &self,
        r: Request<pb::ValidateCandidacyRequest>,
    ) -> Result<Response<pb::Candidacy>, Status> {
        let c = caller(&r)?;
        reply(self.inner.validate(c, r.into_inner()).await)
    }

    async fn reject_candidacy(
        &self,
        r: Request<pb::RejectCandidacyRequest>,
    ) -> Result<Response<pb::Candidacy>, Status> {
        let c = caller(&r)?;
        reply(self.inner.reject(c, r.into_inner()).await)
    }

    async fn withdraw_candidacy(
        &self,
        r: Request<pb::WithdrawCandidacyRequest>,
    ) -> Result<Response<pb::Candidacy>, Status> {
        let c = caller(&r)?;
        reply(self.inner.withdraw(c, r.into_inner()).await)
    }

    async fn publish_admitted_list(
        &self,
        r: Request<pb::PublishAdmittedListRequest>,
    ) -> Result<Response<pb::AdmittedList>, Status> {
        let c = caller(&r)?;
        reply(self.inner.publish_list(c, r.into_inner()).await)
    }

    async fn get_admitted_list(
        &self,
        r: Request<pb::GetAdmittedListRequest>,
    ) -> Result<Response<pb::AdmittedList>, Status> {
        reply(self.inner.admitted_list(r.into_inner().year).await)
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
