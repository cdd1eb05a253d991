//! The session's jury president — appointed by the exam office among the boards' members, the
//! one who closes the deliberation — and the jury's remarks of the session report, which they
//! draft and publish section by section.

use cplds_proto::v1::{self as pb, event_envelope::Payload};
use tonic::{Code, Status};

use crate::helpers::*;

on_both!(
    the_exam_office_appoints_the_jury_president,
    a_jury_president_replaced_on_their_board_is_appointed_again,
    the_jury_president_drafts_the_remarks,
    remarks_name_every_section_too_long,
    remarks_are_published_after_the_deliberation,
    published_remarks_reach_the_report_by_event,
);

fn sections(general: &str) -> pb::JuryRemarkSections {
    pb::JuryRemarkSections {
        general_remarks: general.into(),
        part_1_remarks: "Des séances bien construites.".into(),
        part_2_remarks: "Des diagnostics à étayer.".into(),
        advice: "S'entraîner à l'entretien.".into(),
        positive_points: "La connaissance des partenaires.".into(),
        points_to_improve: "Le retour réflexif.".into(),
        points_to_avoid: "Les séances individuelles.".into(),
        conditions: "Deux épreuves notées sur 20.".into(),
    }
}

impl Planned {
    async fn save_remarks(
        &mut self,
        who: &str,
        sections: pb::JuryRemarkSections,
    ) -> Result<pb::JuryRemarks, Status> {
        let token = self.t.board_member(who);
        let req = authed(
            pb::SaveJuryRemarksRequest {
                session_id: self.sid.clone(),
                sections: Some(sections),
            },
            &token,
        );
        self.t
            .exam
            .save_jury_remarks(req)
            .await
            .map(|r| r.into_inner())
    }

    async fn publish_remarks(&mut self, who: &str) -> Result<pb::JuryRemarks, Status> {
        let token = self.t.board_member(who);
        let req = authed(
            pb::PublishJuryRemarksRequest {
                session_id: self.sid.clone(),
            },
            &token,
        );
        self.t
            .exam
            .publish_jury_remarks(req)
            .await
            .map(|r| r.into_inner())
    }

    async fn read_remarks(&mut self, token: &str) -> Result<pb::JuryRemarks, Status> {
        let req = authed(
            pb::GetJuryRemarksRequest {
                session_id: self.sid.clone(),
            },
            token,
        );
        self.t
            .exam
            .get_jury_remarks(req)
            .await
            .map(|r| r.into_inner())
    }
}

async fn the_exam_office_appoints_the_jury_president(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let (sid, p1, m1) = (p.sid.clone(), seat_of(&p.board, P1), seat_of(&p.board, M1));
    let session = p.t.appoint(&sid, &p1).await.unwrap();
    assert_eq!(session.jury_president_member_id, p1);
    let req = |token: &str, member_id: &str| {
        authed(
            pb::AppointJuryPresidentRequest {
                session_id: sid.clone(),
                member_id: member_id.into(),
            },
            token,
        )
    };
    let president = p.t.board_member(P1);
    assert_eq!(
        code(p.t.exam.appoint_jury_president(req(&president, &p1)).await),
        Code::PermissionDenied
    );
    let recteur = p.t.recteur.clone();
    assert_eq!(
        fields_of(p.t.exam.appoint_jury_president(req(&recteur, "x")).await),
        ["member_id"]
    );
    assert_eq!(
        code(
            p.t.exam
                .appoint_jury_president(req(&recteur, "0190f0f0-0000-7000-8000-000000000000"))
                .await
        ),
        Code::NotFound
    );
    // Appointing another member replaces the president: P1 no longer prepares the minutes.
    p.t.exam
        .appoint_jury_president(req(&recteur, &m1))
        .await
        .unwrap();
    p.mark_all().await;
    assert_eq!(code(p.t.prepare(P1, &sid).await), Code::PermissionDenied);
    p.t.prepare(M1, &sid).await.unwrap();
    p.t.appoint(&sid, &p1).await.unwrap();
    p.register_president_key().await;
    let draft = p.t.prepare(P1, &sid).await.unwrap();
    p.t.close(P1, &sid, &draft.sha256, &president_key())
        .await
        .unwrap();
    assert_eq!(rule_of(p.t.appoint(&sid, &m1).await), "DELIBERATION_CLOSED");
}

/// Every mark in, P1, the jury president, falls ill and gives their board seat to P9: the
/// session has no jury president until the office appoints one.
async fn a_jury_president_replaced_on_their_board_is_appointed_again(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    p.mark_all().await;
    let req = pb::ReplaceBoardMemberRequest {
        board_id: p.board.id.clone(),
        member_id: seat_of(&p.board, P1),
        replacement: Some(member(
            "p9@ac-toulouse.fr",
            "Dumas",
            "",
            pb::ExamBoardRole::President,
        )),
        reason: "arrêt maladie".into(),
    };
    let board =
        p.t.exam
            .replace_board_member(authed(req, &p.t.office))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(
        rule_of(p.t.prepare("p9@ac-toulouse.fr", &p.sid).await),
        "NO_JURY_PRESIDENT"
    );
    let sid = p.sid.clone();
    p.t.appoint(&sid, &seat_of(&board, "p9@ac-toulouse.fr"))
        .await
        .unwrap();
    p.t.prepare("p9@ac-toulouse.fr", &sid).await.unwrap();
}

/// Only the jury president writes; the office, the recteur and the jury president read.
async fn the_jury_president_drafts_the_remarks(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let office = p.t.office.clone();
    assert_eq!(code(p.read_remarks(&office).await), Code::NotFound);
    assert_eq!(
        code(p.save_remarks(M1, sections("x")).await),
        Code::PermissionDenied
    );
    let draft = p
        .save_remarks(P1, sections("  Bon niveau.  "))
        .await
        .unwrap();
    let d = draft.draft.unwrap();
    assert_eq!(d.general_remarks, "Bon niveau.");
    assert_eq!(d.conditions, "Deux épreuves notées sur 20.");
    assert_eq!((draft.version, draft.unpublished_changes), (0, true));
    assert!(draft.published.is_none());
    assert_eq!(draft.draft_updated_by, P1);
    for token in [office, p.t.recteur.clone(), p.t.board_member(P1)] {
        let read = p.read_remarks(&token).await.unwrap();
        assert_eq!(read.draft.unwrap().general_remarks, "Bon niveau.");
    }
    let m1 = p.t.board_member(M1);
    assert_eq!(code(p.read_remarks(&m1).await), Code::PermissionDenied);
    let candidate = p.me(1);
    assert_eq!(
        code(p.read_remarks(&candidate).await),
        Code::PermissionDenied
    );
}

async fn remarks_name_every_section_too_long(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let mut long = sections("Bon niveau.");
    long.advice = "a".repeat(20_001);
    long.conditions = "b".repeat(20_001);
    assert_eq!(
        fields_of(p.save_remarks(P1, long).await),
        ["sections.advice", "sections.conditions"]
    );
    let token = p.t.board_member(P1);
    let r =
        p.t.exam
            .save_jury_remarks(authed(
                pb::SaveJuryRemarksRequest {
                    session_id: "x".into(),
                    sections: None,
                },
                &token,
            ))
            .await;
    assert_eq!(fields_of(r), ["session_id", "sections"]);
}

/// After the deliberation, complete, once per version.
async fn remarks_are_published_after_the_deliberation(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    assert_eq!(
        rule_of(p.publish_remarks(P1).await),
        "DELIBERATION_NOT_CLOSED"
    );
    p.deliberate().await;
    assert_eq!(rule_of(p.publish_remarks(P1).await), "REMARKS_NOT_WRITTEN");
    p.save_remarks(P1, sections(" ")).await.unwrap();
    assert_eq!(rule_of(p.publish_remarks(P1).await), "REMARKS_INCOMPLETE");
    p.save_remarks(P1, sections("Bon niveau.")).await.unwrap();
    assert_eq!(code(p.publish_remarks(M1).await), Code::PermissionDenied);
    let first = p.publish_remarks(P1).await.unwrap();
    assert_eq!((first.version, first.unpublished_changes), (1, false));
    assert_eq!(first.published.unwrap().general_remarks, "Bon niveau.");
    assert_eq!(first.published_by, P1);
    assert_eq!(p.publish_remarks(P1).await.unwrap().version, 1);
    let changed = p
        .save_remarks(P1, sections("Très bon niveau."))
        .await
        .unwrap();
    assert!(changed.unpublished_changes);
    assert_eq!(
        changed.published.unwrap().general_remarks,
        "Bon niveau.",
        "the published version stays until the next publication"
    );
    assert_eq!(p.publish_remarks(P1).await.unwrap().version, 2);
}

/// The académie's report learns the sections from one internal event per version.
async fn published_remarks_reach_the_report_by_event(backend: Backend) {
    let Some(mut p) = planned(backend, true).await else {
        return;
    };
    let mut events = p.t.listen().await;
    p.deliberate().await;
    p.save_remarks(P1, sections("Bon niveau.")).await.unwrap();
    p.publish_remarks(P1).await.unwrap();
    p.publish_remarks(P1).await.unwrap();
    p.save_remarks(P1, sections("Très bon niveau."))
        .await
        .unwrap();
    p.publish_remarks(P1).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = next_event(&mut events).await;
        let Some(Payload::JuryRemarksPublished(r)) = e.payload else {
            continue;
        };
        assert_eq!(e.stream, pb::Stream::Internal as i32);
        assert_eq!(e.r#type, "jury_remarks_published");
        assert_eq!((r.year, r.session_id.as_str()), (2025, p.sid.as_str()));
        assert_eq!(r.points_to_avoid, "Les séances individuelles.");
        assert_eq!(r.conditions, "Deux épreuves notées sur 20.");
        seen.push(r.general_remarks);
    }
    // Publishing the same text again sent nothing: the second event is the new version.
    assert_eq!(seen, ["Bon niveau.", "Très bon niveau."]);
}
