//! The case service's consumer keeps what the period reports read by
//! inserts alone, and the case service's sweeper (or the next report)
//! folds them in, in batches under one lock. Under a burst of cases every
//! event added to the same day rows (the `all` row of the day, at least)
//! and waited for the lane before it to commit; and every case of one
//! account (the web forms' unassigned account) waited on that account's
//! lock to measure its repeat gap. Now:
//! - `report_day_deltas`: what one event adds to one day row of one
//!   dimension's key, with the histogram bucket of its durations; folded
//!   into `report_days` and `report_day_buckets`.
//! - `report_cases.gaps_pending`: the row's repeat gaps are not measured
//!   yet. Rows kept before this migration are measured already. The
//!   account and asset indexes gain `case_id`, the tie-break between
//!   cases of one second, so the case before or after one is one probe.

use sea_orm_migration::{prelude::*, schema::*};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The indexes that find a case's neighbours, and by what.
const NEIGHBOUR_INDEXES: [(&str, &str); 2] = [("report_cases_account", "account_id"), ("report_cases_asset", "asset")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("report_day_deltas")
                    // In the order kept: a fold takes the oldest first.
                    .col(big_integer("id").auto_increment().primary_key())
                    .col(string("dimension"))
                    .col(integer("day"))
                    .col(string("key"))
                    .col(big_integer("created"))
                    .col(big_integer("closed"))
                    .col(big_integer("reopened"))
                    .col(big_integer("assigned"))
                    // Seconds, where the event closed the case or answered it first.
                    .col(big_integer_null("resolution"))
                    .col(big_integer_null("first_response"))
                    .col(small_integer_null("resolution_bucket"))
                    .col(small_integer_null("first_response_bucket"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("report_cases").add_column(boolean("gaps_pending").default(false)).to_owned())
            .await?;
        for (name, by) in NEIGHBOUR_INDEXES {
            manager.drop_index(Index::drop().name(name).table("report_cases").to_owned()).await?;
            manager.create_index(shared::index(name, "report_cases", &[by, "created_epoch", "case_id"])).await?;
        }
        // Only the pending rows, few at any time: the sweep finds them here.
        // Written out so that the sweep's `WHERE gaps_pending` matches the
        // index's condition word for word (SQLite's planner asks that).
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX report_cases_gaps_pending ON report_cases (case_id) WHERE gaps_pending")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("report_cases_gaps_pending").table("report_cases").to_owned()).await?;
        for (name, by) in NEIGHBOUR_INDEXES {
            manager.drop_index(Index::drop().name(name).table("report_cases").to_owned()).await?;
            manager.create_index(shared::index(name, "report_cases", &[by, "created_epoch"])).await?;
        }
        manager.alter_table(Table::alter().table("report_cases").drop_column("gaps_pending").to_owned()).await?;
        shared::drop_table(manager, "report_day_deltas").await
    }
}
