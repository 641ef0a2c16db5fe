//! The gRPC adapter of `docket.notification.v1.NotificationService`: checks
//! the caller's role, parses requests into validated domain values (bad
//! input is refused whole, with every bad field named), calls the store,
//! and turns records back into messages. Proto types stop here.
//!
//! One part per area: [`settings`], [`templates`], [`opt_outs`],
//! [`deliveries`], [`ingest`], and the trails of the first three
//! ([`history`]); [`shared`] holds what every change needs.

mod deliveries;
mod history;
mod ingest;
mod opt_outs;
mod settings;
mod shared;
mod templates;

use docket_proto::notification::v1::{self as pb, notification_service_server::NotificationService};
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

pub use self::ingest::MAX_EMAIL_BYTES;
use crate::{clients::CaseClients, inbound::InboundSettings, store::Store};

pub struct NotificationApi {
    store: Store,
    clients: CaseClients,
    inbound: InboundSettings,
}

impl NotificationApi {
    pub fn new(db: DatabaseConnection, clients: CaseClients, inbound: InboundSettings) -> Self {
        Self { store: Store::new(db), clients, inbound }
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn get_settings(&self, request: Request<pb::GetSettingsRequest>) -> Answer<pb::Settings> {
        settings::get(&self.store, request).await
    }

    async fn update_settings(&self, request: Request<pb::UpdateSettingsRequest>) -> Answer<pb::Settings> {
        settings::update(&self.store, request).await
    }

    async fn list_settings_history(
        &self,
        request: Request<pb::ListSettingsHistoryRequest>,
    ) -> Answer<docket_proto::case::v1::ListHistoryResponse> {
        history::list(&self.store, request).await
    }

    async fn list_templates(&self, request: Request<pb::ListTemplatesRequest>) -> Answer<pb::ListTemplatesResponse> {
        templates::list(&self.store, request).await
    }

    async fn update_template(&self, request: Request<pb::UpdateTemplateRequest>) -> Answer<pb::Template> {
        templates::update(&self.store, request).await
    }

    async fn reset_template(&self, request: Request<pb::ResetTemplateRequest>) -> Answer<pb::Template> {
        templates::reset(&self.store, request).await
    }

    async fn list_template_history(
        &self,
        request: Request<pb::ListTemplateHistoryRequest>,
    ) -> Answer<docket_proto::case::v1::ListHistoryResponse> {
        history::list(&self.store, request).await
    }

    async fn set_contact_opt_out(&self, request: Request<pb::SetContactOptOutRequest>) -> Answer<pb::ContactOptOut> {
        opt_outs::set(&self.store, &self.clients, request).await
    }

    async fn list_contact_opt_outs(
        &self,
        request: Request<pb::ListContactOptOutsRequest>,
    ) -> Answer<pb::ListContactOptOutsResponse> {
        opt_outs::list(&self.store, request).await
    }

    async fn list_contact_opt_out_history(
        &self,
        request: Request<pb::ListContactOptOutHistoryRequest>,
    ) -> Answer<docket_proto::case::v1::ListHistoryResponse> {
        history::list(&self.store, request).await
    }

    async fn list_deliveries(&self, request: Request<pb::ListDeliveriesRequest>) -> Answer<pb::ListDeliveriesResponse> {
        deliveries::list(&self.store, request).await
    }

    async fn ingest_email(&self, request: Request<pb::IngestEmailRequest>) -> Answer<pb::IngestEmailResponse> {
        ingest::ingest_email(&self.store, &self.clients, &self.inbound, request).await
    }
}
