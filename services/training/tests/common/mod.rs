//! Shared by the integration tests: nodes started in-process on loopback (SQLite, or PostgreSQL
//! when `CPLDS_TEST_POSTGRES_URL` is set), tokens, an observer of the event streams.

#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{self as pb, EventEnvelope, training_service_client::TrainingServiceClient};
use cplds_runtime::{
    academy::Academy,
    auth::Role,
    bus::{Binding, QueueSpec, SharedBus, Stream, Subscription},
    pseudonym::Pseudonymizer,
    testing::{POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, server_url},
    time::parse_paris_local,
};
use cplds_training::{TrainingModule, scenario};
use prost::Message;
use tonic::transport::Channel;

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
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::Postgres).await })*
        }
    };
}

/// A database for the test: `Some(None)` on SQLite, `Some(Some(db))` on PostgreSQL, `None`
/// when PostgreSQL is not switched on (the test is skipped).
pub async fn database(backend: Backend, test: &str) -> Option<Option<TestPostgres>> {
    match backend {
        Backend::Sqlite => Some(None),
        Backend::Postgres => Some(Some(
            TestPostgres::create(&server_url(POSTGRES_ENV, test)?)
                .await
                .expect("test database"),
        )),
    }
}

pub struct Node {
    pub node: TestNode,
    pub client: Client,
    pub academy: &'static Academy,
    pub office: String,
    pub trainer: String,
}

impl Node {
    pub async fn start(academy: &str, pg: Option<&TestPostgres>, bus: Option<SharedBus>) -> Node {
        Self::start_with(academy, pg, bus, None).await
    }

    pub async fn start_with(
        academy: &str,
        pg: Option<&TestPostgres>,
        bus: Option<SharedBus>,
        tweak: Option<cplds_runtime::testing::ConfigTweak>,
    ) -> Node {
        let mut opts = TestNodeOptions::new(academy, vec![Arc::new(TrainingModule)]);
        opts.database_url = pg.map(|p| p.url.clone());
        opts.bus = bus;
        opts.tweak_config = tweak;
        let node = TestNode::start(opts).await.expect("node starts");
        node.clock.set(parse_paris_local(NOW).unwrap());
        let client = TrainingServiceClient::new(node.channel().await);
        let office = node.token(&format!("eafc@ac-{academy}.fr"), &[Role::TrainingOffice]);
        let trainer = node.token(&format!("formateur@ac-{academy}.fr"), &[Role::Trainer]);
        Node {
            node,
            client,
            academy: Academy::find(academy).expect("known académie"),
            office,
            trainer,
        }
    }

    pub fn candidate(&self, email: &str) -> String {
        self.node.token(email, &[Role::Candidate])
    }

    /// This académie's pseudonymous key of a staff number, as its services compute it.
    pub fn key(&self, staff_number: &str) -> String {
        let secret = cplds_runtime::secrets::pseudonym_secret(&self.node.config).unwrap();
        Pseudonymizer::new(secret).candidate_key(staff_number)
    }

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

    pub async fn request(
        &mut self,
        cohort: &str,
        trainee: pb::TraineeDetails,
        token: &str,
    ) -> Result<pb::TrainingEnrolment, tonic::Status> {
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

    pub async fn sessions(&mut self, cohort: &str) -> Vec<pb::TrainingSession> {
        let office = self.office.clone();
        scenario::standard_sessions(&mut self.client, cohort, YEAR, self.academy, &office)
            .await
            .unwrap()
    }

    /// Everything for the attestation (deepening chosen by the office).
    pub async fn follow_all(
        &mut self,
        sessions: &[pb::TrainingSession],
        enrolment: &str,
    ) -> pb::TrainingEnrolment {
        let (office, trainer) = (self.office.clone(), self.trainer.clone());
        scenario::follow_whole_training(
            &mut self.client,
            sessions,
            enrolment,
            self.academy,
            &office,
            &office,
            &trainer,
        )
        .await
        .unwrap()
    }

    pub async fn issue(
        &mut self,
        enrolment: &str,
    ) -> Result<pb::TrainingAttestation, tonic::Status> {
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
}

/// Staff member `n` of an académie.
pub fn person(academy: &str, n: u32) -> pb::TraineeDetails {
    scenario::staff(Academy::find(academy).unwrap(), n)
}

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

/// Waits (deadline 10 s) until the node lists `n` external records with `status`.
pub async fn wait(
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
