//! An académie's approval makes its figures final; a later fact of the year reopens it, with
//! an audit trail.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    bus::{EventBus, memory::InMemoryBus},
    testing::authed,
    time::parse_paris_local,
};

use crate::helpers::{
    academy_scope, fact_at, national, reims_approves, reims_results, result, stats, wait_approvals,
};

#[tokio::test]
async fn an_approval_is_reopened_by_a_later_fact() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    let _reims = reims_approves(&bus, &f).await;
    // A correction (an upheld appeal) the day after the approval (Reims approved on 1 June).
    bus.publish(&[fact_at(
        "reims",
        "examination",
        8,
        result("k1", Some(12), Some(36), "51"),
        parse_paris_local("2025-06-02T10:00").unwrap(),
    )])
    .await
    .unwrap();
    wait_approvals(&f, "reopened", |a| {
        let r = a.approvals.into_iter().find(|a| a.academy == "reims")?;
        (!r.approved).then_some(r)
    })
    .await;
    let a = f
        .stats
        .list_approvals(authed(pb::ListApprovalsRequest { year: 2025 }, &f.ministry))
        .await
        .unwrap()
        .into_inner();
    let r = &a.approvals[0];
    assert_eq!(
        r.history
            .iter()
            .map(|h| h.action.as_str())
            .collect::<Vec<_>>(),
        ["APPROVED", "REOPENED"]
    );
    assert!(a.not_approved.contains(&"reims".to_owned()));
    let s = stats(&mut f, academy_scope("reims"), vec![], false).await;
    assert_eq!(
        s.totals.unwrap().admitted.unwrap().value,
        5,
        "the appeal's new fact changed the figure"
    );
    assert!(!s.r#final);
}
