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
};
use sha2::{Digest, Sha256};

use super::{Inner, act, convert, enrolment_subject, id_field};
use crate::{
    domain::{
        attestation::{self, Attestation, Issued, Verdict},
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
        let printed = self.print(&f, &progress, &number, now, by)?;
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
        Ok(convert::attestation_pb(&att)?)
    }

    /// Renders the attestation and signs its digest with the académie's document key.
    fn print(
        &self,
        f: &EnrolmentFile,
        progress: &Progress<'_>,
        number: &str,
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
            verification: &self.verification_url(number),
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

    /// What an attestation's QR code holds.
    fn verification_url(&self, number: &str) -> String {
        match &self.public {
            Some(p) => format!("{}/attestations/{number}", p.url()),
            None => number.to_owned(),
        }
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
        Ok(convert::attestation_pb(&a)?)
    }

    /// Public: what an attestation of that number states, and whether a presented PDF is it.
    pub(super) async fn verify_attestation(
        &self,
        _caller: Option<Caller>,
        r: pb::VerifyAttestationRequest,
    ) -> ServiceResult<pb::AttestationVerification> {
        let mut v = Violations::default();
        let number = v.check("number", attestation::parse_number(&r.number));
        let presented = v.check("sha256", attestation::parse_sha256(&r.sha256));
        let ((number, issuer), presented) = v.finish_with((number, presented))?;

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
        let issued = found.as_ref().map(|(a, _, _, holder)| Issued {
            holder,
            sha256: &a.sha256,
            issued_on: paris_date(a.issued_at),
        });
        let verdict = attestation::verify(self.academy, issuer, issued, presented.as_deref());

        let (status, explanation, known) = match verdict {
            Verdict::Unknown(why) => (pb::AttestationVerificationStatus::Unknown, why, false),
            Verdict::Altered(why) => (pb::AttestationVerificationStatus::Altered, why, true),
            Verdict::Valid(why) => (pb::AttestationVerificationStatus::Valid, why, true),
        };
        let mut reply = pb::AttestationVerification {
            status: status as i32,
            number,
            explanation,
            ..Default::default()
        };
        // What the attestation states is shown only when it is one of this académie's.
        if let (true, Some((a, e, c, holder))) = (known, found) {
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
