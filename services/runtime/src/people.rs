//! Who candidates, trainees and board members are, as the Éducation nationale writes it: names,
//! e-mail addresses, phone numbers, NUMEN staff numbers, UAI establishment codes with their check
//! letter, départements of an académie, birth dates. Each type can only hold a valid value
//! (parse, don't validate); every service parses its requests with the same rules.

use chrono::{Datelike, NaiveDate};

use crate::academy::Academy;

/// A last or first name: letters (any script), spaces, hyphens, apostrophes, dots; 1 to 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.is_empty() {
            return Err("is required".into());
        }
        if t.chars().count() > 100 {
            return Err("must be at most 100 characters".into());
        }
        if !t.chars().any(char::is_alphabetic) {
            return Err("must contain letters".into());
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.')))
        {
            return Err(format!(
                "must hold only letters, spaces, hyphens and apostrophes (found {c:?})"
            ));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        let err = || format!("{s:?} is not an e-mail address (name@domain.tld)");
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(err)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if !(local_ok && domain_ok) {
            return Err(err());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form tokens carry as subject, for ownership checks.
    pub fn same_person(&self, subject: &str) -> bool {
        self.0.eq_ignore_ascii_case(subject.trim())
    }
}

/// A French phone number, stored as `0XXXXXXXXX` or `+XXXXXXXX...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, String> {
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-'))
            .collect();
        let national = compact.len() == 10
            && compact.starts_with('0')
            && compact[1..].chars().all(|c| c.is_ascii_digit())
            && &compact[1..2] != "0";
        let international = compact.starts_with('+')
            && (9..=16).contains(&compact.len())
            && compact[1..].chars().all(|c| c.is_ascii_digit());
        if national || international {
            Ok(Self(compact))
        } else {
            Err(format!(
                "{s:?} is not a phone number (0X XX XX XX XX or +CC...)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// NUMEN, the staff number of the Éducation nationale: 13 letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffNumber(String);

impl StaffNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Err("is required".into());
        }
        if t.len() != 13 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("a NUMEN has exactly 13 letters and digits".into());
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Code UAI (ex-RNE) of an establishment: 7 characters (3 for the département, 4 digits) and a
/// check letter (the number modulo 23, in an alphabet without I, O and Q).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uai(String);

const UAI_KEY: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

impl Uai {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Err("is required".into());
        }
        let b = t.as_bytes();
        if b.len() != 8 || !b[..7].iter().all(u8::is_ascii_digit) || !b[7].is_ascii_uppercase() {
            return Err(format!(
                "{s:?} is not a UAI code (7 digits and a letter, e.g. 0310036W)"
            ));
        }
        let number = b[..7]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let expected = Self::check_letter_of(number);
        if b[7] != expected {
            return Err(format!(
                "{t} has a wrong check letter (expected {})",
                expected as char
            ));
        }
        Ok(Self(t))
    }

    /// The check letter of seven digits; `None` when `digits` is not exactly seven ASCII digits.
    pub fn check_letter(digits: &str) -> Option<u8> {
        if digits.len() != 7 || !digits.bytes().all(|d| d.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Self::check_letter_of)
    }

    /// The check letter of the number the seven digits write.
    pub fn check_letter_of(number: u32) -> u8 {
        UAI_KEY[(number % 23) as usize]
    }

    /// The UAI whose seven digits write `number` (modulo 10⁷), with its check letter: what demo
    /// data, imports and tests make establishments of.
    pub fn of_number(number: u32) -> Self {
        let number = number % 10_000_000;
        Self(format!(
            "{number:07}{}",
            Self::check_letter_of(number) as char
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The département the establishment is in ("31", "2A", "971").
    pub fn department(&self) -> String {
        match &self.0[..3] {
            "620" => "2A".into(),
            "720" => "2B".into(),
            p if p.starts_with('0') => p[1..].into(),
            p => p.into(),
        }
    }
}

/// A département of the node's académie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department(String);

impl Department {
    pub fn parse(s: &str, academy: &Academy) -> Result<Self, String> {
        let t = s.trim().to_ascii_uppercase();
        if t.is_empty() {
            return Err("is required".into());
        }
        match academy.department(&t) {
            Some(d) => Ok(Self(d.code.to_owned())),
            None => Err(format!(
                "{t:?} is not a département of the académie de {} ({})",
                academy.name,
                academy
                    .departments
                    .iter()
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(NaiveDate);

impl BirthDate {
    /// A candidate is a member of staff: between 18 and 75 years old on `today`.
    pub fn parse(s: &str, today: NaiveDate) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("is required".into());
        }
        let d = crate::time::parse_date(s.trim())?;
        let age = today.year()
            - d.year()
            - i32::from((today.month(), today.day()) < (d.month(), d.day()));
        if !(18..=75).contains(&age) {
            return Err(format!(
                "gives an age of {age}; a member of staff is between 18 and 75"
            ));
        }
        Ok(Self(d))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl Uai {
    /// The académie the establishment belongs to.
    pub fn academy(&self) -> Option<&'static Academy> {
        crate::academy::academy_of_department(&self.department())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uai_check_letters_of_real_establishments() {
        // Lycée Pierre-de-Fermat, Toulouse; a collège of Paris; a lycée of Ajaccio.
        assert_eq!(Uai::parse("0310036w").unwrap().as_str(), "0310036W");
        assert_eq!(Uai::parse("0310036W").unwrap().department(), "31");
        assert!(Uai::parse("0310036X").unwrap_err().contains("expected W"));
        assert!(Uai::parse("031003W").is_err());
        assert!(Uai::parse("").unwrap_err().contains("required"));
        let corsica = format!("6200002{}", Uai::check_letter("6200002").unwrap() as char);
        assert_eq!(Uai::parse(&corsica).unwrap().department(), "2A");
        let overseas = format!("9710001{}", Uai::check_letter("9710001").unwrap() as char);
        assert_eq!(Uai::parse(&overseas).unwrap().department(), "971");
    }

    #[test]
    fn a_uai_made_of_a_number_is_a_valid_one() {
        assert_eq!(Uai::of_number(310_036).as_str(), "0310036W");
        for n in [0, 1, 310_000, 9_999_999, 12_345_678] {
            let u = Uai::of_number(n);
            assert_eq!(Uai::parse(u.as_str()), Ok(u));
        }
    }

    /// A check letter is asked of anything but seven digits: no letter (it panicked).
    #[test]
    fn no_check_letter_without_seven_digits() {
        for digits in [
            "",
            "031003",
            "03100361",
            "031003A",
            "０３１００３６",
            "-310036",
        ] {
            assert_eq!(Uai::check_letter(digits), None, "{digits:?}");
        }
        assert_eq!(Uai::check_letter("0310036"), Some(b'W'));
        assert_eq!(Uai::check_letter_of(310036), b'W');
    }

    proptest! {
        #[test]
        fn every_uai_has_exactly_one_valid_letter(n in 0u32..10_000_000) {
            let digits = format!("{n:07}");
            let valid: Vec<char> = UAI_KEY.iter().map(|&l| l as char).filter(|l| Uai::parse(&format!("{digits}{l}")).is_ok()).collect();
            prop_assert_eq!(valid.len(), 1);
        }

        #[test]
        fn names_never_hold_digits(s in "\\PC{0,40}") {
            if let Ok(n) = PersonName::parse(&s) {
                prop_assert!(!n.as_str().chars().any(|c| c.is_ascii_digit()));
                prop_assert!(!n.as_str().is_empty());
            }
        }

        #[test]
        fn parsed_emails_reparse_identically(local in "[a-z0-9._%+-]{1,20}", domain in "[a-z0-9-]{1,10}\\.(fr|com|org)") {
            if let Ok(e) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Marie.Curie@AC-Toulouse.FR ")
                .unwrap()
                .as_str(),
            "Marie.Curie@ac-toulouse.fr"
        );
        for bad in [
            "marie",
            "marie@",
            "@ac-toulouse.fr",
            "marie@localhost",
            "ma rie@ac.fr",
            "a..b@ac.fr",
            "m@ac.f1",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse("").unwrap_err().contains("required"));
    }

    #[test]
    fn names_phones_numen() {
        assert_eq!(
            PersonName::parse("  Le   Goff-d’Arc ").unwrap().as_str(),
            "Le Goff-d’Arc"
        );
        assert!(PersonName::parse("R2D2").is_err());
        assert!(PersonName::parse("---").is_err());
        assert_eq!(
            Phone::parse("06 12 34 56 78").unwrap().as_str(),
            "0612345678"
        );
        assert!(Phone::parse("+262 692 12 34 56").is_ok());
        assert!(Phone::parse("12345").is_err());
        assert_eq!(
            StaffNumber::parse("12e0123456abc").unwrap().as_str(),
            "12E0123456ABC"
        );
        assert!(StaffNumber::parse("12E01234").is_err());
    }

    #[test]
    fn departments_and_birth_dates() {
        let toulouse = Academy::find("toulouse").unwrap();
        assert_eq!(Department::parse("31", toulouse).unwrap().as_str(), "31");
        assert!(
            Department::parse("33", toulouse)
                .unwrap_err()
                .contains("Toulouse")
        );
        let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        assert!(BirthDate::parse("1980-05-31", today).is_ok());
        assert!(
            BirthDate::parse("2010-01-01", today)
                .unwrap_err()
                .contains("15")
        );
        assert!(BirthDate::parse("1980-02-30", today).is_err());
    }
}
