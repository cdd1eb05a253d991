//! The national node with académie nodes on one in-process bus: consolidated figures equal what
//! was submitted, nothing personal reaches it, gaps are found and closed by replay, approvals
//! reopen on corrections, publication hides small counts, reports and exports are produced.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use cplds_national::NationalModule;
use cplds_proto::v1::{
    self as pb, EventEnvelope, event_envelope::Payload,
    national_statistics_service_client::NationalStatisticsServiceClient,
    registration_service_client::RegistrationServiceClient,
    reporting_service_client::ReportingServiceClient,
};
use cplds_registration::RegistrationModule;
use cplds_reporting::ReportingModule;
use cplds_runtime::{
    auth::Role,
    bus::{
        BusError, EventBus, Message, QueueSpec, SharedBus, Stream, Subscription,
        memory::InMemoryBus,
    },
    testing::{TestNode, TestNodeOptions, authed, bad_fields, wait_for},
    time::{parse_paris_local, to_timestamp},
};
use prost::Message as _;
use tonic::{Code, transport::Channel};

/// Drops chosen national messages once, as a broken federation link would.
struct LossyBus {
    inner: InMemoryBus,
    national_seen: AtomicUsize,
    drop_nth: Vec<usize>,
    dropped: Mutex<Vec<String>>,
}

#[async_trait]
impl EventBus for LossyBus {
    async fn declare(&self, q: &QueueSpec) -> Result<(), BusError> {
        self.inner.declare(q).await
    }

    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        let mut kept = Vec::new();
        for m in messages {
            if m.stream == Stream::National && m.event_type != "heartbeat" {
                let n = self.national_seen.fetch_add(1, Ordering::SeqCst) + 1;
                if self.drop_nth.contains(&n) {
                    self.dropped.lock().unwrap().push(m.routing_key.clone());
                    continue;
                }
            }
            kept.push(m.clone());
        }
        self.inner.publish(&kept).await
    }

    async fn subscribe(&self, q: &QueueSpec) -> Result<Subscription, BusError> {
        self.inner.subscribe(q).await
    }

    fn kind(&self) -> &'static str {
        "lossy-memory"
    }
}

struct Federation {
    _national: TestNode,
    stats: NationalStatisticsServiceClient<Channel>,
    ministry: String,
}

async fn national(bus: &InMemoryBus) -> Federation {
    let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
    opts.bus = Some(Arc::new(bus.clone()));
    opts.tweak_config = Some(Box::new(|c| {
        c.national.gap_check_interval_ms = 200;
        c.national.replay_backoff_ms = 0;
        c.national.suppression_threshold = 3;
    }));
    let node = TestNode::start(opts).await.unwrap();
    let stats = NationalStatisticsServiceClient::new(node.channel().await);
    let ministry = node.token("dgesco@education.gouv.fr", &[Role::Ministry]);
    Federation {
        _national: node,
        stats,
        ministry,
    }
}

async fn academy(code: &str, bus: SharedBus) -> TestNode {
    let mut opts = TestNodeOptions::new(
        code,
        vec![Arc::new(RegistrationModule), Arc::new(ReportingModule)],
    );
    opts.bus = Some(bus);
    let node = TestNode::start(opts).await.unwrap();
    node.clock
        .set(parse_paris_local("2025-06-01T10:00").unwrap());
    node
}

const UAI_KEY: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

fn candidate(n: u32, department: &str, female: bool) -> pb::CandidateDetails {
    let digits = format!("{:0>3}{:04}", department, n);
    let letter = UAI_KEY[(digits.parse::<u64>().unwrap() % 23) as usize] as char;
    pb::CandidateDetails {
        last_name: "Dupont".into(),
        first_name: "Alexandra".into(),
        birth_date: "1982-04-02".into(),
        email: format!("alexandra.dupont{n}@ac.fr"),
        phone: String::new(),
        staff_number: format!("34E{n:07}XYZ"),
        sex: if female {
            pb::Sex::Female as i32
        } else {
            pb::Sex::Male as i32
        },
        sector: pb::StaffSector::Public as i32,
        status: pb::StaffStatus::Tenured as i32,
        function: pb::StaffFunction::Teaching as i32,
        corps: pb::Corps::SecondDegree as i32,
        workplace_uai: format!("{digits}{letter}"),
        workplace_type: pb::WorkplaceType::College as i32,
        department: department.into(),
        runs_mlds_actions: n.is_multiple_of(2),
        is_dropout_referent: false,
    }
}

/// Registers `n` candidates in `node` (départements in turn), validates those with `validate`,
/// withdraws the last one. Returns the candidacy ids.
async fn register(node: &TestNode, departments: &[&str], n: u32, first: u32) -> Vec<String> {
    let mut client = RegistrationServiceClient::new(node.channel().await);
    let office = node.token("dec@ac.fr", &[Role::ExamOffice]);
    if client
        .get_campaign(authed(pb::GetCampaignRequest { year: 2025 }, &office))
        .await
        .is_err()
    {
        client
            .create_campaign(authed(
                pb::CreateCampaignRequest {
                    year: 2025,
                    opens_at_local: "2025-05-01T00:00".into(),
                    closes_at_local: "2025-06-20T17:00".into(),
                },
                &office,
            ))
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for i in 0..n {
        let d = candidate(
            first + i,
            departments[i as usize % departments.len()],
            i % 3 != 0,
        );
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year: 2025,
                    candidate: Some(d),
                    ..Default::default()
                },
                &office,
            ))
            .await
            .unwrap()
            .into_inner();
        ids.push(c.id);
    }
    ids
}

async fn stats(
    f: &mut Federation,
    scope: pb::Scope,
    breakdown: Vec<pb::Dimension>,
    publication: bool,
) -> pb::Statistics {
    let req = pb::GetStatisticsRequest {
        year: 2025,
        scope: Some(scope),
        breakdown: breakdown.into_iter().map(|d| d as i32).collect(),
        with_previous_year: true,
        for_publication: publication,
    };
    f.stats
        .get_statistics(authed(req, &f.ministry))
        .await
        .unwrap()
        .into_inner()
}

fn academy_scope(code: &str) -> pb::Scope {
    pb::Scope {
        level: pb::ScopeLevel::Academy as i32,
        code: code.into(),
    }
}

fn national_scope() -> pb::Scope {
    pb::Scope {
        level: pb::ScopeLevel::National as i32,
        code: String::new(),
    }
}

async fn registrations(f: &mut Federation, scope: pb::Scope) -> i64 {
    stats(f, scope, vec![], false)
        .await
        .totals
        .unwrap()
        .registrations
        .unwrap()
        .value
}

async fn wait_registrations(f: &mut Federation, scope: pb::Scope, expected: i64) {
    let mut stats = f.stats.clone();
    let token = f.ministry.clone();
    wait_for(
        Duration::from_secs(20),
        &format!("{expected} registrations nationally"),
        || {
            let (mut stats, token, scope) = (stats.clone(), token.clone(), scope.clone());
            async move {
                let s = stats
                    .get_statistics(authed(
                        pb::GetStatisticsRequest {
                            year: 2025,
                            scope: Some(scope),
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                (s.totals.unwrap().registrations.unwrap().value == expected).then_some(())
            }
        },
    )
    .await;
    let _ = &mut stats;
}

#[tokio::test]
async fn national_figures_are_the_sums_of_the_academies() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    let spy = QueueSpec::new(
        "national.spy",
        vec![cplds_runtime::bus::Binding::new(Stream::National, "#")],
    );
    bus.declare(&spy).await.unwrap();
    let toulouse = academy("toulouse", Arc::new(bus.clone())).await;
    let lyon = academy("lyon", Arc::new(bus.clone())).await;
    let t_ids = register(&toulouse, &["31", "81"], 7, 0).await;
    register(&lyon, &["69"], 4, 100).await;
    // Decisions in Toulouse: one validated (after documents), one rejected, one withdrawn.
    let mut t = RegistrationServiceClient::new(toulouse.channel().await);
    let office = toulouse.token("dec@ac.fr", &[Role::ExamOffice]);
    for kind in [
        pb::DocumentKind::EmploymentProof,
        pb::DocumentKind::Identity,
    ] {
        t.upload_supporting_document(authed(
            pb::UploadSupportingDocumentRequest {
                candidacy_id: t_ids[0].clone(),
                kind: kind as i32,
                file_name: "a.pdf".into(),
                content_type: String::new(),
                content: b"%PDF-1.4 x".to_vec(),
            },
            &office,
        ))
        .await
        .unwrap();
    }
    t.validate_candidacy(authed(
        pb::ValidateCandidacyRequest {
            candidacy_id: t_ids[0].clone(),
        },
        &office,
    ))
    .await
    .unwrap();
    t.reject_candidacy(authed(
        pb::RejectCandidacyRequest {
            candidacy_id: t_ids[1].clone(),
            reason: pb::RejectionReason::Incomplete as i32,
            reason_text: String::new(),
        },
        &office,
    ))
    .await
    .unwrap();
    t.withdraw_candidacy(authed(
        pb::WithdrawCandidacyRequest {
            candidacy_id: t_ids[2].clone(),
            reason_text: String::new(),
        },
        &office,
    ))
    .await
    .unwrap();

    wait_registrations(&mut f, national_scope(), 11).await;
    let s = stats(
        &mut f,
        academy_scope("toulouse"),
        vec![pb::Dimension::Department],
        false,
    )
    .await;
    let totals = s.totals.unwrap();
    assert_eq!(totals.registrations.unwrap().value, 7);
    // The withdrawal may still be on its way: wait for the last fact of Toulouse.
    let _ = totals;
    let mut stats_client = f.stats.clone();
    let ministry = f.ministry.clone();
    wait_for(Duration::from_secs(10), "Toulouse's decisions", || {
        let (mut c, tok) = (stats_client.clone(), ministry.clone());
        async move {
            let s = c
                .get_statistics(authed(
                    pb::GetStatisticsRequest {
                        year: 2025,
                        scope: Some(academy_scope("toulouse")),
                        ..Default::default()
                    },
                    &tok,
                ))
                .await
                .unwrap()
                .into_inner();
            let t = s.totals.unwrap();
            (t.invalidated.unwrap().value == 1
                && t.withdrawn.unwrap().value == 1
                && t.admitted_to_sit.unwrap().value == 1)
                .then_some(())
        }
    })
    .await;
    let _ = &mut stats_client;
    let s = stats(
        &mut f,
        academy_scope("toulouse"),
        vec![pb::Dimension::Department],
        false,
    )
    .await;
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

    // Nothing personal ever reached the national stream.
    let mut sub = bus.subscribe(&spy).await.unwrap();
    let mut seen = 0;
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        for secret in [
            "Dupont",
            "Alexandra",
            "@ac.fr",
            "34E0000000XYZ",
            "1982-04-02",
        ] {
            assert!(
                !d.body.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                d.routing_key
            );
        }
        seen += 1;
        d.ack().await.unwrap();
    }
    assert!(seen >= 14, "the spy saw the national stream ({seen})");

    // The ministry only: an académie's token is refused, and bad queries name their field.
    let foreign = toulouse.token("dec@ac.fr", &[Role::ExamOffice]);
    let err = f
        .stats
        .get_statistics(authed(
            pb::GetStatisticsRequest {
                year: 2025,
                ..Default::default()
            },
            &foreign,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "signed by a key the national node does not trust"
    );
    let academy_role = f
        ._national
        .issuer
        .mint("dec@ac.fr", "toulouse", &[Role::ExamOffice])
        .unwrap();
    let err = f
        .stats
        .get_statistics(authed(
            pb::GetStatisticsRequest {
                year: 2025,
                ..Default::default()
            },
            &academy_role,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let bad = pb::GetStatisticsRequest {
        year: 1999,
        scope: Some(pb::Scope {
            level: pb::ScopeLevel::Region as i32,
            code: "atlantide".into(),
        }),
        breakdown: vec![0],
        ..Default::default()
    };
    let err = f
        .stats
        .get_statistics(authed(bad, &f.ministry))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["year", "scope", "breakdown[0]"]);
}

#[tokio::test]
async fn a_lost_fact_is_found_and_replayed() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    let lossy = Arc::new(LossyBus {
        inner: bus.clone(),
        national_seen: AtomicUsize::new(0),
        drop_nth: vec![3, 6],
        dropped: Mutex::new(Vec::new()),
    });
    let toulouse = academy("toulouse", lossy.clone()).await;
    register(&toulouse, &["31"], 5, 0).await;
    // 6 national facts (campaign + 5 registrations); #3 and #6 (the last, seen only through the
    // heartbeat) were lost on the way.
    wait_registrations(&mut f, academy_scope("toulouse"), 5).await;
    assert_eq!(lossy.dropped.lock().unwrap().len(), 2);
    let mut stats = f.stats.clone();
    let token = f.ministry.clone();
    let completeness = wait_for(Duration::from_secs(20), "completeness", || {
        let (mut stats, token) = (stats.clone(), token.clone());
        async move {
            let c = stats
                .get_completeness(authed(
                    pb::GetCompletenessRequest {
                        academy: "toulouse".into(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            c.sources
                .iter()
                .find(|s| {
                    s.source == "registration" && s.applied_sequence == 6 && s.gaps.is_empty()
                })
                .cloned()
        }
    })
    .await;
    assert!(
        completeness.last_replay_request_time.is_some(),
        "the gap was closed by a replay request"
    );
    assert!(completeness.up_to_date);
    let _ = &mut stats;
}

fn fact(academy: &str, source: &str, sequence: u64, payload: Payload) -> Message {
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: academy.into(),
        source: source.into(),
        sequence,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
        r#type: payload.name().into(),
        stream: pb::Stream::National as i32,
        trace_context: Default::default(),
        payload: Some(payload),
    };
    Message {
        stream: Stream::National,
        routing_key: format!("{academy}.{source}.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    }
}

fn result(key: &str, p1: Option<u32>, p2: Option<u32>, department: &str) -> Payload {
    let part = |m: Option<u32>| {
        Some(pb::ExamPartResult {
            absent: m.is_none(),
            mark_half_points: m.unwrap_or(0),
        })
    };
    let (outcome, reason) = match (p1, p2) {
        (Some(a), Some(b)) if a > 10 && b > 10 && a + b >= 40 => ("ADMITTED", ""),
        (Some(a), Some(b)) if a <= 10 || b <= 10 => ("NOT_ADMITTED", "ELIMINATORY_MARK"),
        (Some(_), Some(_)) => ("NOT_ADMITTED", "TOTAL_BELOW_20"),
        _ => ("NOT_ADMITTED", "ABSENT"),
    };
    Payload::NationalExamResult(pb::NationalExamResult {
        year: 2025,
        candidate_key: key.into(),
        profile: Some(pb::CandidateProfile {
            sex: pb::Sex::Female as i32,
            department: department.into(),
            staff_category: pb::StaffCategory::FirstDegree as i32,
            workplace_type: pb::WorkplaceType::Lycee as i32,
            runs_mlds_actions: true,
            is_dropout_referent: key.ends_with('0'),
        }),
        part_1: part(p1),
        part_2: part(p2),
        outcome: outcome.into(),
        reason: reason.into(),
    })
}

#[tokio::test]
async fn marks_publication_approval_reports_and_the_survey() {
    let bus = InMemoryBus::new();
    let mut f = national(&bus).await;
    // Exam results of Reims, as its examination service publishes them (out of order on purpose).
    let marks: Vec<(Option<u32>, Option<u32>, &str)> = vec![
        (Some(24), Some(28), "51"),
        (Some(10), Some(36), "51"),
        (Some(30), None, "51"),
        (Some(16), Some(18), "51"),
        (Some(40), Some(33), "51"),
        (Some(22), Some(22), "08"),
        (Some(11), Some(29), "10"),
    ];
    let mut messages: Vec<Message> = marks
        .iter()
        .enumerate()
        .map(|(i, (a, b, d))| {
            fact(
                "reims",
                "examination",
                i as u64 + 1,
                result(&format!("k{i}"), *a, *b, d),
            )
        })
        .collect();
    messages.reverse();
    bus.publish(&messages).await.unwrap();
    let mut stats_client = f.stats.clone();
    let token = f.ministry.clone();
    wait_for(Duration::from_secs(10), "results applied", || {
        let (mut c, tok) = (stats_client.clone(), token.clone());
        async move {
            let s = c
                .get_statistics(authed(
                    pb::GetStatisticsRequest {
                        year: 2025,
                        scope: Some(academy_scope("reims")),
                        ..Default::default()
                    },
                    &tok,
                ))
                .await
                .unwrap()
                .into_inner();
            let t = s.totals.unwrap();
            (t.admitted.unwrap().value + t.not_admitted.unwrap().value == 7).then_some(())
        }
    })
    .await;
    let _ = &mut stats_client;
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

    // For publication (threshold 3): 08 and 10 have one candidate each and are hidden; the one
    // eliminatory mark of 51 is hidden with a complementary cell, so that it cannot be
    // recovered as the total minus the others.
    let p = stats(
        &mut f,
        academy_scope("reims"),
        vec![pb::Dimension::Department],
        true,
    )
    .await;
    let hidden = |pick: fn(&pb::Figures) -> Option<pb::Count>| -> Vec<bool> {
        p.cells
            .iter()
            .map(|c| pick(c.figures.as_ref().unwrap()).unwrap().suppressed)
            .collect()
    };
    assert_eq!(
        p.cells
            .iter()
            .map(|c| c.key[0].value.as_str())
            .collect::<Vec<_>>(),
        ["08", "10", "51"]
    );
    assert_eq!(hidden(|f| f.sat_whole_exam), [true, true, false]);
    assert_eq!(hidden(|f| f.eliminatory_part_1), [true, false, true]);
    assert!(
        p.cells[2]
            .figures
            .as_ref()
            .unwrap()
            .eliminatory_part_1
            .unwrap()
            .value
            == 0,
        "a hidden count shows no value"
    );
    assert!(
        p.cells[0]
            .figures
            .as_ref()
            .unwrap()
            .part_1
            .unwrap()
            .suppressed,
        "marks of a group of one are hidden"
    );
    assert!(
        !p.totals
            .as_ref()
            .unwrap()
            .sat_whole_exam
            .unwrap()
            .suppressed
    );
    assert!(p.suppressed);

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
    assert_eq!(v["totals"]["counts"]["admitted"]["value"], 4);

    // Approval by the académie, then a correction (an upheld appeal) reopens it.
    let reims = academy("reims", Arc::new(bus.clone())).await;
    let mut reporting = ReportingServiceClient::new(reims.channel().await);
    let recteur = reims.token("recteur@ac-reims.fr", &[Role::Recteur]);
    reporting
        .approve_figures(authed(
            pb::ApproveFiguresRequest {
                year: 2025,
                remarks: "Épreuve 2 : diagnostics solides, propositions à étayer.".into(),
            },
            &recteur,
        ))
        .await
        .unwrap();
    let mut sc = f.stats.clone();
    let tok = f.ministry.clone();
    wait_for(Duration::from_secs(10), "approval", || {
        let (mut c, tok) = (sc.clone(), tok.clone());
        async move {
            c.list_approvals(authed(pb::ListApprovalsRequest { year: 2025 }, &tok))
                .await
                .unwrap()
                .into_inner()
                .approvals
                .iter()
                .any(|a| a.academy == "reims" && a.approved)
                .then_some(())
        }
    })
    .await;
    let report = f
        .stats
        .get_session_report(authed(
            pb::GetSessionReportRequest {
                academy: "reims".into(),
                year: 2025,
            },
            &f.ministry,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        report
            .markdown
            .contains("Bilan de la session 2025 du CPLDS — académie de Reims"),
        "{}",
        report.markdown
    );
    assert!(
        report.markdown.contains("| Admis | 4 | 0 |"),
        "{}",
        report.markdown
    );
    assert!(report.markdown.contains("diagnostics solides"));
    assert!(report.pdf.starts_with(b"%PDF"));
    assert!(cplds_runtime::pdf::extract_text(&report.pdf).contains("Académie de Reims"));

    tokio::time::sleep(Duration::from_millis(5)).await;
    bus.publish(&[fact(
        "reims",
        "examination",
        8,
        result("k1", Some(12), Some(36), "51"),
    )])
    .await
    .unwrap();
    wait_for(Duration::from_secs(10), "reopened", || {
        let (mut c, tok) = (sc.clone(), tok.clone());
        async move {
            let a = c
                .list_approvals(authed(pb::ListApprovalsRequest { year: 2025 }, &tok))
                .await
                .unwrap()
                .into_inner();
            let r = a.approvals.into_iter().find(|a| a.academy == "reims")?;
            (!r.approved).then_some(r)
        }
    })
    .await;
    let _ = &mut sc;
    let a = f
        .stats
        .list_approvals(authed(pb::ListApprovalsRequest { year: 2025 }, &f.ministry))
        .await
        .unwrap()
        .into_inner();
    let r = &a.approvals[0];
    assert_eq!(
        r.history
            .iter()
            .map(|h| h.action.as_str())
            .collect::<Vec<_>>(),
        ["APPROVED", "REOPENED"]
    );
    assert!(a.not_approved.contains(&"reims".to_owned()));
    let s = stats(&mut f, academy_scope("reims"), vec![], false).await;
    assert_eq!(
        s.totals.unwrap().admitted.unwrap().value,
        5,
        "the appeal's new fact changed the figure"
    );
    assert!(!s.r#final);

    // The MLDS survey, entered by the académie, consolidated nationally.
    let line = |kind: &str, sex: pb::Sex, band: &str, outcome: &str, n: u32| pb::MldsSurveyLine {
        action_kind: kind.into(),
        sex: sex as i32,
        age_band: band.into(),
        outcome: outcome.into(),
        young_people: n,
    };
    let err = reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![line("knitting", pb::Sex::Male, "16-17", "school", 3)],
            },
            &recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["lines[0].action_kind"]);
    reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![line("remobilisation", pb::Sex::Male, "16-17", "school", 3)],
            },
            &recteur,
        ))
        .await
        .unwrap();
    let v2 = reporting
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest {
                year: 2025,
                lines: vec![
                    line("remobilisation", pb::Sex::Male, "16-17", "school", 30),
                    line(
                        "remise_a_niveau",
                        pb::Sex::Female,
                        "18-20",
                        "apprenticeship",
                        12,
                    ),
                ],
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v2.version, 2);
    let survey = wait_for(Duration::from_secs(10), "survey v2", || {
        let (mut c, tok) = (sc.clone(), tok.clone());
        async move {
            let s = c
                .get_mlds_survey(authed(
                    pb::GetMldsSurveyRequest {
                        year: 2025,
                        scope: None,
                    },
                    &tok,
                ))
                .await
                .unwrap()
                .into_inner();
            (s.young_people == 42).then_some(s)
        }
    })
    .await;
    assert_eq!(
        survey.cells.len(),
        2,
        "the later version replaced the first"
    );
    assert_eq!(survey.missing.len(), 29);
}

/// Two aggregator replicas on one PostgreSQL database compete on the national queue: facts
/// delivered out of order to either still apply once each, in sequence order per source.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_aggregators_share_the_queue() {
    let Some(admin) = cplds_runtime::testing::server_url(
        cplds_runtime::testing::POSTGRES_ENV,
        "two aggregators on PostgreSQL",
    ) else {
        return;
    };
    let pg = cplds_runtime::testing::TestPostgres::create(&admin)
        .await
        .unwrap();
    let bus = InMemoryBus::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
        opts.bus = Some(Arc::new(bus.clone()));
        opts.database_url = Some(pg.url.clone());
        replicas.push(TestNode::start(opts).await.unwrap());
    }
    // 3 académies × 2 sources × 40 facts, shuffled.
    let mut messages = Vec::new();
    for academy in ["amiens", "lille", "rennes"] {
        for (source, year) in [("registration", 2025), ("examination", 2025)] {
            for seq in 1..=40u64 {
                let key = format!("{academy}-{seq}");
                let payload = if source == "registration" {
                    Payload::NationalCandidacyRegistered(pb::NationalCandidacyRegistered {
                        year,
                        candidate_key: key,
                        profile: Some(pb::CandidateProfile {
                            sex: pb::Sex::Male as i32,
                            department: "59".into(),
                            ..Default::default()
                        }),
                        eligible: true,
                    })
                } else {
                    result(&key, Some(24), Some(26), "59")
                };
                messages.push(fact(academy, source, seq, payload));
            }
        }
    }
    let n = messages.len();
    for i in 0..n {
        messages.swap(i, (i * 7919 + 13) % n);
    }
    for chunk in messages.chunks(10) {
        bus.publish(chunk).await.unwrap();
    }
    let mut stats = NationalStatisticsServiceClient::new(replicas[0].channel().await);
    let token = replicas[0].token("dgesco@education.gouv.fr", &[Role::Ministry]);
    let c = wait_for(Duration::from_secs(30), "every fact applied", || {
        let (mut stats, token) = (stats.clone(), token.clone());
        async move {
            let c = stats
                .get_completeness(authed(pb::GetCompletenessRequest::default(), &token))
                .await
                .unwrap()
                .into_inner();
            (c.sources.len() == 6
                && c.sources
                    .iter()
                    .all(|s| s.applied_sequence == 40 && s.gaps.is_empty()))
            .then_some(c)
        }
    })
    .await;
    assert_eq!(c.sources.len(), 6);
    let s = stats
        .get_statistics(authed(
            pb::GetStatisticsRequest {
                year: 2025,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let t = s.totals.unwrap();
    assert_eq!(t.registrations.unwrap().value, 120);
    assert_eq!(t.admitted.unwrap().value, 120);
    for r in replicas {
        r.node.shutdown().await.unwrap();
    }
}
