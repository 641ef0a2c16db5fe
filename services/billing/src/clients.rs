//! gRPC clients of the case service, as the billing service calls it: to
//! check accounts, cases and staff users, and to print work orders.

use docket_kit::settings::InvalidSetting;
use docket_proto::case::v1 as pb;
use tonic::Code;

use crate::error::Error;

/// The kit's case-service clients, with what billing asks of them.
#[derive(Clone)]
pub struct CaseClients(docket_kit::clients::CaseClients);

impl CaseClients {
    pub fn new(url: &str, token: &str) -> Result<Self, InvalidSetting> {
        Ok(Self(docket_kit::clients::CaseClients::new("billing", url, token)?))
    }

    /// The case, or a field error on `field` when there is none.
    pub async fn case(&self, field: &str, id: &str) -> Result<pb::Case, Error> {
        let request = pb::GetCaseRequest { lookup: Some(pb::get_case_request::Lookup::Id(id.to_owned())) };
        match self.0.cases.clone().get_case(request).await {
            Ok(case) => Ok(case.into_inner()),
            Err(status) => Err(refused(status, field, &format!("no case {id} exists"))),
        }
    }

    pub async fn account(&self, field: &str, id: &str) -> Result<pb::Account, Error> {
        match self.0.accounts.clone().get_account(pb::GetAccountRequest { id: id.to_owned() }).await {
            Ok(account) => Ok(account.into_inner()),
            Err(status) => Err(refused(status, field, &format!("no account {id} exists"))),
        }
    }

    pub async fn staff_user(&self, field: &str, id: &str) -> Result<pb::StaffUser, Error> {
        match self.0.staff.clone().get_staff_user(pb::GetStaffUserRequest { id: id.to_owned() }).await {
            Ok(user) => Ok(user.into_inner()),
            Err(status) => Err(refused(status, field, &format!("no staff user {id} exists"))),
        }
    }

    pub async fn contact(&self, id: &str) -> Result<Option<pb::Contact>, Error> {
        let request = pb::GetContactRequest { lookup: Some(pb::get_contact_request::Lookup::Id(id.to_owned())) };
        match self.0.contacts.clone().get_contact(request).await {
            Ok(contact) => Ok(Some(contact.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(refused(status, "contact_id", "")),
        }
    }
}

/// NOT_FOUND of a referenced record is the caller's bad input; anything
/// else means the case service could not answer.
fn refused(status: tonic::Status, field: &str, missing: &str) -> Error {
    match status.code() {
        Code::NotFound | Code::InvalidArgument => Error::field(field, missing),
        _ => {
            tracing::warn!(code = ?status.code(), message = status.message(), "the case service did not answer");
            Error::Unavailable(format!("the case service is unavailable ({}); retry later", status.message()))
        }
    }
}
