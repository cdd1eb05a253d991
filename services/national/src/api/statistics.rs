//! The consolidated figures of a year and scope, with the previous year beside and each
//! académie's state (up to date, approved); for publication, small counts suppressed. Exported
//! as CSV or JSON.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    time::to_timestamp,
};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::{Inner, convert};
use crate::{
    domain::{
        completeness::heard_recently,
        csv,
        figures::{self, Cell, Figures, Measure},
        query::{Query, add_dimension, check_dimension_count, parse_year},
        record::{Dimension, Record, Training},
    },
    store,
};

/// Parses a statistics query; `field` prefixes the paths of its violations (`query` inside an
/// export request, nothing at the top).
fn parse_query(q: Option<&pb::GetStatisticsRequest>, field: &str) -> ServiceResult<Query> {
    let prefix = |f: &str| {
        if field.is_empty() {
            f.to_owned()
        } else {
            format!("{field}.{f}")
        }
    };
    let Some(q) = q else {
        return Err(ServiceError::invalid(field, "is required"));
    };
    let mut v = Violations::default();
    let year = v.check(&prefix("year"), parse_year(q.year));
    let scope = v.check(&prefix("scope"), convert::scope(q.scope.as_ref()));
    let mut dims = Vec::new();
    for (i, d) in q.breakdown.iter().enumerate() {
        let field = prefix(&format!("breakdown[{i}]"));
        if let Some(d) = v.check(&field, convert::dimension(*d)) {
            v.check(&field, add_dimension(&mut dims, d));
        }
    }
    v.check(&prefix("breakdown"), check_dimension_count(&dims));
    let (year, scope) = v.finish_with((year, scope))?;
    Ok(Query {
        year,
        scope,
        dims,
        with_previous: q.with_previous_year,
        for_publication: q.for_publication,
    })
}

/// Everything a statistics answer is made of.
#[derive(Serialize)]
struct Computed {
    year: i32,
    scope: String,
    totals: Figures,
    cells: Vec<Cell>,
    previous_totals: Option<Figures>,
    previous_cells: Vec<Cell>,
    academies: Vec<AcademyState>,
    #[serde(rename = "final")]
    is_final: bool,
    /// Académies of the scope not (yet) up to date and approved: the figures are provisional.
    missing_academies: Vec<String>,
    suppressed: bool,
    suppression_threshold: i64,
}

#[derive(Serialize, Clone)]
struct AcademyState {
    academy: String,
    up_to_date: bool,
    approved: bool,
    #[serde(skip)]
    approved_at: Option<DateTime<Utc>>,
}

impl Inner {
    pub(super) async fn statistics(
        &self,
        _caller: Caller,
        r: pb::GetStatisticsRequest,
    ) -> ServiceResult<pb::Statistics> {
        let q = parse_query(Some(&r), "")?;
        let c = self.compute(&q).await?;
        Ok(statistics_pb(&q, &c))
    }

    pub(super) async fn export(
        &self,
        _caller: Caller,
        r: pb::ExportStatisticsRequest,
    ) -> ServiceResult<pb::ExportStatisticsResponse> {
        let q = parse_query(r.query.as_ref(), "query")?;
        let json = match pb::ExportFormat::try_from(r.format) {
            Ok(pb::ExportFormat::Csv) => false,
            Ok(pb::ExportFormat::Json) => true,
            _ => return Err(ServiceError::invalid("format", "must be CSV or JSON")),
        };
        let c = self.compute(&q).await?;
        let stem = format!("cplds-{}-{}", c.year, c.scope);
        Ok(if json {
            pb::ExportStatisticsResponse {
                content_type: "application/json".into(),
                content: serde_json::to_vec_pretty(&c).map_err(ServiceError::internal)?,
                file_name: format!("{stem}.json"),
            }
        } else {
            pb::ExportStatisticsResponse {
                content_type: "text/csv; charset=utf-8".into(),
                content: csv(&q, &c).into_bytes(),
                file_name: format!("{stem}.csv"),
            }
        })
    }

    /// Per académie: up to date (every source complete: no gap, nothing waiting, kept or in
    /// conflict, heard from recently) and approved for the year; the académies `expected` to
    /// report, and any other of the scope that sent figures.
    async fn academy_states(
        &self,
        year: i32,
        academies: Option<&[String]>,
        expected: &[String],
    ) -> ServiceResult<Vec<AcademyState>> {
        let now = self.core.now();
        let streams = store::streams(&self.core.db).await?;
        let kept_or_conflicting = store::kept_and_conflicts(&self.core.db).await?;
        let approvals = store::approvals(&self.core.db, year).await?;
        let mut names: Vec<String> = expected.to_vec();
        names.extend(
            store::academies_with_data(&self.core.db, year)
                .await?
                .into_iter()
                .chain(streams.iter().map(|s| s.academy.clone()))
                .filter(|a| academies.is_none_or(|scope| scope.contains(a))),
        );
        names.sort();
        names.dedup();
        Ok(names
            .into_iter()
            .map(|academy| {
                let own: Vec<_> = streams.iter().filter(|s| s.academy == academy).collect();
                let up_to_date = !own.is_empty()
                    && own.iter().all(|s| {
                        caught_up(s, &kept_or_conflicting)
                            && heard_recently(
                                s.last_heartbeat_at.max(s.last_event_at),
                                now,
                                self.config.silence_ms,
                            )
                    });
                let ap = approvals.iter().find(|a| a.academy == academy);
                AcademyState {
                    up_to_date,
                    approved: ap.is_some_and(|a| a.approved),
                    approved_at: ap.and_then(|a| a.approved_at),
                    academy,
                }
            })
            .collect())
    }

    /// The totals and cells of `year` for the query's scope and breakdown. For publication,
    /// every answer of a year is a slice of one suppression of all its figures (see
    /// [`figures::Publication`]): answers for nested scopes cannot be differenced.
    async fn answer(&self, year: i32, q: &Query) -> ServiceResult<(Figures, Vec<Cell>)> {
        if !q.for_publication {
            let academies = q.scope.academies();
            return figures_of(&self.core.db, year, academies.as_deref(), &q.dims).await;
        }
        let db = &self.core.db;
        let records: Vec<Record> = store::records(db, year, None).await?;
        let trainings: Vec<Training> = store::trainings(db, year - 1, None).await?;
        let threshold = self.config.suppression_threshold;
        let publication =
            figures::Publication::new(&records, &trainings, threshold, &Dimension::ALL);
        Ok(publication.answer(&q.scope, &q.dims))
    }

    async fn compute(&self, q: &Query) -> ServiceResult<Computed> {
        let academies = q.scope.academies();
        let (totals, cells) = self.answer(q.year, q).await?;
        let (previous_totals, previous_cells) = if q.with_previous {
            let (t, c) = self.answer(q.year - 1, q).await?;
            (Some(t), c)
        } else {
            (None, Vec::new())
        };
        let threshold = self.config.suppression_threshold;
        let expected = q.scope.expected(&self.active, q.year);
        let states = self
            .academy_states(q.year, academies.as_deref(), &expected)
            .await?;
        // Final only when every académie expected (and any other that sent figures) is complete
        // and approved; otherwise provisional, naming the missing ones.
        let missing: Vec<String> = states
            .iter()
            .filter(|s| !(s.up_to_date && s.approved))
            .map(|s| s.academy.clone())
            .collect();
        let is_final = !states.is_empty() && missing.is_empty();
        Ok(Computed {
            year: q.year,
            scope: q.scope.label(),
            totals,
            cells,
            previous_totals,
            previous_cells,
            academies: states,
            is_final,
            missing_academies: missing,
            suppressed: q.for_publication,
            suppression_threshold: threshold,
        })
    }
}

fn statistics_pb(q: &Query, c: &Computed) -> pb::Statistics {
    pb::Statistics {
        year: c.year,
        scope: Some(convert::scope_pb(&q.scope)),
        totals: Some(convert::figures_pb(&c.totals)),
        cells: convert::cells_pb(&c.cells),
        previous_totals: c.previous_totals.as_ref().map(convert::figures_pb),
        previous_cells: convert::cells_pb(&c.previous_cells),
        academies: c
            .academies
            .iter()
            .map(|a| pb::AcademyStatus {
                academy: a.academy.clone(),
                up_to_date: a.up_to_date,
                approved: a.approved,
                approved_at: a.approved_at.map(to_timestamp),
            })
            .collect(),
        r#final: c.is_final,
        missing_academies: c.missing_academies.clone(),
        suppressed: c.suppressed,
        suppression_threshold: c.suppression_threshold as i32,
    }
}

/// One row for the totals, one per cell; suppressed counts are written `s` (secret).
fn csv(q: &Query, c: &Computed) -> String {
    let mut header: Vec<String> = vec!["year".into(), "scope".into()];
    header.extend(q.dims.iter().map(|d| d.as_str().to_owned()));
    header.extend(Measure::ALL.iter().map(|m| m.name().to_owned()));
    header.extend(
        [
            "admitted_rate",
            "not_admitted_rate_present_at_both",
            "part_1_mean",
            "part_2_mean",
            "average_mean",
        ]
        .map(String::from),
    );
    let mut out = csv::record(&header);
    out.push('\n');
    let mut rows = vec![csv_row(
        c,
        q.dims.iter().map(|_| "ALL".to_owned()).collect(),
        &c.totals,
    )];
    rows.extend(c.cells.iter().map(|cell| {
        csv_row(
            c,
            cell.key.iter().map(|(_, v)| v.clone()).collect(),
            &cell.figures,
        )
    }));
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out
}

fn csv_row(c: &Computed, key: Vec<String>, f: &Figures) -> String {
    let secret = |hidden: bool, shown: String| if hidden { "s".to_owned() } else { shown };
    let mut cols = vec![c.year.to_string(), c.scope.clone()];
    cols.extend(key);
    for m in Measure::ALL {
        let v = f.counts.get(&m).copied().unwrap_or_default();
        cols.push(secret(v.suppressed, v.value.to_string()));
    }
    for rate in [&f.admitted_rate, &f.not_admitted_rate_present_at_both] {
        cols.push(secret(
            rate.suppressed,
            if rate.undefined {
                String::new()
            } else {
                format!("{:.1}", rate.percent)
            },
        ));
    }
    for s in [&f.part_1, &f.part_2, &f.average] {
        cols.push(secret(
            s.suppressed,
            if s.marks == 0 {
                String::new()
            } else {
                format!("{:.2}", s.mean)
            },
        ));
    }
    csv::record(&cols)
}

/// Whether everything `s` announced is applied, with nothing kept for an upgrade or in conflict.
pub(super) fn caught_up(
    s: &crate::store::entities::stream::Model,
    kept_or_conflicting: &std::collections::BTreeMap<(String, String), (u64, u64)>,
) -> bool {
    s.highest_seen.max(s.announced_sequence) <= s.applied_sequence
        && !kept_or_conflicting.contains_key(&(s.academy.clone(), s.source.clone()))
}

/// The figures of the records of `year` in `academies` (all when `None`), with the training of
/// the school year before, in total and broken down by `dims`.
pub(super) async fn figures_of(
    db: &DatabaseConnection,
    year: i32,
    academies: Option<&[String]>,
    dims: &[Dimension],
) -> ServiceResult<(Figures, Vec<Cell>)> {
    let records: Vec<Record> = store::records(db, year, academies).await?;
    let trainings: Vec<Training> = store::trainings(db, year - 1, academies).await?;
    let index = figures::index_training(&trainings);
    let refs: Vec<&Record> = records.iter().collect();
    let trefs: Vec<&Training> = trainings.iter().collect();
    Ok((
        figures::compute(&refs, &trefs, &index),
        figures::breakdown(&refs, &trefs, &index, dims),
    ))
}
