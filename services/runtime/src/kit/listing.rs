//! Listings: a list RPC and its total are one [`Listing`] (the filters of the request, in the
//! service's `store`), read a page at a time with [`list`] and counted with [`count`], so the
//! query is written once for both and paging is the same in every service.

use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, Value,
};

/// The filters of a listing.
pub trait Listing {
    type Entity: EntityTrait;

    /// The column a listing is ordered and resumed by: unique, in the order rows are listed.
    fn key() -> <Self::Entity as EntityTrait>::Column;

    /// Restricts `q` to what the filters select.
    fn apply<Q: QueryFilter>(&self, q: Q) -> Q;

    /// Identifies the filters in page tokens, so a token of one listing is refused by another.
    fn scope(&self) -> String;
}

/// Up to `limit` rows the filters select, in key order, after the key `after` (the last of the
/// previous page).
pub async fn list<L, C, V>(
    db: &C,
    listing: &L,
    after: Option<V>,
    limit: u64,
) -> Result<Vec<<L::Entity as EntityTrait>::Model>, DbErr>
where
    L: Listing,
    C: ConnectionTrait,
    V: Into<Value>,
{
    crate::db::page(db, listing.apply(L::Entity::find()), L::key(), after, limit).await
}

/// How many rows the filters select.
pub async fn count<L, C>(db: &C, listing: &L) -> Result<u64, DbErr>
where
    L: Listing,
    C: ConnectionTrait,
    <L::Entity as EntityTrait>::Model: FromQueryResult + Sync,
{
    listing.apply(L::Entity::find()).count(db).await
}
