//! The deployment material of `deploy/` as it is: every check finds nothing wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_deploy_check::{
    Problems, check_every_file_parses, compose, k8s, monitoring, node_config, otel, rabbitmq,
    schema::Schemas, secrets,
};

fn assert_clean(what: &str, problems: Problems) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn the_schemas_are_valid_json_schemas() {
    let schemas = Schemas::load().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = schemas.names().collect();
    for needed in [
        "k8s-deployment",
        "k8s-service",
        "k8s-configmap",
        "k8s-secret",
        "k8s-pdb",
        "k8s-kustomization",
        "compose",
        "rabbitmq-academy",
        "rabbitmq-national",
        "otel-collector",
        "node-config",
    ] {
        assert!(names.contains(&needed), "no schema {needed} in {names:?}");
    }
}

#[test]
fn every_file_of_deploy_is_known_and_parses() {
    assert_clean("deploy/", check_every_file_parses());
}

#[test]
fn kubernetes_manifests_match_their_schemas_and_each_other() {
    assert_clean("deploy/k8s", k8s::check_all());
}

#[test]
fn compose_files_match_their_schema_and_what_they_reference() {
    assert_clean("deploy/compose", compose::check_all());
}

#[test]
fn node_configurations_have_the_keys_that_matter() {
    assert_clean("node configurations", node_config::check_files());
}

#[test]
fn rabbitmq_templates_render_to_valid_definitions() {
    assert_clean("deploy/rabbitmq templates", rabbitmq::check_templates());
}

#[test]
fn render_sh_renders_as_documented() {
    assert_clean("deploy/rabbitmq/render.sh", rabbitmq::check_render_sh());
}

#[test]
fn rabbitmq_conf_and_plugins_are_fit_for_production() {
    assert_clean("deploy/rabbitmq configuration", rabbitmq::check_conf());
}

#[test]
fn otel_collector_pipelines_reference_defined_components() {
    assert_clean("deploy/otel", otel::check_file());
}

#[test]
fn the_dashboard_and_alert_rules_hold_what_grafana_and_prometheus_need() {
    assert_clean("deploy/monitoring", monitoring::check_files());
}

#[test]
fn no_private_key_anywhere_in_deploy() {
    assert_clean("deploy/", secrets::scan_for_private_keys());
}

#[test]
fn compose_variables_are_all_in_the_env_examples() {
    assert_clean("deploy/compose env examples", compose::check_env_examples());
}

#[test]
fn the_dockerfile_copies_files_that_exist() {
    assert_clean("deploy/docker", compose::check_dockerfile());
}
