//! Per-operation checks: for every operation of the contract, its success
//! status and each error status it documents (400, 403, 404, 406, 409, 412),
//! each reached by a request built for that purpose. Every answer is also
//! held to the contract (status documented, content type, schema) by
//! [`Ctx::call`]. Unknown instance ids -> 404 is the `.404` check of every
//! instance-scoped operation.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Check, check, securt};
use crate::ctx::{Body, CheckResult, Ctx, Fail, OnvifCamera, Req, State};
use crate::spec::{Contract, Operation};

/// How long an HLS output may take to write its first playlist.
const HLS_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The error statuses the suite reaches on purpose.
const ERRORS: [u16; 6] = [400, 403, 404, 406, 409, 412];

/// A small JPEG and one H.264 access unit (Annex B), for the push operations.
pub const JPEG: &[u8] = include_bytes!("../../fixtures/frame.jpg");
pub const H264: &[u8] = include_bytes!("../../fixtures/frame.h264");

pub fn checks(contract: &Contract) -> Vec<Check> {
    let mut out = Vec::new();
    for op in contract.operations() {
        for status in op.statuses() {
            if !(200..300).contains(&status) && !ERRORS.contains(&status) {
                continue;
            }
            let about = format!("{} {} answers {status} {}", op.method, op.path, why(status));
            let op2 = op.clone();
            out.push(check(
                format!("{}.{}.{status}", op.namespace, op.id),
                &op.namespace,
                op.extension,
                about,
                move |ctx| probe(ctx, op2.clone(), status),
            ));
        }
    }
    out
}

fn why(status: u16) -> &'static str {
    match status {
        400 => "to a malformed request",
        403 => "to a write on a read-only instance",
        404 => "for an unknown id",
        406 => "in a state that forbids it",
        409 => "on a conflict",
        412 => "when If-Match differs",
        _ => "to a valid request",
    }
}

async fn probe(ctx: Ctx, op: Operation, status: u16) -> CheckResult {
    match status {
        200..=299 => success(&ctx, &op, status).await,
        400 => bad_request(&ctx, &op).await,
        403 => forbidden(&ctx, &op).await,
        404 => not_found(&ctx, &op).await,
        406 => wrong_state(&ctx, &op).await,
        409 => conflict(&ctx, &op).await,
        412 => precondition(&ctx, &op).await,
        _ => Err(Fail::skip(format!("no probe for status {status}"))),
    }
}

/// A request for `op`: its path parameters and the request.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) params: Vec<(String, String)>,
    pub(super) req: Req,
}

impl Target {
    fn set(&mut self, param: &str, value: impl Into<String>) {
        let value = value.into();
        match self.params.iter_mut().find(|(k, _)| k == param) {
            Some(slot) => slot.1 = value,
            None => self.params.push((param.to_string(), value)),
        }
    }

    fn get(&self, param: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == param).map(|(_, v)| v.as_str())
    }

    /// The request target: the path filled in, with its query.
    pub(super) fn path_and_query(&self, op: &Operation) -> String {
        let mut path = op.path.clone();
        for (k, v) in &self.params {
            path = path.replace(&format!("{{{k}}}"), v);
        }
        if !self.req.query.is_empty() {
            let q: Vec<String> = self.req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            path = format!("{path}?{}", q.join("&"));
        }
        path
    }

    async fn send(&self, ctx: &Ctx, op: &Operation, status: u16) -> CheckResult {
        if op.id == "shutdown_system" && !ctx.settings.allow_shutdown {
            return Err(Fail::skip(
                "it would stop the server under test (--allow-shutdown runs it last)",
            ));
        }
        let params: Vec<(&str, &str)> =
            self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // An operation that answers with a stream (events, the live view) is
        // opened as one, whatever the status.
        let streams = op
            .success()
            .and_then(|ok| op.response(ok))
            .is_some_and(|r| r.content_types.iter().any(|c| crate::checks::sse::is_stream(c)));
        if streams {
            return open_stream(ctx, op, &self.path_and_query(op), status).await;
        }
        let reply = ctx.expect(&op.id, &params, self.req.clone(), status).await?;
        // What the suite created through the operation under test is its own to delete.
        if (200..300).contains(&status)
            && op.method == "POST"
            && op.path.ends_with("/instance")
            && let Some(id) = reply.str_at("/instanceId").and_then(|s| s.parse().ok())
        {
            ctx.created.instances.lock().expect("created").push(id);
        }
        Ok(())
    }
}

/// The lifecycle state the operation's success needs.
fn needed_state(op: &str) -> State {
    match op {
        "stop_instance" | "restart_instance" | "push_compressed_frame" | "push_encoded_frame" => {
            State::Running
        }
        "unload_instance" | "get_instance_state" | "set_instance_state" => State::Loaded,
        _ => State::Registered,
    }
}

/// The contract's example body for `op`, or that of its sibling: the
/// `PUT .../{id}` form of a create takes the body of the `POST` beside it.
fn example(ctx: &Ctx, op: &Operation) -> Option<Value> {
    if let Some(e) = &op.request_example {
        return Some(e.clone());
    }
    let parent = op.path.rsplit_once('/')?.0;
    ctx.contract
        .operations()
        .iter()
        .find(|o| o.path == parent && o.method == "POST")
        .and_then(|o| o.request_example.clone())
}

/// A valid body for `op` (with the run's prefix on any name).
async fn body(ctx: &Ctx, op: &Operation, status: u16) -> Result<Body, Fail> {
    let timestamp = || b"0".to_vec();
    Ok(match op.id.as_str() {
        "create_instance" | "create_instance_with_id" => Body::Json(
            json!({"name": ctx.name("instance"), "solution": "securt", "persistent": false}),
        ),
        "securt_create_instance" | "securt_create_instance_with_id" => {
            Body::Json(json!({"name": ctx.name("instance")}))
        }
        "set_instance_config" | "set_instance_state" => {
            Body::Json(json!({"path": "Conformance/probe", "jsonValue": "{\"written\":true}"}))
        }
        "set_output_hls" => Body::Json(json!({"enabled": status == 200})),
        "update_system_config" => {
            // Writes back a value the server already has: a change it accepts and that changes nothing.
            let current =
                ctx.expect("get_system_config", &[], Req::new(Method::GET, ""), 200).await?;
            let field =
                current
                    .json
                    .as_ref()
                    .and_then(|j| j.pointer("/systemConfig/0"))
                    .cloned()
                    .ok_or_else(|| Fail::new("get_system_config listed no field to write back"))?;
            let (Some(id), Some(value)) = (field.get("fieldId"), field.get("value")) else {
                return Err(Fail::new(format!(
                    "system config field without fieldId/value: {field}"
                )));
            };
            Body::Json(json!({"systemConfig": [{"fieldId": id, "value": value}]}))
        }
        "push_compressed_frame" => Body::Multipart(vec![
            ("frame".into(), JPEG.to_vec(), Some("image/jpeg".into())),
            ("timestamp".into(), timestamp(), None),
        ]),
        "push_encoded_frame" => Body::Multipart(vec![
            ("frame".into(), H264.to_vec(), Some("application/octet-stream".into())),
            ("timestamp".into(), timestamp(), None),
        ]),
        _ => match (example(ctx, op), &op.request_type) {
            (Some(mut e), _) => {
                if let Some(name) = e.get_mut("name") {
                    *name = Value::String(ctx.name("probe"));
                }
                Body::Json(e)
            }
            (None, Some(_)) if op.request_required => Body::Json(json!({})),
            _ => Body::None,
        },
    })
}

/// A request that should succeed, with fixtures created as needed.
/// `instance` overrides the instance it targets.
pub(super) async fn target(
    ctx: &Ctx,
    op: &Operation,
    status: u16,
    instance: Option<Uuid>,
) -> Result<Target, Fail> {
    let method = Method::from_bytes(op.method.as_bytes()).expect("method");
    let mut t = Target { params: Vec::new(), req: Req::new(method, "") };
    for param in &op.path_params {
        let value = match param.as_str() {
            "instanceId" if op.id.ends_with("create_instance_with_id") => {
                let id = Uuid::new_v4();
                ctx.created.instances.lock().expect("created").push(id);
                id.to_string()
            }
            "instanceId" => match instance {
                Some(id) => id.to_string(),
                None => ctx.instance("securt", needed_state(&op.id)).await?.to_string(),
            },
            // A caller-chosen id that is not a UUID, as RT's own tests use.
            "areaId" | "lineId" if op.method == "PUT" => ctx.name(param),
            "areaId" | "lineId" => {
                let instance = t.get("instanceId").unwrap_or_default().to_string();
                rule(ctx, &instance, param == "lineId").await?
            }
            "key" => {
                let key = ctx.registry_key("key");
                if op.method != "PUT" {
                    let put = Req::new(Method::PUT, "").json(json!({"probe": true}));
                    ctx.expect("registry_put", &[("key", &key)], put, 204).await?;
                }
                key
            }
            "codecId" => "h264".into(),
            // Only error probes get this far: no camera has a fresh id.
            "cameraId" => Uuid::new_v4().to_string(),
            "file" => format!("{}.m3u8", Uuid::new_v4()),
            other => {
                return Err(Fail::skip(format!("no value known for path parameter `{other}`")));
            }
        };
        t.set(param, value);
    }
    t.req.body = body(ctx, op, status).await?;
    if op.id == "onvif_discover" {
        t.req = t.req.query("timeout", "1");
    }
    Ok(t)
}

/// Creates an area (or a line) on `instance`, returning its id.
async fn rule(ctx: &Ctx, instance: &str, line: bool) -> Result<String, Fail> {
    if line {
        securt::create(ctx, instance, "securt_create_line_crossing", "/lineId").await
    } else {
        securt::create(ctx, instance, "securt_create_area_intrusion", "/areaId").await
    }
}

async fn success(ctx: &Ctx, op: &Operation, status: u16) -> CheckResult {
    if op.path_params.iter().any(|p| p == "cameraId") {
        return camera_success(ctx, op, status).await;
    }
    if op.id == "get_hls_file" {
        return hls_file(ctx, op).await;
    }
    let t = target(ctx, op, status, None).await?;
    t.send(ctx, op, status).await
}

/// The camera the operator offered, or why the check cannot run.
fn camera(ctx: &Ctx) -> Result<OnvifCamera, Fail> {
    ctx.settings.onvif_camera.clone().ok_or_else(|| {
        Fail::skip("it needs an ONVIF camera the server has discovered: pass --onvif-camera with its credentials")
    })
}

/// Stores `username`/`password` for the camera `id`.
async fn store_credentials(ctx: &Ctx, id: &str, username: &str, password: &str) -> CheckResult {
    let req = Req::new(Method::POST, "").json(json!({"username": username, "password": password}));
    ctx.expect("onvif_set_credentials", &[("cameraId", id)], req, 204).await?;
    Ok(())
}

/// Stores the offered credentials (`onvif_set_credentials` 204), then
/// reads the streams they unlock (`onvif_get_streams` 200).
async fn camera_success(ctx: &Ctx, op: &Operation, status: u16) -> CheckResult {
    let cam = camera(ctx)?;
    store_credentials(ctx, &cam.id, &cam.username, &cam.password).await?;
    if op.id == "onvif_set_credentials" {
        return Ok(());
    }
    let t = Target { params: vec![("cameraId".into(), cam.id)], req: Req::new(Method::GET, "") };
    t.send(ctx, op, status).await
}

/// Stores credentials the camera refuses, reads its streams (403), and
/// stores the offered ones again, whatever happened.
async fn camera_refuses(ctx: &Ctx, op: &Operation) -> CheckResult {
    let cam = camera(ctx)?;
    let refused = async {
        store_credentials(ctx, &cam.id, &cam.username, &ctx.name("wrong-password")).await?;
        let t = Target {
            params: vec![("cameraId".into(), cam.id.clone())],
            req: Req::new(Method::GET, ""),
        };
        t.send(ctx, op, 403).await
    }
    .await;
    let restored = store_credentials(ctx, &cam.id, &cam.username, &cam.password).await;
    refused.and(restored)
}

/// Enables HLS on a running instance fed with frames, then waits for its playlist.
async fn hls_file(ctx: &Ctx, op: &Operation) -> CheckResult {
    let instance = ctx.instance("securt", State::Running).await?;
    let sid = instance.to_string();
    let enable = Req::new(Method::POST, "").json(json!({"enabled": true}));
    let reply = ctx.expect("set_output_hls", &[("instanceId", &sid)], enable, 200).await?;
    let uri = reply
        .str_at("/uri")
        .ok_or_else(|| Fail::new("set_output_hls answered 200 without `uri`"))?;
    let file = uri.rsplit('/').next().unwrap_or_default().to_string();
    let _pumping = crate::checks::sse::pump(ctx, instance);
    let deadline = tokio::time::Instant::now() + HLS_WAIT;
    // 404 until the first segments are written (documented, so no fault).
    loop {
        let reply = ctx.call(&op.id, &[("file", &file)], Req::new(Method::GET, "")).await?;
        match reply.status {
            200 => return Ok(()),
            404 if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            status => {
                return Err(Fail::new(format!("GET {uri}: {status} after {HLS_WAIT:?} of frames")));
            }
        }
    }
}

async fn bad_request(ctx: &Ctx, op: &Operation) -> CheckResult {
    let ok = op.success().unwrap_or(200);
    // A malformed body where the operation takes JSON ...
    if op.request_type.as_deref() == Some("application/json") {
        let mut t = target(ctx, op, ok, None).await?;
        t.req.body = Body::Raw("application/json", b"{\"unterminated\": ".to_vec());
        return t.send(ctx, op, 400).await;
    }
    // ... else an instance id that is not a UUID (area and line ids are
    // any string the caller chooses) ...
    if let Some(param) = op.path_params.iter().find(|p| *p == "instanceId") {
        let mut t = target(ctx, op, ok, None).await?;
        t.set(param, "not-a-uuid");
        return t.send(ctx, op, 400).await;
    }
    // ... else the operation's own malformed input.
    let mut t = Target { params: Vec::new(), req: Req::new(Method::GET, "") };
    match op.id.as_str() {
        "get_log" => t.req = t.req.query("count", "-1"),
        "onvif_discover" => t.req = t.req.query("timeout", "0"),
        "registry_get" | "registry_delete" => t.set("key", "k".repeat(513)),
        // A query parameter given twice.
        "registry_list" | "registry_watch" => {
            t.req = t.req.query("prefix", "a").query("prefix", "b")
        }
        "get_hls_file" => t.set("file", "a%2Fb.m3u8"),
        "push_compressed_frame" | "push_encoded_frame" => {
            t = target(ctx, op, ok, None).await?;
            t.req.body = Body::Multipart(vec![("timestamp".into(), b"0".to_vec(), None)]);
        }
        _ => return Err(Fail::skip("no malformed request known for this operation")),
    }
    t.send(ctx, op, 400).await
}

async fn forbidden(ctx: &Ctx, op: &Operation) -> CheckResult {
    if op.id == "onvif_get_streams" {
        return camera_refuses(ctx, op).await;
    }
    if !op.path_params.iter().any(|p| p == "instanceId") {
        return Err(Fail::skip("no refused write known for this operation"));
    }
    let Some(read_only) = ctx.settings.read_only_instance else {
        return Err(Fail::skip("403 needs a read-only instance: pass --read-only-instance <id>"));
    };
    let mut t = Target {
        params: vec![("instanceId".into(), read_only.to_string())],
        req: Req::new(Method::GET, ""),
    };
    for param in &op.path_params {
        if param != "instanceId" {
            t.set(param, Uuid::new_v4().to_string());
        }
    }
    t.req = Req::new(Method::from_bytes(op.method.as_bytes()).expect("method"), "")
        .body(body(ctx, op, 200).await?);
    t.send(ctx, op, 403).await
}

async fn not_found(ctx: &Ctx, op: &Operation) -> CheckResult {
    let ok = op.success().unwrap_or(200);
    let unknown = Uuid::new_v4().to_string();
    let t = match op.id.as_str() {
        "onvif_get_streams" | "onvif_set_credentials" => {
            let mut t = Target { params: Vec::new(), req: Req::new(Method::GET, "") };
            t.set("cameraId", unknown);
            t.req.body = body(ctx, op, ok).await?;
            t
        }
        "get_hls_file" => {
            let mut t = Target { params: Vec::new(), req: Req::new(Method::GET, "") };
            t.set("file", format!("{unknown}.m3u8"));
            t
        }
        "registry_get" | "registry_delete" => {
            let mut t = Target { params: Vec::new(), req: Req::new(Method::GET, "") };
            t.set("key", ctx.name("never-put"));
            t
        }
        "securt_delete_area" | "securt_delete_line" => {
            // The instance exists; the area or line does not.
            let mut t = target(ctx, op, ok, None).await?;
            let param = if op.id.ends_with("area") { "areaId" } else { "lineId" };
            t.set(param, unknown);
            t
        }
        _ if op.path_params.iter().any(|p| p == "instanceId") => {
            let mut t = target(ctx, op, ok, Some(Uuid::new_v4())).await?;
            t.set("instanceId", unknown);
            t
        }
        _ => return Err(Fail::skip("no unknown id to name for this operation")),
    };
    t.send(ctx, op, 404).await
}

async fn wrong_state(ctx: &Ctx, op: &Operation) -> CheckResult {
    let state = match op.id.as_str() {
        "load_instance" => State::Loaded,
        "unload_instance" | "get_instance_state" | "set_instance_state" => State::Registered,
        "restart_instance" => State::Loaded,
        "onvif_get_streams" => {
            let Some(id) = ctx.settings.onvif_unreachable_camera.clone() else {
                return Err(Fail::skip(
                    "406 needs an unreachable camera: pass --onvif-unreachable-camera",
                ));
            };
            let t =
                Target { params: vec![("cameraId".into(), id)], req: Req::new(Method::GET, "") };
            return t.send(ctx, op, 406).await;
        }
        _ => return Err(Fail::skip("no forbidding state known for this operation")),
    };
    let instance = ctx.instance("securt", state).await?;
    let t = target(ctx, op, op.success().unwrap_or(200), Some(instance)).await?;
    t.send(ctx, op, 406).await
}

async fn conflict(ctx: &Ctx, op: &Operation) -> CheckResult {
    let ok = op.success().unwrap_or(200);
    match op.id.as_str() {
        // An id that is taken.
        "create_instance_with_id" | "securt_create_instance_with_id" => {
            let existing = ctx.instance("securt", State::Registered).await?;
            let mut t = target(ctx, op, ok, None).await?;
            t.set("instanceId", existing.to_string());
            t.send(ctx, op, 409).await
        }
        "securt_create_instance" => {
            let existing = ctx.instance("securt", State::Registered).await?;
            let req = Req::new(Method::POST, "")
                .json(json!({"name": ctx.name("instance"), "instanceId": existing}));
            let t = Target { params: Vec::new(), req };
            t.send(ctx, op, 409).await
        }
        // Pushing to an instance that is not running.
        "push_compressed_frame" | "push_encoded_frame" => {
            let idle = ctx.instance("securt", State::Registered).await?;
            let t = target(ctx, op, ok, Some(idle)).await?;
            t.send(ctx, op, 409).await
        }
        // The same area or line id twice.
        _ if op.method == "PUT"
            && op.path_params.iter().any(|p| p == "areaId" || p == "lineId") =>
        {
            let t = target(ctx, op, ok, None).await?;
            t.send(ctx, op, ok).await?;
            t.send(ctx, op, 409).await
        }
        _ => Err(Fail::skip("no conflict known for this operation")),
    }
}

async fn precondition(ctx: &Ctx, op: &Operation) -> CheckResult {
    let mut t = target(ctx, op, op.success().unwrap_or(200), None).await?;
    if op.method == "PUT" {
        // The key must exist for its ETag to differ.
        let key = t.get("key").unwrap_or_default().to_string();
        let put = Req::new(Method::PUT, "").json(json!({"first": true}));
        ctx.expect("registry_put", &[("key", &key)], put, 204).await?;
    }
    t.req = t.req.header("If-Match", "\"rt-conformance-no-such-etag\"");
    t.send(ctx, op, 412).await
}

/// Opens a streaming operation: the status and headers are checked, then
/// the stream is closed (the `sse` group checks what flows in event streams).
async fn open_stream(ctx: &Ctx, op: &Operation, path: &str, status: u16) -> CheckResult {
    let (reply, _stream) = crate::checks::sse::open(ctx, path, &[]).await?;
    // The body of a stream is not read; its framing is the `sse` group's.
    ctx.hold_to_contract(op, &reply);
    if reply.status != status {
        return Err(Fail::new(format!("{}: expected {status}, got {}", op.id, reply.status)));
    }
    Ok(())
}
