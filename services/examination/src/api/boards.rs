//! Boards: their composition, members replaced until the deliberation, members' signing keys,
//! and the candidates assigned to them.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::{Caller, Role},
    error::{ServiceError, ServiceResult, Violations},
    kit::Unique,
    kit::{self, Decided, Paging, new_id, parse_id, parse_optional_id},
    time::to_timestamp,
};
use ed25519_dalek::{Signature, VerifyingKey};
use sea_orm::ConnectionTrait;

use super::{Inner, capacities, convert, ensure_open, id_field, member_of};
use crate::{
    domain::{
        access,
        board::{self as board_rules, Member},
        candidate::{self as candidate_rules, Act, Assigning},
        keys,
        people::parse_text,
    },
    store::{self, assignment, board, board_member},
};

fn assignment_pb(a: &assignment::Model) -> pb::BoardAssignment {
    pb::BoardAssignment {
        session_id: a.session_id.clone(),
        board_id: a.board_id.clone(),
        candidacy_id: a.candidacy_id.clone(),
        assign_time: Some(to_timestamp(a.assigned_at)),
        assigned_by: a.assigned_by.clone(),
    }
}

/// A new board: its session, its name and its members, every bad field named, the composition
/// checked once every member parsed.
fn parse_board(req: &pb::CreateBoardRequest) -> ServiceResult<(String, String, Vec<Member>)> {
    let mut v = Violations::default();
    let session_id = v.check("session_id", parse_id(&req.session_id));
    let name = v.check("name", parse_text(&req.name, 100, true));
    let mut members = Vec::with_capacity(req.members.len());
    for (i, m) in req.members.iter().enumerate() {
        match convert::member(m) {
            Ok(m) => members.push(m),
            Err(mv) => v.nest(&format!("members[{i}]"), mv),
        }
    }
    if members.len() == req.members.len() {
        for (field, message) in board_rules::composition_violations(&members) {
            v.add(field, message);
        }
    }
    let (session_id, name) = v.finish_with((session_id, name))?;
    Ok((session_id, name, members))
}

/// A replacement: the board, the seat given up, why, and who takes it.
fn parse_replacement(
    req: &pb::ReplaceBoardMemberRequest,
) -> ServiceResult<(String, String, String, Member)> {
    let mut v = Violations::default();
    let board_id = v.check("board_id", parse_id(&req.board_id));
    let member_id = v.check("member_id", parse_id(&req.member_id));
    let reason = v.check("reason", parse_text(&req.reason, 500, true));
    let replacement = match &req.replacement {
        Some(m) => convert::member(m)
            .map_err(|mv| v.nest("replacement", mv))
            .ok(),
        None => {
            v.add("replacement", "the member taking the seat is required");
            None
        }
    };
    v.finish_with((board_id, member_id, reason, replacement))
}

/// A key registration: the board, the seat (required from the office), the new key, and the
/// old key's signature of it (a member replacing their own).
struct KeyRegistration {
    board_id: String,
    member_id: Option<String>,
    key: VerifyingKey,
    old_key_signature: Option<Signature>,
}

fn parse_key_registration(
    req: &pb::RegisterBoardMemberKeyRequest,
) -> ServiceResult<KeyRegistration> {
    let mut v = Violations::default();
    let board_id = v.check("board_id", parse_id(&req.board_id));
    let member_id = v.check("member_id", parse_optional_id(&req.member_id));
    let key = v.check("public_key", keys::parse_public_key(&req.public_key));
    let old_key_signature = if req.old_key_signature.trim().is_empty() {
        Some(None)
    } else {
        v.check(
            "old_key_signature",
            keys::parse_signature(&req.old_key_signature).map(Some),
        )
    };
    let (board_id, member_id, key, old_key_signature) =
        v.finish_with((board_id, member_id, key, old_key_signature))?;
    Ok(KeyRegistration {
        board_id,
        member_id,
        key,
        old_key_signature,
    })
}

/// A member replacing their own key: they hold one, and it signed the new one.
fn replaced_by_holder(mine: &board_member::Model, r: &KeyRegistration) -> ServiceResult<()> {
    let current = mine.public_key.as_deref().and_then(keys::decode_stored_key);
    let old = keys::holder_may_replace(current)
        .on(format!("board/{}/member/{}", mine.board_id, mine.id))?;
    let signature = r.old_key_signature.ok_or_else(|| {
        ServiceError::invalid(
            "old_key_signature",
            "is required to replace your key: sign the new key's 32 bytes with the old key",
        )
    })?;
    if keys::verify_replacement(&old, &r.key, &signature) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "old_key_signature",
            "does not verify with your registered key over the new key's 32 bytes",
        ))
    }
}

impl Inner {
    async fn board_pb<C: ConnectionTrait>(
        &self,
        db: &C,
        b: &board::Model,
    ) -> ServiceResult<pb::ExamBoard> {
        let everyone = store::all_members_of(db, &b.id).await?;
        let replacements = store::replacements_of(db, &b.id).await?;
        let assigned = store::assignments_of_board(db, &b.id).await?;
        Ok(convert::board_pb(
            b,
            &everyone,
            &replacements,
            assigned.into_iter().map(|a| a.candidacy_id).collect(),
        ))
    }

    pub(super) async fn create_board(
        &self,
        caller: Caller,
        req: pb::CreateBoardRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let (session_id, name, members) = parse_board(&req)?;
        let exists = || {
            ServiceError::AlreadyExists(format!("the session already has a board named {name:?}"))
        };
        let uow = self.core.begin().await?;
        let s = self.session_locked(uow.txn(), &session_id).await?;
        ensure_open(&s)?;
        if store::boards_of_session(uow.txn(), &s.id)
            .await?
            .iter()
            .any(|b| b.name.eq_ignore_ascii_case(&name))
        {
            return Err(exists());
        }
        let row = board::Model {
            id: new_id(),
            session_id: s.id.clone(),
            name: name.clone(),
            created_at: uow.now(),
            created_by: caller.subject.clone(),
        };
        let b = store::insert_board(uow.txn(), row, &members)
            .await
            .unless_taken(exists)?;
        let out = self.board_pb(uow.txn(), &b).await?;
        uow.commit().await?;
        tracing::info!(board = %b.id, session = %s.id, members = members.len(), by = %caller.log_id(), "board created");
        Ok(out)
    }

    pub(super) async fn replace_member(
        &self,
        caller: Caller,
        req: pb::ReplaceBoardMemberRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let (board_id, member_id, reason, replacement) = parse_replacement(&req)?;
        let uow = self.core.begin().await?;
        let b = self.board(uow.txn(), &board_id).await?;
        let s = self.session_locked(uow.txn(), &b.session_id).await?;
        ensure_open(&s)?;
        let everyone = store::all_members_of(uow.txn(), &b.id).await?;
        let leaving = everyone
            .iter()
            .find(|m| m.id == member_id && m.left_at.is_none())
            .cloned()
            .ok_or_else(|| {
                ServiceError::not_found(format!("member {member_id} of board {}", b.id))
            })?;
        board_rules::replace(&store::seats(&everyone)?, &leaving.id, &replacement)
            .on(format!("board/{board_id}"))?;
        for a in store::assignments_of_board(uow.txn(), &b.id).await? {
            let c = self.candidate(uow.txn(), &a.candidacy_id).await?;
            board_rules::check_conflict_of_interest([&replacement], &c.workplace_uai)
                .on(format!("candidacy/{}", c.candidacy_id))?;
        }
        let former = leaving.email.clone();
        let now = uow.now();
        let seat = store::replace_member(
            uow.txn(),
            &b,
            leaving,
            &replacement,
            &caller.subject,
            reason,
            now,
        )
        .await?;
        let out = self.board_pb(uow.txn(), &b).await?;
        uow.commit().await?;
        tracing::info!(board = %b.id, former = %cplds_runtime::auth::log_id(&former), replacement = %cplds_runtime::auth::log_id(&seat.email), by = %caller.log_id(), "board member replaced");
        Ok(out)
    }

    /// A board member reads the boards they sit on; the office every board.
    async fn ensure_reads_board<C: ConnectionTrait>(
        &self,
        db: &C,
        caller: &Caller,
        b: &board::Model,
    ) -> ServiceResult<()> {
        if access::sees_all(&capacities(caller, "GetBoard")) {
            return Ok(());
        }
        member_of(caller, b, &store::members_of(db, &b.id).await?)?;
        Ok(())
    }

    pub(super) async fn get_board(
        &self,
        caller: Caller,
        req: pb::GetBoardRequest,
    ) -> ServiceResult<pb::ExamBoard> {
        let id = id_field("board_id", &req.board_id)?;
        let db = &self.core.db;
        let b = self.board(db, &id).await?;
        self.ensure_reads_board(db, &caller, &b).await?;
        self.board_pb(db, &b).await
    }

    /// The session's boards: every one for the office, those they sit on for a member.
    pub(super) async fn list_boards(
        &self,
        caller: Caller,
        req: pb::ListBoardsRequest,
    ) -> ServiceResult<pb::ListBoardsResponse> {
        let mut v = Violations::default();
        let session_id = v.check("session_id", parse_id(&req.session_id));
        let p = Paging::parse(
            &mut v,
            format!("boards;{}", req.session_id.trim()),
            req.page_size,
            &req.page_token,
        );
        let (session_id, p) = v.finish_with((session_id, p))?;
        let db = &self.core.db;
        self.session(db, &session_id).await?;
        let only = if access::sees_all(&capacities(&caller, "ListBoards")) {
            None
        } else {
            Some(self.my_boards(db, &caller, Some(&session_id)).await?)
        };
        let mut rows = store::boards_page(db, &session_id, only.as_deref(), &p).await?;
        let next_page_token = p.finish(&mut rows, |b| b.id.clone());
        let mut boards = Vec::with_capacity(rows.len());
        for b in &rows {
            boards.push(self.board_pb(db, b).await?);
        }
        Ok(pb::ListBoardsResponse {
            boards,
            next_page_token,
        })
    }

    /// A seat's signing key: the exam office registers any member's; a member replaces their
    /// own only with the old key's signature of the new one.
    pub(super) async fn register_key(
        &self,
        caller: Caller,
        req: pb::RegisterBoardMemberKeyRequest,
    ) -> ServiceResult<pb::ExamBoardMember> {
        let r = parse_key_registration(&req)?;
        let by_office = match (caller.has(Role::ExamOffice), r.member_id.as_deref()) {
            (true, Some(id)) => Some(id),
            (true, None) => {
                return Err(ServiceError::invalid(
                    "member_id",
                    "is required: the exam office names the seat whose key it registers",
                ));
            }
            (false, _) => None,
        };
        let mut uow = self.core.begin().await?;
        let b = self.board(uow.txn(), &r.board_id).await?;
        let s = self.session_locked(uow.txn(), &b.session_id).await?;
        ensure_open(&s)?;
        let members = store::members_of(uow.txn(), &b.id).await?;
        let seat = match by_office {
            Some(id) => members
                .iter()
                .find(|m| m.id == id)
                .cloned()
                .ok_or_else(|| ServiceError::not_found(format!("member {id} of board {}", b.id)))?,
            None => {
                let mine = member_of(&caller, &b, &members)?;
                if r.member_id.as_ref().is_some_and(|id| *id != mine.id) {
                    return Err(ServiceError::PermissionDenied(
                        "a member registers only their own key; the exam office registers others'"
                            .into(),
                    ));
                }
                replaced_by_holder(mine, &r)?;
                mine.clone()
            }
        };
        let now = uow.now();
        let row =
            store::register_key(uow.txn(), seat, keys::encode_public_key(&r.key), now).await?;
        uow.record(kit::Act {
            kind: "board_member",
            subject: &row.id,
            actor: &caller.subject,
            action: if by_office.is_some() {
                "key_registered_by_exam_office"
            } else {
                "key_replaced_with_old_key"
            },
            detail: Some(format!("key {}", keys::key_id(&r.key))),
        })
        .await?;
        uow.commit().await?;
        tracing::info!(board = %b.id, member = %row.id, kid = %keys::key_id(&r.key), "signing key registered");
        Ok(convert::member_pb(&row))
    }

    pub(super) async fn assign(
        &self,
        caller: Caller,
        req: pb::AssignCandidateRequest,
    ) -> ServiceResult<pb::BoardAssignment> {
        let mut v = Violations::default();
        let board_id = v.check("board_id", parse_id(&req.board_id));
        let candidacy_id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let (board_id, candidacy_id) = v.finish_with((board_id, candidacy_id))?;
        let subject = format!("candidacy/{candidacy_id}");
        let uow = self.core.begin().await?;
        let b = self.board(uow.txn(), &board_id).await?;
        let s = self.session_locked(uow.txn(), &b.session_id).await?;
        ensure_open(&s)?;
        let c = self.candidate(uow.txn(), &candidacy_id).await?;
        candidate_rules::same_year(c.year, s.year).on(&subject)?;
        candidate_rules::not_withdrawn(c.withdrawn_at.is_some(), Act::Assign).on(&subject)?;
        let current = store::assignment(uow.txn(), &candidacy_id).await?;
        let assigning =
            candidate_rules::assigning(current.as_ref().map(|a| a.board_id.as_str()), &b.id)
                .on(&subject)?;
        if let (Assigning::Already, Some(a)) = (assigning, &current) {
            return Ok(assignment_pb(a));
        }
        let members = store::members(&store::members_of(uow.txn(), &b.id).await?)?;
        board_rules::check_conflict_of_interest(&members, &c.workplace_uai).on(&subject)?;
        let row = store::insert_assignment(
            uow.txn(),
            assignment::Model {
                candidacy_id: candidacy_id.clone(),
                session_id: s.id.clone(),
                board_id: b.id.clone(),
                assigned_at: uow.now(),
                assigned_by: caller.subject.clone(),
            },
        )
        .await?;
        uow.commit().await?;
        Ok(assignment_pb(&row))
    }
}
