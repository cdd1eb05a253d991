//! Reading certificates: one, a page of them, and the documents of an issued one (its PDF and
//! its signed credential), for staff and for the holder.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Listing, Paging, listing},
};
use sha2::{Digest, Sha256};

use super::{Inner, convert, parse_number, reader, subject};
use crate::{
    domain::certificate::{self as rules, parse_year_filter},
    printable,
    store::{CertificateFilter, certificate},
};

impl Inner {
    pub(super) async fn get(
        &self,
        caller: Caller,
        r: pb::GetCertificateRequest,
    ) -> ServiceResult<pb::Certificate> {
        let number = parse_number("number", &r.number)?;
        let c = self.find(&self.core.db, &number.to_string()).await?;
        self.ensure_access(&caller, &c)?;
        Ok(self.render(&c))
    }

    pub(super) async fn list(
        &self,
        caller: Caller,
        r: pb::ListCertificatesRequest,
    ) -> ServiceResult<pb::ListCertificatesResponse> {
        let mut v = Violations::default();
        let year = v.check("year", parse_year_filter(r.year));
        let state = v.check("state", convert::state_filter(r.state));
        let filter = CertificateFilter {
            year: year.flatten(),
            state: state.flatten(),
            // A candidate's list holds only their own certificates.
            email: reader(&caller).own_email(),
        };
        let paging = Paging::parse(&mut v, filter.scope(), r.page_size, &r.page_token);
        let paging = v.finish_with(paging)?;

        let mut rows =
            listing::list(&self.core.db, &filter, paging.after.clone(), paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |c| c.number.clone());
        Ok(pb::ListCertificatesResponse {
            certificates: rows.iter().map(|c| self.render(c)).collect(),
            next_page_token,
            total_size: listing::count(&self.core.db, &filter).await? as i64,
        })
    }

    /// An issued, unrevoked certificate the caller may read.
    async fn deliverable(
        &self,
        caller: &Caller,
        number: &str,
    ) -> ServiceResult<certificate::Model> {
        let number = parse_number("number", number)?.to_string();
        let c = self.find(&self.core.db, &number).await?;
        self.ensure_access(caller, &c)?;
        rules::can_deliver(c.state).on(subject(&number))?;
        Ok(c)
    }

    pub(super) async fn pdf(
        &self,
        caller: Caller,
        r: pb::GetCertificatePdfRequest,
    ) -> ServiceResult<pb::CertificatePdf> {
        let c = self.deliverable(&caller, &r.number).await?;
        let statement = convert::statement(self.academy, &c).ok_or_else(|| {
            ServiceError::internal(format!("issued certificate {} without statement", c.number))
        })?;
        let code = super::stored_code(&c).map(|code| code.grouped());
        let content =
            printable::certificate_pdf(&statement, &self.verification_url(&c), code.as_deref())
                .map_err(ServiceError::internal)?;
        Ok(pb::CertificatePdf {
            number: c.number.clone(),
            file_name: format!("{}.pdf", c.number),
            sha256: hex::encode(Sha256::digest(&content)),
            content,
        })
    }

    pub(super) async fn credential(
        &self,
        caller: Caller,
        r: pb::GetCertificateCredentialRequest,
    ) -> ServiceResult<pb::CertificateCredential> {
        let c = self.deliverable(&caller, &r.number).await?;
        Ok(pb::CertificateCredential {
            number: c.number.clone(),
            credential_json: c.credential.ok_or_else(|| {
                ServiceError::internal(format!(
                    "issued certificate {} without credential",
                    c.number
                ))
            })?,
            media_type: "application/vc".into(),
        })
    }
}
