//! The in-process bus: the embedded default. It behaves as one broker for everything in the
//! process (several académie nodes and the national node of the demo share it), with durable
//! queues for the life of the process, acknowledgements, redelivery and dead-lettering.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    Acker, BusError, Delivery, EventBus, Message, QueueKind, QueueSpec, Stream, Subscription,
    topic_matches,
};

/// Deliveries after which a message that keeps being requeued is dead-lettered, as RabbitMQ's
/// `x-delivery-limit` does for quorum queues.
pub const DELIVERY_LIMIT: u32 = 20;

#[derive(Default, Clone)]
pub struct InMemoryBus {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    queues: HashMap<String, Arc<Queue>>,
    bindings: Vec<(Stream, String, String)>,
}

struct Queue {
    items: Mutex<VecDeque<Stored>>,
    notify: Notify,
    dead: Option<Arc<Queue>>,
}

struct Stored {
    message: Arc<Message>,
    redelivered: bool,
    deliveries: u32,
}

impl Queue {
    fn new(dead: Option<Arc<Queue>>) -> Arc<Self> {
        Arc::new(Self {
            items: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            dead,
        })
    }

    fn push_back(&self, item: Stored) {
        self.items.lock().expect("queue poisoned").push_back(item);
        self.notify.notify_waiters();
    }

    fn push_front(&self, item: Stored) {
        self.items.lock().expect("queue poisoned").push_front(item);
        self.notify.notify_waiters();
    }

    fn pop(&self) -> Option<Stored> {
        self.items.lock().expect("queue poisoned").pop_front()
    }

    fn len(&self) -> usize {
        self.items.lock().expect("queue poisoned").len()
    }
}

impl InMemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn queue(&self, spec: &QueueSpec) -> Arc<Queue> {
        let mut state = self.state.lock().expect("bus poisoned");
        if let Some(q) = state.queues.get(&spec.name) {
            let q = q.clone();
            for b in &spec.bindings {
                let binding = (b.stream, b.pattern.clone(), spec.name.clone());
                if !state.bindings.contains(&binding) {
                    state.bindings.push(binding);
                }
            }
            return q;
        }
        let queue = match spec.kind {
            QueueKind::Consumer => {
                let dead_name = spec.dead_letter_queue_name();
                let dead = state
                    .queues
                    .entry(dead_name)
                    .or_insert_with(|| Queue::new(None))
                    .clone();
                Queue::new(Some(dead))
            }
            QueueKind::DeadLetters => Queue::new(None),
        };
        state.queues.insert(spec.name.clone(), queue.clone());
        for b in &spec.bindings {
            state
                .bindings
                .push((b.stream, b.pattern.clone(), spec.name.clone()));
        }
        queue
    }

    /// Messages waiting in a queue (not counting those delivered and not yet settled).
    pub fn ready_count(&self, queue: &str) -> usize {
        self.state
            .lock()
            .expect("bus poisoned")
            .queues
            .get(queue)
            .map_or(0, |q| q.len())
    }
}

#[async_trait]
impl EventBus for InMemoryBus {
    async fn declare(&self, queue: &QueueSpec) -> Result<(), BusError> {
        self.queue(queue);
        Ok(())
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let state = self.state.lock().expect("bus poisoned");
        for message in messages {
            let message = Arc::new(message.clone());
            let mut targets: Vec<&str> = state
                .bindings
                .iter()
                .filter(|(stream, pattern, _)| {
                    *stream == message.stream && topic_matches(pattern, &message.routing_key)
                })
                .map(|(_, _, queue)| queue.as_str())
                .collect();
            targets.sort_unstable();
            targets.dedup();
            for name in targets {
                if let Some(q) = state.queues.get(name) {
                    q.push_back(Stored {
                        message: message.clone(),
                        redelivered: false,
                        deliveries: 0,
                    });
                }
            }
        }
        Ok(())
    }

    async fn subscribe(&self, spec: &QueueSpec) -> Result<Subscription, BusError> {
        let queue = self.queue(spec);
        let (tx, rx) = mpsc::channel(spec.prefetch.max(1) as usize);
        let permits = Arc::new(Semaphore::new(spec.prefetch.max(1) as usize));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
                    () = stopped.cancelled() => return,
                };
                let item = loop {
                    let notified = queue.notify.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if let Some(item) = queue.pop() {
                        break item;
                    }
                    tokio::select! {
                        () = notified => {}
                        () = stopped.cancelled() => return,
                    }
                };
                let delivery = Delivery::new(
                    item.message.routing_key.clone(),
                    item.message.message_id.clone(),
                    item.message.body.clone(),
                    item.message.headers.clone(),
                    item.redelivered,
                    Box::new(MemoryAcker {
                        queue: queue.clone(),
                        item: Some(item),
                        _permit: permit,
                    }),
                );
                // A closed receiver drops the delivery, whose acker puts the message back.
                if tx.send(delivery).await.is_err() {
                    return;
                }
            }
        });
        Ok(Subscription::new(rx, stop))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

struct MemoryAcker {
    queue: Arc<Queue>,
    item: Option<Stored>,
    _permit: OwnedSemaphorePermit,
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(&mut self) -> Result<(), BusError> {
        self.item.take();
        Ok(())
    }

    async fn nack(&mut self, requeue: bool) -> Result<(), BusError> {
        if let Some(mut item) = self.item.take() {
            item.deliveries += 1;
            if requeue && item.deliveries < DELIVERY_LIMIT {
                item.redelivered = true;
                self.queue.push_front(item);
            } else if let Some(dead) = &self.queue.dead {
                dead.push_back(Stored {
                    message: item.message,
                    redelivered: false,
                    deliveries: 0,
                });
            }
        }
        Ok(())
    }
}

impl Drop for MemoryAcker {
    fn drop(&mut self) {
        // Unsettled when the consumer went away: back to the head of the queue, as a broker does.
        if let Some(mut item) = self.item.take() {
            item.redelivered = true;
            self.queue.push_front(item);
        }
    }
}
