//! The yearly registration campaign of the académie: its window, opened by the exam office and
//! moved until the admitted list is published.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, Paging, Unique},
};

use super::{Inner, campaign_subject, convert};
use crate::{
    domain::campaign::{self as rules, parse_year},
    events,
    store::{self, Lock},
};

impl Inner {
    pub(super) async fn create_campaign(
        &self,
        caller: Caller,
        req: pb::CreateCampaignRequest,
    ) -> ServiceResult<pb::Campaign> {
        let mut v = Violations::default();
        let year = v.check("year", parse_year(req.year, self.core.now()));
        let window = convert::window(&req.opens_at_local, &req.closes_at_local, &mut v);
        let (year, window) = v.finish_with((year, window))?;

        let mut uow = self.core.begin().await?;
        let exists = || {
            format!(
                "the {year} campaign of académie {} already exists",
                self.academy.code
            )
        };
        if store::campaign(uow.txn(), year).await?.is_some() {
            return Err(ServiceError::AlreadyExists(exists()));
        }
        let now = uow.now();
        let row = store::insert_campaign(uow.txn(), year, self.academy, window, now)
            .await
            .unless_taken(|| {
                ServiceError::AlreadyExists(format!("the {year} campaign already exists"))
            })?;
        uow.emit(events::campaign_opened(&row)).await?;
        uow.commit().await?;
        tracing::info!(year, by = %caller.log_id(), "campaign created");
        Ok(convert::campaign_pb(&row, now))
    }

    pub(super) async fn get_campaign(
        &self,
        _caller: Caller,
        req: pb::GetCampaignRequest,
    ) -> ServiceResult<pb::Campaign> {
        let row = self.campaign(&self.core.db, req.year).await?;
        Ok(convert::campaign_pb(&row, self.core.now()))
    }

    pub(super) async fn list_campaigns(
        &self,
        _caller: Caller,
        req: pb::ListCampaignsRequest,
    ) -> ServiceResult<pb::ListCampaignsResponse> {
        let mut v = Violations::default();
        let paging = Paging::parse(&mut v, "campaigns", req.page_size, &req.page_token);
        let paging = v.finish_with(paging)?;
        let before = paging.after_as::<i32>()?;

        let mut rows = store::list_campaigns(&self.core.db, before, paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |c| c.year.to_string());
        let now = self.core.now();
        Ok(pb::ListCampaignsResponse {
            campaigns: rows.iter().map(|c| convert::campaign_pb(c, now)).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_campaign(
        &self,
        caller: Caller,
        req: pb::UpdateCampaignRequest,
    ) -> ServiceResult<pb::Campaign> {
        let mut v = Violations::default();
        let window = convert::window(&req.opens_at_local, &req.closes_at_local, &mut v);
        let window = v.finish_with(window)?;

        let mut uow = self.core.begin().await?;
        let row = self
            .campaign_locked(uow.txn(), req.year, Lock::Exclusive)
            .await?;
        rules::can_move_window(&row.facts()).on(campaign_subject(row.year))?;
        let row = store::move_window(uow.txn(), row, window, uow.now()).await?;
        uow.emit(events::campaign_updated(&row)).await?;
        let now = uow.now();
        uow.commit().await?;
        tracing::info!(year = row.year, by = %caller.log_id(), "campaign window changed");
        Ok(convert::campaign_pb(&row, now))
    }
}
