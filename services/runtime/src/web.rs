//! The node's public pages (plain HTTP/1.1 on `http_listen`): what people reach without a gRPC
//! client, such as the verification a certificate's QR code points at. Services add routes
//! ([`crate::host::Mount::add_http`]); the layers, error mapping and page frame live here once.
//!
//! TLS and rate limiting belong to the reverse proxy in front (deploy/README.md): these pages are
//! public and unauthenticated, and answer only what is printed on the documents they verify.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;

use axum::{
    Json, Router,
    extract::{MatchedPath, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
};
use serde::Serialize;
use tracing::Instrument;

use crate::{config::Config, error::ServiceError};

/// Where public pages are served when `documents.verification_base_url` is unset.
pub const DEFAULT_PATH: &str = "/verify";

/// The public address of a node's pages, as printed in documents' QR codes: the configured
/// `documents.verification_base_url`, else the node's own `http_listen` address (fine on one
/// machine and in tests; not when it listens on every interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase {
    url: String,
    path: String,
}

impl PublicBase {
    pub fn resolve(config: &Config, http_addr: Option<SocketAddr>) -> anyhow::Result<Option<Self>> {
        let url = match config.documents.verification_base_url.as_deref() {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                anyhow::bail!("documents.verification_base_url must be an http(s) URL, got {url:?}")
            }
            None => match http_addr {
                Some(a) if !a.ip().is_unspecified() => format!("http://{a}{DEFAULT_PATH}"),
                _ => return Ok(None),
            },
        };
        let path = url
            .parse::<axum::http::Uri>()
            .with_context(|| format!("documents.verification_base_url {url:?}"))?
            .path()
            .trim_end_matches('/')
            .to_owned();
        Ok(Some(Self { url, path }))
    }

    /// Without a trailing slash: `https://cplds.ac-toulouse.fr/verify`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The path pages are routed under (`/verify`; empty at the root).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The path to route pages under: the public base's, or [`DEFAULT_PATH`].
pub fn route_prefix(base: Option<&PublicBase>) -> &str {
    base.map_or(DEFAULT_PATH, PublicBase::path)
}

/// Tracing, a deadline and the headers every public page carries.
///
/// Spans name the route (`/verify/{number}`), never the path itself: what people look up is not
/// logged or exported.
pub fn layers(router: Router, config: &Config) -> Router {
    let timeout = Duration::from_millis(config.server.request_timeout_ms);
    router
        .route_layer(middleware::from_fn(move |req: Request, next: Next| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(String::new, |p| p.as_str().to_owned());
            let span = tracing::info_span!("http", method = %req.method(), route = %route);
            async move {
                let res = match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(res) => res,
                    Err(_) => problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the request took too long; try again",
                        Vec::new(),
                    ),
                };
                let status = res.status();
                if status.is_server_error() {
                    tracing::warn!(%status, "public page failed");
                } else {
                    tracing::debug!(%status, "public page");
                }
                res
            }
            .instrument(span)
        }))
        .layer(middleware::from_fn(|req: Request, next: Next| async move {
            let mut res = next.run(req).await;
            let h = res.headers_mut();
            for (name, value) in [
                // Pages are self-contained: no script, no outside resource.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                // The verified number is in the URL: it must not leak to another site.
                (header::REFERRER_POLICY, "no-referrer"),
            ] {
                h.insert(name, HeaderValue::from_static(value));
            }
            res
        }))
}

#[derive(Serialize)]
struct Problem {
    status: u16,
    title: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<ProblemField>,
}

#[derive(Serialize)]
struct ProblemField {
    field: String,
    rule: String,
}

fn problem(status: StatusCode, title: &str, violations: Vec<ProblemField>) -> Response {
    let mut res = (
        status,
        Json(Problem {
            status: status.as_u16(),
            title: title.to_owned(),
            violations,
        }),
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// A service error as an RFC 9457 problem: the same codes as the gRPC statuses, mapped once.
pub fn error_response(err: ServiceError) -> Response {
    let status = match &err {
        ServiceError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        ServiceError::FailedPrecondition { .. } | ServiceError::AlreadyExists(_) => {
            StatusCode::CONFLICT
        }
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    match err {
        ServiceError::InvalidArgument(violations) => problem(
            status,
            "invalid request",
            violations
                .into_iter()
                .map(|v| ProblemField {
                    field: v.field,
                    rule: v.description,
                })
                .collect(),
        ),
        ServiceError::Internal(m) => {
            tracing::error!(error = %m, "internal error");
            problem(status, "internal error", Vec::new())
        }
        other => problem(status, &other.to_string(), Vec::new()),
    }
}

/// Whether the caller asked for JSON (`Accept: application/json`, or `?format=json`) rather
/// than a page.
pub fn wants_json(headers: &HeaderMap, format: Option<&str>) -> bool {
    match format {
        Some(f) => f.eq_ignore_ascii_case("json"),
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/json") && !v.contains("text/html")),
    }
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page in French around `body` (already escaped HTML).
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>\n"
    );
    let mut res = (status, Html(html)).into_response();
    // Status changes (revocation): never serve a stale answer.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f5f5f7;color:#1b1b1b}\
main{max-width:42rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}\
dt{font-weight:600}.status{font-size:1.2rem;font-weight:700;padding:.6rem 1rem;border-radius:.4rem}\
.valid{background:#dff5e3;color:#135c22}.revoked,.invalid{background:#fde2e1;color:#8a1c15}\
.unknown{background:#fff3cd;color:#6b4e00}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_base_comes_from_configuration_or_the_listener() {
        let mut c = Config::default();
        let local = Some(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let b = PublicBase::resolve(&c, local).unwrap().unwrap();
        assert_eq!(
            (b.url(), b.path()),
            ("http://127.0.0.1:8080/verify", "/verify")
        );
        assert_eq!(PublicBase::resolve(&c, None).unwrap(), None);
        let anywhere = Some(SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(
            PublicBase::resolve(&c, anywhere).unwrap(),
            None,
            "no public name"
        );
        c.documents.verification_base_url = Some("https://cplds.ac-lyon.fr/certificats/".into());
        let b = PublicBase::resolve(&c, local).unwrap().unwrap();
        assert_eq!(
            (b.url(), b.path()),
            ("https://cplds.ac-lyon.fr/certificats", "/certificats")
        );
        c.documents.verification_base_url = Some("https://cplds.ac-lyon.fr".into());
        let b = PublicBase::resolve(&c, None).unwrap().unwrap();
        assert_eq!(
            (route_prefix(Some(&b)), route_prefix(None)),
            ("", "/verify")
        );
        c.documents.verification_base_url = Some("cplds.ac-lyon.fr/verify".into());
        assert!(PublicBase::resolve(&c, None).is_err());
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b a="1">O'Neil & co</b>"#),
            "&lt;b a=&quot;1&quot;&gt;O&#39;Neil &amp; co&lt;/b&gt;"
        );
    }

    #[test]
    fn json_is_asked_by_header_or_parameter() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h, None));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_json(&h, None));
        assert!(!wants_json(&h, Some("html")));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,application/json;q=0.9"),
        );
        assert!(!wants_json(&h, None), "browsers get the page");
        assert!(wants_json(&h, Some("JSON")));
    }

    #[tokio::test]
    async fn every_answer_carries_the_headers_and_slow_pages_are_cut() {
        use axum::{body::Body, routing::get};
        use tower::ServiceExt;

        let config = Config {
            server: crate::config::ServerConfig {
                request_timeout_ms: 50,
                ..Default::default()
            },
            ..Default::default()
        };
        let router = layers(
            Router::new().route("/fast", get(|| async { "ok" })).route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            ),
            &config,
        );
        let call = |path: &'static str| {
            router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        for (path, status) in [
            ("/fast", StatusCode::OK),
            ("/nowhere", StatusCode::NOT_FOUND),
            ("/slow", StatusCode::SERVICE_UNAVAILABLE),
        ] {
            let res = call(path).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
            assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(res.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }

    #[test]
    fn errors_keep_their_code_and_fields() {
        let res = error_response(ServiceError::invalid("number", "must look like CPLDS-…"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(
            error_response(ServiceError::not_found("x")).status(),
            StatusCode::NOT_FOUND
        );
    }
}
