//! The examination service through its public gRPC interface, on a node started in-process on a
//! random loopback port with registration beside it: the admitted list and withdrawals arrive by
//! event through the in-process bus, then sessions are driven to published results, and every
//! refusal is checked with its status code and the field or rule it names.
//!
//! `helpers` starts the node and brings a session to the stage a test needs (candidates listed,
//! boards, schedule, marks, deliberation, publication); each other file is one area, one test
//! per rule, each run on SQLite and, when switched on, on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod access;
mod appeals;
mod boards;
mod candidates;
mod convocations;
mod deliberation;
mod jury;
mod keys;
mod marks;
mod replacement;
mod results;
mod schedule;
mod sessions;
mod stored;
mod whole_session;
