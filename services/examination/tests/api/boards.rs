//! Boards and their composition, and the assignment of candidates to them.

use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(
    a_board_names_the_bad_fields_of_each_member,
    a_board_keeps_the_composition_rules,
    a_board_needs_a_name_and_two_members,
    board_names_are_unique_in_a_session,
    assignment_refuses_a_conflict_of_interest,
    a_candidate_sits_before_one_board,
    assignment_names_a_bad_board_and_an_unknown_candidate,
    a_withdrawn_candidate_is_not_assigned,
);

async fn a_board_names_the_bad_fields_of_each_member(backend: Backend) {
    let Some((mut t, session)) = with_session(backend).await else {
        return;
    };
    let r = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member("not-an-email", "Dupont", "", pb::ExamBoardRole::President),
                member(
                    "m@ac-toulouse.fr",
                    "Durand",
                    "0310036X",
                    pb::ExamBoardRole::Unspecified,
                ),
            ],
        )
        .await;
    assert_eq!(
        fields_of(r),
        [
            "members[0].email",
            "members[1].workplace_uai",
            "members[1].role"
        ]
    );
}

/// One president exactly, no one twice (e-mail addresses compared without case).
async fn a_board_keeps_the_composition_rules(backend: Backend) {
    let Some((mut t, session)) = with_session(backend).await else {
        return;
    };
    let r = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(
                    "p@ac-toulouse.fr",
                    "Dupont",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member(
                    "q@ac-toulouse.fr",
                    "Durand",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member("P@ac-toulouse.fr", "Dupont", "", pb::ExamBoardRole::Member),
            ],
        )
        .await;
    assert_eq!(fields_of(r), ["members", "members[2].email"]);
}

async fn a_board_needs_a_name_and_two_members(backend: Backend) {
    let Some((mut t, session)) = with_session(backend).await else {
        return;
    };
    let r = t
        .create_board(
            &session,
            "",
            vec![member(
                "p@ac-toulouse.fr",
                "Dupont",
                "",
                pb::ExamBoardRole::President,
            )],
        )
        .await;
    assert_eq!(fields_of(r), ["name", "members"]);
}

async fn board_names_are_unique_in_a_session(backend: Backend) {
    let Some((mut t, session)) = with_session(backend).await else {
        return;
    };
    let a = t
        .create_board(&session, "Commission 1", commission_1())
        .await
        .unwrap();
    assert_eq!(a.members.len(), 3);
    assert_eq!(
        code(
            t.create_board(
                &session,
                "commission 1",
                pair("x@ac-toulouse.fr", "y@ac-toulouse.fr"),
            )
            .await
        ),
        Code::AlreadyExists
    );
}

/// Three candidates, the session, and a board whose member M2 works where candidate 1 works.
async fn with_conflict(
    backend: Backend,
) -> Option<(Ctx, Vec<String>, pb::ExamBoard, pb::ExamSession)> {
    let mut t = start(backend).await?;
    let (ids, session) = t.listed_with_session(3).await;
    let a = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(P1, "Dupont", "", pb::ExamBoardRole::President),
                member(M1, "Durand", &uai(90), pb::ExamBoardRole::Member),
                // Works where candidate 1 works.
                member(M2, "Dubois", &uai(1), pb::ExamBoardRole::Member),
            ],
        )
        .await
        .unwrap();
    Some((t, ids, a, session))
}

async fn assignment_refuses_a_conflict_of_interest(backend: Backend) {
    let Some((mut t, ids, a, _)) = with_conflict(backend).await else {
        return;
    };
    let err = t.assign(&a.id, &ids[0]).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CONFLICT_OF_INTEREST")
    );
    assert!(err.message().contains(M2), "{}", err.message());
    t.assign(&a.id, &ids[1]).await.unwrap();
}

async fn a_candidate_sits_before_one_board(backend: Backend) {
    let Some((mut t, ids, a, session)) = with_conflict(backend).await else {
        return;
    };
    let b = t
        .create_board(&session, "Commission 2", commission_2())
        .await
        .unwrap();
    t.assign(&b.id, &ids[0]).await.unwrap();
    t.assign(&b.id, &ids[0])
        .await
        .expect("assigning again to the same board is harmless");
    assert_eq!(rule_of(t.assign(&a.id, &ids[0]).await), "ALREADY_ASSIGNED");
}

async fn assignment_names_a_bad_board_and_an_unknown_candidate(backend: Backend) {
    let Some((mut t, ids, a, _)) = with_conflict(backend).await else {
        return;
    };
    assert_eq!(fields_of(t.assign("nope", &ids[2]).await), ["board_id"]);
    assert_eq!(
        code(t.assign(&a.id, &uuid::Uuid::now_v7().to_string()).await),
        Code::NotFound
    );
}

/// Candidate 3 withdraws after the list: refused from then on.
async fn a_withdrawn_candidate_is_not_assigned(backend: Backend) {
    let Some(mut p) = planned(backend, false).await else {
        return;
    };
    let (board, c3) = (p.board.id.clone(), p.c3.clone());
    assert_eq!(
        rule_of(p.t.assign(&board, &c3).await),
        "CANDIDATE_WITHDRAWN"
    );
}
