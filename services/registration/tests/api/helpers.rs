//! What every test of the API starts from: a node of the académie de Toulouse running
//! registration on a random loopback port (SQLite, or a fresh PostgreSQL database), its clock set
//! by hand, tokens for each role, and the calls and fixtures the tests repeat.

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{
    self as pb, EventEnvelope, registration_service_client::RegistrationServiceClient,
};
use cplds_registration::RegistrationModule;
use cplds_runtime::{
    auth::Role,
    bus::{Binding, QueueSpec, Stream, Subscription},
    testing::{POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, server_url},
    time::parse_paris_local,
};
use prost::Message;
use tonic::{Status, transport::Channel};

pub type Client = RegistrationServiceClient<Channel>;

/// Each test runs on SQLite and, when `CPLDS_TEST_POSTGRES_URL` is set, on PostgreSQL.
#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The 2025 campaign every test opens unless it says otherwise: 26 May to 20 June, 17:00.
pub const OPENS: &str = "2025-05-26T00:00";
pub const CLOSES: &str = "2025-06-20T17:00";
/// A moment inside that window, and one after it.
pub const DURING: &str = "2025-06-01T10:00";
pub const AFTER: &str = "2025-06-23T09:00";

pub const OFFICE: &str = "dec@ac-toulouse.fr";
pub const RECTEUR: &str = "recteur@ac-toulouse.fr";

pub struct TestApp {
    _pg: Option<TestPostgres>,
    pub node: TestNode,
    pub client: Client,
    /// Tokens of the exam office and of the recteur.
    pub office: String,
    pub recteur: String,
}

/// A node whose clock reads `now` (Europe/Paris); `None` when the backend is not switched on.
pub async fn spawn_at(backend: Backend, now: &str) -> Option<TestApp> {
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(
            TestPostgres::create(&server_url(POSTGRES_ENV, "registration API on PostgreSQL")?)
                .await
                .unwrap(),
        ),
    };
    let mut opts = TestNodeOptions::new("toulouse", vec![Arc::new(RegistrationModule)]);
    opts.database_url = pg.as_ref().map(|p| p.url.clone());
    let node = TestNode::start(opts).await.unwrap();
    node.clock.set(parse_paris_local(now).unwrap());
    let client = RegistrationServiceClient::new(node.channel().await);
    let office = node.token(OFFICE, &[Role::ExamOffice]);
    let recteur = node.token(RECTEUR, &[Role::Recteur]);
    Some(TestApp {
        _pg: pg,
        node,
        client,
        office,
        recteur,
    })
}

/// A node at `now` with the 2025 campaign open from [`OPENS`] to [`CLOSES`].
pub async fn spawn_with_campaign(backend: Backend, now: &str) -> Option<TestApp> {
    let mut app = spawn_at(backend, now).await?;
    app.campaign(2025, OPENS, CLOSES).await;
    Some(app)
}

/// A valid candidate of the académie de Toulouse, number `n`.
pub fn person(n: u32) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: format!(
            "Martin-{}",
            ["Durand", "Petit", "Leroy", "Moreau", "Simon"][n as usize % 5]
        ),
        first_name: "Camille".into(),
        birth_date: "1984-03-12".into(),
        email: email(n),
        phone: "06 12 34 56 78".into(),
        staff_number: format!("12E{n:07}ABC"),
        sex: pb::Sex::Female as i32,
        sector: pb::StaffSector::Public as i32,
        status: pb::StaffStatus::Tenured as i32,
        function: pb::StaffFunction::Teaching as i32,
        corps: pb::Corps::SecondDegree as i32,
        workplace_uai: "0310036W".into(),
        workplace_type: pb::WorkplaceType::Lycee as i32,
        department: "31".into(),
        runs_mlds_actions: n.is_multiple_of(2),
        is_dropout_referent: n.is_multiple_of(3),
    }
}

/// The e-mail address (and token subject) of [`person`] `n`.
pub fn email(n: u32) -> String {
    format!("camille.martin{n}@ac-toulouse.fr")
}

/// Candidate `n`, on a fixed-term contract: not eligible.
pub fn fixed_term(n: u32) -> pb::CandidateDetails {
    let mut p = person(n);
    p.status = pb::StaffStatus::ContractFixedTerm as i32;
    p
}

/// A candidacy for 2025 received by post, stamped on `postmark`.
pub fn by_post(n: u32, postmark: &str) -> pb::SubmitCandidacyRequest {
    pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(n)),
        channel: pb::SubmissionChannel::Post as i32,
        postmark_date: postmark.into(),
        ..Default::default()
    }
}

/// An identifier no record has.
pub fn unknown_id() -> String {
    "0196f7a2-0000-7000-8000-000000000000".into()
}

/// The result of a call: the message, or the status.
type Reply<T> = Result<T, Status>;

fn message<T>(r: Result<tonic::Response<T>, Status>) -> Reply<T> {
    r.map(tonic::Response::into_inner)
}

impl TestApp {
    pub fn candidate_token(&self, n: u32) -> String {
        self.node.token(&email(n), &[Role::Candidate])
    }

    /// The registration store itself, beside the node (PostgreSQL only): for tests that play a
    /// concurrent act inside a transaction they hold open.
    pub async fn store(&self) -> Option<sea_orm::DatabaseConnection> {
        let pg = self._pg.as_ref()?;
        let target = cplds_runtime::db::DbTarget::Postgres {
            url: pg.url.clone(),
            schema: cplds_runtime::db::schema_name("toulouse", "registration"),
        };
        Some(cplds_runtime::db::connect(&target).await.unwrap())
    }

    pub fn set_clock(&self, now: &str) {
        self.node.clock.set(parse_paris_local(now).unwrap());
    }

    pub async fn campaign(&mut self, year: i32, opens: &str, closes: &str) -> pb::Campaign {
        let req = pb::CreateCampaignRequest {
            year,
            opens_at_local: opens.into(),
            closes_at_local: closes.into(),
        };
        message(self.client.create_campaign(authed(req, &self.office)).await).unwrap()
    }

    pub async fn get_campaign(&mut self, year: i32) -> pb::Campaign {
        let req = pb::GetCampaignRequest { year };
        message(self.client.get_campaign(authed(req, &self.office)).await).unwrap()
    }

    pub async fn move_window(&mut self, opens: &str, closes: &str) -> Reply<pb::Campaign> {
        let req = pb::UpdateCampaignRequest {
            year: 2025,
            opens_at_local: opens.into(),
            closes_at_local: closes.into(),
        };
        message(self.client.update_campaign(authed(req, &self.office)).await)
    }

    /// Candidate `d` registers online for 2025 with their own token.
    pub async fn submit_online(&mut self, d: pb::CandidateDetails) -> Reply<pb::Candidacy> {
        let token = self.node.token(&d.email, &[Role::Candidate]);
        let req = pb::SubmitCandidacyRequest {
            year: 2025,
            candidate: Some(d),
            ..Default::default()
        };
        message(self.client.submit_candidacy(authed(req, &token)).await)
    }

    /// The exam office enters a candidacy.
    pub async fn enter(&mut self, req: pb::SubmitCandidacyRequest) -> Reply<pb::Candidacy> {
        message(
            self.client
                .submit_candidacy(authed(req, &self.office))
                .await,
        )
    }

    pub async fn get(&mut self, id: &str, token: &str) -> Reply<pb::Candidacy> {
        let req = pb::GetCandidacyRequest {
            candidacy_id: id.into(),
        };
        message(self.client.get_candidacy(authed(req, token)).await)
    }

    pub async fn upload(
        &mut self,
        id: &str,
        kind: pb::DocumentKind,
        token: &str,
    ) -> Reply<pb::SupportingDocument> {
        let req = pb::UploadSupportingDocumentRequest {
            candidacy_id: id.into(),
            kind: kind as i32,
            file_name: format!("{}.pdf", kind.as_str_name().to_lowercase()),
            content_type: "application/pdf".into(),
            content: format!("%PDF-1.7\n{id} {kind:?}").into_bytes(),
        };
        self.upload_request(req, token).await
    }

    pub async fn upload_request(
        &mut self,
        req: pb::UploadSupportingDocumentRequest,
        token: &str,
    ) -> Reply<pb::SupportingDocument> {
        message(
            self.client
                .upload_supporting_document(authed(req, token))
                .await,
        )
    }

    /// The exam office adds both required documents.
    pub async fn complete(&mut self, id: &str) {
        let t = self.office.clone();
        self.upload(id, pb::DocumentKind::EmploymentProof, &t)
            .await
            .unwrap();
        self.upload(id, pb::DocumentKind::Identity, &t)
            .await
            .unwrap();
    }

    pub async fn validate(&mut self, id: &str) -> Reply<pb::Candidacy> {
        let req = pb::ValidateCandidacyRequest {
            candidacy_id: id.into(),
        };
        message(
            self.client
                .validate_candidacy(authed(req, &self.office))
                .await,
        )
    }

    /// Candidate `n` registers online, sends both documents, and is validated.
    pub async fn validated(&mut self, n: u32) -> pb::Candidacy {
        let c = self.submit_online(person(n)).await.unwrap();
        self.complete(&c.id).await;
        self.validate(&c.id).await.unwrap()
    }

    pub async fn reject(
        &mut self,
        id: &str,
        reason: pb::RejectionReason,
        text: &str,
    ) -> Reply<pb::Candidacy> {
        let req = pb::RejectCandidacyRequest {
            candidacy_id: id.into(),
            reason: reason as i32,
            reason_text: text.into(),
        };
        message(
            self.client
                .reject_candidacy(authed(req, &self.office))
                .await,
        )
    }

    pub async fn withdraw(&mut self, id: &str, text: &str, token: &str) -> Reply<pb::Candidacy> {
        let req = pb::WithdrawCandidacyRequest {
            candidacy_id: id.into(),
            reason_text: text.into(),
        };
        message(self.client.withdraw_candidacy(authed(req, token)).await)
    }

    /// The recteur publishes the 2025 list.
    pub async fn publish(&mut self) -> Reply<pb::AdmittedList> {
        let req = pb::PublishAdmittedListRequest { year: 2025 };
        message(
            self.client
                .publish_admitted_list(authed(req, &self.recteur))
                .await,
        )
    }

    pub async fn admitted_list(&mut self) -> pb::AdmittedList {
        let req = pb::GetAdmittedListRequest { year: 2025 };
        message(
            self.client
                .get_admitted_list(authed(req, &self.office))
                .await,
        )
        .unwrap()
    }

    pub async fn list(
        &mut self,
        req: pb::ListCandidaciesRequest,
        token: &str,
    ) -> Reply<pb::ListCandidaciesResponse> {
        message(self.client.list_candidacies(authed(req, token)).await)
    }

    pub async fn counts(&mut self, token: &str) -> Reply<pb::CountCandidaciesResponse> {
        let req = pb::CountCandidaciesRequest { year: 2025 };
        message(self.client.count_candidacies(authed(req, token)).await)
    }

    /// How many candidacies 2025 has: what a refused call must leave unchanged.
    pub async fn count(&mut self) -> i64 {
        let office = self.office.clone();
        self.counts(&office).await.unwrap().total
    }

    /// A queue that sees every event of the node, on both streams.
    pub async fn listen(&self) -> Subscription {
        let q = QueueSpec::new(
            "toulouse.test-observer",
            vec![
                Binding::new(Stream::Internal, "#"),
                Binding::new(Stream::National, "#"),
            ],
        );
        self.node.bus.declare(&q).await.unwrap();
        self.node.bus.subscribe(&q).await.unwrap()
    }
}

/// The count of one status in a CountCandidacies answer.
pub fn count_of(counts: &pb::CountCandidaciesResponse, status: pb::CandidacyStatus) -> i64 {
    counts
        .counts
        .iter()
        .find(|c| c.status == status as i32)
        .map_or(0, |c| c.count)
}

/// The next event, heartbeats (outside the sequence) skipped.
pub async fn next_event(sub: &mut Subscription) -> EventEnvelope {
    loop {
        let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("an event in time")
            .expect("open");
        let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
        d.ack().await.unwrap();
        if e.r#type != "heartbeat" {
            return e;
        }
    }
}
