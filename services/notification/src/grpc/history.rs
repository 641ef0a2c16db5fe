//! ListSettingsHistory, ListTemplateHistory, ListContactOptOutHistory: one
//! page of the audit trail of the settings, a template or an opt-out,
//! oldest first. The calls differ only in how they name the record.

use docket_kit::{
    audit::{self, HistoryPage},
    auth::caller,
    error::FieldViolations,
    mutation::Record,
};
use docket_proto::{case::v1::ListHistoryResponse, notification::v1 as pb};
use tonic::{Request, Response, Status};

use super::templates::event_type;
use crate::{
    domain::ContactId,
    error::Error,
    store::{
        Store,
        opt_outs::OptOutRecord,
        settings::{SETTINGS_ID, SettingsRecord},
        templates::TemplateRecord,
    },
};

/// A ListXHistory request: which record's trail, and which page of it.
pub trait HistoryRequest {
    /// The record type of the trail's rows.
    const KIND: &'static str;

    /// The record's id (checked into `violations`), the page size and the
    /// page token.
    fn parts(&self, violations: &mut FieldViolations) -> (String, i32, &str);
}

impl HistoryRequest for pb::ListSettingsHistoryRequest {
    const KIND: &'static str = SettingsRecord::KIND;

    fn parts(&self, _: &mut FieldViolations) -> (String, i32, &str) {
        (SETTINGS_ID.to_owned(), self.page_size, &self.page_token)
    }
}

impl HistoryRequest for pb::ListTemplateHistoryRequest {
    const KIND: &'static str = TemplateRecord::KIND;

    fn parts(&self, violations: &mut FieldViolations) -> (String, i32, &str) {
        (event_type(violations, "event_type", &self.event_type), self.page_size, &self.page_token)
    }
}

impl HistoryRequest for pb::ListContactOptOutHistoryRequest {
    const KIND: &'static str = OptOutRecord::KIND;

    fn parts(&self, violations: &mut FieldViolations) -> (String, i32, &str) {
        (violations.id::<ContactId>("contact_id", &self.contact_id).to_string(), self.page_size, &self.page_token)
    }
}

/// Any role may read a trail.
pub async fn list<R: HistoryRequest>(store: &Store, request: Request<R>) -> Result<Response<ListHistoryResponse>, Status> {
    caller(&request)?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let (id, page_size, page_token) = request.parts(&mut violations);
    let page = HistoryPage::parse(&mut violations, page_size, page_token);
    violations.into_result()?;
    Ok(Response::new(audit::history(store.connection(), &[R::KIND], &id, page).await.map_err(Error::from)?))
}
