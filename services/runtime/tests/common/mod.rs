//! What the runtime's integration tests share: a service database with the runtime's tables and
//! an `effects` table whose rows show each application of an event, and test payloads.
#![allow(dead_code)]

use async_trait::async_trait;
use cplds_proto::v1::{CampaignOpened, NationalCampaignOpened};
use cplds_runtime::{
    bus::{Binding, Message, QueueSpec, Stream},
    db::{self, DbTarget, stmt},
    events::{EventEnvelope, Payload},
    testing::{POSTGRES_ENV, TestPostgres, server_url},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::prelude::*;

cplds_runtime::migrator!(Migrator: Effects);

struct Effects;

impl MigrationName for Effects {
    fn name(&self) -> &str {
        "m20261101_000002_test_effects"
    }
}

#[async_trait]
impl MigrationTrait for Effects {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // No unique key on purpose: a duplicate application would show as a second row.
        m.create_table(
            Table::create()
                .table(Alias::new("effects"))
                .col(ColumnDef::new(Alias::new("event_id")).string().not_null())
                .col(
                    ColumnDef::new(Alias::new("sequence"))
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[allow(unused_imports)] // not every test binary including this module uses it
pub use cplds_runtime::testing::Recorder;

/// A queue `name` bound to the internal and national events whose key matches `pattern`.
pub fn queue_of_both_streams(name: &str, pattern: &str) -> QueueSpec {
    QueueSpec::new(
        name,
        vec![
            Binding::new(Stream::Internal, pattern),
            Binding::new(Stream::National, pattern),
        ],
    )
}

pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(stmt(db.get_database_backend(), sql, vec![]))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

/// A SQLite file in a temp dir, or a fresh PostgreSQL database.
pub async fn open_db(postgres: bool) -> Option<(DatabaseConnection, Box<dyn std::any::Any>)> {
    if postgres {
        let admin = server_url(POSTGRES_ENV, "outbox on PostgreSQL")?;
        let pg = TestPostgres::create(&admin).await.unwrap();
        let target = DbTarget::Postgres {
            url: pg.url.clone(),
            schema: "toulouse_test".into(),
        };
        let conn = db::open::<Migrator>(&target).await.unwrap();
        Some((conn, Box::new(pg)))
    } else {
        let dir = tempfile::tempdir().unwrap();
        let target = DbTarget::Sqlite {
            path: dir.path().join("test.sqlite"),
        };
        let conn = db::open::<Migrator>(&target).await.unwrap();
        Some((conn, Box::new(dir)))
    }
}

pub fn payload(n: i32) -> Payload {
    if n % 2 == 0 {
        Payload::CampaignOpened(CampaignOpened {
            year: n,
            ..Default::default()
        })
    } else {
        Payload::NationalCampaignOpened(NationalCampaignOpened { year: n })
    }
}

/// A `campaign_opened` event of Toulouse's registration, as its relay would publish it.
pub fn campaign_message(year: i32) -> Message {
    use prost::Message as _;
    let e = EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        academy: "toulouse".into(),
        source: "registration".into(),
        r#type: "campaign_opened".into(),
        stream: Stream::Internal as i32,
        payload: Some(Payload::CampaignOpened(CampaignOpened {
            year,
            ..Default::default()
        })),
        ..Default::default()
    };
    // Signed as Toulouse's registration would: test nodes refuse anything else.
    cplds_runtime::testing::signed(vec![Message {
        stream: Stream::Internal,
        routing_key: "toulouse.registration.campaign_opened".into(),
        message_id: e.event_id.clone(),
        event_type: e.r#type.clone(),
        body: e.encode_to_vec(),
        headers: Default::default(),
    }])
    .remove(0)
}
