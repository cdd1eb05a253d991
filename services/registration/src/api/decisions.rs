//! The exam office's decisions (validate, reject) and withdrawals. Each changes the candidacy
//! only if no other call changed it since it was read. A candidacy that leaves (rejected,
//! withdrawn) while holding a staff number other candidacies also give hands it to the next one,
//! whose registration then reaches the national stream.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceResult, Violations},
    kit::{Decided, UnitOfWork, parse_id},
};

use super::{Inner, OFFICE, act, candidacy_subject, convert, parse_candidacy_id};
use crate::{
    domain::{
        access,
        candidacy::{self as rules, Claims, Rejection, parse_withdrawal_reason},
    },
    events,
    store::{self, Transition, candidacy},
};

impl Inner {
    pub(super) async fn validate(
        &self,
        caller: Caller,
        req: pb::ValidateCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let id = parse_candidacy_id(&req.candidacy_id)?;
        let acting = access::acting(&caller, OFFICE)?;

        let mut uow = self.core.begin().await?;
        let c = self.candidacy(uow.txn(), &id).await?;
        let (facts, _) = self.facts(uow.txn(), &c).await?;
        rules::can_validate(&facts).on(candidacy_subject(&id))?;
        let row = self
            .transition(&uow, c, Transition::Validate, &caller)
            .await?;
        uow.record(act(&id, &caller, "validated", None)).await?;
        uow.emit(events::validated(&row)).await?;
        uow.commit().await?;
        self.render(&self.core.db, &row, &acting).await
    }

    pub(super) async fn reject(
        &self,
        caller: Caller,
        req: pb::RejectCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let reason = v.check("reason", convert::optional(req.reason, "reason"));
        let rejection = reason.and_then(|reason| {
            Rejection::parse(reason, &req.reason_text)
                .map_err(|errors| {
                    for (field, e) in errors {
                        v.add(field, e);
                    }
                })
                .ok()
        });
        let (id, rejection) = v.finish_with((id, rejection))?;
        let acting = access::acting(&caller, OFFICE)?;

        let mut uow = self.core.begin().await?;
        let c = self.candidacy(uow.txn(), &id).await?;
        let (facts, claims) = self.facts(uow.txn(), &c).await?;
        rules::can_reject(&facts).on(candidacy_subject(&id))?;
        let row = self
            .transition(&uow, c, Transition::Reject(&rejection), &caller)
            .await?;
        let reason = rejection.reason;
        uow.record(act(&id, &caller, "rejected", Some(reason.to_string())))
            .await?;
        let release = claims.release(&id);
        uow.emit(events::rejected(&row, reason, release.was_holder))
            .await?;
        self.hand_over(&mut uow, &claims, &id, &caller).await?;
        uow.commit().await?;
        self.render(&self.core.db, &row, &acting).await
    }

    pub(super) async fn withdraw(
        &self,
        caller: Caller,
        req: pb::WithdrawCandidacyRequest,
    ) -> ServiceResult<pb::Candidacy> {
        let mut v = Violations::default();
        let id = v.check("candidacy_id", parse_id(&req.candidacy_id));
        let reason = v.check("reason_text", parse_withdrawal_reason(&req.reason_text));
        let (id, reason) = v.finish_with((id, reason))?;
        let acting = access::acting(&caller, OFFICE)?;

        let mut uow = self.core.begin().await?;
        let c = self.candidacy(uow.txn(), &id).await?;
        acting.may_see(&c.id, &c.email)?;
        let (facts, claims) = self.facts(uow.txn(), &c).await?;
        rules::can_withdraw(&facts).on(candidacy_subject(&id))?;
        let previous = c.status;
        let row = self
            .transition(&uow, c, Transition::Withdraw { reason }, &caller)
            .await?;
        let detail = format!("was {previous}");
        uow.record(act(&id, &caller, "withdrawn", Some(detail)))
            .await?;
        let release = claims.release(&id);
        uow.emit(events::withdrawn(&row, release.was_holder))
            .await?;
        self.hand_over(&mut uow, &claims, &id, &caller).await?;
        uow.commit().await?;
        self.render(&self.core.db, &row, &acting).await
    }

    /// When `leaving` held a staff number other live candidacies give, the next one holds it:
    /// its registration reaches the national stream now.
    async fn hand_over(
        &self,
        uow: &mut UnitOfWork,
        claims: &Claims,
        leaving: &str,
        caller: &Caller,
    ) -> ServiceResult<()> {
        if let Some(next) = claims.release(leaving).new_holder {
            let row = self.candidacy(uow.txn(), &next).await?;
            let detail = Some(format!("staff number released by candidacy {leaving}"));
            uow.record(act(&next, caller, "holds_staff_number", detail))
                .await?;
            uow.emit(events::registered(&row)).await?;
        }
        Ok(())
    }

    /// Writes the transition the rules allowed, unless another call changed the candidacy since
    /// it was read (CONCURRENT_CHANGE).
    async fn transition(
        &self,
        uow: &UnitOfWork,
        c: candidacy::Model,
        t: Transition<'_>,
        caller: &Caller,
    ) -> ServiceResult<candidacy::Model> {
        let id = c.id.clone();
        store::transition(uow.txn(), c, t, &caller.subject, uow.now())
            .await?
            .ok_or_else(|| rules::changed_meanwhile().on(candidacy_subject(&id)))
    }
}
