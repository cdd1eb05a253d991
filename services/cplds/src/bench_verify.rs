//! `cplds bench verify`: what public verification costs an académie node under abuse.
//!
//! 1. The CPU spent refusing a credential whose `proofValue` is 60 KB (a genuine one has 89
//!    characters): in-process, the length check that refuses it beside the base58 decoding it
//!    spares (quadratic); then through gRPC, the process CPU per refused call (client included).
//! 2. `concurrent` simultaneous maximal public calls (credentials of 64 KiB, parsed,
//!    canonicalised and checked): how many were answered, how many the node's gate refused
//!    (RESOURCE_EXHAUSTED), the peak resident memory, and the slowest health check meanwhile.
//!
//! Figures are printed, never asserted.

use std::{
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use cplds_certification::{
    CertificationModule,
    domain::{
        credential::MAX_CREDENTIAL_BYTES,
        multibase::{self, did_key_method},
        verification,
    },
};
use cplds_proto::v1::{
    self as pb, certification_service_client::CertificationServiceClient,
    verify_certificate_request::Subject,
};
use cplds_runtime::bus::memory::InMemoryBus;
use ed25519_dalek::SigningKey;
use serde_json::json;
use tonic::{Code, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{
    memory,
    sandbox::{LocalNode, LocalNodeSpec},
};

pub struct VerifyBenchOptions {
    /// Refused calls measured through gRPC.
    pub requests: usize,
    /// Simultaneous maximal public calls.
    pub concurrent: usize,
}

/// CPU time of this process (user + system), from `/proc/self/stat` (Linux; 100 ticks a second).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A credential-shaped document whose proof value has `proof_chars` characters, padded with a
/// description of `padding` bytes.
fn credential(proof_chars: usize, padding: usize) -> String {
    let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:cplds:certificate:CPLDS-TOULOUSE-2025-000001",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "description": "x".repeat(padding),
        "credentialSubject": {"name": "Inès GARCIA"},
        "proof": {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": "2025-07-10T09:30:01Z",
            "verificationMethod": did_key_method(&key),
            "proofPurpose": "assertionMethod",
            "proofValue": format!("z{}", "2".repeat(proof_chars.saturating_sub(1))),
        },
    })
    .to_string()
}

fn request(json: &str) -> pb::VerifyCertificateRequest {
    pb::VerifyCertificateRequest {
        subject: Some(Subject::CredentialJson(json.to_owned())),
        code: String::new(),
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub async fn run(opts: VerifyBenchOptions) -> anyhow::Result<String> {
    let mut out = String::new();
    let oversized = credential(60_000, 0);

    // 1. In-process: the check that refuses, beside the decoding it spares.
    let document: serde_json::Value = serde_json::from_str(&oversized)?;
    let value = document["proof"]["proofValue"].as_str().unwrap_or_default();
    let started = Instant::now();
    let decoded = multibase::from_base58btc(value).map(|b| b.len());
    let decode = started.elapsed();
    let rounds = 10_000u32;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(verification::oversized_proof(std::hint::black_box(
            &document,
        )));
        std::hint::black_box(multibase::signature(std::hint::black_box(value)).is_err());
    }
    let check = started.elapsed() / rounds;
    writeln!(
        out,
        "60 KB proofValue, in-process: refused by its length in {} (base58 decoding it, as \
         before: {:.1} ms, {} bytes)",
        micros(check),
        decode.as_secs_f64() * 1e3,
        decoded.unwrap_or(0),
    )?;

    // 2. Through gRPC, on a node of its own.
    let dir = tempfile::tempdir()?;
    let mut spec = LocalNodeSpec::new(
        "toulouse",
        dir.path().to_path_buf(),
        vec![Arc::new(CertificationModule)],
        Arc::new(InMemoryBus::new()),
    );
    // One client address here: the per-client rate is lifted, the node's concurrency kept.
    spec.config.server.public.per_client_burst = u32::MAX;
    spec.config.server.public.per_client_per_minute = u32::MAX;
    let max_concurrent = spec.config.server.public.max_concurrent;
    let node = LocalNode::start(spec).await?;
    let channel = node.channel().await?;
    let mut client = CertificationServiceClient::new(channel.clone());

    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut refused = 0;
    for _ in 0..opts.requests {
        if let Err(s) = client.verify_certificate(request(&oversized)).await {
            refused += usize::from(s.code() == Code::InvalidArgument);
        }
    }
    let wall = started.elapsed();
    match (cpu_before, process_cpu()) {
        (Some(a), Some(b)) => writeln!(
            out,
            "60 KB proofValue through gRPC: {refused}/{} refused (INVALID_ARGUMENT), {} of \
             process CPU per call (client and node), {} wall per call",
            opts.requests,
            micros((b - a) / opts.requests.max(1) as u32),
            micros(wall / opts.requests.max(1) as u32),
        )?,
        _ => writeln!(out, "process CPU: n/a (no /proc)")?,
    }

    // 3. A storm of maximal calls, and a health check meanwhile.
    let maximal = Arc::new(credential(89, MAX_CREDENTIAL_BYTES - 1024));
    let channels: Vec<Channel> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(node.channel().await?);
        }
        v
    };
    memory::reset_peak();
    let storm_over = tokio_util::sync::CancellationToken::new();
    let mut health = HealthClient::new(node.channel().await?);
    let watching = storm_over.clone();
    let health_task = tokio::spawn(async move {
        let (mut answered, mut slowest) = (0usize, Duration::ZERO);
        while !watching.is_cancelled() {
            let asked = Instant::now();
            let served = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok();
            slowest = slowest.max(asked.elapsed());
            answered += usize::from(served);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (answered, slowest)
    });
    let storm_started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..opts.concurrent {
        let mut c = CertificationServiceClient::new(channels[i % channels.len()].clone());
        let body = maximal.clone();
        calls.spawn(async move { c.verify_certificate(request(&body)).await.map(|_| ()) });
    }
    let (mut answered, mut gated) = (0, 0);
    while let Some(r) = calls.join_next().await {
        match r? {
            Ok(()) => answered += 1,
            Err(s) if s.code() == Code::ResourceExhausted => gated += 1,
            Err(s) => anyhow::bail!("a maximal call failed: {s}"),
        }
    }
    let storm = storm_started.elapsed();
    storm_over.cancel();
    let (health_checks, slowest_health) = health_task.await?;
    writeln!(
        out,
        "{} simultaneous maximal calls ({} KiB credentials; the node answers {max_concurrent} at \
         once): {answered} answered, {gated} refused at once (RESOURCE_EXHAUSTED); {:.0} ms; \
         peak resident memory {} MiB; {health_checks} health checks answered meanwhile, the \
         slowest in {:.1} ms",
        opts.concurrent,
        maximal.len() / 1024,
        storm.as_secs_f64() * 1e3,
        memory::format(memory::peak_mib()),
        slowest_health.as_secs_f64() * 1e3,
    )?;
    node.node.shutdown().await?;
    Ok(out)
}
