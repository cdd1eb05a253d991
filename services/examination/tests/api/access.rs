//! Who may call what: the roles of the policy, tokens of another académie, no token; board
//! members reach only the candidates and boards of their own boards; a token with several roles
//! is judged under each role alone; reflection and health.

use cplds_proto::v1 as pb;
use cplds_runtime::auth::Role;
use tonic::Code;

use crate::{
    helpers::*,
    schedule::{TwoBoards, two_boards},
};

on_both!(
    only_the_exam_office_creates_a_session,
    results_are_published_by_the_office_or_the_recteur,
    candidates_are_listed_by_staff,
    a_board_member_lists_the_candidates_of_their_boards_only,
    a_board_member_reads_the_candidates_of_their_boards_only,
    a_board_member_reads_their_own_boards_only,
    a_candidate_who_sits_on_a_board_reads_as_a_candidate,
    the_minutes_are_read_by_the_office_and_the_jury_president,
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

impl TwoBoards {
    /// The ids of the candidates `token` lists for 2025.
    async fn listed_by(&mut self, token: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .t
            .exam
            .list_exam_candidates(authed(
                pb::ListExamCandidatesRequest {
                    year: 2025,
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .candidates
            .into_iter()
            .map(|c| c.candidacy_id)
            .collect();
        ids.sort();
        ids
    }

    async fn read_candidate(&mut self, id: &str, token: &str) -> Code {
        let req = authed(
            pb::GetExamCandidateRequest {
                candidacy_id: id.into(),
            },
            token,
        );
        code(self.t.exam.get_exam_candidate(req).await)
    }
}

/// M1 sits on "Commission 1" (candidates 2 and 3), P2 on "Commission 2" (candidate 1).
async fn a_board_member_lists_the_candidates_of_their_boards_only(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let m1 = s.t.board_member(M1);
    let p2 = s.t.board_member(P2);
    assert_eq!(
        s.listed_by(&m1).await,
        sorted(vec![s.c2.clone(), s.c3.clone()])
    );
    assert_eq!(s.listed_by(&p2).await, [s.c1.clone()]);
    let nobody = s.t.board_member("outsider@ac-toulouse.fr");
    assert!(s.listed_by(&nobody).await.is_empty());
    let office = s.t.office.clone();
    assert_eq!(s.listed_by(&office).await.len(), 3);
}

async fn a_board_member_reads_the_candidates_of_their_boards_only(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    let m1 = s.t.board_member(M1);
    let (c1, c2) = (s.c1.clone(), s.c2.clone());
    assert_eq!(s.read_candidate(&c2, &m1).await, Code::Ok);
    assert_eq!(s.read_candidate(&c1, &m1).await, Code::PermissionDenied);
}

/// A member reads and lists the boards they sit on; the office every board.
async fn a_board_member_reads_their_own_boards_only(backend: Backend) {
    let Some(s) = two_boards(backend).await else {
        return;
    };
    let m1 = s.t.board_member(M1);
    let read = |board: &str, token: &str| {
        authed(
            pb::GetBoardRequest {
                board_id: board.into(),
            },
            token,
        )
    };
    let mut exam = s.t.exam.clone();
    assert_eq!(code(exam.get_board(read(&s.a.id, &m1)).await), Code::Ok);
    assert_eq!(
        code(exam.get_board(read(&s.b.id, &m1)).await),
        Code::PermissionDenied
    );
    let list = |token: &str| {
        authed(
            pb::ListBoardsRequest {
                session_id: s.session.id.clone(),
                ..Default::default()
            },
            token,
        )
    };
    let mine = exam.list_boards(list(&m1)).await.unwrap().into_inner();
    assert_eq!(
        mine.boards.iter().map(|b| &b.id).collect::<Vec<_>>(),
        [&s.a.id]
    );
    let all = exam
        .list_boards(list(&s.t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.boards.len(), 2);
}

/// M1 examines candidate 1 and also holds the candidate role: results, convocations and
/// appeals are a candidate's to reach, so M1 reaches only their own (none), never candidate
/// 1's; reading candidate 1's record is a board's act, and allowed.
async fn a_candidate_who_sits_on_a_board_reads_as_a_candidate(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    let both = p.t.token(M1, &[Role::Candidate, Role::BoardMember]);
    let (c1, c2) = (p.c1.clone(), p.c2.clone());
    assert_eq!(code(p.t.result(&c1, &both).await), Code::PermissionDenied);
    assert_eq!(
        code(p.t.file_appeal(&c2, &both).await),
        Code::PermissionDenied
    );
    let convocation = authed(
        pb::GetConvocationRequest {
            candidacy_id: c1.clone(),
            version: 0,
        },
        &both,
    );
    assert_eq!(
        code(p.t.exam.get_convocation(convocation).await),
        Code::PermissionDenied
    );
    let record = authed(
        pb::GetExamCandidateRequest {
            candidacy_id: c1.clone(),
        },
        &both,
    );
    assert_eq!(code(p.t.exam.get_exam_candidate(record).await), Code::Ok);
    // The candidates themselves still read their own result.
    let me1 = p.me(1);
    p.t.result(&c1, &me1).await.unwrap();
}

/// The minutes print every candidate's decision: a member of the boards does not read them.
async fn the_minutes_are_read_by_the_office_and_the_jury_president(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.deliberate().await;
    let read = |token: &str| {
        authed(
            pb::GetMinutesRequest {
                session_id: p.sid.clone(),
            },
            token,
        )
    };
    let mut exam = p.t.exam.clone();
    let m1 = p.t.board_member(M1);
    assert_eq!(
        code(exam.get_minutes(read(&m1)).await),
        Code::PermissionDenied
    );
    let p1 = p.t.board_member(P1);
    assert_eq!(code(exam.get_minutes(read(&p1)).await), Code::Ok);
    assert_eq!(code(exam.get_minutes(read(&p.t.recteur)).await), Code::Ok);
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
