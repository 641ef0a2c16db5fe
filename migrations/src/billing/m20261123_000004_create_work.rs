//! Time and parts spent on cases, timesheets, invoices with their lines.

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
                    .table("booked_hours")
                    .col(string("id").primary_key())
                    .col(string("staff_id"))
                    .col(string_null("case_id"))
                    .col(string_null("project_code"))
                    .col(string("work_date"))
                    .col(integer("minutes"))
                    .col(boolean("billable"))
                    // The hourly rate that applies, fixed when booked.
                    .col(big_integer("rate_minor"))
                    .col(string("currency"))
                    .col(text("description"))
                    // Set once billed; billed hours are locked.
                    .col(string_null("invoice_id"))
                    .col(string_null("ledger_entry_id"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("booked_hours_case", "booked_hours", &["case_id", "id"])).await?;
        manager.create_index(index("booked_hours_staff", "booked_hours", &["staff_id", "work_date"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("service_parts")
                    .col(string("id").primary_key())
                    .col(string("case_id"))
                    .col(string("part_number"))
                    .col(string("description"))
                    .col(big_integer("quantity_milli"))
                    .col(big_integer("unit_price_minor"))
                    .col(string("currency"))
                    .col(boolean("billable"))
                    .col(string_null("invoice_id"))
                    .col(string_null("ledger_entry_id"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("service_parts_case", "service_parts", &["case_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("timesheets")
                    .col(string("id").primary_key())
                    .col(string("staff_id"))
                    // week or month
                    .col(string("period"))
                    .col(string("period_start"))
                    .col(string("period_end"))
                    // submitted, approved, rejected
                    .col(string("status"))
                    .col(string("submitted_by"))
                    .col(timestamp_with_time_zone("submitted_at"))
                    .col(string("reviewed_by"))
                    .col(timestamp_with_time_zone_null("reviewed_at"))
                    .col(text("review_note"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("timesheets_staff_period")
                    .table("timesheets")
                    .col("staff_id")
                    .col("period")
                    .col("period_start")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("invoices")
                    .col(string("id").primary_key())
                    // Given when issued.
                    .col(string_null("invoice_number").unique_key())
                    .col(string("case_id"))
                    .col(string("account_id"))
                    .col(string_null("contract_id"))
                    .col(string("status"))
                    .col(string("currency"))
                    .col(big_integer("net_minor"))
                    .col(integer("tax_rate_bp"))
                    .col(big_integer("tax_minor"))
                    .col(big_integer("gross_minor"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("issued_at"))
                    .col(timestamp_with_time_zone_null("paid_at"))
                    .col(timestamp_with_time_zone_null("voided_at"))
                    .col(big_integer("version"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("invoices_case", "invoices", &["case_id", "id"])).await?;
        manager.create_index(index("invoices_account", "invoices", &["account_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("invoice_lines")
                    .col(string("invoice_id"))
                    .col(integer("position"))
                    // hours or part
                    .col(string("source"))
                    .col(string("source_id"))
                    .col(text("description"))
                    .col(big_integer("amount_minor"))
                    .primary_key(Index::create().col("invoice_id").col("position"))
                    .to_owned(),
            )
            .await?;
        shared::add_counters(manager, &["invoice_number"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(Query::delete().from_table("counters").and_where(Expr::col("name").eq("invoice_number")).to_owned())
            .await?;
        for table in ["invoice_lines", "invoices", "timesheets", "service_parts", "booked_hours"] {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
