//! A cohort shared by a région académique: Bordeaux runs it for Bordeaux, Limoges and Poitiers.
//! Three nodes (bordeaux, limoges, poitiers) share one in-process bus, as their brokers would be joined by
//! the regional federation. A Limoges trainee's enrolment and completion reach Limoges' node
//! (visible through its API) and Limoges, not Bordeaux, emits the national facts, under its
//! own pseudonymisation.

mod common;

use std::{sync::Arc, time::Duration};

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use cplds_runtime::{
    auth::Role,
    bus::{Message, QueueSpec, SharedBus, Stream, memory::InMemoryBus},
    events::stream_name,
    testing::authed,
};
use prost::Message as _;
use tonic::Code;

use common::{Backend, Node, Observer, database, person};

on_both!(a_shared_cohort_reports_to_the_trainee_s_own_academy);

async fn records(
    node: &mut Node,
    status: pb::ExternalTrainingStatus,
) -> Vec<pb::ExternalTrainingRecord> {
    node.client
        .list_external_training_records(authed(
            pb::ListExternalTrainingRecordsRequest {
                status: status as i32,
                ..Default::default()
            },
            &node.office,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

async fn a_shared_cohort_reports_to_the_trainee_s_own_academy(backend: Backend) {
    let Some(pg) = database(backend, "training across a région académique").await else {
        return;
    };
    let bus: SharedBus = Arc::new(InMemoryBus::new());
    let mut observer = Observer::new(&bus, "regional").await;
    let mut bordeaux = Node::start("bordeaux", pg.as_ref(), Some(bus.clone())).await;
    let mut limoges = Node::start("limoges", pg.as_ref(), Some(bus.clone())).await;
    let mut poitiers = Node::start("poitiers", pg.as_ref(), Some(bus.clone())).await;
    // What each académie's regional queue is bound to, seen from the side.
    let view = |academy: &str| {
        let q = cplds_training::events::regional_queue(academy);
        QueueSpec::new(format!("test.view-{academy}"), q.bindings)
    };
    let (to_limoges, to_poitiers) = (view("limoges"), view("poitiers"));
    for q in [&to_limoges, &to_poitiers] {
        bus.declare(q).await.unwrap();
    }
    let mut to_limoges = bus.subscribe(&to_limoges).await.unwrap();
    let mut to_poitiers = bus.subscribe(&to_poitiers).await.unwrap();

    // Bordeaux runs the cohort of Nouvelle-Aquitaine.
    let cohort = bordeaux
        .cohort(pb::TrainingCohortScope::AcademicRegion, 10)
        .await;
    assert_eq!(
        cohort.participating_academies,
        ["bordeaux", "limoges", "poitiers"]
    );
    let sessions = bordeaux.sessions(&cohort.id).await;
    let lea = person("limoges", 2);
    let camille = person("bordeaux", 0);

    // Limoges staff cannot use a Limoges token on Bordeaux' node: the training office of
    // Bordeaux enters their request, with their own académie recorded.
    let limoges_token = limoges.candidate(&lea.email);
    let err = bordeaux
        .request(&cohort.id, lea.clone(), &limoges_token)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "signed by another node's key"
    );
    let claimed = bordeaux
        .node
        .issuer
        .mint(&lea.email, "limoges", &[Role::Candidate])
        .unwrap();
    let err = bordeaux
        .request(&cohort.id, lea.clone(), &claimed)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a token for another académie"
    );
    let own = bordeaux.candidate(&camille.email);
    let camille_e = bordeaux
        .request(&cohort.id, camille.clone(), &own)
        .await
        .unwrap();
    let lea_e = bordeaux.enrol(&cohort.id, lea.clone()).await;
    assert_eq!(lea_e.trainee.as_ref().unwrap().home_academy, "limoges");
    assert_eq!(lea_e.status, pb::TrainingEnrolmentStatus::Accepted as i32);

    // The enrolment reaches Limoges.
    let enrolled = common::wait(&mut limoges, pb::ExternalTrainingStatus::Enrolled, 1).await;
    let record = &enrolled[0];
    assert_eq!(record.enrolment_id, lea_e.id);
    assert_eq!(record.organizing_academy, "bordeaux");
    assert_eq!(record.school_year, common::YEAR);
    let trainee = record.trainee.as_ref().unwrap();
    assert_eq!(
        (trainee.last_name.as_str(), trainee.home_academy.as_str()),
        ("Moreau", "limoges")
    );
    assert_eq!(trainee.sex, pb::Sex::Female as i32);

    // Léa follows everything and completes; Camille too.
    bordeaux.follow_all(&sessions, &lea_e.id).await;
    let attestation = bordeaux.issue(&lea_e.id).await.unwrap();
    assert_eq!(attestation.number, "ATT-BORDEAUX-2025-0001");
    let text = cplds_runtime::pdf::extract_text(&attestation.pdf);
    assert!(text.contains("de l’académie de Limoges"), "{text}");
    bordeaux.follow_all(&sessions, &camille_e.id).await;
    bordeaux.issue(&camille_e.id).await.unwrap();

    let completed = common::wait(&mut limoges, pb::ExternalTrainingStatus::Completed, 1).await;
    let record = &completed[0];
    assert_eq!(record.attestation_number, attestation.number);
    let hours = record.hours.unwrap();
    assert_eq!(
        hours.theory_minutes + hours.deepening_minutes + hours.practical_minutes,
        190 * 60
    );
    assert_eq!(hours, attestation.hours.unwrap());
    assert!(
        records(&mut limoges, pb::ExternalTrainingStatus::Enrolled)
            .await
            .is_empty()
    );

    // Limoges emits the national facts with its own key; Bordeaux only for its own trainee.
    let lea_key = limoges.key(&lea.staff_number);
    let camille_key = bordeaux.key(&camille.staff_number);
    assert_ne!(
        lea_key,
        bordeaux.key(&lea.staff_number),
        "keys are per académie"
    );
    let done = observer
        .until("Limoges' national completion", |e| {
            e.academy == "limoges"
                && matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == lea_key)
        })
        .await;
    assert_eq!(done.source, "training");
    let Some(Payload::NationalTrainingCompleted(c)) = &done.payload else {
        unreachable!()
    };
    assert_eq!(c.hours, Some(hours));
    observer
        .until("Bordeaux' national completion", |e| {
            matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == camille_key)
        })
        .await;
    let national = |academy: &str| -> Vec<(String, String)> {
        observer
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
    };
    assert_eq!(
        national("limoges"),
        [
            ("training_enrolled".to_owned(), lea_key.clone()),
            ("training_completed".to_owned(), lea_key.clone())
        ]
    );
    assert_eq!(
        national("bordeaux"),
        [
            ("training_enrolled".to_owned(), camille_key.clone()),
            ("training_completed".to_owned(), camille_key.clone())
        ]
    );
    let forwarded: Vec<&pb::TrainingRecordForwarded> = observer
        .seen
        .iter()
        .filter_map(|e| match &e.payload {
            Some(Payload::TrainingRecordForwarded(r)) => {
                assert_eq!(e.stream, pb::Stream::Regional as i32);
                Some(r)
            }
            _ => None,
        })
        .collect();
    assert_eq!(forwarded.len(), 2);
    assert!(forwarded.iter().all(|r| r.home_academy == "limoges"));
    // Addressed to Limoges: Poitiers, in the same région, never receives Léa's record.
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
    // Limoges' own services learn it too, under Limoges' key.
    assert!(observer.seen.iter().any(|e| e.academy == "limoges"
        && matches!(&e.payload, Some(Payload::TrainingCompleted(c)) if c.candidate_key == lea_key && c.home_academy == "limoges")));
    // Bordeaux ignored the records (not its staff).
    assert!(
        records(&mut bordeaux, pb::ExternalTrainingStatus::Unspecified)
            .await
            .is_empty()
    );

    // A redelivered record changes nothing (inbox): republish the completion, then an
    // abandonment of another Limoges trainee; once that one is applied, the duplicate was too.
    let completion = observer
        .seen
        .iter()
        .find(|e| {
            matches!(&e.payload, Some(Payload::TrainingRecordForwarded(r)) if r.outcome == "COMPLETED")
        })
        .unwrap()
        .clone();
    // Sent as before records were addressed (no last word): still applied once, by Limoges only.
    bus.publish(&[Message {
        stream: Stream::Regional,
        routing_key: format!("bordeaux.training.{}", completion.r#type),
        message_id: completion.event_id.clone(),
        event_type: completion.r#type.clone(),
        body: completion.encode_to_vec(),
        headers: Default::default(),
    }])
    .await
    .unwrap();
    let hugo = person("limoges", 3);
    let hugo_e = bordeaux.enrol(&cohort.id, hugo.clone()).await;
    let trainer = bordeaux.trainer.clone();
    cplds_training::scenario::attend(&mut bordeaux.client, &sessions[0], &hugo_e.id, &trainer)
        .await
        .unwrap();
    bordeaux
        .client
        .record_abandonment(authed(
            pb::RecordAbandonmentRequest {
                enrolment_id: hugo_e.id.clone(),
                reason: "mutation hors académie".into(),
            },
            &bordeaux.office,
        ))
        .await
        .unwrap();
    let abandoned = common::wait(&mut limoges, pb::ExternalTrainingStatus::Abandoned, 1).await;
    assert_eq!(abandoned[0].reason, "mutation hors académie");
    assert_eq!(abandoned[0].hours.unwrap().theory_minutes, 12 * 60);
    let hugo_key = limoges.key(&hugo.staff_number);
    observer
        .until("Limoges' national abandonment", |e| {
            matches!(&e.payload, Some(Payload::NationalTrainingAbandoned(a)) if a.candidate_key == hugo_key)
        })
        .await;
    let lea_completions = observer
        .seen
        .iter()
        .filter(|e| {
            matches!(&e.payload, Some(Payload::NationalTrainingCompleted(c)) if c.candidate_key == lea_key)
        })
        .count();
    assert_eq!(lea_completions, 1, "the duplicate was not applied twice");
    assert_eq!(
        records(&mut limoges, pb::ExternalTrainingStatus::Completed)
            .await
            .len(),
        1
    );
    assert_eq!(stream_name(Stream::Regional), "regional");

    // Poitiers, a third académie of the région, sees every record and keeps only its own: once
    // its trainee's enrolment is there, every earlier record went through its queue.
    let ines = bordeaux.enrol(&cohort.id, person("poitiers", 4)).await;
    let theirs = common::wait(&mut poitiers, pb::ExternalTrainingStatus::Unspecified, 1).await;
    assert_eq!(theirs[0].enrolment_id, ines.id);
    assert!(
        !observer.seen.iter().any(|e| e.academy == "poitiers"
            && matches!(e.payload, Some(Payload::NationalTrainingCompleted(_)))),
        "Poitiers emitted nothing about Limoges' staff"
    );
}
