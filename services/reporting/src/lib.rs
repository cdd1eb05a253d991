//! Reporting to the ministry, on the académie node: the MLDS annual survey (young people
//! accompanied by kind of action, sex, age band, and what became of them) and the approval of the
//! académie's figures for a year. Both travel on the national stream as facts; nothing here names
//! anyone.
//!
//! Top-down: [`domain`] (the survey's vocabulary and checks) → store (in [`api`], two small
//! tables) → [`api`] (gRPC).

pub mod api;
pub mod domain;

pub use api::ReportingModule;

pub const NAME: &str = "reporting";
