//! Tables every service of a kind has: the outbox of a service that
//! publishes events, the inbox of a service that consumes them, and the
//! keys of idempotent creates.

use sea_orm_migration::{prelude::*, schema::*};

/// An index named `name` on `table`'s columns, in order.
pub fn index(name: &str, table: &str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Alias::new(table));
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

/// The transactional outbox (see `docket_kit::events::outbox`).
pub async fn create_outbox(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("outbox")
                .col(big_integer("position").auto_increment().primary_key())
                .col(string("event_id").unique_key())
                .col(string("event_type"))
                .col(string("subject"))
                .col(blob("envelope"))
                .col(string("traceparent"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .to_owned(),
        )
        .await?;
    manager.create_index(Index::create().name("outbox_unsent").table("outbox").col("sent_at").col("position").to_owned()).await
}

/// The consumer inbox (see `docket_kit::events::consumer`).
pub async fn create_inbox(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("inbox")
                .col(string("consumer"))
                .col(string("event_id"))
                .col(string("event_type"))
                .col(timestamp_with_time_zone("handled_at"))
                .primary_key(Index::create().col("consumer").col("event_id"))
                .to_owned(),
        )
        .await
}

/// Keys of idempotent creates (see `docket_kit::idempotency`).
pub async fn create_idempotency_keys(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("idempotency_keys")
                .col(string("scope"))
                .col(string("actor"))
                .col(string("key"))
                .col(string("request_hash"))
                .col(string("resource_id"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("scope").col("actor").col("key"))
                .to_owned(),
        )
        .await
}

pub async fn drop_table(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await
}

/// Gapless number sequences (see `docket_kit::counter`), each starting at 0.
pub async fn create_counters(manager: &SchemaManager<'_>, names: &[&str]) -> Result<(), DbErr> {
    manager
        .create_table(Table::create().table("counters").col(string("name").primary_key()).col(big_integer("value")).to_owned())
        .await?;
    add_counters(manager, names).await
}

/// More sequences in an existing `counters` table.
pub async fn add_counters(manager: &SchemaManager<'_>, names: &[&str]) -> Result<(), DbErr> {
    for name in names {
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("counters")
                    .columns(["name", "value"])
                    .values_panic([(*name).into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// The append-only audit trail (see `docket_kit::audit`).
pub async fn create_audit_entries(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
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
    manager.create_index(index("audit_entries_record", "audit_entries", &["record_id", "id"])).await
}

/// The outbox's unsent rows indexed by position alone (every service with an
/// outbox runs it). The relay asks for the oldest unsent rows in order; on
/// the index of (sent_at, position) PostgreSQL answered with a bitmap scan
/// that visited every row sent since the last vacuum (a bitmap scan does not
/// learn which entries are dead), so each batch cost more the busier the
/// service had been. On this index it walks positions in order, stops at the
/// batch's end, and marks dead entries as it passes them.
pub struct OutboxUnsentByPosition;

impl MigrationName for OutboxUnsentByPosition {
    fn name(&self) -> &str {
        "m20261205_000100_outbox_unsent_by_position"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OutboxUnsentByPosition {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("outbox_unsent").table("outbox").to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_unsent")
                    .table("outbox")
                    .col("position")
                    .and_where(Expr::col("sent_at").is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("outbox_unsent").table("outbox").to_owned()).await?;
        manager
            .create_index(Index::create().name("outbox_unsent").table("outbox").col("sent_at").col("position").to_owned())
            .await
    }
}

/// A creation's audit trail in one row (see `docket_kit::audit`): the
/// `fields` column holds the entries after the row's own. Every service's
/// trail has it. Rolling back writes the packed entries out as rows of
/// their own (with the ids the history calls showed them under).
pub struct AuditCreationInOneRow;

impl MigrationName for AuditCreationInOneRow {
    fn name(&self) -> &str {
        "m20261206_000101_audit_creation_in_one_row"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AuditCreationInOneRow {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("audit_entries").add_column(text("fields").default("")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = "id, record_type, record_id, actor, at, field, old_value, new_value, reason";
        // The n-th packed entry (from 1) is `[field, old, new]`; its id as `audit::unpack` gives it.
        let unpack = match manager.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "SELECT a.id || '.' || lpad(e.n::text, 3, '0'), a.record_type, a.record_id, a.actor, a.at, \
                 e.entry->>0, e.entry->>1, e.entry->>2, a.reason \
                 FROM audit_entries a, json_array_elements(a.fields::json) WITH ORDINALITY AS e(entry, n) \
                 WHERE a.fields <> ''"
            }
            _ => {
                "SELECT a.id || '.' || substr('00' || (e.key + 1), -3), a.record_type, a.record_id, a.actor, a.at, \
                 json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]'), a.reason \
                 FROM audit_entries a, json_each(a.fields) AS e \
                 WHERE a.fields <> ''"
            }
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!("INSERT INTO audit_entries ({columns}) {unpack}")).await?;
        db.execute_unprepared("ALTER TABLE audit_entries DROP COLUMN fields").await?;
        Ok(())
    }
}
