//! What certification publishes. Issuing and revoking emit, in their transaction, one event on
//! the internal stream (for the académie's services) and the pseudonymous fact on the national
//! stream (year and candidate key only, design rule 5). A duplicate is not a new certification:
//! it is told on the internal stream only.

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::time::to_timestamp;

use crate::store::certificate;

pub fn issued(c: &certificate::Model) -> Vec<Payload> {
    vec![
        Payload::CertificateIssued(pb::CertificateIssued {
            number: c.number.clone(),
            year: c.year,
            candidacy_id: c.candidacy_id.clone(),
            candidate_key: c.candidate_key.clone(),
            issued_at: c.issued_at.map(to_timestamp),
            duplicate: false,
        }),
        Payload::NationalCertificateIssued(pb::NationalCertificateIssued {
            year: c.year,
            candidate_key: c.candidate_key.clone(),
        }),
    ]
}

pub fn duplicated(c: &certificate::Model) -> Vec<Payload> {
    vec![Payload::CertificateIssued(pb::CertificateIssued {
        number: c.number.clone(),
        year: c.year,
        candidacy_id: c.candidacy_id.clone(),
        candidate_key: c.candidate_key.clone(),
        issued_at: c.last_duplicate_at.map(to_timestamp),
        duplicate: true,
    })]
}

pub fn revoked(c: &certificate::Model) -> Vec<Payload> {
    let reason = c
        .revocation_reason
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    vec![
        Payload::CertificateRevoked(pb::CertificateRevoked {
            number: c.number.clone(),
            year: c.year,
            candidate_key: c.candidate_key.clone(),
            reason: reason.clone(),
            revoked_at: c.revoked_at.map(to_timestamp),
        }),
        Payload::NationalCertificateRevoked(pb::NationalCertificateRevoked {
            year: c.year,
            candidate_key: c.candidate_key.clone(),
            // The reason code ("fraud", ...), never the recteur's free text.
            reason,
        }),
    ]
}
