//! The contract both bus implementations pass: the same tests, run on the in-process bus and on
//! a real RabbitMQ (a vhost per test).

use std::{sync::Arc, time::Duration};

use super::{Binding, Delivery, EventBus, Message, QueueSpec, SharedBus, Stream, Subscription};

const WAIT: Duration = Duration::from_secs(15);

fn msg(stream: Stream, key: &str, n: usize) -> Message {
    Message {
        stream,
        routing_key: key.to_owned(),
        message_id: format!("m-{key}-{n}"),
        event_type: key.rsplit('.').next().unwrap().to_owned(),
        body: format!("{key}#{n}").into_bytes(),
        headers: [("traceparent".to_owned(), format!("00-{n:032x}-{n:016x}-01"))].into(),
    }
}

async fn recv(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a delivery in time")
        .expect("subscription open")
}

/// Absence can only be checked by waiting a little; this bounds how long.
async fn assert_empty(sub: &mut Subscription) {
    if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(400), sub.next()).await {
        panic!("unexpected delivery {d:?}");
    }
}

pub async fn routes_by_stream_and_pattern(bus: SharedBus) {
    let exam = QueueSpec::new(
        "toulouse.examination",
        vec![Binding::new(Stream::Internal, "toulouse.registration.*")],
    );
    let national = QueueSpec::new(
        "national.aggregator",
        vec![Binding::new(Stream::National, "*.#")],
    );
    bus.declare(&exam).await.unwrap();
    bus.declare(&national).await.unwrap();
    bus.publish(&[
        msg(
            Stream::Internal,
            "toulouse.registration.candidacy_submitted",
            1,
        ),
        msg(Stream::Internal, "lyon.registration.candidacy_submitted", 2),
        msg(
            Stream::National,
            "toulouse.registration.candidacy_registered",
            3,
        ),
        msg(Stream::Internal, "toulouse.training.enrolled", 4),
    ])
    .await
    .unwrap();
    let mut sub = bus.subscribe(&exam).await.unwrap();
    let d = recv(&mut sub).await;
    assert_eq!(d.body, b"toulouse.registration.candidacy_submitted#1");
    assert_eq!(
        d.message_id,
        "m-toulouse.registration.candidacy_submitted-1"
    );
    assert_eq!(
        d.headers.get("traceparent").map(String::as_str),
        Some("00-00000000000000000000000000000001-0000000000000001-01")
    );
    assert!(!d.redelivered);
    d.ack().await.unwrap();
    assert_empty(&mut sub).await;
    let mut nat = bus.subscribe(&national).await.unwrap();
    let d = recv(&mut nat).await;
    assert_eq!(
        d.body, b"toulouse.registration.candidacy_registered#3",
        "the national stream carries only national facts"
    );
    d.ack().await.unwrap();
    assert_empty(&mut nat).await;
}

pub async fn keeps_order_for_one_consumer(bus: SharedBus) {
    let q = QueueSpec::new(
        "lyon.ordered",
        vec![Binding::new(Stream::Internal, "lyon.#")],
    );
    bus.declare(&q).await.unwrap();
    let batch: Vec<Message> = (0..300)
        .map(|n| msg(Stream::Internal, "lyon.registration.x", n))
        .collect();
    for chunk in batch.chunks(64) {
        bus.publish(chunk).await.unwrap();
    }
    let mut sub = bus.subscribe(&q).await.unwrap();
    for n in 0..300 {
        let d = recv(&mut sub).await;
        assert_eq!(d.body, format!("lyon.registration.x#{n}").into_bytes());
        d.ack().await.unwrap();
    }
}

pub async fn redelivers_what_was_not_acknowledged(bus: SharedBus) {
    let q = QueueSpec::new(
        "nice.redelivery",
        vec![Binding::new(Stream::Internal, "nice.#")],
    );
    bus.declare(&q).await.unwrap();
    bus.publish(&[
        msg(Stream::Internal, "nice.a.b", 1),
        msg(Stream::Internal, "nice.a.b", 2),
    ])
    .await
    .unwrap();
    {
        let mut sub = bus.subscribe(&q).await.unwrap();
        let first = recv(&mut sub).await;
        assert_eq!(first.body, b"nice.a.b#1");
        first.requeue().await.unwrap();
        // With prefetch, #2 may already be on its way: the requeued #1 comes back before or after.
        let (a, b) = (recv(&mut sub).await, recv(&mut sub).await);
        let (again, second) = if a.body == b"nice.a.b#1" {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(again.body, b"nice.a.b#1", "a requeued message comes back");
        assert!(again.redelivered);
        again.ack().await.unwrap();
        assert_eq!(second.body, b"nice.a.b#2");
        // Consumer goes away without settling: the broker keeps the message.
        drop(second);
    }
    let mut sub = bus.subscribe(&q).await.unwrap();
    let d = recv(&mut sub).await;
    assert_eq!(d.body, b"nice.a.b#2");
    assert!(d.redelivered);
    d.ack().await.unwrap();
    assert_empty(&mut sub).await;
}

pub async fn dead_letters_poison(bus: SharedBus) {
    let q = QueueSpec::new(
        "reims.poison",
        vec![Binding::new(Stream::Internal, "reims.#")],
    );
    bus.declare(&q).await.unwrap();
    bus.publish(&[
        msg(Stream::Internal, "reims.x.y", 1),
        msg(Stream::Internal, "reims.x.y", 2),
    ])
    .await
    .unwrap();
    let mut sub = bus.subscribe(&q).await.unwrap();
    let poison = recv(&mut sub).await;
    poison.dead_letter().await.unwrap();
    let good = recv(&mut sub).await;
    assert_eq!(
        good.body, b"reims.x.y#2",
        "the queue moves on past the poison message"
    );
    good.ack().await.unwrap();
    let mut dead = bus.subscribe(&q.dead_letters()).await.unwrap();
    let d = recv(&mut dead).await;
    assert_eq!(d.body, b"reims.x.y#1");
    d.ack().await.unwrap();
}

macro_rules! contract_tests {
    ($make:expr) => {
        #[tokio::test]
        async fn routes_by_stream_and_pattern() {
            let Some((bus, _guard)) = $make else { return };
            super::routes_by_stream_and_pattern(bus).await;
        }
        #[tokio::test]
        async fn keeps_order_for_one_consumer() {
            let Some((bus, _guard)) = $make else { return };
            super::keeps_order_for_one_consumer(bus).await;
        }
        #[tokio::test]
        async fn redelivers_what_was_not_acknowledged() {
            let Some((bus, _guard)) = $make else { return };
            super::redelivers_what_was_not_acknowledged(bus).await;
        }
        #[tokio::test]
        async fn dead_letters_poison() {
            let Some((bus, _guard)) = $make else { return };
            super::dead_letters_poison(bus).await;
        }
    };
}

mod memory {
    use super::*;

    fn make() -> Option<(SharedBus, ())> {
        Some((
            Arc::new(crate::bus::memory::InMemoryBus::new()) as SharedBus,
            (),
        ))
    }

    contract_tests!(make());
}

mod amqp {
    use super::*;
    use crate::{
        bus::amqp::AmqpBus,
        config::QueueType,
        testing::{AMQP_ENV, TestVhost, server_url},
    };

    async fn make() -> Option<(SharedBus, TestVhost)> {
        let base = server_url(AMQP_ENV, "amqp bus contract")?;
        let vhost = TestVhost::create(&base).expect("test vhost");
        let bus = AmqpBus::connect(
            &vhost.url,
            "contract-test",
            QueueType::Quorum,
            Duration::from_secs(10),
        )
        .await
        .expect("connect");
        Some((Arc::new(bus) as SharedBus, vhost))
    }

    contract_tests!(make().await);
}

#[allow(dead_code)]
fn _object_safe(_: &dyn EventBus) {}
