//! Figures of a set of candidates: the counts, rates, marks and distributions of the jury's
//! session report, computed from records (pure).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{
    record::{Dimension, ExamResult, Part, Record, Training},
    suppression,
};

/// The counted measures, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Registrations,
    Invalidated,
    Withdrawn,
    AdmittedToSit,
    SatWholeExam,
    Admitted,
    NotAdmitted,
    EliminatoryPart1,
    EliminatoryPart2,
    AbsentPart1,
    AbsentPart2,
    MldsActionsWithResult,
    MldsActionsAdmitted,
    ReferentsWithResult,
    ReferentsAdmitted,
    FirstDegreeWithdrawn,
    TrainedWithResult,
    TrainedAdmitted,
    UntrainedWithResult,
    UntrainedAdmitted,
    TrainingCompleted,
    TrainingAbandoned,
    CertificatesIssued,
    CertificatesRevoked,
}

impl Measure {
    pub const ALL: [Measure; 24] = [
        Measure::Registrations,
        Measure::Invalidated,
        Measure::Withdrawn,
        Measure::AdmittedToSit,
        Measure::SatWholeExam,
        Measure::Admitted,
        Measure::NotAdmitted,
        Measure::EliminatoryPart1,
        Measure::EliminatoryPart2,
        Measure::AbsentPart1,
        Measure::AbsentPart2,
        Measure::MldsActionsWithResult,
        Measure::MldsActionsAdmitted,
        Measure::ReferentsWithResult,
        Measure::ReferentsAdmitted,
        Measure::FirstDegreeWithdrawn,
        Measure::TrainedWithResult,
        Measure::TrainedAdmitted,
        Measure::UntrainedWithResult,
        Measure::UntrainedAdmitted,
        Measure::TrainingCompleted,
        Measure::TrainingAbandoned,
        Measure::CertificatesIssued,
        Measure::CertificatesRevoked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Registrations => "registrations",
            Measure::Invalidated => "invalidated",
            Measure::Withdrawn => "withdrawn",
            Measure::AdmittedToSit => "admitted_to_sit",
            Measure::SatWholeExam => "sat_whole_exam",
            Measure::Admitted => "admitted",
            Measure::NotAdmitted => "not_admitted",
            Measure::EliminatoryPart1 => "eliminatory_part_1",
            Measure::EliminatoryPart2 => "eliminatory_part_2",
            Measure::AbsentPart1 => "absent_part_1",
            Measure::AbsentPart2 => "absent_part_2",
            Measure::MldsActionsWithResult => "mlds_actions_with_result",
            Measure::MldsActionsAdmitted => "mlds_actions_admitted",
            Measure::ReferentsWithResult => "referents_with_result",
            Measure::ReferentsAdmitted => "referents_admitted",
            Measure::FirstDegreeWithdrawn => "first_degree_withdrawn",
            Measure::TrainedWithResult => "trained_with_result",
            Measure::TrainedAdmitted => "trained_admitted",
            Measure::UntrainedWithResult => "untrained_with_result",
            Measure::UntrainedAdmitted => "untrained_admitted",
            Measure::TrainingCompleted => "training_completed",
            Measure::TrainingAbandoned => "training_abandoned",
            Measure::CertificatesIssued => "certificates_issued",
            Measure::CertificatesRevoked => "certificates_revoked",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Count {
    pub value: i64,
    pub suppressed: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rate {
    pub percent: f64,
    pub suppressed: bool,
    pub undefined: bool,
}

/// Marks /20 (computed on half points, shown as /20).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MarkStats {
    pub lowest: f64,
    pub highest: f64,
    pub mean: f64,
    pub marks: i64,
    pub suppressed: bool,
}

/// Ten buckets of two points: `[0,2)`, `[2,4)`, ... `[18,20]`.
pub const BUCKETS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub counts: BTreeMap<Measure, Count>,
    pub admitted_rate: Rate,
    pub not_admitted_rate: Rate,
    pub part_1: MarkStats,
    pub part_2: MarkStats,
    pub average: MarkStats,
    pub distribution_part_1: Vec<Count>,
    pub distribution_part_2: Vec<Count>,
    pub distribution_average: Vec<Count>,
    pub mean_training_hours_admitted: f64,
    pub mean_training_hours_not_admitted: f64,
}

impl Figures {
    pub fn count(&self, m: Measure) -> i64 {
        self.counts.get(&m).map_or(0, |c| c.value)
    }
}

/// Training of the school year before the exam, by académie and candidate key.
pub type TrainingIndex<'a> = HashMap<(&'a str, &'a str), &'a Training>;

pub fn index_training(trainings: &[Training]) -> TrainingIndex<'_> {
    trainings
        .iter()
        .map(|t| ((t.academy.as_str(), t.candidate_key.as_str()), t))
        .collect()
}

/// Marks are counted in half points (an épreuve) or quarter points (a two-épreuve average, which
/// is never rounded: 9.5 and 10 average 9.75, as the jury's report shows it).
const HALF: u8 = 2;
const QUARTER: u8 = 4;

fn marks_stats(marks: &[u8], per_point: u8) -> MarkStats {
    let (Some(&lo), Some(&hi)) = (marks.iter().min(), marks.iter().max()) else {
        return MarkStats::default();
    };
    let sum: u64 = marks.iter().map(|&m| u64::from(m)).sum();
    let per_point = f64::from(per_point);
    MarkStats {
        lowest: f64::from(lo) / per_point,
        highest: f64::from(hi) / per_point,
        mean: round2(sum as f64 / marks.len() as f64 / per_point),
        marks: marks.len() as i64,
        suppressed: false,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Bucket of two points of a mark counted in `per_point` units.
fn bucket(mark: u8, per_point: u8) -> usize {
    (usize::from(mark) / (2 * usize::from(per_point))).min(BUCKETS - 1)
}

fn distribution(marks: &[u8], per_point: u8) -> Vec<Count> {
    let mut d = vec![Count::default(); BUCKETS];
    for &m in marks {
        d[bucket(m, per_point)].value += 1;
    }
    d
}

fn rate(num: i64, den: i64) -> Rate {
    if den == 0 {
        Rate {
            undefined: true,
            ..Default::default()
        }
    } else {
        Rate {
            percent: (num as f64 * 1000.0 / den as f64).round() / 10.0,
            ..Default::default()
        }
    }
}

/// Figures of `records`; `trainings` are the trainees of the scope (the school year before),
/// `training` indexes them by candidate for the join with exam results.
pub fn compute(
    records: &[&Record],
    trainings: &[&Training],
    training: &TrainingIndex<'_>,
) -> Figures {
    let mut t = Tally::default();
    for r in records {
        t.registration(r);
        let Some(e) = r.result() else { continue };
        let trained = training
            .get(&(r.academy.as_str(), r.candidate_key.as_str()))
            .filter(|t| t.completed);
        t.result(r, e, trained.copied());
        t.marks(e);
    }
    for tr in trainings {
        if tr.completed {
            t.inc(Measure::TrainingCompleted);
        }
        if tr.abandoned {
            t.inc(Measure::TrainingAbandoned);
        }
    }
    t.finish()
}

/// The counts and marks gathered over candidates, before they become [`Figures`].
#[derive(Default)]
struct Tally {
    counts: BTreeMap<Measure, i64>,
    part_1: Vec<u8>,
    part_2: Vec<u8>,
    /// In quarter points.
    average: Vec<u8>,
    /// Minutes of training of the trained candidates, admitted or not.
    hours_admitted: Vec<u32>,
    hours_not: Vec<u32>,
}

impl Tally {
    fn inc(&mut self, m: Measure) {
        *self.counts.entry(m).or_insert(0) += 1;
    }

    fn count(&self, m: Measure) -> i64 {
        self.counts.get(&m).copied().unwrap_or(0)
    }

    /// Registrations, invalidations, withdrawals, admission to sit, certificates.
    fn registration(&mut self, r: &Record) {
        if r.status.is_some() {
            self.inc(Measure::Registrations);
        }
        match r.status {
            Some(super::record::RegistrationStatus::Rejected) => self.inc(Measure::Invalidated),
            _ if r.withdrawn() => {
                self.inc(Measure::Withdrawn);
                if r.profile.staff_category == "first_degree" {
                    self.inc(Measure::FirstDegreeWithdrawn);
                }
            }
            _ => {}
        }
        if r.admitted_to_sit() {
            self.inc(Measure::AdmittedToSit);
        }
        if r.certified {
            self.inc(Measure::CertificatesIssued);
        }
        if r.certificate_revoked {
            self.inc(Measure::CertificatesRevoked);
        }
    }

    /// The jury's decision, among all and among MLDS actors, référents, trainees.
    fn result(&mut self, r: &Record, e: &ExamResult, trained: Option<&Training>) {
        let admitted = |t: &mut Self, with: Measure, among: Measure| {
            t.inc(with);
            if e.admitted {
                t.inc(among);
            }
        };
        self.inc(if e.admitted {
            Measure::Admitted
        } else {
            Measure::NotAdmitted
        });
        if r.profile.runs_mlds_actions {
            admitted(
                self,
                Measure::MldsActionsWithResult,
                Measure::MldsActionsAdmitted,
            );
        }
        if r.profile.is_dropout_referent {
            admitted(
                self,
                Measure::ReferentsWithResult,
                Measure::ReferentsAdmitted,
            );
        }
        match trained {
            Some(t) => {
                admitted(self, Measure::TrainedWithResult, Measure::TrainedAdmitted);
                if e.admitted {
                    self.hours_admitted.push(t.minutes);
                } else {
                    self.hours_not.push(t.minutes);
                }
            }
            None => admitted(
                self,
                Measure::UntrainedWithResult,
                Measure::UntrainedAdmitted,
            ),
        }
    }

    /// Marks, eliminatory marks and absences per épreuve, and the average of who sat both.
    fn marks(&mut self, e: &ExamResult) {
        if let Some(m) = self.part(e.part_1, Measure::EliminatoryPart1, Measure::AbsentPart1) {
            self.part_1.push(m);
        }
        if let Some(m) = self.part(e.part_2, Measure::EliminatoryPart2, Measure::AbsentPart2) {
            self.part_2.push(m);
        }
        if let (Some(a), Some(b)) = (e.part_1.mark(), e.part_2.mark()) {
            self.inc(Measure::SatWholeExam);
            // The sum of two marks in half points is their exact average in quarter points.
            self.average.push(a + b);
        }
    }

    /// One épreuve: its mark (counted eliminatory at 5/20 or less), or an absence.
    fn part(&mut self, part: Part, eliminatory: Measure, absent: Measure) -> Option<u8> {
        let mark = part.mark();
        match mark {
            Some(m) if m <= 10 => self.inc(eliminatory),
            Some(_) => {}
            None => self.inc(absent),
        }
        mark
    }

    fn finish(self) -> Figures {
        let mean_hours = |v: &[u32]| {
            if v.is_empty() {
                0.0
            } else {
                round2(v.iter().map(|&m| f64::from(m)).sum::<f64>() / v.len() as f64 / 60.0)
            }
        };
        let admitted = self.count(Measure::Admitted);
        let not_admitted = self.count(Measure::NotAdmitted);
        Figures {
            // Every measure, zero included.
            counts: Measure::ALL
                .iter()
                .map(|m| {
                    (
                        *m,
                        Count {
                            value: self.count(*m),
                            suppressed: false,
                        },
                    )
                })
                .collect(),
            admitted_rate: rate(admitted, admitted + not_admitted),
            not_admitted_rate: rate(not_admitted, admitted + not_admitted),
            part_1: marks_stats(&self.part_1, HALF),
            part_2: marks_stats(&self.part_2, HALF),
            average: marks_stats(&self.average, QUARTER),
            distribution_part_1: distribution(&self.part_1, HALF),
            distribution_part_2: distribution(&self.part_2, HALF),
            distribution_average: distribution(&self.average, QUARTER),
            mean_training_hours_admitted: mean_hours(&self.hours_admitted),
            mean_training_hours_not_admitted: mean_hours(&self.hours_not),
        }
    }
}

/// A breakdown cell: the dimension values and the figures of its candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub key: Vec<(Dimension, String)>,
    pub figures: Figures,
}

/// Cells of every combination of values present among `records`, in key order.
pub fn breakdown(
    records: &[&Record],
    trainings: &[&Training],
    training: &TrainingIndex<'_>,
    dims: &[Dimension],
) -> Vec<Cell> {
    if dims.is_empty() {
        return Vec::new();
    }
    let mut groups: BTreeMap<Vec<String>, Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups
            .entry(dims.iter().map(|d| r.dimension(*d)).collect())
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|(values, rs)| {
            // Trainees count in a cell when they are among its candidates.
            let keys: std::collections::HashSet<(&str, &str)> = rs
                .iter()
                .map(|r| (r.academy.as_str(), r.candidate_key.as_str()))
                .collect();
            let ts: Vec<&Training> = trainings
                .iter()
                .copied()
                .filter(|t| keys.contains(&(t.academy.as_str(), t.candidate_key.as_str())))
                .collect();
            Cell {
                key: dims.iter().copied().zip(values).collect(),
                figures: compute(&rs, &ts, training),
            }
        })
        .collect()
}

/// Prepares totals and cells for publication: counts below `threshold` are hidden, with
/// complementary suppression so no hidden count can be recovered from what is shown; mark
/// statistics and distributions of small groups are hidden; rates follow their counts.
pub fn suppress(totals: &mut Figures, cells: &mut [Cell], threshold: i64) {
    let dims = cells.first().map_or(0, |c| c.key.len());
    for m in Measure::ALL {
        let values: Vec<i64> = cells.iter().map(|c| c.figures.count(m)).collect();
        let keys: Vec<Vec<String>> = cells
            .iter()
            .map(|c| c.key.iter().map(|(_, v)| v.clone()).collect())
            .collect();
        let total = totals.count(m);
        let (hidden, total_hidden) =
            suppression::suppress_table(&keys, dims, &values, total, threshold);
        // Every measure is counted (zero included), so each figure has an entry to mark.
        for (cell, h) in cells.iter_mut().zip(hidden) {
            if let Some(c) = cell.figures.counts.get_mut(&m) {
                c.suppressed = h;
            }
        }
        if let Some(c) = totals.counts.get_mut(&m) {
            c.suppressed = total_hidden;
        }
    }
    for f in std::iter::once(totals).chain(cells.iter_mut().map(|c| &mut c.figures)) {
        finish_publication(f, threshold);
    }
}

fn finish_publication(f: &mut Figures, threshold: i64) {
    let hidden = |f: &Figures, m: Measure| f.counts.get(&m).is_some_and(|c| c.suppressed);
    let rates_hidden = hidden(f, Measure::Admitted) || hidden(f, Measure::NotAdmitted);
    f.admitted_rate.suppressed = rates_hidden;
    f.not_admitted_rate.suppressed = rates_hidden;
    for stats in [&mut f.part_1, &mut f.part_2, &mut f.average] {
        if stats.marks < threshold {
            *stats = MarkStats {
                suppressed: true,
                ..MarkStats::default()
            };
        }
    }
    for d in [
        &mut f.distribution_part_1,
        &mut f.distribution_part_2,
        &mut f.distribution_average,
    ] {
        let values: Vec<i64> = d.iter().map(|c| c.value).collect();
        let total: i64 = values.iter().sum();
        let keys: Vec<Vec<String>> = (0..values.len()).map(|i| vec![i.to_string()]).collect();
        let (hidden, all_hidden) = suppression::suppress_table(&keys, 1, &values, total, threshold);
        for (c, h) in d.iter_mut().zip(hidden) {
            c.suppressed = h || all_hidden;
            if c.suppressed {
                c.value = 0;
            }
        }
    }
    if hidden(f, Measure::TrainedAdmitted) {
        f.mean_training_hours_admitted = 0.0;
    }
    if hidden(f, Measure::TrainedWithResult) {
        f.mean_training_hours_not_admitted = 0.0;
    }
    for c in f.counts.values_mut() {
        if c.suppressed {
            c.value = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{ExamResult, Part, Profile, RegistrationStatus};

    fn rec(key: &str, status: RegistrationStatus, exam: Option<(Part, Part, bool)>) -> Record {
        let mut r = Record::new("toulouse", 2025, key);
        r.status = Some(status);
        r.profile = Profile {
            sex: "female".into(),
            department: "31".into(),
            staff_category: "first_degree".into(),
            workplace_type: "college".into(),
            runs_mlds_actions: true,
            is_dropout_referent: false,
        };
        r.exam = exam.map(|(a, b, admitted)| ExamResult {
            part_1: a,
            part_2: b,
            admitted,
            reason: if admitted {
                String::new()
            } else {
                "TOTAL_BELOW_20".into()
            },
        });
        r
    }

    #[test]
    fn the_session_report_counts() {
        use Part::*;
        let rs = [
            rec(
                "a",
                RegistrationStatus::Validated,
                Some((Mark(24), Mark(30), true)),
            ),
            rec(
                "b",
                RegistrationStatus::Validated,
                Some((Mark(10), Mark(36), false)),
            ),
            rec(
                "c",
                RegistrationStatus::Validated,
                Some((Mark(20), Absent, false)),
            ),
            rec("d", RegistrationStatus::Rejected, None),
            rec("e", RegistrationStatus::Withdrawn, None),
        ];
        let refs: Vec<&Record> = rs.iter().collect();
        let t = Training {
            academy: "toulouse".into(),
            school_year: 2024,
            candidate_key: "a".into(),
            enrolled: true,
            completed: true,
            abandoned: false,
            minutes: 190 * 60,
        };
        let trainings = [t];
        let idx = index_training(&trainings);
        let tr: Vec<&Training> = trainings.iter().collect();
        let f = compute(&refs, &tr, &idx);
        assert_eq!(f.count(Measure::Registrations), 5);
        assert_eq!(f.count(Measure::Invalidated), 1);
        assert_eq!(f.count(Measure::Withdrawn), 1);
        assert_eq!(f.count(Measure::FirstDegreeWithdrawn), 1);
        assert_eq!(f.count(Measure::AdmittedToSit), 3);
        assert_eq!(f.count(Measure::SatWholeExam), 2);
        assert_eq!(
            (f.count(Measure::Admitted), f.count(Measure::NotAdmitted)),
            (1, 2)
        );
        assert_eq!(f.admitted_rate.percent, 33.3);
        assert_eq!(f.count(Measure::EliminatoryPart1), 1, "5/20 is eliminatory");
        assert_eq!(f.count(Measure::AbsentPart2), 1);
        assert_eq!(
            (f.part_1.lowest, f.part_1.highest, f.part_1.mean),
            (5.0, 12.0, 9.0)
        );
        assert_eq!(f.average.marks, 2);
        assert_eq!(
            f.distribution_part_2.iter().map(|c| c.value).sum::<i64>(),
            2
        );
        assert_eq!(
            (
                f.count(Measure::TrainedWithResult),
                f.count(Measure::TrainedAdmitted)
            ),
            (1, 1)
        );
        assert_eq!(f.mean_training_hours_admitted, 190.0);
        assert_eq!(f.count(Measure::MldsActionsAdmitted), 1);
        assert_eq!(f.count(Measure::TrainingCompleted), 1);
    }

    #[test]
    fn the_average_of_two_epreuves_is_never_rounded() {
        use Part::*;
        // 9.5 and 10 average 9.75 (the jury's report shows 9.75, not 9.5); 12 and 13.5: 12.75.
        let rs = [
            rec(
                "a",
                RegistrationStatus::Validated,
                Some((Mark(19), Mark(20), false)),
            ),
            rec(
                "b",
                RegistrationStatus::Validated,
                Some((Mark(24), Mark(27), true)),
            ),
        ];
        let refs: Vec<&Record> = rs.iter().collect();
        let f = compute(&refs, &[], &HashMap::new());
        assert_eq!(
            (f.average.lowest, f.average.highest, f.average.mean),
            (9.75, 12.75, 11.25)
        );
        // Two-point buckets: 9.75 in [8,10), 12.75 in [12,14).
        let buckets: Vec<i64> = f.distribution_average.iter().map(|c| c.value).collect();
        assert_eq!(buckets, vec![0, 0, 0, 0, 1, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn publication_hides_small_counts() {
        let rs: Vec<Record> = (0..12)
            .map(|i| {
                let mut r = rec(
                    &format!("k{i}"),
                    RegistrationStatus::Validated,
                    Some((Part::Mark(30), Part::Mark(30), true)),
                );
                r.profile.department = if i < 9 {
                    "31".into()
                } else if i < 11 {
                    "81".into()
                } else {
                    "82".into()
                };
                r
            })
            .collect();
        let refs: Vec<&Record> = rs.iter().collect();
        let idx = HashMap::new();
        let mut totals = compute(&refs, &[], &idx);
        let mut cells = breakdown(&refs, &[], &idx, &[Dimension::Department]);
        suppress(&mut totals, &mut cells, 5);
        let admitted: Vec<(bool, i64)> = cells
            .iter()
            .map(|c| {
                (
                    c.figures.counts[&Measure::Admitted].suppressed,
                    c.figures.counts[&Measure::Admitted].value,
                )
            })
            .collect();
        // 81 (2) and 82 (1) are small; with both hidden, neither can be recovered from 12 - 9.
        assert_eq!(admitted, [(false, 9), (true, 0), (true, 0)]);
        assert!(!totals.counts[&Measure::Admitted].suppressed);
        assert!(cells[1].figures.part_1.suppressed);
        assert!(cells[0].figures.admitted_rate.percent > 99.0);
    }
}
