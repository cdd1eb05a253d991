//! Who sits on boards and who is examined: e-mail addresses (the subject of their tokens) and free
//! text, with the runtime's `people` types shared by every service.

use cplds_runtime::people::{Email, Uai};

/// An e-mail address, wholly lowercased: it is stored and compared with token subjects.
pub fn parse_email(s: &str) -> Result<Email, String> {
    let e = Email::parse(s)?;
    Email::parse(&e.as_str().to_ascii_lowercase())
}

/// True when a token subject names the person of a stored e-mail address.
pub fn same_person(email: &str, subject: &str) -> bool {
    email.trim().eq_ignore_ascii_case(subject.trim())
}

/// A UAI from its 7 digits, with its check letter.
pub fn uai_of(digits: u32) -> String {
    Uai::of_number(digits).as_str().to_owned()
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
    fn emails_are_lowercased_whole() {
        assert_eq!(
            parse_email(" Jury.President@AC-Toulouse.fr ")
                .unwrap()
                .as_str(),
            "jury.president@ac-toulouse.fr"
        );
        assert!(parse_email("no-at-sign").is_err());
        assert!(parse_email("").unwrap_err().contains("required"));
        assert!(same_person("a@b.fr", " A@B.FR"));
    }

    /// Members' names and UAI codes are the runtime's types, with the rules the exam relies on.
    #[test]
    fn names_and_uai_codes() {
        use cplds_runtime::people::PersonName;
        assert_eq!(
            PersonName::parse("  Marie   Curie ").unwrap().as_str(),
            "Marie Curie"
        );
        assert!(PersonName::parse("R2D2").is_err());
        assert_eq!(Uai::parse("0310036w").unwrap().as_str(), "0310036W");
        assert!(Uai::parse("0310036X").unwrap_err().contains("expected W"));
        assert!(Uai::parse("031003W").is_err());
    }

    #[test]
    fn text() {
        assert!(parse_text("  ", 10, true).is_err());
        assert_eq!(parse_text("  ", 10, false).unwrap(), "");
        assert!(parse_text("abcdefghijk", 10, false).is_err());
    }

    proptest! {
        #[test]
        fn generated_uai_codes_parse(n in 0u32..10_000_000) {
            let u = uai_of(n);
            prop_assert_eq!(Uai::parse(&u).map(|u| u.as_str().to_owned()), Ok(u.clone()));
        }
    }
}
