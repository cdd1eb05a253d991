//! Certificate numbers: `CPLDS-{ACADÉMIE}-{YEAR}-{SERIAL}`, e.g. `CPLDS-TOULOUSE-2025-000012`.
//!
//! The number says which académie delivered the certificate and for which session, so a
//! verifier knows whom to ask; the serial counts the certificates of that académie and year.
//! Zero-padding makes the text order the numeric order (lists are sorted on the text).

use std::fmt;

use cplds_runtime::academy::Academy;

const PREFIX: &str = "CPLDS";
/// The serial has six digits.
pub const MAX_SERIAL: u32 = 999_999;
/// First session of the CPLDS (décret n° 2017-791 of 5 May 2017).
pub const FIRST_YEAR: i32 = 2017;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNumber {
    academy: &'static str,
    year: i32,
    serial: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("{0:?} is not a certificate number of the form CPLDS-ACADEMIE-YYYY-NNNNNN")]
    Malformed(String),
    #[error("{0:?} is not an académie")]
    UnknownAcademy(String),
    #[error("the session year must be between {FIRST_YEAR} and 9999")]
    Year,
    #[error("the serial must be between 1 and {MAX_SERIAL}")]
    Serial,
}

impl CertificateNumber {
    pub fn new(academy: &'static Academy, year: i32, serial: u32) -> Result<Self, NumberError> {
        if !(FIRST_YEAR..=9999).contains(&year) {
            return Err(NumberError::Year);
        }
        if !(1..=MAX_SERIAL).contains(&serial) {
            return Err(NumberError::Serial);
        }
        Ok(Self {
            academy: academy.code,
            year,
            serial,
        })
    }

    /// Parses a number as printed; case and surrounding spaces do not matter.
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        let text = s.trim().to_ascii_uppercase();
        let malformed = || NumberError::Malformed(s.trim().chars().take(60).collect());
        let rest = text
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('-'))
            .ok_or_else(malformed)?;
        // The académie code may hold hyphens (AIX-MARSEILLE): year and serial are the last two.
        let mut parts = rest.rsplitn(3, '-');
        let (serial, year, academy) = match (parts.next(), parts.next(), parts.next()) {
            (Some(s), Some(y), Some(a)) => (s, y, a),
            _ => return Err(malformed()),
        };
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(serial, 6) || !digits(year, 4) || academy.is_empty() {
            return Err(malformed());
        }
        let code = academy.to_ascii_lowercase();
        let academy =
            Academy::find(&code).ok_or_else(|| NumberError::UnknownAcademy(code.clone()))?;
        Self::new(
            academy,
            year.parse().map_err(|_| malformed())?,
            serial.parse().map_err(|_| malformed())?,
        )
    }

    /// The académie code (`toulouse`).
    pub fn academy(&self) -> &'static str {
        self.academy
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}-{}-{}-{:06}",
            self.academy.to_ascii_uppercase(),
            self.year,
            self.serial
        )
    }
}

#[cfg(test)]
mod tests {
    use cplds_runtime::academy::ACADEMIES;
    use proptest::prelude::*;

    use super::*;

    fn toulouse() -> &'static Academy {
        Academy::find("toulouse").unwrap()
    }

    #[test]
    fn the_printed_form() {
        let n = CertificateNumber::new(toulouse(), 2025, 12).unwrap();
        assert_eq!(n.to_string(), "CPLDS-TOULOUSE-2025-000012");
        let aix =
            CertificateNumber::new(Academy::find("aix-marseille").unwrap(), 2024, 999_999).unwrap();
        assert_eq!(aix.to_string(), "CPLDS-AIX-MARSEILLE-2024-999999");
        assert_eq!(CertificateNumber::parse(&aix.to_string()).unwrap(), aix);
    }

    #[test]
    fn parsing_is_lenient_on_case_and_spaces_only() {
        let n = CertificateNumber::parse("  cplds-toulouse-2025-000012 ").unwrap();
        assert_eq!((n.academy(), n.year(), n.serial()), ("toulouse", 2025, 12));
        for bad in [
            "",
            "CPLDS",
            "CPLDS-TOULOUSE-2025",
            "CPLDS-TOULOUSE-2025-12",
            "CPLDS-TOULOUSE-25-000012",
            "CPLDS--2025-000012",
            "XPLDS-TOULOUSE-2025-000012",
            "CPLDS-TOULOUSE-2025-0000120",
            "CPLDS-TOULOUSE-2025-00001A",
            "CPLDS-TOULOUSE-2025-+00012",
            "CPLDS TOULOUSE 2025 000012",
        ] {
            assert!(
                matches!(
                    CertificateNumber::parse(bad),
                    Err(NumberError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            CertificateNumber::parse("CPLDS-GOTHAM-2025-000001"),
            Err(NumberError::UnknownAcademy("gotham".into()))
        );
        assert_eq!(
            CertificateNumber::parse("CPLDS-TOULOUSE-2016-000001"),
            Err(NumberError::Year)
        );
        assert_eq!(
            CertificateNumber::parse("CPLDS-TOULOUSE-2025-000000"),
            Err(NumberError::Serial)
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(
            i in 0..ACADEMIES.len(),
            year in FIRST_YEAR..=9999,
            serial in 1..=MAX_SERIAL,
        ) {
            let n = CertificateNumber::new(&ACADEMIES[i], year, serial).unwrap();
            let text = n.to_string();
            prop_assert_eq!(CertificateNumber::parse(&text).unwrap(), n);
            prop_assert_eq!(CertificateNumber::parse(&text.to_lowercase()).unwrap(), n);
        }

        #[test]
        fn text_order_is_serial_order(year in FIRST_YEAR..=9999, a in 1..=MAX_SERIAL, b in 1..=MAX_SERIAL) {
            let na = CertificateNumber::new(toulouse(), year, a).unwrap();
            let nb = CertificateNumber::new(toulouse(), year, b).unwrap();
            prop_assert_eq!(na.to_string().cmp(&nb.to_string()), a.cmp(&b));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = CertificateNumber::parse(&s);
        }
    }
}
