//! The verification code printed on a public document (a certificate, a training attestation)
//! and carried by its QR code: 80 bits from the operating system's CSPRNG, written as 16
//! Crockford base32 characters in four groups (`7KQ2-M9XD-A4TB-H3NW`).
//!
//! Document numbers are sequential, so anyone can loop over them: by its number alone a document
//! only says valid (revoked) or unknown. Whoever holds the document (its code, its credential or
//! its checksum) also sees whose it is and what it states. The code is kept as is, not hashed:
//! the holder's PDF and its duplicates reprint it, and the row beside it already holds the name
//! it protects.

use std::fmt;

use rand::{RngCore, rngs::OsRng};
use subtle::ConstantTimeEq;

/// Crockford's base32: no I, L, O, U (read back as 1, 1, 0; U is never written).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random bits in a code.
pub const BITS: usize = 80;
const CHARS: usize = BITS / 5;
/// Longer input is refused before it is read: a code with generous separators fits.
const MAX_INPUT: usize = 64;

/// A document's verification code (the canonical 16 characters, without separators).
#[derive(Clone)]
pub struct VerificationCode(String);

impl VerificationCode {
    /// A fresh code from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; BITS / 8];
        OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: [u8; BITS / 8]) -> Self {
        let value = bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        let text = (0..CHARS)
            .rev()
            .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize]))
            .collect();
        Self(text)
    }

    /// A code as typed or scanned: case, spaces and hyphens do not matter, and the letters
    /// people confuse with digits (O, I, L) read as those digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() > MAX_INPUT {
            return Err(format!("must be at most {MAX_INPUT} characters"));
        }
        let mut text = String::with_capacity(CHARS);
        for c in s.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(format!(
                    "must be the {CHARS} characters printed under the QR code (digits and letters)"
                ));
            }
            text.push(c);
        }
        if text.len() != CHARS {
            return Err(format!(
                "must be the {CHARS} characters printed under the QR code, e.g. 7KQ2-M9XD-A4TB-H3NW"
            ));
        }
        Ok(Self(text))
    }

    /// As stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As printed: four groups of four.
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|g| String::from_utf8_lossy(g).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Whether `other` is this code, in time that does not depend on where they differ.
    pub fn matches(&self, other: &VerificationCode) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// Never printed in logs or debug output.
impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(…)")
    }
}

/// The migration giving an existing table of documents a `verification_code` column, and a
/// fresh code to each row issued before: certificates and attestations got theirs the same way.
pub struct AddVerificationCodes {
    /// The migration's recorded name (never changes once released).
    pub name: &'static str,
    pub table: &'static str,
    /// The documents' key column (their number).
    pub key: &'static str,
}

impl sea_orm_migration::MigrationName for AddVerificationCodes {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl sea_orm_migration::MigrationTrait for AddVerificationCodes {
    async fn up(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        use sea_orm::ConnectionTrait;

        use crate::db::{columns, stmt};
        columns::add_column(m, self.table, columns::text_null("verification_code")).await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let (table, key) = (self.table, self.key);
        let select = format!("SELECT {key} FROM {table} WHERE verification_code IS NULL");
        let update = format!("UPDATE {table} SET verification_code = ? WHERE {key} = ?");
        for row in db.query_all_raw(stmt(backend, &select, vec![])).await? {
            let number: String = row.try_get("", key)?;
            let code = VerificationCode::generate();
            db.execute_raw(stmt(
                backend,
                &update,
                vec![code.as_str().into(), number.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &sea_orm_migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        crate::db::columns::drop_column(m, self.table, "verification_code").await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_code_is_sixteen_characters_in_four_groups() {
        let code = VerificationCode::from_bytes([0; 10]);
        assert_eq!(code.as_str(), "0000000000000000");
        let code = VerificationCode::from_bytes([0xff; 10]);
        assert_eq!(code.grouped(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        let code = VerificationCode::from_bytes([0x84, 0x21, 0x08, 0x42, 0x10, 0, 0, 0, 0, 1]);
        assert_eq!(code.as_str(), "GGGGGGGG00000001");
        assert_eq!(format!("{code:?}"), "VerificationCode(…)");
    }

    #[test]
    fn generated_codes_differ() {
        let codes: HashSet<String> = (0..1000)
            .map(|_| VerificationCode::generate().as_str().to_owned())
            .collect();
        assert_eq!(codes.len(), 1000);
    }

    #[test]
    fn typed_codes_are_read_leniently_and_bad_ones_refused() {
        let code = VerificationCode::parse("7KQ2-M9XD-A4TB-H3NW").unwrap();
        for typed in [
            "7kq2 m9xd a4tb h3nw",
            "7KQ2M9XDA4TBH3NW",
            " 7KQ2-M9XD-A4TB-H3NW ",
        ] {
            assert!(VerificationCode::parse(typed).unwrap().matches(&code));
        }
        let confusable = VerificationCode::parse("O1IL-0000-0000-0000").unwrap();
        assert_eq!(confusable.as_str(), "0111000000000000");
        assert!(VerificationCode::parse("7KQ2-M9XD-A4TB").is_err());
        assert!(VerificationCode::parse("7KQ2-M9XD-A4TB-H3NWX").is_err());
        assert!(VerificationCode::parse("7KQ2-M9XD-A4TB-H3NU").is_err());
        assert!(VerificationCode::parse("7KQ2-M9XD-A4TB-H3Né").is_err());
        assert!(
            VerificationCode::parse(&"-".repeat(65))
                .unwrap_err()
                .contains("at most")
        );
        assert!(!code.matches(&VerificationCode::parse("7KQ2-M9XD-A4TB-H3NX").unwrap()));
    }

    proptest! {
        #[test]
        fn every_code_reads_back(bytes in any::<[u8; 10]>()) {
            let code = VerificationCode::from_bytes(bytes);
            let back = VerificationCode::parse(&code.grouped().to_lowercase()).unwrap();
            prop_assert!(back.matches(&code));
            prop_assert_eq!(back.as_str(), code.as_str());
        }
    }
}
