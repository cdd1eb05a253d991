//! Logs and traces leave the node (files, OTLP collectors) and are kept by others: they carry ids
//! and hashes, never a person's e-mail address. The whole demo scenario (every service, the
//! national node) runs with every log line captured, and no line holds an address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[tokio::test]
async fn the_logs_of_a_whole_scenario_hold_no_email_address() {
    let logs = cplds_runtime::testing::capture_logs();
    cplds_runtime::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let demo = cplds::demo::run(cplds::demo::DemoOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
    })
    .await
    .unwrap();
    demo.shutdown().await.unwrap();
    let text = logs.text();
    assert!(
        text.contains("admitted list published"),
        "the scenario's acts were logged:\n{text}"
    );
    let leaks: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.split(|c: char| c.is_whitespace() || "=\"',;()[]{}<>".contains(c))
                .any(|word| {
                    let mut parts = word.split('@');
                    matches!(
                        (parts.next(), parts.next(), parts.next()),
                        (Some(user), Some(domain), None)
                            if !user.is_empty() && domain.contains('.')
                    )
                })
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "e-mail addresses in the logs:\n{}",
        leaks.join("\n")
    );
}
