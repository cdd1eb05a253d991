//! The admitted list: published once by the recteur, after the window and every decision;
//! then decisions and registrations are frozen, and withdrawals are shown on it.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::precondition_rule;
use tonic::Code;

use crate::helpers::*;

on_both!(
    the_list_waits_for_the_window_to_close,
    the_list_waits_for_every_decision,
    the_list_holds_the_validated_candidacies,
    the_list_is_published_once,
    decisions_are_frozen_once_the_list_is_published,
    registration_is_over_once_the_list_is_published,
    a_withdrawal_after_publication_stays_on_the_list,
);

async fn the_list_waits_for_the_window_to_close(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    t.validated(1).await;
    let err = t.publish().await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("WINDOW_NOT_CLOSED")
    );
}

async fn the_list_waits_for_every_decision(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    t.validated(1).await;
    let pending = t.submit_online(person(2)).await.unwrap();
    t.set_clock(AFTER);
    let err = t.publish().await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("UNDECIDED_CANDIDACIES")
    );
    t.reject(&pending.id, pb::RejectionReason::Incomplete, "")
        .await
        .unwrap();
    t.publish().await.unwrap();
}

async fn the_list_holds_the_validated_candidacies(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let a = t.validated(1).await;
    let b = t.submit_online(person(2)).await.unwrap();
    let office = t.office.clone();
    t.withdraw(&b.id, "", &office).await.unwrap();
    t.set_clock(AFTER);
    let list = t.publish().await.unwrap();
    assert_eq!(list.candidates.len(), 1);
    assert_eq!(list.candidates[0].candidacy_id, a.id);
    assert_eq!(list.published_by, RECTEUR);
    assert!(t.get(&a.id, &office).await.unwrap().on_admitted_list);
    assert_eq!(t.admitted_list().await, list);
}

async fn the_list_is_published_once(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, AFTER).await else {
        return;
    };
    t.publish().await.unwrap();
    let err = t.publish().await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_ALREADY_PUBLISHED")
    );
}

async fn decisions_are_frozen_once_the_list_is_published(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let a = t.validated(1).await;
    t.set_clock(AFTER);
    t.publish().await.unwrap();
    let err = t
        .reject(&a.id, pb::RejectionReason::Other, "late doubt")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
}

async fn registration_is_over_once_the_list_is_published(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, AFTER).await else {
        return;
    };
    t.publish().await.unwrap();
    let err = t.enter(by_post(9, "2025-06-19")).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
}

async fn a_withdrawal_after_publication_stays_on_the_list(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let a = t.validated(1).await;
    t.set_clock(AFTER);
    t.publish().await.unwrap();
    let token_a = t.candidate_token(1);
    let w = t.withdraw(&a.id, "", &token_a).await.unwrap();
    assert!(w.on_admitted_list);
    let list = t.admitted_list().await;
    assert!(
        list.candidates[0].withdrawn,
        "a withdrawal after publication is shown on the list, not deleted"
    );
}
