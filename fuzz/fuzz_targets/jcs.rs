//! The certification JCS canonicaliser (RFC 8785) on arbitrary text: parsing never panics, and
//! canonical text parses back to itself (canonicalising twice is stable).
#![no_main]

use cplds_certification::domain::jcs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Both parsers the service meets: the strict one (presented credentials) and serde_json's.
    let strict = jcs::parse_strict(text);
    let values = [strict.ok(), serde_json::from_str(text).ok()];
    for value in values.into_iter().flatten() {
        let Ok(once) = jcs::canonicalize(&value) else {
            continue;
        };
        let again = jcs::parse_strict(&once).expect("canonical JSON parses strictly");
        let twice = jcs::canonicalize(&again).expect("canonical JSON canonicalises");
        assert_eq!(once, twice, "canonicalising twice is stable");
    }
});
