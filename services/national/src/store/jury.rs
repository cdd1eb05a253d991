//! The jury's remarks of each académie's session, as its jury president last published them: the
//! report prints them in their sections.

use cplds_proto::v1 as pb;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};

use super::jury_remarks;
use crate::domain::report::JuryRemarks;

/// Keeps the latest published remarks (facts of a source apply in order: the last wins).
pub async fn save<C: ConnectionTrait>(
    txn: &C,
    academy: &str,
    x: &pb::JuryRemarksPublished,
) -> Result<(), DbErr> {
    let sections = JuryRemarks {
        general: x.general_remarks.clone(),
        part_1: x.part_1_remarks.clone(),
        part_2: x.part_2_remarks.clone(),
        advice: x.advice.clone(),
        positive_points: x.positive_points.clone(),
        points_to_improve: x.points_to_improve.clone(),
        points_to_avoid: x.points_to_avoid.clone(),
        conditions: x.conditions.clone(),
    };
    let json = serde_json::to_string(&sections).map_err(|e| DbErr::Custom(e.to_string()))?;
    jury_remarks::Entity::delete_by_id((academy.to_owned(), x.year))
        .exec(txn)
        .await?;
    jury_remarks::ActiveModel {
        academy: Set(academy.to_owned()),
        year: Set(x.year),
        sections: Set(json),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The remarks of an académie's session, if its jury president published them.
pub async fn of<C: ConnectionTrait>(
    db: &C,
    academy: &str,
    year: i32,
) -> Result<Option<JuryRemarks>, DbErr> {
    let Some(row) = jury_remarks::Entity::find_by_id((academy.to_owned(), year))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_str(&row.sections)
        .map(Some)
        .map_err(|e| DbErr::Custom(format!("stored jury remarks: {e}")))
}
