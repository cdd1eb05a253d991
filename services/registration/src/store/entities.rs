//! Tables of the registration database. Enum columns hold the domain enums themselves (stored as
//! their text): a value this version does not know is an error where the row is read.

pub mod campaign {
    use sea_orm::entity::prelude::*;

    use crate::domain::campaign::{CampaignFacts, Window};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub academy: String,
        pub opens_at: DateTimeUtc,
        pub closes_at: DateTimeUtc,
        pub opens_at_local: String,
        pub closes_at_local: String,
        pub list_published_at: Option<DateTimeUtc>,
        pub list_published_by: Option<String>,
        pub results_published_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        pub fn window(&self) -> Window {
            Window {
                opens_at: self.opens_at,
                closes_at: self.closes_at,
            }
        }

        pub fn facts(&self) -> CampaignFacts {
            CampaignFacts {
                window: self.window(),
                list_published: self.list_published_at.is_some(),
            }
        }
    }
}

pub mod candidacy {
    use sea_orm::entity::prelude::*;

    use crate::domain::{
        campaign::ChannelKind,
        candidacy::{CandidacyStatus, RejectionReason},
        candidate::{Corps, Sector, Sex, StaffCategory, StaffFunction, StaffStatus, WorkplaceType},
    };

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "candidacies")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub year: i32,
        pub status: CandidacyStatus,
        pub last_name: String,
        pub first_name: String,
        pub birth_date: String,
        pub email: String,
        pub phone: Option<String>,
        pub staff_number: String,
        pub candidate_key: String,
        pub sex: Sex,
        pub sector: Sector,
        pub staff_status: StaffStatus,
        pub staff_function: StaffFunction,
        pub corps: Corps,
        pub staff_category: StaffCategory,
        pub workplace_uai: String,
        pub workplace_type: WorkplaceType,
        pub department: String,
        pub runs_mlds_actions: bool,
        pub is_dropout_referent: bool,
        pub eligible: bool,
        /// JSON array of sentences.
        pub eligibility_explanations: String,
        pub channel: ChannelKind,
        pub postmark_date: Option<String>,
        pub effective_submit_at: DateTimeUtc,
        pub submitted_by: String,
        pub decision_reason: Option<RejectionReason>,
        pub decision_text: Option<String>,
        pub decided_at: Option<DateTimeUtc>,
        pub decided_by: Option<String>,
        pub withdrawn_at: Option<DateTimeUtc>,
        pub withdrawn_by: Option<String>,
        pub withdrawal_reason: Option<String>,
        pub status_before_withdrawal: Option<CandidacyStatus>,
        pub on_admitted_list: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document {
    use sea_orm::entity::prelude::*;

    use crate::domain::documents::DocumentKind;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub candidacy_id: String,
        pub kind: DocumentKind,
        pub file_name: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub sha256: String,
        pub uploaded_at: DateTimeUtc,
        pub uploaded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document_content {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "document_contents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub document_id: String,
        pub content: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
