//! Tables of the certification database. Enums are stored as their domain text (`as_str`).

pub mod certificate {
    use sea_orm::entity::prelude::*;

    /// One per candidacy admitted: prepared, then issued, maybe revoked.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certificates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub number: String,
        pub year: i32,
        pub serial: i32,
        #[sea_orm(unique)]
        pub candidacy_id: String,
        pub candidate_key: String,
        pub session_id: String,
        pub last_name: String,
        pub first_name: String,
        pub birth_date: String,
        pub email: String,
        /// As printed; fixed at issuance.
        pub holder_name: String,
        pub admitted_at: DateTimeUtc,
        pub state: String,
        #[sea_orm(unique)]
        pub status_index: i64,
        pub prepared_at: DateTimeUtc,
        pub issued_at: Option<DateTimeUtc>,
        pub issued_by: Option<String>,
        pub signatory: Option<String>,
        /// Key of the current credential.
        pub key_id: Option<String>,
        /// The signed credential (JSON) as delivered.
        pub credential: Option<String>,
        pub duplicate_count: i32,
        pub last_duplicate_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
        pub revoked_by: Option<String>,
        pub revocation_reason: Option<String>,
        pub revocation_text: Option<String>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    /// Every document key the académie has used or announced: its public history, and what
    /// still verifies old certificates if a retired key leaves the configuration.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        /// Raw 32-byte Ed25519 public key, hex.
        pub public_key: String,
        pub first_seen_at: DateTimeUtc,
        pub retired_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod history {
    use sea_orm::entity::prelude::*;

    /// Every act on a certificate, who and when.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "certificate_history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub number: String,
        pub at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub detail: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
