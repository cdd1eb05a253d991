//! Supporting documents: uploaded while the candidacy awaits its decision (a bounded number of
//! each kind), read back by the candidate and the exam office. The bytes are checked, not the
//! client's word about them.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, new_id, parse_id},
};

use super::{Inner, OFFICE, act, candidacy_subject, convert, parse_candidacy_id};
use crate::{
    domain::{access, candidacy as rules, documents},
    store::{self, document},
};

impl Inner {
    pub(super) async fn upload(
        &self,
        caller: Caller,
        req: pb::UploadSupportingDocumentRequest,
    ) -> ServiceResult<pb::SupportingDocument> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let kind = v.check("kind", convert::required(req.kind));
        let file_name = v.check("file_name", documents::parse_file_name(&req.file_name));
        let content = v.check(
            "content",
            documents::check_content(&req.content, &req.content_type),
        );
        let (id, kind, file_name, (content_type, sha256)) =
            v.finish_with((id, kind, file_name, content))?;
        let acting = access::acting(&caller, OFFICE)?;

        let mut uow = self.core.begin().await?;
        let c = self.candidacy(uow.txn(), &id).await?;
        acting.may_see(&c.id, &c.email)?;
        // `facts` locks the acts on the candidacy's staff number: two uploads at once cannot
        // both take the last place of a kind.
        let (facts, _) = self.facts(uow.txn(), &c).await?;
        rules::can_add_document(&facts).on(candidacy_subject(&id))?;
        let present = store::document_kinds(uow.txn(), &id).await?;
        documents::can_add(kind, &present).on(candidacy_subject(&id))?;
        let meta = document::Model {
            id: new_id(),
            candidacy_id: id.clone(),
            kind,
            file_name,
            content_type: content_type.into(),
            size_bytes: req.content.len() as i64,
            sha256,
            uploaded_at: uow.now(),
            uploaded_by: caller.subject.clone(),
        };
        let meta = store::insert_document(uow.txn(), meta, req.content).await?;
        let detail = format!("{kind} {}", meta.sha256);
        uow.record(act(&id, &caller, "document_uploaded", Some(detail)))
            .await?;
        uow.commit().await?;
        Ok(convert::document_pb(&meta))
    }

    pub(super) async fn list_documents(
        &self,
        caller: Caller,
        req: pb::ListSupportingDocumentsRequest,
    ) -> ServiceResult<pb::ListSupportingDocumentsResponse> {
        let id = parse_candidacy_id(&req.candidacy_id)?;
        let acting = access::acting(&caller, OFFICE)?;
        let c = self.candidacy(&self.core.db, &id).await?;
        acting.may_see(&c.id, &c.email)?;
        let docs = store::documents(&self.core.db, &id).await?;
        Ok(pb::ListSupportingDocumentsResponse {
            documents: docs.iter().map(convert::document_pb).collect(),
        })
    }

    pub(super) async fn download(
        &self,
        caller: Caller,
        req: pb::DownloadSupportingDocumentRequest,
    ) -> ServiceResult<pb::DownloadSupportingDocumentResponse> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let doc_id = v.check("document_id", parse_id(&req.document_id));
        let (id, doc_id) = v.finish_with((id, doc_id))?;
        let acting = access::acting(&caller, OFFICE)?;

        let db = &self.core.db;
        let c = self.candidacy(db, &id).await?;
        acting.may_see(&c.id, &c.email)?;
        let (meta, content) = store::document_with_content(db, &id, &doc_id)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(format!("document {doc_id} of candidacy {id}"))
            })?;
        Ok(pb::DownloadSupportingDocumentResponse {
            document: Some(convert::document_pb(&meta)),
            content,
        })
    }
}
