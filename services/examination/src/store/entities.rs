//! Tables of the examination database. Closed lists of the domain are stored as their text and
//! read back as the domain's enums (an unknown stored value is an error where it is read); the
//! statistical profile as the contract's enum names (`SEX_FEMALE`...), as registration sent it.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod candidate {
    use sea_orm::entity::prelude::*;

    /// This service's copy of a candidate of registration's admitted list.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "candidates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub candidacy_id: String,
        pub year: i32,
        pub candidate_key: String,
        pub last_name: String,
        pub first_name: String,
        pub birth_date: String,
        pub email: String,
        pub staff_number: String,
        pub workplace_uai: String,
        pub sex: String,
        pub department: String,
        pub staff_category: String,
        pub workplace_type: String,
        pub runs_mlds_actions: bool,
        pub is_dropout_referent: bool,
        pub listed_at: DateTimeUtc,
        pub withdrawn_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

pub mod pending_withdrawal {
    use sea_orm::entity::prelude::*;

    /// A withdrawal that arrived before the list carrying the candidate (redelivery order).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_withdrawals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub candidacy_id: String,
        pub year: i32,
        pub withdrawn_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub year: i32,
        pub starts_on: String,
        pub ends_on: String,
        pub appeal_window_days: i32,
        pub created_at: DateTimeUtc,
        pub created_by: String,
        pub deliberation_closed_at: Option<DateTimeUtc>,
        pub results_published_at: Option<DateTimeUtc>,
        pub results_published_by: Option<String>,
        pub updated_at: DateTimeUtc,
        /// The seat (board member id) of the jury president, once appointed.
        pub jury_president_member_id: Option<String>,
    }

    no_relations!();
}

pub mod board {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "boards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub name: String,
        pub created_at: DateTimeUtc,
        pub created_by: String,
    }

    no_relations!();
}

pub mod board_member {
    use sea_orm::entity::prelude::*;

    use crate::domain::board::BoardRole;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "board_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub board_id: String,
        pub session_id: String,
        /// Lowercase; the subject of the member's tokens.
        pub email: String,
        pub last_name: String,
        pub first_name: String,
        pub workplace_uai: Option<String>,
        pub role: BoardRole,
        /// Ed25519 public key, 32 bytes in base64.
        pub public_key: Option<String>,
        pub key_registered_at: Option<DateTimeUtc>,
        /// Set when the member was replaced: they no longer act for the board.
        pub left_at: Option<DateTimeUtc>,
    }

    no_relations!();
}

pub mod board_replacement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "board_replacements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub board_id: String,
        pub former_member_id: String,
        pub replacement_member_id: String,
        pub replaced_at: DateTimeUtc,
        pub replaced_by: String,
        pub reason: String,
    }

    no_relations!();
}

pub mod assignment {
    use sea_orm::entity::prelude::*;

    /// A candidate sits before one board (a candidacy belongs to one year, hence one session).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "assignments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub candidacy_id: String,
        pub session_id: String,
        pub board_id: String,
        pub assigned_at: DateTimeUtc,
        pub assigned_by: String,
    }

    no_relations!();
}

pub mod slot {
    use sea_orm::entity::prelude::*;

    use crate::domain::schedule::ExamPart;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "slots")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub board_id: String,
        pub candidacy_id: String,
        pub exam_part: ExamPart,
        pub starts_at: DateTimeUtc,
        pub ends_at: DateTimeUtc,
        pub board_starts_at: DateTimeUtc,
        pub board_ends_at: DateTimeUtc,
        pub location: String,
        pub updated_at: DateTimeUtc,
        pub updated_by: String,
    }

    no_relations!();
}

pub mod convocation {
    use sea_orm::entity::prelude::*;

    /// Every version issued, kept: the history of what the candidate was sent.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "convocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub candidacy_id: String,
        pub version: i32,
        pub issued_at: DateTimeUtc,
        pub issued_by: String,
        /// Hex SHA-256 of the schedule shown, to tell whether it changed since.
        pub schedule_fingerprint: String,
        /// The slots shown (JSON), the data behind the document.
        pub slots_json: String,
        pub document: Vec<u8>,
        pub document_sha256: String,
    }

    no_relations!();
}

pub mod mark_entry {
    use sea_orm::entity::prelude::*;

    use crate::domain::schedule::ExamPart;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mark_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub board_id: String,
        pub candidacy_id: String,
        pub exam_part: ExamPart,
        pub entrant: String,
        pub absent: bool,
        pub half_points: Option<i32>,
        pub entered_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub corrections: i32,
    }

    no_relations!();
}

pub mod reconciliation {
    use sea_orm::entity::prelude::*;

    use crate::domain::schedule::ExamPart;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reconciliations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub candidacy_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub exam_part: ExamPart,
        pub session_id: String,
        pub absent: bool,
        pub half_points: Option<i32>,
        pub reconciled_by: String,
        pub reconciled_at: DateTimeUtc,
        pub reason: String,
    }

    no_relations!();
}

pub mod mark_history {
    use sea_orm::entity::prelude::*;

    use crate::domain::schedule::ExamPart;

    /// Every act on a mark, who and when: nothing is changed without a trace.
    ///
    /// Not the runtime's shared `history`: each act here carries the mark before and after as
    /// typed columns (absence, half points), which ListMarkHistory shows and the shared history's
    /// free-text detail could only hold as text to parse again.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mark_history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub session_id: String,
        pub candidacy_id: String,
        pub exam_part: ExamPart,
        pub action: String,
        pub actor: String,
        pub at: DateTimeUtc,
        pub previous_absent: Option<bool>,
        pub previous_half_points: Option<i32>,
        pub absent: bool,
        pub half_points: Option<i32>,
        pub reason: Option<String>,
    }

    no_relations!();
}

pub mod minutes {
    use sea_orm::entity::prelude::*;

    /// Minutes prepared for a deliberation; the one it was closed with carries the signatures.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "minutes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub prepared_at: DateTimeUtc,
        pub prepared_by: String,
        pub document: Vec<u8>,
        pub sha256: String,
        /// The decisions the document shows (JSON); its hash tells whether marks changed since.
        pub decisions_json: String,
        pub decisions_fingerprint: String,
        pub closed_at: Option<DateTimeUtc>,
        pub signed_by: Option<String>,
        pub signer_key_id: Option<String>,
        pub signature: Option<String>,
        pub academy_key_id: Option<String>,
        pub academy_signature: Option<String>,
    }

    no_relations!();
}

pub mod decision {
    use sea_orm::entity::prelude::*;

    use crate::domain::decision::{Outcome, Reason};

    /// The decision of the deliberation for a candidate, as revised by appeals.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub candidacy_id: String,
        pub session_id: String,
        pub part_1_absent: bool,
        pub part_1_half_points: Option<i32>,
        pub part_2_absent: bool,
        pub part_2_half_points: Option<i32>,
        pub outcome: Outcome,
        pub reason: Option<Reason>,
        pub decided_at: DateTimeUtc,
        pub revised_at: Option<DateTimeUtc>,
        pub revised_by_appeal: Option<String>,
    }

    no_relations!();
}

pub mod appeal {
    use sea_orm::entity::prelude::*;

    use crate::domain::appeal::AppealStatus;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "appeals")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub session_id: String,
        pub candidacy_id: String,
        pub status: AppealStatus,
        pub grounds: String,
        pub filed_at: DateTimeUtc,
        pub filed_by: String,
        pub decided_at: Option<DateTimeUtc>,
        pub decided_by: Option<String>,
        pub decision_text: Option<String>,
        /// The decision when the appeal was filed and after it was decided (JSON).
        pub before_json: String,
        pub after_json: Option<String>,
    }

    no_relations!();
}

pub mod jury_remarks {
    use sea_orm::entity::prelude::*;

    /// The jury's remarks of a session: the draft being written and the latest version
    /// published (JSON of the domain's sections); every act is in the history.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "jury_remarks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        pub draft_json: String,
        pub draft_updated_at: DateTimeUtc,
        pub draft_updated_by: String,
        /// Versions published so far (0: none).
        pub version: i32,
        pub published_json: Option<String>,
        pub published_at: Option<DateTimeUtc>,
        pub published_by: Option<String>,
    }

    no_relations!();
}

pub mod past_candidate {
    use sea_orm::entity::prelude::*;

    /// A candidate of a past session as last imported: what was sent nationally, as a digest.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "past_candidates")]
    pub struct Model {
        /// `{year}/{candidate_key}`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub year: i32,
        pub candidate_key: String,
        pub digest: String,
        pub imported_at: DateTimeUtc,
    }

    no_relations!();
}
