//! The printable documents of the exam: convocations and the minutes of the deliberation
//! (procès-verbal), as PDF through the runtime's writer. Rendering is pure: the same data gives
//! the same bytes, so a checksum identifies a document.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;
use cplds_runtime::{
    pdf::{self, Document, Font, PAGE_HEIGHT},
    time::format_paris_human,
};

use crate::domain::{
    decision::{Decision, Outcome, reason_label},
    mark::{HalfPoints, PartResult},
    schedule::{ExamPart, Timing, phase_label},
};

const LEFT: f32 = 60.0;
const WIDTH: f32 = 475.0;
const BOTTOM: f32 = 70.0;

fn hour(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).format("%H:%M").to_string()
}

fn day(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).format("%d/%m/%Y").to_string()
}

/// What is drawn on a page, kept until the end: the runtime's `Document` hands out a page only
/// when it is created, and text flows onto a new page only once the previous one is full.
enum Op {
    Text(f32, f32, Font, f32, String),
    Line(f32, f32, f32, f32, f32),
}

/// Pages that follow each other as text flows down.
struct Flow {
    title: String,
    /// Full pages, then the one being drawn.
    done: Vec<Vec<Op>>,
    page: Vec<Op>,
    y: f32,
}

const TOP: f32 = PAGE_HEIGHT - 70.0;

impl Flow {
    fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            done: Vec::new(),
            page: Vec::new(),
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        &mut self.page
    }

    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.done.push(std::mem::take(&mut self.page));
            self.y = TOP;
        }
    }

    fn line(&mut self, font: Font, size: f32, text: &str) {
        self.ensure(size * 1.5);
        let y = self.y;
        self.ops()
            .push(Op::Text(LEFT, y, font, size, text.to_owned()));
        self.y -= size * 1.5;
    }

    /// Text wrapped at the column width, line by line (each may start a new page).
    fn paragraph(&mut self, font: Font, size: f32, text: &str) {
        for line in pdf::wrap(font, size, WIDTH, text) {
            self.line(font, size, &line);
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn rule(&mut self) {
        self.ensure(10.0);
        let y = self.y + 6.0;
        self.ops().push(Op::Line(LEFT, y, LEFT + WIDTH, y, 0.5));
        self.y -= 6.0;
    }

    /// A row of cells at the given x offsets.
    fn row(&mut self, font: Font, size: f32, cells: &[(f32, &str)]) {
        self.ensure(size * 1.5);
        let y = self.y;
        for (x, text) in cells {
            self.ops()
                .push(Op::Text(LEFT + x, y, font, size, (*text).to_owned()));
        }
        self.y -= size * 1.5;
    }

    fn finish(self) -> Vec<u8> {
        let mut doc = Document::new(&self.title);
        let mut pages = self.done;
        pages.push(self.page);
        let count = pages.len();
        for (i, ops) in pages.into_iter().enumerate() {
            let page = doc.page();
            for op in ops {
                match op {
                    Op::Text(x, y, font, size, text) => {
                        page.text(x, y, font, size, &text);
                    }
                    Op::Line(x1, y1, x2, y2, w) => {
                        page.line(x1, y1, x2, y2, w);
                    }
                }
            }
            if count > 1 {
                page.text(
                    LEFT + WIDTH - 40.0,
                    40.0,
                    Font::Regular,
                    8.0,
                    &format!("{}/{count}", i + 1),
                );
            }
        }
        doc.finish()
    }
}

pub struct ConvocationSlot {
    pub part: ExamPart,
    pub timing: Timing,
    pub location: String,
}

pub struct Convocation<'a> {
    pub academy_name: &'a str,
    pub year: i32,
    pub last_name: &'a str,
    pub first_name: &'a str,
    pub candidacy_id: &'a str,
    pub board_name: &'a str,
    pub version: i32,
    pub issued_at: DateTime<Utc>,
    pub slots: &'a [ConvocationSlot],
}

pub fn convocation_pdf(c: &Convocation<'_>) -> Vec<u8> {
    let mut f = Flow::new(&format!(
        "Convocation CPLDS {} — {} {}",
        c.year, c.first_name, c.last_name
    ));
    f.line(
        Font::Bold,
        11.0,
        &format!(
            "Académie de {} — Division des examens et concours",
            c.academy_name
        ),
    );
    f.gap(14.0);
    f.line(
        Font::Bold,
        16.0,
        &format!("Convocation — CPLDS, session {}", c.year),
    );
    f.paragraph(
        Font::Oblique,
        10.0,
        "Certificat de professionnalisation en matière de lutte contre le décrochage scolaire (décret n° 2017-791 du 5 mai 2017)",
    );
    f.gap(6.0);
    let version = if c.version > 1 {
        format!(
            "Version {} (remplace la version {}), émise le {}",
            c.version,
            c.version - 1,
            format_paris_human(c.issued_at)
        )
    } else {
        format!("Version 1, émise le {}", format_paris_human(c.issued_at))
    };
    f.line(Font::Regular, 10.0, &version);
    f.rule();
    f.line(
        Font::Regular,
        12.0,
        &format!("Candidat(e) : {} {}", c.first_name, c.last_name),
    );
    f.line(Font::Mono, 9.0, &format!("Candidature {}", c.candidacy_id));
    f.line(
        Font::Regular,
        12.0,
        &format!("Commission : {}", c.board_name),
    );
    f.gap(8.0);
    for s in c.slots {
        slot_lines(&mut f, s);
    }
    f.rule();
    f.paragraph(
        Font::Regular,
        10.0,
        "L'épreuve 1 est une séance de formation conduite avec plusieurs jeunes, dans le cadre d'une action de lutte contre le décrochage ; les séances individuelles ne sont pas acceptées. Présentez-vous muni(e) d'une pièce d'identité, quinze minutes avant l'heure indiquée.",
    );
    f.paragraph(
        Font::Regular,
        10.0,
        "Toute convocation de version antérieure est annulée par celle-ci.",
    );
    f.finish()
}

/// An épreuve of the convocation: its day, hours and place, then each phase.
fn slot_lines(f: &mut Flow, s: &ConvocationSlot) {
    f.line(Font::Bold, 12.0, s.part.label());
    f.line(
        Font::Regular,
        11.0,
        &format!(
            "Le {} de {} à {} — lieu : {}",
            day(s.timing.candidate.start),
            hour(s.timing.candidate.start),
            hour(s.timing.candidate.end),
            s.location
        ),
    );
    for p in &s.timing.phases {
        f.line(
            Font::Regular,
            10.0,
            &format!(
                "   de {} à {} : {}",
                hour(p.interval.start),
                hour(p.interval.end),
                phase_label(p.name)
            ),
        );
    }
    f.gap(6.0);
}

pub struct MinutesMember {
    pub name: String,
    pub president: bool,
}

pub struct MinutesBoard {
    pub name: String,
    pub members: Vec<MinutesMember>,
}

pub struct MinutesRow {
    pub last_name: String,
    pub first_name: String,
    pub part_1: Option<PartResult>,
    pub part_2: Option<PartResult>,
    pub total: Option<u32>,
    pub outcome: Outcome,
    pub reason: Option<crate::domain::decision::Reason>,
}

impl MinutesRow {
    /// A candidate's line: their name and the decision.
    pub fn new(last_name: &str, first_name: &str, d: &Decision) -> Self {
        Self {
            last_name: last_name.to_owned(),
            first_name: first_name.to_owned(),
            part_1: d.part_1,
            part_2: d.part_2,
            total: d.total(),
            outcome: d.outcome,
            reason: d.reason,
        }
    }
}

pub struct Minutes<'a> {
    pub academy_name: &'a str,
    pub year: i32,
    pub starts_on: &'a str,
    pub ends_on: &'a str,
    pub boards: &'a [MinutesBoard],
    pub rows: &'a [MinutesRow],
    pub prepared_at: DateTime<Utc>,
    pub prepared_by: &'a str,
}

fn show(r: Option<PartResult>) -> String {
    match r {
        None => "—".into(),
        Some(PartResult::Absent) => "absent".into(),
        Some(PartResult::Mark(m)) => format!("{m}"),
    }
}

/// One line per candidate: marks, total, decision and why.
fn decision_table(f: &mut Flow, rows: &[MinutesRow]) {
    let cols = [0.0, 170.0, 220.0, 270.0, 325.0, 395.0];
    f.row(
        Font::Bold,
        9.0,
        &[
            (cols[0], "Candidat(e)"),
            (cols[1], "Ép. 1"),
            (cols[2], "Ép. 2"),
            (cols[3], "Total /40"),
            (cols[4], "Décision"),
            (cols[5], "Motif"),
        ],
    );
    for r in rows {
        let name = format!("{} {}", r.last_name.to_uppercase(), r.first_name);
        let total = r.total.map(HalfPoints::show).unwrap_or_else(|| "—".into());
        let outcome = match r.outcome {
            Outcome::Admitted => "admis(e)",
            Outcome::NotAdmitted => "non admis(e)",
        };
        let reason = r.reason.map(reason_label).unwrap_or("");
        f.row(
            Font::Regular,
            9.0,
            &[
                (cols[0], &name),
                (cols[1], &show(r.part_1)),
                (cols[2], &show(r.part_2)),
                (cols[3], &total),
                (cols[4], outcome),
                (cols[5], reason),
            ],
        );
    }
}

/// Each board and its members, the president named.
fn board_lines(f: &mut Flow, boards: &[MinutesBoard]) {
    for b in boards {
        let members: Vec<String> = b
            .members
            .iter()
            .map(|x| {
                if x.president {
                    format!("{} (président)", x.name)
                } else {
                    x.name.clone()
                }
            })
            .collect();
        f.paragraph(
            Font::Regular,
            10.0,
            &format!("{} : {}", b.name, members.join(", ")),
        );
    }
}

pub fn minutes_pdf(m: &Minutes<'_>) -> Vec<u8> {
    let mut f = Flow::new(&format!("Procès-verbal de délibération CPLDS {}", m.year));
    f.line(
        Font::Bold,
        11.0,
        &format!(
            "Académie de {} — Division des examens et concours",
            m.academy_name
        ),
    );
    f.gap(12.0);
    f.line(Font::Bold, 15.0, "Procès-verbal de délibération du jury");
    f.line(
        Font::Bold,
        12.0,
        &format!(
            "CPLDS — session {} (du {} au {})",
            m.year, m.starts_on, m.ends_on
        ),
    );
    f.gap(4.0);
    f.paragraph(
        Font::Regular,
        10.0,
        "Règles appliquées (arrêté du 5 mai 2017) : chaque épreuve est notée sur 20 ; une note inférieure ou égale à 5/20 est éliminatoire ; la certification exige un total d'au moins 20/40 ; un candidat absent à une épreuve ou démissionnaire n'est pas admis.",
    );
    f.gap(4.0);
    board_lines(&mut f, m.boards);
    f.rule();
    decision_table(&mut f, m.rows);
    f.rule();
    let admitted = m
        .rows
        .iter()
        .filter(|r| r.outcome == Outcome::Admitted)
        .count();
    f.line(
        Font::Regular,
        10.0,
        &format!(
            "{} candidat(s) ; {} admis(e) ; {} non admis(e).",
            m.rows.len(),
            admitted,
            m.rows.len() - admitted
        ),
    );
    f.line(
        Font::Regular,
        10.0,
        &format!(
            "Préparé le {} par {}.",
            format_paris_human(m.prepared_at),
            m.prepared_by
        ),
    );
    f.paragraph(
        Font::Oblique,
        9.0,
        "Le président du jury signe l'empreinte SHA-256 de ce document avec sa clé Ed25519 ; la signature et le contre-seing de l'académie sont conservés avec le procès-verbal.",
    );
    f.finish()
}

#[cfg(test)]
mod tests {
    use cplds_runtime::{pdf::extract_text, time::parse_paris_local};

    use super::*;
    use crate::domain::{
        decision::{Reason, decide},
        schedule::timing,
    };

    #[test]
    fn convocation_shows_the_schedule() {
        let start = parse_paris_local("2025-11-17T09:00").unwrap();
        let slots = [
            ConvocationSlot {
                part: ExamPart::TrainingSession,
                timing: timing(ExamPart::TrainingSession, start),
                location: "Lycée Bellevue, salle 12".into(),
            },
            ConvocationSlot {
                part: ExamPart::CaseStudy,
                timing: timing(
                    ExamPart::CaseStudy,
                    parse_paris_local("2025-11-18T14:00").unwrap(),
                ),
                location: "Rectorat, salle B".into(),
            },
        ];
        let c = Convocation {
            academy_name: "Toulouse",
            year: 2025,
            last_name: "Garcia",
            first_name: "Inès",
            candidacy_id: "0190-x",
            board_name: "Commission 1",
            version: 2,
            issued_at: start,
            slots: &slots,
        };
        let pdf = convocation_pdf(&c);
        assert_eq!(pdf, convocation_pdf(&c), "deterministic");
        let text = extract_text(&pdf);
        for s in [
            "Inès Garcia",
            "Version 2 (remplace la version 1)",
            "Épreuve 1",
            "17/11/2025 de 09:00 à 09:45",
            "Lycée Bellevue",
            "de 14:00 à 15:00 : préparation",
            "préparation",
            "Commission 1",
        ] {
            assert!(text.contains(s), "{s:?} missing from {text}");
        }
    }

    #[test]
    fn minutes_show_every_decision_over_pages() {
        let mark = |h| PartResult::Mark(HalfPoints::new(h).unwrap());
        let rows: Vec<MinutesRow> = (0..70)
            .map(|i| {
                let d = decide(false, mark(i % 41), mark(30));
                MinutesRow::new(&format!("Nom{i}"), "Prénom", &d)
            })
            .collect();
        let m = Minutes {
            academy_name: "Toulouse",
            year: 2025,
            starts_on: "2025-11-17",
            ends_on: "2025-11-21",
            boards: &[MinutesBoard {
                name: "Commission 1".into(),
                members: vec![MinutesMember {
                    name: "Anne Dupont".into(),
                    president: true,
                }],
            }],
            rows: &rows,
            prepared_at: parse_paris_local("2025-11-24T10:00").unwrap(),
            prepared_by: "president@ac-toulouse.fr",
        };
        let text = extract_text(&minutes_pdf(&m));
        assert!(text.contains("NOM0 Prénom"));
        assert!(
            text.contains("NOM69 Prénom"),
            "rows flow onto further pages"
        );
        assert!(text.contains("Anne Dupont (président)"));
        assert!(text.contains(reason_label(Reason::EliminatoryMark)));
        assert!(text.contains("70 candidat(s)"));
    }
}
