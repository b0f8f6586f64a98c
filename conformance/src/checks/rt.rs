//! The `rt` group: what RT's own clients send, as CVEDIA's SDK shows it, and
//! that an RT-compatible server must therefore take: JSON bodies labelled
//! `text/plain` or form-encoded (a bare `fetch`, `curl -d`), `count` as a
//! double (the SDK's generated client), an instance created without a
//! `solution`, an `RTSP` input naming a file (the SDK knows no other type),
//! and `GET /v1/core/version` in RT's `YYYY.MINOR.PATCH` form.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Check, check};
use crate::ctx::{Body, CheckResult, Ctx, Req, State};
use crate::ensure;

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "rt.json_any_content_type",
            "rt",
            false,
            "a JSON body labelled text/plain or form-encoded is read as JSON; one that is not JSON is a 400",
            |ctx| async move { any_content_type(&ctx).await },
        ),
        check(
            "rt.log_count_double",
            "rt",
            false,
            "GET /v1/core/log?count=50.000000000000000, as RT's generated client sends it, is a 200",
            |ctx| async move {
                let req = Req::new(Method::GET, "").query("count", "50.000000000000000");
                ctx.expect("get_log", &[], req, 200).await.map(|_| ())
            },
        ),
        check(
            "rt.solution_optional",
            "rt",
            false,
            "an instance created without a solution is a securt instance",
            |ctx| async move { solution_optional(&ctx).await },
        ),
        check(
            "rt.rtsp_input_any_scheme",
            "rt",
            false,
            "an RTSP input may name a file:// URI or an http(s):// URL",
            |ctx| async move { rtsp_any_scheme(&ctx).await },
        ),
        check(
            "rt.version_form",
            "rt",
            false,
            "the engine version has RT's YYYY.MINOR.PATCH form",
            |ctx| async move {
                let reply = ctx.expect("get_version", &[], Req::new(Method::GET, ""), 200).await?;
                let engine = reply.str_at("/engine").unwrap_or_default();
                let parts: Vec<&str> = engine.split('.').collect();
                ensure!(
                    parts.len() == 3
                        && parts[0].len() == 4
                        && parts.iter().all(|p| p.parse::<u32>().is_ok()),
                    "engine {engine:?} is not YYYY.MINOR.PATCH"
                );
                Ok(())
            },
        ),
    ]
}

/// `PUT /v1/core/instance/{id}` with `body` sent as `content_type`; the new
/// id is deleted when the check ends.
async fn create_as(
    ctx: &Ctx,
    content_type: &'static str,
    body: &[u8],
) -> Result<u16, crate::ctx::Fail> {
    let id = Uuid::new_v4();
    ctx.created.instances.lock().expect("created").push(id);
    let req = Req::new(Method::PUT, "").body(Body::Raw(content_type, body.to_vec()));
    Ok(ctx.call("create_instance_with_id", &[("instanceId", &id.to_string())], req).await?.status)
}

async fn any_content_type(ctx: &Ctx) -> CheckResult {
    let good = json!({"name": ctx.name("instance"), "solution": "securt"}).to_string();
    let cases: [(&'static str, &[u8], u16); 3] = [
        ("text/plain", good.as_bytes(), 201),
        ("application/x-www-form-urlencoded", good.as_bytes(), 201),
        ("text/plain", b"name=x&solution=securt", 400),
    ];
    let mut faults = Vec::new();
    for (content_type, body, want) in cases {
        let got = create_as(ctx, content_type, body).await?;
        if got != want {
            let body = String::from_utf8_lossy(body);
            faults.push(format!("{content_type} body {body}: expected {want}, got {got}"));
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}

async fn solution_optional(ctx: &Ctx) -> CheckResult {
    let id = Uuid::new_v4();
    let sid = id.to_string();
    ctx.created.instances.lock().expect("created").push(id);
    let create = Req::new(Method::PUT, "").json(json!({"name": ctx.name("instance")}));
    ctx.expect("create_instance_with_id", &[("instanceId", &sid)], create, 201).await?;
    let reply =
        ctx.expect("get_instance", &[("instanceId", &sid)], Req::new(Method::GET, ""), 200).await?;
    let solution = reply.str_at("/solutionId").unwrap_or_default();
    ensure!(solution == "securt", "solutionId is {solution:?}, expected \"securt\"");
    Ok(())
}

async fn rtsp_any_scheme(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let sid = id.to_string();
    for uri in ["file:///var/lib/rt-conformance/none.mp4", "https://rt-conformance.invalid/v.m3u8"]
    {
        let req = Req::new(Method::POST, "").json(json!({"type": "RTSP", "uri": uri}));
        ctx.expect("set_instance_input", &[("instanceId", &sid)], req, 204).await?;
    }
    Ok(())
}
