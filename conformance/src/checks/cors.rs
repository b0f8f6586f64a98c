//! The `cors` group, run when the server says CORS is on
//! (`web_server.cors.enabled` is `true` in `GET /v1/core/system/config`):
//! answers to cross-origin requests, errors included, carry
//! `Access-Control-Allow-Origin`, and preflights allow the method and headers
//! asked for.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use super::{Check, check};
use crate::ctx::{CheckResult, Ctx, Fail, Reply, Req};
use crate::ensure;

/// The origin the suite says it comes from.
const ORIGIN: &str = "http://rt-conformance.invalid";

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "cors.simple",
            "cors",
            false,
            "a cross-origin GET is answered with Access-Control-Allow-Origin",
            |ctx| async move {
                cors_on(&ctx).await?;
                let reply = ctx
                    .call("get_version", &[], Req::new(Method::GET, "").header("Origin", ORIGIN))
                    .await?;
                allows_origin(&reply)
            },
        ),
        check(
            "cors.errors",
            "cors",
            false,
            "a cross-origin request that fails (404) still carries Access-Control-Allow-Origin",
            |ctx| async move {
                cors_on(&ctx).await?;
                let id = Uuid::new_v4().to_string();
                let req = Req::new(Method::GET, "").header("Origin", ORIGIN);
                let reply = ctx.expect("get_instance", &[("instanceId", &id)], req, 404).await?;
                allows_origin(&reply)
            },
        ),
        check(
            "cors.preflight",
            "cors",
            false,
            "an OPTIONS preflight allows the method and headers it asks for",
            |ctx| async move { preflight(&ctx).await },
        ),
    ]
}

/// Skips unless the server's configuration says CORS is on.
async fn cors_on(ctx: &Ctx) -> CheckResult {
    let reply = ctx.expect("get_system_config", &[], Req::new(Method::GET, ""), 200).await?;
    let fields = reply
        .json
        .as_ref()
        .and_then(|j| j.get("systemConfig"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let enabled = fields
        .iter()
        .find(|f| f.get("fieldId").and_then(Value::as_str) == Some("web_server.cors.enabled"))
        .and_then(|f| f.get("value"))
        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
    match enabled.as_deref() {
        Some("true") => Ok(()),
        Some(v) => Err(Fail::skip(format!("the server says web_server.cors.enabled is {v}"))),
        None => Err(Fail::skip("the server's system config has no web_server.cors.enabled")),
    }
}

fn allows_origin(reply: &Reply) -> CheckResult {
    let acao = reply.header("access-control-allow-origin");
    ensure!(
        acao == Some("*") || acao == Some(ORIGIN),
        "Access-Control-Allow-Origin is {acao:?} for Origin {ORIGIN}"
    );
    if acao == Some(ORIGIN) {
        let vary = reply.header("vary").unwrap_or_default().to_ascii_lowercase();
        ensure!(vary.contains("origin"), "the origin is echoed but Vary does not name Origin");
    }
    Ok(())
}

async fn preflight(ctx: &Ctx) -> CheckResult {
    cors_on(ctx).await?;
    let paths = [
        (format!("/v1/core/instance/{}", Uuid::new_v4()), "PATCH"),
        ("/v1/core/instance".to_string(), "POST"),
        (format!("/v1/core/instance/{}/consume_events_sse", Uuid::new_v4()), "GET"),
    ];
    let mut faults = Vec::new();
    for (path, method) in paths {
        let req = Req::new(Method::OPTIONS, path.clone())
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "content-type,last-event-id");
        let reply = ctx.send(req).await?;
        let list = |h: &str| reply.header(h).unwrap_or_default().to_ascii_lowercase();
        if !(200..300).contains(&reply.status) {
            faults.push(format!("OPTIONS {path}: {}", reply.status));
            continue;
        }
        if let Err(f) = allows_origin(&reply) {
            faults.push(format!("OPTIONS {path}: {}", f.message));
        }
        let methods = list("access-control-allow-methods");
        if !(methods.contains(&method.to_ascii_lowercase()) || methods.trim() == "*") {
            faults.push(format!(
                "OPTIONS {path}: Access-Control-Allow-Methods {methods:?} lacks {method}"
            ));
        }
        let headers = list("access-control-allow-headers");
        for h in ["content-type", "last-event-id"] {
            if !(headers.contains(h) || headers.trim() == "*") {
                faults.push(format!(
                    "OPTIONS {path}: Access-Control-Allow-Headers {headers:?} lacks {h}"
                ));
            }
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}
