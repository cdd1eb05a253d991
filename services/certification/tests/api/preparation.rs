//! What examination's results do: a prepared certificate per admitted candidate, numbered once,
//! whatever the redeliveries; cancelled and reinstated by later decisions; a malformed event
//! refused whole.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{authed, precondition_rule};
use tonic::Code;

use crate::helpers::{
    Backend, appeal, decision, email, number_req, publish, results, session_decisions, start,
    status, wait_certificates,
};

on_both!(
    results_number_admitted_candidates_in_alphabetical_order,
    redelivered_and_repeated_results_prepare_each_certificate_once,
    a_cancelled_certificate_is_reinstated_with_its_number,
    a_malformed_results_event_is_refused_whole,
);

async fn results_number_admitted_candidates_in_alphabetical_order(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    // Garcia, Bernard and Roux are admitted, Fabre is not.
    t.publish(results(2025, session_decisions())).await;
    let prepared = t.prepared(3).await;
    // Numbered in alphabetical order of the holders.
    let numbers: Vec<(&str, &str)> = prepared
        .iter()
        .map(|c| (c.number.as_str(), c.holder_name.as_str()))
        .collect();
    assert_eq!(
        numbers,
        [
            ("CPLDS-TOULOUSE-2025-000001", "Lucas BERNARD"),
            ("CPLDS-TOULOUSE-2025-000002", "Inès GARCIA"),
            ("CPLDS-TOULOUSE-2025-000003", "Chloé ROUX"),
        ]
    );
    let first = &prepared[0];
    assert_eq!(first.email, email(1));
    assert_eq!(first.session_id, "session-2025");
    assert!(first.issue_time.is_none() && first.key_id.is_empty());
    // A prepared certificate is not a certificate yet: nobody can verify it.
    let v = t.verify(number_req(&first.number)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
}

async fn redelivered_and_repeated_results_prepare_each_certificate_once(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let first = t
        .publish(results(2025, vec![decision(0, true), decision(1, false)]))
        .await;
    let prepared = t.prepared(1).await;
    // The same event delivered again, then the same results in a new event (published again by
    // examination), then a dismissed appeal: none of them prepares anything.
    publish(&t.node.bus, &first).await;
    t.publish(results(2025, vec![decision(0, true), decision(1, false)]))
        .await;
    t.publish(appeal("DISMISSED", decision(1, false))).await;
    // The upheld appeal comes after them on the same queue: once it shows, they were applied.
    t.publish(appeal("UPHELD", decision(1, true))).await;
    let now = t.prepared(2).await;
    assert_eq!(now[0].number, prepared[0].number, "numbers do not move");
    assert_eq!(now[1].number, "CPLDS-TOULOUSE-2025-000002");
    assert_eq!(now[1].holder_name, "Lucas BERNARD");

    // The batch issues both; redelivering the results afterwards changes nothing either.
    assert_eq!(t.issue_all().await.issued.len(), 2);
    publish(&t.node.bus, &first).await;
    t.publish(results(2025, vec![decision(0, false)])).await;
    t.publish(results(2025, vec![decision(2, true)])).await;
    t.prepared(1).await;
    let issued = wait_certificates(&t.client, &t.recteur, pb::CertificateState::Issued, 2).await;
    assert_eq!(issued[0].number, prepared[0].number);
    let office = t.office.clone();
    let all = t
        .list(pb::ListCertificatesRequest::default(), &office)
        .await
        .unwrap();
    assert_eq!(all.total_size, 3);
}

async fn a_cancelled_certificate_is_reinstated_with_its_number(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, vec![decision(2, true)])).await;
    // A prepared certificate whose candidate is no longer admitted is cancelled, then
    // reinstated (same number) by an upheld appeal.
    let roux = t.prepared(1).await.remove(0);
    t.publish(results(2025, vec![decision(2, false)])).await;
    let cancelled =
        wait_certificates(&t.client, &t.recteur, pb::CertificateState::Cancelled, 1).await;
    assert_eq!(cancelled[0].number, roux.number);
    let recteur = t.recteur.clone();
    let err = t.issue_one(&roux.number, &recteur).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_CANCELLED")
    );
    assert_eq!(
        status(&t.verify(number_req(&roux.number)).await),
        pb::VerificationStatus::Unknown
    );
    t.publish(appeal("UPHELD", decision(2, true))).await;
    assert_eq!(t.prepared(1).await[0].number, roux.number);
}

async fn a_malformed_results_event_is_refused_whole(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    // A malformed results event is refused whole (dead-lettered): nothing is prepared, and the
    // next, well-formed event goes through.
    let mut broken = decision(1, true);
    broken.identity.as_mut().unwrap().last_name = String::new();
    t.publish(results(2025, vec![decision(0, true), broken]))
        .await;
    t.publish(results(2025, vec![decision(2, true)])).await;
    let prepared = t.prepared(1).await;
    assert_eq!(prepared[0].holder_name, "Chloé ROUX");
    assert_eq!(prepared[0].number, "CPLDS-TOULOUSE-2025-000001");
    let dead = t.node.wait_dead_letters("certification", 1).await;
    assert_eq!(dead[0].event_type, "results_published");
    // Nothing was prepared for the refused event: the one certificate is Roux's.
    let all = t
        .client
        .clone()
        .list_certificates(authed(pb::ListCertificatesRequest::default(), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 1);
}
