//! Service contracts with their covered assets and rates, prepaid
//! sub-contracts and their ledger, the audit trail, number counters and the
//! outbox of the billing service's events.

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
                    .table("service_contracts")
                    .col(string("id").primary_key())
                    .col(string("contract_number").unique_key())
                    .col(string("account_id"))
                    .col(string("name"))
                    .col(string("contract_type"))
                    .col(string("status"))
                    // ISO dates, "2026-01-01": they sort as text on both databases.
                    .col(string("start_date"))
                    .col(string("end_date"))
                    .col(string_null("sla_policy_id"))
                    .col(string("currency"))
                    .col(big_integer("hourly_rate_minor"))
                    .col(integer("tax_rate_bp"))
                    .col(text("description"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("service_contracts_account", "service_contracts", &["account_id", "status"])).await?;
        manager.create_index(index("service_contracts_policy", "service_contracts", &["sla_policy_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("covered_assets")
                    .col(string("contract_id"))
                    .col(integer("position"))
                    .col(string("description"))
                    .col(string("serial_number"))
                    // Trimmed and lower-cased: what entitlement compares.
                    .col(string("serial_key"))
                    .primary_key(Index::create().col("contract_id").col("position"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("covered_assets_serial", "covered_assets", &["serial_key"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("sub_contracts")
                    .col(string("id").primary_key())
                    .col(string("contract_id"))
                    .col(string("name"))
                    .col(string("balance_kind"))
                    .col(big_integer("balance"))
                    .col(boolean("allow_overdraft"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("sub_contracts_contract", "sub_contracts", &["contract_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("ledger_entries")
                    .col(string("id").primary_key())
                    .col(string("sub_contract_id"))
                    .col(string("kind"))
                    .col(big_integer("amount"))
                    .col(big_integer("balance_after"))
                    .col(string_null("case_id"))
                    .col(text("description"))
                    .col(string("actor"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ledger_entries_sub_contract", "ledger_entries", &["sub_contract_id", "id"])).await?;
        shared::create_counters(manager, &["contract_number"]).await?;
        shared::create_audit_entries(manager).await?;
        shared::create_outbox(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            ["outbox", "audit_entries", "counters", "ledger_entries", "sub_contracts", "covered_assets", "service_contracts"]
        {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
