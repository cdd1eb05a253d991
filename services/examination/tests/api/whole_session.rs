//! A whole session, from the admitted list to published results, driven by the same scenario
//! as the demo: what it decides, what leaves the node, what a candidate reads, an appeal.

use chrono::TimeDelta;
use cplds_examination::scenario::{self, ScenarioSummary};
use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{auth::Role, bus::Subscription, pdf::extract_text};
use prost::Message as _;
use tonic::Code;

use crate::helpers::*;

on_both!(
    the_scenario_deliberates_and_publishes,
    only_pseudonymous_facts_reach_the_national_stream,
    a_candidate_reads_their_own_convocation_and_result,
    an_upheld_appeal_revises_a_published_result,
);

/// Six candidates listed, the sixth withdrawn after the list; the scenario run to published
/// results, watched from the start on both streams.
struct Run {
    t: Ctx,
    events: Subscription,
    known: Vec<pb::ExamCandidate>,
    summary: ScenarioSummary,
}

async fn run(backend: Backend) -> Option<Run> {
    let mut t = start_with_registration(backend).await?;
    let events = t.listen().await;
    let known = t.listed_through_registration(6).await;
    // A withdrawal after the list was published still reaches the exam service.
    let leaving = known
        .iter()
        .find(|c| c.email == email(6))
        .unwrap()
        .candidacy_id
        .clone();
    t.withdraw_through_registration(&leaving, 6).await;
    t.wait_candidates(6, 1).await;
    let list = t
        .reg
        .get_admitted_list(authed(pb::GetAdmittedListRequest { year: 2025 }, &t.office))
        .await
        .unwrap()
        .into_inner();
    let node = &t.node;
    let mint = |subject: &str, roles: &[Role]| Ok(node.token(subject, roles));
    let summary = scenario::run(node.channel().await, "toulouse", &mint, &list)
        .await
        .unwrap();
    Some(Run {
        t,
        events,
        known,
        summary,
    })
}

impl Run {
    fn candidacy(&self, n: u32) -> String {
        self.known
            .iter()
            .find(|c| c.email == email(n))
            .unwrap()
            .candidacy_id
            .clone()
    }
}

async fn the_scenario_deliberates_and_publishes(backend: Backend) {
    let Some(mut r) = run(backend).await else {
        return;
    };
    let summary = &r.summary;
    assert_eq!(
        (summary.listed, summary.withdrawn, summary.examined),
        (6, 1, 5)
    );
    assert_eq!(summary.boards, 2);
    assert_eq!(
        summary.conflicts_refused, 1,
        "one assignment refused for conflict of interest"
    );
    assert_eq!(
        (summary.convocations_issued, summary.convocations_resent),
        (5, 1)
    );
    assert_eq!(summary.mismatches_reconciled, 1);
    assert!(summary.newly_published);
    assert_eq!(summary.jury_remarks_version, 1);
    assert!(
        summary
            .to_string()
            .contains("minutes signed by commission1.presidence@ac-toulouse.fr")
    );

    // Marks of the five: 14 + 12.5; 9.5 (reconciled) + 11.5; 4.5 + 16; 12 + 13; absent + 13.
    let s = &summary.statistics;
    assert_eq!((s.candidates, s.withdrawn, s.sat, s.absent), (6, 1, 4, 1));
    assert_eq!((s.admitted, s.not_admitted), (3, 2));
    assert!((s.not_admitted_percent - 40.0).abs() < 1e-9);
    let p1 = s.part_1.as_ref().unwrap();
    assert_eq!((p1.present, p1.absent, p1.eliminatory), (4, 1, 1));
    assert_eq!((p1.lowest.as_str(), p1.highest.as_str()), ("4.5", "14"));
    assert!((p1.mean - 10.0).abs() < 1e-9);
    assert_eq!(p1.distribution.len(), 21);
    assert_eq!(
        p1.distribution[4] + p1.distribution[9] + p1.distribution[12] + p1.distribution[14],
        4
    );
    let p2 = s.part_2.as_ref().unwrap();
    assert_eq!(
        (p2.present, p2.lowest.as_str(), p2.highest.as_str()),
        (5, "11.5", "16")
    );
    let avg = s.average.as_ref().unwrap();
    assert_eq!(
        (avg.count, avg.lowest.as_str(), avg.highest.as_str()),
        (4, "10.25", "13.25")
    );
    // Averages unrounded (13.25, 10.5, 10.25, 12.5); their mean 11.625 to the hundredth.
    assert_eq!(avg.mean, 11.63);
    assert_eq!(p2.mean, 13.2);

    // The minutes: what was signed is what is kept.
    let minutes =
        r.t.exam
            .get_minutes(authed(
                pb::GetMinutesRequest {
                    session_id: r.summary.session_id.clone(),
                },
                &r.t.recteur,
            ))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(sha256_hex(&minutes.pdf), minutes.sha256);
    assert!(!minutes.signature.is_empty() && !minutes.academy_signature.is_empty());
    assert_eq!(minutes.decisions.len(), 6);
    let text = extract_text(&minutes.pdf);
    assert!(
        text.contains("Procès-verbal de délibération du jury"),
        "{text}"
    );
    assert!(text.contains("démissionnaire"));
}

/// Internal events for the académie, pseudonymous facts for the nation.
async fn only_pseudonymous_facts_reach_the_national_stream(backend: Backend) {
    let Some(mut r) = run(backend).await else {
        return;
    };
    let sent = events_until(&mut r.events, pb::Stream::National, "results_published").await;
    // The jury's remarks, published after the results, may come before the last national fact.
    let internal: Vec<String> = types(&sent, pb::Stream::Internal)
        .into_iter()
        .filter(|t| t != "jury_remarks_published")
        .collect();
    assert_eq!(
        internal,
        [
            "exam_session_created",
            "deliberation_closed",
            "results_published"
        ]
    );
    assert_eq!(
        types(&sent, pb::Stream::National),
        [vec!["exam_result"; 6], vec!["results_published"]].concat()
    );
    let secrets: Vec<String> = (1..=6)
        .flat_map(|n| {
            [
                email(n),
                format!("12E{n:07}ABC"),
                uai(n),
                person(n).last_name,
            ]
        })
        .chain([
            "1984-03-12".to_owned(),
            "ac-toulouse.fr".to_owned(),
            "Camille".to_owned(),
        ])
        .collect();
    for e in sent
        .iter()
        .filter(|e| e.stream == pb::Stream::National as i32)
    {
        let bytes = e.encode_to_vec();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaked to the national stream in {}",
                e.r#type
            );
        }
    }
    let national: Vec<pb::NationalExamResult> = sent
        .iter()
        .filter_map(|e| match &e.payload {
            Some(Payload::NationalExamResult(r)) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        national.iter().filter(|r| r.outcome == "ADMITTED").count(),
        3
    );
    assert_eq!(
        national.iter().filter(|r| r.reason == "WITHDRAWN").count(),
        1
    );
    assert!(
        national
            .iter()
            .all(|r| r.candidate_key.len() == 32 && r.profile.is_some())
    );
    let Some(Payload::DeliberationClosed(closed)) = &sent[1].payload else {
        panic!("deliberation_closed expected, got {}", sent[1].r#type);
    };
    assert_eq!(closed.minutes_sha256, r.summary.minutes_sha256);
    assert_eq!(closed.decisions.len(), 6);
}

/// A candidate reads their own convocation and result, not another's.
async fn a_candidate_reads_their_own_convocation_and_result(backend: Backend) {
    let Some(mut r) = run(backend).await else {
        return;
    };
    let me = r.t.token(&email(1), &[Role::Candidate]);
    let (mine, theirs) = (r.candidacy(1), r.candidacy(2));
    let result = r.t.result(&mine, &me).await.unwrap();
    assert!(result.publish_time.is_some() && result.appeal_deadline.is_some());
    assert_eq!(code(r.t.result(&theirs, &me).await), Code::PermissionDenied);
    let conv =
        r.t.exam
            .get_convocation(authed(
                pb::GetConvocationRequest {
                    candidacy_id: mine,
                    version: 0,
                },
                &me,
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(extract_text(&conv.pdf).contains(&person(1).last_name));
    assert_eq!(
        sha256_hex(&conv.pdf),
        conv.convocation.unwrap().document_sha256
    );
}

/// Publication is idempotent: nothing changes, nothing is sent again (the next event is the
/// appeal's). The candidate with the eliminatory 4.5 appeals; the appeal is upheld with a
/// revised mark, which the history keeps; the window closes after the session's 30 days.
async fn an_upheld_appeal_revises_a_published_result(backend: Backend) {
    let Some(mut r) = run(backend).await else {
        return;
    };
    events_until(&mut r.events, pb::Stream::National, "results_published").await;
    let sid = r.summary.session_id.clone();
    let office = r.t.office.clone();
    let again = r.t.publish(&sid, &office).await.unwrap();
    assert!(!again.newly_published);
    assert_eq!((again.candidates, again.admitted), (6, 3));

    let results =
        r.t.exam
            .list_exam_results(authed(
                pb::ListExamResultsRequest {
                    session_id: sid.clone(),
                    ..Default::default()
                },
                &office,
            ))
            .await
            .unwrap()
            .into_inner()
            .results;
    assert_eq!(results.len(), 6);
    let failed = results
        .iter()
        .map(|x| x.decision.clone().unwrap())
        .find(|d| d.reason == pb::ExamDecisionReason::EliminatoryMark as i32)
        .unwrap();
    let n = r
        .known
        .iter()
        .position(|c| c.candidacy_id == failed.candidacy_id)
        .unwrap() as u32
        + 1;
    let token = r.t.token(&email(n), &[Role::Candidate]);
    let appeal = r.t.file_appeal(&failed.candidacy_id, &token).await.unwrap();
    assert_eq!(appeal.status, pb::ExamAppealStatus::Pending as i32);
    let decided =
        r.t.exam
            .decide_appeal(authed(
                pb::DecideAppealRequest {
                    appeal_id: appeal.id.clone(),
                    outcome: pb::ExamAppealStatus::Upheld as i32,
                    decision_text: "Erreur matérielle de report de la note.".into(),
                    part_1: Some(pb::RevisedMark {
                        mark: "6".into(),
                        absent: false,
                    }),
                    part_2: None,
                },
                &r.t.recteur,
            ))
            .await
            .unwrap()
            .into_inner();
    let after = decided.decision_after.unwrap();
    assert_eq!(after.outcome, pb::ExamOutcome::Admitted as i32);
    assert_eq!(after.total, "22");
    assert_eq!(
        decided.decision_before.unwrap().outcome,
        pb::ExamOutcome::NotAdmitted as i32
    );
    let next: Vec<_> = events_until(&mut r.events, pb::Stream::National, "exam_result")
        .await
        .into_iter()
        .filter(|e| e.r#type != "jury_remarks_published")
        .collect();
    assert_eq!(
        next.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
        ["appeal_decided", "exam_result"],
        "publishing again sent nothing"
    );
    let Some(Payload::AppealDecided(appeal_event)) = &next[0].payload else {
        panic!("the appeal's decision");
    };
    assert_eq!(
        appeal_event.deliberated_at,
        again.session.as_ref().unwrap().deliberation_close_time,
        "the date of admission stays the deliberation's"
    );
    let Some(Payload::NationalExamResult(revised)) = &next[1].payload else {
        panic!("a national fact");
    };
    assert_eq!(revised.outcome, "ADMITTED");
    assert_eq!(revised.part_1.unwrap().mark_half_points, 12);
    let mine = r.t.result(&failed.candidacy_id, &token).await.unwrap();
    assert_eq!(
        mine.decision.unwrap().outcome,
        pb::ExamOutcome::Admitted as i32
    );
    assert_eq!(mine.appeals.len(), 1);
    assert_eq!(r.t.statistics(&sid).await.unwrap().admitted, 4);
    let history =
        r.t.history(&failed.candidacy_id, 0, String::new())
            .await
            .entries;
    let last = history.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("revised_on_appeal", "recteur@ac-toulouse.fr")
    );
    assert_eq!(last.previous.as_ref().unwrap().mark, "4.5");

    // The window closes 30 days after publication.
    advance(&r.t, TimeDelta::days(31));
    let token = r.t.token(&email(2), &[Role::Candidate]);
    assert_eq!(
        rule_of(r.t.file_appeal(&r.candidacy(2), &token).await),
        "APPEAL_WINDOW_CLOSED"
    );
}
