//! What each académie's sources delivered: the sequence applied, the gaps, when they were last
//! heard from and when a replay was last asked.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult},
    time::to_timestamp,
};

use super::Inner;
use crate::{
    domain::{
        completeness::{gaps, heard_recently},
        query::parse_academy_filter,
    },
    store::{self, stream},
};

impl Inner {
    pub(super) async fn completeness(
        &self,
        _caller: Caller,
        r: pb::GetCompletenessRequest,
    ) -> ServiceResult<pb::Completeness> {
        let academy =
            parse_academy_filter(&r.academy).map_err(|e| ServiceError::invalid("academy", e))?;
        let now = self.core.now();
        let mut sources = Vec::new();
        for s in store::streams(&self.core.db).await? {
            if academy.is_some_and(|a| a.code != s.academy) {
                continue;
            }
            let pending =
                store::pending_sequences(&self.core.db, &s.academy, &s.source, s.applied_sequence)
                    .await?;
            sources.push(self.source_pb(s, &pending, now));
        }
        Ok(pb::Completeness {
            sources,
            as_of: Some(to_timestamp(now)),
        })
    }

    /// A source's state, given the sequences received above the one applied.
    fn source_pb(
        &self,
        s: stream::Model,
        pending: &[u64],
        now: DateTime<Utc>,
    ) -> pb::SourceCompleteness {
        let gaps = gaps(
            s.applied_sequence as u64,
            pending,
            s.announced_sequence as u64,
        );
        let heard = heard_recently(
            s.last_heartbeat_at.max(s.last_event_at),
            now,
            self.config.silence_ms,
        );
        pb::SourceCompleteness {
            up_to_date: gaps.is_empty() && heard,
            academy: s.academy,
            source: s.source,
            applied_sequence: s.applied_sequence as u64,
            highest_known_sequence: s.highest_seen.max(s.announced_sequence) as u64,
            gaps: gaps
                .into_iter()
                .map(|(from, to)| pb::SequenceRange { from, to })
                .collect(),
            last_event_time: s.last_event_at.map(to_timestamp),
            last_heartbeat_time: s.last_heartbeat_at.map(to_timestamp),
            last_replay_request_time: s.last_replay_request_at.map(to_timestamp),
        }
    }
}
