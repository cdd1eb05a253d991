//! Places and the waiting list, departures and promotions, who may ask for and act on an
//! enrolment, every field of a request, the lists and a cohort's progress, and concurrent
//! requests.

use cplds_proto::v1::{self as pb, TrainingEnrolmentStatus as S};
use cplds_runtime::{auth::Role, testing::authed};
use cplds_training::scenario;
use tonic::Code;

use crate::helpers::{
    Backend, Node, denied, fields_of, in_training, person, rule_of, sorted, spawn,
};

on_both!(
    places_then_the_waiting_list_in_order_of_request,
    one_live_request_per_person_and_cohort,
    a_cohort_takes_staff_of_its_academies_only,
    a_withdrawal_gives_the_place_to_the_first_waiting,
    an_enrolment_leaves_once,
    abandonment_is_for_trainees_holding_a_place,
    leaving_the_waiting_list_frees_no_place,
    once_training_started_it_is_abandoned_not_withdrawn,
    one_who_left_may_ask_again_at_the_end_of_the_list,
    lists_and_progress_follow_the_order_of_request,
    a_member_of_staff_asks_for_themselves_only,
    tokens_are_per_academie,
    a_candidate_acts_on_their_own_enrolment_only,
    trainee_fields_are_checked_and_named,
    list_filters_are_checked_and_named,
    tutor_and_deepening_fields_are_checked_and_change_nothing,
    an_abandonment_says_why,
    concurrent_requests_never_exceed_capacity,
);

fn status(x: &pb::TrainingEnrolment) -> (i32, u32) {
    (x.status, x.waiting_position)
}

/// Two places, five requests: A (who asked for themselves) and B hold the places; C, D and E
/// wait in that order.
struct Five {
    t: Node,
    cohort: pb::TrainingCohort,
    people: Vec<pb::TraineeDetails>,
    a_token: String,
    a: pb::TrainingEnrolment,
    b: pb::TrainingEnrolment,
    c: pb::TrainingEnrolment,
    d: pb::TrainingEnrolment,
    e: pb::TrainingEnrolment,
}

async fn five(backend: Backend) -> Option<Five> {
    let mut t = spawn(backend).await?;
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 2).await;
    let people: Vec<pb::TraineeDetails> = (0..5).map(|n| person("toulouse", n)).collect();
    let a_token = t.candidate(&people[0].email);
    let a = t
        .request(&cohort.id, people[0].clone(), &a_token)
        .await
        .unwrap();
    let b = t.enrol(&cohort.id, people[1].clone()).await;
    let c = t.enrol(&cohort.id, people[2].clone()).await;
    let d = t.enrol(&cohort.id, people[3].clone()).await;
    let e = t.enrol(&cohort.id, people[4].clone()).await;
    Some(Five {
        t,
        cohort,
        people,
        a_token,
        a,
        b,
        c,
        d,
        e,
    })
}

impl Five {
    /// A withdraws (C gets the place), E leaves the waiting list, B starts then abandons (D
    /// gets the place), and A asks again.
    async fn departures(&mut self) -> pb::TrainingEnrolment {
        let (a_token, office) = (self.a_token.clone(), self.t.office.clone());
        self.t
            .withdraw(&self.a.id, "mutation", &a_token)
            .await
            .unwrap();
        self.t.withdraw(&self.e.id, "", &office).await.unwrap();
        self.start_b().await;
        self.t
            .abandon(&self.b.id, "raisons de santé")
            .await
            .unwrap();
        self.t
            .request(&self.cohort.id, self.people[0].clone(), &a_token)
            .await
            .unwrap()
    }

    /// B attends the first seminar: hours are credited.
    async fn start_b(&mut self) {
        let sessions = self.t.sessions(&self.cohort.id).await;
        self.t.attend_all(&sessions[0], &self.b.id).await;
    }
}

async fn places_then_the_waiting_list_in_order_of_request(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    assert_eq!(status(&f.a), (S::Accepted as i32, 0));
    assert_eq!(f.a.requested_by, f.people[0].email);
    assert_eq!(status(&f.b), (S::Accepted as i32, 0));
    assert_eq!(status(&f.c), (S::Waitlisted as i32, 1));
    assert_eq!(status(&f.d), (S::Waitlisted as i32, 2));
    assert_eq!(status(&f.e), (S::Waitlisted as i32, 3));
    assert_eq!((f.a.request_number, f.e.request_number), (1, 5));
    let got = f.t.get_cohort(&f.cohort.id).await;
    assert_eq!((got.places_taken, got.waiting_count), (2, 3));
}

async fn one_live_request_per_person_and_cohort(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let office = f.t.office.clone();
    let err =
        f.t.request(&f.cohort.id, f.people[1].clone(), &office)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // One account does not take several places by giving other staff numbers, and the answer
    // names only its own request.
    let mut another_number = f.people[0].clone();
    another_number.staff_number = person("toulouse", 7).staff_number;
    let a_token = f.a_token.clone();
    let err =
        f.t.request(&f.cohort.id, another_number, &a_token)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains(&f.a.id), "{}", err.message());
    // Someone else's staff number: the answer does not say it.
    let mut someone_else = person("toulouse", 8);
    someone_else.staff_number = f.people[1].staff_number.clone();
    let theirs = f.t.candidate(&someone_else.email);
    let err =
        f.t.request(&f.cohort.id, someone_else, &theirs)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(
        !err.message().contains(&f.people[1].staff_number),
        "{}",
        err.message()
    );
    assert_eq!(f.t.get_cohort(&f.cohort.id).await.waiting_count, 3);
}

async fn a_cohort_takes_staff_of_its_academies_only(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let office = t.office.clone();
    // The cohort is the académie's own: staff of Montpellier are not taken.
    let own = t.cohort(pb::TrainingCohortScope::Academy, 5).await;
    let err = t
        .request(&own.id, person("montpellier", 1), &office)
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "ACADEMY_NOT_PARTICIPATING");
    // A cohort of the région académique takes staff of Montpellier, not of Limoges.
    let region = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    assert_eq!(region.participating_academies, ["toulouse", "montpellier"]);
    let m = t.enrol(&region.id, person("montpellier", 1)).await;
    assert_eq!(m.trainee.unwrap().home_academy, "montpellier");
    let err = t
        .request(&region.id, person("limoges", 1), &office)
        .await
        .unwrap_err();
    assert_eq!(rule_of(&err), "ACADEMY_NOT_PARTICIPATING");
}

async fn a_withdrawal_gives_the_place_to_the_first_waiting(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let a_token = f.a_token.clone();
    let w = f.t.withdraw(&f.a.id, "mutation", &a_token).await.unwrap();
    let left = w.enrolment.unwrap();
    assert_eq!(left.status, S::Withdrawn as i32);
    let departure = left.departure.unwrap();
    assert_eq!(departure.previous_status, S::Accepted as i32);
    assert_eq!(departure.reason, "mutation");
    let promoted = w.promoted.unwrap();
    assert_eq!(
        (promoted.id.as_str(), promoted.status),
        (f.c.id.as_str(), S::Accepted as i32)
    );
    assert!(promoted.accept_time.is_some());
    // The others move up.
    assert_eq!(status(&f.t.get(&f.d.id).await), (S::Waitlisted as i32, 1));
    assert_eq!(status(&f.t.get(&f.e.id).await), (S::Waitlisted as i32, 2));
}

async fn an_enrolment_leaves_once(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let a_token = f.a_token.clone();
    f.t.withdraw(&f.a.id, "mutation", &a_token).await.unwrap();
    let again = f.t.withdraw(&f.a.id, "", &a_token).await.unwrap_err();
    assert_eq!(rule_of(&again), "ALREADY_LEFT");
}

async fn abandonment_is_for_trainees_holding_a_place(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let err = f.t.abandon(&f.d.id, "santé").await.unwrap_err();
    assert_eq!(rule_of(&err), "NOT_ACCEPTED");
}

async fn leaving_the_waiting_list_frees_no_place(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let office = f.t.office.clone();
    let w = f.t.withdraw(&f.e.id, "", &office).await.unwrap();
    assert!(w.promoted.is_none());
    assert_eq!(
        w.enrolment.unwrap().departure.unwrap().previous_status,
        S::Waitlisted as i32
    );
}

/// Hours credited: withdrawal is refused, abandonment frees the place for the first waiting.
async fn once_training_started_it_is_abandoned_not_withdrawn(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    f.start_b().await;
    let office = f.t.office.clone();
    let err = f.t.withdraw(&f.b.id, "", &office).await.unwrap_err();
    assert_eq!(rule_of(&err), "TRAINING_STARTED");
    let ab = f.t.abandon(&f.b.id, "raisons de santé").await.unwrap();
    assert_eq!(ab.enrolment.unwrap().status, S::Abandoned as i32);
    assert_eq!(ab.promoted.unwrap().id, f.c.id);
}

async fn one_who_left_may_ask_again_at_the_end_of_the_list(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    let a2 = f.departures().await;
    assert_eq!(status(&a2), (S::Waitlisted as i32, 1));
    assert_eq!(a2.request_number, 6);
}

/// In order of request, filtered, paged; the progress counts every status.
async fn lists_and_progress_follow_the_order_of_request(backend: Backend) {
    let Some(mut f) = five(backend).await else {
        return;
    };
    f.departures().await;
    let list = |status: S, token: String, size: i32| pb::ListEnrolmentsRequest {
        cohort_id: f.cohort.id.clone(),
        status: status as i32,
        home_academy: String::new(),
        page_size: size,
        page_token: token,
    };
    let t = &mut f.t;
    let accepted = t
        .client
        .list_enrolments(authed(list(S::Accepted, String::new(), 0), &t.office))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = accepted.enrolments.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [f.c.id.as_str(), f.d.id.as_str()]);
    assert_eq!(accepted.total_size, 2);
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = t
            .client
            .list_enrolments(authed(list(S::Unspecified, token.clone(), 4), &t.office))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 6);
        all.extend(page.enrolments.into_iter().map(|e| e.request_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(all, [1, 2, 3, 4, 5, 6]);
    let progress = t
        .client
        .get_cohort_progress(authed(
            pb::GetCohortProgressRequest {
                cohort_id: f.cohort.id.clone(),
            },
            &t.trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            progress.in_training,
            progress.abandoned,
            progress.withdrawn,
            progress.waiting,
            progress.completed
        ),
        (2, 1, 2, 1, 0)
    );
    assert_eq!(
        progress.trainees.len(),
        3,
        "accepted and abandoned trainees are followed"
    );
    assert_eq!(progress.total_credited_minutes, 12 * 60);
    assert_eq!(progress.cohort.unwrap().places_taken, 2);
}

/// A member of staff asks for themselves only, as staff of this académie.
async fn a_member_of_staff_asks_for_themselves_only(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    let (me, other) = (person("toulouse", 0), person("toulouse", 1));
    let mine = t.candidate(&me.email);
    let err = t
        .request(&cohort.id, other.clone(), &mine)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut from_montpellier = person("montpellier", 2);
    from_montpellier.email = me.email.clone();
    let err = t
        .request(&cohort.id, from_montpellier, &mine)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut defaulted = me.clone();
    defaulted.home_academy = String::new();
    let a = t.request(&cohort.id, defaulted, &mine).await.unwrap();
    assert_eq!(a.trainee.as_ref().unwrap().home_academy, "toulouse");
    let theirs = t.candidate(&other.email);
    t.request(&cohort.id, other, &theirs).await.unwrap();
}

/// A token for Montpellier is refused here, whatever its roles.
async fn tokens_are_per_academie(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    let montpellier_office = t.token_of(
        "montpellier",
        "eafc@ac-montpellier.fr",
        &[Role::TrainingOffice],
    );
    denied(
        t.request(&cohort.id, person("montpellier", 2), &montpellier_office)
            .await,
    );
}

async fn a_candidate_acts_on_their_own_enrolment_only(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::AcademicRegion, 5).await;
    let (me, other) = (person("toulouse", 0), person("toulouse", 1));
    let (mine, theirs) = (t.candidate(&me.email), t.candidate(&other.email));
    let a = t.request(&cohort.id, me, &mine).await.unwrap();
    let b = t.request(&cohort.id, other, &theirs).await.unwrap();
    let get = |id: &str| pb::GetEnrolmentRequest {
        enrolment_id: id.into(),
    };
    t.client
        .get_enrolment(authed(get(&a.id), &mine))
        .await
        .unwrap();
    denied(t.client.get_enrolment(authed(get(&b.id), &mine)).await);
    denied(t.withdraw(&b.id, "", &mine).await);
    denied(t.choose(&b.id, &["A2", "A3", "A5"], &mine).await);
    t.choose(&a.id, &["A2", "A3", "A5"], &mine).await.unwrap();
    denied(
        t.client
            .record_abandonment(authed(
                pb::RecordAbandonmentRequest {
                    enrolment_id: a.id.clone(),
                    reason: "x".into(),
                },
                &mine,
            ))
            .await,
    );
    // Lists and progress are the staff's.
    denied(
        t.client
            .list_enrolments(authed(
                pb::ListEnrolmentsRequest {
                    cohort_id: cohort.id.clone(),
                    ..Default::default()
                },
                &mine,
            ))
            .await,
    );
    denied(
        t.client
            .get_cohort_progress(authed(
                pb::GetCohortProgressRequest {
                    cohort_id: cohort.id.clone(),
                },
                &mine,
            ))
            .await,
    );
}

async fn trainee_fields_are_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 10).await;
    let office = t.office.clone();
    let err = t
        .client
        .request_enrolment(authed(
            pb::RequestEnrolmentRequest {
                cohort_id: cohort.id.clone(),
                trainee: None,
            },
            &office,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["trainee"]);
    let bad = pb::TraineeDetails {
        last_name: "R2D2".into(),
        first_name: String::new(),
        birth_date: "2015-01-01".into(),
        email: "camille@".into(),
        staff_number: "12E01".into(),
        sex: 0,
        workplace_uai: "0310036X".into(),
        home_academy: "atlantis".into(),
    };
    let err = t.request("nope", bad, &office).await.unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "cohort_id",
            "trainee.last_name",
            "trainee.first_name",
            "trainee.birth_date",
            "trainee.email",
            "trainee.staff_number",
            "trainee.sex",
            "trainee.workplace_uai",
            "trainee.home_academy"
        ])
    );
    // One works in an establishment of one's own académie.
    let mut elsewhere = person("toulouse", 1);
    elsewhere.workplace_uai = scenario::establishment(
        cplds_runtime::academy::Academy::find("bordeaux").unwrap(),
        1,
    );
    let err = t.request(&cohort.id, elsewhere, &office).await.unwrap_err();
    assert_eq!(fields_of(&err), ["trainee.workplace_uai"]);
    assert!(err.message().contains("Bordeaux"), "{}", err.message());
    assert_eq!(t.get_cohort(&cohort.id).await.places_taken, 0);
}

async fn list_filters_are_checked_and_named(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    t.enrol(&cohort.id, person("toulouse", 0)).await;
    let err = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                status: 99,
                home_academy: "atlantis".into(),
                page_size: -1,
                page_token: "%%".into(),
            },
            &t.office,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&["status", "home_academy", "page_size"])
    );
    // One page holds it all: no token for another.
    let first = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                page_size: 1,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(first.next_page_token.is_empty());
}

async fn tutor_and_deepening_fields_are_checked_and_change_nothing(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let (t, a) = (&mut f.t, &f.trainee);
    let (office, recteur) = (t.office.clone(), t.recteur.clone());
    let err = t
        .client
        .assign_tutor(authed(
            pb::AssignTutorRequest {
                enrolment_id: "z".into(),
                last_name: String::new(),
                first_name: "Paul3".into(),
                email: "paul".into(),
                qualification: 7,
            },
            &recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(&err),
        sorted(&[
            "enrolment_id",
            "last_name",
            "first_name",
            "email",
            "qualification"
        ])
    );
    // A trainee is not their own tutor.
    let err = t
        .client
        .assign_tutor(authed(
            pb::AssignTutorRequest {
                enrolment_id: a.id.clone(),
                last_name: "Durand".into(),
                first_name: "Camille".into(),
                email: a.trainee.as_ref().unwrap().email.to_uppercase(),
                qualification: pb::TrainingTutorQualification::Cplds as i32,
            },
            &recteur,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&err), ["email"]);
    for codes in [
        vec!["A1", "A2"],
        vec!["A1", "A2", "T1"],
        vec!["A1", "A1", "A2"],
    ] {
        let err = t.choose(&a.id, &codes, &office).await.unwrap_err();
        assert_eq!(fields_of(&err), ["module_codes"]);
    }
    let e = t.get(&a.id).await;
    assert!(e.deepening_module_codes.is_empty());
    assert!(e.tutor.is_none());
}

async fn an_abandonment_says_why(backend: Backend) {
    let Some(mut f) = in_training(backend).await else {
        return;
    };
    let err = f.t.abandon(&f.trainee.id, "  ").await.unwrap_err();
    assert_eq!(fields_of(&err), ["reason"]);
    let e = f.t.get(&f.trainee.id).await;
    assert_eq!(e.status, S::Accepted as i32);
}

async fn concurrent_requests_never_exceed_capacity(backend: Backend) {
    let Some(mut t) = spawn(backend).await else {
        return;
    };
    let cohort = t.cohort(pb::TrainingCohortScope::Academy, 3).await;
    // Warm the connection pool first, so the requests below really run side by side.
    let mut reads = Vec::new();
    for _ in 0..10 {
        let mut client = t.client.clone();
        let req = authed(pb::ListCohortsRequest::default(), &t.office);
        reads.push(tokio::spawn(async move {
            client.list_cohorts(req).await.map(|_| ())
        }));
    }
    for r in reads {
        r.await.unwrap().unwrap();
    }
    let mut calls = Vec::new();
    for n in 0..10 {
        let mut client = t.client.clone();
        let office = t.office.clone();
        let cohort_id = cohort.id.clone();
        let mut trainee = person("toulouse", n % 5);
        trainee.staff_number = format!("{:02}E{:07}CCR", 20 + n, n);
        trainee.email = format!("agent{n}@ac-toulouse.fr");
        calls.push(tokio::spawn(async move {
            client
                .request_enrolment(authed(
                    pb::RequestEnrolmentRequest {
                        cohort_id,
                        trainee: Some(trainee),
                    },
                    &office,
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap().unwrap());
    }
    let accepted: Vec<&pb::TrainingEnrolment> = results
        .iter()
        .filter(|e| e.status == S::Accepted as i32)
        .collect();
    assert_eq!(accepted.len(), 3);
    let mut numbers: Vec<u32> = results.iter().map(|e| e.request_number).collect();
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    // The places went to the first three requests; the others wait in order.
    assert!(accepted.iter().all(|e| e.request_number <= 3));
    let list = t
        .client
        .list_enrolments(authed(
            pb::ListEnrolmentsRequest {
                cohort_id: cohort.id.clone(),
                status: S::Waitlisted as i32,
                ..Default::default()
            },
            &t.office,
        ))
        .await
        .unwrap()
        .into_inner();
    let positions: Vec<u32> = list.enrolments.iter().map(|e| e.waiting_position).collect();
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
}
