//! The gRPC face of the exam: each handler parses its request into domain values (naming every
//! bad field), loads what the decision needs through [`crate::store`], decides with a rule of
//! [`crate::domain`], and writes the change and its events in one unit of work. Roles are
//! checked before, by the node's auth layer against [`policy`]; what depends on data (a member
//! only marks for their own board, a candidate only reads their own results) is checked here.
//!
//! Who reaches a candidate's records is decided by [`crate::domain::access`] from the
//! caller's roles the method allows (the `RULES` of the policy, so the layer and the handler
//! read the same table) and how the candidate stands to them (`Inner::reach`).
//!
//! By area: [`sessions`] (the copy of the admitted list, sessions, the jury president),
//! [`boards`] (boards, seats, keys, assignments), [`schedule`] (slots and convocations),
//! [`marks`], [`deliberation`] (the minutes), [`remarks`] (the jury's remarks), [`results`]
//! (publication, results, appeals, statistics), [`past`] (past sessions imported).

pub mod convert;

mod boards;
mod deliberation;
mod marks;
mod past;
mod remarks;
mod results;
mod schedule;
mod sessions;

use cplds_runtime::kit::Found;
use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    examination_service_server::{ExaminationService, ExaminationServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    error::{ServiceError, ServiceResult},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    kit::{Decided, ServiceCore},
    pseudonym::Pseudonymizer,
    signing::KeyRing,
};
use sea_orm::ConnectionTrait;

use crate::{
    NAME,
    domain::{
        access::{self, Capacity, Relation},
        jury,
        people::same_person,
        session::{self as session_rules, SessionState},
    },
    store::{self, board, board_member, candidate, migration::Migrator, session},
};

/// Mounts the examination service in a node.
pub struct ExaminationModule;

#[async_trait]
impl ServiceModule for ExaminationModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    /// Past sessions are imported by staff number, pseudonymised as registration does.
    fn uses_pseudonym_secret(&self) -> bool {
        true
    }

    fn queue(&self, academy: &'static Academy) -> Option<cplds_runtime::bus::QueueSpec> {
        Some(crate::consumer::queue(academy.code))
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(NAME)?;
        let pseudonymizer = ctx.pseudonymizer(NAME)?;
        let api = ExaminationApi {
            inner: Arc::new(Inner {
                academy,
                core: ServiceCore::new(ctx),
                keyring: KeyRing::load(&ctx.config)?,
                pseudonymizer,
            }),
        };
        cplds_runtime::add_grpc!(mount, ctx, ExaminationServiceServer::new(api));
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
/// exam office or the recteur; board members reach only the candidates of their boards and
/// candidates only their own records (checked in handlers, from the same table).
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
    (
        "RegisterBoardMemberKey",
        &[Role::ExamOffice, Role::BoardMember],
    ),
    ("AppointJuryPresident", OFFICE_AND_RECTEUR),
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
    ("SaveJuryRemarks", BOARD),
    ("PublishJuryRemarks", BOARD),
    ("GetJuryRemarks", STAFF),
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
    ("ImportPastSession", OFFICE),
];

#[derive(Clone)]
pub struct ExaminationApi {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    academy: &'static Academy,
    core: ServiceCore,
    /// The académie's document key: countersigns the minutes.
    keyring: KeyRing,
    /// Staff numbers of imported past sessions become candidate keys as registration makes them.
    pseudonymizer: Pseudonymizer,
}

cplds_runtime::grpc_handlers! {
    impl ExaminationService for ExaminationApi => inner {
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
        appoint_jury_president(pb::AppointJuryPresidentRequest) -> pb::ExamSession => appoint_jury_president;
        assign_candidate(pb::AssignCandidateRequest) -> pb::BoardAssignment => assign;
        schedule_exam_part(pb::ScheduleExamPartRequest) -> pb::ExamSlot => schedule;
        list_exam_slots(pb::ListExamSlotsRequest) -> pb::ListExamSlotsResponse => list_slots;
        issue_convocations(pb::IssueConvocationsRequest) -> pb::IssueConvocationsResponse => issue_convocations;
        list_convocations(pb::ListConvocationsRequest) -> pb::ListConvocationsResponse => list_convocations;
        get_convocation(pb::GetConvocationRequest) -> pb::ConvocationDocument => get_convocation;
        enter_mark(pb::EnterMarkRequest) -> pb::MarkSheet => mark;
        correct_mark(pb::CorrectMarkRequest) -> pb::MarkSheet => mark;
        reconcile_mark(pb::ReconcileMarkRequest) -> pb::MarkSheet => mark;
        list_mark_sheets(pb::ListMarkSheetsRequest) -> pb::ListMarkSheetsResponse => list_mark_sheets;
        list_mark_history(pb::ListMarkHistoryRequest) -> pb::ListMarkHistoryResponse => list_mark_history;
        prepare_minutes(pb::PrepareMinutesRequest) -> pb::DeliberationMinutes => prepare_minutes;
        close_deliberation(pb::CloseDeliberationRequest) -> pb::DeliberationMinutes => close_deliberation;
        get_minutes(pb::GetMinutesRequest) -> pb::DeliberationMinutes => get_minutes;
        save_jury_remarks(pb::SaveJuryRemarksRequest) -> pb::JuryRemarks => save_remarks;
        publish_jury_remarks(pb::PublishJuryRemarksRequest) -> pb::JuryRemarks => publish_remarks;
        get_jury_remarks(pb::GetJuryRemarksRequest) -> pb::JuryRemarks => get_remarks;
        publish_results(pb::PublishResultsRequest) -> pb::PublishResultsResponse => publish_results;
        get_exam_result(pb::GetExamResultRequest) -> pb::ExamResult => get_result;
        list_exam_results(pb::ListExamResultsRequest) -> pb::ListExamResultsResponse => list_results;
        file_appeal(pb::FileAppealRequest) -> pb::ExamAppeal => file_appeal;
        decide_appeal(pb::DecideAppealRequest) -> pb::ExamAppeal => decide_appeal;
        list_appeals(pb::ListAppealsRequest) -> pb::ListAppealsResponse => list_appeals;
        get_exam_statistics(pb::GetExamStatisticsRequest) -> pb::ExamStatistics => statistics;
        import_past_session(pb::ImportPastSessionRequest) -> pb::ImportPastSessionResponse => import_past;
    }
}

/// A required identifier field, alone in its request.
/// A candidacy the exam service never received on an admitted list.
pub(crate) fn not_admitted(id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "candidacy {id} is not on an admitted list received by the exam service"
    ))
}

pub(crate) fn id_field(field: &str, s: &str) -> ServiceResult<String> {
    cplds_runtime::kit::parse_id(s).map_err(|e| ServiceError::invalid(field, e))
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

/// A member's seat on a board, or PERMISSION_DENIED.
pub(crate) fn member_of<'a>(
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

/// The roles the policy opens `method` to.
pub(crate) fn allowed(method: &str) -> &'static [Role] {
    RULES
        .iter()
        .find(|(m, _)| *m == method)
        .map_or(&[], |(_, roles)| *roles)
}

/// The capacities the caller acts in for `method`, the widest first.
pub(crate) fn capacities(caller: &Caller, method: &str) -> Vec<Capacity> {
    access::capacities(&caller.roles, allowed(method))
}

/// The caller is the session's jury president (and acts as a board member).
fn is_jury_president(caller: &Caller, seat: &board_member::Model) -> bool {
    caller.has(Role::BoardMember) && same_person(&seat.email, &caller.subject)
}

pub(crate) fn state(s: &session::Model) -> SessionState {
    session_rules::state(
        s.deliberation_closed_at.is_some(),
        s.results_published_at.is_some(),
    )
}

/// Boards, assignments, schedules and marks change only while the session is open.
pub(crate) fn ensure_open(s: &session::Model) -> ServiceResult<()> {
    session_rules::ensure_open(state(s)).on(format!("session/{}", s.id))
}

pub(crate) fn ensure_deliberated(s: &session::Model) -> ServiceResult<()> {
    session_rules::ensure_deliberated(state(s)).on(format!("session/{}", s.id))
}

/// Loaders: a row by its id, or NOT_FOUND.
impl Inner {
    async fn session<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<session::Model> {
        store::session(db, id).await.found("exam session", id)
    }

    /// The session, locked until the unit of work ends: acts on one session never interleave.
    async fn session_locked<C: ConnectionTrait>(
        &self,
        txn: &C,
        id: &str,
    ) -> ServiceResult<session::Model> {
        store::session_locked(txn, id)
            .await
            .found("exam session", id)
    }

    /// The session a candidate sits in (the session of their year).
    async fn session_of<C: ConnectionTrait>(
        &self,
        db: &C,
        c: &candidate::Model,
    ) -> ServiceResult<session::Model> {
        session_rules::of_year(store::session_of_year(db, c.year).await?, c.year)
            .on(format!("candidacy/{}", c.candidacy_id))
    }

    async fn candidate<C: ConnectionTrait>(
        &self,
        db: &C,
        id: &str,
    ) -> ServiceResult<candidate::Model> {
        store::candidate(db, id)
            .await?
            .ok_or_else(|| not_admitted(id))
    }

    async fn board<C: ConnectionTrait>(&self, db: &C, id: &str) -> ServiceResult<board::Model> {
        store::board(db, id).await.found("board", id)
    }

    /// How candidate `c` stands to the caller: themself, or on a board the caller sits on now.
    async fn relation<C: ConnectionTrait>(
        &self,
        db: &C,
        caller: &Caller,
        c: &candidate::Model,
    ) -> ServiceResult<Relation> {
        let own = caller.has(Role::Candidate) && same_person(&c.email, &caller.subject);
        let on_my_board = match store::assignment(db, &c.candidacy_id).await? {
            Some(a) if caller.has(Role::BoardMember) => {
                seat(&store::members_of(db, &a.board_id).await?, caller).is_some()
            }
            _ => false,
        };
        Ok(Relation { own, on_my_board })
    }

    /// The capacity in which the caller reaches candidate `c` through `method`, judged under
    /// each of their roles alone, or PERMISSION_DENIED.
    async fn reach<C: ConnectionTrait>(
        &self,
        db: &C,
        caller: &Caller,
        c: &candidate::Model,
        method: &str,
    ) -> ServiceResult<Capacity> {
        let capacities = capacities(caller, method);
        let relation = self.relation(db, caller, c).await?;
        access::reach(&capacities, relation).ok_or_else(|| {
            ServiceError::PermissionDenied(format!(
                "candidacy {} is neither yours nor a candidate of your boards",
                c.candidacy_id
            ))
        })
    }

    /// The boards the caller sits on now, in the session (all sessions when `None`).
    async fn my_boards<C: ConnectionTrait>(
        &self,
        db: &C,
        caller: &Caller,
        session_id: Option<&str>,
    ) -> ServiceResult<Vec<String>> {
        if !caller.has(Role::BoardMember) {
            return Ok(Vec::new());
        }
        Ok(store::seats_of_person(db, &caller.subject)
            .await?
            .into_iter()
            .filter(|m| session_id.is_none_or(|s| m.session_id == s))
            .map(|m| m.board_id)
            .collect())
    }

    /// The seat of the session's jury president, if appointed and still on their board.
    async fn jury_seat<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
    ) -> ServiceResult<Option<board_member::Model>> {
        let Some(id) = &s.jury_president_member_id else {
            return Ok(None);
        };
        Ok(store::board_member(db, id)
            .await?
            .filter(|m| m.left_at.is_none()))
    }

    /// The jury president's seat when the caller is them: NO_JURY_PRESIDENT when none acts,
    /// PERMISSION_DENIED for anyone else.
    async fn as_jury_president<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
        caller: &Caller,
        act: &str,
    ) -> ServiceResult<board_member::Model> {
        let seat = jury::appointed(self.jury_seat(db, s).await?).on(format!("session/{}", s.id))?;
        if is_jury_president(caller, &seat) {
            Ok(seat)
        } else {
            Err(ServiceError::PermissionDenied(format!(
                "only the jury president of the session {act}"
            )))
        }
    }

    /// True when the caller is the session's jury president.
    async fn is_jury_president_of<C: ConnectionTrait>(
        &self,
        db: &C,
        s: &session::Model,
        caller: &Caller,
    ) -> ServiceResult<bool> {
        Ok(self
            .jury_seat(db, s)
            .await?
            .is_some_and(|seat| is_jury_president(caller, &seat)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rules_name_each_method_once() {
        let names: std::collections::BTreeSet<_> = super::RULES.iter().map(|r| r.0).collect();
        assert_eq!(names.len(), super::RULES.len(), "a method is listed twice");
    }
}
