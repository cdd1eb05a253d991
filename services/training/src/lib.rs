//! The training service of an académie node: programme versions, cohorts (possibly for a whole
//! région académique) with their places and waiting list, seminars and distance sessions, the
//! tutored internship, hours per trainee and module, the training attestation; and the records
//! of the académie's staff trained by another académie of the région.
//!
//! Reads top-down: [`domain`] (rules, no I/O) → [`store`] (sea-orm) → [`api`] (gRPC handlers:
//! proto ⇄ domain) → [`events`] (what it publishes and consumes). [`TrainingModule`] mounts it
//! in a node; [`scenario`] runs a cohort through the public API (tests, `cplds demo`).

pub mod api;
pub mod domain;
pub mod events;
pub mod scenario;
pub mod store;

pub use api::{TrainingModule, policy};

/// Service name: database, event source, queue prefix.
pub const NAME: &str = "training";
