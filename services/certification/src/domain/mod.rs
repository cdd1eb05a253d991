//! Certification rules and formats, without I/O: certificate numbers, the life of a
//! certificate, its verification code, who reads it, the JSON Canonicalization Scheme, multibase encodings, the
//! Verifiable Credential with its Data Integrity proof, the revocation status list, and what
//! public verification answers.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values.

pub mod certificate;
pub mod code;
pub mod credential;
pub mod did_web;
pub mod jcs;
pub mod key_history;
pub mod multibase;
pub mod number;
pub mod proof;
pub mod rdfc;
pub mod reader;
pub mod status_list;
pub mod verification;
