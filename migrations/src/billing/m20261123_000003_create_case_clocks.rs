//! The SLA clock of every case, fed by the case service's events, and the
//! inbox of the billing service's event consumer.

use sea_orm_migration::{prelude::*, schema::*};

use crate::shared::{self, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("case_clocks")
                    .col(string("case_id").primary_key())
                    .col(string("case_number"))
                    .col(string("account_id"))
                    .col(string_null("contract_id"))
                    .col(string_null("sla_policy_id"))
                    // Set when the policy must be looked up again (contract or default changed).
                    .col(boolean("resolve_policy"))
                    .col(small_integer("priority"))
                    .col(string("status"))
                    // The newest case version seen: older snapshots do not overwrite newer ones.
                    .col(big_integer("case_version"))
                    .col(timestamp_with_time_zone("opened_at"))
                    .col(timestamp_with_time_zone_null("first_response_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    // JSON [[time, status], ...]: every status the case had, when.
                    .col(text("status_log"))
                    // Deadlines of the targets while their clock runs (null: met, paused or none).
                    .col(timestamp_with_time_zone_null("first_response_warn_at"))
                    .col(timestamp_with_time_zone_null("first_response_due"))
                    .col(timestamp_with_time_zone_null("resolution_warn_at"))
                    .col(timestamp_with_time_zone_null("resolution_due"))
                    // The sooner of the two running deadlines: the queue order.
                    .col(timestamp_with_time_zone_null("next_due_at"))
                    .col(boolean("first_response_warned"))
                    .col(boolean("first_response_breached"))
                    .col(boolean("resolution_warned"))
                    .col(boolean("resolution_breached"))
                    // open, met or missed: what compliance counts.
                    .col(string("first_response_outcome"))
                    .col(string("resolution_outcome"))
                    // When the scheduler must look at this clock next; null: nothing pending.
                    .col(timestamp_with_time_zone_null("next_check_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        // The scheduler reads only the clocks that fall due.
        manager.create_index(index("case_clocks_next_check", "case_clocks", &["next_check_at"])).await?;
        manager.create_index(index("case_clocks_next_due", "case_clocks", &["next_due_at", "case_id"])).await?;
        manager.create_index(index("case_clocks_contract", "case_clocks", &["contract_id", "opened_at"])).await?;
        manager.create_index(index("case_clocks_policy", "case_clocks", &["sla_policy_id", "opened_at"])).await?;
        shared::create_inbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        shared::drop_table(manager, "inbox").await?;
        shared::drop_table(manager, "case_clocks").await
    }
}
