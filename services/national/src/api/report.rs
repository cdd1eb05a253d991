//! The session report of an académie for a year, as Markdown and PDF.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::Academy,
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
};

use super::Inner;
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

        let data = self.report_data(academy, year).await?;
        Ok(pb::SessionReport {
            academy: academy.code.to_owned(),
            year,
            markdown: report::markdown(&data),
            pdf: report::pdf(&data),
        })
    }

    /// The tables of the report: this session and the previous one, by département and sex,
    /// staff category and workplace type; the approval and the jury's remarks. NOT_FOUND when
    /// the académie has no figure for the year.
    async fn report_data(&self, academy: &'static Academy, year: i32) -> ServiceResult<ReportData> {
        let current = self.session_tables(academy, year).await?;
        if !report::has_figures(&current.totals) {
            return Err(ServiceError::NotFound(format!(
                "no figures of académie {} for {year}",
                academy.code
            )));
        }
        let previous = self.session_tables(academy, year - 1).await?;
        let approval = store::approvals(&self.core.db, year)
            .await?
            .into_iter()
            .find(|a| a.academy == academy.code);
        Ok(ReportData {
            academy_name: academy.name.to_owned(),
            year,
            current,
            previous: report::has_figures(&previous.totals).then_some(previous),
            jury: store::jury::of(&self.core.db, academy.code, year).await?,
            remarks: approval.as_ref().map(|a| a.remarks.clone()),
            approved: approval.is_some_and(|a| a.approved),
        })
    }

    /// One session's tables of the report.
    async fn session_tables(&self, academy: &'static Academy, year: i32) -> ServiceResult<Session> {
        let scope = Some(vec![academy.code.to_owned()]);
        let scope = scope.as_deref();
        let (totals, by_department_sex) = self
            .figures_of(year, scope, &[Dimension::Department, Dimension::Sex])
            .await?;
        let (_, by_staff_category) = self
            .figures_of(year, scope, &[Dimension::StaffCategory])
            .await?;
        let (_, by_workplace_type) = self
            .figures_of(year, scope, &[Dimension::WorkplaceType])
            .await?;
        Ok(Session {
            totals,
            by_department_sex,
            by_staff_category,
            by_workplace_type,
        })
    }
}
