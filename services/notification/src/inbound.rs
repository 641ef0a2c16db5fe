//! Email-to-case: turns one raw RFC 5322 message (from an MTA pipe or
//! `IngestEmail`) into an inbound email activity on the case it answers, or
//! into a new case for its sender.
//!
//! The steps:
//! 1. Read the message: too large, empty, unparseable or without a usable
//!    From address is [`IngestError::Malformed`]; nothing is created.
//! 2. Drop what must never become a case: auto-replies, bulk mail, bounces
//!    (DSNs) and mail from our own sender addresses (a loop) are
//!    [`IngestOutcome::Ignored`].
//! 3. Find the case: a `[C-000123]` tag in the subject, else a
//!    `<case.{case_id}@host>` Message-ID in In-Reply-To or References (the
//!    notification service's own emails carry one).
//! 4. Decide whether the email may join that case's thread: only when its
//!    From is a contact of the case or a staff user, and no trusted
//!    `Authentication-Results` says the From is forged. This is decided
//!    before any contact is found or created for the sender, since creating
//!    one (under "Unassigned") must not make a stranger one of the case's
//!    people.
//! 5. Add the email to the case as a public inbound email activity; or else
//!    find the sender's contact by email, or create it under the
//!    "Unassigned" account (created on first need), and create a case
//!    (channel email) with the email as its first activity (and, when the
//!    email was refused a thread, an internal note saying why). Mail that is
//!    refused a thread thus never reaches the case's people.
//!
//! Every create carries an idempotency key derived from the Message-ID (or,
//! without one, from a hash of the raw bytes), so a message delivered twice
//! adds one activity and creates one case.

use docket_kit::{
    clients::{FoundContact, Person, UNCONFIRMED_TAG},
    error::is_email_address,
};
use docket_proto::case::v1::{self as pb, get_case_request};
use mail_parser::{MessageParser, MimeHeaders};
use tonic::{Code, Status};

use crate::{clients::CaseClients, domain::authentication};

/// Larger messages are refused as malformed (10 MiB).
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Limits of the case service (see its `domain::commands`).
const SUBJECT_MAX: usize = 250;
const BODY_MAX: usize = 20_000;
const NAME_MAX: usize = 200;
const KEY_MAX: usize = 200;
const RECIPIENTS_MAX: usize = 50;
const EMAIL_MAX: usize = 254;
/// The recipient recorded when the message names none of its own (e.g. only
/// Bcc) and no own address is configured. The case service only accepts
/// addresses whose domain has a dot, so `support@localhost` would be refused.
const FALLBACK_RECIPIENT: &str = "support@localhost.localdomain";
/// The case type of cases opened by email.
const NEW_CASE_TYPE: &str = "service_request";
const NO_SUBJECT: &str = "(no subject)";

/// How inbound email is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSettings {
    /// The account that unknown senders' contacts are created under; found
    /// by exact name, created when missing.
    pub unassigned_account_name: String,
    /// Our own sender addresses: mail from them is a loop and is ignored.
    pub own_addresses: Vec<String>,
    /// The authserv-ids of our own MTA: only `Authentication-Results`
    /// fields with one of them are read (anyone can write the others).
    /// Empty: none are read.
    pub trusted_authserv_ids: Vec<String>,
}

impl Default for InboundSettings {
    fn default() -> Self {
        Self { unassigned_account_name: "Unassigned".to_owned(), own_addresses: Vec::new(), trusted_authserv_ids: Vec::new() }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Added as an email activity to an existing case.
    AddedToCase { case_id: String, case_number: String, activity_id: String },
    /// A new case was created for the sender (with the email as its first
    /// activity); `reason` says why, when the email answered a case it was
    /// not let into.
    CreatedCase { case_id: String, case_number: String, reason: Option<String> },
    /// An auto-reply, bounce or loop: nothing was created.
    Ignored { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The message cannot be used; nothing was created.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The case service refused a call or could not be reached.
    #[error("the case service failed ({:?}): {}", .0.code(), .0.message())]
    CaseService(#[source] Status),
}

impl From<Status> for IngestError {
    fn from(status: Status) -> Self {
        IngestError::CaseService(status)
    }
}

/// Ingests one raw message: see the module documentation.
pub async fn ingest(raw: &[u8], clients: &CaseClients, settings: &InboundSettings) -> Result<IngestOutcome, IngestError> {
    let email = match read(raw, settings)? {
        Read::Ignored(reason) => {
            tracing::info!(%reason, "inbound email ignored");
            return Ok(IngestOutcome::Ignored { reason });
        }
        Read::Email(email) => email,
    };
    let activity = |case_id: &str| email_activity(case_id, &email, settings);

    // Only the case's own people may add to it: anyone else naming a case
    // number (they are easy to guess) opens a case of their own instead of
    // posting a public update that would be emailed to the case's contacts.
    let mut reason = None;
    if let Some(case) = find_case(clients, &email).await? {
        match refusal(clients, &case, &email).await? {
            None => {
                let added = add_activity(clients, &activity(&case.id), &email.keys("email")).await?;
                tracing::info!(case = %case.case_number, activity = %added.id, "inbound email added to case");
                return Ok(IngestOutcome::AddedToCase { case_id: case.id, case_number: case.case_number, activity_id: added.id });
            }
            Some(why) => {
                tracing::warn!(case = %case.case_number, reason = %why, "inbound email not let into the case's thread");
                reason = Some(why);
            }
        }
    }

    let found = find_or_create_contact(clients, settings, &email).await?;
    // A sender our MTA says is not who the From claims must not plant a
    // case among that person's cases (nor have us email them about it):
    // the case waits in the unassigned account with no contact, tagged,
    // for an agent, as a web form naming a known address does.
    let (account_id, contacts, tags) = if email.unauthenticated.is_some() {
        (found.unassigned_account_id.clone(), Vec::new(), vec![UNCONFIRMED_TAG.to_owned()])
    } else {
        let contact = &found.contact;
        (contact.account_id.clone(), vec![pb::CaseContact { contact_id: contact.id.clone(), primary: true }], Vec::new())
    };
    let new_case = pb::Case {
        subject: if email.subject.is_empty() { NO_SUBJECT.to_owned() } else { email.subject.clone() },
        description: email.body.clone(),
        type_id: NEW_CASE_TYPE.to_owned(),
        priority: pb::CasePriority::Medium as i32,
        channel: pb::CaseChannel::Email as i32,
        account_id,
        contacts,
        tags,
        ..Default::default()
    };
    let created = with_key_fallback(&email.keys("email"), |key| {
        let mut cases = clients.cases.clone();
        let request = pb::CreateCaseRequest { case: Some(new_case.clone()), idempotency_key: key, sender: None };
        async move { cases.create_case(request).await.map(tonic::Response::into_inner) }
    })
    .await?;
    let first = add_activity(clients, &activity(&created.id), &email.keys("email-activity")).await?;
    let held = email.unauthenticated.as_ref().map(|why| {
        format!(
            "The sender's address ({}) is not authenticated: {why}. So this case waits here, outside the account of \
             whoever owns that address, and nobody is emailed about it. If the email is genuine, set the case's \
             account and contact and remove the tag {UNCONFIRMED_TAG}.",
            email.sender
        )
    });
    let threaded = reason.as_ref().map(|why| format!("Opened as a new case: this email answered another case, but {why}."));
    let notes: Vec<String> = threaded.into_iter().chain(held).collect();
    if !notes.is_empty() {
        // Tells the agents why; internal, so no customer hears of it.
        let note = pb::Activity {
            case_id: created.id.clone(),
            kind: pb::ActivityKind::Note as i32,
            visibility: pb::Visibility::Internal as i32,
            body: notes.join("\n\n"),
            ..Default::default()
        };
        add_activity(clients, &note, &email.keys("email-refused")).await?;
    }
    tracing::info!(case = %created.case_number, activity = %first.id, "inbound email created a case");
    Ok(IngestOutcome::CreatedCase { case_id: created.id, case_number: created.case_number, reason })
}

/// A message worth turning into a case or activity, cleaned to what the case
/// service accepts.
#[derive(Debug, Clone)]
struct Email {
    /// The From address, as written.
    sender: String,
    /// The From display name, or the address's local part.
    sender_name: String,
    /// The To addresses that are usable (at most 50); may be empty.
    to: Vec<String>,
    /// Single line, at most 250 characters; may be empty.
    subject: String,
    /// Plain text, at most 20,000 characters; may be empty.
    body: String,
    /// The Message-ID without its angle brackets.
    message_id: Option<String>,
    /// In-Reply-To, then References newest first.
    references: Vec<String>,
    /// FNV-1a 64 of the raw bytes.
    raw_hash: u64,
    /// Why a trusted MTA's `Authentication-Results` say the From is not
    /// authenticated, if they do.
    unauthenticated: Option<String>,
}

enum Read {
    Email(Email),
    Ignored(String),
}

/// Idempotency keys for one create: the first to try, and the one to use if
/// the first was already taken by a different request (another message with
/// the same Message-ID).
struct Keys {
    primary: String,
    fallback: Option<String>,
}

impl Email {
    fn keys(&self, prefix: &str) -> Keys {
        let raw = format!("{prefix}:raw:{:016x}", self.raw_hash);
        match &self.message_id {
            Some(id) => {
                let key = format!("{prefix}:{id}");
                let primary =
                    if key.chars().count() <= KEY_MAX { key } else { format!("{prefix}:id:{:016x}", fnv1a(id.as_bytes())) };
                Keys { primary, fallback: Some(raw) }
            }
            None => Keys { primary: raw, fallback: None },
        }
    }
}

/// Parses and screens a raw message.
fn read(raw: &[u8], settings: &InboundSettings) -> Result<Read, IngestError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(IngestError::Malformed(format!(
            "the message is {} bytes; the most accepted is {MAX_MESSAGE_BYTES} (10 MiB)",
            raw.len()
        )));
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Malformed("the message is empty".to_owned()));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| IngestError::Malformed("not an RFC 5322 message: it could not be parsed".to_owned()))?;
    if message.headers().is_empty() {
        return Err(IngestError::Malformed("not an RFC 5322 message: it has no header fields".to_owned()));
    }

    // Raw header values, unfolded; the name compared case-insensitively.
    let headers: Vec<(String, String)> = message.headers_raw().map(|(name, value)| (name.to_owned(), unfold(value))).collect();
    if let Some(reason) = automatic(&headers, message.is_content_type("multipart", "report")) {
        return Ok(Read::Ignored(reason));
    }

    let from = message
        .from()
        .and_then(|from| from.iter().find(|addr| addr.address.as_deref().is_some_and(|a| !a.trim().is_empty())))
        .ok_or_else(|| IngestError::Malformed("the message has no From address".to_owned()))?;
    let sender = from.address.as_deref().unwrap_or_default().trim().to_owned();
    if !is_email(&sender) {
        return Err(IngestError::Malformed(format!(
            "the From address `{}` is not a usable email address",
            sender.chars().take(64).collect::<String>()
        )));
    }
    let (local, _) = sender.split_once('@').unwrap_or((sender.as_str(), ""));
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return Ok(Read::Ignored(format!("a bounce: the message is from {sender}")));
    }
    if settings.own_addresses.iter().any(|own| own.trim().eq_ignore_ascii_case(&sender)) {
        return Ok(Read::Ignored(format!("a loop: the message is from our own address {sender}")));
    }

    let sender_name = {
        let name = from.name.as_deref().map(one_line).unwrap_or_default();
        let name = name.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
        let name = if name.is_empty() || name.eq_ignore_ascii_case(&sender) { local } else { name };
        truncate(name, NAME_MAX).trim().to_owned()
    };

    let mut to: Vec<String> = Vec::new();
    for addr in message.all_to().flat_map(|address| address.iter()) {
        let Some(address) = addr.address.as_deref().map(str::trim) else { continue };
        if is_email(address) && !to.iter().any(|t| t.eq_ignore_ascii_case(address)) && to.len() < RECIPIENTS_MAX {
            to.push(address.to_owned());
        }
    }

    let subject = truncate(&one_line(message.subject().unwrap_or_default()), SUBJECT_MAX).trim().to_owned();
    let body = body_text(&message);
    let message_id = message.message_id().map(one_line).map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    let mut references = message_ids(message.in_reply_to());
    references.extend(message_ids(message.references()).into_iter().rev());

    let results: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value.as_str())
        .collect();
    let domain = sender.rsplit_once('@').map(|(_, domain)| domain).unwrap_or_default();
    let unauthenticated = authentication::failure(&results, &settings.trusted_authserv_ids, domain);

    Ok(Read::Email(Email {
        sender,
        sender_name,
        to,
        subject,
        body,
        message_id,
        references,
        raw_hash: fnv1a(raw),
        unauthenticated,
    }))
}

/// Why a message is automatic (and must not become a case), if it is.
fn automatic(headers: &[(String, String)], is_report: bool) -> Option<String> {
    let values = |wanted: &'static str| {
        headers.iter().filter(move |(name, _)| name.eq_ignore_ascii_case(wanted)).map(|(_, value)| value.as_str())
    };
    let first_token = |value: &str| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    for value in values("Auto-Submitted") {
        let token = first_token(value);
        if token != "no" {
            return Some(format!("an automatic message (Auto-Submitted: {})", shorten(value)));
        }
    }
    for value in values("Precedence") {
        if matches!(first_token(value).as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(format!("bulk or automatic mail (Precedence: {})", shorten(value)));
        }
    }
    for header in ["X-Autoreply", "X-Autorespond"] {
        if let Some(value) = values(header).next() {
            return Some(format!("an auto-reply ({header}: {})", shorten(value)));
        }
    }
    for value in values("X-Auto-Response-Suppress") {
        if value.split(',').any(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "all" | "oof" | "autoreply")) {
            return Some(format!("an auto-reply (X-Auto-Response-Suppress: {})", shorten(value)));
        }
    }
    if is_report {
        return Some("a delivery or read report (Content-Type: multipart/report)".to_owned());
    }
    for value in values("Return-Path") {
        if matches!(value.trim(), "" | "<>") {
            return Some("a bounce: the return path is empty (Return-Path: <>)".to_owned());
        }
    }
    None
}

/// The message's plain text: its text parts, with HTML-only parts turned
/// into text; cleaned and cut to what an activity holds.
fn body_text(message: &mail_parser::Message<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for i in 0..message.text_body_count() {
        // mail-parser converts an HTML part standing in for the text to text.
        if let Some(text) = message.body_text(i) {
            let text = text.trim();
            if !text.is_empty() {
                parts.push(text.to_owned());
            }
        }
    }
    if parts.is_empty() {
        for i in 0..message.html_body_count() {
            if let Some(html) = message.body_html(i) {
                let text = strip_tags(&html);
                if !text.trim().is_empty() {
                    parts.push(text.trim().to_owned());
                }
            }
        }
    }
    clean_body(&parts.join("\n\n"))
}

/// Crude HTML to text, for the rare HTML part mail-parser did not convert:
/// drops tags, style and script, turns line-breaking tags into newlines and
/// decodes the common entities.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(start) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..start]);
        }
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..end].trim().to_ascii_lowercase();
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        match skip_until {
            Some(closing) if tag.starts_with('/') && name == closing => skip_until = None,
            Some(_) => {}
            None if !tag.starts_with('/') && (name == "style" || name == "script" || name == "head") => {
                skip_until = Some(match name.as_str() {
                    "style" => "style",
                    "script" => "script",
                    _ => "head",
                });
            }
            None if matches!(name.as_str(), "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6") => {
                out.push('\n');
            }
            None => {}
        }
        rest = &after[end + 1..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Line ends as `\n`, no control characters but newline and tab, at most
/// two blank lines in a row, trimmed, at most [`BODY_MAX`] characters.
fn clean_body(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.chars() {
        if c == '\n' {
            newlines += 1;
            if newlines <= 2 {
                out.push(c);
            }
        } else if c == '\t' || !c.is_control() {
            newlines = 0;
            out.push(c);
        }
    }
    truncate(out.trim(), BODY_MAX).trim_end().to_owned()
}

/// A header value as one line: control characters become spaces, runs of
/// whitespace one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A raw header value without its line folding.
fn unfold(raw: &str) -> String {
    raw.replace("\r\n", "").replace('\n', "").trim().to_owned()
}

fn shorten(value: &str) -> String {
    truncate(&one_line(value), 80)
}

/// At most `max` characters.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The message ids of an In-Reply-To or References header, without brackets.
fn message_ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        mail_parser::HeaderValue::Text(id) => vec![id.as_ref()],
        mail_parser::HeaderValue::TextList(ids) => ids.iter().map(AsRef::as_ref).collect(),
        _ => Vec::new(),
    };
    list.into_iter().map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned()).collect()
}

/// The case id in a Docket Message-ID `case.{uuid}@host` (or `case.{uuid}.more@host`).
fn case_id_of_reference(id: &str) -> Option<String> {
    let (local, host) = id.split_once('@')?;
    if host.is_empty() {
        return None;
    }
    let prefix = local.get(..5)?;
    if !prefix.eq_ignore_ascii_case("case.") {
        return None;
    }
    let rest = &local[5..];
    let candidate = rest.split('.').next()?;
    uuid::Uuid::try_parse(candidate).ok().map(|id| id.to_string())
}

/// The case numbers tagged `[C-000123]` in a subject, in order.
fn case_numbers_in_subject(subject: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = subject;
    while let Some(start) = rest.find('[') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find(']') else { break };
        let tag = rest[..end].trim();
        if let Some(digits) = tag.strip_prefix("C-").or_else(|| tag.strip_prefix("c-"))
            && (1..=18).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && digits.parse::<i64>().is_ok_and(|n| n > 0)
        {
            let number = format!("C-{digits}");
            if !found.contains(&number) {
                found.push(number);
            }
        }
    }
    found
}

/// Whether the case service will take `value` as an email address: the
/// kit's rule it checks with, no longer than it stores, no control characters.
fn is_email(value: &str) -> bool {
    value.chars().count() <= EMAIL_MAX && !value.chars().any(char::is_control) && is_email_address(value)
}

/// FNV-1a, 64 bits: a stable hash (unlike `DefaultHasher`, the same across
/// builds and releases), for idempotency keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The case the message answers: its subject's case tag, else a Docket
/// Message-ID it replies to. Tags and references naming no case are skipped.
async fn find_case(clients: &CaseClients, email: &Email) -> Result<Option<pb::Case>, Status> {
    for number in case_numbers_in_subject(&email.subject) {
        if let Some(case) = get_case(clients, get_case_request::Lookup::CaseNumber(number)).await? {
            return Ok(Some(case));
        }
    }
    let mut tried: Vec<String> = Vec::new();
    for reference in &email.references {
        let Some(id) = case_id_of_reference(reference) else { continue };
        if tried.contains(&id) {
            continue;
        }
        if let Some(case) = get_case(clients, get_case_request::Lookup::Id(id.clone())).await? {
            return Ok(Some(case));
        }
        tried.push(id);
    }
    Ok(None)
}

async fn get_case(clients: &CaseClients, lookup: get_case_request::Lookup) -> Result<Option<pb::Case>, Status> {
    let mut cases = clients.cases.clone();
    match cases.get_case(pb::GetCaseRequest { lookup: Some(lookup) }).await {
        Ok(found) => Ok(Some(found.into_inner())),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}

/// Why the email may not join `case`'s thread, or `None` when it may: its
/// From must be one of the case's contacts or a staff user, and not be
/// shown forged by a trusted MTA. Finds, never creates.
async fn refusal(clients: &CaseClients, case: &pb::Case, email: &Email) -> Result<Option<String>, Status> {
    if let Some(why) = &email.unauthenticated {
        return Ok(Some(format!("the sender's address is not authenticated: {why}")));
    }
    if let Some(contact) = clients.contact_by_email(&email.sender).await?
        && case.contacts.iter().any(|c| c.contact_id == contact.id)
    {
        return Ok(None);
    }
    if clients.staff_by_email(&email.sender).await?.is_some() {
        return Ok(None);
    }
    Ok(Some(format!("the sender is not a contact of {}", case.case_number)))
}

/// The sender's contact; an unknown sender becomes a contact of the
/// unassigned account. An unauthenticated sender's answer names the
/// unassigned account too (its case waits there).
async fn find_or_create_contact(
    clients: &CaseClients,
    settings: &InboundSettings,
    email: &Email,
) -> Result<FoundContact, Status> {
    let sender = Person { email: email.sender.clone(), name: email.sender_name.clone(), phone: String::new() };
    clients.find_or_create_contact(&sender, None, &settings.unassigned_account_name, email.unauthenticated.is_some()).await
}

/// The email as a public inbound email activity of a case.
fn email_activity(case_id: &str, email: &Email, settings: &InboundSettings) -> pb::Activity {
    let to = if email.to.is_empty() {
        let own = settings.own_addresses.iter().map(|a| a.trim()).find(|a| is_email(a));
        vec![own.unwrap_or(FALLBACK_RECIPIENT).to_owned()]
    } else {
        email.to.clone()
    };
    pb::Activity {
        case_id: case_id.to_owned(),
        kind: pb::ActivityKind::Email as i32,
        visibility: pb::Visibility::Public as i32,
        body: email.body.clone(),
        email: Some(pb::EmailDetail {
            direction: pb::Direction::Inbound as i32,
            from: email.sender.clone(),
            to,
            subject: email.subject.clone(),
        }),
        ..Default::default()
    }
}

async fn add_activity(clients: &CaseClients, activity: &pb::Activity, keys: &Keys) -> Result<pb::Activity, Status> {
    with_key_fallback(keys, |key| {
        let mut cases = clients.cases.clone();
        let request = pb::AddActivityRequest { activity: Some(activity.clone()), idempotency_key: key };
        async move { cases.add_activity(request).await.map(tonic::Response::into_inner) }
    })
    .await
}

/// Calls `call` with the primary key; if the service says that key was used
/// with a different request (another message reusing a Message-ID), calls
/// it once more with the fallback key.
async fn with_key_fallback<T, F, Fut>(keys: &Keys, mut call: F) -> Result<T, Status>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    match call(keys.primary.clone()).await {
        Err(status) if docket_kit::idempotency::refused_as_reused(&status) => match &keys.fallback {
            Some(fallback) => {
                tracing::warn!(key = %keys.primary, "idempotency key taken by another message; using the raw message hash");
                call(fallback.clone()).await
            }
            None => Err(status),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_tags_are_found_in_subjects() {
        assert_eq!(case_numbers_in_subject("Re: [C-000123] Printer"), ["C-000123"]);
        assert_eq!(case_numbers_in_subject("[c-7] and [C-000008]"), ["C-7", "C-000008"]);
        assert!(case_numbers_in_subject("[C-] [C-000000] [X-1] [C-12a] no tag").is_empty());
    }

    #[test]
    fn docket_references_name_their_case() {
        let id = "0190f1c2-7a3b-7c4d-8e5f-0123456789ab";
        assert_eq!(case_id_of_reference(&format!("case.{id}@docket.example")).as_deref(), Some(id));
        assert_eq!(case_id_of_reference(&format!("case.{id}.42@docket.example")).as_deref(), Some(id));
        assert_eq!(case_id_of_reference(&format!("CASE.{id}@h.example")).as_deref(), Some(id));
        assert_eq!(case_id_of_reference("case.not-a-uuid@docket.example"), None);
        assert_eq!(case_id_of_reference(&format!("ticket.{id}@docket.example")), None);
        assert_eq!(case_id_of_reference(&format!("case.{id}")), None);
    }

    #[test]
    fn fnv1a_is_the_standard_one() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn html_is_stripped_to_text() {
        let text =
            strip_tags("<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p><br>x<script>1</script></body></html>");
        assert_eq!(clean_body(&text), "Hi & bye\n\nx");
    }

    #[test]
    fn bodies_are_cleaned_and_cut() {
        assert_eq!(clean_body("a\r\n\r\n\r\n\r\nb\u{0}c\t"), "a\n\nbc");
        assert_eq!(clean_body(&"x".repeat(BODY_MAX + 10)).chars().count(), BODY_MAX);
    }

    #[test]
    fn addresses_follow_the_case_service_rule() {
        assert!(is_email("ann@example.com"));
        assert!(!is_email("support@localhost"));
        assert!(!is_email("a b@example.com"));
        assert!(!is_email("@example.com"));
    }

    #[test]
    fn long_message_ids_are_hashed_into_keys() {
        let email = |message_id: Option<String>| Email {
            sender: String::new(),
            sender_name: String::new(),
            to: Vec::new(),
            subject: String::new(),
            body: String::new(),
            message_id,
            references: Vec::new(),
            raw_hash: 1,
            unauthenticated: None,
        };
        let keys = email(Some("abc@example.com".into())).keys("email");
        assert_eq!(keys.primary, "email:abc@example.com");
        assert_eq!(keys.fallback.as_deref(), Some("email:raw:0000000000000001"));
        let keys = email(Some("x".repeat(500))).keys("email");
        assert!(keys.primary.starts_with("email:id:") && keys.primary.len() <= KEY_MAX);
        let keys = email(None).keys("email-activity");
        assert_eq!(keys.primary, "email-activity:raw:0000000000000001");
        assert!(keys.fallback.is_none());
    }
}
