//! One candidate's record for a year in an académie, as the national facts build it. Facts are
//! applied in each source's sequence order; a later fact (an upheld appeal, a revocation) changes
//! the record, and the facts themselves are kept unchanged in the event log.

use cplds_proto::v1::event_envelope::Payload;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    Registered,
    Validated,
    Rejected,
    Withdrawn,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Validated => "validated",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Registered,
            Self::Validated,
            Self::Rejected,
            Self::Withdrawn,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One épreuve: absent, or a mark in half points (0..=40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    Absent,
    Mark(u8),
}

impl Part {
    pub fn mark(self) -> Option<u8> {
        match self {
            Part::Mark(m) => Some(m),
            Part::Absent => None,
        }
    }

    pub fn from_fact(absent: bool, half_points: u32) -> Option<Part> {
        if absent {
            Some(Part::Absent)
        } else if half_points <= 40 {
            Some(Part::Mark(half_points as u8))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamResult {
    pub part_1: Part,
    pub part_2: Part,
    pub admitted: bool,
    pub reason: String,
}

cplds_runtime::text_enum!(
    /// Sex as the facts tell it; `unknown` when a fact leaves it unspecified.
    Sex {
        Female => "female",
        Male => "male",
        Unknown => "unknown",
    }
);

impl Sex {
    pub fn from_pb(sex: i32) -> Sex {
        match cplds_proto::v1::Sex::try_from(sex) {
            Ok(cplds_proto::v1::Sex::Female) => Sex::Female,
            Ok(cplds_proto::v1::Sex::Male) => Sex::Male,
            _ => Sex::Unknown,
        }
    }

    pub fn to_pb(self) -> i32 {
        (match self {
            Sex::Female => cplds_proto::v1::Sex::Female,
            Sex::Male => cplds_proto::v1::Sex::Male,
            Sex::Unknown => cplds_proto::v1::Sex::Unspecified,
        }) as i32
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// A [`Sex`] as text (records are kept as JSON).
    pub sex: String,
    pub department: String,
    pub staff_category: String,
    pub workplace_type: String,
    pub runs_mlds_actions: bool,
    pub is_dropout_referent: bool,
}

/// A candidate of a year in an académie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub academy: String,
    pub year: i32,
    pub candidate_key: String,
    pub profile: Profile,
    /// `None` for a candidate known only from exam facts (registration facts missing).
    pub status: Option<RegistrationStatus>,
    pub eligible: bool,
    pub rejection_reason: Option<String>,
    pub was_admitted_to_sit: bool,
    pub exam: Option<ExamResult>,
    pub certified: bool,
    pub certificate_revoked: bool,
}

impl Record {
    pub fn new(academy: &str, year: i32, key: &str) -> Self {
        Self {
            academy: academy.to_owned(),
            year,
            candidate_key: key.to_owned(),
            profile: Profile::default(),
            status: None,
            eligible: false,
            rejection_reason: None,
            was_admitted_to_sit: false,
            exam: None,
            certified: false,
            certificate_revoked: false,
        }
    }

    pub fn admitted_to_sit(&self) -> bool {
        matches!(self.status, Some(RegistrationStatus::Validated))
            || (self.status == Some(RegistrationStatus::Withdrawn) && self.was_admitted_to_sit)
    }

    pub fn withdrawn(&self) -> bool {
        self.status == Some(RegistrationStatus::Withdrawn)
            || self.exam.as_ref().is_some_and(|e| e.reason == "WITHDRAWN")
    }

    /// A decision of the jury other than for a withdrawal.
    pub fn result(&self) -> Option<&ExamResult> {
        self.exam.as_ref().filter(|e| e.reason != "WITHDRAWN")
    }

    /// Where a registered candidate stands; `None` for one known only from exam facts (not
    /// counted among registrations until its registration arrives). The fates partition the
    /// registrations, so a row of the report adds up.
    pub fn fate(&self) -> Option<Fate> {
        let status = self.status?;
        Some(if status == RegistrationStatus::Rejected {
            Fate::Invalidated
        } else if self.withdrawn() {
            Fate::Withdrawn
        } else {
            match self.result() {
                None => Fate::AwaitingResult,
                Some(e) if e.part_1.mark().is_some() && e.part_2.mark().is_some() => {
                    Fate::PresentAtBoth
                }
                Some(_) => Fate::AbsentFromAnEpreuve,
            }
        })
    }

    /// Value of a breakdown dimension.
    pub fn dimension(&self, d: Dimension) -> String {
        match d {
            Dimension::Department => self.profile.department.clone(),
            Dimension::Sex => self.profile.sex.clone(),
            Dimension::StaffCategory => self.profile.staff_category.clone(),
            Dimension::WorkplaceType => self.profile.workplace_type.clone(),
            Dimension::Academy | Dimension::Region => d.place(&self.academy).unwrap_or_default(),
        }
    }
}

/// The fate of a registered candidate, one of five: the columns of the report's table by
/// département and sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The candidacy was invalidated (rejected).
    Invalidated,
    /// Withdrew (démissionnaire), before or during the exam.
    Withdrawn,
    /// Has a result and a mark at both épreuves.
    PresentAtBoth,
    /// Has a result and was absent from at least one épreuve.
    AbsentFromAnEpreuve,
    /// Admitted to sit (or still under review), no result yet.
    AwaitingResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Department,
    Sex,
    StaffCategory,
    WorkplaceType,
    Academy,
    /// The région académique of the académie.
    Region,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Department,
        Dimension::Sex,
        Dimension::StaffCategory,
        Dimension::WorkplaceType,
        Dimension::Academy,
        Dimension::Region,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Department => "department",
            Dimension::Sex => "sex",
            Dimension::StaffCategory => "staff_category",
            Dimension::WorkplaceType => "workplace_type",
            Dimension::Academy => "academy",
            Dimension::Region => "region",
        }
    }

    /// A dimension of place (académie, région), which trainees have too; the others describe
    /// candidates.
    pub fn is_place(self) -> bool {
        matches!(self, Dimension::Academy | Dimension::Region)
    }

    /// The value of a dimension of place (académie, région) for `academy`; `None` for the
    /// others, which describe the candidate.
    pub fn place(self, academy: &str) -> Option<String> {
        match self {
            Dimension::Academy => Some(academy.to_owned()),
            Dimension::Region => Some(
                cplds_runtime::academy::Academy::find(academy)
                    .map_or("unknown", |a| a.region.code)
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// A trainee's training of a school year, as the national facts tell it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Training {
    pub academy: String,
    pub school_year: i32,
    pub candidate_key: String,
    pub enrolled: bool,
    pub completed: bool,
    pub abandoned: bool,
    /// Minutes of training completed (all kinds).
    pub minutes: u32,
}

/// A candidate of a past session as the académie imported it: everything the record holds of
/// them for that year is replaced (a corrected row may take a result away); certificates are
/// not imported.
pub fn past_candidate(r: &mut Record, x: &cplds_proto::v1::NationalPastCandidate) {
    if let Some(p) = profile(x.profile.as_ref()) {
        r.profile = p;
    }
    r.eligible = true;
    r.rejection_reason = None;
    r.status = Some(match x.status.as_str() {
        "rejected" => {
            r.rejection_reason = Some("other".into());
            RegistrationStatus::Rejected
        }
        "withdrawn" => RegistrationStatus::Withdrawn,
        _ => RegistrationStatus::Validated,
    });
    r.was_admitted_to_sit = x.was_admitted_to_sit;
    let part = |p: Option<&cplds_proto::v1::ExamPartResult>| {
        p.and_then(|p| Part::from_fact(p.absent, p.mark_half_points))
    };
    r.exam = match (part(x.part_1.as_ref()), part(x.part_2.as_ref())) {
        (Some(part_1), Some(part_2)) if r.status == Some(RegistrationStatus::Validated) => {
            Some(ExamResult {
                part_1,
                part_2,
                admitted: x.outcome == "ADMITTED",
                reason: x.reason.clone(),
            })
        }
        _ => None,
    };
}

/// The profile a registration or exam fact carries, in the words the records keep.
pub fn profile(p: Option<&cplds_proto::v1::CandidateProfile>) -> Option<Profile> {
    use cplds_proto::v1::{StaffCategory, WorkplaceType};
    let p = p?;
    let category =
        match StaffCategory::try_from(p.staff_category).unwrap_or(StaffCategory::Unspecified) {
            StaffCategory::FirstDegree => "first_degree",
            StaffCategory::SecondDegreeTenured => "second_degree_tenured",
            StaffCategory::PublicContractSecondDegree => "public_contract_second_degree",
            StaffCategory::PrivateUnderContract => "private_under_contract",
            StaffCategory::Unspecified => "unknown",
        };
    let workplace =
        match WorkplaceType::try_from(p.workplace_type).unwrap_or(WorkplaceType::Unspecified) {
            WorkplaceType::College => "college",
            WorkplaceType::Lycee => "lycee",
            WorkplaceType::Erea => "erea",
            WorkplaceType::Iem => "iem",
            WorkplaceType::Other => "other",
            WorkplaceType::Ecole => "ecole",
            WorkplaceType::Unspecified => "unknown",
        };
    Some(Profile {
        sex: Sex::from_pb(p.sex).as_str().into(),
        department: p.department.clone(),
        staff_category: category.into(),
        workplace_type: workplace.into(),
        runs_mlds_actions: p.runs_mlds_actions,
        is_dropout_referent: p.is_dropout_referent,
    })
}

/// The training minutes a fact reports.
pub fn minutes(h: Option<&cplds_proto::v1::TrainingHours>) -> u32 {
    // Kinds (theory, approfondissement, practical) partition the training; modes split the same
    // minutes another way, so only the kinds are summed. A fact is untrusted input: an absurd
    // total saturates rather than overflow.
    h.map_or(0, |h| {
        h.theory_minutes
            .saturating_add(h.deepening_minutes)
            .saturating_add(h.practical_minutes)
    })
}

/// The year whose figures a fact belongs to: training of school year S prepares the exam of S+1
/// (none for a school year with no next one: no figures can be about it).
pub fn figures_year(p: &Payload) -> Option<i32> {
    Some(match p {
        Payload::NationalCampaignOpened(x) => x.year,
        Payload::NationalCandidacyRegistered(x) => x.year,
        Payload::NationalCandidacyDecided(x) => x.year,
        Payload::NationalCandidacyWithdrawn(x) => x.year,
        Payload::NationalCandidacyInadmissible(x) => x.year,
        Payload::NationalAdmittedListPublished(x) => x.year,
        Payload::NationalExamResult(x) => x.year,
        Payload::NationalPastCandidate(x) => x.year,
        Payload::NationalResultsPublished(x) => x.year,
        Payload::NationalCertificateIssued(x) => x.year,
        Payload::NationalCertificateRevoked(x) => x.year,
        Payload::NationalTrainingEnrolled(x) => x.school_year.checked_add(1)?,
        Payload::NationalTrainingCompleted(x) => x.school_year.checked_add(1)?,
        Payload::NationalTrainingAbandoned(x) => x.school_year.checked_add(1)?,
        Payload::MldsSurveySubmitted(x) => x.year,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_or_unknown_sex_is_unknown() {
        assert_eq!(
            Sex::from_pb(cplds_proto::v1::Sex::Female as i32),
            Sex::Female
        );
        assert_eq!(Sex::from_pb(cplds_proto::v1::Sex::Male as i32), Sex::Male);
        assert_eq!(Sex::from_pb(0), Sex::Unknown);
        assert_eq!(Sex::from_pb(99), Sex::Unknown);
        for s in Sex::ALL {
            assert_eq!(Sex::from_pb(s.to_pb()), *s);
        }
    }

    /// Seen while writing the `envelope` fuzz target: minutes a fact reports may add up past `u32`
    /// (overflow panic in debug builds, a wrapped small total in release ones).
    #[test]
    fn training_minutes_beyond_u32_saturate() {
        let hours = cplds_proto::v1::TrainingHours {
            theory_minutes: u32::MAX,
            deepening_minutes: 2,
            practical_minutes: 3,
            ..Default::default()
        };
        assert_eq!(minutes(Some(&hours)), u32::MAX);
    }

    /// Seen while writing the `envelope` fuzz target: a training fact of school year `i32::MAX` has no
    /// exam year (overflow panic in debug builds, `i32::MIN` in release ones).
    #[test]
    fn training_of_the_last_representable_school_year_has_no_figures_year() {
        let fact = Payload::NationalTrainingEnrolled(cplds_proto::v1::NationalTrainingEnrolled {
            school_year: i32::MAX,
            ..Default::default()
        });
        assert_eq!(figures_year(&fact), None);
        let fact = Payload::NationalTrainingEnrolled(cplds_proto::v1::NationalTrainingEnrolled {
            school_year: 2024,
            ..Default::default()
        });
        assert_eq!(figures_year(&fact), Some(2025));
    }
}
