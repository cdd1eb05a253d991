//! The generated code is checked in (`proto/src/generated/`), as Quickwit does: compiling the protobuf
//! compiler and the code generator on every fresh clone cost a newcomer's first build about 30 s of
//! wall time for files that change only with the contracts. This test regenerates them from
//! `cplds/v1/*.proto` and fails when the checked-in copy differs; run it with
//! `CPLDS_REGENERATE=1 cargo test --workspace --test generated` to rewrite the copy after changing a contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{fs, path::PathBuf};

use prost::Message;

const DESCRIPTOR: &str = "cplds_descriptor.bin";
const CODE: &str = "cplds.v1.rs";

#[test]
fn checked_in_code_is_what_the_contracts_generate() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("cplds/v1"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .map(|path| path.strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    files.sort();

    let fds = protox::compile(&files, [&root]).unwrap();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cplds-proto-generated");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join(DESCRIPTOR), fds.encode_to_vec()).unwrap();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(&out)
        .compile_fds(fds)
        .unwrap();

    let checked_in = root.join("src/generated");
    let regenerate = std::env::var_os("CPLDS_REGENERATE").is_some();
    let mut stale = Vec::new();
    for name in [DESCRIPTOR, CODE] {
        let fresh = fs::read(out.join(name)).unwrap();
        if regenerate {
            fs::write(checked_in.join(name), &fresh).unwrap();
        } else if fs::read(checked_in.join(name)).ok().as_deref() != Some(fresh.as_slice()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "proto/src/generated/{stale:?} differ from what cplds/v1/*.proto generate: run \
         `CPLDS_REGENERATE=1 cargo test --workspace --test generated` and commit the result"
    );
}
