//! Arbitrary bytes as a SubmitCandidacyRequest through the registration parser the
//! SubmitCandidacy handler runs (candidate details, channel). Never panics: bad input is
//! violations.
#![no_main]

use chrono::{TimeZone, Utc};
use cplds_proto::v1::SubmitCandidacyRequest;
use cplds_registration::api::convert;
use cplds_runtime::{academy::Academy, error::Violations};
use prost::Message as _;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(req) = SubmitCandidacyRequest::decode(data) else {
        return;
    };
    let Some(academy) = Academy::find("toulouse") else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2025, 3, 1, 10, 0, 0)
        .single()
        .expect("a valid instant");
    let mut v = Violations::default();
    let candidate = convert::candidate(req.candidate.as_ref(), academy, now, &mut v);
    let channel = convert::channel(&req, now, &mut v);
    if v.is_empty() {
        assert!(
            candidate.is_some() && channel.is_some(),
            "no violation yet nothing parsed"
        );
    }
});
