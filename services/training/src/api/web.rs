//! The public page a training attestation's QR code leads to: the answer of the public
//! `VerifyAttestation`, as a page for people and as JSON for programs, under the public base
//! path shared with certificates: `GET {base}/attestations/{number}?code=…` (what the QR code
//! holds; `?sha256=` to check a PDF; `?format=json` or `Accept: application/json` for JSON).
//! By the number alone the page says only whether it was issued. 404 when no such attestation
//! was issued here.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    error::ServiceError,
    web::{error_response, escape, page, wants_json},
};
use serde::{Deserialize, Serialize};

use super::Inner;
use crate::domain::format_minutes;

pub(super) fn routes(inner: Arc<Inner>, prefix: &str) -> Router {
    Router::new()
        .route(&format!("{prefix}/attestations/{{number}}"), get(verify))
        .with_state(inner)
}

#[derive(Deserialize)]
struct Params {
    sha256: Option<String>,
    code: Option<String>,
    format: Option<String>,
}

#[derive(Serialize)]
struct Verification {
    status: &'static str,
    number: String,
    explanation: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    holder_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    academy: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    home_academy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    school_year: Option<i32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    cohort_title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    minutes: Option<u32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    issue_date: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    sha256: String,
}

fn status(v: &pb::AttestationVerification) -> (&'static str, StatusCode) {
    match pb::AttestationVerificationStatus::try_from(v.status) {
        Ok(pb::AttestationVerificationStatus::Valid) => ("valid", StatusCode::OK),
        Ok(pb::AttestationVerificationStatus::Altered) => ("altered", StatusCode::OK),
        _ => ("unknown", StatusCode::NOT_FOUND),
    }
}

/// Hours of the three kinds of module: what the attestation totals.
fn total_minutes(h: &pb::TrainingHours) -> u32 {
    h.theory_minutes + h.deepening_minutes + h.practical_minutes
}

async fn verify(
    State(inner): State<Arc<Inner>>,
    Path(number): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers, params.format.as_deref());
    let request = pb::VerifyAttestationRequest {
        number,
        sha256: params.sha256.unwrap_or_default(),
        code: params.code.unwrap_or_default(),
    };
    match (inner.verify_attestation(None, request).await, json) {
        (Ok(v), true) => {
            let (name, code) = status(&v);
            // What it states came back only for whoever gave its code or checksum.
            let found = !v.holder_name.is_empty();
            let body = Verification {
                status: name,
                minutes: v.hours.as_ref().filter(|_| found).map(total_minutes),
                school_year: found.then_some(v.school_year),
                number: v.number,
                explanation: v.explanation,
                holder_name: v.holder_name,
                academy: v.academy,
                home_academy: v.home_academy,
                cohort_title: v.cohort_title,
                issue_date: v.issue_date,
                sha256: v.sha256,
            };
            (code, Json(body)).into_response()
        }
        (Ok(v), false) => verification_page(&v),
        (Err(e @ ServiceError::InvalidArgument(_)), false) => page(
            StatusCode::BAD_REQUEST,
            "Numéro d'attestation non valable",
            &format!(
                "<p class=\"status invalid\">{}</p><p>Le numéro figure en bas de l'attestation, \
                 par exemple ATT-TOULOUSE-2025-0007, et le code de vérification sous son QR \
                 code.</p>",
                escape(&e.to_string())
            ),
        ),
        (Err(e), _) => error_response(e),
    }
}

fn verification_page(v: &pb::AttestationVerification) -> Response {
    let (name, code) = status(v);
    let shown = !v.holder_name.is_empty();
    let heading = match name {
        "valid" if !shown => "Attestation de formation délivrée",
        "valid" => "Attestation de formation authentique",
        "altered" => "Document non conforme",
        _ => "Attestation inconnue",
    };
    let class = match name {
        "valid" => "valid",
        "altered" => "invalid",
        _ => "unknown",
    };
    let mut body = format!(
        "<p class=\"status {class}\">{heading}</p><p>{}</p>",
        escape(&v.explanation)
    );
    if name == "valid" && !shown {
        // The number alone: the code printed under the QR code shows the rest.
        body.push_str(
            "<form method=\"get\"><p><label for=\"code\">Code de vérification</label> \
             <input id=\"code\" name=\"code\" required size=\"22\" \
             placeholder=\"7KQ2-M9XD-A4TB-H3NW\"> <button type=\"submit\">Vérifier</button>\
             </p></form>",
        );
    }
    if shown {
        let year = format!("{}-{}", v.school_year, v.school_year + 1);
        let hours = v
            .hours
            .as_ref()
            .map(|h| format_minutes(total_minutes(h)))
            .unwrap_or_default();
        body.push_str("<dl>");
        for (label, value) in [
            ("Numéro", v.number.as_str()),
            ("Titulaire", v.holder_name.as_str()),
            ("Formation", v.cohort_title.as_str()),
            ("Année scolaire", year.as_str()),
            ("Heures suivies", hours.as_str()),
            ("Délivrée le", v.issue_date.as_str()),
        ] {
            body.push_str(&format!("<dt>{label}</dt><dd>{}</dd>", escape(value)));
        }
        body.push_str(
            "</dl><p>Ces mentions doivent être celles du document présenté. Son empreinte \
             SHA-256 (<code>sha256sum</code>) peut être comparée avec celle de l'attestation \
             délivrée : ajoutez <code>?sha256=…</code> à l'adresse de cette page.</p>",
        );
    }
    page(code, heading, &body)
}
