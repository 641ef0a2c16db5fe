//! What makes two reports exact enough at scale: each day's shortest and
//! longest resolution and first response (so a median estimated inside a
//! histogram bucket stays between them), and each kept case's gap in
//! seconds to the case before it of the same account and asset (so the
//! repeat-case report filters one scan by the gap instead of probing for
//! a previous case per case). Gaps of rows kept before this migration are
//! worked out here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const DAY_COLUMNS: [&str; 4] = ["resolution_min", "resolution_max", "first_response_min", "first_response_max"];
/// Each gap column, with the column whose previous case it measures to.
const GAPS: [(&str, &str); 2] = [("account_gap", "account_id"), ("asset_gap", "asset")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in DAY_COLUMNS {
            manager.alter_table(Table::alter().table("report_days").add_column(big_integer_null(column)).to_owned()).await?;
        }
        for (gap, by) in GAPS {
            manager.alter_table(Table::alter().table("report_cases").add_column(big_integer_null(gap)).to_owned()).await?;
            let only_assets = if by == "asset" { "AND report_cases.asset <> ''" } else { "" };
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "UPDATE report_cases SET {gap} = report_cases.created_epoch - (\
                       SELECT MAX(p.created_epoch) FROM report_cases p WHERE p.{by} = report_cases.{by} \
                       AND (p.created_epoch < report_cases.created_epoch \
                         OR (p.created_epoch = report_cases.created_epoch AND p.case_id < report_cases.case_id))) \
                     WHERE 1 = 1 {only_assets}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in DAY_COLUMNS {
            manager.alter_table(Table::alter().table("report_days").drop_column(Alias::new(column)).to_owned()).await?;
        }
        for (gap, _) in GAPS {
            manager.alter_table(Table::alter().table("report_cases").drop_column(Alias::new(gap)).to_owned()).await?;
        }
        Ok(())
    }
}
