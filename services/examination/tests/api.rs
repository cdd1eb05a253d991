//! The examination service through its public gRPC interface, on a node started in-process on a
//! random loopback port with registration beside it: the admitted list and withdrawals arrive by
//! event through the in-process bus, then sessions are driven to published results, and every
//! refusal is checked with its status code and the field or rule it names.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::TimeDelta;
use cplds_examination::{ExaminationModule, scenario};
use cplds_proto::v1::{
    self as pb, EventEnvelope, event_envelope::Payload,
    examination_service_client::ExaminationServiceClient,
    registration_service_client::RegistrationServiceClient,
};
use cplds_registration::RegistrationModule;
use cplds_runtime::{
    auth::Role,
    bus::{Binding, Message, QueueSpec, Stream, Subscription},
    pdf::extract_text,
    testing::{
        POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, bad_fields,
        precondition_rule, server_url, wait_for,
    },
    time::parse_paris_local,
};
use ed25519_dalek::{
    Signer, SigningKey,
    pkcs8::{EncodePublicKey, spki::der::pem::LineEnding},
};
use prost::Message as _;
use sha2::{Digest, Sha256};
use tonic::{Code, Status, transport::Channel};

type Exam = ExaminationServiceClient<Channel>;
type Reg = RegistrationServiceClient<Channel>;

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Each test runs on SQLite and, when switched on, on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

on_both!(
    a_whole_session_from_the_admitted_list_to_published_results,
    registration_events_reach_the_copy_in_any_order,
    planning_and_its_refusals,
    marks_deliberation_and_their_refusals,
    a_board_member_is_replaced_until_deliberation,
    who_may_do_what,
    concurrent_acts_are_serialised,
);

struct Ctx {
    _pg: Option<TestPostgres>,
    node: TestNode,
    reg: Reg,
    exam: Exam,
    office: String,
    recteur: String,
}

const EXAM_TIMEOUT: Duration = Duration::from_secs(10);

async fn start(backend: Backend) -> Option<Ctx> {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(
            TestPostgres::create(&server_url(POSTGRES_ENV, "examination API on PostgreSQL")?)
                .await
                .unwrap(),
        ),
    };
    let mut opts = TestNodeOptions::new(
        "toulouse",
        vec![Arc::new(RegistrationModule), Arc::new(ExaminationModule)],
    );
    opts.database_url = pg.as_ref().map(|p| p.url.clone());
    let node = TestNode::start(opts).await.unwrap();
    node.clock.set(at("2025-06-01T10:00"));
    let channel = node.channel().await;
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let recteur = node.token("recteur@ac-toulouse.fr", &[Role::Recteur]);
    Some(Ctx {
        _pg: pg,
        reg: RegistrationServiceClient::new(channel.clone()),
        exam: ExaminationServiceClient::new(channel),
        node,
        office,
        recteur,
    })
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    parse_paris_local(s).unwrap()
}

/// A valid UAI of Haute-Garonne from a number.
fn uai(n: u32) -> String {
    const KEY: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let digits = format!("{:07}", 310_000 + n);
    let v: u64 = digits.parse().unwrap();
    format!("{digits}{}", KEY[(v % 23) as usize] as char)
}

fn email(n: u32) -> String {
    format!("camille.martin{n}@ac-toulouse.fr")
}

/// A valid candidate of the académie de Toulouse, number `n`, working in establishment `n`.
fn person(n: u32) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: format!(
            "Martin-{}",
            ["Durand", "Petit", "Leroy", "Moreau", "Simon"][n as usize % 5]
        ),
        first_name: format!("Camille{}", "e".repeat(n as usize % 4)),
        birth_date: "1984-03-12".into(),
        email: email(n),
        phone: "06 12 34 56 78".into(),
        staff_number: format!("12E{n:07}ABC"),
        sex: if n.is_multiple_of(2) {
            pb::Sex::Female
        } else {
            pb::Sex::Male
        } as i32,
        sector: pb::StaffSector::Public as i32,
        status: pb::StaffStatus::Tenured as i32,
        function: pb::StaffFunction::Teaching as i32,
        corps: pb::Corps::SecondDegree as i32,
        workplace_uai: uai(n),
        workplace_type: pb::WorkplaceType::Lycee as i32,
        department: "31".into(),
        runs_mlds_actions: true,
        is_dropout_referent: n.is_multiple_of(3),
    }
}

fn code(r: Result<impl Sized, Status>) -> Code {
    r.err().map_or(Code::Ok, |s| s.code())
}

fn rule_of<T>(r: Result<T, Status>) -> String {
    match r {
        Ok(_) => panic!("expected a refusal"),
        Err(s) => {
            assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
            precondition_rule(&s).unwrap_or_default()
        }
    }
}

fn fields_of<T>(r: Result<T, Status>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected INVALID_ARGUMENT"),
        Err(s) => {
            assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
            bad_fields(&s)
        }
    }
}

fn member(email: &str, last: &str, uai: &str, role: pb::ExamBoardRole) -> pb::NewBoardMember {
    pb::NewBoardMember {
        email: email.into(),
        last_name: last.into(),
        first_name: "Anne".into(),
        workplace_uai: uai.into(),
        role: role as i32,
    }
}

impl Ctx {
    fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.node.token(subject, roles)
    }

    fn board_member(&self, email: &str) -> String {
        self.token(email, &[Role::BoardMember])
    }

    async fn listen(&self) -> Subscription {
        let q = QueueSpec::new(
            "toulouse.test-observer",
            vec![
                Binding::new(Stream::Internal, "toulouse.examination.*"),
                Binding::new(Stream::National, "toulouse.examination.*"),
            ],
        );
        self.node.bus.declare(&q).await.unwrap();
        self.node.bus.subscribe(&q).await.unwrap()
    }

    /// Registers `n` candidates through registration, validates them and has the recteur
    /// publish the admitted list.
    async fn admitted_list(&mut self, n: u32) -> pb::AdmittedList {
        self.reg
            .create_campaign(authed(
                pb::CreateCampaignRequest {
                    year: 2025,
                    opens_at_local: "2025-05-26T00:00".into(),
                    closes_at_local: "2025-06-20T17:00".into(),
                },
                &self.office,
            ))
            .await
            .unwrap();
        for i in 1..=n {
            let token = self.token(&email(i), &[Role::Candidate]);
            let c = self
                .reg
                .submit_candidacy(authed(
                    pb::SubmitCandidacyRequest {
                        year: 2025,
                        candidate: Some(person(i)),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            for kind in [
                pb::DocumentKind::EmploymentProof,
                pb::DocumentKind::Identity,
            ] {
                self.reg
                    .upload_supporting_document(authed(
                        pb::UploadSupportingDocumentRequest {
                            candidacy_id: c.id.clone(),
                            kind: kind as i32,
                            file_name: "piece.pdf".into(),
                            content_type: "application/pdf".into(),
                            content: format!("%PDF-1.7\n{} {kind:?}", c.id).into_bytes(),
                        },
                        &self.office,
                    ))
                    .await
                    .unwrap();
            }
            self.reg
                .validate_candidacy(authed(
                    pb::ValidateCandidacyRequest { candidacy_id: c.id },
                    &self.office,
                ))
                .await
                .unwrap();
        }
        self.node.clock.set(at("2025-06-23T09:00"));
        self.reg
            .publish_admitted_list(authed(
                pb::PublishAdmittedListRequest { year: 2025 },
                &self.recteur,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The exam service's copy, once it holds `n` candidates of 2025 (`withdrawn` of them
    /// withdrawn), in the order of the admitted list (by name).
    async fn wait_candidates(&self, n: usize, withdrawn: usize) -> Vec<pb::ExamCandidate> {
        let exam = self.exam.clone();
        let office = self.office.clone();
        let mut out = wait_for(EXAM_TIMEOUT, "the exam service's copy of the list", || {
            let mut exam = exam.clone();
            let office = office.clone();
            async move {
                let got = exam
                    .list_exam_candidates(authed(
                        pb::ListExamCandidatesRequest {
                            year: 2025,
                            ..Default::default()
                        },
                        &office,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .candidates;
                (got.len() == n && got.iter().filter(|c| c.withdrawn).count() == withdrawn)
                    .then_some(got)
            }
        })
        .await;
        out.sort_by(|a, b| a.email.cmp(&b.email));
        out
    }

    async fn withdraw(&mut self, candidacy_id: &str, n: u32) {
        let token = self.token(&email(n), &[Role::Candidate]);
        self.reg
            .withdraw_candidacy(authed(
                pb::WithdrawCandidacyRequest {
                    candidacy_id: candidacy_id.into(),
                    reason_text: "mutation".into(),
                },
                &token,
            ))
            .await
            .unwrap();
    }

    async fn create_session(&mut self) -> pb::ExamSession {
        self.exam
            .create_exam_session(authed(
                pb::CreateExamSessionRequest {
                    year: 2025,
                    starts_on: "2025-11-17".into(),
                    ends_on: "2025-11-21".into(),
                    appeal_window_days: 15,
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn create_board(
        &mut self,
        session: &pb::ExamSession,
        name: &str,
        members: Vec<pb::NewBoardMember>,
    ) -> Result<pb::ExamBoard, Status> {
        self.exam
            .create_board(authed(
                pb::CreateBoardRequest {
                    session_id: session.id.clone(),
                    name: name.into(),
                    members,
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn assign(
        &mut self,
        board: &str,
        candidacy_id: &str,
    ) -> Result<pb::BoardAssignment, Status> {
        self.exam
            .assign_candidate(authed(
                pb::AssignCandidateRequest {
                    board_id: board.into(),
                    candidacy_id: candidacy_id.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn schedule(
        &mut self,
        candidacy_id: &str,
        part: pb::ExamPart,
        start: &str,
    ) -> Result<pb::ExamSlot, Status> {
        self.exam
            .schedule_exam_part(authed(
                pb::ScheduleExamPartRequest {
                    candidacy_id: candidacy_id.into(),
                    exam_part: part as i32,
                    starts_at_local: start.into(),
                    location: "Lycée Bellevue, salle 12".into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn enter(
        &mut self,
        who: &str,
        candidacy_id: &str,
        part: pb::ExamPart,
        mark: &str,
    ) -> Result<pb::MarkSheet, Status> {
        let token = self.board_member(who);
        self.exam
            .enter_mark(authed(
                pb::EnterMarkRequest {
                    candidacy_id: candidacy_id.into(),
                    exam_part: part as i32,
                    mark: mark.into(),
                    absent: mark.is_empty(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn correct(
        &mut self,
        who: &str,
        candidacy_id: &str,
        part: pb::ExamPart,
        mark: &str,
    ) -> Result<pb::MarkSheet, Status> {
        let token = self.board_member(who);
        self.exam
            .correct_mark(authed(
                pb::CorrectMarkRequest {
                    candidacy_id: candidacy_id.into(),
                    exam_part: part as i32,
                    mark: mark.into(),
                    absent: false,
                    reason: "erreur de report".into(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn sheets(&mut self, board: &str, token: &str) -> Vec<pb::MarkSheet> {
        self.exam
            .list_mark_sheets(authed(
                pb::ListMarkSheetsRequest {
                    board_id: board.into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .sheets
    }

    async fn prepare(
        &mut self,
        who: &str,
        session: &str,
    ) -> Result<pb::DeliberationMinutes, Status> {
        let token = self.board_member(who);
        self.exam
            .prepare_minutes(authed(
                pb::PrepareMinutesRequest {
                    session_id: session.into(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn close(
        &mut self,
        who: &str,
        session: &str,
        sha256: &str,
        key: &SigningKey,
    ) -> Result<pb::DeliberationMinutes, Status> {
        let token = self.board_member(who);
        let digest = hex::decode(sha256).unwrap();
        self.exam
            .close_deliberation(authed(
                pb::CloseDeliberationRequest {
                    session_id: session.into(),
                    minutes_sha256: sha256.into(),
                    signature: STANDARD.encode(key.sign(&digest).to_bytes()),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn result(&mut self, candidacy_id: &str, token: &str) -> Result<pb::ExamResult, Status> {
        self.exam
            .get_exam_result(authed(
                pb::GetExamResultRequest {
                    candidacy_id: candidacy_id.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn file_appeal(
        &mut self,
        candidacy_id: &str,
        token: &str,
    ) -> Result<pb::ExamAppeal, Status> {
        self.exam
            .file_appeal(authed(
                pb::FileAppealRequest {
                    candidacy_id: candidacy_id.into(),
                    grounds: "Je conteste la note de l'épreuve 1.".into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn statistics(&mut self, session: &str) -> Result<pb::ExamStatistics, Status> {
        self.exam
            .get_exam_statistics(authed(
                pb::GetExamStatisticsRequest {
                    session_id: session.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }
}

/// The next event, heartbeats (the relay's sign of life) aside.
async fn next_event(sub: &mut Subscription) -> EventEnvelope {
    loop {
        let d = tokio::time::timeout(EXAM_TIMEOUT, sub.next())
            .await
            .expect("an event in time")
            .expect("open");
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        d.ack().await.unwrap();
        if !matches!(e.payload, Some(Payload::NodeHeartbeat(_))) {
            return e;
        }
    }
}

/// Events until one of type `last` on `stream` (inclusive).
async fn events_until(
    sub: &mut Subscription,
    stream: pb::Stream,
    last: &str,
) -> Vec<EventEnvelope> {
    let mut out = Vec::new();
    loop {
        let e = next_event(sub).await;
        let done = e.stream == stream as i32 && e.r#type == last;
        out.push(e);
        if done {
            return out;
        }
    }
}

fn types(events: &[EventEnvelope], stream: pb::Stream) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.stream == stream as i32)
        .map(|e| e.r#type.clone())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------

async fn a_whole_session_from_the_admitted_list_to_published_results(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let mut events = t.listen().await;
    t.admitted_list(6).await;
    let known = t.wait_candidates(6, 0).await;
    // A withdrawal after the list was published still reaches the exam service.
    let leaving = known
        .iter()
        .find(|c| c.email == email(6))
        .unwrap()
        .candidacy_id
        .clone();
    t.withdraw(&leaving, 6).await;
    t.wait_candidates(6, 1).await;
    let list = t
        .reg
        .get_admitted_list(authed(pb::GetAdmittedListRequest { year: 2025 }, &t.office))
        .await
        .unwrap()
        .into_inner();

    let node = &t.node;
    let mint = |subject: &str, roles: &[Role]| node.token(subject, roles);
    let summary = scenario::run(node.channel().await, "toulouse", &mint, &list)
        .await
        .unwrap();
    assert_eq!(
        (summary.listed, summary.withdrawn, summary.examined),
        (6, 1, 5)
    );
    assert_eq!(summary.boards, 2);
    assert_eq!(
        summary.conflicts_refused, 1,
        "one assignment refused for conflict of interest"
    );
    assert_eq!(
        (summary.convocations_issued, summary.convocations_resent),
        (5, 1)
    );
    assert_eq!(summary.mismatches_reconciled, 1);
    assert!(summary.newly_published);
    assert!(
        summary
            .to_string()
            .contains("minutes signed by commission1.presidence@ac-toulouse.fr")
    );

    // Marks of the five: 14 + 12.5; 9.5 (reconciled) + 11.5; 4.5 + 16; 12 + 13; absent + 13.
    let s = &summary.statistics;
    assert_eq!((s.candidates, s.withdrawn, s.sat, s.absent), (6, 1, 4, 1));
    assert_eq!((s.admitted, s.not_admitted), (3, 2));
    assert!((s.not_admitted_percent - 40.0).abs() < 1e-9);
    let p1 = s.part_1.as_ref().unwrap();
    assert_eq!((p1.present, p1.absent, p1.eliminatory), (4, 1, 1));
    assert_eq!((p1.lowest.as_str(), p1.highest.as_str()), ("4.5", "14"));
    assert!((p1.mean - 10.0).abs() < 1e-9);
    assert_eq!(p1.distribution.len(), 21);
    assert_eq!(
        p1.distribution[4] + p1.distribution[9] + p1.distribution[12] + p1.distribution[14],
        4
    );
    let p2 = s.part_2.as_ref().unwrap();
    assert_eq!(
        (p2.present, p2.lowest.as_str(), p2.highest.as_str()),
        (5, "11.5", "16")
    );
    let avg = s.average.as_ref().unwrap();
    assert_eq!(
        (avg.count, avg.lowest.as_str(), avg.highest.as_str()),
        (4, "10.25", "13.25")
    );

    // What went out: internal events for the académie, pseudonymous facts for the nation.
    let sent = events_until(&mut events, pb::Stream::National, "results_published").await;
    assert_eq!(
        types(&sent, pb::Stream::Internal),
        [
            "exam_session_created",
            "deliberation_closed",
            "results_published"
        ]
    );
    assert_eq!(
        types(&sent, pb::Stream::National),
        [vec!["exam_result"; 6], vec!["results_published"]].concat()
    );
    let secrets: Vec<String> = (1..=6)
        .flat_map(|n| {
            [
                email(n),
                format!("12E{n:07}ABC"),
                uai(n),
                person(n).last_name,
            ]
        })
        .chain([
            "1984-03-12".to_owned(),
            "ac-toulouse.fr".to_owned(),
            "Camille".to_owned(),
        ])
        .collect();
    for e in sent
        .iter()
        .filter(|e| e.stream == pb::Stream::National as i32)
    {
        let bytes = e.encode_to_vec();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaked to the national stream in {}",
                e.r#type
            );
        }
    }
    let national: Vec<pb::NationalExamResult> = sent
        .iter()
        .filter_map(|e| match &e.payload {
            Some(Payload::NationalExamResult(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        national.iter().filter(|r| r.outcome == "ADMITTED").count(),
        3
    );
    assert_eq!(
        national.iter().filter(|r| r.reason == "WITHDRAWN").count(),
        1
    );
    assert!(
        national
            .iter()
            .all(|r| r.candidate_key.len() == 32 && r.profile.is_some())
    );
    let Some(Payload::DeliberationClosed(closed)) = &sent[1].payload else {
        panic!("deliberation_closed expected, got {}", sent[1].r#type);
    };
    assert_eq!(closed.minutes_sha256, summary.minutes_sha256);
    assert_eq!(closed.decisions.len(), 6);

    // The minutes: what was signed is what is kept.
    let minutes = t
        .exam
        .get_minutes(authed(
            pb::GetMinutesRequest {
                session_id: summary.session_id.clone(),
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sha256_hex(&minutes.pdf), minutes.sha256);
    assert!(!minutes.signature.is_empty() && !minutes.academy_signature.is_empty());
    assert_eq!(minutes.decisions.len(), 6);
    let text = extract_text(&minutes.pdf);
    assert!(
        text.contains("Procès-verbal de délibération du jury"),
        "{text}"
    );
    assert!(text.contains("démissionnaire"));

    // A candidate reads their own convocation and result, not another's.
    let by_email = |n: u32| summary_candidate(&known, n);
    let me = t.token(&email(1), &[Role::Candidate]);
    let result = t.result(&by_email(1), &me).await.unwrap();
    assert!(result.publish_time.is_some() && result.appeal_deadline.is_some());
    assert_eq!(
        code(t.result(&by_email(2), &me).await),
        Code::PermissionDenied
    );
    let conv = t
        .exam
        .get_convocation(authed(
            pb::GetConvocationRequest {
                candidacy_id: by_email(1),
                version: 0,
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(extract_text(&conv.pdf).contains(&person(1).last_name));
    assert_eq!(
        sha256_hex(&conv.pdf),
        conv.convocation.unwrap().document_sha256
    );

    // Publication is idempotent: nothing changes, nothing is sent again (the next event is the
    // appeal's).
    let again = t
        .exam
        .publish_results(authed(
            pb::PublishResultsRequest {
                session_id: summary.session_id.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.newly_published);
    assert_eq!((again.candidates, again.admitted), (6, 3));

    // The candidate with the eliminatory 4.5 appeals; the appeal is upheld with a revised mark.
    let results = t
        .exam
        .list_exam_results(authed(
            pb::ListExamResultsRequest {
                session_id: summary.session_id.clone(),
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 6);
    let failed = results
        .iter()
        .map(|r| r.decision.clone().unwrap())
        .find(|d| d.reason == pb::ExamDecisionReason::EliminatoryMark as i32)
        .unwrap();
    let n = known
        .iter()
        .position(|c| c.candidacy_id == failed.candidacy_id)
        .unwrap() as u32
        + 1;
    let token = t.token(&email(n), &[Role::Candidate]);
    let appeal = t.file_appeal(&failed.candidacy_id, &token).await.unwrap();
    assert_eq!(appeal.status, pb::ExamAppealStatus::Pending as i32);
    let decided = t
        .exam
        .decide_appeal(authed(
            pb::DecideAppealRequest {
                appeal_id: appeal.id.clone(),
                outcome: pb::ExamAppealStatus::Upheld as i32,
                decision_text: "Erreur matérielle de report de la note.".into(),
                part_1: Some(pb::RevisedMark {
                    mark: "6".into(),
                    absent: false,
                }),
                part_2: None,
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    let after = decided.decision_after.unwrap();
    assert_eq!(after.outcome, pb::ExamOutcome::Admitted as i32);
    assert_eq!(after.total, "22");
    assert_eq!(
        decided.decision_before.unwrap().outcome,
        pb::ExamOutcome::NotAdmitted as i32
    );
    let next = events_until(&mut events, pb::Stream::National, "exam_result").await;
    assert_eq!(
        next.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
        ["appeal_decided", "exam_result"],
        "publishing again sent nothing"
    );
    let Some(Payload::NationalExamResult(revised)) = &next[1].payload else {
        panic!("a national fact");
    };
    assert_eq!(revised.outcome, "ADMITTED");
    assert_eq!(revised.part_1.unwrap().mark_half_points, 12);
    let mine = t.result(&failed.candidacy_id, &token).await.unwrap();
    assert_eq!(
        mine.decision.unwrap().outcome,
        pb::ExamOutcome::Admitted as i32
    );
    assert_eq!(mine.appeals.len(), 1);
    assert_eq!(t.statistics(&summary.session_id).await.unwrap().admitted, 4);
    let history = t
        .exam
        .list_mark_history(authed(
            pb::ListMarkHistoryRequest {
                candidacy_id: failed.candidacy_id.clone(),
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let last = history.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("revised_on_appeal", "recteur@ac-toulouse.fr")
    );
    assert_eq!(last.previous.as_ref().unwrap().mark, "4.5");

    // The window closes 30 days after publication.
    t.node.clock.advance(TimeDelta::days(31));
    let token = t.token(&email(2), &[Role::Candidate]);
    assert_eq!(
        rule_of(t.file_appeal(&by_email(2), &token).await),
        "APPEAL_WINDOW_CLOSED"
    );
}

fn summary_candidate(known: &[pb::ExamCandidate], n: u32) -> String {
    known
        .iter()
        .find(|c| c.email == email(n))
        .unwrap()
        .candidacy_id
        .clone()
}

// ---------------------------------------------------------------------------------------------

fn envelope(sequence: u64, payload: Payload) -> Message {
    let event_type = payload.name();
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: "toulouse".into(),
        source: "registration".into(),
        sequence,
        occurred_at: Some(cplds_runtime::time::to_timestamp(at("2025-06-24T10:00"))),
        r#type: event_type.into(),
        stream: pb::Stream::Internal as i32,
        trace_context: Default::default(),
        payload: Some(payload),
    };
    Message {
        stream: Stream::Internal,
        routing_key: format!("toulouse.registration.{event_type}"),
        message_id: e.event_id.clone(),
        event_type: event_type.into(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    }
}

fn entry(id: &str, n: u32) -> pb::AdmittedListEntry {
    pb::AdmittedListEntry {
        candidacy_id: id.into(),
        candidate_key: format!("{n:032x}"),
        identity: Some(pb::CandidateIdentity {
            last_name: format!("Nom{n}"),
            first_name: "Prénom".into(),
            birth_date: "1980-01-01".into(),
            email: format!("C{n}@AC-Toulouse.fr"),
            staff_number: format!("12E{n:07}XYZ"),
            workplace_uai: uai(n).to_lowercase(),
        }),
        profile: Some(pb::CandidateProfile {
            sex: pb::Sex::Female as i32,
            department: "31".into(),
            staff_category: pb::StaffCategory::FirstDegree as i32,
            workplace_type: pb::WorkplaceType::Erea as i32,
            runs_mlds_actions: true,
            is_dropout_referent: false,
        }),
    }
}

async fn registration_events_reach_the_copy_in_any_order(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (a, b, c) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let withdrawn = |id: &str, admitted: bool| {
        Payload::CandidacyWithdrawn(pb::CandidacyWithdrawn {
            candidacy_id: id.into(),
            year: 2025,
            candidate_key: String::new(),
            was_admitted_to_sit: admitted,
        })
    };
    let list = Payload::AdmittedListPublished(pb::AdmittedListPublished {
        year: 2025,
        entries: vec![entry(&a, 1), entry(&b, 2), entry(&c, 3)],
    });
    // A withdrawal overtakes the list (requeue); one of a candidate never admitted is noise; a
    // malformed list is dead-lettered without stopping the consumer; the list comes twice.
    let malformed = Payload::AdmittedListPublished(pb::AdmittedListPublished {
        year: 2025,
        entries: vec![pb::AdmittedListEntry {
            candidacy_id: "x".into(),
            ..Default::default()
        }],
    });
    let first = envelope(1, withdrawn(&b, true));
    let messages = vec![
        first.clone(),
        first,
        envelope(2, withdrawn(&uuid::Uuid::now_v7().to_string(), false)),
        envelope(3, malformed),
        envelope(4, list.clone()),
        envelope(5, list),
        envelope(6, withdrawn(&c, true)),
        envelope(7, withdrawn(&c, true)),
    ];
    t.node.bus.publish(&messages).await.unwrap();
    let got = t.wait_candidates(3, 2).await;
    let by_id = |id: &str| got.iter().find(|x| x.candidacy_id == id).unwrap().clone();
    assert!(!by_id(&a).withdrawn);
    assert!(
        by_id(&b).withdrawn,
        "the early withdrawal applied when the list arrived"
    );
    assert!(by_id(&c).withdrawn);
    assert_eq!(by_id(&a).email, "c1@ac-toulouse.fr");
    assert_eq!(by_id(&a).workplace_uai, uai(1));
    let dead = QueueSpec::new("toulouse.examination", vec![]).dead_letters();
    let mut dead = t.node.bus.subscribe(&dead).await.unwrap();
    let d = tokio::time::timeout(EXAM_TIMEOUT, dead.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d.routing_key,
        "toulouse.registration.admitted_list_published"
    );
    d.ack().await.unwrap();

    // The candidate of the malformed entry is not there; a candidate reads their own record.
    let me = t.token("c1@ac-toulouse.fr", &[Role::Candidate]);
    let own = t
        .exam
        .get_exam_candidate(authed(
            pb::GetExamCandidateRequest {
                candidacy_id: a.clone(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.last_name, "Nom1");
    let err = t
        .exam
        .get_exam_candidate(authed(
            pb::GetExamCandidateRequest {
                candidacy_id: b.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Pages: two, then one, with a token bound to the year.
    let page = t
        .exam
        .list_exam_candidates(authed(
            pb::ListExamCandidatesRequest {
                year: 2025,
                page_size: 2,
                page_token: String::new(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.candidates.len(), 2);
    let rest = t
        .exam
        .list_exam_candidates(authed(
            pb::ListExamCandidatesRequest {
                year: 2025,
                page_size: 2,
                page_token: page.next_page_token.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.candidates.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let wrong = t
        .exam
        .list_exam_candidates(authed(
            pb::ListExamCandidatesRequest {
                year: 2024,
                page_size: 2,
                page_token: page.next_page_token,
            },
            &t.office,
        ))
        .await;
    assert_eq!(fields_of(wrong), ["page_token"]);
}

// ---------------------------------------------------------------------------------------------

async fn planning_and_its_refusals(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.admitted_list(3).await;
    let cands = t.wait_candidates(3, 0).await;
    let (c1, c2, c3) = (
        cands[0].candidacy_id.clone(),
        cands[1].candidacy_id.clone(),
        cands[2].candidacy_id.clone(),
    );

    // The session: every bad field named at once; one per year.
    let bad = t
        .exam
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2025,
                starts_on: "17/11/2025".into(),
                ends_on: "2024-11-21".into(),
                appeal_window_days: 121,
            },
            &t.office,
        ))
        .await;
    assert_eq!(
        fields_of(bad),
        ["starts_on", "ends_on", "appeal_window_days"]
    );
    let bad = t
        .exam
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2010,
                starts_on: "2010-11-17".into(),
                ends_on: "2010-11-21".into(),
                appeal_window_days: 0,
            },
            &t.office,
        ))
        .await;
    assert_eq!(fields_of(bad), ["year"]);
    let session = t.create_session().await;
    assert_eq!(session.state, pb::ExamSessionState::Open as i32);
    assert_eq!(session.appeal_window_days, 15);
    let again = t
        .exam
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2025,
                starts_on: "2025-11-24".into(),
                ends_on: "2025-11-28".into(),
                appeal_window_days: 0,
            },
            &t.office,
        ))
        .await;
    assert_eq!(code(again), Code::AlreadyExists);

    // Boards: parse errors per member, then the composition.
    let r = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member("not-an-email", "Dupont", "", pb::ExamBoardRole::President),
                member(
                    "m@ac-toulouse.fr",
                    "Durand",
                    "0310036X",
                    pb::ExamBoardRole::Unspecified,
                ),
            ],
        )
        .await;
    assert_eq!(
        fields_of(r),
        [
            "members[0].email",
            "members[1].workplace_uai",
            "members[1].role"
        ]
    );
    let r = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(
                    "p@ac-toulouse.fr",
                    "Dupont",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member(
                    "q@ac-toulouse.fr",
                    "Durand",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member("P@ac-toulouse.fr", "Dupont", "", pb::ExamBoardRole::Member),
            ],
        )
        .await;
    assert_eq!(fields_of(r), ["members", "members[2].email"]);
    let r = t
        .create_board(
            &session,
            "",
            vec![member(
                "p@ac-toulouse.fr",
                "Dupont",
                "",
                pb::ExamBoardRole::President,
            )],
        )
        .await;
    assert_eq!(fields_of(r), ["name", "members"]);
    let a = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(
                    "p1@ac-toulouse.fr",
                    "Dupont",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member(
                    "m1@ac-toulouse.fr",
                    "Durand",
                    &uai(90),
                    pb::ExamBoardRole::Member,
                ),
                // Works where candidate 1 works.
                member(
                    "m2@ac-toulouse.fr",
                    "Dubois",
                    &uai(1),
                    pb::ExamBoardRole::Member,
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(a.members.len(), 3);
    assert_eq!(
        code(
            t.create_board(
                &session,
                "commission 1",
                vec![
                    member(
                        "x@ac-toulouse.fr",
                        "Dupont",
                        "",
                        pb::ExamBoardRole::President
                    ),
                    member("y@ac-toulouse.fr", "Dupont", "", pb::ExamBoardRole::Member),
                ],
            )
            .await
        ),
        Code::AlreadyExists
    );
    let b = t
        .create_board(
            &session,
            "Commission 2",
            vec![
                member(
                    "p2@ac-toulouse.fr",
                    "Lafon",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member(
                    "m3@ac-toulouse.fr",
                    "Benali",
                    &uai(91),
                    pb::ExamBoardRole::Member,
                ),
            ],
        )
        .await
        .unwrap();

    // Scheduling needs an assignment; assignment refuses a conflict of interest.
    assert_eq!(
        rule_of(
            t.schedule(&c2, pb::ExamPart::TrainingSession, "2025-11-17T09:00")
                .await
        ),
        "NOT_ASSIGNED"
    );
    let err = t.assign(&a.id, &c1).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CONFLICT_OF_INTEREST")
    );
    assert!(
        err.message().contains("m2@ac-toulouse.fr"),
        "{}",
        err.message()
    );
    t.assign(&b.id, &c1).await.unwrap();
    t.assign(&b.id, &c1)
        .await
        .expect("assigning again to the same board is harmless");
    assert_eq!(rule_of(t.assign(&a.id, &c1).await), "ALREADY_ASSIGNED");
    t.assign(&a.id, &c2).await.unwrap();
    t.assign(&a.id, &c3).await.unwrap();
    assert_eq!(fields_of(t.assign("nope", &c3).await), ["board_id"]);
    assert_eq!(
        code(t.assign(&a.id, &uuid::Uuid::now_v7().to_string()).await),
        Code::NotFound
    );

    // The schedule: fields, the period, durations, double bookings.
    let r = t
        .exam
        .schedule_exam_part(authed(
            pb::ScheduleExamPartRequest {
                candidacy_id: c2.clone(),
                exam_part: 0,
                starts_at_local: "mardi 9h".into(),
                location: " ".into(),
            },
            &t.office,
        ))
        .await;
    assert_eq!(fields_of(r), ["exam_part", "starts_at_local", "location"]);
    assert_eq!(
        fields_of(
            t.schedule(&c2, pb::ExamPart::TrainingSession, "2025-11-24T09:00")
                .await
        ),
        ["starts_at_local"]
    );
    let s = t
        .schedule(&c2, pb::ExamPart::TrainingSession, "2025-11-17T09:00")
        .await
        .unwrap();
    assert_eq!(
        (s.starts_at_local.as_str(), s.ends_at_local.as_str()),
        ("2025-11-17T09:00", "2025-11-17T09:45")
    );
    assert_eq!(s.phases.len(), 2);
    assert_eq!(s.board_id, a.id);
    assert_eq!(
        rule_of(
            t.schedule(&c3, pb::ExamPart::TrainingSession, "2025-11-17T09:30")
                .await
        ),
        "BOARD_DOUBLE_BOOKED"
    );
    // Épreuve 2 at 08:30: the board would sit from 09:30, while it hears candidate 2.
    assert_eq!(
        rule_of(
            t.schedule(&c3, pb::ExamPart::CaseStudy, "2025-11-17T08:30")
                .await
        ),
        "BOARD_DOUBLE_BOOKED"
    );
    // At 09:00 the candidate prepares while the board hears candidate 2, then sits 10:00-10:30.
    let s = t
        .schedule(&c3, pb::ExamPart::CaseStudy, "2025-11-17T09:00")
        .await
        .unwrap();
    assert_eq!(
        s.phases
            .iter()
            .map(|p| (p.name.as_str(), p.with_board))
            .collect::<Vec<_>>(),
        [
            ("preparation", false),
            ("presentation", true),
            ("exchange", true)
        ]
    );
    assert_eq!(s.ends_at_local, "2025-11-17T10:30");
    assert_eq!(
        rule_of(
            t.schedule(&c3, pb::ExamPart::TrainingSession, "2025-11-17T10:00")
                .await
        ),
        "CANDIDATE_DOUBLE_BOOKED"
    );
    t.schedule(&c3, pb::ExamPart::TrainingSession, "2025-11-17T10:30")
        .await
        .unwrap();
    t.schedule(&c2, pb::ExamPart::CaseStudy, "2025-11-18T09:00")
        .await
        .unwrap();
    t.schedule(&c1, pb::ExamPart::TrainingSession, "2025-11-17T09:00")
        .await
        .expect("another board");

    // Convocations: complete schedules only; re-issued after a change, as a new version.
    let issue = |ids: Vec<String>| pb::IssueConvocationsRequest {
        session_id: session.id.clone(),
        candidacy_ids: ids,
    };
    let r = t
        .exam
        .issue_convocations(authed(issue(vec![c1.clone()]), &t.office))
        .await;
    assert_eq!(rule_of(r), "SCHEDULE_INCOMPLETE");
    let r = t
        .exam
        .issue_convocations(authed(issue(vec![]), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.issued.len(), r.unchanged), (2, 0));
    assert_eq!(r.incomplete_candidacy_ids, std::slice::from_ref(&c1));
    t.schedule(&c1, pb::ExamPart::CaseStudy, "2025-11-18T09:00")
        .await
        .unwrap();
    let r = t
        .exam
        .issue_convocations(authed(issue(vec![]), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.issued.len(), r.unchanged), (1, 2));
    // Rescheduling at the same time and place changes nothing; a move does.
    t.schedule(&c2, pb::ExamPart::CaseStudy, "2025-11-18T09:00")
        .await
        .unwrap();
    let (exam, office) = (t.exam.clone(), t.office.clone());
    let cand = move |c: &str| {
        let mut exam = exam.clone();
        let req = authed(
            pb::GetExamCandidateRequest {
                candidacy_id: c.into(),
            },
            &office,
        );
        async move { exam.get_exam_candidate(req).await.unwrap().into_inner() }
    };
    assert!(!cand(&c2).await.convocation_outdated);
    t.schedule(&c2, pb::ExamPart::CaseStudy, "2025-11-18T14:00")
        .await
        .unwrap();
    let moved = cand(&c2).await;
    assert!(moved.convocation_outdated);
    assert_eq!(
        (moved.convocation_version, moved.board_id.as_str()),
        (1, a.id.as_str())
    );
    let r = t
        .exam
        .issue_convocations(authed(issue(vec![]), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.issued.len(), r.unchanged), (1, 2));
    assert_eq!(
        (r.issued[0].candidacy_id.as_str(), r.issued[0].version),
        (c2.as_str(), 2)
    );
    let me = t.token(&cands[1].email, &[Role::Candidate]);
    let history = t
        .exam
        .list_convocations(authed(
            pb::ListConvocationsRequest {
                candidacy_id: c2.clone(),
                ..Default::default()
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner()
        .convocations;
    assert_eq!(
        history
            .iter()
            .map(|c| (c.version, c.superseded))
            .collect::<Vec<_>>(),
        [(2, false), (1, true)]
    );
    let v1 = t
        .exam
        .get_convocation(authed(
            pb::GetConvocationRequest {
                candidacy_id: c2.clone(),
                version: 1,
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    let text = extract_text(&v1.pdf);
    assert!(
        text.contains("Version 1") && text.contains("18/11/2025 de 09:00 à 10:30"),
        "{text}"
    );
    let v2 = t
        .exam
        .get_convocation(authed(
            pb::GetConvocationRequest {
                candidacy_id: c2.clone(),
                version: 0,
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    let text = extract_text(&v2.pdf);
    assert!(
        text.contains("remplace la version 1") && text.contains("18/11/2025 de 14:00 à 15:30"),
        "{text}"
    );
    assert_eq!(v2.convocation.unwrap().slots.len(), 2);
    let other = t.token(&cands[0].email, &[Role::Candidate]);
    assert_eq!(
        code(
            t.exam
                .get_convocation(authed(
                    pb::GetConvocationRequest {
                        candidacy_id: c2.clone(),
                        version: 0
                    },
                    &other
                ))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            t.exam
                .get_convocation(authed(
                    pb::GetConvocationRequest {
                        candidacy_id: c2.clone(),
                        version: 7
                    },
                    &me
                ))
                .await
        ),
        Code::NotFound
    );

    // A board member reads the schedule of their own board only.
    let m1 = t.board_member("m1@ac-toulouse.fr");
    let list = |board: &str| pb::ListExamSlotsRequest {
        session_id: session.id.clone(),
        board_id: board.into(),
        ..Default::default()
    };
    let slots = t
        .exam
        .list_exam_slots(authed(list(&a.id), &m1))
        .await
        .unwrap()
        .into_inner()
        .slots;
    assert_eq!(slots.len(), 4);
    assert!(slots.iter().all(|s| s.board_id == a.id));
    assert_eq!(
        code(t.exam.list_exam_slots(authed(list(&b.id), &m1)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(t.exam.list_exam_slots(authed(list(""), &m1)).await),
        Code::PermissionDenied
    );
    let all = t
        .exam
        .list_exam_slots(authed(list(""), &t.office))
        .await
        .unwrap()
        .into_inner()
        .slots;
    assert_eq!(all.len(), 6);
    let boards = t
        .exam
        .list_boards(authed(
            pb::ListBoardsRequest {
                session_id: session.id.clone(),
                ..Default::default()
            },
            &m1,
        ))
        .await
        .unwrap()
        .into_inner()
        .boards;
    assert_eq!(
        boards
            .iter()
            .map(|b| b.candidacy_ids.len())
            .collect::<Vec<_>>(),
        [2, 1]
    );
}

// ---------------------------------------------------------------------------------------------

async fn marks_deliberation_and_their_refusals(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.admitted_list(3).await;
    let cands = t.wait_candidates(3, 0).await;
    let (c1, c2, c3) = (
        cands[0].candidacy_id.clone(),
        cands[1].candidacy_id.clone(),
        cands[2].candidacy_id.clone(),
    );
    let session = t.create_session().await;
    let sid = session.id.clone();
    let (p1, m1, m2) = (
        "p1@ac-toulouse.fr",
        "m1@ac-toulouse.fr",
        "m2@ac-toulouse.fr",
    );
    let board = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(p1, "Dupont", "", pb::ExamBoardRole::President),
                member(m1, "Durand", &uai(90), pb::ExamBoardRole::Member),
                member(m2, "Dubois", &uai(91), pb::ExamBoardRole::Member),
            ],
        )
        .await
        .unwrap();
    t.assign(&board.id, &c1).await.unwrap();
    t.assign(&board.id, &c2).await.unwrap();
    // Candidate 3 withdraws after the list: refused from then on.
    t.withdraw(&c3, 3).await;
    t.wait_candidates(3, 1).await;
    assert_eq!(
        rule_of(t.assign(&board.id, &c3).await),
        "CANDIDATE_WITHDRAWN"
    );
    assert_eq!(
        rule_of(t.enter(p1, &c1, pb::ExamPart::TrainingSession, "12").await),
        "NOT_SCHEDULED"
    );
    for (c, d) in [(&c1, 0), (&c2, 1)] {
        t.schedule(
            c,
            pb::ExamPart::TrainingSession,
            &format!("2025-11-17T{:02}:00", 9 + d),
        )
        .await
        .unwrap();
        t.schedule(
            c,
            pb::ExamPart::CaseStudy,
            &format!("2025-11-18T{:02}:00", 9 + d),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        rule_of(
            t.exam
                .publish_results(authed(
                    pb::PublishResultsRequest {
                        session_id: sid.clone()
                    },
                    &t.recteur
                ))
                .await
        ),
        "DELIBERATION_NOT_CLOSED"
    );
    assert_eq!(rule_of(t.statistics(&sid).await), "DELIBERATION_NOT_CLOSED");

    // Marks: out of range, finer than a half point, an absence with a mark, no épreuve.
    let part1 = pb::ExamPart::TrainingSession;
    let part2 = pb::ExamPart::CaseStudy;
    for bad in ["21", "20.5", "-1", "13.25", "treize"] {
        assert_eq!(
            fields_of(t.enter(p1, &c1, part1, bad).await),
            ["mark"],
            "{bad}"
        );
    }
    let token = t.board_member(p1);
    let r = t
        .exam
        .enter_mark(authed(
            pb::EnterMarkRequest {
                candidacy_id: "x".into(),
                exam_part: 0,
                mark: "12".into(),
                absent: true,
            },
            &token,
        ))
        .await;
    assert_eq!(fields_of(r), ["candidacy_id", "exam_part", "mark"]);
    // Only members of the candidate's board mark; the office does not mark at all.
    assert_eq!(
        code(t.enter("outsider@ac-toulouse.fr", &c1, part1, "12").await),
        Code::PermissionDenied
    );
    let r = t
        .exam
        .enter_mark(authed(
            pb::EnterMarkRequest {
                candidacy_id: c1.clone(),
                exam_part: part1 as i32,
                mark: "12".into(),
                absent: false,
            },
            &t.office,
        ))
        .await;
    assert_eq!(code(r), Code::PermissionDenied);
    assert_eq!(rule_of(t.enter(p1, &c3, part1, "12").await), "NOT_ASSIGNED");

    // Double blind entry.
    let sheet = t.enter(p1, &c1, part1, "14").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::AwaitingSecondEntry as i32);
    assert_eq!(sheet.entries.len(), 1);
    assert!(sheet.agreed_mark.is_none());
    let m1_token = t.board_member(m1);
    let blind = t.sheets(&board.id, &m1_token).await;
    let s = blind
        .iter()
        .find(|s| s.candidacy_id == c1 && s.exam_part == part1 as i32)
        .unwrap();
    assert_eq!(
        (s.entry_count, s.entries.len()),
        (1, 0),
        "the second entrant cannot see the first entry"
    );
    let office_view = t.sheets(&board.id, &t.office.clone()).await;
    assert!(office_view.iter().all(|s| s.entries.is_empty()));
    assert_eq!(office_view.len(), 4);
    assert_eq!(
        rule_of(t.enter(p1, &c1, part1, "15").await),
        "ALREADY_ENTERED"
    );
    let sheet = t.enter(m1, &c1, part1, "14,5").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Mismatch as i32);
    assert_eq!(
        sheet.entries.len(),
        2,
        "both entries shown once both are in"
    );
    assert_eq!(
        rule_of(t.enter(m2, &c1, part1, "14").await),
        "DOUBLE_ENTRY_COMPLETE"
    );
    let sheet = t.enter(p1, &c1, part2, "12").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::AwaitingSecondEntry as i32);
    let sheet = t.enter(m2, &c1, part2, "12").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Agreed as i32);
    assert_eq!(sheet.agreed_mark.unwrap().mark_half_points, 24);
    t.enter(p1, &c2, part1, "").await.unwrap();
    let sheet = t.enter(m1, &c2, part1, "").await.unwrap();
    assert!(sheet.agreed_mark.unwrap().absent);
    t.enter(p1, &c2, part2, "10").await.unwrap();

    // The deliberation waits for the reconciliation and the missing mark.
    assert_eq!(code(t.prepare(m1, &sid).await), Code::PermissionDenied);
    assert_eq!(
        rule_of(t.prepare(p1, &sid).await),
        "UNRECONCILED_DOUBLE_ENTRY"
    );
    let reconcile = |reason: &str| pb::ReconcileMarkRequest {
        candidacy_id: c1.clone(),
        exam_part: part1 as i32,
        mark: "14.5".into(),
        absent: false,
        reason: reason.into(),
    };
    assert_eq!(
        code(
            t.exam
                .reconcile_mark(authed(reconcile("relu"), &m1_token))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        fields_of(t.exam.reconcile_mark(authed(reconcile(" "), &token)).await),
        ["reason"]
    );
    let sheet = t
        .exam
        .reconcile_mark(authed(reconcile("relecture de la grille"), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Reconciled as i32);
    assert_eq!(
        (
            sheet.reconciled_by.as_str(),
            sheet.agreed_mark.unwrap().mark.as_str()
        ),
        (p1, "14.5")
    );
    let other = pb::ReconcileMarkRequest {
        exam_part: part2 as i32,
        ..reconcile("relu")
    };
    assert_eq!(
        rule_of(t.exam.reconcile_mark(authed(other, &token)).await),
        "NOTHING_TO_RECONCILE"
    );
    assert_eq!(rule_of(t.prepare(p1, &sid).await), "MARKS_INCOMPLETE");
    t.enter(m2, &c2, part2, "10").await.unwrap();

    // Corrections until deliberation, each kept with who and when.
    assert_eq!(rule_of(t.correct(m2, &c1, part2, "12").await), "UNCHANGED");
    assert_eq!(
        rule_of(t.correct(m1, &c1, part2, "12").await),
        "NO_ENTRY_TO_CORRECT"
    );
    let sheet = t.correct(m2, &c1, part2, "13").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Mismatch as i32);
    let sheet = t.correct(p1, &c1, part2, "13").await.unwrap();
    assert_eq!(sheet.status, pb::ExamMarkStatus::Agreed as i32);
    let history = t
        .exam
        .list_mark_history(authed(
            pb::ListMarkHistoryRequest {
                candidacy_id: c1.clone(),
                page_size: 3,
                ..Default::default()
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.entries.len(), 3);
    let rest = t
        .exam
        .list_mark_history(authed(
            pb::ListMarkHistoryRequest {
                candidacy_id: c1.clone(),
                page_size: 10,
                page_token: history.next_page_token,
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    let all: Vec<_> = history.entries.iter().chain(&rest.entries).collect();
    assert_eq!(
        all.iter()
            .map(|h| (h.action.as_str(), h.actor.as_str()))
            .collect::<Vec<_>>(),
        [
            ("entered", p1),
            ("entered", m1),
            ("entered", p1),
            ("entered", m2),
            ("reconciled", p1),
            ("corrected", m2),
            ("corrected", p1)
        ]
    );
    assert_eq!(all[5].previous.as_ref().unwrap().mark, "12");
    assert_eq!(all[5].value.as_ref().unwrap().mark, "13");
    assert_eq!(all[5].reason, "erreur de report");
    assert!(all[5].time.is_some());

    // The minutes, signed by the president's own key.
    let key = SigningKey::from_bytes(&[11; 32]);
    let draft = t.prepare(p1, &sid).await.unwrap();
    assert_eq!(sha256_hex(&draft.pdf), draft.sha256);
    assert_eq!(draft.decisions.len(), 3);
    assert_eq!(
        rule_of(t.close(p1, &sid, &draft.sha256, &key).await),
        "NO_SIGNING_KEY"
    );
    let register = |k: String| pb::RegisterBoardMemberKeyRequest {
        board_id: board.id.clone(),
        public_key: k,
    };
    assert_eq!(
        fields_of(
            t.exam
                .register_board_member_key(authed(register("AAAA".into()), &token))
                .await
        ),
        ["public_key"]
    );
    let outsider = t.board_member("outsider@ac-toulouse.fr");
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    assert_eq!(
        code(
            t.exam
                .register_board_member_key(authed(register(pem.clone()), &outsider))
                .await
        ),
        Code::PermissionDenied
    );
    let me = t
        .exam
        .register_board_member_key(authed(register(pem), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.signing_key_id.len(), 16);
    let forger = SigningKey::from_bytes(&[12; 32]);
    assert_eq!(
        fields_of(t.close(p1, &sid, &draft.sha256, &forger).await),
        ["signature"]
    );
    let r = t
        .exam
        .close_deliberation(authed(
            pb::CloseDeliberationRequest {
                session_id: sid.clone(),
                minutes_sha256: "abc".into(),
                signature: "%%".into(),
            },
            &token,
        ))
        .await;
    assert_eq!(fields_of(r), ["minutes_sha256", "signature"]);
    // Newer minutes replace older ones (a minute later: the same minutes would be the same
    // document, with the same digest); marks changed since make them stale.
    t.node.clock.advance(TimeDelta::minutes(1));
    let newer = t.prepare(p1, &sid).await.unwrap();
    assert_ne!(newer.sha256, draft.sha256);
    assert_eq!(
        rule_of(t.close(p1, &sid, &draft.sha256, &key).await),
        "MINUTES_OUTDATED"
    );
    t.correct(m2, &c1, part2, "14").await.unwrap();
    t.correct(p1, &c1, part2, "14").await.unwrap();
    assert_eq!(
        rule_of(t.close(p1, &sid, &newer.sha256, &key).await),
        "MINUTES_OUTDATED"
    );
    let last = t.prepare(p1, &sid).await.unwrap();
    let text = extract_text(&last.pdf);
    assert!(
        text.contains("14.5")
            && text.contains("28.5")
            && text.contains("absent")
            && text.contains("démissionnaire"),
        "{text}"
    );
    assert_eq!(
        code(t.close(m1, &sid, &last.sha256, &key).await),
        Code::PermissionDenied
    );
    let signed = t.close(p1, &sid, &last.sha256, &key).await.unwrap();
    assert_eq!(
        (signed.signed_by.as_str(), signed.signer_key_id.as_str()),
        (p1, me.signing_key_id.as_str())
    );
    assert!(signed.close_time.is_some());
    let signature = STANDARD.decode(&signed.signature).unwrap();
    let digest = hex::decode(&signed.sha256).unwrap();
    key.verifying_key()
        .verify_strict(
            &digest,
            &ed25519_dalek::Signature::from_slice(&signature).unwrap(),
        )
        .unwrap();
    let outcome = |d: &pb::ExamDecision| (d.outcome, d.reason, d.total.clone());
    let decisions: Vec<_> = signed.decisions.iter().map(outcome).collect();
    assert!(decisions.contains(&(pb::ExamOutcome::Admitted as i32, 0, "28.5".into())));
    assert!(decisions.contains(&(
        pb::ExamOutcome::NotAdmitted as i32,
        pb::ExamDecisionReason::Absent as i32,
        String::new()
    )));
    assert!(decisions.contains(&(
        pb::ExamOutcome::NotAdmitted as i32,
        pb::ExamDecisionReason::Withdrawn as i32,
        String::new()
    )));

    // After deliberation, marks, boards and schedules are frozen.
    assert_eq!(
        rule_of(t.enter(m2, &c2, part1, "12").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(t.correct(p1, &c1, part2, "15").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(t.schedule(&c1, part1, "2025-11-19T09:00").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(t.close(p1, &sid, &last.sha256, &key).await),
        "DELIBERATION_CLOSED"
    );
    let r = t
        .create_board(
            &session,
            "Commission 9",
            vec![
                member(
                    "x@ac-toulouse.fr",
                    "Dupont",
                    "",
                    pb::ExamBoardRole::President,
                ),
                member("y@ac-toulouse.fr", "Dupont", "", pb::ExamBoardRole::Member),
            ],
        )
        .await;
    assert_eq!(rule_of(r), "DELIBERATION_CLOSED");
    let got = t
        .exam
        .get_exam_session(authed(
            pb::GetExamSessionRequest {
                session_id: sid.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.state, pb::ExamSessionState::Deliberated as i32);

    // Results: the office sees them now, candidates after publication.
    let me1 = t.token(&cands[0].email, &[Role::Candidate]);
    let me2 = t.token(&cands[1].email, &[Role::Candidate]);
    let me3 = t.token(&cands[2].email, &[Role::Candidate]);
    assert_eq!(rule_of(t.result(&c1, &me1).await), "RESULTS_NOT_PUBLISHED");
    assert_eq!(
        rule_of(t.file_appeal(&c2, &me2).await),
        "RESULTS_NOT_PUBLISHED"
    );
    let office = t.office.clone();
    assert_eq!(
        t.result(&c1, &office)
            .await
            .unwrap()
            .decision
            .unwrap()
            .total,
        "28.5"
    );
    let published = t
        .exam
        .publish_results(authed(
            pb::PublishResultsRequest {
                session_id: sid.clone(),
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(published.newly_published);
    assert_eq!((published.candidates, published.admitted), (3, 1));
    let session = published.session.unwrap();
    assert_eq!(session.state, pb::ExamSessionState::ResultsPublished as i32);
    assert_eq!(session.results_published_by, "recteur@ac-toulouse.fr");
    let r = t.result(&c1, &me1).await.unwrap();
    assert_eq!(
        r.decision.unwrap().outcome,
        pb::ExamOutcome::Admitted as i32
    );

    // Appeals: one at a time, decided once, never for a withdrawn candidate, within the window.
    let appeal = t.file_appeal(&c2, &me2).await.unwrap();
    assert_eq!(rule_of(t.file_appeal(&c2, &me2).await), "APPEAL_PENDING");
    assert_eq!(
        rule_of(t.file_appeal(&c3, &me3).await),
        "CANDIDATE_WITHDRAWN"
    );
    assert_eq!(code(t.file_appeal(&c2, &me1).await), Code::PermissionDenied);
    assert_eq!(
        fields_of(
            t.exam
                .file_appeal(authed(
                    pb::FileAppealRequest {
                        candidacy_id: c1.clone(),
                        grounds: String::new()
                    },
                    &me1
                ))
                .await
        ),
        ["grounds"]
    );
    let decide =
        |outcome: pb::ExamAppealStatus, part_1: Option<pb::RevisedMark>| pb::DecideAppealRequest {
            appeal_id: appeal.id.clone(),
            outcome: outcome as i32,
            decision_text: "Le jury a réexaminé la situation.".into(),
            part_1,
            part_2: None,
        };
    let revised = Some(pb::RevisedMark {
        mark: "12".into(),
        absent: false,
    });
    assert_eq!(
        fields_of(
            t.exam
                .decide_appeal(authed(
                    decide(pb::ExamAppealStatus::Dismissed, revised),
                    &t.recteur
                ))
                .await
        ),
        ["part_1"]
    );
    assert_eq!(
        fields_of(
            t.exam
                .decide_appeal(authed(
                    decide(pb::ExamAppealStatus::Upheld, None),
                    &t.recteur
                ))
                .await
        ),
        ["part_1", "part_2"]
    );
    assert_eq!(
        fields_of(
            t.exam
                .decide_appeal(authed(
                    decide(pb::ExamAppealStatus::Pending, None),
                    &t.recteur
                ))
                .await
        ),
        ["outcome"]
    );
    let dismissed = t
        .exam
        .decide_appeal(authed(
            decide(pb::ExamAppealStatus::Dismissed, None),
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dismissed.status, pb::ExamAppealStatus::Dismissed as i32);
    assert_eq!(dismissed.decision_after, dismissed.decision_before);
    assert_eq!(
        rule_of(
            t.exam
                .decide_appeal(authed(
                    decide(pb::ExamAppealStatus::Dismissed, None),
                    &t.office
                ))
                .await
        ),
        "APPEAL_ALREADY_DECIDED"
    );
    let appeals = t
        .exam
        .list_appeals(authed(
            pb::ListAppealsRequest {
                session_id: sid.clone(),
                ..Default::default()
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert_eq!(appeals.len(), 1);
    t.node.clock.advance(TimeDelta::days(16));
    assert_eq!(
        rule_of(t.file_appeal(&c2, &me2).await),
        "APPEAL_WINDOW_CLOSED"
    );

    let st = t.statistics(&sid).await.unwrap();
    assert_eq!(
        (
            st.candidates,
            st.withdrawn,
            st.admitted,
            st.not_admitted,
            st.absent,
            st.sat
        ),
        (3, 1, 1, 1, 1, 1)
    );
    assert!(st.published);
    let reasons: Vec<_> = st
        .not_admitted_by_reason
        .iter()
        .map(|r| (r.reason, r.count))
        .collect();
    assert!(reasons.contains(&(pb::ExamDecisionReason::Absent as i32, 1)));
    assert!(reasons.contains(&(pb::ExamDecisionReason::Withdrawn as i32, 1)));
}

// ---------------------------------------------------------------------------------------------

async fn who_may_do_what(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.admitted_list(1).await;
    let cands = t.wait_candidates(1, 0).await;
    let session = t.create_session().await;
    let create = |token: &str| {
        authed(
            pb::CreateExamSessionRequest {
                year: 2026,
                starts_on: "2026-11-16".into(),
                ends_on: "2026-11-20".into(),
                appeal_window_days: 0,
            },
            token,
        )
    };
    let candidate = t.token(&cands[0].email, &[Role::Candidate]);
    let member = t.board_member("p1@ac-toulouse.fr");
    let it = t.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let lyon = t
        .node
        .issuer
        .mint("dec@ac-lyon.fr", "lyon", &[Role::ExamOffice])
        .unwrap();
    for token in [&candidate, &member, &it, &t.recteur, &lyon] {
        assert_eq!(
            code(t.exam.create_exam_session(create(token)).await),
            Code::PermissionDenied
        );
    }
    assert_eq!(
        code(
            t.exam
                .create_exam_session(tonic::Request::new(create("").into_inner()))
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            t.exam
                .create_exam_session(create("forged.token.here"))
                .await
        ),
        Code::Unauthenticated
    );
    let publish = |token: &str| {
        authed(
            pb::PublishResultsRequest {
                session_id: session.id.clone(),
            },
            token,
        )
    };
    assert_eq!(
        code(t.exam.publish_results(publish(&member)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(t.exam.publish_results(publish(&candidate)).await),
        Code::PermissionDenied
    );
    // The recteur may publish; here the rule, not the role, stops them.
    assert_eq!(
        rule_of(t.exam.publish_results(publish(&t.recteur)).await),
        "DELIBERATION_NOT_CLOSED"
    );
    let list = |token: &str| {
        authed(
            pb::ListExamCandidatesRequest {
                year: 2025,
                ..Default::default()
            },
            token,
        )
    };
    assert_eq!(
        code(t.exam.list_exam_candidates(list(&it)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(t.exam.list_exam_candidates(list(&candidate)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(t.exam.list_exam_candidates(list(&member)).await),
        Code::Ok
    );
    let history = authed(
        pb::ListMarkHistoryRequest {
            candidacy_id: cands[0].candidacy_id.clone(),
            ..Default::default()
        },
        &member,
    );
    assert_eq!(
        code(t.exam.list_mark_history(history).await),
        Code::PermissionDenied
    );
    let stats = authed(
        pb::GetExamStatisticsRequest {
            session_id: session.id.clone(),
        },
        &candidate,
    );
    assert_eq!(
        code(t.exam.get_exam_statistics(stats).await),
        Code::PermissionDenied
    );
    let session_read = authed(
        pb::GetExamSessionRequest {
            session_id: session.id.clone(),
        },
        &candidate,
    );
    assert_eq!(code(t.exam.get_exam_session(session_read).await), Code::Ok);

    // Reflection serves the contract; health reports the service.
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(t.node.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(services)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("a list of services");
    };
    assert!(
        services
            .service
            .iter()
            .any(|s| s.name == "cplds.v1.ExaminationService")
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(t.node.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cplds.v1.ExaminationService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

// ---------------------------------------------------------------------------------------------

/// Acts on one session are serialised (the session row is locked in PostgreSQL; SQLite has one
/// writer): racing bookings of one board, or three members racing to enter one mark, never
/// break the rules.
async fn concurrent_acts_are_serialised(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.admitted_list(3).await;
    let cands = t.wait_candidates(3, 0).await;
    let ids: Vec<String> = cands.iter().map(|c| c.candidacy_id.clone()).collect();
    let session = t.create_session().await;
    let members = [
        "p1@ac-toulouse.fr",
        "m1@ac-toulouse.fr",
        "m2@ac-toulouse.fr",
    ];
    let board = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(members[0], "Dupont", "", pb::ExamBoardRole::President),
                member(members[1], "Durand", "", pb::ExamBoardRole::Member),
                member(members[2], "Dubois", "", pb::ExamBoardRole::Member),
            ],
        )
        .await
        .unwrap();
    for id in &ids {
        t.assign(&board.id, id).await.unwrap();
    }
    let schedule = |id: &str, start: &str| {
        let mut exam = t.exam.clone();
        let req = authed(
            pb::ScheduleExamPartRequest {
                candidacy_id: id.into(),
                exam_part: pb::ExamPart::TrainingSession as i32,
                starts_at_local: start.into(),
                location: "Lycée Bellevue".into(),
            },
            &t.office,
        );
        async move { exam.schedule_exam_part(req).await }
    };
    let (a, b) = tokio::join!(
        schedule(&ids[0], "2025-11-17T09:00"),
        schedule(&ids[1], "2025-11-17T09:15")
    );
    let winner = match (&a, &b) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
            assert_eq!(precondition_rule(e).as_deref(), Some("BOARD_DOUBLE_BOOKED"));
            if a.is_ok() {
                ids[0].clone()
            } else {
                ids[1].clone()
            }
        }
        _ => panic!("one of two overlapping bookings of the board wins: {a:?} {b:?}"),
    };

    let enter = |who: &str| {
        let mut exam = t.exam.clone();
        let req = authed(
            pb::EnterMarkRequest {
                candidacy_id: winner.clone(),
                exam_part: pb::ExamPart::TrainingSession as i32,
                mark: "12".into(),
                absent: false,
            },
            &t.board_member(who),
        );
        async move { exam.enter_mark(req).await }
    };
    let (a, b, c) = tokio::join!(enter(members[0]), enter(members[1]), enter(members[2]));
    let results = [a, b, c];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "two entries, never three"
    );
    let refused = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(
        precondition_rule(&refused).as_deref(),
        Some("DOUBLE_ENTRY_COMPLETE")
    );
    let office = t.office.clone();
    let sheets = t.sheets(&board.id, &office).await;
    let sheet = sheets
        .iter()
        .find(|s| s.candidacy_id == winner && s.exam_part == pb::ExamPart::TrainingSession as i32)
        .unwrap();
    assert_eq!(
        (sheet.entry_count, sheet.status),
        (2, pb::ExamMarkStatus::Agreed as i32)
    );
}

/// A member falls ill: the exam office gives the seat to someone else, with the same checks as
/// at creation; the board keeps its candidates and marks, the member who left can no longer
/// act, minutes prepared before must be prepared again, and the change is kept.
async fn a_board_member_is_replaced_until_deliberation(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.admitted_list(2).await;
    let cands = t.wait_candidates(2, 0).await;
    let (c1, c2) = (cands[0].candidacy_id.clone(), cands[1].candidacy_id.clone());
    let session = t.create_session().await;
    let sid = session.id.clone();
    let (p1, m1, m2, m3, m4) = (
        "p1@ac-toulouse.fr",
        "m1@ac-toulouse.fr",
        "m2@ac-toulouse.fr",
        "m3@ac-toulouse.fr",
        "m4@ac-toulouse.fr",
    );
    let board = t
        .create_board(
            &session,
            "Commission 1",
            vec![
                member(p1, "Dupont", "", pb::ExamBoardRole::President),
                member(m1, "Durand", &uai(90), pb::ExamBoardRole::Member),
                member(m2, "Dubois", &uai(91), pb::ExamBoardRole::Member),
            ],
        )
        .await
        .unwrap();
    let id_of = |b: &pb::ExamBoard, email: &str| {
        b.members
            .iter()
            .find(|m| m.email == email)
            .map(|m| m.id.clone())
            .unwrap()
    };
    let (m1_id, p1_id) = (id_of(&board, m1), id_of(&board, p1));
    for c in [&c1, &c2] {
        t.assign(&board.id, c).await.unwrap();
    }
    for (c, h) in [(&c1, 9), (&c2, 10)] {
        t.schedule(
            c,
            pb::ExamPart::TrainingSession,
            &format!("2025-11-17T{h}:00"),
        )
        .await
        .unwrap();
        t.schedule(c, pb::ExamPart::CaseStudy, &format!("2025-11-18T{h}:00"))
            .await
            .unwrap();
    }
    let part1 = pb::ExamPart::TrainingSession;
    let part2 = pb::ExamPart::CaseStudy;
    t.enter(m1, &c1, part1, "14").await.unwrap();

    let replace = |member_id: &str, who: Option<pb::NewBoardMember>, reason: &str| {
        pb::ReplaceBoardMemberRequest {
            board_id: board.id.clone(),
            member_id: member_id.into(),
            replacement: who,
            reason: reason.into(),
        }
    };
    let newcomer = |email: &str, uai_n: u32, role| Some(member(email, "Dumas", &uai(uai_n), role));
    let office = t.office.clone();
    let as_office = |r: pb::ReplaceBoardMemberRequest| authed(r, &office);
    let mut exam = t.exam.clone();

    // Refusals, each naming the field or the rule, and changing nothing.
    let r = exam
        .replace_board_member(authed(
            replace(
                &m1_id,
                newcomer(m3, 92, pb::ExamBoardRole::Member),
                "malade",
            ),
            &t.board_member(p1),
        ))
        .await;
    assert_eq!(code(r), Code::PermissionDenied);
    let r = exam
        .replace_board_member(as_office(replace(&m1_id, None, " ")))
        .await;
    assert_eq!(fields_of(r), ["reason", "replacement"]);
    let mut bad = member("m3@", "", "123", pb::ExamBoardRole::Unspecified);
    bad.first_name = "Anne".into();
    let r = exam
        .replace_board_member(as_office(replace(&m1_id, Some(bad), "malade")))
        .await;
    assert_eq!(
        fields_of(r),
        [
            "replacement.email",
            "replacement.last_name",
            "replacement.workplace_uai",
            "replacement.role"
        ]
    );
    let r = exam
        .replace_board_member(as_office(replace(
            "0190f0f0-0000-7000-8000-000000000000",
            newcomer(m3, 92, pb::ExamBoardRole::Member),
            "malade",
        )))
        .await;
    assert_eq!(code(r), Code::NotFound);
    let r = exam
        .replace_board_member(as_office(replace(
            &m1_id,
            newcomer(m2, 92, pb::ExamBoardRole::Member),
            "malade",
        )))
        .await;
    assert_eq!(rule_of(r), "ALREADY_A_MEMBER");
    // The newcomer works where candidate 1 works.
    let r = exam
        .replace_board_member(as_office(replace(
            &m1_id,
            newcomer(m3, 1, pb::ExamBoardRole::Member),
            "malade",
        )))
        .await;
    assert_eq!(rule_of(r), "CONFLICT_OF_INTEREST");
    // The president's seat given to a mere member leaves the board without president.
    let r = exam
        .replace_board_member(as_office(replace(
            &p1_id,
            newcomer(m3, 92, pb::ExamBoardRole::Member),
            "malade",
        )))
        .await;
    assert_eq!(rule_of(r), "BOARD_COMPOSITION");
    let unchanged = exam
        .get_board(authed(
            pb::GetBoardRequest {
                board_id: board.id.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.members, board.members);
    assert!(unchanged.replacements.is_empty());

    // M1 falls ill; M3 takes the seat. Candidates and the entry M1 made stay.
    let b = exam
        .replace_board_member(as_office(replace(
            &m1_id,
            newcomer(m3, 92, pb::ExamBoardRole::Member),
            "arrêt maladie",
        )))
        .await
        .unwrap()
        .into_inner();
    let emails: Vec<&str> = b.members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, [p1, m2, m3]);
    assert_eq!(b.candidacy_ids.len(), 2);
    assert_eq!(b.replacements.len(), 1);
    let r = &b.replacements[0];
    assert_eq!(r.former.as_ref().unwrap().email, m1);
    assert_eq!(r.replacement_member_id, id_of(&b, m3));
    assert_eq!(r.reason, "arrêt maladie");
    assert_eq!(r.replaced_by, "dec@ac-toulouse.fr");
    assert!(r.replace_time.is_some());
    assert_eq!(
        code(t.enter(m1, &c1, part2, "12").await),
        Code::PermissionDenied
    );
    let sheet = t.enter(m3, &c1, part1, "14").await.unwrap();
    assert_eq!(sheet.agreed_mark.unwrap().mark, "14");
    // Who left does not come back by the same door.
    let r = exam
        .replace_board_member(as_office(replace(
            &id_of(&b, m3),
            newcomer(m1, 90, pb::ExamBoardRole::Member),
            "retour",
        )))
        .await;
    assert_eq!(rule_of(r), "ALREADY_A_MEMBER");

    // Minutes prepared, then a member replaced: they must be prepared again.
    for (c, part, mark) in [(&c1, part2, "12"), (&c2, part1, "9"), (&c2, part2, "11")] {
        t.enter(p1, c, part, mark).await.unwrap();
        t.enter(m2, c, part, mark).await.unwrap();
    }
    let key = SigningKey::from_bytes(&[21; 32]);
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    exam.register_board_member_key(authed(
        pb::RegisterBoardMemberKeyRequest {
            board_id: board.id.clone(),
            public_key: pem,
        },
        &t.board_member(p1),
    ))
    .await
    .unwrap();
    let draft = t.prepare(p1, &sid).await.unwrap();
    let b = exam
        .replace_board_member(as_office(replace(
            &id_of(&b, m2),
            newcomer(m4, 93, pb::ExamBoardRole::Member),
            "mutation",
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.replacements.len(), 2);
    assert_eq!(
        rule_of(t.close(p1, &sid, &draft.sha256, &key).await),
        "MINUTES_OUTDATED"
    );
    let draft = t.prepare(p1, &sid).await.unwrap();
    let text = extract_text(&draft.pdf);
    assert!(text.contains("Dumas") && !text.contains("Dubois"), "{text}");
    t.close(p1, &sid, &draft.sha256, &key).await.unwrap();

    // Frozen with the deliberation.
    let r = exam
        .replace_board_member(as_office(replace(
            &id_of(&b, m4),
            newcomer("m5@ac-toulouse.fr", 94, pb::ExamBoardRole::Member),
            "trop tard",
        )))
        .await;
    assert_eq!(rule_of(r), "DELIBERATION_CLOSED");
}
