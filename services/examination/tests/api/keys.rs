//! Board members' signing keys: a token alone never sets one. The exam office registers a
//! member's key; a member replaces their own only with the old key's signature of the new one.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signer, SigningKey};
use tonic::Code;

use crate::helpers::*;

on_both!(
    a_key_registration_names_its_bad_fields,
    a_token_alone_sets_no_first_key,
    the_exam_office_registers_a_members_key,
    a_member_replaces_their_key_with_the_old_one,
);

/// The old key's signature of the new key's 32 bytes, in base64.
fn signed_by(old: &SigningKey, new: &SigningKey) -> String {
    STANDARD.encode(old.sign(new.verifying_key().as_bytes()).to_bytes())
}

async fn a_key_registration_names_its_bad_fields(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let board = p.board.id.clone();
    assert_eq!(
        fields_of(
            p.t.register_key(P1, &board, "AAAA".into(), "%%".into())
                .await
        ),
        ["public_key", "old_key_signature"]
    );
    // The office names the seat.
    assert_eq!(
        fields_of(
            p.t.office_registers_key(&board, "", pem(&president_key()))
                .await
        ),
        ["member_id"]
    );
    assert_eq!(
        code(
            p.t.office_registers_key(
                &board,
                "0190f0f0-0000-7000-8000-000000000000",
                pem(&president_key())
            )
            .await
        ),
        Code::NotFound
    );
}

/// A member with a token and no key registered gets none by asking.
async fn a_token_alone_sets_no_first_key(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let board = p.board.id.clone();
    assert_eq!(
        rule_of(
            p.t.register_key(P1, &board, pem(&president_key()), String::new())
                .await
        ),
        "FIRST_KEY_BY_EXAM_OFFICE"
    );
    assert_eq!(
        code(
            p.t.register_key(
                "outsider@ac-toulouse.fr",
                &board,
                pem(&president_key()),
                String::new()
            )
            .await
        ),
        Code::PermissionDenied
    );
    // Nor for another member's seat.
    let m1 = seat_of(&p.board, M1);
    let token = p.t.board_member(P1);
    let r =
        p.t.exam
            .register_board_member_key(authed(
                cplds_proto::v1::RegisterBoardMemberKeyRequest {
                    board_id: board.clone(),
                    public_key: pem(&president_key()),
                    member_id: m1,
                    old_key_signature: String::new(),
                },
                &token,
            ))
            .await;
    assert_eq!(code(r), Code::PermissionDenied);
    assert!(
        p.t.get_board(&board)
            .await
            .members
            .iter()
            .all(|m| m.signing_key_id.is_empty())
    );
}

async fn the_exam_office_registers_a_members_key(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let me = p.register_president_key().await;
    assert_eq!(me.email, P1);
    assert_eq!(me.signing_key_id.len(), 16);
    // After a loss, the office registers another one.
    let board = p.board.id.clone();
    let lost = SigningKey::from_bytes(&[31; 32]);
    let again =
        p.t.office_registers_key(&board, &me.id, pem(&lost))
            .await
            .unwrap();
    assert_ne!(again.signing_key_id, me.signing_key_id);
}

async fn a_member_replaces_their_key_with_the_old_one(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let old = president_key();
    let before = p.register_president_key().await;
    let board = p.board.id.clone();
    let new = SigningKey::from_bytes(&[32; 32]);
    assert_eq!(
        fields_of(p.t.register_key(P1, &board, pem(&new), String::new()).await),
        ["old_key_signature"]
    );
    // The new key vouching for itself, or the old key signing another key, proves nothing.
    assert_eq!(
        fields_of(
            p.t.register_key(P1, &board, pem(&new), signed_by(&new, &new))
                .await
        ),
        ["old_key_signature"]
    );
    let other = SigningKey::from_bytes(&[33; 32]);
    assert_eq!(
        fields_of(
            p.t.register_key(P1, &board, pem(&new), signed_by(&old, &other))
                .await
        ),
        ["old_key_signature"]
    );
    let after =
        p.t.register_key(P1, &board, pem(&new), signed_by(&old, &new))
            .await
            .unwrap();
    assert_ne!(after.signing_key_id, before.signing_key_id);
    // The minutes are signed with the new key now.
    p.mark_all().await;
    let draft = p.t.prepare(P1, &p.sid).await.unwrap();
    assert_eq!(
        fields_of(p.t.close(P1, &p.sid, &draft.sha256, &old).await),
        ["signature"]
    );
    p.t.close(P1, &p.sid, &draft.sha256, &new).await.unwrap();
}
