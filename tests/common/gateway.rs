//! The HTTP gateway in tests: started in-process on a random port in front
//! of a [`TestApp`]'s gRPC server (over loopback, as in `docket dev`), and a
//! plain HTTP client that sends exactly the bytes a test gives it — a wrong
//! content type, invalid UTF-8, a body over the limit.

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use docket::{app, settings::Settings};
use docket_gateway::{GatewayOptions, config::GatewaySettings};
use http::{HeaderMap, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use super::{Backend, TestApp};

/// The CSRF key of test gateways (32+ characters).
pub const SECRET: &str = "test-gateway-secret-0123456789abcdef";

/// Gateway settings of a test: its upstream is set once the services have a port.
pub fn test_gateway_settings() -> GatewaySettings {
    GatewaySettings {
        listen: "127.0.0.1:0".parse().expect("an address"),
        case_service_url: "http://127.0.0.1:1".to_owned(),
        portal_service_url: "http://127.0.0.1:1".to_owned(),
        billing_service_url: "http://127.0.0.1:1".to_owned(),
        knowledge_service_url: "http://127.0.0.1:1".to_owned(),
        service_token: super::GATEWAY.to_owned(),
        product_name: "Docket Test".to_owned(),
        business_name: "Test Business Ltd".to_owned(),
        brand_color: "#1f5fa8".to_owned(),
        brand_text_color: "#ffffff".to_owned(),
        public_base_url: "http://127.0.0.1:8080".to_owned(),
        body_limit_bytes: 64 * 1024,
        request_timeout_secs: 30,
        readiness_timeout_ms: 1000,
        secret_key: SECRET.to_owned(),
        cookie_secure: false,
        login_attempts_per_minute: 10,
        reset_requests_per_minute: 5,
        form_submissions_per_minute: 5,
        form_submissions_per_form_per_minute: 120,
        comments_per_session_per_minute: 5,
        comments_per_case_per_minute: 20,
        trusted_proxy_hops: 0,
        trusted_proxies: String::new(),
        trust_forwarded_for: false,
        allowed_hosts: String::new(),
    }
}

/// A running gateway in front of running services.
pub struct GatewayApp {
    /// The services behind the gateway.
    pub app: TestApp,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl GatewayApp {
    /// Services on `backend` and the gateway in front of them, with the dev
    /// mailbox page.
    pub async fn spawn(backend: Backend) -> GatewayApp {
        Self::in_front_of(TestApp::spawn(backend).await, true).await
    }

    /// A gateway in front of `app`'s gRPC server; `dev_mail` serves `/dev/mail`.
    pub async fn in_front_of(app: TestApp, dev_mail: bool) -> GatewayApp {
        let mut settings = app.settings.clone();
        settings.gateway.case_service_url = format!("http://{}", app.addr);
        settings.gateway.portal_service_url = format!("http://{}", app.addr);
        settings.gateway.billing_service_url = format!("http://{}", app.addr);
        settings.gateway.knowledge_service_url = format!("http://{}", app.addr);
        let options =
            GatewayOptions { dev_mailbox: dev_mail.then(|| settings.notification.mailbox_dir.clone().into()), kv: None };
        let gateway = Self::start(app, settings, options).await;
        gateway.wait_until_ready().await;
        gateway
    }

    /// A gateway with `settings` (its upstream may be down: nothing waits).
    pub async fn start(app: TestApp, settings: Settings, options: GatewayOptions) -> GatewayApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("an address");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app::run_gateway(&settings, options, listener, async {
                let _ = rx.await;
            })
            .await
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        GatewayApp { app, addr, base: format!("http://{addr}"), client, shutdown: Some(tx), server: Some(server) }
    }

    /// Waits until `/readyz` answers 200; panics after 10 s.
    pub async fn wait_until_ready(&self) {
        super::eventually_within(Duration::from_secs(10), "the gateway to answer /readyz with 200", async || {
            match self.try_send(Method::GET, "/readyz", None, &[], None).await {
                Ok(response) if response.status == 200 => Ok(()),
                Ok(response) => Err(format!("{} {}", response.status, response.text())),
                Err(err) => Err(err),
            }
        })
        .await;
    }

    /// Sends one request. `body` is (content type, bytes).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> HttpResponse {
        self.try_send(method.clone(), path, token, headers, body).await.unwrap_or_else(|err| panic!("{method} {path}: {err}"))
    }

    async fn try_send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<HttpResponse, String> {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                // An empty content type sends the body without the header.
                if !content_type.is_empty() {
                    request = request.header(header::CONTENT_TYPE, content_type);
                }
                bytes
            }
            None => Vec::new(),
        };
        let request = request.body(Full::new(Bytes::from(bytes))).map_err(|err| err.to_string())?;
        let response = self.client.request(request).await.map_err(|err| format!("{err:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|err| err.to_string())?.to_bytes().to_vec();
        Ok(HttpResponse { status, headers, body })
    }

    pub async fn get(&self, path: &str, token: &str) -> HttpResponse {
        self.send(Method::GET, path, Some(token), &[], None).await
    }

    pub async fn post_json(&self, path: &str, token: &str, json: &serde_json::Value) -> HttpResponse {
        self.send(Method::POST, path, Some(token), &[], Some(("application/json", json.to_string().into_bytes()))).await
    }

    pub async fn patch_json(&self, path: &str, token: &str, etag: &str, json: &serde_json::Value) -> HttpResponse {
        let if_match = format!("\"{etag}\"");
        self.send(
            Method::PATCH,
            path,
            Some(token),
            &[("if-match", &if_match)],
            Some(("application/json", json.to_string().into_bytes())),
        )
        .await
    }

    /// Stops the gateway and waits for it (requests in flight finish).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("gateway task").expect("gateway ran cleanly");
        }
    }
}

impl Drop for GatewayApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    /// Asserts `status` with a JSON body and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text());
        self.json()
    }

    /// Asserts a problem+json answer with `status` and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text());
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem}");
        for field in ["type", "title", "detail", "code"] {
            assert!(problem[field].is_string(), "problem without `{field}`: {problem}");
        }
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(!detail.contains("panicked") && !detail.contains("src/"), "internal detail leaked: {problem}");
        problem
    }

    /// Asserts a 400 problem whose `errors` name `field`.
    #[track_caller]
    pub fn bad_field(&self, field: &str) -> serde_json::Value {
        let problem = self.problem(400);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "expected an error naming `{field}`, got {fields:?}: {problem}");
        problem
    }
}

/// A visitor's browser, without the rendering: keeps the cookies the
/// gateway sets, and posts forms with the CSRF token of the last page it
/// read (as a browser submits a form it shows).
pub struct PageVisitor<'a> {
    pub gw: &'a GatewayApp,
    cookies: std::collections::BTreeMap<String, String>,
    csrf: Option<String>,
    /// Sent with every request, e.g. the `X-Forwarded-For` a proxy adds.
    pub headers: Vec<(String, String)>,
}

impl<'a> PageVisitor<'a> {
    pub fn new(gw: &'a GatewayApp) -> Self {
        Self { gw, cookies: Default::default(), csrf: None, headers: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, response: &HttpResponse) {
        for set in response.headers.get_all(header::SET_COOKIE) {
            let text = set.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let expired = text.contains("Max-Age=0");
                if expired || value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        if let Some(token) = hidden_value(&response.text(), "csrf_token") {
            self.csrf = Some(token);
        }
    }

    /// The session cookie's value, if the visitor has one.
    pub fn session(&self) -> Option<&str> {
        self.cookies.get("docket-session").map(String::as_str)
    }

    /// A cookie's value, if the visitor has it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// The CSRF token of the last page read.
    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// Forgets the cookies (another browser).
    pub fn clear(&mut self) {
        self.cookies.clear();
        self.csrf = None;
    }

    /// The cookies and `headers` of every request.
    fn request_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("cookie".to_owned(), self.cookie_header())];
        headers.extend(self.headers.iter().cloned());
        headers
    }

    pub async fn get(&mut self, path: &str) -> HttpResponse {
        let headers = self.request_headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = self.gw.send(Method::GET, path, None, &headers, None).await;
        self.keep(&response);
        response
    }

    /// Posts `fields` as a browser posts a form: URL-encoded, with the CSRF
    /// token of the last page read.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().expect("read a page with a form before posting");
        all.push(("csrf_token", &csrf));
        self.post_raw(path, "application/x-www-form-urlencoded", form_body(&all)).await
    }

    /// Posts `body` as it is, with the visitor's cookies.
    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> HttpResponse {
        let headers = self.request_headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = self.gw.send(Method::POST, path, None, &headers, Some((content_type, body))).await;
        self.keep(&response);
        response
    }

    /// Logs in through the login page; panics unless the portal lets it in.
    pub async fn log_in(&mut self, email: &str, password: &str) {
        self.get("/portal/login").await;
        let response = self.post_form("/portal/login", &[("email", email), ("password", password)]).await;
        assert_eq!(response.status, 303, "login refused: {}", response.text());
        assert!(self.session().is_some(), "no session cookie after logging in");
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        body.append_pair(name, value);
    }
    body.finish().into_bytes()
}

/// The value of the first `<input ... name="{name}" value="...">` of a page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    let value = &rest[..rest.find('"')?];
    Some(value.replace("&#43;", "+").replace("&#x2b;", "+"))
}
