//! Tables of the national database: the event log (facts as received, never edited), the
//! per-source progress, the records folded from the facts, approvals and surveys. What happened
//! to an approval is in the runtime's history (see [`super::APPROVAL_KIND`]).

macro_rules! table {
    ($module:ident, $table:literal, { $($(#[$meta:meta])* pub $field:ident: $ty:ty,)* }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($(#[$meta])* pub $field: $ty,)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

table!(received_event, "received_events", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    pub envelope: Vec<u8>,
    pub applied: bool,
    pub received_at: DateTimeUtc,
    /// Its payload is unknown to this build (an académie upgraded first): counted as received,
    /// folded once a replay brings it to an upgraded node.
    pub waiting_upgrade: bool,
});

table!(stream, "streams", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    pub applied_sequence: i64,
    pub highest_seen: i64,
    pub announced_sequence: i64,
    pub last_event_at: Option<DateTimeUtc>,
    pub last_heartbeat_at: Option<DateTimeUtc>,
    pub last_replay_request_at: Option<DateTimeUtc>,
    /// Bumped by the replica that sends a replay request (a conditional update): one request
    /// per round whatever the number of replicas.
    pub replay_round: i64,
    /// Replay requests sent since the applied sequence last moved.
    pub unanswered_replays: i32,
});

table!(record, "records", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub candidate_key: String,
    /// The domain record as JSON.
    pub data: String,
});

table!(training, "trainings", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub school_year: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub candidate_key: String,
    pub data: String,
});

table!(approval, "approvals", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    pub approved: bool,
    pub approved_at: Option<DateTimeUtc>,
    pub remarks: String,
});

table!(survey_row, "mlds_survey_rows", {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub academy: String,
    pub year: i32,
    pub version: i32,
    pub action_kind: String,
    pub sex: crate::domain::record::Sex,
    pub age_band: String,
    pub outcome: String,
    pub young_people: i64,
    /// `headcount`, `action`, `outcome`, or `cell` (the former format).
    pub part: String,
});

table!(sequence_conflict, "sequence_conflicts", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    /// The event that came under a sequence already holding another (or renumbered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub event_type: String,
    /// The event kept under that sequence; empty when the sequence was free but the event had
    /// come under another sequence before.
    pub kept_event_id: String,
    pub envelope: Vec<u8>,
    pub received_at: DateTimeUtc,
});

table!(jury_remarks, "jury_remarks", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub academy: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    /// The sections as the jury president published them last (JSON).
    pub sections: String,
});
