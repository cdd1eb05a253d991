//! `cplds demo`: a complete local setup on embedded defaults (SQLite files, in-process bus),
//! seeded only through the public gRPC API, then a summary of what happened.

mod national;
mod people;
mod registration;

use std::{fmt::Write as _, net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use chrono::Utc;
use cplds_runtime::{
    auth::Role,
    bus::{SharedBus, memory::InMemoryBus},
    time::paris_year,
};

pub use self::people::{PEOPLE, Person, details};
pub(crate) use self::registration::open_campaign;
use self::{
    national::{national_report, report_to_ministry},
    registration::{seed_registration, seed_small_academy},
};
use crate::sandbox::{LocalNode, LocalNodeSpec};

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
    let (toulouse, national, others) = start_nodes(&opts).await?;
    let mut out = nodes_header(&opts, &toulouse, &national, &others);
    let year = demo_year();
    let (session, verification_url) = toulouse_session(&toulouse, year).await?;
    out.push_str(&session);
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
    out.push_str(&try_it(&toulouse, &national, year, &verification_url)?);
    let mut nodes = vec![toulouse, national];
    nodes.extend(others);
    Ok(Demo {
        nodes,
        summary: out,
    })
}

/// Toulouse (every module, and the public pages), the national node, and the [`OTHERS`].
async fn start_nodes(opts: &DemoOptions) -> anyhow::Result<(LocalNode, LocalNode, Vec<LocalNode>)> {
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
                opts,
                2 + i as u16,
                crate::academy_modules(&["registration".into(), "reporting".into()])?,
                &bus,
            )
            .await?,
        );
    }
    Ok((toulouse, national, others))
}

/// Where the demo keeps its data and where each node listens.
fn nodes_header(
    opts: &DemoOptions,
    toulouse: &LocalNode,
    national: &LocalNode,
    others: &[LocalNode],
) -> String {
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
    for n in others {
        let _ = writeln!(out, "académie node {} on {}", n.node.node, n.node.addr);
    }
    out
}

/// Toulouse's whole cycle through the public API: registration, the training of the school year
/// before, the exam session, the certificates. Returns what it did, and where a certificate's QR
/// code leads.
async fn toulouse_session(toulouse: &LocalNode, year: i32) -> anyhow::Result<(String, String)> {
    let channel = toulouse.channel().await?;
    let (mut out, list) = seed_registration(toulouse, channel.clone())
        .await
        .context("seeding registration")?;
    let mint = |subject: &str, roles: &[Role]| toulouse.token(subject, roles);
    let training =
        cplds_training::scenario::run_for_year(channel.clone(), "toulouse", &mint, year - 1)
            .await
            .context("the training cohort")?;
    let _ = write!(out, "\n{training}");

    let exam = cplds_examination::scenario::run(channel.clone(), "toulouse", &mint, &list)
        .await
        .context("the exam session")?;
    let _ = write!(out, "\n{exam}");
    let recteur = toulouse.token("recteur@ac-toulouse.fr", &[Role::Recteur])?;
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
    Ok((out, certificates.verification_url))
}

/// Commands to try the running nodes with, and tokens for them.
fn try_it(
    toulouse: &LocalNode,
    national: &LocalNode,
    year: i32,
    verification_url: &str,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let office = toulouse.token("dec@ac-toulouse.fr", &[Role::ExamOffice])?;
    let ministry = national.token("dgesco@education.gouv.fr", &[Role::Ministry])?;
    let _ = writeln!(out, "\nTry it (tokens valid 8 h):");
    let _ = writeln!(out, "  export TOKEN={office}   # exam office of toulouse");
    let _ = writeln!(
        out,
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"year\": {year}}}' {} cplds.v1.RegistrationService/CountCandidacies",
        toulouse.node.addr
    );
    let _ = writeln!(
        out,
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"year\": {year}}}' {} cplds.v1.FiguresService/GetSessionReport | jq -r .markdown   # the session report, from the académie's node",
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
            "  open http://{web}/verify in a browser (or curl -H 'Accept: application/json' {verification_url})   # what a QR code leads to",
        );
    }
    Ok(out)
}

fn demo_year() -> i32 {
    paris_year(Utc::now())
}
