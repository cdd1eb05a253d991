//! The credential and the status list checked by a verifier nobody here wrote: Digital
//! Bazaar's `@digitalbazaar/vc` with the `eddsa-rdfc-2022` and `eddsa-jcs-2022` cryptosuites
//! (`tests/vc-verifier/verify.mjs`, installed from the npm registry with `npm ci`), resolving the
//! académie's did:web over HTTP from the running node.
//!
//! Without `node` or the installed packages the tests say so and pass, unless
//! `CPLDS_TEST_VC_VERIFIER=required` (set by `.ci/run`, which installs them): then they fail.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

use cplds_proto::v1 as pb;
use cplds_runtime::{
    clock::Clock,
    config::Config,
    testing::{ConfigTweak, http},
};
use serde_json::Value;

use crate::helpers::{Backend, Ctx, decision, start_with};

on_both!(
    a_standard_verifier_accepts_the_credential_and_the_status_list,
    a_standard_verifier_refuses_a_changed_byte_and_a_revoked_certificate,
);

pub const REQUIRED_ENV: &str = "CPLDS_TEST_VC_VERIFIER";

fn verifier_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vc-verifier")
}

/// Whether the verifier can run here; when it cannot, whether that is a failure.
fn verifier_available() -> bool {
    let dir = verifier_dir();
    let node = Command::new("node").arg("--version").output();
    let missing = match node {
        Ok(out) if out.status.success() => (!dir.join("node_modules/@digitalbazaar/vc").exists())
            .then(|| {
                format!(
                    "{}/node_modules is missing (run `npm ci` there)",
                    dir.display()
                )
            }),
        _ => Some("`node` is not on the PATH".to_owned()),
    };
    match missing {
        None => true,
        Some(why) if std::env::var(REQUIRED_ENV).as_deref() == Ok("required") => {
            panic!("{REQUIRED_ENV}=required but {why}")
        }
        Some(why) => {
            eprintln!("skipped: the standard VC verifier cannot run: {why}");
            false
        }
    }
}

/// The verifier's exit code (0 verified, 1 not verified, 2 could not run) and its report, at
/// the time of `t`'s clock.
async fn run_verifier(t: &Ctx, credential: &str) -> (i32, Value) {
    let now = t
        .node
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), credential).unwrap();
    let path = file.path().to_owned();
    // On the blocking pool: the node answers the verifier's requests on this runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(verifier_dir().join("verify.mjs"))
            .arg(&path)
            .args(["--did-web-scheme", "http", "--now", &now])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "the verifier printed no report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// A node serving its pages on loopback (its did:web is `did:web:127.0.0.1%3A<port>:verify`),
/// with a certificate issued.
async fn serving(backend: Backend) -> Option<(Ctx, SocketAddr, pb::Certificate)> {
    let tweak: ConfigTweak = Box::new(|c: &mut Config| {
        c.http_listen = Some(([127, 0, 0, 1], 0).into());
        // The verifier fetches the DID document and the status list a few times per run.
        c.server.public.per_client_burst = 1000;
        c.server.public.per_client_per_minute = 6000;
    });
    let mut t = start_with(backend, Some(tweak)).await?;
    let addr = t.node.node.http_addr.expect("public pages served");
    let issued = t.issued(vec![decision(0, true)]).await.remove(0);
    Some((t, addr, issued))
}

async fn a_standard_verifier_accepts_the_credential_and_the_status_list(backend: Backend) {
    if !verifier_available() {
        return;
    }
    let Some((mut t, addr, issued)) = serving(backend).await else {
        return;
    };
    let office = t.office.clone();
    let credential = t.credential(&issued.number, &office).await.unwrap();
    let vc: Value = serde_json::from_str(&credential).unwrap();
    let did = format!("did:web:127.0.0.1%3A{}:verify", addr.port());
    assert_eq!(vc["issuer"]["id"], did);
    // The DID document is where did:web says, listing the key of the proofs.
    let doc = http(addr, "GET", "/verify/did.json", &[], b"")
        .await
        .unwrap()
        .json();
    assert_eq!(doc["id"], did);
    for proof in vc["proof"].as_array().unwrap() {
        let method = proof["verificationMethod"].as_str().unwrap();
        assert!(method.starts_with(&format!("{did}#")), "{method}");
        assert!(
            doc["assertionMethod"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == method),
            "{doc}"
        );
    }

    let (code, report) = run_verifier(&t, &credential).await;
    assert_eq!(code, 0, "{report:#}");
    let passed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for check in [
        "proof is an array (Open Badges 3.0 schema)",
        "credential: eddsa-rdfc-2022",
        "credential: eddsa-jcs-2022",
        "status list: eddsa-rdfc-2022",
        "status list: eddsa-jcs-2022",
        "status list: same issuer",
        "not revoked",
    ] {
        assert!(passed.contains(&check), "{check} missing: {report:#}");
    }
    // It resolved the did:web and fetched the status list from the node.
    assert!(report["fetches"].as_u64().unwrap() >= 2, "{report:#}");
}

async fn a_standard_verifier_refuses_a_changed_byte_and_a_revoked_certificate(backend: Backend) {
    if !verifier_available() {
        return;
    }
    let Some((mut t, _, issued)) = serving(backend).await else {
        return;
    };
    let office = t.office.clone();
    let credential = t.credential(&issued.number, &office).await.unwrap();
    let (code, report) = run_verifier(&t, &credential).await;
    assert_eq!(code, 0, "{report:#}");
    // One byte of the holder's name changed: both proofs fail.
    let at = credential.find(&issued.holder_name).unwrap() + issued.holder_name.len() - 1;
    let mut bytes = credential.clone().into_bytes();
    bytes[at] ^= 0x01;
    let forged = String::from_utf8(bytes).unwrap();
    let (code, report) = run_verifier(&t, &forged).await;
    assert_eq!(code, 1, "{report:#}");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        failed.contains(&"credential: eddsa-rdfc-2022")
            && failed.contains(&"credential: eddsa-jcs-2022"),
        "{report:#}"
    );
    // Revoked: the signed status list says so.
    t.revoke(
        &issued.number,
        pb::RevocationReason::Fraud,
        "dossier 2025-17",
    )
    .await
    .unwrap();
    let (code, report) = run_verifier(&t, &credential).await;
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "not revoked" && c["ok"] == false),
        "{report:#}"
    );
}
