//! Registration seeded through the API: Toulouse's campaign, candidacies, decisions and admitted
//! list, and a handful of candidates in each other académie.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Duration, Timelike, Utc};
use cplds_proto::v1::{self as pb, registration_service_client::RegistrationServiceClient};
use cplds_runtime::{
    auth::Role,
    time::{format_paris_local, paris_year},
};
use tonic::transport::Channel;

use super::people::{PEOPLE, details, email, scan, uai};
use crate::sandbox::{LocalNode, authed};

type Client = RegistrationServiceClient<Channel>;

/// Now, to the minute: the campaign's local times are written without seconds.
fn this_minute() -> anyhow::Result<DateTime<Utc>> {
    Utc::now()
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .context("truncating the time to the minute")
}

/// The campaign of `year`, open from `opens` to `closes` (the demo's and the benches').
pub(crate) async fn open_campaign(
    client: &mut Client,
    office: &str,
    year: i32,
    opens: DateTime<Utc>,
    closes: DateTime<Utc>,
) -> anyhow::Result<pb::Campaign> {
    Ok(client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year,
                opens_at_local: format_paris_local(opens),
                closes_at_local: format_paris_local(closes),
            },
            office,
        ))
        .await
        .context("opening the campaign")?
        .into_inner())
}

/// The office closes registration (early, for the demo), then the recteur publishes the list.
async fn close_and_publish(
    client: &mut Client,
    (office, recteur): (&str, &str),
    campaign: &pb::Campaign,
    now: DateTime<Utc>,
) -> anyhow::Result<pb::AdmittedList> {
    let year = campaign.year;
    client
        .update_campaign(authed(
            pb::UpdateCampaignRequest {
                year,
                opens_at_local: campaign.opens_at_local.clone(),
                closes_at_local: format_paris_local(now - Duration::minutes(1)),
            },
            office,
        ))
        .await?;
    Ok(client
        .publish_admitted_list(authed(pb::PublishAdmittedListRequest { year }, recteur))
        .await?
        .into_inner())
}

/// One supporting document, a scanned PDF titled `title`.
async fn upload_scan(
    client: &mut Client,
    token: &str,
    candidacy_id: &str,
    kind: pb::DocumentKind,
    (file_name, content_type, title): (&str, &str, &str),
) -> anyhow::Result<()> {
    client
        .upload_supporting_document(authed(
            pb::UploadSupportingDocumentRequest {
                candidacy_id: candidacy_id.to_owned(),
                kind: kind as i32,
                file_name: file_name.into(),
                content_type: content_type.into(),
                content: scan(title),
            },
            token,
        ))
        .await?;
    Ok(())
}

/// A handful of candidates in another académie: registered online, most validated, one
/// withdrawn, the list published. Returns how many registered.
pub(super) async fn seed_small_academy(
    node: &LocalNode,
    departments: &[&str],
    year: i32,
) -> anyhow::Result<i64> {
    let mut client = RegistrationServiceClient::new(node.channel().await?);
    let office = node.token(
        &format!("dec@ac-{}.fr", node.node.node),
        &[Role::ExamOffice],
    )?;
    let recteur = node.token(
        &format!("recteur@ac-{}.fr", node.node.node),
        &[Role::Recteur],
    )?;
    let now = this_minute()?;
    let days = Duration::days;
    let campaign = open_campaign(&mut client, &office, year, now - days(20), now + days(3)).await?;
    let n = 6 + departments.len();
    for i in 0..n {
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(small_candidate(node, departments, i)?),
                    ..Default::default()
                },
                &office,
            ))
            .await?
            .into_inner();
        if i == n - 1 {
            client
                .withdraw_candidacy(authed(
                    pb::WithdrawCandidacyRequest {
                        candidacy_id: c.id,
                        reason_text: String::new(),
                    },
                    &office,
                ))
                .await?;
            continue;
        }
        for kind in [
            pb::DocumentKind::EmploymentProof,
            pb::DocumentKind::Identity,
        ] {
            let file = ("piece.pdf", "", "piece");
            upload_scan(&mut client, &office, &c.id, kind, file).await?;
        }
        client
            .validate_candidacy(authed(
                pb::ValidateCandidacyRequest { candidacy_id: c.id },
                &office,
            ))
            .await?;
    }
    close_and_publish(&mut client, (&office, &recteur), &campaign, now).await?;
    Ok(n as i64)
}

/// Candidate `i` of a small académie: one of [`PEOPLE`], moved to one of its `departments`.
fn small_candidate(
    node: &LocalNode,
    departments: &[&str],
    i: usize,
) -> anyhow::Result<pb::CandidateDetails> {
    let department = departments[i % departments.len()];
    let person = &PEOPLE[i % PEOPLE.len()];
    let mut d = details(i, person);
    d.department = department.into();
    let department_number: u32 = department
        .parse()
        .with_context(|| format!("département {department} is not a number"))?;
    d.workplace_uai = uai(department_number * 10_000 + 100 + i as u32);
    d.staff_number = format!(
        "{:02}E{:07}{}",
        10 + i,
        5_100_000 + i * 41,
        &node.node.node.code()[..3].to_uppercase()
    );
    d.email = format!("agent{i}@ac-{}.fr", node.node.node);
    d.status = pb::StaffStatus::Tenured as i32;
    d.sector = pb::StaffSector::Public as i32;
    Ok(d)
}

/// Toulouse's registration: every one of [`PEOPLE`] applies, the office decides, the recteur
/// publishes the list. Returns what happened, and the list.
pub(super) async fn seed_registration(
    node: &LocalNode,
    channel: Channel,
) -> anyhow::Result<(String, pb::AdmittedList)> {
    let mut client = RegistrationServiceClient::new(channel);
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice])?;
    let recteur = node.token("recteur@ac-toulouse.fr", &[Role::Recteur])?;
    let now = this_minute()?;
    let year = paris_year(now);
    let days = Duration::days;
    let campaign =
        open_campaign(&mut client, &office, year, now - days(20), now + days(10)).await?;
    let candidacies = submit_candidacies(&mut client, node, year).await?;
    let decisions = decide(&mut client, &office, &candidacies).await?;
    let list = close_and_publish(&mut client, (&office, &recteur), &campaign, now).await?;
    let counts = client
        .count_candidacies(authed(pb::CountCandidaciesRequest { year }, &office))
        .await?
        .into_inner();
    Ok((
        registration_summary(&campaign, decisions, &counts, &list),
        list,
    ))
}

/// Each of [`PEOPLE`] applies online with their own token, with their documents when eligible.
/// Returns each candidacy with its candidate's token.
async fn submit_candidacies(
    client: &mut Client,
    node: &LocalNode,
    year: i32,
) -> anyhow::Result<Vec<(pb::Candidacy, String)>> {
    let mut candidacies = Vec::new();
    for (i, p) in PEOPLE.iter().enumerate() {
        let token = node.token(&email(p), &[Role::Candidate])?;
        let c = client
            .submit_candidacy(authed(
                pb::SubmitCandidacyRequest {
                    year,
                    candidate: Some(details(i, p)),
                    ..Default::default()
                },
                &token,
            ))
            .await?
            .into_inner();
        if c.eligibility.as_ref().is_some_and(|e| e.eligible) {
            for (kind, name) in [
                (
                    pb::DocumentKind::EmploymentProof,
                    "arrete-titularisation.pdf",
                ),
                (pb::DocumentKind::Identity, "piece-identite.pdf"),
            ] {
                let file = (name, "application/pdf", name);
                upload_scan(client, &token, &c.id, kind, file).await?;
            }
        }
        candidacies.push((c, token));
    }
    Ok(candidacies)
}

/// How the candidacies ended: (validated, rejected, withdrawn).
type Decisions = (u32, u32, u32);

/// The eleventh candidate withdraws; the office validates the eligible and rejects the others.
async fn decide(
    client: &mut Client,
    office: &str,
    candidacies: &[(pb::Candidacy, String)],
) -> anyhow::Result<Decisions> {
    let (mut validated, mut rejected, mut withdrawn) = (0, 0, 0);
    for (i, (c, token)) in candidacies.iter().enumerate() {
        if i == 10 {
            client
                .withdraw_candidacy(authed(
                    pb::WithdrawCandidacyRequest {
                        candidacy_id: c.id.clone(),
                        reason_text: "mutation hors académie".into(),
                    },
                    token,
                ))
                .await?;
            withdrawn += 1;
        } else if c.eligibility.as_ref().is_some_and(|e| e.eligible) {
            client
                .validate_candidacy(authed(
                    pb::ValidateCandidacyRequest {
                        candidacy_id: c.id.clone(),
                    },
                    office,
                ))
                .await?;
            validated += 1;
        } else {
            client
                .reject_candidacy(authed(
                    pb::RejectCandidacyRequest {
                        candidacy_id: c.id.clone(),
                        reason: pb::RejectionReason::Ineligible as i32,
                        reason_text: String::new(),
                    },
                    office,
                ))
                .await?;
            rejected += 1;
        }
    }
    Ok((validated, rejected, withdrawn))
}

fn registration_summary(
    campaign: &pb::Campaign,
    (validated, rejected, withdrawn): Decisions,
    counts: &pb::CountCandidaciesResponse,
    list: &pb::AdmittedList,
) -> String {
    let year = campaign.year;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nRegistration {year} (window {} → closed early by the exam office)",
        campaign.opens_at_local
    );
    let _ = writeln!(
        out,
        "  {} candidacies: {validated} validated, {rejected} rejected (ineligible), {withdrawn} withdrawn",
        counts.total
    );
    for d in &counts.by_department {
        let n: i64 = d.counts.iter().map(|c| c.count).sum();
        let _ = writeln!(out, "    département {:>3}: {n}", d.department);
    }
    let _ = writeln!(
        out,
        "  admitted list published by the recteur: {} candidates",
        list.candidates.len()
    );
    for c in &list.candidates {
        let _ = writeln!(
            out,
            "    {} {} ({})",
            c.last_name.to_uppercase(),
            c.first_name,
            c.department
        );
    }
    out
}
