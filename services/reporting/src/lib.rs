//! Reporting to the ministry, on the académie node: the MLDS annual survey (young people
//! accompanied by kind of action, sex, age band, and what became of them) and the approval of the
//! académie's figures for a year. Both travel on the national stream as facts; nothing here names
//! anyone.
//!
//! Top-down: [`domain`] (the survey's vocabulary and checks) → [`store`] (two small tables) →
//! [`api`] (gRPC) → [`events`] (the national facts).

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

pub use api::ReportingModule;

pub const NAME: &str = "reporting";
