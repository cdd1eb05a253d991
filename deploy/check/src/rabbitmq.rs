//! RabbitMQ: the definition templates rendered as `deploy/rabbitmq/README.md` says (plain string
//! substitution), checked against their schemas and for the privacy of the topology; the
//! `render.sh` script gives the same result; `rabbitmq.conf` and `enabled_plugins` hold what
//! production needs.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::{Problems, deploy_dir, read, schema::Schemas, str_at};

/// The exchanges every broker has (the services declare them too, with the same arguments).
pub const EXCHANGES: &[&str] = &[
    "cplds.events",
    "cplds.national",
    "cplds.regional",
    "cplds.control",
    "cplds.dead",
];

pub fn dir() -> PathBuf {
    deploy_dir().join("rabbitmq")
}

/// The `${NAME}` placeholders of a text.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let re = crate::literal_regex(r"\$\{([A-Z][A-Z0-9_]*)\}");
    re.captures_iter(text).map(|c| c[1].to_owned()).collect()
}

/// Replaces each `${NAME}` by its value, literally. Every placeholder must be given a value.
pub fn render(template: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    let left = placeholders(&out);
    if left.is_empty() {
        Ok(out)
    } else {
        Err(format!("placeholders left unrendered: {left:?}"))
    }
}

fn template(name: &str) -> Result<String, String> {
    read(&dir().join(name))
}

/// Renders a template file of `deploy/rabbitmq/` and parses the result.
pub fn render_file(name: &str, values: &[(&str, &str)]) -> Result<Value, String> {
    let text = render(&template(name)?, values).map_err(|e| format!("rabbitmq/{name}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("rabbitmq/{name} rendered: invalid JSON: {e}"))
}

/// `${REGIONAL_UPSTREAM_SET}`: one `regional-set-item.json` per upstream name, joined with `,`
/// (nothing for none).
pub fn upstream_set(names: &[&str]) -> Result<String, String> {
    let item = template("regional-set-item.json")?;
    let item = item.trim_end();
    names
        .iter()
        .map(|n| render(item, &[("UPSTREAM_NAME", n)]))
        .collect::<Result<Vec<_>, _>>()
        .map(|items| items.join(","))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Academy,
    National,
}

/// The rendered definitions of one vhost, in import order.
#[derive(Debug, Clone)]
pub struct Broker {
    pub kind: BrokerKind,
    pub vhost: String,
    /// The académie code the routing keys start with (the national broker: `national`).
    pub academy: String,
    /// `${APP_USER}` and `${FEDERATION_USER}` as rendered: the services' users are
    /// `{app}-{service}` on an académie broker, the node's user is `{app}` on the national one;
    /// each downstream link logs in as `{federation}-{downstream}`.
    pub users: (String, String),
    /// (file name as render.sh writes it, definitions)
    pub files: Vec<(String, Value)>,
}

/// What an upstream is: its name (the académie code) and the URI of its vhost.
pub type Upstream<'a> = (&'a str, &'a str);

/// An académie broker's definitions: `10-academy.json`, then per other académie of the région
/// `20-upstream-NAME.json` (the link from it) and `30-downstream-NAME.json` (what its link may
/// read here); production adds the users first, with [`Broker::with_users`].
pub fn render_academy(
    vhost: &str,
    academy: &str,
    users: (&str, &str),
    national_uri: &str,
    regional: &[Upstream],
) -> Result<Broker, String> {
    let (app_user, federation_user) = users;
    let names: Vec<&str> = regional.iter().map(|(n, _)| *n).collect();
    let set = upstream_set(&names)?;
    let mut files = vec![(
        "10-academy.json".to_owned(),
        render_file(
            "academy.definitions.json",
            &[
                ("VHOST", vhost),
                ("ACADEMY", academy),
                ("APP_USER", app_user),
                ("FEDERATION_USER", federation_user),
                ("NATIONAL_URI", national_uri),
                ("REGIONAL_UPSTREAM_SET", &set),
            ],
        )?,
    )];
    for (name, uri) in regional {
        files.push(upstream_file(vhost, name, uri)?);
        files.push(downstream_file(
            "regional-downstream.definitions.json",
            vhost,
            federation_user,
            name,
        )?);
    }
    Ok(Broker {
        kind: BrokerKind::Academy,
        vhost: vhost.to_owned(),
        academy: academy.to_owned(),
        users: (app_user.to_owned(), federation_user.to_owned()),
        files,
    })
}

/// The national broker's definitions: `10-national.json`, then per académie its upstream file
/// and its downstream file (its link reads its own replay requests only).
/// `users`: (the node's user, the prefix of the links' users).
pub fn render_national(
    vhost: &str,
    users: (&str, &str),
    academies: &[Upstream],
) -> Result<Broker, String> {
    let (app_user, federation_user) = users;
    let mut files = vec![(
        "10-national.json".to_owned(),
        render_file(
            "national.definitions.json",
            &[("VHOST", vhost), ("APP_USER", app_user)],
        )?,
    )];
    for (name, uri) in academies {
        files.push(upstream_file(vhost, name, uri)?);
        files.push(downstream_file(
            "national-downstream.definitions.json",
            vhost,
            federation_user,
            name,
        )?);
    }
    Ok(Broker {
        kind: BrokerKind::National,
        vhost: vhost.to_owned(),
        academy: "national".to_owned(),
        users: (app_user.to_owned(), federation_user.to_owned()),
        files,
    })
}

fn upstream_file(vhost: &str, name: &str, uri: &str) -> Result<(String, Value), String> {
    Ok((
        format!("20-upstream-{name}.json"),
        render_file(
            "upstream.definitions.json",
            &[
                ("VHOST", vhost),
                ("UPSTREAM_NAME", name),
                ("UPSTREAM_URI", uri),
            ],
        )?,
    ))
}

fn downstream_file(
    template: &str,
    vhost: &str,
    federation_user: &str,
    name: &str,
) -> Result<(String, Value), String> {
    Ok((
        format!("30-downstream-{name}.json"),
        render_file(
            template,
            &[
                ("VHOST", vhost),
                ("FEDERATION_USER", federation_user),
                ("DOWNSTREAM", name),
            ],
        )?,
    ))
}

/// One user with its password (`user.definitions.json`).
pub fn render_user(name: &str, password: &str) -> Result<Value, String> {
    render_file(
        "user.definitions.json",
        &[("USER_NAME", name), ("USER_PASSWORD", password)],
    )
}

impl Broker {
    /// The users the definitions give permissions to: they must exist first.
    pub fn user_names(&self) -> Vec<String> {
        let (app, federation) = &self.users;
        let downstreams = self
            .files
            .iter()
            .filter_map(|(f, _)| f.strip_prefix("30-downstream-"))
            .filter_map(|f| f.strip_suffix(".json"));
        let mut names: Vec<String> = match self.kind {
            BrokerKind::Academy => crate::rabbitmq_permissions::SERVICES
                .iter()
                .map(|(s, _)| format!("{app}-{s}"))
                .chain([format!("{federation}-national")])
                .collect(),
            BrokerKind::National => vec![app.clone()],
        };
        names.extend(downstreams.map(|d| format!("{federation}-{d}")));
        names
    }

    /// Adds a `00-user-NAME.json` per user in front (every user the definitions name, with
    /// `password`), as production (and a test bringing its own users) does.
    pub fn with_users(mut self, password: &str) -> Result<Self, String> {
        let mut users = Vec::new();
        for name in self.user_names() {
            users.push((
                format!("00-user-{name}.json"),
                render_user(&name, password)?,
            ));
        }
        users.append(&mut self.files);
        self.files = users;
        Ok(self)
    }
}

/// The layout `deploy/rabbitmq/README.md` gives for a test on one local broker: the national
/// vhost `t_nat`, académies `t_a` and `t_b` of one région, `t_c` alone in its région; user
/// prefixes `t_app` (the services, the national node) and `t_fed` (the federation links).
pub fn local_test_layout() -> Result<Vec<Broker>, String> {
    let uri = |v: &str, d: &str| format!("amqp://t_fed-{d}:fed-secret@127.0.0.1:5672/{v}");
    let users = ("t_app", "t_fed");
    Ok(vec![
        render_national(
            "t_nat",
            users,
            &[
                ("t_a", &uri("t_a", "national")),
                ("t_b", &uri("t_b", "national")),
                ("t_c", &uri("t_c", "national")),
            ],
        )?
        .with_users("fed-secret")?,
        render_academy(
            "t_a",
            "t_a",
            users,
            &uri("t_nat", "t_a"),
            &[("t_b", &uri("t_b", "t_a"))],
        )?,
        render_academy(
            "t_b",
            "t_b",
            users,
            &uri("t_nat", "t_b"),
            &[("t_a", &uri("t_a", "t_b"))],
        )?,
        render_academy("t_c", "t_c", users, &uri("t_nat", "t_c"), &[])?,
    ])
}

/// A production-like layout: one broker per académie over TLS, URIs with query parameters.
pub fn production_layout() -> Result<Vec<Broker>, String> {
    let uri = |user: &str, host: &str, vhost: &str| {
        format!(
            "amqps://{user}:PASSWORD@{host}:5671/{vhost}?cacertfile=/etc/rabbitmq/tls/federation-ca.pem&verify=verify_peer&server_name_indication={host}"
        )
    };
    let national = uri("federation-toulouse", "broker.national.example", "national");
    let montpellier = uri(
        "federation-toulouse",
        "broker.ac-montpellier.example",
        "montpellier",
    );
    let users = ("cplds", "federation");
    Ok(vec![
        render_national(
            "national",
            users,
            &[
                (
                    "toulouse",
                    &uri(
                        "federation-national",
                        "broker.ac-toulouse.example",
                        "toulouse",
                    ),
                ),
                (
                    "montpellier",
                    &uri(
                        "federation-national",
                        "broker.ac-montpellier.example",
                        "montpellier",
                    ),
                ),
            ],
        )?
        .with_users("PASSWORD")?,
        render_academy(
            "toulouse",
            "toulouse",
            users,
            &national,
            &[("montpellier", &montpellier)],
        )?
        .with_users("PASSWORD")?,
    ])
}

/// Which exchanges the federation user may read on each kind of broker: exactly those that
/// leave it (the national broker pulls cplds.national and the peers cplds.regional from an
/// académie; the académies pull cplds.control from the national broker).
pub(crate) fn federated_out(kind: BrokerKind) -> &'static [&'static str] {
    match kind {
        BrokerKind::Academy => &["cplds.national", "cplds.regional"],
        BrokerKind::National => &["cplds.control"],
    }
}

/// Checks a broker's rendered definitions.
pub fn check_broker(what: &str, broker: &Broker) -> Problems {
    let schemas = Schemas::get();
    let mut problems = Problems::new();
    let mut upstreams = BTreeSet::new();
    for (file, defs) in &broker.files {
        let label = format!("{what} {file}");
        let schema = if file.starts_with("20-upstream-") {
            "rabbitmq-upstream"
        } else if file.starts_with("30-downstream-") {
            "rabbitmq-downstream"
        } else if file.starts_with("00-user") {
            "rabbitmq-users"
        } else {
            match broker.kind {
                BrokerKind::Academy => "rabbitmq-academy",
                BrokerKind::National => "rabbitmq-national",
            }
        };
        problems.extend(schemas.check(schema, &label, defs));
        // Everything is in the broker's own vhost.
        for section in [
            "vhosts",
            "permissions",
            "topic_permissions",
            "exchanges",
            "parameters",
            "policies",
        ] {
            for item in crate::arr_at(defs, &format!("/{section}")) {
                let vhost = if section == "vhosts" {
                    str_at(item, "/name")
                } else {
                    str_at(item, "/vhost")
                };
                if vhost != Some(broker.vhost.as_str()) {
                    problems.push(format!(
                        "{label}: a {section} entry is for vhost {vhost:?}, not {}",
                        broker.vhost
                    ));
                }
            }
        }
        for p in crate::arr_at(defs, "/parameters") {
            if str_at(p, "/component") == Some("federation-upstream")
                && let Some(name) = str_at(p, "/name")
                && !upstreams.insert(name.to_owned())
            {
                problems.push(format!("{label}: upstream {name} is defined twice"));
            }
        }
        if file.starts_with("30-downstream-") {
            let name = file
                .trim_start_matches("30-downstream-")
                .trim_end_matches(".json");
            if !broker
                .files
                .iter()
                .any(|(f, _)| *f == format!("20-upstream-{name}.json"))
            {
                problems.push(format!("{label}: a downstream without its upstream file"));
            }
        }
    }
    problems.extend(crate::rabbitmq_permissions::check(what, broker));
    let main = broker
        .files
        .iter()
        .find(|(f, _)| f.starts_with("10-"))
        .map(|(_, d)| d)
        .unwrap_or(&Value::Null);
    if broker.kind == BrokerKind::Academy {
        for p in crate::arr_at(main, "/parameters") {
            if str_at(p, "/component") == Some("federation-upstream-set") {
                for member in crate::arr_at(p, "/value") {
                    let name = str_at(member, "/upstream").unwrap_or_default();
                    if name == "national" {
                        problems.push(format!(
                            "{what}: the regional set names the national broker: cplds.regional would be federated from it"
                        ));
                    } else if !upstreams.contains(name) {
                        problems.push(format!(
                            "{what}: the regional set names {name}, which has no upstream file"
                        ));
                    }
                }
            }
        }
        let regional_members: usize = crate::arr_at(main, "/parameters")
            .iter()
            .filter(|p| str_at(p, "/component") == Some("federation-upstream-set"))
            .map(|p| crate::arr_at(p, "/value").len())
            .sum();
        let regional_files = upstreams.len().saturating_sub(1);
        if regional_members != regional_files {
            problems.push(format!(
                "{what}: {regional_files} regional upstream file(s) but {regional_members} member(s) in the regional set"
            ));
        }
    } else if upstreams.is_empty() {
        problems.push(format!(
            "{what}: the national broker has no académie upstream"
        ));
    }
    problems
}

/// Renders the documented layouts and checks them; checks the users template and that the
/// README documents exactly the templates' placeholders.
pub fn check_templates() -> Problems {
    let mut problems = Problems::new();
    for (layout, brokers) in [
        ("local test layout", local_test_layout()),
        ("production layout", production_layout()),
    ] {
        match brokers {
            Ok(brokers) => {
                for b in &brokers {
                    problems.extend(check_broker(&format!("{layout}, vhost {}", b.vhost), b));
                }
            }
            Err(e) => problems.push(format!("{layout}: {e}")),
        }
    }
    problems.extend(check_placeholders_documented());
    problems
}

/// Every placeholder of the templates is in the README's table, and the README names no other.
pub fn check_placeholders_documented() -> Problems {
    let mut problems = Problems::new();
    let readme = match read(&dir().join("README.md")) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    let documented = placeholders(&readme);
    let mut used = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return vec!["rabbitmq/: cannot list".into()];
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            let Ok(text) = read(&path) else { continue };
            for p in placeholders(&text) {
                if !documented.contains(&p) {
                    problems.push(format!(
                        "{}: placeholder ${{{p}}} is not documented in rabbitmq/README.md",
                        crate::rel(&path)
                    ));
                }
                used.insert(p);
            }
        }
    }
    for p in documented.difference(&used) {
        problems.push(format!(
            "rabbitmq/README.md documents ${{{p}}}, which no template uses"
        ));
    }
    problems
}

/// Runs `render.sh` (POSIX sh) on the documented inputs and compares what it writes with
/// [`render_academy`] / [`render_national`]: the script operators and the Compose files use
/// renders exactly as documented.
pub fn check_render_sh() -> Problems {
    let mut problems = Problems::new();
    let work = std::env::temp_dir().join(format!("cplds-deploy-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    if let Err(e) = std::fs::create_dir_all(&work) {
        return vec![format!("cannot create {}: {e}", work.display())];
    }
    let result = (|| -> Result<Problems, String> {
        let national_uri = "amqps://federation:PASSWORD@broker.national.example:5671/national?cacertfile=/etc/rabbitmq/tls/federation-ca.pem&verify=verify_peer|x";
        let peer = "amqp://guest:guest@127.0.0.1:5672/t_b";
        let upstreams = work.join("regional_upstreams");
        std::fs::write(&upstreams, format!("# peers\nt_b {peer}\n\n"))
            .map_err(|e| e.to_string())?;
        let users = work.join("users");
        std::fs::write(
            &users,
            "# name password\ncplds-registration app-pass\nfederation-t_b s3cret\n",
        )
        .map_err(|e| e.to_string())?;
        let out = work.join("academy");
        run_render_sh(
            "academy",
            &out,
            &[
                ("VHOST", "t_a"),
                ("ACADEMY", "t_a"),
                ("APP_USER", "cplds"),
                ("FEDERATION_USER", "federation"),
                ("NATIONAL_URI", national_uri),
                ("UPSTREAMS_FILE", upstreams.to_str().unwrap_or_default()),
                ("USERS_FILE", users.to_str().unwrap_or_default()),
            ],
        )?;
        let mut found = Problems::new();
        let mut expected = render_academy(
            "t_a",
            "t_a",
            ("cplds", "federation"),
            national_uri,
            &[("t_b", peer)],
        )?
        .files;
        expected.push((
            "00-user-cplds-registration.json".into(),
            render_user("cplds-registration", "app-pass")?,
        ));
        expected.push((
            "00-user-federation-t_b.json".into(),
            render_user("federation-t_b", "s3cret")?,
        ));
        found.extend(compare_dir(&out, expected));

        let out = work.join("national");
        let academies = work.join("academy_upstreams");
        let a = "amqp://guest:guest@127.0.0.1:5672/t_a";
        std::fs::write(&academies, format!("t_a {a}\nt_b {peer}\n")).map_err(|e| e.to_string())?;
        run_render_sh(
            "national",
            &out,
            &[
                ("VHOST", "t_nat"),
                ("APP_USER", "t_app"),
                ("FEDERATION_USER", "t_fed"),
                ("UPSTREAMS_FILE", academies.to_str().unwrap_or_default()),
            ],
        )?;
        let expected = render_national("t_nat", ("t_app", "t_fed"), &[("t_a", a), ("t_b", peer)])?;
        found.extend(compare_dir(&out, expected.files));

        // Values that would break the JSON are refused.
        let refused = run_render_sh(
            "national",
            &work.join("refused"),
            &[
                ("VHOST", "bad\"vhost"),
                ("APP_USER", "t_app"),
                ("FEDERATION_USER", "t_fed"),
                ("UPSTREAMS_FILE", academies.to_str().unwrap_or_default()),
            ],
        );
        if refused.is_ok() {
            found.push("rabbitmq/render.sh accepted a value with a double quote".into());
        }
        // One user for both roles would give it two permission entries, one silently lost.
        let refused = run_render_sh(
            "national",
            &work.join("refused"),
            &[
                ("VHOST", "national"),
                ("APP_USER", "guest"),
                ("FEDERATION_USER", "guest"),
                ("UPSTREAMS_FILE", academies.to_str().unwrap_or_default()),
            ],
        );
        if refused.is_ok() {
            found.push(
                "rabbitmq/render.sh accepted one user as both APP_USER and FEDERATION_USER".into(),
            );
        }
        Ok(found)
    })();
    let _ = std::fs::remove_dir_all(&work);
    match result {
        Ok(found) => problems.extend(found),
        Err(e) => problems.push(format!("rabbitmq/render.sh: {e}")),
    }
    problems
}

fn run_render_sh(kind: &str, out: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    let mut cmd = Command::new("sh");
    cmd.arg(dir().join("render.sh")).arg(kind).arg(out);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run sh (needed to test render.sh): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "render.sh {kind} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn compare_dir(dir: &Path, expected: impl IntoIterator<Item = (String, Value)>) -> Problems {
    let mut problems = Problems::new();
    let expected: BTreeMap<String, Value> = expected.into_iter().collect();
    let mut written = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            written.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let names: BTreeSet<String> = expected.keys().cloned().collect();
    if written != names {
        problems.push(format!(
            "render.sh wrote {written:?} where the documented rendering gives {names:?}"
        ));
    }
    for (name, want) in expected {
        let path = dir.join(&name);
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(got) if got == want => {}
            Ok(got) => problems.push(format!(
                "render.sh's {name} differs from the documented rendering:\n got {got}\nwant {want}"
            )),
            Err(e) => problems.push(format!("render.sh's {name}: {e}")),
        }
    }
    problems
}

/// `key = value` lines of a rabbitmq.conf (sysctl format), comments and blank lines skipped.
pub fn parse_conf(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: not `key = value`", n + 1));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!("line {}: not `key = value`", n + 1));
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// The settings production relies on.
pub fn check_conf_text(what: &str, text: &str) -> Problems {
    let entries = match parse_conf(text) {
        Ok(e) => e,
        Err(e) => return vec![format!("{what}: {e}")],
    };
    let mut problems = Problems::new();
    let mut seen = BTreeMap::new();
    for (k, v) in &entries {
        if seen.insert(k.clone(), v.clone()).is_some() {
            problems.push(format!("{what}: {k} is set twice"));
        }
    }
    for key in [
        "listeners.ssl.default",
        "ssl_options.cacertfile",
        "ssl_options.certfile",
        "ssl_options.keyfile",
        "ssl_options.verify",
        "management.ssl.port",
        "definitions.local.path",
        "definitions.import_backend",
    ] {
        if !seen.contains_key(key) {
            problems.push(format!("{what}: {key} is not set"));
        }
    }
    for (k, v) in &seen {
        let is_tcp_listener = k.starts_with("listeners.tcp.")
            || (k.starts_with("management.tcp.") && k != "management.tcp.port");
        if is_tcp_listener && !(v.starts_with("127.0.0.1") || v == "none") {
            problems.push(format!(
                "{what}: {k} = {v}: plain (non-TLS) listeners stay on loopback"
            ));
        }
        if (k.ends_with("certfile") || k.ends_with("keyfile") || k.ends_with(".path"))
            && !v.starts_with('/')
        {
            problems.push(format!("{what}: {k} must be an absolute path"));
        }
    }
    if seen
        .get("ssl_options.versions.1")
        .is_some_and(|v| v.contains("tlsv1.1") || v == "tlsv1")
    {
        problems.push(format!("{what}: TLS below 1.2 is enabled"));
    }
    problems
}

/// The plugins of an `enabled_plugins` file (an Erlang list: `[a,b].`).
pub fn parse_enabled_plugins(text: &str) -> Result<Vec<String>, String> {
    let body = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix("]."))
        .ok_or("not an Erlang list `[plugin,...].`")?;
    let plugins: Vec<String> = body.split(',').map(|p| p.trim().to_owned()).collect();
    if plugins
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err("plugin names are lowercase atoms separated by commas".into());
    }
    Ok(plugins)
}

/// `rabbitmq.conf` and `enabled_plugins` of `deploy/rabbitmq/`.
pub fn check_conf() -> Problems {
    let mut problems = Problems::new();
    match read(&dir().join("rabbitmq.conf")) {
        Ok(t) => problems.extend(check_conf_text("rabbitmq/rabbitmq.conf", &t)),
        Err(e) => problems.push(e),
    }
    match read(&dir().join("enabled_plugins")).and_then(|t| parse_enabled_plugins(&t)) {
        Ok(plugins) => {
            for needed in ["rabbitmq_federation", "rabbitmq_prometheus"] {
                if !plugins.iter().any(|p| p == needed) {
                    problems.push(format!("rabbitmq/enabled_plugins: {needed} is not enabled"));
                }
            }
        }
        Err(e) => problems.push(format!("rabbitmq/enabled_plugins: {e}")),
    }
    problems
}

/// A setting of `deploy/rabbitmq/rabbitmq.conf`.
pub fn conf_value(key: &str) -> Option<String> {
    let text = read(&dir().join("rabbitmq.conf")).ok()?;
    parse_conf(&text)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
