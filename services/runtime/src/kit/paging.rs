//! The position of a List request: page size and the opaque token of the previous page, bound
//! to the request's filters, and the one way to cut a page and write the next token.
//!
//! Stores fetch `paging.fetch()` rows (one more than the page) after `paging.after`; the
//! handler then calls [`Paging::finish`] on them.

use crate::{error::Violations, pagination};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub size: u64,
    /// The last key of the previous page, as the token carried it.
    pub after: Option<String>,
    scope: String,
}

impl Paging {
    /// Parses `page_size` and `page_token` (violations go to `v` under those names). `scope`
    /// describes the filters, so a token of one query is refused by another.
    pub fn parse(
        v: &mut Violations,
        scope: impl Into<String>,
        page_size: i32,
        page_token: &str,
    ) -> Option<Paging> {
        let scope = scope.into();
        let size = v.check("page_size", pagination::page_size(page_size));
        let after = v.check("page_token", pagination::decode_token(&scope, page_token));
        Some(Paging {
            size: size?,
            after: after?,
            scope,
        })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// The previous page's last key parsed as `T` (a year, a row id), or INVALID_ARGUMENT on
    /// `page_token`.
    pub fn after_as<T: std::str::FromStr>(&self) -> Result<Option<T>, crate::error::ServiceError> {
        self.after
            .as_deref()
            .map(|a| {
                a.parse::<T>().map_err(|_| {
                    crate::error::ServiceError::invalid(
                        "page_token",
                        "not a page token of this list",
                    )
                })
            })
            .transpose()
    }

    /// Cuts the extra row and returns the next page's token (empty on the last page).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as u64 <= self.size {
            return String::new();
        }
        rows.truncate(self.size as usize);
        rows.last()
            .map(|last| pagination::encode_token(&self.scope, &key(last)))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other() {
        let mut v = Violations::default();
        let p = Paging::parse(&mut v, "year=2026", 2, "").unwrap();
        assert_eq!(p.fetch(), 3);
        let mut rows = vec![1, 2, 3];
        let token = p.finish(&mut rows, |r| r.to_string());
        assert_eq!(rows, [1, 2]);
        let next = Paging::parse(&mut v, "year=2026", 2, &token).unwrap();
        assert_eq!(next.after_as::<i32>().unwrap(), Some(2));
        let mut last = vec![3];
        assert_eq!(next.finish(&mut last, |r| r.to_string()), "");
        assert!(v.is_empty());
        assert!(Paging::parse(&mut v, "year=2025", 2, &token).is_none());
        assert!(Paging::parse(&mut v, "year=2026", -1, "").is_none());
        assert!(v.finish().is_err());
    }
}
