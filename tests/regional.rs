//! A cohort shared by a région académique over the real RabbitMQ: Bordeaux runs it for
//! Nouvelle-Aquitaine, each académie on its own vhost, the vhosts joined by the regional
//! federation of `deploy/rabbitmq`. A trainee's records reach their own académie, and only it:
//! the other académie of the région never receives a record naming someone else's staff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cplds::sandbox::{LocalNode, authed};
use cplds_federation_tests::{Topology, start_node};
use cplds_proto::v1::{self as pb, training_service_client::TrainingServiceClient};
use cplds_runtime::{
    academy::Academy,
    auth::Role,
    testing::{AMQP_ENV, POSTGRES_ENV, TestPostgres, rabbitmqctl, server_url, wait_for},
};
use sea_orm::{ConnectionTrait, Statement};
use tonic::transport::Channel;

const YEAR: i32 = 2026;

struct Node {
    node: LocalNode,
    client: TrainingServiceClient<Channel>,
    office: String,
    _db: TestPostgres,
}

impl Node {
    /// Records of this académie's staff trained elsewhere, as its API lists them.
    async fn external(&mut self) -> Vec<pb::ExternalTrainingRecord> {
        self.client
            .list_external_training_records(authed(
                pb::ListExternalTrainingRecordsRequest::default(),
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
            .records
    }

    /// How many regional records this node's training service has received at all (its inbox
    /// keeps every one it handled, even those it ignored).
    async fn regional_received(&self) -> i64 {
        let db = &self.node.node.databases["training"];
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM inbox WHERE consumer = 'training-regional'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }
}

/// Waits until the federation links carry `academy`'s regional binding from Bordeaux' broker:
/// a record published before would have nowhere to go.
async fn wait_for_binding(topology: &Topology, academy: &str) {
    let key = format!("*.training.training_record_forwarded.{academy}");
    wait_for(
        Duration::from_secs(60),
        &format!("the regional binding of {academy} on Bordeaux' broker"),
        || {
            let out = rabbitmqctl(&[
                "list_bindings",
                "-q",
                "-p",
                &topology.vhost("bordeaux"),
                "source_name",
                "destination_name",
                "routing_key",
            ])
            .unwrap();
            let found = out.lines().any(|l| {
                l.starts_with("cplds.regional\tfederation: cplds.regional") && l.ends_with(&key)
            });
            async move { found.then_some(()) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regional_records_reach_the_trainee_s_academy_only() {
    let (Some(amqp), Some(pg_admin)) = (
        server_url(AMQP_ENV, "regional federation over RabbitMQ"),
        server_url(POSTGRES_ENV, "regional federation over RabbitMQ"),
    ) else {
        return;
    };
    cplds_runtime::install_crypto_provider();
    cplds_runtime::telemetry::init_for_tests();
    let codes = ["bordeaux", "limoges", "poitiers"];
    let topology = Topology::load(&amqp, &codes).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut nodes = Vec::new();
    for code in codes {
        let db = TestPostgres::create(&pg_admin).await.unwrap();
        let modules = cplds::academy_modules(&["training".into()]).unwrap();
        let node = start_node(
            code,
            dir.path().join(code),
            modules,
            &topology,
            None,
            &db.url,
        )
        .await
        .unwrap();
        let client = TrainingServiceClient::new(node.channel().await.unwrap());
        let office = node
            .token(&format!("eafc@ac-{code}.fr"), &[Role::TrainingOffice])
            .unwrap();
        nodes.push(Node {
            node,
            client,
            office,
            _db: db,
        });
    }
    for a in ["limoges", "poitiers"] {
        wait_for_binding(&topology, a).await;
    }
    let [bordeaux, limoges, poitiers] = &mut nodes[..] else {
        unreachable!()
    };

    // Bordeaux runs the cohort of the région; a Limoges trainee enrols first, then one of
    // Poitiers.
    let programme = bordeaux
        .client
        .create_programme(authed(
            cplds_training::scenario::standard_programme(1),
            &bordeaux.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let cohort = bordeaux
        .client
        .create_cohort(authed(
            pb::CreateCohortRequest {
                school_year: YEAR,
                programme_id: programme.id,
                title: String::new(),
                scope: pb::TrainingCohortScope::AcademicRegion as i32,
                capacity: 10,
            },
            &bordeaux.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let enrol = |trainee: pb::TraineeDetails| {
        let mut client = bordeaux.client.clone();
        let request = authed(
            pb::RequestEnrolmentRequest {
                cohort_id: cohort.id.clone(),
                trainee: Some(trainee),
            },
            &bordeaux.office,
        );
        async move {
            client
                .request_enrolment(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    let lea = cplds_training::scenario::staff(Academy::find("limoges").unwrap(), 1);
    let paul = cplds_training::scenario::staff(Academy::find("poitiers").unwrap(), 2);
    let lea_e = enrol(lea.clone()).await;
    let paul_e = enrol(paul.clone()).await;

    // Each académie lists its own trainee, and no one else.
    for (node, e, trainee) in [
        (&mut *limoges, &lea_e, &lea),
        (&mut *poitiers, &paul_e, &paul),
    ] {
        let records = wait_for(Duration::from_secs(30), "the regional record", || {
            let mut node_client = node.client.clone();
            let office = node.office.clone();
            async move {
                let r = node_client
                    .list_external_training_records(authed(
                        pb::ListExternalTrainingRecordsRequest::default(),
                        &office,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .records;
                (!r.is_empty()).then_some(r)
            }
        })
        .await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].enrolment_id, e.id);
        assert_eq!(
            records[0].trainee.as_ref().unwrap().staff_number,
            trainee.staff_number
        );
        assert_eq!(node.external().await.len(), 1);
    }
    // Léa's record was published before Paul's, on the same links: had the broker carried it
    // to Poitiers, Poitiers would have handled it before Paul's. It received Paul's only.
    assert_eq!(poitiers.regional_received().await, 1);
    assert_eq!(limoges.regional_received().await, 1);
    assert_eq!(bordeaux.regional_received().await, 0);

    for n in nodes {
        n.node.node.shutdown().await.unwrap();
    }
}
