//! The académie's settings of what its attestation requires beyond the hours, and of the
//! presence share its organisation aims at: read by staff and trainees, set by the training
//! office (see [`crate::domain::settings`] for each one's source and default).

use cplds_proto::v1 as pb;
use cplds_runtime::{auth::Caller, error::ServiceResult, kit::Act};

use super::{Inner, convert, invalid};
use crate::{domain::settings::Settings, store};

/// The kind of record settings are in the audit history.
const SETTINGS: &str = "settings";

impl Inner {
    pub(super) async fn get_settings(
        &self,
        _caller: Caller,
        _r: pb::GetTrainingSettingsRequest,
    ) -> ServiceResult<pb::TrainingSettings> {
        let (s, row) = store::settings(&self.core.db, self.academy.code).await?;
        Ok(convert::settings_pb(self.academy.code, &s, row.as_ref()))
    }

    pub(super) async fn update_settings(
        &self,
        caller: Caller,
        r: pb::UpdateTrainingSettingsRequest,
    ) -> ServiceResult<pb::TrainingSettings> {
        let s = Settings::parse(
            r.require_tutor,
            r.require_gpds_session,
            r.target_presence_percent,
        )
        .map_err(invalid)?;
        let mut uow = self.core.begin().await?;
        let code = self.academy.code;
        let row = store::save_settings(uow.txn(), code, &s, uow.now(), &caller.subject).await?;
        let detail = format!(
            "require_tutor={} require_gpds_session={} target_presence_percent={}",
            s.require_tutor,
            s.require_gpds_session,
            s.target_presence_percent.map_or(0, u32::from)
        );
        uow.record(Act {
            kind: SETTINGS,
            subject: code,
            actor: &caller.subject,
            action: "updated",
            detail: Some(detail),
        })
        .await?;
        uow.commit().await?;
        Ok(convert::settings_pb(code, &s, Some(&row)))
    }
}
