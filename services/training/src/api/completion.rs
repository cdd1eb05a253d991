//! Completion: the attestation issued once everything is recorded (a PDF signed with the
//! académie's document key, its QR code leading to its verification page), read back by the
//! office and its holder, and verified by anyone with its number.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::Academy,
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::Decided,
    time::paris_date,
    verification_code::VerificationCode,
};
use sha2::{Digest, Sha256};

use super::{Inner, act, convert, enrolment_subject, id_field};
use crate::{
    domain::{
        attestation::{self, Attestation, Issued, Presented, Verdict},
        calendar,
        enrolment::may_act_on,
        hours::{self, Progress},
    },
    events,
    store::{self, EnrolmentFile, attestation as attestation_row},
};

/// A printed attestation and the académie's signature of its digest.
struct Printed {
    pdf: Vec<u8>,
    sha256: String,
    key_id: String,
    signature: String,
}

impl Inner {
    pub(super) async fn issue_attestation(
        &self,
        caller: Caller,
        r: pb::IssueAttestationRequest,
    ) -> ServiceResult<pb::TrainingAttestation> {
        let id = id_field("enrolment_id", &r.enrolment_id)?;
        let mut uow = self.core.begin().await?;
        let f = self.file(uow.txn(), &id).await?;
        let (p, choice, ledger) = (&f.programme.programme, f.choice.as_ref(), f.ledger());
        let settings = self.settings(uow.txn()).await?;
        hours::can_complete(f.status(), p, choice, &ledger, f.internship(), &settings)
            .on(enrolment_subject(&id))?;
        let progress = hours::progress(p, choice, &ledger);

        let (now, by) = (uow.now(), caller.subject.as_str());
        let year = f.school_year();
        let sequence =
            store::next_counter(uow.txn(), &format!("attestations/{}", year.year())).await?;
        let number = attestation::number(self.academy, year, sequence);
        let code = VerificationCode::generate();
        let printed = self.print(&f, &progress, &number, &code, now, by)?;
        let att = store::insert_attestation(
            uow.txn(),
            attestation_row::Model {
                number: number.clone(),
                enrolment_id: f.enrolment.id.clone(),
                cohort_id: f.cohort.id.clone(),
                issued_at: now,
                issued_by: by.to_owned(),
                hours: store::encode_hours(&progress.hours)?,
                pdf: printed.pdf,
                sha256: printed.sha256,
                key_id: Some(printed.key_id),
                signature: Some(printed.signature),
                verification_code: Some(code.as_str().to_owned()),
            },
        )
        .await?;
        let hours = progress.hours;
        let row = store::complete(uow.txn(), f.enrolment, &number, now).await?;
        uow.record(act(&id, by, "completed", Some(number.clone())))
            .await?;
        uow.emit(events::completed(self.academy, &f.cohort, &row, hours, now))
            .await?;
        uow.commit().await?;
        tracing::info!(enrolment = %id, attestation = %number, "training completed");
        Ok(self.attestation_pb(&att)?)
    }

    /// Renders the attestation and signs its digest with the académie's document key.
    fn print(
        &self,
        f: &EnrolmentFile,
        progress: &Progress<'_>,
        number: &str,
        code: &VerificationCode,
        now: DateTime<Utc>,
        by: &str,
    ) -> ServiceResult<Printed> {
        let e = &f.enrolment;
        let home = Academy::find(&e.home_academy).ok_or_else(|| {
            ServiceError::internal(format!("stored home académie {:?}", e.home_academy))
        })?;
        let tutor = e.tutor_email.as_ref().map(|_| {
            format!(
                "{} {}",
                e.tutor_first_name.clone().unwrap_or_default(),
                e.tutor_last_name.clone().unwrap_or_default()
            )
        });
        let pdf = attestation::render(&Attestation {
            number,
            organizing: self.academy,
            home,
            first_name: &e.first_name,
            last_name: &e.last_name,
            school_year: f.school_year(),
            cohort_title: &f.cohort.title,
            programme_title: &f.programme.row.title,
            programme_version: f.programme.row.version,
            modules: progress
                .modules
                .iter()
                .filter(|m| m.required)
                .map(|m| (m.module, m.credited))
                .collect(),
            hours: progress.hours,
            tutor,
            issued_at: now,
            issued_by: by,
            code: &code.grouped(),
            verification: &self.verification_url(number, Some(code)),
        })
        .map_err(ServiceError::internal)?;
        let digest = Sha256::digest(&pdf);
        let (key_id, signature) = self.keyring.sign(&digest);
        Ok(Printed {
            pdf,
            sha256: hex::encode(digest),
            key_id,
            signature: STANDARD.encode(signature.to_bytes()),
        })
    }

    /// What an attestation's QR code holds: its page with the code, so whoever scans the
    /// document sees what it states; or the number and the code, without a public address.
    fn verification_url(&self, number: &str, code: Option<&VerificationCode>) -> String {
        match (&self.public, code) {
            (Some(p), Some(code)) => {
                format!("{}/attestations/{number}?code={}", p.url(), code.grouped())
            }
            (Some(p), None) => format!("{}/attestations/{number}", p.url()),
            (None, Some(code)) => format!("{number} {}", code.grouped()),
            (None, None) => number.to_owned(),
        }
    }

    /// The attestation as its holder and the office read it, with its code and QR content.
    fn attestation_pb(
        &self,
        a: &attestation_row::Model,
    ) -> Result<pb::TrainingAttestation, sea_orm::DbErr> {
        let code = stored_code(a);
        let mut reply = convert::attestation_pb(a)?;
        reply.verification_url = self.verification_url(&a.number, code.as_ref());
        reply.verification_code = code.map(|c| c.grouped()).unwrap_or_default();
        Ok(reply)
    }

    pub(super) async fn get_attestation(
        &self,
        caller: Caller,
        r: pb::GetAttestationRequest,
    ) -> ServiceResult<pb::TrainingAttestation> {
        let id = id_field("enrolment_id", &r.enrolment_id)?;
        let e = self.enrolment(&self.core.db, &id).await?;
        may_act_on(&caller, &e.id, &e.email)?;
        let a = store::attestation_of(&self.core.db, &id)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no attestation is issued for enrolment {id}"))
            })?;
        Ok(self.attestation_pb(&a)?)
    }

    /// Public: whether an attestation of that number was issued; with its code or its PDF's
    /// checksum, what it states.
    pub(super) async fn verify_attestation(
        &self,
        _caller: Option<Caller>,
        r: pb::VerifyAttestationRequest,
    ) -> ServiceResult<pb::AttestationVerification> {
        let mut v = Violations::default();
        let number = v.check("number", attestation::parse_number(&r.number));
        let sha256 = v.check("sha256", attestation::parse_sha256(&r.sha256));
        let code = v.check("code", parse_code(&r.code));
        let ((number, issuer), sha256, code) = v.finish_with((number, sha256, code))?;

        let db = &self.core.db;
        let found = match store::attestation(db, &number).await? {
            Some(a) => {
                let e = self.enrolment(db, &a.enrolment_id).await?;
                let c = self.cohort(db, &a.cohort_id).await?;
                let holder = attestation::holder_name(&e.first_name, &e.last_name);
                Some((a, e, c, holder))
            }
            None => None,
        };
        let stored = found.as_ref().and_then(|(a, ..)| stored_code(a));
        let issued = found.as_ref().map(|(a, _, _, holder)| Issued {
            holder,
            sha256: &a.sha256,
            code: stored.as_ref(),
            issued_on: paris_date(a.issued_at),
        });
        let presented = Presented {
            code: code.as_ref(),
            sha256: sha256.as_deref(),
        };
        let verdict = attestation::verify(self.academy, issuer, issued, presented);

        // What the attestation states is shown only to whoever holds it (code or checksum).
        let (status, explanation, shown) = match verdict {
            Verdict::Unknown(why) => (pb::AttestationVerificationStatus::Unknown, why, false),
            Verdict::Altered(why) => (pb::AttestationVerificationStatus::Altered, why, false),
            Verdict::Issued(why) => (pb::AttestationVerificationStatus::Valid, why, false),
            Verdict::Valid(why) => (pb::AttestationVerificationStatus::Valid, why, true),
        };
        let mut reply = pb::AttestationVerification {
            status: status as i32,
            number,
            explanation,
            ..Default::default()
        };
        if let (true, Some((a, e, c, holder))) = (shown, found) {
            reply.holder_name = holder;
            reply.academy = self.academy.code.to_owned();
            reply.home_academy = e.home_academy;
            reply.school_year = c.school_year;
            reply.cohort_title = c.title;
            reply.hours = Some(convert::hours_pb(&store::decode_hours(&a.hours)?));
            reply.issue_date = calendar::iso(paris_date(a.issued_at));
            reply.sha256 = a.sha256;
            reply.key_id = a.key_id.unwrap_or_default();
            reply.signature = a.signature.unwrap_or_default();
        }
        Ok(reply)
    }
}

/// The verification code an attestation holds, if it has a readable one.
fn stored_code(a: &attestation_row::Model) -> Option<VerificationCode> {
    a.verification_code
        .as_deref()
        .and_then(|t| VerificationCode::parse(t).ok())
}

/// A code typed beside a number; empty means none.
fn parse_code(s: &str) -> Result<Option<VerificationCode>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    VerificationCode::parse(s).map(Some)
}
