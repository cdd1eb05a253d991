//! The jury's remarks of a session: the draft and the latest version published.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Set};

use super::{entities::jury_remarks, from_json, to_json};
use crate::domain::jury::Remarks;

pub async fn jury_remarks<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
) -> Result<Option<jury_remarks::Model>, DbErr> {
    jury_remarks::Entity::find_by_id(session_id.to_owned())
        .one(db)
        .await
}

/// The draft and the published sections of a row.
pub fn remarks_of(row: &jury_remarks::Model) -> Result<(Remarks, Option<Remarks>), DbErr> {
    let draft = from_json("jury remarks draft", &row.draft_json)?;
    let published = row
        .published_json
        .as_deref()
        .map(|j| from_json("published jury remarks", j))
        .transpose()?;
    Ok((draft, published))
}

/// Replaces the draft (the first one creates the row).
pub async fn save_remarks_draft<C: ConnectionTrait>(
    db: &C,
    session_id: &str,
    existing: Option<jury_remarks::Model>,
    draft: &Remarks,
    by: &str,
    at: DateTime<Utc>,
) -> Result<jury_remarks::Model, DbErr> {
    let json = to_json("jury remarks draft", draft)?;
    match existing {
        Some(row) => {
            let mut am = row.into_active_model();
            am.draft_json = Set(json);
            am.draft_updated_at = Set(at);
            am.draft_updated_by = Set(by.to_owned());
            am.update(db).await
        }
        None => {
            jury_remarks::Model {
                session_id: session_id.to_owned(),
                draft_json: json,
                draft_updated_at: at,
                draft_updated_by: by.to_owned(),
                version: 0,
                published_json: None,
                published_at: None,
                published_by: None,
            }
            .into_active_model()
            .reset_all()
            .insert(db)
            .await
        }
    }
}

/// The draft published as version `version`.
pub async fn publish_remarks<C: ConnectionTrait>(
    db: &C,
    row: jury_remarks::Model,
    version: u32,
    by: &str,
    at: DateTime<Utc>,
) -> Result<jury_remarks::Model, DbErr> {
    let published = row.draft_json.clone();
    let mut am = row.into_active_model();
    am.version = Set(version as i32);
    am.published_json = Set(Some(published));
    am.published_at = Set(Some(at));
    am.published_by = Set(Some(by.to_owned()));
    am.update(db).await
}
