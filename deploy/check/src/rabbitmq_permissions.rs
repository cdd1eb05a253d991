//! Who may do what on each broker (issue 12 §1): one user per service of an académie, whose
//! topic permissions cover exactly its own routing keys (write) and the keys its queues bind
//! (read); the national node's user; one federation user per downstream link, which may bind
//! only what is addressed to its académie. Checked by trying routing keys and names against the
//! rendered regexes, as RabbitMQ matches them (anywhere in the name).

use regex::Regex;
use serde_json::Value;

use crate::{
    Problems,
    rabbitmq::{Broker, BrokerKind, EXCHANGES, federated_out},
    str_at,
};

/// The services of an académie node and the queues each declares (`{academy}.` + name; each
/// with its `.dead` queue), as the services' `queue()` functions name them.
pub const SERVICES: &[(&str, &[&str])] = &[
    ("registration", &["registration", "control.registration"]),
    ("training", &["training-regional", "control.training"]),
    ("examination", &["examination", "control.examination"]),
    ("certification", &["certification", "control.certification"]),
    ("reporting", &["control.reporting"]),
    ("figures", &["figures", "control.figures"]),
];

/// The service that folds the académie's own national stream: it binds all of it and, to close
/// a gap, asks its académie's services to publish again (what the national node does).
const FIGURES: &str = "figures";

/// The topic exchanges: a user without a topic permission on one may use any routing key there.
const TOPIC_EXCHANGES: [&str; 4] = [
    "cplds.events",
    "cplds.national",
    "cplds.regional",
    "cplds.control",
];

/// An académie the examples use besides the broker's own, to check nothing of it is allowed.
const OTHER: &str = "lyon";

struct Grants<'a> {
    what: String,
    permission: Option<&'a Value>,
    topics: Vec<&'a Value>,
}

impl Grants<'_> {
    fn regex(&self, entry: Option<&Value>, key: &str, problems: &mut Problems) -> Option<Regex> {
        let text = str_at(entry?, &format!("/{key}"))?;
        match Regex::new(text) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("{}: `{key}` is not a regex: {e}", self.what));
                None
            }
        }
    }

    fn allows(&self, key: &str, name: &str, problems: &mut Problems) -> bool {
        self.regex(self.permission, key, problems)
            .is_some_and(|r| r.is_match(name))
    }

    fn topic(&self, exchange: &str) -> Option<&Value> {
        self.topics
            .iter()
            .copied()
            .find(|t| str_at(t, "/exchange") == Some(exchange))
    }

    /// Whether `routing_key` may be published (`write`) or bound (`read`) on `exchange`.
    fn topic_allows(&self, exchange: &str, key: &str, rk: &str, problems: &mut Problems) -> bool {
        self.regex(self.topic(exchange), key, problems)
            .is_some_and(|r| r.is_match(rk))
    }
}

/// `user`'s entries; `topic_exchanges` are those it must have exactly one topic permission on
/// (every topic exchange it may write to or bind from).
fn grants<'a>(
    what: &str,
    user: &str,
    broker: &'a Broker,
    topic_exchanges: &[&str],
) -> (Grants<'a>, Problems) {
    let mut problems = Problems::new();
    let mut permissions = Vec::new();
    let mut topics = Vec::new();
    for (_, defs) in &broker.files {
        for p in crate::arr_at(defs, "/permissions") {
            if str_at(p, "/user") == Some(user) {
                permissions.push(p);
            }
        }
        for t in crate::arr_at(defs, "/topic_permissions") {
            if str_at(t, "/user") == Some(user) {
                topics.push(t);
            }
        }
    }
    let what = format!("{what}: user {user}");
    match permissions.len() {
        1 => {}
        0 => problems.push(format!("{what} has no permission entry")),
        // RabbitMQ keeps one entry per user and vhost: which one survives an import is chance.
        n => problems.push(format!("{what} has {n} permission entries; one survives")),
    }
    let g = Grants {
        what,
        permission: permissions.first().copied(),
        topics,
    };
    for exchange in topic_exchanges {
        let n = g
            .topics
            .iter()
            .filter(|t| str_at(t, "/exchange") == Some(*exchange))
            .count();
        if n != 1 {
            problems.push(format!(
                "{}: {n} topic permissions on {exchange} (one, or any routing key is allowed there)",
                g.what
            ));
        }
    }
    (g, problems)
}

/// Every check of a broker's users.
pub fn check(what: &str, broker: &Broker) -> Problems {
    let mut problems = Problems::new();
    let (app, federation) = (&broker.users.0, &broker.users.1);
    if app == federation {
        problems.push(format!(
            "{what}: the services' and the federation links' users must have different names"
        ));
    }
    // Every user named in a permission is one of the expected ones, and exists when users are
    // rendered.
    let expected = broker.user_names();
    let rendered: Vec<&str> = broker
        .files
        .iter()
        .flat_map(|(_, d)| crate::arr_at(d, "/users"))
        .filter_map(|u| str_at(u, "/name"))
        .collect();
    for (_, defs) in &broker.files {
        for section in ["/permissions", "/topic_permissions"] {
            for p in crate::arr_at(defs, section) {
                let user = str_at(p, "/user").unwrap_or_default();
                if !expected.iter().any(|e| e == user) {
                    problems.push(format!("{what}: permissions for an unexpected user {user}"));
                } else if !rendered.is_empty() && !rendered.contains(&user) {
                    problems.push(format!("{what}: user {user} is given no users file"));
                }
            }
        }
    }
    match broker.kind {
        BrokerKind::Academy => {
            problems.extend(check_services(what, broker));
            problems.extend(check_link(
                what,
                broker,
                &format!("{federation}-national"),
                "cplds.national",
                &[(
                    &format!("{}.registration.candidacy_registered", broker.academy),
                    true,
                )],
            ));
        }
        BrokerKind::National => problems.extend(check_national_node(what, broker)),
    }
    for (file, _) in &broker.files {
        let Some(down) = file
            .strip_prefix("30-downstream-")
            .and_then(|f| f.strip_suffix(".json"))
        else {
            continue;
        };
        let user = format!("{federation}-{down}");
        let (exchange, own, other) = match broker.kind {
            BrokerKind::Academy => (
                "cplds.regional",
                format!("*.training.training_record_forwarded.{down}"),
                format!("*.training.training_record_forwarded.{OTHER}"),
            ),
            BrokerKind::National => (
                "cplds.control",
                format!("{down}.national.replay_requested"),
                format!("{OTHER}.national.replay_requested"),
            ),
        };
        problems.extend(check_link(
            what,
            broker,
            &user,
            exchange,
            &[(&own, true), (&other, false)],
        ));
    }
    problems
}

/// A federation link's user: configures and writes only `federation: ` objects, reads exactly
/// `exchange` among the broker's, publishes nothing, and binds `keys` as said.
fn check_link(
    what: &str,
    broker: &Broker,
    user: &str,
    exchange: &str,
    keys: &[(&str, bool)],
) -> Problems {
    let (g, mut problems) = grants(what, user, broker, &[exchange]);
    let leaving = federated_out(broker.kind);
    for x in EXCHANGES {
        let may_read = g.allows("read", x, &mut problems);
        if may_read != (*x == exchange) {
            problems.push(format!(
                "{}: {} read {x} (a link reads only {exchange}, one of {leaving:?})",
                g.what,
                if may_read { "may" } else { "may not" }
            ));
        }
        for key in ["configure", "write"] {
            if g.allows(key, x, &mut problems) {
                problems.push(format!(
                    "{}: may {key} {x}; it needs only its own `federation: ` objects",
                    g.what
                ));
            }
        }
    }
    for (rk, allowed) in keys {
        if g.topic_allows(exchange, "read", rk, &mut problems) != *allowed {
            problems.push(format!(
                "{}: {} bind {rk} on {exchange}",
                g.what,
                if *allowed { "may not" } else { "may" }
            ));
        }
        if g.topic_allows(exchange, "write", rk, &mut problems) {
            problems.push(format!("{}: may publish {rk} on {exchange}", g.what));
        }
    }
    problems
}

/// Each service of the académie: a user of its own, publishing exactly its own routing keys,
/// configuring only its own queues.
fn check_services(what: &str, broker: &Broker) -> Problems {
    let mut problems = Problems::new();
    let a = &broker.academy;
    for (service, queues) in SERVICES {
        let (g, p) = grants(
            what,
            &format!("{}-{service}", broker.users.0),
            broker,
            &TOPIC_EXCHANGES,
        );
        problems.extend(p);
        let mut p = Problems::new();
        for (other, other_queues) in SERVICES {
            let own = other == service;
            for exchange in ["cplds.events", "cplds.national"] {
                for (rk, allowed) in [
                    (format!("{a}.{other}.some_event"), own),
                    (format!("{OTHER}.{other}.some_event"), false),
                ] {
                    if g.topic_allows(exchange, "write", &rk, &mut p) != allowed {
                        p.push(format!(
                            "{}: {} publish {rk} on {exchange}",
                            g.what,
                            if allowed { "may not" } else { "may" }
                        ));
                    }
                }
            }
            let rk = format!("{a}.{other}.training_record_forwarded.{OTHER}");
            if g.topic_allows("cplds.regional", "write", &rk, &mut p)
                != (own && *service == "training")
            {
                p.push(format!("{}: publishing {rk} on cplds.regional", g.what));
            }
            if !own {
                for q in other_queues.iter().filter(|q| !queues.contains(q)) {
                    let name = format!("{a}.{q}");
                    if g.allows("configure", &name, &mut p) || g.allows("read", &name, &mut p) {
                        p.push(format!("{}: may configure or read {name}", g.what));
                    }
                }
            }
        }
        for q in *queues {
            for name in [format!("{a}.{q}"), format!("{a}.{q}.dead")] {
                for key in ["configure", "write", "read"] {
                    if !g.allows(key, &name, &mut p) {
                        p.push(format!("{}: may not {key} its queue {name}", g.what));
                    }
                }
            }
        }
        let folds = *service == FIGURES;
        for (replay, allowed) in [
            (format!("{a}.national.replay_requested"), folds),
            (format!("{OTHER}.national.replay_requested"), false),
        ] {
            if g.topic_allows("cplds.control", "write", &replay, &mut p) != allowed {
                p.push(format!(
                    "{}: {} publish {replay}",
                    g.what,
                    if allowed { "may not" } else { "may" }
                ));
            }
        }
        for (binding, allowed) in [(format!("{a}.#"), folds), (format!("{OTHER}.#"), false)] {
            if g.topic_allows("cplds.national", "read", &binding, &mut p) != allowed {
                p.push(format!(
                    "{}: {} bind {binding} on cplds.national",
                    g.what,
                    if allowed { "may not" } else { "may" }
                ));
            }
        }
        problems.extend(p);
    }
    problems
}

/// The national node: publishes replay requests only, reads the national stream.
fn check_national_node(what: &str, broker: &Broker) -> Problems {
    let (g, mut problems) = grants(what, &broker.users.0, broker, &TOPIC_EXCHANGES);
    let mut p = Problems::new();
    for (rk, exchange, allowed) in [
        ("toulouse.national.replay_requested", "cplds.control", true),
        (
            "toulouse.registration.candidacy_registered",
            "cplds.national",
            false,
        ),
        (
            "toulouse.registration.candidacy_registered",
            "cplds.control",
            false,
        ),
    ] {
        if g.topic_allows(exchange, "write", rk, &mut p) != allowed {
            p.push(format!("{}: publishing {rk} on {exchange}", g.what));
        }
    }
    if !g.topic_allows("cplds.national", "read", "#", &mut p) {
        p.push(format!("{}: may not bind the national stream", g.what));
    }
    if g.allows("configure", "toulouse.registration", &mut p) {
        p.push(format!("{}: may configure an académie's queue", g.what));
    }
    problems.extend(p);
    problems
}
