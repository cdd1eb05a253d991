//! Reading candidacies: by id, in pages, filtered, counted.

use cplds_proto::v1 as pb;
use cplds_registration::domain::candidate::Uai;
use cplds_runtime::testing::bad_fields;
use tonic::Code;

use crate::helpers::*;

on_both!(
    an_identifier_is_checked_before_it_is_looked_up,
    candidacies_come_in_pages_in_submission_order,
    candidacies_are_filtered_by_department,
    candidacies_are_filtered_by_status,
    candidacies_are_counted_by_status_and_department,
    a_page_token_serves_only_its_filters,
    page_size_and_token_are_checked,
    a_list_needs_its_campaign,
);

/// Twelve candidacies, one in four in the Tarn (81), the first three validated.
async fn twelve(t: &mut TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..12 {
        let mut p = person(n);
        if n % 4 == 0 {
            p.department = "81".into();
            p.workplace_uai = format!("0810001{}", Uai::check_letter("0810001").unwrap() as char);
        }
        ids.push(t.submit_online(p).await.unwrap().id);
    }
    for id in ids.iter().take(3) {
        t.complete(id).await;
        t.validate(id).await.unwrap();
    }
    ids
}

fn all() -> pb::ListCandidaciesRequest {
    pb::ListCandidaciesRequest {
        year: 2025,
        ..Default::default()
    }
}

async fn an_identifier_is_checked_before_it_is_looked_up(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let office = t.office.clone();
    let err = t.get("42", &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["candidacy_id"]);
    let err = t.get(&unknown_id(), &office).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn candidacies_come_in_pages_in_submission_order(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let ids = twelve(&mut t).await;
    let office = t.office.clone();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let req = pb::ListCandidaciesRequest {
            page_size: 5,
            page_token: token.clone(),
            ..all()
        };
        let page = t.list(req, &office).await.unwrap();
        assert_eq!(page.total_size, 12);
        seen.extend(page.candidacies.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids);
}

async fn candidacies_are_filtered_by_department(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    twelve(&mut t).await;
    let recteur = t.recteur.clone();
    let req = pb::ListCandidaciesRequest {
        department: "81".into(),
        ..all()
    };
    let tarn = t.list(req, &recteur).await.unwrap();
    assert_eq!(tarn.total_size, 3);
}

async fn candidacies_are_filtered_by_status(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    twelve(&mut t).await;
    let office = t.office.clone();
    let req = pb::ListCandidaciesRequest {
        status: pb::CandidacyStatus::Validated as i32,
        ..all()
    };
    let validated = t.list(req, &office).await.unwrap();
    assert_eq!(validated.candidacies.len(), 3);
}

async fn candidacies_are_counted_by_status_and_department(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    twelve(&mut t).await;
    let office = t.office.clone();
    let counts = t.counts(&office).await.unwrap();
    assert_eq!(counts.total, 12);
    let of = |s: pb::CandidacyStatus| count_of(&counts, s);
    assert_eq!(
        (
            of(pb::CandidacyStatus::Submitted),
            of(pb::CandidacyStatus::Validated)
        ),
        (9, 3)
    );
    let d81: i64 = counts
        .by_department
        .iter()
        .find(|d| d.department == "81")
        .unwrap()
        .counts
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(d81, 3);
}

async fn a_page_token_serves_only_its_filters(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    twelve(&mut t).await;
    let office = t.office.clone();
    let req = pb::ListCandidaciesRequest {
        page_size: 2,
        ..all()
    };
    let first = t.list(req, &office).await.unwrap();
    let req = pb::ListCandidaciesRequest {
        department: "31".into(),
        page_token: first.next_page_token,
        ..all()
    };
    let err = t.list(req, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);
}

async fn page_size_and_token_are_checked(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let office = t.office.clone();
    let req = pb::ListCandidaciesRequest {
        page_token: "garbage".into(),
        page_size: -1,
        ..all()
    };
    let err = t.list(req, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size", "page_token"]);
    let req = pb::ListCandidaciesRequest {
        status: 42,
        department: "75".into(),
        ..all()
    };
    let err = t.list(req, &office).await.unwrap_err();
    assert_eq!(bad_fields(&err), ["status", "department"]);
}

async fn a_list_needs_its_campaign(backend: Backend) {
    let Some(mut t) = spawn_with_campaign(backend, DURING).await else {
        return;
    };
    let office = t.office.clone();
    let req = pb::ListCandidaciesRequest {
        year: 2024,
        ..Default::default()
    };
    assert_eq!(
        t.list(req, &office).await.unwrap_err().code(),
        Code::NotFound
    );
    let req = pb::CountCandidaciesRequest { year: 2024 };
    let err = t
        .client
        .count_candidacies(cplds_runtime::testing::authed(req, &office))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}
