//! Nothing secret in `deploy/`: example Secrets hold placeholders only, and no file holds a
//! private key.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::{PLACEHOLDER_MARKER, Problems, all_files, read, rel};

/// A PEM private key with a body: the BEGIN line followed by a line of base64.
fn private_key_pem() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        crate::literal_regex(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\s*\r?\n\s*[A-Za-z0-9+/=]{32,}")
    })
}

/// Whether a text holds something that looks like a real private key.
pub fn holds_private_key(text: &str) -> bool {
    private_key_pem().is_match(text)
}

/// A long run of base64 or hex, as a raw key or token would be (placeholders are words).
fn looks_like_raw_secret(text: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| crate::literal_regex(r"[A-Za-z0-9+/=_-]{40,}"))
        .is_match(text)
}

/// An example Secret (one manifest document): every value is a placeholder.
pub fn check_placeholder_secret(what: &str, secret: &Value) -> Problems {
    let mut problems = Problems::new();
    if secret.get("data").is_some() {
        problems.push(format!(
            "{what}: example Secrets use stringData placeholders, not base64 `data`"
        ));
    }
    let name = crate::str_at(secret, "/metadata/name").unwrap_or("?");
    if let Some(entries) = secret.get("stringData").and_then(Value::as_object) {
        for (key, value) in entries {
            let text = value.as_str().unwrap_or_default();
            if holds_private_key(text) {
                problems.push(format!(
                    "{what}: Secret {name} key {key} holds what looks like a real private key"
                ));
            }
            if !text.contains(PLACEHOLDER_MARKER) {
                problems.push(format!(
                    "{what}: Secret {name} key {key} is not marked as a placeholder ({PLACEHOLDER_MARKER})"
                ));
            }
            if looks_like_raw_secret(text) {
                problems.push(format!(
                    "{what}: Secret {name} key {key} holds a long encoded string, not a placeholder"
                ));
            }
        }
    }
    problems
}

/// No file of `deploy/` holds a private key.
pub fn scan_for_private_keys() -> Problems {
    let mut problems = Problems::new();
    for path in all_files() {
        if let Ok(text) = read(&path)
            && holds_private_key(&text)
        {
            problems.push(format!(
                "{}: holds what looks like a private key; keys never enter the repository",
                rel(&path)
            ));
        }
    }
    problems
}
