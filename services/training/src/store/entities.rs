//! Tables of the training database. Enums, module codes and the participating académies are
//! stored as their domain text and read back as domain values (an unknown stored value is an
//! error where it is read); minutes as integers; days as `YYYY-MM-DD` text; hours as JSON.

pub mod programme {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "programmes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i32,
        pub title: String,
        pub created_at: DateTimeUtc,
        pub created_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod programme_module {
    use sea_orm::entity::prelude::*;

    use crate::domain::programme::{ModuleCode, ModuleKind, ModuleMode};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "programme_modules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub programme_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: ModuleCode,
        pub position: i32,
        pub title: String,
        pub kind: ModuleKind,
        pub mode: ModuleMode,
        pub minutes: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cohort {
    use sea_orm::entity::prelude::*;

    use crate::domain::cohort::{CohortScope, Participating};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cohorts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub school_year: i32,
        pub title: String,
        pub programme_id: String,
        pub scope: CohortScope,
        pub participating_academies: Participating,
        pub capacity: i32,
        pub created_at: DateTimeUtc,
        pub created_by: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod enrolment {
    use sea_orm::entity::prelude::*;

    use crate::domain::{
        identity::{Sex, TutorQualification},
        roster::EnrolmentStatus,
    };

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "enrolments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub cohort_id: String,
        pub request_number: i64,
        pub status: EnrolmentStatus,
        pub last_name: String,
        pub first_name: String,
        pub birth_date: Option<String>,
        pub email: String,
        pub staff_number: String,
        pub sex: Sex,
        pub workplace_uai: String,
        pub home_academy: String,
        /// This académie's pseudonymous key; none for staff of another académie (their own
        /// académie computes theirs).
        pub candidate_key: Option<String>,
        /// `A1,A3,A5` once chosen.
        pub deepening_codes: Option<String>,
        pub tutor_last_name: Option<String>,
        pub tutor_first_name: Option<String>,
        pub tutor_email: Option<String>,
        pub tutor_qualification: Option<TutorQualification>,
        pub tutor_assigned_at: Option<DateTimeUtc>,
        pub tutor_assigned_by: Option<String>,
        pub requested_at: DateTimeUtc,
        pub requested_by: String,
        pub accepted_at: Option<DateTimeUtc>,
        pub left_at: Option<DateTimeUtc>,
        pub left_by: Option<String>,
        pub leave_reason: Option<String>,
        pub status_before_leaving: Option<EnrolmentStatus>,
        pub completed_at: Option<DateTimeUtc>,
        pub attestation_number: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    use sea_orm::entity::prelude::*;

    use crate::domain::session::SessionKind;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub cohort_id: String,
        pub kind: SessionKind,
        pub title: String,
        /// Seminar: first and last day; synchronous: the day; asynchronous: opening and closing.
        pub first_day: String,
        pub last_day: String,
        pub starts_at: Option<DateTimeUtc>,
        pub starts_at_local: Option<String>,
        pub city: Option<String>,
        pub place: Option<String>,
        pub created_at: DateTimeUtc,
        pub created_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session_module {
    use sea_orm::entity::prelude::*;

    use crate::domain::programme::ModuleCode;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_modules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub module_code: ModuleCode,
        pub position: i32,
        pub minutes: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit {
    use sea_orm::entity::prelude::*;

    use crate::domain::programme::ModuleCode;

    /// The hours ledger: minutes credited to a trainee on a module, from a session attended or
    /// an internship activity.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credits")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub enrolment_id: String,
        pub module_code: ModuleCode,
        pub minutes: i32,
        pub session_id: Option<String>,
        pub activity_id: Option<String>,
        pub on_date: String,
        pub recorded_at: DateTimeUtc,
        pub recorded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod activity {
    use sea_orm::entity::prelude::*;

    use crate::domain::{internship::ActivityKind, programme::ModuleCode};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "internship_activities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub enrolment_id: String,
        pub kind: ActivityKind,
        pub module_code: ModuleCode,
        pub on_date: String,
        pub minutes: i32,
        pub establishment_uai: String,
        pub description: Option<String>,
        pub recorded_at: DateTimeUtc,
        pub recorded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attestation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attestations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub number: String,
        pub enrolment_id: String,
        pub cohort_id: String,
        pub issued_at: DateTimeUtc,
        pub issued_by: String,
        /// JSON of the domain `Hours`.
        pub hours: String,
        pub pdf: Vec<u8>,
        pub sha256: String,
        /// The académie's document key and its base64 signature of the digest.
        pub key_id: Option<String>,
        pub signature: Option<String>,
        /// Printed on the PDF (since the codes came; earlier ones got theirs unprinted).
        pub verification_code: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod external_record {
    use sea_orm::entity::prelude::*;

    use crate::domain::{identity::StatedSex, regional::ExternalStatus};

    /// A member of staff of this académie trained in a cohort of another académie of the région,
    /// as that académie reported it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "external_records")]
    pub struct Model {
        /// The organising académie's enrolment id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub enrolment_id: String,
        pub organizing_academy: String,
        pub cohort_id: String,
        pub school_year: i32,
        pub last_name: String,
        pub first_name: String,
        pub birth_date: Option<String>,
        pub email: String,
        pub staff_number: String,
        pub sex: StatedSex,
        pub workplace_uai: String,
        pub candidate_key: String,
        pub status: ExternalStatus,
        /// JSON of the domain `Hours`.
        pub hours: String,
        pub attestation_number: Option<String>,
        pub reason: Option<String>,
        pub enrolled_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session_trainer {
    use sea_orm::entity::prelude::*;

    /// A trainer who runs a session, as the training office assigned them.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_trainers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub session_id: String,
        /// Their e-mail address: the subject of their tokens.
        #[sea_orm(primary_key, auto_increment = false)]
        pub email: String,
        pub position: i32,
        pub assigned_at: DateTimeUtc,
        pub assigned_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod settings {
    use sea_orm::entity::prelude::*;

    /// The académie's settings of what the attestation requires (one row once set).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub academy: String,
        pub require_tutor: bool,
        pub require_gpds_session: bool,
        pub target_presence_percent: Option<i32>,
        pub updated_at: DateTimeUtc,
        pub updated_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
