//! The campaign and its window: when a candidacy counts as received, and who sets the window.

use std::time::Duration;

use cplds_proto::v1 as pb;
use cplds_registration::{
    domain::campaign::Window,
    store::{self, Lock},
};
use cplds_runtime::{
    testing::{authed, bad_fields, precondition_rule, wait_until},
    time::{parse_paris_local, to_timestamp},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tonic::Code;

use crate::helpers::*;

on_both!(
    a_campaign_opens_with_its_window_in_paris_time,
    a_candidacy_before_the_opening_is_refused,
    the_closing_hour_is_the_academy_s,
    a_letter_counts_by_its_postmark,
    an_e_mail_counts_by_its_reception,
    the_office_moves_the_window,
    a_submission_waits_for_a_window_move_and_meets_the_new_window,
    the_window_is_frozen_once_the_list_is_published,
    campaign_fields_are_checked_and_named,
    a_year_has_one_campaign,
    campaigns_are_listed_most_recent_first,
);

async fn a_campaign_opens_with_its_window_in_paris_time(backend: Backend) {
    let Some(mut t) = spawn_at(backend, DURING).await else {
        return;
    };
    let campaign = t.campaign(2025, OPENS, CLOSES).await;
    assert_eq!(campaign.state, pb::CampaignState::Open as i32);
    assert_eq!(campaign.closes_at_local, "2025-06-20T17:00");
    assert_eq!(
        campaign.closes_at.unwrap(),
        to_timestamp(parse_paris_local("2025-06-20T17:00").unwrap())
    );
}

async fn a_candidacy_before_the_opening_is_refused(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-05-20T10:00").await else {
        return;
    };
    let err = t.submit_online(person(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_rule(&err).as_deref(), Some("WINDOW_NOT_OPEN"));
    assert_eq!(t.count().await, 0, "a refused submission changes nothing");
}

/// A submission that comes while the window is being moved waits for the move, then is judged by
/// the new window: the campaign's lock is taken in the counters' statement, before the campaign
/// is read. The move is played here in a transaction held open, as `UpdateCampaign` runs it.
/// PostgreSQL only: SQLite's one connection runs the two one after the other by construction.
async fn a_submission_waits_for_a_window_move_and_meets_the_new_window(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let Some(db) = t.store().await else {
        return;
    };
    let txn = db.begin().await.unwrap();
    let row = store::campaign_locked(&txn, 2025, Lock::Exclusive)
        .await
        .unwrap()
        .unwrap();

    let mut client = t.client.clone();
    let token = t.candidate_token(1);
    let submission = tokio::spawn(async move {
        let req = pb::SubmitCandidacyRequest {
            year: 2025,
            candidate: Some(person(1)),
            ..Default::default()
        };
        client.submit_candidacy(authed(req, &token)).await
    });
    // The submission's session waits on the campaign's advisory lock: seen, not slept for.
    wait_until(
        Duration::from_secs(10),
        "the submission waiting on the lock",
        async || {
            let waiting = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            ))
            .await
            .unwrap()
            .unwrap();
            waiting.try_get::<i64>("", "n").unwrap() == 1 && !submission.is_finished()
        },
    )
    .await;

    // The window now opens next week: at DURING, a submission is early.
    let window = Window {
        opens_at: parse_paris_local("2025-06-08T00:00").unwrap(),
        closes_at: parse_paris_local("2025-06-27T17:00").unwrap(),
    };
    let at = parse_paris_local(DURING).unwrap();
    store::move_window(&txn, row, window, at).await.unwrap();
    txn.commit().await.unwrap();

    let err = submission.await.unwrap().unwrap_err();
    assert_eq!(precondition_rule(&err).as_deref(), Some("WINDOW_NOT_OPEN"));
    assert_eq!(t.count().await, 0, "judged by the window it waited for");
}

async fn the_closing_hour_is_the_academy_s(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-20T16:59").await else {
        return;
    };
    t.submit_online(person(2)).await.unwrap();
    t.set_clock("2025-06-20T17:01");
    let late = t.submit_online(person(3)).await.unwrap();
    assert_inadmissible(&late, "20/06/2025 à 17:00");
}

/// A letter stamped on the closing day, entered later, is admissible; one stamped after is
/// recorded as inadmissible.
async fn a_letter_counts_by_its_postmark(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let c = t.enter(by_post(4, "2025-06-20")).await.unwrap();
    assert_eq!(c.channel, pb::SubmissionChannel::Post as i32);
    assert_eq!(c.postmark_date, "2025-06-20");
    let late = t.enter(by_post(5, "2025-06-21")).await.unwrap();
    assert_inadmissible(&late, "cachet de la poste");
    assert_eq!(late.postmark_date, "2025-06-21");
}

/// An e-mail received at 17:30 on the closing day is late: recorded as inadmissible.
async fn an_e_mail_counts_by_its_reception(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let mail = pb::SubmitCandidacyRequest {
        year: 2025,
        candidate: Some(person(6)),
        channel: pb::SubmissionChannel::Email as i32,
        email_received_at: Some(to_timestamp(parse_paris_local("2025-06-20T17:30").unwrap())),
        ..Default::default()
    };
    let late = t.enter(mail).await.unwrap();
    assert_inadmissible(&late, "20/06/2025 à 17:30");
}

/// A midnight closing, as another académie sets it, after the office extends the window.
async fn the_office_moves_the_window(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, "2025-06-24T11:00").await else {
        return;
    };
    let c = t
        .move_window("2025-05-26T00:00", "2025-06-25T00:00")
        .await
        .unwrap();
    assert_eq!(c.state, pb::CampaignState::Open as i32);
    t.set_clock("2025-06-24T23:59");
    t.submit_online(person(8)).await.unwrap();
}

async fn the_window_is_frozen_once_the_list_is_published(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, AFTER).await else {
        return;
    };
    t.publish().await.unwrap();
    let err = t
        .move_window("2025-05-26T00:00", "2025-06-30T00:00")
        .await
        .unwrap_err();
    assert_eq!(
        precondition_rule(&err).as_deref(),
        Some("ADMITTED_LIST_PUBLISHED")
    );
    assert_eq!(t.get_campaign(2025).await.closes_at_local, CLOSES);
}

async fn campaign_fields_are_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn_at(backend, DURING).await else {
        return;
    };
    let err = t
        .client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year: 2030,
                opens_at_local: "2025-03-30T02:30".into(),
                closes_at_local: "later".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["year", "opens_at_local", "closes_at_local"]
    );
    let err = t.move_window(CLOSES, OPENS).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["closes_at_local"]);
}

async fn a_year_has_one_campaign(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let err = t
        .client
        .create_campaign(authed(
            pb::CreateCampaignRequest {
                year: 2025,
                opens_at_local: OPENS.into(),
                closes_at_local: CLOSES.into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
}

async fn campaigns_are_listed_most_recent_first(backend: Backend) {
    let Some(mut t) = spawn_at(backend, DURING).await else {
        return;
    };
    for year in [2023, 2025, 2024] {
        t.campaign(
            year,
            &format!("{year}-05-26T00:00"),
            &format!("{year}-06-20T17:00"),
        )
        .await;
    }
    let candidate = t.candidate_token(1);
    let mut years = Vec::new();
    let mut page_token = String::new();
    loop {
        let req = pb::ListCampaignsRequest {
            page_size: 2,
            page_token: page_token.clone(),
        };
        let page = t
            .client
            .list_campaigns(authed(req, &candidate))
            .await
            .unwrap()
            .into_inner();
        years.push(page.campaigns.iter().map(|c| c.year).collect::<Vec<_>>());
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(years, [vec![2025, 2024], vec![2023]]);
    let err = t
        .client
        .list_campaigns(authed(
            pb::ListCampaignsRequest {
                page_size: -1,
                page_token: "garbage".into(),
            },
            &candidate,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size", "page_token"]);
}

/// A candidacy received after the window is recorded, inadmissible (irrecevable), with why.
fn assert_inadmissible(c: &pb::Candidacy, received: &str) {
    assert_eq!(c.status, pb::CandidacyStatus::Inadmissible as i32, "{c:?}");
    let d = c.decision.as_ref().unwrap();
    assert_eq!(d.outcome, pb::CandidacyStatus::Inadmissible as i32);
    assert_eq!(d.reason, pb::RejectionReason::Inadmissible as i32);
    assert!(d.reason_text.contains("irrecevable"), "{}", d.reason_text);
    assert!(d.reason_text.contains(received), "{}", d.reason_text);
}
