//! The session report of an académie, as the jury's bilan reads.

use cplds_runtime::bus::memory::InMemoryBus;
use tonic::Code;

use crate::helpers::{national, reims_approves, reims_results};

#[tokio::test]
async fn the_session_report_reads_like_the_jurys() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    reims_results(&bus, &f).await;
    let _reims = reims_approves(&bus, &f).await;
    let report = f.report("reims", 2025).await.unwrap();
    assert!(
        report
            .markdown
            .contains("Bilan de la session 2025 du CPLDS — académie de Reims"),
        "{}",
        report.markdown
    );
    // No session 2024 here: its column reads "—", not 0; départements by name and code.
    assert!(
        report.markdown.contains("| Admis | 4 | — |"),
        "{}",
        report.markdown
    );
    assert!(
        report.markdown.contains("| Marne (51) | Femmes | 0 |"),
        "{}",
        report.markdown
    );
    assert!(report.markdown.contains("diagnostics solides"));
    assert!(report.pdf.starts_with(b"%PDF"));
    assert!(cplds_runtime::pdf::extract_text(&report.pdf).contains("Académie de Reims"));
}

#[tokio::test]
async fn an_academy_without_figures_has_no_report() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let err = f.report("reims", 2025).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// The jury president's remarks reach the report section by section, the last published
/// version winning; a section left empty reads "—".
#[tokio::test]
async fn the_jurys_remarks_are_printed_in_their_sections() {
    use cplds_proto::v1::{self as pb, event_envelope::Payload};
    use cplds_runtime::bus::EventBus as _;
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    reims_results(&bus, &f).await;
    let remarks = |general: &str| {
        Payload::NationalJuryRemarks(pb::JuryRemarksPublished {
            year: 2025,
            session_id: "s-2025".into(),
            general_remarks: general.into(),
            part_1_remarks: "Séances bien construites.".into(),
            part_2_remarks: "Études de cas trop descriptives.".into(),
            advice: "Relier la pratique aux textes.".into(),
            positive_points: "Diagnostics solides.".into(),
            points_to_improve: "La posture réflexive.".into(),
            points_to_avoid: String::new(),
            conditions: "Deux épreuves notées sur 20, 10 de moyenne, aucune note de 5 ou moins."
                .into(),
        })
    };
    // Sequences 8 and 9 of Reims's examination source (1 to 7 are its results).
    bus.publish(&[
        crate::helpers::fact("reims", "examination", 8, remarks("Bon niveau.")),
        crate::helpers::fact("reims", "examination", 9, remarks("Très bon niveau.")),
    ])
    .await
    .unwrap();
    let report =
        cplds_runtime::testing::wait_for(std::time::Duration::from_secs(10), "the remarks", || {
            let f = &f;
            async move {
                let r = f.report("reims", 2025).await.unwrap();
                r.markdown.contains("Très bon niveau.").then_some(r)
            }
        })
        .await;
    let md = &report.markdown;
    let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("{s}: {md}"));
    assert!(at("## Remarques générales du jury\n\nTrès bon niveau.") < at("### Épreuve 1"));
    assert!(at("### Épreuve 2 — étude de cas\n\nÉtudes de cas") < at("## Conseils"));
    assert!(md.contains("### Points à éviter\n\n—"), "{md}");
    assert!(md.contains("## Conditions d'obtention du certificat"));
    assert!(
        !md.contains("Bon niveau."),
        "the later version replaced the first"
    );
    assert!(cplds_runtime::pdf::extract_text(&report.pdf).contains("Points positifs"));
}

/// A report says when its figures are not all there: behind a gap, the académie's source is named
/// and the report is not complete.
#[tokio::test]
async fn a_report_behind_a_gap_says_it_is_incomplete() {
    use cplds_runtime::bus::EventBus as _;
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    reims_results(&bus, &f).await;
    let report = f.report("reims", 2025).await.unwrap();
    assert!(
        report.complete && report.pending_sources.is_empty(),
        "{:?}",
        report.pending_sources
    );
    // Sequence 9 arrives, 8 does not.
    bus.publish(&[crate::helpers::fact(
        "reims",
        "examination",
        9,
        crate::helpers::result("k9", Some(30), Some(30), "51"),
    )])
    .await
    .unwrap();
    let report =
        cplds_runtime::testing::wait_for(std::time::Duration::from_secs(10), "the gap", || {
            let f = &f;
            async move {
                let r = f.report("reims", 2025).await.ok()?;
                (!r.complete).then_some(r)
            }
        })
        .await;
    assert_eq!(report.pending_sources, ["examination"]);
    assert!(
        report.markdown.contains(
            "Chiffres incomplets : des faits de l'académie ne sont pas encore arrivés (examination)."
        ),
        "{}",
        report.markdown
    );
}
