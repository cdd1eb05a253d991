//! Arbitrary bytes as an EventEnvelope off the national stream, through the pure part of the
//! national ingest: decoding, the time it occurred, the figures year, the profile, the training
//! minutes and the exam parts a fact folds into a record. Never panics.
#![no_main]

use cplds_national::domain::record::{self, Dimension, Part, Record};
use cplds_proto::v1::{EventEnvelope, event_envelope::Payload};
use prost::Message as _;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(e) = EventEnvelope::decode(data) else {
        return;
    };
    if let Some(t) = &e.occurred_at {
        let _ = cplds_runtime::time::from_timestamp(t);
    }
    let Some(p) = &e.payload else {
        return;
    };
    let _ = record::figures_year(p);
    match p {
        Payload::NationalCandidacyRegistered(x) => {
            let mut r = Record::new(&e.academy, x.year, &x.candidate_key);
            if let Some(pr) = record::profile(x.profile.as_ref()) {
                r.profile = pr;
            }
            for d in [
                Dimension::Department,
                Dimension::Sex,
                Dimension::StaffCategory,
                Dimension::WorkplaceType,
                Dimension::Academy,
            ] {
                let _ = r.dimension(d);
            }
        }
        Payload::NationalExamResult(x) => {
            let _ = record::profile(x.profile.as_ref());
            for part in [&x.part_1, &x.part_2].into_iter().flatten() {
                if let Some(p) = Part::from_fact(part.absent, part.mark_half_points) {
                    let _ = p.mark();
                }
            }
        }
        Payload::NationalTrainingCompleted(x) => {
            let _ = record::minutes(x.hours.as_ref());
        }
        Payload::NationalTrainingAbandoned(x) => {
            let _ = record::minutes(x.hours.as_ref());
        }
        _ => {}
    }
});
