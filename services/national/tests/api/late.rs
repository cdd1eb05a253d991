//! A late candidacy (recorded "irrecevable" by registration) is a national fact the aggregator
//! takes in stride: the facts after it in the stream still apply.

use std::sync::Arc;

use cplds_proto::v1::{self as pb, registration_service_client::RegistrationServiceClient};
use cplds_runtime::{
    auth::Role, bus::memory::InMemoryBus, testing::authed, time::parse_paris_local,
};

use crate::helpers::{
    academy, academy_scope, candidate, national, register, wait_registrations, wait_totals,
};

#[tokio::test]
async fn a_late_candidacy_does_not_hold_back_the_facts_after_it() {
    let bus = InMemoryBus::new();
    let f = national(&bus).await;
    let toulouse = academy("toulouse", Arc::new(bus.clone())).await;
    let ids = register(&toulouse, &["31"], 2, 0).await;
    wait_registrations(&f, academy_scope("toulouse"), 2).await;

    // After the window: recorded as inadmissible, published as a national fact.
    toulouse
        .clock
        .set(parse_paris_local("2025-06-25T10:00").unwrap());
    let mut client = RegistrationServiceClient::new(toulouse.channel().await);
    let office = toulouse.token("dec@ac.fr", &[Role::ExamOffice]);
    let late = client
        .submit_candidacy(authed(
            pb::SubmitCandidacyRequest {
                year: 2025,
                candidate: Some(candidate(50, "31", true)),
                ..Default::default()
            },
            &office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(late.status, pb::CandidacyStatus::Inadmissible as i32);

    // The next fact of the stream: a withdrawal.
    client
        .withdraw_candidacy(authed(
            pb::WithdrawCandidacyRequest {
                candidacy_id: ids[0].clone(),
                reason_text: String::new(),
            },
            &office,
        ))
        .await
        .unwrap();
    wait_totals(
        &f,
        academy_scope("toulouse"),
        "the withdrawal after the late file",
        |t| t.withdrawn.is_some_and(|w| w.value == 1),
    )
    .await;
}
