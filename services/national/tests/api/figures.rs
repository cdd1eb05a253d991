//! The consolidated figures: the sums of what the académies submitted, by scope and breakdown.

use cplds_proto::v1 as pb;
use cplds_runtime::bus::memory::InMemoryBus;

use crate::helpers::{
    academy_scope, national, national_scope, registered, registrations, reims_results, stats,
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
    assert_eq!(
        by_academy
            .academies
            .iter()
            .map(|a| a.academy.as_str())
            .collect::<Vec<_>>(),
        ["lyon", "toulouse"]
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
