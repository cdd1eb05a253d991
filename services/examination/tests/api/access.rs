//! Who may call what: the roles of the policy, tokens of another académie, no token; reflection
//! and health.

use cplds_proto::v1 as pb;
use cplds_runtime::auth::Role;
use tonic::Code;

use crate::helpers::*;

on_both!(
    only_the_exam_office_creates_a_session,
    results_are_published_by_the_office_or_the_recteur,
    candidates_are_listed_by_staff,
    history_and_statistics_are_for_the_office_and_the_recteur,
    the_node_serves_reflection_and_health,
);

/// One candidate listed and the session; the candidate's, a board member's and IT's tokens.
struct Tokens {
    t: Ctx,
    candidacy_id: String,
    session: pb::ExamSession,
    candidate: String,
    member: String,
    it: String,
}

async fn tokens(backend: Backend) -> Option<Tokens> {
    let mut t = start(backend).await?;
    let cands = t.listed(1).await;
    let session = t.create_session().await;
    Some(Tokens {
        candidate: t.candidate(&cands[0]),
        member: t.board_member(P1),
        it: t.token("it@ac-toulouse.fr", &[Role::ItAdmin]),
        candidacy_id: cands[0].candidacy_id.clone(),
        session,
        t,
    })
}

async fn only_the_exam_office_creates_a_session(backend: Backend) {
    let Some(mut k) = tokens(backend).await else {
        return;
    };
    let create = |token: &str| {
        authed(
            pb::CreateExamSessionRequest {
                year: 2026,
                starts_on: "2026-11-16".into(),
                ends_on: "2026-11-20".into(),
                appeal_window_days: 0,
            },
            token,
        )
    };
    let lyon =
        k.t.node
            .issuer
            .mint("dec@ac-lyon.fr", "lyon", &[Role::ExamOffice])
            .unwrap();
    for token in [&k.candidate, &k.member, &k.it, &k.t.recteur, &lyon] {
        assert_eq!(
            code(k.t.exam.create_exam_session(create(token)).await),
            Code::PermissionDenied
        );
    }
    assert_eq!(
        code(
            k.t.exam
                .create_exam_session(tonic::Request::new(create("").into_inner()))
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            k.t.exam
                .create_exam_session(create("forged.token.here"))
                .await
        ),
        Code::Unauthenticated
    );
}

async fn results_are_published_by_the_office_or_the_recteur(backend: Backend) {
    let Some(mut k) = tokens(backend).await else {
        return;
    };
    let sid = k.session.id.clone();
    assert_eq!(
        code(k.t.publish(&sid, &k.member.clone()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(k.t.publish(&sid, &k.candidate.clone()).await),
        Code::PermissionDenied
    );
    // The recteur may publish; here the rule, not the role, stops them.
    let recteur = k.t.recteur.clone();
    assert_eq!(
        rule_of(k.t.publish(&sid, &recteur).await),
        "DELIBERATION_NOT_CLOSED"
    );
}

async fn candidates_are_listed_by_staff(backend: Backend) {
    let Some(mut k) = tokens(backend).await else {
        return;
    };
    let list = |token: &str| {
        authed(
            pb::ListExamCandidatesRequest {
                year: 2025,
                ..Default::default()
            },
            token,
        )
    };
    assert_eq!(
        code(k.t.exam.list_exam_candidates(list(&k.it)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(k.t.exam.list_exam_candidates(list(&k.candidate)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(k.t.exam.list_exam_candidates(list(&k.member)).await),
        Code::Ok
    );
}

async fn history_and_statistics_are_for_the_office_and_the_recteur(backend: Backend) {
    let Some(mut k) = tokens(backend).await else {
        return;
    };
    let history = authed(
        pb::ListMarkHistoryRequest {
            candidacy_id: k.candidacy_id.clone(),
            ..Default::default()
        },
        &k.member,
    );
    assert_eq!(
        code(k.t.exam.list_mark_history(history).await),
        Code::PermissionDenied
    );
    let stats = authed(
        pb::GetExamStatisticsRequest {
            session_id: k.session.id.clone(),
        },
        &k.candidate,
    );
    assert_eq!(
        code(k.t.exam.get_exam_statistics(stats).await),
        Code::PermissionDenied
    );
    let session_read = authed(
        pb::GetExamSessionRequest {
            session_id: k.session.id.clone(),
        },
        &k.candidate,
    );
    assert_eq!(
        code(k.t.exam.get_exam_session(session_read).await),
        Code::Ok
    );
}

/// Reflection serves the contract; health reports the service.
async fn the_node_serves_reflection_and_health(backend: Backend) {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let Some(t) = start(backend).await else {
        return;
    };
    let mut reflection = ServerReflectionClient::new(t.node.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(services)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("a list of services");
    };
    assert!(
        services
            .service
            .iter()
            .any(|s| s.name == "cplds.v1.ExaminationService")
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(t.node.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cplds.v1.ExaminationService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}
