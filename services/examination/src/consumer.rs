//! What the exam learns from registration: the recteur's list of candidates admitted to sit and
//! every later withdrawal. This service keeps its own copy (design rule 1); the runner records
//! each event id in the inbox in the same transaction (rule 3), and the handler itself is written
//! so that applying an event twice changes nothing either.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    bus::{Binding, QueueSpec, Stream},
    events::EventEnvelope,
    inbox::{Consumer, EventHandler, HandleError},
};
use sea_orm::DatabaseTransaction;

use crate::{
    NAME,
    store::{self, candidate, pending_withdrawal},
};

/// The consumer of `{academy}.examination`, bound to registration's internal events.
pub fn consumer(academy: &str) -> Consumer {
    Consumer {
        name: NAME.to_owned(),
        queue: queue(academy),
        handler: Arc::new(RegistrationEvents),
    }
}

/// The queue of registration's events.
pub fn queue(academy: &str) -> QueueSpec {
    QueueSpec::new(
        format!("{academy}.{NAME}"),
        vec![Binding::new(
            Stream::Internal,
            format!("{academy}.registration.*"),
        )],
    )
}

pub struct RegistrationEvents;

fn occurred_at(e: &EventEnvelope) -> DateTime<Utc> {
    e.occurred_at
        .as_ref()
        .and_then(|t| cplds_runtime::time::from_timestamp(t).ok())
        .unwrap_or_else(Utc::now)
}

fn enum_name<E>(value: i32, name: impl Fn(&E) -> &'static str) -> String
where
    E: TryFrom<i32>,
{
    E::try_from(value).ok().map_or("", |e| name(&e)).to_owned()
}

fn candidate_row(
    year: i32,
    entry: &pb::AdmittedListEntry,
    at: DateTime<Utc>,
) -> Result<candidate::Model, HandleError> {
    let permanent = |what: &str| {
        HandleError::Permanent(format!(
            "admitted list entry {:?}: {what}",
            entry.candidacy_id
        ))
    };
    if entry.candidacy_id.trim().is_empty() {
        return Err(permanent("no candidacy id"));
    }
    let identity = entry
        .identity
        .as_ref()
        .ok_or_else(|| permanent("no identity"))?;
    if identity.email.trim().is_empty() {
        return Err(permanent("no e-mail address"));
    }
    let profile = entry.profile.clone().unwrap_or_default();
    Ok(candidate::Model {
        candidacy_id: entry.candidacy_id.clone(),
        year,
        candidate_key: entry.candidate_key.clone(),
        last_name: identity.last_name.clone(),
        first_name: identity.first_name.clone(),
        birth_date: identity.birth_date.clone(),
        email: identity.email.trim().to_ascii_lowercase(),
        staff_number: identity.staff_number.clone(),
        workplace_uai: identity.workplace_uai.trim().to_ascii_uppercase(),
        sex: enum_name(profile.sex, pb::Sex::as_str_name),
        department: profile.department.clone(),
        staff_category: enum_name(profile.staff_category, pb::StaffCategory::as_str_name),
        workplace_type: enum_name(profile.workplace_type, pb::WorkplaceType::as_str_name),
        runs_mlds_actions: profile.runs_mlds_actions,
        is_dropout_referent: profile.is_dropout_referent,
        listed_at: at,
        withdrawn_at: None,
    })
}

async fn apply_list(
    txn: &DatabaseTransaction,
    list: &pb::AdmittedListPublished,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    for entry in &list.entries {
        let mut row = candidate_row(list.year, entry, at)?;
        // A withdrawal may have overtaken the list (requeue, replay): it still applies.
        if let Some(w) = store::take_pending_withdrawal(txn, &row.candidacy_id).await? {
            row.withdrawn_at = Some(w.withdrawn_at);
        }
        // The same list again (a replay under another id) refreshes the identity only.
        store::list_candidate(txn, row).await?;
    }
    tracing::info!(
        year = list.year,
        candidates = list.entries.len(),
        "admitted list received"
    );
    Ok(())
}

async fn apply_withdrawal(
    txn: &DatabaseTransaction,
    w: &pb::CandidacyWithdrawn,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    match store::candidate(txn, &w.candidacy_id).await? {
        Some(c) if c.withdrawn_at.is_none() => {
            store::set_withdrawn(txn, &c.candidacy_id, at).await?;
            tracing::info!(candidacy_id = %c.candidacy_id, "candidate withdrew");
        }
        Some(_) => {}
        // Not (yet) on the list: remember it only if it was admitted to sit, i.e. the list
        // carrying it is on its way.
        None if w.was_admitted_to_sit => {
            store::remember_withdrawal(
                txn,
                pending_withdrawal::Model {
                    candidacy_id: w.candidacy_id.clone(),
                    year: w.year,
                    withdrawn_at: at,
                },
            )
            .await?;
        }
        None => {}
    }
    Ok(())
}

#[async_trait]
impl EventHandler for RegistrationEvents {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &EventEnvelope,
    ) -> Result<(), HandleError> {
        let at = occurred_at(event);
        match &event.payload {
            Some(Payload::AdmittedListPublished(list)) => apply_list(txn, list, at).await,
            Some(Payload::CandidacyWithdrawn(w)) => apply_withdrawal(txn, w, at).await,
            // The rest of registration's stream is not the exam's business.
            Some(_) => Ok(()),
            None => Err(HandleError::Permanent(format!(
                "event {} has no payload",
                event.event_id
            ))),
        }
    }
}
