//! The contracts of the CPLDS federation, package `cplds.v1`.
//!
//! Every service and the event bus speak these types; no service depends on another service's
//! crate. Changes to the `.proto` files are additive only: a field number is never reused.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    include!("generated/cplds.v1.rs");
}

/// Encoded `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/cplds_descriptor.bin");

pub use prost_types::Timestamp;

mod events;

pub use events::PRODUCERS;
