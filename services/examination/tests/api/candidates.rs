//! The exam's copy of the admitted list: registration's events in any order, a candidate's own
//! record, pages.

use cplds_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, event_envelope::Payload,
};
use cplds_runtime::{auth::Role, testing::wait_for};
use tonic::Code;

use crate::helpers::*;

on_both!(
    another_services_list_is_refused_and_counted,
    registration_events_reach_the_copy_in_any_order,
    a_candidate_reads_only_their_own_record,
    pages_of_candidates_are_bound_to_the_year,
);

fn entry(id: &str, n: u32) -> pb::AdmittedListEntry {
    pb::AdmittedListEntry {
        candidacy_id: id.into(),
        candidate_key: format!("{n:032x}"),
        identity: Some(pb::CandidateIdentity {
            last_name: format!("Nom{n}"),
            first_name: "Prénom".into(),
            birth_date: "1980-01-01".into(),
            email: format!("C{n}@AC-Toulouse.fr"),
            staff_number: format!("12E{n:07}XYZ"),
            workplace_uai: uai(n).to_lowercase(),
        }),
        profile: Some(pb::CandidateProfile {
            sex: pb::Sex::Female as i32,
            department: "31".into(),
            staff_category: pb::StaffCategory::FirstDegree as i32,
            workplace_type: pb::WorkplaceType::Erea as i32,
            runs_mlds_actions: true,
            is_dropout_referent: false,
        }),
    }
}

fn withdrawn(id: &str, admitted: bool) -> Payload {
    Payload::CandidacyWithdrawn(pb::CandidacyWithdrawn {
        candidacy_id: id.into(),
        year: 2025,
        candidate_key: String::new(),
        was_admitted_to_sit: admitted,
    })
}

/// Three candidates (ids a, b, c) on a list published by event; b's withdrawal overtook the
/// list, c withdrew after it; a withdrawal of a candidate never admitted, a malformed list and
/// repeated events come along.
async fn listed_by_events(t: &Ctx) -> (String, String, String) {
    let (a, b, c) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let list = Payload::AdmittedListPublished(pb::AdmittedListPublished {
        year: 2025,
        entries: vec![entry(&a, 1), entry(&b, 2), entry(&c, 3)],
    });
    let malformed = Payload::AdmittedListPublished(pb::AdmittedListPublished {
        year: 2025,
        entries: vec![pb::AdmittedListEntry {
            candidacy_id: "x".into(),
            ..Default::default()
        }],
    });
    let first = envelope(1, withdrawn(&b, true));
    let messages = vec![
        first.clone(),
        first,
        envelope(2, withdrawn(&uuid::Uuid::now_v7().to_string(), false)),
        envelope(3, malformed),
        envelope(4, list.clone()),
        envelope(5, list),
        envelope(6, withdrawn(&c, true)),
        envelope(7, withdrawn(&c, true)),
    ];
    t.node
        .bus
        .publish(&cplds_runtime::testing::signed(messages))
        .await
        .unwrap();
    (a, b, c)
}

/// A withdrawal overtakes the list (requeue); one of a candidate never admitted is noise; a
/// malformed list is dead-lettered without stopping the consumer; the list comes twice.
async fn registration_events_reach_the_copy_in_any_order(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    let (a, b, c) = listed_by_events(&t).await;
    let got = t.wait_candidates(3, 2).await;
    let by_id = |id: &str| got.iter().find(|x| x.candidacy_id == id).unwrap().clone();
    assert!(!by_id(&a).withdrawn);
    assert!(
        by_id(&b).withdrawn,
        "the early withdrawal applied when the list arrived"
    );
    assert!(by_id(&c).withdrawn);
    assert_eq!(by_id(&a).email, "c1@ac-toulouse.fr");
    assert_eq!(by_id(&a).workplace_uai, uai(1));
    // The consumer keeps what it refused as a dead letter, which the operator sees.
    let admin = AdminServiceClient::new(t.node.channel().await);
    let it = t.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let dead = wait_for(EXAM_TIMEOUT, "the refused list as a dead letter", || {
        let mut admin = admin.clone();
        let req = authed(
            pb::ListDeadLettersRequest {
                service: "examination".into(),
                ..Default::default()
            },
            &it,
        );
        async move {
            let dead = admin.list_dead_letters(req).await.ok()?.into_inner();
            (!dead.dead_letters.is_empty()).then_some(dead.dead_letters)
        }
    })
    .await;
    assert_eq!(
        dead.iter()
            .map(|d| d.routing_key.as_str())
            .collect::<Vec<_>>(),
        ["toulouse.registration.admitted_list_published"]
    );
}

/// The candidate of the malformed entry is not there; a candidate reads their own record.
async fn a_candidate_reads_only_their_own_record(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    let (a, b, _) = listed_by_events(&t).await;
    t.wait_candidates(3, 2).await;
    let me = t.token("c1@ac-toulouse.fr", &[Role::Candidate]);
    let own = t
        .exam
        .get_exam_candidate(authed(
            pb::GetExamCandidateRequest {
                candidacy_id: a.clone(),
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.last_name, "Nom1");
    let err = t
        .exam
        .get_exam_candidate(authed(
            pb::GetExamCandidateRequest {
                candidacy_id: b.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Pages: two, then one, with a token bound to the year.
async fn pages_of_candidates_are_bound_to_the_year(backend: Backend) {
    let Some(mut t) = start(backend).await else {
        return;
    };
    listed_by_events(&t).await;
    t.wait_candidates(3, 2).await;
    let list = |year, page_token: String| pb::ListExamCandidatesRequest {
        year,
        page_size: 2,
        page_token,
    };
    let page = t
        .exam
        .list_exam_candidates(authed(list(2025, String::new()), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.candidates.len(), 2);
    let rest = t
        .exam
        .list_exam_candidates(authed(list(2025, page.next_page_token.clone()), &t.office))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.candidates.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let wrong = t
        .exam
        .list_exam_candidates(authed(list(2024, page.next_page_token), &t.office))
        .await;
    assert_eq!(fields_of(wrong), ["page_token"]);
}

/// Issue 12 §1: a service of the académie (training, here) publishing registration's admitted
/// list, under registration's routing key and name but with its own key, or with no signature,
/// is refused before it is applied, kept in quarantine and counted; the genuine list applies.
async fn another_services_list_is_refused_and_counted(backend: Backend) {
    let Some(t) = start(backend).await else {
        return;
    };
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let list = |ids: &[&str]| {
        Payload::AdmittedListPublished(pb::AdmittedListPublished {
            year: 2025,
            entries: ids
                .iter()
                .enumerate()
                .map(|(i, id)| entry(id, i as u32 + 1))
                .collect(),
        })
    };
    let mut forged = envelope(1, list(&[&a, &b]));
    cplds_runtime::event_signing::FederationKeys::shared()
        .signer("toulouse", "training")
        .unwrap()
        .sign(&mut forged);
    let unsigned = envelope(2, list(&[&b]));
    t.node.bus.publish(&[forged, unsigned]).await.unwrap();
    let admin = AdminServiceClient::new(t.node.channel().await);
    let it = t.token("it@ac-toulouse.fr", &[Role::ItAdmin]);
    let status = wait_for(EXAM_TIMEOUT, "two events quarantined", || {
        let mut admin = admin.clone();
        let req = authed(pb::GetNodeStatusRequest {}, &it);
        async move {
            let s = admin.get_node_status(req).await.ok()?.into_inner();
            (s.quarantined == 2).then_some(s)
        }
    })
    .await;
    let exam = status
        .services
        .iter()
        .find(|s| s.name == "examination")
        .unwrap();
    assert_eq!(exam.consumers.iter().map(|c| c.quarantined).sum::<u64>(), 2);
    assert_eq!(status.dead_letters_waiting, 0, "refused, not dead-lettered");
    // The genuine list, published after, is the only one applied.
    t.node
        .bus
        .publish(&cplds_runtime::testing::signed(vec![envelope(
            3,
            list(&[&a]),
        )]))
        .await
        .unwrap();
    let got = t.wait_candidates(1, 0).await;
    assert_eq!(got[0].candidacy_id, a);
}
