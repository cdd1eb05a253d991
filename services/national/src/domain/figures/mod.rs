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
    /// Registered first-degree candidates certified ("certifiés parmi les candidats du premier
    /// degré").
    FirstDegreeAdmitted,
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
    FirstDegreeNotAdmitted,
}

impl Measure {
    /// The published measures, in report order.
    pub const ALL: [Measure; 36] = [
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
        Measure::FirstDegreeAdmitted,
    ];

    /// Differences of published measures: computed and protected, never published.
    pub const DERIVED: [Measure; 15] = [
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
        Measure::FirstDegreeNotAdmitted,
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
            Measure::FirstDegreeAdmitted => "first_degree_admitted",
            Measure::FirstDegreeNotAdmitted => "first_degree_not_admitted",
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
        (
            FirstDegreeRegistered,
            &[FirstDegreeAdmitted, FirstDegreeNotAdmitted],
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
            self.inc(if r.result().is_some_and(|e| e.admitted) {
                Measure::FirstDegreeAdmitted
            } else {
                Measure::FirstDegreeNotAdmitted
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

/// Cells of every combination of values present among `records`, in key order. Trainees count
/// in a cell when they are among its candidates; in a breakdown by place only (région,
/// académie) every trainee of the place counts, as in the place's own totals.
pub fn breakdown(
    records: &[&Record],
    trainings: &[&Training],
    training: &TrainingIndex<'_>,
    dims: &[Dimension],
) -> Vec<Cell> {
    if dims.is_empty() {
        return Vec::new();
    }
    let by_place = dims.iter().all(|d| d.is_place());
    type Group<'r> = (Vec<&'r Record>, Vec<&'r Training>);
    let mut groups: BTreeMap<Vec<String>, Group<'_>> = BTreeMap::new();
    let mut cell_of: HashMap<(&str, &str), Vec<String>> = HashMap::new();
    for r in records {
        let key: Vec<String> = dims.iter().map(|d| r.dimension(*d)).collect();
        if !by_place {
            cell_of.insert((r.academy.as_str(), r.candidate_key.as_str()), key.clone());
        }
        groups.entry(key).or_default().0.push(r);
    }
    for t in trainings {
        let key = if by_place {
            dims.iter().map(|d| d.place(&t.academy)).collect()
        } else {
            cell_of
                .get(&(t.academy.as_str(), t.candidate_key.as_str()))
                .cloned()
        };
        if let Some(key) = key {
            groups.entry(key).or_default().1.push(t);
        }
    }
    groups
        .into_iter()
        .map(|(values, (rs, ts))| Cell {
            key: dims.iter().copied().zip(values).collect(),
            figures: compute(&rs, &ts, training),
        })
        .collect()
}

mod publication;
#[cfg(test)]
mod tests;

pub use publication::{Distribution, Item, Publication};
