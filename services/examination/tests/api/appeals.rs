//! Appeals: one at a time, decided once, never for a withdrawn candidate, within the window.

use chrono::TimeDelta;
use cplds_proto::v1 as pb;
use tonic::Code;

use crate::helpers::*;

on_both!(
    one_appeal_at_a_time,
    a_withdrawn_candidate_does_not_appeal,
    a_candidate_appeals_for_themselves_with_grounds,
    an_appeal_decision_names_its_bad_fields,
    an_appeal_is_decided_once,
    appeals_close_with_their_window,
);

/// Results published; candidate 2 (absent from épreuve 1) appeals.
async fn appealed(backend: Backend) -> Option<(Planned, pb::ExamAppeal)> {
    let mut p = planned(backend, true).await?;
    p.publish().await;
    let (c2, me2) = (p.c2.clone(), p.me(2));
    let appeal = p.t.file_appeal(&c2, &me2).await.unwrap();
    Some((p, appeal))
}

fn decide(
    appeal: &pb::ExamAppeal,
    outcome: pb::ExamAppealStatus,
    part_1: Option<pb::RevisedMark>,
) -> pb::DecideAppealRequest {
    pb::DecideAppealRequest {
        appeal_id: appeal.id.clone(),
        outcome: outcome as i32,
        decision_text: "Le jury a réexaminé la situation.".into(),
        part_1,
        part_2: None,
    }
}

async fn one_appeal_at_a_time(backend: Backend) {
    let Some((mut p, _)) = appealed(backend).await else {
        return;
    };
    let (c2, me2) = (p.c2.clone(), p.me(2));
    assert_eq!(rule_of(p.t.file_appeal(&c2, &me2).await), "APPEAL_PENDING");
}

async fn a_withdrawn_candidate_does_not_appeal(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    let (c3, me3) = (p.c3.clone(), p.me(3));
    assert_eq!(
        rule_of(p.t.file_appeal(&c3, &me3).await),
        "CANDIDATE_WITHDRAWN"
    );
}

async fn a_candidate_appeals_for_themselves_with_grounds(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    let (c1, c2, me1) = (p.c1.clone(), p.c2.clone(), p.me(1));
    assert_eq!(
        code(p.t.file_appeal(&c2, &me1).await),
        Code::PermissionDenied
    );
    assert_eq!(
        fields_of(
            p.t.exam
                .file_appeal(authed(
                    pb::FileAppealRequest {
                        candidacy_id: c1,
                        grounds: String::new()
                    },
                    &me1
                ))
                .await
        ),
        ["grounds"]
    );
}

async fn an_appeal_decision_names_its_bad_fields(backend: Backend) {
    let Some((mut p, appeal)) = appealed(backend).await else {
        return;
    };
    let recteur = p.t.recteur.clone();
    let revised = Some(pb::RevisedMark {
        mark: "12".into(),
        absent: false,
    });
    let mut exam = p.t.exam.clone();
    assert_eq!(
        fields_of(
            exam.decide_appeal(authed(
                decide(&appeal, pb::ExamAppealStatus::Dismissed, revised),
                &recteur
            ))
            .await
        ),
        ["part_1"]
    );
    assert_eq!(
        fields_of(
            exam.decide_appeal(authed(
                decide(&appeal, pb::ExamAppealStatus::Upheld, None),
                &recteur
            ))
            .await
        ),
        ["part_1", "part_2"]
    );
    assert_eq!(
        fields_of(
            exam.decide_appeal(authed(
                decide(&appeal, pb::ExamAppealStatus::Pending, None),
                &recteur
            ))
            .await
        ),
        ["outcome"]
    );
    // Nothing was decided.
    p.t.exam
        .decide_appeal(authed(
            decide(&appeal, pb::ExamAppealStatus::Dismissed, None),
            &recteur,
        ))
        .await
        .unwrap();
}

async fn an_appeal_is_decided_once(backend: Backend) {
    let Some((mut p, appeal)) = appealed(backend).await else {
        return;
    };
    let office = p.t.office.clone();
    let dismissed =
        p.t.exam
            .decide_appeal(authed(
                decide(&appeal, pb::ExamAppealStatus::Dismissed, None),
                &office,
            ))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(dismissed.status, pb::ExamAppealStatus::Dismissed as i32);
    assert_eq!(dismissed.decision_after, dismissed.decision_before);
    assert_eq!(
        rule_of(
            p.t.exam
                .decide_appeal(authed(
                    decide(&appeal, pb::ExamAppealStatus::Dismissed, None),
                    &office
                ))
                .await
        ),
        "APPEAL_ALREADY_DECIDED"
    );
    let appeals =
        p.t.exam
            .list_appeals(authed(
                pb::ListAppealsRequest {
                    session_id: p.sid.clone(),
                    ..Default::default()
                },
                &p.t.recteur,
            ))
            .await
            .unwrap()
            .into_inner()
            .appeals;
    assert_eq!(appeals.len(), 1);
}

/// The window of the session is 15 days after publication.
async fn appeals_close_with_their_window(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    advance(&p.t, TimeDelta::days(16));
    let (c2, me2) = (p.c2.clone(), p.me(2));
    assert_eq!(
        rule_of(p.t.file_appeal(&c2, &me2).await),
        "APPEAL_WINDOW_CLOSED"
    );
}
