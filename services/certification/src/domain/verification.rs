//! What public verification answers, and why, in the words a verifier reads. The registry's
//! word on a number ([`Finding`]), how much of it the verifier may see ([`Answer`]: by the
//! number alone, nothing personal; with the document's code or credential, what it states) and
//! the reasons a presented credential is not valid ([`Rejection`]) are decided here; the api
//! only loads the certificate and renders.

use chrono::{DateTime, Utc};
use cplds_runtime::{academy::Academy, time::paris_date};
use serde_json::Value;

use super::{
    certificate::{CertificateState, RevocationReason, Statement, of_academy},
    code::VerificationCode,
    credential::MAX_CREDENTIAL_BYTES,
    jcs,
    multibase::{SIGNATURE_BYTES, max_base58btc_chars},
    number::CertificateNumber,
    proof::{ProofError, SignedParts},
};

/// What the registry holds under a number, as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub state: CertificateState,
    /// `None` before issuance.
    pub statement: Option<Statement>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub reason: Option<RevocationReason>,
}

/// The registry's word on a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The number belongs to another académie: its own service answers.
    OtherAcademy(&'static str),
    /// Nothing issued here under this number (a prepared or cancelled certificate is not one).
    NotIssued,
    Valid(Statement),
    Revoked {
        statement: Statement,
        at: Option<DateTime<Utc>>,
        reason: Option<RevocationReason>,
    },
}

/// The finding for `number`, asked of académie `here`, with what its registry holds.
pub fn finding(
    here: &Academy,
    number: &CertificateNumber,
    registered: Option<Registered>,
) -> Finding {
    if number.academy() != here.code {
        return Finding::OtherAcademy(number.academy());
    }
    match registered {
        Some(Registered {
            state: CertificateState::Issued,
            statement: Some(statement),
            ..
        }) => Finding::Valid(statement),
        Some(Registered {
            state: CertificateState::Revoked,
            statement: Some(statement),
            revoked_at,
            reason,
        }) => Finding::Revoked {
            statement,
            at: revoked_at,
            reason,
        },
        _ => Finding::NotIssued,
    }
}

fn date_fr(t: DateTime<Utc>) -> String {
    paris_date(t).format("%d/%m/%Y").to_string()
}

impl Finding {
    pub fn explanation(&self) -> String {
        match self {
            Finding::OtherAcademy(code) => format!(
                "Ce numéro a été attribué par l'académie « {code} » : vérifiez-le auprès de son service de vérification."
            ),
            Finding::NotIssued => {
                "Aucun certificat portant ce numéro n'a été délivré par l'académie.".into()
            }
            Finding::Valid(s) => format!(
                "Certificat authentique et valide, délivré à {} le {} : vérifiez que ces mentions sont celles du document présenté.",
                s.holder_name,
                date_fr(s.issued_at)
            ),
            Finding::Revoked {
                statement,
                at,
                reason,
            } => format!(
                "Ce certificat a été délivré à {} puis révoqué le {} (motif : {}) : il n'est plus valide.",
                statement.holder_name,
                at.map(date_fr).unwrap_or_default(),
                reason.map_or("", RevocationReason::label_fr)
            ),
        }
    }

    /// The statements the verifier compares with the document, when there is a certificate.
    pub fn statement(&self) -> Option<&Statement> {
        match self {
            Finding::Valid(s) | Finding::Revoked { statement: s, .. } => Some(s),
            Finding::OtherAcademy(_) | Finding::NotIssued => None,
        }
    }
}

/// What the verifier holds of the document, beside its number.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// The number alone (typed, or looped over).
    Nothing,
    /// The verification code printed on the document (or carried by its QR code).
    Code(&'a VerificationCode),
    /// The credential, whose proof held: it states everything itself.
    Credential,
}

/// How much of the registry's word the verifier sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Everything the document states, and a revocation's date and reason: the verifier holds
    /// the document. Also a number that names no certificate here (nothing to hide).
    Full(Finding),
    /// The number alone: whether it is valid or revoked, and nothing personal (no name, no
    /// statement, no reason), so a loop over numbers lists nobody.
    StatusOnly { revoked: bool },
    /// A code that is not this certificate's: nothing is shown.
    WrongCode,
}

/// What `evidence` lets the verifier see of `finding`; `code` is the certificate's own.
pub fn answer(finding: Finding, evidence: Evidence<'_>, code: Option<&VerificationCode>) -> Answer {
    let revoked = match &finding {
        Finding::OtherAcademy(_) | Finding::NotIssued => return Answer::Full(finding),
        Finding::Valid(_) => false,
        Finding::Revoked { .. } => true,
    };
    match evidence {
        Evidence::Credential => Answer::Full(finding),
        Evidence::Code(given) if code.is_some_and(|c| c.matches(given)) => Answer::Full(finding),
        Evidence::Code(_) => Answer::WrongCode,
        Evidence::Nothing => Answer::StatusOnly { revoked },
    }
}

impl Answer {
    pub fn explanation(&self) -> String {
        match self {
            Answer::Full(f) => f.explanation(),
            Answer::StatusOnly { revoked: false } => {
                "Ce numéro est celui d'un certificat délivré par l'académie et valide. Pour voir \
                 son titulaire et ses mentions, saisissez aussi le code de vérification imprimé \
                 sous le QR code du certificat."
                    .into()
            }
            Answer::StatusOnly { revoked: true } => {
                "Ce numéro est celui d'un certificat délivré par l'académie puis révoqué : il \
                 n'est plus valide. Le code de vérification imprimé sur le certificat permet d'en \
                 voir les mentions."
                    .into()
            }
            Answer::WrongCode => {
                "Le code de vérification ne correspond pas à ce numéro : vérifiez la saisie ; \
                 sinon le document présenté n'est pas celui que l'académie a délivré sous ce numéro."
                    .into()
            }
        }
    }

    /// The statements, only when the verifier holds the document.
    pub fn statement(&self) -> Option<&Statement> {
        match self {
            Answer::Full(f) => f.statement(),
            Answer::StatusOnly { .. } | Answer::WrongCode => None,
        }
    }
}

/// Why a presented credential is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The proof is missing or malformed.
    Proof(ProofError),
    /// The verification method does not hold a key.
    Key(ProofError),
    /// Signed with a key that is not one of the académie's (named).
    ForeignKey(&'static str),
    /// The signature does not match the content.
    Altered,
    /// Signed by the académie, but not a certificate.
    NotACertificate,
    /// Signed and numbered, but not what was issued under the number.
    NotAsIssued,
}

impl Rejection {
    pub fn explanation(&self) -> String {
        match self {
            Rejection::Proof(e) => format!("La preuve de signature n'est pas valable : {e}."),
            Rejection::Key(e) => format!("La clé de signature n'est pas reconnue : {e}."),
            Rejection::ForeignKey(academy) => format!(
                "Signé avec une clé qui n'est pas une clé de l'académie {} : ce document n'a pas été délivré par elle.",
                of_academy(academy)
            ),
            Rejection::Altered => {
                "La signature ne correspond pas au contenu : le document a été modifié.".into()
            }
            Rejection::NotACertificate => "Ce document signé n'est pas un certificat CPLDS.".into(),
            Rejection::NotAsIssued => {
                "Ce document ne correspond pas au certificat délivré sous ce numéro.".into()
            }
        }
    }
}

/// Whether a presented credential whose proofs hold signs the very statements of the credential
/// stored at issuance (or at the last duplicate): the same document once its proofs are set
/// aside.
pub fn as_issued(stored: Option<&str>, presented: &SignedParts) -> bool {
    stored
        .and_then(|text| jcs::parse_strict(text).ok())
        .and_then(|v| match v {
            Value::Object(mut o) => {
                o.remove("proof");
                Some(Value::Object(o))
            }
            _ => None,
        })
        .is_some_and(|s| s == presented.unsecured)
}

/// The longest `proof.verificationMethod` accepted: a did:key (the Multikey twice, 105
/// characters) or the académie's did:web and a key id; nothing longer is looked at.
pub const MAX_METHOD_CHARS: usize = 512;

/// A proof value longer than any genuine one, refused before any decoding (base58 decoding is
/// quadratic in the length): the field's path and why. Each proof of a proof set is measured.
pub fn oversized_proof(document: &Value) -> Option<(String, String)> {
    let proofs: Vec<(String, &Value)> = match document.get("proof")? {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("credential_json.proof[{i}]"), p))
            .collect(),
        proof => vec![("credential_json.proof".to_owned(), proof)],
    };
    proofs.into_iter().find_map(|(at, proof)| {
        [
            (
                "proofValue",
                max_base58btc_chars(SIGNATURE_BYTES),
                "an Ed25519 signature in base58btc",
            ),
            (
                "verificationMethod",
                MAX_METHOD_CHARS,
                "a did:key or the académie's did:web and a key id",
            ),
        ]
        .into_iter()
        .find_map(|(name, max, what)| {
            let value = proof.get(name)?.as_str()?;
            (value.len() > max).then(|| {
                (
                    format!("{at}.{name}"),
                    format!(
                        "must be at most {max} characters ({what}); it has {}",
                        value.len()
                    ),
                )
            })
        })
    })
}

/// A credential presented for verification: at most [`MAX_CREDENTIAL_BYTES`], strict JSON
/// (no duplicate member), an object.
pub fn parse_presented(json: &str) -> Result<Value, String> {
    if json.len() > MAX_CREDENTIAL_BYTES {
        return Err(format!("must be at most {MAX_CREDENTIAL_BYTES} bytes"));
    }
    let document = jcs::parse_strict(json).map_err(|e| format!("is not JSON: {e}"))?;
    if !document.is_object() {
        return Err("must be a JSON object".into());
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::certificate::tests::statement;

    fn toulouse() -> &'static Academy {
        Academy::find("toulouse").unwrap()
    }

    fn number(text: &str) -> CertificateNumber {
        CertificateNumber::parse(text).unwrap()
    }

    fn registered(state: CertificateState, issued: bool) -> Option<Registered> {
        Some(Registered {
            state,
            statement: issued.then(statement),
            revoked_at: Some(Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap()),
            reason: Some(RevocationReason::Fraud),
        })
    }

    #[test]
    fn another_academys_number_is_sent_there() {
        let f = finding(toulouse(), &number("CPLDS-LYON-2025-000001"), None);
        assert_eq!(f, Finding::OtherAcademy("lyon"));
        assert!(f.explanation().contains("« lyon »"));
        assert!(f.statement().is_none());
    }

    #[test]
    fn only_issued_certificates_are_known() {
        let n = number("CPLDS-TOULOUSE-2025-000012");
        assert_eq!(finding(toulouse(), &n, None), Finding::NotIssued);
        for state in [CertificateState::Prepared, CertificateState::Cancelled] {
            assert_eq!(
                finding(toulouse(), &n, registered(state, false)),
                Finding::NotIssued
            );
        }
    }

    #[test]
    fn an_issued_certificate_is_valid_with_its_statements() {
        let n = number("CPLDS-TOULOUSE-2025-000012");
        let f = finding(toulouse(), &n, registered(CertificateState::Issued, true));
        assert_eq!(f, Finding::Valid(statement()));
        assert!(
            f.explanation()
                .contains("délivré à Inès GARCIA le 10/07/2025")
        );
    }

    #[test]
    fn a_revoked_certificate_says_when_and_why() {
        let n = number("CPLDS-TOULOUSE-2025-000012");
        let f = finding(toulouse(), &n, registered(CertificateState::Revoked, true));
        assert_eq!(f.statement(), Some(&statement()));
        let text = f.explanation();
        assert!(text.contains("révoqué le 01/09/2025"), "{text}");
        assert!(text.contains("(motif : fraude)"), "{text}");
    }

    #[test]
    fn the_number_alone_says_valid_or_revoked_and_nothing_personal() {
        let n = number("CPLDS-TOULOUSE-2025-000012");
        let code = VerificationCode::from_bytes([7; 10]);
        let wrong = VerificationCode::from_bytes([8; 10]);
        for (state, revoked) in [
            (CertificateState::Issued, false),
            (CertificateState::Revoked, true),
        ] {
            let f = || finding(toulouse(), &n, registered(state, true));
            let alone = answer(f(), Evidence::Nothing, Some(&code));
            assert_eq!(alone, Answer::StatusOnly { revoked });
            assert!(alone.statement().is_none());
            let text = alone.explanation();
            assert!(
                !text.contains("GARCIA") && !text.contains("fraude"),
                "{text}"
            );
            let wrong = answer(f(), Evidence::Code(&wrong), Some(&code));
            assert_eq!(wrong, Answer::WrongCode);
            assert!(wrong.statement().is_none());
            // A certificate without a stored code is never opened by a code.
            assert_eq!(answer(f(), Evidence::Code(&code), None), Answer::WrongCode);
            for shown in [Evidence::Code(&code), Evidence::Credential] {
                let full = answer(f(), shown, Some(&code));
                assert_eq!(full, Answer::Full(f()));
                assert!(full.explanation().contains("Inès GARCIA"));
            }
        }
        // Nothing issued: nothing to hide, whatever is given.
        assert_eq!(
            answer(finding(toulouse(), &n, None), Evidence::Code(&code), None),
            Answer::Full(Finding::NotIssued)
        );
    }

    #[test]
    fn oversized_proof_values_are_named_before_decoding() {
        let ok = serde_json::json!({"proof": {"proofValue": format!("z{}", "2".repeat(88))}});
        assert_eq!(oversized_proof(&ok), None);
        let big = serde_json::json!({"proof": {"proofValue": format!("z{}", "2".repeat(60_000))}});
        let (path, why) = oversized_proof(&big).unwrap();
        assert_eq!(path, "credential_json.proof.proofValue");
        assert!(why.contains("at most 89 characters"), "{why}");
        let method = serde_json::json!({"proof": {"verificationMethod": "d".repeat(600)}});
        assert_eq!(
            oversized_proof(&method).unwrap().0,
            "credential_json.proof.verificationMethod"
        );
        // In a proof set, each proof is measured and named by its position.
        let set = serde_json::json!({"proof": [
            {"proofValue": format!("z{}", "2".repeat(88))},
            {"proofValue": format!("z{}", "2".repeat(60_000))},
        ]});
        assert_eq!(
            oversized_proof(&set).unwrap().0,
            "credential_json.proof[1].proofValue"
        );
        assert_eq!(oversized_proof(&serde_json::json!({"proof": [1]})), None);
    }

    #[test]
    fn rejections_name_the_academy_in_french() {
        assert!(
            Rejection::ForeignKey("Amiens")
                .explanation()
                .contains("de l'académie d'Amiens")
        );
        assert!(Rejection::Altered.explanation().contains("modifié"));
    }

    #[test]
    fn a_presented_credential_is_a_small_json_object() {
        assert!(parse_presented(r#"{"id": "x"}"#).is_ok());
        assert!(
            parse_presented("not json")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(parse_presented("[1, 2]").unwrap_err().contains("object"));
        assert!(
            parse_presented(r#"{"a": 1, "a": 2}"#)
                .unwrap_err()
                .contains("not JSON")
        );
        let big = format!(r#"{{"x": "{}"}}"#, "a".repeat(MAX_CREDENTIAL_BYTES));
        assert!(parse_presented(&big).unwrap_err().contains("at most"));
    }
}
