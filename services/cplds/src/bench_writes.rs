//! The other busy writes of `cplds bench registration`: entering a mark (examination) and
//! recording attendance (training), each on a node of its own seeded through the public API, then
//! driven by many clients like `SubmitCandidacy`, to be compared with the same floor.

use std::sync::Arc;

use anyhow::Context;
use cplds_examination::scenario::known_candidates;
use cplds_proto::v1::{
    self as pb, examination_service_client::ExaminationServiceClient,
    training_service_client::TrainingServiceClient,
};
use cplds_runtime::{
    academy::Academy,
    auth::Role,
    bus::{Message, SharedBus, Stream},
    clock::ManualClock,
    poll::{self, Check},
    time::parse_paris_local,
};
use prost::Message as _;
use tonic::transport::Channel;

use crate::{
    bench::{GroupCommits, Stats, channels, drive},
    sandbox::{LocalNode, LocalNodeSpec, authed},
};

/// Candidates a board examines: 16 first épreuves fit in a day (45 min each, from 08:00).
const PER_BOARD: usize = 16;

fn at(local: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    parse_paris_local(local).map_err(anyhow::Error::msg)
}

async fn node(
    dir: &std::path::Path,
    module: &str,
    database_url: Option<String>,
    bus: SharedBus,
    clock: Arc<ManualClock>,
) -> anyhow::Result<LocalNode> {
    let mut spec = LocalNodeSpec::new(
        "toulouse",
        dir.join(module),
        crate::academy_modules(&[module.to_owned()])?,
        bus,
    );
    spec.config.database_url = database_url;
    spec.clock = clock;
    LocalNode::start(spec).await
}

/// `requests` marks entered: the admitted list of `requests / 4` candidates published by
/// registration (an event on the bus), boards of three, both épreuves scheduled and over, then
/// each candidate's four entries (two entrants, two épreuves) from `clients` clients.
pub async fn marks(
    dir: &std::path::Path,
    database_url: Option<String>,
    bus: SharedBus,
    clients: usize,
    requests: usize,
) -> anyhow::Result<Stats> {
    let clock = ManualClock::new(at("2025-06-24T10:00")?);
    let node = node(dir, "examination", database_url, bus.clone(), clock.clone()).await?;
    let chans = channels(node.node.addr, clients.min(16)).await?;
    let mut client = ExaminationServiceClient::new(chans[0].clone());
    let office = node.token("dec@ac-toulouse.fr", &[Role::ExamOffice])?;
    let n = requests.div_ceil(4).max(1);

    publish_admitted_list(&bus, n).await?;
    let ids = await_candidates(&mut client, &office, n).await?;
    let session = client
        .create_exam_session(authed(
            pb::CreateExamSessionRequest {
                year: 2025,
                starts_on: "2025-11-17".into(),
                ends_on: "2025-11-21".into(),
                appeal_window_days: 15,
            },
            &office,
        ))
        .await?
        .into_inner();
    let mut entrants = Vec::with_capacity(n);
    for (b, group) in ids.chunks(PER_BOARD).enumerate() {
        let member = |k: usize, role: pb::ExamBoardRole| pb::NewBoardMember {
            email: format!("commission{b}.membre{k}@ac-toulouse.fr"),
            last_name: "Dupont".into(),
            first_name: "Anne".into(),
            workplace_uai: String::new(),
            role: role as i32,
        };
        let board = client
            .create_board(authed(
                pb::CreateBoardRequest {
                    session_id: session.id.clone(),
                    name: format!("Commission {b}"),
                    members: vec![
                        member(0, pb::ExamBoardRole::President),
                        member(1, pb::ExamBoardRole::Member),
                        member(2, pb::ExamBoardRole::Member),
                    ],
                },
                &office,
            ))
            .await?
            .into_inner();
        let tokens = [
            node.token(
                &format!("commission{b}.membre1@ac-toulouse.fr"),
                &[Role::BoardMember],
            )?,
            node.token(
                &format!("commission{b}.membre2@ac-toulouse.fr"),
                &[Role::BoardMember],
            )?,
        ];
        for (k, id) in group.iter().enumerate() {
            client
                .assign_candidate(authed(
                    pb::AssignCandidateRequest {
                        board_id: board.id.clone(),
                        candidacy_id: id.clone(),
                    },
                    &office,
                ))
                .await?;
            // Épreuve 1 on the 17th every 45 min from 08:00; épreuve 2 on the 18th, the board
            // hearing one every 30 min after their hour of preparation.
            let minutes = 8 * 60 + 45 * k;
            let first = format!("2025-11-17T{:02}:{:02}", minutes / 60, minutes % 60);
            let minutes = 7 * 60 + 30 * k;
            let second = format!("2025-11-18T{:02}:{:02}", minutes / 60, minutes % 60);
            for (part, start) in [
                (pb::ExamPart::TrainingSession, first),
                (pb::ExamPart::CaseStudy, second),
            ] {
                client
                    .schedule_exam_part(authed(
                        pb::ScheduleExamPartRequest {
                            candidacy_id: id.clone(),
                            exam_part: part as i32,
                            starts_at_local: start,
                            location: "Lycée Bellevue, salle 12".into(),
                        },
                        &office,
                    ))
                    .await
                    .context("scheduling an épreuve")?;
            }
            entrants.push((id.clone(), tokens.clone()));
        }
    }
    clock.set(at("2025-11-22T09:00")?);

    // Request i: candidate i % n; rounds: first entrant then second, épreuve 1 then 2, so the
    // clients in flight at once are on different candidates.
    let entrants = Arc::new(entrants);
    let chans = Arc::new(chans);
    let groups = GroupCommits::read(&node);
    let (wall, lat) = drive(clients, requests, move |i| {
        let mut client = ExaminationServiceClient::new(chans[i % chans.len()].clone());
        let (id, tokens) = entrants[i % n].clone();
        let round = (i / n) % 4;
        let part = if round < 2 {
            pb::ExamPart::TrainingSession
        } else {
            pb::ExamPart::CaseStudy
        };
        async move {
            client
                .enter_mark(authed(
                    pb::EnterMarkRequest {
                        candidacy_id: id,
                        exam_part: part as i32,
                        mark: format!("{}", 10 + i % 10),
                        absent: false,
                    },
                    &tokens[round % 2],
                ))
                .await?;
            Ok(())
        }
    })
    .await?;
    let after = GroupCommits::read(&node);
    node.node.shutdown().await?;
    Ok(Stats::of(
        "EnterMark (gRPC + auth + board, schedule, sheet + history)",
        wall,
        lat,
    )
    .with_groups(groups, after))
}

/// Registration's event: `n` candidates on the 2025 admitted list.
async fn publish_admitted_list(bus: &SharedBus, n: usize) -> anyhow::Result<()> {
    let entries = (0..n)
        .map(|i| {
            let mut d = crate::demo::details(i % 12, &crate::demo::PEOPLE[i % 12]);
            d.staff_number = format!("B{i:012}");
            d.email = format!("bench{i}@ac-toulouse.fr");
            pb::AdmittedListEntry {
                candidacy_id: uuid::Uuid::now_v7().to_string(),
                candidate_key: format!("{i:032x}"),
                identity: Some(pb::CandidateIdentity {
                    last_name: d.last_name,
                    first_name: d.first_name,
                    birth_date: d.birth_date,
                    email: d.email,
                    staff_number: d.staff_number,
                    workplace_uai: d.workplace_uai,
                }),
                profile: Some(pb::CandidateProfile {
                    sex: d.sex,
                    department: d.department,
                    staff_category: pb::StaffCategory::SecondDegreeTenured as i32,
                    workplace_type: d.workplace_type,
                    runs_mlds_actions: d.runs_mlds_actions,
                    is_dropout_referent: d.is_dropout_referent,
                }),
            }
        })
        .collect();
    let payload = pb::event_envelope::Payload::AdmittedListPublished(pb::AdmittedListPublished {
        year: 2025,
        entries,
    });
    let event_type = payload.name();
    let envelope = pb::EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: "toulouse".into(),
        source: "registration".into(),
        sequence: 1,
        occurred_at: Some(cplds_runtime::time::to_timestamp(at("2025-06-24T09:00")?)),
        r#type: event_type.into(),
        stream: pb::Stream::Internal as i32,
        trace_context: Default::default(),
        payload: Some(payload),
        ..Default::default()
    };
    let mut message = Message {
        stream: Stream::Internal,
        routing_key: format!("toulouse.registration.{event_type}"),
        message_id: envelope.event_id.clone(),
        event_type: event_type.into(),
        body: envelope.encode_to_vec(),
        headers: Default::default(),
    };
    // Signed as registration would: the sandbox's nodes trust the shared key set only.
    cplds_runtime::event_signing::FederationKeys::shared().sign_as_producer(&mut message);
    bus.publish(&[message]).await?;
    Ok(())
}

/// The exam service's copy of the list, once it holds `n` candidates: their ids.
async fn await_candidates(
    client: &mut ExaminationServiceClient<Channel>,
    office: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let every = std::time::Duration::from_millis(100);
    poll::until(std::time::Duration::from_secs(60), every, async || {
        let known = known_candidates(client, office, 2025).await?;
        Ok(match known.len() >= n {
            true => Check::Done(known.into_iter().map(|c| c.candidacy_id).collect()),
            false => Check::Waiting(format!(
                "the exam service holds {} of the {n} admitted candidates",
                known.len()
            )),
        })
    })
    .await
}

/// `requests` attendances recorded: cohorts of the 2025 school year (200 places each) with the
/// eight sessions of the standard plan, `requests / 8` trainees, then each trainee's attendance
/// at each session from `clients` clients (the cohort's trainer).
pub async fn attendance(
    dir: &std::path::Path,
    database_url: Option<String>,
    bus: SharedBus,
    clients: usize,
    requests: usize,
) -> anyhow::Result<Stats> {
    use cplds_training::scenario;
    let clock = ManualClock::new(at("2025-09-15T10:00")?);
    let node = node(dir, "training", database_url, bus, clock).await?;
    let ac = Academy::parse("toulouse").map_err(anyhow::Error::msg)?;
    let chans = channels(node.node.addr, clients.min(16)).await?;
    let mut client = TrainingServiceClient::new(chans[0].clone());
    let mint = |subject: &str, roles: &[Role]| node.token(subject, roles);
    let team = scenario::Team::mint(ac, &mint)?;
    let office = &team.office;
    let programme = client
        .create_programme(authed(scenario::standard_programme(1), office))
        .await?
        .into_inner();
    let trainees = requests.div_ceil(8).max(1);
    let capacity = cplds_training::domain::cohort::MAX_CAPACITY as usize;
    let mut work = Vec::with_capacity(trainees);
    for c in 0..trainees.div_ceil(capacity) {
        let cohort = client
            .create_cohort(authed(
                pb::CreateCohortRequest {
                    school_year: 2025,
                    programme_id: programme.id.clone(),
                    title: format!("Promotion {c}"),
                    scope: pb::TrainingCohortScope::Academy as i32,
                    capacity: capacity as u32,
                },
                office,
            ))
            .await?
            .into_inner();
        // Without a choice of deepening modules, a session of deepening modules only is refused.
        let sessions: Vec<pb::TrainingSession> =
            scenario::standard_sessions(&mut client, &cohort.id, 2025, ac, office)
                .await?
                .into_iter()
                .filter(|s| !s.modules.iter().all(|m| m.module_code.starts_with('A')))
                .collect();
        for n in c * capacity..((c + 1) * capacity).min(trainees) {
            // The scenario's people, born and numbered so that hundreds of them are valid.
            let mut trainee = scenario::staff(ac, n as u32);
            trainee.birth_date = format!("19{}-0{}-1{}", 60 + n % 30, 1 + n % 9, n % 9);
            trainee.staff_number = format!("{:02}E{:07}TRN", 10 + n % 90, 4200 + n);
            let e = client
                .request_enrolment(authed(
                    pb::RequestEnrolmentRequest {
                        cohort_id: cohort.id.clone(),
                        trainee: Some(trainee),
                    },
                    office,
                ))
                .await
                .context("enrolling a trainee")?
                .into_inner();
            work.push((e.id, sessions.clone()));
        }
    }
    let work = Arc::new(work);
    let chans = Arc::new(chans);
    let trainer = team.trainer.clone();
    let groups = GroupCommits::read(&node);
    let (wall, lat) = drive(clients, requests, move |i| {
        let mut client = TrainingServiceClient::new(chans[i % chans.len()].clone());
        let (enrolment, sessions) = &work[i % trainees];
        let session = &sessions[(i / trainees) % sessions.len()];
        let completed_on = match &session.details {
            Some(pb::training_session::Details::Asynchronous(a)) => a.closes_on.clone(),
            _ => String::new(),
        };
        let request = pb::RecordAttendanceRequest {
            session_id: session.id.clone(),
            enrolment_id: enrolment.clone(),
            modules: vec![],
            completed_on,
        };
        let trainer = trainer.clone();
        async move {
            client.record_attendance(authed(request, &trainer)).await?;
            Ok(())
        }
    })
    .await?;
    let after = GroupCommits::read(&node);
    node.node.shutdown().await?;
    Ok(Stats::of(
        "RecordAttendance (gRPC + auth + ledger rules + rows + history)",
        wall,
        lat,
    )
    .with_groups(groups, after))
}
