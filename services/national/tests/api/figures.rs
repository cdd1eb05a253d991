//! The consolidated figures: the sums of what the académies submitted, by scope and breakdown.

use std::sync::Arc;

use cplds_national::NationalModule;
use cplds_proto::v1::{
    self as pb, national_statistics_service_client::NationalStatisticsServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::memory::InMemoryBus,
    testing::{TestNode, TestNodeOptions},
};

use crate::helpers::{
    Federation, academy_scope, national, national_scope, registered, registrations, reims_approves,
    reims_results, stats,
};

#[tokio::test]
async fn national_figures_are_the_sums_of_the_academies() {
    let bus = InMemoryBus::new();
    let r = registered(&bus).await;
    let mut f = r.f;
    let s = stats(
        &mut f,
        academy_scope("toulouse"),
        vec![pb::Dimension::Department],
        false,
    )
    .await;
    assert_eq!(s.totals.unwrap().registrations.unwrap().value, 7);
    let cells: Vec<(String, i64)> = s
        .cells
        .iter()
        .map(|c| {
            (
                c.key[0].value.clone(),
                c.figures.as_ref().unwrap().registrations.unwrap().value,
            )
        })
        .collect();
    assert_eq!(cells, [("31".to_owned(), 4), ("81".to_owned(), 3)]);
    assert_eq!(registrations(&mut f, academy_scope("lyon")).await, 4);
    let region = pb::Scope {
        level: pb::ScopeLevel::Region as i32,
        code: "occitanie".into(),
    };
    assert_eq!(registrations(&mut f, region).await, 7);
    let by_academy = stats(
        &mut f,
        national_scope(),
        vec![pb::Dimension::Academy, pb::Dimension::Sex],
        false,
    )
    .await;
    let sum: i64 = by_academy
        .cells
        .iter()
        .map(|c| c.figures.as_ref().unwrap().registrations.unwrap().value)
        .sum();
    assert_eq!(sum, 11, "cells add up to the national total");
    // Every académie is expected to report; lyon and toulouse have sent figures, not approved.
    assert_eq!(by_academy.academies.len(), 30);
    assert!(
        ["lyon", "toulouse"]
            .iter()
            .all(|a| by_academy.missing_academies.contains(&(*a).to_owned()))
    );
    assert!(by_academy.previous_totals.is_some());
}

#[tokio::test]
async fn marks_are_consolidated_whatever_the_delivery_order() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    let s = stats(
        &mut f,
        academy_scope("reims"),
        vec![pb::Dimension::Department],
        false,
    )
    .await;
    let t = s.totals.unwrap();
    assert_eq!(
        (t.admitted.unwrap().value, t.not_admitted.unwrap().value),
        (4, 3)
    );
    assert_eq!(t.eliminatory_part_1.unwrap().value, 1);
    assert_eq!(t.absent_part_2.unwrap().value, 1);
    assert_eq!(t.sat_whole_exam.unwrap().value, 6);
    let p1 = t.part_1.unwrap();
    assert_eq!((p1.lowest, p1.highest), (5.0, 20.0));
    assert_eq!(t.admitted_rate.unwrap().percent, 57.1);
    assert_eq!(
        t.distribution_part_1
            .iter()
            .map(|b| b.count.unwrap().value)
            .sum::<i64>(),
        7
    );
}

/// The national node of `national`, expecting only Reims to report in 2025.
async fn national_expecting_reims(bus: &InMemoryBus) -> Federation {
    let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
    opts.bus = Some(Arc::new(bus.clone()));
    opts.tweak_config = Some(Box::new(|c| {
        c.national.gap_check_interval_ms = 200;
        c.national.replay_backoff_ms = 0;
        c.national.suppression_threshold = 3;
        c.national
            .active_academies
            .insert("2025".into(), vec!["reims".into()]);
    }));
    let national = TestNode::start(opts).await.unwrap();
    let stats = NationalStatisticsServiceClient::new(national.channel().await);
    let ministry = national.token("dgesco@education.gouv.fr", &[Role::Ministry]);
    Federation {
        national,
        stats,
        ministry,
    }
}

fn region_scope(code: &str) -> pb::Scope {
    pb::Scope {
        level: pb::ScopeLevel::Region as i32,
        code: code.into(),
    }
}

#[tokio::test]
async fn the_nation_is_provisional_until_every_academie_has_approved() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    let _reims = reims_approves(&bus, &f).await;
    let reims = stats(&mut f, academy_scope("reims"), vec![], false).await;
    assert!(reims.r#final, "Reims is complete and approved");
    assert!(reims.missing_academies.is_empty());
    // The nation expects its 30 académies: 29 have sent nothing.
    let nation = stats(&mut f, national_scope(), vec![], false).await;
    assert!(!nation.r#final);
    assert_eq!(nation.academies.len(), 30);
    assert_eq!(nation.missing_academies.len(), 29);
    assert!(nation.missing_academies.contains(&"toulouse".to_owned()));
    assert!(!nation.missing_academies.contains(&"reims".to_owned()));
    // Its région expects Nancy-Metz and Strasbourg too.
    let region = stats(&mut f, region_scope("grand-est"), vec![], false).await;
    assert!(!region.r#final);
    assert_eq!(region.missing_academies, ["nancy-metz", "strasbourg"]);
}

#[tokio::test]
async fn the_academies_expected_a_year_are_configured() {
    let bus = InMemoryBus::new();
    let mut f = national_expecting_reims(&bus).await;
    reims_results(&bus, &f).await;
    let before = stats(&mut f, national_scope(), vec![], false).await;
    assert!(!before.r#final, "Reims has not approved yet");
    assert_eq!(before.missing_academies, ["reims"]);
    let _reims = reims_approves(&bus, &f).await;
    for scope in [national_scope(), region_scope("grand-est")] {
        let s = stats(&mut f, scope, vec![], false).await;
        assert!(s.r#final, "the only académie expected has approved");
        assert_eq!(
            s.academies
                .iter()
                .map(|a| a.academy.as_str())
                .collect::<Vec<_>>(),
            ["reims"]
        );
    }
}
