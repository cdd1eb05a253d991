//! The credential verifier on arbitrary bytes posted as a credential: what the public
//! VerifyCredential method runs before the registry (parse, claimed number, proof form, did:key,
//! signature, comparison with what was issued). Never panics.
#![no_main]

use cplds_certification::domain::{credential, verification};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(document) = verification::parse_presented(&text) else {
        return;
    };
    let _ = credential::claimed_number(&document);
    let Ok(parts) = credential::signed_parts(&document) else {
        return;
    };
    let _ = credential::claimed_number(&parts.unsecured);
    if let Ok(key) = parts.did_key() {
        let _ = parts.verify(&key);
    }
    // As if the registry held the presented text itself, and something else.
    assert!(verification::as_issued(Some(&text), &parts));
    let _ = verification::as_issued(Some("{}"), &parts);
});
