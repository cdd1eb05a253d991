//! The académie's own copy of its national figures (service `figures` of an académie node): the
//! académie's national stream, read on its own broker and folded by the very code of the
//! national node, so that the exam office and the recteur produce their session report from
//! their node and find in it the figures the ministry will see (issue 13 §1). Gaps are closed as
//! the national node closes them: a replay request on the académie's control stream.

use std::sync::Arc;

use async_trait::async_trait;
use cplds_proto::v1::{
    self as pb,
    figures_service_server::{FiguresService, FiguresServiceServer},
};
use cplds_runtime::{
    academy::Academy,
    auth::{Access, Caller, Policy, Role},
    bus::{Binding, QueueSpec, Stream},
    error::{ServiceResult, Violations},
    host::{Mount, Schema, ServiceContext, ServiceModule},
    kit::ServiceCore,
};

use super::report;
use crate::{domain::query::parse_year, store::migration::Migrator};

/// Service name in an académie node: database, queue, broker user.
pub const FIGURES: &str = "figures";

pub const SERVICE: &str = "cplds.v1.FiguresService";

pub struct AcademyFiguresModule;

/// The académie's national stream, on its own broker: every source's facts and heartbeats.
pub fn queue(academy: &str) -> QueueSpec {
    let mut q = QueueSpec::new(
        format!("{academy}.{FIGURES}"),
        vec![Binding::new(Stream::National, format!("{academy}.#"))],
    );
    q.prefetch = 256;
    q
}

pub fn policy(p: &mut Policy) {
    p.allow(
        SERVICE,
        "GetSessionReport",
        Access::Roles(&[Role::ExamOffice, Role::Recteur]),
    );
}

#[async_trait]
impl ServiceModule for AcademyFiguresModule {
    fn schema(&self) -> Schema {
        Schema::of::<Migrator>(FIGURES)
    }

    fn queue(&self, academy: &'static Academy) -> Option<QueueSpec> {
        Some(queue(academy.code))
    }

    fn publishes(&self) -> bool {
        false
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let academy = ctx.node.require_academy(FIGURES)?;
        let core = ServiceCore::new(ctx);
        let api = AcademyFiguresApi {
            inner: Arc::new(Inner {
                academy,
                core: core.clone(),
            }),
        };
        cplds_runtime::add_grpc!(mount, ctx, FiguresServiceServer::new(api));
        policy(mount.policy());
        super::fold(
            ctx,
            mount,
            core,
            queue(academy.code),
            (FIGURES, "cplds_figures_last_heard_timestamp_seconds"),
        );
        Ok(())
    }
}

#[derive(Clone)]
pub struct AcademyFiguresApi {
    inner: Arc<Inner>,
}

struct Inner {
    academy: &'static Academy,
    core: ServiceCore,
}

impl Inner {
    async fn session_report(
        &self,
        _caller: Caller,
        r: pb::GetSessionReportRequest,
    ) -> ServiceResult<pb::SessionReport> {
        let mut v = Violations::default();
        let academy = v.check("academy", self.own_academy(&r.academy));
        let year = v.check("year", parse_year(r.year));
        let ((), year) = v.finish_with((academy, year))?;
        report::session_report(&self.core.db, self.academy, year).await
    }

    /// Empty, or this node's académie: the node holds no other académie's facts.
    fn own_academy(&self, code: &str) -> Result<(), String> {
        if code.is_empty() || code == self.academy.code {
            Ok(())
        } else {
            Err(format!(
                "must be empty or {}: this node holds only its own académie's figures",
                self.academy.code
            ))
        }
    }
}

cplds_runtime::grpc_handlers! {
    impl FiguresService for AcademyFiguresApi => inner {
        get_session_report(pb::GetSessionReportRequest) -> pb::SessionReport => session_report;
    }
}
