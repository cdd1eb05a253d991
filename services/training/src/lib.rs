//! The training service (under construction).

/// Service name: database, event source, queue prefix.
pub const NAME: &str = "training";
