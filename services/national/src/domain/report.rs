//! The jury's session report of an académie for a year, as a person reads it: the tables of the
//! domain file (registrations by département and sex, corps d'origine, établissement d'exercice,
//! results, marks) with the previous session beside, the charts of mark distributions, and the
//! jury's remarks. Rendered as Markdown and as a PDF.

use std::fmt::Write as _;

use cplds_runtime::pdf::{Document, Font, PAGE_HEIGHT, Page};

use super::figures::{BUCKETS, Cell, Figures, MarkStats, Measure, Rate};

pub struct ReportData {
    pub academy_name: String,
    pub year: i32,
    pub current: Session,
    /// `None` when the previous session has no figures: its columns read "—", not 0.
    pub previous: Option<Session>,
    /// The jury's remarks as its president published them, in the report's sections.
    pub jury: Option<JuryRemarks>,
    /// The académie's remark at approval (shown when the jury published none).
    pub remarks: Option<String>,
    pub approved: bool,
    /// The académie's sources whose announced facts are not all in these figures yet.
    pub pending_sources: Vec<String>,
}

impl ReportData {
    /// The warning a report carries while facts are missing.
    fn incomplete(&self) -> Option<String> {
        (!self.pending_sources.is_empty()).then(|| {
            format!(
                "Chiffres incomplets : des faits de l'académie ne sont pas encore arrivés ({}).",
                self.pending_sources.join(", ")
            )
        })
    }
}

/// The jury's remarks, section by section (written by the jury president, not the office).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JuryRemarks {
    pub general: String,
    pub part_1: String,
    pub part_2: String,
    pub advice: String,
    pub positive_points: String,
    pub points_to_improve: String,
    pub points_to_avoid: String,
    pub conditions: String,
}

impl JuryRemarks {
    /// (heading level, title, text) of each section, in the report's order.
    fn sections(&self) -> [(usize, &'static str, &str); 8] {
        [
            (2, "Remarques générales du jury", &self.general),
            (3, "Épreuve 1 — séance de formation", &self.part_1),
            (3, "Épreuve 2 — étude de cas", &self.part_2),
            (2, "Conseils et recommandations", &self.advice),
            (3, "Points positifs", &self.positive_points),
            (3, "Points à améliorer", &self.points_to_improve),
            (3, "Points à éviter", &self.points_to_avoid),
            (2, "Conditions d'obtention du certificat", &self.conditions),
        ]
    }
}

/// One session's tables.
pub struct Session {
    pub totals: Figures,
    pub by_department_sex: Vec<Cell>,
    pub by_staff_category: Vec<Cell>,
    pub by_workplace_type: Vec<Cell>,
}

/// A département as the report names it: "Haute-Garonne (31)".
fn department(code: &str) -> String {
    cplds_runtime::academy::ACADEMIES
        .iter()
        .flat_map(|a| a.departments)
        .find(|d| d.code == code)
        .map_or_else(|| code.to_owned(), |d| format!("{} ({})", d.name, d.code))
}

fn label(value: &str) -> &str {
    match value {
        "female" => "Femmes",
        "male" => "Hommes",
        "first_degree" => "Premier degré",
        "second_degree_tenured" => "Titulaires du second degré",
        "public_contract_second_degree" => "Contractuels du public (second degré)",
        "private_under_contract" => "Contractuels ou délégués du privé",
        "college" => "Collège",
        "lycee" => "Lycée",
        "erea" => "dont EREA",
        "ecole" => "dont écoles (EEPU, EMPU)",
        "iem" => "dont IEM",
        "other" => "dont autres",
        v => v,
    }
}

fn marks(m: &MarkStats) -> String {
    if m.marks == 0 {
        "—".into()
    } else {
        format!("{:.1} / {:.1} / {:.2}", m.lowest, m.highest, m.mean)
    }
}

/// Rows of (label, current, previous) for the main table.
fn summary_rows(d: &ReportData) -> Vec<(String, String, String)> {
    let c = |f: &Figures, m: Measure| f.count(m).to_string();
    let pct = |r: &Rate| {
        if r.undefined {
            "—".into()
        } else {
            format!("{:.1} %", r.percent)
        }
    };
    let (cur, prev) = (&d.current.totals, d.previous.as_ref().map(|p| &p.totals));
    let or_dash = |f: Option<&Figures>, show: &dyn Fn(&Figures) -> String| {
        f.map_or_else(|| "—".to_owned(), show)
    };
    let counts = |rows: &[(&str, Measure)]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(l, m)| {
                (
                    (*l).to_owned(),
                    c(cur, *m),
                    or_dash(prev, &|f: &Figures| c(f, *m)),
                )
            })
            .collect()
    };
    let mut rows = counts(&[
        ("Inscrits", Measure::Registrations),
        ("Candidatures invalidées", Measure::Invalidated),
        ("Démissionnaires", Measure::Withdrawn),
        ("Admis à se présenter", Measure::AdmittedToSit),
        ("Présents aux deux épreuves", Measure::SatWholeExam),
        (
            "Absents à une épreuve au moins",
            Measure::AbsentFromAnEpreuve,
        ),
        ("En attente de résultat", Measure::AwaitingResult),
        ("Admis", Measure::Admitted),
        ("Non admis", Measure::NotAdmitted),
        (
            "Non admis parmi les présents aux deux épreuves",
            Measure::NotAdmittedPresentAtBoth,
        ),
    ]);
    // The published report's rate is among who sat every épreuve; the other counts the absent.
    rows.push((
        "Non admis parmi les présents aux deux épreuves (%)".into(),
        pct(&cur.not_admitted_rate_present_at_both),
        or_dash(prev, &|f: &Figures| {
            pct(&f.not_admitted_rate_present_at_both)
        }),
    ));
    rows.push((
        "Non admis parmi les candidats ayant un résultat (%)".into(),
        pct(&cur.not_admitted_rate),
        or_dash(prev, &|f: &Figures| pct(&f.not_admitted_rate)),
    ));
    rows.extend(counts(&[
        (
            "Non admis sur le seul total (< 20/40)",
            Measure::FailedOnTotalOnly,
        ),
        (
            "Candidats ayant au moins une note éliminatoire",
            Measure::EliminatedCandidates,
        ),
        ("Notes éliminatoires, épreuve 1", Measure::EliminatoryPart1),
        ("Notes éliminatoires, épreuve 2", Measure::EliminatoryPart2),
        ("Absents à l'épreuve 1", Measure::AbsentPart1),
        ("Absents à l'épreuve 2", Measure::AbsentPart2),
    ]));
    // Shares as the report gives them: among every registered candidate of the group
    // ("11 sur 13"), except training, which is joined to exam results.
    for (label, part, among) in [
        (
            "Certifiés parmi les candidats déclarant des actions MLDS",
            Measure::MldsActionsAdmitted,
            Measure::MldsDeclarers,
        ),
        (
            "Certifiés parmi les référents décrochage",
            Measure::ReferentsAdmitted,
            Measure::Referents,
        ),
        (
            "Certifiés parmi les candidats du premier degré",
            Measure::FirstDegreeAdmitted,
            Measure::FirstDegreeRegistered,
        ),
        (
            "Démissionnaires parmi les candidats du premier degré",
            Measure::FirstDegreeWithdrawn,
            Measure::FirstDegreeRegistered,
        ),
        (
            "Certifiés parmi les candidats formés ayant un résultat",
            Measure::TrainedAdmitted,
            Measure::TrainedWithResult,
        ),
    ] {
        let share = |f: &Figures| format!("{} / {}", f.count(part), f.count(among));
        rows.push((label.to_owned(), share(cur), or_dash(prev, &share)));
    }
    rows
}

fn marks_rows(d: &ReportData) -> Vec<(String, String, String)> {
    let (cur, prev) = (&d.current.totals, d.previous.as_ref().map(|p| &p.totals));
    let row = |label: &str, pick: fn(&Figures) -> &MarkStats| {
        (
            label.to_owned(),
            marks(pick(cur)),
            prev.map_or_else(|| "—".to_owned(), |f| marks(pick(f))),
        )
    };
    vec![
        row("Épreuve 1 (plus basse / plus haute / moyenne)", |f| {
            &f.part_1
        }),
        row("Épreuve 2 (plus basse / plus haute / moyenne)", |f| {
            &f.part_2
        }),
        row("Moyenne des deux épreuves", |f| &f.average),
    ]
}

/// The columns of the département × sex table after the registrations: the fates, which add up
/// to them.
const FATES: [(&str, Measure); 5] = [
    ("Invalidés", Measure::Invalidated),
    ("Démissionnaires", Measure::Withdrawn),
    ("Présents aux deux épreuves", Measure::PresentAtBoth),
    ("Absents à une épreuve", Measure::AbsentFromAnEpreuve),
    ("En attente de résultat", Measure::AwaitingResult),
];

/// (département, sex, registrations, a count per fate).
fn department_rows(cells: &[Cell]) -> Vec<(String, String, i64, [i64; 5])> {
    cells
        .iter()
        .map(|c| {
            let v = |i: usize| c.key.get(i).map(|(_, v)| v.clone()).unwrap_or_default();
            (
                department(&v(0)),
                label(&v(1)).to_owned(),
                c.figures.count(Measure::Registrations),
                FATES.map(|(_, m)| c.figures.count(m)),
            )
        })
        .collect()
}

/// The jury's remarks, or a note that none came.
fn remarks(d: &ReportData) -> &str {
    d.remarks
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or("(aucune remarque transmise)")
}

/// Whether the figures hold anything to report: registrations or exam results.
pub fn has_figures(f: &Figures) -> bool {
    f.count(Measure::Registrations) != 0
        || f.count(Measure::Admitted) + f.count(Measure::NotAdmitted) != 0
}

pub fn markdown(d: &ReportData) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Bilan de la session {} du CPLDS — académie de {}\n",
        d.year, d.academy_name
    );
    let _ = writeln!(
        o,
        "Chiffres {}.\n",
        if d.approved {
            "approuvés par l'académie"
        } else {
            "non encore approuvés par l'académie (provisoires)"
        }
    );
    if let Some(warning) = d.incomplete() {
        let _ = writeln!(o, "**{warning}**\n");
    }
    markdown_table(&mut o, "Synthèse", d.year, summary_rows(d));
    markdown_registrations(&mut o, d);
    markdown_profiles(&mut o, d);
    markdown_table(&mut o, "Notes", d.year, marks_rows(d));
    markdown_distribution(&mut o, d);
    match &d.jury {
        Some(j) => {
            for (level, title, text) in j.sections() {
                let text = if text.trim().is_empty() { "—" } else { text };
                let _ = writeln!(o, "\n{} {title}\n\n{text}", "#".repeat(level));
            }
        }
        None => {
            let _ = writeln!(o, "\n## Remarques et conseils du jury\n\n{}", remarks(d));
        }
    }
    o
}

/// A section of (label, this session, the previous one) rows.
fn markdown_table(o: &mut String, title: &str, year: i32, rows: Vec<(String, String, String)>) {
    let _ = writeln!(
        o,
        "## {title}\n\n| | {year} | {} |\n|---|---:|---:|",
        year - 1
    );
    for (l, c, p) in rows {
        let _ = writeln!(o, "| {l} | {c} | {p} |");
    }
}

fn markdown_registrations(o: &mut String, d: &ReportData) {
    let _ = writeln!(o, "\n## Inscriptions par département et par sexe\n");
    let previous = d.previous.as_ref().map(|p| &p.by_department_sex);
    for (title, cells) in [
        (d.year, Some(&d.current.by_department_sex)),
        (d.year - 1, previous),
    ] {
        let Some(cells) = cells else {
            let _ = writeln!(o, "### Session {title}\n\n— (aucune donnée)\n");
            continue;
        };
        let header: Vec<&str> = FATES.iter().map(|(l, _)| *l).collect();
        let _ = writeln!(
            o,
            "### Session {title}\n\n| Département | Sexe | Inscrits | {} |\n|---|---|---:|{}",
            header.join(" | "),
            "---:|".repeat(FATES.len())
        );
        for (dep, sex, reg, fates) in department_rows(cells) {
            let fates: Vec<String> = fates.iter().map(i64::to_string).collect();
            let _ = writeln!(o, "| {dep} | {sex} | {reg} | {} |", fates.join(" | "));
        }
        let _ = writeln!(o);
    }
}

fn markdown_profiles(o: &mut String, d: &ReportData) {
    let previous = d.previous.as_ref();
    for (title, current, before) in [
        (
            "Corps d'origine",
            &d.current.by_staff_category,
            previous.map(|p| &p.by_staff_category),
        ),
        (
            "Établissement d'exercice",
            &d.current.by_workplace_type,
            previous.map(|p| &p.by_workplace_type),
        ),
    ] {
        let _ = writeln!(
            o,
            "## {title}\n\n| | Inscrits {y} | Admis {y} | Inscrits {p} | Admis {p} |\n|---|---:|---:|---:|---:|",
            y = d.year,
            p = d.year - 1
        );
        for (v, (registered, admitted), previous) in profile_rows(current, before) {
            let (pr, pa) = previous.map_or(("—".to_owned(), "—".to_owned()), |(r, a)| {
                (r.to_string(), a.to_string())
            });
            let _ = writeln!(o, "| {v} | {registered} | {admitted} | {pr} | {pa} |");
        }
        let _ = writeln!(o);
    }
}

fn markdown_distribution(o: &mut String, d: &ReportData) {
    for (year, f) in [
        (d.year, Some(&d.current.totals)),
        (d.year - 1, d.previous.as_ref().map(|p| &p.totals)),
    ] {
        let _ = writeln!(o, "\n## Répartition des notes (session {year})\n");
        let Some(f) = f else {
            let _ = writeln!(o, "— (aucune donnée)");
            continue;
        };
        let _ = writeln!(
            o,
            "| Notes | Épreuve 1 | Épreuve 2 | Moyenne |\n|---|---:|---:|---:|"
        );
        for b in 0..BUCKETS {
            let _ = writeln!(
                o,
                "| {}–{} | {} | {} | {} |",
                b * 2,
                b * 2 + 2,
                f.distribution_part_1[b].value,
                f.distribution_part_2[b].value,
                f.distribution_average[b].value
            );
        }
    }
}

/// Registrations and admitted of a corps or établissement in one session.
type Pair = (i64, i64);

/// Where the report puts a workplace type: collège, lycée, then "Autres" and what it holds.
fn workplace_order(v: &str) -> usize {
    ["college", "lycee", "erea", "ecole", "iem", "other"]
        .iter()
        .position(|w| *w == v)
        .unwrap_or(usize::MAX)
}

/// (corps or établissement, this session's registrations and admitted, the previous session's
/// when it has figures), every value either session has; workplaces other than collège and
/// lycée under an "Autres" row that adds them up.
fn profile_rows<'a>(
    current: &'a [Cell],
    previous: Option<&'a Vec<Cell>>,
) -> Vec<(String, Pair, Option<Pair>)> {
    let counts = |cells: &[Cell], v: &str| {
        cells
            .iter()
            .find(|c| c.key.first().is_some_and(|(_, k)| k == v))
            .map_or((0, 0), |c| {
                (
                    c.figures.count(Measure::Registrations),
                    c.figures.count(Measure::Admitted),
                )
            })
    };
    let mut values: Vec<&str> = current
        .iter()
        .chain(previous.into_iter().flatten())
        .filter_map(|c| c.key.first().map(|(_, v)| v.as_str()))
        .collect();
    values.sort_by_key(|v| (workplace_order(v), *v));
    values.dedup();
    let is_workplace = values.iter().any(|v| workplace_order(v) != usize::MAX);
    let mut rows = Vec::new();
    let mut others_at = None;
    for v in values {
        if is_workplace && workplace_order(v) >= 2 && others_at.is_none() {
            others_at = Some(rows.len());
            rows.push(("Autres".to_owned(), (0, 0), previous.map(|_| (0, 0))));
        }
        let row = (
            label(v).to_owned(),
            counts(current, v),
            previous.map(|p| counts(p, v)),
        );
        if let Some(i) = others_at {
            let (_, (r, a), p) = &mut rows[i];
            *r += row.1.0;
            *a += row.1.1;
            if let (Some((pr, pa)), Some((vr, va))) = (p.as_mut(), row.2) {
                *pr += vr;
                *pa += va;
            }
        }
        rows.push(row);
    }
    rows
}

pub fn pdf(d: &ReportData) -> Vec<u8> {
    let mut doc = Document::new(&format!(
        "Bilan de la session {} du CPLDS — {}",
        d.year, d.academy_name
    ));
    summary_page(doc.page(), d);
    distribution_page(doc.page(), d.year, &d.current.totals);
    if let Some(p) = &d.previous {
        distribution_page(doc.page(), d.year - 1, &p.totals);
    }
    profile_page(doc.page(), d);
    remarks_page(doc.page(), d);
    doc.finish()
}

/// The title, the summary and marks tables, and registrations by département and sex.
fn summary_page(p: &mut Page, d: &ReportData) {
    let mut y = PAGE_HEIGHT - 60.0;
    p.centered(
        y,
        Font::Bold,
        15.0,
        &format!("Bilan de la session {} du CPLDS", d.year),
    );
    y -= 20.0;
    p.centered(
        y,
        Font::Regular,
        12.0,
        &format!("Académie de {}", d.academy_name),
    );
    y -= 16.0;
    p.centered(
        y,
        Font::Oblique,
        9.0,
        if d.approved {
            "Chiffres approuvés par l'académie"
        } else {
            "Chiffres provisoires (non encore approuvés)"
        },
    );
    if let Some(warning) = d.incomplete() {
        y -= 12.0;
        p.centered(y, Font::Oblique, 9.0, &warning);
    }
    y -= 28.0;
    let years = (d.year.to_string(), (d.year - 1).to_string());
    y = pdf_table(p, y, ("Synthèse", &years), summary_rows(d));
    y = pdf_table(p, y, ("Notes /20", &years), marks_rows(d));
    p.text(
        60.0,
        y,
        Font::Bold,
        9.5,
        "Inscriptions par département et par sexe",
    );
    y -= 13.0;
    // Short headers: registered, then the fates, which add up to it.
    let columns = [
        "Inscrits",
        "Invalidés",
        "Démiss.",
        "Présents",
        "Absents",
        "En attente",
    ];
    for (i, h) in columns.iter().enumerate() {
        p.text(230.0 + i as f32 * 52.0, y, Font::Bold, 8.5, h);
    }
    y -= 13.0;
    for (dep, sex, reg, fates) in department_rows(&d.current.by_department_sex) {
        if y < 80.0 {
            break;
        }
        p.text(60.0, y, Font::Regular, 9.0, &format!("{dep} — {sex}"));
        for (i, v) in std::iter::once(reg).chain(fates).enumerate() {
            p.text(
                230.0 + i as f32 * 52.0,
                y,
                Font::Regular,
                9.0,
                &v.to_string(),
            );
        }
        y -= 12.0;
    }
}

/// A table of (label, this session, the previous one) under its header; returns where it ends.
fn pdf_table(
    p: &mut Page,
    mut y: f32,
    (title, (current, previous)): (&str, &(String, String)),
    rows: Vec<(String, String, String)>,
) -> f32 {
    p.text(60.0, y, Font::Bold, 9.5, title)
        .text(400.0, y, Font::Bold, 9.5, current)
        .text(480.0, y, Font::Bold, 9.5, previous);
    y -= 4.0;
    p.line(60.0, y, 535.0, y, 0.5);
    y -= 12.0;
    for (l, c, pr) in rows {
        p.text(60.0, y, Font::Regular, 9.0, &l)
            .text(400.0, y, Font::Regular, 9.0, &c)
            .text(480.0, y, Font::Regular, 9.0, &pr);
        y -= 13.0;
    }
    y - 10.0
}

/// A bar chart of a session's marks per épreuve and of the average.
fn distribution_page(p: &mut Page, year: i32, f: &Figures) {
    let mut y = PAGE_HEIGHT - 60.0;
    p.text(
        60.0,
        y,
        Font::Bold,
        12.0,
        &format!("Répartition des notes — session {year}"),
    );
    y -= 30.0;
    for (title, dist) in [
        ("Épreuve 1", &f.distribution_part_1),
        ("Épreuve 2", &f.distribution_part_2),
        ("Moyenne des deux épreuves", &f.distribution_average),
    ] {
        p.text(60.0, y, Font::Bold, 10.0, title);
        let max = dist.iter().map(|c| c.value).max().unwrap_or(0).max(1) as f32;
        let base = y - 150.0;
        for (i, c) in dist.iter().enumerate() {
            let x = 80.0 + i as f32 * 44.0;
            let h = 120.0 * c.value as f32 / max;
            p.fill_rect(x, base, 30.0, h.max(0.5));
            p.text(
                x + 10.0,
                base + h + 4.0,
                Font::Regular,
                8.0,
                &c.value.to_string(),
            );
            p.text(
                x,
                base - 12.0,
                Font::Regular,
                7.5,
                &format!("{}–{}", i * 2, i * 2 + 2),
            );
        }
        p.line(75.0, base, 525.0, base, 0.5);
        y = base - 40.0;
    }
}

/// Corps d'origine and établissement d'exercice, both sessions.
fn profile_page(p: &mut Page, d: &ReportData) {
    let y = PAGE_HEIGHT - 60.0;
    p.text(
        60.0,
        y,
        Font::Bold,
        12.0,
        "Corps d'origine et établissement d'exercice",
    );
    let mut y = y - 24.0;
    p.text(300.0, y, Font::Bold, 9.0, &d.year.to_string()).text(
        430.0,
        y,
        Font::Bold,
        9.0,
        &(d.year - 1).to_string(),
    );
    y -= 14.0;
    let previous = d.previous.as_ref();
    for (current, before) in [
        (
            &d.current.by_staff_category,
            previous.map(|p| &p.by_staff_category),
        ),
        (
            &d.current.by_workplace_type,
            previous.map(|p| &p.by_workplace_type),
        ),
    ] {
        for (v, (registered, admitted), was) in profile_rows(current, before) {
            let was = was.map_or("—".to_owned(), |(r, a)| {
                format!("{r} inscrits, {a} admis")
            });
            p.text(60.0, y, Font::Regular, 9.0, &v)
                .text(
                    300.0,
                    y,
                    Font::Regular,
                    9.0,
                    &format!("{registered} inscrits, {admitted} admis"),
                )
                .text(430.0, y, Font::Regular, 9.0, &was);
            y -= 13.0;
        }
        y -= 10.0;
    }
}

/// The jury's remarks, section by section (or the académie's remark when the jury published
/// none).
fn remarks_page(p: &mut Page, d: &ReportData) {
    let mut y = PAGE_HEIGHT - 60.0;
    let Some(j) = &d.jury else {
        p.text(60.0, y, Font::Bold, 12.0, "Remarques et conseils du jury");
        p.paragraph(60.0, y - 18.0, 470.0, Font::Regular, 10.0, remarks(d));
        return;
    };
    for (level, title, text) in j.sections() {
        let size = if level == 2 { 12.0 } else { 10.5 };
        p.text(60.0, y, Font::Bold, size, title);
        let text = if text.trim().is_empty() { "—" } else { text };
        y = p.paragraph(60.0, y - 15.0, 470.0, Font::Regular, 9.5, text) - 8.0;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::{
        figures::{breakdown, compute},
        record::{Dimension, ExamResult, Part, Profile, Record, RegistrationStatus},
    };

    /// A registered candidate of Haute-Garonne; `exam` is (épreuve 1, épreuve 2, admitted).
    fn rec(
        key: &str,
        status: RegistrationStatus,
        exam: Option<(Part, Part, bool)>,
        mlds: bool,
    ) -> Record {
        let mut r = Record::new("toulouse", 2025, key);
        r.status = Some(status);
        r.profile = Profile {
            sex: "female".into(),
            department: "31".into(),
            staff_category: "first_degree".into(),
            workplace_type: "college".into(),
            runs_mlds_actions: mlds,
            is_dropout_referent: false,
        };
        r.exam = exam.map(|(part_1, part_2, admitted)| ExamResult {
            part_1,
            part_2,
            admitted,
            reason: String::new(),
        });
        r
    }

    /// Every fate once: admitted, eliminated, absent at épreuve 2, invalidated, withdrawn,
    /// awaiting a result, failed on the total (9 + 9.5 < 20).
    fn session() -> ReportData {
        use Part::*;
        use RegistrationStatus::*;
        let rs = [
            rec("a", Validated, Some((Mark(24), Mark(30), true)), true),
            rec("b", Validated, Some((Mark(10), Mark(36), false)), true),
            rec("c", Validated, Some((Mark(20), Absent, false)), true),
            rec("d", Rejected, None, true),
            rec("e", Withdrawn, None, true),
            rec("f", Validated, None, true),
            rec("g", Validated, Some((Mark(18), Mark(19), false)), false),
        ];
        let refs: Vec<&Record> = rs.iter().collect();
        let idx = HashMap::new();
        let dims = [Dimension::Department, Dimension::Sex];
        ReportData {
            academy_name: "Toulouse".into(),
            year: 2025,
            current: Session {
                totals: compute(&refs, &[], &idx),
                by_department_sex: breakdown(&refs, &[], &idx, &dims),
                by_staff_category: breakdown(&refs, &[], &idx, &[Dimension::StaffCategory]),
                by_workplace_type: breakdown(&refs, &[], &idx, &[Dimension::WorkplaceType]),
            },
            previous: None,
            jury: None,
            remarks: None,
            approved: true,
            pending_sources: Vec::new(),
        }
    }

    #[test]
    fn mlds_declarers_are_counted_whatever_their_fate() {
        let md = markdown(&session());
        // Six registered declarers (one invalidated, one withdrawn, one awaiting), one certified:
        // the published report's "11 sur 13" counts every declarer registered.
        assert!(
            md.contains("| Certifiés parmi les candidats déclarant des actions MLDS | 1 / 6 |"),
            "{md}"
        );
    }

    #[test]
    fn a_department_row_adds_up() {
        let md = markdown(&session());
        // Registered 7 = invalidated 1 + withdrawn 1 + present at both 3 + absent 1 + awaiting 1.
        assert!(
            md.contains("| Haute-Garonne (31) | Femmes | 7 | 1 | 1 | 3 | 1 | 1 |"),
            "{md}"
        );
    }

    #[test]
    fn the_not_admitted_rate_of_the_report_is_among_who_sat_every_epreuve() {
        let md = markdown(&session());
        // Two not admitted among the three who sat both épreuves (the absent one is not counted).
        assert!(
            md.contains("| Non admis parmi les présents aux deux épreuves (%) | 66.7 % |"),
            "{md}"
        );
    }

    #[test]
    fn certified_among_first_degree_candidates() {
        let md = markdown(&session());
        // Seven first-degree candidates registered, one admitted.
        assert!(
            md.contains("| Certifiés parmi les candidats du premier degré | 1 / 7 | — |"),
            "{md}"
        );
    }

    #[test]
    fn a_previous_session_without_figures_reads_as_a_dash() {
        let md = markdown(&session());
        assert!(md.contains("| Inscrits | 7 | — |"), "{md}");
        assert!(md.contains("| Collège | 7 | 1 | — | — |"), "{md}");
        assert!(md.contains("### Session 2024\n\n— (aucune donnée)"), "{md}");
    }

    #[test]
    fn workplaces_other_than_college_and_lycee_are_others_with_their_kinds() {
        let mut d = session();
        let mut school = rec("h", RegistrationStatus::Validated, None, false);
        school.profile.workplace_type = "ecole".into();
        let mut erea = rec("i", RegistrationStatus::Validated, None, false);
        erea.profile.workplace_type = "erea".into();
        let refs = [&school, &erea];
        d.current.by_workplace_type.extend(breakdown(
            &refs,
            &[],
            &HashMap::new(),
            &[Dimension::WorkplaceType],
        ));
        let md = markdown(&d);
        let at = |row: &str| md.find(row).unwrap_or_else(|| panic!("{row}: {md}"));
        assert!(at("| Collège |") < at("| Autres | 2 | 0 |"));
        assert!(at("| Autres | 2 | 0 |") < at("| dont EREA | 1 | 0 |"));
        assert!(at("| dont EREA |") < at("| dont écoles (EEPU, EMPU) | 1 | 0 |"));
    }
}
