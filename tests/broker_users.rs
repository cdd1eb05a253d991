//! The broker definitions of `deploy/rabbitmq`, imported into throwaway vhosts of the real
//! RabbitMQ: each service of an académie connects as its own user, which may publish its own
//! routing keys and no other service's (issue 12 §1), and may not bind another service's events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cplds_federation_tests::{Topology, amqp_bus};
use cplds_runtime::{
    bus::{Binding, Message, QueueSpec, Stream},
    testing::{AMQP_ENV, server_url},
};

fn message(routing_key: &str) -> Message {
    Message {
        stream: Stream::Internal,
        routing_key: routing_key.into(),
        message_id: uuid::Uuid::now_v7().to_string(),
        event_type: routing_key.rsplit('.').next().unwrap().into(),
        body: b"not an envelope: the broker does not read it".to_vec(),
        headers: BTreeMap::new(),
    }
}

#[tokio::test]
async fn a_service_user_cannot_publish_another_services_routing_key() {
    let Some(amqp) = server_url(AMQP_ENV, "broker users") else {
        return;
    };
    cplds_runtime::install_crypto_provider();
    let topology = Topology::load(&amqp, &["toulouse"]).unwrap();
    // An observer with every right on the vhost sees what reaches cplds.events.
    let observer = amqp_bus(&topology.admin_url("toulouse").unwrap(), "observer")
        .await
        .unwrap();
    let seen = QueueSpec::new("observer.events", vec![Binding::new(Stream::Internal, "#")]);
    observer.declare(&seen).await.unwrap();
    let mut sub = observer.subscribe(&seen).await.unwrap();

    let registration = amqp_bus(
        &topology.service_url("toulouse", "registration"),
        "registration",
    )
    .await
    .unwrap();
    registration
        .publish(&[message("toulouse.registration.candidacy_submitted")])
        .await
        .expect("registration publishes its own events");
    let forged = registration
        .publish(&[message("toulouse.examination.results_published")])
        .await;
    assert!(
        forged.is_err(),
        "registration published examination's results"
    );
    let other_academy = registration
        .publish(&[message("lyon.registration.candidacy_submitted")])
        .await;
    assert!(
        other_academy.is_err(),
        "registration published as another académie"
    );

    // Training may not bind registration's events, nor declare examination's queue.
    let training = amqp_bus(&topology.service_url("toulouse", "training"), "training")
        .await
        .unwrap();
    let spy = QueueSpec::new(
        "toulouse.examination",
        vec![Binding::new(Stream::Internal, "toulouse.registration.*")],
    );
    assert!(
        training.declare(&spy).await.is_err(),
        "training took examination's queue"
    );

    // Only the genuine event reached the broker's queues.
    let d = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.routing_key, "toulouse.registration.candidacy_submitted");
    d.ack().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        sub.try_next().is_none(),
        "a refused message reached a queue"
    );
}
