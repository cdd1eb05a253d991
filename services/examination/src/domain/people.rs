//! Who sits on boards: names, e-mail addresses (the subject of their tokens) and the code UAI of
//! their establishment, parsed with the runtime's `people` rules shared by every service.

use cplds_runtime::people::{Email, PersonName, Uai};

/// A last or first name: letters (any script), spaces, hyphens, apostrophes, dots; 1 to 100.
pub fn parse_name(s: &str) -> Result<String, String> {
    PersonName::parse(s).map(|n| n.as_str().to_owned())
}

/// An e-mail address, lowercased: it is compared with token subjects.
pub fn parse_email(s: &str) -> Result<String, String> {
    Email::parse(s).map(|e| e.as_str().to_ascii_lowercase())
}

/// True when a token subject names this person.
pub fn same_person(email: &str, subject: &str) -> bool {
    email.trim().eq_ignore_ascii_case(subject.trim())
}

/// Code UAI of an establishment: 7 digits and a check letter. Uppercased.
pub fn parse_uai(s: &str) -> Result<String, String> {
    Uai::parse(s).map(|u| u.as_str().to_owned())
}

pub fn uai_check_letter(digits: &str) -> u8 {
    Uai::check_letter(digits)
}

/// A UAI from its 7 digits, with its check letter.
pub fn uai_of(digits: u32) -> String {
    let d = format!("{:07}", digits % 10_000_000);
    let letter = uai_check_letter(&d) as char;
    format!("{d}{letter}")
}

/// Free text of at most `max` characters; `required` refuses an empty one.
pub fn parse_text(s: &str, max: usize, required: bool) -> Result<String, String> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err("is required".into());
    }
    if t.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn emails_and_names() {
        assert_eq!(
            parse_email(" Jury.President@AC-Toulouse.fr ").unwrap(),
            "jury.president@ac-toulouse.fr"
        );
        assert!(parse_email("no-at-sign").is_err());
        assert!(parse_email("").unwrap_err().contains("required"));
        assert!(same_person("a@b.fr", " A@B.FR"));
        assert_eq!(parse_name("  Marie   Curie ").unwrap(), "Marie Curie");
        assert!(parse_name("R2D2").is_err());
        assert!(parse_text("  ", 10, true).is_err());
        assert_eq!(parse_text("  ", 10, false).unwrap(), "");
        assert!(parse_text("abcdefghijk", 10, false).is_err());
    }

    #[test]
    fn uai_codes() {
        assert_eq!(parse_uai("0310036w").unwrap(), "0310036W");
        assert!(parse_uai("0310036X").unwrap_err().contains("expected W"));
        assert!(parse_uai("031003W").is_err());
    }

    proptest! {
        #[test]
        fn generated_uai_codes_parse(n in 0u32..10_000_000) {
            let u = uai_of(n);
            prop_assert_eq!(parse_uai(&u), Ok(u.clone()));
        }
    }
}
