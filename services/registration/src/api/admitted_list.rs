//! The list of candidates admitted to sit (liste des admis à se présenter), published once by
//! the recteur after the window closed and every candidacy was decided. Withdrawals after its
//! publication stay on it, marked.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult},
    kit::{Decided, listing},
    time::to_timestamp,
};

use super::{Inner, act, campaign_subject};
use crate::{
    domain::{
        campaign::{self as rules, list_published_meanwhile},
        candidacy::CandidacyStatus,
    },
    events,
    store::{self, CandidacyFilter, Lock},
};

impl Inner {
    pub(super) async fn publish_list(
        &self,
        caller: Caller,
        req: pb::PublishAdmittedListRequest,
    ) -> ServiceResult<pb::AdmittedList> {
        let mut uow = self.core.begin().await?;
        let campaign = self
            .campaign_locked(uow.txn(), req.year, Lock::Exclusive)
            .await?;
        let (year, now) = (campaign.year, uow.now());
        let undecided = CandidacyFilter {
            year,
            status: Some(CandidacyStatus::Submitted),
            department: None,
        };
        let undecided = listing::count(uow.txn(), &undecided).await?;
        rules::can_publish_list(&campaign.facts(), undecided, now).on(campaign_subject(year))?;

        let validated =
            store::candidacies_with_status(uow.txn(), year, CandidacyStatus::Validated).await?;
        let ids: Vec<String> = validated.into_iter().map(|c| c.id).collect();
        store::put_on_admitted_list(uow.txn(), &ids, now).await?;
        if !store::mark_list_published(uow.txn(), year, &caller.subject, now).await? {
            return Err(list_published_meanwhile().on(campaign_subject(year)));
        }
        let admitted = store::admitted(uow.txn(), year).await?;
        for c in &admitted {
            uow.record(act(&c.id, &caller, "admitted_to_sit", None))
                .await?;
        }
        uow.emit(events::admitted_list_published(year, &admitted))
            .await?;
        uow.commit().await?;
        tracing::info!(year, admitted = admitted.len(), by = %caller.log_id(), "admitted list published");
        self.admitted_list(caller, pb::GetAdmittedListRequest { year: req.year })
            .await
    }

    pub(super) async fn admitted_list(
        &self,
        _caller: Caller,
        req: pb::GetAdmittedListRequest,
    ) -> ServiceResult<pb::AdmittedList> {
        let year = req.year;
        let db = &self.core.db;
        let campaign = self.campaign(db, year).await?;
        let Some(at) = campaign.list_published_at else {
            return Err(ServiceError::NotFound(format!(
                "no admitted list is published for {year} yet"
            )));
        };
        let rows = store::admitted(db, year).await?;
        Ok(pb::AdmittedList {
            academy: self.academy.code.to_owned(),
            year,
            publish_time: Some(to_timestamp(at)),
            published_by: campaign.list_published_by.unwrap_or_default(),
            candidates: rows
                .iter()
                .map(|c| pb::AdmittedCandidate {
                    candidacy_id: c.id.clone(),
                    last_name: c.last_name.clone(),
                    first_name: c.first_name.clone(),
                    department: c.department.clone(),
                    withdrawn: c.status == CandidacyStatus::Withdrawn,
                })
                .collect(),
        })
    }
}
