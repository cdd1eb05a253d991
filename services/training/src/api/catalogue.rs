//! Programme versions (the catalogue of modules, checked against the arrêté's totals) and the
//! cohorts that follow them.

use cplds_proto::v1 as pb;
use cplds_runtime::{
    auth::Caller,
    error::{ServiceError, ServiceResult, Violations},
    kit::Unique,
    kit::{Paging, new_id, parse_id},
};

use super::{Inner, convert, id_field, invalid};
use crate::{
    domain::{
        calendar::SchoolYear,
        cohort::{self as cohort_rules},
        programme::{self, ARRETE_2017, Programme},
    },
    store::{self, ProgrammeRecord, cohort},
};

impl Inner {
    pub(super) async fn create_programme(
        &self,
        caller: Caller,
        r: pb::CreateProgrammeRequest,
    ) -> ServiceResult<pb::TrainingProgramme> {
        let mut v = Violations::default();
        if r.version < 1 {
            v.add("version", "must be 1 or more");
        }
        let title = v.check("title", programme::title(&r.title));
        if r.modules.is_empty() {
            v.add("modules", "is required");
        }
        let modules = convert::modules(&r.modules, &mut v);
        let (title, modules) = v.finish_with((title, modules))?;
        let p = Programme::new(r.version, title, modules, ARRETE_2017).map_err(invalid)?;

        let exists = || {
            ServiceError::AlreadyExists(format!(
                "programme version {} already exists in académie {}",
                p.version, self.academy.code
            ))
        };
        let uow = self.core.begin().await?;
        if store::programme_version_exists(uow.txn(), p.version).await? {
            return Err(exists());
        }
        let row = store::insert_programme(uow.txn(), &p, uow.now(), &caller.subject)
            .await
            .unless_taken(exists)?;
        uow.commit().await?;
        tracing::info!(version = p.version, by = %caller.log_id(), "programme version created");
        Ok(convert::programme_pb(&ProgrammeRecord {
            row,
            programme: p,
        }))
    }

    pub(super) async fn get_programme(
        &self,
        _caller: Caller,
        r: pb::GetProgrammeRequest,
    ) -> ServiceResult<pb::TrainingProgramme> {
        let id = id_field("programme_id", &r.programme_id)?;
        let p = self.programme(&self.core.db, &id).await?;
        Ok(convert::programme_pb(&p))
    }

    /// Most recent version first.
    pub(super) async fn list_programmes(
        &self,
        _caller: Caller,
        r: pb::ListProgrammesRequest,
    ) -> ServiceResult<pb::ListProgrammesResponse> {
        let mut v = Violations::default();
        let paging = Paging::parse(&mut v, "programmes", r.page_size, &r.page_token);
        let paging = v.finish_with(paging)?;
        let before = paging.after_as::<i32>()?;
        let mut rows = store::list_programmes(&self.core.db, before, paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |p| p.row.version.to_string());
        Ok(pb::ListProgrammesResponse {
            programmes: rows.iter().map(convert::programme_pb).collect(),
            next_page_token,
        })
    }

    pub(super) async fn create_cohort(
        &self,
        caller: Caller,
        r: pb::CreateCohortRequest,
    ) -> ServiceResult<pb::TrainingCohort> {
        let mut v = Violations::default();
        let year = v.check(
            "school_year",
            SchoolYear::parse(r.school_year, self.core.now()),
        );
        let programme_id = v.check("programme_id", parse_id(&r.programme_id));
        let title = if r.title.trim().is_empty() {
            Some(None)
        } else {
            v.check("title", programme::title(&r.title).map(Some))
        };
        let scope = v.check("scope", convert::required(r.scope));
        let capacity = v.check("capacity", cohort_rules::capacity(r.capacity));
        let (year, programme_id, title, scope, capacity) =
            v.finish_with((year, programme_id, title, scope, capacity))?;

        let uow = self.core.begin().await?;
        let p = self.programme(uow.txn(), &programme_id).await?;
        let now = uow.now();
        let row = store::insert_cohort(
            uow.txn(),
            cohort::Model {
                id: new_id(),
                school_year: year.year(),
                title: title.unwrap_or_else(|| format!("Formation CPLDS {}", year.label())),
                programme_id: p.row.id.clone(),
                scope,
                participating_academies: scope.participating(self.academy),
                capacity: capacity as i32,
                created_at: now,
                created_by: caller.subject.clone(),
                updated_at: now,
            },
        )
        .await?;
        uow.commit().await?;
        tracing::info!(cohort = %row.id, school_year = row.school_year, scope = %row.scope, capacity = row.capacity, by = %caller.log_id(), "cohort created");
        Ok(convert::cohort_pb(
            &row,
            self.academy.code,
            p.row.version,
            &[],
        ))
    }

    pub(super) async fn get_cohort(
        &self,
        _caller: Caller,
        r: pb::GetCohortRequest,
    ) -> ServiceResult<pb::TrainingCohort> {
        let id = id_field("cohort_id", &r.cohort_id)?;
        let c = self.cohort(&self.core.db, &id).await?;
        self.render_cohort(&self.core.db, &c).await
    }

    /// Oldest first, of a school year or all.
    pub(super) async fn list_cohorts(
        &self,
        _caller: Caller,
        r: pb::ListCohortsRequest,
    ) -> ServiceResult<pb::ListCohortsResponse> {
        let year = (r.school_year != 0).then_some(r.school_year);
        let mut v = Violations::default();
        let paging = Paging::parse(
            &mut v,
            format!("cohorts;{year:?}"),
            r.page_size,
            &r.page_token,
        );
        let paging = v.finish_with(paging)?;
        let db = &self.core.db;
        let mut rows =
            store::list_cohorts(db, year, paging.after.as_deref(), paging.fetch()).await?;
        let next_page_token = paging.finish(&mut rows, |c| c.id.clone());
        let mut cohorts = Vec::with_capacity(rows.len());
        for c in &rows {
            cohorts.push(self.render_cohort(db, c).await?);
        }
        Ok(pb::ListCohortsResponse {
            cohorts,
            next_page_token,
        })
    }
}
