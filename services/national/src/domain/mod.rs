//! The national aggregator's rules, without I/O: how pseudonymous facts fold into each
//! candidate's record, how figures are computed from records, how small counts are suppressed
//! for publication, how gaps in an académie's sequence are found, what a query may ask, and how
//! a session report reads.

pub mod completeness;
pub mod csv;
pub mod figures;
pub mod query;
pub mod record;
pub mod report;
pub mod suppression;
