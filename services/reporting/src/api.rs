//! The gRPC face of reporting: parse, decide (the survey's checks in [`crate::domain`]), write
//! in a unit of work with the national fact.

use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    reporting_service_server::{ReportingService, ReportingServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    kit::ServiceCore,
    time::{paris_date, to_timestamp},
};
use sea_orm::Set;

use crate::{
    NAME,
    domain::{self, RawCount, RawSurvey, Sex},
    events,
    store::{self, Migrator, approval, submission},
};

pub struct ReportingModule;

#[async_trait]
impl ServiceModule for ReportingModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let api = ReportingApi {
            inner: Arc::new(Inner {
                academy: ctx.node.require_academy(NAME)?,
                core: ServiceCore::new(ctx),
            }),
        };
        cplds_runtime::add_grpc!(mount, ctx, ReportingServiceServer::new(api));
        policy(mount.policy());
        Ok(())
    }
}

const SERVICE: &str = "cplds.v1.ReportingService";
const RECTEUR: &[Role] = &[Role::Recteur];
const READERS: &[Role] = &[Role::Recteur, Role::ExamOffice, Role::ItAdmin];

pub fn policy(p: &mut Policy) {
    for (method, roles) in [
        ("SubmitMldsSurvey", RECTEUR),
        ("ApproveFigures", RECTEUR),
        ("GetMldsSurveySubmission", READERS),
        ("ListFiguresApprovals", READERS),
    ] {
        p.allow(SERVICE, method, Access::Roles(roles));
    }
}

#[derive(Clone)]
pub struct ReportingApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    core: ServiceCore,
}

cplds_runtime::grpc_handlers! {
    impl ReportingService for ReportingApi => inner {
        submit_mlds_survey(pb::SubmitMldsSurveyRequest) -> pb::MldsSurveySubmission => submit;
        get_mlds_survey_submission(pb::GetMldsSurveySubmissionRequest) -> pb::MldsSurveySubmission => get;
        approve_figures(pb::ApproveFiguresRequest) -> pb::FiguresApproval => approve;
        list_figures_approvals(pb::ListFiguresApprovalsRequest) -> pb::ListFiguresApprovalsResponse => approvals;
    }
}

impl Inner {
    fn submission_pb(&self, s: &submission::Model) -> ServiceResult<pb::MldsSurveySubmission> {
        let survey = store::decode_survey(&s.lines)?;
        let (headcount, actions, outcomes) = events::survey_pb(&survey);
        Ok(pb::MldsSurveySubmission {
            academy: self.academy.code.to_owned(),
            year: s.year,
            version: s.version as u32,
            young_people: survey.young_people(),
            lines: Vec::new(),
            submit_time: Some(to_timestamp(s.submitted_at)),
            submitted_by: s.submitted_by.clone(),
            headcount,
            actions,
            outcomes,
        })
    }

    fn approval_pb(&self, a: &approval::Model) -> pb::FiguresApproval {
        pb::FiguresApproval {
            academy: self.academy.code.to_owned(),
            year: a.year,
            approve_time: Some(to_timestamp(a.approved_at)),
            approved_by: a.approved_by.clone(),
            remarks: a.remarks.clone(),
        }
    }

    async fn submit(
        &self,
        caller: Caller,
        r: pb::SubmitMldsSurveyRequest,
    ) -> ServiceResult<pb::MldsSurveySubmission> {
        let mut v = Violations::default();
        let year = v.check(
            "year",
            domain::parse_year(r.year, paris_date(self.core.now())),
        );
        let raw = RawSurvey {
            former_lines: r.lines.len(),
            headcount: r
                .headcount
                .iter()
                .map(|c| RawCount {
                    category: &c.age_band,
                    sex: Sex::from_pb(c.sex),
                    young_people: c.young_people,
                })
                .collect(),
            actions: r
                .actions
                .iter()
                .map(|c| RawCount {
                    category: &c.action_type,
                    sex: Sex::from_pb(c.sex),
                    young_people: c.young_people,
                })
                .collect(),
            outcomes: r
                .outcomes
                .iter()
                .map(|c| RawCount {
                    category: &c.outcome,
                    sex: Sex::from_pb(c.sex),
                    young_people: c.young_people,
                })
                .collect(),
        };
        let survey = domain::parse_survey(&raw)
            .map_err(|errors| {
                for (field, e) in errors {
                    v.add(field, e);
                }
            })
            .ok();
        let (year, survey) = v.finish_with((year, survey))?;

        let mut uow = self.core.begin().await?;
        let version = store::latest_submission(uow.txn(), year)
            .await?
            .map_or(1, |s| s.version + 1);
        let row = store::insert_submission(
            uow.txn(),
            submission::Model {
                year,
                version,
                submitted_at: uow.now(),
                submitted_by: caller.subject,
                lines: store::encode_survey(&survey)?,
            },
        )
        .await?;
        uow.emit([events::survey_submitted(year, version as u32, &survey)])
            .await?;
        uow.commit().await?;
        self.submission_pb(&row)
    }

    async fn get(
        &self,
        _caller: Caller,
        r: pb::GetMldsSurveySubmissionRequest,
    ) -> ServiceResult<pb::MldsSurveySubmission> {
        let s = store::latest_submission(&self.core.db, r.year)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no MLDS survey submitted for {}", r.year))
            })?;
        self.submission_pb(&s)
    }

    async fn approve(
        &self,
        caller: Caller,
        r: pb::ApproveFiguresRequest,
    ) -> ServiceResult<pb::FiguresApproval> {
        let mut v = Violations::default();
        let year = v.check(
            "year",
            domain::parse_year(r.year, paris_date(self.core.now())),
        );
        let remarks = v.check("remarks", domain::parse_remarks(&r.remarks));
        let (year, remarks) = v.finish_with((year, remarks))?;

        let mut uow = self.core.begin().await?;
        let row = store::insert_approval(
            uow.txn(),
            approval::ActiveModel {
                year: Set(year),
                approved_at: Set(uow.now()),
                approved_by: Set(caller.subject),
                remarks: Set(remarks.clone()),
                ..Default::default()
            },
        )
        .await?;
        uow.emit([events::figures_approved(year, remarks)]).await?;
        uow.commit().await?;
        Ok(self.approval_pb(&row))
    }

    async fn approvals(
        &self,
        _caller: Caller,
        r: pb::ListFiguresApprovalsRequest,
    ) -> ServiceResult<pb::ListFiguresApprovalsResponse> {
        let rows = store::approvals(&self.core.db, r.year).await?;
        Ok(pb::ListFiguresApprovalsResponse {
            approvals: rows.iter().map(|a| self.approval_pb(a)).collect(),
        })
    }
}
