//! Certification through its public gRPC interface, on a node started in-process on a random
//! loopback port. The examination service is not there: the tests publish its events on the
//! node's bus themselves, as it would (internal stream, `toulouse.examination.*`).

use std::{path::Path, sync::Arc, time::Duration};

use cplds_certification::{
    CertificationModule,
    domain::{jcs, status_list::Bitstring},
    scenario::{self, ScenarioOptions},
};
use cplds_proto::v1::{
    self as pb, EventEnvelope, certification_service_client::CertificationServiceClient,
    event_envelope::Payload, verify_certificate_request::Subject,
};
use cplds_runtime::{
    auth::{AuthKeys, Role, TokenIssuer},
    bus::{Binding, Message, QueueSpec, SharedBus, Stream, Subscription},
    clock::{Clock, ManualClock},
    config::{Config, DocumentsConfig, OutboxConfig, QueueType, ServerConfig},
    host::{self, NodeSpec, RunningNode},
    pdf::extract_text,
    testing::{
        ConfigTweak, POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, bad_fields,
        http, precondition_rule, server_url, wait_for,
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
use tonic::{Code, transport::Channel};

type Client = CertificationServiceClient<Channel>;

const WAIT: Duration = Duration::from_secs(10);

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
    results_become_signed_certificates_anyone_can_verify,
    redelivered_and_repeated_results_prepare_each_certificate_once,
    revocation_is_seen_by_verification_and_in_the_status_list,
    a_duplicate_keeps_the_number,
    who_may_do_what,
    bad_input_is_named_and_changes_nothing,
    lists_filter_and_page,
    key_rotation_keeps_old_certificates_valid,
    the_scenario_issues_and_verifies_through_the_public_api,
    the_qr_code_leads_to_a_page_that_verifies,
);

async fn database(backend: Backend) -> Option<Option<TestPostgres>> {
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
struct Ctx {
    _pg: Option<TestPostgres>,
    node: TestNode,
    client: Client,
    recteur: String,
    office: String,
    events: Subscription,
}

const NOW: &str = "2025-07-10T10:00";

async fn start(backend: Backend) -> Option<Ctx> {
    start_with(backend, None).await
}

async fn start_with(backend: Backend, tweak: Option<ConfigTweak>) -> Option<Ctx> {
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
async fn observe(bus: &SharedBus) -> Subscription {
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

async fn next_event(sub: &mut Subscription) -> EventEnvelope {
    let d = tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
        .expect("open");
    let e = EventEnvelope::decode(d.body.as_slice()).unwrap();
    d.ack().await.unwrap();
    e
}

const PEOPLE: &[(&str, &str)] = &[
    ("Garcia", "Inès"),
    ("Bernard", "Lucas"),
    ("Roux", "Chloé"),
    ("Fabre", "Hugo"),
    ("Vidal", "Manon"),
    ("Durand", "Théo"),
];

fn email(n: usize) -> String {
    format!("candidate{n}@ac-toulouse.fr")
}

fn candidacy_id(n: usize) -> String {
    format!("0197c0de-0000-7000-8000-{n:012}")
}

fn decision(n: usize, admitted: bool) -> pb::CandidateDecision {
    let (last, first) = PEOPLE[n];
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

fn results(year: i32, decisions: Vec<pb::CandidateDecision>) -> Payload {
    Payload::ResultsPublished(pb::ResultsPublished {
        session_id: format!("session-{year}"),
        year,
        decisions,
        published_at: Some(to_timestamp(parse_paris_local("2025-07-03T10:00").unwrap())),
    })
}

fn appeal(outcome: &str, d: pb::CandidateDecision) -> Payload {
    Payload::AppealDecided(pb::AppealDecided {
        session_id: "session-2025".into(),
        year: 2025,
        candidacy_id: d.candidacy_id.clone(),
        outcome: outcome.into(),
        decision: Some(d),
    })
}

/// An envelope as the examination service's outbox would make it.
fn envelope(payload: Payload) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: "toulouse".into(),
        source: "examination".into(),
        sequence: 1,
        occurred_at: Some(to_timestamp(parse_paris_local("2025-07-03T10:00").unwrap())),
        r#type: payload.name().into(),
        stream: Stream::Internal as i32,
        trace_context: Default::default(),
        payload: Some(payload),
    }
}

async fn publish(bus: &SharedBus, e: &EventEnvelope) {
    bus.publish(&[Message {
        stream: Stream::Internal,
        routing_key: format!("toulouse.examination.{}", e.r#type),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    }])
    .await
    .unwrap();
}

fn number_req(number: &str) -> pb::VerifyCertificateRequest {
    pb::VerifyCertificateRequest {
        subject: Some(Subject::Number(number.into())),
    }
}

fn credential_req(json: &str) -> pb::VerifyCertificateRequest {
    pb::VerifyCertificateRequest {
        subject: Some(Subject::CredentialJson(json.into())),
    }
}

fn status(v: &pb::CertificateVerification) -> pb::VerificationStatus {
    pb::VerificationStatus::try_from(v.status).unwrap()
}

/// The certificates of 2025 in number order, once there are `n` of them in `state`.
async fn wait_certificates(
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
    async fn publish(&self, payload: Payload) -> EventEnvelope {
        let e = envelope(payload);
        publish(&self.node.bus, &e).await;
        e
    }

    async fn prepared(&self, n: usize) -> Vec<pb::Certificate> {
        wait_certificates(
            &self.client,
            &self.recteur,
            pb::CertificateState::Prepared,
            n,
        )
        .await
    }

    async fn issue_all(&mut self) -> pb::IssueCertificatesResponse {
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

    async fn verify(&mut self, req: pb::VerifyCertificateRequest) -> pb::CertificateVerification {
        // No token: verification is public.
        self.client
            .verify_certificate(req)
            .await
            .unwrap()
            .into_inner()
    }

    async fn credential(&mut self, number: &str, token: &str) -> Result<String, tonic::Status> {
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

    async fn keys(&mut self) -> Vec<pb::SigningKey> {
        self.client
            .list_signing_keys(pb::ListSigningKeysRequest {})
            .await
            .unwrap()
            .into_inner()
            .keys
    }

    async fn status_list(&mut self) -> pb::StatusList {
        self.client
            .get_status_list(pb::GetStatusListRequest {})
            .await
            .unwrap()
            .into_inner()
    }
}

/// Verifies an eddsa-jcs-2022 proof with `ring` (an Ed25519 independent of ed25519-dalek), with
/// a key from the académie's published list. Returns the key id that signed.
fn verify_with_ring(secured: &str, keys: &[pb::SigningKey]) -> Result<String, String> {
    let mut doc: serde_json::Map<String, Value> = serde_json::from_str(secured).unwrap();
    let mut options = doc
        .remove("proof")
        .and_then(|p| p.as_object().cloned())
        .ok_or("no proof")?;
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

async fn results_become_signed_certificates_anyone_can_verify(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    // Garcia, Bernard and Roux are admitted, Fabre is not.
    t.publish(results(
        2025,
        vec![
            decision(0, true),
            decision(1, true),
            decision(2, true),
            decision(3, false),
        ],
    ))
    .await;
    let prepared = t.prepared(3).await;
    // Numbered in alphabetical order of the holders.
    let numbers: Vec<(&str, &str)> = prepared
        .iter()
        .map(|c| (c.number.as_str(), c.holder_name.as_str()))
        .collect();
    assert_eq!(
        numbers,
        [
            ("CPLDS-TOULOUSE-2025-000001", "Lucas BERNARD"),
            ("CPLDS-TOULOUSE-2025-000002", "Inès GARCIA"),
            ("CPLDS-TOULOUSE-2025-000003", "Chloé ROUX"),
        ]
    );
    let first = &prepared[0];
    assert_eq!(first.email, email(1));
    assert_eq!(first.session_id, "session-2025");
    assert!(first.issue_time.is_none() && first.key_id.is_empty());
    // A prepared certificate is not a certificate yet: nobody can verify it.
    let v = t.verify(number_req(&first.number)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);

    // The recteur issues the session.
    let batch = t.issue_all().await;
    assert_eq!(batch.issued.len(), 3);
    assert_eq!(batch.already_issued_count, 0);
    let issued = &batch.issued[1];
    assert_eq!(issued.state, pb::CertificateState::Issued as i32);
    assert_eq!(issued.issued_by, "recteur@ac-toulouse.fr");
    assert_eq!(
        issued.signatory,
        "Le recteur de l'académie de Toulouse, chancelier des universités"
    );
    let keys = t.keys().await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, pb::SigningKeyStatus::Current as i32);
    assert_eq!(issued.key_id, keys[0].key_id);
    // No public address configured: the QR code holds the number.
    assert_eq!(issued.verification_url, issued.number);

    // Events: each certificate on the internal stream, and the pseudonymous fact nationally.
    let mut internal = Vec::new();
    let mut national = Vec::new();
    for _ in 0..6 {
        let e = next_event(&mut t.events).await;
        assert_eq!(e.source, "certification");
        match e.payload.unwrap() {
            Payload::CertificateIssued(i) => {
                assert_eq!(e.stream, Stream::Internal as i32);
                assert!(!i.duplicate);
                internal.push(i.number);
            }
            Payload::NationalCertificateIssued(n) => {
                assert_eq!(e.stream, Stream::National as i32);
                assert_eq!(n.year, 2025);
                national.push(n.candidate_key);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    internal.sort();
    national.sort();
    assert_eq!(
        internal,
        prepared
            .iter()
            .map(|c| c.number.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        national,
        [
            format!("{:032x}", 0),
            format!("{:032x}", 1),
            format!("{:032x}", 2)
        ]
    );

    // Running the batch again, or issuing one again, issues nothing twice.
    let again = t.issue_all().await;
    assert!(again.issued.is_empty());
    assert_eq!(again.already_issued_count, 3);
    let one = t
        .client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: issued.number.clone(),
                signatory_name: "Someone Else".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one, *issued);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), t.events.next())
            .await
            .is_err(),
        "re-running issued no event"
    );

    // Anyone verifies by the number (any case), and sees what is printed: nothing more.
    let v = t.verify(number_req(&issued.number.to_lowercase())).await;
    assert_eq!(status(&v), pb::VerificationStatus::Valid);
    assert_eq!(v.number, issued.number);
    let s = v.statement.clone().unwrap();
    assert_eq!(s.holder_name, "Inès GARCIA");
    assert_eq!(
        s.title,
        "Certificat de professionnalisation en matière de lutte contre le décrochage scolaire"
    );
    assert_eq!(
        (s.academy.as_str(), s.academy_name.as_str(), s.year),
        ("toulouse", "Académie de Toulouse", 2025)
    );
    assert_eq!(
        (s.admission_date.as_str(), s.issue_date.as_str()),
        ("2025-07-03", "2025-07-10")
    );
    assert_eq!(s.signatory, issued.signatory);
    assert!(s.last_duplicate_date.is_empty());
    let shown = format!("{v:?}");
    for private in [
        email(0).as_str(),
        "1981-02-03",
        "12E0000000ABC",
        &candidacy_id(0),
    ] {
        assert!(
            !shown.contains(private),
            "{private} shown by the verification"
        );
    }

    // The holder fetches the PDF: it prints the same statements.
    let holder = t.node.token(&email(0), &[Role::Candidate]);
    let pdf = t
        .client
        .get_certificate_pdf(authed(
            pb::GetCertificatePdfRequest {
                number: issued.number.clone(),
            },
            &holder,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pdf.file_name, "CPLDS-TOULOUSE-2025-000002.pdf");
    assert_eq!(pdf.sha256, hex::encode(Sha256::digest(&pdf.content)));
    let text = extract_text(&pdf.content);
    for printed in [
        "Inès GARCIA",
        "Certificat n° CPLDS-TOULOUSE-2025-000002",
        "Fait le 10/07/2025",
        "publiée le 03/07/2025",
        "Académie de Toulouse",
    ] {
        assert!(text.contains(printed), "{printed:?} not printed:\n{text}");
    }
    assert!(!text.contains(&email(0)) && !text.contains("1981"));

    // ...and the credential, which verifies offline with ring and the published key,
    let credential = t.credential(&issued.number, &holder).await.unwrap();
    assert_eq!(
        verify_with_ring(&credential, &keys).unwrap(),
        keys[0].key_id
    );
    let vc: Value = serde_json::from_str(&credential).unwrap();
    assert_eq!(vc["type"][1], "OpenBadgeCredential");
    assert_eq!(vc["credentialSubject"]["name"], "Inès GARCIA");
    assert_eq!(vc["issuer"]["name"], "Académie de Toulouse");
    assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-jcs-2022");
    assert!(!credential.contains(&email(0)) && !credential.contains("1981"));
    // ...and online.
    let v = t.verify(credential_req(&credential)).await;
    assert_eq!(
        status(&v),
        pb::VerificationStatus::Valid,
        "{}",
        v.explanation
    );
    assert_eq!(
        (v.key_id.as_str(), v.key_retired),
        (keys[0].key_id.as_str(), false)
    );
    assert_eq!(v.statement.unwrap().holder_name, "Inès GARCIA");

    // One changed character (the name on it) and it no longer verifies.
    let forged = credential.replacen("Inès GARCIA", "Inès GARCIB", 1);
    assert_ne!(forged, credential);
    assert!(verify_with_ring(&forged, &keys).is_err());
    let v = t.verify(credential_req(&forged)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert!(v.statement.is_none());
    assert!(v.explanation.contains("modifié"), "{}", v.explanation);
    // Nor does the same credential signed by someone else's key.
    let mut doc = jcs::parse_strict(&credential).unwrap();
    let impostor = SigningKey::from_bytes(&[42; 32]);
    doc.as_object_mut().unwrap().remove("proof");
    let signed = cplds_certification::domain::credential::add_proof(
        &doc,
        &cplds_certification::domain::credential::ProofOptions {
            verification_method: cplds_certification::domain::multibase::did_key_method(
                &impostor.verifying_key(),
            ),
            created: chrono::Utc::now(),
        },
        |d| ed25519_dalek::Signer::sign(&impostor, d),
    )
    .unwrap();
    let v = t
        .verify(credential_req(&serde_json::to_string(&signed).unwrap()))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert!(
        v.explanation.contains("pas une clé de l'académie"),
        "{}",
        v.explanation
    );

    // Unknown numbers, and numbers of another académie.
    let v = t.verify(number_req("CPLDS-TOULOUSE-2025-000099")).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
    assert!(v.statement.is_none());
    let v = t.verify(number_req("CPLDS-LYON-2025-000001")).await;
    assert_eq!(status(&v), pb::VerificationStatus::Unknown);
    assert!(v.explanation.contains("lyon"));
}

async fn redelivered_and_repeated_results_prepare_each_certificate_once(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let first = t
        .publish(results(2025, vec![decision(0, true), decision(1, false)]))
        .await;
    let prepared = t.prepared(1).await;
    // The same event delivered again, then the same results in a new event (published again by
    // examination), then a dismissed appeal: none of them prepares anything.
    publish(&t.node.bus, &first).await;
    t.publish(results(2025, vec![decision(0, true), decision(1, false)]))
        .await;
    t.publish(appeal("DISMISSED", decision(1, false))).await;
    // The upheld appeal comes after them on the same queue: once it shows, they were applied.
    t.publish(appeal("UPHELD", decision(1, true))).await;
    let now = t.prepared(2).await;
    assert_eq!(now[0].number, prepared[0].number, "numbers do not move");
    assert_eq!(now[1].number, "CPLDS-TOULOUSE-2025-000002");
    assert_eq!(now[1].holder_name, "Lucas BERNARD");

    // The batch issues both; redelivering the results afterwards changes nothing either.
    assert_eq!(t.issue_all().await.issued.len(), 2);
    publish(&t.node.bus, &first).await;
    t.publish(results(2025, vec![decision(0, false)])).await;
    t.publish(results(2025, vec![decision(2, true)])).await;
    t.prepared(1).await;
    let issued = wait_certificates(&t.client, &t.recteur, pb::CertificateState::Issued, 2).await;
    assert_eq!(issued[0].number, prepared[0].number);
    let all = t
        .client
        .list_certificates(authed(pb::ListCertificatesRequest::default(), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 3);

    // A prepared certificate whose candidate is no longer admitted is cancelled, then
    // reinstated (same number) by an upheld appeal.
    let roux = t.prepared(1).await.remove(0);
    t.publish(results(2025, vec![decision(2, false)])).await;
    let cancelled =
        wait_certificates(&t.client, &t.recteur, pb::CertificateState::Cancelled, 1).await;
    assert_eq!(cancelled[0].number, roux.number);
    let err = t
        .client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: roux.number.clone(),
                signatory_name: String::new(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_CANCELLED")
    );
    assert_eq!(
        status(&t.verify(number_req(&roux.number)).await),
        pb::VerificationStatus::Unknown
    );
    t.publish(appeal("UPHELD", decision(2, true))).await;
    assert_eq!(t.prepared(1).await[0].number, roux.number);
}

async fn revocation_is_seen_by_verification_and_in_the_status_list(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, vec![decision(0, true), decision(1, true)]))
        .await;
    t.prepared(2).await;
    let batch = t.issue_all().await;
    for _ in 0..4 {
        next_event(&mut t.events).await;
    }
    let (kept, revoked) = (&batch.issued[0], &batch.issued[1]);
    let revoked_credential = t
        .credential(&revoked.number, &t.office.clone())
        .await
        .unwrap();

    let list = t.status_list().await;
    let keys = t.keys().await;
    assert_eq!(list.id, "urn:cplds:status-list:toulouse");
    assert_eq!(list.size, 131_072);
    let bits = |list: &pb::StatusList| {
        let vc: Value = serde_json::from_str(&list.credential_json).unwrap();
        assert_eq!(vc["type"][1], "BitstringStatusListCredential");
        assert_eq!(vc["credentialSubject"]["statusPurpose"], "revocation");
        Bitstring::decode(vc["credentialSubject"]["encodedList"].as_str().unwrap()).unwrap()
    };
    let index = |credential: &str| -> u64 {
        let vc: Value = serde_json::from_str(credential).unwrap();
        assert_eq!(vc["credentialStatus"]["statusListCredential"], list.id);
        vc["credentialStatus"]["statusListIndex"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(index(&revoked_credential), revoked.status_list_index as u64);
    assert!(!bits(&list).get(revoked.status_list_index as u64).unwrap());

    // Bad revocations change nothing.
    let revoke = |reason: pb::RevocationReason, text: &str| pb::RevokeCertificateRequest {
        number: revoked.number.clone(),
        reason: reason as i32,
        reason_text: text.into(),
    };
    let err = t
        .client
        .revoke_certificate(authed(
            revoke(pb::RevocationReason::Unspecified, ""),
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason"]);
    let err = t
        .client
        .revoke_certificate(authed(revoke(pb::RevocationReason::Other, " "), &t.recteur))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason_text"]);
    assert_eq!(
        status(&t.verify(number_req(&revoked.number)).await),
        pb::VerificationStatus::Valid
    );

    // The recteur revokes it for fraud.
    let r = t
        .client
        .revoke_certificate(authed(
            revoke(
                pb::RevocationReason::Fraud,
                "pièces falsifiées (dossier 2025-17)",
            ),
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.state, pb::CertificateState::Revoked as i32);
    let rev = r.revocation.unwrap();
    assert_eq!(rev.reason, pb::RevocationReason::Fraud as i32);
    assert_eq!(rev.revoked_by, "recteur@ac-toulouse.fr");
    assert_eq!(rev.reason_text, "pièces falsifiées (dossier 2025-17)");

    let e = next_event(&mut t.events).await;
    let Some(Payload::CertificateRevoked(c)) = e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(
        (c.number.as_str(), c.reason.as_str()),
        (revoked.number.as_str(), "fraud")
    );
    let e = next_event(&mut t.events).await;
    assert_eq!(e.stream, Stream::National as i32);
    let Some(Payload::NationalCertificateRevoked(n)) = e.payload else {
        panic!("{e:?}")
    };
    assert_eq!((n.year, n.reason.as_str()), (2025, "fraud"));

    // Verification says revoked, with date and reason, and never the recteur's free text.
    let v = t.verify(number_req(&revoked.number)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Revoked);
    let pub_rev = v.revocation.clone().unwrap();
    assert_eq!(pub_rev.reason, pb::RevocationReason::Fraud as i32);
    assert_eq!(
        pub_rev.revoke_time,
        Some(to_timestamp(parse_paris_local(NOW).unwrap()))
    );
    assert!(pub_rev.reason_text.is_empty() && pub_rev.revoked_by.is_empty());
    assert!(!format!("{v:?}").contains("falsifiées"));
    assert_eq!(
        v.statement.as_ref().unwrap().holder_name,
        revoked.holder_name
    );
    assert!(v.explanation.contains("fraude"), "{}", v.explanation);
    // So does the credential the holder still has; the other certificate stays valid.
    let v = t.verify(credential_req(&revoked_credential)).await;
    assert_eq!(status(&v), pb::VerificationStatus::Revoked);
    assert_eq!(
        status(&t.verify(number_req(&kept.number)).await),
        pb::VerificationStatus::Valid
    );

    // The status list has the bit set, and only that one; it is signed like certificates.
    let list = t.status_list().await;
    assert_eq!(
        verify_with_ring(&list.credential_json, &keys).unwrap(),
        keys[0].key_id
    );
    let b = bits(&list);
    assert!(b.get(index(&revoked_credential)).unwrap());
    assert!(!b.get(kept.status_list_index as u64).unwrap());
    let vc: Value = serde_json::from_str(&list.credential_json).unwrap();
    assert_eq!(vc["validUntil"], "2025-07-11T08:00:00Z");

    // Revoked is final: no second revocation, no PDF, no credential, no duplicate.
    let err = t
        .client
        .revoke_certificate(authed(revoke(pb::RevocationReason::Fraud, ""), &t.recteur))
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("ALREADY_REVOKED"));
    let err = t
        .client
        .get_certificate_pdf(authed(
            pb::GetCertificatePdfRequest {
                number: revoked.number.clone(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
    let err = t
        .credential(&revoked.number, &t.recteur.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = t
        .client
        .issue_duplicate(authed(
            pb::IssueDuplicateRequest {
                number: revoked.number.clone(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
    let err = t
        .client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: revoked.number.clone(),
                signatory_name: String::new(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("CERTIFICATE_REVOKED")
    );
}

async fn a_duplicate_keeps_the_number(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, vec![decision(4, true)])).await;
    let number = t.prepared(1).await.remove(0).number;
    // A prepared certificate has no duplicate.
    let err = t
        .client
        .issue_duplicate(authed(
            pb::IssueDuplicateRequest {
                number: number.clone(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_ISSUED"));
    t.issue_all().await;
    let original = t.credential(&number, &t.recteur.clone()).await.unwrap();
    next_event(&mut t.events).await;
    next_event(&mut t.events).await;

    t.node.clock.advance(chrono::Duration::days(200));
    let dup = t
        .client
        .issue_duplicate(authed(
            pb::IssueDuplicateRequest {
                number: number.to_lowercase(),
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dup.number, number);
    assert_eq!(dup.duplicate_count, 1);
    assert_eq!(dup.state, pb::CertificateState::Issued as i32);
    // Internal event only: a duplicate is not a new certification for the national figures.
    let e = next_event(&mut t.events).await;
    let Some(Payload::CertificateIssued(i)) = e.payload else {
        panic!("{e:?}")
    };
    assert!(i.duplicate && i.number == number);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), t.events.next())
            .await
            .is_err(),
        "no national event for a duplicate"
    );

    let pdf = t
        .client
        .get_certificate_pdf(authed(
            pb::GetCertificatePdfRequest {
                number: number.clone(),
            },
            &t.node.token(&email(4), &[Role::Candidate]),
        ))
        .await
        .unwrap()
        .into_inner();
    let text = extract_text(&pdf.content);
    assert!(text.contains("DUPLICATA délivré le 26/01/2026"), "{text}");
    assert!(text.contains(&format!("Certificat n° {number}")));

    // The new credential states the same; both it and the original verify.
    let renewed = t.credential(&number, &t.recteur.clone()).await.unwrap();
    assert_ne!(renewed, original);
    let strip = |s: &str| {
        let mut v = jcs::parse_strict(s).unwrap();
        v.as_object_mut().unwrap().remove("proof");
        v
    };
    assert_eq!(strip(&renewed), strip(&original));
    for c in [&original, &renewed] {
        let v = t.verify(credential_req(c)).await;
        assert_eq!(
            status(&v),
            pb::VerificationStatus::Valid,
            "{}",
            v.explanation
        );
        assert_eq!(v.statement.unwrap().last_duplicate_date, "2026-01-26");
    }
}

async fn who_may_do_what(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, vec![decision(0, true), decision(1, true)]))
        .await;
    let prepared = t.prepared(2).await;
    let mine = prepared
        .iter()
        .find(|c| c.email == email(0))
        .unwrap()
        .number
        .clone();
    let theirs = prepared
        .iter()
        .find(|c| c.email == email(1))
        .unwrap()
        .number
        .clone();
    let candidate = t.node.token(&email(0), &[Role::Candidate]);
    let batch = |token: &str| {
        authed(
            pb::IssueCertificatesRequest {
                year: 2025,
                signatory_name: String::new(),
            },
            token,
        )
    };

    // Only the recteur's office issues, revokes and duplicates.
    for token in [
        &candidate,
        &t.office,
        &t.node.token("it@ac-toulouse.fr", &[Role::ItAdmin]),
    ] {
        let err = t.client.issue_certificates(batch(token)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = t
            .client
            .issue_certificate(authed(
                pb::IssueCertificateRequest {
                    number: mine.clone(),
                    signatory_name: String::new(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    let err = t
        .client
        .issue_certificates(tonic::Request::new(pb::IssueCertificatesRequest {
            year: 2025,
            signatory_name: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // A recteur of another académie is refused here.
    let lyon = t
        .node
        .issuer
        .mint("recteur@ac-lyon.fr", "lyon", &[Role::Recteur])
        .unwrap();
    let err = t.client.issue_certificates(batch(&lyon)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(t.issue_all().await.issued.len(), 2);
    for token in [&candidate, &t.office] {
        let err = t
            .client
            .revoke_certificate(authed(
                pb::RevokeCertificateRequest {
                    number: mine.clone(),
                    reason: pb::RevocationReason::Fraud as i32,
                    reason_text: String::new(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = t
            .client
            .issue_duplicate(authed(
                pb::IssueDuplicateRequest {
                    number: mine.clone(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }

    // A holder reads their own certificate, PDF and credential, and nobody else's.
    let get = |number: &str, token: &str| {
        authed(
            pb::GetCertificateRequest {
                number: number.into(),
            },
            token,
        )
    };
    assert_eq!(
        t.client
            .get_certificate(get(&mine, &candidate))
            .await
            .unwrap()
            .into_inner()
            .number,
        mine
    );
    let err = t
        .client
        .get_certificate(get(&theirs, &candidate))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(t.credential(&mine, &candidate).await.is_ok());
    assert_eq!(
        t.credential(&theirs, &candidate).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let err = t
        .client
        .get_certificate_pdf(authed(
            pb::GetCertificatePdfRequest {
                number: theirs.clone(),
            },
            &candidate,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let own = t
        .client
        .list_certificates(authed(pb::ListCertificatesRequest::default(), &candidate))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.total_size, 1);
    assert_eq!(own.certificates[0].number, mine);
    // The exam office reads everything, IT administrators nothing.
    assert!(
        t.client
            .get_certificate(get(&theirs, &t.office))
            .await
            .is_ok()
    );
    let it = t.node.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let err = t.client.get_certificate(get(&mine, &it)).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = t
        .client
        .get_certificate(tonic::Request::new(pb::GetCertificateRequest {
            number: mine.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Verification, keys and the status list need no token at all.
    assert_eq!(
        status(&t.verify(number_req(&theirs)).await),
        pb::VerificationStatus::Valid
    );
    assert_eq!(t.keys().await.len(), 1);
    assert!(!t.status_list().await.credential_json.is_empty());
}

async fn bad_input_is_named_and_changes_nothing(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    // No results for the year yet: nothing to issue.
    let err = t
        .client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: 2025,
                signatory_name: String::new(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("NO_ADMITTED_CANDIDATES")
    );

    let err = t
        .client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: 2016,
                signatory_name: "Anne\u{7}Dupont".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["year", "signatory_name"]);
    let err = t
        .client
        .list_certificates(authed(
            pb::ListCertificatesRequest {
                year: 1999,
                state: 42,
                page_size: -1,
                page_token: "garbage".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["year", "state", "page_size", "page_token"]
    );
    for number in ["", "CPLDS-TOULOUSE-25-1", "CPLDS-GOTHAM-2025-000001"] {
        let err = t
            .client
            .get_certificate(authed(
                pb::GetCertificateRequest {
                    number: number.into(),
                },
                &t.recteur,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{number:?}");
        assert_eq!(bad_fields(&err), ["number"]);
        let err = t
            .client
            .verify_certificate(number_req(number))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["number"]);
    }
    let err = t
        .client
        .verify_certificate(pb::VerifyCertificateRequest { subject: None })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["number"]);
    for json in ["not json", "[1, 2]", r#"{"a": 1, "a": 2}"#] {
        let err = t
            .client
            .verify_certificate(credential_req(json))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["credential_json"], "{json}");
    }
    let err = t
        .client
        .verify_certificate(credential_req(&format!(
            r#"{{"x": "{}"}}"#,
            "a".repeat(70_000)
        )))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["credential_json"]);
    // A JSON object that is not a signed certificate is simply not valid.
    let v = t
        .verify(credential_req(
            r#"{"id": "urn:cplds:certificate:CPLDS-TOULOUSE-2025-000001"}"#,
        ))
        .await;
    assert_eq!(status(&v), pb::VerificationStatus::Invalid);
    assert_eq!(v.number, "CPLDS-TOULOUSE-2025-000001");

    let err = t
        .client
        .get_certificate(authed(
            pb::GetCertificateRequest {
                number: "CPLDS-TOULOUSE-2025-000001".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A malformed results event is refused whole (dead-lettered): nothing is prepared, and the
    // next, well-formed event goes through.
    let mut broken = decision(1, true);
    broken.identity.as_mut().unwrap().last_name = String::new();
    t.publish(results(2025, vec![decision(0, true), broken]))
        .await;
    t.publish(results(2025, vec![decision(2, true)])).await;
    let prepared = t.prepared(1).await;
    assert_eq!(prepared[0].holder_name, "Chloé ROUX");
    assert_eq!(prepared[0].number, "CPLDS-TOULOUSE-2025-000001");
    let dead = t
        .node
        .bus
        .subscribe(&QueueSpec::new("toulouse.certification", vec![]).dead_letters())
        .await;
    let mut dead = dead.unwrap();
    let d = tokio::time::timeout(WAIT, dead.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        EventEnvelope::decode(d.body.as_slice()).unwrap().r#type,
        "results_published"
    );
}

async fn lists_filter_and_page(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, (0..5).map(|n| decision(n, true)).collect()))
        .await;
    let all = t.prepared(5).await;
    t.client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: all[0].number.clone(),
                signatory_name: "Mostafa Fourar".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = t
            .client
            .list_certificates(authed(
                pb::ListCertificatesRequest {
                    year: 2025,
                    state: 0,
                    page_size: 2,
                    page_token: token.clone(),
                },
                &t.office,
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert_eq!(page.total_size, 5);
        seen.extend(page.certificates.into_iter().map(|c| c.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A token is bound to its filters.
        let err = t
            .client
            .list_certificates(authed(
                pb::ListCertificatesRequest {
                    year: 2024,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &t.office,
            ))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["page_token"]);
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        all.iter().map(|c| c.number.clone()).collect::<Vec<_>>()
    );
    let issued = wait_certificates(&t.client, &t.office, pb::CertificateState::Issued, 1).await;
    assert_eq!(
        issued[0].signatory,
        "Mostafa Fourar, recteur de l'académie de Toulouse, chancelier des universités"
    );
    let other_year = t
        .client
        .list_certificates(authed(
            pb::ListCertificatesRequest {
                year: 2024,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other_year.total_size, 0);
}

/// A node with the given document keys (first signs), data directory and public address:
/// what TestNode cannot set, and a restart on the same data.
struct KeyedNode {
    node: RunningNode,
    issuer: TokenIssuer,
    bus: SharedBus,
    client: Client,
}

async fn start_keyed(
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
    let config = Config {
        academy: Some("toulouse".into()),
        data_dir: dir.join("data"),
        database_url,
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
    let bus = cplds_runtime::bus::connect(&config, "test-toulouse")
        .await
        .unwrap();
    let node = host::start(NodeSpec {
        config: config.clone(),
        node: cplds_runtime::node::Node::parse("toulouse").unwrap(),
        modules: vec![Arc::new(CertificationModule)],
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

async fn key_rotation_keeps_old_certificates_valid(backend: Backend) {
    let Some(pg) = database(backend).await else {
        return;
    };
    let url = pg.as_ref().map(|p| p.url.clone());
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(parse_paris_local(NOW).unwrap());
    let (a, b) = (
        SigningKey::from_bytes(&[0xa; 32]),
        SigningKey::from_bytes(&[0xb; 32]),
    );
    let verify = |client: &Client, json: String| {
        let mut c = client.clone();
        async move {
            c.verify_certificate(credential_req(&json))
                .await
                .unwrap()
                .into_inner()
        }
    };

    // Key A signs the first certificate.
    let n1 = start_keyed(dir.path(), url.clone(), &[&a], clock.clone()).await;
    let recteur = n1
        .issuer
        .mint("recteur@ac-toulouse.fr", "toulouse", &[Role::Recteur])
        .unwrap();
    publish(&n1.bus, &envelope(results(2025, vec![decision(0, true)]))).await;
    let first = wait_certificates(&n1.client, &recteur, pb::CertificateState::Prepared, 1)
        .await
        .remove(0);
    let mut client = n1.client.clone();
    let issued = client
        .issue_certificate(authed(
            pb::IssueCertificateRequest {
                number: first.number.clone(),
                signatory_name: String::new(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    // The public address goes into the QR code and the status list id.
    assert_eq!(
        issued.verification_url,
        "https://cplds.ac-toulouse.fr/verifier/CPLDS-TOULOUSE-2025-000001"
    );
    let old_credential = client
        .get_certificate_credential(authed(
            pb::GetCertificateCredentialRequest {
                number: first.number.clone(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential_json;
    let vc: Value = serde_json::from_str(&old_credential).unwrap();
    assert_eq!(
        vc["credentialStatus"]["statusListCredential"],
        "https://cplds.ac-toulouse.fr/verifier/status-list"
    );
    let keys_a = client
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let kid_a = keys_a[0].key_id.clone();
    assert_eq!(issued.key_id, kid_a);
    assert!(
        keys_a[0]
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert!(keys_a[0].multikey.starts_with("z6Mk"));
    n1.node.shutdown().await.unwrap();

    // Rotation: B becomes current, A is kept as retired.
    clock.advance(chrono::Duration::days(30));
    let n2 = start_keyed(dir.path(), url.clone(), &[&b, &a], clock.clone()).await;
    let mut client = n2.client.clone();
    let keys = client
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].status, pb::SigningKeyStatus::Current as i32);
    assert_ne!(keys[0].key_id, kid_a);
    let kid_b = keys[0].key_id.clone();
    assert_eq!(
        (keys[1].key_id.as_str(), keys[1].status),
        (kid_a.as_str(), pb::SigningKeyStatus::Retired as i32)
    );
    assert_eq!(keys[1].retire_time, Some(to_timestamp(clock.now())));
    assert_eq!(keys[1].first_seen_time, keys_a[0].first_seen_time);
    // A's certificate still verifies, as signed by a retired key.
    assert_eq!(verify_with_ring(&old_credential, &keys).unwrap(), kid_a);
    let v = verify(&n2.client, old_credential.clone()).await;
    assert_eq!(
        status(&v),
        pb::VerificationStatus::Valid,
        "{}",
        v.explanation
    );
    assert_eq!((v.key_id.as_str(), v.key_retired), (kid_a.as_str(), true));

    // New certificates are signed with B.
    let recteur = n2
        .issuer
        .mint("recteur@ac-toulouse.fr", "toulouse", &[Role::Recteur])
        .unwrap();
    publish(&n2.bus, &envelope(results(2025, vec![decision(1, true)]))).await;
    wait_certificates(&n2.client, &recteur, pb::CertificateState::Prepared, 1).await;
    let batch = client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year: 2025,
                signatory_name: String::new(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.issued.len(), 1);
    assert_eq!(batch.already_issued_count, 1);
    assert_eq!(batch.issued[0].key_id, kid_b);
    let new_credential = client
        .get_certificate_credential(authed(
            pb::GetCertificateCredentialRequest {
                number: batch.issued[0].number.clone(),
            },
            &recteur,
        ))
        .await
        .unwrap()
        .into_inner()
        .credential_json;
    assert_eq!(verify_with_ring(&new_credential, &keys).unwrap(), kid_b);
    n2.node.shutdown().await.unwrap();

    // A leaves the configuration: the key history still vouches for what it signed.
    let n3 = start_keyed(dir.path(), url, &[&b], clock.clone()).await;
    let keys = n3
        .client
        .clone()
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 2);
    let v = verify(&n3.client, old_credential).await;
    assert_eq!(
        status(&v),
        pb::VerificationStatus::Valid,
        "{}",
        v.explanation
    );
    assert_eq!((v.key_id.as_str(), v.key_retired), (kid_a.as_str(), true));
    let v = verify(&n3.client, new_credential).await;
    assert_eq!((v.key_id.as_str(), v.key_retired), (kid_b.as_str(), false));
    n3.node.shutdown().await.unwrap();
    drop(pg);
}

async fn the_scenario_issues_and_verifies_through_the_public_api(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    t.publish(results(2025, (0..4).map(|n| decision(n, n != 3)).collect()))
        .await;
    let opts = || ScenarioOptions {
        year: 2025,
        expected: 3,
        wait: WAIT,
        signatory_name: Some("Mostafa Fourar".into()),
    };
    let summary = scenario::issue_and_verify(t.node.channel().await, &t.recteur, opts())
        .await
        .unwrap();
    assert_eq!((summary.issued, summary.already_issued), (3, 0));
    assert_eq!(summary.verified_number, "CPLDS-TOULOUSE-2025-000001");
    assert_eq!(summary.holder_name, "Lucas BERNARD");
    assert_eq!(summary.status_by_number, pb::VerificationStatus::Valid);
    assert_eq!(summary.status_by_credential, pb::VerificationStatus::Valid);
    assert!(
        summary.to_string().contains("3 certificate(s) issued"),
        "{summary}"
    );
    // Run again: nothing is issued twice.
    let again = scenario::issue_and_verify(t.node.channel().await, &t.recteur, opts())
        .await
        .unwrap();
    assert_eq!((again.issued, again.already_issued), (0, 3));
    // Waiting for results that never come fails with a clear message.
    let err = scenario::issue_and_verify(
        t.node.channel().await,
        &t.recteur,
        ScenarioOptions {
            year: 2024,
            expected: 1,
            wait: Duration::from_millis(200),
            signatory_name: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("are the results published"),
        "{err}"
    );
}

/// What a person scanning the QR code, and a program fetching the status list, get over plain
/// HTTP from the node's public pages.
async fn the_qr_code_leads_to_a_page_that_verifies(backend: Backend) {
    let tweak: ConfigTweak =
        Box::new(|c: &mut Config| c.http_listen = Some(([127, 0, 0, 1], 0).into()));
    let Some(mut t) = start_with(backend, Some(tweak)).await else {
        return;
    };
    let web = t.node.node.http_addr.expect("public pages served");
    t.publish(results(2025, vec![decision(0, true), decision(1, true)]))
        .await;
    t.prepared(2).await;
    let batch = t.issue_all().await;
    let (kept, revoked) = (&batch.issued[0], &batch.issued[1]);
    let base = format!("http://{web}/verify");
    assert_eq!(kept.verification_url, format!("{base}/{}", kept.number));
    let path = |url: &str| {
        url.strip_prefix(&format!("http://{web}"))
            .unwrap()
            .to_owned()
    };
    let get = |p: String, accept: &'static str| async move {
        http(web, "GET", &p, &[("Accept", accept)], b"")
            .await
            .unwrap()
    };

    // A browser following the QR code gets the statements as printed, escaped, never cached.
    let page = get(path(&kept.verification_url), "text/html").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    assert!(page.body.contains(&kept.holder_name));
    assert!(page.body.contains(&kept.number));
    // The same answer as JSON, for programs; the form's query and a sloppy number work too.
    let json = get(path(&kept.verification_url), "application/json").await;
    assert_eq!(json.status, 200);
    let v = json.json();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["statement"]["holder_name"], kept.holder_name.as_str());
    assert_eq!(v["statement"]["year"], 2025);
    let sloppy = format!("/verify?number=++{}+", kept.number.to_lowercase());
    let page = get(sloppy, "text/html").await;
    assert!(page.body.contains("Certificat valide"), "{}", page.body);
    let form = get("/verify".into(), "text/html").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("<form"));

    // Unknown and malformed numbers: a page that says so, or a problem naming the field.
    let unknown = get("/verify/CPLDS-TOULOUSE-2025-999999".into(), "text/html").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("Certificat inconnu"));
    let unknown = get(
        "/verify/CPLDS-TOULOUSE-2025-999999?format=json".into(),
        "text/html",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.json()["status"].as_str()),
        (404, Some("unknown"))
    );
    let bad = get("/verify/%3Cb%3Enope".into(), "text/html").await;
    assert_eq!(bad.status, 400);
    assert!(!bad.body.contains("<b>nope"), "{}", bad.body);
    let bad = get("/verify/nope".into(), "application/json").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    assert_eq!(bad.json()["violations"][0]["field"], "number");
    let refused = http(web, "DELETE", &path(&kept.verification_url), &[], b"")
        .await
        .unwrap();
    assert_eq!(refused.status, 405);

    // The keys and the status list live where credentials say they do, and agree with gRPC.
    let keys = get("/verify/keys".into(), "application/json").await.json();
    let grpc_keys = t.keys().await;
    assert_eq!(keys["academy"], "toulouse");
    assert_eq!(keys["keys"][0]["multikey"], grpc_keys[0].multikey.as_str());
    assert_eq!(keys["keys"][0]["status"], "current");
    let credential = t
        .credential(&revoked.number, &t.office.clone())
        .await
        .unwrap();
    let vc: Value = serde_json::from_str(&credential).unwrap();
    let list_url = vc["credentialStatus"]["statusListCredential"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(list_url, format!("{base}/status-list"));
    let index: u64 = vc["credentialStatus"]["statusListIndex"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let fetch_bits = |list_url: String| async move {
        let list = http(web, "GET", &path(&list_url), &[], b"").await.unwrap();
        assert_eq!(list.status, 200);
        assert_eq!(list.header("content-type"), Some("application/vc"));
        assert!(
            list.header("cache-control")
                .unwrap()
                .starts_with("public, max-age=")
        );
        let keys = t_keys(&list.body);
        (list.body, keys)
    };
    fn t_keys(body: &str) -> Bitstring {
        let vc: Value = serde_json::from_str(body).unwrap();
        Bitstring::decode(vc["credentialSubject"]["encodedList"].as_str().unwrap()).unwrap()
    }
    let (body, bits) = fetch_bits(list_url.clone()).await;
    assert_eq!(
        verify_with_ring(&body, &grpc_keys).unwrap(),
        grpc_keys[0].key_id
    );
    assert!(!bits.get(index).unwrap());

    // The holder's credential, posted as it is: valid; one changed byte: not valid.
    let post = |body: Vec<u8>| async move {
        http(
            web,
            "POST",
            "/verify",
            &[("Content-Type", "application/json")],
            &body,
        )
        .await
        .unwrap()
    };
    let r = post(credential.clone().into_bytes()).await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("valid"))
    );
    let tampered = credential.replacen(
        &revoked.holder_name,
        &format!("{}x", revoked.holder_name),
        1,
    );
    assert_ne!(tampered, credential);
    let r = post(tampered.into_bytes()).await;
    assert_eq!(r.json()["status"], "invalid");
    let r = post(b"{not json".to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["violations"][0]["field"], "credential_json");
    let r = post(vec![b' '; 70 * 1024]).await;
    assert_eq!(r.status, 413, "the body cap holds");

    // Revoked: the page says so with date and reason, never the recteur's free text, and the
    // published list has the bit.
    t.client
        .revoke_certificate(authed(
            pb::RevokeCertificateRequest {
                number: revoked.number.clone(),
                reason: pb::RevocationReason::Fraud as i32,
                reason_text: "dossier 2025-17".into(),
            },
            &t.recteur,
        ))
        .await
        .unwrap();
    let page = get(path(&revoked.verification_url), "text/html").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Certificat révoqué"), "{}", page.body);
    assert!(page.body.contains("fraude") && page.body.contains("10/07/2025"));
    assert!(!page.body.contains("dossier 2025-17"));
    let v = get(path(&revoked.verification_url), "application/json")
        .await
        .json();
    assert_eq!(v["revocation"]["reason"], "fraud");
    let (_, bits) = fetch_bits(list_url).await;
    assert!(bits.get(index).unwrap());
    let r = post(credential.into_bytes()).await;
    assert_eq!(r.json()["status"], "revoked");
}
