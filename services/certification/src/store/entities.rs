//! Tables of the certification database. Enum columns hold the domain enums themselves (stored
//! as their text): an unknown stored value is an error where it is read.

pub mod certificate {
    use sea_orm::entity::prelude::*;

    use crate::domain::certificate::{CertificateState, RevocationReason};

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
        pub state: CertificateState,
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
        pub revocation_reason: Option<RevocationReason>,
        pub revocation_text: Option<String>,
        pub updated_at: DateTimeUtc,
        /// Printed on the certificate and carried by its QR code (see `domain::code`); only
        /// those prepared before codes existed may lack one until the migration gives it.
        pub verification_code: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// A certificate numbered at `at`, not signed: its candidacy and holder are the
        /// caller's to fill in.
        pub fn prepared(
            number: String,
            year: i32,
            serial: i32,
            status_index: i64,
            verification_code: String,
            at: DateTimeUtc,
        ) -> Self {
            Self {
                number,
                year,
                serial,
                candidacy_id: String::new(),
                candidate_key: String::new(),
                session_id: String::new(),
                last_name: String::new(),
                first_name: String::new(),
                birth_date: String::new(),
                email: String::new(),
                holder_name: String::new(),
                admitted_at: at,
                state: CertificateState::Prepared,
                status_index,
                prepared_at: at,
                issued_at: None,
                issued_by: None,
                signatory: None,
                key_id: None,
                credential: None,
                duplicate_count: 0,
                last_duplicate_at: None,
                revoked_at: None,
                revoked_by: None,
                revocation_reason: None,
                revocation_text: None,
                updated_at: at,
                verification_code: Some(verification_code),
            }
        }
    }
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
