//! A member falls ill: the exam office gives the seat to someone else, with the same checks as
//! at creation; the board keeps its candidates and marks, the member who left can no longer
//! act, minutes prepared before must be prepared again, and the change is kept.

use cplds_proto::v1 as pb;
use cplds_runtime::pdf::extract_text;
use ed25519_dalek::SigningKey;
use tonic::{Code, Status};

use crate::helpers::*;

on_both!(
    only_the_exam_office_replaces_a_member,
    a_replacement_names_its_bad_fields,
    an_unknown_seat_is_not_found,
    a_sitting_member_takes_no_second_seat,
    a_replacement_keeps_clear_of_conflicts_of_interest,
    a_replacement_keeps_a_president,
    the_replacement_takes_the_seat_and_the_board_keeps_its_work,
    who_left_does_not_come_back,
    minutes_prepared_before_a_replacement_are_outdated,
    no_replacement_after_the_deliberation,
);

const M3: &str = "m3@ac-toulouse.fr";
const M4: &str = "m4@ac-toulouse.fr";

/// Two candidates before "Commission 1", both épreuves scheduled; M1 entered candidate 1's
/// épreuve 1.
struct Sitting {
    t: Ctx,
    c1: String,
    c2: String,
    sid: String,
    board: pb::ExamBoard,
}

async fn sitting(backend: Backend) -> Option<Sitting> {
    let mut t = start(backend).await?;
    let cands = t.listed(2).await;
    let (c1, c2) = (cands[0].candidacy_id.clone(), cands[1].candidacy_id.clone());
    let session = t.create_session().await;
    let board = t
        .create_board(&session, "Commission 1", commission_1())
        .await
        .unwrap();
    for c in [&c1, &c2] {
        t.assign(&board.id, c).await.unwrap();
    }
    t.schedule_both(&c1, 9).await;
    t.schedule_both(&c2, 10).await;
    t.epreuves_over();
    t.enter(M1, &c1, PART_1, "14").await.unwrap();
    Some(Sitting {
        t,
        c1,
        c2,
        sid: session.id,
        board,
    })
}

fn newcomer(email: &str, uai_n: u32, role: pb::ExamBoardRole) -> Option<pb::NewBoardMember> {
    Some(member(email, "Dumas", &uai(uai_n), role))
}

impl Sitting {
    fn request(
        &self,
        member_id: &str,
        who: Option<pb::NewBoardMember>,
        reason: &str,
    ) -> pb::ReplaceBoardMemberRequest {
        pb::ReplaceBoardMemberRequest {
            board_id: self.board.id.clone(),
            member_id: member_id.into(),
            replacement: who,
            reason: reason.into(),
        }
    }

    /// The exam office asks for the replacement.
    async fn replace(
        &mut self,
        member_id: &str,
        who: Option<pb::NewBoardMember>,
        reason: &str,
    ) -> Result<pb::ExamBoard, Status> {
        let req = authed(self.request(member_id, who, reason), &self.t.office);
        self.t
            .exam
            .replace_board_member(req)
            .await
            .map(|r| r.into_inner())
    }

    /// M1 falls ill; M3 takes the seat.
    async fn m1_replaced_by_m3(&mut self) -> pb::ExamBoard {
        let m1 = seat_of(&self.board, M1);
        self.replace(
            &m1,
            newcomer(M3, 92, pb::ExamBoardRole::Member),
            "arrêt maladie",
        )
        .await
        .unwrap()
    }

    /// The board is as it was created: no refusal changed it.
    async fn assert_unchanged(&mut self) {
        let unchanged = self.t.get_board(&self.board.id.clone()).await;
        assert_eq!(unchanged.members, self.board.members);
        assert!(unchanged.replacements.is_empty());
    }

    /// After M1's replacement, every mark settled and the president (the jury's) given a key,
    /// minutes are prepared; then M2 gives their seat to M4, the minutes are outdated, prepared
    /// again (they print the newcomer) and signed.
    async fn deliberate_after_replacement(&mut self) -> pb::ExamBoard {
        let b = self.m1_replaced_by_m3().await;
        let (c1, c2, sid) = (self.c1.clone(), self.c2.clone(), self.sid.clone());
        self.t.enter(M3, &c1, PART_1, "14").await.unwrap();
        for (c, part, mark) in [(&c1, PART_2, "12"), (&c2, PART_1, "9"), (&c2, PART_2, "11")] {
            self.t.agree([P1, M2], c, part, mark).await;
        }
        let key = SigningKey::from_bytes(&[21; 32]);
        let (board, p1) = (self.board.id.clone(), seat_of(&self.board, P1));
        self.t
            .office_registers_key(&board, &p1, pem(&key))
            .await
            .unwrap();
        self.t.appoint(&sid, &p1).await.unwrap();
        let draft = self.t.prepare(P1, &sid).await.unwrap();
        let b = self
            .replace(
                &seat_of(&b, M2),
                newcomer(M4, 93, pb::ExamBoardRole::Member),
                "mutation",
            )
            .await
            .unwrap();
        assert_eq!(b.replacements.len(), 2);
        assert_eq!(
            rule_of(self.t.close(P1, &sid, &draft.sha256, &key).await),
            "MINUTES_OUTDATED"
        );
        let draft = self.t.prepare(P1, &sid).await.unwrap();
        let text = extract_text(&draft.pdf);
        assert!(text.contains("Dumas") && !text.contains("Dubois"), "{text}");
        self.t.close(P1, &sid, &draft.sha256, &key).await.unwrap();
        b
    }
}

async fn only_the_exam_office_replaces_a_member(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let req = s.request(
        &seat_of(&s.board, M1),
        newcomer(M3, 92, pb::ExamBoardRole::Member),
        "malade",
    );
    let president = s.t.board_member(P1);
    let r = s.t.exam.replace_board_member(authed(req, &president)).await;
    assert_eq!(code(r), Code::PermissionDenied);
    s.assert_unchanged().await;
}

async fn a_replacement_names_its_bad_fields(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let m1 = seat_of(&s.board, M1);
    assert_eq!(
        fields_of(s.replace(&m1, None, " ").await),
        ["reason", "replacement"]
    );
    let mut bad = member("m3@", "", "123", pb::ExamBoardRole::Unspecified);
    bad.first_name = "Anne".into();
    assert_eq!(
        fields_of(s.replace(&m1, Some(bad), "malade").await),
        [
            "replacement.email",
            "replacement.last_name",
            "replacement.workplace_uai",
            "replacement.role"
        ]
    );
    s.assert_unchanged().await;
}

async fn an_unknown_seat_is_not_found(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let r = s
        .replace(
            "0190f0f0-0000-7000-8000-000000000000",
            newcomer(M3, 92, pb::ExamBoardRole::Member),
            "malade",
        )
        .await;
    assert_eq!(code(r), Code::NotFound);
}

async fn a_sitting_member_takes_no_second_seat(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let m1 = seat_of(&s.board, M1);
    let r = s
        .replace(&m1, newcomer(M2, 92, pb::ExamBoardRole::Member), "malade")
        .await;
    assert_eq!(rule_of(r), "ALREADY_A_MEMBER");
    s.assert_unchanged().await;
}

/// The newcomer works where candidate 1 works.
async fn a_replacement_keeps_clear_of_conflicts_of_interest(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let m1 = seat_of(&s.board, M1);
    let r = s
        .replace(&m1, newcomer(M3, 1, pb::ExamBoardRole::Member), "malade")
        .await;
    assert_eq!(rule_of(r), "CONFLICT_OF_INTEREST");
    s.assert_unchanged().await;
}

/// The president's seat given to a mere member leaves the board without president.
async fn a_replacement_keeps_a_president(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let p1 = seat_of(&s.board, P1);
    let r = s
        .replace(&p1, newcomer(M3, 92, pb::ExamBoardRole::Member), "malade")
        .await;
    assert_eq!(rule_of(r), "BOARD_COMPOSITION");
    s.assert_unchanged().await;
}

/// Candidates and the entry M1 made stay; M1 no longer marks, M3 does.
async fn the_replacement_takes_the_seat_and_the_board_keeps_its_work(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let b = s.m1_replaced_by_m3().await;
    let emails: Vec<&str> = b.members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, [P1, M2, M3]);
    assert_eq!(b.candidacy_ids.len(), 2);
    assert_eq!(b.replacements.len(), 1);
    let r = &b.replacements[0];
    assert_eq!(r.former.as_ref().unwrap().email, M1);
    assert_eq!(r.replacement_member_id, seat_of(&b, M3));
    assert_eq!(r.reason, "arrêt maladie");
    assert_eq!(r.replaced_by, "dec@ac-toulouse.fr");
    assert!(r.replace_time.is_some());
    let c1 = s.c1.clone();
    assert_eq!(
        code(s.t.enter(M1, &c1, PART_2, "12").await),
        Code::PermissionDenied
    );
    let sheet = s.t.enter(M3, &c1, PART_1, "14").await.unwrap();
    assert_eq!(sheet.agreed_mark.unwrap().mark, "14");
}

/// Who left does not come back by the same door.
async fn who_left_does_not_come_back(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let b = s.m1_replaced_by_m3().await;
    let r = s
        .replace(
            &seat_of(&b, M3),
            newcomer(M1, 90, pb::ExamBoardRole::Member),
            "retour",
        )
        .await;
    assert_eq!(rule_of(r), "ALREADY_A_MEMBER");
}

async fn minutes_prepared_before_a_replacement_are_outdated(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    s.deliberate_after_replacement().await;
}

/// Frozen with the deliberation.
async fn no_replacement_after_the_deliberation(backend: Backend) {
    let Some(mut s) = sitting(backend).await else {
        return;
    };
    let b = s.deliberate_after_replacement().await;
    let r = s
        .replace(
            &seat_of(&b, M4),
            newcomer("m5@ac-toulouse.fr", 94, pb::ExamBoardRole::Member),
            "trop tard",
        )
        .await;
    assert_eq!(rule_of(r), "DELIBERATION_CLOSED");
}
