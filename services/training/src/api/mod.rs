//! The gRPC face of training: each handler parses its request into domain values (every bad
//! field named), applies the rules, and writes the change and its events in one transaction.
//! Authentication and roles are checked before, by the node's auth layer against [`policy`];
//! what depends on data (a candidate only acts on their own enrolment) is checked here.
//!
//! Every act that changes an enrolment locks its cohort's row first (PostgreSQL; SQLite has one
//! writer): places, the waiting list and each trainee's ledger change one act at a time.

pub mod convert;
mod web;

use std::sync::Arc;

use async_trait::async_trait;
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, NaiveDate, Utc};
use cplds_proto::v1::{
    self as pb,
    event_envelope::Payload,
    training_service_server::{TrainingService, TrainingServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    clock::SharedClock,
    db::is_unique_violation,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    inbox::Consumer,
    outbox::Outbox,
    pagination,
    pseudonym::Pseudonymizer,
    signing::KeyRing,
    time::{format_paris_local, paris_date, parse_date, parse_paris_local},
    web::{PublicBase, route_prefix},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, IntoActiveModel, Set, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    NAME,
    domain::{
        RuleViolation,
        attestation::{self, Attestation},
        calendar::{self, SchoolYear},
        cohort::{
            self as cohort_rules, ActivityKind, SessionKind, academies_from_stored,
            academies_to_stored, free_text,
        },
        format_minutes,
        hours::{self, Hours},
        identity::Uai,
        programme::{self, ARRETE_2017, ModuleCode, ModuleKind, Programme},
        roster::{EnrolmentStatus, Roster},
    },
    events::{self, RegionalRecordHandler},
    store::{
        self, EnrolmentFilter, ExternalFilter, activity, attestation as attestation_row, cohort,
        credit, enrolment, migration::Migrator, programme as programme_row, programme_module,
        session, session_module,
    },
};

/// Mounts training in a node.
pub struct TrainingModule;

#[async_trait]
impl ServiceModule for TrainingModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let pseudonymizer = ctx.pseudonymizer.clone().ok_or_else(|| {
            anyhow::anyhow!("training needs the académie's pseudonymisation secret")
        })?;
        let public = PublicBase::resolve(&ctx.config, ctx.http_addr)?;
        let prefix = route_prefix(public.as_ref()).to_owned();
        let api = TrainingApi {
            inner: Arc::new(Inner {
                academy,
                db: ctx.db.clone(),
                outbox: ctx.outbox.clone(),
                clock: ctx.clock.clone(),
                pseudonymizer: pseudonymizer.clone(),
                keyring: KeyRing::load(&ctx.config)?,
                public,
            }),
        };
        mount.add_http(web::routes(api.inner.clone(), &prefix));
        let max = ctx.config.server.max_message_bytes;
        mount.add_grpc(
            TrainingServiceServer::new(api)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
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
const STAFF: &[Role] = &[Role::TrainingOffice, Role::Trainer];
const OFFICE_OR_CANDIDATE: &[Role] = &[Role::TrainingOffice, Role::Candidate];
const READERS: &[Role] = &[Role::TrainingOffice, Role::Trainer, Role::Candidate];

/// Who may call what. The training office runs the training; trainers record attendance and
/// the internship; a member of staff (candidate) asks for a place and follows their own.
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
        ("ListSessions", READERS),
        ("RequestEnrolment", OFFICE_OR_CANDIDATE),
        ("GetEnrolment", READERS),
        ("ListEnrolments", STAFF),
        ("WithdrawEnrolment", OFFICE_OR_CANDIDATE),
        ("ChooseDeepeningModules", OFFICE_OR_CANDIDATE),
        ("AssignTutor", OFFICE),
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
    db: DatabaseConnection,
    outbox: Outbox,
    clock: SharedClock,
    pseudonymizer: Pseudonymizer,
    /// The académie's document keys: attestations are signed like certificates and minutes.
    keyring: KeyRing,
    /// Where attestations' QR codes lead (`{base}/attestations/{number}`).
    public: Option<PublicBase>,
}

fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    Caller::of(req).cloned()
}

fn rule(v: RuleViolation, subject: impl Into<String>) -> ServiceError {
    ServiceError::precondition(v.rule, subject, v.message)
}

fn uuid(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    Uuid::parse_str(s.trim())
        .map(|u| u.to_string())
        .map_err(|_| format!("{s:?} is not an identifier"))
}

fn id_of(field: &str, s: &str) -> ServiceResult<String> {
    uuid(s).map_err(|e| ServiceError::invalid(field, e))
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(e)
}

fn status_of(e: &enrolment::Model) -> ServiceResult<EnrolmentStatus> {
    EnrolmentStatus::parse(&e.status)
        .ok_or_else(|| internal(format!("bad enrolment status {}", e.status)))
}

fn enrolment_subject(id: &str) -> String {
    format!("enrolment/{id}")
}

/// A city or place name: 1 to 200 characters.
fn place_text(s: &str) -> Result<String, String> {
    programme::title(s)
}

/// Page size and token of a List request.
fn page(
    v: &mut Violations,
    size: i32,
    scope: &str,
    token: &str,
) -> (Option<u64>, Option<Option<String>>) {
    (
        v.check("page_size", pagination::page_size(size)),
        v.check("page_token", pagination::decode_token(scope, token)),
    )
}

fn bad_token() -> ServiceError {
    ServiceError::invalid("page_token", "not a page token of this list")
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

    async fn programme_of<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<(programme_row::Model, Programme)> {
        let row = store::programme(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("programme {id}")))?;
        let modules = store::programme_modules(db, id).await?;
        let p = convert::programme_domain(&row, &modules).map_err(internal)?;
        Ok((row, p))
    }

    async fn cohort<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<cohort::Model> {
        store::cohort(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("cohort {id}")))
    }

    async fn enrolment<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<enrolment::Model> {
        store::enrolment(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("enrolment {id}")))
    }

    /// The enrolment read again under its cohort's lock, with the cohort.
    async fn lock_enrolment<C: ConnectionTrait>(
        &self,
        txn: &C,
        id: &str,
    ) -> ServiceResult<(enrolment::Model, cohort::Model)> {
        let e = self.enrolment(txn, id).await?;
        let c = store::cohort_locked(txn, &e.cohort_id)
            .await?
            .ok_or_else(|| internal(format!("cohort of enrolment {id} missing")))?;
        Ok((self.enrolment(txn, id).await?, c))
    }

    /// Staff in `staff` see and act on every enrolment; a candidate only on their own (matched
    /// on the token's e-mail).
    fn ensure_access(
        &self,
        caller: &Caller,
        e: &enrolment::Model,
        staff: &[Role],
    ) -> ServiceResult<()> {
        if staff.iter().any(|r| caller.has(*r)) {
            return Ok(());
        }
        if caller.has(Role::Candidate) && e.email.eq_ignore_ascii_case(caller.subject.trim()) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(format!(
            "enrolment {} is not yours",
            e.id
        )))
    }

    async fn render_cohort<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &cohort::Model,
    ) -> ServiceResult<pb::TrainingCohort> {
        let version = store::programme(db, &c.programme_id)
            .await?
            .map_or(0, |p| p.version);
        let counts = store::status_counts(db, &c.id).await?;
        Ok(convert::cohort_pb(c, self.academy.code, version, &counts))
    }

    async fn render<C: ConnectionTrait>(
        &self,
        db: &C,
        e: &enrolment::Model,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let c = self.cohort(db, &e.cohort_id).await?;
        let (_, p) = self.programme_of(db, &c.programme_id).await?;
        let ids = [e.id.clone()];
        let credits = store::credits_of(db, &ids).await?;
        let activities = store::activities_of(db, &ids).await?;
        let position = store::waiting_position(db, &c.id, e.request_number).await?;
        Ok(convert::enrolment_pb(
            self.academy.code,
            &c,
            &p,
            e,
            &credits,
            &activities,
            position as u32,
        ))
    }

    // ---- programmes ------------------------------------------------------------------------

    async fn create_programme(
        &self,
        caller: Caller,
        req: pb::CreateProgrammeRequest,
    ) -> ServiceResult<pb::TrainingProgramme> {
        let now = self.now();
        let mut v = Violations::default();
        if req.version < 1 {
            v.add("version", "must be 1 or more");
        }
        let title = v.check("title", programme::title(&req.title));
        if req.modules.is_empty() {
            v.add("modules", "is required");
        }
        let modules = convert::modules(&req.modules, &mut v);
        v.finish()?;
        let p = Programme::new(
            req.version,
            title.expect("checked"),
            modules.expect("checked"),
            ARRETE_2017,
        )
        .map_err(|errors| {
            let mut v = Violations::default();
            for (field, why) in errors {
                v.add(field, why);
            }
            v.finish().expect_err("errors were given")
        })?;
        let exists = || {
            ServiceError::AlreadyExists(format!(
                "programme version {} already exists in académie {}",
                p.version, self.academy.code
            ))
        };
        let txn = self.db.begin().await?;
        if store::programme_by_version(&txn, p.version)
            .await?
            .is_some()
        {
            return Err(exists());
        }
        let id = Uuid::now_v7().to_string();
        let modules = p
            .modules
            .iter()
            .enumerate()
            .map(|(i, m)| programme_module::Model {
                programme_id: id.clone(),
                code: m.code.as_str().to_owned(),
                position: i as i32,
                title: m.title.clone(),
                kind: m.kind.as_str().to_owned(),
                mode: m.mode.as_str().to_owned(),
                minutes: m.minutes as i32,
            })
            .collect();
        let row = store::insert_programme(
            &txn,
            programme_row::Model {
                id,
                version: p.version,
                title: p.title.clone(),
                created_at: now,
                created_by: caller.subject.clone(),
            },
            modules,
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                exists()
            } else {
                e.into()
            }
        })?;
        txn.commit().await?;
        tracing::info!(version = p.version, by = %caller.subject, "programme version created");
        Ok(convert::programme_pb(&row, &p))
    }

    async fn get_programme(
        &self,
        req: pb::GetProgrammeRequest,
    ) -> ServiceResult<pb::TrainingProgramme> {
        let id = id_of("programme_id", &req.programme_id)?;
        let (row, p) = self.programme_of(&self.db, &id).await?;
        Ok(convert::programme_pb(&row, &p))
    }

    async fn list_programmes(
        &self,
        req: pb::ListProgrammesRequest,
    ) -> ServiceResult<pb::ListProgrammesResponse> {
        let mut v = Violations::default();
        let (size, before) = page(&mut v, req.page_size, "programmes", &req.page_token);
        v.finish()?;
        let before = match before.expect("checked") {
            Some(k) => Some(k.parse::<i32>().map_err(|_| bad_token())?),
            None => None,
        };
        let size = size.expect("checked");
        let mut rows = store::list_programmes(&self.db, before, size + 1).await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            pagination::encode_token(
                "programmes",
                &rows.last().expect("non-empty").version.to_string(),
            )
        } else {
            String::new()
        };
        let mut programmes = Vec::with_capacity(rows.len());
        for row in &rows {
            let modules = store::programme_modules(&self.db, &row.id).await?;
            let p = convert::programme_domain(row, &modules).map_err(internal)?;
            programmes.push(convert::programme_pb(row, &p));
        }
        Ok(pb::ListProgrammesResponse {
            programmes,
            next_page_token: next,
        })
    }

    // ---- cohorts ---------------------------------------------------------------------------

    async fn create_cohort(
        &self,
        caller: Caller,
        req: pb::CreateCohortRequest,
    ) -> ServiceResult<pb::TrainingCohort> {
        let now = self.now();
        let mut v = Violations::default();
        let year = v.check("school_year", SchoolYear::parse(req.school_year, now));
        let programme_id = v.check("programme_id", uuid(&req.programme_id));
        let title = if req.title.trim().is_empty() {
            Some(None)
        } else {
            v.check("title", programme::title(&req.title).map(Some))
        };
        let scope = v.check("scope", convert::scope(req.scope));
        let capacity = v.check("capacity", cohort_rules::capacity(req.capacity));
        v.finish()?;
        let (year, scope) = (year.expect("checked"), scope.expect("checked"));
        let txn = self.db.begin().await?;
        let (prow, _) = self
            .programme_of(&txn, &programme_id.expect("checked"))
            .await?;
        let row = store::insert_cohort(
            &txn,
            cohort::Model {
                id: Uuid::now_v7().to_string(),
                school_year: year.year(),
                title: title
                    .expect("checked")
                    .unwrap_or_else(|| format!("Formation CPLDS {}", year.label())),
                programme_id: prow.id.clone(),
                scope: scope.as_str().to_owned(),
                participating_academies: academies_to_stored(&scope.participating(self.academy)),
                capacity: capacity.expect("checked") as i32,
                created_at: now,
                created_by: caller.subject.clone(),
                updated_at: now,
            },
        )
        .await?;
        txn.commit().await?;
        tracing::info!(cohort = %row.id, school_year = row.school_year, scope = %row.scope, capacity = row.capacity, by = %caller.subject, "cohort created");
        Ok(convert::cohort_pb(
            &row,
            self.academy.code,
            prow.version,
            &[],
        ))
    }

    async fn get_cohort(&self, req: pb::GetCohortRequest) -> ServiceResult<pb::TrainingCohort> {
        let id = id_of("cohort_id", &req.cohort_id)?;
        let c = self.cohort(&self.db, &id).await?;
        self.render_cohort(&self.db, &c).await
    }

    async fn list_cohorts(
        &self,
        req: pb::ListCohortsRequest,
    ) -> ServiceResult<pb::ListCohortsResponse> {
        let year = (req.school_year != 0).then_some(req.school_year);
        let scope = format!("cohorts;{year:?}");
        let mut v = Violations::default();
        let (size, after) = page(&mut v, req.page_size, &scope, &req.page_token);
        v.finish()?;
        let (size, after) = (size.expect("checked"), after.expect("checked"));
        let mut rows = store::list_cohorts(&self.db, year, after.as_deref(), size + 1).await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            pagination::encode_token(&scope, &rows.last().expect("non-empty").id)
        } else {
            String::new()
        };
        let mut cohorts = Vec::with_capacity(rows.len());
        for c in &rows {
            cohorts.push(self.render_cohort(&self.db, c).await?);
        }
        Ok(pb::ListCohortsResponse {
            cohorts,
            next_page_token: next,
        })
    }

    // ---- sessions --------------------------------------------------------------------------

    /// The modules of a session against the programme: each exists, is of the session's mode,
    /// is not practical (the internship credits those) and gets at most its hours.
    fn check_session_modules(
        p: &Programme,
        kind: SessionKind,
        modules: &[(ModuleCode, u32)],
        v: &mut Violations,
    ) {
        for (i, (code, minutes)) in modules.iter().enumerate() {
            let field = format!("modules[{i}].module_code");
            match p.module(code) {
                None => v.add(
                    field,
                    format!("{code} is not a module of programme version {}", p.version),
                ),
                Some(m) if m.kind == ModuleKind::Practical => v.add(
                    field,
                    format!("{code} is practical: the tutored internship credits it"),
                ),
                Some(m) if m.mode != kind.mode() => v.add(
                    field,
                    format!(
                        "{code} is a {} module; a {kind} session covers {} modules",
                        m.mode,
                        kind.mode()
                    ),
                ),
                Some(m) if *minutes > m.minutes => v.add(
                    format!("modules[{i}].minutes"),
                    format!("{code} lasts {} in all", format_minutes(m.minutes)),
                ),
                Some(_) => {}
            }
        }
    }

    async fn insert_session(
        &self,
        caller: &Caller,
        new: NewSession,
    ) -> ServiceResult<pb::TrainingSession> {
        let NewSession {
            cohort_id,
            kind,
            title,
            days,
            day_fields,
            start,
            venue,
            modules,
        } = new;
        let now = self.now();
        let txn = self.db.begin().await?;
        let c = self.cohort(&txn, &cohort_id).await?;
        let (_, p) = self.programme_of(&txn, &c.programme_id).await?;
        let mut v = Violations::default();
        let year = school_year(&c);
        in_year(year, days.0, day_fields.0, &mut v);
        if day_fields.1 != day_fields.0 {
            in_year(year, days.1, day_fields.1, &mut v);
        }
        Self::check_session_modules(&p, kind, &modules, &mut v);
        v.finish()?;
        let id = Uuid::now_v7().to_string();
        let module_rows: Vec<session_module::Model> = modules
            .iter()
            .enumerate()
            .map(|(i, (code, minutes))| session_module::Model {
                session_id: id.clone(),
                module_code: code.as_str().to_owned(),
                position: i as i32,
                minutes: *minutes as i32,
            })
            .collect();
        let (city, place) = venue.map_or((None, None), |(c, p)| (Some(c), Some(p)));
        let row = store::insert_session(
            &txn,
            session::Model {
                id,
                cohort_id: c.id.clone(),
                kind: kind.as_str().to_owned(),
                title,
                first_day: calendar::iso(days.0),
                last_day: calendar::iso(days.1),
                starts_at: start,
                starts_at_local: start.map(format_paris_local),
                city,
                place,
                created_at: now,
                created_by: caller.subject.clone(),
            },
            module_rows.clone(),
        )
        .await?;
        txn.commit().await?;
        Ok(convert::session_pb(&row, &module_rows))
    }

    async fn create_seminar(
        &self,
        caller: Caller,
        req: pb::CreateSeminarRequest,
    ) -> ServiceResult<pb::TrainingSession> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", uuid(&req.cohort_id));
        let title = v.check("title", programme::title(&req.title));
        let first = v.check("first_day", required_date(&req.first_day));
        let last = v.check("last_day", required_date(&req.last_day));
        let city = v.check("city", place_text(&req.city));
        let place = v.check("place", place_text(&req.place));
        if req.modules.is_empty() {
            v.add("modules", "is required: the modules the seminar covers");
        }
        let modules = convert::session_modules(&req.modules, &mut v);
        if let (Some(f), Some(l)) = (first, last) {
            if l < f {
                v.add("last_day", "is before first_day");
            } else if (l - f).num_days() > 6 {
                v.add("last_day", "a seminar lasts at most a week");
            }
        }
        v.finish()?;
        let (first, last) = (first.expect("checked"), last.expect("checked"));
        self.insert_session(
            &caller,
            NewSession {
                cohort_id: cohort_id.expect("checked"),
                kind: SessionKind::Seminar,
                title: title.expect("checked"),
                days: (first, last),
                day_fields: ("first_day", "last_day"),
                start: None,
                venue: Some((city.expect("checked"), place.expect("checked"))),
                modules: modules.expect("checked"),
            },
        )
        .await
    }

    async fn create_distance_session(
        &self,
        caller: Caller,
        req: pb::CreateDistanceSessionRequest,
    ) -> ServiceResult<pb::TrainingSession> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", uuid(&req.cohort_id));
        let title = v.check("title", programme::title(&req.title));
        let kind = v.check("mode", convert::distance_mode(req.mode));
        if req.modules.is_empty() {
            v.add("modules", "is required: the modules the session covers");
        }
        let modules = convert::session_modules(&req.modules, &mut v);
        let mut start = None;
        let mut days = None;
        match kind {
            Some(SessionKind::Synchronous) => {
                start = v.check(
                    "starts_at_local",
                    if req.starts_at_local.trim().is_empty() {
                        Err("is required for a synchronous session".to_owned())
                    } else {
                        parse_paris_local(req.starts_at_local.trim())
                    },
                );
                for (field, value) in [("opens_on", &req.opens_on), ("closes_on", &req.closes_on)] {
                    if !value.trim().is_empty() {
                        v.add(field, "is only for an asynchronous session");
                    }
                }
                days = start.map(|s| (paris_date(s), paris_date(s)));
            }
            Some(_) => {
                let opens = v.check("opens_on", required_date(&req.opens_on));
                let closes = v.check("closes_on", required_date(&req.closes_on));
                if !req.starts_at_local.trim().is_empty() {
                    v.add("starts_at_local", "is only for a synchronous session");
                }
                if let (Some(o), Some(c)) = (opens, closes) {
                    if c < o {
                        v.add("closes_on", "is before opens_on");
                    } else {
                        days = Some((o, c));
                    }
                }
            }
            None => {}
        }
        v.finish()?;
        let kind = kind.expect("checked");
        let days = days.expect("checked");
        let day_fields = if kind == SessionKind::Synchronous {
            ("starts_at_local", "starts_at_local")
        } else {
            ("opens_on", "closes_on")
        };
        self.insert_session(
            &caller,
            NewSession {
                cohort_id: cohort_id.expect("checked"),
                kind,
                title: title.expect("checked"),
                days,
                day_fields,
                start,
                venue: None,
                modules: modules.expect("checked"),
            },
        )
        .await
    }

    async fn list_sessions(
        &self,
        req: pb::ListSessionsRequest,
    ) -> ServiceResult<pb::ListSessionsResponse> {
        let id = id_of("cohort_id", &req.cohort_id)?;
        let c = self.cohort(&self.db, &id).await?;
        let sessions = store::sessions_of(&self.db, &c.id).await?;
        let ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
        let modules = store::session_modules(&self.db, &ids).await?;
        Ok(pb::ListSessionsResponse {
            sessions: sessions
                .iter()
                .map(|s| convert::session_pb(s, &modules))
                .collect(),
        })
    }

    // ---- enrolments ------------------------------------------------------------------------

    async fn request_enrolment(
        &self,
        caller: Caller,
        req: pb::RequestEnrolmentRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let now = self.now();
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", uuid(&req.cohort_id));
        let trainee = convert::trainee(req.trainee.as_ref(), self.academy, now, &mut v);
        v.finish()?;
        let (cohort_id, trainee) = (cohort_id.expect("checked"), trainee.expect("checked"));
        if !caller.has(Role::TrainingOffice) {
            if !trainee.email.same_person(&caller.subject) {
                return Err(ServiceError::PermissionDenied(
                    "a member of staff asks for a place with the e-mail address of their own account"
                        .into(),
                ));
            }
            if trainee.home_academy != self.academy {
                return Err(ServiceError::PermissionDenied(format!(
                    "staff of the académie de {} are enrolled by the training office",
                    trainee.home_academy.name
                )));
            }
        }
        let txn = self.db.begin().await?;
        let c = store::cohort_locked(&txn, &cohort_id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("cohort {cohort_id}")))?;
        let subject = format!("cohort/{}", c.id);
        if !academies_from_stored(&c.participating_academies).contains(&trainee.home_academy) {
            return Err(ServiceError::precondition(
                "ACADEMY_NOT_PARTICIPATING",
                subject,
                format!(
                    "the cohort is open to staff of {}; not of the académie de {}",
                    c.participating_academies.replace(',', ", "),
                    trainee.home_academy.name
                ),
            ));
        }
        let duplicate = || {
            ServiceError::AlreadyExists(format!(
                "staff number {} already has a request in cohort {}",
                trainee.staff_number.as_str(),
                c.id
            ))
        };
        if store::live_enrolment_of(&txn, &c.id, trainee.staff_number.as_str())
            .await?
            .is_some()
        {
            return Err(duplicate());
        }
        let mut roster = roster_of(&c, &store::cohort_enrolments(&txn, &c.id).await?)?;
        let id = Uuid::now_v7().to_string();
        let status = roster.request(id.clone());
        let request_number = store::next_counter(&txn, &format!("requests/{}", c.id)).await?;
        let own = trainee.home_academy == self.academy;
        let row = store::insert_enrolment(
            &txn,
            enrolment::Model {
                id: id.clone(),
                cohort_id: c.id.clone(),
                request_number,
                status: status.as_str().to_owned(),
                last_name: trainee.last_name.as_str().to_owned(),
                first_name: trainee.first_name.as_str().to_owned(),
                birth_date: trainee.birth_date.map(|b| b.to_iso()),
                email: trainee.email.as_str().to_owned(),
                staff_number: trainee.staff_number.as_str().to_owned(),
                sex: trainee.sex.as_str().to_owned(),
                workplace_uai: trainee.workplace_uai.as_str().to_owned(),
                home_academy: trainee.home_academy.code.to_owned(),
                candidate_key: own.then(|| {
                    self.pseudonymizer
                        .candidate_key(trainee.staff_number.as_str())
                }),
                deepening_codes: None,
                tutor_last_name: None,
                tutor_first_name: None,
                tutor_email: None,
                tutor_qualification: None,
                tutor_assigned_at: None,
                tutor_assigned_by: None,
                requested_at: now,
                requested_by: caller.subject.clone(),
                accepted_at: (status == EnrolmentStatus::Accepted).then_some(now),
                left_at: None,
                left_by: None,
                leave_reason: None,
                status_before_leaving: None,
                completed_at: None,
                attestation_number: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                duplicate()
            } else {
                e.into()
            }
        })?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "requested",
            Some(status.as_str().to_owned()),
        )
        .await?;
        self.emit(&txn, events::enrolled(self.academy, &c, &row))
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(cohort = %c.id, enrolment = %id, %status, home = %row.home_academy, "enrolment requested");
        self.render(&self.db, &row).await
    }

    async fn get_enrolment(
        &self,
        caller: Caller,
        req: pb::GetEnrolmentRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let id = id_of("enrolment_id", &req.enrolment_id)?;
        let e = self.enrolment(&self.db, &id).await?;
        self.ensure_access(&caller, &e, STAFF)?;
        self.render(&self.db, &e).await
    }

    async fn list_enrolments(
        &self,
        req: pb::ListEnrolmentsRequest,
    ) -> ServiceResult<pb::ListEnrolmentsResponse> {
        let mut v = Violations::default();
        let cohort_id = v.check("cohort_id", uuid(&req.cohort_id));
        let status = v.check("status", convert::status_filter(req.status));
        let home = if req.home_academy.trim().is_empty() {
            Some(None)
        } else {
            v.check(
                "home_academy",
                crate::domain::identity::academy(&req.home_academy)
                    .map(|a| Some(a.code.to_owned())),
            )
        };
        let filter = match (cohort_id, status, home) {
            (Some(cohort_id), Some(status), Some(home_academy)) => Some(EnrolmentFilter {
                cohort_id,
                status,
                home_academy,
            }),
            _ => None,
        };
        let size = v.check("page_size", pagination::page_size(req.page_size));
        let after = filter.as_ref().and_then(|f| {
            v.check(
                "page_token",
                pagination::decode_token(&f.scope(), &req.page_token),
            )
        });
        v.finish()?;
        let (filter, size) = (filter.expect("checked"), size.expect("checked"));
        let after = match after.expect("checked") {
            Some(k) => Some(k.parse::<i64>().map_err(|_| bad_token())?),
            None => None,
        };
        let c = self.cohort(&self.db, &filter.cohort_id).await?;
        let (_, p) = self.programme_of(&self.db, &c.programme_id).await?;
        let mut rows = store::list_enrolments(&self.db, &filter, after, size + 1).await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            pagination::encode_token(
                &filter.scope(),
                &rows.last().expect("non-empty").request_number.to_string(),
            )
        } else {
            String::new()
        };
        let total = store::count_enrolments(&self.db, &filter).await?;
        let roster = roster_of(&c, &store::cohort_enrolments(&self.db, &c.id).await?)?;
        let ids: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
        let credits = store::credits_of(&self.db, &ids).await?;
        let activities = store::activities_of(&self.db, &ids).await?;
        Ok(pb::ListEnrolmentsResponse {
            enrolments: rows
                .iter()
                .map(|e| {
                    convert::enrolment_pb(
                        self.academy.code,
                        &c,
                        &p,
                        e,
                        &credits,
                        &activities,
                        roster.waiting_position(&e.id).unwrap_or(0),
                    )
                })
                .collect(),
            next_page_token: next,
            total_size: total as i64,
        })
    }

    /// Records a departure (withdrawal or abandonment) decided by the roster, promotes those who
    /// got a freed place, and emits the events. Returns (the one who left, the one promoted).
    async fn depart(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
        leave: impl FnOnce(&mut Roster<String>, bool) -> Result<Vec<String>, RuleViolation>,
        action: &str,
    ) -> ServiceResult<(pb::TrainingEnrolment, Option<pb::TrainingEnrolment>)> {
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, c) = self.lock_enrolment(&txn, id).await?;
        self.ensure_access(caller, &e, OFFICE)?;
        let (_, p) = self.programme_of(&txn, &c.programme_id).await?;
        let previous = status_of(&e)?;
        let credits = store::credits_of(&txn, std::slice::from_ref(&e.id)).await?;
        let mut roster = roster_of(&c, &store::cohort_enrolments(&txn, &c.id).await?)?;
        let promoted =
            leave(&mut roster, !credits.is_empty()).map_err(|v| rule(v, enrolment_subject(id)))?;
        let to = roster.status(&e.id).expect("in the roster");
        let hours = convert::hours_of(&p, &e, &credits);
        let mut am = e.into_active_model();
        am.status = Set(to.as_str().to_owned());
        am.status_before_leaving = Set(Some(previous.as_str().to_owned()));
        am.left_at = Set(Some(now));
        am.left_by = Set(Some(caller.subject.clone()));
        am.leave_reason = Set(reason.filter(|r| !r.is_empty()));
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            id,
            now,
            &caller.subject,
            action,
            row.leave_reason.clone(),
        )
        .await?;
        self.emit(
            &txn,
            events::left(self.academy, &c, &row, previous.holds_place(), hours),
        )
        .await?;
        let mut promoted_rows = Vec::new();
        for pid in promoted {
            let pe = self.enrolment(&txn, &pid).await?;
            let mut am = pe.into_active_model();
            am.status = Set(EnrolmentStatus::Accepted.as_str().to_owned());
            am.accepted_at = Set(Some(now));
            am.updated_at = Set(now);
            let pe = store::save_enrolment(&txn, am).await?;
            store::record_history(
                &txn,
                &pid,
                now,
                &caller.subject,
                "promoted",
                Some(format!("place freed by enrolment {id}")),
            )
            .await?;
            self.emit(&txn, events::enrolled(self.academy, &c, &pe))
                .await?;
            promoted_rows.push(pe);
        }
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(enrolment = %id, %previous, status = %row.status, promoted = promoted_rows.len(), "departure recorded");
        let left = self.render(&self.db, &row).await?;
        let promoted = match promoted_rows.first() {
            Some(pe) => Some(self.render(&self.db, pe).await?),
            None => None,
        };
        Ok((left, promoted))
    }

    async fn withdraw(
        &self,
        caller: Caller,
        req: pb::WithdrawEnrolmentRequest,
    ) -> ServiceResult<pb::WithdrawEnrolmentResponse> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", uuid(&req.enrolment_id));
        let reason = v.check("reason", free_text(&req.reason, 500));
        v.finish()?;
        let id = id.expect("checked");
        let (enrolment, promoted) = self
            .depart(
                &caller,
                &id,
                reason,
                |r, started| r.withdraw(&id, started),
                "withdrawn",
            )
            .await?;
        Ok(pb::WithdrawEnrolmentResponse {
            enrolment: Some(enrolment),
            promoted,
        })
    }

    async fn record_abandonment(
        &self,
        caller: Caller,
        req: pb::RecordAbandonmentRequest,
    ) -> ServiceResult<pb::RecordAbandonmentResponse> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", uuid(&req.enrolment_id));
        let reason = v.check(
            "reason",
            free_text(&req.reason, 500).and_then(|r| {
                if r.is_empty() {
                    Err("is required: why the trainee stops".to_owned())
                } else {
                    Ok(r)
                }
            }),
        );
        v.finish()?;
        let id = id.expect("checked");
        let (enrolment, promoted) = self
            .depart(&caller, &id, reason, |r, _| r.abandon(&id), "abandoned")
            .await?;
        Ok(pb::RecordAbandonmentResponse {
            enrolment: Some(enrolment),
            promoted,
        })
    }

    async fn choose_deepening(
        &self,
        caller: Caller,
        req: pb::ChooseDeepeningModulesRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let id = id_of("enrolment_id", &req.enrolment_id)?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, c) = self.lock_enrolment(&txn, &id).await?;
        self.ensure_access(&caller, &e, OFFICE)?;
        let (_, p) = self.programme_of(&txn, &c.programme_id).await?;
        let choice = p
            .choose_deepening(&req.module_codes)
            .map_err(|why| ServiceError::invalid("module_codes", why))?;
        let status = status_of(&e)?;
        if !matches!(
            status,
            EnrolmentStatus::Waitlisted | EnrolmentStatus::Accepted
        ) {
            return Err(ServiceError::precondition(
                "NOT_IN_TRAINING",
                enrolment_subject(&id),
                format!("a {status} enrolment has no choice to make"),
            ));
        }
        if let Some(previous) = convert::choice(&p, &e) {
            let credits = store::credits_of(&txn, std::slice::from_ref(&e.id)).await?;
            let ledger = convert::ledger(&credits, &e.id);
            let started: Vec<&ModuleCode> = previous
                .dropped(&choice)
                .filter(|code| ledger.credited(code) > 0)
                .collect();
            if !started.is_empty() {
                return Err(ServiceError::precondition(
                    "DEEPENING_MODULE_STARTED",
                    enrolment_subject(&id),
                    format!(
                        "hours are credited on {}: it stays among the chosen modules",
                        programme::codes(started)
                    ),
                ));
            }
        }
        let mut am = e.into_active_model();
        am.deepening_codes = Set(Some(choice.to_stored()));
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "deepening_chosen",
            Some(choice.to_stored()),
        )
        .await?;
        txn.commit().await?;
        self.render(&self.db, &row).await
    }

    /// The enrolment must hold a place and be in training.
    fn in_training(e: &enrolment::Model) -> ServiceResult<()> {
        match status_of(e)? {
            EnrolmentStatus::Accepted => Ok(()),
            s => Err(ServiceError::precondition(
                "NOT_IN_TRAINING",
                enrolment_subject(&e.id),
                format!("the enrolment is {s}: only a trainee in training is followed"),
            )),
        }
    }

    async fn assign_tutor(
        &self,
        caller: Caller,
        req: pb::AssignTutorRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", uuid(&req.enrolment_id));
        let tutor = convert::tutor(&req, &mut v);
        v.finish()?;
        let (id, tutor) = (id.expect("checked"), tutor.expect("checked"));
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, _) = self.lock_enrolment(&txn, &id).await?;
        Self::in_training(&e)?;
        let mut am = e.into_active_model();
        am.tutor_last_name = Set(Some(tutor.last_name.as_str().to_owned()));
        am.tutor_first_name = Set(Some(tutor.first_name.as_str().to_owned()));
        am.tutor_email = Set(Some(tutor.email.as_str().to_owned()));
        am.tutor_qualification = Set(Some(tutor.qualification.as_str().to_owned()));
        am.tutor_assigned_at = Set(Some(now));
        am.tutor_assigned_by = Set(Some(caller.subject.clone()));
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "tutor_assigned",
            Some(tutor.email.as_str().to_owned()),
        )
        .await?;
        txn.commit().await?;
        self.render(&self.db, &row).await
    }

    async fn record_activity(
        &self,
        caller: Caller,
        req: pb::RecordInternshipActivityRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let id = v.check("enrolment_id", uuid(&req.enrolment_id));
        let kind = v.check("kind", convert::activity_kind(req.kind));
        let code = v.check("module_code", ModuleCode::parse(&req.module_code));
        let day = v.check("date", required_date(&req.date));
        // A GPDS session whose time is already counted in co-leading is recorded with 0 minutes.
        let minutes = if req.minutes == 0 && kind == Some(ActivityKind::GpdsSession) {
            Some(0)
        } else {
            v.check(
                "minutes",
                programme::minutes(req.minutes, programme::MAX_MODULE_MINUTES),
            )
        };
        let uai = v.check("establishment_uai", Uai::parse(&req.establishment_uai));
        let description = v.check("description", free_text(&req.description, 500));
        v.finish()?;
        let (id, kind, code, day, minutes) = (
            id.expect("checked"),
            kind.expect("checked"),
            code.expect("checked"),
            day.expect("checked"),
            minutes.expect("checked"),
        );
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, c) = self.lock_enrolment(&txn, &id).await?;
        let (_, p) = self.programme_of(&txn, &c.programme_id).await?;
        let mut v = Violations::default();
        let module = match p.module(&code) {
            Some(m) if m.kind == ModuleKind::Practical => Some(m),
            Some(_) => {
                v.add("module_code", format!("{code} is not a practical module"));
                None
            }
            None => {
                v.add(
                    "module_code",
                    format!("{code} is not a module of programme version {}", p.version),
                );
                None
            }
        };
        in_year(school_year(&c), day, "date", &mut v);
        v.finish()?;
        let module = module.expect("checked");
        Self::in_training(&e)?;
        if e.tutor_email.is_none() {
            return Err(ServiceError::precondition(
                "NO_TUTOR",
                enrolment_subject(&id),
                "the internship is tutored: assign a tutor first",
            ));
        }
        let credits = store::credits_of(&txn, std::slice::from_ref(&e.id)).await?;
        let mut ledger = convert::ledger(&credits, &e.id);
        ledger
            .credit(module, convert::choice(&p, &e).as_ref(), minutes)
            .map_err(|v| rule(v, enrolment_subject(&id)))?;
        let activity_id = Uuid::now_v7().to_string();
        store::insert_activity(
            &txn,
            activity::Model {
                id: activity_id.clone(),
                enrolment_id: e.id.clone(),
                kind: kind.as_str().to_owned(),
                module_code: code.as_str().to_owned(),
                on_date: calendar::iso(day),
                minutes: minutes as i32,
                establishment_uai: uai.expect("checked").as_str().to_owned(),
                description: description.filter(|d| !d.is_empty()),
                recorded_at: now,
                recorded_by: caller.subject.clone(),
            },
        )
        .await?;
        if minutes > 0 {
            store::insert_credit(
                &txn,
                credit::ActiveModel {
                    enrolment_id: Set(e.id.clone()),
                    module_code: Set(code.as_str().to_owned()),
                    minutes: Set(minutes as i32),
                    session_id: Set(None),
                    activity_id: Set(Some(activity_id)),
                    on_date: Set(calendar::iso(day)),
                    recorded_at: Set(now),
                    recorded_by: Set(caller.subject.clone()),
                    ..Default::default()
                },
            )
            .await?;
        }
        let mut am = e.into_active_model();
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "internship_activity",
            Some(format!("{kind} {code} {}", format_minutes(minutes))),
        )
        .await?;
        txn.commit().await?;
        self.render(&self.db, &row).await
    }

    async fn record_attendance(
        &self,
        caller: Caller,
        req: pb::RecordAttendanceRequest,
    ) -> ServiceResult<pb::TrainingEnrolment> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", uuid(&req.session_id));
        let id = v.check("enrolment_id", uuid(&req.enrolment_id));
        let entries = convert::session_modules(&req.modules, &mut v);
        let completed_on = if req.completed_on.trim().is_empty() {
            Some(None)
        } else {
            v.check("completed_on", required_date(&req.completed_on).map(Some))
        };
        v.finish()?;
        let (session_id, id, entries, completed_on) = (
            session_id.expect("checked"),
            id.expect("checked"),
            entries.expect("checked"),
            completed_on.expect("checked"),
        );
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, c) = self.lock_enrolment(&txn, &id).await?;
        let s = store::session(&txn, &session_id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("session {session_id}")))?;
        if s.cohort_id != c.id {
            return Err(ServiceError::invalid(
                "session_id",
                "the session belongs to another cohort than the enrolment",
            ));
        }
        let (_, p) = self.programme_of(&txn, &c.programme_id).await?;
        let planned = store::session_modules(&txn, std::slice::from_ref(&s.id)).await?;
        let kind = SessionKind::parse(&s.kind).ok_or_else(|| internal("stored session kind"))?;
        let mut v = Violations::default();
        let on_date = match (kind, completed_on) {
            (SessionKind::Asynchronous, None) => {
                v.add("completed_on", "is required for an asynchronous session");
                None
            }
            (SessionKind::Asynchronous, Some(d)) => {
                let (opens, closes) = (parse_date(&s.first_day), parse_date(&s.last_day));
                match (opens, closes) {
                    (Ok(o), Ok(c)) if d < o || d > c => {
                        v.add(
                            "completed_on",
                            format!("the session is open from {o} to {c}"),
                        );
                        None
                    }
                    _ => Some(calendar::iso(d)),
                }
            }
            (_, Some(_)) => {
                v.add("completed_on", "is only for an asynchronous session");
                None
            }
            (_, None) => Some(s.first_day.clone()),
        };
        let choice = convert::choice(&p, &e);
        // The whole session by default: the modules the trainee follows, at their planned minutes.
        let entries: Vec<(ModuleCode, u32)> = if entries.is_empty() {
            planned
                .iter()
                .filter_map(|m| {
                    let code = ModuleCode::parse(&m.module_code).ok()?;
                    let module = p.module(&code)?;
                    programme::is_required(module, choice.as_ref())
                        .then_some((code, m.minutes as u32))
                })
                .collect()
        } else {
            for (i, (code, minutes)) in entries.iter().enumerate() {
                match planned.iter().find(|m| m.module_code == code.as_str()) {
                    None => v.add(
                        format!("modules[{i}].module_code"),
                        format!("the session does not cover {code}"),
                    ),
                    Some(m) if *minutes > m.minutes as u32 => v.add(
                        format!("modules[{i}].minutes"),
                        format!(
                            "the session gives {code} {}",
                            format_minutes(m.minutes as u32)
                        ),
                    ),
                    Some(_) => {}
                }
            }
            entries
        };
        v.finish()?;
        Self::in_training(&e)?;
        if entries.is_empty() {
            return Err(ServiceError::precondition(
                "MODULE_NOT_CHOSEN",
                enrolment_subject(&id),
                "the session covers only deepening modules the trainee has not chosen",
            ));
        }
        // A second record for the session replaces the first: the ledger is checked without it.
        let credits: Vec<credit::Model> = store::credits_of(&txn, std::slice::from_ref(&e.id))
            .await?
            .into_iter()
            .filter(|cr| cr.session_id.as_deref() != Some(s.id.as_str()))
            .collect();
        let mut ledger = convert::ledger(&credits, &e.id);
        for (code, minutes) in &entries {
            let module = p
                .module(code)
                .ok_or_else(|| internal("session module not in programme"))?;
            ledger
                .credit(module, choice.as_ref(), *minutes)
                .map_err(|v| rule(v, enrolment_subject(&id)))?;
        }
        let on_date = on_date.expect("checked");
        store::delete_attendance(&txn, &e.id, &s.id).await?;
        for (code, minutes) in &entries {
            store::insert_credit(
                &txn,
                credit::ActiveModel {
                    enrolment_id: Set(e.id.clone()),
                    module_code: Set(code.as_str().to_owned()),
                    minutes: Set(*minutes as i32),
                    session_id: Set(Some(s.id.clone())),
                    activity_id: Set(None),
                    on_date: Set(on_date.clone()),
                    recorded_at: Set(now),
                    recorded_by: Set(caller.subject.clone()),
                    ..Default::default()
                },
            )
            .await?;
        }
        let mut am = e.into_active_model();
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "attendance",
            Some(format!(
                "session {}: {}",
                s.id,
                entries
                    .iter()
                    .map(|(c, m)| format!("{c} {}", format_minutes(*m)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
        .await?;
        txn.commit().await?;
        self.render(&self.db, &row).await
    }

    async fn cohort_progress(
        &self,
        req: pb::GetCohortProgressRequest,
    ) -> ServiceResult<pb::CohortProgress> {
        let id = id_of("cohort_id", &req.cohort_id)?;
        let c = self.cohort(&self.db, &id).await?;
        let (_, p) = self.programme_of(&self.db, &c.programme_id).await?;
        let all = store::cohort_enrolments(&self.db, &c.id).await?;
        let followed: Vec<&enrolment::Model> = all
            .iter()
            .filter(|e| {
                matches!(
                    EnrolmentStatus::parse(&e.status),
                    Some(
                        EnrolmentStatus::Accepted
                            | EnrolmentStatus::Completed
                            | EnrolmentStatus::Abandoned
                    )
                )
            })
            .collect();
        let ids: Vec<String> = followed.iter().map(|e| e.id.clone()).collect();
        let credits = store::credits_of(&self.db, &ids).await?;
        let activities = store::activities_of(&self.db, &ids).await?;
        let mut total = Hours::default();
        let mut trainees = Vec::with_capacity(followed.len());
        for e in &followed {
            let progress = convert::progress_pb(&p, e, &credits, &activities);
            total = total.plus(convert::hours_of(&p, e, &credits));
            trainees.push(pb::TraineeProgress {
                enrolment_id: e.id.clone(),
                last_name: e.last_name.clone(),
                first_name: e.first_name.clone(),
                home_academy: e.home_academy.clone(),
                status: EnrolmentStatus::parse(&e.status).map_or(0, convert::status_pb),
                progress: Some(progress),
            });
        }
        let count =
            |s: EnrolmentStatus| all.iter().filter(|e| e.status == s.as_str()).count() as u32;
        Ok(pb::CohortProgress {
            cohort: Some(self.render_cohort(&self.db, &c).await?),
            trainees,
            total_hours: Some(convert::hours_pb(&total)),
            total_credited_minutes: u64::from(total.total()),
            in_training: count(EnrolmentStatus::Accepted),
            completed: count(EnrolmentStatus::Completed),
            abandoned: count(EnrolmentStatus::Abandoned),
            withdrawn: count(EnrolmentStatus::Withdrawn),
            waiting: count(EnrolmentStatus::Waitlisted),
        })
    }

    // ---- completion ------------------------------------------------------------------------

    async fn issue_attestation(
        &self,
        caller: Caller,
        req: pb::IssueAttestationRequest,
    ) -> ServiceResult<pb::TrainingAttestation> {
        let id = id_of("enrolment_id", &req.enrolment_id)?;
        let now = self.now();
        let txn = self.db.begin().await?;
        let (e, c) = self.lock_enrolment(&txn, &id).await?;
        let (prow, p) = self.programme_of(&txn, &c.programme_id).await?;
        let ids = [e.id.clone()];
        let credits = store::credits_of(&txn, &ids).await?;
        let activities = store::activities_of(&txn, &ids).await?;
        let choice = convert::choice(&p, &e);
        let ledger = convert::ledger(&credits, &e.id);
        hours::can_complete(
            status_of(&e)?,
            &p,
            choice.as_ref(),
            &ledger,
            convert::internship(&e, &activities),
        )
        .map_err(|v| rule(v, enrolment_subject(&id)))?;
        let year = school_year(&c);
        let progress = hours::progress(&p, choice.as_ref(), &ledger);
        let sequence = store::next_counter(&txn, &format!("attestations/{}", year.year())).await?;
        let number = attestation::number(self.academy, year, sequence);
        let home =
            Academy::find(&e.home_academy).ok_or_else(|| internal("stored home académie"))?;
        let pdf = attestation::render(&Attestation {
            number: &number,
            organizing: self.academy,
            home,
            first_name: &e.first_name,
            last_name: &e.last_name,
            school_year: year,
            cohort_title: &c.title,
            programme_title: &prow.title,
            programme_version: prow.version,
            modules: progress
                .modules
                .iter()
                .filter(|m| m.required)
                .map(|m| (m.module, m.credited))
                .collect(),
            hours: progress.hours,
            tutor: e.tutor_email.as_ref().map(|_| {
                format!(
                    "{} {}",
                    e.tutor_first_name.clone().unwrap_or_default(),
                    e.tutor_last_name.clone().unwrap_or_default()
                )
            }),
            issued_at: now,
            issued_by: &caller.subject,
            verification: &self.verification_url(&number),
        })
        .map_err(internal)?;
        let digest = Sha256::digest(&pdf);
        let (key_id, signature) = self.keyring.sign(&digest);
        let sha256 = hex::encode(digest);
        let att = store::insert_attestation(
            &txn,
            attestation_row::Model {
                number: number.clone(),
                enrolment_id: e.id.clone(),
                cohort_id: c.id.clone(),
                issued_at: now,
                issued_by: caller.subject.clone(),
                hours: convert::hours_to_stored(&progress.hours),
                pdf,
                sha256,
                key_id: Some(key_id),
                signature: Some(STANDARD.encode(signature.to_bytes())),
            },
        )
        .await?;
        let mut am = e.into_active_model();
        am.status = Set(EnrolmentStatus::Completed.as_str().to_owned());
        am.completed_at = Set(Some(now));
        am.attestation_number = Set(Some(number.clone()));
        am.updated_at = Set(now);
        let row = store::save_enrolment(&txn, am).await?;
        store::record_history(
            &txn,
            &id,
            now,
            &caller.subject,
            "completed",
            Some(number.clone()),
        )
        .await?;
        self.emit(
            &txn,
            events::completed(self.academy, &c, &row, progress.hours, now),
        )
        .await?;
        txn.commit().await?;
        self.outbox.wake();
        tracing::info!(enrolment = %id, attestation = %number, "training completed");
        Ok(convert::attestation_pb(&att))
    }

    async fn get_attestation(
        &self,
        caller: Caller,
        req: pb::GetAttestationRequest,
    ) -> ServiceResult<pb::TrainingAttestation> {
        let id = id_of("enrolment_id", &req.enrolment_id)?;
        let e = self.enrolment(&self.db, &id).await?;
        self.ensure_access(&caller, &e, OFFICE)?;
        let a = store::attestation_of(&self.db, &id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("no attestation is issued for enrolment {id}"))
        })?;
        Ok(convert::attestation_pb(&a))
    }

    /// What an attestation's QR code holds.
    fn verification_url(&self, number: &str) -> String {
        match &self.public {
            Some(p) => format!("{}/attestations/{number}", p.url()),
            None => number.to_owned(),
        }
    }

    /// Public: what an attestation of that number states, and whether a presented PDF is it.
    async fn verify_attestation(
        &self,
        req: pb::VerifyAttestationRequest,
    ) -> ServiceResult<pb::AttestationVerification> {
        let mut v = Violations::default();
        let number = v.check("number", attestation::parse_number(&req.number));
        let presented = v.check("sha256", optional_sha256(&req.sha256));
        v.finish()?;
        let (Some((number, issuer)), Some(presented)) = (number, presented) else {
            return Err(internal("checked values"));
        };
        let unknown = |explanation: String| pb::AttestationVerification {
            status: pb::AttestationVerificationStatus::Unknown as i32,
            number: number.clone(),
            explanation,
            ..Default::default()
        };
        if issuer.code != self.academy.code {
            return Ok(unknown(format!(
                "Ce numéro a été attribué par l'académie de {} : vérifiez-le auprès d'elle.",
                issuer.name
            )));
        }
        let Some(a) = store::attestation(&self.db, &number).await? else {
            return Ok(unknown(
                "Aucune attestation de formation portant ce numéro n'a été délivrée par l'académie."
                    .into(),
            ));
        };
        let e = self.enrolment(&self.db, &a.enrolment_id).await?;
        let c = self.cohort(&self.db, &a.cohort_id).await?;
        let holder = format!("{} {}", e.first_name, e.last_name.to_uppercase());
        let issued = paris_date(a.issued_at);
        let (status, explanation) = match presented {
            Some(sha) if sha != a.sha256 => (
                pb::AttestationVerificationStatus::Altered,
                format!(
                    "Une attestation portant ce numéro a été délivrée à {holder}, mais le document \
                     présenté n'est pas celui qui a été délivré."
                ),
            ),
            _ => (
                pb::AttestationVerificationStatus::Valid,
                format!(
                    "Attestation authentique, délivrée à {holder} le {} : vérifiez que ces \
                     mentions sont celles du document présenté.",
                    issued.format("%d/%m/%Y")
                ),
            ),
        };
        Ok(pb::AttestationVerification {
            status: status as i32,
            number,
            holder_name: holder,
            academy: self.academy.code.to_owned(),
            home_academy: e.home_academy.clone(),
            school_year: c.school_year,
            cohort_title: c.title.clone(),
            hours: Some(convert::hours_pb(&convert::hours_from_stored(&a.hours))),
            issue_date: calendar::iso(issued),
            sha256: a.sha256,
            key_id: a.key_id.unwrap_or_default(),
            signature: a.signature.unwrap_or_default(),
            explanation,
        })
    }

    // ---- staff trained elsewhere -----------------------------------------------------------

    async fn list_external(
        &self,
        req: pb::ListExternalTrainingRecordsRequest,
    ) -> ServiceResult<pb::ListExternalTrainingRecordsResponse> {
        let mut v = Violations::default();
        let status = v.check("status", convert::external_status_filter(req.status));
        let filter = status.map(|status| ExternalFilter {
            school_year: (req.school_year != 0).then_some(req.school_year),
            status: status.map(str::to_owned),
        });
        let size = v.check("page_size", pagination::page_size(req.page_size));
        let after = filter.as_ref().and_then(|f| {
            v.check(
                "page_token",
                pagination::decode_token(&f.scope(), &req.page_token),
            )
        });
        v.finish()?;
        let (filter, size, after) = (
            filter.expect("checked"),
            size.expect("checked"),
            after.expect("checked"),
        );
        let mut rows = store::list_external(&self.db, &filter, after.as_deref(), size + 1).await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            pagination::encode_token(
                &filter.scope(),
                &rows.last().expect("non-empty").enrolment_id,
            )
        } else {
            String::new()
        };
        Ok(pb::ListExternalTrainingRecordsResponse {
            records: rows
                .iter()
                .map(|r| convert::external_pb(r, self.academy.code))
                .collect(),
            next_page_token: next,
        })
    }
}

/// A session as the request describes it, before it is checked against the cohort.
struct NewSession {
    cohort_id: String,
    kind: SessionKind,
    title: String,
    /// First and last day (the same day for a synchronous session).
    days: (NaiveDate, NaiveDate),
    /// The request fields the days came from, named if outside the school year.
    day_fields: (&'static str, &'static str),
    start: Option<DateTime<Utc>>,
    /// City and place of a seminar.
    venue: Option<(String, String)>,
    modules: Vec<(ModuleCode, u32)>,
}

fn roster_of(c: &cohort::Model, rows: &[enrolment::Model]) -> ServiceResult<Roster<String>> {
    let entries = rows
        .iter()
        .map(|e| Ok((e.id.clone(), status_of(e)?)))
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(Roster::new(c.capacity as u32, entries))
}

/// An optional hex SHA-256, lower-cased.
fn optional_sha256(s: &str) -> Result<Option<String>, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("must be 64 hexadecimal digits (a SHA-256), or empty".into());
    }
    Ok(Some(s))
}

fn school_year(c: &cohort::Model) -> SchoolYear {
    SchoolYear::from_stored(c.school_year)
}

fn required_date(s: &str) -> Result<NaiveDate, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    parse_date(s.trim())
}

fn in_year(year: SchoolYear, day: NaiveDate, field: &str, v: &mut Violations) {
    if !year.contains(day) {
        v.add(
            field,
            format!(
                "{day} is outside the cohort's school year {} ({} to {})",
                year.label(),
                year.first_day(),
                year.last_day()
            ),
        );
    }
}

#[async_trait]
impl TrainingService for TrainingApi {
    async fn create_programme(
        &self,
        r: Request<pb::CreateProgrammeRequest>,
    ) -> Result<Response<pb::TrainingProgramme>, Status> {
        let c = caller(&r)?;
        reply(self.inner.create_programme(c, r.into_inner()).await)
    }

    async fn get_programme(
        &self,
        r: Request<pb::GetProgrammeRequest>,
    ) -> Result<Response<pb::TrainingProgramme>, Status> {
        reply(self.inner.get_programme(r.into_inner()).await)
    }

    async fn list_programmes(
        &self,
        r: Request<pb::ListProgrammesRequest>,
    ) -> Result<Response<pb::ListProgrammesResponse>, Status> {
        reply(self.inner.list_programmes(r.into_inner()).await)
    }

    async fn create_cohort(
        &self,
        r: Request<pb::CreateCohortRequest>,
    ) -> Result<Response<pb::TrainingCohort>, Status> {
        let c = caller(&r)?;
        reply(self.inner.create_cohort(c, r.into_inner()).await)
    }

    async fn get_cohort(
        &self,
        r: Request<pb::GetCohortRequest>,
    ) -> Result<Response<pb::TrainingCohort>, Status> {
        reply(self.inner.get_cohort(r.into_inner()).await)
    }

    async fn list_cohorts(
        &self,
        r: Request<pb::ListCohortsRequest>,
    ) -> Result<Response<pb::ListCohortsResponse>, Status> {
        reply(self.inner.list_cohorts(r.into_inner()).await)
    }

    async fn create_seminar(
        &self,
        r: Request<pb::CreateSeminarRequest>,
    ) -> Result<Response<pb::TrainingSession>, Status> {
        let c = caller(&r)?;
        reply(self.inner.create_seminar(c, r.into_inner()).await)
    }

    async fn create_distance_session(
        &self,
        r: Request<pb::CreateDistanceSessionRequest>,
    ) -> Result<Response<pb::TrainingSession>, Status> {
        let c = caller(&r)?;
        reply(self.inner.create_distance_session(c, r.into_inner()).await)
    }

    async fn list_sessions(
        &self,
        r: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        reply(self.inner.list_sessions(r.into_inner()).await)
    }

    async fn request_enrolment(
        &self,
        r: Request<pb::RequestEnrolmentRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.request_enrolment(c, r.into_inner()).await)
    }

    async fn get_enrolment(
        &self,
        r: Request<pb::GetEnrolmentRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.get_enrolment(c, r.into_inner()).await)
    }

    async fn list_enrolments(
        &self,
        r: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<Response<pb::ListEnrolmentsResponse>, Status> {
        reply(self.inner.list_enrolments(r.into_inner()).await)
    }

    async fn withdraw_enrolment(
        &self,
        r: Request<pb::WithdrawEnrolmentRequest>,
    ) -> Result<Response<pb::WithdrawEnrolmentResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.withdraw(c, r.into_inner()).await)
    }

    async fn choose_deepening_modules(
        &self,
        r: Request<pb::ChooseDeepeningModulesRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.choose_deepening(c, r.into_inner()).await)
    }

    async fn assign_tutor(
        &self,
        r: Request<pb::AssignTutorRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.assign_tutor(c, r.into_inner()).await)
    }

    async fn record_internship_activity(
        &self,
        r: Request<pb::RecordInternshipActivityRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.record_activity(c, r.into_inner()).await)
    }

    async fn record_attendance(
        &self,
        r: Request<pb::RecordAttendanceRequest>,
    ) -> Result<Response<pb::TrainingEnrolment>, Status> {
        let c = caller(&r)?;
        reply(self.inner.record_attendance(c, r.into_inner()).await)
    }

    async fn get_cohort_progress(
        &self,
        r: Request<pb::GetCohortProgressRequest>,
    ) -> Result<Response<pb::CohortProgress>, Status> {
        reply(self.inner.cohort_progress(r.into_inner()).await)
    }

    async fn issue_attestation(
        &self,
        r: Request<pb::IssueAttestationRequest>,
    ) -> Result<Response<pb::TrainingAttestation>, Status> {
        let c = caller(&r)?;
        reply(self.inner.issue_attestation(c, r.into_inner()).await)
    }

    async fn get_attestation(
        &self,
        r: Request<pb::GetAttestationRequest>,
    ) -> Result<Response<pb::TrainingAttestation>, Status> {
        let c = caller(&r)?;
        reply(self.inner.get_attestation(c, r.into_inner()).await)
    }

    async fn verify_attestation(
        &self,
        r: Request<pb::VerifyAttestationRequest>,
    ) -> Result<Response<pb::AttestationVerification>, Status> {
        reply(self.inner.verify_attestation(r.into_inner()).await)
    }

    async fn record_abandonment(
        &self,
        r: Request<pb::RecordAbandonmentRequest>,
    ) -> Result<Response<pb::RecordAbandonmentResponse>, Status> {
        let c = caller(&r)?;
        reply(self.inner.record_abandonment(c, r.into_inner()).await)
    }

    async fn list_external_training_records(
        &self,
        r: Request<pb::ListExternalTrainingRecordsRequest>,
    ) -> Result<Response<pb::ListExternalTrainingRecordsResponse>, Status> {
        reply(self.inner.list_external(r.into_inner()).await)
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
