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
