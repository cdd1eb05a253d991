//! A Deployment's pod and containers: probes, configuration, environment, the files the
//! configuration names, the data directory, shutdown.

use super::*;

pub(super) fn check_deployment(d: &Manifest, index: &Index, role: Role) -> Problems {
    let what = d.label();
    let mut problems = Problems::new();
    let spec = d.doc.pointer("/spec/template/spec").unwrap_or(&Value::Null);
    if !labels_match(
        d.doc.pointer("/spec/selector/matchLabels"),
        d.doc.pointer("/spec/template/metadata/labels"),
    ) {
        problems.push(format!(
            "{what}: the selector does not match the pod labels"
        ));
    }
    let volumes: BTreeMap<&str, &Value> = arr_at(spec, "/volumes")
        .iter()
        .filter_map(|v| Some((str_at(v, "/name")?, v)))
        .collect();
    let mut mounted = BTreeSet::new();
    for c in arr_at(spec, "/containers") {
        let args_owned = arr_at(c, "/args");
        let args = strings(args_owned);
        let service_arg = flag(&args, "--services");
        let expected = expected_health_service(&what, &args, &mut problems);
        match (role, args.first().copied()) {
            (Role::Academy, Some("national")) | (Role::National, Some("node")) => {
                problems.push(format!("{what}: runs {:?} in a {role:?} node", args[0]));
            }
            _ => {}
        }
        let ports: Vec<i64> = arr_at(c, "/ports")
            .iter()
            .filter_map(|p| p.pointer("/containerPort").and_then(Value::as_i64))
            .collect();
        check_probes(&what, c, &ports, expected.as_deref(), &mut problems);

        let mounts = container_mounts(c);
        for m in &mounts {
            mounted.insert(m.volume.to_string());
            if !volumes.contains_key(m.volume) {
                problems.push(format!("{what}: mounts {}, which is no volume", m.volume));
            }
        }
        let files = Files {
            mounts: &mounts,
            volumes: &volumes,
            index,
        };
        let config = node_config_of(&what, &args, &files, &mut problems);
        check_env(&what, c, index, &mut problems);
        if let Some(config) = &config {
            let signs = service_arg.is_some_and(|s| DOCUMENT_SIGNING_SERVICES.contains(&s));
            check_config_files(&what, config, signs, &files, &mut problems);
            check_data_dir(&what, config, &mounts, &mut problems);
            check_shutdown(&what, config, spec, c, &mut problems);
            let port = i64::from(node_config::listen_port(config));
            if !ports.contains(&port) {
                problems.push(format!(
                    "{what}: the node listens on {port}, which the container does not expose"
                ));
            }
        }
    }
    for name in volumes.keys() {
        if !mounted.contains(*name) {
            problems.push(format!("{what}: volume {name} is mounted nowhere"));
        }
    }
    problems
}

/// Probes: the native gRPC health check of this process's service, on its port.
fn check_probes(
    what: &str,
    c: &Value,
    ports: &[i64],
    expected: Option<&str>,
    problems: &mut Problems,
) {
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let Some(grpc) = c.pointer(&format!("/{probe}/grpc")) else {
            continue; // the schema reports it
        };
        let service = str_at(grpc, "/service").unwrap_or_default();
        if !HEALTH_SERVICES.contains(&service) {
            problems.push(format!(
                "{what}: {probe} asks for the health of {service:?}, which no cplds server reports"
            ));
        } else if let Some(expected) = expected
            && service != expected
        {
            problems.push(format!(
                "{what}: {probe} asks for {service:?} but the process serves {expected:?}"
            ));
        }
        let port = grpc.pointer("/port").and_then(Value::as_i64).unwrap_or(0);
        if !ports.contains(&port) {
            problems.push(format!(
                "{what}: {probe} probes port {port}, which the container does not expose"
            ));
        }
    }
}

/// A container's volume mount.
struct Mount<'v> {
    path: &'v str,
    volume: &'v str,
    read_only: bool,
}

fn container_mounts(c: &Value) -> Vec<Mount<'_>> {
    arr_at(c, "/volumeMounts")
        .iter()
        .filter_map(|m| {
            Some(Mount {
                path: str_at(m, "/mountPath")?,
                volume: str_at(m, "/name")?,
                read_only: m
                    .pointer("/readOnly")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// Where a container's files come from: its mounts, the pod's volumes, the defined objects.
struct Files<'a, 'v> {
    mounts: &'a [Mount<'v>],
    volumes: &'a BTreeMap<&'v str, &'v Value>,
    index: &'a Index<'a>,
}

impl<'v> Files<'_, 'v> {
    /// The file name of `path` and the volume its directory is mounted from.
    fn provider<'p>(&self, path: &'p str) -> Option<(&'p str, &'v Value)> {
        let (dir, file) = path.rsplit_once('/')?;
        let m = self.mounts.iter().find(|m| m.path == dir)?;
        Some((file, *self.volumes.get(m.volume)?))
    }
}

/// The node configuration of `--config`, from a ConfigMap of this node.
fn node_config_of(
    what: &str,
    args: &[&str],
    files: &Files<'_, '_>,
    problems: &mut Problems,
) -> Option<Value> {
    let Some(path) = flag(args, "--config") else {
        problems.push(format!(
            "{what}: no --config: the node would run on defaults"
        ));
        return None;
    };
    let Some((file, volume)) = files.provider(path) else {
        problems.push(format!(
            "{what}: --config {path} is in no mounted ConfigMap"
        ));
        return None;
    };
    let cm = str_at(volume, "/configMap/name").unwrap_or_default();
    let Some(cm) = files.index.configmaps.get(cm) else {
        problems.push(format!(
            "{what}: --config {path} comes from ConfigMap {cm:?}, which is not defined"
        ));
        return None;
    };
    match cm.pointer(&format!("/data/{file}")).and_then(Value::as_str) {
        None => {
            problems.push(format!("{what}: the ConfigMap has no key {file}"));
            None
        }
        Some(text) => node_config::parse(text).ok(),
    }
}

/// Environment from Secrets that exist, with the keys named; the URLs' credentials set.
fn check_env(what: &str, c: &Value, index: &Index, problems: &mut Problems) {
    let mut env_names = BTreeSet::new();
    for e in arr_at(c, "/env") {
        env_names.insert(str_at(e, "/name").unwrap_or_default().to_owned());
        if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
            let (name, key) = (
                str_at(r, "/name").unwrap_or_default(),
                str_at(r, "/key").unwrap_or_default(),
            );
            match index.secrets.get(name) {
                None => problems.push(format!(
                    "{what}: env from Secret {name}, which is not defined"
                )),
                Some(keys) if !keys.contains(key) => {
                    problems.push(format!("{what}: Secret {name} has no key {key}"))
                }
                _ => {}
            }
        }
    }
    for needed in ["CPLDS_DATABASE_URL", "CPLDS_AMQP_URL"] {
        if !env_names.contains(needed) {
            problems.push(format!(
                "{what}: {needed} is not set (the ConfigMap's URL carries no credentials)"
            ));
        }
    }
}

/// Every file the configuration names is mounted from a Secret that holds it (the document
/// signing keys only where a service signs documents).
fn check_config_files(
    what: &str,
    config: &Value,
    signs: bool,
    files: &Files<'_, '_>,
    problems: &mut Problems,
) {
    for (key, path) in node_config::file_paths(config) {
        let needed = key != "/documents/signing_key_files" || signs;
        match files.provider(&path) {
            Some((file, volume)) if needed => {
                let secret = str_at(volume, "/secret/secretName");
                match secret.map(|s| (s, files.index.secrets.get(s))) {
                    Some((s, Some(keys))) if !keys.contains(file) => problems.push(format!(
                        "{what}: {path} ({key}) comes from Secret {s}, which has no key {file}"
                    )),
                    Some((s, None)) => problems.push(format!(
                        "{what}: {path} ({key}) comes from Secret {s}, which is not defined"
                    )),
                    None => problems.push(format!(
                        "{what}: {path} ({key}) is mounted from something else than a Secret"
                    )),
                    _ => {}
                }
            }
            Some(_) => problems.push(format!(
                "{what}: the document signing keys are mounted in a process that signs nothing ({path})"
            )),
            None if needed => problems.push(format!(
                "{what}: the configuration names {path} ({key}) but no volume provides it"
            )),
            None => {}
        }
    }
}

/// The data directory must be writable under a read-only root filesystem.
fn check_data_dir(what: &str, config: &Value, mounts: &[Mount<'_>], problems: &mut Problems) {
    let data_dir = str_at(config, "/data_dir").unwrap_or("cplds-data");
    match mounts.iter().find(|m| m.path == data_dir) {
        Some(m) if m.read_only => {
            problems.push(format!("{what}: data_dir {data_dir} is mounted read-only"))
        }
        Some(_) => {}
        None => problems.push(format!(
            "{what}: data_dir {data_dir} has no writable volume (the root filesystem is read-only)"
        )),
    }
}

/// SIGTERM: preStop, then server.shutdown_grace_ms, within the grace period.
fn check_shutdown(what: &str, config: &Value, spec: &Value, c: &Value, problems: &mut Problems) {
    let grace_ms = spec
        .pointer("/terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(30)
        * 1000;
    let pre_stop_ms = match strings(arr_at(c, "/lifecycle/preStop/exec/command")).as_slice() {
        ["sleep", n] => n.parse::<u64>().unwrap_or(0) * 1000,
        _ => 0,
    };
    let shutdown = node_config::shutdown_grace_ms(config);
    if grace_ms <= pre_stop_ms + shutdown {
        problems.push(format!(
            "{what}: terminationGracePeriodSeconds ({} s) must exceed preStop ({} s) + server.shutdown_grace_ms ({} ms)",
            grace_ms / 1000,
            pre_stop_ms / 1000,
            shutdown
        ));
    }
}
