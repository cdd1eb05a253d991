//! Docker Compose: each file against the schema, then what it references: configs and bind
//! mounts that exist in `deploy/`, secrets that are files under `./secrets/` documented in
//! `secrets/README.md`, every file the node's configuration names given to the node as a
//! secret, healthchecks that ask the right port with TLS when the node serves TLS, a stop
//! grace period above `server.shutdown_grace_ms`, and a broker whose TLS files and definitions
//! are where `rabbitmq.conf` says.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde_json::Value;

use crate::{
    Problems, arr_at, deploy_dir, duration_ms, load_yaml, node_config, otel, rabbitmq, read, rel,
    schema::Schemas, str_at,
};

/// A secret or config given to a service: (name, path in the container).
fn grants(service: &Value, section: &str, default_dir: &str) -> Vec<(String, String)> {
    arr_at(service, &format!("/{section}"))
        .iter()
        .filter_map(|g| match g {
            Value::String(name) => Some((name.clone(), format!("{default_dir}/{name}"))),
            Value::Object(_) => {
                let source = str_at(g, "/source")?.to_owned();
                let target = match str_at(g, "/target") {
                    Some(t) if t.starts_with('/') => t.to_owned(),
                    Some(t) => format!("{default_dir}/{t}"),
                    None => format!("{default_dir}/{source}"),
                };
                Some((source, target))
            }
            _ => None,
        })
        .collect()
}

/// `source:target[:mode]` volume entries whose source is a path (bind mounts).
fn bind_mounts(service: &Value) -> Vec<(String, String)> {
    arr_at(service, "/volumes")
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|v| {
            let mut parts = v.split(':');
            let (source, target) = (parts.next()?, parts.next()?);
            (source.starts_with('.') || source.starts_with('/'))
                .then(|| (source.to_owned(), target.to_owned()))
        })
        .collect()
}

/// Named-volume entries: (volume, target).
fn named_volumes(service: &Value) -> Vec<(String, String)> {
    arr_at(service, "/volumes")
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|v| {
            let mut parts = v.split(':');
            let (source, target) = (parts.next()?, parts.next()?);
            (!source.starts_with('.') && !source.starts_with('/'))
                .then(|| (source.to_owned(), target.to_owned()))
        })
        .collect()
}

fn command(service: &Value) -> Vec<String> {
    match service.get("command") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn env<'a>(service: &'a Value, name: &str) -> Option<&'a str> {
    service
        .pointer(&format!("/environment/{name}"))
        .and_then(Value::as_str)
}

/// Checks a compose file (already parsed); `dir` is where it lives (relative paths start there).
pub fn check(what: &str, compose: &Value, dir: &Path) -> Problems {
    let mut problems = Schemas::get().check("compose", what, compose);
    let services = compose
        .get("services")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let top = |section: &str| -> BTreeMap<String, String> {
        compose
            .get(section)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), str_at(v, "/file").unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (configs, secrets) = (top("configs"), top("secrets"));
    let volumes: BTreeSet<String> = compose
        .get("volumes")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();

    // Files that must exist (configs), secrets that must be documented and not be here.
    for (name, file) in &configs {
        if !dir.join(file).is_file() {
            problems.push(format!(
                "{what}: config {name} is {file}, which does not exist"
            ));
        }
    }
    let secrets_readme = read(&dir.join("secrets/README.md")).unwrap_or_default();
    for (name, file) in &secrets {
        match file.strip_prefix("./secrets/") {
            Some(f) => {
                if !secrets_readme.contains(&format!("`{f}`")) {
                    problems.push(format!(
                        "{what}: secret {name} ({file}) is not documented in secrets/README.md"
                    ));
                }
            }
            None => problems.push(format!(
                "{what}: secret {name} must be a file under ./secrets/ (kept out of version control)"
            )),
        }
    }

    let mut used_secrets = BTreeSet::new();
    for (name, service) in &services {
        let label = format!("{what} service {name}");
        for (section, defined) in [("secrets", &secrets), ("configs", &configs)] {
            for (grant, _) in grants(service, section, "/run/secrets") {
                if !defined.contains_key(&grant) {
                    problems.push(format!(
                        "{label}: {section} {grant} is not defined at the top level"
                    ));
                }
                if section == "secrets" {
                    used_secrets.insert(grant);
                }
            }
        }
        for (source, _) in bind_mounts(service) {
            if !dir.join(&source).exists() {
                problems.push(format!(
                    "{label}: bind-mounts {source}, which does not exist"
                ));
            }
        }
        for (volume, _) in named_volumes(service) {
            if !volumes.contains(&volume) {
                problems.push(format!("{label}: volume {volume} is not declared"));
            }
        }
        if let Some(deps) = service.get("depends_on").and_then(Value::as_object) {
            for (dep, spec) in deps {
                let Some(target) = services.get(dep) else {
                    problems.push(format!("{label}: depends on {dep}, which is not a service"));
                    continue;
                };
                match str_at(spec, "/condition") {
                    Some("service_healthy") if target.get("healthcheck").is_none() => problems
                        .push(format!(
                            "{label}: waits for {dep} to be healthy, but {dep} has no healthcheck"
                        )),
                    Some("service_completed_successfully")
                        if str_at(target, "/restart") != Some("no") =>
                    {
                        problems.push(format!(
                            "{label}: waits for {dep} to complete, but {dep} restarts"
                        ))
                    }
                    _ => {}
                }
            }
        }
        // `FILE__X=/run/secrets/...`: the entrypoint reads a secret given to this service.
        if let Some(envs) = service.get("environment").and_then(Value::as_object) {
            let targets: BTreeSet<String> = grants(service, "secrets", "/run/secrets")
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            for (k, v) in envs {
                let is_file_ref = k.starts_with("FILE__") || k.ends_with("_FILE");
                if is_file_ref
                    && let Some(path) = v.as_str()
                    && path.starts_with("/run/secrets/")
                    && !targets.contains(path)
                {
                    problems.push(format!(
                        "{label}: {k} reads {path}, a secret the service is not given"
                    ));
                }
            }
        }
    }
    for name in secrets.keys() {
        if !used_secrets.contains(name) {
            problems.push(format!("{what}: secret {name} is given to no service"));
        }
    }

    let nodes: Vec<(&String, &Value)> = services
        .iter()
        .filter(|(_, s)| str_at(s, "/image").is_some_and(|i| i.contains("CPLDS_IMAGE")))
        .collect();
    if nodes.len() != 1 {
        problems.push(format!(
            "{what}: expected one cplds service, found {}",
            nodes.len()
        ));
    }
    let mut node_kind = None;
    for (name, node) in nodes {
        let (p, kind) = check_node(&format!("{what} service {name}"), node, &configs, dir);
        problems.extend(p);
        node_kind = kind;
    }
    for (name, service) in &services {
        let label = format!("{what} service {name}");
        if str_at(service, "/image").is_some_and(|i| i.starts_with("rabbitmq:")) {
            problems.extend(check_broker(&label, service, &services));
        }
        if command(service).iter().any(|c| c.contains("render.sh")) {
            problems.extend(check_definitions_job(&label, service, node_kind));
        }
        if str_at(service, "/image").is_some_and(|i| i.contains("opentelemetry-collector")) {
            problems.extend(check_collector(&label, service, &configs, dir));
        }
    }
    problems
}

/// The cplds service: its configuration, the files it names, the healthcheck, the grace period.
/// Returns which node it runs (`node` or `national`).
fn check_node(
    label: &str,
    node: &Value,
    configs: &BTreeMap<String, String>,
    dir: &Path,
) -> (Problems, Option<rabbitmq::BrokerKind>) {
    let mut problems = Problems::new();
    let cmd = command(node);
    let (role, kind) = match cmd.first().map(String::as_str) {
        Some("node") => (
            node_config::Role::Academy,
            Some(rabbitmq::BrokerKind::Academy),
        ),
        Some("national") => (
            node_config::Role::National,
            Some(rabbitmq::BrokerKind::National),
        ),
        other => {
            problems.push(format!(
                "{label}: runs {other:?}; expected `node` or `national`"
            ));
            return (problems, None);
        }
    };
    if role == node_config::Role::Academy && !cmd.iter().any(|c| c == "--academy") {
        problems.push(format!("{label}: `node` without --academy"));
    }
    let secret_targets: BTreeSet<String> = grants(node, "secrets", "/run/secrets")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    for var in ["FILE__CPLDS_DATABASE_URL", "FILE__CPLDS_AMQP_URL"] {
        if env(node, var).is_none() {
            problems.push(format!(
                "{label}: {var} is not set: the configuration's URL has no credentials"
            ));
        }
    }
    // Every service of an académie on the broker as its own user (deploy/rabbitmq: each may
    // publish only its own routing keys).
    if role == node_config::Role::Academy {
        for (service, _) in crate::rabbitmq_permissions::SERVICES {
            let var = format!("FILE__CPLDS_AMQP_SERVICE_URLS__{}", service.to_uppercase());
            if env(node, &var).is_none() {
                problems.push(format!(
                    "{label}: {var} is not set: {service} would use the node's broker user"
                ));
            }
        }
    }
    let config_path = cmd
        .iter()
        .position(|c| c == "--config")
        .and_then(|i| cmd.get(i + 1));
    let Some(config_path) = config_path else {
        problems.push(format!("{label}: no --config"));
        return (problems, kind);
    };
    let Some((config_name, _)) = grants(node, "configs", "")
        .into_iter()
        .find(|(_, t)| t == config_path)
    else {
        problems.push(format!(
            "{label}: --config {config_path} is no config given to the service"
        ));
        return (problems, kind);
    };
    let Some(file) = configs.get(&config_name) else {
        return (problems, kind);
    };
    let path = dir.join(file);
    let text = match read(&path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(e);
            return (problems, kind);
        }
    };
    problems.extend(node_config::check(&rel(&path), &text, role));
    let Ok(config) = node_config::parse(&text) else {
        return (problems, kind);
    };
    for (key, file) in node_config::file_paths(&config) {
        if !secret_targets.contains(&file) {
            problems.push(format!(
                "{label}: the configuration names {file} ({key}), which no secret provides"
            ));
        }
    }
    // Healthcheck: grpc_health_probe on the node's port, with TLS when the node serves TLS.
    let test: Vec<&str> = arr_at(node, "/healthcheck/test")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !test.contains(&"grpc_health_probe") {
        problems.push(format!(
            "{label}: the healthcheck must call grpc_health_probe"
        ));
    }
    let port = node_config::listen_port(&config);
    if !test
        .iter()
        .any(|a| a.starts_with("-addr=") && a.ends_with(&format!(":{port}")))
    {
        problems.push(format!(
            "{label}: the healthcheck must probe the node's port {port}"
        ));
    }
    if let Some(service) = test.iter().find_map(|a| a.strip_prefix("-service="))
        && !crate::HEALTH_SERVICES.contains(&service)
    {
        problems.push(format!(
            "{label}: the healthcheck asks for {service:?}, which no cplds server reports"
        ));
    }
    if str_at(&config, "/tls/cert_file").is_some() {
        if !test.contains(&"-tls") {
            problems.push(format!(
                "{label}: the node serves TLS: the healthcheck needs -tls"
            ));
        }
        match test.iter().find_map(|a| a.strip_prefix("-tls-ca-cert=")) {
            Some(ca) if secret_targets.contains(ca) => {}
            Some(ca) => problems.push(format!(
                "{label}: the healthcheck's CA {ca} is no secret of the service"
            )),
            None => problems.push(format!("{label}: the healthcheck needs -tls-ca-cert")),
        }
        if str_at(&config, "/tls/client_ca_file").is_some()
            && !test.iter().any(|a| a.starts_with("-tls-client-cert="))
        {
            problems.push(format!(
                "{label}: mutual TLS: the healthcheck needs a client certificate"
            ));
        }
    }
    let grace = str_at(node, "/stop_grace_period")
        .and_then(duration_ms)
        .unwrap_or(10_000);
    let shutdown = node_config::shutdown_grace_ms(&config);
    if grace <= shutdown {
        problems.push(format!(
            "{label}: stop_grace_period ({grace} ms) must exceed server.shutdown_grace_ms ({shutdown} ms)"
        ));
    }
    (problems, kind)
}

/// The broker: `rabbitmq.conf` and `enabled_plugins` from deploy/rabbitmq, TLS files where the
/// configuration expects them, definitions where it imports them from.
fn check_broker(
    label: &str,
    broker: &Value,
    services: &serde_json::Map<String, Value>,
) -> Problems {
    let mut problems = Problems::new();
    let mounts = bind_mounts(broker);
    let mounted = |source_suffix: &str| mounts.iter().find(|(s, _)| s.ends_with(source_suffix));
    match mounted("rabbitmq/rabbitmq.conf") {
        Some((_, target)) if target.starts_with("/etc/rabbitmq/conf.d/") => {}
        Some((_, target)) => problems.push(format!(
            "{label}: rabbitmq.conf goes to {target}; in conf.d/ after the image's defaults it overrides them"
        )),
        None => problems.push(format!("{label}: does not mount deploy/rabbitmq/rabbitmq.conf")),
    }
    if mounted("rabbitmq/enabled_plugins").map(|(_, t)| t.as_str())
        != Some("/etc/rabbitmq/enabled_plugins")
    {
        problems.push(format!("{label}: does not mount deploy/rabbitmq/enabled_plugins at /etc/rabbitmq/enabled_plugins"));
    }
    let targets: BTreeSet<String> = grants(broker, "secrets", "/run/secrets")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    for key in [
        "ssl_options.cacertfile",
        "ssl_options.certfile",
        "ssl_options.keyfile",
    ] {
        match rabbitmq::conf_value(key) {
            Some(path) if targets.contains(&path) => {}
            Some(path) => problems.push(format!(
                "{label}: rabbitmq.conf's {key} is {path}, which no secret provides"
            )),
            None => problems.push(format!("{label}: rabbitmq.conf sets no {key}")),
        }
    }
    // The definitions directory is a volume the rendering job writes.
    let defs = rabbitmq::conf_value("definitions.local.path").unwrap_or_default();
    match named_volumes(broker).into_iter().find(|(_, t)| *t == defs) {
        None => problems.push(format!(
            "{label}: nothing is mounted at {defs} (definitions.local.path)"
        )),
        Some((volume, _)) => {
            let written = services.values().any(|s| {
                command(s).iter().any(|c| c.contains("render.sh"))
                    && named_volumes(s).iter().any(|(v, _)| *v == volume)
            });
            if !written {
                problems.push(format!(
                    "{label}: no render.sh job writes the definitions volume {volume}"
                ));
            }
        }
    }
    problems
}

/// The job rendering the definitions: render.sh of the right kind, with every input.
fn check_definitions_job(label: &str, job: &Value, node: Option<rabbitmq::BrokerKind>) -> Problems {
    let mut problems = Problems::new();
    let cmd = command(job).join(" ");
    let kind = if cmd.contains("render.sh academy") {
        rabbitmq::BrokerKind::Academy
    } else if cmd.contains("render.sh national") {
        rabbitmq::BrokerKind::National
    } else {
        return vec![format!(
            "{label}: render.sh must be given `academy` or `national`"
        )];
    };
    if node.is_some_and(|n| n != kind) {
        problems.push(format!(
            "{label}: renders {kind:?} definitions for a {node:?} node"
        ));
    }
    if !bind_mounts(job)
        .iter()
        .any(|(s, t)| s.ends_with("rabbitmq") && cmd.contains(&format!("{t}/render.sh")))
    {
        problems.push(format!(
            "{label}: render.sh does not come from the mounted deploy/rabbitmq"
        ));
    }
    // Production: the users file too (the passwords), or the broker has no users at all.
    let mut needed = vec![
        "VHOST",
        "APP_USER",
        "FEDERATION_USER",
        "USERS_FILE",
        "UPSTREAMS_FILE",
    ];
    if kind == rabbitmq::BrokerKind::Academy {
        needed.extend(["ACADEMY", "NATIONAL_URI"]);
    }
    for var in needed {
        if env(job, var).is_none() && env(job, &format!("{var}_FILE")).is_none() {
            problems.push(format!("{label}: render.sh needs {var} (or {var}_FILE)"));
        }
    }
    problems
}

/// The collector: its configuration is deploy/otel's, and every variable it needs is set.
fn check_collector(
    label: &str,
    collector: &Value,
    configs: &BTreeMap<String, String>,
    dir: &Path,
) -> Problems {
    let mut problems = Problems::new();
    let Some(file) = grants(collector, "configs", "")
        .into_iter()
        .find_map(|(name, _)| configs.get(&name).cloned())
    else {
        return vec![format!("{label}: is given no configuration")];
    };
    let path = dir.join(&file);
    if path.canonicalize().ok() != deploy_dir().join("otel/collector.yaml").canonicalize().ok() {
        problems.push(format!(
            "{label}: its configuration must be deploy/otel/collector.yaml, not {file}"
        ));
    }
    let text = read(&path).unwrap_or_default();
    for var in otel::required_env(&text) {
        if env(collector, &var).is_none() {
            problems.push(format!(
                "{label}: the collector configuration needs {var}, which is not set"
            ));
        }
    }
    problems
}

/// Every compose file of `deploy/compose/`.
pub fn check_all() -> Problems {
    let dir = deploy_dir().join("compose");
    let mut problems = Problems::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.to_string_lossy().ends_with(".compose.yaml"));
    files.sort();
    if files.len() != 2 {
        problems.push(format!(
            "compose/: expected the académie and the national compose files, found {}",
            files.len()
        ));
    }
    for path in files {
        match load_yaml(&path) {
            Ok(compose) => problems.extend(check(&rel(&path), &compose, &dir)),
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// The variables a compose file interpolates: (name, required) for `${NAME}`, `${NAME:-x}`,
/// `${NAME:?message}`.
pub fn variables(text: &str) -> Vec<(String, bool)> {
    let re = crate::literal_regex(r"\$\{([A-Z_][A-Z0-9_]*)(:?[-?][^}]*)?\}");
    re.captures_iter(text)
        .map(|c| {
            let modifier = c.get(2).map(|m| m.as_str()).unwrap_or("");
            (
                c[1].to_owned(),
                !modifier.trim_start_matches(':').starts_with('-'),
            )
        })
        .collect()
}

/// `KEY=value` lines of an env file.
pub fn env_file_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

/// Every variable a compose file needs (no default) is in its env example, and the example sets
/// nothing the compose file does not use.
pub fn check_env_example(what: &str, compose_text: &str, env_text: &str) -> Problems {
    let mut problems = Problems::new();
    let keys = env_file_keys(env_text);
    let vars = variables(compose_text);
    for (name, required) in &vars {
        if *required && !keys.contains(name) {
            problems.push(format!(
                "{what}: the compose file needs {name}, which the env example does not set"
            ));
        }
    }
    for key in &keys {
        if !vars.iter().any(|(n, _)| n == key) {
            problems.push(format!(
                "{what}: the env example sets {key}, which the compose file does not use"
            ));
        }
    }
    problems
}

/// [`check_env_example`] for both nodes' files.
pub fn check_env_examples() -> Problems {
    let dir = deploy_dir().join("compose");
    let mut problems = Problems::new();
    for node in ["academy", "national"] {
        let compose = dir.join(format!("{node}.compose.yaml"));
        let example = dir.join(format!("{node}.env.example"));
        match (read(&compose), read(&example)) {
            (Ok(text), Ok(env)) => problems.extend(check_env_example(
                &format!("{} with {}", rel(&compose), rel(&example)),
                &text,
                &env,
            )),
            (Err(e), _) | (_, Err(e)) => problems.push(e),
        }
    }
    problems
}

/// The Dockerfile copies files that exist (from the repository root, its build context) and the
/// `.dockerignore` beside it does not exclude them.
pub fn check_dockerfile() -> Problems {
    let path = deploy_dir().join("docker/Dockerfile");
    match read(&path) {
        Ok(text) => check_dockerfile_text(
            &text,
            &read(&deploy_dir().join("docker/Dockerfile.dockerignore")).unwrap_or_default(),
        ),
        Err(e) => vec![e],
    }
}

/// [`check_dockerfile`] of a Dockerfile's text and its ignore file's.
pub fn check_dockerfile_text(text: &str, ignore: &str) -> Problems {
    let path = deploy_dir().join("docker/Dockerfile");
    let root = deploy_dir().join("..");
    let mut problems = Problems::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        let args: Vec<&str> = rest
            .split_whitespace()
            .filter(|a| !a.starts_with("--"))
            .collect();
        if rest.contains("--from=") || args.len() < 2 {
            continue;
        }
        for source in &args[..args.len() - 1] {
            if *source == "." {
                continue;
            }
            if !root.join(source).exists() {
                problems.push(format!(
                    "{}: COPY {source}: no such file in the repository",
                    rel(&path)
                ));
            }
            if ignore.lines().any(|p| {
                !p.starts_with('#')
                    && !p.trim().is_empty()
                    && source.starts_with(p.trim().trim_end_matches('/'))
            }) {
                problems.push(format!(
                    "{}: COPY {source} is excluded by Dockerfile.dockerignore",
                    rel(&path)
                ));
            }
        }
    }
    if !text
        .lines()
        .any(|l| l.trim().starts_with("USER ") && !l.contains("root") && !l.trim().ends_with(" 0"))
    {
        problems.push(format!(
            "{}: the image must run as a non-root USER",
            rel(&path)
        ));
    }
    problems
}
