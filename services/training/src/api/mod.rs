//! The gRPC face of training. Each handler reads the same way: parse the request into domain
//! values (every bad field named), load what the decision needs through [`crate::store`],
//! decide with a rule of [`crate::domain`], and write the change, its audit history and its
//! events in one [`cplds_runtime::kit::UnitOfWork`]. Authentication and roles are checked
//! before, by the node's auth layer against [`policy`]; what depends on data (a candidate only
//! acts on their own enrolment, a trainer on the sessions they run, a tutor on their trainees)
//! is a rule of [`crate::domain::enrolment`] and [`crate::domain::assignment`].
//!
//! By area: [`catalogue`] (programmes and cohorts), [`sessions`] (and who runs them),
//! [`enrolments`] (places, the waiting list, departures, the deepening choice, tutors, staff
//! trained elsewhere), [`hours`] (attendance, the internship, a cohort's progress),
//! [`completion`] (the attestation and its public verification, also served as a page by
//! [`web`]), [`settings`] (what the académie's attestation requires beyond the hours).

mod catalogue;
mod completion;
pub mod convert;
mod enrolments;
mod hours;
mod sessions;
mod settings;
mod web;

use cplds_runtime::kit::Found;
use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    training_service_server::{TrainingService, TrainingServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Policy, Role},
    error::{ServiceError, ServiceResult, Violation, Violations},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    inbox::Consumer,
    kit::{Act, Paging, ServiceCore, UnitOfWork, parse_id},
    pagination,
    pseudonym::Pseudonymizer,
    signing::KeyRing,
    web::{PublicBase, route_prefix},
};
use sea_orm::ConnectionTrait;

use crate::{
    NAME,
    domain::{FieldError, enrolment::NotAllowed, programme::Programme, settings::Settings},
    events::{self, RegionalRecordHandler},
    store::{
        self, EnrolmentFile, ProgrammeRecord, Records, cohort, enrolment, migration::Migrator,
    },
};

/// Mounts training in a node.
pub struct TrainingModule;

#[async_trait]
impl ServiceModule for TrainingModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    fn uses_pseudonym_secret(&self) -> bool {
        true
    }

    fn queue(&self, academy: &'static Academy) -> Option<cplds_runtime::bus::QueueSpec> {
        Some(events::regional_queue(academy.code))
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let pseudonymizer = ctx.pseudonymizer(NAME)?;
        let public = PublicBase::resolve(&ctx.config, ctx.http_addr)?;
        let prefix = route_prefix(public.as_ref()).to_owned();
        let inner = Arc::new(Inner {
            academy,
            core: ServiceCore::new(ctx),
            pseudonymizer: pseudonymizer.clone(),
            keyring: KeyRing::load(&ctx.config)?,
            public,
        });
        mount.add_http(web::routes(inner.clone(), &prefix));
        cplds_runtime::add_grpc!(
            mount,
            ctx,
            TrainingServiceServer::new(TrainingApi { inner })
        );
        policy(mount.policy());
        mount.consume(Consumer {
            name: events::REGIONAL_CONSUMER.to_owned(),
            queue: events::regional_queue(academy.code),
            handler: Arc::new(RegionalRecordHandler {
                academy,
                pseudonymizer,
                outbox: ctx.outbox.clone(),
            }),
        });
        Ok(())
    }
}

const SERVICE: &str = "cplds.v1.TrainingService";
const OFFICE: &[Role] = &[Role::TrainingOffice];
const TRAINER: &[Role] = &[Role::Trainer];
/// Who follows trainees: the office and the recteur all of them, a trainer those of the cohorts
/// they run a session of (and of the trainees they tutor), decided by
/// [`crate::domain::assignment`].
const STAFF: &[Role] = &[Role::TrainingOffice, Role::Recteur, Role::Trainer];
const OFFICE_OR_CANDIDATE: &[Role] = &[Role::TrainingOffice, Role::Candidate];
const READERS: &[Role] = &[Role::TrainingOffice, Role::Trainer, Role::Candidate];
/// An enrolment is read by the staff who follow it and by its trainee.
const ENROLMENT_READERS: &[Role] = &[
    Role::TrainingOffice,
    Role::Recteur,
    Role::Trainer,
    Role::Candidate,
];

/// Who may call what. The training office runs the training and assigns the trainers of each
/// session; the recteur designates tutors (arrêté of 5 May 2017 on the training, art. 2);
/// trainers record attendance at the sessions they run and tutors the internship of their
/// trainees (both with the trainer role); a member of staff (candidate) asks for a place and
/// follows their own.
pub fn policy(p: &mut Policy) {
    let rules: &[(&str, &'static [Role])] = &[
        ("CreateProgramme", OFFICE),
        ("GetProgramme", READERS),
        ("ListProgrammes", READERS),
        ("CreateCohort", OFFICE),
        ("GetCohort", READERS),
        ("ListCohorts", READERS),
        ("CreateSeminar", OFFICE),
        ("CreateDistanceSession", OFFICE),
        ("AssignSessionTrainers", OFFICE),
        ("ListSessions", READERS),
        ("GetTrainingSettings", ENROLMENT_READERS),
        ("UpdateTrainingSettings", OFFICE),
        ("RequestEnrolment", OFFICE_OR_CANDIDATE),
        ("GetEnrolment", ENROLMENT_READERS),
        ("ListEnrolments", STAFF),
        ("WithdrawEnrolment", OFFICE_OR_CANDIDATE),
        ("ChooseDeepeningModules", OFFICE_OR_CANDIDATE),
        ("AssignTutor", &[Role::Recteur]),
        ("RecordInternshipActivity", TRAINER),
        ("RecordAttendance", TRAINER),
        ("GetCohortProgress", STAFF),
        ("IssueAttestation", OFFICE),
        ("GetAttestation", OFFICE_OR_CANDIDATE),
        ("RecordAbandonment", OFFICE),
        ("ListExternalTrainingRecords", OFFICE),
    ];
    for (method, roles) in rules {
        p.allow(SERVICE, method, Access::Roles(roles));
    }
    // Whoever is shown an attestation checks it without an account.
    p.allow(SERVICE, "VerifyAttestation", Access::Public);
}

#[derive(Clone)]
pub struct TrainingApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    core: ServiceCore,
    pseudonymizer: Pseudonymizer,
    /// The académie's document keys: attestations are signed like certificates and minutes.
    keyring: KeyRing,
    /// Where attestations' QR codes lead (`{base}/attestations/{number}`).
    public: Option<PublicBase>,
}

cplds_runtime::grpc_handlers! {
    impl TrainingService for TrainingApi => inner {
        create_programme(pb::CreateProgrammeRequest) -> pb::TrainingProgramme => create_programme;
        get_programme(pb::GetProgrammeRequest) -> pb::TrainingProgramme => get_programme;
        list_programmes(pb::ListProgrammesRequest) -> pb::ListProgrammesResponse => list_programmes;
        create_cohort(pb::CreateCohortRequest) -> pb::TrainingCohort => create_cohort;
        get_cohort(pb::GetCohortRequest) -> pb::TrainingCohort => get_cohort;
        list_cohorts(pb::ListCohortsRequest) -> pb::ListCohortsResponse => list_cohorts;
        create_seminar(pb::CreateSeminarRequest) -> pb::TrainingSession => create_seminar;
        create_distance_session(pb::CreateDistanceSessionRequest) -> pb::TrainingSession => create_distance_session;
        assign_session_trainers(pb::AssignSessionTrainersRequest) -> pb::TrainingSession => assign_session_trainers;
        list_sessions(pb::ListSessionsRequest) -> pb::ListSessionsResponse => list_sessions;
        get_training_settings(pb::GetTrainingSettingsRequest) -> pb::TrainingSettings => get_settings;
        update_training_settings(pb::UpdateTrainingSettingsRequest) -> pb::TrainingSettings => update_settings;
        request_enrolment(pb::RequestEnrolmentRequest) -> pb::TrainingEnrolment => request_enrolment;
        get_enrolment(pb::GetEnrolmentRequest) -> pb::TrainingEnrolment => get_enrolment;
        list_enrolments(pb::ListEnrolmentsRequest) -> pb::ListEnrolmentsResponse => list_enrolments;
        withdraw_enrolment(pb::WithdrawEnrolmentRequest) -> pb::WithdrawEnrolmentResponse => withdraw;
        record_abandonment(pb::RecordAbandonmentRequest) -> pb::RecordAbandonmentResponse => record_abandonment;
        choose_deepening_modules(pb::ChooseDeepeningModulesRequest) -> pb::TrainingEnrolment => choose_deepening;
        assign_tutor(pb::AssignTutorRequest) -> pb::TrainingEnrolment => assign_tutor;
        list_external_training_records(pb::ListExternalTrainingRecordsRequest) -> pb::ListExternalTrainingRecordsResponse => list_external;
        record_internship_activity(pb::RecordInternshipActivityRequest) -> pb::TrainingEnrolment => record_activity;
        record_attendance(pb::RecordAttendanceRequest) -> pb::TrainingEnrolment => record_attendance;
        get_cohort_progress(pb::GetCohortProgressRequest) -> pb::CohortProgress => cohort_progress;
        issue_attestation(pb::IssueAttestationRequest) -> pb::TrainingAttestation => issue_attestation;
        get_attestation(pb::GetAttestationRequest) -> pb::TrainingAttestation => get_attestation;
        #[public] verify_attestation(pb::VerifyAttestationRequest) -> pb::AttestationVerification => verify_attestation;
    }
}

impl From<NotAllowed> for ServiceError {
    fn from(e: NotAllowed) -> Self {
        ServiceError::PermissionDenied(e.0)
    }
}

/// The request's one identifier field, or INVALID_ARGUMENT naming it.
fn id_field(field: &str, value: &str) -> ServiceResult<String> {
    parse_id(value).map_err(|e| ServiceError::invalid(field, e))
}

/// INVALID_ARGUMENT naming each field of `errors`.
fn invalid(errors: Vec<FieldError>) -> ServiceError {
    ServiceError::InvalidArgument(
        errors
            .into_iter()
            .map(|(field, description)| Violation { field, description })
            .collect(),
    )
}

/// Field errors of a check against what is recorded (a module of the programme, a day of the
/// school year): INVALID_ARGUMENT naming each, or nothing.
fn refuse_fields(errors: Vec<FieldError>) -> ServiceResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(errors))
    }
}

/// A value parsed with field errors of its own, its errors added to the request's.
fn parsed<T>(v: &mut Violations, r: Result<T, Vec<FieldError>>) -> Option<T> {
    r.map_err(|errors| {
        for (field, why) in errors {
            v.add(field, why);
        }
    })
    .ok()
}

/// The position of a List whose filters may be refused: the page token is bound to the filters,
/// so it is read only once they are (the page size always).
fn paging_of(v: &mut Violations, scope: Option<String>, size: i32, token: &str) -> Option<Paging> {
    match scope {
        Some(scope) => Paging::parse(v, scope, size, token),
        None => {
            v.check("page_size", pagination::page_size(size));
            None
        }
    }
}

/// The subject rules about an enrolment name.
fn enrolment_subject(id: &str) -> String {
    format!("enrolment/{id}")
}

/// An act on an enrolment, for its audit history.
fn act<'a>(id: &'a str, actor: &'a str, action: &'a str, detail: Option<String>) -> Act<'a> {
    Act {
        kind: store::HISTORY_KIND,
        subject: id,
        actor,
        action,
        detail,
    }
}

impl Inner {
    async fn programme<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<ProgrammeRecord> {
        store::programme(db, id).await.found("programme", id)
    }

    async fn cohort<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<cohort::Model> {
        store::cohort(db, id).await.found("cohort", id)
    }

    async fn enrolment<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<enrolment::Model> {
        store::enrolment(db, id).await.found("enrolment", id)
    }

    /// The enrolment with all its rules read, under its cohort's lock.
    async fn file<C: ConnectionTrait>(&self, txn: &C, id: &str) -> ServiceResult<EnrolmentFile> {
        store::enrolment_file(txn, id).await.found("enrolment", id)
    }

    /// The file for an act on the trainee's ledger only (see [`store::ledger_file`]).
    async fn ledger_file<C: ConnectionTrait>(
        &self,
        txn: &C,
        id: &str,
    ) -> ServiceResult<EnrolmentFile> {
        store::ledger_file(txn, id).await.found("enrolment", id)
    }

    async fn render_cohort<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &cohort::Model,
    ) -> ServiceResult<pb::TrainingCohort> {
        let version = store::programme_version(db, &c.programme_id)
            .await?
            .unwrap_or(0);
        let counts = store::status_counts(db, &c.id).await?;
        Ok(convert::cohort_pb(c, self.academy.code, version, &counts))
    }

    async fn render<C: ConnectionTrait>(
        &self,
        db: &C,
        e: &enrolment::Model,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let c = self.cohort(db, &e.cohort_id).await?;
        let p = self.programme(db, &c.programme_id).await?;
        self.render_in(db, e, &c, &p.programme).await
    }

    /// [`Self::render`] of an enrolment whose cohort and programme are at hand.
    async fn render_in<C: ConnectionTrait>(
        &self,
        db: &C,
        e: &enrolment::Model,
        cohort: &cohort::Model,
        programme: &Programme,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let records = store::records_of(db, std::slice::from_ref(&e.id)).await?;
        let settings = self.settings(db).await?;
        self.render_settled(db, e, cohort, programme, &records, &settings)
            .await
    }

    /// [`Self::render_in`] with the enrolment's records and the académie's settings at hand.
    async fn render_settled<C: ConnectionTrait>(
        &self,
        db: &C,
        e: &enrolment::Model,
        cohort: &cohort::Model,
        programme: &Programme,
        records: &Records,
        settings: &Settings,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        // Only a waiting trainee shows a position.
        let position = if e.status == crate::domain::roster::EnrolmentStatus::Waitlisted {
            store::waiting_position(db, &cohort.id, e.request_number).await?
        } else {
            0
        };
        let view = self.view(cohort, programme, records, settings);
        Ok(view.enrolment_pb(e, position as u32)?)
    }

    /// The académie's settings (the arrêté's while none are stored).
    async fn settings<C: ConnectionTrait>(&self, db: &C) -> ServiceResult<Settings> {
        Ok(store::settings(db, self.academy.code).await?.0)
    }

    /// Ends an act on one enrolment: its history, the commit, then the enrolment as it now is.
    async fn recorded(
        &self,
        mut uow: UnitOfWork,
        act: Act<'_>,
        row: &enrolment::Model,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        uow.record(act).await?;
        uow.commit().await?;
        self.render(&self.core.db, row).await
    }

    /// [`Self::recorded`] for an act on an enrolment whose cohort and programme were loaded for it
    /// in the unit of work: only what the act wrote (the records) and the settings are read again
    /// (an attendance read cohort, programme and modules twice: ten round trips of fifteen).
    async fn recorded_in(
        &self,
        mut uow: UnitOfWork,
        act: Act<'_>,
        row: &enrolment::Model,
        cohort: &cohort::Model,
        programme: &Programme,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        uow.record(act).await?;
        uow.commit().await?;
        self.render_in(&self.core.db, row, cohort, programme).await
    }

    /// Rendering enrolments of cohort `c` with what was recorded for them.
    fn view<'a>(
        &'a self,
        c: &'a cohort::Model,
        p: &'a Programme,
        records: &'a Records,
        settings: &'a Settings,
    ) -> convert::EnrolmentView<'a> {
        convert::EnrolmentView {
            organizing: self.academy.code,
            cohort: c,
            programme: p,
            records,
            settings,
        }
    }
}
