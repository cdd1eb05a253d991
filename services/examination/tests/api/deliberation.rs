//! The deliberation: it waits for the last épreuve and every mark, its minutes are prepared and
//! signed by the session's jury president with their registered key, only the latest unchanged
//! minutes close it, and it freezes the session.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::TimeDelta;
use cplds_proto::v1 as pb;
use cplds_runtime::pdf::extract_text;
use ed25519_dalek::SigningKey;
use tonic::Code;

use crate::helpers::*;

on_both!(
    results_and_statistics_wait_for_the_deliberation,
    the_deliberation_waits_for_the_last_epreuve,
    only_the_jury_president_prepares_the_minutes,
    a_mismatch_is_reconciled_before_the_deliberation,
    every_mark_is_in_before_the_deliberation,
    the_minutes_print_every_decision,
    a_key_is_registered_before_signing,
    a_signature_must_verify,
    only_the_latest_minutes_are_signed,
    minutes_are_prepared_again_after_a_change_of_marks,
    only_the_jury_president_closes_the_deliberation,
    the_signed_minutes_close_the_deliberation,
    the_deliberation_freezes_the_session,
);

async fn results_and_statistics_wait_for_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let recteur = p.t.recteur.clone();
    assert_eq!(
        rule_of(p.t.publish(&p.sid, &recteur).await),
        "DELIBERATION_NOT_CLOSED"
    );
    assert_eq!(
        rule_of(p.t.statistics(&p.sid).await),
        "DELIBERATION_NOT_CLOSED"
    );
}

/// Every mark is in at 10:30 on the 18th, when candidate 2 still sits épreuve 2 (10:00-11:30).
async fn the_deliberation_waits_for_the_last_epreuve(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.t.node.clock.set(at("2025-11-18T10:30"));
    p.mark_all().await;
    let refused = p.t.prepare(P1, &p.sid).await;
    let message = refused.as_ref().err().map(|s| s.message().to_owned());
    assert_eq!(rule_of(refused), "EPREUVES_NOT_OVER");
    assert!(message.unwrap().contains("18/11/2025 à 11:30"));
    p.t.node.clock.set(at("2025-11-18T11:30"));
    p.t.prepare(P1, &p.sid).await.unwrap();
}

/// Neither a member nor the president of another board: the jury president.
async fn only_the_jury_president_prepares_the_minutes(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.t.create_board(&p.session, "Commission 2", commission_2())
        .await
        .unwrap();
    p.mark_all().await;
    assert_eq!(code(p.t.prepare(M1, &p.sid).await), Code::PermissionDenied);
    assert_eq!(code(p.t.prepare(P2, &p.sid).await), Code::PermissionDenied);
    p.t.prepare(P1, &p.sid).await.unwrap();
}

async fn a_mismatch_is_reconciled_before_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.t.enter(P1, &p.c1, PART_1, "14").await.unwrap();
    p.t.enter(M1, &p.c1, PART_1, "14,5").await.unwrap();
    assert_eq!(
        rule_of(p.t.prepare(P1, &p.sid).await),
        "UNRECONCILED_DOUBLE_ENTRY"
    );
}

async fn every_mark_is_in_before_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let (c1, c2) = (p.c1.clone(), p.c2.clone());
    p.t.agree([P1, M1], &c1, PART_1, "14").await;
    p.t.agree([P1, M2], &c1, PART_2, "12").await;
    p.t.agree([P1, M1], &c2, PART_1, "").await;
    p.t.enter(P1, &c2, PART_2, "10").await.unwrap();
    assert_eq!(rule_of(p.t.prepare(P1, &p.sid).await), "MARKS_INCOMPLETE");
}

async fn the_minutes_print_every_decision(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    let draft = p.t.prepare(P1, &p.sid).await.unwrap();
    assert_eq!(sha256_hex(&draft.pdf), draft.sha256);
    assert_eq!(draft.decisions.len(), 3);
    let text = extract_text(&draft.pdf);
    assert!(
        text.contains("14.5")
            && text.contains("28.5")
            && text.contains("absent")
            && text.contains("démissionnaire"),
        "{text}"
    );
}

async fn a_key_is_registered_before_signing(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    let draft = p.t.prepare(P1, &p.sid).await.unwrap();
    assert_eq!(
        rule_of(p.t.close(P1, &p.sid, &draft.sha256, &president_key()).await),
        "NO_SIGNING_KEY"
    );
}

async fn a_signature_must_verify(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    p.register_president_key().await;
    let draft = p.t.prepare(P1, &p.sid).await.unwrap();
    let forger = SigningKey::from_bytes(&[12; 32]);
    assert_eq!(
        fields_of(p.t.close(P1, &p.sid, &draft.sha256, &forger).await),
        ["signature"]
    );
    let token = p.t.board_member(P1);
    let r =
        p.t.exam
            .close_deliberation(authed(
                pb::CloseDeliberationRequest {
                    session_id: p.sid.clone(),
                    minutes_sha256: "abc".into(),
                    signature: "%%".into(),
                },
                &token,
            ))
            .await;
    assert_eq!(fields_of(r), ["minutes_sha256", "signature"]);
}

/// Newer minutes replace older ones (a minute later: the same minutes would be the same
/// document, with the same digest).
async fn only_the_latest_minutes_are_signed(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    p.register_president_key().await;
    let draft = p.t.prepare(P1, &p.sid).await.unwrap();
    advance(&p.t, TimeDelta::minutes(1));
    let newer = p.t.prepare(P1, &p.sid).await.unwrap();
    assert_ne!(newer.sha256, draft.sha256);
    assert_eq!(
        rule_of(p.t.close(P1, &p.sid, &draft.sha256, &president_key()).await),
        "MINUTES_OUTDATED"
    );
}

/// Marks changed since the minutes were prepared make them stale.
async fn minutes_are_prepared_again_after_a_change_of_marks(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    p.register_president_key().await;
    let newer = p.t.prepare(P1, &p.sid).await.unwrap();
    let c1 = p.c1.clone();
    p.t.correct(M2, &c1, PART_2, "15").await.unwrap();
    p.t.correct(P1, &c1, PART_2, "15").await.unwrap();
    assert_eq!(
        rule_of(p.t.close(P1, &p.sid, &newer.sha256, &president_key()).await),
        "MINUTES_OUTDATED"
    );
}

/// The president of another board of the session, with a key of their own, does not close the
/// deliberation of the whole session: its jury president does.
async fn only_the_jury_president_closes_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let other =
        p.t.create_board(&p.session, "Commission 2", commission_2())
            .await
            .unwrap();
    let p2_key = SigningKey::from_bytes(&[22; 32]);
    p.t.office_registers_key(&other.id, &seat_of(&other, P2), pem(&p2_key))
        .await
        .unwrap();
    p.mark_all().await;
    p.register_president_key().await;
    let last = p.t.prepare(P1, &p.sid).await.unwrap();
    assert_eq!(
        code(p.t.close(M1, &p.sid, &last.sha256, &president_key()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(p.t.close(P2, &p.sid, &last.sha256, &p2_key).await),
        Code::PermissionDenied
    );
    p.t.close(P1, &p.sid, &last.sha256, &president_key())
        .await
        .unwrap();
}

async fn the_signed_minutes_close_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    let me = p.register_president_key().await;
    let key = president_key();
    let last = p.t.prepare(P1, &p.sid).await.unwrap();
    let signed = p.t.close(P1, &p.sid, &last.sha256, &key).await.unwrap();
    assert_eq!(
        (signed.signed_by.as_str(), signed.signer_key_id.as_str()),
        (P1, me.signing_key_id.as_str())
    );
    assert!(signed.close_time.is_some());
    let signature = STANDARD.decode(&signed.signature).unwrap();
    let digest = hex::decode(&signed.sha256).unwrap();
    key.verifying_key()
        .verify_strict(
            &digest,
            &ed25519_dalek::Signature::from_slice(&signature).unwrap(),
        )
        .unwrap();
    let outcome = |d: &pb::ExamDecision| (d.outcome, d.reason, d.total.clone());
    let decisions: Vec<_> = signed.decisions.iter().map(outcome).collect();
    assert!(decisions.contains(&(pb::ExamOutcome::Admitted as i32, 0, "28.5".into())));
    assert!(decisions.contains(&(
        pb::ExamOutcome::NotAdmitted as i32,
        pb::ExamDecisionReason::Absent as i32,
        String::new()
    )));
    assert!(decisions.contains(&(
        pb::ExamOutcome::NotAdmitted as i32,
        pb::ExamDecisionReason::Withdrawn as i32,
        String::new()
    )));
}

/// After deliberation, marks, boards and schedules are frozen.
async fn the_deliberation_freezes_the_session(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let signed = p.deliberate().await;
    let (c1, c2) = (p.c1.clone(), p.c2.clone());
    assert_eq!(
        rule_of(p.t.enter(M2, &c2, PART_1, "12").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(p.t.correct(P1, &c1, PART_2, "15").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(p.t.schedule(&c1, PART_1, "2025-11-19T09:00").await),
        "DELIBERATION_CLOSED"
    );
    assert_eq!(
        rule_of(
            p.t.close(P1, &p.sid, &signed.sha256, &president_key())
                .await
        ),
        "DELIBERATION_CLOSED"
    );
    let r =
        p.t.create_board(
            &p.session,
            "Commission 9",
            pair("x@ac-toulouse.fr", "y@ac-toulouse.fr"),
        )
        .await;
    assert_eq!(rule_of(r), "DELIBERATION_CLOSED");
    let got =
        p.t.exam
            .get_exam_session(authed(
                pb::GetExamSessionRequest {
                    session_id: p.sid.clone(),
                },
                &p.t.office,
            ))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(got.state, pb::ExamSessionState::Deliberated as i32);
}
