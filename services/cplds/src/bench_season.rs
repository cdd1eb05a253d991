//! `cplds bench season`: a whole exam season at national scale, through the public gRPC API of
//! real nodes (the sandbox's). For each académie (30 by default, a few at a time), a node with
//! registration, examination and certification: `candidates` candidacies registered, documents
//! uploaded and validated, the admitted list published; the exam session (boards, schedule,
//! convocations, marks entered twice blind, the signed deliberation, published results); then
//! the certificates prepared from the results issued in one batch (signed credential) and each
//! one's PDF and credential fetched as the office prints and sends them. Prints seconds per
//! académie by phase, certificates per second and the peak resident memory. Figures are
//! printed, never asserted.

use std::{
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{Timelike, Utc};
use cplds_proto::v1::{
    self as pb, certification_service_client::CertificationServiceClient,
    registration_service_client::RegistrationServiceClient,
};
use cplds_runtime::{
    academy::{ACADEMIES, Academy},
    auth::Role,
    bus::{SharedBus, memory::InMemoryBus},
    people::Uai,
    poll::{self, Check},
    time::{format_paris_local, paris_year},
};
use futures_util::StreamExt;
use tonic::transport::Channel;

use crate::sandbox::{LocalNode, LocalNodeSpec, authed};

pub struct SeasonBenchOptions {
    /// How many académies (the first ones, in code order), at most 30.
    pub academies: usize,
    /// Candidates registered per académie.
    pub candidates: usize,
    /// Académies run at the same time.
    pub concurrency: usize,
    /// Run on PostgreSQL: URL of an existing database to create the bench database from.
    pub postgres_url: Option<String>,
}

/// What one académie's season took.
struct AcademySeason {
    academy: &'static str,
    /// Candidacies submitted with their documents, validated, the list published.
    registration: Duration,
    /// Boards to published results (the exam scenario).
    session: Duration,
    /// From published results until certification has prepared every certificate (events).
    prepared: Duration,
    /// The `IssueCertificates` call: each certificate numbered, its credential signed.
    issue: Duration,
    /// Every issued certificate's PDF and credential fetched.
    documents: Duration,
    certificates: usize,
    total: Duration,
}

pub async fn run(opts: SeasonBenchOptions) -> anyhow::Result<String> {
    anyhow::ensure!(
        (1..=ACADEMIES.len()).contains(&opts.academies),
        "--academies must be between 1 and {}",
        ACADEMIES.len()
    );
    anyhow::ensure!(opts.candidates >= 2, "--candidates must be at least 2");
    let dir = tempfile::tempdir()?;
    let year = paris_year(Utc::now());
    // One bus for every académie, as the demo does. No national node: the national facts wait
    // in its declared queue, as they would on the national broker.
    let bus: SharedBus = Arc::new(InMemoryBus::new());
    bus.declare(&cplds_national::api::queue()).await?;
    let database = match &opts.postgres_url {
        Some(admin) => Some(crate::bench_national::BenchDatabase::create(admin).await?),
        None => None,
    };
    crate::memory::reset_peak();
    let started = Instant::now();
    let runs: Vec<anyhow::Result<AcademySeason>> =
        futures_util::stream::iter(ACADEMIES.iter().take(opts.academies))
            .map(|a| {
                let spec = node_spec(a, dir.path(), &bus, database.as_ref());
                async move {
                    academy_season(a, spec, year, opts.candidates)
                        .await
                        .with_context(|| format!("the season of {}", a.code))
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
    let wall = started.elapsed();
    let peak = crate::memory::peak_mib();
    if let Some(d) = database {
        d.drop().await;
    }
    let mut runs: Vec<AcademySeason> = runs.into_iter().collect::<anyhow::Result<_>>()?;
    runs.sort_by_key(|r| r.academy);
    Ok(report(&opts, &runs, wall, peak))
}

fn report(
    opts: &SeasonBenchOptions,
    runs: &[AcademySeason],
    wall: Duration,
    peak: Option<f64>,
) -> String {
    let mut out = String::new();
    let backend = if opts.postgres_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let _ = writeln!(
        out,
        "\n== exam season: {} académies × {} candidates ({backend}, in-process bus, {} at a time) ==",
        runs.len(),
        opts.candidates,
        opts.concurrency.max(1)
    );
    let _ = writeln!(
        out,
        "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>10} {:>7} {:>9}",
        "académie (s)", "register", "session", "prepared", "issue", "pdf+cred", "certs", "total"
    );
    let secs = |d: Duration| d.as_secs_f64();
    for r in runs {
        let _ = writeln!(
            out,
            "  {:<18} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>7} {:>9.2}",
            r.academy,
            secs(r.registration),
            secs(r.session),
            secs(r.prepared),
            secs(r.issue),
            secs(r.documents),
            r.certificates,
            secs(r.total)
        );
    }
    let n = runs.len().max(1) as f64;
    let sum = |f: fn(&AcademySeason) -> Duration| runs.iter().map(|r| secs(f(r))).sum::<f64>();
    let certificates: usize = runs.iter().map(|r| r.certificates).sum();
    let issuing = sum(|r| r.issue);
    let documents = sum(|r| r.documents);
    let _ = writeln!(
        out,
        "  {:<18} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>7} {:>9.2}",
        "mean",
        sum(|r| r.registration) / n,
        sum(|r| r.session) / n,
        sum(|r| r.prepared) / n,
        issuing / n,
        documents / n,
        certificates,
        sum(|r| r.total) / n
    );
    let _ = writeln!(
        out,
        "  certificates: {certificates} issued; batch issue {:.0}/s (signature + credential), with each PDF and credential fetched {:.0}/s; 1 000 certificates ≈ {:.1} s",
        certificates as f64 / issuing.max(1e-9),
        certificates as f64 / (issuing + documents).max(1e-9),
        1000.0 * (issuing + documents) / (certificates.max(1) as f64)
    );
    let _ = writeln!(
        out,
        "  wall {:.1} s for the season ({:.2} s per académie); peak RSS {} MiB",
        secs(wall),
        secs(wall) / n,
        crate::memory::format(peak)
    );
    out
}

/// An académie node with the services of the season, on the shared bus.
fn node_spec(
    academy: &Academy,
    dir: &std::path::Path,
    bus: &SharedBus,
    database: Option<&crate::bench_national::BenchDatabase>,
) -> anyhow::Result<LocalNodeSpec> {
    let modules = crate::academy_modules(&[
        "registration".into(),
        "examination".into(),
        "certification".into(),
    ])?;
    let mut spec = LocalNodeSpec::new(academy.code, dir.join(academy.code), modules, bus.clone());
    spec.config.database_url = database.map(|d| d.url.clone());
    Ok(spec)
}

/// A scanned document, as candidates upload them.
fn scan() -> Vec<u8> {
    let title = "pièce justificative";
    let mut d = cplds_runtime::pdf::Document::new(title);
    d.page()
        .text(72.0, 770.0, cplds_runtime::pdf::Font::Regular, 12.0, title);
    d.finish()
}

async fn academy_season(
    academy: &'static Academy,
    spec: anyhow::Result<LocalNodeSpec>,
    year: i32,
    candidates: usize,
) -> anyhow::Result<AcademySeason> {
    let node = LocalNode::start(spec?).await?;
    let started = Instant::now();
    let channel = node.channel().await?;
    let list = register(&node, channel.clone(), academy, year, candidates).await?;
    let registration = started.elapsed();

    let t = Instant::now();
    let mint = |subject: &str, roles: &[Role]| node.token(subject, roles);
    let exam =
        cplds_examination::scenario::run(channel.clone(), academy.code, &mint, &list).await?;
    let session = t.elapsed();

    let domain = format!("ac-{}.fr", academy.code);
    let recteur = node.token(&format!("recteur@{domain}"), &[Role::Recteur])?;
    let mut client = CertificationServiceClient::new(channel);
    let t = Instant::now();
    let expected = exam.statistics.admitted as usize;
    wait_prepared(&mut client, &recteur, year, expected).await?;
    let prepared = t.elapsed();

    let t = Instant::now();
    let issued = client
        .issue_certificates(authed(
            pb::IssueCertificatesRequest {
                year,
                signatory_name: String::new(),
            },
            &recteur,
        ))
        .await
        .context("issuing the certificates")?
        .into_inner()
        .issued;
    let issue = t.elapsed();
    anyhow::ensure!(
        issued.len() == expected,
        "{} certificates issued, {expected} admitted",
        issued.len()
    );

    let t = Instant::now();
    for c in &issued {
        let pdf = client
            .get_certificate_pdf(authed(
                pb::GetCertificatePdfRequest {
                    number: c.number.clone(),
                },
                &recteur,
            ))
            .await
            .context("fetching a certificate's PDF")?
            .into_inner();
        anyhow::ensure!(pdf.content.starts_with(b"%PDF"), "a certificate's PDF");
        client
            .get_certificate_credential(authed(
                pb::GetCertificateCredentialRequest {
                    number: c.number.clone(),
                },
                &recteur,
            ))
            .await
            .context("fetching a certificate's credential")?;
    }
    let documents = t.elapsed();
    let total = started.elapsed();
    node.node.shutdown().await?;
    Ok(AcademySeason {
        academy: academy.code,
        registration,
        session,
        prepared,
        issue,
        documents,
        certificates: issued.len(),
        total,
    })
}

/// Waits until certification has prepared `expected` certificates of `year` from the
/// published results (they arrive by event).
async fn wait_prepared(
    client: &mut CertificationServiceClient<Channel>,
    token: &str,
    year: i32,
    expected: usize,
) -> anyhow::Result<()> {
    poll::until(
        Duration::from_secs(120),
        Duration::from_millis(20),
        async || {
            let known = client
                .list_certificates(authed(
                    pb::ListCertificatesRequest {
                        year,
                        ..Default::default()
                    },
                    token,
                ))
                .await?
                .into_inner()
                .total_size as usize;
            Ok(match known >= expected {
                true => Check::Done(()),
                false => Check::Waiting(format!("{known} of {expected} certificates prepared")),
            })
        },
    )
    .await
}

/// Candidate `i` of `academy`: working in one of its départements, eligible.
fn candidate(academy: &Academy, i: usize) -> pb::CandidateDetails {
    let department = academy.departments[i % academy.departments.len()].code;
    let prefix = match department {
        "2A" => "620".to_owned(),
        "2B" => "720".to_owned(),
        d if d.len() == 2 => format!("0{d}"),
        d => d.to_owned(),
    };
    let digits = format!("{prefix}{:04}", 1 + i % 9_000);
    let uai_number: u32 = digits.parse().unwrap_or_default();
    let person = &crate::demo::PEOPLE[i % crate::demo::PEOPLE.len()];
    let mut d = crate::demo::details(i % 100, person);
    d.department = department.into();
    d.workplace_uai = Uai::of_number(uai_number).as_str().to_owned();
    d.staff_number = format!("{:02}E{:07}CND", 10 + i / 10_000_000, i % 10_000_000);
    d.email = format!("candidat{i}@ac-{}.fr", academy.code);
    d.status = pb::StaffStatus::Tenured as i32;
    d.sector = pb::StaffSector::Public as i32;
    d
}

/// Registration through the API: the campaign, `n` candidacies with their two documents each,
/// validated by the exam office; the window closed and the list published by the recteur.
async fn register(
    node: &LocalNode,
    channel: Channel,
    academy: &Academy,
    year: i32,
    n: usize,
) -> anyhow::Result<pb::AdmittedList> {
    let mut client = RegistrationServiceClient::new(channel);
    let domain = format!("ac-{}.fr", academy.code);
    let office = node.token(&format!("dec@{domain}"), &[Role::ExamOffice])?;
    let recteur = node.token(&format!("recteur@{domain}"), &[Role::Recteur])?;
    let now = Utc::now()
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .context("now, to the minute")?;
    let days = chrono::Duration::days;
    let campaign =
        crate::demo::open_campaign(&mut client, &office, year, now - days(20), now + days(3))
            .await?;
    let document = scan();
    for i in 0..n {
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(candidate(academy, i)),
                    ..Default::default()
                },
                &office,
            ))
            .await
            .context("submitting a candidacy")?
            .into_inner();
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
                        content_type: "application/pdf".into(),
                        content: document.clone(),
                    },
                    &office,
                ))
                .await
                .context("uploading a document")?;
        }
        client
            .validate_candidacy(authed(
                pb::ValidateCandidacyRequest { candidacy_id: c.id },
                &office,
            ))
            .await
            .context("validating a candidacy")?;
    }
    client
        .update_campaign(authed(
            pb::UpdateCampaignRequest {
                year,
                opens_at_local: campaign.opens_at_local.clone(),
                closes_at_local: format_paris_local(now - chrono::Duration::minutes(1)),
            },
            &office,
        ))
        .await
        .context("closing the campaign")?;
    Ok(client
        .publish_admitted_list(authed(pb::PublishAdmittedListRequest { year }, &recteur))
        .await
        .context("publishing the admitted list")?
        .into_inner())
}
