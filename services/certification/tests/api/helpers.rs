//! What every area's tests share: a certification node on a random loopback port (SQLite, or
//! PostgreSQL when switched on), clients and tokens, the examination events the tests publish
//! as examination would (internal stream, `toulouse.examination.*`), and an independent
//! verifier of the proofs.

use std::{path::Path, sync::Arc, time::Duration};

use cplds_certification::{CertificationModule, domain::jcs};
use cplds_proto::v1::{
    self as pb, EventEnvelope, certification_service_client::CertificationServiceClient,
    event_envelope::Payload, verify_certificate_request::Subject,
};
use cplds_runtime::{
    auth::{AuthKeys, Role, TokenIssuer},
    bus::{Binding, Message, QueueSpec, SharedBus, Stream, Subscription},
    clock::ManualClock,
    config::{Config, DocumentsConfig, OutboxConfig, QueueType, ServerConfig},
    host::{self, NodeSpec, RunningNode},
    testing::{
        ConfigTweak, POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, server_url,
        wait_for,
    },
    time::{parse_paris_local, to_timestamp},
};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding},
};
use prost::Message as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

pub type Client = CertificationServiceClient<Channel>;

pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub async fn database(backend: Backend) -> Option<Option<TestPostgres>> {
    match backend {
        Backend::Sqlite => Some(None),
        Backend::Postgres => Some(Some(
            TestPostgres::create(&server_url(POSTGRES_ENV, "certification on PostgreSQL")?)
                .await
                .unwrap(),
        )),
    }
}

/// A running node and what the tests use to talk to it.
pub struct Ctx {
    pub _pg: Option<TestPostgres>,
    pub node: TestNode,
    pub client: Client,
    pub recteur: String,
    pub office: String,
    pub events: Subscription,
}

pub const NOW: &str = "2025-07-10T10:00";

/// The public address of the tests' académie, and the did:web it makes.
pub const PUBLIC_BASE: &str = "https://cplds.ac-toulouse.fr/verify";
pub const DID: &str = "did:web:cplds.ac-toulouse.fr:verify";

/// A node with a public address ([`PUBLIC_BASE`]): its credentials are issued by its did:web.
/// Without one (the other tests), the node has no DID document to serve.
pub fn public_base() -> ConfigTweak {
    Box::new(|c: &mut Config| c.documents.verification_base_url = Some(PUBLIC_BASE.into()))
}

pub async fn start(backend: Backend) -> Option<Ctx> {
    start_with(backend, None).await
}

pub async fn start_with(backend: Backend, tweak: Option<ConfigTweak>) -> Option<Ctx> {
    let pg = database(backend).await?;
    let mut opts = TestNodeOptions::new("toulouse", vec![Arc::new(CertificationModule)]);
    opts.database_url = pg.as_ref().map(|p| p.url.clone());
    opts.tweak_config = tweak;
    let node = TestNode::start(opts).await.unwrap();
    node.clock.set(parse_paris_local(NOW).unwrap());
    let events = observe(&node.bus).await;
    let client = CertificationServiceClient::new(node.channel().await);
    Some(Ctx {
        _pg: pg,
        client,
        recteur: node.token("recteur@ac-toulouse.fr", &[Role::Recteur]),
        office: node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]),
        events,
        node,
    })
}

/// A queue that sees the certificate events certification publishes, on both streams (not the
/// relay's heartbeats).
pub async fn observe(bus: &SharedBus) -> Subscription {
    let mut bindings = Vec::new();
    for stream in [Stream::Internal, Stream::National] {
        for event in ["certificate_issued", "certificate_revoked"] {
            bindings.push(Binding::new(
                stream,
                format!("toulouse.certification.{event}"),
            ));
        }
    }
    let q = QueueSpec::new("toulouse.test-observer", bindings);
    bus.declare(&q).await.unwrap();
    bus.subscribe(&q).await.unwrap()
}

pub async fn next_event(sub: &mut Subscription) -> EventEnvelope {
    let d = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
        .expect("open");
    let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
    d.ack().await.unwrap();
    e
}

pub const PEOPLE: &[(&str, &str)] = &[
    ("Garcia", "Inès"),
    ("Bernard", "Lucas"),
    ("Roux", "Chloé"),
    ("Fabre", "Hugo"),
    ("Vidal", "Manon"),
    ("Durand", "Théo"),
];

pub fn email(n: usize) -> String {
    format!("candidate{n}@ac-toulouse.fr")
}

pub fn candidacy_id(n: usize) -> String {
    format!("0197c0de-0000-7000-8000-{n:012}")
}

pub fn decision(n: usize, admitted: bool) -> pb::CandidateDecision {
    let (last, first) = PEOPLE[n % PEOPLE.len()];
    let part = |mark| {
        Some(pb::ExamPartResult {
            absent: false,
            mark_half_points: mark,
        })
    };
    pb::CandidateDecision {
        candidacy_id: candidacy_id(n),
        candidate_key: format!("{n:032x}"),
        part_1: part(if admitted { 28 } else { 8 }),
        part_2: part(26),
        outcome: if admitted { "ADMITTED" } else { "NOT_ADMITTED" }.into(),
        reason: if admitted { "" } else { "ELIMINATORY_MARK" }.into(),
        identity: Some(pb::CandidateIdentity {
            last_name: last.into(),
            first_name: first.into(),
            birth_date: "1981-02-03".into(),
            email: email(n),
            staff_number: format!("12E{n:07}ABC"),
            workplace_uai: "0310036W".into(),
        }),
        profile: Some(pb::CandidateProfile::default()),
    }
}

/// Garcia, Bernard and Roux admitted, Fabre not.
pub fn session_decisions() -> Vec<pb::CandidateDecision> {
    vec![
        decision(0, true),
        decision(1, true),
        decision(2, true),
        decision(3, false),
    ]
}

pub fn results(year: i32, decisions: Vec<pb::CandidateDecision>) -> Payload {
    Payload::ResultsPublished(pb::ResultsPublished {
        session_id: format!("session-{year}"),
        year,
        decisions,
        published_at: Some(to_timestamp(parse_paris_local("2025-07-03T10:00").unwrap())),
        deliberated_at: Some(to_timestamp(parse_paris_local("2025-07-02T17:00").unwrap())),
    })
}

pub fn appeal(outcome: &str, d: pb::CandidateDecision) -> Payload {
    Payload::AppealDecided(pb::AppealDecided {
        session_id: "session-2025".into(),
        year: 2025,
        candidacy_id: d.candidacy_id.clone(),
        outcome: outcome.into(),
        decision: Some(d),
        deliberated_at: Some(to_timestamp(parse_paris_local("2025-07-02T17:00").unwrap())),
    })
}

/// An envelope as the examination service's outbox would make it.
pub fn envelope(payload: Payload) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: "toulouse".into(),
        source: "examination".into(),
        sequence: 1,
        occurred_at: Some(to_timestamp(parse_paris_local("2025-07-03T10:00").unwrap())),
        r#type: payload.name().into(),
        stream: Stream::Internal as i32,
        trace_context: Default::default(),
        signing_key_id: String::new(),
        signature: Vec::new(),
        payload: Some(payload),
    }
}

pub async fn publish(bus: &SharedBus, e: &EventEnvelope) {
    bus.publish(&cplds_runtime::testing::signed(vec![Message {
        stream: Stream::Internal,
        routing_key: format!("toulouse.examination.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    }]))
    .await
    .unwrap();
}

/// By the number alone: valid, revoked or unknown, nothing personal.
pub fn number_req(number: &str) -> pb::VerifyCertificateRequest {
    code_req(number, "")
}

/// By the number and the verification code printed beside it.
pub fn code_req(number: &str, code: &str) -> pb::VerifyCertificateRequest {
    pb::VerifyCertificateRequest {
        subject: Some(Subject::Number(number.into())),
        code: code.into(),
    }
}

pub fn credential_req(json: &str) -> pb::VerifyCertificateRequest {
    pb::VerifyCertificateRequest {
        subject: Some(Subject::CredentialJson(json.into())),
        code: String::new(),
    }
}

pub fn status(v: &pb::CertificateVerification) -> pb::VerificationStatus {
    pb::VerificationStatus::try_from(v.status).unwrap()
}

/// The certificates of 2025 in number order, once there are `n` of them in `state`.
pub async fn wait_certificates(
    client: &Client,
    token: &str,
    state: pb::CertificateState,
    n: usize,
) -> Vec<pb::Certificate> {
    wait_for(WAIT, &format!("{n} certificates {state:?}"), || {
        let mut c = client.clone();
        let token = token.to_owned();
        async move {
            let list = c
                .list_certificates(authed(
                    pb::ListCertificatesRequest {
                        year: 2025,
                        state: state as i32,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            (list.certificates.len() == n).then_some(list.certificates)
        }
    })
    .await
}

impl Ctx {
    pub async fn publish(&self, payload: Payload) -> EventEnvelope {
        let e = envelope(payload);
        publish(&self.node.bus, &e).await;
        e
    }

    pub async fn prepared(&self, n: usize) -> Vec<pb::Certificate> {
        wait_certificates(
            &self.client,
            &self.recteur,
            pb::CertificateState::Prepared,
            n,
        )
        .await
    }

    pub async fn issue_all(&mut self) -> pb::IssueCertificatesResponse {
        self.client
            .issue_certificates(authed(
                pb::IssueCertificatesRequest {
                    year: 2025,
                    signatory_name: String::new(),
                },
                &self.recteur,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The 2025 session's results for `decisions` published, prepared and issued: the issued
    /// certificates in number order (at most 50: one page).
    pub async fn issued(&mut self, decisions: Vec<pb::CandidateDecision>) -> Vec<pb::Certificate> {
        let admitted = decisions.iter().filter(|d| d.outcome == "ADMITTED").count();
        self.publish(results(2025, decisions)).await;
        self.prepared(admitted).await;
        self.issue_all().await.issued
    }

    /// Skips `n` events already expected.
    pub async fn drain(&mut self, n: usize) {
        for _ in 0..n {
            next_event(&mut self.events).await;
        }
    }

    /// A token of candidate `n`, the holder of their certificate.
    pub fn holder(&self, n: usize) -> String {
        self.node.token(&email(n), &[Role::Candidate])
    }

    pub async fn issue_one(
        &mut self,
        number: &str,
        token: &str,
    ) -> Result<pb::Certificate, tonic::Status> {
        self.client
            .issue_certificate(authed(
                pb::IssueCertificateRequest {
                    number: number.into(),
                    signatory_name: String::new(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn revoke(
        &mut self,
        number: &str,
        reason: pb::RevocationReason,
        text: &str,
    ) -> Result<pb::Certificate, tonic::Status> {
        let recteur = self.recteur.clone();
        self.revoke_as(number, reason, text, &recteur).await
    }

    pub async fn revoke_as(
        &mut self,
        number: &str,
        reason: pb::RevocationReason,
        text: &str,
        token: &str,
    ) -> Result<pb::Certificate, tonic::Status> {
        self.client
            .revoke_certificate(authed(
                pb::RevokeCertificateRequest {
                    number: number.into(),
                    reason: reason as i32,
                    reason_text: text.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn duplicate(
        &mut self,
        number: &str,
        token: &str,
    ) -> Result<pb::Certificate, tonic::Status> {
        self.client
            .issue_duplicate(authed(
                pb::IssueDuplicateRequest {
                    number: number.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn get(
        &mut self,
        number: &str,
        token: &str,
    ) -> Result<pb::Certificate, tonic::Status> {
        self.client
            .get_certificate(authed(
                pb::GetCertificateRequest {
                    number: number.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn pdf(
        &mut self,
        number: &str,
        token: &str,
    ) -> Result<pb::CertificatePdf, tonic::Status> {
        self.client
            .get_certificate_pdf(authed(
                pb::GetCertificatePdfRequest {
                    number: number.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn list(
        &mut self,
        req: pb::ListCertificatesRequest,
        token: &str,
    ) -> Result<pb::ListCertificatesResponse, tonic::Status> {
        self.client
            .list_certificates(authed(req, token))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn verify(
        &mut self,
        req: pb::VerifyCertificateRequest,
    ) -> pb::CertificateVerification {
        // No token: verification is public.
        self.client
            .verify_certificate(req)
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn credential(&mut self, number: &str, token: &str) -> Result<String, tonic::Status> {
        self.client
            .get_certificate_credential(authed(
                pb::GetCertificateCredentialRequest {
                    number: number.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().credential_json)
    }

    pub async fn keys(&mut self) -> Vec<pb::SigningKey> {
        self.client
            .list_signing_keys(pb::ListSigningKeysRequest {})
            .await
            .unwrap()
            .into_inner()
            .keys
    }

    pub async fn status_list(&mut self) -> pb::StatusList {
        self.client
            .get_status_list(pb::GetStatusListRequest {})
            .await
            .unwrap()
            .into_inner()
    }
}

/// Verifies the eddsa-jcs-2022 proof (of the proof set, or the lone proof of a credential
/// issued before it) with `ring` (an Ed25519 independent of ed25519-dalek), with a key from the
/// académie's published list. Returns the key id that signed.
pub fn verify_with_ring(secured: &str, keys: &[pb::SigningKey]) -> Result<String, String> {
    let mut doc: serde_json::Map<String, Value> = serde_json::from_str(secured).unwrap();
    let mut options = match doc.remove("proof").ok_or("no proof")? {
        Value::Array(set) => set
            .into_iter()
            .find(|p| p["cryptosuite"] == "eddsa-jcs-2022")
            .and_then(|p| p.as_object().cloned())
            .ok_or("no eddsa-jcs-2022 proof")?,
        Value::Object(p) => p,
        _ => return Err("proof is neither an object nor an array".into()),
    };
    let proof_value = options
        .remove("proofValue")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or("no proofValue")?;
    assert_eq!(options["cryptosuite"], "eddsa-jcs-2022");
    assert_eq!(options["@context"], doc["@context"]);
    let method = options["verificationMethod"].as_str().unwrap().to_owned();
    let key = keys
        .iter()
        .find(|k| k.verification_method == method)
        .ok_or("signed by a key the académie does not publish")?;
    let raw_key = bs58::decode(&key.multikey[1..]).into_vec().unwrap();
    assert_eq!(&raw_key[..2], &[0xed, 0x01]);
    let mut data = Sha256::digest(jcs::canonicalize(&Value::Object(options)).unwrap()).to_vec();
    data.extend(Sha256::digest(
        jcs::canonicalize(&Value::Object(doc)).unwrap(),
    ));
    let signature = bs58::decode(&proof_value[1..]).into_vec().unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &raw_key[2..])
        .verify(&data, &signature)
        .map_err(|_| "bad signature".to_owned())?;
    Ok(key.key_id.clone())
}

/// A node with the given document keys (first signs), data directory and public address:
/// what TestNode cannot set, and a restart on the same data.
pub struct KeyedNode {
    pub node: RunningNode,
    pub issuer: TokenIssuer,
    pub bus: SharedBus,
    pub client: Client,
}

pub async fn start_keyed(
    dir: &Path,
    database_url: Option<String>,
    keys: &[&SigningKey],
    clock: Arc<ManualClock>,
) -> KeyedNode {
    cplds_runtime::install_crypto_provider();
    cplds_runtime::telemetry::init_for_tests();
    let mut files = Vec::new();
    for key in keys {
        let path = dir.join(format!(
            "doc-{}.pem",
            hex::encode(&key.verifying_key().as_bytes()[..4])
        ));
        if !path.exists() {
            std::fs::write(&path, key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
        }
        files.push(path);
    }
    let mut config = Config {
        academy: Some("toulouse".into()),
        data_dir: dir.join("data"),
        database_url,
        http_listen: Some(([127, 0, 0, 1], 0).into()),
        amqp_queue_type: QueueType::Classic,
        outbox: OutboxConfig {
            poll_interval_ms: 200,
            ..Default::default()
        },
        server: ServerConfig {
            shutdown_grace_ms: 3000,
            ..Default::default()
        },
        documents: DocumentsConfig {
            signing_key_files: files,
            verification_base_url: Some("https://cplds.ac-toulouse.fr/verifier/".into()),
        },
        ..Default::default()
    };
    // Signs with and trusts the process's federation keys, as every test node does.
    cplds_runtime::event_signing::FederationKeys::shared()
        .configure(&mut config, "toulouse")
        .unwrap();
    let bus = cplds_runtime::bus::connect(&config, "test-toulouse")
        .await
        .unwrap();
    let node = host::start(NodeSpec {
        config: config.clone(),
        node: cplds_runtime::node::Node::parse("toulouse").unwrap(),
        modules: vec![Arc::new(CertificationModule)],
        peers: Vec::new(),
        bus: bus.clone(),
        clock,
        listener: Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
        tls: None,
    })
    .await
    .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", node.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    KeyedNode {
        issuer: AuthKeys::load(&config).unwrap().issuer(&config).unwrap(),
        node,
        bus,
        client: CertificationServiceClient::new(channel),
    }
}
