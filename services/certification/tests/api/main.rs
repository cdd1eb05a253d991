//! Certification through its public gRPC interface (and its public pages), on a node started
//! in-process on a random loopback port. The examination service is not there: the tests
//! publish its events on the node's bus themselves, as it would. One file per area; what they
//! share is in `helpers`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Each test runs on SQLite and, when switched on, on PostgreSQL.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

mod access;
mod documents;
mod helpers;
mod input;
mod issuing;
mod keys;
mod lists;
mod preparation;
mod revocation;
mod scenario;
mod standard_verifier;
mod verification;
mod web;
