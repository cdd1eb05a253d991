//! Supporting documents: checked by their bytes, required before validation, closed with the
//! decision.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{authed, bad_fields, precondition_rule};

use crate::helpers::*;

on_both!(
    validation_waits_for_the_documents,
    content_is_judged_by_its_bytes,
    every_bad_document_field_is_named,
    a_document_is_at_most_5_mib,
    a_document_reads_back_as_uploaded,
    no_documents_after_the_decision,
    documents_are_bounded_per_kind,
);

async fn validation_waits_for_the_documents(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let err = t.validate(&c.id).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("MISSING_DOCUMENTS")
    );
}

fn document(
    id: &str,
    kind: i32,
    name: &str,
    declared: &str,
    content: Vec<u8>,
) -> pb::UploadSupportingDocumentRequest {
    pb::UploadSupportingDocumentRequest {
        candidacy_id: id.into(),
        kind,
        file_name: name.into(),
        content_type: declared.into(),
        content,
    }
}

async fn content_is_judged_by_its_bytes(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let office = t.office.clone();
    let exe = document(
        &c.id,
        pb::DocumentKind::Identity as i32,
        "id.pdf",
        "",
        b"MZ\x90\x00".to_vec(),
    );
    let err = t.upload_request(exe, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["content"]);
}

async fn every_bad_document_field_is_named(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let office = t.office.clone();
    let lie = document(&c.id, 0, "../x", "image/png", b"%PDF-1.4 x".to_vec());
    let err = t.upload_request(lie, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["kind", "file_name", "content"]);
}

async fn a_document_is_at_most_5_mib(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let office = t.office.clone();
    let big = document(
        &c.id,
        pb::DocumentKind::Identity as i32,
        "scan.jpg",
        "",
        [vec![0xFF, 0xD8, 0xFF], vec![0u8; 5 * 1024 * 1024]].concat(),
    );
    let err = t.upload_request(big, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["content"]);
}

async fn a_document_reads_back_as_uploaded(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let office = t.office.clone();
    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![7u8; 300_000]].concat();
    let req = document(
        &c.id,
        pb::DocumentKind::Identity as i32,
        "carte.png",
        "",
        png.clone(),
    );
    let doc = t.upload_request(req, &office).await.unwrap();
    assert_eq!(doc.content_type, "image/png");
    assert_eq!(doc.size_bytes, png.len() as i64);
    let me = t.candidate_token(1);
    let got = t
        .client
        .download_supporting_document(authed(
            pb::DownloadSupportingDocumentRequest {
                candidacy_id: c.id.clone(),
                document_id: doc.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.content, png);
    assert_eq!(got.document.unwrap().sha256, doc.sha256);
    let c2 = t.get(&c.id, &me).await.unwrap();
    assert_eq!(
        c2.missing_documents,
        [pb::DocumentKind::EmploymentProof as i32]
    );
    t.upload(&c.id, pb::DocumentKind::EmploymentProof, &me)
        .await
        .unwrap();
    let list = t
        .client
        .list_supporting_documents(authed(
            pb::ListSupportingDocumentsRequest {
                candidacy_id: c.id.clone(),
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.documents.len(), 2);
    t.validate(&c.id).await.unwrap();
}

async fn no_documents_after_the_decision(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.validated(1).await;
    let me = t.candidate_token(1);
    let err = t
        .upload(&c.id, pb::DocumentKind::Other, &me)
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_PENDING"));
}

/// A candidacy holds at most three documents of a kind (a scan may take several files):
/// nobody fills the académie's storage five mebibytes at a time.
async fn documents_are_bounded_per_kind(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let c = t.submit_online(person(1)).await.unwrap();
    let me = t.candidate_token(1);
    for _ in 0..3 {
        t.upload(&c.id, pb::DocumentKind::Other, &me).await.unwrap();
    }
    let err = t
        .upload(&c.id, pb::DocumentKind::Other, &me)
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("TOO_MANY_DOCUMENTS")
    );
    let office = t.office.clone();
    let err = t
        .upload(&c.id, pb::DocumentKind::Other, &office)
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("TOO_MANY_DOCUMENTS")
    );
    // Other kinds still fit.
    t.upload(&c.id, pb::DocumentKind::Identity, &me)
        .await
        .unwrap();
}
