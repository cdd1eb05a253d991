//! proto ⇄ domain. Parsing a request message yields domain values or field violations named by
//! their path in the request; rendering turns stored rows into proto messages.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
use cplds_runtime::{
    academy::Academy,
    error::Violations,
    time::{paris_date, to_timestamp},
};

use crate::{
    domain::{
        campaign::{self, CampaignState, Window},
        candidacy::{CandidacyStatus, RejectionReason},
        candidate::*,
        documents::{self, DocumentKind},
    },
    store::{campaign as campaign_row, candidacy, document},
};

/// An enum field: UNSPECIFIED means missing.
fn required<T>(value: i32, convert: impl Fn(i32) -> Option<Option<T>>) -> Result<T, String> {
    match convert(value) {
        Some(Some(v)) => Ok(v),
        Some(None) => Err("is required".into()),
        None => Err(format!("{value} is not a known value")),
    }
}

pub fn sex(v: i32) -> Result<Sex, String> {
    required(v, |v| {
        pb::Sex::try_from(v).ok().map(|s| match s {
            pb::Sex::Unspecified => None,
            pb::Sex::Female => Some(Sex::Female),
            pb::Sex::Male => Some(Sex::Male),
        })
    })
}

pub fn sector(v: i32) -> Result<Sector, String> {
    required(v, |v| {
        pb::StaffSector::try_from(v).ok().map(|s| match s {
            pb::StaffSector::Unspecified => None,
            pb::StaffSector::Public => Some(Sector::Public),
            pb::StaffSector::PrivateUnderContract => Some(Sector::PrivateUnderContract),
        })
    })
}

pub fn staff_status(v: i32) -> Result<StaffStatus, String> {
    required(v, |v| {
        pb::StaffStatus::try_from(v).ok().map(|s| match s {
            pb::StaffStatus::Unspecified => None,
            pb::StaffStatus::Tenured => Some(StaffStatus::Tenured),
            pb::StaffStatus::ContractPermanent => Some(StaffStatus::ContractPermanent),
            pb::StaffStatus::ContractFixedTerm => Some(StaffStatus::ContractFixedTerm),
            pb::StaffStatus::PrivateContractTeacher => Some(StaffStatus::PrivateContractTeacher),
            pb::StaffStatus::PrivateDelegatePermanent => {
                Some(StaffStatus::PrivateDelegatePermanent)
            }
            pb::StaffStatus::PrivateDelegateFixedTerm => {
                Some(StaffStatus::PrivateDelegateFixedTerm)
            }
        })
    })
}

pub fn staff_function(v: i32) -> Result<StaffFunction, String> {
    required(v, |v| {
        pb::StaffFunction::try_from(v).ok().map(|s| match s {
            pb::StaffFunction::Unspecified => None,
            pb::StaffFunction::Teaching => Some(StaffFunction::Teaching),
            pb::StaffFunction::Education => Some(StaffFunction::Education),
            pb::StaffFunction::Other => Some(StaffFunction::Other),
        })
    })
}

pub fn corps(v: i32) -> Result<Corps, String> {
    required(v, |v| {
        pb::Corps::try_from(v).ok().map(|s| match s {
            pb::Corps::Unspecified => None,
            pb::Corps::FirstDegree => Some(Corps::FirstDegree),
            pb::Corps::SecondDegree => Some(Corps::SecondDegree),
        })
    })
}

pub fn workplace_type(v: i32) -> Result<WorkplaceType, String> {
    required(v, |v| {
        pb::WorkplaceType::try_from(v).ok().map(|s| match s {
            pb::WorkplaceType::Unspecified => None,
            pb::WorkplaceType::College => Some(WorkplaceType::College),
            pb::WorkplaceType::Lycee => Some(WorkplaceType::Lycee),
            pb::WorkplaceType::Erea => Some(WorkplaceType::Erea),
            pb::WorkplaceType::Iem => Some(WorkplaceType::Iem),
            pb::WorkplaceType::Other => Some(WorkplaceType::Other),
        })
    })
}

pub fn document_kind(v: i32) -> Result<DocumentKind, String> {
    required(v, |v| {
        pb::DocumentKind::try_from(v).ok().map(|s| match s {
            pb::DocumentKind::Unspecified => None,
            pb::DocumentKind::EmploymentProof => Some(DocumentKind::EmploymentProof),
            pb::DocumentKind::Identity => Some(DocumentKind::Identity),
            pb::DocumentKind::Other => Some(DocumentKind::Other),
        })
    })
}

/// Optional filter: UNSPECIFIED means no filter.
pub fn status_filter(v: i32) -> Result<Option<CandidacyStatus>, String> {
    match pb::CandidacyStatus::try_from(v) {
        Ok(pb::CandidacyStatus::Unspecified) => Ok(None),
        Ok(pb::CandidacyStatus::Submitted) => Ok(Some(CandidacyStatus::Submitted)),
        Ok(pb::CandidacyStatus::Validated) => Ok(Some(CandidacyStatus::Validated)),
        Ok(pb::CandidacyStatus::Rejected) => Ok(Some(CandidacyStatus::Rejected)),
        Ok(pb::CandidacyStatus::Withdrawn) => Ok(Some(CandidacyStatus::Withdrawn)),
        Err(_) => Err(format!("{v} is not a known status")),
    }
}

pub fn rejection_reason(v: i32) -> Result<Option<RejectionReason>, String> {
    match pb::RejectionReason::try_from(v) {
        Ok(pb::RejectionReason::Unspecified) => Ok(None),
        Ok(pb::RejectionReason::Ineligible) => Ok(Some(RejectionReason::Ineligible)),
        Ok(pb::RejectionReason::Incomplete) => Ok(Some(RejectionReason::Incomplete)),
        Ok(pb::RejectionReason::Inadmissible) => Ok(Some(RejectionReason::Inadmissible)),
        Ok(pb::RejectionReason::Other) => Ok(Some(RejectionReason::Other)),
        Err(_) => Err(format!("{v} is not a known reason")),
    }
}

/// Parses the candidate message; violations are named `candidate.<field>`.
pub fn candidate(
    d: Option<&pb::CandidateDetails>,
    academy: &Academy,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<Candidate> {
    let Some(d) = d else {
        v.add("candidate", "is required");
        return None;
    };
    let mut c = Violations::default();
    let last_name = c.check("last_name", PersonName::parse(&d.last_name));
    let first_name = c.check("first_name", PersonName::parse(&d.first_name));
    let birth_date = c.check(
        "birth_date",
        BirthDate::parse(&d.birth_date, paris_date(now)),
    );
    let email = c.check("email", Email::parse(&d.email));
    let phone = if d.phone.trim().is_empty() {
        Some(None)
    } else {
        c.check("phone", Phone::parse(&d.phone).map(Some))
    };
    let staff_number = c.check("staff_number", StaffNumber::parse(&d.staff_number));
    let sex = c.check("sex", sex(d.sex));
    let sector = c.check("sector", sector(d.sector));
    let status = c.check("status", staff_status(d.status));
    let function = c.check("function", staff_function(d.function));
    let corps = c.check("corps", corps(d.corps));
    let workplace_uai = c.check("workplace_uai", Uai::parse(&d.workplace_uai));
    let workplace_type = c.check("workplace_type", workplace_type(d.workplace_type));
    let department = c.check("department", Department::parse(&d.department, academy));
    if !c.is_empty() {
        v.nest("candidate", c);
        return None;
    }
    let candidate = Candidate {
        last_name: last_name?,
        first_name: first_name?,
        birth_date: birth_date?,
        email: email?,
        phone: phone?,
        staff_number: staff_number?,
        sex: sex?,
        sector: sector?,
        status: status?,
        function: function?,
        corps: corps?,
        workplace_uai: workplace_uai?,
        workplace_type: workplace_type?,
        department: department?,
        runs_mlds_actions: d.runs_mlds_actions,
        is_dropout_referent: d.is_dropout_referent,
    };
    let cross = cross_field_violations(&candidate);
    if !cross.is_empty() {
        for (field, why) in cross {
            v.add(format!("candidate.{field}"), why);
        }
        return None;
    }
    Some(candidate)
}

fn text_to_pb<T: Copy>(
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
    map: impl Fn(T) -> i32,
) -> i32 {
    parse(text).map(map).unwrap_or(0)
}

pub fn sex_pb(s: Sex) -> i32 {
    (match s {
        Sex::Female => pb::Sex::Female,
        Sex::Male => pb::Sex::Male,
    }) as i32
}

pub fn staff_category_pb(s: StaffCategory) -> i32 {
    (match s {
        StaffCategory::FirstDegree => pb::StaffCategory::FirstDegree,
        StaffCategory::SecondDegreeTenured => pb::StaffCategory::SecondDegreeTenured,
        StaffCategory::PublicContractSecondDegree => pb::StaffCategory::PublicContractSecondDegree,
        StaffCategory::PrivateUnderContract => pb::StaffCategory::PrivateUnderContract,
    }) as i32
}

pub fn workplace_type_pb(w: WorkplaceType) -> i32 {
    (match w {
        WorkplaceType::College => pb::WorkplaceType::College,
        WorkplaceType::Lycee => pb::WorkplaceType::Lycee,
        WorkplaceType::Erea => pb::WorkplaceType::Erea,
        WorkplaceType::Iem => pb::WorkplaceType::Iem,
        WorkplaceType::Other => pb::WorkplaceType::Other,
    }) as i32
}

pub fn status_pb(s: CandidacyStatus) -> i32 {
    (match s {
        CandidacyStatus::Submitted => pb::CandidacyStatus::Submitted,
        CandidacyStatus::Validated => pb::CandidacyStatus::Validated,
        CandidacyStatus::Rejected => pb::CandidacyStatus::Rejected,
        CandidacyStatus::Withdrawn => pb::CandidacyStatus::Withdrawn,
    }) as i32
}

fn reason_pb(r: RejectionReason) -> i32 {
    (match r {
        RejectionReason::Ineligible => pb::RejectionReason::Ineligible,
        RejectionReason::Incomplete => pb::RejectionReason::Incomplete,
        RejectionReason::Inadmissible => pb::RejectionReason::Inadmissible,
        RejectionReason::Other => pb::RejectionReason::Other,
    }) as i32
}

pub fn document_kind_pb(k: DocumentKind) -> i32 {
    (match k {
        DocumentKind::EmploymentProof => pb::DocumentKind::EmploymentProof,
        DocumentKind::Identity => pb::DocumentKind::Identity,
        DocumentKind::Other => pb::DocumentKind::Other,
    }) as i32
}

pub fn campaign_state(c: &campaign_row::Model, now: DateTime<Utc>) -> CampaignState {
    campaign::state(
        Window {
            opens_at: c.opens_at,
            closes_at: c.closes_at,
        },
        c.list_published_at.is_some(),
        now,
    )
}

pub fn campaign_pb(c: &campaign_row::Model, now: DateTime<Utc>) -> pb::Campaign {
    let state = match campaign_state(c, now) {
        CampaignState::Scheduled => pb::CampaignState::Scheduled,
        CampaignState::Open => pb::CampaignState::Open,
        CampaignState::Closed => pb::CampaignState::Closed,
        CampaignState::ListPublished => pb::CampaignState::ListPublished,
    };
    pb::Campaign {
        academy: c.academy.clone(),
        year: c.year,
        opens_at_local: c.opens_at_local.clone(),
        closes_at_local: c.closes_at_local.clone(),
        opens_at: Some(to_timestamp(c.opens_at)),
        closes_at: Some(to_timestamp(c.closes_at)),
        state: state as i32,
        admitted_list_published_at: c.list_published_at.map(to_timestamp),
        create_time: Some(to_timestamp(c.created_at)),
        results_published_at: c.results_published_at.map(to_timestamp),
    }
}

pub fn candidate_details_pb(c: &candidacy::Model) -> pb::CandidateDetails {
    pb::CandidateDetails {
        last_name: c.last_name.clone(),
        first_name: c.first_name.clone(),
        birth_date: c.birth_date.clone(),
        email: c.email.clone(),
        phone: c.phone.clone().unwrap_or_default(),
        staff_number: c.staff_number.clone(),
        sex: text_to_pb(&c.sex, Sex::parse, sex_pb),
        sector: text_to_pb(&c.sector, Sector::parse, |s| {
            (match s {
                Sector::Public => pb::StaffSector::Public,
                Sector::PrivateUnderContract => pb::StaffSector::PrivateUnderContract,
            }) as i32
        }),
        status: text_to_pb(&c.staff_status, StaffStatus::parse, |s| {
            (match s {
                StaffStatus::Tenured => pb::StaffStatus::Tenured,
                StaffStatus::ContractPermanent => pb::StaffStatus::ContractPermanent,
                StaffStatus::ContractFixedTerm => pb::StaffStatus::ContractFixedTerm,
                StaffStatus::PrivateContractTeacher => pb::StaffStatus::PrivateContractTeacher,
                StaffStatus::PrivateDelegatePermanent => pb::StaffStatus::PrivateDelegatePermanent,
                StaffStatus::PrivateDelegateFixedTerm => pb::StaffStatus::PrivateDelegateFixedTerm,
            }) as i32
        }),
        function: text_to_pb(&c.staff_function, StaffFunction::parse, |s| {
            (match s {
                StaffFunction::Teaching => pb::StaffFunction::Teaching,
                StaffFunction::Education => pb::StaffFunction::Education,
                StaffFunction::Other => pb::StaffFunction::Other,
            }) as i32
        }),
        corps: text_to_pb(&c.corps, Corps::parse, |s| {
            (match s {
                Corps::FirstDegree => pb::Corps::FirstDegree,
                Corps::SecondDegree => pb::Corps::SecondDegree,
            }) as i32
        }),
        workplace_uai: c.workplace_uai.clone(),
        workplace_type: text_to_pb(&c.workplace_type, WorkplaceType::parse, workplace_type_pb),
        department: c.department.clone(),
        runs_mlds_actions: c.runs_mlds_actions,
        is_dropout_referent: c.is_dropout_referent,
    }
}

pub fn candidacy_pb(
    academy: &str,
    c: &candidacy::Model,
    present_documents: &[DocumentKind],
) -> pb::Candidacy {
    let status = CandidacyStatus::parse(&c.status).unwrap_or(CandidacyStatus::Submitted);
    let explanations: Vec<String> =
        serde_json::from_str(&c.eligibility_explanations).unwrap_or_default();
    let decision = c.decided_at.map(|at| pb::Decision {
        outcome: if c.decision_reason.is_some() {
            status_pb(CandidacyStatus::Rejected)
        } else {
            status_pb(CandidacyStatus::Validated)
        },
        reason: c
            .decision_reason
            .as_deref()
            .and_then(RejectionReason::parse)
            .map_or(0, reason_pb),
        reason_text: c.decision_text.clone().unwrap_or_default(),
        decide_time: Some(to_timestamp(at)),
        decided_by: c.decided_by.clone().unwrap_or_default(),
    });
    let withdrawal = c.withdrawn_at.map(|at| pb::Withdrawal {
        withdraw_time: Some(to_timestamp(at)),
        withdrawn_by: c.withdrawn_by.clone().unwrap_or_default(),
        reason_text: c.withdrawal_reason.clone().unwrap_or_default(),
        previous_status: c
            .status_before_withdrawal
            .as_deref()
            .and_then(CandidacyStatus::parse)
            .map_or(0, status_pb),
    });
    pb::Candidacy {
        id: c.id.clone(),
        academy: academy.to_owned(),
        year: c.year,
        status: status_pb(status),
        candidate: Some(candidate_details_pb(c)),
        staff_category: text_to_pb(&c.staff_category, StaffCategory::parse, staff_category_pb),
        eligibility: Some(pb::Eligibility {
            eligible: c.eligible,
            explanations,
        }),
        channel: (match c.channel.as_str() {
            "post" => pb::SubmissionChannel::Post,
            "email" => pb::SubmissionChannel::Email,
            _ => pb::SubmissionChannel::Online,
        }) as i32,
        effective_submit_time: Some(to_timestamp(c.effective_submit_at)),
        create_time: Some(to_timestamp(c.created_at)),
        postmark_date: c.postmark_date.clone().unwrap_or_default(),
        decision,
        withdrawal,
        missing_documents: documents::missing(present_documents)
            .into_iter()
            .map(document_kind_pb)
            .collect(),
        on_admitted_list: c.on_admitted_list,
        update_time: Some(to_timestamp(c.updated_at)),
    }
}

pub fn document_pb(d: &document::Model) -> pb::SupportingDocument {
    pb::SupportingDocument {
        id: d.id.clone(),
        candidacy_id: d.candidacy_id.clone(),
        kind: DocumentKind::parse(&d.kind).map_or(0, document_kind_pb),
        file_name: d.file_name.clone(),
        content_type: d.content_type.clone(),
        size_bytes: d.size_bytes,
        sha256: d.sha256.clone(),
        upload_time: Some(to_timestamp(d.uploaded_at)),
        uploaded_by: d.uploaded_by.clone(),
    }
}
