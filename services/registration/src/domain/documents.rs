//! Supporting documents (pièces justificatives): what is required, what is accepted.
//!
//! Source (`/work/shared/domain/README.md`, "Registration"): the arrêté de titularisation, or the
//! definitive contract / CDI, and a copy of an identity document.
//!
//! The content type is read from the bytes, not trusted from the client; the SHA-256 is kept so
//! a document can be proven unchanged. A candidacy holds a bounded number of documents, so
//! nobody fills the académie's storage five mebibytes at a time (issue 12 §4).

use cplds_runtime::kit::{RuleViolation, refuse};
use sha2::{Digest, Sha256};

pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// At most this many documents of one kind on a candidacy: a scan may take several files
/// (recto, verso), and the bound per kind keeps room for the required kinds.
pub const MAX_DOCUMENTS_PER_KIND: usize = 3;

/// One more document of `kind`, with `present` already there, or the bound that forbids it.
pub fn can_add(kind: DocumentKind, present: &[DocumentKind]) -> Result<(), RuleViolation> {
    if present.iter().filter(|k| **k == kind).count() >= MAX_DOCUMENTS_PER_KIND {
        return refuse(
            "TOO_MANY_DOCUMENTS",
            format!(
                "a candidacy holds at most {MAX_DOCUMENTS_PER_KIND} documents of a kind ({})",
                kind.label()
            ),
        );
    }
    Ok(())
}

cplds_runtime::text_enum!(DocumentKind { EmploymentProof => "employment_proof", Identity => "identity", Other => "other" });

impl DocumentKind {
    /// Arrêté de titularisation or definitive contract / CDI, and an identity document.
    pub const REQUIRED: [DocumentKind; 2] = [DocumentKind::EmploymentProof, DocumentKind::Identity];

    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::EmploymentProof => {
                "employment proof (arrêté de titularisation, contract or CDI)"
            }
            DocumentKind::Identity => "identity document",
            DocumentKind::Other => "other document",
        }
    }
}

/// The required kinds not present among `present`.
pub fn missing(present: &[DocumentKind]) -> Vec<DocumentKind> {
    DocumentKind::REQUIRED
        .into_iter()
        .filter(|k| !present.contains(k))
        .collect()
}

/// A document whose bytes passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub kind: DocumentKind,
    pub file_name: String,
    pub content_type: &'static str,
    pub sha256: String,
    pub size: usize,
}

pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

pub fn parse_file_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("is required".into());
    }
    if n.chars().count() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if n.contains(['/', '\\']) || n.chars().any(char::is_control) || n == "." || n == ".." {
        return Err("must be a plain file name (no path, no control characters)".into());
    }
    Ok(n.to_owned())
}

/// Checks the content; `declared` (optional) must agree with what the bytes are.
pub fn check_content(bytes: &[u8], declared: &str) -> Result<(&'static str, String), String> {
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "is {} bytes; the limit is {MAX_DOCUMENT_BYTES} (5 MiB)",
            bytes.len()
        ));
    }
    let detected = sniff(bytes).ok_or("must be a PDF, PNG or JPEG file")?;
    let declared = declared.trim().to_ascii_lowercase();
    let declared = if declared == "image/jpg" {
        "image/jpeg".to_owned()
    } else {
        declared
    };
    if !declared.is_empty() && declared != detected {
        return Err(format!(
            "is declared {declared} but the bytes are {detected}"
        ));
    }
    Ok((detected, hex::encode(Sha256::digest(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n...";

    #[test]
    fn the_type_is_read_from_the_bytes() {
        let (ct, sum) = check_content(PDF, "").unwrap();
        assert_eq!(ct, "application/pdf");
        assert_eq!(sum.len(), 64);
        assert_eq!(
            check_content(b"\x89PNG\r\n\x1a\n", "").unwrap().0,
            "image/png"
        );
    }

    #[test]
    fn only_pdf_png_and_jpeg_are_accepted() {
        assert_eq!(
            check_content(b"MZ\x90\x00 an executable", "").unwrap_err(),
            "must be a PDF, PNG or JPEG file"
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert_eq!(check_content(&[], "").unwrap_err(), "is empty");
    }

    #[test]
    fn a_document_is_at_most_5_mib() {
        let jpeg = |size: usize| {
            let mut bytes = vec![0u8; size];
            bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
            bytes
        };
        assert!(check_content(&jpeg(MAX_DOCUMENT_BYTES), "").is_ok());
        assert!(
            check_content(&jpeg(MAX_DOCUMENT_BYTES + 1), "")
                .unwrap_err()
                .contains("limit")
        );
    }

    #[test]
    fn a_declared_type_must_match_the_bytes() {
        assert!(
            check_content(PDF, "image/png")
                .unwrap_err()
                .contains("declared image/png")
        );
        assert!(check_content(PDF, " Application/PDF ").is_ok());
        assert_eq!(
            check_content(&[0xFF, 0xD8, 0xFF, 0xE0], "image/jpg")
                .unwrap()
                .0,
            "image/jpeg"
        );
    }

    #[test]
    fn a_file_name_is_a_plain_name() {
        assert!(parse_file_name("../../etc/passwd").is_err());
        assert!(parse_file_name("a\\b.pdf").is_err());
        assert!(parse_file_name("..").is_err());
        assert!(parse_file_name("a\u{7}.pdf").is_err());
        assert_eq!(parse_file_name("  ").unwrap_err(), "is required");
        assert!(parse_file_name(&"x".repeat(256)).is_err());
        assert_eq!(parse_file_name(" arrêté.pdf ").unwrap(), "arrêté.pdf");
    }

    #[test]
    fn documents_are_bounded_per_kind() {
        let three = [DocumentKind::Other; MAX_DOCUMENTS_PER_KIND];
        assert_eq!(
            can_add(DocumentKind::Other, &three).unwrap_err().rule,
            "TOO_MANY_DOCUMENTS"
        );
        assert!(can_add(DocumentKind::Identity, &three).is_ok());
        assert!(can_add(DocumentKind::Other, &three[1..]).is_ok());
    }

    #[test]
    fn employment_proof_and_identity_are_required() {
        assert_eq!(
            missing(&[DocumentKind::Identity, DocumentKind::Other]),
            vec![DocumentKind::EmploymentProof]
        );
        assert!(missing(&DocumentKind::REQUIRED).is_empty());
    }
}
