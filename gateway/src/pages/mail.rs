//! `/dev/mail`: the dev mailbox (only under `docket dev`). Lists the emails
//! the notification service wrote as `.eml` files into
//! `notification.mailbox_dir`, newest first, and shows one with its headers
//! and text, links clickable — so a newcomer can follow an invitation link
//! without an SMTP server.

use std::{path::Path, sync::Arc};

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Path as UrlPath, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mail_parser::{Address, Message, MessageParser};

use super::{Branding, ErrorPage};
use crate::GatewayState;

/// The most emails the list shows.
const LIST_MAX: usize = 200;

/// One email in the list.
struct Summary {
    /// The file name: the link to the email.
    name: String,
    date: String,
    from: String,
    to: String,
    subject: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "mail_list.html")]
struct MailList {
    brand: Arc<Branding>,
    emails: Vec<Summary>,
    total: usize,
}

/// A piece of an email's text: plain text, or a link to show as one.
enum Piece {
    Text(String),
    Link(String),
}

#[derive(Template, WebTemplate)]
#[template(path = "mail_show.html")]
struct MailShow {
    brand: Arc<Branding>,
    subject: String,
    /// The headers people look at, decoded.
    fields: Vec<(&'static str, String)>,
    /// Every header as it was written.
    raw_headers: Vec<(String, String)>,
    body: Vec<Piece>,
}

/// The `.eml` file names in the mailbox, newest first. File names start
/// with the time they were written, so the name order is the time order.
async fn eml_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        // Nothing was sent yet.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(err) => return Err(err),
    };
    while let Some(entry) = entries.next_entry().await? {
        if let Some(name) = entry.file_name().to_str()
            && name.ends_with(".eml")
        {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable_by(|a, b| b.cmp(a));
    Ok(names)
}

fn addresses(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else { return String::new() };
    address
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            (None, Some(email)) => email.to_owned(),
            (Some(name), None) => name.to_owned(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn date(message: &Message<'_>) -> String {
    message.date().map(|d| d.to_rfc3339()).unwrap_or_default()
}

fn unreadable(state: &GatewayState, dir: &Path, err: &std::io::Error) -> Response {
    tracing::error!(dir = %dir.display(), error = %err, "reading the dev mailbox");
    ErrorPage::response(state, StatusCode::INTERNAL_SERVER_ERROR, "The dev mailbox could not be read (see the log).")
}

/// `GET /dev/mail`.
pub async fn list(State(state): State<GatewayState>) -> Response {
    // The routes exist only with a mailbox.
    let Some(dir) = state.dev_mailbox.as_deref() else {
        return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no dev mailbox.");
    };
    let names = match eml_names(dir).await {
        Ok(names) => names,
        Err(err) => return unreadable(&state, dir, &err),
    };
    let total = names.len();
    let mut emails = Vec::new();
    for name in names.into_iter().take(LIST_MAX) {
        // A file may vanish between listing and reading: skip it.
        let Ok(raw) = tokio::fs::read(dir.join(&name)).await else { continue };
        let summary = match MessageParser::default().parse(&raw) {
            Some(message) => Summary {
                date: date(&message),
                from: addresses(message.from()),
                to: addresses(message.to()),
                subject: message.subject().unwrap_or("(no subject)").to_owned(),
                name,
            },
            None => Summary {
                subject: "(not a readable email)".to_owned(),
                date: String::new(),
                from: String::new(),
                to: String::new(),
                name,
            },
        };
        emails.push(summary);
    }
    MailList { brand: state.branding.clone(), emails, total }.into_response()
}

/// `GET /dev/mail/{name}`: one email. Only names the mailbox lists are
/// opened, so no path can reach outside it.
pub async fn show(State(state): State<GatewayState>, UrlPath(name): UrlPath<String>) -> Response {
    // The routes exist only with a mailbox.
    let Some(dir) = state.dev_mailbox.as_deref() else {
        return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no dev mailbox.");
    };
    let names = match eml_names(dir).await {
        Ok(names) => names,
        Err(err) => return unreadable(&state, dir, &err),
    };
    if !names.contains(&name) {
        return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no such email in the dev mailbox.");
    }
    let raw = match tokio::fs::read(dir.join(&name)).await {
        Ok(raw) => raw,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return ErrorPage::response(&state, StatusCode::NOT_FOUND, "There is no such email in the dev mailbox.");
        }
        Err(err) => return unreadable(&state, dir, &err),
    };
    let Some(message) = MessageParser::default().parse(&raw) else {
        return ErrorPage::response(&state, StatusCode::UNPROCESSABLE_ENTITY, "This file is not a readable email.");
    };
    let mut fields = vec![
        ("From", addresses(message.from())),
        ("To", addresses(message.to())),
        ("Cc", addresses(message.cc())),
        ("Date", date(&message)),
        ("Message-ID", message.message_id().unwrap_or_default().to_owned()),
        ("In-Reply-To", message.header_raw("In-Reply-To").unwrap_or_default().trim().to_owned()),
    ];
    fields.retain(|(_, value)| !value.is_empty());
    let raw_headers = message.headers_raw().map(|(name, value)| (name.to_owned(), value.trim().to_owned())).collect();
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    MailShow {
        brand: state.branding.clone(),
        subject: message.subject().unwrap_or("(no subject)").to_owned(),
        fields,
        raw_headers,
        body: linkify(&text),
    }
    .into_response()
}

/// Splits text into plain pieces and `http(s)://` links. A link ends at
/// white space or a character that cannot end a URL in prose (`>`, `"`,
/// a closing bracket or trailing punctuation).
fn linkify(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = find_link(rest) {
        let (before, from_link) = rest.split_at(start);
        let end = from_link.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'')).unwrap_or(from_link.len());
        let mut link = &from_link[..end];
        while let Some(trimmed) = link.strip_suffix(['.', ',', ';', ':', ')', ']', '!', '?']) {
            link = trimmed;
        }
        if !before.is_empty() {
            pieces.push(Piece::Text(before.to_owned()));
        }
        pieces.push(Piece::Link(link.to_owned()));
        rest = &from_link[link.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    pieces
}

/// Where the next link starts: `https://` or `http://` followed by more.
fn find_link(text: &str) -> Option<usize> {
    let https = text.find("https://");
    let http = text.find("http://");
    let start = match (https, http) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let scheme_len = if text[start..].starts_with("https://") { 8 } else { 7 };
    let after = &text[start + scheme_len..];
    if after.starts_with(|c: char| c.is_whitespace()) || after.is_empty() {
        // A bare scheme is no link; look past it.
        let next = find_link(after)?;
        return Some(start + scheme_len + next);
    }
    Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(pieces: &[Piece]) -> Vec<String> {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => format!("T:{t}"),
                Piece::Link(l) => format!("L:{l}"),
            })
            .collect()
    }

    #[test]
    fn links_are_found_in_prose() {
        let text = "Set your password: https://portal.example/invite?t=abc.\nOr see (http://x.example/a).";
        assert_eq!(
            render(&linkify(text)),
            ["T:Set your password: ", "L:https://portal.example/invite?t=abc", "T:.\nOr see (", "L:http://x.example/a", "T:).",]
        );
        assert_eq!(render(&linkify("no links here")), ["T:no links here"]);
        assert_eq!(render(&linkify("bare https:// scheme")), ["T:bare https:// scheme"]);
        assert_eq!(
            render(&linkify("javascript:alert(1) <https://a.example>")),
            ["T:javascript:alert(1) <", "L:https://a.example", "T:>"]
        );
    }
}
