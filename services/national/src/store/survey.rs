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
    // (part, sex, young people, action, age band, outcome): a row fills the categories of its part.
    let row = |(part, sex, n, action, age, outcome): (&str, i32, u32, &str, &str, &str)| {
        survey_row::ActiveModel {
            academy: Set(academy.to_owned()),
            year: Set(x.year),
            version: Set(x.version as i32),
            part: Set(part.to_owned()),
            sex: Set(Sex::from_pb(sex)),
            action_kind: Set(action.to_owned()),
            age_band: Set(age.to_owned()),
            outcome: Set(outcome.to_owned()),
            young_people: Set(i64::from(n)),
            ..Default::default()
        }
    };
    let rows = (x.rows.iter())
        .map(|r| {
            let (action, age, outcome) = (&r.action_kind, &r.age_band, &r.outcome);
            (
                "cell",
                r.sex,
                r.young_people,
                action.as_str(),
                age.as_str(),
                outcome.as_str(),
            )
        })
        .chain(x.headcount.iter().map(|h| {
            (
                "headcount",
                h.sex,
                h.young_people,
                "",
                h.age_band.as_str(),
                "",
            )
        }))
        .chain(x.actions.iter().map(|a| {
            (
                "action",
                a.sex,
                a.young_people,
                a.action_type.as_str(),
                "",
                "",
            )
        }))
        .chain(
            x.outcomes
                .iter()
                .map(|o| ("outcome", o.sex, o.young_people, "", "", o.outcome.as_str())),
        )
        .map(row);
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
