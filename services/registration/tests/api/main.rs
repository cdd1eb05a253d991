//! Registration through its public gRPC interface, on a node started in-process on a random
//! loopback port: every rule and every refusal, with its status code and the field it names.
//! Each test runs on SQLite and, when switched on, on PostgreSQL ([`on_both!`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Declares each named `async fn test(backend)` of the module as two tests, one per backend.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Postgres).await })*
        }
    };
}

mod access;
mod accounts;
mod admitted_list;
mod campaigns;
mod decisions;
mod documents;
mod helpers;
mod inadmissible;
mod lifecycle;
mod lists;
mod service;
mod submission;
