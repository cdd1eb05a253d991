//! Three académie nodes and the national node, each with its own PostgreSQL database and its
//! own vhost on the real RabbitMQ, federated by the broker's federation plugin with the
//! definitions of `deploy/rabbitmq`. Registrations go through the académies' gRPC APIs; the
//! national figures must equal the sums of what was submitted, also after the national node is
//! stopped mid-stream and restarted and while one académie's relay cannot reach its broker; and
//! nothing with a name, an e-mail, a staff number or an establishment code reaches the national
//! broker. Each académie's own copy of its national figures (service `figures`, on its own
//! broker with its own user) gives the session report the national node gives for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, time::Duration};

use cplds::sandbox::{LocalNode, authed};
use cplds_federation_tests::{Topology, amqp_bus, start_national_node, start_node};
use cplds_proto::v1::{
    self as pb, EventEnvelope, figures_service_client::FiguresServiceClient,
    national_statistics_service_client::NationalStatisticsServiceClient,
    registration_service_client::RegistrationServiceClient,
    reporting_service_client::ReportingServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::{Binding, QueueSpec, Stream},
    testing::{AMQP_ENV, CuttableProxy, POSTGRES_ENV, TestPostgres, server_url, wait_for},
};
use prost::Message as _;

const YEAR: i32 = 2026;

struct Submitted {
    last_name: String,
    email: String,
    staff_number: String,
    uai: String,
}

fn candidate(academy: &str, department: &str, n: u32) -> pb::CandidateDetails {
    let digits = format!("{:0>3}{:04}", department, 3000 + n);
    let uai = cplds_runtime::people::Uai::of_number(digits.parse().unwrap())
        .as_str()
        .to_owned();
    pb::CandidateDetails {
        last_name: format!(
            "Fédéré{}",
            [
                "Aubert", "Blanc", "Colin", "Dumas", "Etienne", "Faure", "Giraud"
            ][n as usize % 7]
        ),
        first_name: "Maëlle".into(),
        birth_date: "1979-11-30".into(),
        email: format!("maelle.{academy}.{n}@ac-{academy}.fr"),
        phone: String::new(),
        staff_number: format!("{:02}F{n:07}{}", 10 + n, &academy[..3].to_uppercase()),
        sex: if n.is_multiple_of(2) {
            pb::Sex::Female as i32
        } else {
            pb::Sex::Male as i32
        },
        sector: pb::StaffSector::Public as i32,
        status: pb::StaffStatus::Tenured as i32,
        function: pb::StaffFunction::Education as i32,
        corps: pb::Corps::SecondDegree as i32,
        workplace_uai: uai,
        workplace_type: pb::WorkplaceType::Lycee as i32,
        department: department.into(),
        runs_mlds_actions: true,
        is_dropout_referent: n % 2 == 1,
    }
}

struct Academy {
    code: &'static str,
    departments: &'static [&'static str],
    node: LocalNode,
    client: RegistrationServiceClient<tonic::transport::Channel>,
    office: String,
    ids: Vec<String>,
}

impl Academy {
    async fn submit(&mut self, n: u32, seen: &mut Vec<Submitted>) {
        let d = candidate(
            self.code,
            self.departments[n as usize % self.departments.len()],
            n,
        );
        seen.push(Submitted {
            last_name: d.last_name.clone(),
            email: d.email.clone(),
            staff_number: d.staff_number.clone(),
            uai: d.workplace_uai.clone(),
        });
        let c = self
            .client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year: YEAR,
                    candidate: Some(d),
                    ..Default::default()
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner();
        self.ids.push(c.id);
    }
}

// Four nodes in one process: a multi-threaded runtime, as the binary uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn national_figures_converge_across_a_real_federation() {
    let (Some(amqp), Some(pg_admin)) = (
        server_url(AMQP_ENV, "federation over RabbitMQ"),
        server_url(POSTGRES_ENV, "federation over RabbitMQ"),
    ) else {
        return;
    };
    cplds_runtime::install_crypto_provider();
    cplds_runtime::telemetry::init_for_tests();
    let codes = ["toulouse", "montpellier", "lyon"];
    let topology = Topology::load(&amqp, &codes).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The spy reads everything that reaches the national broker.
    let spy_bus = amqp_bus(&topology.admin_url("national").unwrap(), "spy")
        .await
        .unwrap();
    let spy = QueueSpec::new("national.spy", vec![Binding::new(Stream::National, "#")]);
    spy_bus.declare(&spy).await.unwrap();

    let national_db = TestPostgres::create(&pg_admin).await.unwrap();
    let start_national = || async {
        start_national_node(
            dir.path().join("national"),
            &topology,
            &national_db.url,
            YEAR,
            &codes,
        )
        .await
        .unwrap()
    };
    let mut national = start_national().await;

    // Montpellier reaches its broker through a link the test can cut.
    let broker: std::net::SocketAddr = "127.0.0.1:5672".parse().unwrap();
    let proxy = CuttableProxy::start(broker).await.unwrap();
    let mut dbs = Vec::new();
    let mut academies = Vec::new();
    for (code, departments) in [
        ("toulouse", &["31", "81"][..]),
        ("montpellier", &["34", "30"][..]),
        ("lyon", &["69", "42"][..]),
    ] {
        let db = TestPostgres::create(&pg_admin).await.unwrap();
        let via = (code == "montpellier").then_some(proxy.addr);
        let modules =
            cplds::academy_modules(&["registration".into(), "reporting".into(), "figures".into()])
                .unwrap();
        let node = start_node(
            code,
            dir.path().join(code),
            modules,
            &topology,
            via,
            &db.url,
        )
        .await
        .unwrap();
        let mut client = RegistrationServiceClient::new(node.channel().await.unwrap());
        let office = node
            .token(&format!("dec@ac-{code}.fr"), &[Role::ExamOffice])
            .unwrap();
        client
            .create_campaign(authed(
                pb::CreateCampaignRequest {
                    year: YEAR,
                    opens_at_local: "2026-01-05T00:00".into(),
                    closes_at_local: "2026-12-31T17:00".into(),
                },
                &office,
            ))
            .await
            .unwrap();
        dbs.push(db);
        academies.push(Academy {
            code,
            departments,
            node,
            client,
            office,
            ids: Vec::new(),
        });
    }
    topology
        .wait_for_links(Duration::from_secs(60))
        .await
        .unwrap();

    let mut submitted = Vec::new();
    for a in &mut academies {
        for n in 0..4 {
            a.submit(n, &mut submitted).await;
        }
    }
    // The national node stops mid-stream; its durable queue keeps what arrives meanwhile.
    national.node.shutdown().await.unwrap();
    // Montpellier's relay loses its broker: its commits wait in the outbox.
    proxy.set_refusing(true);
    proxy.cut();
    for a in &mut academies {
        for n in 4..7 {
            a.submit(n, &mut submitted).await;
        }
        let id = a.ids[1].clone();
        a.client
            .withdraw_candidacy(authed(
                pb::WithdrawCandidacyRequest {
                    candidacy_id: id,
                    reason_text: String::new(),
                },
                &a.office,
            ))
            .await
            .unwrap();
        if a.code == "lyon" {
            let id = a.ids[2].clone();
            a.client
                .reject_candidacy(authed(
                    pb::RejectCandidacyRequest {
                        candidacy_id: id,
                        reason: pb::RejectionReason::Incomplete as i32,
                        reason_text: String::new(),
                    },
                    &a.office,
                ))
                .await
                .unwrap();
        }
    }
    national = start_national().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_refusing(false);
    for a in &academies {
        let mut reporting = ReportingServiceClient::new(a.node.channel().await.unwrap());
        let recteur = a
            .node
            .token(&format!("recteur@ac-{}.fr", a.code), &[Role::Recteur])
            .unwrap();
        reporting
            .approve_figures(authed(
                pb::ApproveFiguresRequest {
                    year: YEAR,
                    remarks: String::new(),
                },
                &recteur,
            ))
            .await
            .unwrap();
    }

    // The national figures are exactly the sums of what was submitted.
    let stats = NationalStatisticsServiceClient::new(national.channel().await.unwrap());
    let ministry = national
        .token("dgesco@education.gouv.fr", &[Role::Ministry])
        .unwrap();
    let expected: BTreeMap<&str, (i64, i64, i64)> = [
        ("lyon", (7, 1, 1)),
        ("montpellier", (7, 0, 1)),
        ("toulouse", (7, 0, 1)),
    ]
    .into();
    let figures = wait_for(
        Duration::from_secs(90),
        "the national figures to converge",
        || {
            let (mut stats, ministry, expected) =
                (stats.clone(), ministry.clone(), expected.clone());
            async move {
                let s = stats
                    .get_statistics(authed(
                        pb::GetStatisticsRequest {
                            year: YEAR,
                            breakdown: vec![pb::Dimension::Academy as i32],
                            ..Default::default()
                        },
                        &ministry,
                    ))
                    .await
                    .ok()?
                    .into_inner();
                let got: BTreeMap<String, (i64, i64, i64)> = s
                    .cells
                    .iter()
                    .map(|c| {
                        let f = c.figures.clone().unwrap_or_default();
                        let v = |c: Option<pb::Count>| c.map_or(0, |c| c.value);
                        (
                            c.key[0].value.clone(),
                            (v(f.registrations), v(f.invalidated), v(f.withdrawn)),
                        )
                    })
                    .collect();
                let matches = got.len() == expected.len()
                    && expected.iter().all(|(k, v)| got.get(*k) == Some(v));
                (matches && s.r#final).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(figures.totals.unwrap().registrations.unwrap().value, 21);
    assert!(figures.academies.iter().all(|a| a.up_to_date && a.approved));
    let completeness = stats
        .clone()
        .get_completeness(authed(pb::GetCompletenessRequest::default(), &ministry))
        .await
        .unwrap()
        .into_inner();
    for s in &completeness.sources {
        assert!(
            s.gaps.is_empty() && s.applied_sequence == s.highest_known_sequence,
            "{s:?}"
        );
    }
    assert!(proxy.cuts() >= 1);

    // Each académie's exam office reads, from its own node, the report the ministry reads.
    for a in &academies {
        let national_report = stats
            .clone()
            .get_session_report(authed(
                pb::GetSessionReportRequest {
                    academy: a.code.into(),
                    year: YEAR,
                },
                &ministry,
            ))
            .await
            .unwrap()
            .into_inner();
        let own = FiguresServiceClient::new(a.node.channel().await.unwrap());
        let own_report = wait_for(
            Duration::from_secs(60),
            "the académie's own report to match the national one",
            || {
                let (mut own, office, expected) = (
                    own.clone(),
                    a.office.clone(),
                    national_report.markdown.clone(),
                );
                async move {
                    let r = own
                        .get_session_report(authed(
                            pb::GetSessionReportRequest {
                                academy: String::new(),
                                year: YEAR,
                            },
                            &office,
                        ))
                        .await
                        .ok()?
                        .into_inner();
                    (r.markdown == expected).then_some(r)
                }
            },
        )
        .await;
        assert_eq!(own_report.pdf, national_report.pdf, "{}", a.code);
    }

    // Nothing personal crossed to the national broker. The académies stop first: their
    // heartbeats would keep the spy's queue from ever running dry.
    for a in academies {
        a.node.node.shutdown().await.unwrap();
    }
    let mut sub = spy_bus.subscribe(&spy).await.unwrap();
    let mut facts = 0;
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
        for s in &submitted {
            for secret in [
                &s.last_name,
                &s.email,
                &s.staff_number,
                &s.uai,
                &"Maëlle".to_owned(),
                &"1979-11-30".to_owned(),
            ] {
                assert!(
                    !d.body.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} reached the national broker in {}",
                    d.routing_key
                );
            }
        }
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        assert_eq!(e.stream, pb::Stream::National as i32);
        if e.sequence > 0 {
            facts += 1;
        }
        d.ack().await.unwrap();
    }
    // 3 campaigns + 21 registrations + 3 withdrawals + 1 rejection + 3 approvals, at least once.
    assert!(facts >= 31, "the spy saw {facts} facts");

    national.node.shutdown().await.unwrap();
    drop(dbs);
}
