//! After the exam: the minutes, the decisions (as revised by appeals) and the appeals.

use chrono::{DateTime, Utc};
use cplds_runtime::{
    db::page,
    kit::{Paging, new_id},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use super::{
    as_text,
    entities::{appeal, candidate, decision, minutes},
    from_json, to_json,
};
use crate::domain::{
    appeal::AppealStatus,
    decision::{Decision, Outcome, Reason},
    mark::PartResult,
};

// ---- minutes -----------------------------------------------------------------------------

pub async fn latest_minutes<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Option<minutes::Model>, DbErr> {
    minutes::Entity::find()
        .filter(minutes::Column::SessionId.eq(session_id))
        .order_by_desc(minutes::Column::Id)
        .one(db)
        .await
}

pub async fn signed_minutes<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Option<minutes::Model>, DbErr> {
    minutes::Entity::find()
        .filter(minutes::Column::SessionId.eq(session_id))
        .filter(minutes::Column::ClosedAt.is_not_null())
        .one(db)
        .await
}

/// Minutes prepared: the document and the decisions it shows.
pub struct Prepared<'a> {
    pub session_id: &'a str,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub document: Vec<u8>,
    pub sha256: String,
    pub decisions_json: String,
    pub fingerprint: String,
}

pub async fn insert_minutes<C: ConnectionTrait>(
    db: &C,
    m: Prepared<'_>,
) -> Result<minutes::Model, DbErr> {
    minutes::Model {
        id: new_id(),
        session_id: m.session_id.to_owned(),
        prepared_at: m.at,
        prepared_by: m.by.to_owned(),
        document: m.document,
        sha256: m.sha256,
        decisions_json: m.decisions_json,
        decisions_fingerprint: m.fingerprint,
        closed_at: None,
        signed_by: None,
        signer_key_id: None,
        signature: None,
        academy_key_id: None,
        academy_signature: None,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

/// Who signed the minutes, with which key, and the académie's countersignature.
pub struct Signatures {
    pub signed_by: String,
    pub signer_key_id: String,
    pub signature: String,
    pub academy_key_id: String,
    pub academy_signature: String,
}

pub async fn sign_minutes<C: ConnectionTrait>(
    db: &C,
    m: minutes::Model,
    s: Signatures,
    at: DateTime<Utc>,
) -> Result<minutes::Model, DbErr> {
    let mut am = m.into_active_model();
    am.closed_at = Set(Some(at));
    am.signed_by = Set(Some(s.signed_by));
    am.signer_key_id = Set(Some(s.signer_key_id));
    am.signature = Set(Some(s.signature));
    am.academy_key_id = Set(Some(s.academy_key_id));
    am.academy_signature = Set(Some(s.academy_signature));
    am.update(db).await
}

/// The decisions the minutes show.
pub fn minutes_decisions(m: &minutes::Model) -> Result<Vec<StoredDecision>, DbErr> {
    from_json("minutes decisions", &m.decisions_json)
}

/// The decisions as the minutes store them (JSON), the text their fingerprint covers.
pub fn decisions_json(decided: &[(candidate::Model, Decision)]) -> Result<String, DbErr> {
    let stored: Vec<StoredDecision> = decided
        .iter()
        .map(|(c, d)| StoredDecision::new(c, d))
        .collect();
    to_json("minutes decisions", &stored)
}

// ---- decisions ---------------------------------------------------------------------------

pub async fn decision<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Option<decision::Model>, DbErr> {
    decision::Entity::find_by_id(candidacy_id.to_owned())
        .one(db)
        .await
}

pub async fn decisions_of_session<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Vec<decision::Model>, DbErr> {
    decision::Entity::find()
        .filter(decision::Column::SessionId.eq(session_id))
        .order_by_asc(decision::Column::CandidacyId)
        .all(db)
        .await
}

pub async fn decisions_page<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    p: &Paging,
) -> Result<Vec<decision::Model>, DbErr> {
    page(
        db,
        decision::Entity::find().filter(decision::Column::SessionId.eq(session_id)),
        decision::Column::CandidacyId,
        p.after.clone(),
        p.fetch(),
    )
    .await
}

/// The decisions of the deliberation, one per candidate.
pub async fn insert_decisions<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    decided: &[(candidate::Model, Decision)],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    for (c, d) in decided {
        let mut row = decision::ActiveModel {
            candidacy_id: Set(c.candidacy_id.clone()),
            session_id: Set(session_id.to_owned()),
            decided_at: Set(at),
            revised_at: Set(None),
            revised_by_appeal: Set(None),
            ..Default::default()
        };
        set_decision(&mut row, d);
        row.insert(db).await?;
    }
    Ok(())
}

/// A decision revised by an upheld appeal.
pub async fn revise_decision<C: ConnectionTrait>(
    db: &C,
    row: decision::Model,
    after: &Decision,
    appeal_id: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut am = row.into_active_model();
    set_decision(&mut am, after);
    am.revised_at = Set(Some(at));
    am.revised_by_appeal = Set(Some(appeal_id.to_owned()));
    am.update(db).await?;
    Ok(())
}

/// The domain decision of a stored row.
pub fn decision_of(row: &decision::Model) -> Decision {
    Decision {
        part_1: PartResult::from_stored(row.part_1_absent, row.part_1_half_points),
        part_2: PartResult::from_stored(row.part_2_absent, row.part_2_half_points),
        outcome: row.outcome,
        reason: row.reason,
    }
}

/// Writes a domain decision into a row's columns.
fn set_decision(am: &mut decision::ActiveModel, d: &Decision) {
    let part = |p: Option<PartResult>| {
        (
            p.is_some_and(PartResult::is_absent),
            p.and_then(PartResult::stored_half_points),
        )
    };
    let (a1, h1) = part(d.part_1);
    let (a2, h2) = part(d.part_2);
    am.part_1_absent = Set(a1);
    am.part_1_half_points = Set(h1);
    am.part_2_absent = Set(a2);
    am.part_2_half_points = Set(h2);
    am.outcome = Set(d.outcome);
    am.reason = Set(d.reason);
}

/// A decision as stored in JSON snapshots (minutes, appeals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDecision {
    pub candidacy_id: String,
    pub last_name: String,
    pub first_name: String,
    pub part_1: Option<StoredPart>,
    pub part_2: Option<StoredPart>,
    #[serde(with = "as_text")]
    pub outcome: Outcome,
    #[serde(with = "as_text::option")]
    pub reason: Option<Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    pub absent: bool,
    pub half_points: Option<i32>,
}

impl StoredPart {
    pub fn of(r: PartResult) -> Self {
        Self {
            absent: r.is_absent(),
            half_points: r.stored_half_points(),
        }
    }

    pub fn result(self) -> Option<PartResult> {
        PartResult::from_stored(self.absent, self.half_points)
    }
}

impl StoredDecision {
    pub fn new(c: &candidate::Model, d: &Decision) -> Self {
        Self {
            candidacy_id: c.candidacy_id.clone(),
            last_name: c.last_name.clone(),
            first_name: c.first_name.clone(),
            part_1: d.part_1.map(StoredPart::of),
            part_2: d.part_2.map(StoredPart::of),
            outcome: d.outcome,
            reason: d.reason,
        }
    }

    pub fn decision(&self) -> Decision {
        Decision {
            part_1: self.part_1.and_then(StoredPart::result),
            part_2: self.part_2.and_then(StoredPart::result),
            outcome: self.outcome,
            reason: self.reason,
        }
    }
}

// ---- appeals -----------------------------------------------------------------------------

pub async fn appeal<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<appeal::Model>, DbErr> {
    appeal::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn appeals_of_candidate<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<appeal::Model>, DbErr> {
    appeal::Entity::find()
        .filter(appeal::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(appeal::Column::Id)
        .all(db)
        .await
}

pub async fn appeals_page<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    p: &Paging,
) -> Result<Vec<appeal::Model>, DbErr> {
    page(
        db,
        appeal::Entity::find().filter(appeal::Column::SessionId.eq(session_id)),
        appeal::Column::Id,
        p.after.clone(),
        p.fetch(),
    )
    .await
}

/// An appeal filed against `before`, pending.
pub struct Filed<'a> {
    pub session_id: &'a str,
    pub candidate: &'a candidate::Model,
    pub grounds: String,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub before: &'a Decision,
}

pub async fn insert_appeal<C: ConnectionTrait>(
    db: &C,
    a: Filed<'_>,
) -> Result<appeal::Model, DbErr> {
    appeal::Model {
        id: new_id(),
        session_id: a.session_id.to_owned(),
        candidacy_id: a.candidate.candidacy_id.clone(),
        status: AppealStatus::Pending,
        grounds: a.grounds,
        filed_at: a.at,
        filed_by: a.by.to_owned(),
        decided_at: None,
        decided_by: None,
        decision_text: None,
        before_json: to_json(
            "decision before appeal",
            &StoredDecision::new(a.candidate, a.before),
        )?,
        after_json: None,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

/// The appeal decided: its outcome, the text, and the decision after it.
pub async fn decide_appeal<C: ConnectionTrait>(
    db: &C,
    a: appeal::Model,
    outcome: AppealStatus,
    text: String,
    after: StoredDecision,
    by: &str,
    at: DateTime<Utc>,
) -> Result<appeal::Model, DbErr> {
    let mut am = a.into_active_model();
    am.status = Set(outcome);
    am.decided_at = Set(Some(at));
    am.decided_by = Set(Some(by.to_owned()));
    am.decision_text = Set(Some(text));
    am.after_json = Set(Some(to_json("decision after appeal", &after)?));
    am.update(db).await
}

/// The decision before the appeal and, once decided, after it.
pub fn appeal_decisions(
    a: &appeal::Model,
) -> Result<(StoredDecision, Option<StoredDecision>), DbErr> {
    let before = from_json("decision before appeal", &a.before_json)?;
    let after = a
        .after_json
        .as_deref()
        .map(|j| from_json("decision after appeal", j))
        .transpose()?;
    Ok((before, after))
}
