//! Registration rules, without I/O: what a valid candidacy is, who is eligible, when a
//! submission is admissible, and how a candidacy moves from submitted to a decision.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again.

pub mod access;
pub mod campaign;
pub mod candidacy;
pub mod candidate;
pub mod documents;
pub mod eligibility;
