//! The session report of an académie for a year, as Markdown and PDF: asked of the national node
//! by the ministry, and of the académie's own node (service `figures`) by its exam office and
//! recteur. Both build it here, from the same tables folded from the same facts.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::Academy,
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
};
use sea_orm::DatabaseConnection;

use super::{
    Inner,
    statistics::{caught_up, figures_of},
};
use crate::{
    domain::{
        query::parse_year,
        record::Dimension,
        report::{self, ReportData, Session},
    },
    store,
};

impl Inner {
    pub(super) async fn session_report(
        &self,
        _caller: Caller,
        r: pb::GetSessionReportRequest,
    ) -> ServiceResult<pb::SessionReport> {
        let mut v = Violations::default();
        let academy = v.check("academy", Academy::parse(&r.academy));
        let year = v.check("year", parse_year(r.year));
        let (academy, year) = v.finish_with((academy, year))?;
        session_report(&self.core.db, academy, year).await
    }
}

/// The report of `academy` for `year`, as a reply.
pub(super) async fn session_report(
    db: &DatabaseConnection,
    academy: &'static Academy,
    year: i32,
) -> ServiceResult<pb::SessionReport> {
    let (complete, pending_sources) = completeness(db, academy).await?;
    let data = report_data(db, academy, year, pending_sources.clone()).await?;
    Ok(pb::SessionReport {
        academy: academy.code.to_owned(),
        year,
        markdown: report::markdown(&data),
        pdf: report::pdf(&data),
        complete,
        pending_sources,
    })
}

/// The tables of the report: this session and the previous one, by département and sex, staff
/// category and workplace type; the approval and the jury's remarks. NOT_FOUND when the académie
/// has no figure for the year. `pending_sources` are those still behind (the report says so).
async fn report_data(
    db: &DatabaseConnection,
    academy: &'static Academy,
    year: i32,
    pending_sources: Vec<String>,
) -> ServiceResult<ReportData> {
    let current = session_tables(db, academy, year).await?;
    if !report::has_figures(&current.totals) {
        return Err(ServiceError::NotFound(format!(
            "no figures of académie {} for {year}",
            academy.code
        )));
    }
    let previous = session_tables(db, academy, year - 1).await?;
    let approval = store::approvals(db, year)
        .await?
        .into_iter()
        .find(|a| a.academy == academy.code);
    Ok(ReportData {
        academy_name: academy.name.to_owned(),
        year,
        current,
        previous: report::has_figures(&previous.totals).then_some(previous),
        jury: store::jury::of(db, academy.code, year).await?,
        remarks: approval.as_ref().map(|a| a.remarks.clone()),
        approved: approval.is_some_and(|a| a.approved),
        pending_sources,
    })
}

/// One session's tables of the report.
async fn session_tables(
    db: &DatabaseConnection,
    academy: &'static Academy,
    year: i32,
) -> ServiceResult<Session> {
    let scope = Some(vec![academy.code.to_owned()]);
    let scope = scope.as_deref();
    let (totals, by_department_sex) =
        figures_of(db, year, scope, &[Dimension::Department, Dimension::Sex]).await?;
    let (_, by_staff_category) = figures_of(db, year, scope, &[Dimension::StaffCategory]).await?;
    let (_, by_workplace_type) = figures_of(db, year, scope, &[Dimension::WorkplaceType]).await?;
    Ok(Session {
        totals,
        by_department_sex,
        by_staff_category,
        by_workplace_type,
    })
}

/// Whether the académie's figures are complete here, and its sources whose announced facts are
/// not all in them yet.
async fn completeness(
    db: &DatabaseConnection,
    academy: &'static Academy,
) -> ServiceResult<(bool, Vec<String>)> {
    let kept_or_conflicting = store::kept_and_conflicts(db).await?;
    let own: Vec<_> = store::streams(db)
        .await?
        .into_iter()
        .filter(|s| s.academy == academy.code)
        .collect();
    let heard = !own.is_empty();
    let pending: Vec<String> = own
        .into_iter()
        .filter(|s| !caught_up(s, &kept_or_conflicting))
        .map(|s| s.source)
        .collect();
    Ok((heard && pending.is_empty(), pending))
}
