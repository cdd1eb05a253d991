//! proto ⇄ domain. Parsing a request message yields domain values or field violations named by
//! their path in the request; rendering turns stored rows into proto messages.

use chrono::{DateTime, Utc};
use cplds_proto::v1 as pb;
pub use cplds_runtime::kit::wire::{optional, required};

use cplds_runtime::{
    academy::Academy,
    error::{Parsed, ServiceResult, Violations},
    kit::wire::Wire,
    time::{from_timestamp, paris_date, parse_date, to_timestamp},
};

use crate::{
    domain::{
        campaign::{self, CampaignState, Channel, ChannelKind, Window, WindowError},
        candidacy::{CandidacyStatus, RejectionReason},
        candidate::*,
        documents::{self, DocumentKind},
    },
    store::{self, campaign as campaign_row, candidacy, document},
};

cplds_runtime::wire_enums! {
    Sex => pb::Sex { Female, Male }
    Sector => pb::StaffSector { Public, PrivateUnderContract }
    StaffStatus => pb::StaffStatus {
        Tenured, ContractPermanent, ContractFixedTerm,
        PrivateContractTeacher, PrivateDelegatePermanent, PrivateDelegateFixedTerm,
    }
    StaffFunction => pb::StaffFunction { Teaching, Education, Other }
    Corps => pb::Corps { FirstDegree, SecondDegree }
    WorkplaceType => pb::WorkplaceType { College, Lycee, Erea, Iem, Other, Ecole }
    StaffCategory => pb::StaffCategory {
        FirstDegree, SecondDegreeTenured, PublicContractSecondDegree, PrivateUnderContract,
    }
    DocumentKind => pb::DocumentKind { EmploymentProof, Identity, Other }
    CandidacyStatus => pb::CandidacyStatus { Submitted, Validated, Rejected, Withdrawn, Inadmissible }
    RejectionReason => pb::RejectionReason { Ineligible, Incomplete, Inadmissible, Other }
    ChannelKind => pb::SubmissionChannel { Online, Post, Email }
    CampaignState => pb::CampaignState { Scheduled, Open, Closed, ListPublished }
}

/// The window of a campaign; its violations go to `opens_at_local` and `closes_at_local`.
pub fn window(opens: &str, closes: &str, v: &mut Violations) -> Option<Window> {
    match Window::parse_local(opens, closes) {
        Ok(w) => Some(w),
        Err(errors) => {
            for e in errors {
                match e {
                    WindowError::Opens(m) => v.add("opens_at_local", m),
                    WindowError::Closes(m) => v.add("closes_at_local", m),
                    WindowError::Order => v.add("closes_at_local", e.to_string()),
                }
            }
            None
        }
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
    let names = (
        c.check("last_name", PersonName::parse(&d.last_name)),
        c.check("first_name", PersonName::parse(&d.first_name)),
        c.check(
            "birth_date",
            BirthDate::parse(&d.birth_date, paris_date(now)),
        ),
    );
    let contact = (
        c.check("email", Email::parse(&d.email)),
        if d.phone.trim().is_empty() {
            Some(None)
        } else {
            c.check("phone", Phone::parse(&d.phone).map(Some))
        },
        c.check("staff_number", StaffNumber::parse(&d.staff_number)),
    );
    let staff = (
        c.check("sex", required(d.sex)),
        c.check("sector", required(d.sector)),
        c.check("status", required(d.status)),
        c.check("function", required(d.function)),
        c.check("corps", required(d.corps)),
    );
    let workplace = (
        c.check("workplace_uai", Uai::parse(&d.workplace_uai)),
        c.check("workplace_type", required(d.workplace_type)),
        c.check("department", Department::parse(&d.department, academy)),
    );
    if !c.is_empty() {
        v.nest("candidate", c);
        return None;
    }
    let (
        (last_name, first_name, birth_date),
        (email, phone, staff_number),
        (sex, sector, status, function, corps),
        (workplace_uai, workplace_type, department),
    ) = (names, contact, staff, workplace).complete()?;
    let candidate = Candidate {
        last_name,
        first_name,
        birth_date,
        email,
        phone,
        staff_number,
        sex,
        sector,
        status,
        function,
        corps,
        workplace_uai,
        workplace_type,
        department,
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

/// How the candidacy came: online unless said otherwise; a letter needs its postmark date, an
/// e-mail may give its reception time (else now). Neither may be in the future.
pub fn channel(
    req: &pb::SubmitCandidacyRequest,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<Channel> {
    let kind = pb::SubmissionChannel::try_from(req.channel);
    let postmark = req.postmark_date.trim();
    let channel = match kind {
        Ok(pb::SubmissionChannel::Unspecified | pb::SubmissionChannel::Online) => {
            Some(Channel::Online)
        }
        Ok(pb::SubmissionChannel::Post) if postmark.is_empty() => {
            v.add(
                "postmark_date",
                "is required for a candidacy received by post",
            );
            None
        }
        Ok(pb::SubmissionChannel::Post) => v.check(
            "postmark_date",
            parse_date(postmark).and_then(|d| {
                if d > paris_date(now) {
                    Err("is in the future".into())
                } else {
                    Ok(Channel::Post { postmark: d })
                }
            }),
        ),
        Ok(pb::SubmissionChannel::Email) => v.check(
            "email_received_at",
            req.email_received_at
                .as_ref()
                .map(from_timestamp)
                .transpose()
                .and_then(|t| match t {
                    Some(t) if t > now => Err("is in the future".into()),
                    t => Ok(Channel::Email {
                        received_at: t.unwrap_or(now),
                    }),
                }),
        ),
        Err(_) => {
            v.add("channel", format!("{} is not a known channel", req.channel));
            None
        }
    };
    if !postmark.is_empty() && !matches!(channel, Some(Channel::Post { .. }) | None) {
        v.add(
            "postmark_date",
            "is only for a candidacy received by post (channel POST)",
        );
    }
    if req.email_received_at.is_some() && !matches!(kind, Ok(pb::SubmissionChannel::Email)) {
        v.add(
            "email_received_at",
            "is only for a candidacy received by e-mail (channel EMAIL)",
        );
    }
    channel
}

pub fn campaign_pb(c: &campaign_row::Model, now: DateTime<Utc>) -> pb::Campaign {
    pb::Campaign {
        academy: c.academy.clone(),
        year: c.year,
        opens_at_local: c.opens_at_local.clone(),
        closes_at_local: c.closes_at_local.clone(),
        opens_at: Some(to_timestamp(c.opens_at)),
        closes_at: Some(to_timestamp(c.closes_at)),
        state: campaign::state(c.window(), c.list_published_at.is_some(), now).to_wire(),
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
        sex: c.sex.to_wire(),
        sector: c.sector.to_wire(),
        status: c.staff_status.to_wire(),
        function: c.staff_function.to_wire(),
        corps: c.corps.to_wire(),
        workplace_uai: c.workplace_uai.clone(),
        workplace_type: c.workplace_type.to_wire(),
        department: c.department.clone(),
        runs_mlds_actions: c.runs_mlds_actions,
        is_dropout_referent: c.is_dropout_referent,
    }
}

/// A candidacy; `same_staff_number` lists the other live candidacies giving its staff number
/// (for staff only: the caller decides).
pub fn candidacy_pb(
    academy: &str,
    c: &candidacy::Model,
    present_documents: &[DocumentKind],
    same_staff_number: Vec<String>,
) -> ServiceResult<pb::Candidacy> {
    let decision = c.decided_at.map(|at| pb::Decision {
        outcome: match (c.status, c.decision_reason) {
            (CandidacyStatus::Inadmissible, _) => CandidacyStatus::Inadmissible,
            (_, Some(_)) => CandidacyStatus::Rejected,
            (_, None) => CandidacyStatus::Validated,
        }
        .to_wire(),
        reason: c.decision_reason.map_or(0, Wire::to_wire),
        reason_text: c.decision_text.clone().unwrap_or_default(),
        decide_time: Some(to_timestamp(at)),
        decided_by: c.decided_by.clone().unwrap_or_default(),
    });
    let withdrawal = c.withdrawn_at.map(|at| pb::Withdrawal {
        withdraw_time: Some(to_timestamp(at)),
        withdrawn_by: c.withdrawn_by.clone().unwrap_or_default(),
        reason_text: c.withdrawal_reason.clone().unwrap_or_default(),
        previous_status: c.status_before_withdrawal.map_or(0, Wire::to_wire),
    });
    Ok(pb::Candidacy {
        id: c.id.clone(),
        academy: academy.to_owned(),
        year: c.year,
        status: c.status.to_wire(),
        candidate: Some(candidate_details_pb(c)),
        staff_category: c.staff_category.to_wire(),
        eligibility: Some(pb::Eligibility {
            eligible: c.eligible,
            explanations: store::explanations(c)?,
        }),
        channel: c.channel.to_wire(),
        effective_submit_time: Some(to_timestamp(c.effective_submit_at)),
        create_time: Some(to_timestamp(c.created_at)),
        postmark_date: c.postmark_date.clone().unwrap_or_default(),
        decision,
        withdrawal,
        missing_documents: documents::missing(present_documents)
            .into_iter()
            .map(Wire::to_wire)
            .collect(),
        on_admitted_list: c.on_admitted_list,
        update_time: Some(to_timestamp(c.updated_at)),
        same_staff_number_candidacy_ids: same_staff_number,
    })
}

pub fn document_pb(d: &document::Model) -> pb::SupportingDocument {
    pb::SupportingDocument {
        id: d.id.clone(),
        candidacy_id: d.candidacy_id.clone(),
        kind: d.kind.to_wire(),
        file_name: d.file_name.clone(),
        content_type: d.content_type.clone(),
        size_bytes: d.size_bytes,
        sha256: d.sha256.clone(),
        upload_time: Some(to_timestamp(d.uploaded_at)),
        uploaded_by: d.uploaded_by.clone(),
    }
}

/// Counts per status (every status, zeros included) and per département (statuses present).
pub fn counts_pb(rows: &[(String, CandidacyStatus, i64)]) -> pb::CountCandidaciesResponse {
    let count = |status: CandidacyStatus, count: i64| pb::StatusCount {
        status: status.to_wire(),
        count,
    };
    let counts: Vec<pb::StatusCount> = CandidacyStatus::ALL
        .iter()
        .map(|s| count(*s, rows.iter().filter(|r| r.1 == *s).map(|r| r.2).sum()))
        .collect();
    let mut by_department: Vec<pb::DepartmentCounts> = Vec::new();
    for (department, status, n) in rows {
        match by_department
            .iter_mut()
            .find(|d| &d.department == department)
        {
            Some(d) => d.counts.push(count(*status, *n)),
            None => by_department.push(pb::DepartmentCounts {
                department: department.clone(),
                counts: vec![count(*status, *n)],
            }),
        }
    }
    pb::CountCandidaciesResponse {
        total: counts.iter().map(|c| c.count).sum(),
        counts,
        by_department,
    }
}
