//! Registration through its public gRPC interface, on a node started in-process on a random
//! loopback port: every rule and every refusal, with its status code and the field it names.

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{
    self as pb, EventEnvelope, event_envelope::Payload,
    registration_service_client::RegistrationServiceClient,
};
use cplds_registration::RegistrationModule;
use cplds_runtime::{
    auth::Role,
    bus::{Binding, QueueSpec, Stream, Subscription},
    testing::{
        POSTGRES_ENV, TestNode, TestNodeOptions, TestPostgres, authed, bad_fields,
        precondition_rule, server_url,
    },
    time::{parse_paris_local, to_timestamp},
};
use prost::Message;
use tonic::{Code, transport::Channel};

type Client = RegistrationServiceClient<Channel>;

struct Ctx {
    _pg: Option<TestPostgres>,
    node: TestNode,
    client: Client,
    office: String,
    recteur: String,
}

/// SQLite by default; a fresh PostgreSQL database for the `_postgres` twin of each test.
async fn start_at(backend: Backend, now: &str) -> Option<Ctx> {
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
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let recteur = node.token("recteur@ac-toulouse.fr", &[Role::Recteur]);
    Some(Ctx {
        _pg: pg,
        node,
        client,
        office,
        recteur,
    })
}

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
    a_whole_campaign_from_opening_to_the_admitted_list,
    the_window_and_its_closing_hour,
    every_field_is_checked_and_named,
    who_may_do_what,
    supporting_documents,
    lists_filters_pages_and_counts,
    health_and_reflection_are_served,
    concurrent_duplicates_make_one_candidacy,
    no_withdrawal_after_results,
);

impl Ctx {
    fn candidate_token(&self, email: &str) -> String {
        self.node.token(email, &[Role::Candidate])
    }

    async fn campaign(&mut self, year: i32, opens: &str, closes: &str) -> pb::Campaign {
        let req = pb::CreateCampaignRequest {
            year,
            opens_at_local: opens.into(),
            closes_at_local: closes.into(),
        };
        self.client
            .create_campaign(authed(req, &self.office))
            .await
            .unwrap()
            .into_inner()
    }

    async fn submit_online(
        &mut self,
        d: pb::CandidateDetails,
    ) -> Result<pb::Candidacy, tonic::Status> {
        let token = self.candidate_token(&d.email);
        let req = pb::SubmitCandidacyRequest {
            year: 2025,
            candidate: Some(d),
            ..Default::default()
        };
        self.client
            .submit_candidacy(authed(req, &token))
            .await
            .map(|r| r.into_inner())
    }

    async fn upload(
        &mut self,
        id: &str,
        kind: pb::DocumentKind,
        token: &str,
    ) -> Result<pb::SupportingDocument, tonic::Status> {
        let req = pb::UploadSupportingDocumentRequest {
            candidacy_id: id.into(),
            kind: kind as i32,
            file_name: format!("{}.pdf", kind.as_str_name().to_lowercase()),
            content_type: "application/pdf".into(),
            content: format!("%PDF-1.7\n{id} {kind:?}").into_bytes(),
        };
        self.client
            .upload_supporting_document(authed(req, token))
            .await
            .map(|r| r.into_inner())
    }

    async fn complete(&mut self, id: &str) {
        let t = self.office.clone();
        self.upload(id, pb::DocumentKind::EmploymentProof, &t)
            .await
            .unwrap();
        self.upload(id, pb::DocumentKind::Identity, &t)
            .await
            .unwrap();
    }

    async fn validate(&mut self, id: &str) -> Result<pb::Candidacy, tonic::Status> {
        self.client
            .validate_candidacy(authed(
                pb::ValidateCandidacyRequest {
                    candidacy_id: id.into(),
                },
                &self.office,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn count(&mut self) -> i64 {
        self.client
            .count_candidacies(authed(
                pb::CountCandidaciesRequest { year: 2025 },
                &self.office,
            ))
            .await
            .unwrap()
            .into_inner()
            .total
    }

    async fn listen(&self) -> Subscription {
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

/// A valid candidate of the académie de Toulouse, number `n`.
fn person(n: u32) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: format!(
            "Martin-{}",
            ["Durand", "Petit", "Leroy", "Moreau", "Simon"][n as usize % 5]
        ),
        first_name: "Camille".into(),
        birth_date: "1984-03-12".into(),
        email: format!("camille.martin{n}@ac-toulouse.fr"),
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

/// The next event, heartbeats (outside the sequence) skipped.
async fn next_event(sub: &mut Subscription) -> EventEnvelope {
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

async fn a_whole_campaign_from_opening_to_the_admitted_list(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    let mut events = t.listen().await;
    let campaign = t
        .campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    assert_eq!(campaign.state, pb::CampaignState::Open as i32);
    assert_eq!(campaign.closes_at_local, "2025-06-20T17:00");
    assert_eq!(
        campaign.closes_at.unwrap(),
        to_timestamp(parse_paris_local("2025-06-20T17:00").unwrap())
    );

    // Three candidates register online; one of them on a fixed-term contract.
    let a = t.submit_online(person(1)).await.unwrap();
    let b = t.submit_online(person(2)).await.unwrap();
    let mut cdd = person(3);
    cdd.status = pb::StaffStatus::ContractFixedTerm as i32;
    let c = t.submit_online(cdd).await.unwrap();
    assert_eq!(a.status, pb::CandidacyStatus::Submitted as i32);
    assert!(a.eligibility.as_ref().unwrap().eligible);
    assert!(!c.eligibility.as_ref().unwrap().eligible);
    assert!(
        c.eligibility
            .unwrap()
            .explanations
            .iter()
            .any(|e| e.contains("CDD"))
    );
    assert_eq!(
        a.staff_category,
        pb::StaffCategory::SecondDegreeTenured as i32
    );
    assert_eq!(a.missing_documents.len(), 2);

    // The candidate sends their documents; the office validates A, rejects C, B withdraws.
    let token_a = t.candidate_token("camille.martin1@ac-toulouse.fr");
    t.upload(&a.id, pb::DocumentKind::EmploymentProof, &token_a)
        .await
        .unwrap();
    t.upload(&a.id, pb::DocumentKind::Identity, &token_a)
        .await
        .unwrap();
    let a = t.validate(&a.id).await.unwrap();
    assert_eq!(a.status, pb::CandidacyStatus::Validated as i32);
    assert!(a.missing_documents.is_empty());
    assert_eq!(a.decision.unwrap().decided_by, "dec@ac-toulouse.fr");
    let rejected = t
        .client
        .reject_candidacy(authed(
            pb::RejectCandidacyRequest {
                candidacy_id: c.id.clone(),
                reason: pb::RejectionReason::Ineligible as i32,
                reason_text: String::new(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rejected.decision.unwrap().reason,
        pb::RejectionReason::Ineligible as i32
    );
    let token_b = t.candidate_token("camille.martin2@ac-toulouse.fr");
    let withdrawn = t
        .client
        .withdraw_candidacy(authed(
            pb::WithdrawCandidacyRequest {
                candidacy_id: b.id.clone(),
                reason_text: "mutation".into(),
            },
            &token_b,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, pb::CandidacyStatus::Withdrawn as i32);
    assert_eq!(
        withdrawn.withdrawal.unwrap().previous_status,
        pb::CandidacyStatus::Submitted as i32
    );

    // The list cannot be published while the window is open.
    let err = t
        .client
        .publish_admitted_list(authed(
            pb::PublishAdmittedListRequest { year: 2025 },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("WINDOW_NOT_CLOSED")
    );

    t.node
        .clock
        .set(parse_paris_local("2025-06-23T09:00").unwrap());
    let list = t
        .client
        .publish_admitted_list(authed(
            pb::PublishAdmittedListRequest { year: 2025 },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.candidates.len(), 1);
    assert_eq!(list.candidates[0].candidacy_id, a.id);
    assert_eq!(list.published_by, "recteur@ac-toulouse.fr");

    // Frozen: published once, decisions and registrations refused; withdrawal still possible.
    let err = t
        .client
        .publish_admitted_list(authed(
            pb::PublishAdmittedListRequest { year: 2025 },
            &t.recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_ALREADY_PUBLISHED")
    );
    let err = t
        .client
        .reject_candidacy(authed(
            pb::RejectCandidacyRequest {
                candidacy_id: a.id.clone(),
                reason: pb::RejectionReason::Other as i32,
                reason_text: "late doubt".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
    let post = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(9)),
        channel: pb::SubmissionChannel::Post as i32,
        postmark_date: "2025-06-19".into(),
        ..Default::default()
    };
    let err = t
        .client
        .submit_candidacy(authed(post, &t.office))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
    let w = t
        .client
        .withdraw_candidacy(authed(
            pb::WithdrawCandidacyRequest {
                candidacy_id: a.id.clone(),
                reason_text: String::new(),
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(w.on_admitted_list);
    let list = t
        .client
        .get_admitted_list(authed(pb::GetAdmittedListRequest { year: 2025 }, &t.office))
        .await
        .unwrap()
        .into_inner();
    assert!(
        list.candidates[0].withdrawn,
        "a withdrawal after publication is shown on the list, not deleted"
    );

    // Events: each change on both streams; national facts never carry a name or contact.
    let mut internal = Vec::new();
    let mut national = Vec::new();
    for _ in 0..18 {
        let e = next_event(&mut events).await;
        assert_eq!(e.academy, "toulouse");
        assert_eq!(e.source, "registration");
        if e.stream == pb::Stream::National as i32 {
            let bytes = e.encode_to_vec();
            for secret in [
                "Martin",
                "Camille",
                "ac-toulouse.fr",
                "12E0000001ABC",
                "0310036W",
                "1984-03-12",
            ] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} leaked to the national stream in {}",
                    e.r#type
                );
            }
            national.push(e);
        } else {
            internal.push(e);
        }
    }
    let types = |v: &[EventEnvelope]| v.iter().map(|e| e.r#type.clone()).collect::<Vec<_>>();
    assert_eq!(
        types(&internal),
        [
            "campaign_opened",
            "candidacy_submitted",
            "candidacy_submitted",
            "candidacy_submitted",
            "candidacy_validated",
            "candidacy_rejected",
            "candidacy_withdrawn",
            "admitted_list_published",
            "candidacy_withdrawn"
        ]
    );
    assert_eq!(
        types(&national),
        [
            "campaign_opened",
            "candidacy_registered",
            "candidacy_registered",
            "candidacy_registered",
            "candidacy_decided",
            "candidacy_decided",
            "candidacy_withdrawn",
            "admitted_list_published",
            "candidacy_withdrawn"
        ]
    );
    let sequences: Vec<u64> = national.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=9).collect::<Vec<_>>(),
        "national sequences are gapless"
    );
    match &internal[7].payload {
        Some(Payload::AdmittedListPublished(p)) => {
            assert_eq!(p.entries.len(), 1);
            assert_eq!(
                p.entries[0].identity.as_ref().unwrap().last_name,
                "Martin-Petit"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match &national[8].payload {
        Some(Payload::NationalCandidacyWithdrawn(w)) => assert!(w.was_admitted_to_sit),
        other => panic!("unexpected {other:?}"),
    }
    t.node.node.shutdown().await.unwrap();
}

async fn the_window_and_its_closing_hour(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-05-20T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let err = t.submit_online(person(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_rule(&err).as_deref(), Some("WINDOW_NOT_OPEN"));

    t.node
        .clock
        .set(parse_paris_local("2025-06-20T16:59").unwrap());
    t.submit_online(person(2)).await.unwrap();
    t.node
        .clock
        .set(parse_paris_local("2025-06-20T17:01").unwrap());
    let err = t.submit_online(person(3)).await.unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("WINDOW_CLOSED"));
    assert!(err.message().contains("irrecevable"), "{}", err.message());

    // A letter stamped on the closing day, entered later, is admissible; one stamped after is not.
    t.node
        .clock
        .set(parse_paris_local("2025-06-24T11:00").unwrap());
    let post = |n: u32, date: &str| pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(n)),
        channel: pb::SubmissionChannel::Post as i32,
        postmark_date: date.into(),
        ..Default::default()
    };
    let c = t
        .client
        .submit_candidacy(authed(post(4, "2025-06-20"), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.channel, pb::SubmissionChannel::Post as i32);
    assert_eq!(c.postmark_date, "2025-06-20");
    let err = t
        .client
        .submit_candidacy(authed(post(5, "2025-06-21"), &t.office))
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("WINDOW_CLOSED"));
    // An e-mail received at 17:30 on the closing day is late.
    let mail = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(6)),
        channel: pb::SubmissionChannel::Email as i32,
        email_received_at: Some(to_timestamp(parse_paris_local("2025-06-20T17:30").unwrap())),
        ..Default::default()
    };
    assert_eq!(
        precondition_rule(
            &t.client
                .submit_candidacy(authed(mail, &t.office))
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("WINDOW_CLOSED")
    );
    // Candidates cannot enter paper candidacies themselves.
    let own = t.candidate_token("camille.martin7@ac-toulouse.fr");
    let err = t
        .client
        .submit_candidacy(authed(post(7, "2025-06-19"), &own))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(t.count().await, 2, "refused submissions changed nothing");

    // A midnight closing, as another académie sets it, after the office extends the window.
    let upd = pb::UpdateCampaignRequest {
        year: 2025,
        opens_at_local: "2025-05-26T00:00".into(),
        closes_at_local: "2025-06-25T00:00".into(),
    };
    let c = t
        .client
        .update_campaign(authed(upd, &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.state, pb::CampaignState::Open as i32);
    t.node
        .clock
        .set(parse_paris_local("2025-06-24T23:59").unwrap());
    t.submit_online(person(8)).await.unwrap();
}

async fn every_field_is_checked_and_named(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let bad = pb::CandidateDetails {
        last_name: "R2D2".into(),
        first_name: String::new(),
        birth_date: "2015-01-01".into(),
        email: "camille@".into(),
        phone: "123".into(),
        staff_number: "SHORT".into(),
        sex: 0,
        sector: 0,
        status: 0,
        function: 99,
        corps: 0,
        workplace_uai: "0310036X".into(),
        workplace_type: 0,
        department: "75".into(),
        runs_mlds_actions: false,
        is_dropout_referent: false,
    };
    let req = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(bad),
        ..Default::default()
    };
    let err = t
        .client
        .submit_candidacy(authed(req, &t.office))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut fields = bad_fields(&err);
    fields.sort();
    let expected = [
        "birth_date",
        "corps",
        "department",
        "email",
        "first_name",
        "function",
        "last_name",
        "phone",
        "sector",
        "sex",
        "staff_number",
        "status",
        "workplace_type",
        "workplace_uai",
    ]
    .map(|f| format!("candidate.{f}"));
    assert_eq!(fields, expected);
    assert!(err.message().contains("check letter"), "{}", err.message());

    // Fields that contradict each other.
    let mut c = person(1);
    c.sector = pb::StaffSector::PrivateUnderContract as i32;
    c.department = "32".into();
    let err = t
        .client
        .submit_candidacy(authed(
            pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: Some(c),
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["candidate.status", "candidate.department"]
    );

    let err = t
        .client
        .submit_candidacy(authed(
            pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: None,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["candidate"]);
    let post = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(2)),
        channel: pb::SubmissionChannel::Post as i32,
        ..Default::default()
    };
    assert_eq!(
        bad_fields(
            &t.client
                .submit_candidacy(authed(post, &t.office))
                .await
                .unwrap_err()
        ),
        ["postmark_date"]
    );

    let err = t
        .client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year: 2030,
                opens_at_local: "2025-03-30T02:30".into(),
                closes_at_local: "later".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["year", "opens_at_local", "closes_at_local"]
    );
    let err = t
        .client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year: 2025,
                opens_at_local: "2025-05-26T00:00".into(),
                closes_at_local: "2025-06-20T17:00".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    let err = t
        .client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: "42".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["candidacy_id"]);
    let err = t
        .client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: uuid_like(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                page_token: "garbage".into(),
                page_size: -1,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size", "page_token"]);
    assert_eq!(t.count().await, 0, "nothing was written");

    t.submit_online(person(3)).await.unwrap();
    let err = t.submit_online(person(3)).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
}

fn uuid_like() -> String {
    "0196f7a2-0000-7000-8000-000000000000".into()
}

async fn who_may_do_what(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let mine = t.submit_online(person(1)).await.unwrap();
    let theirs = t.submit_online(person(2)).await.unwrap();
    let me = t.candidate_token("camille.martin1@ac-toulouse.fr");

    // A candidate reads their own candidacy, not another's, and cannot decide.
    t.client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: mine.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap();
    let err = t
        .client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: theirs.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = t
        .client
        .validate_candidacy(authed(
            pb::ValidateCandidacyRequest {
                candidacy_id: mine.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = t
        .upload(&theirs.id, pb::DocumentKind::Identity, &me)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                ..Default::default()
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // A candidate registers only under their own e-mail.
    let req = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(3)),
        ..Default::default()
    };
    assert_eq!(
        t.client
            .submit_candidacy(authed(req, &me))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Only the recteur publishes; the exam office of another académie is nobody here.
    let err = t
        .client
        .publish_admitted_list(authed(
            pb::PublishAdmittedListRequest { year: 2025 },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let lyon = t
        .node
        .issuer
        .mint("dec@ac-lyon.fr", "lyon", &[Role::ExamOffice])
        .unwrap();
    let err = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                ..Default::default()
            },
            &lyon,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("lyon"));
    // IT administrators run the node but do not read identities.
    let it = t.node.token("dsi@ac-toulouse.fr", &[Role::ItAdmin]);
    assert_eq!(
        t.client
            .get_candidacy(authed(
                pb::GetCandidacyRequest {
                    candidacy_id: mine.id.clone()
                },
                &it
            ))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        t.client
            .count_candidacies(authed(pb::CountCandidaciesRequest { year: 2025 }, &it))
            .await
            .unwrap()
            .into_inner()
            .total,
        2
    );
    // No token, or a forged one.
    let err = t
        .client
        .get_campaign(pb::GetCampaignRequest { year: 2025 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = t
        .client
        .get_campaign(authed(pb::GetCampaignRequest { year: 2025 }, "not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

async fn supporting_documents(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let c = t.submit_online(person(1)).await.unwrap();
    let err = t.validate(&c.id).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("MISSING_DOCUMENTS")
    );

    let office = t.office.clone();
    let exe = pb::UploadSupportingDocumentRequest {
        candidacy_id: c.id.clone(),
        kind: pb::DocumentKind::Identity as i32,
        file_name: "id.pdf".into(),
        content_type: String::new(),
        content: b"MZ\x90\x00".to_vec(),
    };
    let err = t
        .client
        .upload_supporting_document(authed(exe, &office))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["content"]);
    let lie = pb::UploadSupportingDocumentRequest {
        candidacy_id: c.id.clone(),
        kind: 0,
        file_name: "../x".into(),
        content_type: "image/png".into(),
        content: b"%PDF-1.4 x".to_vec(),
    };
    let err = t
        .client
        .upload_supporting_document(authed(lie, &office))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["kind", "file_name", "content"]);
    let big = pb::UploadSupportingDocumentRequest {
        candidacy_id: c.id.clone(),
        kind: pb::DocumentKind::Identity as i32,
        file_name: "scan.jpg".into(),
        content_type: String::new(),
        content: [vec![0xFF, 0xD8, 0xFF], vec![0u8; 5 * 1024 * 1024]].concat(),
    };
    assert_eq!(
        bad_fields(
            &t.client
                .upload_supporting_document(authed(big, &office))
                .await
                .unwrap_err()
        ),
        ["content"]
    );

    let png = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![7u8; 300_000]].concat();
    let req = pb::UploadSupportingDocumentRequest {
        candidacy_id: c.id.clone(),
        kind: pb::DocumentKind::Identity as i32,
        file_name: "carte.png".into(),
        content_type: String::new(),
        content: png.clone(),
    };
    let doc = t
        .client
        .upload_supporting_document(authed(req, &office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(doc.content_type, "image/png");
    assert_eq!(doc.size_bytes, png.len() as i64);
    let me = t.candidate_token("camille.martin1@ac-toulouse.fr");
    let got = t
        .client
        .download_supporting_document(authed(
            pb::DownloadSupportingDocumentRequest {
                candidacy_id: c.id.clone(),
                document_id: doc.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.content, png);
    assert_eq!(got.document.unwrap().sha256, doc.sha256);
    let c2 = t
        .client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: c.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        c2.missing_documents,
        [pb::DocumentKind::EmploymentProof as i32]
    );
    t.upload(&c.id, pb::DocumentKind::EmploymentProof, &me)
        .await
        .unwrap();
    let list = t
        .client
        .list_supporting_documents(authed(
            pb::ListSupportingDocumentsRequest {
                candidacy_id: c.id.clone(),
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.documents.len(), 2);
    t.validate(&c.id).await.unwrap();
    // Decided: no more documents.
    let err = t
        .upload(&c.id, pb::DocumentKind::Other, &me)
        .await
        .unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_PENDING"));
}

async fn lists_filters_pages_and_counts(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let mut p = person(n);
        if n % 4 == 0 {
            p.department = "81".into();
            p.workplace_uai = format!(
                "0810001{}",
                cplds_registration::domain::candidate::Uai::check_letter("0810001") as char
            );
        }
        ids.push(t.submit_online(p).await.unwrap().id);
    }
    for id in ids.iter().take(3) {
        t.complete(id).await;
        t.validate(id).await.unwrap();
    }
    // Pages of 5, in submission order, with a total.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = t
            .client
            .list_candidacies(authed(
                pb::ListCandidaciesRequest {
                    year: 2025,
                    page_size: 5,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &t.office,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 12);
        seen.extend(page.candidacies.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);
    let tarn = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                department: "81".into(),
                ..Default::default()
            },
            &t.recteur,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tarn.total_size, 3);
    let validated = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                status: pb::CandidacyStatus::Validated as i32,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validated.candidacies.len(), 3);
    let counts = t
        .client
        .count_candidacies(authed(
            pb::CountCandidaciesRequest { year: 2025 },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts.total, 12);
    let of = |s: pb::CandidacyStatus| {
        counts
            .counts
            .iter()
            .find(|c| c.status == s as i32)
            .unwrap()
            .count
    };
    assert_eq!(
        (
            of(pb::CandidacyStatus::Submitted),
            of(pb::CandidacyStatus::Validated)
        ),
        (9, 3)
    );
    let d81: i64 = counts
        .by_department
        .iter()
        .find(|d| d.department == "81")
        .unwrap()
        .counts
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(d81, 3);
    // A page token from one filter does not serve another.
    let first = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                page_size: 2,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let err = t
        .client
        .list_candidacies(authed(
            pb::ListCandidaciesRequest {
                year: 2025,
                department: "31".into(),
                page_token: first.next_page_token,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
}

async fn health_and_reflection_are_served(backend: Backend) {
    let Some(t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    let mut health = tonic_health::pb::health_client::HealthClient::new(t.node.channel().await);
    let r = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cplds.v1.RegistrationService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut refl = ServerReflectionClient::new(t.node.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("no list")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"cplds.v1.RegistrationService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

async fn concurrent_duplicates_make_one_candidacy(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = t.client.clone();
        let token = t.candidate_token("camille.martin1@ac-toulouse.fr");
        calls.push(tokio::spawn(async move {
            let req = pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: Some(person(1)),
                ..Default::default()
            };
            client
                .submit_candidacy(authed(req, &token))
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut outcomes = Vec::new();
    for c in calls {
        outcomes.push(c.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(()) | Err(Code::AlreadyExists))),
        "{outcomes:?}"
    );
    assert_eq!(t.count().await, 1);
}

async fn no_withdrawal_after_results(backend: Backend) {
    let Some(mut t) = start_at(backend, "2025-06-01T10:00").await else {
        return;
    };
    t.campaign(2025, "2025-05-26T00:00", "2025-06-20T17:00")
        .await;
    let a = t.submit_online(person(1)).await.unwrap();
    let b = t.submit_online(person(2)).await.unwrap();
    let me = t.candidate_token("camille.martin1@ac-toulouse.fr");
    // The examination service publishes results (its event, as it travels on the internal stream).
    let event = EventEnvelope {
        event_id: "0196f7a2-0000-7000-8000-00000000abcd".into(),
        academy: "toulouse".into(),
        source: "examination".into(),
        sequence: 1,
        occurred_at: Some(to_timestamp(parse_paris_local("2025-07-01T10:00").unwrap())),
        r#type: "results_published".into(),
        stream: pb::Stream::Internal as i32,
        trace_context: Default::default(),
        payload: Some(Payload::ResultsPublished(pb::ResultsPublished {
            session_id: "s".into(),
            year: 2025,
            decisions: vec![],
            published_at: None,
        })),
    };
    let message = cplds_runtime::bus::Message {
        stream: Stream::Internal,
        routing_key: "toulouse.examination.results_published".into(),
        message_id: event.event_id.clone(),
        event_type: event.r#type.clone(),
        body: event.encode_to_vec(),
        headers: Default::default(),
    };
    t.client
        .withdraw_candidacy(authed(
            pb::WithdrawCandidacyRequest {
                candidacy_id: a.id.clone(),
                reason_text: String::new(),
            },
            &me,
        ))
        .await
        .unwrap();
    t.node
        .bus
        .publish(&[message.clone(), message])
        .await
        .unwrap();
    let office = t.office.clone();
    let mut client = t.client.clone();
    cplds_runtime::testing::wait_for(
        Duration::from_secs(10),
        "results to reach registration",
        || {
            let (mut client, office) = (client.clone(), office.clone());
            async move {
                let c = client
                    .get_campaign(authed(pb::GetCampaignRequest { year: 2025 }, &office))
                    .await
                    .unwrap()
                    .into_inner();
                c.results_published_at.map(|_| ())
            }
        },
    )
    .await;
    let err = client
        .withdraw_candidacy(authed(
            pb::WithdrawCandidacyRequest {
                candidacy_id: b.id.clone(),
                reason_text: String::new(),
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("RESULTS_PUBLISHED")
    );
    let b = client
        .get_candidacy(authed(
            pb::GetCandidacyRequest {
                candidacy_id: b.id.clone(),
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.status, pb::CandidacyStatus::Submitted as i32);
}
