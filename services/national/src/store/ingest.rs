//! Ingestion of the national stream. Each fact is logged once under its natural key (académie,
//! source, sequence); facts are then applied strictly in each source's sequence order, so a
//! record is the same whatever order the broker delivered in, and the highest contiguous
//! sequence applied is known exactly. Heartbeats only move what is known to exist.

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
    sea_query::Expr,
};

use super::{approval, received_event, record, sequence_conflict, stream, survey_row, training};
use crate::domain::{
    completeness::{bounded_claim, next_replay_due},
    record::{
        ExamResult, Part, Record, RegistrationStatus, Sex, Training, figures_year, minutes, profile,
    },
};

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
        let now = self.clock.now();
        let result = ingest_with(txn, event, now, self.catch_up_limit).await;
        if result.is_ok() && cplds_runtime::academy::Academy::find(&event.academy).is_some() {
            let labels = vec![
                ("academy", event.academy.clone()),
                ("source", event.source.clone()),
            ];
            self.heard
                .get_or_create(&labels)
                .set(now.timestamp() as f64);
        }
        result
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

async fn stream_row(
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
    if e.stream != PbStream::National as i32 {
        return Err(HandleError::Permanent(format!(
            "{} is not a national fact",
            e.r#type
        )));
    }
    if cplds_runtime::academy::Academy::find(&e.academy).is_none() || e.source.is_empty() {
        if matches!(e.payload, Some(Payload::NodeHeartbeat(_))) {
            return Ok(());
        }
        return Err(HandleError::Permanent(format!(
            "fact from unknown académie {:?} or source {:?}",
            e.academy, e.source
        )));
    }

    let at = occurred(e, now);
    let s = stream_row(txn, &e.academy, &e.source).await?;
    if let Some(Payload::NodeHeartbeat(h)) = &e.payload {
        let claimed = i64::try_from(h.last_sequence).unwrap_or(i64::MAX);
        let believed = bounded_claim(claimed, s.highest_seen.max(s.applied_sequence));
        if believed < claimed {
            tracing::warn!(academy = %e.academy, source = %e.source, claimed, believed,
                "a heartbeat announces more than was seen: believed up to the bound");
        }
        let mut am = s.into_active_model();
        let announced = believed.max(*am.announced_sequence.as_ref());
        am.announced_sequence = Set(announced);
        am.last_heartbeat_at = Set(Some(now));
        am.update(txn).await?;
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
    let inserted = txn
        .execute_raw(stmt(
            txn.get_database_backend(),
            "INSERT INTO received_events (academy, source, sequence, event_id, event_type, occurred_at, envelope, applied, received_at, waiting_upgrade) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            vec![
                e.academy.clone().into(),
                e.source.clone().into(),
                (e.sequence as i64).into(),
                e.event_id.clone().into(),
                e.r#type.clone().into(),
                at.into(),
                e.encode_to_vec().into(),
                in_order.into(),
                now.into(),
                false.into(),
            ],
        ))
        .await?;
    if inserted.rows_affected() == 0 {
        return already_logged(txn, &s, e, at, now).await;
    }
    let was_applied = s.applied_sequence;
    let mut applied = was_applied;
    let highest = s.highest_seen.max(e.sequence as i64);
    let last_event = s.last_event_at.map_or(at, |t| t.max(at));
    if in_order {
        if !apply(txn, e, at).await? {
            keep_for_upgrade(txn, &e.academy, &e.source, e.sequence as i64).await?;
        }
        applied += 1;
    }
    // Facts that arrived early wait in the log until the gap before them closes.
    applied = drain(txn, &e.academy, &e.source, applied, highest, limit, now).await?;
    let mut am = s.into_active_model();
    am.applied_sequence = Set(applied);
    am.highest_seen = Set(highest);
    am.last_event_at = Set(Some(last_event));
    if applied > was_applied {
        // The gap narrowed: replays are answered (the backoff starts again from its base).
        am.unanswered_replays = Set(0);
    }
    am.update(txn).await?;
    Ok(())
}

/// A fact whose (académie, source, sequence) or event id is already in the log: a redelivery or
/// a replay (ignored), the replay of a fact kept for an upgrade (applied now if this node knows
/// it), or another event under a used sequence, recorded as a conflict: an académie restored
/// from a backup issues its sequences again, and dropping them would report it complete.
async fn already_logged(
    txn: &DatabaseTransaction,
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
            if row.waiting_upgrade && sequence <= s.applied_sequence && apply(txn, e, at).await? {
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

/// Applies the logged facts following `applied` while the next one is there, at most `limit`;
/// returns the sequence applied up to.
async fn drain(
    txn: &DatabaseTransaction,
    academy: &str,
    source: &str,
    mut applied: i64,
    highest: i64,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<i64, HandleError> {
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
    for next in waiting {
        if next.sequence != applied + 1 {
            break;
        }
        let folded = match EventEnvelope::decode(next.envelope.as_slice()) {
            Ok(fact) if !next.waiting_upgrade => apply(txn, &fact, occurred(&fact, now)).await?,
            Ok(_) => false,
            Err(err) => {
                tracing::error!(%academy, %source, sequence = next.sequence, error = %err, "logged fact unreadable");
                false
            }
        };
        if folded {
            let mut am = next.into_active_model();
            am.applied = Set(true);
            am.update(txn).await?;
        } else {
            keep_for_upgrade(txn, academy, source, next.sequence).await?;
        }
        applied += 1;
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
        let s = stream_row(&txn, academy, source).await?;
        let was = s.applied_sequence;
        let applied = drain(&txn, academy, source, was, s.highest_seen, limit, now).await?;
        if applied == was {
            txn.rollback().await?;
            return Ok(done);
        }
        let mut am = s.into_active_model();
        am.applied_sequence = Set(applied);
        am.unanswered_replays = Set(0);
        am.update(&txn).await?;
        txn.commit().await?;
        done.facts += (applied - was) as u64;
        done.transactions += 1;
    }
}

async fn load(
    txn: &DatabaseTransaction,
    academy: &str,
    year: i32,
    key: &str,
) -> Result<Record, DbErr> {
    Ok(
        match record::Entity::find_by_id((academy.to_owned(), year, key.to_owned()))
            .one(txn)
            .await?
        {
            Some(m) => serde_json::from_str(&m.data).map_err(|e| DbErr::Custom(e.to_string()))?,
            None => Record::new(academy, year, key),
        },
    )
}

async fn save(txn: &DatabaseTransaction, r: &Record) -> Result<(), DbErr> {
    let data = serde_json::to_string(r).map_err(|e| DbErr::Custom(e.to_string()))?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "INSERT INTO records (academy, year, candidate_key, data) VALUES (?, ?, ?, ?) \
         ON CONFLICT (academy, year, candidate_key) DO UPDATE SET data = excluded.data",
        vec![
            r.academy.clone().into(),
            r.year.into(),
            r.candidate_key.clone().into(),
            data.into(),
        ],
    ))
    .await?;
    Ok(())
}

async fn load_training(
    txn: &DatabaseTransaction,
    academy: &str,
    school_year: i32,
    key: &str,
) -> Result<Training, DbErr> {
    Ok(
        match training::Entity::find_by_id((academy.to_owned(), school_year, key.to_owned()))
            .one(txn)
            .await?
        {
            Some(m) => serde_json::from_str(&m.data).map_err(|e| DbErr::Custom(e.to_string()))?,
            None => Training {
                academy: academy.to_owned(),
                school_year,
                candidate_key: key.to_owned(),
                ..Default::default()
            },
        },
    )
}

async fn save_training(txn: &DatabaseTransaction, t: &Training) -> Result<(), DbErr> {
    let data = serde_json::to_string(t).map_err(|e| DbErr::Custom(e.to_string()))?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "INSERT INTO trainings (academy, school_year, candidate_key, data) VALUES (?, ?, ?, ?) \
         ON CONFLICT (academy, school_year, candidate_key) DO UPDATE SET data = excluded.data",
        vec![
            t.academy.clone().into(),
            t.school_year.into(),
            t.candidate_key.clone().into(),
            data.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Folds one fact into the records. Called in sequence order of its source. False when this
/// node does not know the fact's payload (a newer académie): nothing is changed.
async fn apply(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    at: DateTime<Utc>,
) -> Result<bool, HandleError> {
    let a = e.academy.as_str();
    let Some(p) = &e.payload else {
        return Ok(false);
    };
    match p {
        Payload::NationalCandidacyRegistered(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            if let Some(pr) = profile(x.profile.as_ref()) {
                r.profile = pr;
            }
            r.eligible = x.eligible;
            r.status = Some(RegistrationStatus::Registered);
            r.rejection_reason = None;
            save(txn, &r).await?;
        }
        Payload::NationalCandidacyDecided(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            r.status = Some(if x.validated {
                RegistrationStatus::Validated
            } else {
                RegistrationStatus::Rejected
            });
            r.rejection_reason = (!x.validated).then(|| x.rejection_reason.clone());
            save(txn, &r).await?;
        }
        Payload::NationalCandidacyWithdrawn(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            r.status = Some(RegistrationStatus::Withdrawn);
            r.was_admitted_to_sit = x.was_admitted_to_sit;
            save(txn, &r).await?;
        }
        Payload::NationalExamResult(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            if r.status.is_none()
                && let Some(pr) = profile(x.profile.as_ref())
            {
                r.profile = pr;
            }
            let part = |p: Option<&cplds_proto::v1::ExamPartResult>| {
                p.and_then(|p| Part::from_fact(p.absent, p.mark_half_points))
                    .unwrap_or(Part::Absent)
            };
            r.exam = Some(ExamResult {
                part_1: part(x.part_1.as_ref()),
                part_2: part(x.part_2.as_ref()),
                admitted: x.outcome == "ADMITTED",
                reason: x.reason.clone(),
            });
            save(txn, &r).await?;
        }
        Payload::NationalCertificateIssued(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            r.certified = true;
            save(txn, &r).await?;
        }
        Payload::NationalCertificateRevoked(x) => {
            let mut r = load(txn, a, x.year, &x.candidate_key).await?;
            r.certificate_revoked = true;
            save(txn, &r).await?;
        }
        Payload::NationalTrainingEnrolled(x) => {
            let mut t = load_training(txn, a, x.school_year, &x.candidate_key).await?;
            t.enrolled = true;
            save_training(txn, &t).await?;
        }
        Payload::NationalTrainingCompleted(x) => {
            let mut t = load_training(txn, a, x.school_year, &x.candidate_key).await?;
            t.enrolled = true;
            t.completed = true;
            t.abandoned = false;
            t.minutes = minutes(x.hours.as_ref());
            save_training(txn, &t).await?;
        }
        Payload::NationalTrainingAbandoned(x) => {
            let mut t = load_training(txn, a, x.school_year, &x.candidate_key).await?;
            t.enrolled = true;
            t.abandoned = true;
            t.completed = false;
            t.minutes = minutes(x.hours.as_ref());
            save_training(txn, &t).await?;
        }
        Payload::FiguresApproved(x) => {
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                "INSERT INTO approvals (academy, year, approved, approved_at, remarks) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (academy, year) DO UPDATE SET approved = excluded.approved, approved_at = excluded.approved_at, remarks = excluded.remarks",
                vec![a.into(), x.year.into(), true.into(), at.into(), x.remarks.clone().into()],
            ))
            .await?;
            super::record_approval_act(
                txn,
                a,
                x.year,
                at,
                "APPROVED",
                format!(
                    "approved by the académie (fact {} #{})",
                    e.source, e.sequence
                ),
            )
            .await?;
        }
        Payload::MldsSurveySubmitted(x) => {
            // A version is applied once (facts are applied once); a later version supersedes it.
            for row in &x.rows {
                survey_row::ActiveModel {
                    academy: Set(a.to_owned()),
                    year: Set(x.year),
                    version: Set(x.version as i32),
                    action_kind: Set(row.action_kind.clone()),
                    sex: Set(Sex::from_pb(row.sex)),
                    age_band: Set(row.age_band.clone()),
                    outcome: Set(row.outcome.clone()),
                    young_people: Set(i64::from(row.young_people)),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
            }
        }
        // Known facts that move no record (yet): the figures of late files come from them.
        Payload::NationalCampaignOpened(_)
        | Payload::NationalAdmittedListPublished(_)
        | Payload::NationalResultsPublished(_)
        | Payload::NationalCandidacyInadmissible(_) => {}
        // A payload of the contract that is not a national fact this node folds.
        _ => return Ok(false),
    }
    // A fact of an approved year that comes after the approval reopens it: corrections never
    // slip silently into figures called final.
    if !matches!(p, Payload::FiguresApproved(_))
        && let Some(year) = figures_year(p)
        && let Some(ap) = approval::Entity::find_by_id((a.to_owned(), year))
            .one(txn)
            .await?
        && ap.approved
        && ap.approved_at.is_some_and(|t| at > t)
    {
        let mut am = ap.into_active_model();
        am.approved = Set(false);
        am.update(txn).await?;
        super::record_approval_act(
            txn,
            a,
            year,
            at,
            "REOPENED",
            format!(
                "new fact after approval: {} #{} ({})",
                e.source, e.sequence, e.r#type
            ),
        )
        .await?;
    }
    Ok(true)
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
