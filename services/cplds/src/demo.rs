//! `cplds demo`: a complete local setup on embedded defaults (SQLite files, in-process bus),
//! seeded only through the public gRPC API, then a summary of what happened.

use std::{fmt::Write as _, net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use chrono::{Duration, Timelike, Utc};
use cplds_proto::v1::{self as pb, registration_service_client::RegistrationServiceClient};
use cplds_runtime::{
    auth::Role,
    bus::{SharedBus, memory::InMemoryBus},
    clock,
    time::{format_paris_local, paris_date},
};
use tonic::transport::Channel;

use crate::sandbox::{LocalNode, LocalNodeSpec, authed};

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
}

/// The running demo: nodes keep serving until dropped or shut down.
pub struct Demo {
    pub nodes: Vec<LocalNode>,
    pub summary: String,
}

impl Demo {
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for n in self.nodes {
            n.node.shutdown().await?;
        }
        Ok(())
    }
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<Demo> {
    let bus: SharedBus = Arc::new(InMemoryBus::new());
    let academy = "toulouse";
    let node = LocalNode::start(LocalNodeSpec {
        academy: academy.into(),
        data_dir: opts.data_dir.clone(),
        modules: crate::academy_modules(&[])?,
        bus: bus.clone(),
        clock: clock::system(),
        listen: opts.listen,
        database_url: None,
    })
    .await
    .context("starting the académie node")?;
    let channel = node.channel().await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPLDS demo — embedded defaults (SQLite under {}, in-process bus)",
        opts.data_dir.display()
    );
    let _ = writeln!(out, "académie node {academy} serving on {}", node.node.addr);
    let registration = seed_registration(&node, channel.clone())
        .await
        .context("seeding registration")?;
    out.push_str(&registration);
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let _ = writeln!(out, "\nTry it (token valid 8 h, exam office of {academy}):");
    let _ = writeln!(out, "  export TOKEN={office}");
    let _ = writeln!(
        out,
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"year\": {}}}' {} cplds.v1.RegistrationService/CountCandidacies",
        paris_date(Utc::now()).format("%Y"),
        node.node.addr
    );
    Ok(Demo {
        nodes: vec![node],
        summary: out,
    })
}

pub struct Person {
    last: &'static str,
    first: &'static str,
    sex: pb::Sex,
    department: &'static str,
    uai_digits: &'static str,
    workplace: pb::WorkplaceType,
    sector: pb::StaffSector,
    status: pb::StaffStatus,
    corps: pb::Corps,
    mlds: bool,
    referent: bool,
}

pub const PEOPLE: &[Person] = &[
    Person {
        last: "Garcia",
        first: "Inès",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: "0310036",
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Bernard",
        first: "Lucas",
        sex: pb::Sex::Male,
        department: "31",
        uai_digits: "0311234",
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: false,
        referent: true,
    },
    Person {
        last: "Roux",
        first: "Chloé",
        sex: pb::Sex::Female,
        department: "81",
        uai_digits: "0810012",
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::ContractPermanent,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Fabre",
        first: "Hugo",
        sex: pb::Sex::Male,
        department: "82",
        uai_digits: "0820021",
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Castan",
        first: "Léa",
        sex: pb::Sex::Female,
        department: "65",
        uai_digits: "0650040",
        workplace: pb::WorkplaceType::Erea,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::FirstDegree,
        mlds: false,
        referent: false,
    },
    Person {
        last: "Marty",
        first: "Nathan",
        sex: pb::Sex::Male,
        department: "12",
        uai_digits: "0120055",
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::PrivateUnderContract,
        status: pb::StaffStatus::PrivateContractTeacher,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Vidal",
        first: "Manon",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: "0312007",
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: true,
    },
    Person {
        last: "Durand",
        first: "Théo",
        sex: pb::Sex::Male,
        department: "09",
        uai_digits: "0090003",
        workplace: pb::WorkplaceType::Iem,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::FirstDegree,
        mlds: false,
        referent: true,
    },
    Person {
        last: "Lacombe",
        first: "Sarah",
        sex: pb::Sex::Female,
        department: "46",
        uai_digits: "0460011",
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::ContractFixedTerm,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Cazals",
        first: "Paul",
        sex: pb::Sex::Male,
        department: "32",
        uai_digits: "0320018",
        workplace: pb::WorkplaceType::College,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Soulié",
        first: "Emma",
        sex: pb::Sex::Female,
        department: "31",
        uai_digits: "0313301",
        workplace: pb::WorkplaceType::Other,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: true,
        referent: false,
    },
    Person {
        last: "Rey",
        first: "Jules",
        sex: pb::Sex::Male,
        department: "81",
        uai_digits: "0810150",
        workplace: pb::WorkplaceType::Lycee,
        sector: pb::StaffSector::Public,
        status: pb::StaffStatus::Tenured,
        corps: pb::Corps::SecondDegree,
        mlds: false,
        referent: false,
    },
];

fn uai(digits: &str) -> String {
    const KEY: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let n: u64 = digits.parse().expect("7 digits");
    format!("{digits}{}", KEY[(n % 23) as usize] as char)
}

fn email(p: &Person) -> String {
    let clean = |s: &str| s.to_lowercase().replace(['é', 'è'], "e").replace('ï', "i");
    format!("{}.{}@ac-toulouse.fr", clean(p.first), clean(p.last))
}

pub fn details(i: usize, p: &Person) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: p.last.into(),
        first_name: p.first.into(),
        birth_date: format!("19{}-0{}-1{}", 70 + i % 25, 1 + i % 9, i % 10),
        email: email(p),
        phone: format!("06 12 34 {:02} {:02}", i, i * 3 % 100),
        staff_number: format!("{:02}E{:07}TLS", 10 + i, 4_200_000 + i * 37),
        sex: p.sex as i32,
        sector: p.sector as i32,
        status: p.status as i32,
        function: pb::StaffFunction::Teaching as i32,
        corps: p.corps as i32,
        workplace_uai: uai(p.uai_digits),
        workplace_type: p.workplace as i32,
        department: p.department.into(),
        runs_mlds_actions: p.mlds,
        is_dropout_referent: p.referent,
    }
}

/// A minimal valid PDF, as a scanned document would be.
fn scan(title: &str) -> Vec<u8> {
    let mut d = cplds_runtime::pdf::Document::new(title);
    d.page()
        .text(72.0, 770.0, cplds_runtime::pdf::Font::Regular, 12.0, title);
    d.finish()
}

async fn seed_registration(node: &LocalNode, channel: Channel) -> anyhow::Result<String> {
    let mut client = RegistrationServiceClient::new(channel);
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let recteur = node.token("recteur@ac-toulouse.fr", &[Role::Recteur]);
    let now = Utc::now()
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("valid time");
    let year: i32 = paris_date(now).format("%Y").to_string().parse()?;
    let campaign = client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year,
                opens_at_local: format_paris_local(now - Duration::days(20)),
                closes_at_local: format_paris_local(now + Duration::days(10)),
            },
            &office,
        ))
        .await?
        .into_inner();
    let mut ids = Vec::new();
    for (i, p) in PEOPLE.iter().enumerate() {
        let token = node.token(&email(p), &[Role::Candidate]);
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(details(i, p)),
                    ..Default::default()
                },
                &token,
            ))
            .await?
            .into_inner();
        if c.eligibility.as_ref().is_some_and(|e| e.eligible) {
            for (kind, name) in [
                (
                    pb::DocumentKind::EmploymentProof,
                    "arrete-titularisation.pdf",
                ),
                (pb::DocumentKind::Identity, "piece-identite.pdf"),
            ] {
                client
                    .upload_supporting_document(authed(
                        pb::UploadSupportingDocumentRequest {
                            candidacy_id: c.id.clone(),
                            kind: kind as i32,
                            file_name: name.into(),
                            content_type: "application/pdf".into(),
                            content: scan(name),
                        },
                        &token,
                    ))
                    .await?;
            }
        }
        ids.push((c, token));
    }
    let (mut validated, mut rejected, mut withdrawn) = (0, 0, 0);
    for (i, (c, token)) in ids.iter().enumerate() {
        if i == 10 {
            client
                .withdraw_candidacy(authed(
                    pb::WithdrawCandidacyRequest {
                        candidacy_id: c.id.clone(),
                        reason_text: "mutation hors académie".into(),
                    },
                    token,
                ))
                .await?;
            withdrawn += 1;
        } else if c.eligibility.as_ref().is_some_and(|e| e.eligible) {
            client
                .validate_candidacy(authed(
                    pb::ValidateCandidacyRequest {
                        candidacy_id: c.id.clone(),
                    },
                    &office,
                ))
                .await?;
            validated += 1;
        } else {
            client
                .reject_candidacy(authed(
                    pb::RejectCandidacyRequest {
                        candidacy_id: c.id.clone(),
                        reason: pb::RejectionReason::Ineligible as i32,
                        reason_text: String::new(),
                    },
                    &office,
                ))
                .await?;
            rejected += 1;
        }
    }
    // The office closes registration (early, for the demo), then the recteur publishes the list.
    client
        .update_campaign(authed(
            pb::UpdateCampaignRequest {
                year,
                opens_at_local: campaign.opens_at_local.clone(),
                closes_at_local: format_paris_local(now - Duration::minutes(1)),
            },
            &office,
        ))
        .await?;
    let list = client
        .publish_admitted_list(authed(pb::PublishAdmittedListRequest { year }, &recteur))
        .await?
        .into_inner();
    let counts = client
        .count_candidacies(authed(pb::CountCandidaciesRequest { year }, &office))
        .await?
        .into_inner();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nRegistration {year} (window {} → closed early by the exam office)",
        campaign.opens_at_local
    );
    let _ = writeln!(
        out,
        "  {} candidacies: {validated} validated, {rejected} rejected (ineligible), {withdrawn} withdrawn",
        counts.total
    );
    for d in &counts.by_department {
        let n: i64 = d.counts.iter().map(|c| c.count).sum();
        let _ = writeln!(out, "    département {:>3}: {n}", d.department);
    }
    let _ = writeln!(
        out,
        "  admitted list published by the recteur: {} candidates",
        list.candidates.len()
    );
    for c in &list.candidates {
        let _ = writeln!(
            out,
            "    {} {} ({})",
            c.last_name.to_uppercase(),
            c.first_name,
            c.department
        );
    }
    Ok(out)
}
