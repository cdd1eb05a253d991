//! Multibase, Multikey and did:key parsing on arbitrary text; what parses re-encodes to itself.
#![no_main]

use cplds_certification::domain::multibase;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = multibase::from_base58btc(text) {
        assert_eq!(
            multibase::from_base58btc(&multibase::base58btc(&bytes)).ok(),
            Some(bytes)
        );
    }
    if let Ok(bytes) = multibase::from_base64url(text) {
        assert_eq!(
            multibase::from_base64url(&multibase::base64url(&bytes)).ok(),
            Some(bytes)
        );
    }
    if let Ok(key) = multibase::parse_multikey(text) {
        assert_eq!(
            multibase::parse_multikey(&multibase::multikey(&key)).ok(),
            Some(key)
        );
    }
    if let Ok(key) = multibase::parse_did_key_method(text) {
        let method = multibase::did_key_method(&key);
        assert_eq!(multibase::parse_did_key_method(&method).ok(), Some(key));
    }
    let _ = multibase::signature(text);
});
