//! The monitoring material (`deploy/monitoring`): the Grafana dashboard, the Prometheus alert
//! rules and scrape configuration parse and hold what Grafana and Prometheus need; and every
//! metric their queries name is one a node exports ([`check_against_exported`], run by
//! `services/cplds/tests/outside_tools.rs` with the names scraped from running nodes).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{Problems, arr_at, deploy_dir, duration_ms, load_json, load_yaml, rel, str_at};

/// The dashboard, relative to `deploy/`.
pub const DASHBOARD: &str = "monitoring/grafana/cplds-node.json";
/// The alert rules, relative to `deploy/`.
pub const ALERTS: &str = "monitoring/prometheus/alerts.yaml";
/// The example scrape configuration, relative to `deploy/`.
pub const PROMETHEUS: &str = "monitoring/prometheus/prometheus.yaml";

/// Severities the alert rules use (routed by Alertmanager).
pub const SEVERITIES: &[&str] = &["critical", "warning"];

/// Metric names in a PromQL expression: the node's own families start with `cplds_` or
/// `grpc_server_` (the go-grpc-prometheus names).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let re = crate::literal_regex(r"\b(?:cplds|grpc_server)_[a-zA-Z0-9_]+");
    re.find_iter(expr).map(|m| m.as_str().to_owned()).collect()
}

/// Every PromQL text of a dashboard (panel targets, nested rows, template variables), with
/// where it is.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn panels(list: &[Value], out: &mut Vec<(String, String)>) {
        for panel in list {
            let title = str_at(panel, "/title").unwrap_or("(untitled)").to_owned();
            for target in arr_at(panel, "/targets") {
                if let Some(expr) = str_at(target, "/expr") {
                    out.push((format!("panel {title:?}"), expr.to_owned()));
                }
            }
            panels(arr_at(panel, "/panels"), out);
        }
    }
    let mut out = Vec::new();
    panels(arr_at(dashboard, "/panels"), &mut out);
    for variable in arr_at(dashboard, "/templating/list") {
        let name = str_at(variable, "/name").unwrap_or("?");
        let query = variable
            .pointer("/query/query")
            .or_else(|| variable.get("query"))
            .and_then(Value::as_str);
        if let Some(q) = query {
            out.push((format!("variable {name}"), q.to_owned()));
        }
    }
    out
}

pub fn check_dashboard(what: &str, dashboard: &Value) -> Problems {
    let mut problems = Problems::new();
    for key in ["/title", "/uid"] {
        if str_at(dashboard, key).is_none_or(str::is_empty) {
            problems.push(format!("{what}: no {}", &key[1..]));
        }
    }
    if dashboard
        .get("schemaVersion")
        .and_then(Value::as_u64)
        .is_none()
    {
        problems.push(format!(
            "{what}: no schemaVersion (Grafana needs it to import)"
        ));
    }
    let mut ids = BTreeSet::new();
    fn walk(what: &str, list: &[Value], ids: &mut BTreeSet<u64>, problems: &mut Problems) {
        for panel in list {
            let title = str_at(panel, "/title").unwrap_or("(untitled)");
            match panel.get("id").and_then(Value::as_u64) {
                Some(id) if !ids.insert(id) => {
                    problems.push(format!("{what}: panel id {id} is used twice"))
                }
                Some(_) => {}
                None => problems.push(format!("{what}: panel {title:?} has no id")),
            }
            let kind = str_at(panel, "/type").unwrap_or("");
            if kind != "row" {
                let targets = arr_at(panel, "/targets");
                if targets.is_empty() {
                    problems.push(format!("{what}: panel {title:?} has no query"));
                }
                for t in targets {
                    if str_at(t, "/expr").is_none_or(|e| e.trim().is_empty()) {
                        problems.push(format!("{what}: panel {title:?} has a target without expr"));
                    }
                }
            }
            walk(what, arr_at(panel, "/panels"), ids, problems);
        }
    }
    let panels = arr_at(dashboard, "/panels");
    if panels.is_empty() {
        problems.push(format!("{what}: no panels"));
    }
    walk(what, panels, &mut ids, &mut problems);
    problems
}

fn alert_queries(rules: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for group in arr_at(rules, "/groups") {
        for rule in arr_at(group, "/rules") {
            let name = str_at(rule, "/alert")
                .or_else(|| str_at(rule, "/record"))
                .unwrap_or("?");
            if let Some(expr) = str_at(rule, "/expr") {
                out.push((format!("rule {name}"), expr.to_owned()));
            }
        }
    }
    out
}

pub fn check_alerts(what: &str, rules: &Value) -> Problems {
    let mut problems = Problems::new();
    let groups = arr_at(rules, "/groups");
    if groups.is_empty() {
        problems.push(format!("{what}: no groups"));
    }
    let camel = crate::literal_regex(r"^[A-Z][A-Za-z0-9]*$");
    let mut names = BTreeSet::new();
    for group in groups {
        let gname = str_at(group, "/name").unwrap_or("");
        if gname.is_empty() {
            problems.push(format!("{what}: a group has no name"));
        }
        let rules = arr_at(group, "/rules");
        if rules.is_empty() {
            problems.push(format!("{what}: group {gname:?} has no rules"));
        }
        for rule in rules {
            let Some(alert) = str_at(rule, "/alert") else {
                problems.push(format!(
                    "{what}: group {gname:?} has a rule that is not an alert"
                ));
                continue;
            };
            if !camel.is_match(alert) {
                problems.push(format!("{what}: alert {alert:?} is not CamelCase"));
            }
            if !names.insert(alert.to_owned()) {
                problems.push(format!("{what}: alert {alert} is defined twice"));
            }
            if str_at(rule, "/expr").is_none_or(|e| e.trim().is_empty()) {
                problems.push(format!("{what}: alert {alert} has no expr"));
            }
            if let Some(d) = rule.get("for")
                && d.as_str().and_then(duration_ms).is_none()
            {
                problems.push(format!("{what}: alert {alert} has an invalid `for`: {d}"));
            }
            match str_at(rule, "/labels/severity") {
                Some(s) if SEVERITIES.contains(&s) => {}
                other => problems.push(format!(
                    "{what}: alert {alert} has severity {other:?}, expected one of {SEVERITIES:?}"
                )),
            }
            for key in ["summary", "description"] {
                if str_at(rule, &format!("/annotations/{key}")).is_none_or(str::is_empty) {
                    problems.push(format!("{what}: alert {alert} has no {key} annotation"));
                }
            }
        }
    }
    problems
}

/// The scrape configuration loads the alert rules and scrapes `/metrics`.
pub fn check_prometheus(what: &str, config: &Value) -> Problems {
    let mut problems = Problems::new();
    let rule_files: Vec<&str> = arr_at(config, "/rule_files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let alerts_name = ALERTS.rsplit('/').next().unwrap_or(ALERTS);
    if !rule_files.iter().any(|f| f.ends_with(alerts_name)) {
        problems.push(format!("{what}: rule_files does not load {alerts_name}"));
    }
    let jobs = arr_at(config, "/scrape_configs");
    if jobs.is_empty() {
        problems.push(format!("{what}: no scrape_configs"));
    }
    for job in jobs {
        let name = str_at(job, "/job_name").unwrap_or("?");
        if let Some(path) = str_at(job, "/metrics_path")
            && path != "/metrics"
        {
            problems.push(format!(
                "{what}: job {name} scrapes {path}, the nodes serve /metrics"
            ));
        }
        if arr_at(job, "/static_configs").is_empty()
            && job
                .as_object()
                .is_none_or(|o| !o.keys().any(|k| k.ends_with("_sd_configs")))
        {
            problems.push(format!("{what}: job {name} has no targets"));
        }
    }
    problems
}

/// The files of `deploy/monitoring`, parsed and checked (metric names aside).
pub fn check_files() -> Problems {
    let mut problems = Problems::new();
    let dir = deploy_dir();
    match load_json(&dir.join(DASHBOARD)) {
        Ok(d) => problems.extend(check_dashboard(DASHBOARD, &d)),
        Err(e) => problems.push(e),
    }
    match load_yaml(&dir.join(ALERTS)) {
        Ok(r) => problems.extend(check_alerts(ALERTS, &r)),
        Err(e) => problems.push(e),
    }
    match load_yaml(&dir.join(PROMETHEUS)) {
        Ok(c) => problems.extend(check_prometheus(PROMETHEUS, &c)),
        Err(e) => problems.push(e),
    }
    problems
}

/// Every metric name the dashboard and the alert rules use, with where.
pub fn referenced_metrics() -> Result<BTreeMap<String, Vec<String>>, String> {
    let dir = deploy_dir();
    let mut queries = Vec::new();
    let dashboard = dir.join(DASHBOARD);
    for (at, q) in dashboard_queries(&load_json(&dashboard)?) {
        queries.push((format!("{} {at}", rel(&dashboard)), q));
    }
    let alerts = dir.join(ALERTS);
    for (at, q) in alert_queries(&load_yaml(&alerts)?) {
        queries.push((format!("{} {at}", rel(&alerts)), q));
    }
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (at, q) in queries {
        for name in metric_names(&q) {
            names.entry(name).or_default().push(at.clone());
        }
    }
    Ok(names)
}

/// The sample names an OpenMetrics text can hold, from its `# TYPE` lines (so a family with no
/// sample yet counts): `_total` for counters, `_bucket`, `_sum`, `_count` for histograms.
pub fn exported_metric_names(openmetrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in openmetrics.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let Some((name, kind)) = rest.split_once(' ') else {
            continue;
        };
        match kind.trim() {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// The metrics the dashboard and alerts use that `exported` (from [`exported_metric_names`])
/// lacks.
pub fn check_against_exported(exported: &BTreeSet<String>) -> Problems {
    match referenced_metrics() {
        Ok(used) => used
            .into_iter()
            .filter(|(name, _)| !exported.contains(name))
            .map(|(name, at)| {
                format!(
                    "{name} is not exported by the nodes, but used by {}",
                    at.join(", ")
                )
            })
            .collect(),
        Err(e) => vec![e],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_from_promql_and_from_type_lines() {
        assert_eq!(
            metric_names(
                "sum by (grpc_code) (rate(grpc_server_handled_total{job=\"cplds\"}[5m])) / \
                 histogram_quantile(0.9, cplds_x_bucket)"
            ),
            ["cplds_x_bucket", "grpc_server_handled_total"]
                .map(str::to_owned)
                .into()
        );
        let text = "# HELP a_b x\n# TYPE a_b counter\na_b_total 1\n# TYPE h_seconds histogram\n\
                    # TYPE g gauge\n# EOF\n";
        assert_eq!(
            exported_metric_names(text),
            [
                "a_b_total",
                "h_seconds_bucket",
                "h_seconds_sum",
                "h_seconds_count",
                "g"
            ]
            .map(str::to_owned)
            .into()
        );
    }

    #[test]
    fn a_broken_alert_or_dashboard_is_caught() {
        let rules: Value = serde_json::json!({"groups": [{"name": "g", "rules": [
            {"alert": "lower_case", "expr": "", "for": "5 minutes", "labels": {"severity": "page"}}
        ]}]});
        let found = check_alerts("alerts", &rules).join("\n");
        for expected in [
            "CamelCase",
            "no expr",
            "invalid `for`",
            "severity",
            "summary",
        ] {
            assert!(found.contains(expected), "{expected}: {found}");
        }
        let dashboard: Value = serde_json::json!({"title": "t", "uid": "u", "schemaVersion": 39,
            "panels": [{"id": 1, "type": "timeseries", "title": "p", "targets": []},
                       {"id": 1, "type": "stat", "title": "q", "targets": [{"expr": "up"}]}]});
        let found = check_dashboard("dashboard", &dashboard).join("\n");
        assert!(found.contains("no query"), "{found}");
        assert!(found.contains("used twice"), "{found}");
    }
}
