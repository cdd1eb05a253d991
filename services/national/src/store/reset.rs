//! The operator's answer to an académie restored from a backup: forget a source's facts from a
//! sequence on and rebuild the académie's records from what is kept.

use cplds_runtime::{db::stmt, kit::UnitTxn};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::Expr};

use super::{
    approval, jury_remarks, received_event, record, sequence_conflict, stream, survey_row, training,
};

/// What [`reset_source`] dropped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    pub facts_forgotten: u64,
    pub conflicts_cleared: u64,
}

/// After `academy` restored `source`'s schema from a backup: forgets the source's facts from
/// `from` on and its conflicts, and rebuilds the académie's records from the facts kept. The
/// records fold facts of every source of the académie and a fact cannot be unfolded, so they
/// are dropped with what derives from them (trainings, survey rows, approvals) and every
/// source of the académie is applied again from its first fact, by the catch-up job, in
/// bounded transactions. What is known to exist of `source` stops before `from` until its
/// heartbeat says more; the gap then found is replayed from the académie.
pub async fn reset_source(
    txn: &UnitTxn,
    academy: &str,
    source: &str,
    from: u64,
) -> Result<Reset, DbErr> {
    let from = from.max(1) as i64;
    let forgotten = received_event::Entity::delete_many()
        .filter(received_event::Column::Academy.eq(academy))
        .filter(received_event::Column::Source.eq(source))
        .filter(received_event::Column::Sequence.gte(from))
        .exec(txn)
        .await?
        .rows_affected;
    let cleared = sequence_conflict::Entity::delete_many()
        .filter(sequence_conflict::Column::Academy.eq(academy))
        .filter(sequence_conflict::Column::Source.eq(source))
        .exec(txn)
        .await?
        .rows_affected;
    record::Entity::delete_many()
        .filter(record::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    training::Entity::delete_many()
        .filter(training::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    survey_row::Entity::delete_many()
        .filter(survey_row::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    approval::Entity::delete_many()
        .filter(approval::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    jury_remarks::Entity::delete_many()
        .filter(jury_remarks::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    received_event::Entity::update_many()
        .col_expr(received_event::Column::Applied, Expr::value(false))
        .col_expr(received_event::Column::WaitingUpgrade, Expr::value(false))
        .filter(received_event::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    stream::Entity::update_many()
        .col_expr(stream::Column::AppliedSequence, Expr::value(0i64))
        .col_expr(stream::Column::UnansweredReplays, Expr::value(0i32))
        .filter(stream::Column::Academy.eq(academy))
        .exec(txn)
        .await?;
    txn.execute_raw(stmt(
        txn.get_database_backend(),
        "UPDATE streams SET \
         highest_seen = CASE WHEN highest_seen >= ? THEN ? ELSE highest_seen END, \
         announced_sequence = CASE WHEN announced_sequence >= ? THEN ? ELSE announced_sequence END, \
         last_replay_request_at = NULL WHERE academy = ? AND source = ?",
        vec![
            from.into(),
            (from - 1).into(),
            from.into(),
            (from - 1).into(),
            academy.into(),
            source.into(),
        ],
    ))
    .await?;
    Ok(Reset {
        facts_forgotten: forgotten,
        conflicts_cleared: cleared,
    })
}
