//! The scripted use of the service the demo runs, through the public API only.

use std::time::Duration;

use cplds_certification::scenario::{self, ScenarioOptions};
use cplds_proto::v1 as pb;

use crate::helpers::{Backend, WAIT, decision, results, start};

on_both!(the_scenario_issues_and_verifies_through_the_public_api);

async fn the_scenario_issues_and_verifies_through_the_public_api(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, (0..4).map(|n| decision(n, n != 3)).collect()))
        .await;
    let opts = || ScenarioOptions {
        year: 2025,
        expected: 3,
        wait: WAIT,
        signatory_name: Some("Mostafa Fourar".into()),
    };
    let summary = scenario::issue_and_verify(t.node.channel().await, &t.recteur, opts())
        .await
        .unwrap();
    assert_eq!((summary.issued, summary.already_issued), (3, 0));
    assert_eq!(summary.verified_number, "CPLDS-TOULOUSE-2025-000001");
    assert_eq!(summary.holder_name, "Lucas BERNARD");
    assert_eq!(summary.status_by_number, pb::VerificationStatus::Valid);
    assert_eq!(summary.status_by_credential, pb::VerificationStatus::Valid);
    assert!(
        summary.to_string().contains("3 certificate(s) issued"),
        "{summary}"
    );
    // Run again: nothing is issued twice.
    let again = scenario::issue_and_verify(t.node.channel().await, &t.recteur, opts())
        .await
        .unwrap();
    assert_eq!((again.issued, again.already_issued), (0, 3));
    // Waiting for results that never come fails with a clear message.
    let err = scenario::issue_and_verify(
        t.node.channel().await,
        &t.recteur,
        ScenarioOptions {
            year: 2024,
            expected: 1,
            wait: Duration::from_millis(200),
            signatory_name: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("are the results published"),
        "{err}"
    );
}
