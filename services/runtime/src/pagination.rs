//! Opaque page tokens and page sizes for List methods (keyset pagination on a sortable id).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;

/// Page size per the usual gRPC conventions: unset means the default, above the maximum is
/// lowered to it, negative is an error.
pub fn page_size(requested: i32) -> Result<u64, String> {
    match requested {
        n if n < 0 => Err("must not be negative".into()),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u64).min(MAX_PAGE_SIZE)),
    }
}

/// The token is bound to the list's filters: a token from one query is refused by another.
pub fn encode_token(scope: &str, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1\n{scope}\n{last_key}"))
}

/// Returns the last key of the previous page, or `None` for the first page.
pub fn decode_token(scope: &str, token: &str) -> Result<Option<String>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| "not a page token of this list".to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "not a page token of this list".to_string())?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(s), Some(key)) if s == scope => Ok(Some(key.to_owned())),
        (Some("v1"), Some(_), Some(_)) => Err("page token was issued for other filters".into()),
        _ => Err("not a page token of this list".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scope() {
        let t = encode_token("year=2025;status=1", "0191-abc");
        assert_eq!(
            decode_token("year=2025;status=1", &t).unwrap().as_deref(),
            Some("0191-abc")
        );
        assert!(decode_token("year=2024;status=1", &t).is_err());
        assert!(decode_token("x", "%%%").is_err());
        assert_eq!(decode_token("x", "").unwrap(), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert!(page_size(-1).is_err());
    }
}
