//! What every area's tests share: the national node and académie nodes on one in-process bus,
//! clients and tokens, candidates registered through registration's API, and national facts
//! published as an académie's relay would.

use std::{
    sync::{Arc, Mutex},
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
    testing::{TestNode, TestNodeOptions, authed, wait_for},
    time::{parse_paris_local, to_timestamp},
};
use prost::Message as _;
use tonic::transport::Channel;

/// Drops chosen national facts (by their sequence) the first time they are sent, as a broken
/// federation link would; a replay of them goes through. Choosing by sequence, not by arrival
/// rank, keeps the loss the same whenever the replay happens.
pub struct LossyBus {
    pub inner: InMemoryBus,
    pub drop_sequences: Vec<u64>,
    pub dropped: Mutex<Vec<u64>>,
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
                let sequence = EventEnvelope::decode(m.body.as_slice())
                    .map(|e| e.sequence)
                    .unwrap_or_default();
                let mut dropped = self.dropped.lock().unwrap();
                if self.drop_sequences.contains(&sequence) && !dropped.contains(&sequence) {
                    dropped.push(sequence);
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

pub struct Federation {
    pub national: TestNode,
    pub stats: NationalStatisticsServiceClient<Channel>,
    pub ministry: String,
}

impl Federation {
    /// The 2025 national totals, asked with `token`.
    pub async fn statistics_as(&self, token: &str) -> Result<pb::Statistics, tonic::Status> {
        self.stats
            .clone()
            .get_statistics(authed(
                pb::GetStatisticsRequest {
                    year: 2025,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn report(
        &self,
        academy: &str,
        year: i32,
    ) -> Result<pb::SessionReport, tonic::Status> {
        self.stats
            .clone()
            .get_session_report(authed(
                pb::GetSessionReportRequest {
                    academy: academy.into(),
                    year,
                },
                &self.ministry,
            ))
            .await
            .map(|r| r.into_inner())
    }
}

pub async fn national(bus: &InMemoryBus) -> Federation {
    start_national(bus, None).await
}

/// The national node on the database at `url` (which a restarted node finds again).
pub async fn national_on(bus: &InMemoryBus, url: &str) -> Federation {
    start_national(bus, Some(url.to_owned())).await
}

async fn start_national(bus: &InMemoryBus, database_url: Option<String>) -> Federation {
    let mut opts = TestNodeOptions::new("national", vec![Arc::new(NationalModule)]);
    opts.bus = Some(Arc::new(bus.clone()));
    opts.database_url = database_url;
    opts.tweak_config = Some(Box::new(|c| {
        c.national.gap_check_interval_ms = 200;
        c.national.replay_backoff_ms = 0;
        c.national.suppression_threshold = 3;
    }));
    let node = TestNode::start(opts).await.unwrap();
    let stats = NationalStatisticsServiceClient::new(node.channel().await);
    let ministry = node.token("dgesco@education.gouv.fr", &[Role::Ministry]);
    Federation {
        national: node,
        stats,
        ministry,
    }
}

pub async fn academy(code: &str, bus: SharedBus) -> TestNode {
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

pub fn candidate(n: u32, department: &str, female: bool) -> pb::CandidateDetails {
    let digits = format!("{:0>3}{:04}", department, n);
    let uai = cplds_runtime::people::Uai::of_number(digits.parse().unwrap());
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
        workplace_uai: uai.as_str().into(),
        workplace_type: pb::WorkplaceType::College as i32,
        department: department.into(),
        runs_mlds_actions: n.is_multiple_of(2),
        is_dropout_referent: false,
    }
}

/// Registers `n` candidates in `node` (départements in turn), validates those with `validate`,
/// withdraws the last one. Returns the candidacy ids.
pub async fn register(node: &TestNode, departments: &[&str], n: u32, first: u32) -> Vec<String> {
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

pub async fn stats(
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

pub fn academy_scope(code: &str) -> pb::Scope {
    pb::Scope {
        level: pb::ScopeLevel::Academy as i32,
        code: code.into(),
    }
}

pub fn national_scope() -> pb::Scope {
    pb::Scope {
        level: pb::ScopeLevel::National as i32,
        code: String::new(),
    }
}

pub async fn registrations(f: &mut Federation, scope: pb::Scope) -> i64 {
    stats(f, scope, vec![], false)
        .await
        .totals
        .unwrap()
        .registrations
        .unwrap()
        .value
}

/// Waits until the totals of 2025 in `scope` are `done`.
pub async fn wait_totals(
    f: &Federation,
    scope: pb::Scope,
    what: &str,
    done: impl Fn(&pb::Figures) -> bool + Clone,
) {
    wait_totals_of(f, 2025, scope, what, done).await;
}

/// The totals of `year` in `scope`, once `done` holds.
pub async fn wait_totals_of(
    f: &Federation,
    year: i32,
    scope: pb::Scope,
    what: &str,
    done: impl Fn(&pb::Figures) -> bool + Clone,
) -> pb::Figures {
    let (stats, token) = (f.stats.clone(), f.ministry.clone());
    wait_for(Duration::from_secs(20), what, || {
        let (mut stats, token, scope, done) =
            (stats.clone(), token.clone(), scope.clone(), done.clone());
        async move {
            let s = stats
                .get_statistics(authed(
                    pb::GetStatisticsRequest {
                        year,
                        scope: Some(scope),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            let totals = s.totals.unwrap();
            done(&totals).then_some(totals)
        }
    })
    .await
}

/// The national MLDS survey of 2025, once `done` holds.
pub async fn wait_survey(
    f: &Federation,
    what: &str,
    done: impl Fn(&pb::MldsSurvey) -> bool + Clone,
) -> pb::MldsSurvey {
    let (stats, token) = (f.stats.clone(), f.ministry.clone());
    wait_for(Duration::from_secs(10), what, || {
        let (mut stats, token, done) = (stats.clone(), token.clone(), done.clone());
        async move {
            let s = stats
                .get_mlds_survey(authed(
                    pb::GetMldsSurveyRequest {
                        year: 2025,
                        scope: None,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            done(&s).then_some(s)
        }
    })
    .await
}

pub async fn wait_registrations(f: &Federation, scope: pb::Scope, expected: i64) {
    wait_totals(f, scope, &format!("{expected} registrations"), move |t| {
        t.registrations.unwrap().value == expected
    })
    .await;
}

/// Toulouse (7 candidates in 31 and 81, one validated after its documents, one rejected, one
/// withdrawn) and Lyon (4 in 69), their facts all consolidated.
pub struct Registered {
    pub f: Federation,
    /// Kept running for as long as the test.
    pub _toulouse: TestNode,
    pub _lyon: TestNode,
}

pub async fn registered(bus: &InMemoryBus) -> Registered {
    let f = national(bus).await;
    let toulouse = academy("toulouse", Arc::new(bus.clone())).await;
    let lyon = academy("lyon", Arc::new(bus.clone())).await;
    let t_ids = register(&toulouse, &["31", "81"], 7, 0).await;
    register(&lyon, &["69"], 4, 100).await;
    decide(&toulouse, &t_ids).await;
    wait_registrations(&f, national_scope(), 11).await;
    // The withdrawal may still be on its way: wait for the last facts of Toulouse.
    wait_totals(&f, academy_scope("toulouse"), "Toulouse's decisions", |t| {
        t.invalidated.unwrap().value == 1
            && t.withdrawn.unwrap().value == 1
            && t.admitted_to_sit.unwrap().value == 1
    })
    .await;
    Registered {
        f,
        _toulouse: toulouse,
        _lyon: lyon,
    }
}

/// The first candidacy validated (after its documents), the second rejected, the third
/// withdrawn.
async fn decide(node: &TestNode, ids: &[String]) {
    let mut t = RegistrationServiceClient::new(node.channel().await);
    let office = node.token("dec@ac.fr", &[Role::ExamOffice]);
    for kind in [
        pb::DocumentKind::EmploymentProof,
        pb::DocumentKind::Identity,
    ] {
        t.upload_supporting_document(authed(
            pb::UploadSupportingDocumentRequest {
                candidacy_id: ids[0].clone(),
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
            candidacy_id: ids[0].clone(),
        },
        &office,
    ))
    .await
    .unwrap();
    t.reject_candidacy(authed(
        pb::RejectCandidacyRequest {
            candidacy_id: ids[1].clone(),
            reason: pb::RejectionReason::Incomplete as i32,
            reason_text: String::new(),
        },
        &office,
    ))
    .await
    .unwrap();
    t.withdraw_candidacy(authed(
        pb::WithdrawCandidacyRequest {
            candidacy_id: ids[2].clone(),
            reason_text: String::new(),
        },
        &office,
    ))
    .await
    .unwrap();
}

pub fn fact(academy: &str, source: &str, sequence: u64, payload: Payload) -> Message {
    fact_at(academy, source, sequence, payload, chrono::Utc::now())
}

/// A fact that occurred at `at`.
pub fn fact_at(
    academy: &str,
    source: &str,
    sequence: u64,
    payload: Payload,
    at: chrono::DateTime<chrono::Utc>,
) -> Message {
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: academy.into(),
        source: source.into(),
        sequence,
        occurred_at: Some(to_timestamp(at)),
        r#type: payload.name().into(),
        stream: pb::Stream::National as i32,
        trace_context: Default::default(),
        payload: Some(payload),
        ..Default::default()
    };
    sign(Message {
        stream: Stream::National,
        routing_key: format!("{academy}.{source}.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    })
}

/// Signed as the académie's service would (the keys every test node trusts).
pub fn sign(m: Message) -> Message {
    cplds_runtime::testing::signed(vec![m]).remove(0)
}

pub fn result(key: &str, p1: Option<u32>, p2: Option<u32>, department: &str) -> Payload {
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

/// Exam results of Reims as its examination service publishes them, out of order on purpose:
/// seven candidates, marks in half points (4 admitted, one eliminatory mark at épreuve 1, one
/// absent at épreuve 2), in départements 51, 08 and 10.
pub async fn reims_results(bus: &InMemoryBus, f: &Federation) {
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
    wait_totals(f, academy_scope("reims"), "results applied", |t| {
        t.admitted.unwrap().value + t.not_admitted.unwrap().value == 7
    })
    .await;
}

/// The académies' approvals of 2025, once `check` finds what it waits for.
pub async fn wait_approvals<T>(
    f: &Federation,
    what: &str,
    check: impl Fn(pb::ListApprovalsResponse) -> Option<T> + Clone,
) -> T {
    let (stats, token) = (f.stats.clone(), f.ministry.clone());
    wait_for(Duration::from_secs(20), what, || {
        let (mut stats, token, check) = (stats.clone(), token.clone(), check.clone());
        async move {
            check(
                stats
                    .list_approvals(authed(pb::ListApprovalsRequest { year: 2025 }, &token))
                    .await
                    .unwrap()
                    .into_inner(),
            )
        }
    })
    .await
}

/// The node of Reims (reporting), and its recteur's client and token.
pub struct Reims {
    /// Kept running for as long as the test.
    pub _node: TestNode,
    pub reporting: ReportingServiceClient<Channel>,
    pub recteur: String,
}

pub async fn reims(bus: &InMemoryBus) -> Reims {
    let node = academy("reims", Arc::new(bus.clone())).await;
    let reporting = ReportingServiceClient::new(node.channel().await);
    let recteur = node.token("recteur@ac-reims.fr", &[Role::Recteur]);
    Reims {
        _node: node,
        reporting,
        recteur,
    }
}

/// Reims approves its figures of 2025 (with the jury's remarks), as the national node sees it.
pub async fn reims_approves(bus: &InMemoryBus, f: &Federation) -> Reims {
    let mut r = reims(bus).await;
    r.reporting
        .approve_figures(authed(
            pb::ApproveFiguresRequest {
                year: 2025,
                remarks: "Épreuve 2 : diagnostics solides, propositions à étayer.".into(),
            },
            &r.recteur,
        ))
        .await
        .unwrap();
    wait_approvals(f, "approval", |a| {
        a.approvals
            .iter()
            .any(|a| a.academy == "reims" && a.approved)
            .then_some(())
    })
    .await;
    r
}

/// A fact of a payload this build does not know, as an académie upgraded first would send it:
/// the envelope of a known fact whose payload is under field number 199 (free in the contract),
/// written as raw protobuf bytes.
pub fn unknown_fact(academy: &str, source: &str, sequence: u64) -> Message {
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: academy.into(),
        source: source.into(),
        sequence,
        occurred_at: Some(to_timestamp(chrono::Utc::now())),
        r#type: "national_candidacy_relocated".into(),
        stream: pb::Stream::National as i32,
        trace_context: Default::default(),
        payload: None,
        ..Default::default()
    };
    let mut body = e.encode_to_vec();
    let inner = b"\x0a\x05k-new\x10\xe9\x0f";
    prost::encoding::encode_key(199, prost::encoding::WireType::LengthDelimited, &mut body);
    prost::encoding::encode_varint(inner.len() as u64, &mut body);
    body.extend_from_slice(inner);
    sign(Message {
        stream: Stream::National,
        routing_key: format!("{academy}.{source}.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body,
        headers: Default::default(),
    })
}

/// A registration fact of candidate `key` in 2025.
pub fn registration_fact(key: &str) -> Payload {
    Payload::NationalCandidacyRegistered(pb::NationalCandidacyRegistered {
        year: 2025,
        candidate_key: key.into(),
        profile: Some(pb::CandidateProfile {
            sex: pb::Sex::Female as i32,
            department: "31".into(),
            ..Default::default()
        }),
        eligible: true,
    })
}

/// The completeness of `academy`'s sources, once `done` finds what it waits for.
pub async fn wait_completeness<T>(
    f: &Federation,
    academy: &str,
    what: &str,
    done: impl Fn(&pb::Completeness) -> Option<T> + Clone,
) -> T {
    let (stats, token, academy) = (f.stats.clone(), f.ministry.clone(), academy.to_owned());
    wait_for(Duration::from_secs(20), what, || {
        let (mut stats, token, academy, done) =
            (stats.clone(), token.clone(), academy.clone(), done.clone());
        async move {
            let c = stats
                .get_completeness(authed(pb::GetCompletenessRequest { academy }, &token))
                .await
                .unwrap()
                .into_inner();
            done(&c)
        }
    })
    .await
}

/// The dead letters of the national node.
pub async fn dead_letters(f: &Federation) -> Vec<pb::DeadLetter> {
    let mut admin = pb::admin_service_client::AdminServiceClient::new(f.national.channel().await);
    let it = f.national.token("it@education.gouv.fr", &[Role::ItAdmin]);
    admin
        .list_dead_letters(authed(
            pb::ListDeadLettersRequest {
                include_redriven: true,
                ..Default::default()
            },
            &it,
        ))
        .await
        .unwrap()
        .into_inner()
        .dead_letters
}
