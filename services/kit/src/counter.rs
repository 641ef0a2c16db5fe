//! Gapless numbers for people (case C-000123, contract SC-000004, invoice
//! INV-000042): a counter row per sequence, incremented in the transaction
//! that uses the number, so a rolled-back transaction gives its number back
//! and numbers follow commit order.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
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
