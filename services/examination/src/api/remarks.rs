//! The jury's remarks of the session report, section by section: drafted and published by the
//! session's jury president (published once the deliberation is closed), read by the exam
//! office, the recteur and the jury president; the académie's report takes them from the event.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Act, Decided, parse_id},
    time::to_timestamp,
};

use super::{Inner, ensure_deliberated, id_field, is_office};
use crate::{
    domain::jury::{self, Publishing, Remarks},
    events,
    store::{self, jury_remarks, session},
};

fn sections_pb(r: &Remarks) -> pb::JuryRemarkSections {
    pb::JuryRemarkSections {
        general_remarks: r.general_remarks.clone(),
        part_1_remarks: r.part_1_remarks.clone(),
        part_2_remarks: r.part_2_remarks.clone(),
        advice: r.advice.clone(),
        positive_points: r.positive_points.clone(),
        points_to_improve: r.points_to_improve.clone(),
        points_to_avoid: r.points_to_avoid.clone(),
        conditions: r.conditions.clone(),
    }
}

fn remarks_pb(s: &session::Model, row: &jury_remarks::Model) -> ServiceResult<pb::JuryRemarks> {
    let (draft, published) = store::remarks_of(row)?;
    Ok(pb::JuryRemarks {
        session_id: s.id.clone(),
        year: s.year,
        unpublished_changes: published.as_ref() != Some(&draft),
        draft: Some(sections_pb(&draft)),
        draft_update_time: Some(to_timestamp(row.draft_updated_at)),
        draft_updated_by: row.draft_updated_by.clone(),
        published: published.as_ref().map(sections_pb),
        publish_time: row.published_at.map(to_timestamp),
        published_by: row.published_by.clone().unwrap_or_default(),
        version: row.version as u32,
    })
}

/// The session and the whole draft, every section too long named (`sections.advice`).
fn parse_draft(req: &pb::SaveJuryRemarksRequest) -> ServiceResult<(String, Remarks)> {
    let mut v = Violations::default();
    let session_id = v.check("session_id", parse_id(&req.session_id));
    let draft = match &req.sections {
        None => {
            v.add(
                "sections",
                "is required: the whole draft, one text per section",
            );
            None
        }
        Some(x) => Remarks::parse([
            &x.general_remarks,
            &x.part_1_remarks,
            &x.part_2_remarks,
            &x.advice,
            &x.positive_points,
            &x.points_to_improve,
            &x.points_to_avoid,
            &x.conditions,
        ])
        .map_err(|bad| {
            for (section, why) in bad {
                v.add(format!("sections.{section}"), why);
            }
        })
        .ok(),
    };
    v.finish_with((session_id, draft))
}

impl Inner {
    pub(super) async fn save_remarks(
        &self,
        caller: Caller,
        req: pb::SaveJuryRemarksRequest,
    ) -> ServiceResult<pb::JuryRemarks> {
        let (session_id, draft) = parse_draft(&req)?;
        let mut uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &session_id).await?;
        self.as_jury_president(uow.txn(), &s, &caller, "writes the jury's remarks")
            .await?;
        let existing = store::jury_remarks(uow.txn(), &s.id).await?;
        let row = store::save_remarks_draft(
            uow.txn(),
            &s.id,
            existing,
            &draft,
            &caller.subject,
            uow.now(),
        )
        .await?;
        uow.record(Act {
            kind: "jury_remarks",
            subject: &s.id,
            actor: &caller.subject,
            action: "drafted",
            detail: None,
        })
        .await?;
        let out = remarks_pb(&s, &row)?;
        uow.commit().await?;
        Ok(out)
    }

    pub(super) async fn publish_remarks(
        &self,
        caller: Caller,
        req: pb::PublishJuryRemarksRequest,
    ) -> ServiceResult<pb::JuryRemarks> {
        let id = id_field("session_id", &req.session_id)?;
        let mut uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &id).await?;
        self.as_jury_president(uow.txn(), &s, &caller, "publishes the jury's remarks")
            .await?;
        ensure_deliberated(&s)?;
        let subject = format!("session/{}", s.id);
        let row = jury::written(store::jury_remarks(uow.txn(), &s.id).await?).on(&subject)?;
        let (draft, published) = store::remarks_of(&row)?;
        let version =
            match jury::publish(&draft, published.as_ref(), row.version as u32).on(&subject)? {
                Publishing::New(version) => version,
                // Published already as it stands: nothing changes, nothing is sent again.
                Publishing::Unchanged => return remarks_pb(&s, &row),
            };
        let now = uow.now();
        let row = store::publish_remarks(uow.txn(), row, version, &caller.subject, now).await?;
        uow.record(Act {
            kind: "jury_remarks",
            subject: &s.id,
            actor: &caller.subject,
            action: "published",
            detail: Some(format!("version {version}")),
        })
        .await?;
        uow.emit(events::jury_remarks_published(&s, &draft)).await?;
        let out = remarks_pb(&s, &row)?;
        uow.commit().await?;
        tracing::info!(session = %s.id, version, "jury remarks published");
        Ok(out)
    }

    pub(super) async fn get_remarks(
        &self,
        caller: Caller,
        req: pb::GetJuryRemarksRequest,
    ) -> ServiceResult<pb::JuryRemarks> {
        let id = id_field("session_id", &req.session_id)?;
        let db = &self.core.db;
        let s = self.session(db, &id).await?;
        if !is_office(&caller) && !self.is_jury_president_of(db, &s, &caller).await? {
            return Err(ServiceError::PermissionDenied(
                "the jury's remarks are read by the exam office, the recteur and the jury president"
                    .into(),
            ));
        }
        let row = store::jury_remarks(db, &s.id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("no jury remarks were written for session {id}"))
        })?;
        remarks_pb(&s, &row)
    }
}
