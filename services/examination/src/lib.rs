//! The examination service of the CPLDS académie node.
//!
//! Reads top-down: [`domain`] (rules, no I/O) → [`store`] (sea-orm) → [`api`] (gRPC handlers:
//! proto ⇄ domain) → [`events`] (what it publishes) and [`consumer`] (what it learns from
//! registration). [`documents`] renders convocations and minutes. [`ExaminationModule`] mounts
//! it in a node; [`scenario`] drives a typical session through the public API.

pub mod api;
pub mod consumer;
pub mod documents;
pub mod domain;
pub mod events;
pub mod scenario;
pub mod store;

pub use api::{ExaminationModule, policy};

/// Service name: database, event source, queue prefix.
pub const NAME: &str = "examination";
