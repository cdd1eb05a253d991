//! Configuration in layers: embedded defaults, then a TOML file, then `CPLDS_*` environment
//! variables (nested keys with `__`, e.g. `CPLDS_AUTH__ISSUER`), then command-line flags.
//!
//! The defaults run embedded: SQLite files under `data_dir`, the in-process bus, keys generated
//! on first start. Setting `database_url` / `amqp_url` switches to PostgreSQL / RabbitMQ.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Académie code of the node (`toulouse`); `national` for the aggregator.
    pub academy: Option<String>,
    pub listen: SocketAddr,
    /// Address of the public web pages (HTTP/1.1: certificate verification for people who scan a
    /// QR code); none when unset. Plaintext: TLS belongs to the reverse proxy in front of it.
    pub http_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// PostgreSQL URL; each service gets its own schema in it. SQLite files when unset.
    pub database_url: Option<String>,
    /// RabbitMQ URL (the académie's vhost). The in-process bus when unset.
    pub amqp_url: Option<String>,
    pub amqp_queue_type: QueueType,
    /// Per service (`registration = "amqp://cplds-registration:…@broker/toulouse"`), a broker
    /// user of its own, whose permissions cover only that service's routing keys and queues
    /// (deploy/rabbitmq); services without one use `amqp_url`.
    pub amqp_service_urls: BTreeMap<String, String>,
    pub auth: AuthConfig,
    /// File holding the académie's pseudonymisation secret (generated under data_dir when unset).
    pub pseudonym_secret_file: Option<PathBuf>,
    pub telemetry: TelemetryConfig,
    pub outbox: OutboxConfig,
    /// How consumers ride out their database's outages and decide an event is poison.
    pub inbox: InboxConfig,
    /// How long published events and applied event ids are kept.
    pub retention: RetentionConfig,
    pub server: ServerConfig,
    pub documents: DocumentsConfig,
    /// Event signing: this node's producer keys and the public keys it accepts events from.
    pub events: EventsConfig,
    /// Only read by the national node.
    pub national: NationalConfig,
    /// TLS of the gRPC server; plaintext when no certificate is configured.
    pub tls: TlsConfig,
    /// TLS towards the broker, for `amqps://` URLs.
    pub amqp_tls: AmqpTlsConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the server.
    pub key_file: Option<PathBuf>,
    /// PEM CA bundle: when set, every client must present a certificate it signed (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AmqpTlsConfig {
    /// PEM CA bundle the broker's certificate must chain to (else the system roots).
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for brokers that require them (mutual TLS).
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NationalConfig {
    /// Published figures hide counts below this (and complementary cells).
    pub suppression_threshold: i64,
    /// How often gaps are looked for, and replays asked for.
    pub gap_check_interval_ms: u64,
    /// A replay is asked again for the same gap only after this long.
    pub replay_backoff_ms: u64,
    /// A source heard from (event or heartbeat) within this long is up to date if it has no gap.
    pub silence_ms: u64,
    /// Per session year (`"2025"`), the codes of the académies expected to report; a year not
    /// listed expects all of them. Figures are final only when every expected académie is up to
    /// date and has approved.
    pub active_academies: BTreeMap<String, Vec<String>>,
}

impl Default for NationalConfig {
    fn default() -> Self {
        Self {
            suppression_threshold: 5,
            gap_check_interval_ms: 5_000,
            replay_backoff_ms: 15_000,
            silence_ms: 120_000,
            active_academies: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DocumentsConfig {
    /// PEM Ed25519 keys of certificates and minutes: the first (PKCS#8 private) signs, the others
    /// are retired keys that still verify what they signed, given as public keys (SPKI PEM).
    /// Generated under data_dir when empty.
    pub signing_key_files: Vec<PathBuf>,
    /// Public base URL printed in certificates' QR codes, e.g. `https://cplds.ac-toulouse.fr/verify`.
    pub verification_base_url: Option<String>,
}

/// Signed events (runtime `event_signing`): every event a service publishes is signed with its
/// key; every consumer refuses (and quarantines) an event no registered key of its académie and
/// service signed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventsConfig {
    /// Per service (`registration = [...]`), PEM Ed25519 keys: the first (PKCS#8 private) signs,
    /// the others are retired keys (public, SPKI PEM) still published. Generated under
    /// `data_dir/secrets/events_{service}_ed25519.pem` when a service has none.
    pub signing_key_files: BTreeMap<String, Vec<PathBuf>>,
    /// Public keys of the producers this node accepts events from (beyond the services it runs
    /// itself): the national node lists every académie's, an académie its peers' of the région
    /// and, when its services run in separate processes, each other's.
    pub trusted_keys: Vec<crate::event_signing::TrustedKey>,
    /// Files of `[[trusted_keys]]`, as `cplds event-keys` prints them (one per académie).
    pub trusted_key_files: Vec<PathBuf>,
    /// Per académie, the URI (credentials left out) of the broker its events are federated
    /// from, as the federation plugin names it in `x-received-from`: a federated event naming
    /// an académie must have come through that académie's link. Unchecked when empty.
    pub upstreams: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    Quorum,
    Classic,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthConfig {
    /// PKCS#8 PEM Ed25519 private key used by `cplds token` (and the demo) to sign tokens.
    pub signing_key_file: Option<PathBuf>,
    /// PEM public keys whose tokens the node accepts; several during a key rotation.
    pub verifying_key_files: Vec<PathBuf>,
    pub issuer: String,
    pub token_ttl_secs: u64,
    /// OpenID Connect providers whose access tokens the node accepts too (`[[auth.oidc]]`).
    pub oidc: Vec<OidcProvider>,
}

/// An OpenID Connect provider (an académie's Keycloak realm, …) whose access tokens the node
/// accepts, and how its claims map to a caller.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OidcProvider {
    /// The provider's issuer, exactly as tokens carry it in `iss`, e.g.
    /// `https://sso.ac-toulouse.fr/realms/cplds`. Its keys are found by discovery
    /// (`{issuer}/.well-known/openid-configuration`, then its `jwks_uri`).
    pub issuer: String,
    /// The provider's JWKS address, to skip discovery.
    pub jwks_url: Option<String>,
    /// The audience tokens must name (in `aud`); default `cplds:<node>`.
    pub audience: Option<String>,
    /// Signature algorithms accepted: `RS256`, `ES256`, `EdDSA`.
    pub algorithms: Vec<String>,
    /// JSON pointers (RFC 6901) into the token's claims: the caller's stable identifier, their
    /// roles or groups (an array of strings, or one string), and their académie (absent: the
    /// node's own, for an académie's provider).
    pub subject_claim: String,
    pub roles_claim: String,
    pub academy_claim: Option<String>,
    /// Provider role or group → node role (`exam_office`, …). Roles not listed give nothing.
    pub roles: BTreeMap<String, String>,
    /// Least time between two fetches of the keys for a token signed with an unknown key id (a
    /// rotation at the provider is picked up; a flood of made-up key ids fetches nothing more).
    pub min_refresh_secs: u64,
    /// Keys are fetched again when this old.
    pub max_cache_secs: u64,
    /// Timeout of one request to the provider.
    pub http_timeout_ms: u64,
}

impl Default for OidcProvider {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            jwks_url: None,
            audience: None,
            algorithms: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            subject_claim: "/sub".into(),
            roles_claim: "/realm_access/roles".into(),
            academy_claim: None,
            roles: BTreeMap::new(),
            min_refresh_secs: 30,
            max_cache_secs: 3600,
            http_timeout_ms: 5000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `tracing` filter directives.
    pub log_filter: String,
    pub log_format: LogFormat,
    /// OTLP/gRPC collector endpoint, e.g. `http://127.0.0.1:4317`; no export when unset.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OutboxConfig {
    /// The relay is woken on every commit; this poll only catches what another process wrote.
    pub poll_interval_ms: u64,
    pub batch_size: u32,
    pub publish_timeout_ms: u64,
    /// How often each relay announces its last national sequence (0: never).
    pub heartbeat_interval_ms: u64,
    /// How often a standby relay (another replica publishes) tries to take over.
    pub standby_retry_ms: u64,
    /// How often the active relay checks it still holds its lease (PostgreSQL).
    pub lease_check_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct InboxConfig {
    /// Longest wait between two attempts at an event while the database is unavailable.
    pub retry_cap_ms: u64,
    /// First wait between two attempts (doubled each time, up to the cap).
    pub retry_first_ms: u64,
    /// Failures of one event, with the database healthy, after which it is poison (dead-lettered).
    pub poison_attempts: u32,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            retry_cap_ms: 30_000,
            retry_first_ms: 200,
            poison_attempts: 5,
        }
    }
}

/// Retention of what the runtime's tables keep (0 = forever).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RetentionConfig {
    /// Published internal and regional events (they may name people): deleted this many days
    /// after they were written.
    pub internal_outbox_days: u32,
    /// Published national events, kept (days after they were written) to answer the national
    /// node's replay requests.
    pub national_outbox_days: u32,
    /// Ids of applied events: longer than any redelivery or replay may come back.
    pub inbox_days: u32,
    /// Redriven (settled) dead letters.
    pub dead_letter_days: u32,
    /// How often the pruning job runs.
    pub interval_secs: u64,
    /// Rows deleted per statement, so a first pruning never holds a long lock.
    pub batch: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            internal_outbox_days: 30,
            national_outbox_days: 400,
            inbox_days: 30,
            dead_letter_days: 90,
            interval_secs: 3600,
            batch: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    pub request_timeout_ms: u64,
    /// How long shutdown waits for in-flight calls and the outbox flush.
    pub shutdown_grace_ms: u64,
    pub max_message_bytes: usize,
    /// Limits of the public methods and pages (no token: certificate verification).
    pub public: PublicLimits,
    /// Whole-server limits of the gRPC listener (every caller, token or not).
    pub limits: ServerLimits,
}

/// What the gRPC listener holds at most, so no client (or many) can exhaust the node: beyond
/// `max_connections` new connections wait in the kernel's backlog (not accepted), beyond
/// `max_concurrent_streams` on a connection HTTP/2 clients queue their calls, beyond
/// `concurrency_per_connection` calls wait their turn in the node; idle or dead peers are found
/// by keepalives and dropped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerLimits {
    pub max_connections: u32,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS announced to each client.
    pub max_concurrent_streams: u32,
    /// Calls of one connection handled at once.
    pub concurrency_per_connection: u32,
    /// HTTP/2 PING sent when a connection is quiet this long; unanswered within the timeout,
    /// the connection is closed.
    pub http2_keepalive_interval_ms: u64,
    pub http2_keepalive_timeout_ms: u64,
    /// TCP keepalive probes after this long idle (finds peers gone without a FIN).
    pub tcp_keepalive_ms: u64,
    /// A connection older than this is asked to go away (GOAWAY) and given
    /// `shutdown_grace_ms` to finish; 0 keeps connections as long as they live.
    pub max_connection_age_ms: u64,
    /// Request headers larger than this are refused.
    pub max_header_list_bytes: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_concurrent_streams: 128,
            concurrency_per_connection: 64,
            http2_keepalive_interval_ms: 30_000,
            http2_keepalive_timeout_ms: 10_000,
            tcp_keepalive_ms: 60_000,
            max_connection_age_ms: 0,
            max_header_list_bytes: 16 * 1024,
        }
    }
}

/// What the public methods and pages (no token) answer, so a node exposed without an ingress
/// stays available: calls at once (the rest get RESOURCE_EXHAUSTED / HTTP 429 at once), and per
/// client address a burst then a steady rate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PublicLimits {
    pub max_concurrent: u32,
    pub per_client_burst: u32,
    pub per_client_per_minute: u32,
    /// Reverse proxies in front of the node: a call from one of them is counted against the
    /// address its `X-Forwarded-For` names (the last one not itself a proxy of this list).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for PublicLimits {
    fn default() -> Self {
        Self {
            max_concurrent: 16,
            per_client_burst: 30,
            per_client_per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            academy: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: None,
            data_dir: PathBuf::from("cplds-data"),
            database_url: None,
            amqp_url: None,
            amqp_queue_type: QueueType::Quorum,
            amqp_service_urls: BTreeMap::new(),
            auth: AuthConfig::default(),
            pseudonym_secret_file: None,
            telemetry: TelemetryConfig::default(),
            outbox: OutboxConfig::default(),
            inbox: InboxConfig::default(),
            retention: RetentionConfig::default(),
            server: ServerConfig::default(),
            documents: DocumentsConfig::default(),
            events: EventsConfig::default(),
            national: NationalConfig::default(),
            tls: TlsConfig::default(),
            amqp_tls: AmqpTlsConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            verifying_key_files: Vec::new(),
            issuer: "cplds".into(),
            token_ttl_secs: 8 * 3600,
            oidc: Vec::new(),
        }
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info,sqlx=warn,sea_orm=warn,lapin=warn,h2=warn,hyper=warn,tower=warn"
                .into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            batch_size: 256,
            publish_timeout_ms: 10_000,
            heartbeat_interval_ms: 30_000,
            standby_retry_ms: 2_000,
            lease_check_ms: 1_000,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            max_message_bytes: 8 * 1024 * 1024,
            public: PublicLimits::default(),
            limits: ServerLimits::default(),
        }
    }
}

impl Config {
    /// Loads the layers. `file` is the `--config` path (else `CPLDS_CONFIG`, else none);
    /// `overrides` holds only the flags given on the command line.
    pub fn load(
        file: Option<&Path>,
        overrides: impl Serialize,
    ) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let env_file = std::env::var_os("CPLDS_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            .merge(
                Env::prefixed("CPLDS_")
                    .split("__")
                    // CPLDS_TEST_* switch tests on; CPLDS_CONFIG names the file.
                    .filter(|key| !key.as_str().starts_with("test_") && key.as_str() != "config"),
            )
            .merge(Serialized::defaults(overrides));
        figment.extract().map_err(Box::new)
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.data_dir.join("secrets")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's signature
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            let mut f = std::fs::File::create(jail.directory().join("node.toml")).unwrap();
            writeln!(
                f,
                "academy = \"lyon\"\nlisten = \"0.0.0.0:7000\"\n[outbox]\nbatch_size = 10"
            )
            .unwrap();
            jail.set_env("CPLDS_LISTEN", "0.0.0.0:7001");
            jail.set_env("CPLDS_AUTH__ISSUER", "rectorat");
            jail.set_env("CPLDS_TEST_POSTGRES_URL", "ignored");
            let overrides = serde_json::json!({ "academy": "toulouse" });
            let c = Config::load(Some(&jail.directory().join("node.toml")), overrides).unwrap();
            assert_eq!(c.academy.as_deref(), Some("toulouse"), "flags win");
            assert_eq!(c.listen.port(), 7001, "environment beats the file");
            assert_eq!(c.outbox.batch_size, 10, "file beats the defaults");
            assert_eq!(c.outbox.poll_interval_ms, 1000, "defaults fill the rest");
            assert_eq!(c.auth.issuer, "rectorat");
            Ok(())
        });
    }

    #[test]
    fn defaults_are_embedded() {
        figment::Jail::expect_with(|_| {
            let c = Config::load(None, serde_json::json!({})).unwrap();
            assert!(c.database_url.is_none() && c.amqp_url.is_none());
            assert_eq!(c.listen.to_string(), "127.0.0.1:50051");
            Ok(())
        });
    }
}
