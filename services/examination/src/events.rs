//! What the exam publishes. Internal events carry what the académie's other services need
//! (certification issues certificates from them, names included; the results carry the date of
//! the deliberation, which is the date of admission; the académie's report takes the jury's
//! remarks); national ones carry only the pseudonymous key and statistical attributes (design
//! rule 5): no name, e-mail, staff number or establishment code ever goes there.

use chrono::{DateTime, Utc};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::time::to_timestamp;

use crate::{
    domain::{
        decision::{Decision, Outcome},
        jury::Remarks,
        mark::PartResult,
    },
    store::{candidate, session},
};

/// When the session's deliberation closed: the date of admission of its results.
fn deliberated_at(s: &session::Model) -> Option<prost_types::Timestamp> {
    s.deliberation_closed_at.map(to_timestamp)
}

pub fn profile(c: &candidate::Model) -> pb::CandidateProfile {
    pb::CandidateProfile {
        sex: pb::Sex::from_str_name(&c.sex).map_or(0, |v| v as i32),
        department: c.department.clone(),
        staff_category: pb::StaffCategory::from_str_name(&c.staff_category).map_or(0, |v| v as i32),
        workplace_type: pb::WorkplaceType::from_str_name(&c.workplace_type).map_or(0, |v| v as i32),
        runs_mlds_actions: c.runs_mlds_actions,
        is_dropout_referent: c.is_dropout_referent,
    }
}

pub fn identity(c: &candidate::Model) -> pb::CandidateIdentity {
    pb::CandidateIdentity {
        last_name: c.last_name.clone(),
        first_name: c.first_name.clone(),
        birth_date: c.birth_date.clone(),
        email: c.email.clone(),
        staff_number: c.staff_number.clone(),
        workplace_uai: c.workplace_uai.clone(),
    }
}

pub(crate) fn part(r: Option<PartResult>) -> Option<pb::ExamPartResult> {
    r.map(|r| pb::ExamPartResult {
        absent: r.is_absent(),
        mark_half_points: r.mark().map_or(0, |m| m.half_points()),
    })
}

pub fn candidate_decision(c: &candidate::Model, d: &Decision) -> pb::CandidateDecision {
    pb::CandidateDecision {
        candidacy_id: c.candidacy_id.clone(),
        candidate_key: c.candidate_key.clone(),
        part_1: part(d.part_1),
        part_2: part(d.part_2),
        outcome: d.outcome.as_str().to_owned(),
        reason: d.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
        identity: Some(identity(c)),
        profile: Some(profile(c)),
    }
}

fn candidate_decisions(decisions: &[(candidate::Model, Decision)]) -> Vec<pb::CandidateDecision> {
    decisions
        .iter()
        .map(|(c, d)| candidate_decision(c, d))
        .collect()
}

pub fn national_result(year: i32, c: &candidate::Model, d: &Decision) -> Payload {
    Payload::NationalExamResult(pb::NationalExamResult {
        year,
        candidate_key: c.candidate_key.clone(),
        profile: Some(profile(c)),
        part_1: part(d.part_1),
        part_2: part(d.part_2),
        outcome: d.outcome.as_str().to_owned(),
        reason: d.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
    })
}

pub fn session_created(s: &session::Model) -> Payload {
    Payload::ExamSessionCreated(pb::ExamSessionCreated {
        session_id: s.id.clone(),
        year: s.year,
        starts_on: s.starts_on.clone(),
        ends_on: s.ends_on.clone(),
    })
}

pub fn deliberation_closed(
    s: &session::Model,
    decisions: &[(candidate::Model, Decision)],
    minutes_sha256: &str,
) -> Payload {
    Payload::DeliberationClosed(pb::DeliberationClosed {
        session_id: s.id.clone(),
        year: s.year,
        decisions: candidate_decisions(decisions),
        minutes_sha256: minutes_sha256.to_owned(),
        deliberated_at: deliberated_at(s),
    })
}

/// The internal publication, one national fact per candidate, and the national summary.
pub fn results_published(
    s: &session::Model,
    decisions: &[(candidate::Model, Decision)],
    at: DateTime<Utc>,
) -> Vec<Payload> {
    let mut out = vec![Payload::ResultsPublished(pb::ResultsPublished {
        session_id: s.id.clone(),
        year: s.year,
        decisions: candidate_decisions(decisions),
        published_at: Some(to_timestamp(at)),
        deliberated_at: deliberated_at(s),
    })];
    out.extend(decisions.iter().map(|(c, d)| national_result(s.year, c, d)));
    out.push(Payload::NationalResultsPublished(
        pb::NationalResultsPublished {
            year: s.year,
            candidates: decisions.len() as i64,
            admitted: decisions
                .iter()
                .filter(|(_, d)| d.outcome == Outcome::Admitted)
                .count() as i64,
        },
    ));
    out
}

/// The outcome of an appeal; an upheld one also re-emits the national fact with the revised
/// result (the national node keeps the latest fact per candidate and year).
pub fn appeal_decided(
    s: &session::Model,
    c: &candidate::Model,
    upheld: bool,
    after: &Decision,
) -> Vec<Payload> {
    let mut out = vec![Payload::AppealDecided(pb::AppealDecided {
        session_id: s.id.clone(),
        year: s.year,
        candidacy_id: c.candidacy_id.clone(),
        outcome: if upheld { "UPHELD" } else { "DISMISSED" }.to_owned(),
        decision: Some(candidate_decision(c, after)),
        deliberated_at: deliberated_at(s),
    })];
    if upheld {
        out.push(national_result(s.year, c, after));
    }
    out
}

/// The jury's remarks published for the session report: to the académie's services, and to the
/// national node, which prints them in the report of the académie.
pub fn jury_remarks_published(s: &session::Model, r: &Remarks) -> [Payload; 2] {
    let remarks = pb::JuryRemarksPublished {
        year: s.year,
        session_id: s.id.clone(),
        general_remarks: r.general_remarks.clone(),
        part_1_remarks: r.part_1_remarks.clone(),
        part_2_remarks: r.part_2_remarks.clone(),
        advice: r.advice.clone(),
        positive_points: r.positive_points.clone(),
        points_to_improve: r.points_to_improve.clone(),
        points_to_avoid: r.points_to_avoid.clone(),
        conditions: r.conditions.clone(),
    };
    [
        Payload::JuryRemarksPublished(remarks.clone()),
        Payload::NationalJuryRemarks(remarks),
    ]
}
