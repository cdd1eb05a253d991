//! The OpenTelemetry Collector configuration: schema, and pipelines that reference only
//! defined components (the collector refuses to start otherwise).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{Problems, schema::Schemas};

fn defined(config: &Value, section: &str) -> BTreeSet<String> {
    config
        .get(section)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Environment variables the configuration needs, without a default (`${env:NAME}`).
pub fn required_env(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        rest = &rest[start + 6..];
        let Some(end) = rest.find('}') else { break };
        let inner = &rest[..end];
        if !inner.contains(":-") {
            out.insert(inner.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

pub fn check(what: &str, config: &Value) -> Problems {
    let mut problems = Schemas::get().check("otel-collector", what, config);
    let receivers = defined(config, "receivers");
    let processors = defined(config, "processors");
    let exporters = defined(config, "exporters");
    let connectors = defined(config, "connectors");
    let extensions = defined(config, "extensions");

    for ext in names(config.pointer("/service/extensions")) {
        if !extensions.contains(&ext) {
            problems.push(format!(
                "{what}: service.extensions names `{ext}`, which is not defined"
            ));
        }
    }
    for ext in &extensions {
        if !names(config.pointer("/service/extensions")).contains(ext) {
            problems.push(format!(
                "{what}: extension `{ext}` is defined but not enabled in service.extensions"
            ));
        }
    }

    let mut used = BTreeSet::new();
    let pipelines = config
        .pointer("/service/pipelines")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (pipeline, spec) in &pipelines {
        for (section, known) in [
            ("receivers", &receivers),
            ("processors", &processors),
            ("exporters", &exporters),
        ] {
            for name in names(spec.get(section)) {
                if !known.contains(&name) && !connectors.contains(&name) {
                    problems.push(format!(
                        "{what}: pipeline {pipeline} uses {section} `{name}`, which is not defined"
                    ));
                }
                used.insert((section, name));
            }
        }
        let procs = names(spec.get("processors"));
        if procs.first().map(String::as_str) != Some("memory_limiter") {
            problems.push(format!(
                "{what}: pipeline {pipeline} must start with the memory_limiter processor"
            ));
        }
        if !procs
            .iter()
            .any(|p| p == "batch" || p.starts_with("batch/"))
        {
            problems.push(format!(
                "{what}: pipeline {pipeline} has no batch processor"
            ));
        }
    }
    for (section, known) in [
        ("receivers", &receivers),
        ("processors", &processors),
        ("exporters", &exporters),
    ] {
        for name in known {
            if !used.contains(&(section, name.clone())) {
                problems.push(format!(
                    "{what}: {section} `{name}` is defined but no pipeline uses it"
                ));
            }
        }
    }
    if !pipelines.contains_key("traces") {
        problems.push(format!(
            "{what}: no traces pipeline (the nodes export traces)"
        ));
    }
    problems
}

/// `deploy/otel/collector.yaml`.
pub fn check_file() -> Problems {
    let path = crate::deploy_dir().join("otel/collector.yaml");
    match crate::load_yaml(&path) {
        Ok(config) => check(&crate::rel(&path), &config),
        Err(e) => vec![e],
    }
}
