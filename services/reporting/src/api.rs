//! gRPC handlers, tables and events of the reporting service. Small enough to read in one file.

use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    event_envelope::Payload,
    reporting_service_server::{ReportingService, ReportingServiceServer},
};
use cplds_runtime::{
    auth::{Access, Caller, Policy, Role},
    clock::SharedClock,
    db::RuntimeTables,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    outbox::Outbox,
    time::{paris_date, to_timestamp},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};
use sea_orm_migration::prelude::*;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use crate::{
    NAME,
    domain::{self, RawLine, Sex},
};

pub mod submission {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mlds_survey_submissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub submitted_at: DateTimeUtc,
        pub submitted_by: String,
        /// JSON array of lines.
        pub lines: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval {
    use sea_orm::entity::prelude::*;

    /// Every approval is kept: a year may be approved again after a correction.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "figures_approvals")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub year: i32,
        pub approved_at: DateTimeUtc,
        pub approved_by: String,
        pub remarks: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(RuntimeTables), Box::new(CreateTables)]
    }
}

struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261101_000600_reporting_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = |n: &str| ColumnDef::new(Alias::new(n));
        m.create_table(
            Table::create()
                .table(Alias::new("mlds_survey_submissions"))
                .col(c("year").integer().not_null())
                .col(c("version").integer().not_null())
                .col(c("submitted_at").timestamp_with_time_zone().not_null())
                .col(c("submitted_by").string().not_null())
                .col(c("lines").text().not_null())
                .primary_key(
                    Index::create()
                        .col(Alias::new("year"))
                        .col(Alias::new("version")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alias::new("figures_approvals"))
                .col(
                    c("id")
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(c("year").integer().not_null())
                .col(c("approved_at").timestamp_with_time_zone().not_null())
                .col(c("approved_by").string().not_null())
                .col(c("remarks").text().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["figures_approvals", "mlds_survey_submissions"] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

pub struct ReportingModule;

const SERVICE: &str = "cplds.v1.ReportingService";

pub fn policy(p: &mut Policy) {
    p.allow(SERVICE, "SubmitMldsSurvey", Access::Roles(&[Role::Recteur]));
    p.allow(SERVICE, "ApproveFigures", Access::Roles(&[Role::Recteur]));
    p.allow(
        SERVICE,
        "GetMldsSurveySubmission",
        Access::Roles(&[Role::Recteur, Role::ExamOffice, Role::ItAdmin]),
    );
    p.allow(
        SERVICE,
        "ListFiguresApprovals",
        Access::Roles(&[Role::Recteur, Role::ExamOffice, Role::ItAdmin]),
    );
}

#[async_trait]
impl ServiceModule for ReportingModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let api = ReportingApi {
            inner: Arc::new(Inner {
                academy: ctx.academy.clone(),
                db: ctx.db.clone(),
                outbox: ctx.outbox.clone(),
                clock: ctx.clock.clone(),
            }),
        };
        mount.add_grpc(ReportingServiceServer::new(api));
        policy(mount.policy());
        Ok(())
    }
}

#[derive(Clone)]
pub struct ReportingApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: String,
    db: DatabaseConnection,
    outbox: Outbox,
    clock: SharedClock,
}

#[derive(Serialize, Deserialize)]
struct StoredLine {
    action_kind: String,
    sex: String,
    age_band: String,
    outcome: String,
    young_people: u32,
}

fn sex_pb(s: &str) -> i32 {
    match s {
        "female" => pb::Sex::Female as i32,
        "male" => pb::Sex::Male as i32,
        _ => 0,
    }
}

fn check_year(year: i32, now: chrono::DateTime<chrono::Utc>) -> Result<i32, String> {
    let this: i32 = paris_date(now)
        .format("%Y")
        .to_string()
        .parse()
        .unwrap_or(2026);
    if (2017..=this + 1).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be between 2017 and {}", this + 1))
    }
}

impl Inner {
    fn submission_pb(&self, s: &submission::Model) -> pb::MldsSurveySubmission {
        let lines: Vec<StoredLine> = serde_json::from_str(&s.lines).unwrap_or_default();
        pb::MldsSurveySubmission {
            academy: self.academy.clone(),
            year: s.year,
            version: s.version as u32,
            young_people: lines.iter().map(|l| i64::from(l.young_people)).sum(),
            lines: lines
                .iter()
                .map(|l| pb::MldsSurveyLine {
                    action_kind: l.action_kind.clone(),
                    sex: sex_pb(&l.sex),
                    age_band: l.age_band.clone(),
                    outcome: l.outcome.clone(),
                    young_people: l.young_people,
                })
                .collect(),
            submit_time: Some(to_timestamp(s.submitted_at)),
            submitted_by: s.submitted_by.clone(),
        }
    }

    async fn submit(
        &self,
        caller: Caller,
        r: pb::SubmitMldsSurveyRequest,
    ) -> ServiceResult<pb::MldsSurveySubmission> {
        let now = self.clock.now();
        let mut v = Violations::default();
        v.check("year", check_year(r.year, now));
        let raw: Vec<RawLine<'_>> = r
            .lines
            .iter()
            .map(|l| RawLine {
                action_kind: &l.action_kind,
                sex: match pb::Sex::try_from(l.sex) {
                    Ok(pb::Sex::Female) => Some(Sex::Female),
                    Ok(pb::Sex::Male) => Some(Sex::Male),
                    _ => None,
                },
                age_band: &l.age_band,
                outcome: &l.outcome,
                young_people: l.young_people,
            })
            .collect();
        let lines = match domain::parse_lines(&raw) {
            Ok(l) => Some(l),
            Err(errors) => {
                for (f, e) in errors {
                    v.add(f, e);
                }
                None
            }
        };
        v.finish()?;
        let lines = lines.expect("checked");
        let stored: Vec<StoredLine> = lines
            .iter()
            .map(|l| StoredLine {
                action_kind: l.action_kind.into(),
                sex: if l.sex == Sex::Female {
                    "female".into()
                } else {
                    "male".into()
                },
                age_band: l.age_band.into(),
                outcome: l.outcome.into(),
                young_people: l.young_people,
            })
            .collect();
        let txn = self.db.begin().await?;
        let last = submission::Entity::find()
            .filter(submission::Column::Year.eq(r.year))
            .order_by_desc(submission::Column::Version)
            .one(&txn)
            .await?;
        let version = last.map_or(1, |s| s.version + 1);
        let row = submission::ActiveModel {
            year: Set(r.year),
            version: Set(version),
            submitted_at: Set(now),
            submitted_by: Set(caller.subject.clone()),
            lines: Set(serde_json::to_string(&stored).map_err(ServiceError::internal)?),
        }
        .insert(&txn)
        .await?;
        self.outbox
            .append(
                &txn,
                Payload::MldsSurveySubmitted(pb::MldsSurveySubmitted {
                    year: r.year,
                    version: version as u32,
                    rows: stored
                        .iter()
                        .map(|l| pb::MldsSurveyRow {
                            action_kind: l.action_kind.clone(),
                            sex: sex_pb(&l.sex),
                            age_band: l.age_band.clone(),
                            outcome: l.outcome.clone(),
                            young_people: l.young_people,
                        })
                        .collect(),
                }),
            )
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(self.submission_pb(&row))
    }

    async fn get(&self, year: i32) -> ServiceResult<pb::MldsSurveySubmission> {
        let s = submission::Entity::find()
            .filter(submission::Column::Year.eq(year))
            .order_by_desc(submission::Column::Version)
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no MLDS survey submitted for {year}"))
            })?;
        Ok(self.submission_pb(&s))
    }

    async fn approve(
        &self,
        caller: Caller,
        r: pb::ApproveFiguresRequest,
    ) -> ServiceResult<pb::FiguresApproval> {
        let now = self.clock.now();
        let mut v = Violations::default();
        v.check("year", check_year(r.year, now));
        let remarks = v.check("remarks", domain::parse_remarks(&r.remarks));
        v.finish()?;
        let remarks = remarks.expect("checked");
        let txn = self.db.begin().await?;
        let row = approval::ActiveModel {
            year: Set(r.year),
            approved_at: Set(now),
            approved_by: Set(caller.subject.clone()),
            remarks: Set(remarks.clone()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        self.outbox
            .append(
                &txn,
                Payload::FiguresApproved(pb::FiguresApproved {
                    year: r.year,
                    remarks,
                }),
            )
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(self.approval_pb(&row))
    }

    fn approval_pb(&self, a: &approval::Model) -> pb::FiguresApproval {
        pb::FiguresApproval {
            academy: self.academy.clone(),
            year: a.year,
            approve_time: Some(to_timestamp(a.approved_at)),
            approved_by: a.approved_by.clone(),
            remarks: a.remarks.clone(),
        }
    }

    async fn approvals(&self, year: i32) -> ServiceResult<pb::ListFiguresApprovalsResponse> {
        let rows = approval::Entity::find()
            .filter(approval::Column::Year.eq(year))
            .order_by_asc(approval::Column::Id)
            .all(&self.db)
            .await?;
        Ok(pb::ListFiguresApprovalsResponse {
            approvals: rows.iter().map(|a| self.approval_pb(a)).collect(),
        })
    }
}

#[async_trait]
impl ReportingService for ReportingApi {
    async fn submit_mlds_survey(
        &self,
        r: Request<pb::SubmitMldsSurveyRequest>,
    ) -> Result<Response<pb::MldsSurveySubmission>, Status> {
        let c = Caller::of(&r)?.clone();
        reply(self.inner.submit(c, r.into_inner()).await)
    }

    async fn get_mlds_survey_submission(
        &self,
        r: Request<pb::GetMldsSurveySubmissionRequest>,
    ) -> Result<Response<pb::MldsSurveySubmission>, Status> {
        reply(self.inner.get(r.into_inner().year).await)
    }

    async fn approve_figures(
        &self,
        r: Request<pb::ApproveFiguresRequest>,
    ) -> Result<Response<pb::FiguresApproval>, Status> {
        let c = Caller::of(&r)?.clone();
        reply(self.inner.approve(c, r.into_inner()).await)
    }

    async fn list_figures_approvals(
        &self,
        r: Request<pb::ListFiguresApprovalsRequest>,
    ) -> Result<Response<pb::ListFiguresApprovalsResponse>, Status> {
        reply(self.inner.approvals(r.into_inner().year).await)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_covers_every_method() {
        let mut p = cplds_runtime::auth::Policy::new();
        super::policy(&mut p);
        assert_eq!(p.uncovered_methods(super::SERVICE), Vec::<String>::new());
    }
}
