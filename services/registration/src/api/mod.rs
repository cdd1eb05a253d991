//! The gRPC face of registration. Every handler reads the same way: parse the request into domain
//! values (every bad field named), load through [`crate::store`], decide with a rule of
//! [`crate::domain`], and write the change, its history and its events in one
//! [`UnitOfWork`](cplds_runtime::kit::UnitOfWork). Roles are checked before, by the node's auth
//! layer against [`policy`]; what depends on data (a candidate only sees their own candidacy) is
//! decided by [`crate::domain::access`], under the role the act is performed as: the handler
//! gives it the staff roles of the very same policy entry.
//!
//! By area: [`campaigns`], [`candidacies`], [`documents`], [`decisions`], [`admitted_list`].

mod admitted_list;
mod campaigns;
mod candidacies;
pub mod convert;
mod decisions;
mod documents;

use cplds_runtime::kit::Found;
use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    registration_service_server::{RegistrationService, RegistrationServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    error::{ServiceError, ServiceResult},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    kit::{Act, ServiceCore, parse_id},
    pseudonym::Pseudonymizer,
};
use sea_orm::ConnectionTrait;

use crate::{
    NAME,
    domain::{
        access::{Acting, NotAllowed},
        candidacy::{Claims, Facts},
        documents as docs,
    },
    events,
    store::{self, CANDIDACY, Lock, campaign, candidacy, migration::Migrator},
};

/// Mounts registration in a node.
pub struct RegistrationModule;

#[async_trait]
impl ServiceModule for RegistrationModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    fn uses_pseudonym_secret(&self) -> bool {
        true
    }

    fn queue(&self, academy: &'static Academy) -> Option<cplds_runtime::bus::QueueSpec> {
        Some(events::queue(academy.code))
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let pseudonymizer = ctx.pseudonymizer(NAME)?;
        let api = RegistrationApi {
            inner: Arc::new(Inner {
                academy,
                core: ServiceCore::new(ctx),
                pseudonymizer,
            }),
        };
        cplds_runtime::add_grpc!(mount, ctx, RegistrationServiceServer::new(api));
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
/// The staff of acts on a candidacy that its candidate may also do (upload, documents,
/// withdrawal, submission): the exam office.
const OFFICE: &[Role] = &[Role::ExamOffice];
const OFFICE_OR_CANDIDATE: &[Role] = &[Role::ExamOffice, Role::Candidate];
const READERS: &[Role] = &[Role::ExamOffice, Role::Recteur, Role::Candidate];
/// The staff who read candidacies: the exam office and the recteur.
const STAFF_READERS: &[Role] = &[Role::ExamOffice, Role::Recteur];
const ANYONE_OF_THE_ACADEMY: &[Role] = &Role::OF_AN_ACADEMY;

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
    core: ServiceCore,
    pseudonymizer: Pseudonymizer,
}

cplds_runtime::grpc_handlers! {
    impl RegistrationService for RegistrationApi => inner {
        create_campaign(pb::CreateCampaignRequest) -> pb::Campaign => create_campaign;
        get_campaign(pb::GetCampaignRequest) -> pb::Campaign => get_campaign;
        list_campaigns(pb::ListCampaignsRequest) -> pb::ListCampaignsResponse => list_campaigns;
        update_campaign(pb::UpdateCampaignRequest) -> pb::Campaign => update_campaign;
        submit_candidacy(pb::SubmitCandidacyRequest) -> pb::Candidacy => submit;
        get_candidacy(pb::GetCandidacyRequest) -> pb::Candidacy => get;
        list_candidacies(pb::ListCandidaciesRequest) -> pb::ListCandidaciesResponse => list;
        count_candidacies(pb::CountCandidaciesRequest) -> pb::CountCandidaciesResponse => count;
        upload_supporting_document(pb::UploadSupportingDocumentRequest) -> pb::SupportingDocument => upload;
        list_supporting_documents(pb::ListSupportingDocumentsRequest) -> pb::ListSupportingDocumentsResponse => list_documents;
        download_supporting_document(pb::DownloadSupportingDocumentRequest) -> pb::DownloadSupportingDocumentResponse => download;
        validate_candidacy(pb::ValidateCandidacyRequest) -> pb::Candidacy => validate;
        reject_candidacy(pb::RejectCandidacyRequest) -> pb::Candidacy => reject;
        withdraw_candidacy(pb::WithdrawCandidacyRequest) -> pb::Candidacy => withdraw;
        publish_admitted_list(pb::PublishAdmittedListRequest) -> pb::AdmittedList => publish_list;
        get_admitted_list(pb::GetAdmittedListRequest) -> pb::AdmittedList => admitted_list;
    }
}

/// Loaders the areas share: a missing record is NOT_FOUND.
impl Inner {
    fn no_campaign(&self, year: i32) -> ServiceError {
        ServiceError::NotFound(format!(
            "no registration campaign for {year} in académie {}",
            self.academy.code
        ))
    }

    async fn campaign<C: ConnectionTrait>(
        &self,
        db: &C,
        year: i32,
    ) -> ServiceResult<campaign::Model> {
        store::campaign(db, year)
            .await?
            .ok_or_else(|| self.no_campaign(year))
    }

    /// The campaign row, locked until the unit of work ends (see [`Lock`]).
    async fn campaign_locked<C: ConnectionTrait>(
        &self,
        db: &C,
        year: i32,
        lock: Lock,
    ) -> ServiceResult<campaign::Model> {
        store::campaign_locked(db, year, lock)
            .await?
            .ok_or_else(|| self.no_campaign(year))
    }

    async fn candidacy<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<candidacy::Model> {
        store::candidacy(db, id).await.found("candidacy", id)
    }

    /// What the rules of a candidacy need, its campaign locked for the acts it allows and the
    /// acts on its staff number locked (see [`store::lock_claims`]).
    async fn facts<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidacy::Model,
    ) -> ServiceResult<(Facts, Claims)> {
        let campaign = self.campaign_locked(db, c.year, Lock::Shared).await?;
        store::lock_claims(db, c.year, &c.candidate_key).await?;
        let claims = store::live_claims(db, c.year, &c.staff_number).await?;
        let present = store::document_kinds(db, &c.id).await?;
        let facts = Facts {
            status: c.status,
            eligible: c.eligible,
            missing_documents: docs::missing(&present),
            list_published: campaign.list_published_at.is_some(),
            results_published: campaign.results_published_at.is_some(),
            rivals: claims.rivals_of(&c.id),
        };
        Ok((facts, claims))
    }

    /// The candidacy as `acting` sees it: staff also see the other candidacies giving the same
    /// staff number; a candidate learns nothing about anyone else.
    async fn render<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidacy::Model,
        acting: &Acting<'_>,
    ) -> ServiceResult<pb::Candidacy> {
        let present = store::document_kinds(db, &c.id).await?;
        let rivals = match acting {
            Acting::Staff(_) if c.status.is_live() => {
                store::live_claims(db, c.year, &c.staff_number)
                    .await?
                    .rivals_of(&c.id)
            }
            _ => Vec::new(),
        };
        convert::candidacy_pb(self.academy.code, c, &present, rivals)
    }
}

impl From<NotAllowed> for ServiceError {
    fn from(e: NotAllowed) -> Self {
        ServiceError::PermissionDenied(e.0)
    }
}

/// The one identifier of a request about a candidacy.
fn parse_candidacy_id(s: &str) -> ServiceResult<String> {
    parse_id(s).map_err(|e| ServiceError::invalid("candidacy_id", e))
}

/// The subject a refusal about a campaign names.
fn campaign_subject(year: i32) -> String {
    format!("campaign/{year}")
}

/// The subject a refusal about a candidacy names.
fn candidacy_subject(id: &str) -> String {
    format!("{CANDIDACY}/{id}")
}

/// An act on a candidacy, for its history.
fn act<'a>(id: &'a str, caller: &'a Caller, action: &'a str, detail: Option<String>) -> Act<'a> {
    Act {
        kind: CANDIDACY,
        subject: id,
        actor: &caller.subject,
        action,
        detail,
    }
}
