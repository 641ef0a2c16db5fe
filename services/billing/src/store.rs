//! The billing schema: SLA policies (contracts, hours, parts and invoices follow).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use docket_kit::{
    error::is_unique_violation,
    idempotency::{self, Idempotency, IdempotencyError},
};

pub mod entities {
    pub mod sla_policy {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "sla_policies")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub name: String,
            pub description: String,
            pub time_zone: String,
            pub working_hours: String,
            pub holidays: String,
            pub targets: String,
            pub pause_while_pending: bool,
            pub warn_at_percent: i32,
            pub is_default: bool,
            pub version: i64,
            pub created_at: DateTimeUtc,
            pub updated_at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entities::sla_policy;

/// A policy as stored: validated values, JSON-encoded lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHours {
    /// 1 Monday .. 7 Sunday.
    pub weekday: u8,
    /// Minutes since local midnight.
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTarget {
    /// 1 Low .. 4 Critical.
    pub priority: u8,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFields {
    pub name: String,
    pub description: String,
    pub time_zone: String,
    pub working_hours: Vec<StoredHours>,
    pub holidays: Vec<String>,
    pub targets: Vec<StoredTarget>,
    pub pause_while_pending: bool,
    pub warn_at_percent: i32,
    pub is_default: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Stale(String),
    #[error("a policy named {0} already exists")]
    NameTaken(String),
    #[error("idempotency_key was already used with a different request")]
    KeyReused,
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl From<IdempotencyError> for StoreError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Reused => StoreError::KeyReused,
            IdempotencyError::Database(db) => StoreError::Database(db),
        }
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

pub fn hours_of(model: &sla_policy::Model) -> Vec<StoredHours> {
    serde_json::from_str(&model.working_hours).unwrap_or_default()
}

pub fn holidays_of(model: &sla_policy::Model) -> Vec<String> {
    serde_json::from_str(&model.holidays).unwrap_or_default()
}

pub fn targets_of(model: &sla_policy::Model) -> Vec<StoredTarget> {
    serde_json::from_str(&model.targets).unwrap_or_default()
}

fn apply(model: &mut sla_policy::Model, fields: &PolicyFields, mask: &[&str]) {
    for field in mask {
        match *field {
            "name" => model.name.clone_from(&fields.name),
            "description" => model.description.clone_from(&fields.description),
            "time_zone" => model.time_zone.clone_from(&fields.time_zone),
            "working_hours" => model.working_hours = json(&fields.working_hours),
            "holidays" => model.holidays = json(&fields.holidays),
            "targets" => model.targets = json(&fields.targets),
            "pause_while_pending" => model.pause_while_pending = fields.pause_while_pending,
            "warn_at_percent" => model.warn_at_percent = fields.warn_at_percent,
            "is_default" => model.is_default = fields.is_default,
            _ => {}
        }
    }
}

pub const POLICY_FIELDS: &[&str] = &[
    "name",
    "description",
    "time_zone",
    "working_hours",
    "holidays",
    "targets",
    "pause_while_pending",
    "warn_at_percent",
    "is_default",
];

const SCOPE: &str = "CreateSlaPolicy";

#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn create_policy(
        &self,
        fields: PolicyFields,
        actor: &str,
        at: DateTime<Utc>,
        key: Option<&Idempotency>,
    ) -> Result<sla_policy::Model, StoreError> {
        if let Some(key) = key
            && let Some(id) = idempotency::find(&self.db, SCOPE, actor, key).await?
        {
            return self.get_policy(&id).await;
        }
        let txn = self.db.begin().await?;
        let mut model = sla_policy::Model {
            id: uuid::Uuid::now_v7().to_string(),
            name: String::new(),
            description: String::new(),
            time_zone: String::new(),
            working_hours: "[]".into(),
            holidays: "[]".into(),
            targets: "[]".into(),
            pause_while_pending: false,
            warn_at_percent: 80,
            is_default: false,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        apply(&mut model, &fields, POLICY_FIELDS);
        if model.is_default {
            clear_default(&txn).await?;
        }
        let model = match model.clone().into_active_model().reset_all().insert(&txn).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken(model.name)),
            Err(err) => return Err(err.into()),
        };
        if let Some(key) = key
            && !idempotency::remember(&txn, SCOPE, actor, key, &model.id, at).await?
        {
            txn.rollback().await?;
            return Box::pin(self.create_policy(fields, actor, at, Some(key))).await;
        }
        txn.commit().await?;
        Ok(model)
    }

    pub async fn get_policy(&self, id: &str) -> Result<sla_policy::Model, StoreError> {
        sla_policy::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("SLA policy {id} not found")))
    }

    pub async fn update_policy(
        &self,
        id: &str,
        etag: i64,
        fields: PolicyFields,
        mask: &[&str],
        at: DateTime<Utc>,
    ) -> Result<sla_policy::Model, StoreError> {
        let txn = self.db.begin().await?;
        let current = sla_policy::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("SLA policy {id} not found")))?;
        if current.version != etag {
            return Err(StoreError::Stale(format!(
                "SLA policy {id} was changed since it was read (etag {etag}, now {})",
                current.version
            )));
        }
        let mut next = current.clone();
        apply(&mut next, &fields, mask);
        if next == current {
            return Ok(current);
        }
        if next.is_default && !current.is_default {
            clear_default(&txn).await?;
        }
        next.version += 1;
        next.updated_at = at;
        let updated = sla_policy::Entity::update_many()
            .set(next.clone().into_active_model().reset_all())
            .filter(sla_policy::Column::Id.eq(id))
            .filter(sla_policy::Column::Version.eq(current.version))
            .exec(&txn)
            .await;
        match updated {
            Ok(result) if result.rows_affected == 1 => {}
            Ok(_) => return Err(StoreError::Stale(format!("SLA policy {id} was changed meanwhile"))),
            Err(err) if is_unique_violation(&err) => return Err(StoreError::NameTaken(next.name)),
            Err(err) => return Err(err.into()),
        }
        txn.commit().await?;
        Ok(next)
    }

    pub async fn list_policies(&self, after: Option<(String, String)>, limit: u64) -> Result<Vec<sla_policy::Model>, StoreError> {
        let mut query = sla_policy::Entity::find();
        if let Some((name, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(sla_policy::Column::Name.gt(name.clone()))
                    .add(Condition::all().add(sla_policy::Column::Name.eq(name)).add(sla_policy::Column::Id.gt(id))),
            );
        }
        Ok(query
            .order_by_asc(sla_policy::Column::Name)
            .order_by_asc(sla_policy::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?)
    }
}

async fn clear_default(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    sla_policy::Entity::update_many()
        .col_expr(sla_policy::Column::IsDefault, Expr::value(false))
        .col_expr(sla_policy::Column::Version, Expr::col(sla_policy::Column::Version).add(1))
        .filter(sla_policy::Column::IsDefault.eq(true))
        .exec(txn)
        .await?;
    Ok(())
}
