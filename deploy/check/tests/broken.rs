//! The checks catch broken files: each test takes an in-memory copy of a real file, checks that
//! the copy is clean, breaks one thing, and expects the check to name it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_deploy_check::{
    Problems, compose, deploy_dir, k8s, load_yaml,
    node_config::{self, Role},
    otel, rabbitmq, secrets,
};
use serde_json::{Value, json};

fn expect(problems: &Problems, needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got:\n  {}",
        problems.join("\n  ")
    );
}

fn clean(what: &str, problems: Problems) {
    assert!(
        problems.is_empty(),
        "{what} should be clean before it is broken:\n  {}",
        problems.join("\n  ")
    );
}

fn set(v: &mut Value, pointer: &str, new: Value) {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the manifest")) = new;
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let removed = v
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "no {pointer} to remove");
}

// ---------------------------------------------------------------- Kubernetes

fn academy_manifests() -> Vec<k8s::Manifest> {
    let m = k8s::load_dir(&deploy_dir().join("k8s/academy")).unwrap();
    clean("k8s/academy", k8s::check_manifests(&m, Role::Academy));
    m
}

/// Breaks the manifest `kind/name` and returns what the check says.
fn break_manifest(kind: &str, name: &str, f: impl FnOnce(&mut Value)) -> Problems {
    let mut m = academy_manifests();
    let target = m
        .iter_mut()
        .find(|m| m.kind() == kind && m.name() == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"));
    f(&mut target.doc);
    k8s::check_manifests(&m, Role::Academy)
}

const CONTAINER: &str = "/spec/template/spec/containers/0";

#[test]
fn a_container_without_resources_is_caught() {
    let p = break_manifest("Deployment", "cplds-registration", |d| {
        remove(d, &format!("{CONTAINER}/resources"))
    });
    expect(&p, "\"resources\" is a required property");
}

#[test]
fn an_http_probe_is_caught() {
    let p = break_manifest("Deployment", "cplds-training", |d| {
        set(
            d,
            &format!("{CONTAINER}/livenessProbe"),
            json!({"httpGet": {"path": "/healthz", "port": 8080}}),
        )
    });
    expect(&p, "livenessProbe");
    expect(&p, "\"grpc\" is a required property");
}

#[test]
fn a_probe_without_port_is_caught() {
    let p = break_manifest("Deployment", "cplds-training", |d| {
        remove(d, &format!("{CONTAINER}/startupProbe/grpc/port"))
    });
    expect(&p, "\"port\" is a required property");
}

#[test]
fn a_probe_on_an_unknown_health_service_is_caught() {
    let p = break_manifest("Deployment", "cplds-examination", |d| {
        set(
            d,
            &format!("{CONTAINER}/readinessProbe/grpc/service"),
            json!("cplds.v1.ExamService"),
        )
    });
    expect(&p, "which no cplds server reports");
}

#[test]
fn a_probe_asking_another_service_is_caught() {
    let p = break_manifest("Deployment", "cplds-examination", |d| {
        set(
            d,
            &format!("{CONTAINER}/readinessProbe/grpc/service"),
            json!("cplds.v1.RegistrationService"),
        )
    });
    expect(&p, "but the process serves \"cplds.v1.ExaminationService\"");
}

#[test]
fn a_writable_root_filesystem_is_caught() {
    let p = break_manifest("Deployment", "cplds-reporting", |d| {
        set(
            d,
            &format!("{CONTAINER}/securityContext/readOnlyRootFilesystem"),
            json!(false),
        )
    });
    expect(&p, "readOnlyRootFilesystem");
}

#[test]
fn a_root_pod_is_caught() {
    let p = break_manifest("Deployment", "cplds-reporting", |d| {
        remove(d, "/spec/template/spec/securityContext")
    });
    expect(&p, "\"securityContext\" is a required property");
}

#[test]
fn a_grace_period_shorter_than_the_shutdown_is_caught() {
    let p = break_manifest("Deployment", "cplds-certification", |d| {
        set(
            d,
            "/spec/template/spec/terminationGracePeriodSeconds",
            json!(12),
        )
    });
    expect(&p, "terminationGracePeriodSeconds (12 s) must exceed");
}

#[test]
fn a_missing_secret_key_is_caught() {
    let p = break_manifest("Deployment", "cplds-registration", |d| {
        set(
            d,
            &format!("{CONTAINER}/env/0/valueFrom/secretKeyRef/key"),
            json!("database-url"),
        )
    });
    expect(&p, "Secret cplds-urls has no key database-url");
}

#[test]
fn a_key_file_nobody_mounts_is_caught() {
    // The pseudonymisation secret's volume disappears from registration.
    let p = break_manifest("Deployment", "cplds-registration", |d| {
        let mounts = d
            .pointer_mut(&format!("{CONTAINER}/volumeMounts"))
            .and_then(Value::as_array_mut)
            .unwrap();
        mounts.retain(|m| m["name"] != "pseudonym");
        let volumes = d
            .pointer_mut("/spec/template/spec/volumes")
            .and_then(Value::as_array_mut)
            .unwrap();
        volumes.retain(|v| v["name"] != "pseudonym");
    });
    expect(
        &p,
        "pseudonym.key (/pseudonym_secret_file) but no volume provides it",
    );
}

#[test]
fn document_keys_in_a_service_that_signs_nothing_are_caught() {
    let documents_mount = json!({"name": "documents-keys", "mountPath": "/etc/cplds/keys/documents", "readOnly": true});
    let documents_volume =
        json!({"name": "documents-keys", "secret": {"secretName": "cplds-documents"}});
    let p = break_manifest("Deployment", "cplds-registration", |d| {
        d.pointer_mut(&format!("{CONTAINER}/volumeMounts"))
            .and_then(Value::as_array_mut)
            .unwrap()
            .push(documents_mount);
        d.pointer_mut("/spec/template/spec/volumes")
            .and_then(Value::as_array_mut)
            .unwrap()
            .push(documents_volume);
    });
    expect(&p, "mounted in a process that signs nothing");
}

#[test]
fn a_configmap_without_tls_is_caught() {
    let p = break_manifest("ConfigMap", "cplds-node-config", |d| {
        let toml = d["data"]["node.toml"]
            .as_str()
            .unwrap()
            .replace("[tls]", "");
        set(d, "/data/node.toml", json!(toml));
    });
    expect(&p, "the key `tls` is missing");
}

#[test]
fn a_misspelt_configuration_key_is_caught() {
    let p = break_manifest("ConfigMap", "cplds-node-config", |d| {
        let toml = d["data"]["node.toml"]
            .as_str()
            .unwrap()
            .replace("shutdown_grace_ms", "shutdown_grace");
        set(d, "/data/node.toml", json!(toml));
    });
    expect(
        &p,
        "Additional properties are not allowed ('shutdown_grace' was unexpected)",
    );
}

#[test]
fn credentials_in_the_configmap_are_caught() {
    let p = break_manifest("ConfigMap", "cplds-node-config", |d| {
        let toml = d["data"]["node.toml"]
            .as_str()
            .unwrap()
            .replace("amqps://cplds@", "amqps://cplds:hunter2@");
        set(d, "/data/node.toml", json!(toml));
    });
    expect(&p, "`amqp_url` holds a password");
}

#[test]
fn a_secret_holding_a_real_private_key_is_caught() {
    // Built at run time so that no file of deploy/ contains a key-shaped text.
    let fake_key = format!(
        "-----BEGIN {}-----\n{}\n-----END PRIVATE KEY-----\n",
        "PRIVATE KEY", "MC4CAQAwBQYDK2VwBCIEIAbcdefghijklmnopqrstuvwxyz0123456789ABCDEF"
    );
    assert!(secrets::holds_private_key(&fake_key));
    let p = break_manifest("Secret", "cplds-documents", |d| {
        set(d, "/stringData/documents-2026.pem", json!(fake_key))
    });
    expect(&p, "looks like a real private key");
    expect(&p, "not marked as a placeholder");
}

#[test]
fn a_secret_value_without_placeholder_marker_is_caught() {
    let p = break_manifest("Secret", "cplds-pseudonym", |d| {
        set(
            d,
            "/stringData/pseudonym.key",
            json!("4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"),
        )
    });
    expect(&p, "not marked as a placeholder");
    expect(&p, "long encoded string");
}

#[test]
fn a_service_selecting_nothing_is_caught() {
    let p = break_manifest("Service", "cplds-training", |d| {
        set(
            d,
            "/spec/selector/app.kubernetes.io~1component",
            json!("trainig"),
        )
    });
    expect(&p, "selects no Deployment's pods");
    expect(&p, "no Service selects its pods");
}

#[test]
fn an_ingress_route_to_the_wrong_pods_is_caught() {
    let p = break_manifest("Ingress", "cplds", |d| {
        set(
            d,
            "/spec/rules/0/http/paths/0/backend/service/name",
            json!("cplds-certification"),
        )
    });
    expect(
        &p,
        "/cplds.v1.RegistrationService/ is routed to cplds-certification",
    );
}

#[test]
fn public_pages_routed_where_nothing_listens_are_caught() {
    let p = break_manifest("Deployment", "cplds-certification", |d| {
        set(
            d,
            "/spec/template/spec/containers/0/env/2/value",
            json!("0.0.0.0:9090"),
        )
    });
    expect(&p, "/verify goes to port 8080 of");
    let p = break_manifest("Ingress", "cplds-verify", |d| {
        set(
            d,
            "/spec/rules/0/http/paths/0/backend/service/name",
            json!("cplds-registration"),
        )
    });
    expect(&p, "Service cplds-registration has no port http");
}

#[test]
fn a_pod_disruption_budget_blocking_drains_is_caught() {
    let p = break_manifest("PodDisruptionBudget", "cplds-reporting", |d| {
        set(d, "/spec/minAvailable", json!(2))
    });
    expect(&p, "would block every node drain");
}

#[test]
fn a_kustomization_naming_a_missing_file_is_caught() {
    let dir = deploy_dir().join("k8s/academy");
    let mut k = load_yaml(&dir.join("kustomization.yaml")).unwrap();
    clean(
        "k8s/academy/kustomization.yaml",
        k8s::check_kustomization_value("kustomization", &k, &dir),
    );
    k["resources"]
        .as_array_mut()
        .unwrap()
        .push(json!("grading.yaml"));
    let p = k8s::check_kustomization_value("kustomization", &k, &dir);
    expect(&p, "resource grading.yaml does not exist");

    let mut k = load_yaml(&dir.join("kustomization.yaml")).unwrap();
    k["resources"]
        .as_array_mut()
        .unwrap()
        .push(json!("secrets.example.yaml"));
    let p = k8s::check_kustomization_value("kustomization", &k, &dir);
    expect(&p, "would overwrite the real Secrets with placeholders");
}

// ---------------------------------------------------------------- Compose

fn academy_compose() -> (Value, std::path::PathBuf) {
    let dir = deploy_dir().join("compose");
    let c = load_yaml(&dir.join("academy.compose.yaml")).unwrap();
    clean("academy.compose.yaml", compose::check("compose", &c, &dir));
    (c, dir)
}

#[test]
fn a_compose_service_without_healthcheck_is_caught() {
    let (mut c, dir) = academy_compose();
    remove(&mut c, "/services/postgres/healthcheck");
    let p = compose::check("compose", &c, &dir);
    expect(&p, "services/postgres");
    expect(
        &p,
        "waits for postgres to be healthy, but postgres has no healthcheck",
    );
}

#[test]
fn a_compose_node_without_command_is_caught() {
    let (mut c, dir) = academy_compose();
    remove(&mut c, "/services/cplds/command");
    let p = compose::check("compose", &c, &dir);
    expect(&p, "\"command\" is a required property");
}

#[test]
fn a_compose_secret_that_is_not_defined_is_caught() {
    let (mut c, dir) = academy_compose();
    c["services"]["cplds"]["secrets"]
        .as_array_mut()
        .unwrap()
        .push(json!("documents_previous_key"));
    let p = compose::check("compose", &c, &dir);
    expect(
        &p,
        "secrets documents_previous_key is not defined at the top level",
    );
}

#[test]
fn a_compose_key_file_not_given_to_the_node_is_caught() {
    let (mut c, dir) = academy_compose();
    c["services"]["cplds"]["secrets"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s.get("source") != Some(&json!("pseudonym_secret")));
    let p = compose::check("compose", &c, &dir);
    expect(
        &p,
        "the configuration names /etc/cplds/secrets/pseudonym.key (/pseudonym_secret_file), which no secret provides",
    );
}

#[test]
fn a_short_compose_stop_grace_period_is_caught() {
    let (mut c, dir) = academy_compose();
    set(&mut c, "/services/cplds/stop_grace_period", json!("5s"));
    let p = compose::check("compose", &c, &dir);
    expect(&p, "stop_grace_period (5000 ms) must exceed");
}

#[test]
fn a_compose_healthcheck_without_tls_is_caught() {
    let (mut c, dir) = academy_compose();
    c["services"]["cplds"]["healthcheck"]["test"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a != "-tls");
    let p = compose::check("compose", &c, &dir);
    expect(&p, "the healthcheck needs -tls");
}

#[test]
fn a_missing_compose_config_file_is_caught() {
    let (mut c, dir) = academy_compose();
    set(
        &mut c,
        "/configs/node_config/file",
        json!("./config/toulouse-node.toml"),
    );
    let p = compose::check("compose", &c, &dir);
    expect(
        &p,
        "config node_config is ./config/toulouse-node.toml, which does not exist",
    );
}

#[test]
fn an_undocumented_compose_secret_is_caught() {
    let (mut c, dir) = academy_compose();
    set(
        &mut c,
        "/secrets/pseudonym_secret/file",
        json!("./secrets/pseudo.key"),
    );
    let p = compose::check("compose", &c, &dir);
    expect(&p, "not documented in secrets/README.md");
}

#[test]
fn a_compose_variable_missing_from_the_env_example_is_caught() {
    let dir = deploy_dir().join("compose");
    let text = std::fs::read_to_string(dir.join("academy.compose.yaml")).unwrap();
    let env = std::fs::read_to_string(dir.join("academy.env.example")).unwrap();
    clean(
        "academy env",
        compose::check_env_example("env", &text, &env),
    );
    let broken: String = env
        .lines()
        .filter(|l| !l.starts_with("NODE_HOSTNAME="))
        .map(|l| format!("{l}\n"))
        .collect();
    expect(
        &compose::check_env_example("env", &text, &broken),
        "needs NODE_HOSTNAME, which the env example does not set",
    );
}

#[test]
fn a_dockerfile_copying_a_missing_file_is_caught() {
    let docker = deploy_dir().join("docker");
    let text = std::fs::read_to_string(docker.join("Dockerfile")).unwrap();
    let ignore = std::fs::read_to_string(docker.join("Dockerfile.dockerignore")).unwrap();
    clean("Dockerfile", compose::check_dockerfile_text(&text, &ignore));
    let broken = text.replace(
        "deploy/docker/cplds-entrypoint.sh",
        "deploy/docker/entrypoint.sh",
    );
    expect(
        &compose::check_dockerfile_text(&broken, &ignore),
        "COPY deploy/docker/entrypoint.sh: no such file",
    );
    let root = text.replace("USER 10001:10001", "USER root");
    expect(
        &compose::check_dockerfile_text(&root, &ignore),
        "non-root USER",
    );
}

// ---------------------------------------------------------------- RabbitMQ

fn academy_broker() -> rabbitmq::Broker {
    let layout = rabbitmq::local_test_layout().unwrap();
    let b = layout.into_iter().find(|b| b.vhost == "t_a").unwrap();
    clean("t_a", rabbitmq::check_broker("t_a", &b));
    b
}

fn production_academy_broker() -> rabbitmq::Broker {
    let layout = rabbitmq::production_layout().unwrap();
    let b = layout.into_iter().find(|b| b.vhost == "toulouse").unwrap();
    clean("toulouse", rabbitmq::check_broker("toulouse", &b));
    assert!(b.files[0].0.starts_with("00-user-"), "{}", b.files[0].0);
    b
}

fn national_broker() -> rabbitmq::Broker {
    let layout = rabbitmq::production_layout().unwrap();
    let b = layout.into_iter().find(|b| b.vhost == "national").unwrap();
    clean("national", rabbitmq::check_broker("national", &b));
    b
}

/// The broker's own file (`10-academy.json` or `10-national.json`).
fn main_file(b: &mut rabbitmq::Broker) -> &mut Value {
    &mut b
        .files
        .iter_mut()
        .find(|(f, _)| f.starts_with("10-"))
        .expect("a 10- file")
        .1
}

#[test]
fn a_missing_exchange_is_caught() {
    let mut b = academy_broker();
    b.files[0].1["exchanges"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x["name"] != "cplds.control");
    expect(&rabbitmq::check_broker("t_a", &b), "exchanges");
}

#[test]
fn an_exchange_with_other_arguments_is_caught() {
    let mut b = academy_broker();
    set(
        &mut b.files[0].1,
        "/exchanges/1/arguments",
        json!({"alternate-exchange": "x"}),
    );
    expect(&rabbitmq::check_broker("t_a", &b), "/exchanges/1/arguments");
}

#[test]
fn a_policy_pattern_that_is_not_exact_is_caught() {
    let mut b = national_broker();
    set(
        main_file(&mut b),
        "/policies/0/pattern",
        json!("^cplds\\.national"),
    );
    expect(&rabbitmq::check_broker("national", &b), "/policies/0");
}

#[test]
fn federating_the_internal_stream_is_caught() {
    let mut b = national_broker();
    set(
        main_file(&mut b),
        "/policies/0/pattern",
        json!("^cplds\\.(national|events)$"),
    );
    expect(&rabbitmq::check_broker("national", &b), "/policies/0");
}

#[test]
fn a_federation_user_able_to_read_the_internal_stream_is_caught() {
    let mut b = production_academy_broker();
    set(main_file(&mut b), "/permissions/0/read", json!(".*"));
    let p = rabbitmq::check_broker("toulouse", &b);
    expect(&p, "federation-national: may read cplds.events");
}

#[test]
fn a_federation_user_able_to_write_an_exchange_is_caught() {
    let mut b = national_broker();
    let link = b
        .files
        .iter_mut()
        .find(|(f, _)| f == "30-downstream-toulouse.json")
        .unwrap();
    set(
        &mut link.1,
        "/permissions/0/write",
        json!("^(federation: |cplds\\.)"),
    );
    let p = rabbitmq::check_broker("national", &b);
    expect(&p, "federation-toulouse: may write cplds.control");
}

#[test]
fn two_entries_for_one_user_are_caught() {
    let mut b = production_academy_broker();
    let entry = main_file(&mut b)["permissions"][1].clone();
    main_file(&mut b)["permissions"][2] = entry;
    let p = rabbitmq::check_broker("toulouse", &b);
    expect(
        &p,
        "cplds-registration has 2 permission entries; one survives",
    );
    expect(&p, "cplds-training has no permission entry");
}

#[test]
fn a_service_able_to_publish_another_services_events_is_caught() {
    let mut b = academy_broker();
    // Registration's topic permission on cplds.events.
    set(main_file(&mut b), "/topic_permissions/1/write", json!(".*"));
    let p = rabbitmq::check_broker("t_a", &b);
    expect(
        &p,
        "t_app-registration: may publish t_a.examination.some_event on cplds.events",
    );
}

/// The topic permission of `user` on `exchange` in the académie's definitions.
fn topic_permission<'a>(b: &'a mut rabbitmq::Broker, user: &str, exchange: &str) -> &'a mut Value {
    main_file(b)["topic_permissions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["user"] == user && t["exchange"] == exchange)
        .unwrap()
}

#[test]
fn a_figures_service_reading_another_academys_stream_is_caught() {
    let mut b = academy_broker();
    topic_permission(&mut b, "t_app-figures", "cplds.national")["read"] = json!(".*");
    let p = rabbitmq::check_broker("t_a", &b);
    expect(&p, "t_app-figures: may bind lyon.# on cplds.national");
}

#[test]
fn a_service_asking_replays_it_does_not_need_is_caught() {
    let mut b = academy_broker();
    topic_permission(&mut b, "t_app-reporting", "cplds.control")["write"] = json!(".*");
    topic_permission(&mut b, "t_app-figures", "cplds.control")["write"] = json!(".*");
    let p = rabbitmq::check_broker("t_a", &b);
    expect(
        &p,
        "t_app-reporting: may publish t_a.national.replay_requested",
    );
    expect(
        &p,
        "t_app-figures: may publish lyon.national.replay_requested",
    );
}

#[test]
fn a_service_without_topic_permissions_on_an_exchange_is_caught() {
    let mut b = academy_broker();
    main_file(&mut b)["topic_permissions"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    let p = rabbitmq::check_broker("t_a", &b);
    expect(
        &p,
        "t_app-registration: 0 topic permissions on cplds.national",
    );
}

#[test]
fn a_regional_link_reading_another_academys_records_is_caught() {
    let mut b = academy_broker();
    let link = b
        .files
        .iter_mut()
        .find(|(f, _)| f == "30-downstream-t_b.json")
        .unwrap();
    set(&mut link.1, "/topic_permissions/0/read", json!(".*"));
    let p = rabbitmq::check_broker("t_a", &b);
    expect(
        &p,
        "t_fed-t_b: may bind *.training.training_record_forwarded.lyon on cplds.regional",
    );
}

#[test]
fn a_predeclared_queue_is_caught() {
    let mut b = academy_broker();
    b.files[0].1["queues"] = json!([{"name": "t_a.examination", "vhost": "t_a", "durable": true, "auto_delete": false, "arguments": {}}]);
    expect(&rabbitmq::check_broker("t_a", &b), "/queues");
}

#[test]
fn a_regional_set_naming_an_unknown_upstream_is_caught() {
    let mut b = academy_broker();
    b.files.truncate(1); // the t_b upstream file is lost
    let p = rabbitmq::check_broker("t_a", &b);
    expect(&p, "the regional set names t_b, which has no upstream file");
}

#[test]
fn an_upstream_that_may_lose_messages_is_caught() {
    let mut b = academy_broker();
    set(
        &mut b.files[1].1,
        "/parameters/0/value/ack-mode",
        json!("no-ack"),
    );
    expect(&rabbitmq::check_broker("t_a", &b), "ack-mode");
}

#[test]
fn an_unrendered_placeholder_is_refused() {
    let err = rabbitmq::render(
        "{\"vhost\": \"${VHOST}\", \"user\": \"${APP_USER}\"}",
        &[("VHOST", "t_a")],
    )
    .unwrap_err();
    assert!(err.contains("APP_USER"), "{err}");
}

#[test]
fn a_plain_listener_on_every_interface_is_caught() {
    let text = std::fs::read_to_string(deploy_dir().join("rabbitmq/rabbitmq.conf")).unwrap();
    clean(
        "rabbitmq.conf",
        rabbitmq::check_conf_text("rabbitmq.conf", &text),
    );
    let broken = text.replace(
        "listeners.tcp.default = 127.0.0.1:5672",
        "listeners.tcp.default = 5672",
    );
    assert_ne!(broken, text);
    expect(
        &rabbitmq::check_conf_text("rabbitmq.conf", &broken),
        "plain (non-TLS) listeners stay on loopback",
    );
    let broken = text.replace("listeners.ssl.default = 5671", "");
    expect(
        &rabbitmq::check_conf_text("rabbitmq.conf", &broken),
        "listeners.ssl.default is not set",
    );
}

// ---------------------------------------------------------------- OpenTelemetry, node config

fn collector() -> Value {
    let c = load_yaml(&deploy_dir().join("otel/collector.yaml")).unwrap();
    clean("collector.yaml", otel::check("collector", &c));
    c
}

#[test]
fn a_pipeline_naming_an_undefined_exporter_is_caught() {
    let mut c = collector();
    c["service"]["pipelines"]["traces"]["exporters"]
        .as_array_mut()
        .unwrap()
        .push(json!("otlphttp"));
    expect(
        &otel::check("collector", &c),
        "pipeline traces uses exporters `otlphttp`, which is not defined",
    );
}

#[test]
fn a_pipeline_without_memory_limiter_first_is_caught() {
    let mut c = collector();
    c["service"]["pipelines"]["traces"]["processors"]
        .as_array_mut()
        .unwrap()
        .reverse();
    expect(
        &otel::check("collector", &c),
        "must start with the memory_limiter",
    );
}

#[test]
fn a_collector_without_otlp_grpc_receiver_is_caught() {
    let mut c = collector();
    set(
        &mut c,
        "/receivers/otlp/protocols/grpc/endpoint",
        json!("0.0.0.0:4318"),
    );
    expect(
        &otel::check("collector", &c),
        "/receivers/otlp/protocols/grpc/endpoint",
    );
}

#[test]
fn a_national_node_configured_as_an_academy_is_caught() {
    let text =
        std::fs::read_to_string(deploy_dir().join("compose/config/national-node.toml")).unwrap();
    clean(
        "national-node.toml",
        node_config::check("national", &text, Role::National),
    );
    let broken = text.replace("academy = \"national\"", "academy = \"toulouse\"");
    expect(
        &node_config::check("national", &broken, Role::National),
        "the national node's `academy` must be \"national\"",
    );
}

#[test]
fn an_academy_node_left_to_generate_its_keys_is_caught() {
    let text =
        std::fs::read_to_string(deploy_dir().join("compose/config/academy-node.toml")).unwrap();
    clean(
        "academy-node.toml",
        node_config::check("academy", &text, Role::Academy),
    );
    let broken: String = text
        .lines()
        .filter(|l| !l.starts_with("pseudonym_secret_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    expect(
        &node_config::check("academy", &broken, Role::Academy),
        "`pseudonym_secret_file` must be set",
    );
}
