//! Persistence of campaigns, candidacies, documents and their history (sea-orm). Functions take
//! any connection, so the api layer decides the transaction; no rule is decided here.

pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::db::page;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

pub use self::entities::{campaign, candidacy, document, document_content, history};
use crate::domain::{candidacy::CandidacyStatus, documents::DocumentKind};

pub async fn campaign<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Option<campaign::Model>, DbErr> {
    campaign::Entity::find_by_id(year).one(db).await
}

pub async fn insert_campaign<C: ConnectionTrait>(
    db: &C,
    model: campaign::Model,
) -> Result<campaign::Model, DbErr> {
    model.into_active_model().reset_all().insert(db).await
}

/// Most recent year first; `before` is the last year of the previous page.
pub async fn list_campaigns<C: ConnectionTrait>(
    db: &C,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<campaign::Model>, DbErr> {
    let mut q = campaign::Entity::find()
        .order_by_desc(campaign::Column::Year)
        .limit(limit);
    if let Some(y) = before {
        q = q.filter(campaign::Column::Year.lt(y));
    }
    q.all(db).await
}

pub async fn save_campaign<C: ConnectionTrait>(
    db: &C,
    model: campaign::ActiveModel,
) -> Result<campaign::Model, DbErr> {
    model.update(db).await
}

pub async fn candidacy<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<candidacy::Model>, DbErr> {
    candidacy::Entity::find_by_id(id.to_owned()).one(db).await
}

pub async fn insert_candidacy<C: ConnectionTrait>(
    db: &C,
    model: candidacy::Model,
) -> Result<candidacy::Model, DbErr> {
    model.into_active_model().reset_all().insert(db).await
}

pub async fn save_candidacy<C: ConnectionTrait>(
    db: &C,
    model: candidacy::ActiveModel,
) -> Result<candidacy::Model, DbErr> {
    model.update(db).await
}

/// The live (submitted or validated) candidacy of a person for a year, if any.
pub async fn live_candidacy_of<C: ConnectionTrait>(
    db: &C,
    year: i32,
    staff_number: &str,
) -> Result<Option<candidacy::Model>, DbErr> {
    candidacy::Entity::find()
        .filter(candidacy::Column::Year.eq(year))
        .filter(candidacy::Column::StaffNumber.eq(staff_number))
        .filter(candidacy::Column::Status.is_in([
            CandidacyStatus::Submitted.as_str(),
            CandidacyStatus::Validated.as_str(),
        ]))
        .one(db)
        .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidacyFilter {
    pub year: i32,
    pub status: Option<CandidacyStatus>,
    pub department: Option<String>,
}

impl CandidacyFilter {
    fn apply<Q: QueryFilter>(&self, q: Q) -> Q {
        let mut q = q.filter(candidacy::Column::Year.eq(self.year));
        if let Some(s) = self.status {
            q = q.filter(candidacy::Column::Status.eq(s.as_str()));
        }
        if let Some(d) = &self.department {
            q = q.filter(candidacy::Column::Department.eq(d.as_str()));
        }
        q
    }

    /// Identifies the filters in page tokens.
    pub fn scope(&self) -> String {
        format!(
            "candidacies;{};{:?};{:?}",
            self.year,
            self.status.map(|s| s.as_str()),
            self.department
        )
    }
}

/// Oldest first (ids are UUIDv7, ordered by creation); `after` is the last id of the previous page.
pub async fn list_candidacies<C: ConnectionTrait>(
    db: &C,
    filter: &CandidacyFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<candidacy::Model>, DbErr> {
    page(
        db,
        filter.apply(candidacy::Entity::find()),
        candidacy::Column::Id,
        after,
        limit,
    )
    .await
}

pub async fn count_candidacies<C: ConnectionTrait>(
    db: &C,
    filter: &CandidacyFilter,
) -> Result<u64, DbErr> {
    filter.apply(candidacy::Entity::find()).count(db).await
}

/// (département, status, count) for a year.
pub async fn status_counts<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<(String, String, i64)>, DbErr> {
    candidacy::Entity::find()
        .select_only()
        .column(candidacy::Column::Department)
        .column(candidacy::Column::Status)
        .column_as(Expr::col(candidacy::Column::Id).count(), "n")
        .filter(candidacy::Column::Year.eq(year))
        .group_by(candidacy::Column::Department)
        .group_by(candidacy::Column::Status)
        .order_by_asc(candidacy::Column::Department)
        .into_tuple()
        .all(db)
        .await
}

pub async fn candidacies_with_status<C: ConnectionTrait>(
    db: &C,
    year: i32,
    status: CandidacyStatus,
) -> Result<Vec<candidacy::Model>, DbErr> {
    candidacy::Entity::find()
        .filter(candidacy::Column::Year.eq(year))
        .filter(candidacy::Column::Status.eq(status.as_str()))
        .order_by_asc(candidacy::Column::LastName)
        .order_by_asc(candidacy::Column::FirstName)
        .order_by_asc(candidacy::Column::Id)
        .all(db)
        .await
}

pub async fn admitted<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<candidacy::Model>, DbErr> {
    candidacy::Entity::find()
        .filter(candidacy::Column::Year.eq(year))
        .filter(candidacy::Column::OnAdmittedList.eq(true))
        .order_by_asc(candidacy::Column::LastName)
        .order_by_asc(candidacy::Column::FirstName)
        .order_by_asc(candidacy::Column::Id)
        .all(db)
        .await
}

pub async fn put_on_admitted_list<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    candidacy::Entity::update_many()
        .col_expr(candidacy::Column::OnAdmittedList, Expr::value(true))
        .col_expr(candidacy::Column::UpdatedAt, Expr::value(at))
        .filter(candidacy::Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn documents<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(document::Column::UploadedAt)
        .order_by_asc(document::Column::Id)
        .all(db)
        .await
}

pub async fn document_kinds<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<DocumentKind>, DbErr> {
    Ok(documents(db, candidacy_id)
        .await?
        .iter()
        .filter_map(|d| DocumentKind::parse(&d.kind))
        .collect())
}

pub async fn insert_document<C: ConnectionTrait>(
    db: &C,
    meta: document::Model,
    content: Vec<u8>,
) -> Result<document::Model, DbErr> {
    let id = meta.id.clone();
    let meta = meta.into_active_model().reset_all().insert(db).await?;
    document_content::ActiveModel {
        document_id: Set(id),
        content: Set(content),
    }
    .insert(db)
    .await?;
    Ok(meta)
}

pub async fn document_with_content<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    document_id: &str,
) -> Result<Option<(document::Model, Vec<u8>)>, DbErr> {
    let Some(meta) = document::Entity::find_by_id(document_id.to_owned())
        .filter(document::Column::CandidacyId.eq(candidacy_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let content = document_content::Entity::find_by_id(document_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("content of document {document_id}")))?;
    Ok(Some((meta, content.content)))
}

pub async fn record_history<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: Option<String>,
) -> Result<(), DbErr> {
    history::ActiveModel {
        candidacy_id: Set(candidacy_id.to_owned()),
        at: Set(at),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn history_of<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<history::Model>, DbErr> {
    history::Entity::find()
        .filter(history::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(history::Column::Id)
        .all(db)
        .await
}
