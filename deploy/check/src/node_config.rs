//! The node configuration (TOML): its schema (the keys of `services/runtime/src/config.rs`) and
//! what a deployed node must set.

use serde_json::Value;

use crate::{Problems, schema::Schemas, str_at};

/// Who runs a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A deployed académie node: every key configured, none left to be generated.
    Academy,
    /// The deployed national node.
    National,
    /// `deploy/config/node.example.toml`: every key shown, placeholders allowed.
    Example,
}

/// Keys every node configuration of `deploy/` names (`deploy/config/node.example.toml`'s keys
/// that matter to a deployment).
pub const REQUIRED_KEYS: &[&str] = &[
    "academy",
    "listen",
    "database_url",
    "amqp_url",
    "auth",
    "tls",
];

/// Words a password in a URL may be when it is a placeholder.
const PASSWORD_PLACEHOLDERS: &[&str] = &["CHANGE_ME", "REPLACE_ME", "PASSWORD"];

pub fn parse(text: &str) -> Result<Value, String> {
    let table: toml::Table = text.parse().map_err(|e| format!("invalid TOML: {e}"))?;
    serde_json::to_value(table).map_err(|e| e.to_string())
}

/// The password in `scheme://user:password@host`, if any.
pub fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p)
}

/// Every file path the configuration names (key files, certificates), with its key.
pub fn file_paths(config: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for pointer in [
        "/pseudonym_secret_file",
        "/auth/signing_key_file",
        "/tls/cert_file",
        "/tls/key_file",
        "/tls/client_ca_file",
        "/amqp_tls/ca_file",
        "/amqp_tls/cert_file",
        "/amqp_tls/key_file",
    ] {
        if let Some(p) = str_at(config, pointer) {
            out.push((pointer.to_owned(), p.to_owned()));
        }
    }
    for pointer in ["/auth/verifying_key_files", "/documents/signing_key_files"] {
        for p in crate::arr_at(config, pointer) {
            if let Some(p) = p.as_str() {
                out.push((pointer.to_owned(), p.to_owned()));
            }
        }
    }
    out
}

/// `server.shutdown_grace_ms`, or the binary's default.
pub fn shutdown_grace_ms(config: &Value) -> u64 {
    config
        .pointer("/server/shutdown_grace_ms")
        .and_then(Value::as_u64)
        .unwrap_or(10_000)
}

/// The port of `listen`, or the binary's default.
pub fn listen_port(config: &Value) -> u16 {
    str_at(config, "/listen")
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(50051)
}

/// Checks a node configuration's text; `what` names it in messages.
pub fn check(what: &str, text: &str, role: Role) -> Problems {
    let config = match parse(text) {
        Ok(c) => c,
        Err(e) => return vec![format!("{what}: {e}")],
    };
    check_value(what, &config, role)
}

pub fn check_value(what: &str, config: &Value, role: Role) -> Problems {
    let mut problems = Schemas::get().check("node-config", what, config);
    for key in REQUIRED_KEYS {
        if config.get(key).is_none() {
            problems.push(format!("{what}: the key `{key}` is missing"));
        }
    }
    for key in ["database_url", "amqp_url"] {
        if let Some(password) = str_at(config, &format!("/{key}")).and_then(url_password)
            && !PASSWORD_PLACEHOLDERS.contains(&password)
        {
            problems.push(format!(
                "{what}: `{key}` holds a password: credentials belong in a secret (CPLDS_{} overrides the key)",
                key.to_uppercase()
            ));
        }
    }
    let academy = str_at(config, "/academy").unwrap_or_default();
    let verifying = crate::arr_at(config, "/auth/verifying_key_files");
    match role {
        Role::Academy => {
            if academy == "national" {
                problems.push(format!("{what}: an académie node cannot be `national`"));
            }
            // Several processes (and replicas) run from one configuration: a key left to be
            // generated would differ between them.
            if str_at(config, "/pseudonym_secret_file").is_none() {
                problems.push(format!(
                    "{what}: `pseudonym_secret_file` must be set (each process would otherwise generate its own secret)"
                ));
            }
            if crate::arr_at(config, "/documents/signing_key_files").is_empty() {
                problems.push(format!(
                    "{what}: `documents.signing_key_files` must name the document keys (else each process generates one)"
                ));
            }
        }
        Role::National => {
            if academy != "national" {
                problems.push(format!(
                    "{what}: the national node's `academy` must be \"national\""
                ));
            }
        }
        Role::Example => {}
    }
    if role != Role::Example {
        if verifying.is_empty() {
            problems.push(format!(
                "{what}: `auth.verifying_key_files` must name the identity provider's public keys"
            ));
        }
        if config.pointer("/auth/signing_key_file").is_some() {
            problems.push(format!(
                "{what}: a deployed node verifies tokens only: no `auth.signing_key_file`"
            ));
        }
        if let Some(endpoint) = str_at(config, "/telemetry/otlp_endpoint")
            && !endpoint.trim_end_matches('/').ends_with(":4317")
        {
            problems.push(format!(
                "{what}: `telemetry.otlp_endpoint` must be the collector's OTLP/gRPC port 4317"
            ));
        }
    }
    problems
}

/// `deploy/config/node.example.toml` (every key, as documentation) and the Compose nodes'
/// configurations (checked again with their compose file).
pub fn check_files() -> Problems {
    let dir = crate::deploy_dir();
    let mut problems = Problems::new();
    for (file, role) in [
        ("config/node.example.toml", Role::Example),
        ("compose/config/academy-node.toml", Role::Academy),
        ("compose/config/national-node.toml", Role::National),
    ] {
        match crate::read(&dir.join(file)) {
            Ok(text) => problems.extend(check(file, &text, role)),
            Err(e) => problems.push(e),
        }
    }
    problems
}
