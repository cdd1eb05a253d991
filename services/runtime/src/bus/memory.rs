//! The in-process bus: the embedded default. It behaves as one broker for everything in the
//! process (several académie nodes and the national node of the demo share it), with
//! acknowledgements, redelivery in place, single active consumers, bounded queues and
//! dead-lettering.
//!
//! Opened with a path ([`InMemoryBus::open`]) it is durable: queues, bindings and messages live in
//! a SQLite file. A publish inserts the message into every bound queue in one transaction (that
//! is the confirm); an ack deletes it; a requeue, an unsettled delivery or a crash leaves it
//! where it was; a dead letter moves it. So an embedded node loses nothing across a crash: what
//! the outbox marked published is in this file until a consumer applied it. [`InMemoryBus::new`]
//! keeps everything in memory, for tests.
//!
//! Messages are ordered by a durable id given at publish: a queue delivers in id order, and a
//! message that comes back (requeued, unsettled) takes its place again, ahead of later ones.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    Acker, BusError, Delivery, EventBus, Message, QueueKind, QueueSpec, Stream, Subscription,
    topic_matches,
};
use crate::{
    db::{DbTarget, stmt},
    events::{parse_stream, stream_name},
};

/// Deliveries after which a message that keeps being requeued is dead-lettered, as RabbitMQ's
/// `x-delivery-limit` does for quorum queues.
pub const DELIVERY_LIMIT: u32 = 20;

#[derive(Clone)]
pub struct InMemoryBus {
    inner: Arc<Inner>,
}

impl Default for InMemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

struct Inner {
    state: Mutex<State>,
    store: Option<Store>,
    /// Publishes one at a time, so ids (and thus order) follow publish order.
    publishing: tokio::sync::Mutex<()>,
    /// Ids when there is no store.
    next_id: AtomicI64,
    next_subscriber: AtomicU64,
}

#[derive(Default)]
struct State {
    queues: HashMap<String, Arc<Queue>>,
    bindings: Vec<(Stream, String, String)>,
}

struct Queue {
    name: String,
    items: Mutex<BTreeMap<i64, Stored>>,
    notify: Notify,
    dead: Option<Arc<Queue>>,
    options: Mutex<Options>,
    /// The subscriber receiving deliveries, for a single-active-consumer queue.
    active: Mutex<Option<u64>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Options {
    single_active_consumer: bool,
    message_ttl_ms: Option<u32>,
    max_length: Option<u32>,
}

#[derive(Clone)]
struct Stored {
    message: Arc<Message>,
    redelivered: bool,
    deliveries: u32,
    /// Unix milliseconds, for the queue's message TTL.
    enqueued_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks leaves consistent data: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Queue {
    fn new(name: &str, dead: Option<Arc<Queue>>, options: Options) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            items: Mutex::new(BTreeMap::new()),
            notify: Notify::new(),
            dead,
            options: Mutex::new(options),
            active: Mutex::new(None),
        })
    }

    fn options(&self) -> Options {
        *lock(&self.options)
    }

    /// Puts a message (back) in its place.
    fn put(&self, id: i64, item: Stored) {
        lock(&self.items).insert(id, item);
        self.notify.notify_waiters();
    }

    /// Ids dropped from the head to keep the queue within its maximum length.
    fn trim(&self) -> Vec<i64> {
        let Some(max) = self.options().max_length else {
            return Vec::new();
        };
        let mut items = lock(&self.items);
        let mut dropped = Vec::new();
        while items.len() > max as usize {
            match items.pop_first() {
                Some((id, _)) => dropped.push(id),
                None => break,
            }
        }
        dropped
    }

    /// The next live message, and the ids of expired ones dropped on the way.
    fn pop(&self) -> (Option<(i64, Stored)>, Vec<i64>) {
        let ttl = self.options().message_ttl_ms;
        let mut items = lock(&self.items);
        let mut expired = Vec::new();
        while let Some((id, item)) = items.pop_first() {
            if ttl.is_some_and(|ttl| now_ms() - item.enqueued_ms > i64::from(ttl)) {
                expired.push(id);
                continue;
            }
            return (Some((id, item)), expired);
        }
        (None, expired)
    }

    fn len(&self) -> usize {
        lock(&self.items).len()
    }

    /// Whether subscriber `me` may take deliveries now (claiming the queue if it is free).
    fn may_deliver(&self, me: u64) -> bool {
        if !self.options().single_active_consumer {
            return true;
        }
        let mut active = lock(&self.active);
        match *active {
            Some(a) => a == me,
            None => {
                *active = Some(me);
                true
            }
        }
    }

    fn leave(&self, me: u64) {
        let mut active = lock(&self.active);
        if *active == Some(me) {
            *active = None;
        }
        drop(active);
        self.notify.notify_waiters();
    }
}

impl InMemoryBus {
    /// A bus that keeps everything in memory (tests; lost when the process ends).
    pub fn new() -> Self {
        Self::with_store(None)
    }

    /// A durable bus in the SQLite file at `path` (created if absent), with what it held when it
    /// was last closed or crashed.
    pub async fn open(path: &Path) -> Result<Self, BusError> {
        let store = Store::open(path).await.map_err(store_error)?;
        let saved = store.load().await.map_err(store_error)?;
        let bus = Self::with_store(Some(store));
        {
            let mut state = lock(&bus.inner.state);
            for spec in &saved.queues {
                Self::queue_in(&mut state, spec);
            }
            for (stream, pattern, queue) in saved.bindings {
                if !state
                    .bindings
                    .contains(&(stream, pattern.clone(), queue.clone()))
                {
                    state.bindings.push((stream, pattern, queue));
                }
            }
            for (id, queue, item) in saved.messages {
                if let Some(q) = state.queues.get(&queue) {
                    q.put(id, item);
                }
            }
        }
        Ok(bus)
    }

    fn with_store(store: Option<Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                store,
                publishing: tokio::sync::Mutex::new(()),
                next_id: AtomicI64::new(1),
                next_subscriber: AtomicU64::new(1),
            }),
        }
    }

    /// The queue of `spec` (created, or updated with its bindings and options).
    fn queue_in(state: &mut State, spec: &QueueSpec) -> Arc<Queue> {
        let options = Options {
            single_active_consumer: spec.single_active_consumer,
            message_ttl_ms: spec.message_ttl_ms,
            max_length: spec.max_length,
        };
        for b in &spec.bindings {
            let binding = (b.stream, b.pattern.clone(), spec.name.clone());
            if !state.bindings.contains(&binding) {
                state.bindings.push(binding);
            }
        }
        if let Some(q) = state.queues.get(&spec.name) {
            *lock(&q.options) = options;
            return q.clone();
        }
        let queue = match spec.kind {
            QueueKind::Consumer => {
                let dead_spec = spec.dead_letters();
                let dead = Self::queue_in(state, &dead_spec);
                Queue::new(&spec.name, Some(dead), options)
            }
            QueueKind::DeadLetters => Queue::new(&spec.name, None, options),
        };
        state.queues.insert(spec.name.clone(), queue.clone());
        queue
    }

    async fn queue(&self, spec: &QueueSpec) -> Result<Arc<Queue>, BusError> {
        if let Some(store) = &self.inner.store {
            store.declare(spec).await.map_err(store_error)?;
        }
        Ok(Self::queue_in(&mut lock(&self.inner.state), spec))
    }

    /// Messages waiting in a queue (not counting those delivered and not yet settled).
    pub fn ready_count(&self, queue: &str) -> usize {
        lock(&self.inner.state)
            .queues
            .get(queue)
            .map_or(0, |q| q.len())
    }

    /// Stores `targets` (queue, message) durably, then makes them visible, in order.
    async fn enqueue(&self, targets: Vec<(Arc<Queue>, Arc<Message>)>) -> Result<(), BusError> {
        if targets.is_empty() {
            return Ok(());
        }
        let enqueued_ms = now_ms();
        let ids = match &self.inner.store {
            Some(store) => store
                .insert(&targets, enqueued_ms)
                .await
                .map_err(store_error)?,
            None => targets
                .iter()
                .map(|_| self.inner.next_id.fetch_add(1, Ordering::Relaxed))
                .collect(),
        };
        let mut trimmed = Vec::new();
        for ((queue, message), id) in targets.into_iter().zip(ids) {
            queue.put(
                id,
                Stored {
                    message,
                    redelivered: false,
                    deliveries: 0,
                    enqueued_ms,
                },
            );
            trimmed.extend(queue.trim());
        }
        self.forget(trimmed).await;
        Ok(())
    }

    /// Deletes messages dropped by a queue's bounds.
    async fn forget(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        if let Some(store) = &self.inner.store
            && let Err(e) = store.delete(&ids).await
        {
            // They come back after a restart and are dropped again by the same bounds.
            tracing::warn!(error = %e, "bus: could not delete dropped messages");
        }
    }
}

fn store_error(e: DbErr) -> BusError {
    BusError::Unavailable(format!("bus store: {e}"))
}

#[async_trait]
impl EventBus for InMemoryBus {
    async fn declare(&self, queue: &QueueSpec) -> Result<(), BusError> {
        self.queue(queue).await.map(|_| ())
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let _one_at_a_time = self.inner.publishing.lock().await;
        let mut targets = Vec::new();
        let mut unroutable = None;
        {
            let state = lock(&self.inner.state);
            for message in messages {
                let mut names: Vec<&str> = state
                    .bindings
                    .iter()
                    .filter(|(stream, pattern, _)| {
                        *stream == message.stream && topic_matches(pattern, &message.routing_key)
                    })
                    .map(|(_, _, queue)| queue.as_str())
                    .collect();
                names.sort_unstable();
                names.dedup();
                let queues: Vec<Arc<Queue>> = names
                    .into_iter()
                    .filter_map(|n| state.queues.get(n).cloned())
                    .collect();
                if queues.is_empty() {
                    unroutable = Some(BusError::Unroutable {
                        routing_key: message.routing_key.clone(),
                        message_id: message.message_id.clone(),
                    });
                    break;
                }
                let message = Arc::new(message.clone());
                targets.extend(queues.into_iter().map(|q| (q, message.clone())));
            }
        }
        // What precedes an unroutable message is stored, as a broker confirms it.
        self.enqueue(targets).await?;
        match unroutable {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn publish_to_queue(&self, queue: &str, message: &Message) -> Result<(), BusError> {
        let _one_at_a_time = self.inner.publishing.lock().await;
        let target = lock(&self.inner.state).queues.get(queue).cloned();
        match target {
            Some(q) => self.enqueue(vec![(q, Arc::new(message.clone()))]).await,
            None => Err(BusError::Unroutable {
                routing_key: queue.to_owned(),
                message_id: message.message_id.clone(),
            }),
        }
    }

    async fn subscribe(&self, spec: &QueueSpec) -> Result<Subscription, BusError> {
        let queue = self.queue(spec).await?;
        let prefetch = spec.prefetch.max(1) as usize;
        let (tx, rx) = mpsc::channel(prefetch);
        let permits = Arc::new(Semaphore::new(prefetch));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let me = self.inner.next_subscriber.fetch_add(1, Ordering::Relaxed);
        let bus = self.clone();
        tokio::spawn(async move {
            bus.deliver(&queue, me, &permits, &tx, &stopped).await;
            // Hand the queue over only once every delivery of this subscriber is back or
            // settled: the next one must not overtake a message still in flight here.
            drop(tx);
            let _all_back = permits.acquire_many(prefetch as u32).await;
            queue.leave(me);
        });
        Ok(Subscription::new(rx, stop))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

impl InMemoryBus {
    /// Feeds one subscriber until it stops or goes away.
    async fn deliver(
        &self,
        queue: &Arc<Queue>,
        me: u64,
        permits: &Arc<Semaphore>,
        tx: &mpsc::Sender<Delivery>,
        stopped: &CancellationToken,
    ) {
        loop {
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                () = stopped.cancelled() => return,
            };
            let (id, item) = loop {
                let notified = queue.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if queue.may_deliver(me) {
                    let (next, expired) = queue.pop();
                    self.forget(expired).await;
                    if let Some(next) = next {
                        break next;
                    }
                }
                tokio::select! {
                    () = notified => {}
                    () = stopped.cancelled() => return,
                    () = tx.closed() => return,
                }
            };
            let delivery = Delivery::new(
                item.message.routing_key.clone(),
                item.message.message_id.clone(),
                item.message.body.clone(),
                item.message.headers.clone(),
                item.redelivered,
                Box::new(MemoryAcker {
                    bus: self.clone(),
                    queue: queue.clone(),
                    held: Some((id, item)),
                    _permit: permit,
                }),
            );
            // A closed receiver drops the delivery, whose acker puts the message back.
            if tx.send(delivery).await.is_err() {
                return;
            }
        }
    }
}

struct MemoryAcker {
    bus: InMemoryBus,
    queue: Arc<Queue>,
    held: Option<(i64, Stored)>,
    _permit: OwnedSemaphorePermit,
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(&mut self) -> Result<(), BusError> {
        let Some((id, item)) = self.held.take() else {
            return Ok(());
        };
        if let Some(store) = &self.bus.inner.store
            && let Err(e) = store.delete(&[id]).await
        {
            // Not settled: it stays, and comes back like an unacknowledged delivery.
            self.held = Some((id, item));
            return Err(store_error(e));
        }
        Ok(())
    }

    async fn nack(&mut self, requeue: bool) -> Result<(), BusError> {
        let Some((id, mut item)) = self.held.take() else {
            return Ok(());
        };
        item.deliveries += 1;
        let dead = if requeue && item.deliveries < DELIVERY_LIMIT {
            None
        } else {
            self.queue.dead.clone()
        };
        if let Some(store) = &self.bus.inner.store {
            let saved = match &dead {
                Some(d) => store.move_to(id, &d.name).await,
                None if requeue => store.counted(id, item.deliveries).await,
                None => store.delete(&[id]).await,
            };
            if let Err(e) = saved {
                self.held = Some((id, item));
                return Err(store_error(e));
            }
        }
        match dead {
            Some(d) => d.put(
                id,
                Stored {
                    message: item.message,
                    redelivered: false,
                    deliveries: 0,
                    enqueued_ms: now_ms(),
                },
            ),
            None if requeue => {
                item.redelivered = true;
                self.queue.put(id, item);
            }
            None => {}
        }
        Ok(())
    }
}

impl Drop for MemoryAcker {
    fn drop(&mut self) {
        // Unsettled when the consumer went away: back in its place, as a broker does.
        if let Some((id, mut item)) = self.held.take() {
            item.redelivered = true;
            self.queue.put(id, item);
        }
    }
}

/// The SQLite file behind a durable bus.
struct Store {
    db: DatabaseConnection,
}

/// What a store held when opened.
struct Saved {
    queues: Vec<QueueSpec>,
    bindings: Vec<(Stream, String, String)>,
    messages: Vec<(i64, String, Stored)>,
}

impl Store {
    async fn open(path: &Path) -> Result<Self, DbErr> {
        let db = crate::db::connect(&DbTarget::Sqlite {
            path: path.to_path_buf(),
        })
        .await
        .map_err(|e| DbErr::Custom(format!("{e:#}")))?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS bus_queues (name TEXT PRIMARY KEY, dead_letters INTEGER NOT NULL, \
             single_active_consumer INTEGER NOT NULL, message_ttl_ms INTEGER, max_length INTEGER, prefetch INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS bus_bindings (queue TEXT NOT NULL, stream TEXT NOT NULL, pattern TEXT NOT NULL, \
             PRIMARY KEY (queue, stream, pattern))",
            "CREATE TABLE IF NOT EXISTS bus_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, \
             stream TEXT NOT NULL, routing_key TEXT NOT NULL, message_id TEXT NOT NULL, event_type TEXT NOT NULL, \
             body BLOB NOT NULL, headers TEXT NOT NULL, deliveries INTEGER NOT NULL, enqueued_ms INTEGER NOT NULL)",
        ] {
            db.execute_unprepared(ddl).await?;
        }
        Ok(Self { db })
    }

    async fn declare(&self, spec: &QueueSpec) -> Result<(), DbErr> {
        let txn = self.db.begin().await?;
        let mut specs = vec![spec.clone()];
        if spec.kind == QueueKind::Consumer {
            specs.push(spec.dead_letters());
        }
        for s in &specs {
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                "INSERT INTO bus_queues (name, dead_letters, single_active_consumer, message_ttl_ms, max_length, prefetch) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET single_active_consumer = excluded.single_active_consumer, \
                 message_ttl_ms = excluded.message_ttl_ms, max_length = excluded.max_length",
                vec![
                    s.name.clone().into(),
                    (s.kind == QueueKind::DeadLetters).into(),
                    s.single_active_consumer.into(),
                    s.message_ttl_ms.map(i64::from).into(),
                    s.max_length.map(i64::from).into(),
                    i64::from(s.prefetch).into(),
                ],
            ))
            .await?;
            for b in &s.bindings {
                txn.execute_raw(stmt(
                    txn.get_database_backend(),
                    "INSERT INTO bus_bindings (queue, stream, pattern) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    vec![
                        s.name.clone().into(),
                        stream_name(b.stream).into(),
                        b.pattern.clone().into(),
                    ],
                ))
                .await?;
            }
        }
        txn.commit().await
    }

    /// Inserts the messages in one transaction; returns their ids in order.
    async fn insert(
        &self,
        targets: &[(Arc<Queue>, Arc<Message>)],
        enqueued_ms: i64,
    ) -> Result<Vec<i64>, DbErr> {
        let txn = self.db.begin().await?;
        let mut ids = Vec::with_capacity(targets.len());
        for (queue, m) in targets {
            let headers = serde_json::to_string(&m.headers)
                .map_err(|e| DbErr::Custom(format!("headers: {e}")))?;
            let row = txn
                .query_one_raw(stmt(
                    txn.get_database_backend(),
                    "INSERT INTO bus_messages (queue, stream, routing_key, message_id, event_type, body, headers, deliveries, enqueued_ms) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id",
                    vec![
                        queue.name.clone().into(),
                        stream_name(m.stream).into(),
                        m.routing_key.clone().into(),
                        m.message_id.clone().into(),
                        m.event_type.clone().into(),
                        m.body.clone().into(),
                        headers.into(),
                        enqueued_ms.into(),
                    ],
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("insert returned no id".into()))?;
            ids.push(row.try_get("", "id")?);
        }
        txn.commit().await?;
        Ok(ids)
    }

    async fn delete(&self, ids: &[i64]) -> Result<(), DbErr> {
        for chunk in ids.chunks(500) {
            self.db
                .execute_raw(stmt(
                    self.db.get_database_backend(),
                    &format!(
                        "DELETE FROM bus_messages WHERE id IN ({})",
                        crate::db::placeholders(chunk.len())
                    ),
                    chunk.iter().map(|id| (*id).into()).collect(),
                ))
                .await?;
        }
        Ok(())
    }

    async fn counted(&self, id: i64, deliveries: u32) -> Result<(), DbErr> {
        self.db
            .execute_raw(stmt(
                self.db.get_database_backend(),
                "UPDATE bus_messages SET deliveries = ? WHERE id = ?",
                vec![i64::from(deliveries).into(), id.into()],
            ))
            .await
            .map(|_| ())
    }

    async fn move_to(&self, id: i64, queue: &str) -> Result<(), DbErr> {
        self.db
            .execute_raw(stmt(
                self.db.get_database_backend(),
                "UPDATE bus_messages SET queue = ?, deliveries = 0, enqueued_ms = ? WHERE id = ?",
                vec![queue.into(), now_ms().into(), id.into()],
            ))
            .await
            .map(|_| ())
    }

    async fn load(&self) -> Result<Saved, DbErr> {
        let backend = self.db.get_database_backend();
        let mut queues = Vec::new();
        for r in self
            .db
            .query_all_raw(stmt(backend, "SELECT * FROM bus_queues", vec![]))
            .await?
        {
            let mut spec = QueueSpec::new(r.try_get::<String>("", "name")?, Vec::new());
            if r.try_get::<bool>("", "dead_letters")? {
                spec.kind = QueueKind::DeadLetters;
            }
            spec.single_active_consumer = r.try_get("", "single_active_consumer")?;
            spec.message_ttl_ms = r
                .try_get::<Option<i64>>("", "message_ttl_ms")?
                .map(|v| v as u32);
            spec.max_length = r
                .try_get::<Option<i64>>("", "max_length")?
                .map(|v| v as u32);
            queues.push(spec);
        }
        // Dead-letter queues first, so each consumer queue finds its own.
        queues.sort_by_key(|q| q.kind == QueueKind::Consumer);
        let mut bindings = Vec::new();
        for r in self
            .db
            .query_all_raw(stmt(backend, "SELECT * FROM bus_bindings", vec![]))
            .await?
        {
            let stream: String = r.try_get("", "stream")?;
            bindings.push((
                parse_stream(&stream).unwrap_or(Stream::Internal),
                r.try_get("", "pattern")?,
                r.try_get("", "queue")?,
            ));
        }
        let mut messages = Vec::new();
        for r in self
            .db
            .query_all_raw(stmt(
                backend,
                "SELECT * FROM bus_messages ORDER BY id",
                vec![],
            ))
            .await?
        {
            let stream: String = r.try_get("", "stream")?;
            let headers: String = r.try_get("", "headers")?;
            let message = Message {
                stream: parse_stream(&stream).unwrap_or(Stream::Internal),
                routing_key: r.try_get("", "routing_key")?,
                message_id: r.try_get("", "message_id")?,
                event_type: r.try_get("", "event_type")?,
                body: r.try_get("", "body")?,
                headers: serde_json::from_str(&headers).unwrap_or_default(),
            };
            messages.push((
                r.try_get("", "id")?,
                r.try_get("", "queue")?,
                Stored {
                    message: Arc::new(message),
                    // It may have been delivered before the restart.
                    redelivered: true,
                    deliveries: r.try_get::<i64>("", "deliveries")? as u32,
                    enqueued_ms: r.try_get("", "enqueued_ms")?,
                },
            ));
        }
        Ok(Saved {
            queues,
            bindings,
            messages,
        })
    }
}
