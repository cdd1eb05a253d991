//! The deliberation: the minutes prepared from the decisions by the session's jury president,
//! signed with their own key and countersigned by the académie's, which closes the session —
//! once the last épreuve of the candidates is over.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::{Decided, parse_id},
};
use sea_orm::ConnectionTrait;

use super::{Inner, convert, ensure_open, id_field, is_office};
use crate::{
    documents::{self, MinutesBoard, MinutesMember, MinutesRow},
    domain::{
        board::BoardRole,
        decision::Decision,
        deliberation::{self, Standing},
        keys,
        minutes::{self as minutes_rules, Printed},
        schedule::ExamPart,
    },
    events,
    store::{self, SheetRows, board_member, candidate, session},
};

/// What the minutes print of the seats.
fn printed(members: &[board_member::Model]) -> impl Iterator<Item = Printed<'_>> {
    members.iter().map(|m| Printed {
        board_id: &m.board_id,
        member_id: &m.id,
        role: m.role,
    })
}

impl Inner {
    /// The decision for every candidate of the session's year, or why the deliberation cannot
    /// take place yet (at `now`).
    pub(super) async fn deliberate<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
        now: DateTime<Utc>,
    ) -> ServiceResult<Vec<(candidate::Model, Decision)>> {
        let candidates = store::candidates_of_year(db, s.year).await?;
        let assignments = store::assignments_of_session(db, &s.id).await?;
        let slots = store::slots_of_session(db, &s.id).await?;
        let ids: Vec<String> = candidates.iter().map(|c| c.candidacy_id.clone()).collect();
        let rows = SheetRows::of(db, &ids).await?;
        let standings: Vec<Standing> = candidates
            .iter()
            .map(|c| Standing {
                name: format!("{} {}", c.first_name, c.last_name),
                withdrawn: c.withdrawn_at.is_some(),
                assigned: assignments.iter().any(|a| a.candidacy_id == c.candidacy_id),
                sheets: [ExamPart::TrainingSession, ExamPart::CaseStudy]
                    .map(|p| rows.sheet(&c.candidacy_id, p)),
                epreuves_end: slots
                    .iter()
                    .filter(|x| x.candidacy_id == c.candidacy_id)
                    .map(|x| x.ends_at)
                    .max(),
            })
            .collect();
        let decisions =
            deliberation::deliberate(&standings, now).on(format!("session/{}", s.id))?;
        Ok(candidates.into_iter().zip(decisions).collect())
    }

    pub(super) async fn prepare_minutes(
        &self,
        caller: Caller,
        req: pb::PrepareMinutesRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let id = id_field("session_id", &req.session_id)?;
        let uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &id).await?;
        ensure_open(&s)?;
        self.as_jury_president(uow.txn(), &s, &caller, "prepares the minutes")
            .await?;
        let members = store::members_of_session(uow.txn(), &s.id).await?;
        let decided = self.deliberate(uow.txn(), &s, uow.now()).await?;
        let json = store::decisions_json(&decided)?;
        let boards = store::boards_of_session(uow.txn(), &s.id).await?;
        let minutes_boards: Vec<MinutesBoard> = boards
            .iter()
            .map(|b| MinutesBoard {
                name: b.name.clone(),
                members: members
                    .iter()
                    .filter(|m| m.board_id == b.id)
                    .map(|m| MinutesMember {
                        name: format!("{} {}", m.first_name, m.last_name),
                        president: m.role == BoardRole::President,
                    })
                    .collect(),
            })
            .collect();
        let rows: Vec<MinutesRow> = decided
            .iter()
            .map(|(c, d)| MinutesRow::new(&c.last_name, &c.first_name, d))
            .collect();
        let pdf = documents::minutes_pdf(&documents::Minutes {
            academy_name: self.academy.name,
            year: s.year,
            starts_on: &s.starts_on,
            ends_on: &s.ends_on,
            boards: &minutes_boards,
            rows: &rows,
            prepared_at: uow.now(),
            prepared_by: &caller.subject,
        });
        let row = store::insert_minutes(
            uow.txn(),
            store::Prepared {
                session_id: &s.id,
                by: &caller.subject,
                at: uow.now(),
                sha256: hex::encode(keys::sha256(&pdf)),
                document: pdf,
                fingerprint: minutes_rules::fingerprint(&json, printed(&members)),
                decisions_json: json,
            },
        )
        .await?;
        uow.commit().await?;
        convert::minutes_pb(s.year, &row)
    }

    pub(super) async fn close_deliberation(
        &self,
        caller: Caller,
        req: pb::CloseDeliberationRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let mut v = Violations::default();
        let id = v.check("session_id", parse_id(&req.session_id));
        let digest = v.check("minutes_sha256", keys::parse_digest(&req.minutes_sha256));
        let signature = v.check("signature", keys::parse_signature(&req.signature));
        let (id, digest, signature) = v.finish_with((id, digest, signature))?;
        let subject = format!("session/{id}");
        let mut uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &id).await?;
        ensure_open(&s)?;
        let signer = self
            .as_jury_president(uow.txn(), &s, &caller, "closes the deliberation")
            .await?;
        let key = signer
            .public_key
            .as_deref()
            .and_then(keys::decode_stored_key);
        minutes_rules::ensure_signing_key(key.is_some()).on(&subject)?;
        let latest =
            minutes_rules::prepared(store::latest_minutes(uow.txn(), &s.id).await?).on(&subject)?;
        minutes_rules::ensure_latest(&latest.sha256, &digest).on(&subject)?;
        let members = store::members_of_session(uow.txn(), &s.id).await?;
        let decided = self.deliberate(uow.txn(), &s, uow.now()).await?;
        let now_printed =
            minutes_rules::fingerprint(&store::decisions_json(&decided)?, printed(&members));
        minutes_rules::ensure_unchanged(&latest.decisions_fingerprint, &now_printed)
            .on(&subject)?;
        let key = key
            .filter(|k| keys::verify(k, &digest, &signature))
            .ok_or_else(|| {
                ServiceError::invalid(
                    "signature",
                    "does not verify with the signing key you registered for the digest of the minutes",
                )
            })?;
        let (academy_kid, academy_signature) = self.keyring.sign(&digest);
        let now = uow.now();
        let signed = store::sign_minutes(
            uow.txn(),
            latest,
            store::Signatures {
                signed_by: signer.email.clone(),
                signer_key_id: keys::key_id(&key),
                signature: keys::encode_signature(&signature),
                academy_key_id: academy_kid,
                academy_signature: keys::encode_signature(&academy_signature),
            },
            now,
        )
        .await?;
        let s = store::close_session(uow.txn(), s, now).await?;
        store::insert_decisions(uow.txn(), &s.id, &decided, now).await?;
        uow.emit([events::deliberation_closed(&s, &decided, &signed.sha256)])
            .await?;
        uow.commit().await?;
        tracing::info!(session = %s.id, decisions = decided.len(), signed_by = %cplds_runtime::auth::log_id(&signer.email), "deliberation closed");
        convert::minutes_pb(s.year, &signed)
    }

    pub(super) async fn get_minutes(
        &self,
        caller: Caller,
        req: pb::GetMinutesRequest,
    ) -> ServiceResult<pb::DeliberationMinutes> {
        let id = id_field("session_id", &req.session_id)?;
        let db = &self.core.db;
        let s = self.session(db, &id).await?;
        // The minutes print every candidate's decision: the office's and the jury president's.
        if !is_office(&caller) && !self.is_jury_president_of(db, &s, &caller).await? {
            return Err(ServiceError::PermissionDenied(
                "the minutes are read by the exam office, the recteur and the jury president"
                    .into(),
            ));
        }
        let m = match store::signed_minutes(db, &s.id).await? {
            Some(m) => Some(m),
            None => store::latest_minutes(db, &s.id).await?,
        };
        let m = m.ok_or_else(|| {
            ServiceError::NotFound(format!("no minutes were prepared for session {id}"))
        })?;
        convert::minutes_pb(s.year, &m)
    }
}
