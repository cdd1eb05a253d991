//! What registration publishes. Every state change emits two events in its transaction:
//! one on the internal stream, with what the académie's other services need (names included),
//! and one on the national stream with the pseudonymous facts only (design rule 5).
//!
//! The national stream knows a person by the keyed hash of their staff number: only the
//! candidacy holding a staff number ([`crate::domain::candidacy::Claims`]) speaks for that
//! person there; another candidacy giving the same number reaches it once it holds the number
//! ([`registered`]). A candidacy received after the window closed has one national fact,
//! [`inadmissible`], and no internal one: it never reaches the exam.

use async_trait::async_trait;
use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::kit::Wire;
use cplds_runtime::{
    bus::{Binding, QueueSpec, Stream},
    inbox::{EventHandler, HandleError},
    time::{from_timestamp, to_timestamp},
};
use sea_orm::DatabaseTransaction;

use crate::{
    domain::{campaign::Late, candidacy::RejectionReason},
    store::{self, campaign, candidacy},
};

pub fn profile(c: &candidacy::Model) -> pb::CandidateProfile {
    pb::CandidateProfile {
        sex: c.sex.to_wire(),
        department: c.department.clone(),
        staff_category: c.staff_category.to_wire(),
        workplace_type: c.workplace_type.to_wire(),
        runs_mlds_actions: c.runs_mlds_actions,
        is_dropout_referent: c.is_dropout_referent,
    }
}

pub fn identity(c: &candidacy::Model) -> pb::CandidateIdentity {
    pb::CandidateIdentity {
        last_name: c.last_name.clone(),
        first_name: c.first_name.clone(),
        birth_date: c.birth_date.clone(),
        email: c.email.clone(),
        staff_number: c.staff_number.clone(),
        workplace_uai: c.workplace_uai.clone(),
    }
}

pub fn campaign_opened(c: &campaign::Model) -> [Payload; 2] {
    [
        Payload::CampaignOpened(pb::CampaignOpened {
            year: c.year,
            opens_at: Some(to_timestamp(c.opens_at)),
            closes_at: Some(to_timestamp(c.closes_at)),
        }),
        Payload::NationalCampaignOpened(pb::NationalCampaignOpened { year: c.year }),
    ]
}

pub fn campaign_updated(c: &campaign::Model) -> [Payload; 1] {
    [Payload::CampaignUpdated(pb::CampaignUpdated {
        year: c.year,
        opens_at: Some(to_timestamp(c.opens_at)),
        closes_at: Some(to_timestamp(c.closes_at)),
    })]
}

/// A candidacy submitted in time; on the national stream only if it holds its staff number.
pub fn submitted(c: &candidacy::Model, holds_staff_number: bool) -> Vec<Payload> {
    let mut out = vec![Payload::CandidacySubmitted(pb::CandidacySubmitted {
        candidacy_id: c.id.clone(),
        year: c.year,
        candidate_key: c.candidate_key.clone(),
        identity: Some(identity(c)),
        profile: Some(profile(c)),
        eligible: c.eligible,
    })];
    if holds_staff_number {
        out.extend(registered(c));
    }
    out
}

/// The registration of the person a candidacy's staff number names, on the national stream.
pub fn registered(c: &candidacy::Model) -> [Payload; 1] {
    [Payload::NationalCandidacyRegistered(
        pb::NationalCandidacyRegistered {
            year: c.year,
            candidate_key: c.candidate_key.clone(),
            profile: Some(profile(c)),
            eligible: c.eligible,
        },
    )]
}

/// A candidacy received after the window closed: counted nationally, pseudonymous.
pub fn inadmissible(c: &candidacy::Model, late: &Late) -> [Payload; 1] {
    [Payload::NationalCandidacyInadmissible(
        pb::NationalCandidacyInadmissible {
            year: c.year,
            candidate_key: c.candidate_key.clone(),
            profile: Some(profile(c)),
            eligible: c.eligible,
            channel: late.channel.kind().as_str().to_owned(),
            days_late: late.days_late(),
            reason: "received_after_closing".into(),
        },
    )]
}

pub fn validated(c: &candidacy::Model) -> [Payload; 2] {
    [
        Payload::CandidacyValidated(pb::CandidacyValidated {
            candidacy_id: c.id.clone(),
            year: c.year,
            candidate_key: c.candidate_key.clone(),
        }),
        Payload::NationalCandidacyDecided(pb::NationalCandidacyDecided {
            year: c.year,
            candidate_key: c.candidate_key.clone(),
            validated: true,
            rejection_reason: String::new(),
        }),
    ]
}

/// A rejection; on the national stream only if the candidacy held its staff number.
pub fn rejected(c: &candidacy::Model, reason: RejectionReason, held: bool) -> Vec<Payload> {
    let reason = reason.as_str().to_owned();
    let mut out = vec![Payload::CandidacyRejected(pb::CandidacyRejected {
        candidacy_id: c.id.clone(),
        year: c.year,
        candidate_key: c.candidate_key.clone(),
        reason: reason.clone(),
    })];
    if held {
        out.push(Payload::NationalCandidacyDecided(
            pb::NationalCandidacyDecided {
                year: c.year,
                candidate_key: c.candidate_key.clone(),
                validated: false,
                rejection_reason: reason,
            },
        ));
    }
    out
}

/// A withdrawal; on the national stream only if the candidacy held its staff number.
pub fn withdrawn(c: &candidacy::Model, held: bool) -> Vec<Payload> {
    let mut out = vec![Payload::CandidacyWithdrawn(pb::CandidacyWithdrawn {
        candidacy_id: c.id.clone(),
        year: c.year,
        candidate_key: c.candidate_key.clone(),
        was_admitted_to_sit: c.on_admitted_list,
    })];
    if held {
        out.push(Payload::NationalCandidacyWithdrawn(
            pb::NationalCandidacyWithdrawn {
                year: c.year,
                candidate_key: c.candidate_key.clone(),
                was_admitted_to_sit: c.on_admitted_list,
            },
        ));
    }
    out
}

pub fn admitted_list_published(year: i32, admitted: &[candidacy::Model]) -> [Payload; 2] {
    [
        Payload::AdmittedListPublished(pb::AdmittedListPublished {
            year,
            entries: admitted
                .iter()
                .map(|c| pb::AdmittedListEntry {
                    candidacy_id: c.id.clone(),
                    candidate_key: c.candidate_key.clone(),
                    identity: Some(identity(c)),
                    profile: Some(profile(c)),
                })
                .collect(),
        }),
        Payload::NationalAdmittedListPublished(pb::NationalAdmittedListPublished {
            year,
            admitted_count: admitted.len() as i64,
        }),
    ]
}

/// Registration's queue: results published by the examination service of the same académie.
pub fn queue(academy: &str) -> QueueSpec {
    QueueSpec::new(
        format!("{academy}.registration"),
        vec![Binding::new(
            Stream::Internal,
            format!("{academy}.examination.results_published"),
        )],
    )
}

/// Records that results are out for a year: withdrawals are refused from then on.
pub struct ResultsPublishedHandler;

#[async_trait]
impl EventHandler for ResultsPublishedHandler {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        let Some(Payload::ResultsPublished(r)) = &event.payload else {
            return Err(HandleError::Permanent(format!(
                "unexpected {} on the registration queue",
                event.r#type
            )));
        };
        let at = r
            .published_at
            .as_ref()
            .or(event.occurred_at.as_ref())
            .map(from_timestamp)
            .transpose()
            .map_err(HandleError::Permanent)?;
        let at =
            at.ok_or_else(|| HandleError::Permanent("results_published without a date".into()))?;
        store::mark_results_published(txn, r.year, at).await?;
        Ok(())
    }
}
