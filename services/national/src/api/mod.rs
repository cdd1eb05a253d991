//! The gRPC face of the national node (role `ministry` of the national node's tokens), the
//! consumer of the national stream and the job that asks académies to replay what is missing.

pub mod convert;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cplds_proto::v1::{
    self as pb, EventEnvelope, ReplayRequested,
    event_envelope::Payload,
    national_statistics_service_server::{
        NationalStatisticsService, NationalStatisticsServiceServer,
    },
};
use cplds_runtime::{
    academy::{ACADEMIES, Academy, regions},
    auth::{Access, Policy, Role},
    bus::{Binding, Message, QueueSpec, SharedBus, Stream},
    clock::SharedClock,
    config::NationalConfig,
    error::reply,
    error::{ServiceError, ServiceResult, Violations},
    host::{Mount, ServiceContext, ServiceModule},
    inbox::Consumer,
    time::to_timestamp,
};
use prost::Message as _;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    NAME,
    domain::{
        completeness,
        figures::{self, Cell, Figures, Measure},
        record::{Dimension, Record, Training},
        report,
    },
    store::{self, ingest::Ingest, migration::Migrator},
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
}

#[async_trait]
impl ServiceModule for NationalModule {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn migrate(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        Migrator::up(db, None).await
    }

    fn mount(&self, ctx: &ServiceContext, mount: &mut Mount) -> anyhow::Result<()> {
        let config = ctx.config.national.clone();
        let api = NationalApi {
            inner: Arc::new(Inner {
                db: ctx.db.clone(),
                clock: ctx.clock.clone(),
                config: config.clone(),
            }),
        };
        let max = ctx.config.server.max_message_bytes;
        mount.add_grpc(
            NationalStatisticsServiceServer::new(api)
                .max_encoding_message_size(max)
                .max_decoding_message_size(max),
        );
        policy(mount.policy());
        mount.consume(Consumer {
            name: "national.aggregator".into(),
            queue: queue(),
            handler: Arc::new(Ingest {
                clock: ctx.clock.clone(),
            }),
        });
        mount.job(Box::pin(request_replays(
            ctx.db.clone(),
            ctx.bus.clone(),
            ctx.clock.clone(),
            config,
            ctx.shutdown.clone(),
        )));
        Ok(())
    }
}

/// Looks for gaps and asks the académie concerned to publish again from the first missing
/// sequence; repeated while the gap lasts.
async fn request_replays(
    db: DatabaseConnection,
    bus: SharedBus,
    clock: SharedClock,
    config: NationalConfig,
    shutdown: CancellationToken,
) {
    let every = Duration::from_millis(config.gap_check_interval_ms.max(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        let now = clock.now();
        let gaps = match store::ingest::gaps_to_request(&db, now, config.replay_backoff_ms).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for gaps");
                continue;
            }
        };
        for s in gaps {
            let from = s.applied_sequence as u64 + 1;
            let payload = Payload::ReplayRequested(ReplayRequested {
                academy: s.academy.clone(),
                source: s.source.clone(),
                from_sequence: from,
                limit: 5_000,
            });
            let envelope = EventEnvelope {
                event_id: uuid::Uuid::now_v7().to_string(),
                academy: crate::NATIONAL.into(),
                source: NAME.into(),
                sequence: 0,
                occurred_at: Some(to_timestamp(now)),
                r#type: payload.name().into(),
                stream: pb::Stream::Control as i32,
                trace_context: Default::default(),
                payload: Some(payload),
            };
            let message = Message {
                stream: Stream::Control,
                routing_key: format!("{}.national.replay_requested", s.academy),
                message_id: envelope.event_id.clone(),
                event_type: envelope.r#type.clone(),
                body: envelope.encode_to_vec(),
                headers: Default::default(),
            };
            match bus.publish(&[message]).await {
                Ok(()) => {
                    tracing::info!(academy = %s.academy, source = %s.source, from, "gap found: replay requested");
                    let _ =
                        store::ingest::mark_replay_requested(&db, &s.academy, &s.source, now).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot request a replay"),
            }
        }
    }
}

#[derive(Clone)]
pub struct NationalApi {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    clock: SharedClock,
    config: NationalConfig,
}

#[derive(Debug, Clone)]
enum ScopeSel {
    National,
    Region(&'static str),
    Academy(&'static Academy),
}

impl ScopeSel {
    fn parse(s: Option<&pb::Scope>) -> Result<ScopeSel, String> {
        let Some(s) = s else {
            return Ok(ScopeSel::National);
        };
        match pb::ScopeLevel::try_from(s.level) {
            Ok(pb::ScopeLevel::Unspecified | pb::ScopeLevel::National) => Ok(ScopeSel::National),
            Ok(pb::ScopeLevel::Region) => regions()
                .into_iter()
                .find(|r| r.code == s.code)
                .map(|r| ScopeSel::Region(r.code))
                .ok_or_else(|| {
                    format!(
                        "{:?} is not a région académique; expected one of: {}",
                        s.code,
                        regions()
                            .iter()
                            .map(|r| r.code)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }),
            Ok(pb::ScopeLevel::Academy) => Academy::parse(&s.code).map(ScopeSel::Academy),
            Err(_) => Err(format!("{} is not a known scope level", s.level)),
        }
    }

    /// The académies of the scope (`None`: all).
    fn academies(&self) -> Option<Vec<String>> {
        match self {
            ScopeSel::National => None,
            ScopeSel::Region(code) => Some(
                ACADEMIES
                    .iter()
                    .filter(|a| a.region.code == *code)
                    .map(|a| a.code.to_owned())
                    .collect(),
            ),
            ScopeSel::Academy(a) => Some(vec![a.code.to_owned()]),
        }
    }

    fn pb(&self) -> pb::Scope {
        match self {
            ScopeSel::National => pb::Scope {
                level: pb::ScopeLevel::National as i32,
                code: String::new(),
            },
            ScopeSel::Region(c) => pb::Scope {
                level: pb::ScopeLevel::Region as i32,
                code: (*c).to_owned(),
            },
            ScopeSel::Academy(a) => pb::Scope {
                level: pb::ScopeLevel::Academy as i32,
                code: a.code.to_owned(),
            },
        }
    }

    fn label(&self) -> String {
        match self {
            ScopeSel::National => "national".into(),
            ScopeSel::Region(c) => format!("region-{c}"),
            ScopeSel::Academy(a) => format!("academy-{}", a.code),
        }
    }
}

struct Query {
    year: i32,
    scope: ScopeSel,
    dims: Vec<Dimension>,
    with_previous: bool,
    for_publication: bool,
}

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
    if !(2017..=2100).contains(&q.year) {
        v.add(prefix("year"), "must be a session year from 2017");
    }
    let scope = v.check(&prefix("scope"), ScopeSel::parse(q.scope.as_ref()));
    let mut dims = Vec::new();
    for (i, d) in q.breakdown.iter().enumerate() {
        if let Some(d) = v.check(&prefix(&format!("breakdown[{i}]")), convert::dimension(*d)) {
            if dims.contains(&d) {
                v.add(prefix(&format!("breakdown[{i}]")), "is given twice");
            }
            dims.push(d);
        }
    }
    if dims.len() > 3 {
        v.add(prefix("breakdown"), "at most three dimensions");
    }
    v.finish()?;
    Ok(Query {
        year: q.year,
        scope: scope.expect("checked"),
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
    async fn figures_of(
        &self,
        year: i32,
        academies: Option<&[String]>,
        dims: &[Dimension],
    ) -> ServiceResult<(Figures, Vec<Cell>)> {
        let records: Vec<Record> = store::records(&self.db, year, academies).await?;
        let trainings: Vec<Training> = store::trainings(&self.db, year - 1, academies).await?;
        let index = figures::index_training(&trainings);
        let refs: Vec<&Record> = records.iter().collect();
        let trefs: Vec<&Training> = trainings.iter().collect();
        Ok((
            figures::compute(&refs, &trefs, &index),
            figures::breakdown(&refs, &trefs, &index, dims),
        ))
    }

    /// Per académie: up to date (no gap, heard from recently) and approved for the year.
    async fn academy_states(
        &self,
        year: i32,
        academies: Option<&[String]>,
    ) -> ServiceResult<Vec<AcademyState>> {
        let now = self.clock.now();
        let streams = store::streams(&self.db).await?;
        let approvals = store::approvals(&self.db, year).await?;
        let mut names: Vec<String> = match academies {
            Some(a) => a.to_vec(),
            None => {
                let mut n = store::academies_with_data(&self.db, year).await?;
                n.extend(streams.iter().map(|s| s.academy.clone()));
                n
            }
        };
        names.sort();
        names.dedup();
        Ok(names
            .into_iter()
            .map(|academy| {
                let own: Vec<_> = streams.iter().filter(|s| s.academy == academy).collect();
                let up_to_date = !own.is_empty()
                    && own.iter().all(|s| {
                        s.highest_seen.max(s.announced_sequence) <= s.applied_sequence
                            && store::is_recent(
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

    async fn compute(&self, q: &Query) -> ServiceResult<Computed> {
        let academies = q.scope.academies();
        let (mut totals, mut cells) = self
            .figures_of(q.year, academies.as_deref(), &q.dims)
            .await?;
        let (mut previous_totals, mut previous_cells) = if q.with_previous {
            let (t, c) = self
                .figures_of(q.year - 1, academies.as_deref(), &q.dims)
                .await?;
            (Some(t), c)
        } else {
            (None, Vec::new())
        };
        let threshold = self.config.suppression_threshold;
        if q.for_publication {
            figures::suppress(&mut totals, &mut cells, threshold);
            if let Some(t) = previous_totals.as_mut() {
                figures::suppress(t, &mut previous_cells, threshold);
            }
        }
        let states = self.academy_states(q.year, academies.as_deref()).await?;
        let is_final = !states.is_empty() && states.iter().all(|s| s.up_to_date && s.approved);
        Ok(Computed {
            year: q.year,
            scope: q.scope.label(),
            totals,
            cells,
            previous_totals,
            previous_cells,
            academies: states,
            is_final,
            suppressed: q.for_publication,
            suppression_threshold: threshold,
        })
    }

    fn statistics_pb(&self, q: &Query, c: &Computed) -> pb::Statistics {
        pb::Statistics {
            year: c.year,
            scope: Some(q.scope.pb()),
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
            suppressed: c.suppressed,
            suppression_threshold: c.suppression_threshold as i32,
        }
    }

    async fn export(
        &self,
        r: pb::ExportStatisticsRequest,
    ) -> ServiceResult<pb::ExportStatisticsResponse> {
        let q = parse_query(r.query.as_ref(), "query")?;
        let format = match pb::ExportFormat::try_from(r.format) {
            Ok(pb::ExportFormat::Csv) => "csv",
            Ok(pb::ExportFormat::Json) => "json",
            _ => return Err(ServiceError::invalid("format", "must be CSV or JSON")),
        };
        let c = self.compute(&q).await?;
        let stem = format!("cplds-{}-{}", c.year, c.scope);
        Ok(match format {
            "json" => pb::ExportStatisticsResponse {
                content_type: "application/json".into(),
                content: serde_json::to_vec_pretty(&c).map_err(ServiceError::internal)?,
                file_name: format!("{stem}.json"),
            },
            _ => pb::ExportStatisticsResponse {
                content_type: "text/csv; charset=utf-8".into(),
                content: csv(&q, &c).into_bytes(),
                file_name: format!("{stem}.csv"),
            },
        })
    }

    async fn completeness(&self, academy: &str) -> ServiceResult<pb::Completeness> {
        let now = self.clock.now();
        let mut sources = Vec::new();
        for s in store::streams(&self.db).await? {
            if !academy.is_empty() && s.academy != academy {
                continue;
            }
            let pending =
                store::pending_sequences(&self.db, &s.academy, &s.source, s.applied_sequence)
                    .await?;
            let gaps = completeness::gaps(
                s.applied_sequence as u64,
                &pending,
                s.announced_sequence as u64,
            );
            let heard = store::is_recent(
                s.last_heartbeat_at.max(s.last_event_at),
                now,
                self.config.silence_ms,
            );
            sources.push(pb::SourceCompleteness {
                up_to_date: gaps.is_empty() && heard,
                academy: s.academy,
                source: s.source,
                applied_sequence: s.applied_sequence as u64,
                highest_known_sequence: s.highest_seen.max(s.announced_sequence) as u64,
                gaps: gaps
                    .into_iter()
                    .map(|(from, to)| pb::SequenceRange { from, to })
                    .collect(),
                last_event_time: s.last_event_at.map(to_timestamp),
                last_heartbeat_time: s.last_heartbeat_at.map(to_timestamp),
                last_replay_request_time: s.last_replay_request_at.map(to_timestamp),
            });
        }
        Ok(pb::Completeness {
            sources,
            as_of: Some(to_timestamp(now)),
        })
    }

    async fn approvals(&self, year: i32) -> ServiceResult<pb::ListApprovalsResponse> {
        let rows = store::approvals(&self.db, year).await?;
        let history = store::approval_history(&self.db, year).await?;
        let approvals: Vec<pb::Approval> = rows
            .iter()
            .map(|a| pb::Approval {
                academy: a.academy.clone(),
                year,
                approved: a.approved,
                approved_at: a.approved_at.map(to_timestamp),
                remarks: a.remarks.clone(),
                history: history
                    .iter()
                    .filter(|h| h.academy == a.academy)
                    .map(|h| pb::ApprovalEntry {
                        at: Some(to_timestamp(h.at)),
                        action: h.action.clone(),
                        detail: h.detail.clone(),
                    })
                    .collect(),
            })
            .collect();
        let with_data = store::academies_with_data(&self.db, year).await?;
        let not_approved = with_data
            .into_iter()
            .filter(|a| !rows.iter().any(|r| &r.academy == a && r.approved))
            .collect();
        Ok(pb::ListApprovalsResponse {
            approvals,
            not_approved,
        })
    }

    async fn survey(&self, r: pb::GetMldsSurveyRequest) -> ServiceResult<pb::MldsSurvey> {
        let scope =
            ScopeSel::parse(r.scope.as_ref()).map_err(|e| ServiceError::invalid("scope", e))?;
        let wanted = scope.academies();
        let latest = store::latest_surveys(&self.db, r.year).await?;
        let mut cells = Vec::new();
        let mut total = 0;
        for (academy, rows) in &latest {
            if wanted.as_ref().is_some_and(|w| !w.contains(academy)) {
                continue;
            }
            for row in rows {
                total += row.young_people;
                cells.push(pb::MldsSurveyCell {
                    academy: academy.clone(),
                    action_kind: row.action_kind.clone(),
                    sex: match row.sex.as_str() {
                        "female" => pb::Sex::Female as i32,
                        "male" => pb::Sex::Male as i32,
                        _ => 0,
                    },
                    age_band: row.age_band.clone(),
                    outcome: row.outcome.clone(),
                    young_people: row.young_people,
                });
            }
        }
        let expected: Vec<String> =
            wanted.unwrap_or_else(|| ACADEMIES.iter().map(|a| a.code.to_owned()).collect());
        let missing = expected
            .into_iter()
            .filter(|a| !latest.contains_key(a))
            .collect();
        Ok(pb::MldsSurvey {
            year: r.year,
            scope: Some(scope.pb()),
            young_people: total,
            cells,
            missing,
        })
    }

    async fn session_report(
        &self,
        r: pb::GetSessionReportRequest,
    ) -> ServiceResult<pb::SessionReport> {
        let academy =
            Academy::parse(&r.academy).map_err(|e| ServiceError::invalid("academy", e))?;
        if !(2017..=2100).contains(&r.year) {
            return Err(ServiceError::invalid(
                "year",
                "must be a session year from 2017",
            ));
        }
        let scope = Some(vec![academy.code.to_owned()]);
        let (current, by_department_sex) = self
            .figures_of(
                r.year,
                scope.as_deref(),
                &[Dimension::Department, Dimension::Sex],
            )
            .await?;
        let (previous, previous_by_department_sex) = self
            .figures_of(
                r.year - 1,
                scope.as_deref(),
                &[Dimension::Department, Dimension::Sex],
            )
            .await?;
        if current.count(Measure::Registrations) == 0
            && current.count(Measure::Admitted) + current.count(Measure::NotAdmitted) == 0
        {
            return Err(ServiceError::NotFound(format!(
                "no figures of académie {} for {}",
                academy.code, r.year
            )));
        }
        let (_, by_staff_category) = self
            .figures_of(r.year, scope.as_deref(), &[Dimension::StaffCategory])
            .await?;
        let (_, by_workplace_type) = self
            .figures_of(r.year, scope.as_deref(), &[Dimension::WorkplaceType])
            .await?;
        let approval = store::approvals(&self.db, r.year)
            .await?
            .into_iter()
            .find(|a| a.academy == academy.code);
        let data = report::ReportData {
            academy_name: academy.name.to_owned(),
            year: r.year,
            current,
            previous,
            by_department_sex,
            previous_by_department_sex,
            by_staff_category,
            by_workplace_type,
            remarks: approval.as_ref().map(|a| a.remarks.clone()),
            approved: approval.is_some_and(|a| a.approved),
        };
        Ok(pb::SessionReport {
            academy: academy.code.to_owned(),
            year: r.year,
            markdown: report::markdown(&data),
            pdf: report::pdf(&data),
        })
    }
}

/// One row for the totals, one per cell; suppressed counts are written `s` (secret).
fn csv(q: &Query, c: &Computed) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = vec!["year".into(), "scope".into()];
    header.extend(q.dims.iter().map(|d| d.as_str().to_owned()));
    header.extend(Measure::ALL.iter().map(|m| m.name().to_owned()));
    header.extend(
        [
            "admitted_rate",
            "part_1_mean",
            "part_2_mean",
            "average_mean",
        ]
        .map(String::from),
    );
    out.push_str(&header.join(","));
    out.push('\n');
    let row = |key: Vec<String>, f: &Figures| -> String {
        let mut cols = vec![c.year.to_string(), c.scope.clone()];
        cols.extend(key);
        for m in Measure::ALL {
            let v = f.counts[&m];
            cols.push(if v.suppressed {
                "s".into()
            } else {
                v.value.to_string()
            });
        }
        cols.push(if f.admitted_rate.suppressed {
            "s".into()
        } else if f.admitted_rate.undefined {
            String::new()
        } else {
            format!("{:.1}", f.admitted_rate.percent)
        });
        for s in [&f.part_1, &f.part_2, &f.average] {
            cols.push(if s.suppressed {
                "s".into()
            } else if s.marks == 0 {
                String::new()
            } else {
                format!("{:.2}", s.mean)
            });
        }
        cols.into_iter()
            .map(|v| {
                if v.contains([',', '"']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    out.push_str(&row(
        q.dims.iter().map(|_| "ALL".to_owned()).collect(),
        &c.totals,
    ));
    out.push('\n');
    for cell in &c.cells {
        out.push_str(&row(
            cell.key.iter().map(|(_, v)| v.clone()).collect(),
            &cell.figures,
        ));
        out.push('\n');
    }
    out
}

#[async_trait]
impl NationalStatisticsService for NationalApi {
    async fn get_statistics(
        &self,
        r: Request<pb::GetStatisticsRequest>,
    ) -> Result<Response<pb::Statistics>, Status> {
        let r = r.into_inner();
        reply(
            async {
                let q = parse_query(Some(&r), "")?;
                let c = self.inner.compute(&q).await?;
                Ok(self.inner.statistics_pb(&q, &c))
            }
            .await,
        )
    }

    async fn export_statistics(
        &self,
        r: Request<pb::ExportStatisticsRequest>,
    ) -> Result<Response<pb::ExportStatisticsResponse>, Status> {
        reply(self.inner.export(r.into_inner()).await)
    }

    async fn get_completeness(
        &self,
        r: Request<pb::GetCompletenessRequest>,
    ) -> Result<Response<pb::Completeness>, Status> {
        let academy = r.into_inner().academy;
        if !academy.is_empty() && Academy::find(&academy).is_none() {
            return Err(ServiceError::invalid(
                "academy",
                format!("{academy:?} is not an académie code"),
            )
            .into());
        }
        reply(self.inner.completeness(&academy).await)
    }

    async fn list_approvals(
        &self,
        r: Request<pb::ListApprovalsRequest>,
    ) -> Result<Response<pb::ListApprovalsResponse>, Status> {
        reply(self.inner.approvals(r.into_inner().year).await)
    }

    async fn get_mlds_survey(
        &self,
        r: Request<pb::GetMldsSurveyRequest>,
    ) -> Result<Response<pb::MldsSurvey>, Status> {
        reply(self.inner.survey(r.into_inner()).await)
    }

    async fn get_session_report(
        &self,
        r: Request<pb::GetSessionReportRequest>,
    ) -> Result<Response<pb::SessionReport>, Status> {
        reply(self.inner.session_report(r.into_inner()).await)
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
