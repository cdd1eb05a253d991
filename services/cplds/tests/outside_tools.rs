//! What tools nobody here wrote see of a node: server reflection as grpcurl, grpc_cli and GUI
//! clients use it (v1alpha), and the Prometheus metrics the dashboard and alert rules of
//! deploy/monitoring read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use cplds_proto::v1 as pb;
use cplds_runtime::testing::{TestNode, TestNodeOptions, http};
use prost::Message as _;
use tonic::transport::Channel;
use tonic_reflection::pb::v1alpha::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

async fn start(academy: &str) -> TestNode {
    start_on(academy, None).await
}

/// A node with its HTTP address, on `bus` if given (nodes sharing a bus hear each other).
async fn start_on(academy: &str, bus: Option<cplds_runtime::bus::SharedBus>) -> TestNode {
    let modules = if academy == "national" {
        cplds::national_modules()
    } else {
        cplds::academy_modules(&[]).unwrap()
    };
    let mut opts = TestNodeOptions::new(academy, modules);
    opts.bus = bus;
    opts.tweak_config = Some(Box::new(|c| {
        c.http_listen = Some("127.0.0.1:0".parse().unwrap());
    }));
    TestNode::start(opts).await.unwrap()
}

/// One request on the v1alpha reflection stream, as grpcurl 1.8 sends it.
async fn reflect(channel: Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel);
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        }]))
        .await
        .expect("v1alpha reflection is served")
        .into_inner();
    answers
        .message()
        .await
        .unwrap()
        .and_then(|a| a.message_response)
        .expect("an answer")
}

async fn services(node: &TestNode) -> BTreeSet<String> {
    match reflect(
        node.channel().await,
        MessageRequest::ListServices(String::new()),
    )
    .await
    {
        MessageResponse::ListServicesResponse(l) => l.service.into_iter().map(|s| s.name).collect(),
        other => panic!("not a service list: {other:?}"),
    }
}

/// The files defining `symbol` and every file they import, fetched one by one as grpcurl does.
async fn files_of(node: &TestNode, symbol: &str) -> Vec<prost_types::FileDescriptorProto> {
    let decode = |answer: MessageResponse| match answer {
        MessageResponse::FileDescriptorResponse(f) => f
            .file_descriptor_proto
            .iter()
            .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
            .collect::<Vec<_>>(),
        other => panic!("no file for {symbol}: {other:?}"),
    };
    let mut files = decode(
        reflect(
            node.channel().await,
            MessageRequest::FileContainingSymbol(symbol.to_owned()),
        )
        .await,
    );
    let mut seen: BTreeSet<String> = files.iter().map(|f| f.name().to_owned()).collect();
    let mut i = 0;
    while i < files.len() {
        for dep in files[i].dependency.clone() {
            if seen.insert(dep.clone()) {
                files.extend(decode(
                    reflect(node.channel().await, MessageRequest::FileByFilename(dep)).await,
                ));
            }
        }
        i += 1;
    }
    files
}

const COMMON: [&str; 4] = [
    "cplds.v1.AdminService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

#[tokio::test]
async fn reflection_v1alpha_lists_only_what_each_node_serves() {
    let academy = start("toulouse").await;
    let national = start("national").await;

    let mut expected: BTreeSet<String> = COMMON.iter().map(|s| (*s).to_owned()).collect();
    expected.extend(
        [
            "RegistrationService",
            "TrainingService",
            "ExaminationService",
            "CertificationService",
            "ReportingService",
            "FiguresService",
        ]
        .map(|s| format!("cplds.v1.{s}")),
    );
    assert_eq!(services(&academy).await, expected);

    let mut expected: BTreeSet<String> = COMMON.iter().map(|s| (*s).to_owned()).collect();
    expected.insert("cplds.v1.NationalStatisticsService".to_owned());
    assert_eq!(services(&national).await, expected);

    // A client can describe a method, its messages and their imports.
    let names: Vec<String> = files_of(&academy, "cplds.v1.RegistrationService.SubmitCandidacy")
        .await
        .into_iter()
        .map(|f| f.name().to_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("registration.proto")),
        "{names:?}"
    );
    // google.rpc error details resolve, so a refusal's BadRequest prints as fields.
    for node in [&academy, &national] {
        let files = files_of(node, "google.rpc.BadRequest").await;
        let defining = files
            .iter()
            .find(|f| f.message_type.iter().any(|m| m.name() == "BadRequest"))
            .expect("the file defining BadRequest");
        assert_eq!(defining.package(), "google.rpc");
        files_of(node, "google.rpc.Status").await;
        files_of(node, "google.rpc.PreconditionFailure").await;
    }
    academy.node.shutdown().await.unwrap();
    national.node.shutdown().await.unwrap();
}

/// The sample lines of `family` (by exact name) in an OpenMetrics text.
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

#[tokio::test]
async fn nodes_serve_the_metrics_the_dashboard_and_alerts_use() {
    let academy = start("toulouse").await;
    // On the académie's bus, the national node hears its relays' heartbeats.
    let national = start_on("national", Some(academy.bus.clone())).await;
    let channel = academy.channel().await;

    // A refusal (a malformed number) and a call without the token it needs.
    let mut certification =
        pb::certification_service_client::CertificationServiceClient::new(channel.clone());
    for _ in 0..2 {
        let refused = certification
            .verify_certificate(pb::VerifyCertificateRequest {
                subject: Some(pb::verify_certificate_request::Subject::Number(
                    "not a number".into(),
                )),
                code: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
    let mut registration =
        pb::registration_service_client::RegistrationServiceClient::new(channel.clone());
    let refused = registration
        .count_candidacies(pb::CountCandidaciesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let http_addr = academy.node.http_addr.expect("the HTTP address");
    let reply = http(http_addr, "GET", "/metrics", &[], b"").await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.headers
    );
    let text = &reply.body;
    let handled = samples(text, "grpc_server_handled_total");
    let line = |method: &str, code: &str| {
        handled
            .iter()
            .find(|l| {
                l.contains(&format!("grpc_method=\"{method}\""))
                    && l.contains(&format!("grpc_code=\"{code}\""))
            })
            .copied()
    };
    let verify = line("VerifyCertificate", "InvalidArgument").unwrap_or_else(|| panic!("{text}"));
    assert!(verify.ends_with(" 2"), "{verify}");
    assert!(
        verify.contains("grpc_service=\"cplds.v1.CertificationService\"")
            && verify.contains("grpc_type=\"unary\""),
        "{verify}"
    );
    assert!(
        line("CountCandidacies", "Unauthenticated").is_some(),
        "the auth layer's refusals count: {text}"
    );
    assert!(
        samples(text, "grpc_server_handling_seconds_count")
            .iter()
            .any(|l| l.contains("VerifyCertificate") && l.ends_with(" 2")),
        "{text}"
    );
    // Read from the databases at each scrape: every service shows, even with nothing waiting.
    for service in ["registration", "certification", "training"] {
        assert!(
            samples(text, "cplds_outbox_waiting_rows")
                .iter()
                .any(|l| l.contains(&format!("service=\"{service}\""))),
            "{service}: {text}"
        );
    }
    assert!(
        samples(text, "cplds_certificates_issued_total")
            .iter()
            .any(|l| l.ends_with(" 0")),
        "{text}"
    );
    assert!(
        samples(text, "cplds_dead_letters_waiting")
            .iter()
            .any(|l| l.contains("queue=\"toulouse.examination") && l.ends_with(" 0")),
        "{text}"
    );

    let national_http = national.node.http_addr.expect("the national HTTP address");
    let national_text = cplds_runtime::testing::wait_for(
        std::time::Duration::from_secs(30),
        "the national node to hear toulouse's registration",
        || async {
            let text = http(national_http, "GET", "/metrics", &[], b"")
                .await
                .ok()?
                .body;
            samples(&text, "cplds_national_last_heard_timestamp_seconds")
                .iter()
                .any(|l| {
                    l.contains("academy=\"toulouse\"") && l.contains("source=\"registration\"")
                })
                .then_some(text)
        },
    )
    .await;

    // Every metric the dashboard and the alert rules query is one of these nodes'.
    let mut exported = cplds_deploy_check::monitoring::exported_metric_names(text);
    exported.extend(cplds_deploy_check::monitoring::exported_metric_names(
        &national_text,
    ));
    assert!(
        exported.contains("cplds_national_last_heard_timestamp_seconds"),
        "{national_text}"
    );
    let missing = cplds_deploy_check::monitoring::check_against_exported(&exported);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let used = cplds_deploy_check::monitoring::referenced_metrics().unwrap();
    assert!(used.len() >= 8, "the dashboard and alerts use {used:?}");

    academy.node.shutdown().await.unwrap();
    national.node.shutdown().await.unwrap();
}
