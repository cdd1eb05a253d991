//! The ministry only, on the national node only; bad queries name their fields.

use std::sync::Arc;

use cplds_national::NationalModule;
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Role,
    bus::memory::InMemoryBus,
    testing::{TestNode, TestNodeOptions, authed, bad_fields},
};
use tonic::Code;

use crate::helpers::{academy, national};

#[tokio::test]
async fn only_the_ministry_of_the_national_node_reads_the_figures() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let toulouse = academy("toulouse", Arc::new(bus.clone())).await;
    // An académie's token is refused, and so is an académie role on a national token.
    let foreign = toulouse.token("dec@ac.fr", &[Role::ExamOffice]);
    let err = f.statistics_as(&foreign).await.unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "signed by a key the national node does not trust"
    );
    let academy_role = f
        .national
        .issuer
        .mint("dec@ac.fr", "toulouse", &[Role::ExamOffice])
        .unwrap();
    let err = f.statistics_as(&academy_role).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn bad_queries_name_their_fields() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    let bad = pb::GetStatisticsRequest {
        year: 1999,
        scope: Some(pb::Scope {
            level: pb::ScopeLevel::Region as i32,
            code: "atlantide".into(),
        }),
        breakdown: vec![0],
        ..Default::default()
    };
    let err = f
        .stats
        .get_statistics(authed(bad, &f.ministry))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["year", "scope", "breakdown[0]"]);
    let twice = pb::GetStatisticsRequest {
        year: 2025,
        breakdown: vec![
            pb::Dimension::Sex as i32,
            0,
            pb::Dimension::Sex as i32,
            pb::Dimension::Department as i32,
            pb::Dimension::Academy as i32,
        ],
        ..Default::default()
    };
    let err = f
        .stats
        .get_statistics(authed(twice, &f.ministry))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["breakdown[1]", "breakdown[2]", "breakdown"]
    );
    let err = f
        .stats
        .get_completeness(authed(
            pb::GetCompletenessRequest {
                academy: "gotham".into(),
            },
            &f.ministry,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["academy"]);
}

#[tokio::test]
async fn a_session_report_request_names_every_bad_field() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let err = f.report("gotham", 1999).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["academy", "year"]);
}

#[tokio::test]
async fn the_aggregator_runs_only_in_the_national_node() {
    let opts = TestNodeOptions::new("toulouse", vec![Arc::new(NationalModule)]);
    let err = TestNode::start(opts).await.err().expect("refused");
    assert!(format!("{err:#}").contains("national node"), "{err:#}");
}
