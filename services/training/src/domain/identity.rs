//! Who a trainee or a tutor is, as valid values only.
//!
//! Names, e-mail, NUMEN and UAI follow the same rules as in registration; a service may not
//! depend on another, so they are written here too (they belong in a shared identity crate).

use chrono::{Datelike, NaiveDate};
use cplds_runtime::academy::{Academy, academy_of_department};

use super::text_enum;

text_enum!(Sex { Female => "female", Male => "male" });
text_enum!(TutorQualification { Cpif => "cpif", Cplds => "cplds" });

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
                "{s:?} is not a UAI code (7 digits and a letter, e.g. 0330021U)"
            ));
        }
        let expected = Self::check_letter(&t[..7]);
        if b[7] != expected {
            return Err(format!(
                "{t} has a wrong check letter (expected {})",
                expected as char
            ));
        }
        Ok(Self(t))
    }

    pub fn check_letter(digits: &str) -> u8 {
        let n: u64 = digits.parse().expect("7 digits");
        UAI_KEY[(n % 23) as usize]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The département the establishment is in ("33", "2A", "971").
    pub fn department(&self) -> String {
        match &self.0[..3] {
            "620" => "2A".into(),
            "720" => "2B".into(),
            p if p.starts_with('0') => p[1..].into(),
            p => p.into(),
        }
    }

    /// The académie the establishment belongs to.
    pub fn academy(&self) -> Option<&'static Academy> {
        academy_of_department(&self.department())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(NaiveDate);

impl BirthDate {
    /// A member of staff is between 18 and 75 years old on `today`.
    pub fn parse(s: &str, today: NaiveDate) -> Result<Self, String> {
        let d = cplds_runtime::time::parse_date(s.trim())?;
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

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

/// An académie code of the reference data.
pub fn academy(code: &str) -> Result<&'static Academy, String> {
    let code = code.trim().to_ascii_lowercase();
    if code.is_empty() {
        return Err("is required".into());
    }
    Academy::parse(&code)
}

/// A trainee as the request states them, every field valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trainee {
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub birth_date: Option<BirthDate>,
    pub email: Email,
    pub staff_number: StaffNumber,
    pub sex: Sex,
    pub workplace_uai: Uai,
    pub home_academy: &'static Academy,
}

impl Trainee {
    /// The rule tying fields together: one works in an establishment of one's own académie.
    pub fn workplace_violation(&self) -> Option<String> {
        match self.workplace_uai.academy() {
            Some(a) if a == self.home_academy => None,
            Some(a) => Some(format!(
                "the establishment {} is in the académie de {}, not in the trainee's académie ({})",
                self.workplace_uai.as_str(),
                a.name,
                self.home_academy.name
            )),
            None => Some(format!(
                "the establishment {} is in no known département",
                self.workplace_uai.as_str()
            )),
        }
    }
}

/// A tutor as the training office designates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tutor {
    pub last_name: PersonName,
    pub first_name: PersonName,
    pub email: Email,
    pub qualification: TutorQualification,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uai_check_letters_and_academies() {
        // Lycée Montesquieu (Bordeaux), Lycée Gay-Lussac (Limoges).
        let bordeaux = format!("0330021{}", Uai::check_letter("0330021") as char);
        assert_eq!(
            Uai::parse(&bordeaux).unwrap().academy().unwrap().code,
            "bordeaux"
        );
        let limoges = format!("0870015{}", Uai::check_letter("0870015") as char);
        assert_eq!(
            Uai::parse(&limoges).unwrap().academy().unwrap().code,
            "limoges"
        );
        assert!(Uai::parse("0310036X").unwrap_err().contains("expected W"));
        assert!(Uai::parse("").unwrap_err().contains("required"));
        let corsica = format!("6200002{}", Uai::check_letter("6200002") as char);
        assert_eq!(Uai::parse(&corsica).unwrap().department(), "2A");
    }

    #[test]
    fn emails_names_numen() {
        assert_eq!(
            Email::parse(" Marie.Curie@AC-Bordeaux.FR ")
                .unwrap()
                .as_str(),
            "Marie.Curie@ac-bordeaux.fr"
        );
        for bad in ["marie", "marie@", "@ac.fr", "marie@localhost", "a..b@ac.fr"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(PersonName::parse("R2D2").is_err());
        assert_eq!(
            PersonName::parse("  Le   Goff ").unwrap().as_str(),
            "Le Goff"
        );
        assert_eq!(
            StaffNumber::parse("12e0123456abc").unwrap().as_str(),
            "12E0123456ABC"
        );
        assert!(StaffNumber::parse("12E01234").is_err());
        assert!(academy(" Limoges ").is_ok());
        assert!(academy("atlantis").is_err());
        assert!(academy("").unwrap_err().contains("required"));
    }

    #[test]
    fn workplace_must_be_in_the_home_academy() {
        let uai = |d: &str| Uai::parse(&format!("{d}{}", Uai::check_letter(d) as char)).unwrap();
        let t = |home: &str, workplace: Uai| Trainee {
            last_name: PersonName::parse("Martin").unwrap(),
            first_name: PersonName::parse("Léa").unwrap(),
            birth_date: None,
            email: Email::parse("lea.martin@ac-limoges.fr").unwrap(),
            staff_number: StaffNumber::parse("12E0000001ABC").unwrap(),
            sex: Sex::Female,
            workplace_uai: workplace,
            home_academy: Academy::find(home).unwrap(),
        };
        assert!(t("limoges", uai("0870015")).workplace_violation().is_none());
        assert!(
            t("bordeaux", uai("0870015"))
                .workplace_violation()
                .unwrap()
                .contains("Limoges")
        );
    }

    proptest! {
        #[test]
        fn every_uai_has_exactly_one_valid_letter(n in 0u32..10_000_000) {
            let digits = format!("{n:07}");
            let valid = UAI_KEY.iter().filter(|&&l| Uai::parse(&format!("{digits}{}", l as char)).is_ok()).count();
            prop_assert_eq!(valid, 1);
        }

        #[test]
        fn names_never_hold_digits(s in "\\PC{0,40}") {
            if let Ok(n) = PersonName::parse(&s) {
                prop_assert!(!n.as_str().chars().any(|c| c.is_ascii_digit()));
            }
        }
    }
}
