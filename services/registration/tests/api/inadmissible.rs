//! Candidacies received after the window closed (issue 13 §4): recorded as inadmissible with
//! their channel, the moment that counted and why; never entered in the exam; counted here and
//! on the national stream, pseudonymously.

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::testing::precondition_rule;
use prost::Message;

use crate::helpers::*;

on_both!(
    a_late_letter_is_recorded_and_never_enters_the_exam,
    a_late_candidacy_is_counted_here_and_nationally,
    late_letters_are_recorded_even_after_the_list,
);

async fn a_late_letter_is_recorded_and_never_enters_the_exam(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let late = t.enter(by_post(5, "2025-06-23")).await.unwrap();
    assert_eq!(late.status, pb::CandidacyStatus::Inadmissible as i32);
    assert_eq!(late.channel, pb::SubmissionChannel::Post as i32);
    assert_eq!(late.postmark_date, "2025-06-23");
    let decision = late.decision.clone().unwrap();
    assert_eq!(decision.decided_by, "registration");
    assert_eq!(
        decision.reason_text,
        "Candidature reçue le 23/06/2025 (cachet de la poste), après la clôture des \
         inscriptions le 20/06/2025 à 17:00 : irrecevable."
    );
    // Nothing more happens to it.
    let office = t.office.clone();
    for err in [
        t.validate(&late.id).await.unwrap_err(),
        t.reject(&late.id, pb::RejectionReason::Incomplete, "")
            .await
            .unwrap_err(),
        t.withdraw(&late.id, "", &office).await.unwrap_err(),
        t.upload(&late.id, pb::DocumentKind::Identity, &office)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(precondition_rule(&err).as_deref(), Some("NOT_PENDING"));
    }
    // The list does not wait for it, and does not hold it.
    let list = t.publish().await.unwrap();
    assert!(list.candidates.is_empty(), "{list:?}");
    assert!(!t.get(&late.id, &office).await.unwrap().on_admitted_list);
}

async fn a_late_candidacy_is_counted_here_and_nationally(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let mut events = t.listen().await;
    t.enter(by_post(4, "2025-06-20")).await.unwrap();
    t.enter(by_post(5, "2025-06-23")).await.unwrap();
    let office = t.office.clone();
    let counts = t.counts(&office).await.unwrap();
    let count = |s: pb::CandidacyStatus| count_of(&counts, s);
    assert_eq!(count(pb::CandidacyStatus::Inadmissible), 1);
    assert_eq!(count(pb::CandidacyStatus::Submitted), 1);
    assert_eq!(counts.total, 2);
    let listed = t
        .list(
            pb::ListCandidaciesRequest {
                year: 2025,
                status: pb::CandidacyStatus::Inadmissible as i32,
                ..Default::default()
            },
            &office,
        )
        .await
        .unwrap();
    assert_eq!(listed.total_size, 1);

    // In time: submitted on both streams; late: one national fact, nothing internal.
    let types: Vec<(i32, String)> = {
        let mut v = Vec::new();
        while v.len() < 3 {
            let e = next_event(&mut events).await;
            if e.r#type == "campaign_opened" {
                continue;
            }
            v.push((e.stream, e.r#type.clone()));
            if let Some(Payload::NationalCandidacyInadmissible(f)) = &e.payload {
                assert_eq!(f.year, 2025);
                assert_eq!(f.candidate_key.len(), 32);
                assert_eq!(f.channel, "post");
                assert_eq!(f.days_late, 3);
                assert_eq!(f.reason, "received_after_closing");
                assert!(f.eligible);
                let p = f.profile.clone().unwrap();
                assert_eq!(p.department, "31");
                assert_eq!(p.sex, pb::Sex::Female as i32);
                let bytes = e.encode_to_vec();
                for personal in [
                    person(5).staff_number,
                    person(5).email,
                    person(5).last_name,
                    "0310036W".into(),
                ] {
                    assert!(
                        !bytes
                            .windows(personal.len())
                            .any(|w| w == personal.as_bytes()),
                        "{personal} on the national stream"
                    );
                }
            }
        }
        v
    };
    let national = pb::Stream::National as i32;
    let internal = pb::Stream::Internal as i32;
    assert_eq!(
        types,
        [
            (internal, "candidacy_submitted".to_owned()),
            (national, "candidacy_registered".to_owned()),
            (national, "candidacy_inadmissible".to_owned()),
        ]
    );
}

/// A letter may arrive after the recteur published the list: late, it is still recorded; one
/// stamped in time but entered now is refused, the list being frozen.
async fn late_letters_are_recorded_even_after_the_list(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, AFTER).await else {
        return;
    };
    t.publish().await.unwrap();
    t.set_clock("2025-07-03T10:00");
    let late = t.enter(by_post(6, "2025-07-01")).await.unwrap();
    assert_eq!(late.status, pb::CandidacyStatus::Inadmissible as i32);
    let err = t.enter(by_post(7, "2025-06-19")).await.unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
    assert_eq!(t.count().await, 1);
}
