//! Printable documents (convocations, minutes, attestations, certificates) as small PDF files,
//! written directly: A4 pages, the standard Helvetica fonts in WinAnsi encoding (French accents),
//! text, lines and filled rectangles (enough to draw a QR code). No external tool or font file.
//!
//! ```
//! use cplds_runtime::pdf::{Document, Font};
//! let mut doc = Document::new("Convocation");
//! let page = doc.page();
//! page.text(72.0, 770.0, Font::Bold, 16.0, "Convocation à l'épreuve 1");
//! page.line(72.0, 760.0, 523.0, 760.0, 0.5);
//! let bytes = doc.finish();
//! assert!(bytes.starts_with(b"%PDF-1.4"));
//! ```

use std::io::Write as _;

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.0;
pub const PAGE_HEIGHT: f32 = 842.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
    Oblique,
    Mono,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
            Font::Oblique => "F3",
            Font::Mono => "F4",
        }
    }

    /// Average glyph width as a fraction of the size, for rough layout (wrapping, centring).
    pub fn approx_width(self, size: f32, text: &str) -> f32 {
        let per = match self {
            Font::Mono => 0.6,
            Font::Bold => 0.56,
            _ => 0.52,
        };
        text.chars().count() as f32 * size * per
    }
}

#[derive(Default)]
pub struct Page {
    /// Content stream operators; bytes, as text is WinAnsi, not UTF-8.
    ops: Vec<u8>,
}

impl Page {
    /// Text with its baseline at (x, y), origin bottom-left.
    pub fn text(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) -> &mut Self {
        let _ = write!(
            self.ops,
            "BT /{} {size:.1} Tf {x:.2} {y:.2} Td (",
            font.resource()
        );
        self.ops.extend(escape(text));
        self.ops.extend(b") Tj ET\n");
        self
    }

    /// Text centred on the page width.
    pub fn centered(&mut self, y: f32, font: Font, size: f32, text: &str) -> &mut Self {
        let x = (PAGE_WIDTH - font.approx_width(size, text)) / 2.0;
        self.text(x.max(20.0), y, font, size, text)
    }

    /// Text wrapped at `width` points; returns the y below the last line.
    pub fn paragraph(
        &mut self,
        x: f32,
        mut y: f32,
        width: f32,
        font: Font,
        size: f32,
        text: &str,
    ) -> f32 {
        for line in wrap(font, size, width, text) {
            self.text(x, y, font, size, &line);
            y -= size * 1.35;
        }
        y
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) -> &mut Self {
        let _ = writeln!(
            self.ops,
            "{width:.2} w {x1:.2} {y1:.2} m {x2:.2} {y2:.2} l S"
        );
        self
    }

    /// A filled black rectangle (x, y is the bottom-left corner).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) -> &mut Self {
        let _ = writeln!(self.ops, "{x:.3} {y:.3} {w:.3} {h:.3} re f");
        self
    }

    pub fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32) -> &mut Self {
        let _ = writeln!(self.ops, "{width:.2} w {x:.2} {y:.2} {w:.2} {h:.2} re S");
        self
    }

    /// A QR code holding `data` (error correction M), bottom-left corner at (x, y), `side`
    /// points wide; leave white around it (the quiet zone). Drawn as one filled rectangle per
    /// horizontal run of dark modules: no image stack.
    pub fn qr_code(&mut self, x: f32, y: f32, side: f32, data: &str) -> Result<&mut Self, String> {
        use qrcode::{Color, EcLevel, QrCode};
        let qr = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
            .map_err(|e| format!("QR code of {} bytes: {e}", data.len()))?;
        let n = qr.width();
        let module = side / n as f32;
        let colors = qr.to_colors();
        for row in 0..n {
            let top = y + (n - 1 - row) as f32 * module;
            let mut col = 0;
            while col < n {
                if colors[row * n + col] == Color::Dark {
                    let start = col;
                    while col < n && colors[row * n + col] == Color::Dark {
                        col += 1;
                    }
                    self.fill_rect(
                        x + start as f32 * module,
                        top,
                        (col - start) as f32 * module,
                        module,
                    );
                } else {
                    col += 1;
                }
            }
        }
        Ok(self)
    }
}

pub struct Document {
    title: String,
    pages: Vec<Page>,
}

impl Document {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            pages: Vec::new(),
        }
    }

    pub fn page(&mut self) -> &mut Page {
        let index = self.pages.len();
        self.pages.push(Page::default());
        &mut self.pages[index]
    }

    /// The PDF bytes. Deterministic: the same content gives the same bytes (checksums are stable).
    pub fn finish(mut self) -> Vec<u8> {
        if self.pages.is_empty() {
            self.page();
        }
        let n = self.pages.len();
        // Objects: 1 catalog, 2 pages, 3 info, 4..=7 fonts, then (page, content) pairs.
        let mut objects: Vec<Vec<u8>> = Vec::new();
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 8 + 2 * i)).collect();
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        objects
            .push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes());
        let mut info = b"<< /Title (".to_vec();
        info.extend(escape(&self.title));
        info.extend(b") /Producer (cplds) >>");
        objects.push(info);
        for base in [
            "Helvetica",
            "Helvetica-Bold",
            "Helvetica-Oblique",
            "Courier",
        ] {
            objects.push(
                format!(
                    "<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
                )
                .into_bytes(),
            );
        }
        for (i, page) in self.pages.iter().enumerate() {
            let content = 9 + 2 * i;
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                     /Resources << /Font << /F1 4 0 R /F2 5 0 R /F3 6 0 R /F4 7 0 R >> >> /Contents {content} 0 R >>"
                )
                .into_bytes(),
            );
            let mut stream = format!("<< /Length {} >>\nstream\n", page.ops.len()).into_bytes();
            stream.extend(&page.ops);
            stream.extend(b"\nendstream");
            objects.push(stream);
        }
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, obj) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend(obj);
            out.extend(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for off in offsets {
            out.extend(format!("{off:010} 00000 n \n").as_bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }
}

/// `text` cut into lines no wider than `width` points at `size` (a word longer than the width
/// stands alone on its line).
pub fn wrap(font: Font, size: f32, width: f32, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if font.approx_width(size, &candidate) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A PDF literal string in WinAnsi (Latin-1 plus a few typographic signs); other characters
/// become '?'.
fn escape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let b = match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                c as u8
            }
            '’' => 0x92,
            '‘' => 0x91,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            '€' => 0x80,
            '…' => 0x85,
            '\u{a0}' => b' ',
            c if (c as u32) < 0x20 => b' ',
            c if (c as u32) < 0x100 => c as u32 as u8,
            _ => b'?',
        };
        out.push(b);
    }
    out
}

/// The text a PDF produced here shows (tests check documents with it).
pub fn extract_text(pdf: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < pdf.len() {
        if pdf[i] == b'(' {
            let mut depth = 1;
            i += 1;
            while i < pdf.len() && depth > 0 {
                match pdf[i] {
                    b'\\' if i + 1 < pdf.len() => {
                        i += 1;
                        out.push(pdf[i] as char);
                    }
                    b'(' => {
                        depth += 1;
                        out.push('(');
                    }
                    b')' => {
                        depth -= 1;
                        if depth > 0 {
                            out.push(')');
                        }
                    }
                    0x92 => out.push('’'),
                    b => out.push(b as char),
                }
                i += 1;
            }
            out.push('\n');
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_pdf_with_french_text() {
        let mut d = Document::new("Attestation (test)");
        let p = d.page();
        p.text(
            50.0,
            800.0,
            Font::Bold,
            14.0,
            "Académie de Besançon — épreuve n° 2 (cas)",
        );
        p.fill_rect(10.0, 10.0, 5.0, 5.0);
        d.page()
            .paragraph(50.0, 700.0, 200.0, Font::Regular, 10.0, &"mot ".repeat(60));
        let bytes = d.finish();
        assert!(bytes.starts_with(b"%PDF-1.4"));
        assert!(bytes.ends_with(b"%%EOF\n"));
        let text = extract_text(&bytes);
        assert!(text.contains("Académie de Besançon"), "{text}");
        assert!(text.contains("(cas)"));
        // The xref offsets point at the objects (offsets in bytes: WinAnsi text is not UTF-8).
        let tail = String::from_utf8(bytes[bytes.len() - 40..].to_vec()).unwrap();
        let xref_at: usize = tail
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(bytes[xref_at..].starts_with(b"xref"));
        let table = String::from_utf8(bytes[xref_at..xref_at + 60].to_vec()).unwrap();
        let first: usize = table.lines().nth(3).unwrap()[..10].parse().unwrap();
        assert!(bytes[first..].starts_with(b"1 0 obj"));
    }

    #[test]
    fn deterministic() {
        let make = || {
            let mut d = Document::new("x");
            d.page().text(1.0, 1.0, Font::Mono, 9.0, "same");
            d.finish()
        };
        assert_eq!(make(), make());
    }
}
