//! The training attestation: a one-page printable PDF, rendered from what was recorded. The same
//! facts give the same bytes, so the stored checksum identifies the document.

use chrono::{DateTime, NaiveDate, Utc};
use cplds_runtime::{
    academy::Academy,
    pdf::{Document, Font, PAGE_WIDTH, Page},
    time::paris_date,
};

use cplds_runtime::verification_code::VerificationCode;

use super::{
    calendar::SchoolYear,
    format_minutes,
    hours::Hours,
    programme::{Module, ModuleKind},
};

/// `ATT-BORDEAUX-2025-0007`.
pub fn number(academy: &Academy, year: SchoolYear, sequence: i64) -> String {
    format!(
        "ATT-{}-{}-{sequence:04}",
        academy.code.to_ascii_uppercase(),
        year.year()
    )
}

/// A number as someone typed it: normalised, with the académie that issued it.
pub fn parse_number(s: &str) -> Result<(String, &'static Academy), String> {
    const RULE: &str = "must look like ATT-<ACADÉMIE>-<YEAR>-<NNNN>, e.g. ATT-TOULOUSE-2025-0007";
    let n = s.trim().to_ascii_uppercase();
    if n.len() > 64 {
        return Err(format!("{RULE} (at most 64 characters)"));
    }
    let rest = n.strip_prefix("ATT-").ok_or(RULE)?;
    let mut parts = rest.rsplitn(3, '-');
    let (Some(serial), Some(year), Some(code)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(RULE.into());
    };
    let digits = |p: &str, min: usize| p.len() >= min && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(serial, 4) || !digits(year, 4) || year.len() != 4 {
        return Err(RULE.into());
    }
    let academy = Academy::find(&code.to_ascii_lowercase())
        .ok_or_else(|| format!("names no académie ({code:?}); {RULE}"))?;
    Ok((n, academy))
}

/// A checksum a verifier presents: 64 hexadecimal digits, lower-cased; empty means none.
pub fn parse_sha256(s: &str) -> Result<Option<String>, String> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("must be 64 hexadecimal digits (a SHA-256), or empty".into());
    }
    Ok(Some(s))
}

/// How the holder's name reads on a verification: `Camille DURAND`.
pub fn holder_name(first_name: &str, last_name: &str) -> String {
    format!("{first_name} {}", last_name.to_uppercase())
}

/// What a verifier is told of a number (and of what they hold of the document), with the
/// explanation they read. Numbers are sequential, so the number alone says only whether it was
/// issued: whose it is and what it states need the code printed on the document or the PDF's
/// checksum, or a loop over numbers would list every trainee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No attestation of that number was issued here.
    Unknown(String),
    /// One was, but the code or the document presented is not its own: nothing else is said.
    Altered(String),
    /// One was; the verifier gave the number alone and learns nothing personal.
    Issued(String),
    /// One was, and the verifier holds it (its code or its checksum): what it states is shown.
    Valid(String),
}

/// An attestation as issued, for its verification.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    pub holder: &'a str,
    pub sha256: &'a str,
    /// `None` for an attestation whose stored code is unreadable: only its checksum shows it.
    pub code: Option<&'a VerificationCode>,
    pub issued_on: NaiveDate,
}

/// What the verifier holds of the document, beside its number.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The code printed under the QR code (or carried by it).
    pub code: Option<&'a VerificationCode>,
    /// The SHA-256 of the PDF, lower-case hex.
    pub sha256: Option<&'a str>,
}

/// The verdict on a number `issuer` gave (as parsed), asked of `here`: another académie's
/// numbers are checked there; whatever is presented must be the issued document's, and only
/// then is its content shown.
pub fn verify(
    here: &Academy,
    issuer: &Academy,
    issued: Option<Issued<'_>>,
    presented: Presented<'_>,
) -> Verdict {
    if issuer != here {
        return Verdict::Unknown(format!(
            "Ce numéro a été attribué par l'académie de {} : vérifiez-le auprès d'elle.",
            issuer.name
        ));
    }
    let Some(a) = issued else {
        return Verdict::Unknown(
            "Aucune attestation de formation portant ce numéro n'a été délivrée par l'académie."
                .into(),
        );
    };
    let code_holds = presented
        .code
        .map(|given| a.code.is_some_and(|c| c.matches(given)));
    let sha_holds = presented.sha256.map(|given| given == a.sha256);
    match (code_holds, sha_holds) {
        (Some(false), _) | (_, Some(false)) => Verdict::Altered(
            "Une attestation portant ce numéro a été délivrée par l'académie, mais le code ou le \
             document présenté n'est pas le sien."
                .into(),
        ),
        (None, None) => Verdict::Issued(
            "Une attestation de formation portant ce numéro a été délivrée par l'académie. Pour \
             voir à qui et ce qu'elle atteste, saisissez le code de vérification imprimé sous \
             son QR code (ou l'empreinte SHA-256 du document)."
                .into(),
        ),
        _ => Verdict::Valid(format!(
            "Attestation authentique, délivrée à {} le {} : vérifiez que ces mentions sont \
             celles du document présenté.",
            a.holder,
            a.issued_on.format("%d/%m/%Y")
        )),
    }
}

pub struct Attestation<'a> {
    pub number: &'a str,
    pub organizing: &'a Academy,
    pub home: &'a Academy,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub school_year: SchoolYear,
    pub cohort_title: &'a str,
    pub programme_title: &'a str,
    pub programme_version: i32,
    /// The modules followed, with the minutes credited.
    pub modules: Vec<(&'a Module, u32)>,
    pub hours: Hours,
    pub tutor: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub issued_by: &'a str,
    /// The verification code, as printed (`7KQ2-M9XD-A4TB-H3NW`).
    pub code: &'a str,
    /// What the QR code holds: the attestation's verification page with its code, or its number
    /// and code when the académie has no public address.
    pub verification: &'a str,
}

/// Where the QR code sits (bottom-left corner, points) and its side.
pub const QR_X: f32 = PAGE_WIDTH - 60.0 - QR_SIDE;
pub const QR_Y: f32 = 88.0;
pub const QR_SIDE: f32 = 80.0;

/// Left margin, in points.
const LEFT: f32 = 60.0;

pub fn render(a: &Attestation) -> Result<Vec<u8>, String> {
    let mut doc = Document::new(&format!("Attestation de formation {}", a.number));
    let page = doc.page();
    heading(page, a);
    let y = statement(page, a);
    let y = hours_followed(page, a, y);
    signature(page, a, y);
    footer(page, a)?;
    Ok(doc.finish())
}

/// The issuing académie, the number, the title.
fn heading(page: &mut Page, a: &Attestation) {
    let left = LEFT;
    page.text(left, 790.0, Font::Bold, 11.0, "RÉPUBLIQUE FRANÇAISE");
    page.text(
        left,
        774.0,
        Font::Regular,
        10.0,
        &format!("Région académique {}", a.organizing.region.name),
    );
    page.text(
        left,
        760.0,
        Font::Regular,
        10.0,
        &format!("Académie de {}", a.organizing.name),
    );
    page.text(
        PAGE_WIDTH - 230.0,
        790.0,
        Font::Mono,
        9.0,
        &format!("N° {}", a.number),
    );
    page.centered(700.0, Font::Bold, 18.0, "Attestation de formation");
    page.centered(
        680.0,
        Font::Regular,
        10.5,
        "Certificat de professionnalisation en matière de lutte contre le décrochage scolaire",
    );
    page.centered(
        666.0,
        Font::Regular,
        10.5,
        "(CPLDS — décret n° 2017-791 du 5 mai 2017)",
    );
    page.line(left, 650.0, PAGE_WIDTH - left, 650.0, 0.5);
}

/// What the académie attests, naming the trainee; returns where the text ends.
fn statement(page: &mut Page, a: &Attestation) -> f32 {
    let (left, width) = (LEFT, PAGE_WIDTH - 2.0 * LEFT);
    let shared = if a.home == a.organizing {
        String::new()
    } else {
        format!(", de l’académie de {},", a.home.name)
    };
    page.paragraph(
        left,
        625.0,
        width,
        Font::Regular,
        11.0,
        &format!(
            "L’académie de {} atteste que {} {}{} a suivi la formation préparatoire au CPLDS \
             de l’année scolaire {} (« {} »), selon le programme « {} » (version {}), et l’a \
             achevée.",
            a.organizing.name,
            a.first_name,
            a.last_name.to_uppercase(),
            shared,
            a.school_year.label(),
            a.cohort_title,
            a.programme_title,
            a.programme_version
        ),
    )
}

/// The hours by kind of module, each module with its minutes, the total and how it was
/// followed; returns where the table ends.
fn hours_followed(page: &mut Page, a: &Attestation, mut y: f32) -> f32 {
    let left = LEFT;
    y -= 8.0;
    page.text(left, y, Font::Bold, 11.0, "Heures suivies");
    y -= 18.0;
    for kind in ModuleKind::ALL {
        let minutes = match kind {
            ModuleKind::Theory => a.hours.theory,
            ModuleKind::Deepening => a.hours.deepening,
            ModuleKind::Practical => a.hours.practical,
        };
        page.text(
            left + 10.0,
            y,
            Font::Regular,
            10.0,
            &capitalised(kind.label()),
        );
        page.text(
            left + 330.0,
            y,
            Font::Regular,
            10.0,
            &format_minutes(minutes),
        );
        y -= 14.0;
        for (m, credited) in a.modules.iter().filter(|(m, _)| m.kind == *kind) {
            let title: String = m.title.chars().take(60).collect();
            page.text(
                left + 24.0,
                y,
                Font::Oblique,
                8.5,
                &format!("{} — {title}", m.code),
            );
            page.text(
                left + 330.0,
                y,
                Font::Oblique,
                8.5,
                &format_minutes(*credited),
            );
            y -= 11.5;
        }
        y -= 4.0;
    }
    page.line(left + 10.0, y + 6.0, left + 400.0, y + 6.0, 0.3);
    y -= 8.0;
    page.text(left + 10.0, y, Font::Bold, 10.5, "Total");
    page.text(
        left + 330.0,
        y,
        Font::Bold,
        10.5,
        &format_minutes(a.hours.total()),
    );
    y -= 16.0;
    page.text(
        left + 10.0,
        y,
        Font::Regular,
        9.5,
        &format!(
            "dont présentiel {} (stage tutoré {}), distanciel synchrone {}, asynchrone {}",
            format_minutes(a.hours.presence),
            format_minutes(a.hours.internship),
            format_minutes(a.hours.synchronous_distance),
            format_minutes(a.hours.asynchronous_distance)
        ),
    );
    y - 24.0
}

/// The tutor, the day and who signs for the recteur.
fn signature(page: &mut Page, a: &Attestation, mut y: f32) {
    let left = LEFT;
    if let Some(tutor) = &a.tutor {
        page.text(left, y, Font::Regular, 10.0, &format!("Tuteur : {tutor}"));
        y -= 16.0;
    }
    let day = paris_date(a.issued_at).format("%d/%m/%Y").to_string();
    page.text(
        left,
        y - 10.0,
        Font::Regular,
        10.0,
        &format!(
            "Fait le {day}, pour la recteure ou le recteur de l’académie de {},",
            a.organizing.name
        ),
    );
    page.text(
        left,
        y - 24.0,
        Font::Regular,
        10.0,
        &format!("par délégation, le service de formation ({})", a.issued_by),
    );
}

/// The number again, and the QR code of the verification page.
fn footer(page: &mut Page, a: &Attestation) -> Result<(), String> {
    let left = LEFT;
    page.line(left, 70.0, PAGE_WIDTH - left, 70.0, 0.3);
    page.text(
        left,
        56.0,
        Font::Mono,
        7.5,
        &format!(
            "{} — attestation délivrée au titre de l’arrêté du 5 mai 2017 relatif à la formation",
            a.number
        ),
    );
    page.text(
        QR_X,
        QR_Y + QR_SIDE + 8.0,
        Font::Regular,
        7.5,
        "Vérifier en ligne :",
    );
    page.qr_code(QR_X, QR_Y, QR_SIDE, a.verification)?;
    page.text(
        QR_X - 20.0,
        QR_Y - 10.0,
        Font::Mono,
        7.5,
        &format!("Code : {}", a.code),
    );
    Ok(())
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use cplds_runtime::{pdf::extract_text, time::parse_paris_local};

    use super::*;
    use crate::domain::programme::tests::standard;

    #[test]
    fn the_attestation_reads_right_and_is_deterministic() {
        let p = standard();
        let bordeaux = Academy::find("bordeaux").unwrap();
        let limoges = Academy::find("limoges").unwrap();
        let mut hours = Hours::default();
        let modules: Vec<(&Module, u32)> = p
            .modules
            .iter()
            .filter(|m| !["A4", "A5"].contains(&m.code.as_str()))
            .map(|m| (m, m.minutes))
            .collect();
        for (m, c) in &modules {
            hours.add(m, *c);
        }
        let year =
            SchoolYear::containing(paris_date(parse_paris_local("2025-10-01T10:00").unwrap()));
        let n = number(bordeaux, year, 7);
        assert_eq!(n, "ATT-BORDEAUX-2025-0007");
        let a = Attestation {
            number: &n,
            organizing: bordeaux,
            home: limoges,
            first_name: "Léa",
            last_name: "Dupré",
            school_year: year,
            cohort_title: "Formation CPLDS 2025-2026",
            programme_title: "Programme 2017",
            programme_version: 1,
            modules,
            hours,
            tutor: Some("Paul Rivière".into()),
            issued_at: parse_paris_local("2026-05-04T10:00").unwrap(),
            issued_by: "eafc@ac-bordeaux.fr",
            code: "7KQ2-M9XD-A4TB-H3NW",
            verification: "https://cplds.ac-bordeaux.fr/verify/attestations/ATT-BORDEAUX-2025-0007?code=7KQ2-M9XD-A4TB-H3NW",
        };
        let pdf = render(&a).unwrap();
        assert_eq!(pdf, render(&a).unwrap());
        assert_eq!(
            cplds_runtime::testing::read_qr(&pdf, QR_X, QR_Y, QR_SIDE),
            a.verification
        );
        let text = extract_text(&pdf);
        for expected in [
            "Attestation de formation",
            "Académie de Bordeaux",
            "DUPRÉ",
            "de l’académie de Limoges",
            "2025-2026",
            "190 h",
            "120 h",
            "Tuteur : Paul Rivière",
            "04/05/2026",
            "ATT-BORDEAUX-2025-0007",
            "Code : 7KQ2-M9XD-A4TB-H3NW",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    fn issued<'a>(sha256: &'a str, code: &'a VerificationCode) -> Issued<'a> {
        Issued {
            holder: "Camille DURAND",
            sha256,
            code: Some(code),
            issued_on: NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
        }
    }

    fn code() -> VerificationCode {
        VerificationCode::from_bytes([7; 10])
    }

    #[test]
    fn another_academie_s_number_is_checked_there() {
        let (toulouse, lyon) = (
            Academy::find("toulouse").unwrap(),
            Academy::find("lyon").unwrap(),
        );
        let code = code();
        let Verdict::Unknown(why) = verify(
            toulouse,
            lyon,
            Some(issued("ab", &code)),
            Presented::default(),
        ) else {
            panic!("not unknown")
        };
        assert!(why.contains("Lyon"), "{why}");
    }

    #[test]
    fn a_number_not_issued_is_unknown() {
        let toulouse = Academy::find("toulouse").unwrap();
        assert!(matches!(
            verify(toulouse, toulouse, None, Presented::default()),
            Verdict::Unknown(why) if why.contains("Aucune attestation")
        ));
    }

    #[test]
    fn the_number_alone_says_issued_and_names_nobody() {
        let toulouse = Academy::find("toulouse").unwrap();
        let (sha, code) = ("ab".repeat(32), code());
        let Verdict::Issued(why) = verify(
            toulouse,
            toulouse,
            Some(issued(&sha, &code)),
            Presented::default(),
        ) else {
            panic!("not issued")
        };
        assert!(
            !why.contains("DURAND") && !why.contains("04/05/2026"),
            "{why}"
        );
    }

    #[test]
    fn the_code_or_the_checksum_shows_what_it_states() {
        let toulouse = Academy::find("toulouse").unwrap();
        let (sha, code) = ("ab".repeat(32), code());
        let check = |presented| verify(toulouse, toulouse, Some(issued(&sha, &code)), presented);
        for presented in [
            Presented {
                code: Some(&code),
                sha256: None,
            },
            Presented {
                code: None,
                sha256: Some(&sha),
            },
            Presented {
                code: Some(&code),
                sha256: Some(&sha),
            },
        ] {
            let Verdict::Valid(why) = check(presented) else {
                panic!("not valid")
            };
            assert!(
                why.starts_with("Attestation authentique, délivrée à Camille DURAND le 04/05/2026")
            );
        }
    }

    #[test]
    fn a_wrong_code_or_document_is_altered_and_names_nobody() {
        let toulouse = Academy::find("toulouse").unwrap();
        let (sha, code) = ("ab".repeat(32), code());
        let (other_sha, other_code) = ("cd".repeat(32), VerificationCode::from_bytes([8; 10]));
        let check = |presented| verify(toulouse, toulouse, Some(issued(&sha, &code)), presented);
        for presented in [
            Presented {
                code: Some(&other_code),
                sha256: None,
            },
            Presented {
                code: None,
                sha256: Some(&other_sha),
            },
            // One right piece of evidence does not excuse a wrong one.
            Presented {
                code: Some(&code),
                sha256: Some(&other_sha),
            },
            Presented {
                code: Some(&other_code),
                sha256: Some(&sha),
            },
        ] {
            let Verdict::Altered(why) = check(presented) else {
                panic!("not altered")
            };
            assert!(!why.contains("DURAND"), "{why}");
        }
        // An attestation without a readable code is shown by its checksum only.
        let no_code = Issued {
            code: None,
            ..issued(&sha, &code)
        };
        assert!(matches!(
            verify(
                toulouse,
                toulouse,
                Some(no_code),
                Presented {
                    code: Some(&code),
                    sha256: None
                }
            ),
            Verdict::Altered(_)
        ));
    }

    #[test]
    fn checksums_and_names() {
        assert_eq!(parse_sha256(" "), Ok(None));
        let sha = "AB".repeat(32);
        assert_eq!(parse_sha256(&sha), Ok(Some("ab".repeat(32))));
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"zz".repeat(32)).is_err());
        assert_eq!(holder_name("Camille", "Durand"), "Camille DURAND");
    }

    #[test]
    fn numbers_parse_back_whatever_the_case() {
        let toulouse = Academy::find("toulouse").unwrap();
        let n = number(toulouse, SchoolYear::from_stored(2025), 7);
        assert_eq!(n, "ATT-TOULOUSE-2025-0007");
        let (parsed, academy) = parse_number(&format!("  {} ", n.to_lowercase())).unwrap();
        assert_eq!((parsed.as_str(), academy.code), (n.as_str(), "toulouse"));
        let (_, aix) = parse_number("ATT-AIX-MARSEILLE-2024-12345").unwrap();
        assert_eq!(aix.code, "aix-marseille");
        for bad in [
            "",
            "ATT-",
            "CPLDS-TOULOUSE-2025-000001",
            "ATT-TOULOUSE-2025-07",
            "ATT-TOULOUSE-25-0007",
            "ATT-ATLANTIS-2025-0007",
            "ATT-TOULOUSE-2025-00x7",
        ] {
            assert!(parse_number(bad).is_err(), "{bad:?}");
        }
    }
}
