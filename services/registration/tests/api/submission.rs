//! Submitting a candidacy: every field checked and named, one live candidacy per person.

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{authed, bad_fields};
use tonic::Code;

use crate::helpers::*;

on_both!(
    every_candidate_field_is_checked_and_named,
    fields_that_contradict_each_other_are_named,
    a_candidacy_needs_its_candidate,
    a_letter_needs_its_postmark_date,
    eligibility_is_evaluated_and_explained,
    one_live_candidacy_per_person,
    concurrent_duplicates_make_one_candidacy,
);

async fn every_candidate_field_is_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let bad = pb::CandidateDetails {
        last_name: "R2D2".into(),
        first_name: String::new(),
        birth_date: "2015-01-01".into(),
        email: "camille@".into(),
        phone: "123".into(),
        staff_number: "SHORT".into(),
        sex: 0,
        sector: 0,
        status: 0,
        function: 99,
        corps: 0,
        workplace_uai: "0310036X".into(),
        workplace_type: 0,
        department: "75".into(),
        runs_mlds_actions: false,
        is_dropout_referent: false,
    };
    let req = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(bad),
        ..Default::default()
    };
    let err = t.enter(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&err);
    fields.sort();
    let expected = [
        "birth_date",
        "corps",
        "department",
        "email",
        "first_name",
        "function",
        "last_name",
        "phone",
        "sector",
        "sex",
        "staff_number",
        "status",
        "workplace_type",
        "workplace_uai",
    ]
    .map(|f| format!("candidate.{f}"));
    assert_eq!(fields, expected);
    assert!(err.message().contains("check letter"), "{}", err.message());
    assert_eq!(t.count().await, 0, "nothing was written");
}

async fn fields_that_contradict_each_other_are_named(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mut c = person(1);
    c.sector = pb::StaffSector::PrivateUnderContract as i32;
    c.department = "32".into();
    let err = t
        .enter(pb::SubmitCandidacyRequest {
            year: 2025,
            candidate: Some(c),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["candidate.status", "candidate.department"]
    );
}

async fn a_candidacy_needs_its_candidate(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let err = t
        .enter(pb::SubmitCandidacyRequest {
            year: 2025,
            candidate: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["candidate"]);
}

async fn a_letter_needs_its_postmark_date(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let err = t.enter(by_post(2, "")).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["postmark_date"]);
    let err = t.enter(by_post(2, "2025-06-02")).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["postmark_date"], "{}", err.message());
    let mut online_with_postmark = by_post(2, "2025-05-30");
    online_with_postmark.channel = pb::SubmissionChannel::Online as i32;
    let err = t.enter(online_with_postmark).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["postmark_date"]);
    assert_eq!(t.count().await, 0, "nothing was written");
}

/// Anyone may register; a candidate on a fixed-term contract is told why they are not eligible.
async fn eligibility_is_evaluated_and_explained(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let a = t.submit_online(person(1)).await.unwrap();
    assert_eq!(a.status, pb::CandidacyStatus::Submitted as i32);
    assert!(a.eligibility.as_ref().unwrap().eligible);
    assert_eq!(
        a.staff_category,
        pb::StaffCategory::SecondDegreeTenured as i32
    );
    assert_eq!(a.missing_documents.len(), 2);
    let c = t.submit_online(fixed_term(3)).await.unwrap();
    assert!(!c.eligibility.as_ref().unwrap().eligible);
    assert!(
        c.eligibility
            .unwrap()
            .explanations
            .iter()
            .any(|e| e.contains("CDD"))
    );
}

async fn one_live_candidacy_per_person(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let first = t.submit_online(person(3)).await.unwrap();
    let err = t.submit_online(person(3)).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // Once withdrawn, the person may register again.
    let office = t.office.clone();
    t.withdraw(&first.id, "", &office).await.unwrap();
    t.submit_online(person(3)).await.unwrap();
}

async fn concurrent_duplicates_make_one_candidacy(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = t.client.clone();
        let token = t.candidate_token(1);
        calls.push(tokio::spawn(async move {
            let req = pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: Some(person(1)),
                ..Default::default()
            };
            client
                .submit_candidacy(authed(req, &token))
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut outcomes = Vec::new();
    for c in calls {
        outcomes.push(c.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(Code::AlreadyExists))),
        "{outcomes:?}"
    );
    assert_eq!(t.count().await, 1);
}
