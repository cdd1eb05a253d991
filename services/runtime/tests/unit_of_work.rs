//! The unit of work writes a change's history acts and its events in its transaction, in the
//! order they were recorded, and nothing of a unit dropped without a commit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cplds_runtime::{
    clock,
    kit::{self, ServiceCore, history},
    outbox::Outbox,
};

use sea_orm_migration::{MigrationTrait, SchemaManager};

mod common;

use common::{count, open_db, payload};

fn act<'a>(subject: &'a str, action: &'a str) -> history::Act<'a> {
    history::Act {
        kind: "candidacy",
        subject,
        actor: "dec@ac-toulouse.fr",
        action,
        detail: (action == "submitted").then(|| "channel online".to_owned()),
    }
}

async fn history_and_events_commit_together(postgres: bool) {
    let Some((conn, _guard)) = open_db(postgres).await else {
        return;
    };
    // The services' schemas have the history table; the runtime's test schema adds it here.
    kit::HistoryTable
        .up(&SchemaManager::new(&conn))
        .await
        .unwrap();
    let core = ServiceCore {
        db: conn.clone(),
        outbox: Outbox::new("toulouse", "registration", clock::system()),
        clock: clock::system(),
    };
    {
        let mut dropped = core.begin().await.unwrap();
        dropped.record(act("c-0", "submitted")).await.unwrap();
        dropped.emit([payload(1)]).await.unwrap();
    }
    // Acts before and after the events.
    let mut uow = core.begin().await.unwrap();
    uow.record(act("c-1", "submitted")).await.unwrap();
    uow.record(act("c-1", "checked")).await.unwrap();
    uow.emit([payload(1), payload(2)]).await.unwrap();
    uow.record(act("c-1", "validated")).await.unwrap();
    uow.commit().await.unwrap();
    // A unit without events.
    let uow = core.begin().await.unwrap();
    uow.record(act("c-2", "withdrawn")).await.unwrap();
    uow.commit().await.unwrap();
    // Events without acts.
    let mut uow = core.begin().await.unwrap();
    uow.emit([payload(3)]).await.unwrap();
    uow.commit().await.unwrap();

    let c1 = history::of(&conn, "candidacy", "c-1").await.unwrap();
    let actions: Vec<&str> = c1.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["submitted", "checked", "validated"]);
    assert_eq!(c1[0].detail.as_deref(), Some("channel online"));
    assert_eq!(c1[1].detail, None);
    assert_eq!(c1[0].actor, "dec@ac-toulouse.fr");
    let c2 = history::of(&conn, "candidacy", "c-2").await.unwrap();
    assert_eq!(c2.len(), 1);
    assert!(
        history::of(&conn, "candidacy", "c-0")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM outbox").await, 3);
}

#[tokio::test]
async fn history_and_events_commit_together_sqlite() {
    history_and_events_commit_together(false).await;
}

#[tokio::test]
async fn history_and_events_commit_together_postgres() {
    history_and_events_commit_together(true).await;
}
