//! proto ⇄ domain: scopes and dimensions of a query, figures as messages.

use cplds_proto::v1 as pb;

use crate::domain::{
    figures::{self, Figures, Measure},
    query::Scope,
    record::Dimension,
};

/// The scope of a query; none (or UNSPECIFIED) is the nation.
pub fn scope(s: Option<&pb::Scope>) -> Result<Scope, String> {
    let Some(s) = s else {
        return Ok(Scope::National);
    };
    match pb::ScopeLevel::try_from(s.level) {
        Ok(pb::ScopeLevel::Unspecified | pb::ScopeLevel::National) => Ok(Scope::National),
        Ok(pb::ScopeLevel::Region) => Scope::region(&s.code),
        Ok(pb::ScopeLevel::Academy) => Scope::academy(&s.code),
        Err(_) => Err(format!("{} is not a known scope level", s.level)),
    }
}

pub fn scope_pb(s: &Scope) -> pb::Scope {
    let (level, code) = match s {
        Scope::National => (pb::ScopeLevel::National, String::new()),
        Scope::Region(c) => (pb::ScopeLevel::Region, (*c).to_owned()),
        Scope::Academy(a) => (pb::ScopeLevel::Academy, a.code.to_owned()),
    };
    pb::Scope {
        level: level as i32,
        code,
    }
}

fn count(f: &Figures, m: Measure) -> Option<pb::Count> {
    f.counts.get(&m).map(|c| pb::Count {
        value: c.value,
        suppressed: c.suppressed,
    })
}

fn rate(r: &figures::Rate) -> Option<pb::Rate> {
    Some(pb::Rate {
        percent: r.percent,
        suppressed: r.suppressed,
        undefined: r.undefined,
    })
}

fn marks(m: &figures::MarkStats) -> Option<pb::MarkStats> {
    Some(pb::MarkStats {
        lowest: m.lowest,
        highest: m.highest,
        mean: m.mean,
        marks: m.marks,
        suppressed: m.suppressed,
        extremes_suppressed: m.extremes_suppressed,
    })
}

fn buckets(d: &[figures::Count]) -> Vec<pb::MarkBucket> {
    d.iter()
        .enumerate()
        .map(|(i, c)| pb::MarkBucket {
            from: (i * 2) as f64,
            to: (i * 2 + 2) as f64,
            count: Some(pb::Count {
                value: c.value,
                suppressed: c.suppressed,
            }),
        })
        .collect()
}

pub fn figures_pb(f: &Figures) -> pb::Figures {
    use Measure::*;
    pb::Figures {
        registrations: count(f, Registrations),
        invalidated: count(f, Invalidated),
        withdrawn: count(f, Withdrawn),
        admitted_to_sit: count(f, AdmittedToSit),
        sat_whole_exam: count(f, SatWholeExam),
        admitted: count(f, Admitted),
        not_admitted: count(f, NotAdmitted),
        admitted_rate: rate(&f.admitted_rate),
        not_admitted_rate: rate(&f.not_admitted_rate),
        eliminatory_part_1: count(f, EliminatoryPart1),
        eliminatory_part_2: count(f, EliminatoryPart2),
        absent_part_1: count(f, AbsentPart1),
        absent_part_2: count(f, AbsentPart2),
        part_1: marks(&f.part_1),
        part_2: marks(&f.part_2),
        average: marks(&f.average),
        distribution_part_1: buckets(&f.distribution_part_1),
        distribution_part_2: buckets(&f.distribution_part_2),
        distribution_average: buckets(&f.distribution_average),
        mlds_actions_with_result: count(f, MldsActionsWithResult),
        mlds_actions_admitted: count(f, MldsActionsAdmitted),
        referents_with_result: count(f, ReferentsWithResult),
        referents_admitted: count(f, ReferentsAdmitted),
        first_degree_withdrawn: count(f, FirstDegreeWithdrawn),
        trained_with_result: count(f, TrainedWithResult),
        trained_admitted: count(f, TrainedAdmitted),
        untrained_with_result: count(f, UntrainedWithResult),
        untrained_admitted: count(f, UntrainedAdmitted),
        mean_training_hours_admitted: f.mean_training_hours_admitted,
        mean_training_hours_not_admitted: f.mean_training_hours_not_admitted,
        training_completed: count(f, TrainingCompleted),
        training_abandoned: count(f, TrainingAbandoned),
        certificates_issued: count(f, CertificatesIssued),
        certificates_revoked: count(f, CertificatesRevoked),
        mlds_declarers: count(f, MldsDeclarers),
        referents: count(f, Referents),
        first_degree_registered: count(f, FirstDegreeRegistered),
        first_degree_admitted: count(f, FirstDegreeAdmitted),
        present_at_both: count(f, PresentAtBoth),
        absent_from_an_epreuve: count(f, AbsentFromAnEpreuve),
        awaiting_result: count(f, AwaitingResult),
        not_admitted_present_at_both: count(f, NotAdmittedPresentAtBoth),
        not_admitted_rate_present_at_both: rate(&f.not_admitted_rate_present_at_both),
        failed_on_total_only: count(f, FailedOnTotalOnly),
        eliminated_candidates: count(f, EliminatedCandidates),
    }
}

pub fn dimension_pb(d: Dimension) -> i32 {
    (match d {
        Dimension::Department => pb::Dimension::Department,
        Dimension::Sex => pb::Dimension::Sex,
        Dimension::StaffCategory => pb::Dimension::StaffCategory,
        Dimension::WorkplaceType => pb::Dimension::WorkplaceType,
        Dimension::Academy => pb::Dimension::Academy,
        Dimension::Region => pb::Dimension::Region,
    }) as i32
}

pub fn dimension(v: i32) -> Result<Dimension, String> {
    match pb::Dimension::try_from(v) {
        Ok(pb::Dimension::Department) => Ok(Dimension::Department),
        Ok(pb::Dimension::Sex) => Ok(Dimension::Sex),
        Ok(pb::Dimension::StaffCategory) => Ok(Dimension::StaffCategory),
        Ok(pb::Dimension::WorkplaceType) => Ok(Dimension::WorkplaceType),
        Ok(pb::Dimension::Academy) => Ok(Dimension::Academy),
        Ok(pb::Dimension::Region) => Ok(Dimension::Region),
        Ok(pb::Dimension::Unspecified) => Err("UNSPECIFIED is not a dimension".into()),
        Err(_) => Err(format!("{v} is not a known dimension")),
    }
}

pub fn cells_pb(cells: &[figures::Cell]) -> Vec<pb::Cell> {
    cells
        .iter()
        .map(|c| pb::Cell {
            key: c
                .key
                .iter()
                .map(|(d, v)| pb::CellKey {
                    dimension: dimension_pb(*d),
                    value: v.clone(),
                })
                .collect(),
            figures: Some(figures_pb(&c.figures)),
        })
        .collect()
}
