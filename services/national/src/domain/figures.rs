//! Figures of a set of candidates: the counts, rates, marks and distributions of the jury's
//! session report, computed from records (pure).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{
    record::{Dimension, ExamResult, Fate, Part, Record, Training},
    suppression,
};

/// The counted measures: the published ones in report order, then the derived ones (never
/// published, but a difference of published ones, so protected as they are).
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
    /// Registered candidates declaring MLDS actions, whatever their fate ("11 sur 13").
    MldsDeclarers,
    /// Registered référents décrochage, whatever their fate ("4 des 5 référents").
    Referents,
    /// Registered first-degree candidates ("4 des 5 candidats du premier degré ont abandonné").
    FirstDegreeRegistered,
    /// Registered, with a mark at both épreuves (a column of the département × sex table).
    PresentAtBoth,
    /// Registered, with a result, absent from at least one épreuve.
    AbsentFromAnEpreuve,
    /// Registered, neither invalidated nor withdrawn, no result yet.
    AwaitingResult,
    /// With a mark at both épreuves and not admitted: the published report's not-admitted count.
    NotAdmittedPresentAtBoth,
    /// Sat both, no eliminatory mark, not admitted: failed on the total below 20/40 only.
    FailedOnTotalOnly,
    /// Not admitted candidates with at least one eliminatory mark (the eliminatory counts per
    /// épreuve are marks: a candidate may have two).
    EliminatedCandidates,
    /// Marks given at each épreuve (published as the mark statistics' `marks`).
    MarksPart1,
    MarksPart2,
    // Derived, never published.
    WithResult,
    EliminatoryMarks,
    ResultWithAbsence,
    EliminatedPresentAtBoth,
    EliminatedAbsent,
    BothMarksEliminatory,
    TrainedNotAdmitted,
    UntrainedNotAdmitted,
    MldsActionsNotAdmitted,
    ReferentsNotAdmitted,
    MldsDeclarersWithoutResult,
    ReferentsWithoutResult,
    FirstDegreeNotWithdrawn,
    NotAdmittedToSit,
}

impl Measure {
    /// The published measures, in report order.
    pub const ALL: [Measure; 35] = [
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
        Measure::MldsDeclarers,
        Measure::Referents,
        Measure::FirstDegreeRegistered,
        Measure::PresentAtBoth,
        Measure::AbsentFromAnEpreuve,
        Measure::AwaitingResult,
        Measure::NotAdmittedPresentAtBoth,
        Measure::FailedOnTotalOnly,
        Measure::EliminatedCandidates,
        Measure::MarksPart1,
        Measure::MarksPart2,
    ];

    /// Differences of published measures: computed and protected, never published.
    pub const DERIVED: [Measure; 14] = [
        Measure::WithResult,
        Measure::EliminatoryMarks,
        Measure::ResultWithAbsence,
        Measure::EliminatedPresentAtBoth,
        Measure::EliminatedAbsent,
        Measure::BothMarksEliminatory,
        Measure::TrainedNotAdmitted,
        Measure::UntrainedNotAdmitted,
        Measure::MldsActionsNotAdmitted,
        Measure::ReferentsNotAdmitted,
        Measure::MldsDeclarersWithoutResult,
        Measure::ReferentsWithoutResult,
        Measure::FirstDegreeNotWithdrawn,
        Measure::NotAdmittedToSit,
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
            Measure::MldsDeclarers => "mlds_declarers",
            Measure::Referents => "referents",
            Measure::FirstDegreeRegistered => "first_degree_registered",
            Measure::PresentAtBoth => "present_at_both",
            Measure::AbsentFromAnEpreuve => "absent_from_an_epreuve",
            Measure::AwaitingResult => "awaiting_result",
            Measure::NotAdmittedPresentAtBoth => "not_admitted_present_at_both",
            Measure::FailedOnTotalOnly => "failed_on_total_only",
            Measure::EliminatedCandidates => "eliminated_candidates",
            Measure::MarksPart1 => "marks_part_1",
            Measure::MarksPart2 => "marks_part_2",
            Measure::WithResult => "with_result",
            Measure::EliminatoryMarks => "eliminatory_marks",
            Measure::ResultWithAbsence => "result_with_absence",
            Measure::EliminatedPresentAtBoth => "eliminated_present_at_both",
            Measure::EliminatedAbsent => "eliminated_absent",
            Measure::BothMarksEliminatory => "both_marks_eliminatory",
            Measure::TrainedNotAdmitted => "trained_not_admitted",
            Measure::UntrainedNotAdmitted => "untrained_not_admitted",
            Measure::MldsActionsNotAdmitted => "mlds_actions_not_admitted",
            Measure::ReferentsNotAdmitted => "referents_not_admitted",
            Measure::MldsDeclarersWithoutResult => "mlds_declarers_without_result",
            Measure::ReferentsWithoutResult => "referents_without_result",
            Measure::FirstDegreeNotWithdrawn => "first_degree_not_withdrawn",
            Measure::NotAdmittedToSit => "not_admitted_to_sit",
        }
    }
}

/// The additive relations between measures inside one group of candidates (a cell or the
/// total): the first is the sum of the others. A reader can difference any of them, so
/// disclosure control treats each as a line (see [`suppress`]). They hold for candidates whose
/// registration and result agree with the rules (the jury admits only who sat both épreuves).
pub const RELATIONS: &[(Measure, &[Measure])] = {
    use Measure::*;
    &[
        (
            Registrations,
            &[
                Invalidated,
                Withdrawn,
                PresentAtBoth,
                AbsentFromAnEpreuve,
                AwaitingResult,
            ],
        ),
        (Registrations, &[AdmittedToSit, NotAdmittedToSit]),
        (WithResult, &[Admitted, NotAdmitted]),
        (WithResult, &[TrainedWithResult, UntrainedWithResult]),
        (WithResult, &[MarksPart1, AbsentPart1]),
        (WithResult, &[MarksPart2, AbsentPart2]),
        (WithResult, &[SatWholeExam, ResultWithAbsence]),
        (WithResult, &[PresentAtBoth, AbsentFromAnEpreuve]),
        (SatWholeExam, &[PresentAtBoth]),
        (ResultWithAbsence, &[AbsentFromAnEpreuve]),
        (SatWholeExam, &[Admitted, NotAdmittedPresentAtBoth]),
        (NotAdmitted, &[NotAdmittedPresentAtBoth, ResultWithAbsence]),
        (
            NotAdmittedPresentAtBoth,
            &[FailedOnTotalOnly, EliminatedPresentAtBoth],
        ),
        (
            EliminatedCandidates,
            &[EliminatedPresentAtBoth, EliminatedAbsent],
        ),
        (EliminatoryMarks, &[EliminatoryPart1, EliminatoryPart2]),
        (
            EliminatoryMarks,
            &[EliminatedCandidates, BothMarksEliminatory],
        ),
        (Admitted, &[TrainedAdmitted, UntrainedAdmitted]),
        (TrainedWithResult, &[TrainedAdmitted, TrainedNotAdmitted]),
        (
            UntrainedWithResult,
            &[UntrainedAdmitted, UntrainedNotAdmitted],
        ),
        (NotAdmitted, &[TrainedNotAdmitted, UntrainedNotAdmitted]),
        (
            MldsActionsWithResult,
            &[MldsActionsAdmitted, MldsActionsNotAdmitted],
        ),
        (
            ReferentsWithResult,
            &[ReferentsAdmitted, ReferentsNotAdmitted],
        ),
        (
            MldsDeclarers,
            &[MldsActionsWithResult, MldsDeclarersWithoutResult],
        ),
        (Referents, &[ReferentsWithResult, ReferentsWithoutResult]),
        (
            FirstDegreeRegistered,
            &[FirstDegreeWithdrawn, FirstDegreeNotWithdrawn],
        ),
    ]
};

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
    /// Lowest and highest hidden (zero): they would tell whether an eliminatory mark was given
    /// when that count is hidden.
    pub extremes_suppressed: bool,
}

/// Ten buckets of two points: `[0,2)`, `[2,4)`, ... `[18,20]`.
pub const BUCKETS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Every published measure, zero included.
    pub counts: BTreeMap<Measure, Count>,
    /// The derived measures: for disclosure control only, never published.
    #[serde(skip)]
    pub derived: BTreeMap<Measure, i64>,
    pub admitted_rate: Rate,
    /// Not admitted among candidates with a result (absent ones included).
    pub not_admitted_rate: Rate,
    /// Not admitted among candidates who sat both épreuves, as the published report gives it
    /// ("3 sur 15, soit 20 %").
    pub not_admitted_rate_present_at_both: Rate,
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
    /// A measure's value, published or derived.
    pub fn count(&self, m: Measure) -> i64 {
        self.counts
            .get(&m)
            .map(|c| c.value)
            .or_else(|| self.derived.get(&m).copied())
            .unwrap_or(0)
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
/// A mark of 5/20 or less (in half points) is eliminatory.
const ELIMINATORY: u8 = 10;

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
        extremes_suppressed: false,
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

    /// Registrations and their fates, admission to sit, certificates.
    fn registration(&mut self, r: &Record) {
        if let Some(fate) = r.fate() {
            self.registered(r, fate);
        }
        if r.certified {
            self.inc(Measure::CertificatesIssued);
        }
        if r.certificate_revoked {
            self.inc(Measure::CertificatesRevoked);
        }
    }

    /// A registered candidate: its fate (the columns of the département × sex table), and the
    /// groups the report gives shares of, whatever their fate.
    fn registered(&mut self, r: &Record, fate: Fate) {
        self.inc(Measure::Registrations);
        self.inc(match fate {
            Fate::Invalidated => Measure::Invalidated,
            Fate::Withdrawn => Measure::Withdrawn,
            Fate::PresentAtBoth => Measure::PresentAtBoth,
            Fate::AbsentFromAnEpreuve => Measure::AbsentFromAnEpreuve,
            Fate::AwaitingResult => Measure::AwaitingResult,
        });
        self.inc(if r.admitted_to_sit() {
            Measure::AdmittedToSit
        } else {
            Measure::NotAdmittedToSit
        });
        let with_result = r.result().is_some();
        if r.profile.runs_mlds_actions {
            self.inc(Measure::MldsDeclarers);
            if !with_result {
                self.inc(Measure::MldsDeclarersWithoutResult);
            }
        }
        if r.profile.is_dropout_referent {
            self.inc(Measure::Referents);
            if !with_result {
                self.inc(Measure::ReferentsWithoutResult);
            }
        }
        if r.profile.staff_category == "first_degree" {
            self.inc(Measure::FirstDegreeRegistered);
            self.inc(if fate == Fate::Withdrawn {
                Measure::FirstDegreeWithdrawn
            } else {
                Measure::FirstDegreeNotWithdrawn
            });
        }
    }

    /// The jury's decision, among all and among MLDS actors, référents, trainees.
    fn result(&mut self, r: &Record, e: &ExamResult, trained: Option<&Training>) {
        // A group's candidates with a result, and among them the admitted or the others.
        let admitted = |t: &mut Self, (with, among, not): (Measure, Measure, Measure)| {
            t.inc(with);
            t.inc(if e.admitted { among } else { not });
        };
        admitted(
            self,
            (Measure::WithResult, Measure::Admitted, Measure::NotAdmitted),
        );
        if r.profile.runs_mlds_actions {
            admitted(
                self,
                (
                    Measure::MldsActionsWithResult,
                    Measure::MldsActionsAdmitted,
                    Measure::MldsActionsNotAdmitted,
                ),
            );
        }
        if r.profile.is_dropout_referent {
            admitted(
                self,
                (
                    Measure::ReferentsWithResult,
                    Measure::ReferentsAdmitted,
                    Measure::ReferentsNotAdmitted,
                ),
            );
        }
        match trained {
            Some(t) => {
                admitted(
                    self,
                    (
                        Measure::TrainedWithResult,
                        Measure::TrainedAdmitted,
                        Measure::TrainedNotAdmitted,
                    ),
                );
                if e.admitted {
                    self.hours_admitted.push(t.minutes);
                } else {
                    self.hours_not.push(t.minutes);
                }
            }
            None => admitted(
                self,
                (
                    Measure::UntrainedWithResult,
                    Measure::UntrainedAdmitted,
                    Measure::UntrainedNotAdmitted,
                ),
            ),
        }
    }

    /// Marks, eliminatory marks and absences per épreuve, the average of who sat both, and why
    /// a candidate was not admitted (an eliminatory mark, an absence, or the total only).
    fn marks(&mut self, e: &ExamResult) {
        let p1 = self.part(e.part_1, Measure::EliminatoryPart1, Measure::AbsentPart1);
        let p2 = self.part(e.part_2, Measure::EliminatoryPart2, Measure::AbsentPart2);
        self.part_1.extend(p1);
        self.part_2.extend(p2);
        let eliminatory = |p: Option<u8>| p.is_some_and(|m| m <= ELIMINATORY);
        let eliminated = eliminatory(p1) || eliminatory(p2);
        if eliminatory(p1) && eliminatory(p2) {
            self.inc(Measure::BothMarksEliminatory);
        }
        let both = match (p1, p2) {
            (Some(a), Some(b)) => {
                self.inc(Measure::SatWholeExam);
                // The sum of two marks in half points is their exact average in quarter points.
                self.average.push(a + b);
                true
            }
            _ => {
                self.inc(Measure::ResultWithAbsence);
                false
            }
        };
        if e.admitted {
            return;
        }
        if both {
            self.inc(Measure::NotAdmittedPresentAtBoth);
        }
        match (eliminated, both) {
            (true, true) => {
                self.inc(Measure::EliminatedCandidates);
                self.inc(Measure::EliminatedPresentAtBoth);
            }
            (true, false) => {
                self.inc(Measure::EliminatedCandidates);
                self.inc(Measure::EliminatedAbsent);
            }
            (false, true) => self.inc(Measure::FailedOnTotalOnly),
            (false, false) => {}
        }
    }

    /// One épreuve: its mark (counted eliminatory at 5/20 or less), or an absence.
    fn part(&mut self, part: Part, eliminatory: Measure, absent: Measure) -> Option<u8> {
        let mark = part.mark();
        match mark {
            Some(m) if m <= ELIMINATORY => {
                self.inc(eliminatory);
                self.inc(Measure::EliminatoryMarks);
            }
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
        let value = |m: Measure| match m {
            Measure::MarksPart1 => self.part_1.len() as i64,
            Measure::MarksPart2 => self.part_2.len() as i64,
            m => self.count(m),
        };
        Figures {
            counts: Measure::ALL
                .iter()
                .map(|&m| {
                    (
                        m,
                        Count {
                            value: value(m),
                            suppressed: false,
                        },
                    )
                })
                .collect(),
            derived: Measure::DERIVED.iter().map(|&m| (m, value(m))).collect(),
            admitted_rate: rate(admitted, admitted + not_admitted),
            not_admitted_rate: rate(not_admitted, admitted + not_admitted),
            not_admitted_rate_present_at_both: rate(
                self.count(Measure::NotAdmittedPresentAtBoth),
                self.count(Measure::SatWholeExam),
            ),
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

/// A mark distribution of a group of candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Part1,
    Part2,
    Average,
}

impl Distribution {
    pub const ALL: [Distribution; 3] = [
        Distribution::Part1,
        Distribution::Part2,
        Distribution::Average,
    ];

    /// The count its buckets add up to.
    pub fn marks(self) -> Measure {
        match self {
            Distribution::Part1 => Measure::MarksPart1,
            Distribution::Part2 => Measure::MarksPart2,
            Distribution::Average => Measure::SatWholeExam,
        }
    }

    /// The count of eliminatory marks its lowest marks would bound.
    pub fn eliminatory(self) -> Option<Measure> {
        match self {
            Distribution::Part1 => Some(Measure::EliminatoryPart1),
            Distribution::Part2 => Some(Measure::EliminatoryPart2),
            Distribution::Average => None,
        }
    }

    pub fn buckets(self, f: &Figures) -> &[Count] {
        match self {
            Distribution::Part1 => &f.distribution_part_1,
            Distribution::Part2 => &f.distribution_part_2,
            Distribution::Average => &f.distribution_average,
        }
    }

    fn buckets_mut(self, f: &mut Figures) -> &mut Vec<Count> {
        match self {
            Distribution::Part1 => &mut f.distribution_part_1,
            Distribution::Part2 => &mut f.distribution_part_2,
            Distribution::Average => &mut f.distribution_average,
        }
    }

    fn stats_mut(self, f: &mut Figures) -> &mut MarkStats {
        match self {
            Distribution::Part1 => &mut f.part_1,
            Distribution::Part2 => &mut f.part_2,
            Distribution::Average => &mut f.average,
        }
    }
}

/// The buckets `[0,2)`, `[2,4)`, `[4,6)`: every eliminatory mark (5/20 or less) is in them.
const ELIMINATORY_BUCKETS: usize = 3;

/// What disclosure control protects in a group of candidates: a measure (published or
/// derived) or a bucket of a mark distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Measure(Measure),
    Bucket(Distribution, usize),
}

impl Item {
    /// Every item of a group, in a fixed order.
    pub fn all() -> Vec<Item> {
        let mut items: Vec<Item> = Measure::ALL
            .iter()
            .chain(Measure::DERIVED.iter())
            .map(|&m| Item::Measure(m))
            .collect();
        for d in Distribution::ALL {
            items.extend((0..BUCKETS).map(|b| Item::Bucket(d, b)));
        }
        items
    }

    pub fn value(self, f: &Figures) -> i64 {
        match self {
            Item::Measure(m) => f.count(m),
            Item::Bucket(d, b) => d.buckets(f).get(b).map_or(0, |c| c.value),
        }
    }

    /// Whether the answer shows it (derived measures are only differences of shown ones).
    pub fn published(self) -> bool {
        match self {
            Item::Measure(m) => Measure::ALL.contains(&m),
            Item::Bucket(..) => true,
        }
    }
}

/// The items, lines and ties of an answer of `groups` groups of candidates: group 0 is the
/// total, group `1 + i` the cell keyed `keys[i]`; item `k` of group `g` has index
/// `g * items.len() + k`. Lines: each item across the cells and the total (the table's lines),
/// and inside each group every relation of [`RELATIONS`] and every distribution with its count.
/// Ties: hidden eliminatory marks hide the buckets that hold them.
pub struct Layout {
    pub items: Vec<Item>,
    pub lines: Vec<Vec<usize>>,
    pub ties: Vec<(usize, Vec<usize>)>,
}

impl Layout {
    /// `holds(group, whole, parts)` tells whether a relation holds in a group: one that does
    /// not (results known before their registrations) differences to no count, so it is no line.
    pub fn new(
        keys: &[Vec<String>],
        dims: usize,
        holds: impl Fn(usize, Measure, &[Measure]) -> bool,
    ) -> Layout {
        let items = Item::all();
        let n = items.len();
        let groups = keys.len() + 1;
        let index = |item: Item| items.iter().position(|&i| i == item).unwrap_or(0);
        let mut lines = Vec::new();
        // Cells are groups 1.., the total group 0; table lines name the total as keys.len().
        let group_of = |cell: usize| if cell == keys.len() { 0 } else { cell + 1 };
        for line in suppression::table_lines(keys, dims) {
            for k in 0..n {
                lines.push(line.iter().map(|&c| group_of(c) * n + k).collect());
            }
        }
        let mut ties = Vec::new();
        for g in 0..groups {
            let at = |item: Item| g * n + index(item);
            for (whole, parts) in RELATIONS.iter().filter(|(w, p)| holds(g, *w, p)) {
                let mut line = vec![at(Item::Measure(*whole))];
                line.extend(parts.iter().map(|&m| at(Item::Measure(m))));
                lines.push(line);
            }
            for d in Distribution::ALL {
                let mut line = vec![at(Item::Measure(d.marks()))];
                line.extend((0..BUCKETS).map(|b| at(Item::Bucket(d, b))));
                lines.push(line);
                if let Some(e) = d.eliminatory() {
                    ties.push((
                        at(Item::Measure(e)),
                        (0..ELIMINATORY_BUCKETS)
                            .map(|b| at(Item::Bucket(d, b)))
                            .collect(),
                    ));
                }
            }
        }
        Layout { items, lines, ties }
    }
}

/// Prepares totals and cells for publication: counts below `threshold` are hidden, with
/// complementary suppression across cells, the total and the measures of each group (see
/// [`Layout`]), so that no hidden count can be recovered by differencing what is shown. Mark
/// statistics follow their counts (lowest and highest also follow the eliminatory marks), rates
/// follow the counts they are made of.
pub fn suppress(totals: &mut Figures, cells: &mut [Cell], threshold: i64) {
    let keys: Vec<Vec<String>> = cells
        .iter()
        .map(|c| c.key.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    let dims = cells.first().map_or(0, |c| c.key.len());
    let groups: Vec<&Figures> = std::iter::once(&*totals)
        .chain(cells.iter().map(|c| &c.figures))
        .collect();
    let layout = Layout::new(&keys, dims, |g, whole, parts| {
        groups
            .get(g)
            .is_some_and(|f| f.count(whole) == parts.iter().map(|&m| f.count(m)).sum::<i64>())
    });
    let n = layout.items.len();
    let values: Vec<i64> = groups
        .iter()
        .flat_map(|f| layout.items.iter().map(|i| i.value(f)))
        .collect();
    let hidden = suppression::suppress_items(&values, &layout.lines, &layout.ties, threshold);
    let groups = std::iter::once(totals).chain(cells.iter_mut().map(|c| &mut c.figures));
    for (f, hidden) in groups.zip(hidden.chunks(n)) {
        for (item, &h) in layout.items.iter().zip(hidden) {
            match *item {
                Item::Measure(m) => {
                    if let Some(c) = f.counts.get_mut(&m) {
                        c.suppressed = h;
                    }
                }
                Item::Bucket(d, b) => {
                    if let Some(c) = d.buckets_mut(f).get_mut(b) {
                        c.suppressed = h;
                    }
                }
            }
        }
        finish_publication(f, threshold);
    }
}

fn finish_publication(f: &mut Figures, threshold: i64) {
    let hidden = |f: &Figures, m: Measure| f.counts.get(&m).is_some_and(|c| c.suppressed);
    let rates_hidden = hidden(f, Measure::Admitted) || hidden(f, Measure::NotAdmitted);
    f.admitted_rate.suppressed = rates_hidden;
    f.not_admitted_rate.suppressed = rates_hidden;
    f.not_admitted_rate_present_at_both.suppressed =
        hidden(f, Measure::NotAdmittedPresentAtBoth) || hidden(f, Measure::SatWholeExam);
    for d in Distribution::ALL {
        let marks_hidden = hidden(f, d.marks());
        let extremes_hidden = d.eliminatory().is_some_and(|e| hidden(f, e));
        let stats = d.stats_mut(f);
        if marks_hidden || stats.marks < threshold {
            *stats = MarkStats {
                suppressed: true,
                extremes_suppressed: true,
                ..MarkStats::default()
            };
        } else if extremes_hidden {
            // A lowest of 4 would tell an eliminatory mark was given, a highest of 5 that all were.
            stats.lowest = 0.0;
            stats.highest = 0.0;
            stats.extremes_suppressed = true;
        }
        for c in d.buckets_mut(f).iter_mut() {
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
    fn registered_candidates_by_fate_and_why_the_others_failed() {
        use Part::*;
        use RegistrationStatus::*;
        let mut rs = vec![
            rec("a", Validated, Some((Mark(24), Mark(30), true))),
            rec("b", Validated, Some((Mark(10), Mark(8), false))),
            rec("c", Validated, Some((Mark(6), Absent, false))),
            rec("d", Validated, Some((Mark(20), Absent, false))),
            rec("e", Validated, Some((Mark(18), Mark(19), false))),
            rec("f", Rejected, None),
            rec("g", Withdrawn, None),
            rec("h", Validated, None),
        ];
        // Known only from an exam fact: a result, but not (yet) a registration.
        let mut unknown = rec("i", Validated, Some((Mark(30), Mark(30), true)));
        unknown.status = None;
        rs.push(unknown);
        rs[7].profile.runs_mlds_actions = false;
        let refs: Vec<&Record> = rs.iter().collect();
        let f = compute(&refs, &[], &HashMap::new());
        let c = |m| f.count(m);
        assert_eq!(c(Measure::Registrations), 8);
        assert_eq!(
            [
                Measure::Invalidated,
                Measure::Withdrawn,
                Measure::PresentAtBoth,
                Measure::AbsentFromAnEpreuve,
                Measure::AwaitingResult,
            ]
            .map(c),
            [1, 1, 3, 2, 1],
            "the fates add up to the registrations"
        );
        // Every registered declarer, whatever its fate (h declares none).
        assert_eq!(c(Measure::MldsDeclarers), 7);
        assert_eq!(c(Measure::FirstDegreeRegistered), 8);
        assert_eq!(c(Measure::FirstDegreeWithdrawn), 1);
        // Not admitted: b (two eliminatory marks), c (eliminatory, absent), d (absent), e (total).
        assert_eq!(c(Measure::NotAdmitted), 4);
        assert_eq!(c(Measure::EliminatedCandidates), 2);
        assert_eq!(
            (c(Measure::EliminatoryPart1), c(Measure::EliminatoryPart2)),
            (2, 1),
            "eliminatory counts are marks"
        );
        assert_eq!(c(Measure::FailedOnTotalOnly), 1);
        assert_eq!(c(Measure::NotAdmittedPresentAtBoth), 2);
        // Among those who sat both (a, b, e, i): 2 of 4; among those with a result: 4 of 6.
        assert_eq!(f.not_admitted_rate_present_at_both.percent, 50.0);
        assert_eq!(f.not_admitted_rate.percent, 66.7);
    }

    #[test]
    fn hidden_counts_are_not_differences_of_shown_ones() {
        use Part::*;
        let mut rs: Vec<Record> = (0..20)
            .map(|i| {
                rec(
                    &format!("a{i}"),
                    RegistrationStatus::Validated,
                    Some((Mark(30), Mark(30), true)),
                )
            })
            .collect();
        for r in &mut rs[10..] {
            r.profile.department = "81".into();
        }
        // In 31: an eliminatory mark of 4/20, and an absence at épreuve 2.
        rs.push(rec(
            "e",
            RegistrationStatus::Validated,
            Some((Mark(8), Mark(30), false)),
        ));
        rs.push(rec(
            "b",
            RegistrationStatus::Validated,
            Some((Mark(30), Absent, false)),
        ));
        let refs: Vec<&Record> = rs.iter().collect();
        let idx = HashMap::new();
        let mut totals = compute(&refs, &[], &idx);
        let mut cells = breakdown(&refs, &[], &idx, &[Dimension::Department]);
        suppress(&mut totals, &mut cells, 3);
        for f in std::iter::once(&totals).chain(cells.iter().map(|c| &c.figures)) {
            let shown = |m: Measure| !f.counts[&m].suppressed;
            if !shown(Measure::NotAdmitted) {
                // Not admitted = with a result (trained + untrained) − admitted.
                assert!(
                    !(shown(Measure::Admitted)
                        && shown(Measure::TrainedWithResult)
                        && shown(Measure::UntrainedWithResult)),
                    "not admitted recomputed: {f:?}"
                );
            }
            if !shown(Measure::AbsentPart2) {
                // Absent at 2 = marks at 1 + absent at 1 − marks at 2.
                assert!(
                    f.part_1.suppressed || f.part_2.suppressed || !shown(Measure::AbsentPart1),
                    "absent at épreuve 2 recomputed: {f:?}"
                );
            }
            if !shown(Measure::EliminatoryPart1) {
                assert!(
                    f.part_1.suppressed || (f.part_1.lowest == 0.0 && f.part_1.highest == 0.0),
                    "a lowest mark of 4 tells the hidden eliminatory mark: {f:?}"
                );
            }
        }
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

    mod differencing {
        use proptest::prelude::*;

        use super::*;

        /// (département, female, first degree, MLDS actions, référent, status, marks, trained).
        type Candidate = (
            usize,
            bool,
            bool,
            bool,
            bool,
            RegistrationStatus,
            Option<(Option<u8>, Option<u8>)>,
            bool,
        );

        fn candidate() -> impl Strategy<Value = Candidate> {
            let status = prop::sample::select(vec![
                RegistrationStatus::Validated,
                RegistrationStatus::Validated,
                RegistrationStatus::Validated,
                RegistrationStatus::Rejected,
                RegistrationStatus::Withdrawn,
                RegistrationStatus::Registered,
            ]);
            let mark = prop::option::weighted(0.85, 0u8..=40);
            (
                0usize..4,
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                prop::bool::weighted(0.2),
                status,
                prop::option::weighted(0.85, (mark.clone(), mark)),
                prop::bool::weighted(0.3),
            )
        }

        /// A candidate as the rules make it: a result only when admitted to sit, admitted when
        /// present at both with no eliminatory mark and 20/40 or more.
        fn record(i: usize, c: &Candidate) -> (Record, Option<Training>) {
            let (dep, female, first, mlds, referent, status, marks, trained) = *c;
            let academy = if dep < 2 { "toulouse" } else { "montpellier" };
            let key = format!("k{i}");
            let mut r = rec(&key, status, None);
            r.academy = academy.into();
            r.profile.department = ["31", "81", "34", "30"][dep].into();
            r.profile.sex = if female { "female" } else { "male" }.into();
            r.profile.staff_category = if first {
                "first_degree"
            } else {
                "second_degree_tenured"
            }
            .into();
            r.profile.runs_mlds_actions = mlds;
            r.profile.is_dropout_referent = referent;
            r.was_admitted_to_sit = true;
            if let (RegistrationStatus::Validated, Some((a, b))) = (status, marks) {
                let part = |m: Option<u8>| m.map_or(Part::Absent, Part::Mark);
                let admitted =
                    matches!((a, b), (Some(a), Some(b)) if a > 10 && b > 10 && a + b >= 40);
                r.exam = Some(ExamResult {
                    part_1: part(a),
                    part_2: part(b),
                    admitted,
                    reason: String::new(),
                });
            }
            let t = trained.then(|| Training {
                academy: academy.into(),
                school_year: 2024,
                candidate_key: key,
                enrolled: true,
                completed: true,
                abandoned: false,
                minutes: 120 * 60,
            });
            (r, t)
        }

        /// The reader's lines, written apart from [`Layout`]: each item over all cells and the
        /// total, over the cells that differ in one dimension only (their sum is a margin of
        /// another answer, or the total with one dimension), and inside each group every
        /// relation and every distribution with its count. Group `g` item `k` is `g * n + k`.
        fn attack_lines(keys: &[Vec<String>], items: &[Item]) -> Vec<Vec<usize>> {
            let n = items.len();
            let at = |g: usize, item: Item| g * n + items.iter().position(|&i| i == item).unwrap();
            let mut lines = Vec::new();
            for k in 0..n {
                if !keys.is_empty() {
                    lines.push((0..=keys.len()).map(|g| g * n + k).collect());
                }
                // With one dimension the margin is the total, in the line above.
                let dims = keys.first().map_or(0, Vec::len);
                for d in (0..dims).filter(|_| dims > 1) {
                    for (i, a) in keys.iter().enumerate() {
                        let same: Vec<usize> = keys
                            .iter()
                            .enumerate()
                            .filter(|(_, b)| (0..dims).all(|j| j == d || a[j] == b[j]))
                            .map(|(c, _)| (c + 1) * n + k)
                            .collect();
                        if same[0] == (i + 1) * n + k && same.len() > 1 {
                            lines.push(same);
                        }
                    }
                }
            }
            for g in 0..=keys.len() {
                for (whole, parts) in RELATIONS {
                    let mut line = vec![at(g, Item::Measure(*whole))];
                    line.extend(parts.iter().map(|&m| at(g, Item::Measure(m))));
                    lines.push(line);
                }
                for d in Distribution::ALL {
                    let mut line = vec![at(g, Item::Measure(d.marks()))];
                    line.extend((0..BUCKETS).map(|b| at(g, Item::Bucket(d, b))));
                    lines.push(line);
                }
            }
            lines
        }

        fn hidden_flag(f: &Figures, item: Item) -> Option<bool> {
            match item {
                Item::Measure(m) => f.counts.get(&m).map(|c| c.suppressed),
                Item::Bucket(d, b) => d.buckets(f).get(b).map(|c| c.suppressed),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// For publication, a reader who knows every relation between measures and every
            /// line of the table (margins, totals) differences them as long as a line has
            /// exactly one unknown item: no hidden count is ever learnt. Small counts are
            /// hidden; rates and extreme marks follow the counts they would reveal.
            #[test]
            fn no_hidden_count_is_recomputable(
                candidates in prop::collection::vec(candidate(), 0..60),
                dims in prop::sample::subsequence(
                    vec![Dimension::Department, Dimension::Sex, Dimension::StaffCategory, Dimension::Academy],
                    0..=3,
                ),
                threshold in 2i64..6,
            ) {
                let made: Vec<(Record, Option<Training>)> =
                    candidates.iter().enumerate().map(|(i, c)| record(i, c)).collect();
                let records: Vec<&Record> = made.iter().map(|(r, _)| r).collect();
                let trainings: Vec<Training> = made.iter().filter_map(|(_, t)| t.clone()).collect();
                let idx = index_training(&trainings);
                let trs: Vec<&Training> = trainings.iter().collect();
                let mut totals = compute(&records, &trs, &idx);
                let mut cells = breakdown(&records, &trs, &idx, &dims);
                let before: Vec<Figures> = std::iter::once(totals.clone())
                    .chain(cells.iter().map(|c| c.figures.clone()))
                    .collect();
                suppress(&mut totals, &mut cells, threshold);
                let after: Vec<&Figures> =
                    std::iter::once(&totals).chain(cells.iter().map(|c| &c.figures)).collect();

                let keys: Vec<Vec<String>> = cells
                    .iter()
                    .map(|c| c.key.iter().map(|(_, v)| v.clone()).collect())
                    .collect();
                let items = Item::all();
                let n = items.len();
                let lines = attack_lines(&keys, &items);
                // The relations hold on these candidates (else they would not be lines).
                for f in &before {
                    for (whole, parts) in RELATIONS {
                        let sum: i64 = parts.iter().map(|&m| f.count(m)).sum();
                        prop_assert_eq!(f.count(*whole), sum, "{:?} = {:?}", whole, parts);
                    }
                    for d in Distribution::ALL {
                        let sum: i64 = d.buckets(f).iter().map(|c| c.value).sum();
                        prop_assert_eq!(f.count(d.marks()), sum);
                    }
                }
                // What the reader knows: every published item shown.
                let mut known = vec![false; n * after.len()];
                let mut hidden = vec![false; n * after.len()];
                for (g, f) in after.iter().enumerate() {
                    for (k, &item) in items.iter().enumerate() {
                        let v = item.value(&before[g]);
                        // A derived count is not shown, but a small one must not be learnt.
                        let Some(h) = hidden_flag(f, item) else {
                            hidden[g * n + k] = v > 0 && v < threshold;
                            continue;
                        };
                        prop_assert!(!(v > 0 && v < threshold) || h, "{:?} = {} is shown", item, v);
                        if !h {
                            prop_assert_eq!(item.value(f), v, "a shown count is unchanged");
                        }
                        known[g * n + k] = !h;
                        hidden[g * n + k] = h;
                    }
                }
                // The attack: a line with one unknown item gives it; repeat until nothing more.
                loop {
                    let mut learnt = false;
                    for line in &lines {
                        let unknown: Vec<usize> = line.iter().copied().filter(|&i| !known[i]).collect();
                        if let [i] = unknown[..] {
                            prop_assert!(!hidden[i], "hidden {:?} of group {} recomputed from {:?}", items[i % n], i / n, line.iter().map(|&j| items[j % n]).collect::<Vec<_>>());
                            known[i] = true;
                            learnt = true;
                        }
                    }
                    if !learnt {
                        break;
                    }
                }
                for f in &after {
                    let h = |m: Measure| f.counts[&m].suppressed;
                    if h(Measure::Admitted) || h(Measure::NotAdmitted) {
                        prop_assert!(f.admitted_rate.suppressed && f.not_admitted_rate.suppressed);
                    }
                    if h(Measure::NotAdmittedPresentAtBoth) || h(Measure::SatWholeExam) {
                        prop_assert!(f.not_admitted_rate_present_at_both.suppressed);
                    }
                    for (e, stats) in [(Measure::EliminatoryPart1, &f.part_1), (Measure::EliminatoryPart2, &f.part_2)] {
                        if h(e) {
                            prop_assert!(stats.extremes_suppressed && stats.lowest == 0.0 && stats.highest == 0.0);
                        }
                    }
                    // Marks under 6/20 would bound hidden eliminatory marks.
                    for (e, d) in [(Measure::EliminatoryPart1, &f.distribution_part_1), (Measure::EliminatoryPart2, &f.distribution_part_2)] {
                        if h(e) {
                            prop_assert!(d[..3].iter().all(|c| c.suppressed));
                        }
                    }
                }
            }
        }
    }
}
