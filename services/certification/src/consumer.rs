//! What certification learns from examination: the published results, and appeals decided
//! after them. Each admitted candidate gets a prepared certificate (numbered now, signed later
//! by the recteur); a candidate no longer admitted loses a certificate not yet signed.
//!
//! The runner records each event id in the inbox in the same transaction (so a redelivered
//! event does nothing); beyond that, preparation is keyed on the candidacy, so the same
//! decision carried by another event (results published again, then an appeal) prepares one
//! certificate, never two.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    academy::Academy,
    bus::{Binding, QueueSpec, Stream},
    clock::SharedClock,
    events::EventEnvelope,
    inbox::{Consumer, EventHandler, HandleError},
    kit::history,
    time::from_timestamp,
};
use sea_orm::{DatabaseTransaction, IntoActiveModel, Set};

use crate::{
    domain::{
        certificate::{self, CertificateState, Preparation, holder_name, parse_name},
        code::VerificationCode,
        number::{CertificateNumber, FIRST_YEAR},
        status_list,
    },
    store::{self, certificate as row},
};

/// The consumer of a node's examination events.
pub fn consumer(academy: &'static Academy, clock: SharedClock) -> Consumer {
    Consumer {
        name: "certification.examination".into(),
        queue: queue(academy.code),
        handler: Arc::new(ExaminationEvents { academy, clock }),
    }
}

/// The queue of examination's results and appeal decisions.
pub fn queue(code: &str) -> QueueSpec {
    QueueSpec::new(
        format!("{code}.certification"),
        vec![
            Binding::new(
                Stream::Internal,
                format!("{code}.examination.results_published"),
            ),
            Binding::new(
                Stream::Internal,
                format!("{code}.examination.appeal_decided"),
            ),
        ],
    )
}

pub struct ExaminationEvents {
    academy: &'static Academy,
    clock: SharedClock,
}

/// One candidate's decision, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    candidacy_id: String,
    candidate_key: String,
    admitted: bool,
    holder: Option<Holder>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    last_name: String,
    first_name: String,
    birth_date: String,
    email: String,
}

fn permanent(msg: impl Into<String>) -> HandleError {
    HandleError::Permanent(msg.into())
}

fn parse_decision(d: &pb::CandidateDecision) -> Result<Decision, String> {
    let id = d.candidacy_id.trim();
    if id.is_empty() || id.len() > 100 {
        return Err("candidacy_id is missing or too long".into());
    }
    let key = d.candidate_key.trim();
    if key.is_empty() || key.len() > 128 {
        return Err(format!(
            "candidacy {id}: candidate_key is missing or too long"
        ));
    }
    let admitted = match d.outcome.as_str() {
        "ADMITTED" => true,
        "NOT_ADMITTED" => false,
        other => return Err(format!("candidacy {id}: unknown outcome {other:?}")),
    };
    // Names are needed only to print a certificate.
    let holder = if admitted {
        let identity = d
            .identity
            .as_ref()
            .ok_or_else(|| format!("candidacy {id}: an admitted candidate without identity"))?;
        let email = identity.email.trim().to_lowercase();
        if !email.contains('@') {
            return Err(format!(
                "candidacy {id}: identity.email is not an e-mail address"
            ));
        }
        Some(Holder {
            last_name: parse_name(&identity.last_name)
                .map_err(|e| format!("candidacy {id}: identity.last_name {e}"))?,
            first_name: parse_name(&identity.first_name)
                .map_err(|e| format!("candidacy {id}: identity.first_name {e}"))?,
            birth_date: identity.birth_date.trim().to_owned(),
            email,
        })
    } else {
        None
    };
    Ok(Decision {
        candidacy_id: id.to_owned(),
        candidate_key: key.to_owned(),
        admitted,
        holder,
    })
}

/// The decisions an event carries, for one session.
struct Published<'a> {
    year: i32,
    session: &'a str,
    decisions: Vec<&'a pb::CandidateDecision>,
    admitted_at: DateTime<Utc>,
}

fn instant(t: Option<&prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, HandleError> {
    t.map(from_timestamp).transpose().map_err(permanent)
}

/// What results or an upheld appeal decide; `None` for an event that decides nothing here.
fn published(
    payload: Option<&Payload>,
    occurred: DateTime<Utc>,
) -> Result<Option<Published<'_>>, HandleError> {
    let p = match payload {
        Some(Payload::ResultsPublished(r)) => Published {
            year: r.year,
            session: &r.session_id,
            decisions: r.decisions.iter().collect(),
            admitted_at: instant(r.published_at.as_ref())?.unwrap_or(occurred),
        },
        Some(Payload::AppealDecided(a)) => match a.outcome.as_str() {
            "DISMISSED" => return Ok(None),
            "UPHELD" => {
                let d = a
                    .decision
                    .as_ref()
                    .ok_or_else(|| permanent("an upheld appeal without its decision"))?;
                Published {
                    year: a.year,
                    session: &a.session_id,
                    decisions: vec![d],
                    admitted_at: occurred,
                }
            }
            other => return Err(permanent(format!("unknown appeal outcome {other:?}"))),
        },
        // Only the two keys above are bound; anything else is not for us.
        _ => return Ok(None),
    };
    if !(FIRST_YEAR..=9999).contains(&p.year) {
        return Err(permanent(format!(
            "session year {} is out of range",
            p.year
        )));
    }
    Ok(Some(p))
}

/// Every decision checked before anything changes (a malformed event is refused whole, and
/// dead-lettered for inspection, never half-applied), in the alphabetical order of the holders
/// that numbers follow within an event.
fn parse_decisions(decisions: &[&pb::CandidateDecision]) -> Result<Vec<Decision>, HandleError> {
    let mut parsed = decisions
        .iter()
        .map(|d| parse_decision(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(permanent)?;
    parsed.sort_by(|a, b| {
        let key = |d: &Decision| {
            d.holder
                .as_ref()
                .map(|h| (h.last_name.to_lowercase(), h.first_name.to_lowercase()))
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.candidacy_id.cmp(&b.candidacy_id))
    });
    Ok(parsed)
}

#[async_trait]
impl EventHandler for ExaminationEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        if event.academy != self.academy.code {
            tracing::warn!(academy = %event.academy, event_id = %event.event_id, "event of another académie ignored");
            return Ok(());
        }
        let occurred = instant(event.occurred_at.as_ref())?.unwrap_or_else(|| self.clock.now());
        let Some(p) = published(event.payload.as_ref(), occurred)? else {
            return Ok(());
        };
        let parsed = parse_decisions(&p.decisions)?;
        let now = self.clock.now();
        for d in parsed {
            self.apply(txn, p.year, p.session, &d, p.admitted_at, now)
                .await?;
        }
        Ok(())
    }
}

impl ExaminationEvents {
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        year: i32,
        session: &str,
        d: &Decision,
        admitted_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), HandleError> {
        let existing = store::certificate_of_candidacy(txn, &d.candidacy_id).await?;
        let action = certificate::on_decision(existing.as_ref().map(|c| c.state), d.admitted);
        let at = Admission {
            session,
            admitted_at,
            now,
        };
        match (action, existing, &d.holder) {
            (Preparation::Prepare, _, Some(h)) => {
                self.prepare(txn, year, d, h, &at).await?;
            }
            (Preparation::Refresh | Preparation::Reinstate, Some(c), Some(h)) => {
                let what = if action == Preparation::Reinstate {
                    "reinstated"
                } else {
                    "refreshed"
                };
                refresh(txn, c, h, &at, what).await?;
            }
            (Preparation::Cancel, Some(c), _) => cancel(txn, c, now).await?,
            (Preparation::Keep, Some(c), _)
                if !d.admitted && c.state != CertificateState::Cancelled =>
            {
                // A signed certificate changes only by the recteur's acts (revocation).
                tracing::warn!(number = %c.number, candidacy = %d.candidacy_id, "results say not admitted, but the certificate is signed: left to the recteur");
            }
            _ => {}
        }
        Ok(())
    }

    /// A new certificate: the next serial of the year, a status list position drawn at random
    /// and a fresh verification code.
    async fn prepare(
        &self,
        txn: &DatabaseTransaction,
        year: i32,
        d: &Decision,
        h: &Holder,
        at: &Admission<'_>,
    ) -> Result<(), HandleError> {
        let serial = cplds_runtime::kit::next_counter(txn, &format!("serial:{year}")).await?;
        let index = free_status_index(txn).await?;
        let number = u32::try_from(serial)
            .ok()
            .and_then(|s| CertificateNumber::new(self.academy, year, s).ok())
            .ok_or_else(|| permanent(format!("no certificate number left for {year}")))?;
        let row = store::insert_certificate(
            txn,
            row::Model {
                candidacy_id: d.candidacy_id.clone(),
                candidate_key: d.candidate_key.clone(),
                session_id: at.session.to_owned(),
                last_name: h.last_name.clone(),
                first_name: h.first_name.clone(),
                birth_date: h.birth_date.clone(),
                email: h.email.clone(),
                holder_name: holder_name(&h.first_name, &h.last_name),
                admitted_at: at.admitted_at,
                ..row::Model::prepared(
                    number.to_string(),
                    year,
                    serial as i32,
                    index,
                    VerificationCode::generate().as_str().to_owned(),
                    at.now,
                )
            },
        )
        .await?;
        let detail = Some(format!("session {}", at.session));
        record(txn, &row.number, "prepared", detail, at.now).await
    }
}

/// A status list position no certificate holds, drawn at random (three draws in four are free:
/// see [`status_list::draw_range`]).
async fn free_status_index(txn: &DatabaseTransaction) -> Result<i64, HandleError> {
    let taken = store::certificate_count(txn).await?;
    for _ in 0..64 {
        let drawn = status_list::draw_index(&mut rand::thread_rng(), taken);
        let index = i64::try_from(drawn).map_err(|_| permanent("status list full"))?;
        if !store::status_index_taken(txn, index).await? {
            return Ok(index);
        }
    }
    Err(permanent("no free status list position found in 64 draws"))
}

/// The decision's session and dates, the same for every certificate of an event.
struct Admission<'a> {
    session: &'a str,
    admitted_at: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// A prepared (or cancelled, now reinstated) certificate brought up to the latest decision.
async fn refresh(
    txn: &DatabaseTransaction,
    c: row::Model,
    h: &Holder,
    at: &Admission<'_>,
    what: &str,
) -> Result<(), HandleError> {
    let (number, state) = (c.number.clone(), c.state);
    let mut am = c.into_active_model();
    am.state = Set(CertificateState::Prepared);
    am.session_id = Set(at.session.to_owned());
    am.last_name = Set(h.last_name.clone());
    am.first_name = Set(h.first_name.clone());
    am.birth_date = Set(h.birth_date.clone());
    am.email = Set(h.email.clone());
    am.holder_name = Set(holder_name(&h.first_name, &h.last_name));
    am.admitted_at = Set(at.admitted_at);
    am.updated_at = Set(at.now);
    saved(store::save_if_state(txn, am, state).await?, &number)?;
    record(txn, &number, what, None, at.now).await
}

/// A prepared certificate whose candidate is no longer admitted.
async fn cancel(
    txn: &DatabaseTransaction,
    c: row::Model,
    now: DateTime<Utc>,
) -> Result<(), HandleError> {
    let number = c.number.clone();
    let mut am = c.into_active_model();
    am.state = Set(CertificateState::Cancelled);
    am.updated_at = Set(now);
    saved(
        store::save_if_state(txn, am, CertificateState::Prepared).await?,
        &number,
    )?;
    let detail = Some("no longer admitted".into());
    record(txn, &number, "cancelled", detail, now).await
}

/// A guarded update that found the certificate changed by a concurrent act: applied again later.
fn saved(row: Option<row::Model>, number: &str) -> Result<row::Model, HandleError> {
    row.ok_or_else(|| HandleError::Transient(format!("certificate {number} changed meanwhile")))
}

async fn record(
    txn: &DatabaseTransaction,
    number: &str,
    action: &str,
    detail: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    history::record(txn, store::act(number, "examination", action, detail), at).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(outcome: &str) -> pb::CandidateDecision {
        pb::CandidateDecision {
            candidacy_id: "c1".into(),
            candidate_key: "k1".into(),
            outcome: outcome.into(),
            identity: Some(pb::CandidateIdentity {
                last_name: " Garcia ".into(),
                first_name: "Inès".into(),
                birth_date: "1980-01-01".into(),
                email: "Ines.Garcia@AC-Toulouse.fr".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn decisions_are_checked() {
        let d = parse_decision(&decision("ADMITTED")).unwrap();
        assert!(d.admitted);
        let h = d.holder.unwrap();
        assert_eq!(
            (h.last_name.as_str(), h.email.as_str()),
            ("Garcia", "ines.garcia@ac-toulouse.fr")
        );
        let mut no = decision("NOT_ADMITTED");
        no.identity = None;
        assert_eq!(parse_decision(&no).unwrap().holder, None);
        assert!(
            parse_decision(&decision("MAYBE"))
                .unwrap_err()
                .contains("outcome")
        );
        let mut anonymous = decision("ADMITTED");
        anonymous.identity = None;
        assert!(parse_decision(&anonymous).is_err());
        let mut nameless = decision("ADMITTED");
        nameless.identity.as_mut().unwrap().last_name = " ".into();
        assert!(parse_decision(&nameless).unwrap_err().contains("last_name"));
        let mut keyless = decision("ADMITTED");
        keyless.candidate_key.clear();
        assert!(parse_decision(&keyless).is_err());
    }
}
