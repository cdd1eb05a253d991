//! A cohort shared by a région académique: Bordeaux runs it for Bordeaux, Limoges and Poitiers.
//! Three nodes share one in-process bus, as their brokers would be joined by the regional
//! federation. A Limoges trainee's enrolment and completion reach Limoges' node (visible
//! through its API) and Limoges, not Bordeaux, emits the national facts, under its own
//! pseudonymisation; a record is addressed to its académie only and applied there once.

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{self as pb, ExternalTrainingStatus as X, event_envelope::Payload};
use cplds_runtime::{
    auth::Role,
    bus::{Message, QueueSpec, SharedBus, Stream, Subscription, memory::InMemoryBus},
    events::stream_name,
};
use prost::Message as _;
use tonic::Code;

use crate::helpers::{
    Backend, Node, Observer, YEAR, database, external_records, person, wait_for_records,
};

on_both!(
    staff_of_another_academie_are_enrolled_by_the_organising_office,
    a_trainee_s_record_reaches_their_own_academie,
    each_academie_emits_the_national_facts_of_its_own_staff,
    a_record_is_addressed_to_its_academie_only,
    a_redelivered_record_changes_nothing,
    a_third_academie_keeps_only_its_own,
);

/// Bordeaux, Limoges and Poitiers on one bus, and Bordeaux' cohort of Nouvelle-Aquitaine.
struct Region {
    bus: SharedBus,
    observer: Observer,
    bordeaux: Node,
    limoges: Node,
    poitiers: Node,
    cohort: pb::TrainingCohort,
    sessions: Vec<pb::TrainingSession>,
}

async fn region(backend: Backend) -> Option<Region> {
    let pg = database(backend).await?;
    let bus: SharedBus = Arc::new(InMemoryBus::new());
    let observer = Observer::new(&bus, "regional").await;
    let mut bordeaux = Node::start("bordeaux", pg.clone(), Some(bus.clone())).await;
    let limoges = Node::start("limoges", pg.clone(), Some(bus.clone())).await;
    let poitiers = Node::start("poitiers", pg, Some(bus.clone())).await;
    let cohort = bordeaux
        .cohort(pb::TrainingCohortScope::AcademicRegion, 10)
        .await;
    let sessions = bordeaux.sessions(&cohort.id).await;
    Some(Region {
        bus,
        observer,
        bordeaux,
        limoges,
        poitiers,
        cohort,
        sessions,
    })
}

impl Region {
    /// What an académie's regional queue is bound to, seen from the side.
    async fn view(&self, academy: &str) -> Subscription {
        let q = cplds_training::events::regional_queue(academy);
        let view = QueueSpec::new(format!("test.view-{academy}"), q.bindings);
        self.bus.declare(&view).await.unwrap();
        self.bus.subscribe(&view).await.unwrap()
    }

    /// Léa, of Limoges, follows everything and completes.
    async fn lea_completes(&mut self) -> (pb::TrainingEnrolment, pb::TrainingAttestation) {
        let lea = self
            .bordeaux
            .enrol(&self.cohort.id, person("limoges", 2))
            .await;
        self.bordeaux.follow_all(&self.sessions, &lea.id).await;
        let attestation = self.bordeaux.issue(&lea.id).await.unwrap();
        (lea, attestation)
    }

    /// The national facts of one académie: (type, key).
    fn national(&self, academy: &str) -> Vec<(String, String)> {
        self.observer
            .seen
            .iter()
            .filter(|e| e.academy == academy && e.stream == pb::Stream::National as i32)
            .filter_map(|e| match &e.payload {
                Some(Payload::NationalTrainingEnrolled(p)) => {
                    assert!(p.shared_cohort == (academy == "limoges"));
                    Some((e.r#type.clone(), p.candidate_key.clone()))
                }
                Some(Payload::NationalTrainingCompleted(p)) => {
                    Some((e.r#type.clone(), p.candidate_key.clone()))
                }
                Some(Payload::NationalTrainingAbandoned(p)) => {
                    Some((e.r#type.clone(), p.candidate_key.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

/// Limoges staff cannot use a Limoges token on Bordeaux' node: the training office of Bordeaux
/// enters their request, with their own académie recorded.
async fn staff_of_another_academie_are_enrolled_by_the_organising_office(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    assert_eq!(
        r.cohort.participating_academies,
        ["bordeaux", "limoges", "poitiers"]
    );
    let lea = person("limoges", 2);
    let limoges_token = r.limoges.candidate(&lea.email);
    let err = r
        .bordeaux
        .request(&r.cohort.id, lea.clone(), &limoges_token)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "signed by another node's key"
    );
    let claimed = r
        .bordeaux
        .token_of("limoges", &lea.email, &[Role::Candidate]);
    let err = r
        .bordeaux
        .request(&r.cohort.id, lea.clone(), &claimed)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a token for another académie"
    );
    let camille = person("bordeaux", 0);
    let own = r.bordeaux.candidate(&camille.email);
    r.bordeaux
        .request(&r.cohort.id, camille, &own)
        .await
        .unwrap();
    let lea_e = r.bordeaux.enrol(&r.cohort.id, lea).await;
    assert_eq!(lea_e.trainee.as_ref().unwrap().home_academy, "limoges");
    assert_eq!(lea_e.status, pb::TrainingEnrolmentStatus::Accepted as i32);
}

/// Léa's enrolment, then her completion, reach Limoges, which lists them.
async fn a_trainee_s_record_reaches_their_own_academie(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    let lea_e = r.bordeaux.enrol(&r.cohort.id, person("limoges", 2)).await;
    let enrolled = wait_for_records(&mut r.limoges, X::Enrolled, 1).await;
    let record = &enrolled[0];
    assert_eq!(record.enrolment_id, lea_e.id);
    assert_eq!(record.organizing_academy, "bordeaux");
    assert_eq!(record.school_year, YEAR);
    let trainee = record.trainee.as_ref().unwrap();
    assert_eq!(
        (trainee.last_name.as_str(), trainee.home_academy.as_str()),
        ("Moreau", "limoges")
    );
    assert_eq!(trainee.sex, pb::Sex::Female as i32);

    r.bordeaux.follow_all(&r.sessions, &lea_e.id).await;
    let attestation = r.bordeaux.issue(&lea_e.id).await.unwrap();
    assert_eq!(attestation.number, "ATT-BORDEAUX-2025-0001");
    let text = cplds_runtime::pdf::extract_text(&attestation.pdf);
    assert!(text.contains("de l’académie de Limoges"), "{text}");
    let completed = wait_for_records(&mut r.limoges, X::Completed, 1).await;
    let record = &completed[0];
    assert_eq!(record.attestation_number, attestation.number);
    let hours = record.hours.unwrap();
    assert_eq!(
        hours.theory_minutes + hours.deepening_minutes + hours.practical_minutes,
        190 * 60
    );
    assert_eq!(hours, attestation.hours.unwrap());
    assert!(
        external_records(&mut r.limoges, X::Enrolled)
            .await
            .is_empty()
    );
    // Bordeaux ignored the records (not its staff).
    assert!(
        external_records(&mut r.bordeaux, X::Unspecified)
            .await
            .is_empty()
    );
}

/// Limoges emits the national facts of its staff with its own key; Bordeaux only for its own
/// trainee; Limoges' own services learn it too.
async fn each_academie_emits_the_national_facts_of_its_own_staff(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    let (lea, camille) = (person("limoges", 2), person("bordeaux", 0));
    let (_, attestation) = r.lea_completes().await;
    let camille_e = r.bordeaux.enrol(&r.cohort.id, camille.clone()).await;
    r.bordeaux.follow_all(&r.sessions, &camille_e.id).await;
    r.bordeaux.issue(&camille_e.id).await.unwrap();

    let lea_key = r.limoges.key(&lea.staff_number);
    let camille_key = r.bordeaux.key(&camille.staff_number);
    assert_ne!(
        lea_key,
        r.bordeaux.key(&lea.staff_number),
        "keys are per académie"
    );
    let done = r
        .observer
        .until("Limoges' national completion", |e| {
            e.academy == "limoges"
                && matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == lea_key)
        })
        .await;
    assert_eq!(done.source, "training");
    let Some(Payload::NationalTrainingCompleted(c)) = &done.payload else {
        unreachable!()
    };
    assert_eq!(c.hours, attestation.hours);
    r.observer
        .until("Bordeaux' national completion", |e| {
            matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == camille_key)
        })
        .await;
    let pair = |t: &str, k: &String| (t.to_owned(), k.clone());
    assert_eq!(
        r.national("limoges"),
        [
            pair("training_enrolled", &lea_key),
            pair("training_completed", &lea_key)
        ]
    );
    assert_eq!(
        r.national("bordeaux"),
        [
            pair("training_enrolled", &camille_key),
            pair("training_completed", &camille_key)
        ]
    );
    assert!(r.observer.seen.iter().any(|e| e.academy == "limoges"
        && matches!(&e.payload, Some(Payload::TrainingCompleted(c)) if c.candidate_key == lea_key && c.home_academy == "limoges")));
}

/// Records travel on the regional stream addressed to the trainee's académie: Poitiers, in the
/// same région, never receives Léa's.
async fn a_record_is_addressed_to_its_academie_only(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    let (mut to_limoges, mut to_poitiers) = (r.view("limoges").await, r.view("poitiers").await);
    r.lea_completes().await;
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(5), to_limoges.next())
            .await
            .expect("a record for Limoges")
            .unwrap();
        assert_eq!(
            d.routing_key,
            "bordeaux.training.training_record_forwarded.limoges"
        );
        d.ack().await.unwrap();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), to_poitiers.next())
            .await
            .is_err(),
        "a record about Limoges staff reached Poitiers"
    );
    r.observer
        .until("the forwarded completion", |e| {
            matches!(&e.payload, Some(Payload::TrainingRecordForwarded(f)) if f.outcome == "COMPLETED")
        })
        .await;
    let forwarded: Vec<&pb::TrainingRecordForwarded> = r
        .observer
        .seen
        .iter()
        .filter_map(|e| match &e.payload {
            Some(Payload::TrainingRecordForwarded(f)) => {
                assert_eq!(e.stream, pb::Stream::Regional as i32);
                Some(f)
            }
            _ => None,
        })
        .collect();
    assert_eq!(forwarded.len(), 2);
    assert!(forwarded.iter().all(|f| f.home_academy == "limoges"));
}

/// A redelivered record changes nothing (inbox): republish the completion, then an abandonment
/// of another Limoges trainee; once that one is applied, the duplicate was too.
async fn a_redelivered_record_changes_nothing(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    let lea = person("limoges", 2);
    r.lea_completes().await;
    wait_for_records(&mut r.limoges, X::Completed, 1).await;
    let lea_key = r.limoges.key(&lea.staff_number);
    let completion = r
        .observer
        .until("the forwarded completion", |e| {
            matches!(&e.payload, Some(Payload::TrainingRecordForwarded(f)) if f.outcome == "COMPLETED")
        })
        .await;
    // Sent as before records were addressed (no last word): still applied once, by Limoges only.
    r.bus
        .publish(&cplds_runtime::testing::signed(vec![Message {
            stream: Stream::Regional,
            routing_key: format!("bordeaux.training.{}", completion.r#type),
            message_id: completion.event_id.clone(),
            event_type: completion.r#type.clone(),
            body: completion.encode_to_vec(),
            headers: Default::default(),
        }]))
        .await
        .unwrap();
    let hugo = person("limoges", 3);
    let hugo_e = r.bordeaux.enrol(&r.cohort.id, hugo.clone()).await;
    r.bordeaux.attend_all(&r.sessions[0], &hugo_e.id).await;
    r.bordeaux
        .abandon(&hugo_e.id, "mutation hors académie")
        .await
        .unwrap();
    let abandoned = wait_for_records(&mut r.limoges, X::Abandoned, 1).await;
    assert_eq!(abandoned[0].reason, "mutation hors académie");
    assert_eq!(abandoned[0].hours.unwrap().theory_minutes, 12 * 60);
    let hugo_key = r.limoges.key(&hugo.staff_number);
    r.observer
        .until("Limoges' national abandonment", |e| {
            matches!(&e.payload, Some(Payload::NationalTrainingAbandoned(a)) if a.candidate_key == hugo_key)
        })
        .await;
    let lea_completions = r
        .observer
        .seen
        .iter()
        .filter(|e| {
            matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == lea_key)
        })
        .count();
    assert_eq!(lea_completions, 1, "the duplicate was not applied twice");
    assert_eq!(
        external_records(&mut r.limoges, X::Completed).await.len(),
        1
    );
    assert_eq!(stream_name(Stream::Regional), "regional");
}

/// Poitiers, a third académie of the région, sees every unaddressed record and keeps only its
/// own: once its trainee's enrolment is there, every earlier record went through its queue.
async fn a_third_academie_keeps_only_its_own(backend: Backend) {
    let Some(mut r) = region(backend).await else {
        return;
    };
    r.lea_completes().await;
    wait_for_records(&mut r.limoges, X::Completed, 1).await;
    let ines = person("poitiers", 4);
    let ines_e = r.bordeaux.enrol(&r.cohort.id, ines.clone()).await;
    let theirs = wait_for_records(&mut r.poitiers, X::Unspecified, 1).await;
    assert_eq!(theirs[0].enrolment_id, ines_e.id);
    // Poitiers publishes in order: whatever it emitted before Inès' enrolment is seen by then.
    let ines_key = r.poitiers.key(&ines.staff_number);
    r.observer
        .until("Poitiers' national enrolment", |e| {
            e.academy == "poitiers"
                && matches!(&e.payload, Some(Payload::NationalTrainingEnrolled(p)) if p.candidate_key == ines_key)
        })
        .await;
    assert!(
        !r.observer.seen.iter().any(|e| e.academy == "poitiers"
            && matches!(e.payload, Some(Payload::NationalTrainingCompleted(_)))),
        "Poitiers emitted nothing about Limoges' staff"
    );
}
