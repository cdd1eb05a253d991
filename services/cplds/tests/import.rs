//! `cplds import`: a past session's CSV sent to the node's exam service as an operator runs it,
//! with the node's configuration: what was sent is printed, the same file again sends nothing,
//! and a file with bad rows imports nothing and names every one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_runtime::testing::{TestNode, TestNodeOptions};

const HEADER: &str = "staff_number,sex,department,staff_category,workplace_type,mlds_actions,dropout_referent,status,part_1,part_2\n";

#[tokio::test]
async fn a_past_session_is_imported_from_the_command_line() {
    let modules = cplds::academy_modules(&["examination".to_owned()]).unwrap();
    let node = TestNode::start(TestNodeOptions::new("reims", modules))
        .await
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("session-2024.csv");
    std::fs::write(
        &good,
        format!(
            "{HEADER}12E0000001AAA,female,51,first_degree,college,yes,no,validated,14,12.5\n\
             12E0000002AAA,male,08,second_degree_tenured,lycee,no,yes,validated,ABS,11\n\
             12E0000003AAA,male,10,first_degree,erea,no,no,withdrawn,,\n"
        ),
    )
    .unwrap();
    let bad = files.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "{HEADER}12E0000001AAA,F,51,first_degree,college,yes,no,validated,14,12.5\n\
             12E0000002AAA,male,08,second_degree_tenured,lycee,no,yes,validated,21,11\n"
        ),
    )
    .unwrap();
    let data_dir = node.config.data_dir.clone();
    let addr = format!("http://{}", node.addr);
    let import = |file: std::path::PathBuf| {
        let (data_dir, addr) = (data_dir.clone(), addr.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_cplds"))
                .args([
                    "import",
                    "--year",
                    "2024",
                    "--academy",
                    "reims",
                    "--addr",
                    &addr,
                ])
                .arg("--data-dir")
                .arg(&data_dir)
                .arg(&file)
                .output()
                .unwrap()
        })
    };

    let out = import(good.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 candidate(s), 3 sent to the national node, 0 unchanged"),
        "{stdout}"
    );
    let again = import(good).await.unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 sent to the national node, 3 unchanged")
    );
    let refused = import(bad).await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("csv[2].sex: ") && stderr.contains("csv[3].part_1: "),
        "every bad row named: {stderr}"
    );
}
