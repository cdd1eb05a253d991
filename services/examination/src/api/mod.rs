//! The gRPC face of the exam: each handler parses its request into domain values (naming every
//! bad field), applies the rules, and writes the change and its events in one transaction.
//! Roles are checked before, by the node's auth layer against [`policy`]; what depends on data
//! (a member only marks for their own board, a candidate only reads their own results) is
//! checked here.

pub mod convert;
mod deliberation;
mod marks;
mod planning;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{
    self as pb,
    event_envelope::Payload,
    examination_service_server::{ExaminationService, ExaminationServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    clock::SharedClock,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    outbox::Outbox,
    pagination,
    signing::KeyRing,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    NAME,
    domain::{RuleViolation, people::same_person, session::ensure_open},
    store::{self, board, board_member, candidate, migration::Migrator, session},
};

/// Mounts the examination service in a node.
pub struct ExaminationModule;

#[async_trait]
impl ServiceModule for ExaminationModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let keyring = KeyRing::load(&ctx.config)?;
        let api = ExaminationApi {
            inner: Arc::new(Inner {
                academy,
                db: ctx.db.clone(),
                outbox: ctx.outbox.clone(),
                clock: ctx.clock.clone(),
                keyring,
            }),
        };
        let max = ctx.config.server.max_message_bytes;
        mount.add_grpc(
            ExaminationServiceServer::new(api)
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        );
        policy(mount.policy());
        mount.consume(crate::consumer::consumer(academy.code));
        Ok(())
    }
}

pub(crate) const SERVICE: &str = "cplds.v1.ExaminationService";
const OFFICE: &[Role] = &[Role::ExamOffice];
const BOARD: &[Role] = &[Role::BoardMember];
const OFFICE_AND_RECTEUR: &[Role] = &[Role::ExamOffice, Role::Recteur];
const OFFICE_AND_CANDIDATE: &[Role] = &[Role::ExamOffice, Role::Candidate];
const STAFF: &[Role] = &[Role::ExamOffice, Role::Recteur, Role::BoardMember];
const STAFF_AND_CANDIDATE: &[Role] = &[
    Role::ExamOffice,
    Role::Recteur,
    Role::BoardMember,
    Role::Candidate,
];

/// Who may call what. Marks are entered only by board members; results are published by the
/// exam office or the recteur; candidates read only their own records (checked in handlers).
pub fn policy(p: &mut Policy) {
    for (method, roles) in RULES {
        p.allow(SERVICE, method, Access::Roles(roles));
    }
}

const RULES: &[(&str, &[Role])] = &[
    ("ListExamCandidates", STAFF),
    ("GetExamCandidate", STAFF_AND_CANDIDATE),
    ("CreateExamSession", OFFICE),
    ("GetExamSession", STAFF_AND_CANDIDATE),
    ("ListExamSessions", STAFF_AND_CANDIDATE),
    ("CreateBoard", OFFICE),
    ("GetBoard", STAFF),
    ("ListBoards", STAFF),
    ("ReplaceBoardMember", OFFICE),
    ("RegisterBoardMemberKey", BOARD),
    ("AssignCandidate", OFFICE),
    ("ScheduleExamPart", OFFICE),
    ("ListExamSlots", STAFF),
    ("IssueConvocations", OFFICE),
    ("ListConvocations", OFFICE_AND_CANDIDATE),
    ("GetConvocation", OFFICE_AND_CANDIDATE),
    ("EnterMark", BOARD),
    ("CorrectMark", BOARD),
    ("ReconcileMark", BOARD),
    ("ListMarkSheets", &[Role::ExamOffice, Role::BoardMember]),
    ("ListMarkHistory", OFFICE_AND_RECTEUR),
    ("PrepareMinutes", BOARD),
    ("CloseDeliberation", BOARD),
    ("GetMinutes", STAFF),
    ("PublishResults", OFFICE_AND_RECTEUR),
    (
        "GetExamResult",
        &[Role::ExamOffice, Role::Recteur, Role::Candidate],
    ),
    ("ListExamResults", OFFICE_AND_RECTEUR),
    ("FileAppeal", OFFICE_AND_CANDIDATE),
    ("DecideAppeal", OFFICE_AND_RECTEUR),
    ("ListAppeals", OFFICE_AND_RECTEUR),
    ("GetExamStatistics", OFFICE_AND_RECTEUR),
];

#[derive(Clone)]
pub struct ExaminationApi {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    academy: &'static Academy,
    db: DatabaseConnection,
    outbox: Outbox,
    clock: SharedClock,
    /// The académie's document key: countersigns the minutes.
    keyring: KeyRing,
}

fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    Caller::of(req).cloned()
}

pub(crate) fn rule(v: RuleViolation, subject: impl Into<String>) -> ServiceError {
    ServiceError::precondition(v.rule, subject, v.message)
}

pub(crate) fn parse_id(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("is required".into());
    }
    Uuid::parse_str(s.trim())
        .map(|u| u.to_string())
        .map_err(|_| format!("{s:?} is not an identifier"))
}

/// A required identifier field, alone in its request.
pub(crate) fn id_field(field: &str, s: &str) -> ServiceResult<String> {
    parse_id(s).map_err(|e| ServiceError::invalid(field, e))
}

/// Page size and position of a List request, bound to its filters by `scope`.
pub(crate) struct Paging {
    pub size: u64,
    pub after: Option<String>,
    pub scope: String,
}

pub(crate) fn paging(
    v: &mut Violations,
    scope: String,
    page_size: i32,
    page_token: &str,
) -> Option<Paging> {
    let size = v.check("page_size", pagination::page_size(page_size));
    let after = v.check("page_token", pagination::decode_token(&scope, page_token));
    Some(Paging {
        size: size?,
        after: after?,
        scope,
    })
}

impl Paging {
    /// Cuts the extra row fetched beyond the page and returns the next page's token.
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as u64 > self.size {
            rows.truncate(self.size as usize);
            pagination::encode_token(&self.scope, &key(rows.last().expect("non-empty")))
        } else {
            String::new()
        }
    }
}

/// True for the exam office and the recteur, who see every record.
pub(crate) fn is_office(c: &Caller) -> bool {
    c.has(Role::ExamOffice) || c.has(Role::Recteur)
}

/// The caller's seat on a board, matched on the token's subject.
pub(crate) fn seat<'a>(
    members: &'a [board_member::Model],
    caller: &Caller,
) -> Option<&'a board_member::Model> {
    if !caller.has(Role::BoardMember) {
        return None;
    }
    members
        .iter()
        .find(|m| same_person(&m.email, &caller.subject))
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn emit<C: ConnectionTrait>(
        &self,
        txn: &C,
        payloads: impl IntoIterator<Item = Payload>,
    ) -> Result<(), DbErr> {
        for p in payloads {
            self.outbox.append(txn, p).await?;
        }
        Ok(())
    }

    async fn session<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<session::Model> {
        store::session(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("exam session {id}")))
    }

    async fn session_locked<C: ConnectionTrait>(
        &self,
        txn: &C,
        id: &str,
    ) -> ServiceResult<session::Model> {
        store::session_locked(txn, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("exam session {id}")))
    }

    /// The session a candidate sits in (the session of their year).
    async fn session_of<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidate::Model,
    ) -> ServiceResult<session::Model> {
        store::session_of_year(db, c.year).await?.ok_or_else(|| {
            ServiceError::precondition(
                "NO_SESSION",
                format!("candidacy/{}", c.candidacy_id),
                format!("no exam session exists for {} yet", c.year),
            )
        })
    }

    async fn candidate<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<candidate::Model> {
        store::candidate(db, id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "candidacy {id} is not on an admitted list received by the exam service"
            ))
        })
    }

    async fn board<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<board::Model> {
        store::board(db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("board {id}")))
    }

    fn open(&self, s: &session::Model) -> ServiceResult<()> {
        ensure_open(convert::session_state(s)).map_err(|e| rule(e, format!("session/{}", s.id)))
    }

    /// The office sees every candidate; a candidate only themselves (token subject = e-mail).
    fn ensure_own(&self, caller: &Caller, c: &candidate::Model) -> ServiceResult<()> {
        if is_office(caller) || caller.has(Role::BoardMember) {
            return Ok(());
        }
        if caller.has(Role::Candidate) && same_person(&c.email, &caller.subject) {
            return Ok(());
        }
        Err(ServiceError::PermissionDenied(format!(
            "candidacy {} is not yours",
            c.candidacy_id
        )))
    }

    /// A member's seat on a board, or PERMISSION_DENIED.
    fn member_of<'a>(
        &self,
        caller: &Caller,
        board: &board::Model,
        members: &'a [board_member::Model],
    ) -> ServiceResult<&'a board_member::Model> {
        seat(members, caller).ok_or_else(|| {
            ServiceError::PermissionDenied(format!(
                "{} is not a member of {} ({})",
                caller.subject, board.name, board.id
            ))
        })
    }
}

macro_rules! handlers {
    ($($method:ident($req:ty) -> $resp:ty => $inner:ident;)*) => {
        #[async_trait]
        impl ExaminationService for ExaminationApi {
            $(
                async fn $method(&self, r: Request<$req>) -> Result<Response<$resp>, Status> {
                    let c = caller(&r)?;
                    reply(self.inner.$inner(c, r.into_inner()).await)
                }
            )*
        }
    };
}

handlers! {
    list_exam_candidates(pb::ListExamCandidatesRequest) -> pb::ListExamCandidatesResponse => list_candidates;
    get_exam_candidate(pb::GetExamCandidateRequest) -> pb::ExamCandidate => get_candidate;
    create_exam_session(pb::CreateExamSessionRequest) -> pb::ExamSession => create_session;
    get_exam_session(pb::GetExamSessionRequest) -> pb::ExamSession => get_session;
    list_exam_sessions(pb::ListExamSessionsRequest) -> pb::ListExamSessionsResponse => list_sessions;
    create_board(pb::CreateBoardRequest) -> pb::ExamBoard => create_board;
    get_board(pb::GetBoardRequest) -> pb::ExamBoard => get_board;
    list_boards(pb::ListBoardsRequest) -> pb::ListBoardsResponse => list_boards;
    replace_board_member(pb::ReplaceBoardMemberRequest) -> pb::ExamBoard => replace_member;
    register_board_member_key(pb::RegisterBoardMemberKeyRequest) -> pb::ExamBoardMember => register_key;
    assign_candidate(pb::AssignCandidateRequest) -> pb::BoardAssignment => assign;
    schedule_exam_part(pb::ScheduleExamPartRequest) -> pb::ExamSlot => schedule;
    list_exam_slots(pb::ListExamSlotsRequest) -> pb::ListExamSlotsResponse => list_slots;
    issue_convocations(pb::IssueConvocationsRequest) -> pb::IssueConvocationsResponse => issue_convocations;
    list_convocations(pb::ListConvocationsRequest) -> pb::ListConvocationsResponse => list_convocations;
    get_convocation(pb::GetConvocationRequest) -> pb::ConvocationDocument => get_convocation;
    enter_mark(pb::EnterMarkRequest) -> pb::MarkSheet => enter_mark;
    correct_mark(pb::CorrectMarkRequest) -> pb::MarkSheet => correct_mark;
    reconcile_mark(pb::ReconcileMarkRequest) -> pb::MarkSheet => reconcile_mark;
    list_mark_sheets(pb::ListMarkSheetsRequest) -> pb::ListMarkSheetsResponse => list_mark_sheets;
    list_mark_history(pb::ListMarkHistoryRequest) -> pb::ListMarkHistoryResponse => list_mark_history;
    prepare_minutes(pb::PrepareMinutesRequest) -> pb::DeliberationMinutes => prepare_minutes;
    close_deliberation(pb::CloseDeliberationRequest) -> pb::DeliberationMinutes => close_deliberation;
    get_minutes(pb::GetMinutesRequest) -> pb::DeliberationMinutes => get_minutes;
    publish_results(pb::PublishResultsRequest) -> pb::PublishResultsResponse => publish_results;
    get_exam_result(pb::GetExamResultRequest) -> pb::ExamResult => get_result;
    list_exam_results(pb::ListExamResultsRequest) -> pb::ListExamResultsResponse => list_results;
    file_appeal(pb::FileAppealRequest) -> pb::ExamAppeal => file_appeal;
    decide_appeal(pb::DecideAppealRequest) -> pb::ExamAppeal => decide_appeal;
    list_appeals(pb::ListAppealsRequest) -> pb::ListAppealsResponse => list_appeals;
    get_exam_statistics(pb::GetExamStatisticsRequest) -> pb::ExamStatistics => statistics;
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_covers_every_method() {
        let mut p = cplds_runtime::auth::Policy::new();
        super::policy(&mut p);
        assert_eq!(p.uncovered_methods(super::SERVICE), Vec::<String>::new());
        // And names no method that does not exist (a typo would leave the real one closed):
        // as many distinct rules as the contract has methods.
        let methods = cplds_runtime::auth::Policy::new().uncovered_methods(super::SERVICE);
        let names: std::collections::BTreeSet<_> = super::RULES.iter().map(|r| r.0).collect();
        assert_eq!(names.len(), super::RULES.len(), "a method is listed twice");
        assert_eq!(names.len(), methods.len());
    }
}
