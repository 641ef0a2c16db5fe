//! `docket.portal.v1.PortalCaseService`: a customer's own cases. Every call
//! resolves the session to a [`Viewer`], reads what it touches from the case
//! service, and asks [`sight`] before showing or changing anything; a case
//! the viewer may not see answers exactly like a case that does not exist.
//! Changes go to the case service as the contact (`x-docket-on-behalf-of`).

use std::collections::HashMap;

use docket_kit::{
    auth::{act_for_contact, caller},
    clients::Authed,
    error::FieldViolations,
    page, time,
};
use docket_proto::{
    case::v1::{self as cpb, case_service_client::CaseServiceClient, get_case_request},
    portal::v1::{self as pb, portal_case_service_server::PortalCaseService},
};
use tonic::{Request, Response, Status};

use super::{Portal, REASON_MAX, case_service, priority_to_proto, require_service};
use crate::{
    config::PRIORITY_NAMES,
    domain::{
        CaseId,
        access::{Author, CaseParties, Sight, Viewer, author, may_reopen, reopen_until, sight},
        timeline::{self, Dated, Edge, Fetched, Item, TimelineCursor},
    },
    error::{Error, Result, internal},
};

/// Limits of the case service, in characters.
const SUBJECT_MAX: usize = 250;
const LONG_TEXT_MAX: usize = 20_000;
const SERIAL_MAX: usize = 100;
const TEXT_FILTER_MAX: usize = 200;

pub struct PortalCaseApi {
    portal: Portal,
}

impl PortalCaseApi {
    pub fn new(portal: Portal) -> Self {
        Self { portal }
    }
}

fn not_found(reference: &str) -> Error {
    Error::NotFound(format!("case {} not found", reference.chars().take(64).collect::<String>()))
}

fn parties(case: &cpb::Case) -> CaseParties<'_> {
    CaseParties { account_id: &case.account_id, contact_ids: case.contacts.iter().map(|c| c.contact_id.as_str()).collect() }
}

fn is_closed(status: i32) -> bool {
    matches!(cpb::CaseStatus::try_from(status), Ok(cpb::CaseStatus::ClosedComplete | cpb::CaseStatus::ClosedNoFault))
}

/// A case status as the audit trail writes it.
/// A status as the case service's audit trail keeps it: its machine key.
fn status_from_key(key: &str) -> cpb::CaseStatus {
    match key {
        "new" => cpb::CaseStatus::ActiveNew,
        "assigned" => cpb::CaseStatus::ActiveAssigned,
        "pending" => cpb::CaseStatus::Pending,
        "closed_complete" => cpb::CaseStatus::ClosedComplete,
        "closed_no_fault" => cpb::CaseStatus::ClosedNoFault,
        _ => cpb::CaseStatus::Unspecified,
    }
}

/// A request made for the viewer: the case service records the contact.
fn as_viewer<T>(viewer: &Viewer, message: T) -> Result<Request<T>> {
    let mut request = Request::new(message);
    act_for_contact(&mut request, &viewer.contact_id).map_err(|s| internal(s.message()))?;
    Ok(request)
}

/// Timeline items as the page merge sees them.
impl Dated for cpb::Activity {
    type Key = i64;
    fn at(&self) -> (i64, i32) {
        self.create_time.as_ref().map(|t| (t.seconds, t.nanos)).unwrap_or_default()
    }
    fn key(&self) -> i64 {
        self.sequence
    }
    fn size(&self) -> usize {
        let email = self.email.as_ref().map_or(0, |e| e.subject.len() + e.from.len());
        self.body.len() + email
    }
}

impl Dated for cpb::AuditEntry {
    type Key = String;
    fn at(&self) -> (i64, i32) {
        self.time.as_ref().map(|t| (t.seconds, t.nanos)).unwrap_or_default()
    }
    fn key(&self) -> String {
        self.id.clone()
    }
    fn size(&self) -> usize {
        0
    }
}

/// The case service's refusals of a page's bounds are the page token's.
const TIMELINE_FIELDS: &[(&str, &str)] = &[("before_sequence", "page_token"), ("before_id", "page_token")];

impl Portal {
    /// The customer's view of a case: no owner, team, tags, contract.
    fn portal_case(&self, case: cpb::Case, seen: Sight, type_names: &HashMap<String, String>) -> pb::PortalCase {
        let reopen = case
            .closed_time
            .as_ref()
            .and_then(time::from_proto)
            .filter(|closed| is_closed(case.status) && may_reopen(*closed, self.settings.reopen_window_days, time::now()))
            .map(|closed| time::to_proto(reopen_until(closed, self.settings.reopen_window_days)));
        pb::PortalCase {
            type_name: type_names.get(&case.type_id).cloned().unwrap_or_else(|| case.type_id.clone()),
            mine: seen == Sight::Own,
            reopen_until: reopen,
            id: case.id,
            case_number: case.case_number,
            subject: case.subject,
            description: case.description,
            type_id: case.type_id,
            priority: case.priority,
            status: case.status,
            asset_serial_number: case.asset_serial_number,
            resolution_summary: case.resolution_summary,
            create_time: case.create_time,
            update_time: case.update_time,
            closed_time: case.closed_time,
        }
    }

    /// The case service's catalogue of case types.
    pub(super) async fn case_types(&self, include_inactive: bool) -> Result<Vec<cpb::CaseType>> {
        let types = self
            .clients
            .cases
            .clone()
            .list_case_types(cpb::ListCaseTypesRequest { include_inactive })
            .await
            .map_err(|s| case_service(s, &[]))?;
        Ok(types.into_inner().case_types)
    }

    /// Case type names by id (inactive types too: old cases keep theirs).
    async fn type_names(&self) -> Result<HashMap<String, String>> {
        Ok(self.case_types(true).await?.into_iter().map(|t| (t.id, t.name)).collect())
    }

    /// A case the viewer may see, or NOT_FOUND as if it did not exist.
    async fn visible_case(&self, viewer: &Viewer, lookup: get_case_request::Lookup) -> Result<(cpb::Case, Sight)> {
        let reference = match &lookup {
            get_case_request::Lookup::Id(id) | get_case_request::Lookup::CaseNumber(id) => id.clone(),
        };
        let found = self.clients.cases.clone().get_case(cpb::GetCaseRequest { lookup: Some(lookup) }).await;
        let case = match found {
            Ok(case) => case.into_inner(),
            Err(status) if matches!(status.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument) => {
                return Err(not_found(&reference));
            }
            Err(status) => return Err(case_service(status, &[])),
        };
        match sight(viewer, &parties(&case)) {
            Some(seen) => Ok((case, seen)),
            None => {
                tracing::info!(contact = %viewer.contact_id, case = %case.case_number, "portal: a case of someone else was asked for");
                Err(not_found(&reference))
            }
        }
    }

    /// Up to `limit` public notes and emails of a case before `from`,
    /// newest first: one call of the case service.
    async fn recent_activities(&self, case_id: &str, from: &Edge<i64>, limit: u64) -> Result<Fetched<cpb::Activity>> {
        let before_sequence = match from {
            Edge::Done => return Ok(Fetched::done()),
            Edge::Newest => 0,
            Edge::Before(sequence) => *sequence,
        };
        let list = cpb::ListRecentActivitiesRequest {
            case_id: case_id.to_owned(),
            page_size: i32::try_from(limit).unwrap_or(50),
            page_token: String::new(),
            public_only: true,
            before_sequence,
        };
        let page = self
            .clients
            .cases
            .clone()
            .list_recent_activities(list)
            .await
            .map_err(|s| case_service(s, TIMELINE_FIELDS))?
            .into_inner();
        let last_read = page.activities.last().map(|a| a.sequence);
        let items = page
            .activities
            .into_iter()
            // Defence in depth: only public notes and emails, whatever the filter did.
            .filter(|a| a.visibility == cpb::Visibility::Public as i32)
            .filter(|a| a.kind == cpb::ActivityKind::Note as i32 || a.kind == cpb::ActivityKind::Email as i32)
            .collect();
        Ok(Fetched { from: from.clone(), items, last_read, more: !page.next_page_token.is_empty() })
    }

    /// Up to `limit` status changes of a case before `from`, newest first:
    /// one call of the case service.
    async fn recent_status_changes(&self, case_id: &str, from: &Edge<String>, limit: u64) -> Result<Fetched<cpb::AuditEntry>> {
        let before_id = match from {
            Edge::Done => return Ok(Fetched::done()),
            Edge::Newest => String::new(),
            Edge::Before(id) => id.clone(),
        };
        let list = cpb::ListCaseStatusChangesRequest {
            case_id: case_id.to_owned(),
            page_size: i32::try_from(limit).unwrap_or(50),
            page_token: String::new(),
            before_id,
        };
        let page = self
            .clients
            .cases
            .clone()
            .list_case_status_changes(list)
            .await
            .map_err(|s| case_service(s, TIMELINE_FIELDS))?
            .into_inner();
        let last_read = page.entries.last().map(|e| e.id.clone());
        Ok(Fetched { from: from.clone(), items: page.entries, last_read, more: !page.next_page_token.is_empty() })
    }

    /// Display names of the staff and contacts who wrote something.
    async fn author_names(&self, actors: impl Iterator<Item = Author>) -> Result<HashMap<String, String>> {
        let mut names = HashMap::new();
        for who in actors {
            let key = format!("{who:?}");
            if names.contains_key(&key) {
                continue;
            }
            let name = match &who {
                Author::Staff(id) => {
                    match self.clients.staff.clone().get_staff_user(cpb::GetStaffUserRequest { id: id.clone() }).await {
                        Ok(user) => user.into_inner().name,
                        Err(status) if status.code() == tonic::Code::NotFound => String::new(),
                        Err(status) => return Err(case_service(status, &[])),
                    }
                }
                Author::Contact(id) => self.contact(id).await?.map(|c| c.name).unwrap_or_default(),
                Author::System => String::new(),
            };
            names.insert(key, name);
        }
        Ok(names)
    }

    fn activity_entry(
        &self,
        viewer: &Viewer,
        viewer_email: &str,
        activity: cpb::Activity,
        names: &HashMap<String, String>,
    ) -> pb::TimelineEntry {
        let who = author(&activity.author);
        let email = activity.email.clone().unwrap_or_default();
        let inbound = email.direction == cpb::Direction::Inbound as i32;
        let is_email = activity.kind == cpb::ActivityKind::Email as i32;
        let from_customer = matches!(who, Author::Contact(_)) || (is_email && inbound);
        let by_me = match &who {
            Author::Contact(id) => *id == viewer.contact_id,
            _ => is_email && inbound && email.from.trim().eq_ignore_ascii_case(viewer_email),
        };
        let known = names.get(&format!("{who:?}")).filter(|n| !n.is_empty()).cloned();
        let author_name = match (&who, known) {
            (_, Some(name)) => name,
            _ if is_email && inbound => email.from.clone(),
            _ => "Support".to_owned(),
        };
        pb::TimelineEntry {
            id: activity.id,
            time: activity.create_time,
            kind: if is_email { pb::TimelineEntryKind::Email } else { pb::TimelineEntryKind::Comment } as i32,
            author_name,
            from_customer,
            by_me,
            body: activity.body,
            email_subject: if is_email { email.subject } else { String::new() },
            email_from: if is_email { email.from } else { String::new() },
            old_status: 0,
            new_status: 0,
        }
    }

    /// A page of the public timeline from `cursor`: public notes and emails
    /// (never internal notes or calls) and status changes, oldest first,
    /// and the token of the next (older) page. At most `limit` of each
    /// source are read, whatever the length of the case.
    async fn timeline(
        &self,
        viewer: &Viewer,
        viewer_email: &str,
        cursor: &TimelineCursor,
        limit: u64,
    ) -> Result<(Vec<pb::TimelineEntry>, String)> {
        let case_id = cursor.case.as_str();
        let activities = self.recent_activities(case_id, &cursor.activities, limit).await?;
        let changes = self.recent_status_changes(case_id, &cursor.changes, limit).await?;
        let page = timeline::page(case_id, activities, changes, usize::try_from(limit).unwrap_or(50), timeline::PAGE_BYTES);
        let names = self
            .author_names(page.items.iter().filter_map(|item| match item {
                Item::Activity(a) => Some(author(&a.author)),
                Item::Change(_) => None,
            }))
            .await?;
        let entries = page
            .items
            .into_iter()
            .map(|item| match item {
                Item::Activity(a) => self.activity_entry(viewer, viewer_email, a, &names),
                Item::Change(change) => pb::TimelineEntry {
                    id: change.id,
                    time: change.time,
                    kind: pb::TimelineEntryKind::StatusChange as i32,
                    author_name: String::new(),
                    from_customer: change.actor.starts_with("contact:"),
                    by_me: change.actor == format!("contact:{}", viewer.contact_id),
                    body: String::new(),
                    email_subject: String::new(),
                    email_from: String::new(),
                    old_status: status_from_key(&change.old_value) as i32,
                    new_status: status_from_key(&change.new_value) as i32,
                },
            })
            .collect();
        Ok((entries, page.next.map(|next| page::encode(&next)).unwrap_or_default()))
    }

    /// The case types a customer may choose: active, and in
    /// `portal.customer_case_types` when that is set.
    async fn customer_case_types(&self) -> Result<Vec<cpb::CaseType>> {
        let types = self
            .clients
            .cases
            .clone()
            .list_case_types(cpb::ListCaseTypesRequest { include_inactive: false })
            .await
            .map_err(|s| case_service(s, &[]))?
            .into_inner();
        let allowed = self.settings.case_types();
        Ok(types
            .case_types
            .into_iter()
            .filter(|t| t.active && (allowed.is_empty() || allowed.contains(&t.id.as_str())))
            .collect())
    }

    fn customer_priorities(&self) -> Vec<cpb::CasePriority> {
        let allowed = self.settings.priorities();
        PRIORITY_NAMES.iter().filter(|p| allowed.contains(p)).map(|p| priority_to_proto(p)).collect()
    }

    /// A change sent to the case service as the viewer, by `send` (e.g.
    /// `|mut cases, request| async move { cases.close_case(request).await }`).
    /// Bad fields it refuses are named as in the portal's request: `fields`
    /// pairs its names with ours.
    async fn change_as_viewer<T, R, F>(
        &self,
        viewer: &Viewer,
        message: T,
        fields: &[(&str, &str)],
        send: impl FnOnce(CaseServiceClient<Authed>, Request<T>) -> F,
    ) -> Result<R>
    where
        F: Future<Output = std::result::Result<Response<R>, Status>>,
    {
        let answer = send(self.clients.cases.clone(), as_viewer(viewer, message)?).await;
        Ok(answer.map_err(|s| case_service(s, fields))?.into_inner())
    }

    /// A case the viewer changed (`what` they did, for the log), as they see it.
    async fn changed_case(&self, viewer: &Viewer, case: cpb::Case, seen: Sight, what: &str) -> Result<pb::PortalCase> {
        tracing::info!(case = %case.case_number, contact = %viewer.contact_id, "portal: {what}");
        let type_names = self.type_names().await?;
        Ok(self.portal_case(case, seen, &type_names))
    }
}

fn session_id(violations: &mut FieldViolations, value: &str) -> String {
    violations.required_text("session_id", value, 100)
}

/// A customer's request as the gateway forwards it: from the gateway only,
/// unwrapped, its session id checked first.
fn customer_request<T>(request: Request<T>, session_of: impl FnOnce(&T) -> &str) -> Result<(T, FieldViolations, String), Status> {
    require_service(&caller(&request)?)?;
    let request = request.into_inner();
    let mut violations = FieldViolations::new();
    let session = session_id(&mut violations, session_of(&request));
    Ok((request, violations, session))
}

#[tonic::async_trait]
impl PortalCaseService for PortalCaseApi {
    async fn list_my_cases(&self, request: Request<pb::ListMyCasesRequest>) -> Result<Response<pb::ListMyCasesResponse>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let page_size = page::page_size(&mut violations, request.page_size);
        let text = violations.optional_text("text", &request.text, TEXT_FILTER_MAX);
        let statuses = match pb::CaseState::try_from(request.state) {
            Ok(pb::CaseState::Unspecified) => Vec::new(),
            Ok(pb::CaseState::Open) => {
                vec![cpb::CaseStatus::ActiveNew, cpb::CaseStatus::ActiveAssigned, cpb::CaseStatus::Pending]
            }
            Ok(pb::CaseState::Closed) => vec![cpb::CaseStatus::ClosedComplete, cpb::CaseStatus::ClosedNoFault],
            Err(_) => {
                violations.add("state", format!("{} is not a known value", request.state));
                Vec::new()
            }
        };
        let only_mine = match pb::CaseScope::try_from(request.scope) {
            Ok(scope) => scope == pb::CaseScope::Mine,
            Err(_) => {
                violations.add("scope", format!("{} is not a known value", request.scope));
                true
            }
        };
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, _) = portal.viewer(&session).await?;
        // What the viewer may see is decided here, never by the caller's filters.
        let (contact_id, account_id) = if viewer.portal_manager && !only_mine {
            (String::new(), viewer.account_id.clone())
        } else {
            (viewer.contact_id.clone(), String::new())
        };
        let list = cpb::ListCasesRequest {
            page_size: i32::try_from(page_size).unwrap_or(50),
            page_token: request.page_token,
            statuses: statuses.into_iter().map(|s| s as i32).collect(),
            contact_id,
            account_id,
            text,
            order_by: cpb::CaseOrder::CreateTimeDesc as i32,
            ..Default::default()
        };
        let found = portal
            .clients
            .cases
            .clone()
            .list_cases(list)
            .await
            .map_err(|s| case_service(s, &[("page_token", "page_token"), ("text", "text")]))?
            .into_inner();
        let type_names = portal.type_names().await?;
        let cases = found
            .cases
            .into_iter()
            .filter_map(|case| sight(&viewer, &parties(&case)).map(|seen| portal.portal_case(case, seen, &type_names)))
            .collect();
        Ok(Response::new(pb::ListMyCasesResponse { cases, next_page_token: found.next_page_token }))
    }

    async fn get_my_case(&self, request: Request<pb::GetMyCaseRequest>) -> Result<Response<pb::MyCase>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let lookup = match request.lookup {
            Some(pb::get_my_case_request::Lookup::Id(id)) => {
                get_case_request::Lookup::Id(violations.id::<CaseId>("id", &id).to_string())
            }
            Some(pb::get_my_case_request::Lookup::CaseNumber(number)) => {
                get_case_request::Lookup::CaseNumber(violations.required_text("case_number", &number, 30))
            }
            None => {
                violations.add("lookup", "send either id or case_number");
                // A placeholder: the request is refused before it is used.
                get_case_request::Lookup::Id(String::new())
            }
        };
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, user) = portal.viewer(&session).await?;
        let (case, seen) = portal.visible_case(&viewer, lookup).await?;
        let newest = TimelineCursor::newest(&case.id);
        let (timeline, next_page_token) = portal.timeline(&viewer, &user.email, &newest, timeline::PAGE_MAX).await?;
        let type_names = portal.type_names().await?;
        Ok(Response::new(pb::MyCase { case: Some(portal.portal_case(case, seen, &type_names)), timeline, next_page_token }))
    }

    async fn list_my_case_timeline(
        &self,
        request: Request<pb::ListMyCaseTimelineRequest>,
    ) -> Result<Response<pb::ListMyCaseTimelineResponse>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let id: CaseId = violations.id("case_id", &request.case_id);
        let limit = page::page_size(&mut violations, request.page_size).min(timeline::PAGE_MAX);
        let cursor = page::decode::<TimelineCursor>(&mut violations, &request.page_token);
        if cursor.as_ref().is_some_and(|c| c.case != id.to_string()) {
            violations.add("page_token", "belongs to another case");
        }
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, user) = portal.viewer(&session).await?;
        let (case, _) = portal.visible_case(&viewer, get_case_request::Lookup::Id(id.to_string())).await?;
        let cursor = cursor.unwrap_or_else(|| TimelineCursor::newest(&case.id));
        let (entries, next_page_token) = portal.timeline(&viewer, &user.email, &cursor, limit).await?;
        Ok(Response::new(pb::ListMyCaseTimelineResponse { entries, next_page_token }))
    }

    async fn create_my_case(&self, request: Request<pb::CreateMyCaseRequest>) -> Result<Response<pb::PortalCase>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let subject = violations.required_text("subject", &request.subject, SUBJECT_MAX);
        let description = violations.optional_text("description", &request.description, LONG_TEXT_MAX);
        let type_id = violations.required_text("type_id", &request.type_id, 50);
        let serial = violations.optional_text("asset_serial_number", &request.asset_serial_number, SERIAL_MAX);
        let key = violations.optional_text("idempotency_key", &request.idempotency_key, docket_kit::idempotency::KEY_MAX);
        let priority = match cpb::CasePriority::try_from(request.priority) {
            Ok(cpb::CasePriority::Unspecified) => cpb::CasePriority::Medium,
            Ok(priority) => priority,
            Err(_) => {
                violations.add("priority", format!("{} is not a known value", request.priority));
                // A placeholder: the request is refused before it is used.
                cpb::CasePriority::Medium
            }
        };
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, _) = portal.viewer(&session).await?;
        let mut violations = FieldViolations::new();
        let types = portal.customer_case_types().await?;
        if !types.iter().any(|t| t.id == type_id) {
            let offered: Vec<&str> = types.iter().map(|t| t.id.as_str()).collect();
            violations.add("type_id", format!("`{type_id}` cannot be chosen here; choose one of: {}", offered.join(", ")));
        }
        if !portal.customer_priorities().contains(&priority) {
            // The names customers read on the form, not the wire's enum names.
            violations.add("priority", format!("choose one of: {}", portal.settings.priorities().join(", ")));
        }
        violations.into_result()?;
        let create = cpb::CreateCaseRequest {
            case: Some(cpb::Case {
                subject,
                description,
                type_id,
                priority: priority as i32,
                channel: cpb::CaseChannel::Portal as i32,
                account_id: viewer.account_id.clone(),
                contacts: vec![cpb::CaseContact { contact_id: viewer.contact_id.clone(), primary: true }],
                asset_serial_number: serial,
                ..Default::default()
            }),
            idempotency_key: key,
            sender: None,
        };
        let fields = [
            ("case.subject", "subject"),
            ("case.description", "description"),
            ("case.type_id", "type_id"),
            ("case.priority", "priority"),
            ("case.asset_serial_number", "asset_serial_number"),
            ("idempotency_key", "idempotency_key"),
        ];
        let created = portal
            .change_as_viewer(&viewer, create, &fields, |mut cases, request| async move { cases.create_case(request).await })
            .await?;
        Ok(Response::new(portal.changed_case(&viewer, created, Sight::Own, "case created").await?))
    }

    async fn add_comment(&self, request: Request<pb::AddCommentRequest>) -> Result<Response<pb::TimelineEntry>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let id: CaseId = violations.id("case_id", &request.case_id);
        let body = violations.required_text("body", &request.body, LONG_TEXT_MAX);
        let key = violations.optional_text("idempotency_key", &request.idempotency_key, docket_kit::idempotency::KEY_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, user) = portal.viewer(&session).await?;
        let (case, _) = portal.visible_case(&viewer, get_case_request::Lookup::Id(id.to_string())).await?;
        let add = cpb::AddActivityRequest {
            activity: Some(cpb::Activity {
                case_id: case.id.clone(),
                kind: cpb::ActivityKind::Note as i32,
                visibility: cpb::Visibility::Public as i32,
                body,
                ..Default::default()
            }),
            idempotency_key: key,
        };
        let fields = [("activity.body", "body"), ("idempotency_key", "idempotency_key")];
        let added = portal
            .change_as_viewer(&viewer, add, &fields, |mut cases, request| async move { cases.add_activity(request).await })
            .await?;
        tracing::info!(case = %case.case_number, contact = %viewer.contact_id, "portal: comment added");
        let names = HashMap::from([(format!("{:?}", Author::Contact(viewer.contact_id.clone())), viewer.name.clone())]);
        Ok(Response::new(portal.activity_entry(&viewer, &user.email, added, &names)))
    }

    async fn close_my_case(&self, request: Request<pb::CloseMyCaseRequest>) -> Result<Response<pb::PortalCase>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let id: CaseId = violations.id("case_id", &request.case_id);
        let resolution = violations.required_text("resolution_summary", &request.resolution_summary, LONG_TEXT_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, _) = portal.viewer(&session).await?;
        let (case, seen) = portal.visible_case(&viewer, get_case_request::Lookup::Id(id.to_string())).await?;
        if is_closed(case.status) {
            return Err(Error::Precondition(format!("case {} is already closed", case.case_number)).into());
        }
        let close = cpb::CloseCaseRequest {
            id: case.id.clone(),
            status: cpb::CaseStatus::ClosedComplete as i32,
            resolution_summary: resolution,
            etag: String::new(),
            reason: "closed as resolved by the customer in the portal".to_owned(),
        };
        let fields = [("resolution_summary", "resolution_summary")];
        let closed = portal
            .change_as_viewer(&viewer, close, &fields, |mut cases, request| async move { cases.close_case(request).await })
            .await?;
        Ok(Response::new(portal.changed_case(&viewer, closed, seen, "case closed by its customer").await?))
    }

    async fn reopen_my_case(&self, request: Request<pb::ReopenMyCaseRequest>) -> Result<Response<pb::PortalCase>, Status> {
        let (request, mut violations, session) = customer_request(request, |r| &r.session_id)?;
        let id: CaseId = violations.id("case_id", &request.case_id);
        let reason = violations.required_text("reason", &request.reason, REASON_MAX);
        violations.into_result()?;
        let portal = &self.portal;
        let (viewer, _) = portal.viewer(&session).await?;
        let (case, seen) = portal.visible_case(&viewer, get_case_request::Lookup::Id(id.to_string())).await?;
        let window = portal.settings.reopen_window_days;
        let closed_at = case.closed_time.as_ref().and_then(time::from_proto).filter(|_| is_closed(case.status));
        let Some(closed_at) = closed_at else {
            return Err(Error::Precondition(format!("case {} is not closed", case.case_number)).into());
        };
        if !may_reopen(closed_at, window, time::now()) {
            return Err(Error::Precondition(format!(
                "case {} was closed more than {window} days ago and can no longer be reopened; open a new case",
                case.case_number
            ))
            .into());
        }
        let reopen = cpb::ReopenCaseRequest { id: case.id.clone(), reason, etag: String::new() };
        let fields = [("reason", "reason")];
        let reopened = portal
            .change_as_viewer(&viewer, reopen, &fields, |mut cases, request| async move { cases.reopen_case(request).await })
            .await?;
        Ok(Response::new(portal.changed_case(&viewer, reopened, seen, "case reopened by its customer").await?))
    }

    async fn get_case_options(&self, request: Request<pb::GetCaseOptionsRequest>) -> Result<Response<pb::CaseOptions>, Status> {
        let (_, violations, session) = customer_request(request, |r| &r.session_id)?;
        violations.into_result()?;
        let portal = &self.portal;
        portal.viewer(&session).await?;
        let types = portal.customer_case_types().await?;
        Ok(Response::new(pb::CaseOptions {
            case_types: types.into_iter().map(|t| pb::CaseTypeOption { id: t.id, name: t.name }).collect(),
            priorities: portal.customer_priorities().into_iter().map(|p| p as i32).collect(),
        }))
    }
}
