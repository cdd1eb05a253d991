//! Persistence of campaigns, candidacies and documents (sea-orm). Functions take any connection,
//! so the api layer decides the transaction (a [`cplds_runtime::kit::UnitOfWork`]); no rule is
//! decided here. The audit trail of candidacies is the kit's shared history, kind [`CANDIDACY`].
//!
//! Acts that depend on an account's candidacies of a year, or on the candidacies giving one
//! staff number, first take that account's or that number's counter ([`opening`],
//! [`lock_claims`]): the counter's row stays locked until the transaction ends (PostgreSQL), so
//! such acts run one at a time and each sees what the previous one committed.

pub mod entities;
pub mod migration;

use chrono::{DateTime, Utc};
use cplds_runtime::{
    academy::Academy,
    kit::{Listing, next_counter, next_counters_then},
    time::format_paris_local,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use sha2::{Digest, Sha256};

pub use self::entities::{campaign, candidacy, document, document_content};
use crate::domain::{
    campaign::{Channel, Window},
    candidacy::{CandidacyStatus, Claims, Rejection, RejectionReason},
    candidate::{Candidate, Department},
    documents::DocumentKind,
    eligibility::Eligibility,
};

/// The kind of record candidacies are in the shared audit history.
pub const CANDIDACY: &str = "candidacy";

// ---- campaigns ---------------------------------------------------------------------------

pub async fn campaign<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Option<campaign::Model>, DbErr> {
    campaign::Entity::find_by_id(year).one(db).await
}

/// How a campaign row is locked for the rest of a transaction (PostgreSQL). Acts within the
/// campaign share it, so they run side by side; publishing the list and moving the window take
/// it alone, so no decision or submission slips in beside them.
pub use cplds_runtime::kit::Lock;

/// The campaign's named lock (see [`campaign_locked`]), until the transaction ends.
async fn hold_campaign<C: ConnectionTrait>(db: &C, year: i32, lock: Lock) -> Result<(), DbErr> {
    cplds_runtime::kit::hold(db, &campaign_lock(year), lock).await
}

fn campaign_lock(year: i32) -> String {
    format!("campaign/{year}")
}

/// The campaign row, locked until the transaction ends (SQLite serialises writers already).
/// Shared holders take the campaign's advisory lock and read the row plainly: every submission
/// of the year shares it, and a `FOR SHARE` on one row makes each of them write a new multixact
/// into it. Exclusive holders take the same lock alone, and the row `FOR UPDATE` besides.
pub async fn campaign_locked<C: ConnectionTrait>(
    db: &C,
    year: i32,
    lock: Lock,
) -> Result<Option<campaign::Model>, DbErr> {
    hold_campaign(db, year, lock).await?;
    let find = campaign::Entity::find_by_id(year);
    match lock {
        Lock::Shared => find.one(db).await,
        Lock::Exclusive => {
            cplds_runtime::kit::locked(find, db.get_database_backend(), lock)
                .one(db)
                .await
        }
    }
}

/// A new campaign of `academy` for `year`, its window kept also as the office wrote it.
pub async fn insert_campaign<C: ConnectionTrait>(
    db: &C,
    year: i32,
    academy: &Academy,
    window: Window,
    at: DateTime<Utc>,
) -> Result<campaign::Model, DbErr> {
    campaign::Model {
        year,
        academy: academy.code.to_owned(),
        opens_at: window.opens_at,
        closes_at: window.closes_at,
        opens_at_local: format_paris_local(window.opens_at),
        closes_at_local: format_paris_local(window.closes_at),
        list_published_at: None,
        list_published_by: None,
        results_published_at: None,
        created_at: at,
        updated_at: at,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
}

/// Most recent year first; `before` is the last year of the previous page.
pub async fn list_campaigns<C: ConnectionTrait>(
    db: &C,
    before: Option<i32>,
    limit: u64,
) -> Result<Vec<campaign::Model>, DbErr> {
    let mut q = campaign::Entity::find()
        .order_by_desc(campaign::Column::Year)
        .limit(limit);
    if let Some(y) = before {
        q = q.filter(campaign::Column::Year.lt(y));
    }
    q.all(db).await
}

pub async fn move_window<C: ConnectionTrait>(
    db: &C,
    row: campaign::Model,
    window: Window,
    at: DateTime<Utc>,
) -> Result<campaign::Model, DbErr> {
    let mut am = row.into_active_model();
    am.opens_at = Set(window.opens_at);
    am.closes_at = Set(window.closes_at);
    am.opens_at_local = Set(format_paris_local(window.opens_at));
    am.closes_at_local = Set(format_paris_local(window.closes_at));
    am.updated_at = Set(at);
    am.update(db).await
}

/// Marks the list published unless it already is; false when another publication came first.
pub async fn mark_list_published<C: ConnectionTrait>(
    db: &C,
    year: i32,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = campaign::Entity::update_many()
        .col_expr(campaign::Column::ListPublishedAt, Expr::value(at))
        .col_expr(campaign::Column::ListPublishedBy, Expr::value(by))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(at))
        .filter(campaign::Column::Year.eq(year))
        .filter(campaign::Column::ListPublishedAt.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Records the first publication of results for a year; later ones, and years without a
/// campaign here, change nothing.
pub async fn mark_results_published<C: ConnectionTrait>(
    db: &C,
    year: i32,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    // Decisions read the campaign under its shared lock: they wait for this change, or it for them.
    hold_campaign(db, year, Lock::Exclusive).await?;
    campaign::Entity::update_many()
        .col_expr(campaign::Column::ResultsPublishedAt, Expr::value(at))
        .filter(campaign::Column::Year.eq(year))
        .filter(campaign::Column::ResultsPublishedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

// ---- candidacies -------------------------------------------------------------------------

pub async fn candidacy<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<candidacy::Model>, DbErr> {
    candidacy::Entity::find_by_id(id.to_owned()).one(db).await
}

/// A candidacy as submitted: the declaration, its eligibility and how it came.
pub struct NewCandidacy<'a> {
    pub id: String,
    pub year: i32,
    pub candidate: &'a Candidate,
    pub candidate_key: String,
    pub eligibility: &'a Eligibility,
    pub channel: Channel,
    pub effective_at: DateTime<Utc>,
    pub submitted_by: &'a str,
    pub at: DateTime<Utc>,
    /// Received after the window closed: why it is inadmissible, and who decided (the rule).
    pub inadmissible: Option<(String, &'a str)>,
}

/// A new candidacy's row, for the unit of work to insert ([`cplds_runtime::kit::UnitOfWork::insert`]).
pub fn new_candidacy(new: NewCandidacy<'_>) -> Result<candidacy::Model, DbErr> {
    let c = new.candidate;
    let (status, decided) = match new.inadmissible {
        Some((why, by)) => (CandidacyStatus::Inadmissible, Some((why, by.to_owned()))),
        None => (CandidacyStatus::Submitted, None),
    };
    let decided_at = decided.is_some().then_some(new.at);
    let (decision_text, decided_by) = decided.unzip();
    Ok(candidacy::Model {
        id: new.id,
        year: new.year,
        status,
        last_name: c.last_name.as_str().into(),
        first_name: c.first_name.as_str().into(),
        birth_date: c.birth_date.to_iso(),
        email: c.email.as_str().into(),
        phone: c.phone.as_ref().map(|p| p.as_str().to_owned()),
        staff_number: c.staff_number.as_str().into(),
        candidate_key: new.candidate_key,
        sex: c.sex,
        sector: c.sector,
        staff_status: c.status,
        staff_function: c.function,
        corps: c.corps,
        staff_category: c.staff_category(),
        workplace_uai: c.workplace_uai.as_str().into(),
        workplace_type: c.workplace_type,
        department: c.department.as_str().into(),
        runs_mlds_actions: c.runs_mlds_actions,
        is_dropout_referent: c.is_dropout_referent,
        eligible: new.eligibility.eligible,
        eligibility_explanations: encode_explanations(&new.eligibility.explanations)?,
        channel: new.channel.kind(),
        postmark_date: new
            .channel
            .postmark()
            .map(|d| d.format("%Y-%m-%d").to_string()),
        effective_submit_at: new.effective_at,
        submitted_by: new.submitted_by.to_owned(),
        decision_reason: decided_at.map(|_| RejectionReason::Inadmissible),
        decision_text,
        decided_at,
        decided_by,
        withdrawn_at: None,
        withdrawn_by: None,
        withdrawal_reason: None,
        status_before_withdrawal: None,
        on_admitted_list: false,
        created_at: new.at,
        updated_at: new.at,
    })
}

fn encode_explanations(sentences: &[String]) -> Result<String, DbErr> {
    serde_json::to_string(sentences).map_err(|e| DbErr::Custom(format!("explanations: {e}")))
}

/// The eligibility explanations of a stored candidacy.
pub fn explanations(c: &candidacy::Model) -> Result<Vec<String>, DbErr> {
    serde_json::from_str(&c.eligibility_explanations).map_err(|e| {
        DbErr::Custom(format!(
            "stored eligibility explanations of candidacy {}: {e}",
            c.id
        ))
    })
}

/// The account a candidacy belongs to: its e-mail address, compared without case.
pub fn account_of(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// What a new candidacy meets in its year: the account's count and live candidacy, and the live
/// claims on its staff number.
#[derive(Debug)]
pub struct Opening {
    /// Candidacies the account opened in the year before this one.
    pub opened: i64,
    /// The account's live (submitted or validated) candidacy, if any.
    pub live_of_account: Option<String>,
    /// The live candidacies giving the staff number, oldest first.
    pub claims: Claims,
}

/// The counters a new candidacy takes in its year, the account's then the staff number's (the
/// order every act takes them in): each locks its acts of the year until the transaction ends,
/// and the account's counts the candidacies it opened (a refused act rolls the count back).
pub struct OpeningCounters {
    /// The account (`lower(email)`).
    account: String,
    names: [String; 2],
}

impl OpeningCounters {
    pub fn new(year: i32, email: &str, candidate_key: &str) -> Self {
        let account = account_of(email);
        let digest = hex::encode(Sha256::digest(account.as_bytes()));
        Self {
            account,
            names: [
                format!("accounts/{year}/{digest}"),
                format!("claims/{year}/{candidate_key}"),
            ],
        }
    }
}

/// The campaign of a year and the live candidacies of an account (`lower(email)`) and of a staff
/// number in it, oldest first: a row each, or one with no candidacy.
pub(crate) const OPENING: &str = "SELECT campaigns.*, o.id AS opening_id, \
     o.staff_number AS opening_staff_number, o.of_account AS opening_of_account \
     FROM campaigns LEFT JOIN ( \
     SELECT id, staff_number, 1 AS of_account, created_at FROM candidacies \
     WHERE year = ? AND lower(email) = ? AND status IN (?, ?) \
     UNION ALL \
     SELECT id, staff_number, 0 AS of_account, created_at FROM candidacies \
     WHERE year = ? AND staff_number = ? AND status IN (?, ?)) AS o ON TRUE \
     WHERE campaigns.year = ? ORDER BY o.created_at, o.id";

/// A submission's campaign and what the new candidacy meets in its year, in two statements (one
/// round trip on SQLite): the opening counters taken, after the campaign's lock shared as
/// [`campaign_locked`] takes it; then the campaign row and the live candidacies of the account and of the staff number, read
/// with both held (a statement's snapshot is taken when it starts: this one sees what the
/// holders before it committed). `None` without a campaign for `year`; the counters taken then
/// are rolled back with the refusal.
///
/// The look-up is a union of two queries each on its own index: SQLite, without statistics,
/// would answer the `OR` of the two from the (year, status) index, a scan of the year.
pub async fn opening<C: ConnectionTrait>(
    db: &C,
    year: i32,
    counters: &OpeningCounters,
    staff_number: &str,
) -> Result<Option<(campaign::Model, Opening)>, DbErr> {
    let [account_counter, claims_counter] = &counters.names;
    let [live_a, live_b] = CandidacyStatus::LIVE.map(|s| sea_orm::Value::from(s.as_str()));
    let read = cplds_runtime::db::stmt(
        db.get_database_backend(),
        OPENING,
        vec![
            year.into(),
            counters.account.clone().into(),
            live_a.clone(),
            live_b.clone(),
            year.into(),
            staff_number.into(),
            live_a,
            live_b,
            year.into(),
        ],
    );
    let (taken, rows) = next_counters_then(
        db,
        Some((&campaign_lock(year), Lock::Shared)),
        &[account_counter, claims_counter],
        read,
    )
    .await?;
    let opened = taken.first().copied().unwrap_or(1) - 1;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let campaign = campaign::Model::from_query_result(first, "")?;
    let mut live_of_account = None;
    let mut claims: Vec<String> = Vec::new();
    for r in &rows {
        let Some(id) = r.try_get::<Option<String>>("", "opening_id")? else {
            continue;
        };
        let number: String = r.try_get("", "opening_staff_number")?;
        let of_account: i32 = r.try_get("", "opening_of_account")?;
        if of_account == 1 && live_of_account.is_none() {
            live_of_account = Some(id.clone());
        }
        // A candidacy of the account giving the number comes in both halves: once here.
        if number == staff_number && !claims.contains(&id) {
            claims.push(id);
        }
    }
    Ok(Some((
        campaign,
        Opening {
            opened,
            live_of_account,
            claims: Claims::new(claims),
        },
    )))
}

/// Locks the acts on the candidacies giving one staff number in a year (named by its
/// pseudonymous key) until the transaction ends. SQLite serialises writers already: no
/// statement there (the counter's value is read by nobody).
pub async fn lock_claims<C: ConnectionTrait>(
    db: &C,
    year: i32,
    candidate_key: &str,
) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        next_counter(db, &format!("claims/{year}/{candidate_key}")).await?;
    }
    Ok(())
}

/// The live candidacies of a year giving `staff_number`, oldest first.
pub async fn live_claims<C: ConnectionTrait>(
    db: &C,
    year: i32,
    staff_number: &str,
) -> Result<Claims, DbErr> {
    let ids = candidacy::Entity::find()
        .select_only()
        .column(candidacy::Column::Id)
        .filter(candidacy::Column::Year.eq(year))
        .filter(candidacy::Column::StaffNumber.eq(staff_number))
        .filter(candidacy::Column::Status.is_in(CandidacyStatus::LIVE))
        .order_by_asc(candidacy::Column::CreatedAt)
        .order_by_asc(candidacy::Column::Id)
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(Claims::new(ids))
}

/// A decision or a withdrawal, written only if the candidacy is still as it was read.
pub enum Transition<'a> {
    Validate,
    Reject(&'a Rejection),
    Withdraw { reason: Option<String> },
}

/// Applies `t` to `c` by `by` at `at`; `None` when another call changed the status meanwhile.
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    c: candidacy::Model,
    t: Transition<'_>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Option<candidacy::Model>, DbErr> {
    let previous = c.status;
    let mut am = c.into_active_model();
    match t {
        Transition::Validate => decided(&mut am, None, by, at),
        Transition::Reject(r) => decided(&mut am, Some(r), by, at),
        Transition::Withdraw { reason } => {
            am.status = Set(CandidacyStatus::Withdrawn);
            am.status_before_withdrawal = Set(Some(previous));
            am.withdrawn_at = Set(Some(at));
            am.withdrawn_by = Set(Some(by.to_owned()));
            am.withdrawal_reason = Set(reason);
        }
    }
    am.updated_at = Set(at);
    match candidacy::Entity::update(am)
        .validate()?
        .filter(candidacy::Column::Status.eq(previous))
        .exec(db)
        .await
    {
        Ok(row) => Ok(Some(row)),
        Err(DbErr::RecordNotUpdated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The exam office's decision: validated, or rejected for a reason.
fn decided(
    am: &mut candidacy::ActiveModel,
    rejection: Option<&Rejection>,
    by: &str,
    at: DateTime<Utc>,
) {
    am.status = Set(match rejection {
        Some(_) => CandidacyStatus::Rejected,
        None => CandidacyStatus::Validated,
    });
    am.decision_reason = Set(rejection.map(|r| r.reason));
    am.decision_text = Set(rejection.and_then(|r| r.text.clone()));
    am.decided_at = Set(Some(at));
    am.decided_by = Set(Some(by.to_owned()));
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidacyFilter {
    pub year: i32,
    pub status: Option<CandidacyStatus>,
    pub department: Option<Department>,
}

impl Listing for CandidacyFilter {
    type Entity = candidacy::Entity;

    fn key() -> candidacy::Column {
        candidacy::Column::Id
    }

    fn apply<Q: QueryFilter>(&self, q: Q) -> Q {
        let mut q = q.filter(candidacy::Column::Year.eq(self.year));
        if let Some(s) = self.status {
            q = q.filter(candidacy::Column::Status.eq(s));
        }
        if let Some(d) = &self.department {
            q = q.filter(candidacy::Column::Department.eq(d.as_str()));
        }
        q
    }

    fn scope(&self) -> String {
        format!(
            "candidacies;{};{:?};{:?}",
            self.year,
            self.status.map(|s| s.as_str()),
            self.department.as_ref().map(|d| d.as_str())
        )
    }
}

/// (département, status, count) for a year, by département.
pub async fn status_counts<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<(String, CandidacyStatus, i64)>, DbErr> {
    candidacy::Entity::find()
        .select_only()
        .column(candidacy::Column::Department)
        .column(candidacy::Column::Status)
        .column_as(Expr::col(candidacy::Column::Id).count(), "n")
        .filter(candidacy::Column::Year.eq(year))
        .group_by(candidacy::Column::Department)
        .group_by(candidacy::Column::Status)
        .order_by_asc(candidacy::Column::Department)
        .into_tuple()
        .all(db)
        .await
}

/// The candidacies of a year in a status, in the order of the list (names, then id).
pub async fn candidacies_with_status<C: ConnectionTrait>(
    db: &C,
    year: i32,
    status: CandidacyStatus,
) -> Result<Vec<candidacy::Model>, DbErr> {
    by_name(
        candidacy::Entity::find()
            .filter(candidacy::Column::Year.eq(year))
            .filter(candidacy::Column::Status.eq(status)),
    )
    .all(db)
    .await
}

/// The admitted list of a year, withdrawals after its publication included.
pub async fn admitted<C: ConnectionTrait>(
    db: &C,
    year: i32,
) -> Result<Vec<candidacy::Model>, DbErr> {
    by_name(
        candidacy::Entity::find()
            .filter(candidacy::Column::Year.eq(year))
            .filter(candidacy::Column::OnAdmittedList.eq(true)),
    )
    .all(db)
    .await
}

fn by_name(q: sea_orm::Select<candidacy::Entity>) -> sea_orm::Select<candidacy::Entity> {
    q.order_by_asc(candidacy::Column::LastName)
        .order_by_asc(candidacy::Column::FirstName)
        .order_by_asc(candidacy::Column::Id)
}

pub async fn put_on_admitted_list<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    candidacy::Entity::update_many()
        .col_expr(candidacy::Column::OnAdmittedList, Expr::value(true))
        .col_expr(candidacy::Column::UpdatedAt, Expr::value(at))
        .filter(candidacy::Column::Id.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

// ---- documents ---------------------------------------------------------------------------

pub async fn documents<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<document::Model>, DbErr> {
    document::Entity::find()
        .filter(document::Column::CandidacyId.eq(candidacy_id))
        .order_by_asc(document::Column::UploadedAt)
        .order_by_asc(document::Column::Id)
        .all(db)
        .await
}

pub async fn document_kinds<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
) -> Result<Vec<DocumentKind>, DbErr> {
    Ok(documents(db, candidacy_id)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect())
}

pub async fn insert_document<C: ConnectionTrait>(
    db: &C,
    meta: document::Model,
    content: Vec<u8>,
) -> Result<document::Model, DbErr> {
    let id = meta.id.clone();
    let meta = meta.into_active_model().reset_all().insert(db).await?;
    document_content::ActiveModel {
        document_id: Set(id),
        content: Set(content),
    }
    .insert(db)
    .await?;
    Ok(meta)
}

pub async fn document_with_content<C: ConnectionTrait>(
    db: &C,
    candidacy_id: &str,
    document_id: &str,
) -> Result<Option<(document::Model, Vec<u8>)>, DbErr> {
    let Some(meta) = document::Entity::find_by_id(document_id.to_owned())
        .filter(document::Column::CandidacyId.eq(candidacy_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let content = document_content::Entity::find_by_id(document_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("content of document {document_id}")))?;
    Ok(Some((meta, content.content)))
}

#[cfg(test)]
mod tests;
