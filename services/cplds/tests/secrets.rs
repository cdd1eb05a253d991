//! Secrets only where they are used: a process that runs none of registration, training and
//! examination (which makes the keys of imported past candidates; one service per pod) never
//! creates nor reads the académie's pseudonymisation secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_runtime::testing::{TestNode, TestNodeOptions};

async fn holds_pseudonym_secret(services: &[&str]) -> bool {
    let names: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
    let modules = cplds::academy_modules(&names).unwrap();
    let node = TestNode::start(TestNodeOptions::new("toulouse", modules))
        .await
        .unwrap();
    node.config.secrets_dir().join("pseudonym.key").exists()
}

#[tokio::test]
async fn only_the_services_that_make_candidate_keys_hold_the_pseudonym_secret() {
    for services in [&["certification"][..], &["reporting"]] {
        assert!(!holds_pseudonym_secret(services).await, "{services:?}");
    }
    for services in [&["registration"][..], &["training"], &["examination"]] {
        assert!(holds_pseudonym_secret(services).await, "{services:?}");
    }
}
