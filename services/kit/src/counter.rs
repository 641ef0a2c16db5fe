//! Numbers for people (case C-000123, contract SC-000004, invoice
//! INV-000042).
//!
//! - [`next`]: gapless: a counter row per sequence, incremented in the
//!   transaction that uses the number, so a rolled-back transaction gives
//!   its number back and numbers follow commit order; the row stays locked
//!   until commit, so one number is handed out at a time. For numbers that
//!   must not skip (invoices, which tax law may require to be gapless).
//! - [`next_unique`]: unique and increasing, not gapless: a PostgreSQL
//!   sequence, which no transaction waits on (case numbers).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    sea_query::{Expr, ExprTrait},
};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The next number of the sequence `name`. The counter row stays locked
/// until the caller's transaction ends.
pub async fn next(txn: &impl ConnectionTrait, name: &str) -> Result<i64, DbErr> {
    let numbered = entity::Entity::update_many()
        .col_expr(entity::Column::Value, Expr::col(entity::Column::Value).add(1))
        .filter(entity::Column::Name.eq(name))
        .exec_with_returning(txn)
        .await?;
    numbered.first().map(|c| c.value).ok_or_else(|| DbErr::Custom(format!("the {name} counter is missing; run the migrations")))
}

/// The SQL expression taking the next number of [`next_unique`]'s
/// PostgreSQL sequence `name`, for a caller that takes it inside a read of
/// its own. `name` is the code's own constant, never input: it is written
/// into the SQL.
pub fn next_unique_sql(name: &str) -> String {
    format!("nextval('{}'::regclass)", sequence(name))
}

fn sequence(name: &str) -> String {
    format!("{name}_seq")
}

/// The next number of the PostgreSQL sequence `{name}_seq`, unique and
/// increasing but not gapless: taken outside the transaction's locks (a
/// rolled-back caller leaves a gap), so concurrent callers never wait on
/// each other. On SQLite, whose writes are serialized anyway, the counter
/// row `name` ([`next`]).
pub async fn next_unique(txn: &impl ConnectionTrait, name: &str) -> Result<i64, DbErr> {
    match txn.get_database_backend() {
        DbBackend::Postgres => {
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT nextval($1::regclass) AS value",
                    [sequence(name).into()],
                ))
                .await?
                .ok_or_else(|| DbErr::Custom(format!("the {name}_seq sequence answered nothing")))?;
            row.try_get("", "value")
        }
        _ => next(txn, name).await,
    }
}
