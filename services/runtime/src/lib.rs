//! The plumbing every CPLDS service stands on, written once.
//!
//! - [`config`]: layered configuration (defaults, file, `CPLDS_*` environment, flags).
//! - [`db`]: each service's own database (SQLite file or PostgreSQL schema) and migrations.
//! - [`bus`]: the event bus trait, in-process and RabbitMQ implementations.
//! - [`outbox`] / [`inbox`]: exactly-once in effect: events written with the change, relayed with
//!   confirms; consumers record what they applied. [`dead_letters`]: what a consumer gave up on,
//!   kept, listed and redriven. [`retention`]: how long those tables keep what they hold.
//!   [`admin`]: the node's operator API (dead letters, status). [`event_signing`]: every event
//!   signed by its producer, verified by its consumers; [`quarantine`]: what they refused.
//! - [`auth`]: bearer tokens, roles, the policy layer. [`error`]: service errors → gRPC statuses.
//! - [`kit`]: the one way to write a service: parse, load, decide, write in a unit of work;
//!   the handler table, stored enums, ids, paging, refusals, the audit history.
//! - [`node`]: which node a process is (an académie's or the national one), typed.
//! - [`host`]: mounting services into a node, serving them with health and reflection, shutdown.
//!   [`web`]: the public pages' layers and error mapping.
//! - [`metrics`]: the node's Prometheus metrics and the gRPC layer that measures every call.
//! - [`pdf`]: printable documents. [`telemetry`]: tracing and OpenTelemetry. [`academy`]: reference data. [`time`], [`clock`],
//!   [`pagination`], [`pseudonym`], [`verification_code`]: small shared rules.
//!
//! Nothing here knows a service's domain; services never depend on each other.

pub mod academy;
pub mod admin;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod db;
pub mod dead_letters;
pub mod error;
pub mod event_signing;
pub mod events;
pub mod host;
pub mod inbox;
pub mod kit;
pub mod metrics;
pub mod node;
pub mod outbox;
pub mod pagination;
pub mod pdf;
pub mod people;
pub mod poll;
pub mod pseudonym;
pub mod quarantine;
pub mod retention;
pub mod sandbox;
pub mod secrets;
pub mod signing;
pub mod telemetry;
// The test harness (only tests enable `test-support`): a failed expectation there is the
// failing test's report, as in the tests themselves (clippy.toml allows it in tests).
#[cfg(feature = "test-support")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod testing;
pub mod time;
pub mod tls;
pub mod verification_code;
pub mod web;

/// rustls needs one process-wide crypto provider; tonic, sqlx and lapin all use ring here.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
