//! A stored value the service no longer knows is an error where it is read, never taken for a
//! default (an unknown appeal status was taken for "pending", an unknown outcome for "not
//! admitted").

use cplds_proto::v1 as pb;
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::helpers::*;

on_both!(
    an_unknown_appeal_status_is_not_taken_for_pending,
    an_unknown_outcome_is_not_taken_for_not_admitted,
);

async fn corrupt(p: &Planned, sql: &str) {
    p.t.node.node.databases["examination"]
        .execute_unprepared(sql)
        .await
        .unwrap();
}

async fn an_unknown_appeal_status_is_not_taken_for_pending(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    let (c2, me2) = (p.c2.clone(), p.me(2));
    let appeal = p.t.file_appeal(&c2, &me2).await.unwrap();
    corrupt(&p, "UPDATE appeals SET status = 'lost'").await;
    let r =
        p.t.exam
            .decide_appeal(authed(
                pb::DecideAppealRequest {
                    appeal_id: appeal.id,
                    outcome: pb::ExamAppealStatus::Dismissed as i32,
                    decision_text: "Le jury a réexaminé la situation.".into(),
                    part_1: None,
                    part_2: None,
                },
                &p.t.recteur,
            ))
            .await;
    assert_eq!(code(r), Code::Internal);
}

async fn an_unknown_outcome_is_not_taken_for_not_admitted(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    corrupt(&p, "UPDATE decisions SET outcome = 'MAYBE'").await;
    let office = p.t.office.clone();
    assert_eq!(code(p.t.result(&p.c1, &office).await), Code::Internal);
}
