//! The printable certificate: an A4 PDF stating exactly what the credential states, with a QR
//! code that points at the verification (drawn module by module as filled rectangles).

use chrono::{DateTime, Utc};
use cplds_runtime::{
    pdf::{Document, Font, PAGE_WIDTH, Page},
    time::paris_date,
};

use crate::domain::certificate::{SHORT_TITLE, Statement};

/// Where the QR code sits (bottom-left corner, points) and its side, quiet zone excluded.
const QR_X: f32 = 60.0;
const QR_Y: f32 = 70.0;
const QR_SIDE: f32 = 120.0;

fn human_date(t: DateTime<Utc>) -> String {
    paris_date(t).format("%d/%m/%Y").to_string()
}

/// The PDF of an issued certificate. `verification` is what the QR code holds (the verification
/// URL, or the number and code alone when no public address is configured); `code` the
/// verification code printed beside it.
pub fn certificate_pdf(
    s: &Statement,
    verification: &str,
    code: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut doc = Document::new(&format!("{SHORT_TITLE} {}", s.number));
    let page = doc.page();
    heading(page, s);
    let y = statements(page, s);
    page.centered(
        y - 18.0,
        Font::Mono,
        12.0,
        &format!("Certificat n° {}", s.number),
    );
    page.text(
        330.0,
        380.0,
        Font::Regular,
        11.0,
        &format!("Fait le {}", human_date(s.issued_at)),
    );
    page.paragraph(330.0, 362.0, 200.0, Font::Oblique, 10.0, &s.signatory);
    verification_block(page, verification, code)?;
    Ok(doc.finish())
}

/// The République, the académie, a duplicate's mention, and the title.
fn heading(page: &mut Page, s: &Statement) {
    let academy = format!(
        "Académie {}",
        crate::domain::certificate::of_academy(s.academy.name)
    );
    page.centered(792.0, Font::Bold, 11.0, "RÉPUBLIQUE FRANÇAISE");
    page.centered(774.0, Font::Regular, 12.0, &academy);
    if let Some(at) = s.last_duplicate_at {
        page.centered(
            744.0,
            Font::Bold,
            13.0,
            &format!("DUPLICATA délivré le {}", human_date(at)),
        );
    }
    page.centered(
        700.0,
        Font::Bold,
        20.0,
        "Certificat de professionnalisation",
    );
    page.centered(
        676.0,
        Font::Bold,
        16.0,
        "en matière de lutte contre le décrochage scolaire",
    );
    page.centered(656.0, Font::Bold, 14.0, &format!("({SHORT_TITLE})"));
    page.line(72.0, 640.0, PAGE_WIDTH - 72.0, 640.0, 0.8);
}

/// The texts the certificate rests on, and what it certifies of whom; returns where the text
/// ends.
fn statements(page: &mut Page, s: &Statement) -> f32 {
    let width = PAGE_WIDTH - 144.0;
    let mut y = 612.0;
    for considering in [
        "Vu le décret n° 2017-791 du 5 mai 2017 portant création d'un certificat de \
         professionnalisation en matière de lutte contre le décrochage scolaire ;"
            .to_owned(),
        "Vu l'arrêté du 5 mai 2017 relatif à l'organisation de l'examen du certificat ;".to_owned(),
        format!(
            "Vu la délibération de la commission de la session {}, publiée le {} ;",
            s.year(),
            human_date(s.admitted_at)
        ),
    ] {
        y = page.paragraph(72.0, y, width, Font::Regular, 10.0, &considering) - 4.0;
    }
    y = page.paragraph(
        72.0,
        y - 10.0,
        width,
        Font::Regular,
        11.0,
        &format!("{} certifie que", s.signatory),
    );
    page.centered(y - 26.0, Font::Bold, 22.0, &s.holder_name);
    page.paragraph(
        72.0,
        y - 62.0,
        width,
        Font::Regular,
        11.0,
        &format!(
            "a obtenu le certificat de professionnalisation en matière de lutte contre le \
             décrochage scolaire, session {}.",
            s.year()
        ),
    )
}

/// The QR code and its caption: where and how to verify.
fn verification_block(
    page: &mut Page,
    verification: &str,
    code: Option<&str>,
) -> Result<(), String> {
    page.qr_code(QR_X, QR_Y, QR_SIDE, verification)?;
    if let Some(code) = code {
        page.text(
            QR_X,
            QR_Y - 16.0,
            Font::Mono,
            10.0,
            &format!("Code de vérification : {code}"),
        );
    }
    let caption_x = QR_X + QR_SIDE + 16.0;
    page.text(
        caption_x,
        QR_Y + QR_SIDE - 12.0,
        Font::Bold,
        9.0,
        "Vérifier ce certificat",
    );
    let caption = if verification.contains("://") {
        format!(
            "Le code renvoie à la vérification publique de l'académie : {verification}. \
             Elle indique si le certificat est valide ou révoqué et ce qu'il atteste."
        )
    } else {
        format!(
            "Le code contient le numéro et le code de vérification ({verification}), à \
             vérifier auprès du service public de vérification de l'académie \
             (VerifyCertificate, sans authentification)."
        )
    };
    page.paragraph(
        caption_x,
        QR_Y + QR_SIDE - 26.0,
        PAGE_WIDTH - caption_x - 60.0,
        Font::Regular,
        8.0,
        &format!(
            "{caption} Le numéro seul indique seulement si le certificat est valide ; le code de \
             vérification, imprimé sous le QR code, en montre les mentions. Le titulaire dispose aussi d'une attestation numérique signée \
             (W3C Verifiable Credential) vérifiable hors ligne avec les clés publiques de l'académie."
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cplds_runtime::pdf::extract_text;

    use super::*;

    fn statement(duplicate: bool) -> Statement {
        Statement {
            holder_name: "Inès SOULIÉ".into(),
            last_duplicate_at: duplicate
                .then(|| Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()),
            ..crate::domain::certificate::tests::statement()
        }
    }

    fn read_qr(pdf: &[u8]) -> String {
        cplds_runtime::testing::read_qr(pdf, QR_X, QR_Y, QR_SIDE)
    }

    #[test]
    fn prints_the_statement_and_a_readable_qr_code() {
        let url = "https://cplds.ac-toulouse.fr/verify/CPLDS-TOULOUSE-2025-000012?code=7KQ2-M9XD-A4TB-H3NW";
        let pdf = certificate_pdf(&statement(false), url, Some("7KQ2-M9XD-A4TB-H3NW")).unwrap();
        assert!(pdf.starts_with(b"%PDF-1.4"));
        let text = extract_text(&pdf);
        for expected in [
            "Académie de Toulouse",
            "Certificat de professionnalisation",
            "Inès SOULIÉ",
            "Certificat n° CPLDS-TOULOUSE-2025-000012",
            "publiée le 03/07/2025",
            "Fait le 10/07/2025",
            "session 2025",
            "Code de vérification : 7KQ2-M9XD-A4TB-H3NW",
        ] {
            assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
        }
        assert!(!text.contains("DUPLICATA"));
        assert_eq!(read_qr(&pdf), url);
        // The same certificate always gives the same bytes.
        assert_eq!(
            pdf,
            certificate_pdf(&statement(false), url, Some("7KQ2-M9XD-A4TB-H3NW")).unwrap()
        );
    }

    #[test]
    fn a_duplicate_says_so_and_a_bare_number_is_encoded() {
        let pdf = certificate_pdf(&statement(true), "CPLDS-TOULOUSE-2025-000012", None).unwrap();
        let text = extract_text(&pdf);
        assert!(text.contains("DUPLICATA délivré le 05/01/2026"), "{text}");
        assert_eq!(read_qr(&pdf), "CPLDS-TOULOUSE-2025-000012");
    }
}
