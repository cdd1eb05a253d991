//! The verification code printed on a certificate and carried by its QR code (written once in
//! the runtime, shared with training attestations): by its number alone a certificate only says
//! valid, revoked or unknown; whoever holds the code also sees whose it is and what it states.

pub use cplds_runtime::verification_code::*;
