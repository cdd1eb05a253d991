//! The académie's copy of its national figures (service `figures`) when it starts after the
//! académie's history: what its services published before it had a queue comes back by replay,
//! as it does for the national node, and the session report covers it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use cplds::sandbox::{LocalNode, LocalNodeSpec, authed};
use cplds_proto::v1::{
    self as pb, examination_service_client::ExaminationServiceClient,
    figures_service_client::FiguresServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::{Binding, QueueSpec, SharedBus, Stream, memory::InMemoryBus},
    testing::wait_for,
};

const HEADER: &str = "staff_number,sex,department,staff_category,workplace_type,mlds_actions,dropout_referent,status,part_1,part_2\n";

async fn start(data_dir: &std::path::Path, services: &[&str], bus: SharedBus) -> LocalNode {
    let names: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
    let mut spec = LocalNodeSpec::new(
        "reims",
        data_dir.to_path_buf(),
        cplds::academy_modules(&names).unwrap(),
        bus,
    );
    spec.config.outbox.heartbeat_interval_ms = 300;
    spec.config.national.gap_check_interval_ms = 200;
    spec.config.national.replay_backoff_ms = 1_000;
    LocalNode::start(spec).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_figures_service_gets_the_history_by_replay() {
    cplds_runtime::install_crypto_provider();
    cplds_runtime::telemetry::init_for_tests();
    let dir = tempfile::tempdir().unwrap();

    // The history is delivered (to the national node's queue) before the figures' queue exists.
    let first: SharedBus = Arc::new(InMemoryBus::new());
    let national = QueueSpec::new(
        "national.aggregator",
        vec![Binding::new(Stream::National, "#")],
    );
    first.declare(&national).await.unwrap();
    let before = start(dir.path(), &["examination"], first.clone()).await;
    let office = before
        .token("dec@ac-reims.fr", &[Role::ExamOffice])
        .unwrap();
    let imported = ExaminationServiceClient::new(before.channel().await.unwrap())
        .import_past_session(authed(
            pb::ImportPastSessionRequest {
                year: 2024,
                csv: format!(
                    "{HEADER}12E0000001AAA,female,51,first_degree,college,yes,no,validated,14,12.5\n\
                     12E0000002AAA,male,08,second_degree_tenured,lycee,no,yes,validated,ABS,11\n\
                     12E0000003AAA,male,10,first_degree,erea,no,no,withdrawn,,\n"
                )
                .into_bytes(),
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.year, 2024);
    before.node.shutdown().await.unwrap();
    let mut delivered = first.subscribe(&national).await.unwrap();
    let mut facts = 0;
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(500), delivered.next()).await
    {
        facts += 1;
        d.ack().await.unwrap();
    }
    assert!(
        facts >= 3,
        "{facts} facts delivered before the figures service existed"
    );

    // Another bus: nothing of the history is waiting anywhere for the figures' queue.
    // The académie's copy knows nothing yet, and says it is incomplete rather than wrong.
    let after = start(
        dir.path(),
        &["examination", "figures"],
        Arc::new(InMemoryBus::new()),
    )
    .await;
    let office = after.token("dec@ac-reims.fr", &[Role::ExamOffice]).unwrap();
    let own = FiguresServiceClient::new(after.channel().await.unwrap());
    let report = wait_for(
        Duration::from_secs(30),
        "the replayed history in the académie's report",
        || {
            let (mut own, office) = (own.clone(), office.clone());
            async move {
                let r = own
                    .get_session_report(authed(
                        pb::GetSessionReportRequest {
                            academy: String::new(),
                            year: 2024,
                        },
                        &office,
                    ))
                    .await
                    .ok()?
                    .into_inner();
                (r.complete && r.markdown.contains("| Inscrits | 3 |")).then_some(r)
            }
        },
    )
    .await;
    assert!(
        report.markdown.contains("| Démissionnaires | 1 |"),
        "{}",
        report.markdown
    );
    assert!(
        report.markdown.contains("Marne (51)"),
        "{}",
        report.markdown
    );
    after.node.shutdown().await.unwrap();
}
