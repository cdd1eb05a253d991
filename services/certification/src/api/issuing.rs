//! The recteur's acts: issuing (one certificate, or a whole session), revoking, and issuing a
//! duplicate. Each signs or changes the certificate, records the act and emits its events in one
//! unit of work; a guarded update refuses a concurrent change instead of overwriting it.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, UnitOfWork, listing},
};
use sea_orm::{IntoActiveModel, Set};

use super::{Inner, convert, parse_number, subject};
use crate::{
    domain::certificate::{
        self as rules, CertificateState, Issuance, changed_meanwhile, parse_revocation_text,
        parse_session_year, parse_signatory_name,
    },
    events,
    store::{self, CertificateFilter, certificate},
};

impl Inner {
    /// Signs and issues a prepared certificate in `uow`; `None` if a concurrent call issued
    /// (or otherwise changed) it first.
    async fn issue_in(
        &self,
        uow: &mut UnitOfWork,
        actor: &str,
        c: certificate::Model,
        signatory_name: Option<&str>,
    ) -> ServiceResult<Option<certificate::Model>> {
        let now = uow.now();
        let signatory = rules::signatory(self.academy, signatory_name);
        let mut issued = c.clone();
        issued.issued_at = Some(now);
        issued.signatory = Some(signatory.clone());
        let statement = convert::statement(self.academy, &issued)
            .ok_or_else(|| ServiceError::internal(format!("bad number {}", c.number)))?;
        let document = self.certificate_credential(&statement, &c)?;
        let (credential, kid) = self.sign(&document, now)?;
        let number = c.number.clone();
        let mut am = c.into_active_model();
        am.state = Set(CertificateState::Issued);
        am.issued_at = Set(Some(now));
        am.issued_by = Set(Some(actor.to_owned()));
        am.signatory = Set(Some(signatory));
        am.key_id = Set(Some(kid.clone()));
        am.credential = Set(Some(credential));
        am.updated_at = Set(now);
        let Some(row) = store::save_if_state(uow.txn(), am, CertificateState::Prepared).await?
        else {
            return Ok(None);
        };
        let detail = Some(format!("key {kid}"));
        uow.record(store::act(&number, actor, "issued", detail))
            .await?;
        uow.emit(events::issued(&row)).await?;
        Ok(Some(row))
    }

    pub(super) async fn issue_one(
        &self,
        caller: Caller,
        r: pb::IssueCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let mut v = Violations::default();
        let number = v.check("number", convert::number(&r.number));
        let signatory_name = v.check("signatory_name", parse_signatory_name(&r.signatory_name));
        let (number, signatory_name) = v.finish_with((number, signatory_name))?;
        let number = number.to_string();

        self.ensure_keys().await?;
        let mut uow = self.core.begin().await?;
        let c = self.find(uow.txn(), &number).await?;
        let (row, newly) = match rules::can_issue(c.state).on(subject(&number))? {
            Issuance::AlreadyIssued => (c, 0),
            Issuance::Issue => (
                self.issue_in(&mut uow, &caller.subject, c, signatory_name.as_deref())
                    .await?
                    .ok_or_else(|| changed_meanwhile().on(subject(&number)))?,
                1,
            ),
        };
        uow.commit().await?;
        self.issued.inc_by(newly);
        Ok(self.render(&row))
    }

    pub(super) async fn issue_batch(
        &self,
        caller: Caller,
        r: pb::IssueCertificatesRequest,
    ) -> ServiceResult<pb::IssueCertificatesResponse> {
        let mut v = Violations::default();
        let year = v.check("year", parse_session_year(r.year, self.core.now()));
        let signatory_name = v.check("signatory_name", parse_signatory_name(&r.signatory_name));
        let (year, signatory_name) = v.finish_with((year, signatory_name))?;

        self.ensure_keys().await?;
        let mut uow = self.core.begin().await?;
        let of_year = |state| CertificateFilter {
            year: Some(year),
            state,
            email: None,
        };
        let total = listing::count(uow.txn(), &of_year(None)).await?;
        rules::can_issue_session(year, total).on(format!("session/{year}"))?;
        let mut already = 0;
        for state in [CertificateState::Issued, CertificateState::Revoked] {
            already += listing::count(uow.txn(), &of_year(Some(state))).await?;
        }
        let prepared =
            store::certificates_in_state(uow.txn(), year, CertificateState::Prepared).await?;
        let mut issued = Vec::with_capacity(prepared.len());
        for c in prepared {
            match self
                .issue_in(&mut uow, &caller.subject, c, signatory_name.as_deref())
                .await?
            {
                Some(row) => issued.push(row),
                None => already += 1,
            }
        }
        uow.commit().await?;
        self.issued.inc_by(issued.len() as u64);
        tracing::info!(year, issued = issued.len(), already, by = %caller.log_id(), "certificates issued");
        Ok(pb::IssueCertificatesResponse {
            issued: issued.iter().map(|c| self.render(c)).collect(),
            already_issued_count: already as i64,
        })
    }

    pub(super) async fn revoke(
        &self,
        caller: Caller,
        r: pb::RevokeCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let mut v = Violations::default();
        let number = v.check("number", convert::number(&r.number));
        let reason = v.check("reason", convert::reason(r.reason));
        let text = v.check("reason_text", parse_revocation_text(reason, &r.reason_text));
        let (number, reason, text) = v.finish_with((number, reason, text))?;
        let number = number.to_string();

        let mut uow = self.core.begin().await?;
        let c = self.find(uow.txn(), &number).await?;
        rules::can_revoke(c.state).on(subject(&number))?;
        let now = uow.now();
        let mut am = c.into_active_model();
        am.state = Set(CertificateState::Revoked);
        am.revoked_at = Set(Some(now));
        am.revoked_by = Set(Some(caller.subject.clone()));
        am.revocation_reason = Set(Some(reason));
        am.revocation_text = Set(text);
        am.updated_at = Set(now);
        let row = store::save_if_state(uow.txn(), am, CertificateState::Issued)
            .await?
            .ok_or_else(|| changed_meanwhile().on(subject(&number)))?;
        let detail = Some(reason.as_str().to_owned());
        uow.record(store::act(&number, &caller.subject, "revoked", detail))
            .await?;
        uow.emit(events::revoked(&row)).await?;
        uow.commit().await?;
        tracing::info!(%number, %reason, by = %caller.log_id(), "certificate revoked");
        Ok(self.render(&row))
    }

    pub(super) async fn duplicate(
        &self,
        caller: Caller,
        r: pb::IssueDuplicateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let number = parse_number("number", &r.number)?.to_string();

        self.ensure_keys().await?;
        let mut uow = self.core.begin().await?;
        let c = self.find(uow.txn(), &number).await?;
        rules::can_deliver(c.state).on(subject(&number))?;
        // Same statements, signed again with today's key: a holder who lost everything gets a
        // credential that verifies even if the original key has since left the configuration.
        let now = uow.now();
        let statement = convert::statement(self.academy, &c).ok_or_else(|| {
            ServiceError::internal(format!("issued certificate {number} without statement"))
        })?;
        let document = self.certificate_credential(&statement, &c)?;
        let (credential, kid) = self.sign(&document, now)?;
        let count = c.duplicate_count;
        let mut am = c.into_active_model();
        am.duplicate_count = Set(count + 1);
        am.last_duplicate_at = Set(Some(now));
        am.key_id = Set(Some(kid.clone()));
        am.credential = Set(Some(credential));
        am.updated_at = Set(now);
        let row = store::save_duplicate(uow.txn(), am, count)
            .await?
            .ok_or_else(|| changed_meanwhile().on(subject(&number)))?;
        let detail = Some(format!("duplicate {} signed with key {kid}", count + 1));
        uow.record(store::act(&number, &caller.subject, "duplicate", detail))
            .await?;
        uow.emit(events::duplicated(&row)).await?;
        uow.commit().await?;
        Ok(self.render(&row))
    }
}
