//! The `sse` group: `consume_events_sse` is a `text/event-stream` whose
//! records carry `id`, `event` and one line of JSON `data` with `$id` and
//! `$version`; ids increase, names are the contract's, payloads match their
//! schemas, an idle stream sends keep-alive comments, and (our extension)
//! `Last-Event-ID` resumes without a gap.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use rt_client::sse::{Frame, Record};
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Check, check};
use crate::checks::operations::JPEG;
use crate::ctx::{CheckResult, Ctx, Exchange, Fail, Reply, State, chain};
use crate::ensure;

/// How long the framing checks wait for records before giving up.
const RECORD_WAIT: Duration = Duration::from_secs(20);
/// RT sends a keep-alive comment every 15 s without traffic; this is the bound.
const KEEPALIVE_WAIT: Duration = Duration::from_secs(20);
/// A comment this long after opening is a keep-alive, not a greeting.
const IDLE: Duration = Duration::from_secs(5);

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "sse.framing",
            "sse",
            false,
            "records have id, a contract event name and one line of JSON data with $id and $version; ids increase",
            |ctx| async move { framing(&ctx).await },
        ),
        check(
            "sse.keepalive",
            "sse",
            false,
            "an idle stream stays open and sends a keep-alive comment within 20 s of silence",
            |ctx| async move { keepalive(&ctx).await },
        ),
        check(
            "sse.resume",
            "sse",
            true,
            "a reconnect with Last-Event-ID resumes right after that id (typed rt-client stream)",
            |ctx| async move { resume(&ctx).await },
        ),
    ]
}

/// Whether a media type is one of a stream that stays open: Server-Sent
/// Events, or a Motion JPEG live view (`multipart/x-mixed-replace`).
pub fn is_stream(media_type: &str) -> bool {
    media_type.starts_with("text/event-stream")
        || media_type.starts_with("multipart/x-mixed-replace")
}

/// Opens a stream at `path`: the answer's status and headers, and the
/// response to read frames from when it is a 2xx stream ([`is_stream`]; any
/// other answer is read whole into the [`Reply`]).
pub async fn open(
    ctx: &Ctx,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Reply, Option<reqwest::Response>), Fail> {
    let url = ctx.url(path);
    let mut builder = ctx.http.request(Method::GET, &url).header("accept", "text/event-stream");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let started = Instant::now();
    let shown = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut exchange = Exchange::request("GET", url.clone(), shown);
    // Only the headers are bounded: the body is a stream.
    let sent = tokio::time::timeout(ctx.settings.request_timeout, builder.send()).await;
    exchange.millis = started.elapsed().as_millis() as u64;
    let bound = ctx.settings.request_timeout;
    let give_up = |mut exchange: Exchange, why: String| {
        exchange.error = Some(why.clone());
        ctx.record(exchange);
        Err(Fail::new(format!("GET {path}: {why}")))
    };
    let response = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return give_up(exchange, chain(&e)),
        Err(_) => return give_up(exchange, format!("no answer within {bound:?}")),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    exchange.status = Some(status);
    exchange.content_type =
        headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let streaming = exchange.content_type.as_deref().is_some_and(is_stream);
    let mut reply = Reply { status, headers, body: Default::default(), json: None };
    if streaming && (200..300).contains(&status) {
        exchange.response_body = Some("(event stream)".into());
        ctx.record(exchange);
        return Ok((reply, Some(response)));
    }
    let body = tokio::time::timeout(bound, response.bytes()).await;
    let body = match body {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return give_up(exchange, chain(&e)),
        Err(_) => return give_up(exchange, format!("a {status} answer whose body never ended")),
    };
    exchange.response_body = Some(crate::ctx::clip(&String::from_utf8_lossy(&body)));
    ctx.record(exchange);
    reply.json = serde_json::from_slice(&body).ok();
    reply.body = body;
    Ok((reply, None))
}

/// [`open`], requiring a 2xx event stream.
async fn stream(
    ctx: &Ctx,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(Reply, reqwest::Response), Fail> {
    match open(ctx, path, headers).await? {
        (reply, Some(response)) => Ok((reply, response)),
        (reply, None) => Err(Fail::new(format!(
            "GET {path}: expected a 2xx text/event-stream, got {} {}",
            reply.status,
            reply.header("content-type").unwrap_or("without Content-Type")
        ))),
    }
}

fn sse_path(instance: Uuid) -> String {
    format!("/v1/core/instance/{instance}/consume_events_sse")
}

/// Pushes a frame every 200 ms so a running `Manual` instance has traffic,
/// until dropped (also when a check times out and its future is dropped).
pub(super) struct Pump(JoinHandle<()>);

impl Drop for Pump {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn pump(ctx: &Ctx, instance: Uuid) -> Pump {
    let http = ctx.http.clone();
    let url = ctx.url(&format!("/v1/core/instance/{instance}/push/compressed"));
    Pump(tokio::spawn(async move {
        for n in 0u64.. {
            let form = reqwest::multipart::Form::new()
                .part(
                    "frame",
                    reqwest::multipart::Part::bytes(JPEG.to_vec())
                        .file_name("frame.jpg")
                        .mime_str("image/jpeg")
                        .expect("mime"),
                )
                .text("timestamp", (n * 200).to_string());
            let _ = http.post(&url).multipart(form).timeout(Duration::from_secs(5)).send().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }))
}

/// Reads records (skipping comments) until `n` arrived or `wait` passed.
async fn records(
    response: reqwest::Response,
    n: usize,
    wait: Duration,
) -> Result<Vec<Record>, Fail> {
    let mut frames = Box::pin(rt_client::sse::frames(response));
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout_at(deadline, frames.next()).await {
            Err(_) => break,
            Ok(None) => {
                return Err(Fail::new(format!("the stream ended after {} records", out.len())));
            }
            Ok(Some(Err(e))) => return Err(Fail::new(format!("the stream broke: {}", chain(&e)))),
            Ok(Some(Ok(Frame::Comment(_)))) => {}
            Ok(Some(Ok(Frame::Record(r)))) => out.push(r),
        }
    }
    Ok(out)
}

/// What is wrong with one record, if anything.
pub fn record_faults(ctx: &Ctx, r: &Record) -> Vec<String> {
    let names = ctx.contract.sse_event_names();
    let mut faults = Vec::new();
    let label = format!("record id={:?} event={:?}", r.id, r.event);
    if !r.unknown_fields.is_empty() {
        faults.push(format!("{label}: fields the format does not define: {:?}", r.unknown_fields));
    }
    if r.id.as_deref().is_none_or(str::is_empty) {
        faults.push(format!("{label}: no `id:`"));
    }
    let Some(event) = r.event.as_deref() else {
        faults.push(format!("{label}: no `event:`"));
        return faults;
    };
    if !names.contains(event) {
        faults.push(format!("{label}: `{event}` is not an event name of the contract"));
    }
    if r.data.len() != 1 {
        faults.push(format!("{label}: {} `data:` lines, the contract says one", r.data.len()));
        return faults;
    }
    let data: Value = match serde_json::from_str(&r.data[0]) {
        Ok(v) => v,
        Err(e) => {
            faults
                .push(format!("{label}: data is not JSON ({e}): {}", crate::ctx::clip(&r.data[0])));
            return faults;
        }
    };
    if data.get("$id").and_then(Value::as_str) != Some(event) {
        faults.push(format!("{label}: data `$id` is {:?}, not the event name", data.get("$id")));
    }
    if !data.get("$version").is_some_and(Value::is_number) {
        faults.push(format!("{label}: data has no numeric `$version`"));
    }
    if let Err(errors) =
        ctx.contract.validate_component("SseEventPayload", &data, ctx.settings.strict_rt)
    {
        faults.push(format!("{label}: data does not match SseEventPayload: {}", errors.join("; ")));
    }
    faults
}

/// Ids must increase; numeric ids are compared as numbers.
fn ids_increase(records: &[Record]) -> Result<(), String> {
    let ids: Vec<&str> = records.iter().filter_map(|r| r.id.as_deref()).collect();
    for pair in ids.windows(2) {
        let increasing = match (pair[0].parse::<u128>(), pair[1].parse::<u128>()) {
            (Ok(a), Ok(b)) => b > a,
            _ => pair[1] != pair[0],
        };
        if !increasing {
            return Err(format!("id {} follows id {}", pair[1], pair[0]));
        }
    }
    Ok(())
}

async fn framing(ctx: &Ctx) -> CheckResult {
    let instance = ctx.instance("securt", State::Running).await?;
    let _pumping = pump(ctx, instance);
    let (reply, response) = stream(ctx, &sse_path(instance), &[]).await?;
    ensure!(
        reply.header("cache-control").is_some_and(|v| v.contains("no-cache")),
        "Cache-Control is {:?}, the contract says no-cache",
        reply.header("cache-control")
    );
    let got = records(response, 5, RECORD_WAIT).await?;
    ensure!(
        got.len() >= 3,
        "only {} records in {RECORD_WAIT:?} from a running instance",
        got.len()
    );
    let faults: Vec<String> = got.iter().flat_map(|r| record_faults(ctx, r)).collect();
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    ids_increase(&got).map_err(Fail::new)
}

async fn keepalive(ctx: &Ctx) -> CheckResult {
    let instance = ctx.instance("securt", State::Registered).await?;
    let (_, response) = stream(ctx, &sse_path(instance), &[]).await?;
    let started = Instant::now();
    let mut frames = Box::pin(rt_client::sse::frames(response));
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + KEEPALIVE_WAIT),
            frames.next(),
        )
        .await
        {
            Err(_) => {
                return Err(Fail::new(format!(
                    "no keep-alive comment in {KEEPALIVE_WAIT:?} on an idle stream"
                )));
            }
            Ok(None) => return Err(Fail::new("the idle stream was closed by the server")),
            Ok(Some(Err(e))) => {
                return Err(Fail::new(format!("the idle stream broke: {}", chain(&e))));
            }
            Ok(Some(Ok(Frame::Comment(_)))) if started.elapsed() >= IDLE => return Ok(()),
            Ok(Some(Ok(Frame::Comment(_)))) => {}
            Ok(Some(Ok(Frame::Record(r)))) => {
                let faults = record_faults(ctx, &r);
                ensure!(faults.is_empty(), "{}", faults.join("\n"));
            }
        }
    }
}

async fn resume(ctx: &Ctx) -> CheckResult {
    let instance = ctx.instance("securt", State::Running).await?;
    let _pumping = pump(ctx, instance);
    let (_, response) = stream(ctx, &sse_path(instance), &[]).await?;
    let first = records(response, 4, RECORD_WAIT).await?;
    ensure!(
        first.len() >= 2,
        "only {} records in {RECORD_WAIT:?} from a running instance",
        first.len()
    );
    let (from, next) =
        (first[0].id.clone().unwrap_or_default(), first[1].id.clone().unwrap_or_default());
    let client = rt_client::Client::new_with_client(&ctx.settings.base_url, ctx.http.clone());
    let mut events =
        client.event_stream(&instance).last_event_id(from.clone()).max_reconnects(0).build();
    let mut exchange = Exchange::request(
        "GET",
        ctx.url(&sse_path(instance)),
        vec![("Last-Event-ID".into(), from.clone())],
    );
    exchange.response_body = Some("(typed event stream)".into());
    ctx.record(exchange);
    let event = match tokio::time::timeout(RECORD_WAIT, events.next()).await {
        Err(_) => {
            return Err(Fail::new(format!(
                "nothing after resuming from id {from} in {RECORD_WAIT:?}"
            )));
        }
        Ok(None) => return Err(Fail::new("the resumed stream ended at once")),
        Ok(Some(Err(e))) => return Err(Fail::new(format!("resumed stream: {e}"))),
        Ok(Some(Ok(event))) => event,
    };
    ensure!(
        event.id.as_deref() == Some(next.as_str()),
        "resuming after id {from} gave id {:?} first; the stream had sent {next} next",
        event.id
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record { id: Some(id.into()), ..Record::default() }
    }

    #[test]
    fn ids_must_increase() {
        let cases: &[(&[&str], bool)] = &[
            (&["1", "2", "10"], true),
            (&["2", "10", "9"], false),
            (&["5", "5"], false),
            (&["a", "b"], true),
        ];
        for (ids, ok) in cases {
            let records: Vec<Record> = ids.iter().map(|i| rec(i)).collect();
            assert_eq!(ids_increase(&records).is_ok(), *ok, "{ids:?}");
        }
    }
}
