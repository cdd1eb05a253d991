//! The contract both bus implementations pass: the same tests, run on the in-process bus and on
//! a real RabbitMQ (a vhost per test).

use std::{sync::Arc, time::Duration};

use super::{
    Binding, BusError, Delivery, EventBus, Message, QueueSpec, SharedBus, Stream, Subscription,
};

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
        msg(
            Stream::National,
            "toulouse.registration.candidacy_registered",
            3,
        ),
    ])
    .await
    .unwrap();
    // Keys no queue is bound to go nowhere (and say so: see `refuses_what_reaches_no_queue`).
    for (n, key) in [
        (2, "lyon.registration.candidacy_submitted"),
        (4, "toulouse.training.enrolled"),
    ] {
        assert!(matches!(
            bus.publish(&[msg(Stream::Internal, key, n)]).await,
            Err(BusError::Unroutable { .. })
        ));
    }
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

/// Deliveries acknowledged together (one frame on RabbitMQ) are all settled, and only they: the
/// deliveries after them, already received, come back if the consumer goes away.
pub async fn acknowledges_a_batch_and_only_it(bus: SharedBus) {
    let q = QueueSpec::new(
        "amiens.batch",
        vec![Binding::new(Stream::Internal, "amiens.#")],
    );
    bus.declare(&q).await.unwrap();
    let sent: Vec<Message> = (0..10)
        .map(|n| msg(Stream::Internal, "amiens.a.b", n))
        .collect();
    bus.publish(&sent).await.unwrap();
    {
        let mut sub = bus.subscribe(&q).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(recv(&mut sub).await);
        }
        let rest = got.split_off(6);
        Delivery::ack_all(got).await.unwrap();
        // Settled after the batch, on its own: not covered by the batch, nor covering it.
        let mut rest = rest.into_iter();
        rest.next().unwrap().ack().await.unwrap();
        // The other three are dropped unsettled with the subscription.
        drop(rest);
    }
    let mut sub = bus.subscribe(&q).await.unwrap();
    for n in 7..10 {
        let d = recv(&mut sub).await;
        assert_eq!(d.body, format!("amiens.a.b#{n}").into_bytes());
        assert!(d.redelivered);
        d.ack().await.unwrap();
    }
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

/// A message that reaches no queue is not confirmed as sent: the publish fails, naming it, and
/// what came before it in the same publish is stored. Once a queue is bound it goes through.
pub async fn refuses_what_reaches_no_queue(bus: SharedBus) {
    let early = msg(
        Stream::National,
        "caen.registration.candidacy_registered",
        1,
    );
    let routed = QueueSpec::new("caen.local", vec![Binding::new(Stream::Internal, "caen.#")]);
    bus.declare(&routed).await.unwrap();
    let err = bus
        .publish(&[
            msg(Stream::Internal, "caen.registration.x", 0),
            early.clone(),
        ])
        .await
        .unwrap_err();
    match err {
        BusError::Unroutable {
            routing_key,
            message_id,
        } => {
            assert_eq!(routing_key, "caen.registration.candidacy_registered");
            assert_eq!(message_id, early.message_id);
        }
        other => panic!("expected Unroutable, got {other:?}"),
    }
    let mut local = bus.subscribe(&routed).await.unwrap();
    let d = recv(&mut local).await;
    assert_eq!(
        d.body, b"caen.registration.x#0",
        "what preceded it was stored"
    );
    d.ack().await.unwrap();
    let national = QueueSpec::new(
        "national.caen-test",
        vec![Binding::new(Stream::National, "#")],
    );
    bus.declare(&national).await.unwrap();
    bus.publish(std::slice::from_ref(&early)).await.unwrap();
    let mut sub = bus.subscribe(&national).await.unwrap();
    let d = recv(&mut sub).await;
    assert_eq!(d.body, early.body);
    d.ack().await.unwrap();
    assert_empty(&mut sub).await;
}

/// A consumer queue gives its deliveries to one subscriber at a time; when it goes, the next
/// takes over where it left off, unsettled deliveries first, in order.
pub async fn one_active_consumer_at_a_time(bus: SharedBus) {
    let mut q = QueueSpec::new(
        "dijon.single",
        vec![Binding::new(Stream::Internal, "dijon.#")],
    );
    q.prefetch = 4;
    bus.declare(&q).await.unwrap();
    let batch: Vec<Message> = (0..10)
        .map(|n| msg(Stream::Internal, "dijon.registration.x", n))
        .collect();
    bus.publish(&batch).await.unwrap();
    let mut first = bus.subscribe(&q).await.unwrap();
    let a = recv(&mut first).await;
    assert_eq!(a.body, b"dijon.registration.x#0");
    let mut second = bus.subscribe(&q).await.unwrap();
    let b = recv(&mut first).await;
    assert_eq!(b.body, b"dijon.registration.x#1");
    a.ack().await.unwrap();
    b.ack().await.unwrap();
    let c = recv(&mut first).await;
    assert_eq!(c.body, b"dijon.registration.x#2");
    assert_empty(&mut second).await;
    // The active one goes away with #2 unsettled: the other gets #2, then the rest, in order.
    drop(c);
    drop(first);
    for n in 2..10 {
        let d = recv(&mut second).await;
        assert_eq!(d.body, format!("dijon.registration.x#{n}").into_bytes());
        d.ack().await.unwrap();
    }
}

/// A queue may drop messages older than its TTL and keep at most its maximum length (the
/// oldest go first).
pub async fn bounds_age_and_length(bus: SharedBus) {
    let short = QueueSpec::new(
        "brest.control",
        vec![Binding::new(Stream::Control, "brest.#")],
    )
    .with_max_length(3);
    bus.declare(&short).await.unwrap();
    let batch: Vec<Message> = (0..6)
        .map(|n| msg(Stream::Control, "brest.national.replay_requested", n))
        .collect();
    bus.publish(&batch).await.unwrap();
    let mut sub = bus.subscribe(&short).await.unwrap();
    for n in 3..6 {
        let d = recv(&mut sub).await;
        assert_eq!(
            d.body,
            format!("brest.national.replay_requested#{n}").into_bytes(),
            "the oldest were dropped"
        );
        d.ack().await.unwrap();
    }
    assert_empty(&mut sub).await;
    drop(sub);

    let aging = QueueSpec::new(
        "rouen.control",
        vec![Binding::new(Stream::Control, "rouen.#")],
    )
    .with_message_ttl(300);
    bus.declare(&aging).await.unwrap();
    bus.publish(&[msg(Stream::Control, "rouen.national.replay_requested", 1)])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    bus.publish(&[msg(Stream::Control, "rouen.national.replay_requested", 2)])
        .await
        .unwrap();
    let mut sub = bus.subscribe(&aging).await.unwrap();
    let d = recv(&mut sub).await;
    assert_eq!(
        d.body, b"rouen.national.replay_requested#2",
        "the stale message expired"
    );
    d.ack().await.unwrap();
    assert_empty(&mut sub).await;
}

/// Publishing to one queue reaches that queue only (a redrive must not reach other consumers).
pub async fn publishes_to_one_queue(bus: SharedBus) {
    let mine = QueueSpec::new(
        "lille.examination",
        vec![Binding::new(Stream::Internal, "lille.registration.*")],
    );
    let other = QueueSpec::new("lille.spy", vec![Binding::new(Stream::Internal, "#")]);
    bus.declare(&mine).await.unwrap();
    bus.declare(&other).await.unwrap();
    let m = msg(
        Stream::Internal,
        "lille.registration.candidacy_submitted",
        1,
    );
    bus.publish_to_queue("lille.examination", &m).await.unwrap();
    let mut sub = bus.subscribe(&mine).await.unwrap();
    let d = recv(&mut sub).await;
    assert_eq!(d.body, m.body);
    assert_eq!(d.message_id, m.message_id);
    d.ack().await.unwrap();
    let mut spy = bus.subscribe(&other).await.unwrap();
    assert_empty(&mut spy).await;
    assert!(matches!(
        bus.publish_to_queue("lille.nobody", &m).await,
        Err(BusError::Unroutable { .. })
    ));
}

/// What a durable bus stored survives the bus going away (a crash or restart): published and
/// unsettled messages come back, acknowledged ones do not, in order.
pub async fn survives_a_restart<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = SharedBus>,
{
    let q = QueueSpec::new(
        "nancy-metz.restart",
        vec![Binding::new(Stream::Internal, "nancy-metz.#")],
    );
    {
        let bus = open().await;
        bus.declare(&q).await.unwrap();
        let batch: Vec<Message> = (0..4)
            .map(|n| msg(Stream::Internal, "nancy-metz.registration.x", n))
            .collect();
        bus.publish(&batch).await.unwrap();
        let mut sub = bus.subscribe(&q).await.unwrap();
        let d = recv(&mut sub).await;
        assert_eq!(d.body, b"nancy-metz.registration.x#0");
        d.ack().await.unwrap();
        let unsettled = recv(&mut sub).await;
        assert_eq!(unsettled.body, b"nancy-metz.registration.x#1");
        // Gone without settling #1 (and before #2, #3 were delivered).
        std::mem::forget(unsettled);
    }
    let bus = open().await;
    let mut sub = bus.subscribe(&q).await.unwrap();
    for n in 1..4 {
        let d = recv(&mut sub).await;
        assert_eq!(
            d.body,
            format!("nancy-metz.registration.x#{n}").into_bytes()
        );
        d.ack().await.unwrap();
    }
    assert_empty(&mut sub).await;
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
        async fn acknowledges_a_batch_and_only_it() {
            let Some((bus, _guard)) = $make else { return };
            super::acknowledges_a_batch_and_only_it(bus).await;
        }
        #[tokio::test]
        async fn dead_letters_poison() {
            let Some((bus, _guard)) = $make else { return };
            super::dead_letters_poison(bus).await;
        }
        #[tokio::test]
        async fn refuses_what_reaches_no_queue() {
            let Some((bus, _guard)) = $make else { return };
            super::refuses_what_reaches_no_queue(bus).await;
        }
        #[tokio::test]
        async fn one_active_consumer_at_a_time() {
            let Some((bus, _guard)) = $make else { return };
            super::one_active_consumer_at_a_time(bus).await;
        }
        #[tokio::test]
        async fn bounds_age_and_length() {
            let Some((bus, _guard)) = $make else { return };
            super::bounds_age_and_length(bus).await;
        }
        #[tokio::test]
        async fn publishes_to_one_queue() {
            let Some((bus, _guard)) = $make else { return };
            super::publishes_to_one_queue(bus).await;
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

/// The embedded node's bus: the same contract, stored in a SQLite file, and across a restart.
mod memory_durable {
    use super::*;
    use crate::bus::memory::InMemoryBus;

    async fn make() -> Option<(SharedBus, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let bus = InMemoryBus::open(&dir.path().join("bus.sqlite"))
            .await
            .unwrap();
        Some((Arc::new(bus) as SharedBus, dir))
    }

    contract_tests!(make().await);

    #[tokio::test]
    async fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.sqlite");
        super::survives_a_restart(|| {
            let path = path.clone();
            async move { Arc::new(InMemoryBus::open(&path).await.unwrap()) as SharedBus }
        })
        .await;
    }
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

    #[tokio::test]
    async fn survives_a_restart() {
        let Some(base) = server_url(AMQP_ENV, "amqp bus restart") else {
            return;
        };
        let vhost = TestVhost::create(&base).expect("test vhost");
        let url = vhost.url.clone();
        super::survives_a_restart(|| {
            let url = url.clone();
            async move {
                Arc::new(
                    AmqpBus::connect(
                        &url,
                        "restart-test",
                        QueueType::Quorum,
                        Duration::from_secs(10),
                    )
                    .await
                    .expect("connect"),
                ) as SharedBus
            }
        })
        .await;
    }
}

#[allow(dead_code)]
fn _object_safe(_: &dyn EventBus) {}
