//! Results: read by the office once deliberated, by candidates once published; publication,
//! whose events carry the date of the deliberation (the date of admission); the session
//! statistics.

use chrono::TimeDelta;
use cplds_proto::v1::{self as pb, event_envelope::Payload};

use crate::helpers::*;

on_both!(
    the_office_reads_results_before_publication,
    candidates_read_their_result_once_published,
    the_results_carry_the_date_of_the_deliberation,
    the_statistics_of_the_session,
);

async fn the_office_reads_results_before_publication(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.deliberate().await;
    let office = p.t.office.clone();
    assert_eq!(
        p.t.result(&p.c1, &office)
            .await
            .unwrap()
            .decision
            .unwrap()
            .total,
        "28.5"
    );
}

async fn candidates_read_their_result_once_published(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.deliberate().await;
    let (me1, me2) = (p.me(1), p.me(2));
    let (c1, c2) = (p.c1.clone(), p.c2.clone());
    assert_eq!(
        rule_of(p.t.result(&c1, &me1).await),
        "RESULTS_NOT_PUBLISHED"
    );
    assert_eq!(
        rule_of(p.t.file_appeal(&c2, &me2).await),
        "RESULTS_NOT_PUBLISHED"
    );
    let recteur = p.t.recteur.clone();
    let published = p.t.publish(&p.sid, &recteur).await.unwrap();
    assert!(published.newly_published);
    assert_eq!((published.candidates, published.admitted), (3, 1));
    let session = published.session.unwrap();
    assert_eq!(session.state, pb::ExamSessionState::ResultsPublished as i32);
    assert_eq!(session.results_published_by, "recteur@ac-toulouse.fr");
    let r = p.t.result(&c1, &me1).await.unwrap();
    assert_eq!(
        r.decision.unwrap().outcome,
        pb::ExamOutcome::Admitted as i32
    );
}

/// Deliberated on the 19th, published two days later: certificates state the 19th.
async fn the_results_carry_the_date_of_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let mut events = p.t.listen().await;
    p.t.node.clock.set(at("2025-11-19T17:00"));
    p.deliberate().await;
    advance(&p.t, TimeDelta::days(2));
    let recteur = p.t.recteur.clone();
    let published = p.t.publish(&p.sid, &recteur).await.unwrap();
    let session = published.session.unwrap();
    let deliberated = session.deliberation_close_time.unwrap();
    assert_eq!(
        cplds_runtime::time::from_timestamp(&deliberated).unwrap(),
        at("2025-11-19T17:00")
    );
    let sent = events_until(&mut events, pb::Stream::Internal, "results_published").await;
    let mut dates = Vec::new();
    for e in &sent {
        match &e.payload {
            Some(Payload::DeliberationClosed(d)) => dates.push(d.deliberated_at.unwrap()),
            Some(Payload::ResultsPublished(r)) => {
                assert_ne!(r.published_at.unwrap(), deliberated);
                dates.push(r.deliberated_at.unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(dates, [deliberated, deliberated]);
}

async fn the_statistics_of_the_session(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.publish().await;
    let st = p.t.statistics(&p.sid).await.unwrap();
    assert_eq!(
        (
            st.candidates,
            st.withdrawn,
            st.admitted,
            st.not_admitted,
            st.absent,
            st.sat
        ),
        (3, 1, 1, 1, 1, 1)
    );
    assert!(st.published);
    let reasons: Vec<_> = st
        .not_admitted_by_reason
        .iter()
        .map(|r| (r.reason, r.count))
        .collect();
    assert!(reasons.contains(&(pb::ExamDecisionReason::Absent as i32, 1)));
    assert!(reasons.contains(&(pb::ExamDecisionReason::Withdrawn as i32, 1)));
}
