//! The life of a certificate and what it states.
//!
//! prepared (numbered, when the results say admitted) → issued (signed by the recteur) →
//! revoked (final). A prepared certificate whose candidate turns out not admitted is cancelled
//! and may be reinstated by a later decision; its number is never given to anyone else.

use chrono::{DateTime, Utc};
use cplds_runtime::{
    academy::Academy,
    kit::{RuleViolation, refuse},
    time::{paris_date, paris_year},
};

use super::number::{CertificateNumber, FIRST_YEAR};

cplds_runtime::text_enum!(
    /// Where a certificate stands.
    CertificateState {
    Prepared => "prepared",
    Issued => "issued",
    Revoked => "revoked",
    Cancelled => "cancelled",
});

cplds_runtime::text_enum!(
    /// Why the recteur revoked a certificate: a code, published; the free text stays inside.
    RevocationReason {
    Fraud => "fraud",
    AdministrativeError => "administrative_error",
    DecisionAnnulled => "decision_annulled",
    Other => "other",
});

impl RevocationReason {
    /// As a verifier reads it.
    pub fn label_fr(self) -> &'static str {
        match self {
            RevocationReason::Fraud => "fraude",
            RevocationReason::AdministrativeError => "erreur administrative",
            RevocationReason::DecisionAnnulled => "décision d'admission annulée",
            RevocationReason::Other => "autre motif",
        }
    }
}

/// The title printed on every certificate (décret n° 2017-791 of 5 May 2017).
pub const TITLE: &str =
    "Certificat de professionnalisation en matière de lutte contre le décrochage scolaire";
pub const SHORT_TITLE: &str = "CPLDS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuance {
    /// Sign and issue it now.
    Issue,
    /// Already issued: nothing to do (issuing is idempotent).
    AlreadyIssued,
}

pub fn can_issue(state: CertificateState) -> Result<Issuance, RuleViolation> {
    match state {
        CertificateState::Prepared => Ok(Issuance::Issue),
        CertificateState::Issued => Ok(Issuance::AlreadyIssued),
        CertificateState::Revoked => refuse(
            "CERTIFICATE_REVOKED",
            "the certificate was revoked; it cannot be issued again",
        ),
        CertificateState::Cancelled => refuse(
            "CERTIFICATE_CANCELLED",
            "the results no longer say the candidate is admitted",
        ),
    }
}

pub fn can_revoke(state: CertificateState) -> Result<(), RuleViolation> {
    match state {
        CertificateState::Issued => Ok(()),
        CertificateState::Revoked => {
            refuse("ALREADY_REVOKED", "the certificate is already revoked")
        }
        CertificateState::Prepared | CertificateState::Cancelled => {
            refuse("NOT_ISSUED", "only an issued certificate can be revoked")
        }
    }
}

/// Duplicates, PDF and credential exist only for an issued, unrevoked certificate.
pub fn can_deliver(state: CertificateState) -> Result<(), RuleViolation> {
    match state {
        CertificateState::Issued => Ok(()),
        CertificateState::Revoked => refuse(
            "CERTIFICATE_REVOKED",
            "the certificate was revoked; it is no longer delivered",
        ),
        CertificateState::Prepared | CertificateState::Cancelled => refuse(
            "NOT_ISSUED",
            "the certificate has not been issued by the recteur yet",
        ),
    }
}

/// A session can be issued once its results reached certification: at least one certificate
/// of the year exists (prepared, issued or revoked).
pub fn can_issue_session(year: i32, certificates_of_year: u64) -> Result<(), RuleViolation> {
    if certificates_of_year == 0 {
        return refuse(
            "NO_ADMITTED_CANDIDATES",
            format!(
                "no admitted candidate of the {year} session has reached certification: \
                 are the results published?"
            ),
        );
    }
    Ok(())
}

/// Another act changed the certificate between reading and writing it: the caller reads again.
pub fn changed_meanwhile() -> RuleViolation {
    RuleViolation::new(
        "CONCURRENT_CHANGE",
        "the certificate changed meanwhile; read it again",
    )
}

/// The recteur's own words on a revocation (kept inside the académie): at most 500
/// characters, and required when the reason is `other`. `None` when empty.
pub fn parse_revocation_text(
    reason: Option<RevocationReason>,
    text: &str,
) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.chars().count() > 500 {
        Err("must be at most 500 characters".into())
    } else if text.is_empty() && reason == Some(RevocationReason::Other) {
        Err("is required when the reason is OTHER".into())
    } else {
        Ok((!text.is_empty()).then(|| text.to_owned()))
    }
}

/// A year filter of a list: 0 for every year, or a session year.
pub fn parse_year_filter(year: i32) -> Result<Option<i32>, String> {
    match year {
        0 => Ok(None),
        y if (FIRST_YEAR..=9999).contains(&y) => Ok(Some(y)),
        _ => Err(format!(
            "must be 0 (all years) or a session year from {FIRST_YEAR}"
        )),
    }
}

/// What a published decision (results, appeal) does to the certificate of a candidacy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparation {
    /// No certificate yet: prepare one (a new number).
    Prepare,
    /// Prepared, not signed: bring the holder's details up to date.
    Refresh,
    /// Cancelled earlier, admitted now: prepared again, same number.
    Reinstate,
    /// Not admitted any more, not signed yet: cancelled.
    Cancel,
    /// Nothing to do (signed certificates change only by the recteur's acts).
    Keep,
}

pub fn on_decision(existing: Option<CertificateState>, admitted: bool) -> Preparation {
    use CertificateState::*;
    match (existing, admitted) {
        (None, true) => Preparation::Prepare,
        (None, false) => Preparation::Keep,
        (Some(Prepared), true) => Preparation::Refresh,
        (Some(Cancelled), true) => Preparation::Reinstate,
        (Some(Prepared), false) => Preparation::Cancel,
        (Some(Cancelled), false) | (Some(Issued | Revoked), _) => Preparation::Keep,
    }
}

/// A session year the recteur may act on: from the first session to two years ahead of `now`.
pub fn parse_session_year(year: i32, now: DateTime<Utc>) -> Result<i32, String> {
    let max = paris_year(now) + 2;
    if (FIRST_YEAR..=max).contains(&year) {
        Ok(year)
    } else {
        Err(format!("must be between {FIRST_YEAR} and {max}"))
    }
}

/// A person's name as the results carry it: trimmed, 1 to 100 characters, no control character.
pub fn parse_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is required".into());
    }
    if t.chars().count() > 100 {
        return Err("must be at most 100 characters".into());
    }
    if t.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The holder as printed: first name as given, last name in capitals (`Camille MARTIN-DURAND`).
pub fn holder_name(first_name: &str, last_name: &str) -> String {
    format!("{first_name} {}", last_name.to_uppercase())
}

/// An optional signatory name: empty means none.
pub fn parse_signatory_name(s: &str) -> Result<Option<String>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    parse_name(s).map(Some)
}

/// "de Toulouse", "d'Amiens": French elision before a vowel.
pub fn of_academy(name: &str) -> String {
    match name.chars().next() {
        Some(c) if "AEIOUYÉÈÊÎÏÔ".contains(c) => format!("d'{name}"),
        _ => format!("de {name}"),
    }
}

/// The signatory as printed: the recteur of the académie, with their name when given.
pub fn signatory(academy: &Academy, name: Option<&str>) -> String {
    let office = format!(
        "recteur de l'académie {}, chancelier des universités",
        of_academy(academy.name)
    );
    match name {
        Some(n) => format!("{n}, {office}"),
        None => format!("Le {office}"),
    }
}

/// Everything a certificate states, as printed on the PDF, signed in the credential and shown by
/// the public verification: nothing more (no e-mail, staff number or birth date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub number: CertificateNumber,
    pub holder_name: String,
    pub academy: &'static Academy,
    pub admitted_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub signatory: String,
    pub last_duplicate_at: Option<DateTime<Utc>>,
}

impl Statement {
    pub fn year(&self) -> i32 {
        self.number.year()
    }

    pub fn admission_date(&self) -> String {
        paris_date(self.admitted_at).format("%Y-%m-%d").to_string()
    }

    pub fn issue_date(&self) -> String {
        paris_date(self.issued_at).format("%Y-%m-%d").to_string()
    }

    pub fn last_duplicate_date(&self) -> Option<String> {
        self.last_duplicate_at
            .map(|t| paris_date(t).format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;

    /// A statement as the tests of every module print, sign and verify it.
    pub(crate) fn statement() -> Statement {
        Statement {
            number: CertificateNumber::parse("CPLDS-TOULOUSE-2025-000012").unwrap(),
            holder_name: "Inès GARCIA".into(),
            academy: Academy::find("toulouse").unwrap(),
            admitted_at: Utc.with_ymd_and_hms(2025, 7, 3, 8, 0, 0).unwrap(),
            issued_at: Utc.with_ymd_and_hms(2025, 7, 10, 9, 30, 0).unwrap(),
            signatory: "Le recteur de l'académie de Toulouse, chancelier des universités".into(),
            last_duplicate_at: None,
        }
    }

    #[test]
    fn issuing_signs_a_prepared_certificate_once() {
        use CertificateState::*;
        assert_eq!(can_issue(Prepared), Ok(Issuance::Issue));
        assert_eq!(can_issue(Issued), Ok(Issuance::AlreadyIssued));
        assert_eq!(can_issue(Revoked).unwrap_err().rule, "CERTIFICATE_REVOKED");
        assert_eq!(
            can_issue(Cancelled).unwrap_err().rule,
            "CERTIFICATE_CANCELLED"
        );
    }

    #[test]
    fn only_an_issued_certificate_is_revoked() {
        use CertificateState::*;
        assert!(can_revoke(Issued).is_ok());
        assert_eq!(can_revoke(Revoked).unwrap_err().rule, "ALREADY_REVOKED");
        assert_eq!(can_revoke(Prepared).unwrap_err().rule, "NOT_ISSUED");
        assert_eq!(can_revoke(Cancelled).unwrap_err().rule, "NOT_ISSUED");
    }

    #[test]
    fn only_an_issued_certificate_is_delivered() {
        use CertificateState::*;
        assert!(can_deliver(Issued).is_ok());
        assert_eq!(
            can_deliver(Revoked).unwrap_err().rule,
            "CERTIFICATE_REVOKED"
        );
        assert_eq!(can_deliver(Prepared).unwrap_err().rule, "NOT_ISSUED");
        assert_eq!(can_deliver(Cancelled).unwrap_err().rule, "NOT_ISSUED");
    }

    #[test]
    fn a_session_without_certificates_is_not_issued() {
        let refused = can_issue_session(2025, 0).unwrap_err();
        assert_eq!(refused.rule, "NO_ADMITTED_CANDIDATES");
        assert!(refused.message.contains("2025 session"));
        assert!(can_issue_session(2025, 1).is_ok());
        assert_eq!(changed_meanwhile().rule, "CONCURRENT_CHANGE");
    }

    #[test]
    fn stored_words_read_back() {
        for s in CertificateState::ALL {
            assert_eq!(CertificateState::parse(s.as_str()), Some(*s));
        }
        for r in RevocationReason::ALL {
            assert_eq!(RevocationReason::parse(r.as_str()), Some(*r));
        }
        assert!(
            "withdrawn"
                .parse::<CertificateState>()
                .unwrap_err()
                .to_string()
                .contains("prepared, issued, revoked, cancelled")
        );
    }

    #[test]
    fn revocation_text_is_short_and_required_for_other() {
        use RevocationReason::*;
        assert_eq!(parse_revocation_text(Some(Fraud), "  "), Ok(None));
        assert_eq!(
            parse_revocation_text(Some(Other), " dossier 17 "),
            Ok(Some("dossier 17".into()))
        );
        assert!(
            parse_revocation_text(Some(Other), " ")
                .unwrap_err()
                .contains("OTHER")
        );
        // An unreadable reason is refused on its own field; the text is not blamed for it.
        assert_eq!(parse_revocation_text(None, ""), Ok(None));
        assert!(parse_revocation_text(Some(Fraud), &"é".repeat(501)).is_err());
        assert!(parse_revocation_text(Some(Fraud), &"é".repeat(500)).is_ok());
    }

    #[test]
    fn year_filters() {
        assert_eq!(parse_year_filter(0), Ok(None));
        assert_eq!(parse_year_filter(2017), Ok(Some(2017)));
        assert!(parse_year_filter(2016).unwrap_err().contains("2017"));
        assert!(parse_year_filter(10_000).is_err());
    }

    #[test]
    fn decisions_never_touch_a_signed_certificate() {
        use CertificateState::*;
        assert_eq!(on_decision(None, true), Preparation::Prepare);
        assert_eq!(on_decision(None, false), Preparation::Keep);
        assert_eq!(on_decision(Some(Prepared), true), Preparation::Refresh);
        assert_eq!(on_decision(Some(Prepared), false), Preparation::Cancel);
        assert_eq!(on_decision(Some(Cancelled), true), Preparation::Reinstate);
        assert_eq!(on_decision(Some(Cancelled), false), Preparation::Keep);
        for admitted in [true, false] {
            assert_eq!(on_decision(Some(Issued), admitted), Preparation::Keep);
            assert_eq!(on_decision(Some(Revoked), admitted), Preparation::Keep);
        }
    }

    #[test]
    fn session_years() {
        let now = Utc.with_ymd_and_hms(2025, 7, 1, 0, 0, 0).unwrap();
        assert_eq!(parse_session_year(2025, now), Ok(2025));
        assert_eq!(parse_session_year(2017, now), Ok(2017));
        assert!(parse_session_year(2016, now).is_err());
        assert!(parse_session_year(2028, now).unwrap_err().contains("2027"));
    }

    #[test]
    fn names_as_printed() {
        assert_eq!(
            holder_name("Inès", &parse_name("  Soulié-de  la Tour ").unwrap()),
            "Inès SOULIÉ-DE LA TOUR"
        );
        assert!(parse_name(" ").is_err());
        assert!(parse_name("a\u{7}b").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert_eq!(parse_signatory_name("").unwrap(), None);
        let toulouse = Academy::find("toulouse").unwrap();
        assert_eq!(
            signatory(toulouse, None),
            "Le recteur de l'académie de Toulouse, chancelier des universités"
        );
        assert_eq!(
            signatory(Academy::find("amiens").unwrap(), Some("Anne Dupont")),
            "Anne Dupont, recteur de l'académie d'Amiens, chancelier des universités"
        );
    }
}
