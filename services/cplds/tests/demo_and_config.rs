//! The README's main command and the example configuration keep working.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_runtime::config::{Config, QueueType};

#[tokio::test]
async fn the_demo_runs_end_to_end() {
    cplds_runtime::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let demo = cplds::demo::run(cplds::demo::DemoOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
    })
    .await
    .unwrap();
    assert!(
        demo.summary
            .contains("12 candidacies: 10 validated, 1 rejected (ineligible), 1 withdrawn"),
        "{}",
        demo.summary
    );
    assert!(
        demo.summary
            .contains("admitted list published by the recteur: 10 candidates"),
        "{}",
        demo.summary
    );
    assert!(
        demo.summary.contains("figures final: yes"),
        "{}",
        demo.summary
    );
    let total = demo
        .summary
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .unwrap();
    assert_eq!(
        total.split_whitespace().nth(1),
        Some("30"),
        "12 + 9 + 9 registrations reach the national node: {total}"
    );
    // The QR code of the certificate the demo verified leads to the académie's page.
    let url = demo
        .summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("QR code: "))
        .expect("a QR code line")
        .to_owned();
    let web = demo.nodes[0].node.http_addr.expect("public pages");
    let path = url.strip_prefix(&format!("http://{web}")).expect(&url);
    let page = cplds_runtime::testing::http(web, "GET", path, &[], b"")
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    // The same address serves the node's metrics, which count what the demo did.
    let metrics = cplds_runtime::testing::http(web, "GET", "/metrics", &[], b"")
        .await
        .unwrap()
        .body;
    let issued: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cplds_certificates_issued_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(issued > 0, "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("cplds_relay_published_events_total{")
                && l.contains("stream=\"national\"")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
    // The demo's node runs on SQLite, whose writes commit in groups: every COMMIT is counted
    // with the units it ended (at least one each), and the time they held the write lock.
    let registration = |name: &str| -> f64 {
        let prefix = format!("{name}{{service=\"registration\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} for registration: {metrics}"))
    };
    let units = registration("cplds_group_commit_units_sum");
    let commits = registration("cplds_group_commit_units_count");
    assert!(commits > 0.0 && units >= commits, "{metrics}");
    assert!(
        registration("cplds_group_commit_held_seconds_total") > 0.0,
        "{metrics}"
    );
    the_academy_report_is_the_national_one(&demo).await;
    demo.shutdown().await.unwrap();
}

/// Issue 13 §1: Toulouse's exam office gets, from its own node, the session report the ministry
/// gets from the national node for Toulouse: every figure, table and remark the same.
async fn the_academy_report_is_the_national_one(demo: &cplds::demo::Demo) {
    use cplds_proto::v1::{
        self as pb, figures_service_client::FiguresServiceClient,
        national_statistics_service_client::NationalStatisticsServiceClient,
    };
    use cplds_runtime::auth::{Role, authed};

    let (toulouse, national) = (&demo.nodes[0], &demo.nodes[1]);
    let year = cplds_runtime::time::paris_year(chrono::Utc::now());
    let ministry = national
        .token("dgesco@education.gouv.fr", &[Role::Ministry])
        .unwrap();
    let request = |academy: &str| pb::GetSessionReportRequest {
        academy: academy.into(),
        year,
    };
    let national_report = NationalStatisticsServiceClient::new(national.channel().await.unwrap())
        .get_session_report(authed(request("toulouse"), &ministry))
        .await
        .unwrap()
        .into_inner();
    assert!(
        national_report.markdown.contains("Haute-Garonne (31)"),
        "{}",
        national_report.markdown
    );
    let mut own = FiguresServiceClient::new(toulouse.channel().await.unwrap());
    let office = toulouse
        .token("dec@ac-toulouse.fr", &[Role::ExamOffice])
        .unwrap();
    // The académie folds the facts as they are published; the national node has them all.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let academy_report = loop {
        let r = own
            .get_session_report(authed(request(""), &office))
            .await
            .map(tonic::Response::into_inner);
        if r.as_ref()
            .is_ok_and(|r| r.markdown == national_report.markdown)
            || tokio::time::Instant::now() > deadline
        {
            break r.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(academy_report.academy, "toulouse");
    // Both nodes have every fact Toulouse's sources announced.
    assert!(
        national_report.complete && national_report.pending_sources.is_empty(),
        "{:?}",
        national_report.pending_sources
    );
    assert!(
        academy_report.complete,
        "{:?}",
        academy_report.pending_sources
    );
    let (a, n) = (
        academy_report.markdown.lines().collect::<Vec<_>>(),
        national_report.markdown.lines().collect::<Vec<_>>(),
    );
    for (i, (a, n)) in a.iter().zip(&n).enumerate() {
        assert_eq!(a, n, "line {} of the session report differs", i + 1);
    }
    assert_eq!(a.len(), n.len());
    assert_eq!(academy_report.pdf, national_report.pdf);

    // Only its own académie, and only for its exam office and recteur.
    let other = own
        .get_session_report(authed(request("lyon"), &office))
        .await
        .unwrap_err();
    assert_eq!(other.code(), tonic::Code::InvalidArgument, "{other:?}");
    assert!(other.message().contains("academy"), "{other:?}");
    let trainer = toulouse
        .token("trainer@ac-toulouse.fr", &[Role::Trainer])
        .unwrap();
    let refused = own
        .get_session_report(authed(request(""), &trainer))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
}

#[test]
fn the_example_node_configuration_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/node.example.toml"
    );
    let c = Config::load(Some(std::path::Path::new(path)), serde_json::json!({})).unwrap();
    assert_eq!(c.academy.as_deref(), Some("toulouse"));
    assert_eq!(c.amqp_queue_type, QueueType::Quorum);
    assert_eq!(c.documents.signing_key_files.len(), 2);
    assert_eq!(c.events.signing_key_files["registration"].len(), 2);
    assert_eq!(c.events.trusted_key_files.len(), 1);
    assert_eq!(c.server.max_message_bytes, 8 * 1024 * 1024);
    assert_eq!(c.server.public.per_client_per_minute, 60);
    assert_eq!(
        c.server.public.trusted_proxies,
        [std::net::IpAddr::from([127, 0, 0, 1])]
    );
}

/// `cplds demo --once` without `--data-dir` removes the temporary directory it made (it was left
/// behind: about 2 MiB of SQLite files per run).
#[test]
fn the_demo_removes_its_temporary_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cplds"))
        .args([
            "demo",
            "--once",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("figures final: yes"),
        "the demo ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `cplds event-keys` prints a node's public event keys as the national registry takes them
/// (`events.trusted_key_files`): the same keys each time, and a fact the node's service signs
/// verifies against them on the national node.
#[test]
fn event_keys_are_published_for_the_national_registry() {
    use cplds_runtime::event_signing::{EventSigner, TrustRegistry, Verifier, registry};
    let tmp = tempfile::tempdir().unwrap();
    let print = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cplds"))
            .args([
                "event-keys",
                "--academy",
                "toulouse",
                "--services",
                "registration,training",
            ])
            .env("CPLDS_DATA_DIR", tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = print();
    assert_eq!(print(), printed, "the keys are generated once");
    let file = tmp.path().join("toulouse.event-keys.toml");
    std::fs::write(&file, &printed).unwrap();
    let keys = registry::read_key_file(&file).unwrap().trusted_keys;
    let named: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.academy.as_str(), k.service.as_str()))
        .collect();
    assert_eq!(
        named,
        [("toulouse", "registration"), ("toulouse", "training")]
    );

    // The national node with that file only.
    let mut national = Config {
        data_dir: tmp.path().join("national"),
        ..Default::default()
    };
    national.events.trusted_key_files = vec![file];
    let verifier = Verifier::new(
        TrustRegistry::load(&national, &[]).unwrap(),
        cplds_runtime::node::Node::National,
        Default::default(),
    );
    let node = Config {
        data_dir: tmp.path().to_path_buf(),
        ..Default::default()
    };
    let signer = EventSigner::load(&node, "toulouse", "registration").unwrap();
    let payload =
        cplds_proto::v1::event_envelope::Payload::NationalCandidacyRegistered(Default::default());
    let e = cplds_proto::v1::EventEnvelope {
        event_id: "e-1".into(),
        academy: "toulouse".into(),
        source: "registration".into(),
        sequence: 1,
        r#type: payload.name().into(),
        stream: cplds_proto::v1::Stream::National as i32,
        payload: Some(payload),
        ..Default::default()
    };
    let mut m = cplds_runtime::bus::Message {
        stream: cplds_runtime::bus::Stream::National,
        routing_key: "toulouse.registration.candidacy_registered".into(),
        message_id: "e-1".into(),
        event_type: e.r#type.clone(),
        body: prost::Message::encode_to_vec(&e),
        headers: Default::default(),
    };
    signer.sign(&mut m);
    let received: cplds_proto::v1::EventEnvelope =
        prost::Message::decode(m.body.as_slice()).unwrap();
    assert_eq!(
        verifier.check(
            &registry::Received {
                routing_key: &m.routing_key,
                body: &m.body,
                headers: &m.headers,
                envelope: &received,
            },
            chrono::Utc::now(),
        ),
        Ok(())
    );
}
