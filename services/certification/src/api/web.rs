//! The public verification pages, where a certificate's QR code leads: the same answers as the
//! public gRPC methods, as a page for people and as JSON for programs. Under the path of
//! `documents.verification_base_url` (default `/verify`):
//!
//! - `GET {base}/{number}?code=…` (what the QR code holds; or `GET {base}?number=…&code=…` from
//!   the form at `GET {base}`): the verification; 404 when no such certificate was issued here.
//!   Without the code, only valid or revoked, and a form asking for it.
//! - `POST {base}` with a credential (JSON) as the body: its proof, then the registry (JSON).
//! - `GET {base}/status-list`: the signed Bitstring Status List credential, cacheable.
//! - `GET {base}/keys`: the académie's signing keys with their history.
//! - `GET {base}/did.json` (or `/.well-known/did.json` when the base is a bare host): the DID
//!   document of the académie's did:web, every key under `assertionMethod`
//!   ([`crate::domain::did_web`]).
//!
//! Every page passes the node's public gate first ([`super::limits`]): 429 beyond it.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    error::ServiceError,
    time::from_timestamp,
    web::{error_response, escape, page, wants_json},
};
use serde::{Deserialize, Serialize};

use super::{Inner, STATUS_LIST_TTL_HOURS, limits::PublicGate, verification::parse_code};
use crate::domain::{
    certificate::RevocationReason, credential::MAX_CREDENTIAL_BYTES, verification::Evidence,
};

/// The routes under `prefix` (a path such as `/verify`, or empty for the root), and the DID
/// document at `did_path` when the node has a public address, behind `gate`.
pub(super) fn routes(
    inner: Arc<Inner>,
    prefix: &str,
    did_path: Option<&str>,
    gate: Arc<PublicGate>,
) -> Router {
    let root = if prefix.is_empty() { "/" } else { prefix };
    let mut router = Router::new();
    if let Some(path) = did_path {
        router = router.route(path, get(did_document));
    }
    router
        .route(root, get(form_or_verify).post(verify_credential))
        .route(&format!("{prefix}/status-list"), get(status_list))
        .route(&format!("{prefix}/keys"), get(keys))
        .route(&format!("{prefix}/{{number}}"), get(verify_number))
        .layer(DefaultBodyLimit::max(MAX_CREDENTIAL_BYTES))
        .route_layer(middleware::from_fn_with_state(
            gate,
            super::limits::gate_pages,
        ))
        .with_state(inner)
}

#[derive(Deserialize)]
struct Params {
    number: Option<String>,
    code: Option<String>,
    format: Option<String>,
}

async fn verify_number(
    State(inner): State<Arc<Inner>>,
    Path(number): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers, params.format.as_deref());
    by_number(&inner, &number, params.code.as_deref(), json).await
}

async fn form_or_verify(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers, params.format.as_deref());
    match params.number.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => by_number(&inner, n, params.code.as_deref(), json).await,
        _ if json => error_response(ServiceError::invalid(
            "number",
            "a certificate number is required",
        )),
        _ => page(
            StatusCode::OK,
            &format!("Vérifier un certificat CPLDS — {}", inner.academy.name),
            &format!("{}{FOOTER}", form("", "")),
        ),
    }
}

async fn by_number(inner: &Inner, number: &str, code: Option<&str>, json: bool) -> Response {
    let parsed = super::parse_number("number", number)
        .and_then(|n| Ok((n, parse_code(code.unwrap_or_default())?)));
    let result = match parsed {
        Ok((n, code)) => {
            let evidence = code.as_ref().map_or(Evidence::Nothing, Evidence::Code);
            inner.verify_number(n, evidence).await
        }
        Err(e) => Err(e),
    };
    match (result, json) {
        (Ok(v), true) => {
            let status = http_status(&v);
            (status, Json(Verification::from(v))).into_response()
        }
        (Ok(v), false) => verification_page(&v),
        (Err(e @ ServiceError::InvalidArgument(_)), false) => page(
            StatusCode::BAD_REQUEST,
            "Numéro de certificat non valable",
            &format!(
                "<p class=\"status invalid\">{}</p><p>Le numéro figure sous le titre du certificat, \
                 par exemple CPLDS-TOULOUSE-2025-000012, et le code de vérification sous le QR \
                 code.</p>{}{FOOTER}",
                escape(&e.to_string()),
                form("", ""),
            ),
        ),
        (Err(e), _) => error_response(e),
    }
}

async fn verify_credential(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return error_response(ServiceError::invalid(
            "credential_json",
            "must be UTF-8 JSON",
        ));
    };
    match inner.verify_credential(text).await {
        Ok(v) => (http_status(&v), Json(Verification::from(v))).into_response(),
        Err(e) => error_response(e),
    }
}

async fn status_list(State(inner): State<Arc<Inner>>) -> Response {
    match inner.status_list().await {
        Ok(list) => {
            let mut res = list.credential_json.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vc"),
            );
            // Shorter than the list's own validity: a revocation shows within the hour.
            if let Ok(v) = HeaderValue::from_str(&format!(
                "public, max-age={}",
                3600.min(STATUS_LIST_TTL_HOURS * 3600)
            )) {
                h.insert(header::CACHE_CONTROL, v);
            }
            res
        }
        Err(e) => error_response(e),
    }
}

async fn did_document(State(inner): State<Arc<Inner>>) -> Response {
    match inner.did_document().await {
        Ok(Some(document)) => {
            let mut res = Json(document).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/did+ld+json"),
            );
            // A new key is used from the node's next start: verifiers must see it soon.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            res
        }
        Ok(None) => error_response(ServiceError::not_found("the DID document")),
        Err(e) => error_response(e),
    }
}

#[derive(Serialize)]
struct Key {
    key_id: String,
    status: &'static str,
    multikey: String,
    verification_method: String,
    public_key_pem: String,
    first_seen: Option<String>,
    retired: Option<String>,
}

#[derive(Serialize)]
struct Keys {
    academy: String,
    keys: Vec<Key>,
}

async fn keys(State(inner): State<Arc<Inner>>) -> Response {
    match inner.signing_keys().await {
        Ok(list) => Json(Keys {
            academy: list.academy,
            keys: list
                .keys
                .into_iter()
                .map(|k| Key {
                    status: if k.status == pb::SigningKeyStatus::Current as i32 {
                        "current"
                    } else {
                        "retired"
                    },
                    first_seen: instant(k.first_seen_time.as_ref()),
                    retired: instant(k.retire_time.as_ref()),
                    key_id: k.key_id,
                    multikey: k.multikey,
                    verification_method: k.verification_method,
                    public_key_pem: k.public_key_pem,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => error_response(e),
    }
}

fn instant(t: Option<&prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| from_timestamp(t).ok())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn http_status(v: &pb::CertificateVerification) -> StatusCode {
    if v.status == pb::VerificationStatus::Unknown as i32 {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    }
}

/// The JSON answer: the gRPC message's fields, with names for the enums.
#[derive(Serialize)]
struct Verification {
    status: &'static str,
    number: String,
    explanation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<Statement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation: Option<Revocation>,
    #[serde(skip_serializing_if = "String::is_empty")]
    key_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    key_retired: bool,
}

#[derive(Serialize)]
struct Statement {
    number: String,
    holder_name: String,
    title: String,
    academy: String,
    academy_name: String,
    year: i32,
    admission_date: String,
    issue_date: String,
    signatory: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    last_duplicate_date: String,
}

#[derive(Serialize)]
struct Revocation {
    revoked: Option<String>,
    reason: Option<&'static str>,
}

fn status_name(status: i32) -> &'static str {
    match pb::VerificationStatus::try_from(status) {
        Ok(pb::VerificationStatus::Valid) => "valid",
        Ok(pb::VerificationStatus::Revoked) => "revoked",
        Ok(pb::VerificationStatus::Invalid) => "invalid",
        _ => "unknown",
    }
}

fn reason(r: &pb::Revocation) -> Option<RevocationReason> {
    super::convert::reason(r.reason).ok()
}

impl From<pb::CertificateVerification> for Verification {
    fn from(v: pb::CertificateVerification) -> Self {
        Self {
            status: status_name(v.status),
            number: v.number,
            explanation: v.explanation,
            statement: v.statement.map(|s| Statement {
                number: s.number,
                holder_name: s.holder_name,
                title: s.title,
                academy: s.academy,
                academy_name: s.academy_name,
                year: s.year,
                admission_date: s.admission_date,
                issue_date: s.issue_date,
                signatory: s.signatory,
                last_duplicate_date: s.last_duplicate_date,
            }),
            revocation: v.revocation.as_ref().map(|r| Revocation {
                revoked: instant(r.revoke_time.as_ref()),
                reason: reason(r).map(RevocationReason::as_str),
            }),
            key_id: v.key_id,
            key_retired: v.key_retired,
        }
    }
}

/// "2025-07-03" as printed: "03/07/2025".
fn date_fr(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}

fn verification_page(v: &pb::CertificateVerification) -> Response {
    let (class, heading) = match pb::VerificationStatus::try_from(v.status) {
        Ok(pb::VerificationStatus::Valid) => ("valid", "Certificat valide"),
        Ok(pb::VerificationStatus::Revoked) => ("revoked", "Certificat révoqué"),
        Ok(pb::VerificationStatus::Invalid) => ("invalid", "Document non valable"),
        _ => ("unknown", "Certificat inconnu"),
    };
    let mut body = format!(
        "<p class=\"status {class}\">{heading}</p><p>{}</p>",
        escape(&v.explanation)
    );
    // By the number alone (or a mistyped code): ask for the code printed beside it.
    let known = matches!(
        pb::VerificationStatus::try_from(v.status),
        Ok(pb::VerificationStatus::Valid
            | pb::VerificationStatus::Revoked
            | pb::VerificationStatus::Invalid)
    );
    if known && v.statement.is_none() {
        body.push_str(&form(&v.number, ""));
    }
    if let Some(s) = &v.statement {
        let mut rows = vec![
            ("Numéro", s.number.clone()),
            ("Titulaire", s.holder_name.clone()),
            ("Intitulé", s.title.clone()),
            ("Académie", s.academy_name.clone()),
            ("Session", s.year.to_string()),
            ("Admission le", date_fr(&s.admission_date)),
            ("Délivré le", date_fr(&s.issue_date)),
            ("Signataire", s.signatory.clone()),
        ];
        if !s.last_duplicate_date.is_empty() {
            rows.push(("Duplicata du", date_fr(&s.last_duplicate_date)));
        }
        if let Some(r) = &v.revocation {
            if let Some(at) = r.revoke_time.as_ref().and_then(|t| from_timestamp(t).ok()) {
                rows.push((
                    "Révoqué le",
                    cplds_runtime::time::paris_date(at)
                        .format("%d/%m/%Y")
                        .to_string(),
                ));
            }
            if let Some(reason) = reason(r) {
                rows.push(("Motif", reason.label_fr().to_owned()));
            }
        }
        body.push_str("<dl>");
        for (label, value) in rows {
            body.push_str(&format!("<dt>{label}</dt><dd>{}</dd>", escape(&value)));
        }
        body.push_str(
            "</dl><p>Ces mentions doivent être exactement celles du document présenté : \
             un document modifié ne les reproduit pas.</p>",
        );
    }
    body.push_str(FOOTER);
    let status = http_status(v);
    page(status, heading, &body)
}

/// The form: the number and the code printed on the certificate.
fn form(number: &str, code: &str) -> String {
    format!(
        "<form method=\"get\"><p><label for=\"number\">Numéro du certificat</label> \
         <input id=\"number\" name=\"number\" required size=\"30\" value=\"{}\" \
         placeholder=\"CPLDS-TOULOUSE-2025-000012\"></p><p><label for=\"code\">Code de \
         vérification</label> <input id=\"code\" name=\"code\" size=\"22\" value=\"{}\" \
         placeholder=\"7KQ2-M9XD-A4TB-H3NW\" autocomplete=\"off\"> <button>Vérifier</button></p></form>",
        escape(number),
        escape(code),
    )
}

const FOOTER: &str = "<p><small>Vérification hors ligne : la liste des révocations (<code>status-list</code>) et \
     les clés de signature de l'académie (<code>keys</code>) sont publiées à côté de cette page. \
     Cette page n'enregistre pas les numéros vérifiés.</small></p>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_on_the_certificate() {
        assert_eq!(date_fr("2025-07-03"), "03/07/2025");
        assert_eq!(date_fr("not a date"), "not a date");
    }

    #[test]
    fn a_page_never_carries_raw_markup_from_data() {
        let v = pb::CertificateVerification {
            status: pb::VerificationStatus::Valid as i32,
            number: "CPLDS-TOULOUSE-2025-000001".into(),
            explanation: "ok".into(),
            statement: Some(pb::CertificateStatement {
                holder_name: "<script>x</script>".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let res = verification_page(&v);
        assert_eq!(res.status(), StatusCode::OK);
        let body = futures_body(res);
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!body.contains("<script>"));
    }

    fn futures_body(res: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(axum::body::to_bytes(res.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
