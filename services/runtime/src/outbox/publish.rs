//! Publishing: numbered rows go out per stream in order, with confirms; a stream nobody
//! receives yet is parked; replays publish a range again.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbErr};
use tokio::time::Instant;

use super::{OutboxRelay, Parked, RelayError, Row, STREAMS, read_row, watermark};
use crate::{
    bus::{BusError, Message},
    db::{placeholders, stmt},
    events::{Stream, stream_name},
};

impl OutboxRelay {
    /// Publishes a batch of assigned rows of the streams not parked, each stream in sequence
    /// order; returns how many were settled (published, or found to have no consumer).
    pub(super) async fn publish_assigned(&self) -> Result<usize, RelayError> {
        let streams: Vec<Stream> = STREAMS
            .into_iter()
            .filter(|s| !self.is_parked(*s))
            .collect();
        if streams.is_empty() {
            return Ok(0);
        }
        let limit = self.config.batch_size.max(1) as i64;
        let mut values: Vec<sea_orm::Value> =
            streams.iter().map(|s| stream_name(*s).into()).collect();
        values.push(limit.into());
        let mut rows: Vec<Row> = self
            .db
            .query_all_raw(stmt(
                self.db.get_database_backend(),
                &format!(
                    "SELECT o.event_id, o.stream, o.sequence, o.routing_key, o.event_type, o.envelope \
                     FROM outbox_sequence s JOIN outbox o \
                     ON o.stream = s.stream AND o.sequence > s.published_through \
                     WHERE s.stream IN ({}) ORDER BY o.stream, o.sequence LIMIT ?",
                    placeholders(streams.len())
                ),
                values,
            ))
            .await?
            .iter()
            .map(read_row)
            .collect::<Result<_, _>>()?;
        // Signed now, after sequencing: the signature covers the sequence.
        for row in &mut rows {
            self.sign(&mut row.message);
        }
        let mut settled = 0;
        for group in rows.chunk_by(|a, b| a.message.stream == b.message.stream) {
            settled += self.publish_rows(group[0].message.stream, group).await?;
        }
        Ok(settled)
    }

    /// Publishes rows of one stream, in order; stops at a row no queue receives yet (parking the
    /// stream). Returns how many were settled.
    async fn publish_rows(&self, stream: Stream, rows: &[Row]) -> Result<usize, RelayError> {
        let mut rest = rows;
        let mut settled = 0;
        while !rest.is_empty() {
            tracing::debug!(
                source = self.outbox.source,
                rows = rest.len(),
                stream = stream_name(stream),
                "publishing"
            );
            let messages: Vec<Message> = rest.iter().map(|r| r.message.clone()).collect();
            match self.bus.publish(&messages).await {
                Ok(()) => {
                    mark_published(&self.db, stream, rest).await?;
                    self.metrics
                        .published(self.outbox.source, stream, rest.len());
                    self.unpark(stream);
                    return Ok(settled + rest.len());
                }
                Err(BusError::Unroutable {
                    routing_key,
                    message_id,
                }) => {
                    // What came before the returned message was confirmed; it is sent.
                    let at = rest
                        .iter()
                        .position(|r| r.message.message_id == message_id)
                        .unwrap_or(0);
                    let (done, tail) = rest.split_at(at);
                    mark_published(&self.db, stream, done).await?;
                    self.metrics
                        .published(self.outbox.source, stream, done.len());
                    settled += done.len();
                    if self.awaited(stream, &routing_key) {
                        self.park(stream, &routing_key);
                        return Ok(settled);
                    }
                    // Nobody in the académie consumes this event: it is sent, to no one.
                    tracing::debug!(source = self.outbox.source, %routing_key, "no consumer for this event");
                    mark_published(&self.db, stream, &tail[..1]).await?;
                    settled += 1;
                    rest = &tail[1..];
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(settled)
    }

    fn is_parked(&self, stream: Stream) -> bool {
        self.parked
            .lock()
            .is_ok_and(|p| p.get(&stream).is_some_and(|p| p.until > Instant::now()))
    }

    pub(super) fn next_unpark(&self) -> Option<Instant> {
        self.parked
            .lock()
            .ok()
            .and_then(|p| p.values().map(|p| p.until).min())
    }

    fn park(&self, stream: Stream, routing_key: &str) {
        if let Ok(mut parked) = self.parked.lock() {
            let backoff = parked.get(&stream).map_or(Duration::from_millis(200), |p| {
                (p.backoff * 2).min(Duration::from_secs(30))
            });
            tracing::warn!(source = self.outbox.source, stream = stream_name(stream), %routing_key, retry_in = ?backoff,
                "no queue receives this event yet; the stream waits (nothing is counted as sent)");
            parked.insert(
                stream,
                Parked {
                    until: Instant::now() + backoff,
                    backoff,
                },
            );
        }
    }

    fn unpark(&self, stream: Stream) {
        if let Ok(mut p) = self.parked.lock() {
            p.remove(&stream);
        }
    }

    /// Publishes again the events of `stream` whose sequence is in `from_sequence ..
    /// from_sequence + limit`, for a consumer that found a gap. Consumers drop what they already
    /// applied. Returns how many. The range is kept even when its head is missing (history
    /// pruned): what follows it the consumer has, and sending it would only be a storm.
    pub async fn replay(
        &self,
        stream: Stream,
        from_sequence: u64,
        limit: u32,
    ) -> Result<usize, RelayError> {
        self.replay_paced(
            stream,
            from_sequence,
            limit,
            self.config.batch_size,
            Duration::ZERO,
        )
        .await
    }

    /// [`OutboxRelay::replay`] in publishes of at most `batch` events, `pause` apart, so one
    /// request cannot monopolise the database and the broker.
    pub async fn replay_paced(
        &self,
        stream: Stream,
        from_sequence: u64,
        limit: u32,
        batch: u32,
        pause: Duration,
    ) -> Result<usize, RelayError> {
        let batch = i64::from(batch.max(1));
        let limit = i64::from(limit);
        let mut from = from_sequence as i64;
        let end = from.saturating_add(limit);
        let mut total = 0i64;
        while total < limit {
            if total > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let take = batch.min(limit - total);
            let rows = self
                .db
                .query_all_raw(stmt(
                    self.db.get_database_backend(),
                    "SELECT o.event_id, o.stream, o.sequence, o.routing_key, o.event_type, o.envelope \
                     FROM outbox_sequence s JOIN outbox o ON o.stream = s.stream \
                     AND o.sequence >= ? AND o.sequence < ? AND o.sequence <= s.published_through \
                     WHERE s.stream = ? ORDER BY o.sequence LIMIT ?",
                    vec![from.into(), end.into(), stream_name(stream).into(), take.into()],
                ))
                .await?;
            let Some(last) = rows.last() else { break };
            from = last.try_get::<i64>("", "sequence")? + 1;
            let rows: Vec<Row> = rows.iter().map(read_row).collect::<Result<_, _>>()?;
            let mut messages: Vec<Message> = rows.iter().map(|r| r.message.clone()).collect();
            for m in &mut messages {
                self.sign(m);
            }
            self.bus.publish(&messages).await?;
            total += rows.len() as i64;
            if (rows.len() as i64) < take {
                break;
            }
        }
        Ok(total as usize)
    }
}

/// Records `rows` (a confirmed prefix of what waits on `stream`) as published.
async fn mark_published<C: ConnectionTrait>(
    db: &C,
    stream: Stream,
    rows: &[Row],
) -> Result<(), DbErr> {
    match rows.last() {
        Some(last) => watermark::advance(db, stream_name(stream), last.sequence).await,
        None => Ok(()),
    }
}
