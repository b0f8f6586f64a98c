//! The `keepalive` group: every write that takes no parameters in its body
//! (`load`, `start`, `DELETE ...`) is sent with no body at all (no
//! `Content-Length`) and then with `{}`, on one reused connection; each must
//! be answered within the request bound, accepted (not 400, not 5xx), and
//! leave the connection open. A server that hangs fails the check; the
//! suite does not hang with it.

use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::operations::target;
use super::{Check, check};
use crate::ctx::{CheckResult, Ctx, Exchange, Fail, Reply, clip};
use crate::raw::{Conn, RawResponse};
use crate::spec::{Contract, Operation};

pub fn checks(contract: &Contract) -> Vec<Check> {
    contract
        .operations()
        .iter()
        .filter(|op| matches!(op.method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH"))
        .filter(|op| op.request_type.is_none() && op.id != "shutdown_system")
        .map(|op| {
            let op2 = op.clone();
            check(
                format!("keepalive.{}", op.id),
                "keepalive",
                op.extension,
                format!(
                    "{} {} with no body, then with {{}}, on one connection",
                    op.method, op.path
                ),
                move |ctx| {
                    let op = op2.clone();
                    async move { keepalive(&ctx, &op).await }
                },
            )
        })
        .collect()
}

async fn keepalive(ctx: &Ctx, op: &Operation) -> CheckResult {
    let t = target(ctx, op, op.success().unwrap_or(204), None).await?;
    let path = t.path_and_query(op);
    let bound = ctx.settings.request_timeout;
    let mut conn = tokio::time::timeout(
        bound,
        Conn::connect(&ctx.settings.base_url, ctx.settings.token.as_deref()),
    )
    .await
    .map_err(|_| Fail::new("could not connect in time"))?
    .map_err(|e| Fail::skip(format!("no raw connection: {e}")))?;
    let requests: [(&str, String, &[u8]); 2] = [
        ("with no body and no Content-Length", format!("{} {path} HTTP/1.1", op.method), b""),
        (
            "with the body {} on the same connection",
            format!(
                "{} {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2",
                op.method
            ),
            b"{}",
        ),
    ];
    for (how, head, body) in requests {
        let started = Instant::now();
        let answer = tokio::time::timeout(bound, conn.exchange(&head, body)).await;
        let headers = head.lines().skip(1).filter_map(|l| l.split_once(": "));
        let mut exchange = Exchange::request(
            op.method.as_str(),
            ctx.url(&path),
            headers.map(|(k, v)| (k.into(), v.into())).collect(),
        );
        exchange.request_body =
            (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned());
        let result = match answer {
            Err(_) => {
                Err(format!("{} {how}: no answer within {bound:?} (the server hangs)", op.method))
            }
            Ok(Err(e)) => Err(format!("{} {how}: {e}", op.method)),
            Ok(Ok(r)) => Ok(r),
        };
        exchange.millis = started.elapsed().as_millis() as u64;
        let response = match result {
            Ok(r) => r,
            Err(message) => {
                exchange.error = Some(message.clone());
                ctx.record(exchange);
                return Err(Fail::new(message));
            }
        };
        exchange.status = Some(response.status);
        exchange.content_type = response.header("content-type").map(str::to_string);
        exchange.response_body = Some(clip(&String::from_utf8_lossy(&response.body)));
        ctx.record(exchange);
        ctx.hold_to_contract(op, &reply(&response));
        if response.status == 400 || response.status >= 500 {
            return Err(Fail::new(format!(
                "{} {how}: refused with {}",
                op.method, response.status
            )));
        }
        if response.closes() {
            return Err(Fail::new(format!(
                "{} {how}: the server closed the connection (Connection: close)",
                op.method
            )));
        }
    }
    Ok(())
}

fn reply(r: &RawResponse) -> Reply {
    let mut headers = HeaderMap::new();
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) =
            (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str()))
        {
            headers.append(k, v);
        }
    }
    Reply {
        status: r.status,
        headers,
        json: serde_json::from_slice(&r.body).ok(),
        body: r.body.clone().into(),
    }
}
