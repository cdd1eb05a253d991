//! Examination rules, without I/O: marks in half points, the decision of the deliberation and
//! when it may take place, double blind entry of marks, the timing of the two épreuves, sessions
//! and boards, the jury president and the jury's remarks, who may see and act on a candidate's
//! records, what may be done for a candidate, signing keys, the minutes, appeals and the session
//! statistics (and the one rule of averages and rounding of every report).
//!
//! Values are parsed once, at the edge, into types that can only hold valid values; the rest of
//! the service never checks them again. Every rule of the procedure is a function here returning
//! a [`cplds_runtime::kit::RuleViolation`], tested beside it.

pub mod access;
pub mod appeal;
pub mod board;
pub mod candidate;
pub mod decision;
pub mod deliberation;
pub mod double_entry;
pub mod jury;
pub mod keys;
pub mod mark;
pub mod minutes;
pub mod past;
pub mod people;
pub mod schedule;
pub mod session;
pub mod statistics;
