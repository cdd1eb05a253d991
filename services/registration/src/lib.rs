//! Registration for the CPLDS exam in one académie.
//!
//! Reads top-down: [`domain`] (rules, no I/O) → [`store`] (sea-orm) → [`api`] (gRPC handlers:
//! proto ⇄ domain) → [`events`] (what it publishes). [`RegistrationModule`] mounts it in a node.

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

pub use api::RegistrationModule;

/// Service name: database, event source, queue prefix.
pub const NAME: &str = "registration";
