//! What a check works with: requests sent through [`Ctx`] are recorded as
//! [`Exchange`]s for the report and held to the contract as they come back
//! (status documented, content type, JSON schema); fixtures it creates carry
//! the run's name prefix and are deleted when the check ends.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::spec::{Contract, Operation};

/// How much of a body the report keeps.
const BODY_LIMIT: usize = 2048;

/// One request and what came back, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub millis: u64,
}

impl Exchange {
    /// A request about to be sent: nothing has come back yet.
    pub fn request(
        method: impl Into<String>,
        url: impl Into<String>,
        headers: Vec<(String, String)>,
    ) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            request_headers: headers,
            request_body: None,
            status: None,
            content_type: None,
            response_body: None,
            error: None,
            millis: 0,
        }
    }
}

/// Why a check failed (or, with [`Fail::skip`], why it could not run).
#[derive(Debug, Clone)]
pub struct Fail {
    pub message: String,
    pub skip: bool,
}

impl Fail {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), skip: false }
    }

    /// The check cannot run against this server (the reason says why).
    pub fn skip(message: impl Into<String>) -> Self {
        Self { message: message.into(), skip: true }
    }
}

/// A check's result type.
pub type CheckResult = Result<(), Fail>;

/// Fails the check with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::ctx::Fail::new(format!($($arg)+)));
        }
    };
}

/// A request body.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body and no `Content-Type`.
    #[default]
    None,
    Json(Value),
    /// Bytes with the given content type (invalid JSON, say).
    Raw(&'static str, Vec<u8>),
    Multipart(Vec<(String, Vec<u8>, Option<String>)>),
}

/// A request a check builds; the path is filled in already.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), query: Vec::new(), headers: Vec::new(), body: Body::None }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.into(), v.into()));
        self
    }

    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
    /// The body, when it is JSON.
    pub json: Option<Value>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of the body, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type")
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }

    /// `json[pointer]` as a string.
    pub fn str_at(&self, pointer: &str) -> Option<String> {
        self.json.as_ref()?.pointer(pointer)?.as_str().map(str::to_string)
    }
}

/// Settings every check sees.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: String,
    /// Bound on each request.
    pub request_timeout: Duration,
    /// Names of what this run creates start with this.
    pub prefix: String,
    /// A read-only instance the operator lets the suite send refused writes to.
    pub read_only_instance: Option<Uuid>,
    /// `POST /v1/core/system/shutdown` may be sent (as the last check).
    pub allow_shutdown: bool,
    /// Hold answers to RT's contract only: `x-rt-extension` properties are optional.
    pub strict_rt: bool,
    /// A discovered ONVIF camera and its credentials, offered for the ONVIF checks.
    pub onvif_camera: Option<OnvifCamera>,
    /// A discovered camera that cannot be reached (state `Unknown`).
    pub onvif_unreachable_camera: Option<String>,
    /// Sent as `Authorization: Bearer` with every request, raw ones included.
    pub token: Option<String>,
}

/// An ONVIF camera the operator lets the suite store credentials for: the
/// given ones, and for the 403 check wrong ones for a moment.
#[derive(Clone)]
pub struct OnvifCamera {
    /// Its uuid or address, as `GET /v1/onvif/cameras` lists it.
    pub id: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for OnvifCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifCamera")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What a run created and has not deleted yet; shared by every check so the
/// runner can delete the leftovers even after a check timed out.
#[derive(Debug, Default)]
pub struct Created {
    pub instances: Mutex<Vec<Uuid>>,
    pub registry_keys: Mutex<Vec<String>>,
}

/// Lifecycle states a fixture instance can be brought to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Registered,
    Loaded,
    /// Running on a `Manual` input (pushed frames), which needs no media.
    Running,
}

/// What a check saw: kept outside the check's future, so a check that times
/// out still reports what it sent.
#[derive(Debug, Default)]
pub struct Log {
    pub exchanges: Vec<Exchange>,
    /// Contract faults seen in answers (a check with any fails).
    pub violations: Vec<String>,
}

/// The context of one check (cheap to clone; clones share the log and the
/// list of what was created).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub settings: Arc<Settings>,
    pub contract: Arc<Contract>,
    pub http: reqwest::Client,
    pub created: Arc<Created>,
    pub log: Arc<Mutex<Log>>,
    counter: Arc<AtomicU32>,
}

impl Ctx {
    pub fn new(settings: Arc<Settings>, contract: Arc<Contract>, http: reqwest::Client) -> Self {
        Self {
            settings,
            contract,
            http,
            created: Arc::default(),
            log: Arc::default(),
            counter: Arc::default(),
        }
    }

    /// A name carrying the run's prefix.
    pub fn name(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}{what}-{n}", self.settings.prefix)
    }

    fn violation(&self, v: String) {
        self.log.lock().expect("log").violations.push(v);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// The contract operation `id` (a check naming a missing one is a contract fault).
    pub fn op(&self, id: &str) -> Result<Operation, Fail> {
        self.contract
            .operation(id)
            .cloned()
            .ok_or_else(|| Fail::skip(format!("the contract has no operation `{id}`")))
    }

    /// Sends `req` as operation `op_id` with `params` filling its path, and
    /// holds the answer to what the contract documents for that operation.
    pub async fn call(
        &self,
        op_id: &str,
        params: &[(&str, &str)],
        req: Req,
    ) -> Result<Reply, Fail> {
        let op = self.op(op_id)?;
        let mut path = op.path.clone();
        for (k, v) in params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        let req =
            Req { method: Method::from_bytes(op.method.as_bytes()).expect("method"), path, ..req };
        let reply = self.send(req).await?;
        self.hold_to_contract(&op, &reply);
        Ok(reply)
    }

    /// Checks an answer against the operation's documentation.
    pub fn hold_to_contract(&self, op: &Operation, reply: &Reply) {
        let Some(doc) = op.response(reply.status) else {
            self.violation(format!(
                "{}: status {} is not documented (documented: {:?})",
                op.id,
                reply.status,
                op.statuses()
            ));
            return;
        };
        let media = reply.media_type();
        if doc.content_types.is_empty() {
            if !reply.body.is_empty() {
                self.violation(format!(
                    "{}: status {} documents no body, but {} bytes came back",
                    op.id,
                    reply.status,
                    reply.body.len()
                ));
            }
            return;
        }
        let Some(media) = media else {
            self.violation(format!(
                "{}: status {} came back without a Content-Type",
                op.id, reply.status
            ));
            return;
        };
        if !doc.content_types.iter().any(|ct| media_matches(ct, &media)) {
            self.violation(format!(
                "{}: status {} has Content-Type `{media}`, the contract says {:?}",
                op.id, reply.status, doc.content_types
            ));
            return;
        }
        if media == "application/json"
            && let Some(schema) = &doc.schema
        {
            match &reply.json {
                None => {
                    self.violation(format!("{}: status {} body is not JSON", op.id, reply.status))
                }
                Some(body) => {
                    if let Err(errors) =
                        self.contract.validate(schema, body, self.settings.strict_rt)
                    {
                        self.violation(format!(
                            "{}: status {} body does not match the contract's schema: {}",
                            op.id,
                            reply.status,
                            errors.join("; ")
                        ));
                    }
                }
            }
        }
    }

    /// Sends `req` as it is (no contract operation attached), recording it.
    pub async fn send(&self, req: Req) -> Result<Reply, Fail> {
        let url = self.url(&req.path);
        let mut builder = self
            .http
            .request(req.method.clone(), &url)
            .query(&req.query)
            .timeout(self.settings.request_timeout);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let mut request_headers = req.headers.clone();
        let request_body = match &req.body {
            Body::None => None,
            Body::Json(v) => {
                builder = builder.json(v);
                request_headers.push(("content-type".into(), "application/json".into()));
                Some(v.to_string())
            }
            Body::Raw(ct, bytes) => {
                builder = builder.header("content-type", *ct).body(bytes.clone());
                request_headers.push(("content-type".into(), ct.to_string()));
                Some(clip(&String::from_utf8_lossy(bytes)))
            }
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                let mut shown = Vec::new();
                for (name, bytes, mime) in parts {
                    let mut part = reqwest::multipart::Part::bytes(bytes.clone());
                    if let Some(mime) = mime {
                        part = part.file_name(name.clone()).mime_str(mime).expect("known mime");
                    }
                    shown.push(format!("{name}: {} bytes", bytes.len()));
                    form = form.part(name.clone(), part);
                }
                builder = builder.multipart(form);
                Some(format!("multipart/form-data [{}]", shown.join(", ")))
            }
        };
        let shown_url = if req.query.is_empty() {
            url.clone()
        } else {
            let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{url}?{}", q.join("&"))
        };
        let started = Instant::now();
        let mut exchange = Exchange::request(req.method.as_str(), shown_url, request_headers);
        exchange.request_body = request_body;
        let result = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        exchange.millis = started.elapsed().as_millis() as u64;
        match result {
            Ok((status, headers, body)) => {
                let json = serde_json::from_slice(&body).ok();
                let reply = Reply { status, headers, body, json };
                exchange.status = Some(status);
                exchange.content_type = reply.header("content-type").map(str::to_string);
                exchange.response_body = Some(clip(&String::from_utf8_lossy(&reply.body)));
                self.record(exchange);
                Ok(reply)
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    format!("no answer within {:?}", self.settings.request_timeout)
                } else {
                    format!("request failed: {}", chain(&e))
                };
                exchange.error = Some(what.clone());
                self.record(exchange);
                Err(Fail::new(format!("{} {}: {what}", req.method, req.path)))
            }
        }
    }

    /// Records an exchange made outside [`Ctx::send`] (raw sockets, streams).
    pub fn record(&self, exchange: Exchange) {
        self.log.lock().expect("log").exchanges.push(exchange);
    }

    /// `call`, then requires `status`.
    pub async fn expect(
        &self,
        op_id: &str,
        params: &[(&str, &str)],
        req: Req,
        status: u16,
    ) -> Result<Reply, Fail> {
        let reply = self.call(op_id, params, req).await?;
        if reply.status != status {
            return Err(Fail::new(format!(
                "{op_id}: expected {status}, got {}{}",
                reply.status,
                reply.str_at("/message").map(|m| format!(" ({m})")).unwrap_or_default()
            )));
        }
        Ok(reply)
    }

    /// Creates an instance of `solution` named with the run's prefix and
    /// brings it to `state`; it is deleted when the check ends.
    pub async fn instance(&self, solution: &str, state: State) -> Result<Uuid, Fail> {
        let id = Uuid::new_v4();
        let sid = id.to_string();
        let name = self.name("instance");
        let body = json!({"name": name, "solution": solution, "persistent": false});
        self.created.instances.lock().expect("created").push(id);
        let create = Req::new(Method::PUT, "").json(body);
        let mut steps = vec![("create_instance_with_id", create, "creating")];
        match state {
            State::Registered => {}
            State::Loaded => steps.push(("load_instance", Req::new(Method::POST, ""), "loading")),
            State::Running => {
                let manual = Req::new(Method::POST, "").json(json!({"type": "Manual"}));
                steps.push(("set_instance_input", manual, "giving a Manual input to"));
                steps.push(("start_instance", Req::new(Method::POST, ""), "starting"));
            }
        }
        for (op, req, doing) in steps {
            let expected = if op == "create_instance_with_id" { 201 } else { 204 };
            self.expect(op, &[("instanceId", &sid)], req, expected)
                .await
                .map_err(|f| Fail::new(format!("{doing} the test instance: {}", f.message)))?;
        }
        Ok(id)
    }

    /// A registry key with the run's prefix, deleted when the check ends.
    pub fn registry_key(&self, what: &str) -> String {
        let key = self.name(what);
        self.created.registry_keys.lock().expect("created").push(key.clone());
        key
    }
}

/// Deletes what `created` still lists (best effort; errors are reported, not fatal).
pub async fn clean_up(
    http: &reqwest::Client,
    settings: &Settings,
    created: &Created,
) -> Vec<String> {
    let base = settings.base_url.trim_end_matches('/');
    let mut problems = Vec::new();
    let instances: Vec<Uuid> = std::mem::take(&mut *created.instances.lock().expect("created"));
    let keys: Vec<String> = std::mem::take(&mut *created.registry_keys.lock().expect("created"));
    let mut doomed = Vec::new();
    for id in instances {
        let url = format!("{base}/v1/core/instance/{id}");
        let _ = http.post(format!("{url}/stop")).timeout(settings.request_timeout).send().await;
        doomed.push((format!("instance {id}"), url));
    }
    doomed.extend(
        keys.into_iter()
            .map(|k| (format!("registry key {k}"), format!("{base}/v1/rtregistry/{k}"))),
    );
    for (what, url) in doomed {
        match http.delete(&url).timeout(settings.request_timeout).send().await {
            Ok(r) if r.status().is_success() || r.status() == 404 => {}
            Ok(r) => problems.push(format!("could not delete {what}: HTTP {}", r.status())),
            Err(e) => problems.push(format!("could not delete {what}: {}", chain(&e))),
        }
    }
    problems
}

/// `application/json` matches `application/json`; `image/*` matches `image/jpeg`.
fn media_matches(documented: &str, got: &str) -> bool {
    let documented = documented.to_ascii_lowercase();
    documented == got
        || documented == "*/*"
        || documented.strip_suffix("/*").is_some_and(|major| got.split('/').next() == Some(major))
}

/// The text kept of a body.
pub fn clip(text: &str) -> String {
    if text.len() <= BODY_LIMIT {
        return text.to_string();
    }
    let mut end = BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// An error with its causes, one line.
pub use rt_client::error_chain as chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_as_documented() {
        let cases = [
            ("application/json", "application/json", true),
            ("application/json", "text/plain", false),
            ("image/*", "image/jpeg", true),
            ("*/*", "text/event-stream", true),
            ("Application/JSON", "application/json", true),
        ];
        for (doc, got, want) in cases {
            assert_eq!(media_matches(doc, got), want, "{doc} vs {got}");
        }
    }

    #[test]
    fn clips_long_bodies_on_char_boundaries() {
        let long = "é".repeat(BODY_LIMIT);
        let clipped = clip(&long);
        assert!(clipped.len() < long.len() && clipped.ends_with("bytes in all)"));
        assert_eq!(clip("short"), "short");
    }
}
