//! The gRPC face of the national node (role `ministry` of the national node's tokens), the
//! consumer of the national stream and the job that asks académies to replay what is missing.
//!
//! The académie's copy of its own national figures, with the session report for its exam office
//! and recteur, is [`academy`] (service `figures` of an académie node).
//!
//! By area: `statistics` (figures and their exports), `completeness` (what each académie's
//! sources delivered), `approvals`, `survey` (the MLDS survey), `report` (the session
//! report), `replay` (the replay requests).

pub mod academy;
mod approvals;
mod completeness;
pub mod convert;
mod replay;
mod report;
mod statistics;
mod survey;

use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    national_statistics_service_server::{
        NationalStatisticsService, NationalStatisticsServiceServer,
    },
};
use cplds_runtime::{
    auth::{Access, Policy, Role},
    bus::{Binding, QueueSpec, Stream},
    config::NationalConfig,
    host::{Mount, Schema, ServiceContext, ServiceModule},
    inbox::Consumer,
    kit::ServiceCore,
};

use crate::{
    NAME,
    domain::query::ActiveAcademies,
    store::{ingest::Ingest, migration::Migrator},
};

pub struct NationalModule;

pub const SERVICE: &str = "cplds.v1.NationalStatisticsService";

/// Queue of the aggregator on the national broker: every académie's national stream.
pub fn queue() -> QueueSpec {
    let mut q = QueueSpec::new(
        "national.aggregator",
        vec![Binding::new(Stream::National, "#")],
    );
    q.prefetch = 256;
    q
}

pub fn policy(p: &mut Policy) {
    const MINISTRY: &[Role] = &[Role::Ministry];
    for m in [
        "GetStatistics",
        "ExportStatistics",
        "ListApprovals",
        "GetMldsSurvey",
        "GetSessionReport",
    ] {
        p.allow(SERVICE, m, Access::Roles(MINISTRY));
    }
    p.allow(
        SERVICE,
        "GetCompleteness",
        Access::Roles(&[Role::Ministry, Role::ItAdmin]),
    );
    p.allow(SERVICE, "ResetSource", Access::Roles(&[Role::ItAdmin]));
}

#[async_trait]
impl ServiceModule for NationalModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(NAME)
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        anyhow::ensure!(
            ctx.node.is_national(),
            "{NAME} runs in the national node, not in académie {}",
            ctx.node
        );
        let core = ServiceCore::new(ctx);
        let config = ctx.config.national.clone();
        let active = ActiveAcademies::parse(&config.active_academies)
            .map_err(|e| anyhow::anyhow!("national: {e}"))?;
        let api = NationalApi {
            inner: Arc::new(Inner {
                core: core.clone(),
                config: config.clone(),
                active,
            }),
        };
        cplds_runtime::add_grpc!(mount, ctx, NationalStatisticsServiceServer::new(api));
        policy(mount.policy());
        fold(
            ctx,
            mount,
            core,
            queue(),
            (
                "national.aggregator",
                "cplds_national_last_heard_timestamp_seconds",
            ),
        );
        Ok(())
    }
}

/// Folds a national stream into `core`'s database as facts arrive (consumer `name`, gauge
/// `heard`), and asks for what is missing: the national node's work, and the académie's copy of
/// its own figures.
fn fold(
    ctx: &ServiceContext,
    mount: &mut Mount,
    core: ServiceCore,
    queue: QueueSpec,
    (name, heard): (&str, &str),
) {
    mount.consume(Consumer {
        name: name.into(),
        queue,
        handler: Arc::new(Ingest {
            clock: ctx.clock.clone(),
            catch_up_limit: crate::store::ingest::CATCH_UP_PER_TRANSACTION,
            heard: ctx.metrics.gauge_family(
                heard,
                "When a fact or heartbeat of an académie's source was last received (Unix time)",
            ),
        }),
    });
    mount.job(Box::pin(replay::request_replays(
        core,
        ctx.bus.clone(),
        ctx.config.national.clone(),
        ctx.shutdown.clone(),
    )));
}

#[derive(Clone)]
pub struct NationalApi {
    inner: Arc<Inner>,
}

struct Inner {
    core: ServiceCore,
    config: NationalConfig,
    /// The académies expected to report, per year.
    active: ActiveAcademies,
}

cplds_runtime::grpc_handlers! {
    impl NationalStatisticsService for NationalApi => inner {
        get_statistics(pb::GetStatisticsRequest) -> pb::Statistics => statistics;
        export_statistics(pb::ExportStatisticsRequest) -> pb::ExportStatisticsResponse => export;
        get_completeness(pb::GetCompletenessRequest) -> pb::Completeness => completeness;
        reset_source(pb::ResetSourceRequest) -> pb::ResetSourceResponse => reset_source;
        list_approvals(pb::ListApprovalsRequest) -> pb::ListApprovalsResponse => approvals;
        get_mlds_survey(pb::GetMldsSurveyRequest) -> pb::MldsSurvey => survey;
        get_session_report(pb::GetSessionReportRequest) -> pb::SessionReport => session_report;
    }
}
