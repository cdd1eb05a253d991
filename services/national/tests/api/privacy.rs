//! Nothing personal ever reaches the national stream.

use std::time::Duration;

use cplds_runtime::bus::{Binding, EventBus, QueueSpec, Stream, memory::InMemoryBus};

use crate::helpers::registered;

#[tokio::test]
async fn nothing_personal_reaches_the_national_stream() {
    let bus = InMemoryBus::new();
    let spy = QueueSpec::new("national.spy", vec![Binding::new(Stream::National, "#")]);
    bus.declare(&spy).await.unwrap();
    let _federation = registered(&bus).await;
    let mut sub = bus.subscribe(&spy).await.unwrap();
    let mut seen = 0;
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        for secret in [
            "Dupont",
            "Alexandra",
            "@ac.fr",
            "34E0000000XYZ",
            "1982-04-02",
        ] {
            assert!(
                !d.body.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                d.routing_key
            );
        }
        seen += 1;
        d.ack().await.unwrap();
    }
    assert!(seen >= 14, "the spy saw the national stream ({seen})");
}
