//! What training publishes and consumes.
//!
//! Every enrolment, completion and abandonment emits, in its transaction, an internal event
//! (names included, for the académie's own services) and a fact for the trainee's own académie:
//! - a trainee of this académie: the pseudonymous national fact (keyed with this académie's
//!   secret);
//! - a trainee of another académie of the région (shared cohort): this académie's key would
//!   match nothing there, so no national fact here; the record goes to the trainee's académie on
//!   the REGIONAL stream ([`Payload::TrainingRecordForwarded`]), and that académie's training
//!   service ([`RegionalRecordHandler`]) records it and emits the national fact with its own key.
//!
//! Waiting-list moves are internal only: nationally, a trainee exists once they hold a place.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::{
    academy::Academy,
    bus::{Binding, QueueSpec, Stream},
    inbox::{EventHandler, HandleError},
    outbox::Outbox,
    pseudonym::Pseudonymizer,
    time::{from_timestamp, to_timestamp},
};
use sea_orm::DatabaseTransaction;

use crate::{
    api::convert::{Wire, hours_from_pb, hours_pb, wire},
    domain::{
        hours::Hours,
        identity::{Sex, StaffNumber, StatedSex},
        regional::{self, ExternalStatus},
        roster::EnrolmentStatus,
    },
    store::{self, Closing, cohort, encode_hours, enrolment, external_record},
};

pub fn identity(e: &enrolment::Model) -> pb::CandidateIdentity {
    pb::CandidateIdentity {
        last_name: e.last_name.clone(),
        first_name: e.first_name.clone(),
        birth_date: e.birth_date.clone().unwrap_or_default(),
        email: e.email.clone(),
        staff_number: e.staff_number.clone(),
        workplace_uai: e.workplace_uai.clone(),
    }
}

/// Who the facts about an enrolment are for.
fn is_own(organizing: &Academy, e: &enrolment::Model) -> bool {
    e.home_academy == organizing.code
}

/// The record sent to the trainee's own académie.
fn forwarded(
    organizing: &Academy,
    c: &cohort::Model,
    e: &enrolment::Model,
    outcome: ExternalStatus,
    hours: Hours,
    reason: String,
) -> Payload {
    Payload::TrainingRecordForwarded(pb::TrainingRecordForwarded {
        home_academy: e.home_academy.clone(),
        organizing_academy: organizing.code.to_owned(),
        cohort_id: c.id.clone(),
        enrolment_id: e.id.clone(),
        school_year: c.school_year,
        identity: Some(identity(e)),
        outcome: outcome.outcome().to_owned(),
        hours: Some(hours_pb(&hours)),
        attestation_number: e.attestation_number.clone().unwrap_or_default(),
        sex: wire(e.sex),
        reason,
    })
}

/// A request recorded (accepted or waitlisted), or a person promoted from the waiting list.
pub fn enrolled(organizing: &Academy, c: &cohort::Model, e: &enrolment::Model) -> Vec<Payload> {
    let mut out = vec![Payload::TrainingEnrolled(pb::TrainingEnrolled {
        cohort_id: c.id.clone(),
        enrolment_id: e.id.clone(),
        school_year: c.school_year,
        home_academy: e.home_academy.clone(),
        candidate_key: e.candidate_key.clone().unwrap_or_default(),
        identity: Some(identity(e)),
        status: e.status.as_str().to_ascii_uppercase(),
    })];
    if e.status == EnrolmentStatus::Accepted {
        out.push(if is_own(organizing, e) {
            Payload::NationalTrainingEnrolled(pb::NationalTrainingEnrolled {
                school_year: c.school_year,
                candidate_key: e.candidate_key.clone().unwrap_or_default(),
                sex: wire(e.sex),
                shared_cohort: false,
            })
        } else {
            let reason = e.leave_reason.clone().unwrap_or_default();
            forwarded(
                organizing,
                c,
                e,
                ExternalStatus::Enrolled,
                Hours::default(),
                reason,
            )
        });
    }
    out
}

/// A withdrawal or an abandonment. Facts leave the académie only for someone who held a place:
/// nationally they were enrolled, so they must be seen leaving.
pub fn left(
    organizing: &Academy,
    c: &cohort::Model,
    e: &enrolment::Model,
    held_place: bool,
    hours: Hours,
) -> Vec<Payload> {
    let reason = match (e.status, e.leave_reason.as_deref()) {
        (EnrolmentStatus::Withdrawn, Some(r)) if !r.is_empty() => format!("withdrawn: {r}"),
        (EnrolmentStatus::Withdrawn, _) => "withdrawn".to_owned(),
        (_, r) => r.unwrap_or_default().to_owned(),
    };
    let mut out = vec![Payload::TrainingAbandoned(pb::TrainingAbandoned {
        cohort_id: c.id.clone(),
        enrolment_id: e.id.clone(),
        school_year: c.school_year,
        home_academy: e.home_academy.clone(),
        candidate_key: e.candidate_key.clone().unwrap_or_default(),
        hours: Some(hours_pb(&hours)),
        reason: reason.clone(),
    })];
    if held_place {
        out.push(if is_own(organizing, e) {
            Payload::NationalTrainingAbandoned(pb::NationalTrainingAbandoned {
                school_year: c.school_year,
                candidate_key: e.candidate_key.clone().unwrap_or_default(),
                hours: Some(hours_pb(&hours)),
            })
        } else {
            forwarded(organizing, c, e, ExternalStatus::Abandoned, hours, reason)
        });
    }
    out
}

pub fn completed(
    organizing: &Academy,
    c: &cohort::Model,
    e: &enrolment::Model,
    hours: Hours,
    at: DateTime<Utc>,
) -> Vec<Payload> {
    vec![
        Payload::TrainingCompleted(pb::TrainingCompleted {
            cohort_id: c.id.clone(),
            enrolment_id: e.id.clone(),
            school_year: c.school_year,
            home_academy: e.home_academy.clone(),
            candidate_key: e.candidate_key.clone().unwrap_or_default(),
            hours: Some(hours_pb(&hours)),
            completed_at: Some(to_timestamp(at)),
            attestation_number: e.attestation_number.clone().unwrap_or_default(),
        }),
        if is_own(organizing, e) {
            Payload::NationalTrainingCompleted(pb::NationalTrainingCompleted {
                school_year: c.school_year,
                candidate_key: e.candidate_key.clone().unwrap_or_default(),
                hours: Some(hours_pb(&hours)),
            })
        } else {
            let reason = e.leave_reason.clone().unwrap_or_default();
            forwarded(organizing, c, e, ExternalStatus::Completed, hours, reason)
        },
    ]
}

/// Consumer (inbox) name of the regional records.
pub const REGIONAL_CONSUMER: &str = "training-regional";

/// The queue of records sent back by other académies of the région: `{academy}.training-regional`.
/// Bound to the records addressed to this académie only, so the broker (and the federation
/// links, which follow these bindings) never carries another académie's staff here.
pub fn regional_queue(academy: &str) -> QueueSpec {
    QueueSpec::new(
        format!("{academy}.{REGIONAL_CONSUMER}"),
        vec![
            Binding::new(
                Stream::Regional,
                format!("*.training.training_record_forwarded.{academy}"),
            ),
            // Records committed before they were addressed, still in an outbox or replayed
            // from its history, carry no addressee: the handler keeps only its own.
            Binding::new(Stream::Regional, "*.training.training_record_forwarded"),
        ],
    )
}

/// Records, in this académie, the training of its staff in another académie's cohort, and emits
/// the national facts under this académie's pseudonymisation. Applied once per event (inbox);
/// tolerant of order: a completion arriving first records the enrolment too, and a terminal
/// record is never reopened ([`regional::change`]).
pub struct RegionalRecordHandler {
    pub academy: &'static Academy,
    pub pseudonymizer: Pseudonymizer,
    pub outbox: Outbox,
}

fn permanent(why: impl Into<String>) -> HandleError {
    HandleError::Permanent(why.into())
}

/// A forwarded record about this académie's staff, checked.
struct Record<'a> {
    r: &'a pb::TrainingRecordForwarded,
    organizing: &'static Academy,
    identity: &'a pb::CandidateIdentity,
    staff_number: StaffNumber,
    outcome: ExternalStatus,
    at: DateTime<Utc>,
    /// This académie's pseudonymous key of the trainee.
    key: String,
    hours: Hours,
    sex: Option<Sex>,
}

#[async_trait]
impl EventHandler for RegionalRecordHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        let Some(rec) = self.read(event)? else {
            return Ok(());
        };
        let existing = store::external_record(txn, &rec.r.enrolment_id).await?;
        let recorded = existing.as_ref().map(|row| row.status);
        let Some(change) = regional::change(recorded, rec.outcome) else {
            tracing::info!(enrolment = %rec.r.enrolment_id, outcome = %rec.outcome, status = ?recorded, "regional record after a final one; ignored");
            return Ok(());
        };
        let mut facts = Vec::new();
        let mut row = existing;
        if change.enrols {
            row = Some(store::insert_external(txn, self.new_record(&rec)?).await?);
            facts.extend(self.enrolled_facts(&rec));
        }
        if let (Some(status), Some(row)) = (change.closes, row) {
            let closing = Closing {
                status,
                hours: rec.hours,
                attestation_number: Some(rec.r.attestation_number.clone()),
                reason: (!rec.r.reason.is_empty()).then(|| rec.r.reason.clone()),
                at: rec.at,
            };
            store::close_external(txn, row, closing).await?;
            facts.extend(self.closing_facts(&rec, status));
            tracing::info!(enrolment = %rec.r.enrolment_id, organizing = %rec.organizing.code, outcome = %status, "regional training record applied");
        }
        for p in facts {
            self.outbox.append(txn, p).await?;
        }
        Ok(())
    }
}

impl RegionalRecordHandler {
    /// The record an event carries, if it is about this académie's staff; a record that can
    /// never be applied is refused for good.
    fn read<'a>(&self, event: &'a EventEnvelope) -> Result<Option<Record<'a>>, HandleError> {
        let Some(Payload::TrainingRecordForwarded(r)) = &event.payload else {
            return Err(permanent(format!(
                "unexpected {} on the regional training queue",
                event.r#type
            )));
        };
        // Unaddressed records (committed before addressing) reach every académie of the région.
        if r.home_academy != self.academy.code {
            return Ok(None);
        }
        let organizing = regional::sender(self.academy, &event.academy, &r.organizing_academy)
            .map_err(permanent)?;
        let identity = r
            .identity
            .as_ref()
            .ok_or_else(|| permanent("record without identity"))?;
        let staff_number = StaffNumber::parse(&identity.staff_number)
            .map_err(|e| permanent(format!("staff number: {e}")))?;
        let outcome = ExternalStatus::from_outcome(&r.outcome).map_err(permanent)?;
        let at = event
            .occurred_at
            .as_ref()
            .map(from_timestamp)
            .transpose()
            .map_err(permanent)?
            .ok_or_else(|| permanent("event without occurred_at"))?;
        Ok(Some(Record {
            key: self.pseudonymizer.candidate_key(staff_number.as_str()),
            // An absent hours message is no hours, as in any proto message.
            hours: r.hours.as_ref().map(hours_from_pb).unwrap_or_default(),
            sex: Sex::from_wire(r.sex).flatten(),
            r,
            organizing,
            identity,
            staff_number,
            outcome,
            at,
        }))
    }

    fn new_record(&self, rec: &Record<'_>) -> Result<external_record::Model, HandleError> {
        let (r, id) = (rec.r, rec.identity);
        Ok(external_record::Model {
            enrolment_id: r.enrolment_id.clone(),
            organizing_academy: rec.organizing.code.to_owned(),
            cohort_id: r.cohort_id.clone(),
            school_year: r.school_year,
            last_name: id.last_name.clone(),
            first_name: id.first_name.clone(),
            birth_date: (!id.birth_date.is_empty()).then(|| id.birth_date.clone()),
            email: id.email.clone(),
            staff_number: rec.staff_number.as_str().to_owned(),
            sex: StatedSex::from(rec.sex),
            workplace_uai: id.workplace_uai.clone(),
            candidate_key: rec.key.clone(),
            status: ExternalStatus::Enrolled,
            hours: encode_hours(&Hours::default())?,
            attestation_number: None,
            reason: None,
            enrolled_at: rec.at,
            updated_at: rec.at,
        })
    }

    fn enrolled_facts(&self, rec: &Record<'_>) -> [Payload; 2] {
        let r = rec.r;
        [
            Payload::TrainingEnrolled(pb::TrainingEnrolled {
                cohort_id: r.cohort_id.clone(),
                enrolment_id: r.enrolment_id.clone(),
                school_year: r.school_year,
                home_academy: self.academy.code.to_owned(),
                candidate_key: rec.key.clone(),
                identity: Some(rec.identity.clone()),
                status: "ACCEPTED".to_owned(),
            }),
            Payload::NationalTrainingEnrolled(pb::NationalTrainingEnrolled {
                school_year: r.school_year,
                candidate_key: rec.key.clone(),
                sex: rec.sex.map_or(0, wire),
                shared_cohort: true,
            }),
        ]
    }

    fn closing_facts(&self, rec: &Record<'_>, status: ExternalStatus) -> [Payload; 2] {
        let (r, key, hours) = (rec.r, rec.key.clone(), Some(hours_pb(&rec.hours)));
        if status == ExternalStatus::Completed {
            return [
                Payload::TrainingCompleted(pb::TrainingCompleted {
                    cohort_id: r.cohort_id.clone(),
                    enrolment_id: r.enrolment_id.clone(),
                    school_year: r.school_year,
                    home_academy: self.academy.code.to_owned(),
                    candidate_key: key.clone(),
                    hours,
                    completed_at: Some(to_timestamp(rec.at)),
                    attestation_number: r.attestation_number.clone(),
                }),
                Payload::NationalTrainingCompleted(pb::NationalTrainingCompleted {
                    school_year: r.school_year,
                    candidate_key: key,
                    hours,
                }),
            ];
        }
        [
            Payload::TrainingAbandoned(pb::TrainingAbandoned {
                cohort_id: r.cohort_id.clone(),
                enrolment_id: r.enrolment_id.clone(),
                school_year: r.school_year,
                home_academy: self.academy.code.to_owned(),
                candidate_key: key.clone(),
                hours,
                reason: r.reason.clone(),
            }),
            Payload::NationalTrainingAbandoned(pb::NationalTrainingAbandoned {
                school_year: r.school_year,
                candidate_key: key,
                hours,
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cplds_runtime::{
        clock::{ManualClock, SharedClock},
        db::{self, DbTarget},
        inbox::{self, Consumer, Outcome},
        outbox::pending_count,
        time::parse_paris_local,
    };
    use sea_orm::DatabaseConnection;

    use super::*;
    use crate::{
        domain::regional::{COMPLETED, ENROLLED},
        store::migration::Migrator,
    };

    struct Home {
        db: DatabaseConnection,
        consumer: Consumer,
        clock: SharedClock,
        _dir: tempfile::TempDir,
    }

    async fn limoges() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let db = db::connect(&DbTarget::Sqlite {
            path: dir.path().join("training.sqlite"),
        })
        .await
        .unwrap();
        db::migrate::<Migrator>(&db).await.unwrap();
        let clock: SharedClock = ManualClock::new(parse_paris_local("2026-05-04T10:00").unwrap());
        let academy = Academy::find("limoges").unwrap();
        let consumer = Consumer {
            name: REGIONAL_CONSUMER.into(),
            queue: regional_queue(academy.code),
            handler: Arc::new(RegionalRecordHandler {
                academy,
                pseudonymizer: Pseudonymizer::new(*b"limoges-secret-for-the-tests-0123"),
                outbox: Outbox::new(academy.code, crate::NAME, clock.clone()),
            }),
        };
        Home {
            db,
            consumer,
            clock,
            _dir: dir,
        }
    }

    fn record(id: &str, from: &str, home: &str, outcome: &str) -> EventEnvelope {
        EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            academy: from.into(),
            source: "training".into(),
            sequence: 1,
            occurred_at: Some(to_timestamp(parse_paris_local("2026-05-04T09:00").unwrap())),
            r#type: "training_record_forwarded".into(),
            stream: pb::Stream::Regional as i32,
            trace_context: Default::default(),
            signing_key_id: String::new(),
            signature: Vec::new(),
            payload: Some(Payload::TrainingRecordForwarded(
                pb::TrainingRecordForwarded {
                    home_academy: home.into(),
                    organizing_academy: from.into(),
                    cohort_id: "c1".into(),
                    enrolment_id: id.into(),
                    school_year: 2025,
                    identity: Some(pb::CandidateIdentity {
                        last_name: "Moreau".into(),
                        first_name: "Léa".into(),
                        birth_date: String::new(),
                        email: "lea.moreau@ac-limoges.fr".into(),
                        staff_number: "12E0004202TRN".into(),
                        workplace_uai: "0870015U".into(),
                    }),
                    outcome: outcome.into(),
                    hours: Some(pb::TrainingHours {
                        theory_minutes: 7200,
                        ..Default::default()
                    }),
                    attestation_number: "ATT-BORDEAUX-2025-0001".into(),
                    sex: pb::Sex::Female as i32,
                    reason: String::new(),
                },
            )),
        }
    }

    async fn apply(h: &Home, e: &EventEnvelope) -> Result<Outcome, HandleError> {
        inbox::apply(&h.db, &h.consumer, &h.clock, e).await
    }

    #[tokio::test]
    async fn order_tolerant_idempotent_and_only_for_this_academy() {
        let h = limoges().await;
        // The completion arrives first: the enrolment is recorded with it, facts in order.
        let completed = record("e1", "bordeaux", "limoges", COMPLETED);
        assert!(matches!(apply(&h, &completed).await, Ok(Outcome::Applied)));
        let row = store::external_record(&h.db, "e1").await.unwrap().unwrap();
        assert_eq!(row.status, ExternalStatus::Completed);
        assert_eq!(
            row.attestation_number.as_deref(),
            Some("ATT-BORDEAUX-2025-0001")
        );
        assert_eq!(row.sex, StatedSex::Female);
        assert_eq!(
            pending_count(&h.db).await.unwrap(),
            4,
            "enrolled and completed, internal and national"
        );
        // The enrolment arriving late changes nothing; nor does the completion redelivered.
        let enrolled = record("e1", "bordeaux", "limoges", ENROLLED);
        assert!(matches!(apply(&h, &enrolled).await, Ok(Outcome::Applied)));
        assert!(matches!(
            apply(&h, &completed).await,
            Ok(Outcome::Duplicate)
        ));
        assert_eq!(
            store::external_record(&h.db, "e1")
                .await
                .unwrap()
                .unwrap()
                .status,
            ExternalStatus::Completed
        );
        assert_eq!(pending_count(&h.db).await.unwrap(), 4);
        // Records for Poitiers' staff are not Limoges' business.
        let other = record("e2", "bordeaux", "poitiers", ENROLLED);
        assert!(matches!(apply(&h, &other).await, Ok(Outcome::Applied)));
        assert!(store::external_record(&h.db, "e2").await.unwrap().is_none());
        // Only another académie of the région may send records, under its own name.
        for bad in [
            record("e3", "toulouse", "limoges", ENROLLED),
            record("e3", "limoges", "limoges", ENROLLED),
            record("e3", "bordeaux", "limoges", "GRADUATED"),
            {
                let mut e = record("e3", "bordeaux", "limoges", ENROLLED);
                e.academy = "poitiers".into();
                e
            },
        ] {
            assert!(
                matches!(apply(&h, &bad).await, Err(HandleError::Permanent(_))),
                "{bad:?}"
            );
        }
        assert!(store::external_record(&h.db, "e3").await.unwrap().is_none());
        assert_eq!(pending_count(&h.db).await.unwrap(), 4);
    }
}
