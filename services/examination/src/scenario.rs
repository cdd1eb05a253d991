//! A typical exam session, driven through the public gRPC client only: the session, boards
//! (with one refused conflict of interest), the presidents' keys registered by the exam office,
//! the jury president, assignments, the schedule, convocations (one re-sent after a change),
//! marks entered twice blind (one mismatch reconciled by the president), the deliberation
//! signed by the jury president, the publication of results and the jury's remarks. The
//! integration tests and `cplds demo` run it against a node where registration has published
//! its admitted list.
//!
//! Marks are entered once an épreuve has begun and the deliberation follows the last one, by
//! the node's clock, which a client cannot move: the épreuves are held on the two days before
//! the day the admitted list was published (the session of the list's year may start in the
//! autumn before), so the whole session is over when the scenario enters its marks.

use std::{fmt, time::Duration};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{NaiveDate, TimeDelta};
use cplds_proto::v1::{self as pb, examination_service_client::ExaminationServiceClient};
use cplds_runtime::{
    auth::{Role, authed},
    poll::{self, Check},
};
use ed25519_dalek::{Signer, SigningKey};
use tonic::{Code, transport::Channel};

use crate::domain::{people::uai_of, session};

type Client = ExaminationServiceClient<Channel>;

/// Mints a bearer token for a subject (an e-mail) with roles, on the node's académie.
pub type MintToken<'a> = &'a dyn Fn(&str, &[Role]) -> anyhow::Result<String>;

/// What the scenario did.
#[derive(Debug, Clone)]
pub struct ScenarioSummary {
    pub session_id: String,
    pub year: i32,
    pub boards: usize,
    /// On the admitted list / withdrawn since / examined.
    pub listed: usize,
    pub withdrawn: usize,
    pub examined: usize,
    pub conflicts_refused: usize,
    pub convocations_issued: usize,
    pub convocations_resent: usize,
    pub mismatches_reconciled: usize,
    pub minutes_sha256: String,
    pub minutes_signed_by: String,
    pub newly_published: bool,
    /// The version of the jury's remarks published for the report.
    pub jury_remarks_version: u32,
    pub statistics: pb::ExamStatistics,
}

impl fmt::Display for ScenarioSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.statistics;
        writeln!(f, "Exam session {} ({})", self.year, self.session_id)?;
        writeln!(
            f,
            "  {} candidates on the admitted list, {} withdrawn since, {} examined by {} boards",
            self.listed, self.withdrawn, self.examined, self.boards
        )?;
        writeln!(
            f,
            "  {} assignment refused for conflict of interest; {} convocations issued, {} re-sent after a change",
            self.conflicts_refused, self.convocations_issued, self.convocations_resent
        )?;
        writeln!(
            f,
            "  marks entered twice blind; {} mismatch reconciled by the president",
            self.mismatches_reconciled
        )?;
        writeln!(
            f,
            "  minutes signed by {} (SHA-256 {})",
            self.minutes_signed_by, self.minutes_sha256
        )?;
        writeln!(
            f,
            "  the jury's remarks for the session report published (version {})",
            self.jury_remarks_version
        )?;
        writeln!(
            f,
            "  results published: {} admitted, {} not admitted ({:.0} %), {} absent",
            s.admitted, s.not_admitted, s.not_admitted_percent, s.absent
        )?;
        for (name, p) in [("épreuve 1", &s.part_1), ("épreuve 2", &s.part_2)] {
            if let Some(p) = p {
                writeln!(
                    f,
                    "  {name}: {} present, lowest {}, highest {}, mean {:.2}, {} eliminatory",
                    p.present, p.lowest, p.highest, p.mean, p.eliminatory
                )?;
            }
        }
        Ok(())
    }
}

/// Marks of the n-th candidate: (épreuve 1, épreuve 2); empty means absent. A spread of every
/// case the rules know: admitted, eliminatory, total below 20, absent.
const MARKS: &[(&str, &str)] = &[
    ("14", "12.5"),
    ("9", "11.5"),
    ("4.5", "16"),
    ("12", "13"),
    ("", "13"),
    ("15.5", "17"),
    ("9.5", "10"),
    ("11", "8.5"),
    ("16", "5.5"),
    ("10", "10"),
    ("13.5", "5"),
    ("7", "14"),
];

const MEMBER_NAMES: &[(&str, &str)] = &[
    ("Hélène", "Mercier"),
    ("Pierre", "Lafon"),
    ("Nadia", "Benali"),
    ("Olivier", "Campos"),
    ("Sophie", "Delmas"),
    ("Yann", "Périé"),
];

struct Board {
    id: String,
    president: String,
    /// The president's seat (board member id).
    seat: String,
    member: String,
    key: SigningKey,
    candidates: Vec<pb::ExamCandidate>,
}

/// The exam service's copy of a year's candidates, every page.
pub async fn known_candidates(
    client: &mut Client,
    office: &str,
    year: i32,
) -> anyhow::Result<Vec<pb::ExamCandidate>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_exam_candidates(authed(
                pb::ListExamCandidatesRequest {
                    year,
                    page_size: 500,
                    page_token: token,
                },
                office,
            ))
            .await?
            .into_inner();
        out.extend(page.candidates);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        token = page.next_page_token;
    }
}

/// Runs the session for the candidates of `list` (registration's published admitted list).
pub async fn run(
    channel: Channel,
    academy: &str,
    token: MintToken<'_>,
    list: &pb::AdmittedList,
) -> anyhow::Result<ScenarioSummary> {
    let mut client = ExaminationServiceClient::new(channel);
    let year = list.year;
    let domain = format!("ac-{academy}.fr");
    let office = token(&format!("dec@{domain}"), &[Role::ExamOffice])?;
    let recteur = token(&format!("recteur@{domain}"), &[Role::Recteur])?;

    let candidates = await_admitted_list(&mut client, &office, list).await?;
    let active: Vec<pb::ExamCandidate> = candidates
        .iter()
        .filter(|c| !c.withdrawn)
        .cloned()
        .collect();
    let (session, starts_on) = create_session(&mut client, &office, list).await?;
    let mut boards = create_boards(
        &mut client,
        &office,
        &domain,
        &session.id,
        &candidates,
        &active,
    )
    .await?;
    // The president of the first board presides the jury of the session.
    client
        .appoint_jury_president(authed(
            pb::AppointJuryPresidentRequest {
                session_id: session.id.clone(),
                member_id: boards[0].seat.clone(),
            },
            &office,
        ))
        .await
        .context("appointing the jury president")?;
    let conflicts_refused = assign_candidates(&mut client, &office, &active, &mut boards).await?;
    schedule_parts(&mut client, &office, starts_on, &boards).await?;
    let (issued, resent) =
        issue_convocations(&mut client, &office, &session.id, starts_on, &boards).await?;
    let reconciled = enter_marks(&mut client, token, &boards).await?;

    let president = token(&boards[0].president, &[Role::BoardMember])?;
    let minutes = deliberate(&mut client, &president, &session.id, &boards[0].key).await?;
    let published = client
        .publish_results(authed(
            pb::PublishResultsRequest {
                session_id: session.id.clone(),
            },
            &recteur,
        ))
        .await
        .context("publishing the results")?
        .into_inner();
    let remarks = publish_remarks(&mut client, &session.id, &president).await?;
    let statistics = client
        .get_exam_statistics(authed(
            pb::GetExamStatisticsRequest {
                session_id: session.id.clone(),
            },
            &office,
        ))
        .await
        .context("reading the statistics")?
        .into_inner();
    Ok(ScenarioSummary {
        session_id: session.id,
        year,
        boards: boards.len(),
        listed: list.candidates.len(),
        withdrawn: candidates.len() - active.len(),
        examined: active.len(),
        conflicts_refused,
        convocations_issued: issued,
        convocations_resent: resent,
        mismatches_reconciled: reconciled,
        minutes_sha256: minutes.sha256,
        minutes_signed_by: minutes.signed_by,
        newly_published: published.newly_published,
        jury_remarks_version: remarks.version,
        statistics,
    })
}

/// The list reaches the exam service by event: waits until its copy matches what we read, and
/// returns the copy.
async fn await_admitted_list(
    client: &mut Client,
    office: &str,
    list: &pb::AdmittedList,
) -> anyhow::Result<Vec<pb::ExamCandidate>> {
    let year = list.year;
    let every = Duration::from_millis(50);
    poll::until(Duration::from_secs(20), every, async || {
        let known = known_candidates(client, office, year).await?;
        let caught_up = list.candidates.iter().all(|a| {
            known
                .iter()
                .any(|k| k.candidacy_id == a.candidacy_id && (k.withdrawn || !a.withdrawn))
        });
        Ok(match caught_up {
            true => Check::Done(known),
            false => Check::Waiting(format!(
                "the exam service has not received the {year} admitted list"
            )),
        })
    })
    .await
}

/// The session: the two days before the list's publication (see the module's comment).
async fn create_session(
    client: &mut Client,
    office: &str,
    list: &pb::AdmittedList,
) -> anyhow::Result<(pb::ExamSession, NaiveDate)> {
    let year = list.year;
    let published = list
        .publish_time
        .as_ref()
        .context("the admitted list has no publication time")?;
    let published = cplds_runtime::time::from_timestamp(published).map_err(anyhow::Error::msg)?;
    let starts_on = cplds_runtime::time::paris_date(published) - TimeDelta::days(2);
    if session::bounds(year).is_none_or(|(first, _)| starts_on < first) {
        bail!("the {year} list was published too early for a session of {year} held before it");
    }
    let session = client
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year,
                starts_on: starts_on.to_string(),
                ends_on: (starts_on + TimeDelta::days(1)).to_string(),
                appeal_window_days: 30,
            },
            office,
        ))
        .await
        .context("creating the exam session")?
        .into_inner();
    Ok((session, starts_on))
}

/// Two boards at least (a conflict of interest needs somewhere else to go), six candidates each
/// at most. Members work in establishments of their own, except one, on purpose.
async fn create_boards(
    client: &mut Client,
    office: &str,
    domain: &str,
    session_id: &str,
    candidates: &[pb::ExamCandidate],
    active: &[pb::ExamCandidate],
) -> anyhow::Result<Vec<Board>> {
    let board_count = if active.len() >= 2 {
        active.len().div_ceil(6).max(2)
    } else {
        1
    };
    let taken: Vec<&str> = candidates
        .iter()
        .map(|c| c.workplace_uai.as_str())
        .collect();
    let mut next_uai = 3_190_000u32;
    let mut fresh_uai = || loop {
        next_uai += 7;
        let u = uai_of(next_uai);
        if !taken.contains(&u.as_str()) {
            return u;
        }
    };
    let mut boards = Vec::with_capacity(board_count);
    for b in 0..board_count {
        let conflicted = b == 0 && board_count > 1;
        let third_uai = if conflicted {
            active[0].workplace_uai.clone()
        } else {
            fresh_uai()
        };
        let member_uai = fresh_uai();
        boards.push(
            create_board(client, office, domain, session_id, b, member_uai, third_uai).await?,
        );
    }
    Ok(boards)
}

/// Board `b` (from 0): a president, a member working at `member_uai`, another at `third_uai`;
/// the president's key registered.
async fn create_board(
    client: &mut Client,
    office: &str,
    domain: &str,
    session_id: &str,
    b: usize,
    member_uai: String,
    third_uai: String,
) -> anyhow::Result<Board> {
    let president = format!("commission{}.presidence@{domain}", b + 1);
    let member = format!("commission{}.membre1@{domain}", b + 1);
    let (pf, pl) = MEMBER_NAMES[(3 * b) % MEMBER_NAMES.len()];
    let (mf, ml) = MEMBER_NAMES[(3 * b + 1) % MEMBER_NAMES.len()];
    let (of, ol) = MEMBER_NAMES[(3 * b + 2) % MEMBER_NAMES.len()];
    let created = client
        .create_board(authed(
            pb::CreateBoardRequest {
                session_id: session_id.to_owned(),
                name: format!("Commission {}", b + 1),
                members: vec![
                    pb::NewBoardMember {
                        email: president.clone(),
                        first_name: pf.into(),
                        last_name: pl.into(),
                        workplace_uai: String::new(),
                        role: pb::ExamBoardRole::President as i32,
                    },
                    pb::NewBoardMember {
                        email: member.clone(),
                        first_name: mf.into(),
                        last_name: ml.into(),
                        workplace_uai: member_uai,
                        role: pb::ExamBoardRole::Member as i32,
                    },
                    pb::NewBoardMember {
                        email: format!("commission{}.membre2@{domain}", b + 1),
                        first_name: of.into(),
                        last_name: ol.into(),
                        workplace_uai: third_uai,
                        role: pb::ExamBoardRole::Member as i32,
                    },
                ],
            },
            office,
        ))
        .await
        .context("creating a board")?
        .into_inner();
    // The president's key stays with the president; they hand the public half to the exam
    // office, which registers it (a token alone never sets a key).
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let seat = created
        .members
        .iter()
        .find(|m| m.email == president)
        .map(|m| m.id.clone())
        .context("the president's seat")?;
    client
        .register_board_member_key(authed(
            pb::RegisterBoardMemberKeyRequest {
                board_id: created.id.clone(),
                public_key: STANDARD.encode(key.verifying_key().as_bytes()),
                member_id: seat.clone(),
                old_key_signature: String::new(),
            },
            office,
        ))
        .await
        .context("registering the president's key")?;
    Ok(Board {
        id: created.id,
        president,
        seat,
        member,
        key,
        candidates: Vec::new(),
    })
}

/// Each candidate goes to the next board in turn that has no conflict of interest with them;
/// returns how many assignments were refused for one.
async fn assign_candidates(
    client: &mut Client,
    office: &str,
    active: &[pb::ExamCandidate],
    boards: &mut [Board],
) -> anyhow::Result<usize> {
    let mut conflicts_refused = 0;
    for (i, c) in active.iter().enumerate() {
        let mut placed = false;
        for k in 0..boards.len() {
            let b = (i + k) % boards.len();
            let r = client
                .assign_candidate(authed(
                    pb::AssignCandidateRequest {
                        board_id: boards[b].id.clone(),
                        candidacy_id: c.candidacy_id.clone(),
                    },
                    office,
                ))
                .await;
            match r {
                Ok(_) => {
                    boards[b].candidates.push(c.clone());
                    placed = true;
                    break;
                }
                Err(s) if s.code() == Code::FailedPrecondition => conflicts_refused += 1,
                Err(s) => return Err(s).context("assigning a candidate"),
            }
        }
        if !placed {
            bail!(
                "no board can examine candidacy {} without a conflict",
                c.candidacy_id
            );
        }
    }
    Ok(conflicts_refused)
}

/// `minutes` after midnight of day `d` of the session, as a local date-time.
fn local_time(starts_on: NaiveDate, d: i64, minutes: i64) -> String {
    let day = starts_on + TimeDelta::days(d);
    format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Épreuve 1 on the first day, one candidate every 45 minutes before each board; épreuve 2 on
/// the second day, the board hearing one candidate every 30 minutes while the next prepares.
async fn schedule_parts(
    client: &mut Client,
    office: &str,
    starts_on: NaiveDate,
    boards: &[Board],
) -> anyhow::Result<()> {
    for (b, board) in boards.iter().enumerate() {
        for (k, c) in board.candidates.iter().enumerate() {
            let k = k as i64;
            for (part, start, location) in [
                (
                    pb::ExamPart::TrainingSession,
                    local_time(starts_on, 0, 8 * 60 + 30 + 45 * k),
                    format!("Établissement {}, salle polyvalente", c.workplace_uai),
                ),
                (
                    pb::ExamPart::CaseStudy,
                    local_time(starts_on, 1, 8 * 60 + 30 * k),
                    format!("Rectorat de l'académie, salle {}", b + 1),
                ),
            ] {
                client
                    .schedule_exam_part(authed(
                        pb::ScheduleExamPartRequest {
                            candidacy_id: c.candidacy_id.clone(),
                            exam_part: part as i32,
                            starts_at_local: start,
                            location,
                        },
                        office,
                    ))
                    .await
                    .context("scheduling an épreuve")?;
            }
        }
    }
    Ok(())
}

/// Issues the convocations, then changes the last candidate of the first board's épreuve 2
/// (half an hour later) and issues again: returns how many went out first, and how many again.
async fn issue_convocations(
    client: &mut Client,
    office: &str,
    session_id: &str,
    starts_on: NaiveDate,
    boards: &[Board],
) -> anyhow::Result<(usize, usize)> {
    let issue = |client: &mut Client| {
        let req = authed(
            pb::IssueConvocationsRequest {
                session_id: session_id.to_owned(),
                candidacy_ids: Vec::new(),
            },
            office,
        );
        let mut client = client.clone();
        async move { client.issue_convocations(req).await }
    };
    let first = issue(client)
        .await
        .context("issuing convocations")?
        .into_inner();
    let mut resent = 0;
    if let Some(last) = boards[0].candidates.last() {
        let k = boards[0].candidates.len() as i64;
        client
            .schedule_exam_part(authed(
                pb::ScheduleExamPartRequest {
                    candidacy_id: last.candidacy_id.clone(),
                    exam_part: pb::ExamPart::CaseStudy as i32,
                    starts_at_local: local_time(starts_on, 1, 8 * 60 + 30 * k),
                    location: "Rectorat de l'académie, salle 1".into(),
                },
                office,
            ))
            .await
            .context("moving an épreuve")?;
        resent = issue(client)
            .await
            .context("re-issuing convocations")?
            .into_inner()
            .issued
            .len();
    }
    Ok((first.issued.len(), resent))
}

/// Marks: the president and a member each enter every mark, blind; they differ once, and the
/// president reconciles. Returns how many marks were reconciled.
async fn enter_marks(
    client: &mut Client,
    token: MintToken<'_>,
    boards: &[Board],
) -> anyhow::Result<usize> {
    let mut reconciled = 0;
    let mut n = 0;
    for board in boards {
        let president = token(&board.president, &[Role::BoardMember])?;
        let member = token(&board.member, &[Role::BoardMember])?;
        for c in &board.candidates {
            let (m1, m2) = MARKS[n % MARKS.len()];
            for (part, mark) in [
                (pb::ExamPart::TrainingSession, m1),
                (pb::ExamPart::CaseStudy, m2),
            ] {
                // The member mistypes the second candidate's épreuve 1.
                let second = if n == 1 && part == pb::ExamPart::TrainingSession {
                    "9.5"
                } else {
                    mark
                };
                if enter_mark_twice(client, c, part, (mark, &president), (second, &member)).await? {
                    reconciled += 1;
                }
            }
            n += 1;
        }
    }
    Ok(reconciled)
}

/// One mark entered by two board members, blind; on a mismatch the first (the president)
/// reconciles it to the second's value. Returns whether it had to.
async fn enter_mark_twice(
    client: &mut Client,
    c: &pb::ExamCandidate,
    part: pb::ExamPart,
    (mark, president): (&str, &str),
    (second, member): (&str, &str),
) -> anyhow::Result<bool> {
    let enter = |mark: &str| pb::EnterMarkRequest {
        candidacy_id: c.candidacy_id.clone(),
        exam_part: part as i32,
        mark: mark.to_owned(),
        absent: mark.is_empty(),
    };
    client
        .enter_mark(authed(enter(mark), president))
        .await
        .context("entering a mark")?;
    let sheet = client
        .enter_mark(authed(enter(second), member))
        .await
        .context("entering the second mark")?
        .into_inner();
    if sheet.status != pb::ExamMarkStatus::Mismatch as i32 {
        return Ok(false);
    }
    client
        .reconcile_mark(authed(
            pb::ReconcileMarkRequest {
                candidacy_id: c.candidacy_id.clone(),
                exam_part: part as i32,
                mark: second.to_owned(),
                absent: second.is_empty(),
                reason: "relecture de la grille d'évaluation".into(),
            },
            president,
        ))
        .await
        .context("reconciling a mark")?;
    Ok(true)
}

/// The deliberation: the jury president prepares the minutes, signs their digest with their own
/// key, and closes for the whole session.
async fn deliberate(
    client: &mut Client,
    president: &str,
    session_id: &str,
    key: &SigningKey,
) -> anyhow::Result<pb::DeliberationMinutes> {
    let draft = client
        .prepare_minutes(authed(
            pb::PrepareMinutesRequest {
                session_id: session_id.to_owned(),
            },
            president,
        ))
        .await
        .context("preparing the minutes")?
        .into_inner();
    let digest = hex::decode(&draft.sha256).context("minutes digest")?;
    let signature = key.sign(&digest);
    let minutes = client
        .close_deliberation(authed(
            pb::CloseDeliberationRequest {
                session_id: session_id.to_owned(),
                minutes_sha256: draft.sha256.clone(),
                signature: STANDARD.encode(signature.to_bytes()),
            },
            president,
        ))
        .await
        .context("closing the deliberation")?
        .into_inner();
    Ok(minutes)
}

/// The jury president writes the jury's remarks for the session report, then publishes them.
async fn publish_remarks(
    client: &mut Client,
    session_id: &str,
    president: &str,
) -> anyhow::Result<pb::JuryRemarks> {
    client
        .save_jury_remarks(authed(
            pb::SaveJuryRemarksRequest {
                session_id: session_id.to_owned(),
                sections: Some(pb::JuryRemarkSections {
                    general_remarks: "Une session de bon niveau : les candidats connaissent les \
                        dispositifs de la MLDS et savent les situer dans l'établissement."
                        .into(),
                    part_1_remarks: "Les séances de formation sont bien construites ; \
                        l'entretien montre parfois un retour réflexif trop rapide."
                        .into(),
                    part_2_remarks: "Les diagnostics de l'étude de cas gagnent à s'appuyer \
                        davantage sur les partenaires (CIO, PSAD, réseaux FOQUALE)."
                        .into(),
                    advice: "Préparer l'épreuve 1 avec un groupe de jeunes connu du candidat."
                        .into(),
                    positive_points: "Connaissance des publics et des partenaires.".into(),
                    points_to_improve: "L'analyse de sa propre pratique.".into(),
                    points_to_avoid: "Les séances individuelles, non recevables.".into(),
                    conditions: "Deux épreuves notées sur 20 ; une note inférieure ou égale \
                        à 5 est éliminatoire ; le certificat exige un total d'au moins 20 sur 40."
                        .into(),
                }),
            },
            president,
        ))
        .await
        .context("writing the jury's remarks")?;
    Ok(client
        .publish_jury_remarks(authed(
            pb::PublishJuryRemarksRequest {
                session_id: session_id.to_owned(),
            },
            president,
        ))
        .await
        .context("publishing the jury's remarks")?
        .into_inner())
}
