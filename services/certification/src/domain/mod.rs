//! Certification rules and formats, without I/O: certificate numbers, the life of a
//! certificate, the JSON Canonicalization Scheme, multibase encodings, the Verifiable Credential
//! with its Data Integrity proof, and the revocation status list.
//!
//! Values are parsed once, at the edge, into types that can only hold valid values.

pub mod certificate;
pub mod credential;
pub mod jcs;
pub mod multibase;
pub mod number;
pub mod status_list;
