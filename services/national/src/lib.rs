//! The national aggregator: consumes the national stream of every académie, keeps the
//! pseudonymous facts (never a name, an e-mail or a staff number: the stream carries none), proves
//! completeness (highest contiguous sequence per académie and source, gaps, heartbeats, replay
//! requests), and serves the consolidated figures, approvals, the MLDS survey and session reports.
//!
//! Reads top-down: [`domain`] (folding facts, figures, suppression, gaps, the report; no I/O) →
//! [`store`] (sea-orm; ingestion in sequence order) → [`api`] (gRPC).

pub mod api;
pub mod domain;
pub mod store;

pub use api::{NationalModule, academy::AcademyFiguresModule};

/// Service name: database, queue prefix.
pub const NAME: &str = "national";

/// The académie code the national node runs under (tokens are minted for it).
pub use cplds_runtime::node::NATIONAL;
