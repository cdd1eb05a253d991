//! Training through its public interfaces, on nodes started in-process on loopback ports, one
//! file per area: every rule and every refusal with its status code and the field or rule it
//! names, each test on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod assignments;
mod catalogue;
mod completion;
mod enrolments;
mod hours;
mod regional;
mod scenario;
mod sessions;
mod settings;
