//! Checks of the deployment material in `deploy/`: every file parses, matches the JSON Schema
//! written for it (`schemas/`), and agrees with the files it names and with the binary's
//! configuration keys and gRPC health service names.
//!
//! Each check returns the list of problems it found (empty: all good), so that a test can both
//! assert the real files are clean and that a broken copy of one is caught. No network: the
//! schemas are local files and `jsonschema` is built without its HTTP resolver.

pub mod compose;
pub mod k8s;
pub mod monitoring;
pub mod node_config;
pub mod otel;
pub mod rabbitmq;
pub mod rabbitmq_permissions;
pub mod schema;
pub mod secrets;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// What a check found wrong, one sentence each, naming the file.
pub type Problems = Vec<String>;

/// The gRPC health service names a probe or healthcheck may ask about: one per service, and ""
/// for the whole server.
pub const HEALTH_SERVICES: &[&str] = &[
    "",
    "cplds.v1.RegistrationService",
    "cplds.v1.ExaminationService",
    "cplds.v1.CertificationService",
    "cplds.v1.TrainingService",
    "cplds.v1.ReportingService",
    "cplds.v1.FiguresService",
    "cplds.v1.NationalStatisticsService",
];

/// The services an académie node can run, one per process with `--services NAME`.
pub const ACADEMY_SERVICES: &[&str] = &[
    "registration",
    "examination",
    "certification",
    "training",
    "reporting",
    "figures",
];

/// The gRPC service (and health service name) of an académie service.
pub fn grpc_service_of(service: &str) -> String {
    let mut chars = service.chars();
    let capitalized = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    format!("cplds.v1.{capitalized}Service")
}

/// The services that sign documents and so need `documents.signing_key_files`.
pub const DOCUMENT_SIGNING_SERVICES: &[&str] = &["examination", "certification", "training"];

/// Marker every placeholder value carries, so nobody mistakes it for a real one.
pub const PLACEHOLDER_MARKER: &str = "REPLACE_ME";

/// `deploy/`.
pub fn deploy_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.pop();
    dir
}

/// A regular expression whose pattern is a literal of this crate: whether it compiles is fixed
/// when the crate is written (and every one is exercised by the tests), not at run time.
#[allow(clippy::expect_used)]
pub(crate) fn literal_regex(pattern: &'static str) -> regex::Regex {
    regex::Regex::new(pattern).expect("a literal pattern compiles")
}

/// A path relative to `deploy/`, for messages.
pub fn rel(path: &Path) -> String {
    path.strip_prefix(deploy_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", rel(path)))
}

/// Every document of a (multi-document) YAML text, as JSON values; empty documents are skipped.
pub fn parse_yaml_docs(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// The one document of a YAML file.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    let mut docs = parse_yaml_docs(text)?;
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

pub fn load_yaml_docs(path: &Path) -> Result<Vec<Value>, String> {
    parse_yaml_docs(&read(path)?).map_err(|e| format!("{}: invalid YAML: {e}", rel(path)))
}

pub fn load_yaml(path: &Path) -> Result<Value, String> {
    parse_yaml(&read(path)?).map_err(|e| format!("{}: invalid YAML: {e}", rel(path)))
}

pub fn load_json(path: &Path) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: invalid JSON: {e}", rel(path)))
}

/// Every file under `deploy/`, sorted, except build output (`target/`) and editor leftovers.
pub fn all_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != ".git" {
                    walk(&path, out);
                }
            } else if !name.ends_with('~') && !name.ends_with(".swp") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&deploy_dir(), &mut out);
    out.sort();
    out
}

/// How a file of `deploy/` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Kubernetes manifests (one or more documents).
    K8sManifest,
    Kustomization,
    Compose,
    /// A node's TOML configuration.
    NodeConfig,
    /// A RabbitMQ definitions template (JSON once rendered).
    RabbitTemplate,
    RabbitConf,
    EnabledPlugins,
    OtelCollector,
    /// The Grafana dashboard (JSON) and the Prometheus rules and configuration (YAML).
    GrafanaDashboard,
    Prometheus,
    /// This crate's own files (the schemas are checked as schemas).
    CheckCrate,
    /// Documentation, scripts, examples: read by the cross-checks and the private-key scan.
    Text,
}

/// The kind of a file, from its path relative to `deploy/`; `None` for a file no check knows,
/// which is itself a problem (add it here, with its check).
pub fn classify(rel: &str) -> Option<FileKind> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let kind = if rel.starts_with("check/") {
        FileKind::CheckCrate
    } else if rel.starts_with("k8s/") && name == "kustomization.yaml" {
        FileKind::Kustomization
    } else if rel.starts_with("k8s/") && name.ends_with(".yaml") {
        FileKind::K8sManifest
    } else if rel.starts_with("compose/") && name.ends_with(".compose.yaml") {
        FileKind::Compose
    } else if (rel.starts_with("compose/config/") || rel.starts_with("config/"))
        && name.ends_with(".toml")
    {
        FileKind::NodeConfig
    } else if rel.starts_with("rabbitmq/") && name.ends_with(".json") {
        FileKind::RabbitTemplate
    } else if rel == "rabbitmq/rabbitmq.conf" {
        FileKind::RabbitConf
    } else if rel == "rabbitmq/enabled_plugins" {
        FileKind::EnabledPlugins
    } else if rel.starts_with("otel/") && name.ends_with(".yaml") {
        FileKind::OtelCollector
    } else if rel.starts_with("monitoring/grafana/") && name.ends_with(".json") {
        FileKind::GrafanaDashboard
    } else if rel.starts_with("monitoring/prometheus/") && name.ends_with(".yaml") {
        FileKind::Prometheus
    } else if name.ends_with(".md")
        || name == ".gitignore"
        || name.ends_with(".sh")
        || name.ends_with(".env.example")
        || rel.starts_with("docker/")
    {
        FileKind::Text
    } else {
        return None;
    };
    Some(kind)
}

/// Parses every file by its kind: a file that no check knows, or that does not parse, is a
/// problem.
pub fn check_every_file_parses() -> Problems {
    let mut problems = Problems::new();
    for path in all_files() {
        let r = rel(&path);
        let Some(kind) = classify(&r) else {
            problems.push(format!(
                "{r}: no check knows this file (classify it in deploy/check/src/lib.rs)"
            ));
            continue;
        };
        let parsed = match kind {
            FileKind::K8sManifest | FileKind::Kustomization | FileKind::Compose => {
                load_yaml_docs(&path).and_then(|d| {
                    if d.is_empty() {
                        Err(format!("{r}: no YAML document"))
                    } else {
                        Ok(())
                    }
                })
            }
            FileKind::OtelCollector | FileKind::Prometheus => load_yaml(&path).map(|_| ()),
            FileKind::GrafanaDashboard => load_json(&path).map(|_| ()),
            FileKind::NodeConfig => read(&path).and_then(|t| {
                t.parse::<toml::Table>()
                    .map(|_| ())
                    .map_err(|e| format!("{r}: invalid TOML: {e}"))
            }),
            // Templates are JSON once rendered: rabbitmq::check_templates renders and parses them.
            FileKind::RabbitTemplate => read(&path).map(|_| ()),
            FileKind::RabbitConf => read(&path).and_then(|t| {
                rabbitmq::parse_conf(&t)
                    .map(|_| ())
                    .map_err(|e| format!("{r}: {e}"))
            }),
            FileKind::EnabledPlugins => read(&path).and_then(|t| {
                rabbitmq::parse_enabled_plugins(&t)
                    .map(|_| ())
                    .map_err(|e| format!("{r}: {e}"))
            }),
            FileKind::CheckCrate | FileKind::Text => read(&path).map(|_| ()),
        };
        if let Err(e) = parsed {
            problems.push(e);
        }
    }
    problems
}

/// A value at a JSON pointer, as a string.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// An array at a JSON pointer, or an empty slice.
pub fn arr_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Parses a duration like `30s`, `1m30s`, `500ms` into milliseconds.
pub fn duration_ms(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1.0, 2)
        } else if rest.starts_with('s') {
            (1000.0, 1)
        } else if rest.starts_with('m') {
            (60_000.0, 1)
        } else if rest.starts_with('h') {
            (3_600_000.0, 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total += (number * unit) as u64;
    }
    Some(total)
}
