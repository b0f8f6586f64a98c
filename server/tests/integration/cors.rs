//! CORS (`web_server.cors.enabled`): preflights on any path, the allow-origin
//! header on every kind of response (dropshot's own errors included), event
//! streams through the front, the setting in the system config, and nothing
//! at all when it is off. Keep-alive through the front is in `keepalive.rs`.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::TestServer;

const ORIGIN: &str = "http://dashboard.example:8080";

/// Request headers of one case.
type Headers = &'static [(&'static str, &'static str)];

async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new().request(method.parse().expect("method"), s.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    req.send().await.expect("request sent")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().expect("ascii header")).unwrap_or_default()
}

#[tokio::test]
async fn preflight_is_answered_on_any_path() {
    let s = TestServer::start_cors();
    let id = uuid::Uuid::new_v4();
    // (path, method asked for, headers asked for, extra header allowed)
    let i = format!("/v1/core/instance/{id}");
    let cases: Vec<(String, &str, Option<&str>, Option<&str>)> = vec![
        ("/v1/core/version".into(), "GET", None, None),
        ("/v1/core/instance".into(), "POST", Some("content-type"), None),
        (i.clone(), "PATCH", Some("Content-Type, Authorization"), None),
        (i.clone(), "DELETE", None, None),
        (format!("{i}/consume_events_sse"), "GET", Some("last-event-id"), None),
        ("/v1/rtregistry/ui/theme".into(), "PUT", Some("if-match, x-trace-id"), Some("x-trace-id")),
        ("/hls/segment.ts".into(), "GET", None, None),
        ("/no/such/route".into(), "GET", Some("X-Custom"), Some("X-Custom")),
    ];
    let mut failures = Vec::new();
    for (path, method, asked, extra) in &cases {
        let (method, asked, extra) = (*method, *asked, *extra);
        let mut h = vec![("origin", ORIGIN), ("access-control-request-method", method)];
        if let Some(a) = asked {
            h.push(("access-control-request-headers", a));
        }
        let resp = send(&s, "OPTIONS", path, &h, None).await;
        let (status, got) = (resp.status().as_u16(), resp.headers().clone());
        let allow_headers = header(&got, "access-control-allow-headers").to_ascii_lowercase();
        let ok = status == 204
            && header(&got, "access-control-allow-origin") == "*"
            && header(&got, "access-control-allow-methods")
                == "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            && header(&got, "access-control-max-age") == "7200"
            && ["content-type", "authorization", "last-event-id", "if-match"]
                .iter()
                .chain(extra.map(str::to_ascii_lowercase).as_deref().as_slice())
                .all(|n| allow_headers.split(", ").any(|a| a == *n))
            && resp.text().await.unwrap().is_empty();
        if !ok {
            failures.push(format!("OPTIONS {path} asking {method} {asked:?}: {status} {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_response_carries_allow_origin() {
    let s = TestServer::start_cors();
    let id = s.create_securt().await;
    let i = format!("/v1/core/instance/{id}");
    let o: Headers = &[("origin", ORIGIN)];
    // (method, path, headers, body, status): success, dropshot's own errors
    // and ours; with and without Origin (the answer does not depend on it).
    let cases: Vec<(&str, String, Headers, Option<&str>, u16)> = vec![
        ("GET", "/v1/core/version".into(), o, None, 200),
        ("GET", "/v1/core/version".into(), &[], None, 200),
        ("POST", "/v1/securt/instance".into(), o, Some(r#"{"name": "cors"}"#), 201),
        ("POST", format!("{i}/load"), o, None, 204),
        ("PUT", "/v1/rtregistry/ui/theme".into(), o, Some(r#""dark""#), 204),
        ("GET", "/v1/rtregistry/ui/theme".into(), o, None, 200),
        ("GET", "/v1/core/instance/not-a-uuid".into(), o, None, 400),
        ("POST", "/v1/core/instance".into(), o, Some("{not json"), 400),
        ("GET", "/no/such/route".into(), o, None, 404),
        ("GET", format!("/hls/{}.m3u8", uuid::Uuid::new_v4()), o, None, 404),
        ("DELETE", "/v1/core/version".into(), o, None, 405),
        // Not a preflight (no Access-Control-Request-Method): dropshot's.
        ("OPTIONS", "/v1/core/version".into(), o, None, 405),
        ("POST", format!("{i}/restart"), o, None, 406),
    ];
    let mut failures = Vec::new();
    for (method, path, headers, body, want) in &cases {
        let resp = send(&s, method, path, headers, *body).await;
        let (status, h) = (resp.status().as_u16(), resp.headers().clone());
        let ok = status == *want
            && header(&h, "access-control-allow-origin") == "*"
            && header(&h, "access-control-expose-headers") == "ETag, X-Request-Id"
            && h.contains_key("x-request-id")
            && !h.contains_key("access-control-allow-methods");
        if !ok {
            failures.push(format!("{method} {path} {body:?}: want {want}, got {status} {h:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn event_streams_arrive_incrementally_through_the_front() {
    let s = TestServer::start_cors();
    let resp =
        send(&s, "GET", "/v1/rtregistry_watch?prefix=ui/", &[("origin", ORIGIN)], None).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(header(resp.headers(), "content-type"), "text/event-stream");
    assert_eq!(header(resp.headers(), "access-control-allow-origin"), "*");
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    for value in ["1", "2"] {
        // Each event must arrive on its own while the stream stays open.
        let put = send(&s, "PUT", "/v1/rtregistry/ui/x", &[], Some(value)).await;
        assert_eq!(put.status().as_u16(), 204);
        let want = format!("\"value\":{value}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !seen.contains(&want) {
            let chunk = tokio::time::timeout_at(deadline, body.next())
                .await
                .unwrap_or_else(|_| panic!("no event for value {value}; got {seen:?}"))
                .expect("stream still open")
                .expect("chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("event: set"), "{seen}");
}

#[tokio::test]
async fn the_setting_is_shown_saved_and_applied_at_the_next_start() {
    let mut s = TestServer::start_cors();
    let cors = |config: Value| {
        let entities = config["systemConfig"].as_array().expect("entities").clone();
        let e = entities.into_iter().find(|e| e["fieldId"] == "web_server.cors.enabled");
        e.expect("cors entity")["value"].clone()
    };
    assert_eq!(cors(s.raw("GET", "/v1/core/system/config", None).await.1), "true");
    let off = r#"{"systemConfig": [{"fieldId": "web_server.cors.enabled", "value": "false"}]}"#;
    assert_eq!(s.raw("PUT", "/v1/core/system/config", Some(off)).await.0, 204);
    assert_eq!(cors(s.raw("GET", "/v1/core/system/config", None).await.1), "false");
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(s.data_dir.join("rtconfig.json")).expect("saved"),
    )
    .expect("json");
    assert_eq!(saved["web_server"]["cors"], json!({"enabled": false}));
    let h = send(&s, "GET", "/v1/core/version", &[("origin", ORIGIN)], None).await;
    assert_eq!(header(h.headers(), "access-control-allow-origin"), "*", "still on until restart");
    // The next start reads the saved file: no front, no headers.
    let dir = s.data_dir.clone();
    s.kill9();
    let config = dir.join("rtconfig.json");
    let again = TestServer::start_in(&dir, &["--config", config.to_str().unwrap()]);
    let h = send(&again, "GET", "/v1/core/version", &[("origin", ORIGIN)], None).await;
    assert!(!h.headers().contains_key("access-control-allow-origin"), "{:?}", h.headers());
}

#[tokio::test]
async fn disabled_sends_no_cors_headers() {
    let s = TestServer::start();
    let id = uuid::Uuid::new_v4();
    let preflight: Headers = &[
        ("origin", ORIGIN),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let cases: Vec<(&str, String, Headers)> = vec![
        ("GET", "/v1/core/version".into(), &[("origin", ORIGIN)]),
        ("GET", format!("/v1/core/instance/{id}"), &[("origin", ORIGIN)]),
        ("GET", "/no/such/route".into(), &[("origin", ORIGIN)]),
        ("OPTIONS", "/v1/core/instance".into(), preflight),
    ];
    for (method, path, headers) in &cases {
        let resp = send(&s, method, path, headers, None).await;
        let cors: Vec<_> =
            resp.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).collect();
        assert!(cors.is_empty(), "{method} {path}: {cors:?}");
        if *method == "OPTIONS" {
            assert_ne!(resp.status().as_u16(), 204, "dropshot answers OPTIONS, not a preflight");
        }
    }
}
