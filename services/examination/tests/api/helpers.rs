//! The test node, its clients and tokens, and fixtures that bring a session to a stage: the
//! admitted list through registration, a session, boards, assignments, the schedule, marks, the
//! deliberation and the publication of results.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::TimeDelta;
use cplds_examination::ExaminationModule;
use cplds_proto::v1::{
    self as pb, EventEnvelope, event_envelope::Payload,
    examination_service_client::ExaminationServiceClient,
    registration_service_client::RegistrationServiceClient,
};
use cplds_registration::RegistrationModule;
pub use cplds_runtime::testing::{authed, precondition_rule};
use cplds_runtime::{
    auth::Role,
    bus::{Binding, Message, QueueSpec, Stream, Subscription},
    host::ServiceModule,
    testing::{
        POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, bad_fields, server_url, wait_for,
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

pub type Exam = ExaminationServiceClient<Channel>;
pub type Reg = RegistrationServiceClient<Channel>;

#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Each test runs on SQLite and, when switched on, on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Postgres).await })*
        }
    };
}

pub struct Ctx {
    _pg: Option<TestPostgres>,
    /// The sequence of the last registration event published by the test itself.
    sequence: u64,
    pub node: TestNode,
    pub reg: Reg,
    pub exam: Exam,
    pub office: String,
    pub recteur: String,
}

pub const EXAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The examination service of Toulouse on `backend`, registration's events published by the
/// test; `None` when PostgreSQL is asked for and not switched on.
pub async fn start(backend: Backend) -> Option<Ctx> {
    start_node(backend, false).await
}

/// The node and the 2025 session.
pub async fn with_session(backend: Backend) -> Option<(Ctx, pb::ExamSession)> {
    let mut t = start(backend).await?;
    let session = t.create_session().await;
    Some((t, session))
}

/// Registration beside examination: the admitted list and withdrawals come from its API.
pub async fn start_with_registration(backend: Backend) -> Option<Ctx> {
    start_node(backend, true).await
}

async fn start_node(backend: Backend, with_registration: bool) -> Option<Ctx> {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(
            TestPostgres::create(&server_url(POSTGRES_ENV, "examination API on PostgreSQL")?)
                .await
                .unwrap(),
        ),
    };
    let mut modules: Vec<Arc<dyn ServiceModule>> = vec![Arc::new(ExaminationModule)];
    if with_registration {
        modules.insert(0, Arc::new(RegistrationModule));
    }
    let mut opts = TestNodeOptions::new("toulouse", modules);
    opts.database_url = pg.as_ref().map(|p| p.url.clone());
    let node = TestNode::start(opts).await.unwrap();
    node.clock.set(at("2025-06-01T10:00"));
    let channel = node.channel().await;
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let recteur = node.token("recteur@ac-toulouse.fr", &[Role::Recteur]);
    Some(Ctx {
        _pg: pg,
        sequence: 0,
        reg: RegistrationServiceClient::new(channel.clone()),
        exam: ExaminationServiceClient::new(channel),
        node,
        office,
        recteur,
    })
}

pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    parse_paris_local(s).unwrap()
}

/// A valid UAI of Haute-Garonne from a number.
pub fn uai(n: u32) -> String {
    cplds_runtime::people::Uai::of_number(310_000 + n)
        .as_str()
        .to_owned()
}

pub fn email(n: u32) -> String {
    format!("camille.martin{n}@ac-toulouse.fr")
}

/// A valid candidate of the académie de Toulouse, number `n`, working in establishment `n`.
pub fn person(n: u32) -> pb::CandidateDetails {
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

/// Candidate `n` ([`person`]) as registration's admitted list carries them.
pub fn listed_entry(candidacy_id: &str, n: u32) -> pb::AdmittedListEntry {
    let p = person(n);
    pb::AdmittedListEntry {
        candidacy_id: candidacy_id.into(),
        candidate_key: format!("{n:032x}"),
        identity: Some(pb::CandidateIdentity {
            last_name: p.last_name,
            first_name: p.first_name,
            birth_date: p.birth_date,
            email: p.email,
            staff_number: p.staff_number,
            workplace_uai: p.workplace_uai,
        }),
        profile: Some(pb::CandidateProfile {
            sex: p.sex,
            department: p.department,
            staff_category: pb::StaffCategory::SecondDegreeTenured as i32,
            workplace_type: p.workplace_type,
            runs_mlds_actions: p.runs_mlds_actions,
            is_dropout_referent: p.is_dropout_referent,
        }),
    }
}

pub fn code(r: Result<impl Sized, Status>) -> Code {
    r.err().map_or(Code::Ok, |s| s.code())
}

pub fn rule_of<T>(r: Result<T, Status>) -> String {
    match r {
        Ok(_) => panic!("expected a refusal"),
        Err(s) => {
            assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
            precondition_rule(&s).unwrap_or_default()
        }
    }
}

pub fn fields_of<T>(r: Result<T, Status>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected INVALID_ARGUMENT"),
        Err(s) => {
            assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
            bad_fields(&s)
        }
    }
}

pub fn member(email: &str, last: &str, uai: &str, role: pb::ExamBoardRole) -> pb::NewBoardMember {
    pb::NewBoardMember {
        email: email.into(),
        last_name: last.into(),
        first_name: "Anne".into(),
        workplace_uai: uai.into(),
        role: role as i32,
    }
}

/// Two members, a president and a member, of no establishment.
pub fn pair(president: &str, other: &str) -> Vec<pb::NewBoardMember> {
    vec![
        member(president, "Dupont", "", pb::ExamBoardRole::President),
        member(other, "Dupont", "", pb::ExamBoardRole::Member),
    ]
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

pub const PART_1: pb::ExamPart = pb::ExamPart::TrainingSession;
pub const PART_2: pb::ExamPart = pb::ExamPart::CaseStudy;

/// The members of "Commission 1" in the fixtures: its president and two members.
pub const P1: &str = "p1@ac-toulouse.fr";
pub const M1: &str = "m1@ac-toulouse.fr";
pub const M2: &str = "m2@ac-toulouse.fr";

/// "Commission 1": P1 presides, M1 works in establishment 90, M2 in 91.
pub fn commission_1() -> Vec<pb::NewBoardMember> {
    vec![
        member(P1, "Dupont", "", pb::ExamBoardRole::President),
        member(M1, "Durand", &uai(90), pb::ExamBoardRole::Member),
        member(M2, "Dubois", &uai(91), pb::ExamBoardRole::Member),
    ]
}

/// The president of "Commission 2".
pub const P2: &str = "p2@ac-toulouse.fr";

/// "Commission 2": P2 presides, m3 works in establishment 91.
pub fn commission_2() -> Vec<pb::NewBoardMember> {
    vec![
        member(P2, "Lafon", "", pb::ExamBoardRole::President),
        member(
            "m3@ac-toulouse.fr",
            "Benali",
            &uai(91),
            pb::ExamBoardRole::Member,
        ),
    ]
}

impl Ctx {
    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.node.token(subject, roles)
    }

    pub fn board_member(&self, email: &str) -> String {
        self.token(email, &[Role::BoardMember])
    }

    /// The token of candidate `c` (its e-mail is the subject).
    pub fn candidate(&self, c: &pb::ExamCandidate) -> String {
        self.token(&c.email, &[Role::Candidate])
    }

    pub async fn listen(&self) -> Subscription {
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
    pub async fn admitted_list(&mut self, n: u32) -> pb::AdmittedList {
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
            self.register(i).await;
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

    /// Candidate `n` submits a complete candidacy, which the office validates.
    async fn register(&mut self, n: u32) {
        let token = self.token(&email(n), &[Role::Candidate]);
        let c = self
            .reg
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year: 2025,
                    candidate: Some(person(n)),
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

    /// The exam service's copy, once it holds `n` candidates of 2025 (`withdrawn` of them
    /// withdrawn), in the order of the admitted list (by name).
    pub async fn wait_candidates(&self, n: usize, withdrawn: usize) -> Vec<pb::ExamCandidate> {
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

    /// `n` candidates registered through registration, on the exam service's copy of the list.
    pub async fn listed_through_registration(&mut self, n: u32) -> Vec<pb::ExamCandidate> {
        self.admitted_list(n).await;
        self.wait_candidates(n as usize, 0).await
    }

    /// Publishes registration's events as registration would.
    pub async fn registration_says(&mut self, payloads: Vec<Payload>) {
        let messages: Vec<Message> = payloads
            .into_iter()
            .map(|p| {
                self.sequence += 1;
                envelope(self.sequence, p)
            })
            .collect();
        self.node
            .bus
            .publish(&cplds_runtime::testing::signed(messages))
            .await
            .unwrap();
    }

    /// Candidates 1 to `n` ([`person`]) on the admitted list of 2025, as registration publishes
    /// it, once on the exam service's copy of the list.
    pub async fn listed(&mut self, n: u32) -> Vec<pb::ExamCandidate> {
        let entries = (1..=n)
            .map(|i| listed_entry(&uuid::Uuid::now_v7().to_string(), i))
            .collect();
        self.registration_says(vec![Payload::AdmittedListPublished(
            pb::AdmittedListPublished {
                year: 2025,
                entries,
            },
        )])
        .await;
        self.wait_candidates(n as usize, 0).await
    }

    /// The ids of `n` candidates listed, and the 2025 session.
    pub async fn listed_with_session(&mut self, n: u32) -> (Vec<String>, pb::ExamSession) {
        let ids = self
            .listed(n)
            .await
            .into_iter()
            .map(|c| c.candidacy_id)
            .collect();
        (ids, self.create_session().await)
    }

    /// Candidate `n` withdraws after the list, as registration tells it.
    pub async fn withdraw(&mut self, candidacy_id: &str, n: u32) {
        self.registration_says(vec![Payload::CandidacyWithdrawn(pb::CandidacyWithdrawn {
            candidacy_id: candidacy_id.into(),
            year: 2025,
            candidate_key: format!("{n:032x}"),
            was_admitted_to_sit: true,
        })])
        .await;
    }

    /// Candidate `n` withdraws through registration's API.
    pub async fn withdraw_through_registration(&mut self, candidacy_id: &str, n: u32) {
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

    pub async fn create_session(&mut self) -> pb::ExamSession {
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

    pub async fn create_board(
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

    pub async fn get_board(&mut self, board: &str) -> pb::ExamBoard {
        self.exam
            .get_board(authed(
                pb::GetBoardRequest {
                    board_id: board.into(),
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn assign(
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

    pub async fn schedule(
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

    /// Both épreuves of a candidate: épreuve 1 on the 17th, épreuve 2 on the 18th, at `hour`.
    pub async fn schedule_both(&mut self, candidacy_id: &str, hour: u32) {
        self.schedule(candidacy_id, PART_1, &format!("2025-11-17T{hour:02}:00"))
            .await
            .unwrap();
        self.schedule(candidacy_id, PART_2, &format!("2025-11-18T{hour:02}:00"))
            .await
            .unwrap();
    }

    pub async fn issue(
        &mut self,
        session: &str,
        candidacy_ids: Vec<String>,
    ) -> Result<pb::IssueConvocationsResponse, Status> {
        self.exam
            .issue_convocations(authed(
                pb::IssueConvocationsRequest {
                    session_id: session.into(),
                    candidacy_ids,
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn enter(
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

    /// Two members enter the same mark: it is agreed.
    pub async fn agree(
        &mut self,
        who: [&str; 2],
        candidacy_id: &str,
        part: pb::ExamPart,
        mark: &str,
    ) {
        for w in who {
            self.enter(w, candidacy_id, part, mark).await.unwrap();
        }
    }

    pub async fn correct(
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

    pub async fn reconcile(
        &mut self,
        who: &str,
        candidacy_id: &str,
        part: pb::ExamPart,
        mark: &str,
        reason: &str,
    ) -> Result<pb::MarkSheet, Status> {
        let token = self.board_member(who);
        self.exam
            .reconcile_mark(authed(
                pb::ReconcileMarkRequest {
                    candidacy_id: candidacy_id.into(),
                    exam_part: part as i32,
                    mark: mark.into(),
                    absent: false,
                    reason: reason.into(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn sheets(&mut self, board: &str, token: &str) -> Vec<pb::MarkSheet> {
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

    pub async fn history(
        &mut self,
        candidacy_id: &str,
        page_size: i32,
        page_token: String,
    ) -> pb::ListMarkHistoryResponse {
        self.exam
            .list_mark_history(authed(
                pb::ListMarkHistoryRequest {
                    candidacy_id: candidacy_id.into(),
                    page_size,
                    page_token,
                },
                &self.recteur,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// A member registers a key for their own seat with their token, the old key's signature
    /// of the new one if given.
    pub async fn register_key(
        &mut self,
        who: &str,
        board: &str,
        public_key: String,
        old_key_signature: String,
    ) -> Result<pb::ExamBoardMember, Status> {
        let token = self.board_member(who);
        self.exam
            .register_board_member_key(authed(
                pb::RegisterBoardMemberKeyRequest {
                    board_id: board.into(),
                    public_key,
                    member_id: String::new(),
                    old_key_signature,
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The exam office registers the key of seat `member_id`.
    pub async fn office_registers_key(
        &mut self,
        board: &str,
        member_id: &str,
        public_key: String,
    ) -> Result<pb::ExamBoardMember, Status> {
        self.exam
            .register_board_member_key(authed(
                pb::RegisterBoardMemberKeyRequest {
                    board_id: board.into(),
                    public_key,
                    member_id: member_id.into(),
                    old_key_signature: String::new(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The exam office appoints seat `member_id` jury president of the session.
    pub async fn appoint(
        &mut self,
        session: &str,
        member_id: &str,
    ) -> Result<pb::ExamSession, Status> {
        self.exam
            .appoint_jury_president(authed(
                pb::AppointJuryPresidentRequest {
                    session_id: session.into(),
                    member_id: member_id.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// The clock past the fixtures' épreuves (the 17th and 18th of November 2025, in the
    /// morning): marks may be entered and the deliberation held.
    pub fn epreuves_over(&self) {
        self.node.clock.set(at("2025-11-18T12:00"));
    }

    pub async fn prepare(
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

    pub async fn close(
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

    pub async fn publish(
        &mut self,
        session: &str,
        token: &str,
    ) -> Result<pb::PublishResultsResponse, Status> {
        self.exam
            .publish_results(authed(
                pb::PublishResultsRequest {
                    session_id: session.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn result(
        &mut self,
        candidacy_id: &str,
        token: &str,
    ) -> Result<pb::ExamResult, Status> {
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

    pub async fn file_appeal(
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

    pub async fn statistics(&mut self, session: &str) -> Result<pb::ExamStatistics, Status> {
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

    pub async fn get_candidate(&mut self, candidacy_id: &str) -> pb::ExamCandidate {
        self.exam
            .get_exam_candidate(authed(
                pb::GetExamCandidateRequest {
                    candidacy_id: candidacy_id.into(),
                },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

// ---- a session at a stage ---------------------------------------------------------------------

/// Three candidates, the 2025 session and "Commission 1" ([`commission_1`]) whose president P1
/// presides the jury; candidates 1 and 2 are assigned to it, candidate 3 withdrew after the
/// list. With `scheduled`, both épreuves of candidates 1 (09:00) and 2 (10:00) are scheduled
/// and the clock is past them.
pub struct Planned {
    pub t: Ctx,
    pub cands: Vec<pb::ExamCandidate>,
    pub c1: String,
    pub c2: String,
    pub c3: String,
    pub session: pb::ExamSession,
    pub sid: String,
    pub board: pb::ExamBoard,
}

pub async fn planned(backend: Backend, scheduled: bool) -> Option<Planned> {
    let mut t = start(backend).await?;
    let cands = t.listed(3).await;
    let ids: Vec<String> = cands.iter().map(|c| c.candidacy_id.clone()).collect();
    let session = t.create_session().await;
    let board = t
        .create_board(&session, "Commission 1", commission_1())
        .await
        .unwrap();
    t.appoint(&session.id, &seat_of(&board, P1)).await.unwrap();
    t.assign(&board.id, &ids[0]).await.unwrap();
    t.assign(&board.id, &ids[1]).await.unwrap();
    t.withdraw(&ids[2], 3).await;
    t.wait_candidates(3, 1).await;
    if scheduled {
        t.schedule_both(&ids[0], 9).await;
        t.schedule_both(&ids[1], 10).await;
        t.epreuves_over();
    }
    Some(Planned {
        t,
        sid: session.id.clone(),
        c1: ids[0].clone(),
        c2: ids[1].clone(),
        c3: ids[2].clone(),
        cands,
        session,
        board,
    })
}

/// The president's signing key in the fixtures.
pub fn president_key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

/// The seat (member id) of `email` on board `b`.
pub fn seat_of(b: &pb::ExamBoard, email: &str) -> String {
    b.members
        .iter()
        .find(|m| m.email == email)
        .map(|m| m.id.clone())
        .unwrap()
}

impl Planned {
    /// Every mark settled: candidate 1 has 14.5 (14 and 14.5, reconciled by the president) and
    /// 14, a total of 28.5; candidate 2 was absent from épreuve 1 and has 10 in épreuve 2.
    pub async fn mark_all(&mut self) {
        let (c1, c2) = (self.c1.clone(), self.c2.clone());
        let t = &mut self.t;
        t.enter(P1, &c1, PART_1, "14").await.unwrap();
        t.enter(M1, &c1, PART_1, "14,5").await.unwrap();
        t.reconcile(P1, &c1, PART_1, "14.5", "relecture de la grille")
            .await
            .unwrap();
        t.agree([P1, M2], &c1, PART_2, "14").await;
        t.agree([P1, M1], &c2, PART_1, "").await;
        t.agree([P1, M2], &c2, PART_2, "10").await;
    }

    /// The exam office registered the president's [`president_key`].
    pub async fn register_president_key(&mut self) -> pb::ExamBoardMember {
        let board = self.board.id.clone();
        let seat = seat_of(&self.board, P1);
        self.t
            .office_registers_key(&board, &seat, pem(&president_key()))
            .await
            .unwrap()
    }

    /// Marks settled, minutes prepared and signed by the president: the deliberation closed.
    pub async fn deliberate(&mut self) -> pb::DeliberationMinutes {
        self.mark_all().await;
        self.register_president_key().await;
        let sid = self.sid.clone();
        let draft = self.t.prepare(P1, &sid).await.unwrap();
        self.t
            .close(P1, &sid, &draft.sha256, &president_key())
            .await
            .unwrap()
    }

    /// The deliberation closed and the results published by the recteur.
    pub async fn publish(&mut self) -> pb::PublishResultsResponse {
        self.deliberate().await;
        let (sid, recteur) = (self.sid.clone(), self.t.recteur.clone());
        self.t.publish(&sid, &recteur).await.unwrap()
    }

    /// The token of candidate `n` (1 to 3).
    pub fn me(&self, n: usize) -> String {
        self.t.candidate(&self.cands[n - 1])
    }
}

// ---- events -----------------------------------------------------------------------------------

/// The next event, heartbeats (the relay's sign of life) aside.
pub async fn next_event(sub: &mut Subscription) -> EventEnvelope {
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
pub async fn events_until(
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

pub fn types(events: &[EventEnvelope], stream: pb::Stream) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.stream == stream as i32)
        .map(|e| e.r#type.clone())
        .collect()
}

/// A registration event as the bus carries it, numbered `sequence`.
pub fn envelope(sequence: u64, payload: Payload) -> Message {
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
        signing_key_id: String::new(),
        signature: Vec::new(),
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

/// Moves the node's clock on.
pub fn advance(t: &Ctx, by: TimeDelta) {
    t.node.clock.advance(by);
}
