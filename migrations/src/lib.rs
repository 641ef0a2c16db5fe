//! Database migrations, one migrator per service schema.
//!
//! On PostgreSQL each service has its own schema (the connection's
//! search_path points at it, so the migration history lives there too); on
//! SQLite each service has its own file. The same migrations run on both.

pub use sea_orm_migration::sea_orm::DbErr;
use sea_orm_migration::{MigratorTrait, sea_orm::DatabaseConnection};

pub mod billing;
pub mod case;
pub mod knowledge;
pub mod notification;
pub mod portal;
pub mod shared;

/// The services that own tables.
pub const SERVICES: &[&str] = &["case", "notification", "billing", "portal", "knowledge"];

fn unknown(service: &str) -> DbErr {
    DbErr::Custom(format!("no migrations for a service named `{service}`; known: {}", SERVICES.join(", ")))
}

/// Applies every pending migration of `service`.
pub async fn up(db: &DatabaseConnection, service: &str) -> Result<(), DbErr> {
    match service {
        "case" => case::Migrator::up(db, None).await,
        "notification" => notification::Migrator::up(db, None).await,
        "billing" => billing::Migrator::up(db, None).await,
        "portal" => portal::Migrator::up(db, None).await,
        "knowledge" => knowledge::Migrator::up(db, None).await,
        other => Err(unknown(other)),
    }
}

/// Rolls back the last `steps` migrations of `service`.
pub async fn down(db: &DatabaseConnection, service: &str, steps: u32) -> Result<(), DbErr> {
    match service {
        "case" => case::Migrator::down(db, Some(steps)).await,
        "notification" => notification::Migrator::down(db, Some(steps)).await,
        "billing" => billing::Migrator::down(db, Some(steps)).await,
        "portal" => portal::Migrator::down(db, Some(steps)).await,
        "knowledge" => knowledge::Migrator::down(db, Some(steps)).await,
        other => Err(unknown(other)),
    }
}

/// Each migration of `service` with whether it is applied.
pub async fn status(db: &DatabaseConnection, service: &str) -> Result<Vec<(String, bool)>, DbErr> {
    let migrations = match service {
        "case" => case::Migrator::get_migration_with_status(db).await?,
        "notification" => notification::Migrator::get_migration_with_status(db).await?,
        "billing" => billing::Migrator::get_migration_with_status(db).await?,
        "portal" => portal::Migrator::get_migration_with_status(db).await?,
        "knowledge" => knowledge::Migrator::get_migration_with_status(db).await?,
        other => return Err(unknown(other)),
    };
    Ok(migrations
        .into_iter()
        .map(|m| (m.name().to_owned(), matches!(m.status(), sea_orm_migration::MigrationStatus::Applied)))
        .collect())
}
