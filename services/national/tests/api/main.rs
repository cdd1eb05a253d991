//! The national node with académie nodes on one in-process bus: consolidated figures equal what
//! was submitted, nothing personal reaches it, gaps are found and closed by replay, approvals
//! reopen on corrections, publication hides small counts, reports and exports are produced.
//! One file per area; what they share is in `helpers`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod approvals;
mod batches;
mod exports;
mod figures;
mod forged;
mod helpers;
mod import;
mod ingest_store;
mod kept;
mod late;
mod privacy;
mod publication;
mod replay;
mod replicas;
mod reports;
mod restore;
mod survey;
mod unfillable;
