//! Marks: parsed to the half point, entered twice blind by two members of the candidate's board,
//! reconciled by the president, corrected by their entrant, every act kept.

use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(
    marks_are_half_points_from_0_to_20,
    a_mark_request_names_every_bad_field,
    only_members_of_the_candidates_board_mark,
    an_unassigned_candidate_is_not_marked,
    marks_need_a_scheduled_epreuve,
    a_mark_waits_for_its_epreuve,
    the_second_entry_is_blind,
    a_member_enters_a_mark_once,
    different_entries_are_a_mismatch_of_two,
    equal_entries_agree,
    only_the_president_reconciles_with_a_reason,
    an_entrant_corrects_their_own_entry,
    every_act_on_a_mark_is_kept,
);

/// Out of range, finer than a half point, not a number.
async fn marks_are_half_points_from_0_to_20(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    for bad in ["21", "20.5", "-1", "13.25", "treize"] {
        assert_eq!(
            fields_of(p.t.enter(P1, &p.c1, PART_1, bad).await),
            ["mark"],
            "{bad}"
        );
    }
}

/// No candidacy, no épreuve, an absence with a mark.
async fn a_mark_request_names_every_bad_field(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let token = p.t.board_member(P1);
    let r =
        p.t.exam
            .enter_mark(authed(
                pb::EnterMarkRequest {
                    candidacy_id: "x".into(),
                    exam_part: 0,
                    mark: "12".into(),
                    absent: true,
                },
                &token,
            ))
            .await;
    assert_eq!(fields_of(r), ["candidacy_id", "exam_part", "mark"]);
}

/// Only members of the candidate's board mark; the office does not mark at all.
async fn only_members_of_the_candidates_board_mark(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    assert_eq!(
        code(
            p.t.enter("outsider@ac-toulouse.fr", &p.c1, PART_1, "12")
                .await
        ),
        Code::PermissionDenied
    );
    let r =
        p.t.exam
            .enter_mark(authed(
                pb::EnterMarkRequest {
                    candidacy_id: p.c1.clone(),
                    exam_part: PART_1 as i32,
                    mark: "12".into(),
                    absent: false,
                },
                &p.t.office,
            ))
            .await;
    assert_eq!(code(r), Code::PermissionDenied);
}

/// Candidate 3 withdrew before being assigned.
async fn an_unassigned_candidate_is_not_marked(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    assert_eq!(
        rule_of(p.t.enter(P1, &p.c3, PART_1, "12").await),
        "NOT_ASSIGNED"
    );
}

async fn marks_need_a_scheduled_epreuve(backend: Backend) {
    let Some(mut p) = planned(backend, false).await else {
        return;
    };
    assert_eq!(
        rule_of(p.t.enter(P1, &p.c1, PART_1, "12").await),
        "NOT_SCHEDULED"
    );
}

/// Candidate 1 sits épreuve 1 on the 17th at 09:00 and épreuve 2 on the 18th: no mark, no
/// absence before each has begun.
async fn a_mark_waits_for_its_epreuve(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let c1 = p.c1.clone();
    p.t.node.clock.set(at("2025-11-17T08:59"));
    assert_eq!(
        rule_of(p.t.enter(P1, &c1, PART_1, "12").await),
        "EPREUVE_NOT_BEGUN"
    );
    assert_eq!(
        rule_of(p.t.enter(P1, &c1, PART_1, "").await),
        "EPREUVE_NOT_BEGUN"
    );
    p.t.node.clock.set(at("2025-11-17T09:00"));
    p.t.enter(P1, &c1, PART_1, "12").await.unwrap();
    assert_eq!(
        rule_of(p.t.enter(P1, &c1, PART_2, "12").await),
        "EPREUVE_NOT_BEGUN"
    );
}

async fn the_second_entry_is_blind(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let sheet = p.t.enter(P1, &p.c1, PART_1, "14").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::AwaitingSecondEntry as i32);
    assert_eq!(sheet.entries.len(), 1);
    assert!(sheet.agreed_mark.is_none());
    let m1_token = p.t.board_member(M1);
    let blind = p.t.sheets(&p.board.id, &m1_token).await;
    let s = blind
        .iter()
        .find(|s| s.candidacy_id == p.c1 && s.exam_part == PART_1 as i32)
        .unwrap();
    assert_eq!(
        (s.entry_count, s.entries.len()),
        (1, 0),
        "the second entrant cannot see the first entry"
    );
    let office = p.t.office.clone();
    let office_view = p.t.sheets(&p.board.id, &office).await;
    assert!(office_view.iter().all(|s| s.entries.is_empty()));
    assert_eq!(office_view.len(), 4);
}

async fn a_member_enters_a_mark_once(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.t.enter(P1, &p.c1, PART_1, "14").await.unwrap();
    assert_eq!(
        rule_of(p.t.enter(P1, &p.c1, PART_1, "15").await),
        "ALREADY_ENTERED"
    );
}

async fn different_entries_are_a_mismatch_of_two(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.t.enter(P1, &p.c1, PART_1, "14").await.unwrap();
    let sheet = p.t.enter(M1, &p.c1, PART_1, "14,5").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Mismatch as i32);
    assert_eq!(
        sheet.entries.len(),
        2,
        "both entries shown once both are in"
    );
    assert_eq!(
        rule_of(p.t.enter(M2, &p.c1, PART_1, "14").await),
        "DOUBLE_ENTRY_COMPLETE"
    );
}

async fn equal_entries_agree(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let sheet = p.t.enter(P1, &p.c1, PART_2, "12").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::AwaitingSecondEntry as i32);
    let sheet = p.t.enter(M2, &p.c1, PART_2, "12").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Agreed as i32);
    assert_eq!(sheet.agreed_mark.unwrap().mark_half_points, 24);
    p.t.enter(P1, &p.c2, PART_1, "").await.unwrap();
    let sheet = p.t.enter(M1, &p.c2, PART_1, "").await.unwrap();
    assert!(sheet.agreed_mark.unwrap().absent);
}

async fn only_the_president_reconciles_with_a_reason(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let c1 = p.c1.clone();
    p.t.enter(P1, &c1, PART_1, "14").await.unwrap();
    p.t.enter(M1, &c1, PART_1, "14,5").await.unwrap();
    p.t.agree([P1, M2], &c1, PART_2, "12").await;
    assert_eq!(
        code(p.t.reconcile(M1, &c1, PART_1, "14.5", "relu").await),
        Code::PermissionDenied
    );
    assert_eq!(
        fields_of(p.t.reconcile(P1, &c1, PART_1, "14.5", " ").await),
        ["reason"]
    );
    let sheet =
        p.t.reconcile(P1, &c1, PART_1, "14.5", "relecture de la grille")
            .await
            .unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Reconciled as i32);
    assert_eq!(
        (
            sheet.reconciled_by.as_str(),
            sheet.agreed_mark.unwrap().mark.as_str()
        ),
        (P1, "14.5")
    );
    assert_eq!(
        rule_of(p.t.reconcile(P1, &c1, PART_2, "14.5", "relu").await),
        "NOTHING_TO_RECONCILE"
    );
}

/// Corrections until deliberation, by their entrant only.
async fn an_entrant_corrects_their_own_entry(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let c1 = p.c1.clone();
    p.t.agree([P1, M2], &c1, PART_2, "12").await;
    assert_eq!(
        rule_of(p.t.correct(M2, &c1, PART_2, "12").await),
        "UNCHANGED"
    );
    assert_eq!(
        rule_of(p.t.correct(M1, &c1, PART_2, "12").await),
        "NO_ENTRY_TO_CORRECT"
    );
    let sheet = p.t.correct(M2, &c1, PART_2, "13").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Mismatch as i32);
    let sheet = p.t.correct(P1, &c1, PART_2, "13").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Agreed as i32);
}

/// Each act kept with who, when, the mark before and after, and why; read a page at a time.
async fn every_act_on_a_mark_is_kept(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let c1 = p.c1.clone();
    p.t.enter(P1, &c1, PART_1, "14").await.unwrap();
    p.t.enter(M1, &c1, PART_1, "14,5").await.unwrap();
    p.t.agree([P1, M2], &c1, PART_2, "12").await;
    p.t.reconcile(P1, &c1, PART_1, "14.5", "relecture de la grille")
        .await
        .unwrap();
    p.t.correct(M2, &c1, PART_2, "13").await.unwrap();
    p.t.correct(P1, &c1, PART_2, "13").await.unwrap();
    let history = p.t.history(&c1, 3, String::new()).await;
    assert_eq!(history.entries.len(), 3);
    let rest = p.t.history(&c1, 10, history.next_page_token).await;
    let all: Vec<_> = history.entries.iter().chain(&rest.entries).collect();
    assert_eq!(
        all.iter()
            .map(|h| (h.action.as_str(), h.actor.as_str()))
            .collect::<Vec<_>>(),
        [
            ("entered", P1),
            ("entered", M1),
            ("entered", P1),
            ("entered", M2),
            ("reconciled", P1),
            ("corrected", M2),
            ("corrected", P1)
        ]
    );
    assert_eq!(all[5].previous.as_ref().unwrap().mark, "12");
    assert_eq!(all[5].value.as_ref().unwrap().mark, "13");
    assert_eq!(all[5].reason, "erreur de report");
    assert!(all[5].time.is_some());
}
