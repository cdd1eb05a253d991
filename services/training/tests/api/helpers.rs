//! What every test of the training API starts from: a node started in-process on a loopback
//! port with a database of its own (SQLite, or PostgreSQL when `CPLDS_TEST_POSTGRES_URL` is
//! set), its client and tokens, the fixtures (a programme, a cohort and its sessions, a
//! trainee), the assertions on refusals, and an observer of the event streams.

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{self as pb, EventEnvelope, training_service_client::TrainingServiceClient};
use cplds_runtime::{
    academy::Academy,
    auth::Role,
    bus::{Binding, QueueSpec, SharedBus, Stream, Subscription},
    pseudonym::Pseudonymizer,
    testing::{
        ConfigTweak, POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, bad_fields,
        precondition_rule, server_url,
    },
    time::parse_paris_local,
};
use cplds_training::{TrainingModule, scenario};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Code, Status, transport::Channel};

pub type Client = TrainingServiceClient<Channel>;

/// The school year the tests run in, and the instant the nodes' clocks show.
pub const YEAR: i32 = 2025;
pub const NOW: &str = "2025-10-01T10:00";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Each test runs on SQLite and, when switched on, on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Backend::Postgres).await })*
        }
    };
}

/// The database of a test: `Some(None)` on SQLite (each node makes its own file), `Some(Some(db))`
/// on PostgreSQL (each node its own schema in it), `None` when PostgreSQL is not switched on.
pub async fn database(backend: Backend) -> Option<Option<Arc<TestPostgres>>> {
    match backend {
        Backend::Sqlite => Some(None),
        Backend::Postgres => Some(Some(Arc::new(
            TestPostgres::create(&server_url(POSTGRES_ENV, "a training test")?)
                .await
                .expect("test database"),
        ))),
    }
}

/// A Toulouse node for the test, or `None` when its backend is not switched on.
pub async fn spawn(backend: Backend) -> Option<Node> {
    let pg = database(backend).await?;
    Some(Node::start("toulouse", pg, None).await)
}

pub struct Node {
    pub node: TestNode,
    pub client: Client,
    pub academy: &'static Academy,
    pub office: String,
    /// Runs every session of the fixtures' cohorts.
    pub trainer: String,
    /// Designates tutors.
    pub recteur: String,
    /// The tutor the recteur designates in the fixtures (a trainer role).
    pub tutor: String,
    /// Dropped after the node.
    _db: Option<Arc<TestPostgres>>,
}

impl Node {
    pub async fn start(
        academy: &str,
        pg: Option<Arc<TestPostgres>>,
        bus: Option<SharedBus>,
    ) -> Node {
        Self::start_with(academy, pg, bus, None).await
    }

    pub async fn start_with(
        academy: &str,
        pg: Option<Arc<TestPostgres>>,
        bus: Option<SharedBus>,
        tweak: Option<ConfigTweak>,
    ) -> Node {
        let mut opts = TestNodeOptions::new(academy, vec![Arc::new(TrainingModule)]);
        opts.database_url = pg.as_ref().map(|p| p.url.clone());
        opts.bus = bus;
        opts.tweak_config = tweak;
        let node = TestNode::start(opts).await.expect("node starts");
        node.clock.set(parse_paris_local(NOW).unwrap());
        let client = TrainingServiceClient::new(node.channel().await);
        let ac = Academy::find(academy).expect("known académie");
        let team = scenario::Team::mint(ac, &|sub, roles| Ok(node.token(sub, roles))).unwrap();
        Node {
            node,
            client,
            academy: ac,
            office: team.office,
            trainer: team.trainer,
            recteur: team.recteur,
            tutor: team.tutor,
            _db: pg,
        }
    }

    /// The tokens of the office, the recteur, the trainer and the tutor.
    pub fn team(&self) -> scenario::Team {
        scenario::Team {
            office: self.office.clone(),
            recteur: self.recteur.clone(),
            trainer: self.trainer.clone(),
            tutor: self.tutor.clone(),
        }
    }

    pub fn candidate(&self, email: &str) -> String {
        self.node.token(email, &[Role::Candidate])
    }

    /// A token of another académie, signed by this node's key (its auth layer refuses it).
    pub fn token_of(&self, academy: &str, subject: &str, roles: &[Role]) -> String {
        self.node.issuer.mint(subject, academy, roles).unwrap()
    }

    /// This académie's pseudonymous key of a staff number, as its services compute it.
    pub fn key(&self, staff_number: &str) -> String {
        let secret = cplds_runtime::secrets::pseudonym_secret(&self.node.config).unwrap();
        Pseudonymizer::new(secret).candidate_key(staff_number)
    }

    /// Runs the scenario of a whole cohort (the demo's) through the public API.
    pub async fn run_scenario(&self) -> scenario::Summary {
        let issuer = self.node.issuer.clone();
        let code = self.academy.code;
        let mint = move |sub: &str, roles: &[Role]| issuer.mint(sub, code, roles);
        scenario::run_for_year(self.node.channel().await, code, &mint, YEAR)
            .await
            .unwrap()
    }

    // ---- the catalogue ------------------------------------------------------------------------

    pub async fn programme(&mut self) -> pb::TrainingProgramme {
        let versions = self
            .client
            .list_programmes(authed(pb::ListProgrammesRequest::default(), &self.office))
            .await
            .unwrap()
            .into_inner();
        let version = versions.programmes.first().map_or(1, |p| p.version + 1);
        self.client
            .create_programme(authed(scenario::standard_programme(version), &self.office))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn cohort(
        &mut self,
        scope: pb::TrainingCohortScope,
        capacity: u32,
    ) -> pb::TrainingCohort {
        let p = self.programme().await;
        self.client
            .create_cohort(authed(
                pb::CreateCohortRequest {
                    school_year: YEAR,
                    programme_id: p.id,
                    title: String::new(),
                    scope: scope as i32,
                    capacity,
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn get_cohort(&mut self, id: &str) -> pb::TrainingCohort {
        self.client
            .get_cohort(authed(
                pb::GetCohortRequest {
                    cohort_id: id.into(),
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The scenario's eight sessions: [0] and [1] are seminars (T1…), [5] covers deepening
    /// modules, [6] is asynchronous.
    pub async fn sessions(&mut self, cohort: &str) -> Vec<pb::TrainingSession> {
        let office = self.office.clone();
        scenario::standard_sessions(&mut self.client, cohort, YEAR, self.academy, &office)
            .await
            .unwrap()
    }

    pub async fn listed_sessions(&mut self, cohort: &str) -> Vec<pb::TrainingSession> {
        self.client
            .list_sessions(authed(
                pb::ListSessionsRequest {
                    cohort_id: cohort.into(),
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
            .sessions
    }

    // ---- enrolments ---------------------------------------------------------------------------

    pub async fn request(
        &mut self,
        cohort: &str,
        trainee: pb::TraineeDetails,
        token: &str,
    ) -> Result<pb::TrainingEnrolment, Status> {
        self.client
            .request_enrolment(authed(
                pb::RequestEnrolmentRequest {
                    cohort_id: cohort.into(),
                    trainee: Some(trainee),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The office enters the request.
    pub async fn enrol(
        &mut self,
        cohort: &str,
        trainee: pb::TraineeDetails,
    ) -> pb::TrainingEnrolment {
        let office = self.office.clone();
        self.request(cohort, trainee, &office).await.unwrap()
    }

    pub async fn get(&mut self, id: &str) -> pb::TrainingEnrolment {
        self.client
            .get_enrolment(authed(
                pb::GetEnrolmentRequest {
                    enrolment_id: id.into(),
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn withdraw(
        &mut self,
        id: &str,
        reason: &str,
        token: &str,
    ) -> Result<pb::WithdrawEnrolmentResponse, Status> {
        self.client
            .withdraw_enrolment(authed(
                pb::WithdrawEnrolmentRequest {
                    enrolment_id: id.into(),
                    reason: reason.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn abandon(
        &mut self,
        id: &str,
        reason: &str,
    ) -> Result<pb::RecordAbandonmentResponse, Status> {
        self.client
            .record_abandonment(authed(
                pb::RecordAbandonmentRequest {
                    enrolment_id: id.into(),
                    reason: reason.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn choose(
        &mut self,
        id: &str,
        codes: &[&str],
        token: &str,
    ) -> Result<pb::TrainingEnrolment, Status> {
        self.client
            .choose_deepening_modules(authed(
                pb::ChooseDeepeningModulesRequest {
                    enrolment_id: id.into(),
                    module_codes: codes.iter().map(|c| c.to_string()).collect(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The recteur designates the fixtures' tutor.
    pub async fn assign_tutor(&mut self, id: &str) -> Result<(), Status> {
        let recteur = self.recteur.clone();
        scenario::assign_tutor(&mut self.client, id, self.academy, &recteur)
            .await
            .map(|_| ())
            .map_err(|e| e.downcast_ref::<Status>().cloned().unwrap())
    }

    // ---- hours --------------------------------------------------------------------------------

    pub async fn attend(
        &mut self,
        request: pb::RecordAttendanceRequest,
    ) -> Result<pb::TrainingEnrolment, Status> {
        self.client
            .record_attendance(authed(request, &self.trainer))
            .await
            .map(|r| r.into_inner())
    }

    /// The whole session, at its planned minutes.
    pub async fn attend_all(&mut self, session: &pb::TrainingSession, enrolment: &str) {
        let trainer = self.trainer.clone();
        scenario::attend(&mut self.client, session, enrolment, &trainer)
            .await
            .unwrap();
    }

    /// The tutor records an internship activity.
    pub async fn activity(
        &mut self,
        request: pb::RecordInternshipActivityRequest,
    ) -> Result<pb::TrainingEnrolment, Status> {
        self.client
            .record_internship_activity(authed(request, &self.tutor))
            .await
            .map(|r| r.into_inner())
    }

    /// Everything for the attestation (deepening chosen by the office).
    pub async fn follow_all(
        &mut self,
        sessions: &[pb::TrainingSession],
        enrolment: &str,
    ) -> pb::TrainingEnrolment {
        let (office, team) = (self.office.clone(), self.team());
        scenario::follow_whole_training(
            &mut self.client,
            sessions,
            enrolment,
            self.academy,
            &office,
            &team,
        )
        .await
        .unwrap()
    }

    /// The office sets the académie's settings.
    pub async fn settings(
        &mut self,
        require_tutor: bool,
        require_gpds_session: bool,
        target_presence_percent: u32,
    ) -> pb::TrainingSettings {
        self.client
            .update_training_settings(authed(
                pb::UpdateTrainingSettingsRequest {
                    require_tutor,
                    require_gpds_session,
                    target_presence_percent,
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn issue(&mut self, enrolment: &str) -> Result<pb::TrainingAttestation, Status> {
        self.client
            .issue_attestation(authed(
                pb::IssueAttestationRequest {
                    enrolment_id: enrolment.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn attestation(
        &mut self,
        enrolment: &str,
        token: &str,
    ) -> Result<pb::TrainingAttestation, Status> {
        self.client
            .get_attestation(authed(
                pb::GetAttestationRequest {
                    enrolment_id: enrolment.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }
}

// ---- fixtures ----------------------------------------------------------------------------------

/// Staff member `n` of an académie.
pub fn person(academy: &str, n: u32) -> pb::TraineeDetails {
    scenario::staff(Academy::find(academy).unwrap(), n)
}

/// A cohort of the académie with its sessions, and one trainee holding a place in it.
pub struct InTraining {
    pub t: Node,
    pub cohort: pb::TrainingCohort,
    pub sessions: Vec<pb::TrainingSession>,
    pub trainee: pb::TrainingEnrolment,
}

pub async fn in_training(backend: Backend) -> Option<InTraining> {
    let mut t = spawn(backend).await?;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 5).await;
    let sessions = t.sessions(&cohort.id).await;
    let trainee = t.enrol(&cohort.id, person("toulouse", 0)).await;
    Some(InTraining {
        t,
        cohort,
        sessions,
        trainee,
    })
}

impl InTraining {
    /// A record of attendance at `session`: the modules and minutes given (none: the whole
    /// session).
    pub fn attendance(
        &self,
        session: &pb::TrainingSession,
        modules: &[(&str, u32)],
    ) -> pb::RecordAttendanceRequest {
        pb::RecordAttendanceRequest {
            session_id: session.id.clone(),
            enrolment_id: self.trainee.id.clone(),
            modules: modules.iter().map(|(c, m)| session_module(c, *m)).collect(),
            completed_on: String::new(),
        }
    }

    /// An internship activity of the trainee on 2 March 2026.
    pub fn activity(
        &self,
        kind: pb::InternshipActivityKind,
        code: &str,
        minutes: u32,
    ) -> pb::RecordInternshipActivityRequest {
        pb::RecordInternshipActivityRequest {
            enrolment_id: self.trainee.id.clone(),
            kind: kind as i32,
            module_code: code.into(),
            date: "2026-03-02".into(),
            minutes,
            establishment_uai: scenario::establishment(self.t.academy, 3),
            description: "Séquence collective, classe relais".into(),
        }
    }

    /// Everything for the attestation but the GPDS meeting: the deepening choice, a tutor,
    /// every session, 40 h of co-leading.
    pub async fn follow_all_but_the_gpds_meeting(&mut self) {
        let id = self.trainee.id.clone();
        self.choose_a2_a3_a5().await;
        self.t.assign_tutor(&id).await.unwrap();
        for s in self.sessions.clone() {
            self.t.attend_all(&s, &id).await;
        }
        for code in ["P1", "P2"] {
            let activity = self.activity(pb::InternshipActivityKind::CoLeading, code, 1200);
            self.t.activity(activity).await.unwrap();
        }
    }

    /// The deepening modules A2, A3 and A5, chosen by the office.
    pub async fn choose_a2_a3_a5(&mut self) {
        let office = self.t.office.clone();
        self.t
            .choose(&self.trainee.id, &["a2", "A3", "A5"], &office)
            .await
            .unwrap();
    }
}

pub fn session_module(code: &str, minutes: u32) -> pb::SessionModule {
    pb::SessionModule {
        module_code: code.into(),
        minutes,
    }
}

// ---- assertions --------------------------------------------------------------------------------

/// The rule a FAILED_PRECONDITION names.
pub fn rule_of(s: &Status) -> String {
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    precondition_rule(s).unwrap_or_default()
}

/// The fields an INVALID_ARGUMENT names, sorted.
pub fn fields_of(s: &Status) -> Vec<String> {
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let mut f = bad_fields(s);
    f.sort();
    f
}

pub fn sorted(fields: &[&str]) -> Vec<String> {
    let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    f.sort();
    f
}

pub fn denied<T: std::fmt::Debug>(r: Result<T, Status>) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
}

pub fn module<'a>(e: &'a pb::TrainingEnrolment, code: &str) -> &'a pb::ModuleProgress {
    e.progress
        .as_ref()
        .unwrap()
        .modules
        .iter()
        .find(|m| m.module_code == code)
        .unwrap()
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---- events ------------------------------------------------------------------------------------

/// Reads every event published on the bus from its creation on (all streams).
pub struct Observer {
    sub: Subscription,
    pub seen: Vec<EventEnvelope>,
}

impl Observer {
    pub async fn new(bus: &SharedBus, name: &str) -> Observer {
        let q = QueueSpec::new(
            format!("test.{name}"),
            vec![
                Binding::new(Stream::Internal, "#"),
                Binding::new(Stream::National, "#"),
                Binding::new(Stream::Regional, "#"),
            ],
        );
        bus.declare(&q).await.unwrap();
        Observer {
            sub: bus.subscribe(&q).await.unwrap(),
            seen: Vec::new(),
        }
    }

    /// Waits (at most 10 s) for an event matching `pred`, keeping every event seen.
    pub async fn until(
        &mut self,
        what: &str,
        pred: impl Fn(&EventEnvelope) -> bool,
    ) -> EventEnvelope {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return e.clone();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let d = tokio::time::timeout_at(deadline, self.sub.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {:?}", self.types()))
                .expect("subscription open");
            let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
            d.ack().await.unwrap();
            self.seen.push(e.clone());
            if pred(&e) {
                return e;
            }
        }
    }

    pub fn types(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|e| format!("{}:{}", e.academy, e.r#type))
            .collect()
    }
}

/// The records of staff trained elsewhere a node lists, of a status.
pub async fn external_records(
    node: &mut Node,
    status: pb::ExternalTrainingStatus,
) -> Vec<pb::ExternalTrainingRecord> {
    node.client
        .list_external_training_records(authed(
            pb::ListExternalTrainingRecordsRequest {
                status: status as i32,
                ..Default::default()
            },
            &node.office,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

/// Waits (deadline 10 s) until the node lists `n` external records with `status`.
pub async fn wait_for_records(
    node: &mut Node,
    status: pb::ExternalTrainingStatus,
    n: usize,
) -> Vec<pb::ExternalTrainingRecord> {
    let client = node.client.clone();
    let office = node.office.clone();
    cplds_runtime::testing::wait_for(
        Duration::from_secs(10),
        &format!("{n} external records {status:?}"),
        || {
            let mut client = client.clone();
            let office = office.clone();
            async move {
                let records = client
                    .list_external_training_records(authed(
                        pb::ListExternalTrainingRecordsRequest {
                            status: status as i32,
                            ..Default::default()
                        },
                        &office,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .records;
                (records.len() == n).then_some(records)
            }
        },
    )
    .await
}
