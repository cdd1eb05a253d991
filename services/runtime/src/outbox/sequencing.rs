//! Sequences: the relay, the one writer of them, numbers committed rows per stream, gapless.

use std::{collections::HashMap, sync::atomic::Ordering};

use prost::Message as _;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, TransactionTrait};

use super::{OutboxRelay, RelayError, STREAMS};
use crate::{
    db::{placeholders, stmt},
    events::{EventEnvelope, stream_name},
};

impl OutboxRelay {
    /// Gives the next sequences of their streams to a batch of rows without one, in id order, in
    /// one committed transaction; returns how many.
    pub async fn assign_sequences(&self) -> Result<usize, RelayError> {
        let limit = self.config.batch_size.max(1) as i64;
        // Cheap look first: an idle relay takes no lock at all.
        if select_unassigned(&self.db, 1).await?.is_empty() {
            return Ok(0);
        }
        self.ensure_counters().await?;
        let txn = self.db.begin().await?;
        let mut counters = lock_counters(&txn).await?;
        let rows = select_unassigned(&txn, limit).await?;
        let mut assigned = Vec::with_capacity(rows.len());
        for row in &rows {
            let (counter, changed) = counters.entry(row.stream.clone()).or_insert((0, false));
            *counter += 1;
            *changed = true;
            let mut envelope = EventEnvelope::decode(row.envelope.as_slice())
                .map_err(|e| DbErr::Custom(format!("outbox row {} is unreadable: {e}", row.id)))?;
            envelope.sequence = *counter as u64;
            assigned.push((row.id, *counter, envelope.encode_to_vec()));
        }
        let moved: Vec<(String, i64)> = counters
            .into_iter()
            .filter(|(_, (_, changed))| *changed)
            .map(|(stream, (last, _))| (stream, last))
            .collect();
        write_sequences(&txn, &assigned, &moved).await?;
        txn.commit().await?;
        Ok(rows.len())
    }

    /// Creates the missing per-stream counter rows, once per relay.
    async fn ensure_counters(&self) -> Result<(), DbErr> {
        if self.counters_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        for stream in STREAMS {
            self.db
                .execute_raw(stmt(
                    self.db.get_database_backend(),
                    "INSERT INTO outbox_sequence (stream, last_sequence) VALUES (?, 0) ON CONFLICT (stream) DO NOTHING",
                    vec![stream_name(stream).into()],
                ))
                .await?;
        }
        self.counters_ready.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Each stream's last sequence (and whether this round changed it), locked before the rows are
/// read: a relay overlapping during a takeover waits here, then sees what this one assigned.
async fn lock_counters<C: ConnectionTrait>(txn: &C) -> Result<HashMap<String, (i64, bool)>, DbErr> {
    let backend = txn.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let mut counters = HashMap::new();
    for r in txn
        .query_all_raw(stmt(
            backend,
            &format!("SELECT stream, last_sequence FROM outbox_sequence ORDER BY stream{lock}"),
            vec![],
        ))
        .await?
    {
        counters.insert(
            r.try_get("", "stream")?,
            (r.try_get("", "last_sequence")?, false),
        );
    }
    Ok(counters)
}

/// Writes (id, sequence, envelope) into the rows, and the streams' last sequences: one statement
/// per chunk of rows rather than one per row, the counters' update with the first.
async fn write_sequences<C: ConnectionTrait>(
    txn: &C,
    assigned: &[(i64, i64, Vec<u8>)],
    moved: &[(String, i64)],
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut counters = (!moved.is_empty()).then(|| counters_update(moved));
    for chunk in assigned.chunks(100) {
        let (mut sql, mut values) = counters.take().unwrap_or_default();
        values.reserve(chunk.len() * 5);
        let mut sequence_case = String::from("CASE id");
        let mut envelope_case = String::from("CASE id");
        for (id, sequence, _) in chunk {
            sequence_case.push_str(" WHEN ? THEN ?");
            values.push((*id).into());
            values.push((*sequence).into());
        }
        for (id, _, envelope) in chunk {
            envelope_case.push_str(" WHEN ? THEN ?");
            values.push((*id).into());
            values.push(envelope.clone().into());
        }
        values.extend(chunk.iter().map(|(id, _, _)| sea_orm::Value::from(*id)));
        let rows = format!(
            "UPDATE outbox SET sequence = {sequence_case} END, envelope = {envelope_case} END WHERE id IN ({})",
            placeholders(chunk.len())
        );
        // One round trip: in a WITH on PostgreSQL, two statements of one string on SQLite.
        sql = match (sql.is_empty(), backend) {
            (true, _) => rows,
            (false, DbBackend::Postgres) => format!("WITH counters AS ({sql}) {rows}"),
            (false, _) => format!("{sql}; {rows}"),
        };
        txn.execute_raw(stmt(backend, &sql, values)).await?;
    }
    Ok(())
}

/// The update of the streams' last sequences (`moved` not empty).
fn counters_update(moved: &[(String, i64)]) -> (String, Vec<sea_orm::Value>) {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(moved.len() * 3);
    let mut case = String::from("CASE stream");
    for (stream, last) in moved {
        case.push_str(" WHEN ? THEN ?");
        values.push(stream.clone().into());
        values.push((*last).into());
    }
    values.extend(
        moved
            .iter()
            .map(|(stream, _)| sea_orm::Value::from(stream.clone())),
    );
    (
        format!(
            "UPDATE outbox_sequence SET last_sequence = {case} END WHERE stream IN ({})",
            placeholders(moved.len())
        ),
        values,
    )
}

/// An unassigned row: enough to give it its sequence.
struct Unassigned {
    id: i64,
    stream: String,
    envelope: Vec<u8>,
}

async fn select_unassigned<C: ConnectionTrait>(
    db: &C,
    limit: i64,
) -> Result<Vec<Unassigned>, DbErr> {
    db.query_all_raw(stmt(
        db.get_database_backend(),
        "SELECT id, stream, envelope FROM outbox WHERE sequence IS NULL ORDER BY id LIMIT ?",
        vec![limit.into()],
    ))
    .await?
    .iter()
    .map(|r| {
        Ok(Unassigned {
            id: r.try_get("", "id")?,
            stream: r.try_get("", "stream")?,
            envelope: r.try_get("", "envelope")?,
        })
    })
    .collect()
}
