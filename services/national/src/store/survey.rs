//! The MLDS surveys as the académies sent them: every version's rows, the latest counting.

use std::collections::BTreeMap;

use cplds_proto::v1 as pb;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};

use super::survey_row;
use crate::domain::record::Sex;

/// Keeps a survey version's rows (a fact is applied once; a later version supersedes it).
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    academy: &str,
    x: &pb::MldsSurveySubmitted,
) -> Result<(), DbErr> {
    let row = |part: &str, sex: i32, n: u32| survey_row::ActiveModel {
        academy: Set(academy.to_owned()),
        year: Set(x.year),
        version: Set(x.version as i32),
        part: Set(part.to_owned()),
        sex: Set(Sex::from_pb(sex)),
        action_kind: Set(String::new()),
        age_band: Set(String::new()),
        outcome: Set(String::new()),
        young_people: Set(i64::from(n)),
        ..Default::default()
    };
    let mut rows = Vec::new();
    for r in &x.rows {
        let mut m = row("cell", r.sex, r.young_people);
        m.action_kind = Set(r.action_kind.clone());
        m.age_band = Set(r.age_band.clone());
        m.outcome = Set(r.outcome.clone());
        rows.push(m);
    }
    for h in &x.headcount {
        let mut m = row("headcount", h.sex, h.young_people);
        m.age_band = Set(h.age_band.clone());
        rows.push(m);
    }
    for a in &x.actions {
        let mut m = row("action", a.sex, a.young_people);
        m.action_kind = Set(a.action_type.clone());
        rows.push(m);
    }
    for o in &x.outcomes {
        let mut m = row("outcome", o.sex, o.young_people);
        m.outcome = Set(o.outcome.clone());
        rows.push(m);
    }
    for m in rows {
        m.insert(txn).await?;
    }
    Ok(())
}

/// The latest survey version of each académie for a year, with its rows.
pub async fn latest<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<BTreeMap<String, (i32, Vec<survey_row::Model>)>, DbErr> {
    let rows = survey_row::Entity::find()
        .filter(survey_row::Column::Year.eq(year))
        .order_by_asc(survey_row::Column::Id)
        .all(db)
        .await?;
    let mut latest: BTreeMap<String, i32> = BTreeMap::new();
    for r in &rows {
        let v = latest.entry(r.academy.clone()).or_insert(r.version);
        *v = (*v).max(r.version);
    }
    let mut out: BTreeMap<String, (i32, Vec<survey_row::Model>)> = latest
        .iter()
        .map(|(a, &v)| (a.clone(), (v, Vec::new())))
        .collect();
    for r in rows {
        if let Some((v, own)) = out.get_mut(&r.academy)
            && *v == r.version
        {
            own.push(r);
        }
    }
    Ok(out)
}
