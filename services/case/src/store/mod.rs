//! The case service's commands on its records. Every change goes through
//! the kit's mutation runner, so it writes its audit rows and its events in
//! its own transaction: nothing changes without a trail.

mod accounts;
mod activities;
mod cases;
mod contacts;
pub mod escalation;
pub mod period_reports;
pub mod report_backfill;
pub mod reports;
pub mod routing;
mod staff;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr},
};

pub use self::{
    accounts::AccountFilter,
    activities::{ActivityCursor, StatusChangeCursor},
    cases::{CaseCursor, CaseFilter, CaseOrder},
    contacts::{ContactFilter, ReadFirst},
    staff::StaffFilter,
};
use crate::error::Result;

docket_kit::service_store!(
    /// The case service's database. Cheap to clone.
    pub struct Store, source = crate::events::SOURCE,
    routing: routing::RoutingCache,
    unassigned: contacts::UnassignedAccounts,
    cache: crate::cache::CaseCache
);

impl Store {
    /// This store with its cases kept in `cache`: every change fences the
    /// cases it saved before it commits (see [`crate::cache`]).
    pub fn with_case_cache(mut self, cache: crate::cache::CaseCache) -> Self {
        self.mutations = self.mutations.clone().with_before_commit(std::sync::Arc::new(cache.clone()));
        self.cache = cache;
        self
    }

    pub fn case_cache(&self) -> &crate::cache::CaseCache {
        &self.cache
    }
}

pub use docket_kit::audit::Actor;

/// Case-insensitive "contains" on a column, with LIKE wildcards in the
/// user's text taken literally.
pub(crate) fn contains_ci(column: impl sea_orm::ColumnTrait, text: &str) -> SimpleExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

impl Store {
    /// Deletes a rule (escalation or assignment) whose etag, when sent, is
    /// the current one; its trail says so under the rule's name.
    pub(crate) async fn delete_rule<E>(
        &self,
        id: &str,
        etag: Option<i64>,
        by: &Actor<'_>,
        name: fn(&E::Model) -> &str,
    ) -> Result<()>
    where
        E: EntityTrait,
        E::Model: docket_kit::mutation::Record,
    {
        use docket_kit::mutation::Record;
        let noun = E::Model::noun();
        self.mutations
            .run(by, async |tx| {
                let current = E::Model::load(&*tx, id).await?.ok_or_else(|| crate::error::Error::not_found(&noun, id))?;
                if let Some(etag) = etag
                    && current.version() != etag
                {
                    return Err(crate::error::Error::stale(&noun, id, etag, current.version()));
                }
                E::delete_many().filter(Expr::col(sea_orm::sea_query::Alias::new("id")).eq(id)).exec(&*tx).await?;
                let mut changes = crate::domain::Changes::new();
                changes.set("deleted", name(&current), "");
                tx.trail(E::Model::KIND, id, &changes).await?;
                Ok(())
            })
            .await
    }
}

/// How many rows a list's filtered query selects, ignoring paging.
pub(crate) async fn count<E: EntityTrait>(db: &impl ConnectionTrait, query: sea_orm::Select<E>) -> Result<i64>
where
    E::Model: Sync,
{
    use sea_orm::PaginatorTrait;
    Ok(query.count(db).await? as i64)
}

/// Whether a row with this id exists.
pub(crate) async fn exists<E>(db: &impl ConnectionTrait, column: E::Column, id: &str) -> Result<bool>
where
    E: EntityTrait,
{
    Ok(E::find().filter(column.eq(id)).one(db).await?.is_some())
}
