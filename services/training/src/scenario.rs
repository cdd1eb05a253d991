//! A whole cohort run through the public gRPC API only: a programme version, a cohort, requests
//! (one by a member of staff for themselves) with a waiting list, a withdrawal that promotes the
//! first person waiting, seminars and distance sessions run by the cohort's trainer, attendance
//! recorded by that trainer and the internship by the tutor the recteur designates, an
//! abandonment, and a completion with its attestation. Used by the tests and by `cplds demo`.

use std::fmt;

use anyhow::Context;
use cplds_proto::v1::{self as pb, training_service_client::TrainingServiceClient};
use cplds_runtime::{
    academy::Academy,
    auth::{Role, authed},
    time::paris_date,
};
use tonic::transport::Channel;

use crate::domain::{calendar::SchoolYear, format_minutes, identity::Uai};

/// What happened, for the demo's summary and the tests' assertions.
#[derive(Debug, Clone)]
pub struct Summary {
    pub academy: String,
    pub school_year: i32,
    pub programme_id: String,
    pub programme_version: i32,
    pub cohort_id: String,
    pub capacity: u32,
    pub requests: u32,
    /// Who waited, then got the place freed by a withdrawal.
    pub promoted: String,
    pub sessions: u32,
    pub completed_enrolment_id: String,
    pub completed_trainee: String,
    pub attestation_number: String,
    pub attestation_pdf: Vec<u8>,
    /// What the public verification of the attestation and its PDF said.
    pub attestation_check: String,
    pub completed_hours: pb::TrainingHours,
    pub in_training: u32,
    pub completed: u32,
    pub abandoned: u32,
    pub withdrawn: u32,
    pub waiting: u32,
    pub cohort_credited_minutes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.completed_hours;
        writeln!(
            f,
            "training ({}): programme v{}, cohort {}-{} ({} places), {} requests, {} sessions",
            self.academy,
            self.programme_version,
            self.school_year,
            self.school_year + 1,
            self.capacity,
            self.requests,
            self.sessions
        )?;
        writeln!(
            f,
            "  waiting list: {} got the place freed by a withdrawal",
            self.promoted
        )?;
        writeln!(
            f,
            "  {} completed ({}): theory {}, deepening {}, practical {}; presence {}, synchronous {}, asynchronous {}",
            self.completed_trainee,
            self.attestation_number,
            format_minutes(h.theory_minutes),
            format_minutes(h.deepening_minutes),
            format_minutes(h.practical_minutes),
            format_minutes(h.presence_minutes),
            format_minutes(h.synchronous_distance_minutes),
            format_minutes(h.asynchronous_distance_minutes)
        )?;
        writeln!(
            f,
            "  attestation checked publicly: {}",
            self.attestation_check
        )?;
        writeln!(
            f,
            "  cohort: {} in training, {} completed, {} abandoned, {} withdrawn, {} waiting; {} credited in all",
            self.in_training,
            self.completed,
            self.abandoned,
            self.withdrawn,
            self.waiting,
            format_minutes(self.cohort_credited_minutes as u32)
        )
    }
}

/// A catalogue of the arrêté's shape: six theory modules (2 presence, 2 synchronous, 2
/// asynchronous, 20 h each), five deepening modules of 10 h offered, two practical modules of 20 h.
pub fn standard_programme(version: i32) -> pb::CreateProgrammeRequest {
    use pb::{TrainingModuleKind as K, TrainingModuleMode as M};
    let m = |code: &str, title: &str, kind: K, mode: M, hours: u32| pb::ProgrammeModule {
        code: code.into(),
        title: title.into(),
        kind: kind as i32,
        mode: mode as i32,
        minutes: hours * 60,
    };
    pb::CreateProgrammeRequest {
        version,
        title: "Formation préparatoire au CPLDS (arrêté du 5 mai 2017)".into(),
        modules: vec![
            m(
                "T1",
                "Le décrochage scolaire : définitions, données, cadre réglementaire",
                K::Theory,
                M::Presence,
                20,
            ),
            m(
                "T2",
                "Prévenir et repérer : GPDS et référents décrochage",
                K::Theory,
                M::Presence,
                20,
            ),
            m(
                "T3",
                "Accompagner les jeunes : entretien, parcours, remobilisation",
                K::Theory,
                M::SynchronousDistance,
                20,
            ),
            m(
                "T4",
                "Partenariats et alliances éducatives : PSAD, FOQUALE, CIO",
                K::Theory,
                M::SynchronousDistance,
                20,
            ),
            m(
                "T5",
                "Ingénierie de formation et pédagogie de la remédiation",
                K::Theory,
                M::AsynchronousDistance,
                20,
            ),
            m(
                "T6",
                "Évaluer les actions et la démarche qualité",
                K::Theory,
                M::AsynchronousDistance,
                20,
            ),
            m(
                "A1",
                "Persévérance et climat scolaire",
                K::Deepening,
                M::Presence,
                10,
            ),
            m(
                "A2",
                "Décrochage, santé et handicap",
                K::Deepening,
                M::SynchronousDistance,
                10,
            ),
            m(
                "A3",
                "Le numérique au service de la raccroche",
                K::Deepening,
                M::AsynchronousDistance,
                10,
            ),
            m(
                "A4",
                "Alternance et insertion professionnelle",
                K::Deepening,
                M::Presence,
                10,
            ),
            m(
                "A5",
                "Le droit au retour en formation",
                K::Deepening,
                M::SynchronousDistance,
                10,
            ),
            m(
                "P1",
                "Observer et co-animer des séquences de formation",
                K::Practical,
                M::Presence,
                20,
            ),
            m(
                "P2",
                "Conduire une réunion du GPDS",
                K::Practical,
                M::Presence,
                20,
            ),
        ],
    }
}

/// A UAI of the académie (first département), with its check letter.
pub fn establishment(academy: &Academy, n: u32) -> String {
    let d = academy.departments[0].code;
    let prefix = match d {
        "2A" => "620".to_owned(),
        "2B" => "720".to_owned(),
        d if d.len() == 2 => format!("0{d}"),
        d => d.to_owned(),
    };
    let digits = format!("{prefix}{:04}", 20 + n);
    // Every académie's first département makes seven digits (tested below), so the letter is
    // there; were it not, the UAI would lack it and the service would refuse it by name.
    let letter = Uai::check_letter(&digits).map(char::from);
    format!("{digits}{}", letter.map(String::from).unwrap_or_default())
}

/// Staff member `n` of the académie.
pub fn staff(academy: &Academy, n: u32) -> pb::TraineeDetails {
    let people = [
        ("Durand", "Camille", pb::Sex::Female),
        ("Benali", "Karim", pb::Sex::Male),
        ("Moreau", "Léa", pb::Sex::Female),
        ("Lefèvre", "Hugo", pb::Sex::Male),
        ("Nguyen", "Sarah", pb::Sex::Female),
    ];
    let (last, first, sex) = people[n as usize % people.len()];
    let ascii = |s: &str| s.to_lowercase().replace(['é', 'è'], "e").replace(' ', "-");
    pb::TraineeDetails {
        last_name: last.into(),
        first_name: first.into(),
        birth_date: format!("{}-0{}-1{}", 1975 + n, 1 + n % 9, n % 9),
        email: format!("{}.{}{n}@ac-{}.fr", ascii(first), ascii(last), academy.code),
        staff_number: format!("{:02}E{:07}TRN", 10 + n, 4200 + n),
        sex: sex as i32,
        workplace_uai: establishment(academy, n),
        home_academy: academy.code.into(),
    }
}

/// The trainer who runs the scenario's sessions in an académie.
pub fn trainer_email(academy: &Academy) -> String {
    format!("formateur@ac-{}.fr", academy.code)
}

/// The tutor the recteur designates in the scenario.
pub fn tutor_email(academy: &Academy) -> String {
    format!("paul.riviere@ac-{}.fr", academy.code)
}

/// The tokens of those who act on a cohort besides its trainees.
#[derive(Debug, Clone)]
pub struct Team {
    pub office: String,
    /// Designates tutors.
    pub recteur: String,
    /// Runs the sessions ([`trainer_email`]).
    pub trainer: String,
    /// Accompanies the trainees' internship ([`tutor_email`]); acts with the trainer role.
    pub tutor: String,
}

impl Team {
    pub fn mint(academy: &Academy, mint: MintToken<'_>) -> anyhow::Result<Team> {
        Ok(Team {
            office: mint(
                &format!("eafc@ac-{}.fr", academy.code),
                &[Role::TrainingOffice],
            )?,
            recteur: mint(&format!("recteur@ac-{}.fr", academy.code), &[Role::Recteur])?,
            trainer: mint(&trainer_email(academy), &[Role::Trainer])?,
            tutor: mint(&tutor_email(academy), &[Role::Trainer])?,
        })
    }
}

/// Mints a bearer token for a subject (an e-mail) with roles, on the node's académie.
pub type MintToken<'a> = &'a dyn Fn(&str, &[Role]) -> anyhow::Result<String>;

/// Runs a cohort of the current school year (Europe/Paris, system clock).
pub async fn run(channel: Channel, academy: &str, mint: MintToken<'_>) -> anyhow::Result<Summary> {
    let year = SchoolYear::containing(paris_date(chrono::Utc::now())).year();
    run_for_year(channel, academy, mint, year).await
}

/// Runs a cohort of `school_year` (2025 for 2025-2026).
pub async fn run_for_year(
    channel: Channel,
    academy: &str,
    mint: MintToken<'_>,
    school_year: i32,
) -> anyhow::Result<Summary> {
    let ac = Academy::parse(academy).map_err(anyhow::Error::msg)?;
    let mut client = TrainingServiceClient::new(channel);
    let team = Team::mint(ac, mint)?;
    let (office, trainer) = (&team.office, &team.trainer);
    let y = school_year;

    let capacity = 3;
    let (programme, cohort) = open_cohort(&mut client, office, y, capacity).await?;
    let people: Vec<pb::TraineeDetails> = (0..4).map(|n| staff(ac, n)).collect();
    let (enrolments, promoted) =
        fill_places(&mut client, mint, office, &cohort.id, &people).await?;

    let sessions = standard_sessions(&mut client, &cohort.id, y, ac, office).await?;

    // The first trainee follows everything; the third starts, then abandons.
    let first = &enrolments[0];
    let third = &enrolments[2];
    follow_whole_training(
        &mut client,
        &sessions,
        &first.id,
        ac,
        &mint(&people[0].email, &[Role::Candidate])?,
        &team,
    )
    .await?;
    for e in [third, &promoted] {
        assign_tutor(&mut client, &e.id, ac, &team.recteur).await?;
    }
    for s in &sessions[..2] {
        attend(&mut client, s, &third.id, trainer).await?;
    }
    client
        .record_abandonment(authed(
            pb::RecordAbandonmentRequest {
                enrolment_id: third.id.clone(),
                reason: "raisons de santé".into(),
            },
            office,
        ))
        .await
        .context("abandonment")?;

    let (attestation, check) = attest(&mut client, office, &first.id).await?;
    let progress = client
        .get_cohort_progress(authed(
            pb::GetCohortProgressRequest {
                cohort_id: cohort.id.clone(),
            },
            trainer,
        ))
        .await
        .context("cohort progress")?
        .into_inner();

    Ok(Summary {
        academy: academy.to_owned(),
        school_year: y,
        programme_id: programme.id,
        programme_version: programme.version,
        cohort_id: cohort.id,
        capacity,
        requests: enrolments.len() as u32,
        promoted: name(&promoted),
        sessions: sessions.len() as u32,
        completed_enrolment_id: first.id.clone(),
        completed_trainee: name(first),
        attestation_number: attestation.number,
        attestation_pdf: attestation.pdf,
        attestation_check: check.explanation,
        completed_hours: attestation.hours.unwrap_or_default(),
        in_training: progress.in_training,
        completed: progress.completed,
        abandoned: progress.abandoned,
        withdrawn: progress.withdrawn,
        waiting: progress.waiting,
        cohort_credited_minutes: progress.total_credited_minutes,
    })
}

/// The programme (the next version of the académie's catalogue) and a cohort of `capacity`
/// places following it.
async fn open_cohort(
    client: &mut Client,
    office: &str,
    school_year: i32,
    capacity: u32,
) -> anyhow::Result<(pb::TrainingProgramme, pb::TrainingCohort)> {
    let versions = client
        .list_programmes(authed(pb::ListProgrammesRequest::default(), office))
        .await
        .context("listing programmes")?
        .into_inner();
    let version = versions.programmes.first().map_or(1, |p| p.version + 1);
    let programme = client
        .create_programme(authed(standard_programme(version), office))
        .await
        .context("creating the programme")?
        .into_inner();
    let cohort = client
        .create_cohort(authed(
            pb::CreateCohortRequest {
                school_year,
                programme_id: programme.id.clone(),
                title: String::new(),
                scope: pb::TrainingCohortScope::Academy as i32,
                capacity,
            },
            office,
        ))
        .await
        .context("creating the cohort")?
        .into_inner();
    Ok((programme, cohort))
}

/// Requests: one member of staff asks for themselves, the office enters three more; the fourth
/// waits. The second then withdraws (their own token) and the fourth gets the place. Returns the
/// four requests, and the promoted one.
async fn fill_places(
    client: &mut Client,
    mint: MintToken<'_>,
    office: &str,
    cohort_id: &str,
    people: &[pb::TraineeDetails],
) -> anyhow::Result<(Vec<pb::TrainingEnrolment>, pb::TrainingEnrolment)> {
    let mut enrolments = Vec::new();
    for (n, person) in people.iter().enumerate() {
        let token = if n == 0 {
            mint(&person.email, &[Role::Candidate])?
        } else {
            office.to_owned()
        };
        let e = client
            .request_enrolment(authed(
                pb::RequestEnrolmentRequest {
                    cohort_id: cohort_id.to_owned(),
                    trainee: Some(person.clone()),
                },
                &token,
            ))
            .await
            .with_context(|| format!("enrolment request {n}"))?
            .into_inner();
        enrolments.push(e);
    }
    anyhow::ensure!(
        enrolments[3].status == pb::TrainingEnrolmentStatus::Waitlisted as i32,
        "the fourth request should wait"
    );
    let withdrawn = client
        .withdraw_enrolment(authed(
            pb::WithdrawEnrolmentRequest {
                enrolment_id: enrolments[1].id.clone(),
                reason: "mutation à la rentrée".into(),
            },
            &mint(&people[1].email, &[Role::Candidate])?,
        ))
        .await
        .context("withdrawal")?
        .into_inner();
    let promoted = withdrawn
        .promoted
        .context("the first person waiting gets the freed place")?;
    Ok((enrolments, promoted))
}

/// The office issues the attestation of a completed training; whoever the trainee shows it to
/// checks it without an account.
async fn attest(
    client: &mut Client,
    office: &str,
    enrolment_id: &str,
) -> anyhow::Result<(pb::TrainingAttestation, pb::AttestationVerification)> {
    let attestation = client
        .issue_attestation(authed(
            pb::IssueAttestationRequest {
                enrolment_id: enrolment_id.to_owned(),
            },
            office,
        ))
        .await
        .context("issuing the attestation")?
        .into_inner();
    let check = client
        .verify_attestation(pb::VerifyAttestationRequest {
            number: attestation.number.clone(),
            sha256: attestation.sha256.clone(),
            code: attestation.verification_code.clone(),
        })
        .await
        .context("verifying the attestation")?
        .into_inner();
    Ok((attestation, check))
}

fn name(e: &pb::TrainingEnrolment) -> String {
    e.trainee
        .as_ref()
        .map(|t| format!("{} {}", t.first_name, t.last_name))
        .unwrap_or_default()
}

pub type Client = TrainingServiceClient<Channel>;

/// Three two-day seminars in cities of the région, synchronous classes and asynchronous courses,
/// covering the six theory modules and the deepening modules A2, A3 and A5, all run by
/// [`trainer_email`].
pub async fn standard_sessions(
    client: &mut Client,
    cohort_id: &str,
    y: i32,
    ac: &Academy,
    office: &str,
) -> anyhow::Result<Vec<pb::TrainingSession>> {
    let cities: Vec<&str> = ac.region_academies().map(|a| a.name).collect();
    let trainers = vec![trainer_email(ac)];
    let city = |i: usize| cities[i % cities.len()];
    let sm = |code: &str, hours: u32| pb::SessionModule {
        module_code: code.into(),
        minutes: hours * 60,
    };
    let mut sessions = Vec::new();
    for (title, first, last, c, modules) in [
        (
            "Séminaire d'ouverture",
            format!("{y}-10-21"),
            format!("{y}-10-22"),
            city(0),
            vec![sm("T1", 12)],
        ),
        (
            "Séminaire de mi-parcours",
            format!("{}-02-24", y + 1),
            format!("{}-02-25", y + 1),
            city(1),
            vec![sm("T1", 8), sm("T2", 6)],
        ),
        (
            "Séminaire de clôture",
            format!("{}-04-23", y + 1),
            format!("{}-04-24", y + 1),
            city(2),
            vec![sm("T2", 14)],
        ),
    ] {
        sessions.push(
            client
                .create_seminar(authed(
                    pb::CreateSeminarRequest {
                        cohort_id: cohort_id.into(),
                        title: title.into(),
                        first_day: first,
                        last_day: last,
                        city: c.into(),
                        place: format!("Centre académique de formation, {c}"),
                        modules,
                        trainers: trainers.clone(),
                    },
                    office,
                ))
                .await
                .with_context(|| format!("seminar {title}"))?
                .into_inner(),
        );
    }
    for (title, at, modules) in [
        (
            "Classes virtuelles d'automne",
            format!("{y}-11-18T14:00"),
            vec![sm("T3", 10), sm("T4", 10)],
        ),
        (
            "Classes virtuelles d'hiver",
            format!("{}-01-13T14:00", y + 1),
            vec![sm("T3", 10), sm("T4", 10)],
        ),
        (
            "Classes virtuelles d'approfondissement",
            format!("{}-03-17T14:00", y + 1),
            vec![sm("A2", 10), sm("A5", 10)],
        ),
    ] {
        sessions.push(
            client
                .create_distance_session(authed(
                    pb::CreateDistanceSessionRequest {
                        cohort_id: cohort_id.into(),
                        title: title.into(),
                        mode: pb::TrainingDistanceMode::Synchronous as i32,
                        starts_at_local: at,
                        modules,
                        trainers: trainers.clone(),
                        ..Default::default()
                    },
                    office,
                ))
                .await
                .with_context(|| format!("distance session {title}"))?
                .into_inner(),
        );
    }
    for (title, opens, closes, modules) in [
        (
            "Parcours en ligne 1",
            format!("{y}-11-01"),
            format!("{}-01-31", y + 1),
            vec![sm("T5", 20)],
        ),
        (
            "Parcours en ligne 2",
            format!("{}-02-01", y + 1),
            format!("{}-04-30", y + 1),
            vec![sm("T6", 20), sm("A3", 10)],
        ),
    ] {
        sessions.push(
            client
                .create_distance_session(authed(
                    pb::CreateDistanceSessionRequest {
                        cohort_id: cohort_id.into(),
                        title: title.into(),
                        mode: pb::TrainingDistanceMode::Asynchronous as i32,
                        opens_on: opens,
                        closes_on: closes,
                        modules,
                        trainers: trainers.clone(),
                        ..Default::default()
                    },
                    office,
                ))
                .await
                .with_context(|| format!("distance session {title}"))?
                .into_inner(),
        );
    }
    Ok(sessions)
}

/// The recteur designates [`tutor_email`] as the trainee's tutor.
pub async fn assign_tutor(
    client: &mut Client,
    enrolment_id: &str,
    ac: &Academy,
    recteur: &str,
) -> anyhow::Result<pb::TrainingEnrolment> {
    Ok(client
        .assign_tutor(authed(
            pb::AssignTutorRequest {
                enrolment_id: enrolment_id.into(),
                last_name: "Rivière".into(),
                first_name: "Paul".into(),
                email: tutor_email(ac),
                qualification: pb::TrainingTutorQualification::Cplds as i32,
            },
            recteur,
        ))
        .await
        .context("assigning a tutor")?
        .into_inner())
}

/// The whole session for one trainee (asynchronous courses completed on their last day).
pub async fn attend(
    client: &mut Client,
    session: &pb::TrainingSession,
    enrolment_id: &str,
    trainer: &str,
) -> anyhow::Result<pb::TrainingEnrolment> {
    let completed_on = match &session.details {
        Some(pb::training_session::Details::Asynchronous(a)) => a.closes_on.clone(),
        _ => String::new(),
    };
    Ok(client
        .record_attendance(authed(
            pb::RecordAttendanceRequest {
                session_id: session.id.clone(),
                enrolment_id: enrolment_id.into(),
                modules: vec![],
                completed_on,
            },
            trainer,
        ))
        .await
        .with_context(|| format!("attendance at {}", session.title))?
        .into_inner())
}

/// Everything one trainee needs for the attestation, on the sessions of [`standard_sessions`]:
/// the deepening modules A2, A3 and A5 (chosen with `chooser`'s token), a tutor designated by
/// the recteur, every session (recorded by its trainer), and 40 h of internship including the
/// GPDS meeting (recorded by the tutor).
pub async fn follow_whole_training(
    client: &mut Client,
    sessions: &[pb::TrainingSession],
    enrolment_id: &str,
    ac: &Academy,
    chooser: &str,
    team: &Team,
) -> anyhow::Result<pb::TrainingEnrolment> {
    client
        .choose_deepening_modules(authed(
            pb::ChooseDeepeningModulesRequest {
                enrolment_id: enrolment_id.into(),
                module_codes: vec!["A2".into(), "A3".into(), "A5".into()],
            },
            chooser,
        ))
        .await
        .context("choosing deepening modules")?;
    assign_tutor(client, enrolment_id, ac, &team.recteur).await?;
    for s in sessions {
        attend(client, s, enrolment_id, &team.trainer).await?;
    }
    let y = sessions
        .first()
        .and_then(|s| match &s.details {
            Some(pb::training_session::Details::Seminar(d)) => {
                d.first_day.get(..4)?.parse::<i32>().ok()
            }
            _ => None,
        })
        .context("the first session is the opening seminar")?;
    let uai = establishment(ac, 7);
    let mut last = None;
    for (kind, module, date, hours) in [
        (
            pb::InternshipActivityKind::Observation,
            "P1",
            format!("{}-01-20", y + 1),
            12,
        ),
        (
            pb::InternshipActivityKind::CoLeading,
            "P1",
            format!("{}-02-03", y + 1),
            8,
        ),
        (
            pb::InternshipActivityKind::CoLeading,
            "P2",
            format!("{}-03-09", y + 1),
            17,
        ),
        (
            pb::InternshipActivityKind::GpdsSession,
            "P2",
            format!("{}-03-30", y + 1),
            3,
        ),
    ] {
        last = Some(
            client
                .record_internship_activity(authed(
                    pb::RecordInternshipActivityRequest {
                        enrolment_id: enrolment_id.into(),
                        kind: kind as i32,
                        module_code: module.into(),
                        date,
                        minutes: hours * 60,
                        establishment_uai: uai.clone(),
                        description: String::new(),
                    },
                    &team.tutor,
                ))
                .await
                .context("recording the internship")?
                .into_inner(),
        );
    }
    last.context("activities recorded")
}

#[cfg(test)]
mod tests {
    use cplds_runtime::academy::ACADEMIES;

    use super::*;

    /// `establishment` relies on every académie's first département making seven digits.
    #[test]
    fn every_academy_has_a_valid_establishment() {
        for academy in ACADEMIES {
            let uai = establishment(academy, 1);
            assert!(Uai::parse(&uai).is_ok(), "{}: {uai}", academy.code);
        }
    }
}
