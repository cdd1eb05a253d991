//! Who may do what: the roles of the policy, and what depends on the data (a candidate and
//! their own candidacy), the académie of the token, and tokens themselves.

use cplds_proto::v1 as pb;
use cplds_runtime::{auth::Role, testing::authed};
use tonic::Code;

use crate::helpers::*;

on_both!(
    a_candidate_reads_only_their_own_candidacy,
    a_candidate_does_not_decide,
    a_candidate_uploads_only_to_their_own_candidacy,
    a_candidate_does_not_list_candidacies,
    a_candidate_registers_only_themselves,
    a_candidate_does_not_enter_paper_candidacies,
    only_the_recteur_publishes_the_list,
    another_academy_s_office_is_nobody_here,
    it_administrators_count_but_do_not_read_identities,
    a_call_without_a_valid_token_is_unauthenticated,
    a_recteur_who_is_a_candidate_acts_on_others_only_as_recteur,
    a_candidate_who_is_a_trainer_registers_only_themselves,
);

async fn a_candidate_reads_only_their_own_candidacy(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mine = t.submit_online(person(1)).await.unwrap();
    let theirs = t.submit_online(person(2)).await.unwrap();
    let me = t.candidate_token(1);
    t.get(&mine.id, &me).await.unwrap();
    let err = t.get(&theirs.id, &me).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn a_candidate_does_not_decide(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mine = t.submit_online(person(1)).await.unwrap();
    let me = t.candidate_token(1);
    let err = t
        .client
        .validate_candidacy(authed(
            pb::ValidateCandidacyRequest {
                candidacy_id: mine.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn a_candidate_uploads_only_to_their_own_candidacy(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    t.submit_online(person(1)).await.unwrap();
    let theirs = t.submit_online(person(2)).await.unwrap();
    let me = t.candidate_token(1);
    let err = t
        .upload(&theirs.id, pb::DocumentKind::Identity, &me)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn a_candidate_does_not_list_candidacies(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let me = t.candidate_token(1);
    let all = pb::ListCandidaciesRequest {
        year: 2025,
        ..Default::default()
    };
    let err = t.list(all, &me).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn a_candidate_registers_only_themselves(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let me = t.candidate_token(1);
    let req = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(3)),
        ..Default::default()
    };
    let err = t
        .client
        .submit_candidacy(authed(req, &me))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(t.count().await, 0);
}

async fn a_candidate_does_not_enter_paper_candidacies(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let own = t.candidate_token(7);
    let err = t
        .client
        .submit_candidacy(authed(by_post(7, "2025-06-19"), &own))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(t.count().await, 0);
}

async fn only_the_recteur_publishes_the_list(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, AFTER).await else {
        return;
    };
    let err = t
        .client
        .publish_admitted_list(authed(
            pb::PublishAdmittedListRequest { year: 2025 },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn another_academy_s_office_is_nobody_here(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let lyon = t
        .node
        .issuer
        .mint("dec@ac-lyon.fr", "lyon", &[Role::ExamOffice])
        .unwrap();
    let all = pb::ListCandidaciesRequest {
        year: 2025,
        ..Default::default()
    };
    let err = t.list(all, &lyon).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("lyon"));
}

/// IT administrators run the node but do not read identities.
async fn it_administrators_count_but_do_not_read_identities(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mine = t.submit_online(person(1)).await.unwrap();
    t.submit_online(person(2)).await.unwrap();
    let it = t.node.token("dsi@ac-toulouse.fr", &[Role::ItAdmin]);
    assert_eq!(
        t.get(&mine.id, &it).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(t.counts(&it).await.unwrap().total, 2);
}

async fn a_call_without_a_valid_token_is_unauthenticated(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let err = t
        .client
        .get_campaign(pb::GetCampaignRequest { year: 2025 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = t
        .client
        .get_campaign(authed(pb::GetCampaignRequest { year: 2025 }, "not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

/// Uploading, reading documents and withdrawing are acts of the exam office or of the
/// candidate: a recteur who also holds a candidate account acts on another's candidacy only
/// where the recteur may (reading it), never through the candidate role (issue 12 §4).
async fn a_recteur_who_is_a_candidate_acts_on_others_only_as_recteur(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mine = t.submit_online(person(1)).await.unwrap();
    let theirs = t.submit_online(person(2)).await.unwrap();
    let both = t.node.token(&email(1), &[Role::Candidate, Role::Recteur]);
    t.get(&theirs.id, &both).await.unwrap();
    let err = t
        .upload(&theirs.id, pb::DocumentKind::Identity, &both)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = t
        .client
        .list_supporting_documents(authed(
            pb::ListSupportingDocumentsRequest {
                candidacy_id: theirs.id.clone(),
            },
            &both,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = t.withdraw(&theirs.id, "", &both).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Their own, as a candidate.
    t.upload(&mine.id, pb::DocumentKind::Identity, &both)
        .await
        .unwrap();
    let office = t.office.clone();
    assert_eq!(
        t.get(&theirs.id, &office).await.unwrap().status,
        pb::CandidacyStatus::Submitted as i32
    );
}

/// Holding a role that may not register anyone (trainer) does not lift the candidate's rules.
async fn a_candidate_who_is_a_trainer_registers_only_themselves(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let both = t.node.token(&email(1), &[Role::Candidate, Role::Trainer]);
    let someone_else = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(3)),
        ..Default::default()
    };
    let err = t
        .client
        .submit_candidacy(authed(someone_else, &both))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = t
        .client
        .submit_candidacy(authed(by_post(1, "2025-05-30"), &both))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(t.count().await, 0);
}
