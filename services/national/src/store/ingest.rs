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
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set,
};

use super::{approval, received_event, record, stream, survey_row, training};
use crate::domain::record::{ExamResult, Part, Profile, Record, RegistrationStatus, Sex, Training};

pub struct Ingest {
    pub clock: SharedClock,
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
        let result = ingest(txn, event, now).await;
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

pub async fn ingest(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    now: DateTime<Utc>,
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
        let mut am = s.into_active_model();
        let announced = (h.last_sequence as i64).max(*am.announced_sequence.as_ref());
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
            "INSERT INTO received_events (academy, source, sequence, event_id, event_type, occurred_at, envelope, applied, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
            ],
        ))
        .await?;
    if inserted.rows_affected() == 0 {
        // Already logged (redelivery or replay).
        return Ok(());
    }
    let mut applied = s.applied_sequence;
    let highest = s.highest_seen.max(e.sequence as i64);
    let last_event = s.last_event_at.map_or(at, |t| t.max(at));
    if in_order {
        apply(txn, e, at).await?;
        applied += 1;
    }
    // Facts that arrived early wait in the log until the gap before them closes.
    while highest > applied {
        let next =
            received_event::Entity::find_by_id((e.academy.clone(), e.source.clone(), applied + 1))
                .one(txn)
                .await?;
        let Some(next) = next else { break };
        let fact = EventEnvelope::decode(next.envelope.as_slice())
            .map_err(|err| HandleError::Permanent(err.to_string()))?;
        apply(txn, &fact, occurred(&fact, now)).await?;
        let mut am = next.into_active_model();
        am.applied = Set(true);
        am.update(txn).await?;
        applied += 1;
    }
    let mut am = s.into_active_model();
    am.applied_sequence = Set(applied);
    am.highest_seen = Set(highest);
    am.last_event_at = Set(Some(last_event));
    am.update(txn).await?;
    Ok(())
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

fn profile(p: Option<&cplds_proto::v1::CandidateProfile>) -> Option<Profile> {
    use cplds_proto::v1::{StaffCategory, WorkplaceType};
    let p = p?;
    let category =
        match StaffCategory::try_from(p.staff_category).unwrap_or(StaffCategory::Unspecified) {
            StaffCategory::FirstDegree => "first_degree",
            StaffCategory::SecondDegreeTenured => "second_degree_tenured",
            StaffCategory::PublicContractSecondDegree => "public_contract_second_degree",
            StaffCategory::PrivateUnderContract => "private_under_contract",
            StaffCategory::Unspecified => "unknown",
        };
    let workplace =
        match WorkplaceType::try_from(p.workplace_type).unwrap_or(WorkplaceType::Unspecified) {
            WorkplaceType::College => "college",
            WorkplaceType::Lycee => "lycee",
            WorkplaceType::Erea => "erea",
            WorkplaceType::Iem => "iem",
            WorkplaceType::Other => "other",
            WorkplaceType::Unspecified => "unknown",
        };
    Some(Profile {
        sex: Sex::from_pb(p.sex).as_str().into(),
        department: p.department.clone(),
        staff_category: category.into(),
        workplace_type: workplace.into(),
        runs_mlds_actions: p.runs_mlds_actions,
        is_dropout_referent: p.is_dropout_referent,
    })
}

fn minutes(h: Option<&cplds_proto::v1::TrainingHours>) -> u32 {
    // Kinds (theory, approfondissement, practical) partition the training; modes split the same
    // minutes another way, so only the kinds are summed.
    h.map_or(0, |h| {
        h.theory_minutes + h.deepening_minutes + h.practical_minutes
    })
}

/// The year whose figures a fact belongs to: training of school year S prepares the exam of S+1.
fn figures_year(p: &Payload) -> Option<i32> {
    Some(match p {
        Payload::NationalCampaignOpened(x) => x.year,
        Payload::NationalCandidacyRegistered(x) => x.year,
        Payload::NationalCandidacyDecided(x) => x.year,
        Payload::NationalCandidacyWithdrawn(x) => x.year,
        Payload::NationalCandidacyInadmissible(x) => x.year,
        Payload::NationalAdmittedListPublished(x) => x.year,
        Payload::NationalExamResult(x) => x.year,
        Payload::NationalResultsPublished(x) => x.year,
        Payload::NationalCertificateIssued(x) => x.year,
        Payload::NationalCertificateRevoked(x) => x.year,
        Payload::NationalTrainingEnrolled(x) => x.school_year + 1,
        Payload::NationalTrainingCompleted(x) => x.school_year + 1,
        Payload::NationalTrainingAbandoned(x) => x.school_year + 1,
        Payload::MldsSurveySubmitted(x) => x.year,
        _ => return None,
    })
}

/// Folds one fact into the records. Called in sequence order of its source.
async fn apply(
    txn: &DatabaseTransaction,
    e: &EventEnvelope,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let a = e.academy.as_str();
    let Some(p) = &e.payload else {
        return Err(HandleError::Permanent("fact without payload".into()));
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
        other => {
            return Err(HandleError::Permanent(format!(
                "{} is not a national fact",
                other.name()
            )));
        }
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
    Ok(())
}

/// Sources whose known sequence is ahead of what was applied and whose last replay request is
/// old enough to be asked again.
pub async fn gaps_to_request<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    backoff_ms: u64,
) -> Result<Vec<stream::Model>, DbErr> {
    Ok(super::streams(db)
        .await?
        .into_iter()
        .filter(|s| s.highest_seen.max(s.announced_sequence) > s.applied_sequence)
        .filter(|s| {
            s.last_replay_request_at
                .is_none_or(|t| (now - t).num_milliseconds() >= backoff_ms as i64)
        })
        .collect())
}

pub async fn mark_replay_requested<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    stream::Entity::update_many()
        .col_expr(
            stream::Column::LastReplayRequestAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(stream::Column::Academy.eq(academy))
        .filter(stream::Column::Source.eq(source))
        .exec(db)
        .await?;
    Ok(())
}
