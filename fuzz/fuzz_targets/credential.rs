//! The credential verifier on arbitrary bytes posted as a credential: what the public
//! VerifyCredential method runs before the registry (parse, claimed number, the form of each
//! proof of the set, JCS and RDFC canonicalization, did:key, signatures, comparison with what
//! was issued). Never panics.
#![no_main]

use cplds_certification::domain::{credential, proof, verification};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(document) = verification::parse_presented(&text) else {
        return;
    };
    let _ = credential::claimed_number(&document);
    let _ = verification::oversized_proof(&document);
    let Ok(parts) = proof::signed_parts(&document) else {
        return;
    };
    let _ = credential::claimed_number(&parts.unsecured);
    for p in &parts.proofs {
        if let Ok(key) = p.did_key() {
            let _ = p.verify(&key);
        }
    }
    // As if the registry held the presented text itself, and something else.
    assert!(verification::as_issued(Some(&text), &parts));
    let _ = verification::as_issued(Some("{}"), &parts);
});
