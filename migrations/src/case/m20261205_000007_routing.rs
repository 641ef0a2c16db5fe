//! Routing: assignment rules, the routing settings (the default team), the
//! per-team turn that keeps round-robin fair across replicas, the cases
//! waiting for an agent with room, and what routing needs on staff (a
//! capacity, out-of-office periods) and on cases (the web form they came
//! in through).

use sea_orm_migration::{prelude::*, schema::*};

use crate::shared;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("assignment_rules")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    .col(integer("position"))
                    .col(boolean("active"))
                    // What it matches: JSON lists (priority ranks, keys, ids,
                    // lower-case tags and words); an empty list matches all.
                    .col(text("case_type_ids"))
                    .col(text("priorities"))
                    .col(text("channels"))
                    .col(text("account_ids"))
                    .col(text("account_tiers"))
                    .col(text("web_form_ids"))
                    .col(text("tags"))
                    .col(text("subject_words"))
                    // team_queue, person, round_robin, least_loaded or capacity
                    .col(string("method"))
                    .col(string_null("team_id"))
                    .col(string_null("owner_id"))
                    .col(integer("capacity"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        // One row (id 1).
        manager
            .create_table(
                Table::create()
                    .table("routing_settings")
                    .col(integer("id").primary_key())
                    .col(string_null("default_team_id"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        // A team's rotation, and the row every distribution into the team
        // locks first, so concurrent creates on any replica hand out one
        // turn (and one agent's last free slot) at a time.
        manager
            .create_table(
                Table::create()
                    .table("routing_turns")
                    .col(string("team_id").primary_key())
                    .col(string_null("last_staff_id"))
                    .col(big_integer("turns"))
                    .to_owned(),
            )
            .await?;
        // Cases a capacity rule could not hand out yet: handed out, most
        // urgent and oldest first, when an agent of the team has room.
        manager
            .create_table(
                Table::create()
                    .table("routing_waits")
                    .col(string("case_id").primary_key())
                    .col(string("team_id"))
                    .col(string("rule_id"))
                    .col(timestamp_with_time_zone("queued_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(shared::index("routing_waits_team", "routing_waits", &["team_id", "queued_at"])).await?;
        manager
            .alter_table(Table::alter().table("staff_users").add_column(integer("case_capacity").default(0)).to_owned())
            .await?;
        // JSON list of {start, end, note}, RFC 3339.
        manager
            .alter_table(Table::alter().table("staff_users").add_column(text("out_of_office").default("[]")).to_owned())
            .await?;
        manager.alter_table(Table::alter().table("cases").add_column(string_null("web_form_id")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("cases").drop_column(Alias::new("web_form_id")).to_owned()).await?;
        manager.alter_table(Table::alter().table("staff_users").drop_column(Alias::new("out_of_office")).to_owned()).await?;
        manager.alter_table(Table::alter().table("staff_users").drop_column(Alias::new("case_capacity")).to_owned()).await?;
        for table in ["routing_waits", "routing_turns", "routing_settings", "assignment_rules"] {
            shared::drop_table(manager, table).await?;
        }
        Ok(())
    }
}
