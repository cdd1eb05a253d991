//! Who sits on boards: names, e-mail addresses (the subject of their tokens) and the code UAI of
//! their establishment. The same rules as registration's, kept here because services share
//! contracts, not code.

/// A last or first name: letters (any script), spaces, hyphens, apostrophes, dots; 1 to 100.
pub fn parse_name(s: &str) -> Result<String, String> {
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
    Ok(t)
}

/// An e-mail address, lowercased: it is compared with token subjects.
pub fn parse_email(s: &str) -> Result<String, String> {
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
    Ok(s.to_ascii_lowercase())
}

/// True when a token subject names this person.
pub fn same_person(email: &str, subject: &str) -> bool {
    email.trim().eq_ignore_ascii_case(subject.trim())
}

const UAI_KEY: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// Code UAI of an establishment: 7 digits and a check letter (the number modulo 23, in an
/// alphabet without I, O and Q). Uppercased.
pub fn parse_uai(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_uppercase();
    let b = t.as_bytes();
    if b.len() != 8 || !b[..7].iter().all(u8::is_ascii_digit) || !b[7].is_ascii_uppercase() {
        return Err(format!(
            "{s:?} is not a UAI code (7 digits and a letter, e.g. 0310036W)"
        ));
    }
    let expected = uai_check_letter(&t[..7]);
    if b[7] != expected {
        return Err(format!(
            "{t} has a wrong check letter (expected {})",
            expected as char
        ));
    }
    Ok(t)
}

pub fn uai_check_letter(digits: &str) -> u8 {
    let n: u64 = digits.parse().expect("7 digits");
    UAI_KEY[(n % 23) as usize]
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
