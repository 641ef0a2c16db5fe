//! The OpenAPI 3.1 document of the API. Routes and types describe
//! themselves (`#[utoipa::path]`, `ToSchema`); this module adds what holds
//! for every route: the bearer security scheme and the problem answers that
//! the gateway's own layers give (bad input, missing token, body limits,
//! upstream failures).

use utoipa::{
    OpenApi,
    openapi::{
        Content, RefOr, Response,
        schema::Ref,
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};

use super::model::{
    AccountTier, CaseOrder, CasePriority, CaseStatus,
    kb::{ArticleState, Audience, ProposalState},
    portal_users::PortalUserState,
    reports::{RepeatKey, ReportFormat, ReportGranularity, ReportGrouping},
    sla::SlaQueueState,
};
use crate::problem::{FieldError, PROBLEM_JSON, Problem};
use serde_json::{Value, json};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Docket REST API",
        description = "A JSON mirror of Docket's case service for staff and scripts, with web forms, \
            portal users, SLA state, work orders and the knowledge base. \
            Send `Authorization: Bearer <token>`; the token's role decides what a call may do and its \
            holder is recorded as the actor of every change. Errors are RFC 9457 problem details.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    // Enums used only by query parameters are not collected from the routes.
    components(schemas(
        Problem, FieldError, CaseOrder, CaseStatus, CasePriority, AccountTier, PortalUserState, SlaQueueState,
        ArticleState, Audience, ProposalState, ReportFormat, ReportGranularity, ReportGrouping, RepeatKey
    )),
    tags(
        (name = "cases", description = "Cases, their status machine, activities and audit trail"),
        (name = "accounts", description = "Customers"),
        (name = "contacts", description = "The people of an account"),
        (name = "forms", description = "Web form definitions (admin); their public pages open cases"),
        (name = "portal users", description = "Contacts with access to the customer portal: invitations, access, sessions"),
        (name = "sla", description = "Cases against their SLA targets: state, queues, compliance"),
        (name = "reports", description = "Reports on cases, as JSON or CSV (`?format=csv` or `Accept: text/csv`)"),
        (name = "routing", description = "Assignment rules that route new cases to teams and agents (admin)"),
        (name = "work orders", description = "Printable work orders of cases"),
        (name = "knowledge base", description = "Articles, their review and versions, search, categories, links to cases, \
            drafts proposed from closed cases, and deflection"),
    ),
)]
struct ApiDoc;

/// The document before the routes are added.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The problem answers any route may give, by status: (status, name, description).
const COMMON: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "Bad input: the `errors` list names each bad field; nothing was changed"),
    ("401", "Unauthorized", "No bearer token, or an unknown one"),
    ("403", "Forbidden", "The token's role may not do this"),
    ("500", "InternalError", "An internal error (logged on the server)"),
    ("503", "Unavailable", "A service behind the gateway is unavailable; retry later"),
    ("504", "Timeout", "The request took longer than the gateway waits"),
];

/// The problem answers of a route that reads a body.
const WITH_BODY: &[(&str, &str, &str)] = &[
    ("413", "PayloadTooLarge", "The body is larger than the gateway accepts"),
    ("415", "UnsupportedMediaType", "The body is not sent as `application/json`"),
];

/// The answer of a create that takes an `Idempotency-Key`.
const KEY_REUSED: (&str, &str, &str) =
    ("422", "IdempotencyKeyReused", "The `Idempotency-Key` was used before with another request; nothing was changed");

/// Adds the security scheme, the shared problem responses, and a reference
/// to them from every operation that does not describe that status itself.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert("bearer".to_owned(), RefOr::T(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))));
    for (_, name, description) in COMMON.iter().chain(WITH_BODY).chain([&KEY_REUSED]) {
        let content = Content::new(Some(Ref::from_schema_name("Problem")));
        let mut response = Response::new(*description);
        response.content.insert(PROBLEM_JSON.to_owned(), RefOr::T(content));
        components.responses.insert((*name).to_owned(), RefOr::T(response));
    }
    doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);

    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
        for operation in operations {
            let Some(operation) = operation else { continue };
            let has_body = operation.request_body.is_some();
            let keyed = operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.name == "Idempotency-Key"));
            let shared = COMMON.iter().chain(if has_body { WITH_BODY } else { &[] }).chain(if keyed {
                std::slice::from_ref(&KEY_REUSED)
            } else {
                &[]
            });
            for (status, name, _) in shared {
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
    }
}

/// White space as the services trim it from both ends of a text (Rust's
/// `char::is_whitespace`).
const WHITE: &str = r"[\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// A character a text may hold: no control characters but tab and line breaks.
const CHAR: &str = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]";
/// A [`CHAR`] that is not white space.
const SOLID: &str = r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// Longest text whose length the pattern counts. Beyond it, generating
/// from a pattern that counts (and its boundary cases) takes schemathesis
/// minutes, so longer limits are written in the description only.
const COUNTED_MAX: u32 = 1_000;

/// A text as the services take it: trimmed of white space at both ends,
/// then at most `max` characters (so `max` is not the raw `maxLength`), no
/// control characters but tab and line breaks; `required`: not empty.
fn text_pattern(max: u32, required: bool) -> String {
    let repeat = if max > COUNTED_MAX { "*".to_owned() } else { format!("{{0,{}}}", max.saturating_sub(2)) };
    let inner = format!("{SOLID}({CHAR}{repeat}{SOLID})?");
    let inner = if required { inner } else { format!("({inner})?") };
    format!("^{WHITE}*{inner}{WHITE}*$")
}

/// A site that may embed a form: scheme and host (and port) only, any case.
const ORIGIN: &str = concat!(
    r"^[\t\n\u000B\u000C\r ]*[Hh][Tt][Tt][Pp]([Ss])?://",
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    r"(:0*(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?",
    r"/*[\t\n\u000B\u000C\r ]*$"
);
/// A record id: a UUID.
const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
/// An etag as the `ETag` header gives it (a positive version number), also
/// weak or without quotes.
const ETAG: &str = r#"^(W/)?("0*[1-9][0-9]{0,17}"|0*[1-9][0-9]{0,17})$"#;
/// An email address as the services take one: one `@`, something on each
/// side, a dot inside the domain, no white space or control characters.
const EMAIL: &str = r"^[^@\s\u0000-\u001F\u007F-\u009F]+@[^@.\s\u0000-\u001F\u007F-\u009F][^@\s\u0000-\u001F\u007F-\u009F]*\.[^@\s\u0000-\u001F\u007F-\u009F]*[^@.\s\u0000-\u001F\u007F-\u009F]$";
/// A catalogue key, e.g. `technical_issue`.
const KEY: &str = "^[a-z0-9_]{1,50}$";
/// A web form's slug, e.g. `warranty-claim`.
const SLUG: &str = "^[a-z0-9]([a-z0-9-]{0,58}[a-z0-9])?$";
/// An article's or a category's slug, e.g. `clearing-a-paper-jam`: words of
/// a-z and digits joined by single dashes, at most 80 characters.
const KB_SLUG: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// `^(a|b)$` of two anchored patterns.
fn either(a: &str, b: &str) -> String {
    let bare = |p: &str| p.trim_start_matches('^').trim_end_matches('$').to_owned();
    format!("^({}|{})$", bare(a), bare(b))
}

fn text(max: u32) -> Value {
    with_limit(json!({"pattern": text_pattern(max, false)}), max)
}

fn some_text(max: u32) -> Value {
    with_limit(json!({"minLength": 1, "pattern": text_pattern(max, true)}), max)
}

/// Says a limit the pattern does not count.
fn with_limit(mut schema: Value, max: u32) -> Value {
    if max > COUNTED_MAX {
        schema["x-max-characters"] = json!(max);
        schema["description"] = json!(format!("At most {max} characters, not counting white space at either end."));
    }
    schema
}

fn id() -> Value {
    json!({"format": "uuid", "pattern": format!("^{UUID}$")})
}

/// An optional reference: a UUID, or `""` for none.
fn id_or_empty() -> Value {
    json!({"pattern": format!("^({UUID})?$")})
}

fn email() -> Value {
    json!({"type": "string", "maxLength": 254, "pattern": EMAIL})
}

/// Writes each key of `patch` into the object at `pointer`; a key set to
/// `null` is removed.
fn merge(doc: &mut Value, pointer: &str, patch: Value) {
    match doc.pointer_mut(pointer) {
        Some(target) => merge_into(target, patch),
        None => tracing::error!(pointer, "the OpenAPI document has no such object to constrain"),
    }
}

fn merge_into(target: &mut Value, patch: Value) {
    let (Some(target), Value::Object(patch)) = (target.as_object_mut(), patch) else { return };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(&key);
        } else {
            target.insert(key, value);
        }
    }
}

/// Constrains the properties of a schema: (property, constraints).
fn properties(doc: &mut Value, schema: &str, constraints: &[(&str, Value)]) {
    for (property, patch) in constraints {
        merge(doc, &format!("/components/schemas/{schema}/properties/{property}"), patch.clone());
    }
}

/// The create schema `create` made of the fields schema `fields`: the
/// `required` properties must be present and not `null`.
fn create_schema(doc: &mut Value, fields: &str, create: &str, required: &[&str], description: &str) {
    let Some(mut schema) = doc.pointer(&format!("/components/schemas/{fields}")).cloned() else { return };
    for property in required {
        if let Some(p) = schema.pointer_mut(&format!("/properties/{property}")).and_then(Value::as_object_mut) {
            if let Some(Value::Array(types)) = p.get_mut("type") {
                types.retain(|t| t != "null");
            }
            if let Some(Value::Array(one_of)) = p.remove("oneOf") {
                let not_null: Vec<Value> = one_of.into_iter().filter(|s| s != &json!({"type": "null"})).collect();
                p.extend(not_null.into_iter().next().and_then(|s| s.as_object().cloned()).unwrap_or_default());
            }
        }
    }
    if let Some(reason) = schema.pointer_mut("/properties/reason") {
        *reason = json!({"type": ["string", "null"], "description": "Not used on create."});
    }
    schema["required"] = json!(required);
    schema["description"] = json!(description);
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert(create.to_owned(), schema);
    }
}

/// An update must change something: one of `changeable` present and not
/// `null`. Said as "not (each of them is absent or `null`)": one `not`
/// rather than an `anyOf` of a branch per property, through which
/// property-based checkers generate every property's cases once per branch
/// (schemathesis's coverage phase made 3,105 cases for the seven updates
/// and six small operations beside them, against 1,265 now).
fn changes_something(doc: &mut Value, fields: &str, changeable: &[&str]) {
    let all_null: serde_json::Map<String, Value> =
        changeable.iter().map(|p| ((*p).to_owned(), json!({"type": "null"}))).collect();
    merge(doc, &format!("/components/schemas/{fields}"), json!({"not": {"properties": all_null}}));
}

/// Points the JSON request body of an operation at `schema`.
fn request_body(doc: &mut Value, path: &str, method: &str, schema: &str) {
    let pointer = format!("/paths/{}/{method}/requestBody/content/application~1json/schema", path.replace('/', "~1"));
    merge(doc, &pointer, json!({"$ref": format!("#/components/schemas/{schema}")}));
}

/// Constrains the parameter `name` wherever it appears; `only` limits that to one path.
fn parameter(doc: &mut Value, only: Option<&str>, name: &str, patch: impl Fn(bool) -> Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        if only.is_some_and(|only| only != path) {
            continue;
        }
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for p in parameters.iter_mut().filter(|p| p["name"] == name) {
                let required = p["required"] == true;
                if let Some(schema) = p.get_mut("schema") {
                    merge_into(schema, patch(required));
                }
            }
        }
    }
}

/// An optional query parameter sent empty (`?page_size=`) is taken as left
/// out; said here of the ones whose schema an empty text does not fit.
fn empty_is_absent(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
        for p in parameters.iter_mut().filter(|p| p["in"] == "query" && p["required"] != true) {
            let schema = &p["schema"];
            let plain_text = schema["type"] == "string" && schema.get("format").is_none() && schema.get("pattern").is_none();
            if !plain_text && schema["type"] != "array" {
                p["allowEmptyValue"] = json!(true);
            }
        }
    }
}

/// The document as served: what the routes and types say, and what the
/// services check that types cannot say (lengths, patterns, which fields a
/// create needs, that an update must change something, the form of an
/// etag), so that a request the document calls valid is taken and one it
/// calls invalid is refused.
pub fn constrained(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    let doc_ref = &mut doc;

    // Parameters.
    empty_is_absent(doc_ref);
    parameter(doc_ref, None, "page_size", |_| json!({"minimum": 0}));
    // `type: string` (not also `null`): an absent header is not a `null` one.
    parameter(doc_ref, None, "If-Match", |required| {
        if required {
            json!({"type": "string", "pattern": ETAG, "description": "The etag read last, as the `ETag` header gave it (e.g. `\"3\"`); `*` is not taken"})
        } else {
            json!({"type": "string", "pattern": either(ETAG, r"\*")})
        }
    });
    for name in ["account_id", "owner_id", "team_id", "contact_id", "contract_id", "sla_policy_id"] {
        parameter(doc_ref, None, name, |_| id_or_empty());
    }
    parameter(doc_ref, None, "type_id", |_| json!({"pattern": "^[a-z0-9_]{0,50}$"}));
    for name in ["text", "query", "industry"] {
        parameter(doc_ref, None, name, |_| text(200));
    }
    parameter(doc_ref, None, "tag", |_| text(50));
    parameter(doc_ref, None, "reason", |_| text(1000));
    parameter(
        doc_ref,
        Some("/cases/{case}"),
        "case",
        |_| json!({"format": null, "pattern": format!("^({UUID}|[Cc]-0*[1-9][0-9]{{0,17}})$")}),
    );
    parameter(doc_ref, Some("/contacts/{contact}"), "contact", |_| json!({"pattern": either(UUID, EMAIL)}));
    // An update names the record by its id only.
    for (path, name) in [("/cases/{case}", "case"), ("/contacts/{contact}", "contact")] {
        let pointer = format!("/paths/{}/patch/parameters", path.replace('/', "~1"));
        if let Some(parameters) = doc_ref.pointer_mut(&pointer).and_then(Value::as_array_mut) {
            for p in parameters.iter_mut().filter(|p| p["name"] == name) {
                merge_into(&mut p["schema"], json!({"format": "uuid", "pattern": format!("^{UUID}$")}));
            }
        }
    }
    for path in ["/forms/{form}", "/forms/{form}/history"] {
        parameter(doc_ref, Some(path), "form", |_| json!({"pattern": either(UUID, SLUG)}));
    }

    // Cases.
    properties(
        doc_ref,
        "CaseFields",
        &[
            ("subject", some_text(250)),
            ("description", text(20_000)),
            ("type_id", json!({"pattern": KEY, "examples": ["technical_issue"]})),
            ("account_id", id()),
            ("contacts", json!({"maxItems": 20})),
            ("owner_id", id_or_empty()),
            ("team_id", id_or_empty()),
            ("service_contract_id", id_or_empty()),
            ("service_contract_number", text(50)),
            ("asset_description", text(200)),
            ("asset_serial_number", text(100)),
            ("tags", json!({"maxItems": 20, "items": {"type": "string", "minLength": 1, "pattern": text_pattern(50, true)}})),
            ("reason", text(1000)),
        ],
    );
    properties(doc_ref, "CaseContact", &[("contact_id", id())]);
    create_schema(
        doc_ref,
        "CaseFields",
        "NewCase",
        &["subject", "type_id", "account_id"],
        "A new case. A case created with an owner starts Active – Assigned.",
    );
    // An update changes the owner only through `POST /cases/{id}/assign`.
    properties(doc_ref, "CaseFields", &[("owner_id", json!({"type": "null", "pattern": null}))]);
    changes_something(
        doc_ref,
        "CaseFields",
        &[
            "subject",
            "description",
            "type_id",
            "priority",
            "channel",
            "account_id",
            "contacts",
            "team_id",
            "service_contract_id",
            "service_contract_number",
            "asset_description",
            "asset_serial_number",
            "tags",
        ],
    );
    request_body(doc_ref, "/cases", "post", "NewCase");
    properties(doc_ref, "AssignCase", &[("owner_id", id_or_empty()), ("team_id", id_or_empty()), ("reason", text(1000))]);
    properties(doc_ref, "SetCaseStatus", &[("reason", text(1000))]);
    properties(
        doc_ref,
        "CloseCase",
        &[
            ("status", json!({"$ref": null, "type": "string", "enum": ["closed_complete", "closed_no_fault"]})),
            ("resolution_summary", some_text(20_000)),
            ("reason", text(1000)),
        ],
    );
    merge(doc_ref, "/components/schemas/CloseCase", json!({"required": ["status", "resolution_summary"]}));
    properties(doc_ref, "ReopenCase", &[("reason", some_text(1000))]);
    merge(doc_ref, "/components/schemas/ReopenCase", json!({"required": ["reason"]}));
    properties(doc_ref, "NewActivity", &[("body", text(20_000))]);
    properties(doc_ref, "CallDetail", &[("duration_seconds", json!({"minimum": 0, "maximum": 86_400}))]);
    properties(
        doc_ref,
        "EmailDetail",
        &[("from", email()), ("to", json!({"minItems": 1, "maxItems": 50, "items": email()})), ("subject", text(250))],
    );
    for detail in ["CallDetail", "EmailDetail"] {
        let required = if detail == "EmailDetail" { json!(["direction", "from", "to"]) } else { json!(["direction"]) };
        merge(doc_ref, &format!("/components/schemas/{detail}"), json!({"required": required}));
        properties(doc_ref, detail, &[("direction", json!({"oneOf": null, "$ref": "#/components/schemas/Direction"}))]);
    }
    // What each kind of activity needs: a note says something; a call has
    // its call detail, an email its envelope.
    merge(
        doc_ref,
        "/components/schemas/NewActivity",
        json!({
            "required": ["kind"],
            "oneOf": [
                {"properties": {"kind": {"const": "note"}, "body": {"pattern": text_pattern(20_000, true)}, "call": {"type": "null"}, "email": {"type": "null"}},
                 "required": ["body"]},
                {"properties": {"kind": {"const": "call"}, "call": {"$ref": "#/components/schemas/CallDetail"}, "email": {"type": "null"}},
                 "required": ["call"]},
                {"properties": {"kind": {"const": "email"}, "email": {"$ref": "#/components/schemas/EmailDetail"}, "call": {"type": "null"}},
                 "required": ["email"]},
            ],
        }),
    );

    // Accounts and contacts.
    properties(
        doc_ref,
        "AccountFields",
        &[("name", some_text(200)), ("industry", text(200)), ("notes", text(20_000)), ("reason", text(1000))],
    );
    properties(doc_ref, "Money", &[("amount_minor", json!({"minimum": 0})), ("currency", json!({"pattern": "^[A-Z]{3}$"}))]);
    properties(
        doc_ref,
        "Address",
        &[("street", text(200)), ("city", text(200)), ("region", text(200)), ("postal_code", text(200)), ("country", text(200))],
    );
    create_schema(doc_ref, "AccountFields", "NewAccount", &["name"], "A new account.");
    changes_something(doc_ref, "AccountFields", &["name", "industry", "tier", "annual_value", "address", "notes"]);
    request_body(doc_ref, "/accounts", "post", "NewAccount");
    properties(
        doc_ref,
        "ContactFields",
        &[
            ("account_id", id()),
            ("name", some_text(200)),
            ("email", json!({"maxLength": 254, "pattern": either("", EMAIL)})),
            ("phone", text(50)),
            ("title", text(200)),
            ("reason", text(1000)),
        ],
    );
    create_schema(doc_ref, "ContactFields", "NewContact", &["account_id", "name"], "A new contact of an account.");
    changes_something(doc_ref, "ContactFields", &["account_id", "name", "email", "phone", "title", "portal_enabled"]);
    request_body(doc_ref, "/contacts", "post", "NewContact");

    // Web forms.
    properties(
        doc_ref,
        "WebFormFields",
        &[
            ("slug", json!({"pattern": SLUG})),
            ("title", some_text(200)),
            ("intro", text(5_000)),
            ("case_type_id", json!({"pattern": KEY, "examples": ["technical_issue"]})),
            ("team_id", id_or_empty()),
            ("account_id", id_or_empty()),
            ("success_message", text(2_000)),
            ("reason", text(1000)),
            ("allowed_origins", json!({"maxItems": 20, "items": {"type": "string", "pattern": ORIGIN}})),
            // Checks across fields (unique names, one field per target) are
            // the service's; the one field every form needs is said here.
            (
                "fields",
                json!({"minItems": 1, "maxItems": 30, "contains": {
                    "required": ["target", "kind", "required"],
                    "properties": {"target": {"const": "contact_email"}, "kind": {"const": "email"}, "required": {"const": true}},
                }}),
            ),
        ],
    );
    properties(
        doc_ref,
        "FormField",
        &[
            ("name", json!({"pattern": "^[a-z][a-z0-9_]{0,49}$"})),
            ("label", some_text(200)),
            ("help_text", text(500)),
            ("max_length", json!({"minimum": 0})),
            ("kind", json!({"oneOf": null, "$ref": "#/components/schemas/FormFieldKind"})),
            ("target", json!({"oneOf": null, "$ref": "#/components/schemas/FormFieldTarget"})),
        ],
    );
    merge(doc_ref, "/components/schemas/FormField", json!({"required": ["name", "label", "kind", "target"]}));
    create_schema(doc_ref, "WebFormFields", "NewWebForm", &["slug", "title", "fields", "case_type_id"], "A new web form.");
    changes_something(
        doc_ref,
        "WebFormFields",
        &[
            "slug",
            "title",
            "intro",
            "fields",
            "case_type_id",
            "priority",
            "team_id",
            "account_id",
            "allowed_origins",
            "success_message",
            "active",
        ],
    );
    request_body(doc_ref, "/forms", "post", "NewWebForm");

    // Assignment rules.
    let list_of = |items: Value| json!({"maxItems": 50, "items": items});
    let id_text = || json!({"type": "string", "format": "uuid", "pattern": format!("^{UUID}$")});
    properties(
        doc_ref,
        "AssignmentRuleFields",
        &[
            ("name", some_text(200)),
            ("position", json!({"minimum": 0})),
            ("case_type_ids", list_of(json!({"type": "string", "pattern": KEY}))),
            ("account_ids", list_of(id_text())),
            ("web_form_ids", list_of(id_text())),
            ("tags", list_of(json!({"type": "string", "minLength": 1, "pattern": text_pattern(50, true)}))),
            ("subject_words", list_of(json!({"type": "string", "pattern": "^[A-Za-z0-9]{1,50}$"}))),
            ("team_id", id_or_empty()),
            ("owner_id", id_or_empty()),
            ("capacity", json!({"minimum": 0, "maximum": 10_000})),
        ],
    );
    create_schema(
        doc_ref,
        "AssignmentRuleFields",
        "NewAssignmentRule",
        &["name", "method"],
        "A new assignment rule: a team for every method but `person`, an owner for `person`, a capacity for `capacity`.",
    );
    changes_something(
        doc_ref,
        "AssignmentRuleFields",
        &[
            "name",
            "position",
            "active",
            "case_type_ids",
            "priorities",
            "channels",
            "account_ids",
            "account_tiers",
            "web_form_ids",
            "tags",
            "subject_words",
            "method",
            "team_id",
            "owner_id",
            "capacity",
        ],
    );
    request_body(doc_ref, "/routing/rules", "post", "NewAssignmentRule");
    properties(doc_ref, "AssignmentRuleOrder", &[("rule_ids", json!({"maxItems": 500, "items": id_text()}))]);
    properties(doc_ref, "RoutingSettingsFields", &[("default_team_id", id_or_empty())]);

    // Portal users.
    properties(doc_ref, "InviteContact", &[("contact_id", id())]);
    merge(doc_ref, "/components/schemas/InviteContact", json!({"required": ["contact_id"]}));
    properties(doc_ref, "PortalUserFields", &[("reason", text(1000))]);
    changes_something(doc_ref, "PortalUserFields", &["enabled", "portal_manager"]);
    properties(doc_ref, "RevokeSessions", &[("reason", text(1000))]);

    // The knowledge base.
    let kb_slug = || json!({"maxLength": 80, "pattern": KB_SLUG});
    properties(
        doc_ref,
        "ArticleFields",
        &[
            ("title", some_text(200)),
            ("slug", kb_slug()),
            ("summary", text(1000)),
            // Markdown is taken as written (white space too), without control characters.
            ("body_markdown", json!({"maxLength": 200_000, "pattern": format!("^{CHAR}*$")})),
            ("locale", json!({"pattern": "^[a-z]{2,3}(-[A-Z]{2})?$"})),
            ("category_id", id_or_empty()),
            (
                "tags",
                json!({"maxItems": 20, "items": {"type": "string", "pattern": text_pattern(40, false), "not": {"pattern": "\""}}}),
            ),
            ("related_article_ids", json!({"maxItems": 20, "items": id()})),
            ("owner_id", text(100)),
            ("reason", text(1000)),
        ],
    );
    create_schema(doc_ref, "ArticleFields", "NewArticle", &["title", "audience"], "A new draft article.");
    changes_something(
        doc_ref,
        "ArticleFields",
        &[
            "title",
            "slug",
            "summary",
            "body_markdown",
            "locale",
            "category_id",
            "tags",
            "audience",
            "related_article_ids",
            "owner_id",
        ],
    );
    request_body(doc_ref, "/kb/articles", "post", "NewArticle");
    for step in ["ArticleStep", "PublishArticle"] {
        properties(doc_ref, step, &[("comment", text(2000))]);
    }
    properties(doc_ref, "NewArticleCaseLink", &[("case_id", id())]);
    properties(
        doc_ref,
        "CategoryFields",
        &[
            ("name", some_text(200)),
            ("slug", kb_slug()),
            ("description", text(2000)),
            ("parent_id", id_or_empty()),
            ("position", json!({"minimum": 0})),
            ("reason", text(1000)),
        ],
    );
    create_schema(doc_ref, "CategoryFields", "NewCategory", &["name"], "A new category.");
    changes_something(doc_ref, "CategoryFields", &["name", "slug", "description", "parent_id", "position"]);
    request_body(doc_ref, "/kb/categories", "post", "NewCategory");
    properties(doc_ref, "ProposalDecision", &[("reason", text(1000))]);
    parameter(doc_ref, Some("/kb/search"), "q", |_| some_text(200));
    for path in ["/kb/articles", "/kb/search"] {
        parameter(doc_ref, Some(path), "tag", |_| text(40));
    }
    parameter(doc_ref, Some("/kb/articles/{article}"), "article", |_| json!({"pattern": either(UUID, KB_SLUG)}));
    parameter(doc_ref, None, "period", |_| json!({"enum": ["day", "week", "month"]}));
    parameter(doc_ref, Some("/kb/deflection"), "source", |_| json!({"pattern": "^[a-z0-9-]{1,64}$"}));
    // An update names the article by its id only.
    let pointer = "/paths/~1kb~1articles~1{article}/patch/parameters";
    if let Some(parameters) = doc_ref.pointer_mut(pointer).and_then(Value::as_array_mut) {
        for p in parameters.iter_mut().filter(|p| p["name"] == "article") {
            merge_into(&mut p["schema"], json!({"format": "uuid", "pattern": format!("^{UUID}$")}));
        }
    }

    doc
}
