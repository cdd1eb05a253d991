//! Ingestion of the national stream. Each fact is logged once under its natural key (académie,
//! source, sequence); facts are then applied strictly in each source's sequence order, so a
//! record is the same whatever order the broker delivered in, and the highest contiguous
//! sequence applied is known exactly. Heartbeats only move what is known to exist.
//!
//! The consumer hands over what was waiting in its queue as one batch, applied in one
//! transaction in delivery order: the facts are logged in multi-row inserts, and streams,
//! records and approvals go through a [`Batch`], read once and written once before commit.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{EventEnvelope, Stream as PbStream, event_envelope::Payload};
use cplds_runtime::{
    clock::SharedClock,
    db::stmt,
    inbox::{EventHandler, HandleError},
    time::from_timestamp,
};
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    Value, sea_query::Expr,
};

use super::{batch::Batch, received_event, sequence_conflict, stream};
use crate::domain::completeness::{bounded_claim, next_replay_due};

/// Buffered facts applied at most in one transaction: a long run waiting behind a gap that
/// closes is applied by [`catch_up`], a transaction per bound, not in one long transaction.
pub const CATCH_UP_PER_TRANSACTION: u32 = 500;

pub struct Ingest {
    pub clock: SharedClock,
    /// Buffered facts applied at most with one delivery ([`CATCH_UP_PER_TRANSACTION`]).
    pub catch_up_limit: u32,
    /// Last heard, per académie and source (a metric: completeness at a glance).
    pub heard: cplds_runtime::metrics::GaugeFamily,
}

#[async_trait]
impl EventHandler for Ingest {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        self.handle_batch(txn, &[event]).await
    }

    async fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&EventEnvelope],
    ) -> Result<(), HandleError> {
        let now = self.clock.now();
        ingest_batch(txn, events, now, self.catch_up_limit).await?;
        for event in events {
            if cplds_runtime::academy::Academy::find(&event.academy).is_some() {
                let labels = vec![
                    ("academy", event.academy.clone()),
                    ("source", event.source.clone()),
                ];
                self.heard
                    .get_or_create(&labels)
                    .set(now.timestamp() as f64);
            }
        }
        Ok(())
    }

    /// Facts are deduplicated by (académie, source, sequence); heartbeats need no record.
    fn uses_inbox(&self, _event: &EventEnvelope) -> bool {
        false
    }
}

fn occurred(e: &EventEnvelope, now: DateTime<Utc>) -> DateTime<Utc> {
    e.occurred_at
        .as_ref()
        .and_then(|t| from_timestamp(t).ok())
        .unwrap_or(now)
}

pub(super) async fn stream_row(
    txn: &DatabaseTransaction,
    academy: &str,
    source: &str,
) -> Result<stream::Model, DbErr> {
    // Locked until commit on PostgreSQL: aggregator replicas consuming the same queue apply a
    // source's facts one transaction at a time, in sequence order.
    let find = || {
        let q = stream::Entity::find_by_id((academy.to_owned(), source.to_owned()));
        if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
            q.lock_exclusive()
        } else {
            q
        }
    };
    if let Some(s) = find().one(txn).await? {
        return Ok(s);
    }
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "INSERT INTO streams (academy, source, applied_sequence, highest_seen, announced_sequence) VALUES (?, ?, 0, 0, 0) \
         ON CONFLICT (academy, source) DO NOTHING",
        vec![academy.into(), source.into()],
    ))
    .await?;
    find()
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("stream {academy}/{source}")))
}

/// Logs one fact and applies what it makes applicable, with the default bound on buffered facts.
pub async fn ingest(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    ingest_with(txn, e, now, CATCH_UP_PER_TRANSACTION).await
}

/// Logs one fact under (académie, source, sequence) and applies, in sequence order, it and at
/// most `limit` of the facts that were waiting behind it.
pub async fn ingest_with(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<(), HandleError> {
    ingest_batch(txn, &[e], now, limit).await
}

/// Logs and applies `events`, in their order, as [`ingest_with`] would one after the other in
/// one transaction; at most `limit` facts that were waiting behind a gap are applied with them
/// in all.
pub async fn ingest_batch(
    txn: &DatabaseTransaction,
    events: &[&EventEnvelope],
    now: DateTime<Utc>,
    limit: u32,
) -> Result<(), HandleError> {
    let mut batch = Batch::new(limit);
    batch
        .lock_streams(
            txn,
            events
                .iter()
                .filter(|e| is_national(e) && known_source(e))
                .map(|e| (e.academy.as_str(), e.source.as_str())),
        )
        .await?;
    batch.read_ahead(txn, events).await?;
    let mut logged = log(txn, events, now).await?;
    for e in events {
        ingest_one(txn, &mut batch, &mut logged, e, now).await?;
    }
    batch.flush(txn).await?;
    Ok(())
}

/// Rows of the log per statement (10 parameters each).
const LOG_ROWS_PER_STATEMENT: usize = 200;

/// (académie, source, sequence) of a fact in the log.
type LogKey = (String, String, i64);

/// Logs the facts of `events` in multi-row inserts, each under (académie, source, sequence)
/// unless that key or its event id is already there (then nothing is inserted: a duplicate or
/// a conflict, which [`already_logged`] tells apart). Returns the keys inserted: the facts new
/// to this node. Of two deliveries of one key in a batch, the first is inserted. A row is
/// logged not applied; [`Batch::flush`] marks the range its source advanced over.
async fn log(
    txn: &DatabaseTransaction,
    events: &[&EventEnvelope],
    now: DateTime<Utc>,
) -> Result<HashSet<LogKey>, DbErr> {
    let facts: Vec<&&EventEnvelope> = events
        .iter()
        .filter(|e| {
            is_national(e)
                && known_source(e)
                && e.sequence != 0
                && !matches!(e.payload, Some(Payload::NodeHeartbeat(_)))
        })
        .collect();
    let mut inserted = HashSet::with_capacity(facts.len());
    for chunk in facts.chunks(LOG_ROWS_PER_STATEMENT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 10);
        for e in chunk {
            values.extend([
                e.academy.clone().into(),
                e.source.clone().into(),
                (e.sequence as i64).into(),
                e.event_id.clone().into(),
                e.r#type.clone().into(),
                occurred(e, now).into(),
                e.encode_to_vec().into(),
                false.into(),
                now.into(),
                false.into(),
            ]);
        }
        let returned = txn
            .query_all_raw(stmt(
                txn.get_database_backend(),
                &format!(
                    "INSERT INTO received_events (academy, source, sequence, event_id, event_type, occurred_at, envelope, applied, received_at, waiting_upgrade) \
                     VALUES {rows} ON CONFLICT DO NOTHING RETURNING academy, source, sequence"
                ),
                values,
            ))
            .await?;
        for row in returned {
            inserted.insert((
                row.try_get::<String>("", "academy")?,
                row.try_get::<String>("", "source")?,
                row.try_get::<i64>("", "sequence")?,
            ));
        }
    }
    Ok(inserted)
}

fn is_national(e: &EventEnvelope) -> bool {
    e.stream == PbStream::National as i32
}

fn known_source(e: &EventEnvelope) -> bool {
    cplds_runtime::academy::Academy::find(&e.academy).is_some() && !e.source.is_empty()
}

/// One fact of a batch: logged under (académie, source, sequence), then applied with what it
/// makes applicable.
async fn ingest_one(
    txn: &DatabaseTransaction,
    batch: &mut Batch,
    logged: &mut HashSet<LogKey>,
    e: &EventEnvelope,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    if !is_national(e) {
        return Err(HandleError::Permanent(format!(
            "{} is not a national fact",
            e.r#type
        )));
    }
    if !known_source(e) {
        if matches!(e.payload, Some(Payload::NodeHeartbeat(_))) {
            return Ok(());
        }
        return Err(HandleError::Permanent(format!(
            "fact from unknown académie {:?} or source {:?}",
            e.academy, e.source
        )));
    }

    let at = occurred(e, now);
    let mut s = batch.stream(txn, &e.academy, &e.source).await?;
    if let Some(Payload::NodeHeartbeat(h)) = &e.payload {
        let claimed = i64::try_from(h.last_sequence).unwrap_or(i64::MAX);
        let believed = bounded_claim(claimed, s.highest_seen.max(s.applied_sequence));
        if believed < claimed {
            tracing::warn!(academy = %e.academy, source = %e.source, claimed, believed,
                "a heartbeat announces more than was seen: believed up to the bound");
        }
        s.announced_sequence = believed.max(s.announced_sequence);
        s.last_heartbeat_at = Some(now);
        batch.put_stream(s);
        return Ok(());
    }
    if e.sequence == 0 {
        return Err(HandleError::Permanent(format!(
            "{} without a sequence",
            e.r#type
        )));
    }
    // The usual case: the next fact of its source, applied at once from the envelope in hand.
    let in_order = e.sequence as i64 == s.applied_sequence + 1;
    let key = (e.academy.clone(), e.source.clone(), e.sequence as i64);
    if !logged.remove(&key) {
        return already_logged(txn, batch, &s, e, at, now).await;
    }
    let was_applied = s.applied_sequence;
    let mut applied = was_applied;
    let highest = s.highest_seen.max(e.sequence as i64);
    if in_order {
        if !batch.apply(txn, e, at).await? {
            keep_for_upgrade(txn, &e.academy, &e.source, e.sequence as i64).await?;
        }
        applied += 1;
    }
    // Facts that arrived early wait in the log until the gap before them closes.
    applied = drain(txn, batch, &e.academy, &e.source, applied, highest, now).await?;
    s.applied_sequence = applied;
    s.highest_seen = highest;
    s.last_event_at = Some(s.last_event_at.map_or(at, |t| t.max(at)));
    if applied > was_applied {
        // The gap narrowed: replays are answered (the backoff starts again from its base).
        s.unanswered_replays = 0;
    }
    batch.put_stream(s);
    Ok(())
}

/// A fact whose (académie, source, sequence) or event id is already in the log: a redelivery or
/// a replay (ignored), the replay of a fact kept for an upgrade (applied now if this node knows
/// it), or another event under a used sequence, recorded as a conflict: an académie restored
/// from a backup issues its sequences again, and dropping them would report it complete.
async fn already_logged(
    txn: &DatabaseTransaction,
    batch: &mut Batch,
    s: &stream::Model,
    e: &EventEnvelope,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let sequence = e.sequence as i64;
    let logged =
        received_event::Entity::find_by_id((e.academy.clone(), e.source.clone(), sequence))
            .one(txn)
            .await?;
    match logged {
        Some(row) if row.event_id == e.event_id => {
            if row.waiting_upgrade
                && sequence <= s.applied_sequence
                && batch.apply(txn, e, at).await?
            {
                tracing::info!(academy = %e.academy, source = %e.source, sequence, "a fact kept for an upgrade is applied");
                let mut am = row.into_active_model();
                am.envelope = Set(e.encode_to_vec());
                am.waiting_upgrade = Set(false);
                am.applied = Set(true);
                am.update(txn).await?;
            } else if sequence > s.applied_sequence
                && e.payload.is_some()
                && EventEnvelope::decode(row.envelope.as_slice()).is_ok_and(|l| l.payload.is_none())
            {
                // Logged by a node that did not know its payload, still behind a gap: the
                // readable copy replaces it and is applied in its order.
                let mut am = row.into_active_model();
                am.envelope = Set(e.encode_to_vec());
                am.update(txn).await?;
            }
            Ok(())
        }
        row => {
            let kept = row.map(|r| r.event_id).unwrap_or_default();
            tracing::error!(academy = %e.academy, source = %e.source, sequence, event_id = %e.event_id, kept_event_id = %kept,
                "sequence reused by another event (académie restored from a backup?): recorded as a conflict");
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                "INSERT INTO sequence_conflicts (academy, source, sequence, event_id, event_type, kept_event_id, envelope, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                vec![
                    e.academy.clone().into(),
                    e.source.clone().into(),
                    sequence.into(),
                    e.event_id.clone().into(),
                    e.r#type.clone().into(),
                    kept.into(),
                    e.encode_to_vec().into(),
                    now.into(),
                ],
            ))
            .await?;
            Ok(())
        }
    }
}

/// Marks a logged fact as kept until the node knows its payload: it counts as received (no
/// gap, the facts after it apply) and is not applied.
async fn keep_for_upgrade(
    txn: &DatabaseTransaction,
    academy: &str,
    source: &str,
    sequence: i64,
) -> Result<(), DbErr> {
    tracing::warn!(%academy, %source, sequence, "fact of a payload this node does not know: kept until an upgrade");
    received_event::Entity::update_many()
        .col_expr(received_event::Column::WaitingUpgrade, Expr::value(true))
        .col_expr(received_event::Column::Applied, Expr::value(false))
        .filter(received_event::Column::Academy.eq(academy))
        .filter(received_event::Column::Source.eq(source))
        .filter(received_event::Column::Sequence.eq(sequence))
        .exec(txn)
        .await?;
    Ok(())
}

/// Applies the logged facts following `applied` while the next one is there, at most what is
/// left of the batch's catch-up budget; returns the sequence applied up to.
async fn drain(
    txn: &DatabaseTransaction,
    batch: &mut Batch,
    academy: &str,
    source: &str,
    mut applied: i64,
    highest: i64,
    now: DateTime<Utc>,
) -> Result<i64, HandleError> {
    let limit = batch.catch_up_budget;
    if highest <= applied || limit == 0 {
        return Ok(applied);
    }
    // Most deliveries come before the gap closes: one row looked up, not the run behind it.
    let next =
        received_event::Entity::find_by_id((academy.to_owned(), source.to_owned(), applied + 1))
            .select_only()
            .column(received_event::Column::Sequence)
            .into_tuple::<i64>()
            .one(txn)
            .await?;
    if next.is_none() {
        return Ok(applied);
    }
    let waiting = received_event::Entity::find()
        .filter(received_event::Column::Academy.eq(academy))
        .filter(received_event::Column::Source.eq(source))
        .filter(received_event::Column::Sequence.gt(applied))
        .filter(received_event::Column::Sequence.lte(applied + i64::from(limit)))
        .order_by_asc(received_event::Column::Sequence)
        .all(txn)
        .await?;
    let waiting: Vec<_> = waiting
        .into_iter()
        .map(|row| {
            let fact = EventEnvelope::decode(row.envelope.as_slice());
            (row, fact)
        })
        .collect();
    let readable: Vec<&EventEnvelope> = waiting
        .iter()
        .filter_map(|(_, fact)| fact.as_ref().ok())
        .collect();
    batch.read_ahead(txn, &readable).await?;
    for (next, fact) in waiting {
        if next.sequence != applied + 1 {
            break;
        }
        let folded = match fact {
            Ok(fact) if !next.waiting_upgrade => {
                batch.apply(txn, &fact, occurred(&fact, now)).await?
            }
            Ok(_) => false,
            Err(err) => {
                tracing::error!(%academy, %source, sequence = next.sequence, error = %err, "logged fact unreadable");
                false
            }
        };
        // Marked applied with the range its source advanced over, at the batch's flush.
        if !folded {
            keep_for_upgrade(txn, academy, source, next.sequence).await?;
        }
        applied += 1;
        batch.catch_up_budget -= 1;
    }
    Ok(applied)
}

/// What [`catch_up`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub facts: u64,
    pub transactions: u32,
}

/// Applies the facts waiting behind a closed gap of (`academy`, `source`), at most `limit` per
/// transaction, until the next one is missing.
pub async fn catch_up(
    db: &DatabaseConnection,
    academy: &str,
    source: &str,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<CatchUp, HandleError> {
    let mut done = CatchUp::default();
    loop {
        let txn = db.begin().await?;
        let mut batch = Batch::new(limit);
        let mut s = batch.stream(&txn, academy, source).await?;
        let was = s.applied_sequence;
        let applied = drain(&txn, &mut batch, academy, source, was, s.highest_seen, now).await?;
        if applied == was {
            txn.rollback().await?;
            return Ok(done);
        }
        s.applied_sequence = applied;
        s.unanswered_replays = 0;
        batch.put_stream(s);
        batch.flush(&txn).await?;
        txn.commit().await?;
        done.facts += (applied - was) as u64;
        done.transactions += 1;
    }
}

/// Sources with a gap (a fact known to exist is missing after the applied sequence) whose next
/// replay request is due: right away the first time, then after the backoff, doubled for each
/// request left unanswered ([`next_replay_due`]).
pub async fn gaps_to_request<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    backoff_ms: u64,
) -> Result<Vec<stream::Model>, DbErr> {
    let mut out = Vec::new();
    for s in super::streams(db).await? {
        if s.highest_seen.max(s.announced_sequence) <= s.applied_sequence
            || next_replay_due(s.last_replay_request_at, s.unanswered_replays, backoff_ms)
                .is_some_and(|due| due > now)
        {
            continue;
        }
        // A fact waiting right after the applied one is no gap: the catch-up applies it.
        let next = received_event::Entity::find_by_id((
            s.academy.clone(),
            s.source.clone(),
            s.applied_sequence + 1,
        ))
        .one(db)
        .await?;
        if next.is_none() {
            out.push(s);
        }
    }
    Ok(out)
}

/// Sources with facts received beyond the applied sequence (what [`catch_up`] may apply).
pub async fn streams_behind<C: ConnectionTrait>(db: &C) -> Result<Vec<stream::Model>, DbErr> {
    Ok(super::streams(db)
        .await?
        .into_iter()
        .filter(|s| s.highest_seen > s.applied_sequence)
        .collect())
}

/// Takes the replay request of `s`'s gap for this round: a conditional update on the round this
/// replica read, so of several replicas that found the same gap, one sends the request. True if
/// this replica is the one; it then sends the request, or [`release_replay`]s it.
pub async fn claim_replay<C: ConnectionTrait>(
    db: &C,
    s: &stream::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let taken = db
        .execute_raw(stmt(
            db.get_database_backend(),
            "UPDATE streams SET replay_round = replay_round + 1, unanswered_replays = unanswered_replays + 1, \
             last_replay_request_at = ? WHERE academy = ? AND source = ? AND replay_round = ?",
            vec![
                now.into(),
                s.academy.clone().into(),
                s.source.clone().into(),
                s.replay_round.into(),
            ],
        ))
        .await?;
    Ok(taken.rows_affected() == 1)
}

/// Gives back a round taken by [`claim_replay`] whose request could not be sent: the next
/// check asks again without waiting for a backoff that nothing answered.
pub async fn release_replay<C: ConnectionTrait>(db: &C, s: &stream::Model) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "UPDATE streams SET unanswered_replays = ?, last_replay_request_at = ? \
         WHERE academy = ? AND source = ? AND replay_round = ?",
        vec![
            s.unanswered_replays.into(),
            s.last_replay_request_at.into(),
            s.academy.clone().into(),
            s.source.clone().into(),
            (s.replay_round + 1).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The facts kept for an upgrade, as runs of consecutive sequences per source: (académie,
/// source, first sequence, how many).
pub async fn kept_runs<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(String, String, u64, u32)>, DbErr> {
    let kept = received_event::Entity::find()
        .filter(received_event::Column::WaitingUpgrade.eq(true))
        .order_by_asc(received_event::Column::Academy)
        .order_by_asc(received_event::Column::Source)
        .order_by_asc(received_event::Column::Sequence)
        .all(db)
        .await?;
    let mut runs: Vec<(String, String, u64, u32)> = Vec::new();
    for k in kept {
        let sequence = k.sequence as u64;
        match runs.last_mut() {
            Some((a, s, first, n))
                if *a == k.academy && *s == k.source && *first + u64::from(*n) == sequence =>
            {
                *n += 1
            }
            _ => runs.push((k.academy, k.source, sequence, 1)),
        }
    }
    Ok(runs)
}

/// The lowest sequence recorded in conflict for a source, if any.
pub async fn lowest_conflict<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    source: &str,
) -> Result<Option<u64>, DbErr> {
    Ok(sequence_conflict::Entity::find()
        .filter(sequence_conflict::Column::Academy.eq(academy))
        .filter(sequence_conflict::Column::Source.eq(source))
        .order_by_asc(sequence_conflict::Column::Sequence)
        .one(db)
        .await?
        .map(|c| c.sequence as u64))
}

pub use super::reset::{Reset, reset_source};
