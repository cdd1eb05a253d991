//! Who may do what: the recteur's office acts, staff read, a holder reads only their own
//! certificate, and verification, keys and the status list need no token.

use cplds_proto::v1 as pb;
use cplds_runtime::{auth::Role, testing::authed};
use tonic::Code;

use crate::helpers::{Backend, Ctx, decision, email, number_req, start, status};

on_both!(
    only_the_recteurs_office_issues,
    only_the_recteurs_office_revokes_and_duplicates,
    a_holder_reads_only_their_own_certificate,
    the_exam_office_reads_everything_it_administrators_nothing,
    verification_keys_and_the_status_list_need_no_token,
);

/// Candidates 0 and 1 admitted: the number of each one's certificate (prepared).
async fn mine_and_theirs(t: &Ctx) -> (String, String) {
    t.publish(crate::helpers::results(
        2025,
        vec![decision(0, true), decision(1, true)],
    ))
    .await;
    let prepared = t.prepared(2).await;
    let of = |n: usize| {
        prepared
            .iter()
            .find(|c| c.email == email(n))
            .unwrap()
            .number
            .clone()
    };
    (of(0), of(1))
}

fn batch(token: &str) -> tonic::Request<pb::IssueCertificatesRequest> {
    authed(
        pb::IssueCertificatesRequest {
            year: 2025,
            signatory_name: String::new(),
        },
        token,
    )
}

async fn only_the_recteurs_office_issues(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (mine, _) = mine_and_theirs(&t).await;
    let candidate = t.holder(0);
    for token in [
        &candidate,
        &t.office.clone(),
        &t.node.token("it@ac-toulouse.fr", &[Role::ItAdmin]),
    ] {
        let err = t.client.issue_certificates(batch(token)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = t.issue_one(&mine, token).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    let err = t
        .client
        .issue_certificates(tonic::Request::new(pb::IssueCertificatesRequest {
            year: 2025,
            signatory_name: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A recteur of another académie is refused here.
    let lyon = t
        .node
        .issuer
        .mint("recteur@ac-lyon.fr", "lyon", &[Role::Recteur])
        .unwrap();
    let err = t.client.issue_certificates(batch(&lyon)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(t.issue_all().await.issued.len(), 2);
}

async fn only_the_recteurs_office_revokes_and_duplicates(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (mine, _) = mine_and_theirs(&t).await;
    t.issue_all().await;
    for token in [t.holder(0), t.office.clone()] {
        let err = t
            .revoke_as(&mine, pb::RevocationReason::Fraud, "", &token)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = t.duplicate(&mine, &token).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
}

async fn a_holder_reads_only_their_own_certificate(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (mine, theirs) = mine_and_theirs(&t).await;
    t.issue_all().await;
    let candidate = t.holder(0);
    assert_eq!(t.get(&mine, &candidate).await.unwrap().number, mine);
    let err = t.get(&theirs, &candidate).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(t.credential(&mine, &candidate).await.is_ok());
    assert_eq!(
        t.credential(&theirs, &candidate).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let err = t.pdf(&theirs, &candidate).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let own = t
        .list(pb::ListCertificatesRequest::default(), &candidate)
        .await
        .unwrap();
    assert_eq!(own.total_size, 1);
    assert_eq!(own.certificates[0].number, mine);
}

async fn the_exam_office_reads_everything_it_administrators_nothing(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (mine, theirs) = mine_and_theirs(&t).await;
    t.issue_all().await;
    let office = t.office.clone();
    assert!(t.get(&theirs, &office).await.is_ok());
    let it = t.node.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let err = t.get(&mine, &it).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = t
        .client
        .get_certificate(tonic::Request::new(pb::GetCertificateRequest {
            number: mine.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

async fn verification_keys_and_the_status_list_need_no_token(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (_, theirs) = mine_and_theirs(&t).await;
    t.issue_all().await;
    assert_eq!(
        status(&t.verify(number_req(&theirs)).await),
        pb::VerificationStatus::Valid
    );
    assert_eq!(t.keys().await.len(), 1);
    assert!(!t.status_list().await.credential_json.is_empty());
}
