//! What a caller may do depending on the data, beyond the roles the policy grants: a candidate
//! reads and acts on their own candidacy only, and registers only themselves, online.

use cplds_runtime::{
    auth::{Caller, Role},
    error::{ServiceError, ServiceResult},
};

use crate::{
    domain::{campaign::Channel, candidate::Candidate},
    store::candidacy,
};

/// Staff see every candidacy; a candidate only their own (matched on the token's e-mail).
pub(super) fn ensure_own(caller: &Caller, c: &candidacy::Model) -> ServiceResult<()> {
    if caller.has(Role::ExamOffice) || caller.has(Role::Recteur) {
        return Ok(());
    }
    if caller.has(Role::Candidate) && c.email.eq_ignore_ascii_case(caller.subject.trim()) {
        return Ok(());
    }
    Err(ServiceError::PermissionDenied(format!(
        "candidacy {} is not yours",
        c.id
    )))
}

/// Only the exam office enters what came by post or e-mail, and a candidate registers under the
/// e-mail address of their own account.
pub(super) fn ensure_may_submit(
    caller: &Caller,
    candidate: &Candidate,
    channel: Channel,
) -> ServiceResult<()> {
    if !caller.is_only_candidate() {
        return Ok(());
    }
    if channel != Channel::Online {
        return Err(ServiceError::PermissionDenied(
            "only the exam office enters candidacies received by post or e-mail".into(),
        ));
    }
    if !candidate.email.same_person(&caller.subject) {
        return Err(ServiceError::PermissionDenied(
            "a candidate registers with the e-mail address of their own account".into(),
        ));
    }
    Ok(())
}
