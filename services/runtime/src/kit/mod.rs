//! The service kit: the one way to write a service, so the next one (or the next maintainer)
//! finds each thing done once.
//!
//! A handler reads the same way in every service:
//! 1. **parse** the request into domain values, every bad field named ([`crate::error::Violations`],
//!    [`parse_id`], [`Paging`]; `finish_with` hands the values back typed);
//! 2. **load** what the decision needs through the service's `store`;
//! 3. **decide** with a rule of the service's `domain`, which refuses with a [`RuleViolation`];
//! 4. **write** in a [`UnitOfWork`]: rows through `store`, events with `emit`, the audit trail
//!    with `record`, then `commit` (which wakes the relay).
//!
//! The method table is written once with [`crate::grpc_handlers!`], the server added with
//! [`crate::add_grpc!`], stored enums declared with [`crate::text_enum!`] and mapped to their
//! contract twins with [`crate::wire_enums!`], and the policy's
//! method names are checked against the contracts when the node starts.

mod group;
pub mod handlers;
pub mod history;
pub mod ids;
pub mod listing;
pub mod paging;
pub mod refusal;
pub mod rows;
pub mod text_enum;
pub mod unit;
pub mod wire;

pub use history::{Act, HistoryTable};
pub use ids::{new_id, parse_id, parse_optional_id};
pub use listing::Listing;
pub use paging::Paging;
pub use refusal::{Decided, Found, RuleViolation, Unique, refuse};
pub use rows::{
    CountersTable, Lock, hold, hold_all, locked, next_counter, next_counters, next_counters_then,
    reads_in_turn,
};
pub use text_enum::UnknownValue;
pub use unit::{ServiceCore, UnitOfWork, UnitTxn};
pub use wire::Wire;

/// What the kit's macros expand to, so services need not name these crates themselves.
#[doc(hidden)]
pub mod reexport {
    pub use async_trait::async_trait;
    pub use sea_orm::{DbErr, DeriveValueType, TryFromU64};
}
