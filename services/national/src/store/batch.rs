//! What one ingest transaction reads and changes, kept in memory and written once before commit.
//! A batch of deliveries touches few streams and each candidate's record several times in a
//! row (registered, decided, examined, certified): each stream, record and approval is read
//! once (records of the whole batch in one query per académie and year) and written once
//! (records in multi-row upserts), instead of a read and a write per fact; the log's rows a
//! source advanced over are marked applied in one update per source.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use cplds_proto::v1::{EventEnvelope, event_envelope::Payload};
use cplds_runtime::{
    db::{placeholders, stmt},
    inbox::HandleError,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    Set, Value,
};

use super::{approval, jury, stream, survey};
use crate::domain::record::{
    ExamResult, Part, Record, RegistrationStatus, Training, figures_year, minutes, past_candidate,
    profile,
};

/// Rows per multi-row upsert (4 parameters each: far below every backend's limit).
const ROWS_PER_STATEMENT: usize = 200;

/// Keys per `IN (...)` when records are read ahead.
const KEYS_PER_READ: usize = 500;

/// A stream as read (locked) and as changed by the facts of the transaction.
struct StreamEntry {
    read: stream::Model,
    now: stream::Model,
}

/// A record or training as read (or new), and whether a fact changed it.
struct Cached<T> {
    value: T,
    changed: bool,
}

type CandidateKey = (String, i32, String);

/// The write-behind state of one ingest transaction. [`Batch::flush`] must run before commit;
/// dropping a batch without flushing loses its changes (the transaction is rolled back anyway).
pub struct Batch {
    streams: BTreeMap<(String, String), StreamEntry>,
    records: HashMap<CandidateKey, Cached<Record>>,
    trainings: HashMap<CandidateKey, Cached<Training>>,
    approvals: HashMap<(String, i32), Option<approval::Model>>,
    /// Facts waiting behind a closed gap that this transaction may still apply.
    pub catch_up_budget: u32,
}

/// Which record a fact folds into, if any.
enum Target {
    Record(i32, String),
    Training(i32, String),
}

fn target(p: &Payload) -> Option<Target> {
    Some(match p {
        Payload::NationalCandidacyRegistered(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalCandidacyDecided(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalCandidacyWithdrawn(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalExamResult(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalPastCandidate(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalCertificateIssued(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalCertificateRevoked(x) => Target::Record(x.year, x.candidate_key.clone()),
        Payload::NationalTrainingEnrolled(x) => {
            Target::Training(x.school_year, x.candidate_key.clone())
        }
        Payload::NationalTrainingCompleted(x) => {
            Target::Training(x.school_year, x.candidate_key.clone())
        }
        Payload::NationalTrainingAbandoned(x) => {
            Target::Training(x.school_year, x.candidate_key.clone())
        }
        _ => return None,
    })
}

fn json_err(e: serde_json::Error) -> DbErr {
    DbErr::Custom(e.to_string())
}

impl Batch {
    /// An empty batch that may apply `catch_up_budget` facts waiting behind gaps.
    pub fn new(catch_up_budget: u32) -> Self {
        Self {
            streams: BTreeMap::new(),
            records: HashMap::new(),
            trainings: HashMap::new(),
            approvals: HashMap::new(),
            catch_up_budget,
        }
    }

    /// Reads (and on PostgreSQL locks until commit) the streams of `keys`, in key order: two
    /// aggregator replicas locking the streams of their batches never wait on each other in a
    /// cycle.
    pub async fn lock_streams<'a>(
        &mut self,
        txn: &DatabaseTransaction,
        keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), DbErr> {
        let keys: Vec<(&str, &str)> = keys
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|(a, s)| {
                !self
                    .streams
                    .contains_key(&((*a).to_owned(), (*s).to_owned()))
            })
            .collect();
        // One statement for the streams there, one for the new ones (then read like the rest):
        // a batch spans a few dozen streams, and a round trip each was most of its time. Only a
        // source's first facts create its stream; two replicas doing so at once may deadlock,
        // which PostgreSQL breaks by failing one transaction, retried by the inbox.
        let mut found = read_streams(txn, &keys).await?;
        if found.len() < keys.len() {
            let missing: Vec<(&str, &str)> = keys
                .iter()
                .copied()
                .filter(|(a, s)| !found.iter().any(|m| m.academy == *a && m.source == *s))
                .collect();
            let mut values: Vec<Value> = Vec::with_capacity(missing.len() * 2);
            for (a, s) in &missing {
                values.push((*a).into());
                values.push((*s).into());
            }
            let rows = vec!["(?, ?, 0, 0, 0)"; missing.len()].join(", ");
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                &format!(
                    "INSERT INTO streams (academy, source, applied_sequence, highest_seen, announced_sequence) \
                     VALUES {rows} ON CONFLICT (academy, source) DO NOTHING"
                ),
                values,
            ))
            .await?;
            found.extend(read_streams(txn, &missing).await?);
        }
        for read in found {
            self.streams.insert(
                (read.academy.clone(), read.source.clone()),
                StreamEntry {
                    now: read.clone(),
                    read,
                },
            );
        }
        Ok(())
    }

    /// The stream of (`academy`, `source`) as this transaction left it (created if new).
    pub async fn stream(
        &mut self,
        txn: &DatabaseTransaction,
        academy: &str,
        source: &str,
    ) -> Result<stream::Model, DbErr> {
        let key = (academy.to_owned(), source.to_owned());
        if let Some(s) = self.streams.get(&key) {
            return Ok(s.now.clone());
        }
        let read = super::ingest::stream_row(txn, academy, source).await?;
        self.streams.insert(
            key,
            StreamEntry {
                now: read.clone(),
                read: read.clone(),
            },
        );
        Ok(read)
    }

    /// Keeps `s` as the stream's state, written at [`Batch::flush`].
    pub fn put_stream(&mut self, s: stream::Model) {
        let key = (s.academy.clone(), s.source.clone());
        match self.streams.get_mut(&key) {
            Some(entry) => entry.now = s,
            None => {
                self.streams.insert(
                    key,
                    StreamEntry {
                        read: s.clone(),
                        now: s,
                    },
                );
            }
        }
    }

    /// Reads ahead, in one query per académie and year, the records and trainings the facts of
    /// `events` fold into.
    pub async fn read_ahead(
        &mut self,
        txn: &DatabaseTransaction,
        events: &[&EventEnvelope],
    ) -> Result<(), DbErr> {
        let mut records: BTreeMap<(String, i32), BTreeSet<String>> = BTreeMap::new();
        let mut trainings: BTreeMap<(String, i32), BTreeSet<String>> = BTreeMap::new();
        for e in events {
            let Some(t) = e.payload.as_ref().and_then(target) else {
                continue;
            };
            match t {
                Target::Record(year, key)
                    if !self
                        .records
                        .contains_key(&(e.academy.clone(), year, key.clone())) =>
                {
                    records
                        .entry((e.academy.clone(), year))
                        .or_default()
                        .insert(key);
                }
                Target::Training(year, key)
                    if !self
                        .trainings
                        .contains_key(&(e.academy.clone(), year, key.clone())) =>
                {
                    trainings
                        .entry((e.academy.clone(), year))
                        .or_default()
                        .insert(key);
                }
                _ => {}
            }
        }
        self.read_approvals(txn, events).await?;
        let found = read_rows(txn, "records", "year", &records).await?;
        for ((academy, year), keys) in records {
            for key in keys {
                let value = match found.get(&(academy.clone(), year, key.clone())) {
                    Some(data) => serde_json::from_str(data).map_err(json_err)?,
                    None => Record::new(&academy, year, &key),
                };
                self.records.insert(
                    (academy.clone(), year, key),
                    Cached {
                        value,
                        changed: false,
                    },
                );
            }
        }
        let found = read_rows(txn, "trainings", "school_year", &trainings).await?;
        for ((academy, year), keys) in trainings {
            for key in keys {
                let value = match found.get(&(academy.clone(), year, key.clone())) {
                    Some(data) => serde_json::from_str(data).map_err(json_err)?,
                    None => new_training(&academy, year, &key),
                };
                self.trainings.insert(
                    (academy.clone(), year, key),
                    Cached {
                        value,
                        changed: false,
                    },
                );
            }
        }
        Ok(())
    }

    async fn record(
        &mut self,
        txn: &DatabaseTransaction,
        academy: &str,
        year: i32,
        key: &str,
    ) -> Result<&mut Record, DbErr> {
        let k = (academy.to_owned(), year, key.to_owned());
        if !self.records.contains_key(&k) {
            let wanted =
                BTreeMap::from([((academy.to_owned(), year), BTreeSet::from([key.to_owned()]))]);
            let found = read_rows(txn, "records", "year", &wanted).await?;
            let value = match found.get(&k) {
                Some(data) => serde_json::from_str(data).map_err(json_err)?,
                None => Record::new(academy, year, key),
            };
            self.records.insert(
                k.clone(),
                Cached {
                    value,
                    changed: false,
                },
            );
        }
        let entry = self
            .records
            .get_mut(&k)
            .ok_or_else(|| DbErr::RecordNotFound(format!("record {academy}/{year}/{key}")))?;
        entry.changed = true;
        Ok(&mut entry.value)
    }

    async fn training(
        &mut self,
        txn: &DatabaseTransaction,
        academy: &str,
        school_year: i32,
        key: &str,
    ) -> Result<&mut Training, DbErr> {
        let k = (academy.to_owned(), school_year, key.to_owned());
        if !self.trainings.contains_key(&k) {
            let wanted = BTreeMap::from([(
                (academy.to_owned(), school_year),
                BTreeSet::from([key.to_owned()]),
            )]);
            let found = read_rows(txn, "trainings", "school_year", &wanted).await?;
            let value = match found.get(&k) {
                Some(data) => serde_json::from_str(data).map_err(json_err)?,
                None => new_training(academy, school_year, key),
            };
            self.trainings.insert(
                k.clone(),
                Cached {
                    value,
                    changed: false,
                },
            );
        }
        let entry = self.trainings.get_mut(&k).ok_or_else(|| {
            DbErr::RecordNotFound(format!("training {academy}/{school_year}/{key}"))
        })?;
        entry.changed = true;
        Ok(&mut entry.value)
    }

    /// Reads ahead, in one query, the approvals of the (académie, year) of the facts of
    /// `events` that [`Batch::approval`] will ask for.
    async fn read_approvals(
        &mut self,
        txn: &DatabaseTransaction,
        events: &[&EventEnvelope],
    ) -> Result<(), DbErr> {
        let wanted: BTreeSet<(String, i32)> = events
            .iter()
            .filter_map(|e| {
                let p = e.payload.as_ref()?;
                let year = figures_year(p)?;
                let key = (e.academy.clone(), year);
                (!matches!(p, Payload::FiguresApproved(_)) && !self.approvals.contains_key(&key))
                    .then_some(key)
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut values: Vec<Value> = Vec::with_capacity(wanted.len() * 2);
        for (a, y) in &wanted {
            values.push(a.clone().into());
            values.push((*y).into());
        }
        let pairs = vec!["(?, ?)"; wanted.len()].join(", ");
        let found = approval::Entity::find()
            .from_raw_sql(stmt(
                txn.get_database_backend(),
                &format!("SELECT * FROM approvals WHERE (academy, year) IN ({pairs})"),
                values,
            ))
            .all(txn)
            .await?;
        for key in wanted {
            let row = found
                .iter()
                .find(|a| a.academy == key.0 && a.year == key.1)
                .cloned();
            self.approvals.insert(key, row);
        }
        Ok(())
    }

    async fn approval(
        &mut self,
        txn: &DatabaseTransaction,
        academy: &str,
        year: i32,
    ) -> Result<Option<approval::Model>, DbErr> {
        let k = (academy.to_owned(), year);
        if let Some(a) = self.approvals.get(&k) {
            return Ok(a.clone());
        }
        let a = approval::Entity::find_by_id(k.clone()).one(txn).await?;
        self.approvals.insert(k, a.clone());
        Ok(a)
    }

    /// Writes what the transaction changed: streams, then records and trainings in multi-row
    /// upserts. The batch is empty afterwards (its streams stay known, as written).
    pub async fn flush(&mut self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let changed: Vec<&StreamEntry> =
            self.streams.values().filter(|e| e.now != e.read).collect();
        write_streams(txn, &changed).await?;
        // The facts each source advanced over: applied, but for those kept for an upgrade.
        let advanced: Vec<&StreamEntry> = changed
            .into_iter()
            .filter(|e| e.now.applied_sequence > e.read.applied_sequence)
            .collect();
        if !advanced.is_empty() {
            let ranges = vec![
                "(academy = ? AND source = ? AND sequence > ? AND sequence <= ?)";
                advanced.len()
            ]
            .join(" OR ");
            let mut values: Vec<Value> = Vec::with_capacity(advanced.len() * 4);
            for e in &advanced {
                values.push(e.now.academy.clone().into());
                values.push(e.now.source.clone().into());
                values.push(e.read.applied_sequence.into());
                values.push(e.now.applied_sequence.into());
            }
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                &format!("UPDATE received_events SET applied = NOT waiting_upgrade WHERE {ranges}"),
                values,
            ))
            .await?;
        }
        for entry in self.streams.values_mut() {
            entry.read = entry.now.clone();
        }
        let records: Vec<(String, i32, String, String)> = self
            .records
            .drain()
            .filter(|(_, c)| c.changed)
            .map(|((a, y, k), c)| Ok((a, y, k, serde_json::to_string(&c.value)?)))
            .collect::<Result<_, serde_json::Error>>()
            .map_err(json_err)?;
        upsert(txn, "records", "year", records).await?;
        let trainings: Vec<(String, i32, String, String)> = self
            .trainings
            .drain()
            .filter(|(_, c)| c.changed)
            .map(|((a, y, k), c)| Ok((a, y, k, serde_json::to_string(&c.value)?)))
            .collect::<Result<_, serde_json::Error>>()
            .map_err(json_err)?;
        upsert(txn, "trainings", "school_year", trainings).await?;
        self.approvals.clear();
        Ok(())
    }

    /// Folds one fact into the records. Called in sequence order of its source. False when this
    /// node does not know the fact's payload (a newer académie): nothing is changed.
    pub async fn apply(
        &mut self,
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
                let r = self.record(txn, a, x.year, &x.candidate_key).await?;
                if let Some(pr) = profile(x.profile.as_ref()) {
                    r.profile = pr;
                }
                r.eligible = x.eligible;
                r.status = Some(RegistrationStatus::Registered);
                r.rejection_reason = None;
            }
            Payload::NationalCandidacyDecided(x) => {
                let r = self.record(txn, a, x.year, &x.candidate_key).await?;
                r.status = Some(if x.validated {
                    RegistrationStatus::Validated
                } else {
                    RegistrationStatus::Rejected
                });
                r.rejection_reason = (!x.validated).then(|| x.rejection_reason.clone());
            }
            Payload::NationalCandidacyWithdrawn(x) => {
                let r = self.record(txn, a, x.year, &x.candidate_key).await?;
                r.status = Some(RegistrationStatus::Withdrawn);
                r.was_admitted_to_sit = x.was_admitted_to_sit;
            }
            Payload::NationalExamResult(x) => {
                let r = self.record(txn, a, x.year, &x.candidate_key).await?;
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
            }
            Payload::NationalPastCandidate(x) => {
                let r = self.record(txn, a, x.year, &x.candidate_key).await?;
                past_candidate(r, x);
            }
            Payload::NationalCertificateIssued(x) => {
                self.record(txn, a, x.year, &x.candidate_key)
                    .await?
                    .certified = true;
            }
            Payload::NationalCertificateRevoked(x) => {
                self.record(txn, a, x.year, &x.candidate_key)
                    .await?
                    .certificate_revoked = true;
            }
            Payload::NationalTrainingEnrolled(x) => {
                self.training(txn, a, x.school_year, &x.candidate_key)
                    .await?
                    .enrolled = true;
            }
            Payload::NationalTrainingCompleted(x) => {
                let t = self
                    .training(txn, a, x.school_year, &x.candidate_key)
                    .await?;
                t.enrolled = true;
                t.completed = true;
                t.abandoned = false;
                t.minutes = minutes(x.hours.as_ref());
            }
            Payload::NationalTrainingAbandoned(x) => {
                let t = self
                    .training(txn, a, x.school_year, &x.candidate_key)
                    .await?;
                t.enrolled = true;
                t.abandoned = true;
                t.completed = false;
                t.minutes = minutes(x.hours.as_ref());
            }
            Payload::FiguresApproved(x) => {
                txn.execute_raw(stmt(
                    txn.get_database_backend(),
                    "INSERT INTO approvals (academy, year, approved, approved_at, remarks) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (academy, year) DO UPDATE SET approved = excluded.approved, approved_at = excluded.approved_at, remarks = excluded.remarks",
                    vec![a.into(), x.year.into(), true.into(), at.into(), x.remarks.clone().into()],
                ))
                .await?;
                self.approvals.insert(
                    (a.to_owned(), x.year),
                    Some(approval::Model {
                        academy: a.to_owned(),
                        year: x.year,
                        approved: true,
                        approved_at: Some(at),
                        remarks: x.remarks.clone(),
                    }),
                );
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
            Payload::MldsSurveySubmitted(x) => survey::insert(txn, a, x).await?,
            Payload::NationalJuryRemarks(x) => jury::save(txn, a, x).await?,
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
            && let Some(ap) = self.approval(txn, a, year).await?
            && ap.approved
            && ap.approved_at.is_some_and(|t| at > t)
        {
            let mut reopened = ap.clone();
            reopened.approved = false;
            let mut am = ap.into_active_model();
            am.approved = Set(false);
            am.update(txn).await?;
            self.approvals.insert((a.to_owned(), year), Some(reopened));
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
}

fn new_training(academy: &str, school_year: i32, key: &str) -> Training {
    Training {
        academy: academy.to_owned(),
        school_year,
        candidate_key: key.to_owned(),
        ..Default::default()
    }
}

/// `candidate_key → data` of the rows of `table` for `academy` and `year` among `keys`.
/// The streams of `keys`, read in key order and, on PostgreSQL, locked until commit in that
/// order (aggregator replicas apply a source's facts one transaction at a time).
async fn read_streams(
    txn: &DatabaseTransaction,
    keys: &[(&str, &str)],
) -> Result<Vec<stream::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let backend = txn.get_database_backend();
    let lock = if backend == sea_orm::DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let mut values: Vec<Value> = Vec::with_capacity(keys.len() * 2);
    for (a, s) in keys {
        values.push((*a).into());
        values.push((*s).into());
    }
    let pairs = vec!["(?, ?)"; keys.len()].join(", ");
    stream::Entity::find()
        .from_raw_sql(stmt(
            backend,
            &format!(
                "SELECT * FROM streams WHERE (academy, source) IN ({pairs}) \
                 ORDER BY academy, source{lock}"
            ),
            values,
        ))
        .all(txn)
        .await
}

/// A written column of `streams` and how to read it from a stream's state.
type StreamColumn = fn(&stream::Model) -> Value;

/// Writes the changed streams in one statement (a `CASE` per column, keyed by stream).
async fn write_streams(txn: &DatabaseTransaction, changed: &[&StreamEntry]) -> Result<(), DbErr> {
    if changed.is_empty() {
        return Ok(());
    }
    let mut sets = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let columns: [(&str, StreamColumn); 6] = [
        ("applied_sequence", |s| s.applied_sequence.into()),
        ("highest_seen", |s| s.highest_seen.into()),
        ("announced_sequence", |s| s.announced_sequence.into()),
        ("last_event_at", |s| s.last_event_at.into()),
        ("last_heartbeat_at", |s| s.last_heartbeat_at.into()),
        ("unanswered_replays", |s| s.unanswered_replays.into()),
    ];
    for (column, value) in columns {
        let arms = vec!["WHEN academy = ? AND source = ? THEN ?"; changed.len()].join(" ");
        sets.push(format!("{column} = CASE {arms} ELSE {column} END"));
        for e in changed {
            values.push(e.now.academy.clone().into());
            values.push(e.now.source.clone().into());
            values.push(value(&e.now));
        }
    }
    for e in changed {
        values.push(e.now.academy.clone().into());
        values.push(e.now.source.clone().into());
    }
    let pairs = vec!["(?, ?)"; changed.len()].join(", ");
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        &format!(
            "UPDATE streams SET {} WHERE (academy, source) IN ({pairs})",
            sets.join(", ")
        ),
        values,
    ))
    .await?;
    Ok(())
}

/// The stored `data` of the rows of `table` for `wanted` keys of each (académie, year), keyed
/// by (académie, year, candidate key): one statement for every group of a batch (at most
/// [`KEYS_PER_READ`] keys each), not one per académie and year.
async fn read_rows(
    txn: &DatabaseTransaction,
    table: &str,
    year_column: &str,
    wanted: &BTreeMap<(String, i32), BTreeSet<String>>,
) -> Result<HashMap<(String, i32, String), String>, DbErr> {
    let keys: Vec<(&str, i32, &str)> = wanted
        .iter()
        .flat_map(|((a, y), keys)| keys.iter().map(move |k| (a.as_str(), *y, k.as_str())))
        .collect();
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_READ) {
        let mut groups = Vec::new();
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() + 8);
        for group in chunk.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
            groups.push(format!(
                "(academy = ? AND {year_column} = ? AND candidate_key IN ({}))",
                placeholders(group.len())
            ));
            values.push(group[0].0.into());
            values.push(group[0].1.into());
            values.extend(group.iter().map(|k| Value::from(k.2)));
        }
        let rows = txn
            .query_all_raw(stmt(
                txn.get_database_backend(),
                &format!(
                    "SELECT academy, {year_column} AS year, candidate_key, data FROM {table} WHERE {}",
                    groups.join(" OR ")
                ),
                values,
            ))
            .await?;
        for row in rows {
            out.insert(
                (
                    row.try_get::<String>("", "academy")?,
                    row.try_get::<i32>("", "year")?,
                    row.try_get::<String>("", "candidate_key")?,
                ),
                row.try_get::<String>("", "data")?,
            );
        }
    }
    Ok(out)
}

/// Inserts or replaces `(academy, year, candidate_key, data)` rows of `table`, many per
/// statement.
async fn upsert(
    txn: &DatabaseTransaction,
    table: &str,
    year_column: &str,
    rows: Vec<(String, i32, String, String)>,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let marks = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
        for (academy, year, key, data) in chunk {
            values.extend([
                academy.as_str().into(),
                (*year).into(),
                key.as_str().into(),
                data.as_str().into(),
            ]);
        }
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            &format!(
                "INSERT INTO {table} (academy, {year_column}, candidate_key, data) VALUES {marks} \
                 ON CONFLICT (academy, {year_column}, candidate_key) DO UPDATE SET data = excluded.data"
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}
