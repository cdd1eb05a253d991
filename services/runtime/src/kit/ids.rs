//! Identifiers in requests: every service's records are keyed by UUIDs, written in their
//! canonical lowercase form. One parser, so every service says the same thing about a bad one.

use uuid::Uuid;

/// A required identifier: "is required" when empty, "is not an identifier" when malformed;
/// the canonical text otherwise.
pub fn parse_id(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is required".into());
    }
    Uuid::parse_str(s)
        .map(|u| u.to_string())
        .map_err(|_| format!("{s:?} is not an identifier"))
}

/// An optional identifier (a filter): empty means none.
pub fn parse_optional_id(s: &str) -> Result<Option<String>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(s).map(Some)
    }
}

/// A fresh identifier for a new record: time-ordered, so keyset pages follow creation order.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("  ").unwrap_err(), "is required");
        assert!(parse_id("x").unwrap_err().contains("not an identifier"));
        let id = new_id();
        assert_eq!(parse_id(&id.to_uppercase()).unwrap(), id);
        assert_eq!(parse_optional_id("").unwrap(), None);
    }
}
