//! A candidate account and the candidacies it may open (issue 12 §4): one live candidacy per
//! account and year, a bounded number of them, a staff number that nobody can squat, and
//! answers that say nothing about anyone else.

use cplds_proto::v1::{self as pb, EventEnvelope, event_envelope::Payload};
use cplds_runtime::testing::{authed, precondition_rule};
use tonic::Code;

use crate::helpers::*;

on_both!(
    one_live_candidacy_per_account_and_year,
    an_account_registers_at_most_three_times_a_year,
    a_staff_number_given_by_another_account_does_not_block_its_owner,
    concurrent_claims_of_one_staff_number_make_one_holder,
);

/// Person `n` giving the staff number of person `of`.
fn with_staff_number_of(n: u32, of: u32) -> pb::CandidateDetails {
    let mut d = person(n);
    d.staff_number = person(of).staff_number;
    d
}

async fn one_live_candidacy_per_account_and_year(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let first = t.submit_online(person(1)).await.unwrap();
    // The same account, giving another staff number: refused, naming only the account's own.
    let err = t
        .submit_online(with_staff_number_of(1, 2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains(&first.id), "{}", err.message());
    assert!(
        !err.message().contains(&person(2).staff_number),
        "{}",
        err.message()
    );
    assert_eq!(t.count().await, 1, "nothing was written");
}

/// Each candidacy may bring documents: withdrawing and registering again is bounded.
async fn an_account_registers_at_most_three_times_a_year(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let me = t.candidate_token(1);
    for _ in 0..3 {
        let c = t.submit_online(person(1)).await.unwrap();
        t.withdraw(&c.id, "", &me).await.unwrap();
    }
    let err = t.submit_online(person(1)).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("TOO_MANY_CANDIDACIES")
    );
    assert_eq!(t.count().await, 3);
    // The exam office still enters what the person sends by post.
    t.enter(by_post(1, "2025-05-30")).await.unwrap();
}

/// Account 1 registers with the staff number of person 2, who then registers: both are
/// recorded and both get the same answer as anyone; the office sees the two claims and
/// validates neither until it has rejected the one the documents do not support.
async fn a_staff_number_given_by_another_account_does_not_block_its_owner(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mut events = t.listen().await;
    let squatter = t.submit_online(with_staff_number_of(1, 2)).await.unwrap();
    let owner = t.submit_online(person(2)).await.unwrap();
    for c in [&squatter, &owner] {
        assert_eq!(c.status, pb::CandidacyStatus::Submitted as i32);
        assert!(c.same_staff_number_candidacy_ids.is_empty(), "{c:?}");
    }
    assert_eq!(t.count().await, 2);
    // Reading their own, neither learns of the other.
    let mine = t.candidate_token(2);
    let seen = t.get(&owner.id, &mine).await.unwrap();
    assert!(seen.same_staff_number_candidacy_ids.is_empty());

    let office = t.office.clone();
    let seen = t.get(&owner.id, &office).await.unwrap();
    assert_eq!(seen.same_staff_number_candidacy_ids, [squatter.id.as_str()]);
    t.complete(&owner.id).await;
    t.complete(&squatter.id).await;
    for c in [&owner, &squatter] {
        let err = t.validate(&c.id).await.unwrap_err();
        assert_eq!(
            precondition_rule(&err).as_deref(),
            Some("STAFF_NUMBER_CLAIMED_TWICE")
        );
    }
    t.reject(
        &squatter.id,
        pb::RejectionReason::Other,
        "pièces non conformes",
    )
    .await
    .unwrap();
    let validated = t.validate(&owner.id).await.unwrap();
    assert!(validated.same_staff_number_candidacy_ids.is_empty());

    // Nationally, the person the number names registered (first through the squatter's
    // candidacy, which held the number), then through the owner's once the squatter's left.
    let national: Vec<EventEnvelope> = national_facts(&mut events, 4).await;
    let registered = |e: &EventEnvelope| match &e.payload {
        Some(Payload::NationalCandidacyRegistered(r)) => Some(r.clone()),
        _ => None,
    };
    assert_eq!(
        national
            .iter()
            .map(|e| e.r#type.as_str())
            .collect::<Vec<_>>(),
        [
            "candidacy_registered",
            "candidacy_decided",
            "candidacy_registered",
            "candidacy_decided"
        ]
    );
    let (first, then) = (
        registered(&national[0]).unwrap(),
        registered(&national[2]).unwrap(),
    );
    assert_eq!(first.candidate_key, then.candidate_key);
    assert!(!first.profile.unwrap().runs_mlds_actions, "the squatter's");
    assert!(then.profile.unwrap().runs_mlds_actions, "the owner's");
}

/// The next `n` national facts about candidacies (the campaign's opening and internal events
/// skipped).
async fn national_facts(
    events: &mut cplds_runtime::bus::Subscription,
    n: usize,
) -> Vec<EventEnvelope> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = next_event(events).await;
        if e.stream == pb::Stream::National as i32 && e.r#type != "campaign_opened" {
            out.push(e);
        }
    }
    out
}

/// Six accounts give one staff number at once: all six are recorded, one holds the number
/// (one national registration), each of them sees five rivals.
async fn concurrent_claims_of_one_staff_number_make_one_holder(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let mut events = t.listen().await;
    let mut calls = Vec::new();
    for n in 1..=6 {
        let mut client = t.client.clone();
        let token = t.candidate_token(n);
        calls.push(tokio::spawn(async move {
            let req = pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: Some(with_staff_number_of(n, 9)),
                ..Default::default()
            };
            client.submit_candidacy(authed(req, &token)).await
        }));
    }
    let mut ids = Vec::new();
    for c in calls {
        ids.push(c.await.unwrap().unwrap().into_inner().id);
    }
    let office = t.office.clone();
    for id in &ids {
        let c = t.get(id, &office).await.unwrap();
        assert_eq!(c.same_staff_number_candidacy_ids.len(), 5, "{c:?}");
    }
    // A registration of someone else marks the end of what the six made nationally.
    t.submit_online(person(7)).await.unwrap();
    let national = national_facts(&mut events, 2).await;
    let keys: Vec<String> = national
        .iter()
        .map(|e| match &e.payload {
            Some(Payload::NationalCandidacyRegistered(r)) => r.candidate_key.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_ne!(
        keys[0], keys[1],
        "one registration for the six, then person 7's"
    );
}
