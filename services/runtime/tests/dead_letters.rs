//! Dead letters through a whole node: an event a consumer refuses, and one that keeps failing
//! with the database healthy (poison), are kept in the service's database, shown by the health
//! entry `cplds.dead_letters` and the admin API, and redriven once the cause is fixed; a second
//! redrive does nothing, a forced one changes nothing in effect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use common::{Migrator, count};
use cplds_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, event_envelope::Payload,
};
use cplds_runtime::{
    auth::Role,
    bus::{Binding, Message, QueueSpec, Stream},
    db::stmt,
    events::EventEnvelope,
    host::{Mount, Schema, ServiceContext, ServiceModule},
    inbox::{Consumer, EventHandler, HandleError},
    testing::{POSTGRES_ENV, TestNode, TestNodeOptions, authed, server_url, wait_for},
};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(60);

/// Applies campaign years: refuses year 13 (a rule), fails on year 7 until fixed (a bug).
struct Picky {
    fixed: Arc<AtomicBool>,
}

#[async_trait]
impl EventHandler for Picky {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        let year = match &event.payload {
            Some(Payload::CampaignOpened(c)) => c.year,
            _ => return Err(HandleError::Permanent("not a campaign".into())),
        };
        if year == 13 && !self.fixed.load(Ordering::SeqCst) {
            return Err(HandleError::Permanent("year 13 is not a year".into()));
        }
        if year == 7 && !self.fixed.load(Ordering::SeqCst) {
            return Err(HandleError::Transient("lookup table missing".into()));
        }
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO effects (event_id, sequence) VALUES (?, ?)",
            vec![event.event_id.clone().into(), i64::from(year).into()],
        ))
        .await?;
        Ok(())
    }
}

struct PickyModule {
    fixed: Arc<AtomicBool>,
}

#[async_trait]
impl ServiceModule for PickyModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>("picky")
    }

    fn mount(&self, _ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        mount.consume(Consumer {
            name: "picky".into(),
            queue: QueueSpec::new(
                "toulouse.picky",
                vec![Binding::new(Stream::Internal, "toulouse.registration.#")],
            ),
            handler: Arc::new(Picky {
                fixed: self.fixed.clone(),
            }),
        });
        Ok(())
    }
}

fn campaign(year: i32) -> Message {
    common::campaign_message(year)
}

async fn health(node: &TestNode, service: &str) -> i32 {
    let mut h = tonic_health::pb::health_client::HealthClient::new(node.channel().await);
    h.check(tonic_health::pb::HealthCheckRequest {
        service: service.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .status
}

async fn poison_is_kept_listed_and_redriven(postgres: bool) {
    let database_url = if postgres {
        let Some(admin) = server_url(POSTGRES_ENV, "dead letters on PostgreSQL") else {
            return;
        };
        let pg = cplds_runtime::testing::TestPostgres::create(&admin)
            .await
            .unwrap();
        Some(pg)
    } else {
        None
    };
    let fixed = Arc::new(AtomicBool::new(false));
    let mut opts = TestNodeOptions::new(
        "toulouse",
        vec![Arc::new(PickyModule {
            fixed: fixed.clone(),
        })],
    );
    opts.database_url = database_url.as_ref().map(|p| p.url.clone());
    opts.tweak_config = Some(Box::new(|c| {
        c.inbox.retry_first_ms = 20;
        c.inbox.retry_cap_ms = 100;
    }));
    let node = TestNode::start(opts).await.unwrap();
    let db = node.node.databases["picky"].clone();
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(health(&node, "cplds.dead_letters").await, serving);

    let (good, refused, poison, after) =
        (campaign(2026), campaign(13), campaign(7), campaign(2027));
    node.bus
        .publish(&[good.clone(), refused.clone(), poison.clone(), after.clone()])
        .await
        .unwrap();
    wait_for(WAIT, "the good events applied, the others kept", || {
        let db = db.clone();
        async move {
            (count(&db, "SELECT COUNT(*) FROM effects").await == 2
                && count(&db, "SELECT COUNT(*) FROM dead_letters").await == 2)
                .then_some(())
        }
    })
    .await;

    let token = node.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let mut admin = AdminServiceClient::new(node.channel().await);
    let listed = admin
        .list_dead_letters(authed(
            pb::ListDeadLettersRequest {
                service: "picky".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed
        .dead_letters
        .iter()
        .map(|d| d.event_id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![refused.message_id.as_str(), poison.message_id.as_str()]
    );
    assert!(listed.dead_letters[0].reason.contains("year 13"));
    assert!(
        listed.dead_letters[1]
            .reason
            .contains("lookup table missing")
    );
    assert_eq!(
        listed.dead_letters[1].attempts, 5,
        "poison after five failures"
    );
    assert_eq!(listed.dead_letters[0].queue, "toulouse.picky");
    wait_for(WAIT, "health shows the dead letters", || {
        let node = &node;
        async move { (health(node, "cplds.dead_letters").await == not_serving).then_some(()) }
    })
    .await;
    assert_eq!(health(&node, "").await, serving, "probes are not affected");
    // The node's metrics count both, for the consumer and its queue.
    let metrics = node.node.metrics.encode().unwrap();
    assert!(
        metrics.contains(
            "cplds_consumer_dead_lettered_total{consumer=\"picky\",queue=\"toulouse.picky\"} 2"
        ),
        "{metrics}"
    );
    let status = admin
        .get_node_status(authed(pb::GetNodeStatusRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.dead_letters_waiting, 2);
    assert_eq!(status.services[0].consumers[0].dead_letters_waiting, 2);
    assert_eq!(status.services[0].relay, pb::RelayRole::Active as i32);

    // Only it_admin; bad requests name the field.
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let denied = admin
        .list_dead_letters(authed(pb::ListDeadLettersRequest::default(), &office))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad = admin
        .redrive_dead_letters(authed(pb::RedriveDeadLettersRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(cplds_runtime::testing::bad_fields(&bad).contains(&"service".to_owned()));

    // The cause is fixed: redrive both; they apply once.
    fixed.store(true, Ordering::SeqCst);
    let redrive = |force: bool| pb::RedriveDeadLettersRequest {
        service: "picky".into(),
        ids: listed.dead_letters.iter().map(|d| d.id).collect(),
        force,
        ..Default::default()
    };
    let done = admin
        .redrive_dead_letters(authed(redrive(false), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.redriven.len(), 2);
    wait_for(WAIT, "redriven events applied", || {
        let db = db.clone();
        async move { (count(&db, "SELECT COUNT(*) FROM effects").await == 4).then_some(()) }
    })
    .await;
    let again = admin
        .redrive_dead_letters(authed(redrive(false), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(again.redriven.is_empty(), "a second redrive does nothing");
    let forced = admin
        .redrive_dead_letters(authed(redrive(true), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forced.redriven.len(), 2);
    // The forced copies reach the consumer and its inbox drops them: still four effects.
    let marker = campaign(2028);
    node.bus.publish(&[marker]).await.unwrap();
    wait_for(WAIT, "the marker after the forced copies applied", || {
        let db = db.clone();
        async move { (count(&db, "SELECT COUNT(*) FROM effects").await == 5).then_some(()) }
    })
    .await;
    assert_eq!(
        count(&db, "SELECT COUNT(DISTINCT event_id) FROM effects").await,
        5
    );
    wait_for(WAIT, "health clears", || {
        let node = &node;
        async move { (health(node, "cplds.dead_letters").await == serving).then_some(()) }
    })
    .await;
    node.node.shutdown().await.unwrap();
}

#[tokio::test]
async fn poison_is_kept_listed_and_redriven_sqlite() {
    poison_is_kept_listed_and_redriven(false).await;
}

#[tokio::test]
async fn poison_is_kept_listed_and_redriven_postgres() {
    poison_is_kept_listed_and_redriven(true).await;
}

/// Two nodes starting at once on one fresh PostgreSQL database both come up (the host's
/// migration lock), and the control queue they declare is bounded.
#[tokio::test]
async fn two_replicas_start_together() {
    let Some(admin) = server_url(POSTGRES_ENV, "concurrent starts") else {
        return;
    };
    let pg = cplds_runtime::testing::TestPostgres::create(&admin)
        .await
        .unwrap();
    let start = || {
        let mut opts = TestNodeOptions::new(
            "toulouse",
            vec![Arc::new(PickyModule {
                fixed: Arc::new(AtomicBool::new(true)),
            })],
        );
        opts.database_url = Some(pg.url.clone());
        TestNode::start(opts)
    };
    let (a, b) = tokio::join!(start(), start());
    let (a, b) = (a.expect("first replica"), b.expect("second replica"));
    let control = cplds_runtime::host::control_queue("toulouse", "picky");
    assert_eq!(control.message_ttl_ms, Some(600_000));
    assert_eq!(control.max_length, Some(1_000));
    a.node.shutdown().await.unwrap();
    b.node.shutdown().await.unwrap();
}
