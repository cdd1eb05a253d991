//! Pseudonymous candidate keys (design rule 5): a keyed hash of the staff number with a secret that
//! never leaves the académie. The same person gets the same key in every service of the académie,
//! so the national node can relate training to exam success without knowing who anyone is.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct Pseudonymizer {
    secret: Vec<u8>,
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymizer(<secret>)")
    }
}

impl Pseudonymizer {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        let secret = secret.into();
        assert!(
            secret.len() >= 16,
            "a pseudonym secret needs at least 16 bytes"
        );
        Self { secret }
    }

    /// 128 bits of HMAC-SHA256 over the normalised staff number, as 32 hex digits.
    pub fn candidate_key(&self, staff_number: &str) -> String {
        // HMAC takes a key of any length (RFC 2104 hashes a long one): `new_from_slice` only
        // returns a `Result` because the trait is shared with fixed-key MACs.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"cplds/v1/candidate/");
        mac.update(staff_number.trim().to_ascii_uppercase().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_normalised_and_secret_dependent() {
        let a = Pseudonymizer::new(*b"0123456789abcdef0123456789abcdef");
        let b = Pseudonymizer::new(*b"another-secret-of-another-academy");
        let k = a.candidate_key("12E0123456ABC");
        assert_eq!(k.len(), 32);
        assert_eq!(k, a.candidate_key(" 12e0123456abc "));
        assert_ne!(k, a.candidate_key("12E0123456ABD"));
        assert_ne!(k, b.candidate_key("12E0123456ABC"));
        assert!(!k.contains("0123456"));
    }
}
