use sea_orm_migration::{prelude::*, schema::*};

use crate::shared::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Case types every installation starts with; admins edit the catalogue later.
const SEED_CASE_TYPES: &[(&str, &str, i32)] = &[
    ("complaint", "Complaint", 1),
    ("warranty_claim", "Warranty claim", 2),
    ("billing_query", "Billing query", 3),
    ("technical_issue", "Technical issue", 4),
    ("service_request", "Service request", 5),
];

const TABLES: &[&str] = &[
    "idempotency_keys",
    "audit_entries",
    "case_activities",
    "case_tags",
    "case_contacts",
    "cases",
    "counters",
    "case_types",
    "team_members",
    "teams",
    "staff_users",
    "contacts",
    "accounts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("accounts")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("industry"))
                    .col(string("tier"))
                    .col(big_integer_null("annual_value_minor"))
                    .col(string("annual_value_currency"))
                    .col(string("address_street"))
                    .col(string("address_city"))
                    .col(string("address_region"))
                    .col(string("address_postal_code"))
                    .col(string("address_country"))
                    .col(text("notes"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("accounts_name", "accounts", &["name", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("contacts")
                    .col(string("id").primary_key())
                    .col(string("account_id"))
                    .col(string("name"))
                    .col(string("email"))
                    // Lower-cased email, NULL when there is none: unique, so two
                    // contacts never share an address whatever its case.
                    .col(string_null("email_key").unique_key())
                    .col(string("phone"))
                    .col(string("title"))
                    .col(boolean("portal_enabled"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(ForeignKey::create().from("contacts", "account_id").to("accounts", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("contacts_account", "contacts", &["account_id", "name", "id"])).await?;
        manager.create_index(index("contacts_name", "contacts", &["name", "id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("staff_users")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("email"))
                    .col(string("email_key").unique_key())
                    .col(string("role"))
                    .col(boolean("active"))
                    .col(boolean("available"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("teams")
                    .col(string("id").primary_key())
                    .col(string("name").unique_key())
                    .col(text("description"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("team_members")
                    .col(string("team_id"))
                    .col(string("staff_id"))
                    .col(timestamp_with_time_zone("added_at"))
                    .primary_key(Index::create().col("team_id").col("staff_id"))
                    .foreign_key(ForeignKey::create().from("team_members", "team_id").to("teams", "id"))
                    .foreign_key(ForeignKey::create().from("team_members", "staff_id").to("staff_users", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("team_members_staff", "team_members", &["staff_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("case_types")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(boolean("active"))
                    .col(integer("position"))
                    .to_owned(),
            )
            .await?;
        let mut seed = Query::insert();
        seed.into_table("case_types").columns(["id", "name", "active", "position"]);
        for (id, name, position) in SEED_CASE_TYPES {
            seed.values_panic([(*id).into(), (*name).into(), true.into(), (*position).into()]);
        }
        manager.exec_stmt(seed).await?;

        manager
            .create_table(
                Table::create().table("counters").col(string("name").primary_key()).col(big_integer("value")).to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("counters")
                    .columns(["name", "value"])
                    .values_panic(["case_number".into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("cases")
                    .col(string("id").primary_key())
                    .col(big_integer("number").unique_key())
                    .col(string("subject"))
                    .col(text("description"))
                    .col(string("type_id"))
                    // 1 Low .. 4 Critical, so that sorting by priority is numeric.
                    .col(small_integer("priority"))
                    .col(string("status"))
                    .col(string("channel"))
                    .col(string("account_id"))
                    .col(string_null("owner_id"))
                    .col(string_null("team_id"))
                    .col(string("service_contract_id"))
                    .col(string("service_contract_number"))
                    .col(string("asset_description"))
                    .col(string("asset_serial_number"))
                    .col(text("resolution_summary"))
                    .col(string("created_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("first_response_at"))
                    .col(timestamp_with_time_zone_null("resolved_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .foreign_key(ForeignKey::create().from("cases", "type_id").to("case_types", "id"))
                    .foreign_key(ForeignKey::create().from("cases", "account_id").to("accounts", "id"))
                    .foreign_key(ForeignKey::create().from("cases", "owner_id").to("staff_users", "id"))
                    .foreign_key(ForeignKey::create().from("cases", "team_id").to("teams", "id"))
                    .to_owned(),
            )
            .await?;
        // The queue screens: my cases, a team's queue, an account's cases, by
        // status and priority, newest or recently updated first.
        for (name, cols) in [
            ("cases_owner_status", &["owner_id", "status", "number"][..]),
            ("cases_team_status", &["team_id", "status", "number"][..]),
            ("cases_account", &["account_id", "number"][..]),
            ("cases_status", &["status", "number"][..]),
            ("cases_priority", &["priority", "number"][..]),
            ("cases_type", &["type_id", "number"][..]),
            ("cases_created", &["created_at"][..]),
            ("cases_updated", &["updated_at", "number"][..]),
        ] {
            manager.create_index(index(name, "cases", cols)).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("case_contacts")
                    .col(string("case_id"))
                    .col(string("contact_id"))
                    .col(boolean("is_primary"))
                    .col(integer("position"))
                    .primary_key(Index::create().col("case_id").col("contact_id"))
                    .foreign_key(ForeignKey::create().from("case_contacts", "case_id").to("cases", "id"))
                    .foreign_key(ForeignKey::create().from("case_contacts", "contact_id").to("contacts", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("case_contacts_contact", "case_contacts", &["contact_id", "case_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("case_tags")
                    .col(string("case_id"))
                    .col(string("tag"))
                    .primary_key(Index::create().col("case_id").col("tag"))
                    .foreign_key(ForeignKey::create().from("case_tags", "case_id").to("cases", "id"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("case_tags_tag", "case_tags", &["tag", "case_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table("case_activities")
                    .col(string("id").primary_key())
                    .col(string("case_id"))
                    .col(big_integer("sequence"))
                    .col(string("kind"))
                    .col(string("visibility"))
                    .col(string("author"))
                    .col(text("body"))
                    .col(string("direction"))
                    .col(integer("call_duration_seconds"))
                    .col(string("email_from"))
                    .col(text("email_to"))
                    .col(string("email_subject"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(ForeignKey::create().from("case_activities", "case_id").to("cases", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("case_activities_sequence", "case_activities", &["case_id", "sequence"]).unique().to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_entries")
                    .col(string("id").primary_key())
                    .col(string("record_type"))
                    .col(string("record_id"))
                    .col(string("actor"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string("field"))
                    .col(text("old_value"))
                    .col(text("new_value"))
                    .col(text("reason"))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("audit_entries_record", "audit_entries", &["record_id", "id"])).await?;

        crate::shared::create_idempotency_keys(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager.drop_table(Table::drop().table(Alias::new(*table)).to_owned()).await?;
        }
        Ok(())
    }
}
