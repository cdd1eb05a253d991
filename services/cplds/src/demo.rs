//! `cplds demo`: a complete local setup on embedded defaults (SQLite files, in-process bus),
//! seeded only through the public gRPC API, then a summary of what happened.

use std::{fmt::Write as _, net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use chrono::{Duration, Timelike, Utc};
use cplds_proto::v1::{
    self as pb, national_statistics_service_client::NationalStatisticsServiceClient,
    registration_service_client::RegistrationServiceClient,
    reporting_service_client::ReportingServiceClient,
};
use cplds_runtime::{
    auth::Role,
    bus::{SharedBus, memory::InMemoryBus},
    time::{format_paris_local, paris_date},
};
use tonic::transport::Channel;

use crate::sandbox::{LocalNode, LocalNodeSpec, authed};

pub struct DemoOptions {
    pub listen: SocketAddr,
    /// The académie's public pages, where certificates' QR codes lead.
    pub http_listen: SocketAddr,
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

fn port(base: SocketAddr, offset: u16) -> SocketAddr {
    if base.port() == 0 {
        base
    } else {
        SocketAddr::new(base.ip(), base.port() + offset)
    }
}

async fn start_node(
    academy: &str,
    opts: &DemoOptions,
    offset: u16,
    modules: Vec<Arc<dyn cplds_runtime::host::ServiceModule>>,
    bus: &SharedBus,
) -> anyhow::Result<LocalNode> {
    let mut spec = LocalNodeSpec::new(academy, opts.data_dir.join(academy), modules, bus.clone());
    spec.config.listen = port(opts.listen, offset);
    LocalNode::start(spec)
        .await
        .with_context(|| format!("starting the {academy} node"))
}

/// The other académies of the demo, with a few candidates each.
const OTHERS: &[(&str, &[&str])] = &[
    ("lyon", &["69", "42", "01"]),
    ("reims", &["51", "08", "10"]),
];

pub async fn run(opts: DemoOptions) -> anyhow::Result<Demo> {
    // One in-process bus stands for every broker and the federation between them; kept in a file
    // of the demo's directory, so a crash loses nothing in flight.
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
    let bus: SharedBus = Arc::new(InMemoryBus::open(&opts.data_dir.join("bus.sqlite")).await?);
    let toulouse = {
        let mut spec = LocalNodeSpec::new(
            "toulouse",
            opts.data_dir.join("toulouse"),
            crate::academy_modules(&[])?,
            bus.clone(),
        );
        spec.config.listen = opts.listen;
        spec.config.http_listen = Some(opts.http_listen);
        LocalNode::start(spec)
            .await
            .context("starting the toulouse node")?
    };
    let national = {
        let mut spec = LocalNodeSpec::new(
            cplds_national::NATIONAL,
            opts.data_dir.join(cplds_national::NATIONAL),
            crate::national_modules(),
            bus.clone(),
        );
        spec.config.listen = port(opts.listen, 1);
        // The demo's académies are the only ones expected to report, so its figures can be final.
        spec.config.national.active_academies.insert(
            demo_year().to_string(),
            std::iter::once("toulouse")
                .chain(OTHERS.iter().map(|(code, _)| *code))
                .map(String::from)
                .collect(),
        );
        LocalNode::start(spec)
            .await
            .context("starting the national node")?
    };
    let mut others = Vec::new();
    for (i, (code, _)) in OTHERS.iter().enumerate() {
        others.push(
            start_node(
                code,
                &opts,
                2 + i as u16,
                crate::academy_modules(&["registration".into(), "reporting".into()])?,
                &bus,
            )
            .await?,
        );
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPLDS demo — embedded defaults (SQLite under {}, in-process bus)",
        opts.data_dir.display()
    );
    let _ = writeln!(
        out,
        "académie node toulouse on {} (public pages on {}); national node on {}",
        toulouse.node.addr,
        toulouse
            .node
            .http_addr
            .map_or_else(|| "none".to_owned(), |a| format!("http://{a}")),
        national.node.addr
    );
    for n in &others {
        let _ = writeln!(out, "académie node {} on {}", n.node.node, n.node.addr);
    }
    let year = demo_year();
    let channel = toulouse.channel().await?;
    let (registration, list) = seed_registration(&toulouse, channel.clone())
        .await
        .context("seeding registration")?;
    out.push_str(&registration);
    let mint = |subject: &str, roles: &[Role]| toulouse.token(subject, roles);
    // The training of the school year before the session.
    let training =
        cplds_training::scenario::run_for_year(channel.clone(), "toulouse", &mint, year - 1)
            .await
            .context("the training cohort")?;
    let _ = write!(out, "\n{training}");

    let exam = cplds_examination::scenario::run(channel.clone(), "toulouse", &mint, &list)
        .await
        .context("the exam session")?;
    let _ = write!(out, "\n{exam}");
    let recteur = toulouse.token("recteur@ac-toulouse.fr", &[Role::Recteur]);
    let certificates = cplds_certification::scenario::issue_and_verify(
        channel.clone(),
        &recteur,
        cplds_certification::scenario::ScenarioOptions {
            year,
            expected: exam.statistics.admitted as usize,
            wait: std::time::Duration::from_secs(20),
            signatory_name: Some("Claire DUMAS".into()),
        },
    )
    .await
    .context("issuing certificates")?;
    let _ = writeln!(out, "\n{certificates}");
    let mut expected_registrations = PEOPLE.len() as i64;
    for (node, (_, departments)) in others.iter().zip(OTHERS) {
        expected_registrations += seed_small_academy(node, departments, year)
            .await
            .with_context(|| format!("seeding {}", node.node.node))?;
    }
    for node in std::iter::once(&toulouse).chain(&others) {
        report_to_ministry(node, year)
            .await
            .with_context(|| format!("reporting of {}", node.node.node))?;
    }
    out.push_str(
        &national_report(&national, year, expected_registrations)
            .await
            .context("the national report")?,
    );

    let office = toulouse.token("dec@ac-toulouse.fr", &[Role::ExamOffice]);
    let ministry = national.token("dgesco@education.gouv.fr", &[Role::Ministry]);
    let _ = writeln!(out, "\nTry it (tokens valid 8 h):");
    let _ = writeln!(out, "  export TOKEN={office}   # exam office of toulouse");
    let _ = writeln!(
        out,
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"year\": {year}}}' {} cplds.v1.RegistrationService/CountCandidacies",
        toulouse.node.addr
    );
    let _ = writeln!(
        out,
        "  export MINISTRY={ministry}   # the ministry, on the national node"
    );
    let _ = writeln!(
        out,
        "  grpcurl -plaintext -H \"authorization: Bearer $MINISTRY\" -d '{{\"year\": {year}, \"breakdown\": [\"DIMENSION_ACADEMY\"]}}' {} cplds.v1.NationalStatisticsService/GetStatistics",
        national.node.addr
    );
    if let Some(web) = toulouse.node.http_addr {
        let _ = writeln!(
            out,
            "  open http://{web}/verify in a browser (or curl -H 'Accept: application/json' {})   # what a QR code leads to",
            certificates.verification_url
        );
    }
    let mut nodes = vec![toulouse, national];
    nodes.extend(others);
    Ok(Demo {
        nodes,
        summary: out,
    })
}

fn demo_year() -> i32 {
    paris_date(Utc::now())
        .format("%Y")
        .to_string()
        .parse()
        .expect("a year")
}

/// A handful of candidates in another académie: registered online, most validated, one
/// withdrawn, the list published. Returns how many registered.
async fn seed_small_academy(
    node: &LocalNode,
    departments: &[&str],
    year: i32,
) -> anyhow::Result<i64> {
    let mut client = RegistrationServiceClient::new(node.channel().await?);
    let office = node.token(
        &format!("dec@ac-{}.fr", node.node.node),
        &[Role::ExamOffice],
    );
    let recteur = node.token(
        &format!("recteur@ac-{}.fr", node.node.node),
        &[Role::Recteur],
    );
    let now = Utc::now()
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .expect("valid time");
    let campaign = client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year,
                opens_at_local: format_paris_local(now - Duration::days(20)),
                closes_at_local: format_paris_local(now + Duration::days(3)),
            },
            &office,
        ))
        .await?
        .into_inner();
    let n = 6 + departments.len();
    for i in 0..n {
        let department = departments[i % departments.len()];
        let person = &PEOPLE[i % PEOPLE.len()];
        let mut d = details(i, person);
        d.department = department.into();
        d.workplace_uai = uai(&format!("{:0>3}{:04}", department, 100 + i));
        d.staff_number = format!(
            "{:02}E{:07}{}",
            10 + i,
            5_100_000 + i * 41,
            &node.node.node.code()[..3].to_uppercase()
        );
        d.email = format!("agent{i}@ac-{}.fr", node.node.node);
        d.status = pb::StaffStatus::Tenured as i32;
        d.sector = pb::StaffSector::Public as i32;
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(d),
                    ..Default::default()
                },
                &office,
            ))
            .await?
            .into_inner();
        if i == n - 1 {
            client
                .withdraw_candidacy(authed(
                    pb::WithdrawCandidacyRequest {
                        candidacy_id: c.id,
                        reason_text: String::new(),
                    },
                    &office,
                ))
                .await?;
            continue;
        }
        for kind in [
            pb::DocumentKind::EmploymentProof,
            pb::DocumentKind::Identity,
        ] {
            client
                .upload_supporting_document(authed(
                    pb::UploadSupportingDocumentRequest {
                        candidacy_id: c.id.clone(),
                        kind: kind as i32,
                        file_name: "piece.pdf".into(),
                        content_type: String::new(),
                        content: scan("piece"),
                    },
                    &office,
                ))
                .await?;
        }
        client
            .validate_candidacy(authed(
                pb::ValidateCandidacyRequest { candidacy_id: c.id },
                &office,
            ))
            .await?;
    }
    client
        .update_campaign(authed(
            pb::UpdateCampaignRequest {
                year,
                opens_at_local: campaign.opens_at_local,
                closes_at_local: format_paris_local(now - Duration::minutes(1)),
            },
            &office,
        ))
        .await?;
    client
        .publish_admitted_list(authed(pb::PublishAdmittedListRequest { year }, &recteur))
        .await?;
    Ok(n as i64)
}

/// Each académie sends its MLDS survey and approves its figures.
async fn report_to_ministry(node: &LocalNode, year: i32) -> anyhow::Result<()> {
    let mut client = ReportingServiceClient::new(node.channel().await?);
    let recteur = node.token(
        &format!("recteur@ac-{}.fr", node.node.node),
        &[Role::Recteur],
    );
    let seed = node.node.node.code().len() as u32;
    let lines = [
        (
            "remobilisation",
            pb::Sex::Male,
            "16-17",
            "school",
            40 + seed,
        ),
        (
            "remobilisation",
            pb::Sex::Female,
            "16-17",
            "school",
            35 + seed,
        ),
        (
            "remise_a_niveau",
            pb::Sex::Male,
            "18-20",
            "apprenticeship",
            22,
        ),
        (
            "remise_a_niveau",
            pb::Sex::Female,
            "18-20",
            "vocational_training",
            18 + seed,
        ),
        ("accompaniment", pb::Sex::Male, "21-25", "employment", 9),
        ("accompaniment", pb::Sex::Female, "16-17", "no_solution", 4),
    ]
    .into_iter()
    .map(|(k, s, a, o, n)| pb::MldsSurveyLine {
        action_kind: k.into(),
        sex: s as i32,
        age_band: a.into(),
        outcome: o.into(),
        young_people: n,
    })
    .collect();
    client
        .submit_mlds_survey(authed(
            pb::SubmitMldsSurveyRequest { year, lines },
            &recteur,
        ))
        .await?;
    client
        .approve_figures(authed(
            pb::ApproveFiguresRequest {
                year,
                remarks: "Session de démonstration : candidats bien préparés à l'étude de cas."
                    .into(),
            },
            &recteur,
        ))
        .await?;
    Ok(())
}

/// Waits until the national node has applied everything every académie sent, then prints the
/// consolidated figures.
async fn national_report(
    national: &LocalNode,
    year: i32,
    expected_registrations: i64,
) -> anyhow::Result<String> {
    let mut stats = NationalStatisticsServiceClient::new(national.channel().await?);
    let ministry = national.token("dgesco@education.gouv.fr", &[Role::Ministry]);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let s = loop {
        let s = stats
            .get_statistics(authed(
                pb::GetStatisticsRequest {
                    year,
                    breakdown: vec![pb::Dimension::Academy as i32],
                    ..Default::default()
                },
                &ministry,
            ))
            .await?
            .into_inner();
        let c = stats
            .get_completeness(authed(pb::GetCompletenessRequest::default(), &ministry))
            .await?
            .into_inner();
        let converged = s
            .totals
            .as_ref()
            .and_then(|t| t.registrations)
            .is_some_and(|r| r.value == expected_registrations)
            && c.sources
                .iter()
                .all(|x| x.gaps.is_empty() && x.applied_sequence == x.highest_known_sequence)
            // Every académie's approval (its last fact) has arrived.
            && s.academies.len() == 1 + OTHERS.len()
            && s.academies.iter().all(|a| a.approved);

        if converged {
            break s;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the national figures did not converge in 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let survey = stats
        .get_mlds_survey(authed(
            pb::GetMldsSurveyRequest { year, scope: None },
            &ministry,
        ))
        .await?
        .into_inner();
    let v = |c: Option<pb::Count>| c.map_or(0, |c| c.value);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nNational figures {year} (national node, pseudonymous facts only)"
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>6} {:>10} {:>9} {:>9}",
        "académie",
        "registered",
        "invalid",
        "withdrawn",
        "to sit",
        "admitted",
        "not adm.",
        "rate",
        "certified",
        "approved",
        "complete"
    );
    let row = |name: &str, f: &pb::Figures, approved: &str, complete: &str| {
        let rate = f
            .admitted_rate
            .filter(|r| !r.undefined)
            .map_or("—".to_owned(), |r| format!("{:.0} %", r.percent));
        format!(
            "  {:<10} {:>10} {:>8} {:>9} {:>9} {:>8} {:>9} {:>6} {:>10} {:>9} {:>9}\n",
            name,
            v(f.registrations),
            v(f.invalidated),
            v(f.withdrawn),
            v(f.admitted_to_sit),
            v(f.admitted),
            v(f.not_admitted),
            rate,
            v(f.certificates_issued),
            approved,
            complete
        )
    };
    for c in &s.cells {
        let f = c.figures.clone().unwrap_or_default();
        let academy = c.key.first().map(|k| k.value.clone()).unwrap_or_default();
        let st = s.academies.iter().find(|a| a.academy == academy);
        let yes = |b: bool| if b { "yes" } else { "no" };
        out.push_str(&row(
            &academy,
            &f,
            yes(st.is_some_and(|a| a.approved)),
            yes(st.is_some_and(|a| a.up_to_date)),
        ));
    }
    let t = s.totals.unwrap_or_default();
    out.push_str(&row("total", &t, "", ""));
    let _ = writeln!(
        out,
        "  figures final: {}",
        if s.r#final {
            "yes (every académie up to date and approved)"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        out,
        "  MLDS survey: {} young people accompanied in {} académies ({} have not sent theirs)",
        survey.young_people,
        30 - survey.missing.len(),
        survey.missing.len()
    );
    Ok(out)
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

async fn seed_registration(
    node: &LocalNode,
    channel: Channel,
) -> anyhow::Result<(String, pb::AdmittedList)> {
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
    Ok((out, list))
}
