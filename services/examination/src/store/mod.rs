//! Persistence of the exam (sea-orm). Functions take any connection, so the api layer decides
//! the unit of work; no rule is decided here. Rows are read back as domain values where the
//! domain has a type for them: a stored value no longer valid is an error where it is read.

pub mod entities;
pub mod migration;

mod candidates;
mod marks;
mod past;
mod planning;
mod remarks;
mod results;

use sea_orm::{DbErr, EntityTrait, IdenStatic, Iterable, QuerySelect, sea_query::Expr};
use serde::de::DeserializeOwned;

pub use self::{
    candidates::*,
    entities::{
        appeal, assignment, board, board_member, board_replacement, candidate, convocation,
        decision, jury_remarks, mark_entry, mark_history, minutes, past_candidate,
        pending_withdrawal, reconciliation, session, slot,
    },
    marks::*,
    past::*,
    planning::*,
    remarks::*,
    results::*,
};

/// A JSON column read back, or an error naming what it holds.
/// `query` also selecting every column of `E`, each named `{prefix}{column}`, so a joined row reads
/// back with `E::Model::from_query_result(row, prefix)`.
fn also_columns<E: EntityTrait, Q: QuerySelect>(mut query: Q, prefix: &str) -> Q {
    for c in E::Column::iter() {
        query = query.column_as(
            Expr::col((E::default(), c)),
            format!("{prefix}{}", c.as_str()),
        );
    }
    query
}

fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, DbErr> {
    serde_json::from_str(json).map_err(|e| DbErr::Custom(format!("stored {what}: {e}")))
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(format!("{what}: {e}")))
}

/// Serde for the domain's text enums inside JSON columns: their text, parsed back strictly.
mod as_text {
    use std::{fmt::Display, str::FromStr};

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<T: Display, S: Serializer>(
            v: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            Option::<String>::deserialize(d)?
                .map(|s| s.parse().map_err(D::Error::custom))
                .transpose()
        }
    }
}
