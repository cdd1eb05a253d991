//! Lists: filtered, in number order, paged with tokens bound to their filters.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{authed, bad_fields};

use crate::helpers::{Backend, decision, results, start, wait_certificates};

on_both!(
    lists_filter_and_page,
    a_named_signatory_is_printed_with_the_office
);

async fn lists_filter_and_page(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, (0..5).map(|n| decision(n, true)).collect()))
        .await;
    let all = t.prepared(5).await;
    let recteur = t.recteur.clone();
    t.issue_one(&all[0].number, &recteur).await.unwrap();
    let office = t.office.clone();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = t
            .list(
                pb::ListCertificatesRequest {
                    year: 2025,
                    state: 0,
                    page_size: 2,
                    page_token: token.clone(),
                },
                &office,
            )
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.total_size, 5);
        seen.extend(page.certificates.into_iter().map(|c| c.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A token is bound to its filters.
        let err = t
            .list(
                pb::ListCertificatesRequest {
                    year: 2024,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &office,
            )
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["page_token"]);
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        all.iter().map(|c| c.number.clone()).collect::<Vec<_>>()
    );
    let other_year = t
        .list(
            pb::ListCertificatesRequest {
                year: 2024,
                ..Default::default()
            },
            &office,
        )
        .await
        .unwrap();
    assert_eq!(other_year.total_size, 0);
}

async fn a_named_signatory_is_printed_with_the_office(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, (0..5).map(|n| decision(n, true)).collect()))
        .await;
    let all = t.prepared(5).await;
    t.client
        .clone()
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: all[0].number.clone(),
                signatory_name: "Mostafa Fourar".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap();
    let issued = wait_certificates(&t.client, &t.office, pb::CertificateState::Issued, 1).await;
    assert_eq!(
        issued[0].signatory,
        "Mostafa Fourar, recteur de l'académie de Toulouse, chancelier des universités"
    );
}
