//! What each académie's sources delivered: the sequence applied, the gaps, when they were last
//! heard from and when a replay was last asked, the facts kept for an upgrade and the sequences
//! reused; the state this makes and the operator's action. And the action after a restore
//! from backup: resetting a source.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Act, Decided},
    time::to_timestamp,
};

use super::Inner;
use crate::{
    domain::{
        completeness::{
            SourceFacts, SourceState, assess, behind, gaps, heard_recently, next_replay_due,
            reset_from,
        },
        query::parse_academy_filter,
    },
    store::{self, stream},
};

/// The kind of record a source's resets are in the audit history, named `{académie}/{source}`.
const SOURCE_KIND: &str = "source";

impl Inner {
    pub(super) async fn completeness(
        &self,
        _caller: Caller,
        r: pb::GetCompletenessRequest,
    ) -> ServiceResult<pb::Completeness> {
        let academy =
            parse_academy_filter(&r.academy).map_err(|e| ServiceError::invalid("academy", e))?;
        let now = self.core.now();
        let counts = store::kept_and_conflicts(&self.core.db).await?;
        let waiting = store::pending_sequences(&self.core.db).await?;
        let mut sources = Vec::new();
        for s in store::streams(&self.core.db).await? {
            if academy.is_some_and(|a| a.code != s.academy) {
                continue;
            }
            let key = (s.academy.clone(), s.source.clone());
            let pending = waiting.get(&key).map_or(&[][..], Vec::as_slice);
            let (kept, conflicts) = counts.get(&key).copied().unwrap_or_default();
            sources.push(self.source_pb(s, pending, (kept, conflicts), now));
        }
        let quarantined: Vec<pb::QuarantinedFacts> =
            cplds_runtime::quarantine::counts(&self.core.db)
                .await?
                .into_iter()
                .filter(|q| academy.is_none_or(|a| a.code == q.academy))
                .map(|q| pb::QuarantinedFacts {
                    academy: q.academy,
                    source: q.source,
                    reason: q.reason,
                    facts: q.events.max(0) as u64,
                    last_received_at: q.last_at.map(to_timestamp),
                })
                .collect();
        Ok(pb::Completeness {
            sources,
            as_of: Some(to_timestamp(now)),
            quarantined_total: quarantined.iter().map(|q| q.facts).sum(),
            quarantined,
        })
    }

    /// Resets a source after its académie was restored from a backup (see
    /// [`store::ingest::reset_source`]).
    pub(super) async fn reset_source(
        &self,
        caller: Caller,
        r: pb::ResetSourceRequest,
    ) -> ServiceResult<pb::ResetSourceResponse> {
        let mut v = Violations::default();
        let academy = v.check(
            "academy",
            parse_academy_filter(&r.academy).and_then(|a| a.ok_or_else(|| "required".to_owned())),
        );
        if r.source.trim().is_empty() {
            v.add("source", "required");
        }
        let academy = v.finish_with(academy)?;
        let (academy, source) = (academy.code, r.source.trim());
        let mut uow = self.core.begin().await?;
        if !store::streams(uow.txn())
            .await?
            .iter()
            .any(|s| s.academy == academy && s.source == source)
        {
            return Err(ServiceError::not_found(format!(
                "source {academy}/{source}"
            )));
        }
        let lowest = store::ingest::lowest_conflict(uow.txn(), academy, source).await?;
        let from = reset_from(r.from_sequence, lowest).on(format!("{academy}/{source}"))?;
        let done = store::ingest::reset_source(uow.txn(), academy, source, from).await?;
        let subject = format!("{academy}/{source}");
        uow.record(Act {
            kind: SOURCE_KIND,
            subject: &subject,
            actor: &caller.subject,
            action: "RESET",
            detail: Some(format!(
                "from sequence {from}: {} facts forgotten, {} conflicts cleared",
                done.facts_forgotten, done.conflicts_cleared
            )),
        })
        .await?;
        uow.commit().await?;
        tracing::warn!(%academy, %source, from, forgotten = done.facts_forgotten, "source reset after a restore: the académie's records are rebuilt");
        Ok(pb::ResetSourceResponse {
            from_sequence: from,
            facts_forgotten: done.facts_forgotten,
            conflicts_cleared: done.conflicts_cleared,
        })
    }

    /// A source's state, given the sequences received above the one applied, and its facts kept
    /// for an upgrade and sequence conflicts.
    fn source_pb(
        &self,
        s: stream::Model,
        pending: &[u64],
        (kept, conflicts): (u64, u64),
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
        let state = assess(SourceFacts {
            has_gap: !gaps.is_empty(),
            behind: behind(s.applied_sequence as u64, pending),
            heard_recently: heard,
            unanswered_replays: s.unanswered_replays,
            kept_for_upgrade: kept,
            sequence_conflicts: conflicts,
        });
        let next_request = (!gaps.is_empty())
            .then(|| {
                next_replay_due(
                    s.last_replay_request_at,
                    s.unanswered_replays,
                    self.config.replay_backoff_ms,
                )
                .unwrap_or(now)
            })
            .map(to_timestamp);
        pb::SourceCompleteness {
            up_to_date: state == SourceState::UpToDate,
            state: state_pb(state) as i32,
            operator_action: state.operator_action().into(),
            facts_waiting_for_upgrade: kept,
            sequence_conflicts: conflicts,
            unanswered_replay_requests: s.unanswered_replays.max(0) as u32,
            next_replay_request_time: next_request,
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

fn state_pb(s: SourceState) -> pb::SourceState {
    match s {
        SourceState::SequenceReused => pb::SourceState::SequenceReused,
        SourceState::GapUnfillable => pb::SourceState::GapUnfillable,
        SourceState::Silent => pb::SourceState::Silent,
        SourceState::CatchingUp => pb::SourceState::CatchingUp,
        SourceState::WaitingForUpgrade => pb::SourceState::WaitingForUpgrade,
        SourceState::UpToDate => pb::SourceState::UpToDate,
    }
}
