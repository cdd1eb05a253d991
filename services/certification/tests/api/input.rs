//! Bad input is named (every offending field) and changes nothing.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{authed, bad_fields};
use tonic::Code;

use crate::helpers::{Backend, credential_req, number_req, start, status};

on_both!(
    bad_issuing_and_listing_fields_are_named,
    malformed_numbers_are_named,
    malformed_credentials_are_named,
    a_json_object_that_is_not_a_signed_certificate_is_not_valid,
    an_unknown_certificate_is_not_found,
);

async fn bad_issuing_and_listing_fields_are_named(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let err = t
        .client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: 2016,
                signatory_name: "Anne\u{7}Dupont".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["year", "signatory_name"]);
    let recteur = t.recteur.clone();
    let err = t
        .list(
            pb::ListCertificatesRequest {
                year: 1999,
                state: 42,
                page_size: -1,
                page_token: "garbage".into(),
            },
            &recteur,
        )
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["year", "state", "page_size", "page_token"]
    );
}

async fn malformed_numbers_are_named(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let recteur = t.recteur.clone();
    for number in ["", "CPLDS-TOULOUSE-25-1", "CPLDS-GOTHAM-2025-000001"] {
        let err = t.get(number, &recteur).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{number:?}");
        assert_eq!(bad_fields(&err), ["number"]);
        let err = t
            .client
            .verify_certificate(number_req(number))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["number"]);
    }
    let err = t
        .client
        .verify_certificate(pb::VerifyCertificateRequest {
            subject: None,
            code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["number"]);
}

async fn malformed_credentials_are_named(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    for json in ["not json", "[1, 2]", r#"{"a": 1, "a": 2}"#] {
        let err = t
            .client
            .verify_certificate(credential_req(json))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["credential_json"], "{json}");
    }
    // Just under the service's decode limit: read, and refused for its size.
    let err = t
        .client
        .verify_certificate(credential_req(&format!(
            r#"{{"x": "{}"}}"#,
            "a".repeat(65_600)
        )))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["credential_json"]);
    // Beyond it (no credential is that large): refused from the message's length prefix,
    // before the message is read (the node's general limit is 8 MiB).
    let err = t
        .client
        .verify_certificate(credential_req(&"a".repeat(70_000)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(err.message().contains("too large"), "{}", err.message());
}

async fn a_json_object_that_is_not_a_signed_certificate_is_not_valid(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let v = t
        .verify(credential_req(
            r#"{"id": "urn:cplds:certificate:CPLDS-TOULOUSE-2025-000001"}"#,
        ))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert_eq!(v.number, "CPLDS-TOULOUSE-2025-000001");
}

async fn an_unknown_certificate_is_not_found(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let recteur = t.recteur.clone();
    let err = t
        .get("CPLDS-TOULOUSE-2025-000001", &recteur)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
