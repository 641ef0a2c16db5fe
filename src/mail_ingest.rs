//! `docket mail ingest`, as an MTA's pipe transport runs it: one message
//! from standard input, handed to the notification service.
//!
//! The exit status is all the MTA acts on (sysexits.h): 0, taken; 65
//! (EX_DATAERR), a message that can never be accepted, which the MTA
//! bounces; 75 (EX_TEMPFAIL), anything that may pass (the service down or
//! restarting, a timeout, a cut connection, a refused token while an
//! operator fixes it), which the MTA keeps queued and retries. Nothing else
//! is ever returned: Postfix bounces on any other non-zero status. What is
//! printed may reach the sender inside a bounce, so it never carries an
//! internal address or error chain; the detail goes to standard error only
//! when a person runs the command at a terminal.

use std::io::{IsTerminal, Read};

use docket_proto::notification::v1::{
    IngestEmailRequest, ingest_email_response::Outcome, notification_service_client::NotificationServiceClient,
};
use tonic::Code;

/// The message can never be accepted: bounce it.
pub const EX_DATAERR: i32 = 65;
/// Try again later: keep it queued.
pub const EX_TEMPFAIL: i32 = 75;

/// Why a message was not taken: the exit status, what the sender may see,
/// and the detail for a person at a terminal.
#[derive(Debug)]
pub struct NotTaken {
    pub exit_code: i32,
    pub public: &'static str,
    pub detail: String,
}

impl NotTaken {
    fn later(detail: impl Into<String>) -> Self {
        Self {
            exit_code: EX_TEMPFAIL,
            public: "the support system cannot take this message right now; it will be retried",
            detail: detail.into(),
        }
    }

    fn never(public: &'static str, detail: impl Into<String>) -> Self {
        Self { exit_code: EX_DATAERR, public, detail: detail.into() }
    }
}

/// How the service's refusal is taken: a message it finds invalid is
/// invalid for good; every other code may pass.
pub fn refusal(status: &tonic::Status) -> NotTaken {
    let detail = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::InvalidArgument => NotTaken::never("the message is not a readable email", detail),
        _ => NotTaken::later(detail),
    }
}

/// Reads a message from standard input and hands it to the notification
/// service at `server`; the line to print when it was taken.
pub async fn ingest(server: &str, token: &str) -> Result<String, NotTaken> {
    let max = docket_notification::grpc::MAX_EMAIL_BYTES;
    let mut raw = Vec::new();
    std::io::stdin()
        .take(max as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|err| NotTaken::later(format!("reading the message from standard input: {err}")))?;
    if raw.len() > max {
        return Err(NotTaken::never("the message is too large", format!("larger than {max} bytes")));
    }
    let endpoint = tonic::transport::Endpoint::from_shared(server.to_owned())
        .map_err(|err| NotTaken::later(format!("--server {server}: {err}")))?
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120));
    let channel = endpoint.connect().await.map_err(|err| NotTaken::later(format!("connecting to {server}: {err:#}")))?;
    let bearer: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().map_err(|_| NotTaken::later("--token is not a valid header value"))?;
    let mut client = NotificationServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", bearer.clone());
        Ok(request)
    })
    .max_encoding_message_size(max + 64 * 1024);
    let answer =
        client.ingest_email(IngestEmailRequest { raw_message: raw }).await.map_err(|status| refusal(&status))?.into_inner();
    Ok(match Outcome::try_from(answer.outcome) {
        Ok(Outcome::AddedToCase) => format!("added to case {}", answer.case_number),
        Ok(Outcome::CreatedCase) if answer.reason.is_empty() => format!("created case {}", answer.case_number),
        Ok(Outcome::CreatedCase) => format!("created case {} ({})", answer.case_number, answer.reason),
        Ok(Outcome::Ignored) => format!("ignored: {}", answer.reason),
        _ => "done".to_owned(),
    })
}

/// Runs `ingest` and exits as the MTA needs.
pub async fn run(server: &str, token: &str) -> ! {
    match ingest(server, token).await {
        Ok(line) => {
            println!("{line}");
            std::process::exit(0)
        }
        Err(not_taken) => exit(not_taken),
    }
}

/// Says why a message was not taken, as much as the reader may see, and exits.
pub fn exit(not_taken: NotTaken) -> ! {
    eprintln!("docket mail ingest: {}", not_taken.public);
    if std::io::stderr().is_terminal() {
        eprintln!("  detail: {}", not_taken.detail);
    }
    std::process::exit(not_taken.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_invalid_message_is_bounced() {
        assert_eq!(refusal(&tonic::Status::invalid_argument("raw_message: not an email")).exit_code, EX_DATAERR);
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Cancelled,
            Code::Internal,
            Code::Unknown,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::Aborted,
            Code::FailedPrecondition,
        ] {
            let not_taken = refusal(&tonic::Status::new(code, "http://10.0.0.5:50051 refused"));
            assert_eq!(not_taken.exit_code, EX_TEMPFAIL, "{code:?}");
            assert!(!not_taken.public.contains("10.0.0.5"), "{code:?}");
        }
    }
}
