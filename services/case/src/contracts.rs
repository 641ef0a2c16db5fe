//! Checking a case's service contract with the billing service: whether it
//! covers the case (right account, active, in its term, the asset listed),
//! and which contract covers a case that names none.

use docket_kit::{
    clients::{self, Authed},
    error::FieldViolations,
    settings::InvalidSetting,
};
use docket_proto::billing::v1::{self as pb, contract_service_client::ContractServiceClient};

use tonic_types::StatusExt;

use crate::error::Error;

/// The contract that covers a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub contract_id: String,
    pub contract_number: String,
}

/// The billing service's entitlement check, or none when not configured.
#[derive(Clone, Default)]
pub struct ContractChecks {
    client: Option<ContractServiceClient<Authed>>,
}

impl ContractChecks {
    /// Checks against the billing service at `url`; an empty URL turns checks off.
    pub fn new(url: &str, token: &str) -> Result<Self, InvalidSetting> {
        if url.trim().is_empty() {
            return Ok(Self::default());
        }
        let channel = clients::connect("case", "billing_service_url", url.trim(), token)?;
        Ok(Self { client: Some(ContractServiceClient::new(channel)) })
    }

    /// Checks are off: contract references are kept as given.
    pub fn off() -> Self {
        Self::default()
    }

    /// The contract that covers a case of `account_id` for the asset
    /// `serial`. A named contract (id or number) that does not cover it is
    /// bad input on that field; with none named, `Ok(None)` when nothing
    /// covers it. `Ok(None)` too when checks are off.
    pub async fn cover(
        &self,
        account_id: &str,
        contract_id: &str,
        contract_number: &str,
        serial: &str,
    ) -> Result<Option<Coverage>, Error> {
        let Some(client) = &self.client else { return Ok(None) };
        let named = !contract_id.is_empty() || !contract_number.is_empty();
        let request = pb::CheckEntitlementRequest {
            account_id: account_id.to_owned(),
            // The id wins when both are given: the number is then checked against it below.
            contract_id: contract_id.to_owned(),
            contract_number: if contract_id.is_empty() { contract_number.to_owned() } else { String::new() },
            asset_serial_number: serial.to_owned(),
            at: None,
        };
        let answer = match client.clone().check_entitlement(request).await {
            Ok(answer) => answer.into_inner(),
            Err(status) if named && status.code() == tonic::Code::InvalidArgument => {
                // The billing service refused the reference itself (say, a
                // malformed contract number): bad input, not an outage.
                return Err(Error::Invalid(case_violations(&status)));
            }
            Err(status) if !named => {
                // Attaching a contract is a convenience; the case is created without one.
                tracing::warn!(code = ?status.code(), message = status.message(), "billing service unavailable: case created without a contract");
                return Ok(None);
            }
            Err(status) => {
                return Err(Error::Unavailable(format!(
                    "the billing service could not check the service contract ({}); retry later",
                    status.message()
                )));
            }
        };
        let field = if contract_id.is_empty() { "case.service_contract_number" } else { "case.service_contract_id" };
        match answer.contract {
            Some(contract) if answer.covered => {
                if !contract_id.is_empty() && !contract_number.is_empty() && contract.contract_number != contract_number {
                    return Err(Error::field(
                        "case.service_contract_number",
                        format!("does not match the contract's number {}", contract.contract_number),
                    ));
                }
                Ok(Some(Coverage { contract_id: contract.id, contract_number: contract.contract_number }))
            }
            _ if named => Err(Error::field(field, answer.reason)),
            _ => Ok(None),
        }
    }
}

/// The billing service's violations of an entitlement check, named by the
/// case fields they came from.
fn case_violations(status: &tonic::Status) -> FieldViolations {
    let mut violations = FieldViolations::new();
    for violation in status.get_error_details().bad_request().map(|b| b.field_violations.clone()).unwrap_or_default() {
        let field = match violation.field.as_str() {
            "contract_id" => "case.service_contract_id",
            "contract_number" => "case.service_contract_number",
            "asset_serial_number" => "case.asset_serial_number",
            "account_id" => "case.account_id",
            _ => "case.service_contract_number",
        };
        violations.add(field, violation.description);
    }
    if violations.is_empty() {
        violations.add("case.service_contract_number", status.message());
    }
    violations
}
