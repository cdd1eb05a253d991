//! proto ⇄ domain. Parsing request fields yields domain values or messages for the field's
//! violation; rendering turns stored rows into proto messages.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{academy::Academy, time::to_timestamp};

use crate::{
    domain::{
        certificate::{CertificateState, RevocationReason, Statement, TITLE, of_academy},
        number::CertificateNumber,
        verification::{Answer, Finding, Rejection},
    },
    store::certificate,
};

pub fn state_pb(s: CertificateState) -> pb::CertificateState {
    match s {
        CertificateState::Prepared => pb::CertificateState::Prepared,
        CertificateState::Issued => pb::CertificateState::Issued,
        CertificateState::Revoked => pb::CertificateState::Revoked,
        CertificateState::Cancelled => pb::CertificateState::Cancelled,
    }
}

/// Optional filter: UNSPECIFIED means no filter.
pub fn state_filter(v: i32) -> Result<Option<CertificateState>, String> {
    match pb::CertificateState::try_from(v) {
        Ok(pb::CertificateState::Unspecified) => Ok(None),
        Ok(pb::CertificateState::Prepared) => Ok(Some(CertificateState::Prepared)),
        Ok(pb::CertificateState::Issued) => Ok(Some(CertificateState::Issued)),
        Ok(pb::CertificateState::Revoked) => Ok(Some(CertificateState::Revoked)),
        Ok(pb::CertificateState::Cancelled) => Ok(Some(CertificateState::Cancelled)),
        Err(_) => Err(format!("{v} is not a known state")),
    }
}

pub fn reason_pb(r: RevocationReason) -> pb::RevocationReason {
    match r {
        RevocationReason::Fraud => pb::RevocationReason::Fraud,
        RevocationReason::AdministrativeError => pb::RevocationReason::AdministrativeError,
        RevocationReason::DecisionAnnulled => pb::RevocationReason::DecisionAnnulled,
        RevocationReason::Other => pb::RevocationReason::Other,
    }
}

pub fn reason(v: i32) -> Result<RevocationReason, String> {
    match pb::RevocationReason::try_from(v) {
        Ok(pb::RevocationReason::Unspecified) => Err("is required".into()),
        Ok(pb::RevocationReason::Fraud) => Ok(RevocationReason::Fraud),
        Ok(pb::RevocationReason::AdministrativeError) => Ok(RevocationReason::AdministrativeError),
        Ok(pb::RevocationReason::DecisionAnnulled) => Ok(RevocationReason::DecisionAnnulled),
        Ok(pb::RevocationReason::Other) => Ok(RevocationReason::Other),
        Err(_) => Err(format!("{v} is not a known reason")),
    }
}

pub fn number(s: &str) -> Result<CertificateNumber, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    CertificateNumber::parse(s).map_err(|e| e.to_string())
}

/// A revocation as the public sees it: when, and the reason's code.
pub fn public_revocation_pb(
    at: Option<DateTime<Utc>>,
    reason: Option<RevocationReason>,
) -> Option<pb::Revocation> {
    Some(pb::Revocation {
        revoke_time: Some(to_timestamp(at?)),
        reason: reason.map_or(0, |r| reason_pb(r) as i32),
        reason_text: String::new(),
        revoked_by: String::new(),
    })
}

/// The revocation as staff see it: also who revoked, and their words.
pub fn revocation_pb(c: &certificate::Model) -> Option<pb::Revocation> {
    public_revocation_pb(c.revoked_at, c.revocation_reason).map(|r| pb::Revocation {
        reason_text: c.revocation_text.clone().unwrap_or_default(),
        revoked_by: c.revoked_by.clone().unwrap_or_default(),
        ..r
    })
}

pub fn certificate_pb(
    academy: &Academy,
    c: &certificate::Model,
    verification_url: String,
) -> pb::Certificate {
    pb::Certificate {
        number: c.number.clone(),
        academy: academy.code.to_owned(),
        year: c.year,
        state: state_pb(c.state) as i32,
        candidacy_id: c.candidacy_id.clone(),
        holder_name: c.holder_name.clone(),
        last_name: c.last_name.clone(),
        first_name: c.first_name.clone(),
        birth_date: c.birth_date.clone(),
        email: c.email.clone(),
        session_id: c.session_id.clone(),
        admission_time: Some(to_timestamp(c.admitted_at)),
        prepare_time: Some(to_timestamp(c.prepared_at)),
        issue_time: c.issued_at.map(to_timestamp),
        issued_by: c.issued_by.clone().unwrap_or_default(),
        signatory: c.signatory.clone().unwrap_or_default(),
        key_id: c.key_id.clone().unwrap_or_default(),
        duplicate_count: c.duplicate_count.max(0) as u32,
        last_duplicate_time: c.last_duplicate_at.map(to_timestamp),
        revocation: revocation_pb(c),
        status_list_index: c.status_index,
        verification_url,
        verification_code: c
            .verification_code
            .as_deref()
            .and_then(|t| crate::domain::code::VerificationCode::parse(t).ok())
            .map(|code| code.grouped())
            .unwrap_or_default(),
    }
}

/// What an issued (or revoked) certificate states; `None` before issuance.
pub fn statement(academy: &'static Academy, c: &certificate::Model) -> Option<Statement> {
    Some(Statement {
        number: CertificateNumber::parse(&c.number).ok()?,
        holder_name: c.holder_name.clone(),
        academy,
        admitted_at: c.admitted_at,
        issued_at: c.issued_at?,
        signatory: c.signatory.clone()?,
        last_duplicate_at: c.last_duplicate_at,
    })
}

pub fn statement_pb(s: &Statement) -> pb::CertificateStatement {
    pb::CertificateStatement {
        number: s.number.to_string(),
        holder_name: s.holder_name.clone(),
        title: TITLE.to_owned(),
        academy: s.academy.code.to_owned(),
        academy_name: format!("Académie {}", of_academy(s.academy.name)),
        year: s.year(),
        admission_date: s.admission_date(),
        issue_date: s.issue_date(),
        signatory: s.signatory.clone(),
        last_duplicate_date: s.last_duplicate_date().unwrap_or_default(),
    }
}

/// The public answer for a number: the statements and the revocation's date and (closed)
/// reason only when the verifier holds the document.
pub fn verification_pb(number: String, a: &Answer) -> pb::CertificateVerification {
    let (status, revocation) = match a {
        Answer::Full(Finding::OtherAcademy(_) | Finding::NotIssued) => {
            (pb::VerificationStatus::Unknown, None)
        }
        Answer::Full(Finding::Valid(_)) | Answer::StatusOnly { revoked: false } => {
            (pb::VerificationStatus::Valid, None)
        }
        Answer::Full(Finding::Revoked { at, reason, .. }) => (
            pb::VerificationStatus::Revoked,
            public_revocation_pb(*at, *reason),
        ),
        Answer::StatusOnly { revoked: true } => (pb::VerificationStatus::Revoked, None),
        Answer::WrongCode => (pb::VerificationStatus::Invalid, None),
    };
    pb::CertificateVerification {
        status: status as i32,
        number,
        explanation: a.explanation(),
        statement: a.statement().map(statement_pb),
        revocation,
        ..Default::default()
    }
}

/// The answer for a presented credential that is not valid.
pub fn rejection_pb(number: String, r: &Rejection) -> pb::CertificateVerification {
    pb::CertificateVerification {
        status: pb::VerificationStatus::Invalid as i32,
        number,
        explanation: r.explanation(),
        ..Default::default()
    }
}
