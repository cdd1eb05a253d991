//! The certification service of the CPLDS académie node: the certificate the recteur delivers
//! to every admitted candidate, signed with the académie's key, and its public verification.
//!
//! Reads top-down: [`domain`] (rules and formats, no I/O: numbers, JCS, the credential and its
//! proof, the status list) → [`printable`] (the PDF) → [`store`] (sea-orm) → [`consumer`] (the
//! examination events it learns from) → [`api`] (gRPC handlers: proto ⇄ domain) → [`events`]
//! (what it publishes). [`CertificationModule`] mounts it in a node; [`scenario`] drives it
//! through its public API only.
//!
//! # How an outsider verifies a certificate
//!
//! **By its number** (what an employer holding the paper does): call the public, unauthenticated
//! `cplds.v1.CertificationService/VerifyCertificate` with `{"number": "CPLDS-TOULOUSE-2025-000012"}`
//! (the QR code holds the number, or `{verification_base_url}/{number}`). The answer is `VALID`,
//! `REVOKED` (with date and reason) or `UNKNOWN`, with the statements as printed (holder, title,
//! session, dates, académie, signatory): compare them with the paper, so an edited PDF shows.
//!
//! **Offline, from the credential** (the JSON the holder gives):
//! 1. Once, fetch the académie's keys (`ListSigningKeys`, public): keep every `multikey` and
//!    `verification_method`, current and retired.
//! 2. Check `proof.type` = `DataIntegrityProof`, `proof.cryptosuite` = `eddsa-jcs-2022`,
//!    `proof.proofPurpose` = `assertionMethod`, and that `proof.verificationMethod`
//!    (`did:key:z6Mk…#z6Mk…`) is one of the académie's.
//! 3. Options = `proof` without `proofValue`; document = the credential without `proof`.
//!    Data = SHA-256(JCS(options)) ‖ SHA-256(JCS(document)) (JCS: RFC 8785).
//! 4. Signature = base58btc-decode(`proofValue` without its leading `z`), 64 bytes; public key =
//!    base58btc-decode(multikey without `z`) without its first two bytes (0xed 0x01), 32 bytes.
//!    Ed25519-verify the data. Any standard VC 2.0 verifier with `eddsa-jcs-2022` and `did:key`
//!    does steps 2 to 4.
//! 5. Revocation: fetch the status list (`GetStatusList`, public; cacheable until `validUntil`),
//!    verify its proof the same way, decode `credentialSubject.encodedList` (drop the leading
//!    `u`, base64url-decode, gunzip) and read bit `credentialStatus.statusListIndex` (bit 0 is
//!    the most significant bit of the first byte): 1 means revoked. The académie does not learn
//!    which certificate was checked.

pub mod api;
pub mod consumer;
pub mod domain;
pub mod events;
pub mod printable;
pub mod scenario;
pub mod store;

pub use api::{CertificationModule, policy};

/// Service name: database, event source, queue prefix.
pub const NAME: &str = "certification";
