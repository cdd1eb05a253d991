//! Kubernetes: every manifest against the schema of its kind, then what the manifests say of
//! each other: probes ask the health service of the process they probe, every file the node's
//! configuration names is mounted from a Secret that has it, every Secret and key a Deployment
//! refers to exists (in `secrets.example.yaml`), Services, PodDisruptionBudgets and the Ingress
//! find their pods, and kustomizations list files that exist.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde_json::Value;

use crate::{
    ACADEMY_SERVICES, DOCUMENT_SIGNING_SERVICES, HEALTH_SERVICES, Problems, arr_at, deploy_dir,
    grpc_service_of, load_yaml, load_yaml_docs,
    node_config::{self, Role},
    rel,
    schema::Schemas,
    secrets::check_placeholder_secret,
    str_at,
};

mod deployment;

use deployment::check_deployment;

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// File, relative to `deploy/`.
    pub file: String,
    pub doc: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        str_at(&self.doc, "/kind").unwrap_or("")
    }

    pub fn name(&self) -> &str {
        str_at(&self.doc, "/metadata/name").unwrap_or("")
    }

    pub fn label(&self) -> String {
        format!("{} {}/{}", self.file, self.kind(), self.name())
    }
}

/// The schema of a kind.
pub fn schema_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Deployment" => "k8s-deployment",
        "Service" => "k8s-service",
        "ConfigMap" => "k8s-configmap",
        "Secret" => "k8s-secret",
        "PodDisruptionBudget" => "k8s-pdb",
        "Ingress" => "k8s-ingress",
        "NetworkPolicy" => "k8s-networkpolicy",
        "Namespace" | "ServiceAccount" => "k8s-object",
        _ => return None,
    })
}

/// Every manifest document of a directory (not its kustomization.yaml), sorted by file.
pub fn load_dir(dir: &Path) -> Result<Vec<Manifest>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", rel(dir)))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        for doc in load_yaml_docs(&path)? {
            out.push(Manifest {
                file: rel(&path),
                doc,
            });
        }
    }
    Ok(out)
}

fn labels_match(selector: Option<&Value>, labels: Option<&Value>) -> bool {
    let (Some(selector), Some(labels)) = (
        selector.and_then(Value::as_object),
        labels.and_then(Value::as_object),
    ) else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn strings(v: &[Value]) -> Vec<&str> {
    v.iter().filter_map(Value::as_str).collect()
}

/// The value following `flag` in an argument list.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1).copied())
}

/// What the manifests of one node (a base, or an overlay applied to its base) declare.
struct Index<'a> {
    configmaps: BTreeMap<&'a str, &'a Value>,
    secrets: BTreeMap<&'a str, BTreeSet<String>>,
    deployments: Vec<&'a Manifest>,
    services: Vec<&'a Manifest>,
}

impl<'a> Index<'a> {
    fn new(manifests: &'a [Manifest]) -> Self {
        let mut index = Index {
            configmaps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            deployments: Vec::new(),
            services: Vec::new(),
        };
        for m in manifests {
            match m.kind() {
                "ConfigMap" => {
                    index.configmaps.insert(m.name(), &m.doc);
                }
                "Secret" => {
                    let keys = m
                        .doc
                        .get("stringData")
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    index.secrets.insert(m.name(), keys);
                }
                "Deployment" => index.deployments.push(m),
                "Service" => index.services.push(m),
                _ => {}
            }
        }
        index
    }

    fn deployment_selected_by(&self, selector: Option<&Value>) -> Option<&'a Manifest> {
        self.deployments
            .iter()
            .find(|d| labels_match(selector, d.doc.pointer("/spec/template/metadata/labels")))
            .copied()
    }
}

/// Checks the manifests of one node: `role` says which (académie or national).
pub fn check_manifests(manifests: &[Manifest], role: Role) -> Problems {
    let schemas = Schemas::get();
    let mut problems = Problems::new();
    for m in manifests {
        match schema_of(m.kind()) {
            Some(schema) => problems.extend(schemas.check(schema, &m.label(), &m.doc)),
            None => problems.push(format!("{}: no schema for the kind {:?}", m.file, m.kind())),
        }
        match m.kind() {
            "Secret" => problems.extend(check_placeholder_secret(&m.label(), &m.doc)),
            "ConfigMap" => {
                if let Some(text) = str_at(&m.doc, "/data/node.toml") {
                    problems.extend(node_config::check(
                        &format!("{} node.toml", m.label()),
                        text,
                        role,
                    ));
                }
            }
            _ => {}
        }
    }
    let index = Index::new(manifests);
    if index.deployments.is_empty() {
        problems.push("no Deployment".into());
    }
    for d in &index.deployments {
        problems.extend(check_deployment(d, &index, role));
    }
    let pdbs: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| m.kind() == "PodDisruptionBudget")
        .collect();
    for d in &index.deployments {
        let labels = d.doc.pointer("/spec/template/metadata/labels");
        if !index
            .services
            .iter()
            .any(|s| labels_match(s.doc.pointer("/spec/selector"), labels))
        {
            problems.push(format!("{}: no Service selects its pods", d.label()));
        }
        let budget = pdbs
            .iter()
            .find(|p| labels_match(p.doc.pointer("/spec/selector/matchLabels"), labels));
        match budget {
            None => problems.push(format!("{}: no PodDisruptionBudget", d.label())),
            Some(p) => {
                let replicas = d.doc.pointer("/spec/replicas").and_then(Value::as_i64);
                let min = p.doc.pointer("/spec/minAvailable").and_then(Value::as_i64);
                if let (Some(r), Some(min)) = (replicas, min)
                    && min >= r
                {
                    problems.push(format!(
                        "{}: minAvailable {min} with {r} replica(s) would block every node drain",
                        p.label()
                    ));
                }
            }
        }
    }
    for s in &index.services {
        match index.deployment_selected_by(s.doc.pointer("/spec/selector")) {
            None => problems.push(format!("{}: selects no Deployment's pods", s.label())),
            Some(d) => {
                let port_names: Vec<&str> = arr_at(&d.doc, "/spec/template/spec/containers")
                    .iter()
                    .flat_map(|c| arr_at(c, "/ports"))
                    .filter_map(|p| str_at(p, "/name"))
                    .collect();
                for p in arr_at(&s.doc, "/spec/ports") {
                    if let Some(target) = str_at(p, "/targetPort")
                        && !port_names.contains(&target)
                    {
                        problems.push(format!(
                            "{}: targetPort {target} is no container port of {}",
                            s.label(),
                            d.name()
                        ));
                    }
                }
            }
        }
    }
    for p in &pdbs {
        if index
            .deployment_selected_by(p.doc.pointer("/spec/selector/matchLabels"))
            .is_none()
        {
            problems.push(format!("{}: selects no Deployment's pods", p.label()));
        }
    }
    for ing in manifests.iter().filter(|m| m.kind() == "Ingress") {
        problems.extend(check_ingress(ing, &index));
    }
    problems
}

/// The health service a Deployment's process serves, from its arguments.
fn expected_health_service(what: &str, args: &[&str], problems: &mut Problems) -> Option<String> {
    match args.first().copied() {
        Some("node") => match flag(args, "--services") {
            Some(service) if ACADEMY_SERVICES.contains(&service) => Some(grpc_service_of(service)),
            Some(other) => {
                problems.push(format!(
                    "{what}: --services {other}: one of {ACADEMY_SERVICES:?} per Deployment"
                ));
                None
            }
            None => {
                problems.push(format!(
                    "{what}: `node` without --services: one service per Deployment"
                ));
                None
            }
        },
        Some("national") => Some("cplds.v1.NationalStatisticsService".into()),
        other => {
            problems.push(format!(
                "{what}: the container runs {other:?}; expected `node` or `national`"
            ));
            None
        }
    }
}

fn check_ingress(ing: &Manifest, index: &Index) -> Problems {
    let what = ing.label();
    let mut problems = Problems::new();
    for tls in arr_at(&ing.doc, "/spec/tls") {
        let secret = str_at(tls, "/secretName").unwrap_or_default();
        if !index.secrets.contains_key(secret) {
            problems.push(format!("{what}: TLS Secret {secret} is not defined"));
        }
    }
    let grpc_backend = str_at(
        &ing.doc,
        "/metadata/annotations/nginx.ingress.kubernetes.io~1backend-protocol",
    ) == Some("GRPC");
    for rule in arr_at(&ing.doc, "/spec/rules") {
        for path in arr_at(rule, "/http/paths") {
            let p = str_at(path, "/path").unwrap_or_default();
            let backend = str_at(path, "/backend/service/name").unwrap_or_default();
            let Some(service) = index.services.iter().find(|s| s.name() == backend) else {
                problems.push(format!(
                    "{what}: {p} goes to Service {backend}, which is not defined"
                ));
                continue;
            };
            if let Some(port) = str_at(path, "/backend/service/port/name")
                && !arr_at(&service.doc, "/spec/ports")
                    .iter()
                    .any(|sp| str_at(sp, "/name") == Some(port))
            {
                problems.push(format!("{what}: Service {backend} has no port {port}"));
            }
            if !grpc_backend {
                problems.extend(check_public_pages(&what, p, path, service, index));
                continue;
            }
            // A path naming a cplds gRPC service must reach the pods that serve it.
            let grpc = p.trim_matches('/');
            if grpc.starts_with("cplds.v1.") {
                let served = index
                    .deployment_selected_by(service.doc.pointer("/spec/selector"))
                    .and_then(|d| {
                        str_at(
                            &d.doc,
                            "/spec/template/spec/containers/0/readinessProbe/grpc/service",
                        )
                    });
                if served != Some(grpc) {
                    problems.push(format!(
                        "{what}: {p} is routed to {backend}, whose pods serve {served:?}"
                    ));
                }
            } else if p != "/"
                && grpc != "grpc.health.v1.Health"
                && grpc != "grpc.reflection.v1.ServerReflection"
            {
                problems.push(format!("{what}: {p} is no gRPC service of a cplds node"));
            }
        }
    }
    problems
}

/// A plain HTTP route (public pages) must reach the `http` port of pods that serve pages on it
/// (`CPLDS_HTTP_LISTEN` on that port), or the ingress answers 502.
fn check_public_pages(
    what: &str,
    p: &str,
    path: &Value,
    service: &Manifest,
    index: &Index,
) -> Problems {
    let mut problems = Problems::new();
    let backend = service.name();
    if str_at(path, "/backend/service/port/name") != Some("http") {
        problems.push(format!(
            "{what}: {p} is plain HTTP, so it must go to the http port of {backend}"
        ));
        return problems;
    }
    let Some(d) = index.deployment_selected_by(service.doc.pointer("/spec/selector")) else {
        return problems;
    };
    let container = d.doc.pointer("/spec/template/spec/containers/0");
    let container_port = container
        .map(|c| arr_at(c, "/ports"))
        .unwrap_or_default()
        .iter()
        .find(|cp| str_at(cp, "/name") == Some("http"))
        .and_then(|cp| cp.pointer("/containerPort"))
        .and_then(Value::as_u64);
    let listen = container
        .map(|c| arr_at(c, "/env"))
        .unwrap_or_default()
        .iter()
        .find(|e| str_at(e, "/name") == Some("CPLDS_HTTP_LISTEN"))
        .and_then(|e| str_at(e, "/value"));
    let listen_port = listen
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, port)| port.parse::<u64>().ok());
    match (container_port, listen_port) {
        (Some(c), Some(l)) if c == l => {}
        (None, _) => problems.push(format!(
            "{what}: {p} goes to {}, whose container has no http port",
            d.label()
        )),
        (Some(c), _) => problems.push(format!(
            "{what}: {p} goes to port {c} of {}, which does not serve pages there (CPLDS_HTTP_LISTEN {listen:?})",
            d.label()
        )),
    }
    problems
}

/// Checks a kustomization: schema, resources and patches that exist, and (for a base) that
/// every manifest of the directory is listed except the example Secrets, which must not be.
pub fn check_kustomization(dir: &Path) -> Problems {
    let path = dir.join("kustomization.yaml");
    let what = rel(&path);
    match load_yaml(&path) {
        Ok(k) => check_kustomization_value(&what, &k, dir),
        Err(e) => vec![e],
    }
}

/// [`check_kustomization`] of an already parsed kustomization living in `dir`.
pub fn check_kustomization_value(what: &str, k: &Value, dir: &Path) -> Problems {
    let mut problems = Schemas::get().check("k8s-kustomization", what, k);
    let resources = strings(arr_at(k, "/resources"));
    for r in &resources {
        let target = dir.join(r);
        if !(target.is_file() || target.join("kustomization.yaml").is_file()) {
            problems.push(format!("{what}: resource {r} does not exist"));
        }
    }
    for p in arr_at(k, "/patches") {
        if let Some(file) = str_at(p, "/path")
            && !dir.join(file).is_file()
        {
            problems.push(format!("{what}: patch {file} does not exist"));
        }
    }
    let listed: BTreeSet<&str> = resources.iter().copied().collect();
    let patches: BTreeSet<&str> = arr_at(k, "/patches")
        .iter()
        .filter_map(|p| str_at(p, "/path"))
        .collect();
    if listed.contains("secrets.example.yaml") {
        problems.push(format!(
            "{what}: lists secrets.example.yaml: applying would overwrite the real Secrets with placeholders"
        ));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml")
                && name != "kustomization.yaml"
                && name != "secrets.example.yaml"
                && !listed.contains(name.as_str())
                && !patches.contains(name.as_str())
            {
                problems.push(format!(
                    "{what}: {name} is in the directory but neither a resource nor a patch"
                ));
            }
        }
    }
    problems
}

/// The bases (académie, national) and every overlay, checked as `kubectl apply -k` would see
/// them: an overlay's ConfigMap patches replace the base's data.
pub fn check_all() -> Problems {
    let root = deploy_dir().join("k8s");
    let mut problems = Problems::new();
    for (base, role) in [("academy", Role::Academy), ("national", Role::National)] {
        let dir = root.join(base);
        problems.extend(check_kustomization(&dir));
        match load_dir(&dir) {
            Ok(manifests) => problems.extend(check_manifests(&manifests, role)),
            Err(e) => problems.push(e),
        }
    }
    let overlays = root.join("overlays");
    let mut dirs: Vec<_> = std::fs::read_dir(&overlays)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    if dirs.is_empty() {
        problems.push("k8s/overlays: no overlay".into());
    }
    for dir in dirs {
        problems.extend(check_kustomization(&dir));
        problems.extend(check_overlay(&dir));
    }
    problems
}

fn check_overlay(dir: &Path) -> Problems {
    let what = rel(dir);
    let k = match load_yaml(&dir.join("kustomization.yaml")) {
        Ok(k) => k,
        Err(e) => return vec![e],
    };
    let mut manifests = Vec::new();
    let mut role = None;
    for r in strings(arr_at(&k, "/resources")) {
        let target = dir.join(r);
        let target = target.canonicalize().unwrap_or(target);
        if target.is_dir() {
            role = match target.file_name().and_then(|n| n.to_str()) {
                Some("academy") => Some(Role::Academy),
                Some("national") => Some(Role::National),
                _ => role,
            };
            match load_dir(&target) {
                Ok(m) => manifests.extend(m),
                Err(e) => return vec![e],
            }
        } else {
            match load_yaml_docs(&target) {
                Ok(docs) => manifests.extend(docs.into_iter().map(|doc| Manifest {
                    file: rel(&target),
                    doc,
                })),
                Err(e) => return vec![e],
            }
        }
    }
    let Some(role) = role else {
        return vec![format!(
            "{what}: builds on neither k8s/academy nor k8s/national"
        )];
    };
    let mut problems = Problems::new();
    for p in arr_at(&k, "/patches") {
        let Some(file) = str_at(p, "/path") else {
            continue;
        };
        let docs = match load_yaml_docs(&dir.join(file)) {
            Ok(d) => d,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for patch in docs {
            let kind = str_at(&patch, "/kind").unwrap_or_default().to_owned();
            let name = str_at(&patch, "/metadata/name")
                .unwrap_or_default()
                .to_owned();
            let Some(target) = manifests
                .iter_mut()
                .find(|m| m.kind() == kind && m.name() == name)
            else {
                problems.push(format!(
                    "{what}/{file}: patches {kind}/{name}, which the base does not define"
                ));
                continue;
            };
            if kind != "ConfigMap" {
                problems.push(format!(
                    "{what}/{file}: only ConfigMap patches are checked; {kind} is not"
                ));
                continue;
            }
            if let (Some(data), Some(obj)) = (patch.get("data"), target.doc.as_object_mut()) {
                obj.insert("data".into(), data.clone());
                target.file = format!("{what}/{file}");
            }
        }
    }
    problems.extend(check_manifests(&manifests, role));
    problems
}
