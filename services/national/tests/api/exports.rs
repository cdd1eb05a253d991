//! Exports of the figures, as CSV (suppressed cells marked) and JSON.

use cplds_proto::v1 as pb;
use cplds_runtime::{bus::memory::InMemoryBus, testing::authed};

use crate::helpers::{academy_scope, national, reims_results};

#[tokio::test]
async fn exports_are_csv_or_json() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    reims_results(&bus, &f).await;
    // Exports.
    let req = pb::ExportStatisticsRequest {
        query: Some(pb::GetStatisticsRequest {
            year: 2025,
            scope: Some(academy_scope("reims")),
            breakdown: vec![pb::Dimension::Department as i32],
            for_publication: true,
            ..Default::default()
        }),
        format: pb::ExportFormat::Csv as i32,
    };
    let csv = f
        .stats
        .export_statistics(authed(req.clone(), &f.ministry))
        .await
        .unwrap()
        .into_inner();
    let text = String::from_utf8(csv.content).unwrap();
    assert!(
        text.starts_with("year,scope,department,registrations"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5);
    assert!(
        text.lines().nth(2).unwrap().contains(",s,"),
        "suppressed cells are marked: {text}"
    );
    let json = f
        .stats
        .export_statistics(authed(
            pb::ExportStatisticsRequest {
                format: pb::ExportFormat::Json as i32,
                ..req
            },
            &f.ministry,
        ))
        .await
        .unwrap()
        .into_inner();
    let v: serde_json::Value = serde_json::from_slice(&json.content).unwrap();
    let totals = &v["totals"]["counts"];
    assert_eq!(totals["marks_part1"]["value"], 7);
    // 4 admitted, but hidden: with the 3 not admitted (hidden) it would give 51's 2 admitted.
    assert_eq!(totals["admitted"]["suppressed"], true);
    assert_eq!(totals["admitted"]["value"], 0);
    assert!(
        totals.get("with_result").is_none(),
        "derived counts are not exported"
    );
}
