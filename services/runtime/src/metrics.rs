//! The node's metrics, in the OpenMetrics text format on `GET /metrics` of the HTTP address
//! (`http_listen`), for Prometheus.
//!
//! One registry per node ([`Metrics`], in every [`crate::host::ServiceContext`]): what the
//! runtime measures itself is declared here — gRPC calls (one tower layer in front of every
//! service, [`GrpcMetricsLayer`], with the names and labels of go-grpc-prometheus so that
//! existing dashboards work), the relay's publishes, the consumers' redeliveries and dead
//! letters —, what lives in the databases (outbox backlog, dead letters waiting) is read when
//! scraped ([`Metrics::refresh`]), and a service adds its own with [`Metrics::counter`] /
//! [`Metrics::gauge_family`] when it is mounted. Names are listed in deploy/README.md
//! ("Monitoring"); the dashboard and alert rules in deploy/monitoring use only these.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, atomic::AtomicU64},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};
use prost::Message as _;
use tower::{Layer, Service};

use crate::{
    admin::Admin,
    dead_letters,
    events::{Stream, stream_name},
    outbox,
};

/// A gauge holding a float (timestamps, ages).
pub type FloatGauge = Gauge<f64, AtomicU64>;
/// Gauges of one metric, by label values (`[("academy", ..), ("source", ..)]`).
pub type GaugeFamily = Family<Vec<(&'static str, String)>, FloatGauge>;
/// A counter a service declares ([`Metrics::counter`]).
pub type MetricCounter = Counter;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcCall {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcHandled {
    grpc_type: &'static str,
    grpc_service: String,
    grpc_method: String,
    grpc_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    service: String,
    stream: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    consumer: String,
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    consumer: String,
    queue: String,
    reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Units of work one COMMIT ended (SQLite's group commit): 1 to its cap of 32.
fn group_units_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
}

/// What a database's group commit measures (SQLite): the units each COMMIT ended, and how long
/// units held the write lock, whose rate is the lock's utilisation (near 1: writes queue).
#[derive(Clone)]
pub(crate) struct GroupMetrics {
    pub units: Histogram,
    pub held: Counter<f64, AtomicU64>,
}

impl Default for GroupMetrics {
    /// Counted nowhere (a core outside a node).
    fn default() -> Self {
        Self {
            units: group_units_histogram(),
            held: Counter::default(),
        }
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s: a verification is a few ms, a session's issuance a few seconds.
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    ])
}

struct Inner {
    registry: Mutex<Registry>,
    grpc_started: Family<GrpcCall, Counter>,
    grpc_handled: Family<GrpcHandled, Counter>,
    grpc_seconds: HistogramFamily<GrpcCall>,
    published: Family<StreamLabels, Counter>,
    redeliveries: Family<QueueLabels, Counter>,
    dead_lettered: Family<QueueLabels, Counter>,
    quarantined: Family<RefusalLabels, Counter>,
    outbox_waiting: Family<ServiceLabel, Gauge>,
    outbox_oldest: Family<ServiceLabel, FloatGauge>,
    dead_letters_waiting: Family<QueueLabels, Gauge>,
    group_commit_units: HistogramFamily<ServiceLabel>,
    group_commit_held: Family<ServiceLabel, Counter<f64, AtomicU64>>,
}

/// The metrics of one node. Cheap to clone; [`Default`] gives a registry of its own (tools and
/// tests that start a relay or a consumer alone).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let grpc_started = Family::<GrpcCall, Counter>::default();
        registry.register(
            "grpc_server_started",
            "gRPC calls started on the server",
            grpc_started.clone(),
        );
        let grpc_handled = Family::<GrpcHandled, Counter>::default();
        registry.register(
            "grpc_server_handled",
            "gRPC calls completed on the server, by status code",
            grpc_handled.clone(),
        );
        let grpc_seconds: HistogramFamily<GrpcCall> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "grpc_server_handling",
            "Time from a call's arrival to its response headers (the whole call for unary RPCs)",
            Unit::Seconds,
            grpc_seconds.clone(),
        );
        let published = Family::<StreamLabels, Counter>::default();
        registry.register(
            "cplds_relay_published_events",
            "Outbox rows the relay published (confirmed by the broker), by stream",
            published.clone(),
        );
        let redeliveries = Family::<QueueLabels, Counter>::default();
        registry.register(
            "cplds_consumer_redeliveries",
            "Deliveries the broker marked as redelivered (a consumer or connection failed before acknowledging)",
            redeliveries.clone(),
        );
        let dead_lettered = Family::<QueueLabels, Counter>::default();
        registry.register(
            "cplds_consumer_dead_lettered",
            "Events a consumer gave up on and kept as dead letters",
            dead_lettered.clone(),
        );
        let quarantined = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "cplds_consumer_quarantined_events",
            "Events a consumer refused before applying them (signature, académie, source, routing key or upstream that do not agree), kept in its quarantine table",
            quarantined.clone(),
        );
        let outbox_waiting = Family::<ServiceLabel, Gauge>::default();
        registry.register(
            "cplds_outbox_waiting_rows",
            "Outbox rows not yet published",
            outbox_waiting.clone(),
        );
        let outbox_oldest = Family::<ServiceLabel, FloatGauge>::default();
        registry.register_with_unit(
            "cplds_outbox_oldest_waiting_age",
            "Age of the oldest outbox row not yet published (0 when none waits)",
            Unit::Seconds,
            outbox_oldest.clone(),
        );
        let dead_letters_waiting = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "cplds_dead_letters_waiting",
            "Dead letters kept and not yet redriven or discarded",
            dead_letters_waiting.clone(),
        );
        let group_commit_units: HistogramFamily<ServiceLabel> =
            Family::new_with_constructor(group_units_histogram);
        registry.register(
            "cplds_group_commit_units",
            "Units of work (writes) that one COMMIT ended, on SQLite where units that overlap commit together",
            group_commit_units.clone(),
        );
        let group_commit_held = Family::<ServiceLabel, Counter<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "cplds_group_commit_held",
            "Time units of work held the database's write lock, on SQLite: its rate is the lock's utilisation",
            Unit::Seconds,
            group_commit_held.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                grpc_started,
                grpc_handled,
                grpc_seconds,
                published,
                redeliveries,
                dead_lettered,
                quarantined,
                outbox_waiting,
                outbox_oldest,
                dead_letters_waiting,
                group_commit_units,
                group_commit_held,
            }),
        }
    }

    fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        // A panic while registering cannot leave the registry half-changed: take it anyway.
        let mut registry = match self.inner.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut registry)
    }

    /// A counter of the service's own (`name` without `_total`), registered in this node.
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let counter = Counter::default();
        self.with_registry(|r| r.register(name, help, counter.clone()));
        counter
    }

    /// Float gauges of the service's own, by label values, registered in this node.
    pub fn gauge_family(&self, name: &str, help: &str) -> GaugeFamily {
        let family = GaugeFamily::default();
        self.with_registry(|r| r.register(name, help, family.clone()));
        family
    }

    /// Series at zero for the methods of `services` (a family without series is not shown at
    /// all): rates and alerts see every method from the start, as go-grpc-prometheus does.
    pub(crate) fn init_calls(&self, known: &KnownMethods, services: &[&str]) {
        for path in known.0.keys() {
            let call = known.call(path);
            if !services.contains(&call.grpc_service.as_str()) {
                continue;
            }
            let inner = &self.inner;
            let _ = inner.grpc_started.get_or_create_owned(&call);
            let _ = inner.grpc_seconds.get_or_create_owned(&call);
            let _ = inner.grpc_handled.get_or_create_owned(&GrpcHandled {
                grpc_type: call.grpc_type,
                grpc_service: call.grpc_service.clone(),
                grpc_method: call.grpc_method.clone(),
                grpc_code: code_name(tonic::Code::Ok),
            });
        }
    }

    /// Series at zero for a consumer.
    pub(crate) fn init_consumer(&self, consumer: &str, queue: &str) {
        let labels = QueueLabels {
            consumer: consumer.to_owned(),
            queue: queue.to_owned(),
        };
        let _ = self.inner.redeliveries.get_or_create_owned(&labels);
        let _ = self.inner.dead_lettered.get_or_create_owned(&labels);
        for refusal in crate::event_signing::Refusal::ALL {
            let _ = self.inner.quarantined.get_or_create_owned(&RefusalLabels {
                consumer: consumer.to_owned(),
                queue: queue.to_owned(),
                reason: refusal.code().to_owned(),
            });
        }
    }

    /// Series at zero for a service's relay on `stream`.
    pub(crate) fn init_relay(&self, service: &str, stream: Stream) {
        let _ = self.inner.published.get_or_create_owned(&StreamLabels {
            service: service.to_owned(),
            stream: stream_name(stream),
        });
    }

    /// The group commit measures of `service`'s database.
    pub(crate) fn group_commit(&self, service: &str) -> GroupMetrics {
        let label = ServiceLabel {
            service: service.to_owned(),
        };
        GroupMetrics {
            units: self.inner.group_commit_units.get_or_create_owned(&label),
            held: self.inner.group_commit_held.get_or_create_owned(&label),
        }
    }

    pub(crate) fn published(&self, service: &str, stream: Stream, rows: usize) {
        if rows > 0 {
            self.inner
                .published
                .get_or_create(&StreamLabels {
                    service: service.to_owned(),
                    stream: stream_name(stream),
                })
                .inc_by(rows as u64);
        }
    }

    pub(crate) fn redelivered(&self, consumer: &str, queue: &str) {
        self.inner
            .redeliveries
            .get_or_create(&QueueLabels {
                consumer: consumer.to_owned(),
                queue: queue.to_owned(),
            })
            .inc();
    }

    pub(crate) fn dead_lettered(&self, consumer: &str, queue: &str) {
        self.inner
            .dead_lettered
            .get_or_create(&QueueLabels {
                consumer: consumer.to_owned(),
                queue: queue.to_owned(),
            })
            .inc();
    }

    pub(crate) fn quarantined(&self, consumer: &str, queue: &str, reason: &str) {
        self.inner
            .quarantined
            .get_or_create(&RefusalLabels {
                consumer: consumer.to_owned(),
                queue: queue.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Reads what the databases hold (outbox backlog, dead letters waiting) into the gauges.
    /// A database that does not answer leaves its gauges as they were (the health service says
    /// it is down).
    pub async fn refresh(&self, admin: &Admin) {
        let now = admin.clock.now();
        for s in &admin.services {
            let label = ServiceLabel {
                service: s.name.to_owned(),
            };
            if let Ok(backlog) = outbox::backlog(&s.db).await {
                self.inner
                    .outbox_waiting
                    .get_or_create(&label)
                    .set(backlog.waiting);
                let age = backlog.oldest.map_or(0.0, |t| {
                    ((now - t).num_milliseconds().max(0) as f64) / 1000.0
                });
                self.inner.outbox_oldest.get_or_create(&label).set(age);
            }
            if let Ok(waiting) = dead_letters::waiting(&s.db).await {
                // Every consumer shows, at 0 when none waits, so an alert sees it go back down.
                for (consumer, queue) in &s.consumers {
                    let n = waiting
                        .iter()
                        .find(|(c, _)| c == consumer)
                        .map_or(0, |(_, n)| *n);
                    self.inner
                        .dead_letters_waiting
                        .get_or_create(&QueueLabels {
                            consumer: consumer.clone(),
                            queue: queue.clone(),
                        })
                        .set(n);
                }
            }
        }
    }

    /// The OpenMetrics text of every metric of the node (see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        self.with_registry(|r| encode(&mut text, r))?;
        Ok(text)
    }
}

/// The gRPC methods a node may be called on, `/package.Service/Method`, from descriptor sets,
/// with their kind (`unary`, `server_stream`...): only these are metric labels, so that calls to
/// made-up paths cannot grow the series.
#[derive(Clone, Default)]
pub struct KnownMethods(Arc<HashMap<String, &'static str>>);

impl KnownMethods {
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> anyhow::Result<Self> {
        let mut known = HashMap::new();
        for set in sets {
            let fds = prost_types::FileDescriptorSet::decode(*set)?;
            for file in fds.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = match package.as_str() {
                        "" => service.name().to_owned(),
                        p => format!("{p}.{}", service.name()),
                    };
                    for method in service.method {
                        let kind = match (method.client_streaming(), method.server_streaming()) {
                            (false, false) => "unary",
                            (true, false) => "client_stream",
                            (false, true) => "server_stream",
                            (true, true) => "bidi_stream",
                        };
                        known.insert(format!("/{service_name}/{}", method.name()), kind);
                    }
                }
            }
        }
        Ok(Self(Arc::new(known)))
    }

    /// The labels of a call to `path`; service and method "unknown" when it is not a method.
    fn call(&self, path: &str) -> GrpcCall {
        match (
            self.0.get(path),
            path.strip_prefix('/').and_then(|p| p.split_once('/')),
        ) {
            (Some(kind), Some((service, method))) => GrpcCall {
                grpc_type: kind,
                grpc_service: service.to_owned(),
                grpc_method: method.to_owned(),
            },
            _ => GrpcCall {
                grpc_type: "unary",
                grpc_service: "unknown".to_owned(),
                grpc_method: "unknown".to_owned(),
            },
        }
    }
}

/// Counts and times every gRPC call, whatever answers it (the auth layer's refusals included):
/// `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
/// `grpc_server_handling_seconds`.
///
/// The code is read from the response headers, where tonic puts the status of a call that fails
/// before its first message (every refusal and error of a unary call); otherwise the call is
/// `OK`. A call dropped before it answered is `DeadlineExceeded` when it ran for the server's
/// timeout, else `Cancelled` (the client went away).
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: Metrics,
    known: KnownMethods,
    timeout: Duration,
}

impl GrpcMetricsLayer {
    pub fn new(metrics: Metrics, known: KnownMethods, timeout: Duration) -> Self {
        Self {
            metrics,
            known,
            timeout,
        }
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    layer: GrpcMetricsLayer,
}

/// Records the call once: when it answers, or when it is dropped unanswered.
struct CallRecord {
    metrics: Metrics,
    call: GrpcCall,
    started: Instant,
    timeout: Duration,
    done: bool,
}

impl CallRecord {
    fn finish(&mut self, code: &'static str) {
        if self.done {
            return;
        }
        self.done = true;
        let inner = &self.metrics.inner;
        inner
            .grpc_seconds
            .get_or_create(&self.call)
            .observe(self.started.elapsed().as_secs_f64());
        inner
            .grpc_handled
            .get_or_create(&GrpcHandled {
                grpc_type: self.call.grpc_type,
                grpc_service: self.call.grpc_service.clone(),
                grpc_method: self.call.grpc_method.clone(),
                grpc_code: code,
            })
            .inc();
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.done {
            let code = if self.started.elapsed() >= self.timeout {
                code_name(tonic::Code::DeadlineExceeded)
            } else {
                code_name(tonic::Code::Cancelled)
            };
            self.finish(code);
        }
    }
}

/// The code's name as gRPC's own implementations print it (`OK`, `InvalidArgument`, ...), the
/// values go-grpc-prometheus gives `grpc_code`.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

fn response_code(headers: &http::HeaderMap) -> &'static str {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    code_name(code)
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcMetricsService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let call = self.layer.known.call(req.uri().path());
        self.layer
            .metrics
            .inner
            .grpc_started
            .get_or_create(&call)
            .inc();
        let mut record = CallRecord {
            metrics: self.layer.metrics.clone(),
            call,
            started: Instant::now(),
            timeout: self.layer.timeout,
            done: false,
        };
        let future = self.inner.call(req);
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) => record.finish(response_code(response.headers())),
                Err(_) => record.finish(code_name(tonic::Code::Unknown)),
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label() {
        let known = KnownMethods(Arc::new(
            [("/cplds.v1.S/Do".to_owned(), "server_stream")]
                .into_iter()
                .collect(),
        ));
        let call = known.call("/cplds.v1.S/Do");
        assert_eq!(
            (
                call.grpc_type,
                call.grpc_service.as_str(),
                call.grpc_method.as_str()
            ),
            ("server_stream", "cplds.v1.S", "Do")
        );
        for path in ["/cplds.v1.S/Other", "/x", "/", ""] {
            let call = known.call(path);
            assert_eq!(
                (call.grpc_service.as_str(), call.grpc_method.as_str()),
                ("unknown", "unknown"),
                "{path}"
            );
        }
    }

    #[test]
    fn a_node_shows_its_series_at_zero_before_any_call_or_event() {
        let m = Metrics::new();
        let known = KnownMethods(Arc::new(
            [
                ("/cplds.v1.S/Do".to_owned(), "unary"),
                ("/cplds.v1.Elsewhere/Do".to_owned(), "unary"),
            ]
            .into_iter()
            .collect(),
        ));
        m.init_calls(&known, &["cplds.v1.S"]);
        m.init_consumer("c", "q");
        m.init_relay("s", Stream::National);
        let text = m.encode().unwrap();
        assert!(
            text.contains(
                "grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"cplds.v1.S\",grpc_method=\"Do\",grpc_code=\"OK\"} 0"
            ),
            "{text}"
        );
        assert!(!text.contains("Elsewhere"), "a service not served: {text}");
        for family in [
            "grpc_server_started",
            "grpc_server_handled",
            "grpc_server_handling_seconds",
            "cplds_consumer_redeliveries",
            "cplds_consumer_dead_lettered",
            "cplds_relay_published_events",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family}: {text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
