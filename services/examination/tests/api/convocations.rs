//! Convocations: complete schedules only, issued again as a new version when the schedule
//! changed, read by their candidate.

use cplds_proto::v1 as pb;
use cplds_runtime::pdf::extract_text;
use tonic::Code;

use crate::{
    helpers::*,
    schedule::{TwoBoards, two_boards},
};

on_both!(
    a_convocation_needs_a_complete_schedule,
    a_convocation_is_issued_again_when_the_schedule_changed,
    a_candidate_reads_each_version_of_their_convocation,
);

async fn a_convocation_needs_a_complete_schedule(backend: Backend) {
    let Some(mut s) = two_boards(backend).await else {
        return;
    };
    s.schedule_all_but_one().await;
    let sid = s.session.id.clone();
    assert_eq!(
        rule_of(s.t.issue(&sid, vec![s.c1.clone()]).await),
        "SCHEDULE_INCOMPLETE"
    );
    let r = s.t.issue(&sid, vec![]).await.unwrap();
    assert_eq!((r.issued.len(), r.unchanged), (2, 0));
    assert_eq!(r.incomplete_candidacy_ids, std::slice::from_ref(&s.c1));
}

/// Every schedule complete and convoked; then candidate 2's épreuve 2 moves from 09:00 to 14:00
/// and the convocations are issued again.
async fn convoked_then_moved(backend: Backend) -> Option<TwoBoards> {
    let mut s = two_boards(backend).await?;
    s.schedule_all_but_one().await;
    let sid = s.session.id.clone();
    s.t.issue(&sid, vec![]).await.unwrap();
    s.t.schedule(&s.c1, PART_2, "2025-11-18T09:00")
        .await
        .unwrap();
    let r = s.t.issue(&sid, vec![]).await.unwrap();
    assert_eq!((r.issued.len(), r.unchanged), (1, 2));
    // Rescheduling at the same time and place changes nothing; a move does.
    s.t.schedule(&s.c2, PART_2, "2025-11-18T09:00")
        .await
        .unwrap();
    assert!(!s.t.get_candidate(&s.c2).await.convocation_outdated);
    s.t.schedule(&s.c2, PART_2, "2025-11-18T14:00")
        .await
        .unwrap();
    let moved = s.t.get_candidate(&s.c2).await;
    assert!(moved.convocation_outdated);
    assert_eq!(
        (moved.convocation_version, moved.board_id.as_str()),
        (1, s.a.id.as_str())
    );
    Some(s)
}

async fn a_convocation_is_issued_again_when_the_schedule_changed(backend: Backend) {
    let Some(mut s) = convoked_then_moved(backend).await else {
        return;
    };
    let r = s.t.issue(&s.session.id.clone(), vec![]).await.unwrap();
    assert_eq!((r.issued.len(), r.unchanged), (1, 2));
    assert_eq!(
        (r.issued[0].candidacy_id.as_str(), r.issued[0].version),
        (s.c2.as_str(), 2)
    );
}

async fn a_candidate_reads_each_version_of_their_convocation(backend: Backend) {
    let Some(mut s) = convoked_then_moved(backend).await else {
        return;
    };
    s.t.issue(&s.session.id.clone(), vec![]).await.unwrap();
    let c2 = s.c2.clone();
    let me = s.t.candidate(&s.cands[1]);
    let history =
        s.t.exam
            .list_convocations(authed(
                pb::ListConvocationsRequest {
                    candidacy_id: c2.clone(),
                    ..Default::default()
                },
                &me,
            ))
            .await
            .unwrap()
            .into_inner()
            .convocations;
    assert_eq!(
        history
            .iter()
            .map(|c| (c.version, c.superseded))
            .collect::<Vec<_>>(),
        [(2, false), (1, true)]
    );
    let get = |version: u32| pb::GetConvocationRequest {
        candidacy_id: c2.clone(),
        version,
    };
    let v1 =
        s.t.exam
            .get_convocation(authed(get(1), &me))
            .await
            .unwrap()
            .into_inner();
    let text = extract_text(&v1.pdf);
    assert!(
        text.contains("Version 1") && text.contains("18/11/2025 de 09:00 à 10:30"),
        "{text}"
    );
    let v2 =
        s.t.exam
            .get_convocation(authed(get(0), &me))
            .await
            .unwrap()
            .into_inner();
    let text = extract_text(&v2.pdf);
    assert!(
        text.contains("remplace la version 1") && text.contains("18/11/2025 de 14:00 à 15:30"),
        "{text}"
    );
    assert_eq!(v2.convocation.unwrap().slots.len(), 2);
    let other = s.t.candidate(&s.cands[0]);
    assert_eq!(
        code(s.t.exam.get_convocation(authed(get(0), &other)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(s.t.exam.get_convocation(authed(get(7), &me)).await),
        Code::NotFound
    );
}
