//! The schedule: épreuves placed in the session's period with their durations, nobody booked
//! twice at once, read by the members of the board.

use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(
    scheduling_needs_an_assignment,
    a_slot_names_every_bad_field,
    a_slot_lies_in_the_session_period,
    epreuve_1_lasts_45_minutes_with_the_board,
    the_board_is_not_booked_twice,
    the_board_hears_another_candidate_during_a_preparation,
    the_candidate_is_not_booked_twice,
    a_member_reads_the_schedule_of_their_own_board,
    acts_on_one_session_are_serialised,
);

/// Candidates 1 to 3, the session, "Commission 1" (P1, M1, M2) with candidates 2 and 3, and
/// "Commission 2" (p2, m3) with candidate 1.
pub struct TwoBoards {
    pub t: Ctx,
    pub cands: Vec<pb::ExamCandidate>,
    pub c1: String,
    pub c2: String,
    pub c3: String,
    pub session: pb::ExamSession,
    pub a: pb::ExamBoard,
    pub b: pb::ExamBoard,
}

pub async fn two_boards(backend: Backend) -> Option<TwoBoards> {
    let mut t = start(backend).await?;
    let cands = t.listed(3).await;
    let ids: Vec<String> = cands.iter().map(|c| c.candidacy_id.clone()).collect();
    let session = t.create_session().await;
    let a = t
        .create_board(&session, "Commission 1", commission_1())
        .await
        .unwrap();
    let b = t
        .create_board(&session, "Commission 2", commission_2())
        .await
        .unwrap();
    t.assign(&b.id, &ids[0]).await.unwrap();
    t.assign(&a.id, &ids[1]).await.unwrap();
    t.assign(&a.id, &ids[2]).await.unwrap();
    Some(TwoBoards {
        t,
        cands,
        c1: ids[0].clone(),
        c2: ids[1].clone(),
        c3: ids[2].clone(),
        session,
        a,
        b,
    })
}

impl TwoBoards {
    /// Candidate 2: épreuve 1 on the 17th at 09:00, épreuve 2 on the 18th at 09:00; candidate
    /// 3: épreuve 2 on the 17th at 09:00, épreuve 1 at 10:30; candidate 1 (the other board):
    /// épreuve 1 on the 17th at 09:00, épreuve 2 not yet.
    pub async fn schedule_all_but_one(&mut self) {
        let (c1, c2, c3) = (self.c1.clone(), self.c2.clone(), self.c3.clone());
        for (c, part, start) in [
            (&c2, PART_1, "2025-11-17T09:00"),
            (&c3, PART_2, "2025-11-17T09:00"),
            (&c3, PART_1, "2025-11-17T10:30"),
            (&c2, PART_2, "2025-11-18T09:00"),
            (&c1, PART_1, "2025-11-17T09:00"),
        ] {
            self.t.schedule(c, part, start).await.unwrap();
        }
    }
}

async fn scheduling_needs_an_assignment(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let cands = t.listed(1).await;
    t.create_session().await;
    assert_eq!(
        rule_of(
            t.schedule(&cands[0].candidacy_id, PART_1, "2025-11-17T09:00")
                .await
        ),
        "NOT_ASSIGNED"
    );
}

async fn a_slot_names_every_bad_field(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    let r =
        s.t.exam
            .schedule_exam_part(authed(
                pb::ScheduleExamPartRequest {
                    candidacy_id: s.c2.clone(),
                    exam_part: 0,
                    starts_at_local: "mardi 9h".into(),
                    location: " ".into(),
                },
                &s.t.office,
            ))
            .await;
    assert_eq!(fields_of(r), ["exam_part", "starts_at_local", "location"]);
}

async fn a_slot_lies_in_the_session_period(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    assert_eq!(
        fields_of(s.t.schedule(&s.c2, PART_1, "2025-11-24T09:00").await),
        ["starts_at_local"]
    );
}

async fn epreuve_1_lasts_45_minutes_with_the_board(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    let slot =
        s.t.schedule(&s.c2, PART_1, "2025-11-17T09:00")
            .await
            .unwrap();
    assert_eq!(
        (slot.starts_at_local.as_str(), slot.ends_at_local.as_str()),
        ("2025-11-17T09:00", "2025-11-17T09:45")
    );
    assert_eq!(slot.phases.len(), 2);
    assert_eq!(slot.board_id, s.a.id);
}

async fn the_board_is_not_booked_twice(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    s.t.schedule(&s.c2, PART_1, "2025-11-17T09:00")
        .await
        .unwrap();
    assert_eq!(
        rule_of(s.t.schedule(&s.c3, PART_1, "2025-11-17T09:30").await),
        "BOARD_DOUBLE_BOOKED"
    );
    // Épreuve 2 at 08:30: the board would sit from 09:30, while it hears candidate 2.
    assert_eq!(
        rule_of(s.t.schedule(&s.c3, PART_2, "2025-11-17T08:30").await),
        "BOARD_DOUBLE_BOOKED"
    );
    s.t.schedule(&s.c1, PART_1, "2025-11-17T09:00")
        .await
        .expect("another board");
}

/// At 09:00 the candidate prepares while the board hears candidate 2, then sits 10:00-10:30.
async fn the_board_hears_another_candidate_during_a_preparation(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    s.t.schedule(&s.c2, PART_1, "2025-11-17T09:00")
        .await
        .unwrap();
    let slot =
        s.t.schedule(&s.c3, PART_2, "2025-11-17T09:00")
            .await
            .unwrap();
    assert_eq!(
        slot.phases
            .iter()
            .map(|p| (p.name.as_str(), p.with_board))
            .collect::<Vec<_>>(),
        [
            ("preparation", false),
            ("presentation", true),
            ("exchange", true)
        ]
    );
    assert_eq!(slot.ends_at_local, "2025-11-17T10:30");
}

async fn the_candidate_is_not_booked_twice(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    s.t.schedule(&s.c3, PART_2, "2025-11-17T09:00")
        .await
        .unwrap();
    assert_eq!(
        rule_of(s.t.schedule(&s.c3, PART_1, "2025-11-17T10:00").await),
        "CANDIDATE_DOUBLE_BOOKED"
    );
    s.t.schedule(&s.c3, PART_1, "2025-11-17T10:30")
        .await
        .unwrap();
}

/// A board member reads the schedule of their own board only.
async fn a_member_reads_the_schedule_of_their_own_board(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    s.schedule_all_but_one().await;
    s.t.schedule(&s.c1, PART_2, "2025-11-18T09:00")
        .await
        .unwrap();
    let m1 = s.t.board_member(M1);
    let list = |board: &str| pb::ListExamSlotsRequest {
        session_id: s.session.id.clone(),
        board_id: board.into(),
        ..Default::default()
    };
    let slots =
        s.t.exam
            .list_exam_slots(authed(list(&s.a.id), &m1))
            .await
            .unwrap()
            .into_inner()
            .slots;
    assert_eq!(slots.len(), 4);
    assert!(slots.iter().all(|x| x.board_id == s.a.id));
    let mut exam = s.t.exam.clone();
    assert_eq!(
        code(exam.list_exam_slots(authed(list(&s.b.id), &m1)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(exam.list_exam_slots(authed(list(""), &m1)).await),
        Code::PermissionDenied
    );
    let all = exam
        .list_exam_slots(authed(list(""), &s.t.office))
        .await
        .unwrap()
        .into_inner()
        .slots;
    assert_eq!(all.len(), 6);
}

/// Acts on one session are serialised (the session row is locked in PostgreSQL; SQLite has one
/// writer): racing bookings of one board, or three members racing to enter one mark, never
/// break the rules.
async fn acts_on_one_session_are_serialised(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (ids, session) = t.listed_with_session(3).await;
    let members = [P1, M1, M2];
    let board = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(members[0], "Dupont", "", pb::ExamBoardRole::President),
                member(members[1], "Durand", "", pb::ExamBoardRole::Member),
                member(members[2], "Dubois", "", pb::ExamBoardRole::Member),
            ],
        )
        .await
        .unwrap();
    for id in &ids {
        t.assign(&board.id, id).await.unwrap();
    }
    let schedule = |id: &str, start: &str| {
        let mut exam = t.exam.clone();
        let req = authed(
            pb::ScheduleExamPartRequest {
                candidacy_id: id.into(),
                exam_part: PART_1 as i32,
                starts_at_local: start.into(),
                location: "Lycée Bellevue".into(),
            },
            &t.office,
        );
        async move { exam.schedule_exam_part(req).await }
    };
    let (a, b) = tokio::join!(
        schedule(&ids[0], "2025-11-17T09:00"),
        schedule(&ids[1], "2025-11-17T09:15")
    );
    t.epreuves_over();
    let winner = match (&a, &b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
            assert_eq!(precondition_rule(e).as_deref(), Some("BOARD_DOUBLE_BOOKED"));
            if a.is_ok() {
                ids[0].clone()
            } else {
                ids[1].clone()
            }
        }
        _ => panic!("one of two overlapping bookings of the board wins: {a:?} {b:?}"),
    };

    let enter = |who: &str| {
        let mut exam = t.exam.clone();
        let req = authed(
            pb::EnterMarkRequest {
                candidacy_id: winner.clone(),
                exam_part: PART_1 as i32,
                mark: "12".into(),
                absent: false,
            },
            &t.board_member(who),
        );
        async move { exam.enter_mark(req).await }
    };
    let (a, b, c) = tokio::join!(enter(members[0]), enter(members[1]), enter(members[2]));
    let results = [a, b, c];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "two entries, never three"
    );
    let refused = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(
        precondition_rule(&refused).as_deref(),
        Some("DOUBLE_ENTRY_COMPLETE")
    );
    let office = t.office.clone();
    let sheets = t.sheets(&board.id, &office).await;
    let sheet = sheets
        .iter()
        .find(|s| s.candidacy_id == winner && s.exam_part == PART_1 as i32)
        .unwrap();
    assert_eq!(
        (sheet.entry_count, sheet.status),
        (2, pb::ExamMarkStatus::Agreed as i32)
    );
}
