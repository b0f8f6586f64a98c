//! The streams of the server (events, registry watch, live view) in
//! operation: behind nginx (Debian's `nginx-light`, started by the test on a
//! free port) with the configuration the README recommends and with one
//! left at its defaults (a `location` holding only `proxy_pass`, which
//! buffers responses and speaks HTTP/1.0 to the server), where an analytics
//! event or a registry change must reach a client within 1 s of reaching a
//! direct client; keep-alives at the configured interval; and the caps on
//! open streams (503 with `Retry-After`, the place freed when a client goes).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::common::{TestServer, free_port, wait_listening};
use crate::media::{media_server, test_video};

/// What the README recommends in front of the server.
const RECOMMENDED: &str = "proxy_http_version 1.1; proxy_set_header Connection \"\"; \
                           proxy_buffering off; proxy_read_timeout 1h;";

/// An nginx proxying every path to `upstream`, stopped when dropped.
struct Nginx {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// `location / { proxy_pass ...; <extra> }`.
    fn start(upstream: SocketAddr, extra: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = free_port();
        let conf = format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log stderr warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    \
             location / {{ proxy_pass http://{upstream}; {extra} }}\n  }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", "stderr", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx is installed (./dev installs nginx-light)");
        wait_listening(port, "nginx");
        Nginx { child, base: format!("http://127.0.0.1:{port}"), _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the event stream at `url` for `limit`, noting when each record
/// whose event name passes `keep` arrived, by its `id`. `open` hears once
/// the stream is open.
async fn arrivals(
    url: String,
    keep: fn(&str) -> bool,
    limit: Duration,
    open: mpsc::Sender<()>,
) -> HashMap<u64, Instant> {
    let headers = Duration::from_secs(5);
    let resp = tokio::time::timeout(headers, reqwest::Client::new().get(&url).send())
        .await
        .unwrap_or_else(|_| panic!("no response headers from {url} within {headers:?}"))
        .unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    open.send(()).await.unwrap();
    let mut body = resp.bytes_stream();
    let (mut buf, mut seen) = (String::new(), HashMap::new());
    let end = tokio::time::Instant::now() + limit;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(end, body.next()).await {
        let now = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let record: String = buf.drain(..i + 2).collect();
            let field = |name: &str| {
                record.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string())
            };
            if let (Some(id), Some(event)) = (field("id:"), field("event:"))
                && keep(&event)
            {
                seen.insert(id.parse().unwrap(), now);
            }
        }
    }
    seen
}

/// Every record the direct client got, and the same through `via`: at most
/// `bound` later, and at least `min` of them.
fn assert_prompt(
    what: &str,
    direct: &HashMap<u64, Instant>,
    via: &HashMap<u64, Instant>,
    min: usize,
) {
    let bound = Duration::from_secs(1);
    let both: Vec<(u64, Duration)> = direct
        .iter()
        .filter_map(|(id, d)| via.get(id).map(|v| (*id, v.saturating_duration_since(*d))))
        .collect();
    assert!(
        both.len() >= min,
        "{what}: {} of {} direct records came through (at least {min} wanted)",
        both.len(),
        direct.len()
    );
    let late: Vec<_> = both.iter().filter(|(_, d)| *d > bound).collect();
    assert!(late.is_empty(), "{what}: later than {bound:?} through the proxy: {late:?}");
}

#[tokio::test]
async fn analytics_events_come_through_nginx_at_once() {
    let s = media_server();
    let recommended = Nginx::start(s.addr, RECOMMENDED);
    let default = Nginx::start(s.addr, "");

    // Intrusion events on the clip, from an area over the whole frame.
    let w = json!({"name": "proxied"});
    let (status, body) = s.raw("POST", "/v1/securt/instance", Some(&w.to_string())).await;
    assert_eq!(status, 201, "{body}");
    let id = body["instanceId"].as_str().unwrap().to_string();
    let input = json!({"type": "File", "uri": test_video()}).to_string();
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let whole = json!([{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 0.0}, {"x": 1.0, "y": 1.0}, {"x": 0.0, "y": 1.0}]);
    let area = json!({"name": "all", "coordinates": whole, "classes": ["Person"]}).to_string();
    let path = format!("/v1/securt/instance/{id}/area/intrusion");
    assert_eq!(s.raw("POST", &path, Some(&area)).await.0, 201);

    let sse = format!("/v1/core/instance/{id}/consume_events_sse");
    let analytics: fn(&str) -> bool = |e| e.starts_with("event-");
    let limit = Duration::from_secs(25);
    let (open, mut opened) = mpsc::channel(3);
    let readers =
        [s.url(&sse), format!("{}{sse}", recommended.base), format!("{}{sse}", default.base)]
            .map(|url| tokio::spawn(arrivals(url, analytics, limit, open.clone())));
    drop(open);
    // The streams are open before the first event.
    for _ in 0..3 {
        opened.recv().await.expect("every stream opens");
    }
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/start"), None).await.0, 204);
    let mut got = Vec::new();
    for r in readers {
        got.push(r.await.unwrap());
    }
    assert!(got[0].len() >= 3, "only {} analytics events directly", got[0].len());
    assert_prompt("recommended nginx", &got[0], &got[1], 3);
    assert_prompt("default nginx", &got[0], &got[2], 3);
}

#[tokio::test]
async fn registry_changes_come_through_nginx_at_once() {
    let s = TestServer::start();
    let default = Nginx::start(s.addr, "");
    let watch = "/v1/rtregistry_watch?prefix=proxied/";
    let any: fn(&str) -> bool = |_| true;
    let limit = Duration::from_secs(6);
    let (open, mut opened) = mpsc::channel(2);
    let [direct, proxied] = [s.url(watch), format!("{}{watch}", default.base)]
        .map(|url| tokio::spawn(arrivals(url, any, limit, open.clone())));
    drop(open);
    for _ in 0..2 {
        opened.recv().await.expect("every stream opens");
    }
    for i in 0..3 {
        let (status, body) =
            s.raw("PUT", &format!("/v1/rtregistry/proxied/k{i}"), Some(&i.to_string())).await;
        assert!(status < 300, "{status} {body}");
    }
    let (direct, proxied) = (direct.await.unwrap(), proxied.await.unwrap());
    assert_eq!(direct.len(), 3, "the direct watcher saw the 3 changes");
    assert_prompt("default nginx", &direct, &proxied, 3);
}

#[tokio::test]
async fn idle_streams_send_keep_alives_at_the_configured_interval() {
    let s = TestServer::start_with_config(&json!({"web_server": {"sse_keepalive_s": 1}}));
    let id = s.create_securt().await;
    for path in
        [format!("/v1/core/instance/{id}/consume_events_sse"), "/v1/rtregistry_watch".into()]
    {
        let resp = reqwest::Client::new().get(s.url(&path)).send().await.unwrap();
        assert_eq!(resp.headers()["x-accel-buffering"], "no", "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-cache", "{path}");
        let mut body = resp.bytes_stream();
        let (mut text, started) = (String::new(), Instant::now());
        // Two keep-alives of an idle stream within 5 s (15 s apart by default).
        while text.matches(": keep-alive").count() < 2 {
            let chunk = tokio::time::timeout_at(
                tokio::time::Instant::from_std(started) + Duration::from_secs(5),
                body.next(),
            )
            .await
            .unwrap_or_else(|_| panic!("{path}: 2 keep-alives within 5 s, got {text:?}"))
            .unwrap()
            .unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn streams_beyond_the_caps_get_503_with_retry_after() {
    let caps = json!({"web_server": {"max_streams": 3, "max_streams_per_instance": 2, "sse_keepalive_s": 1}});
    let s = TestServer::start_with_config(&caps);
    let (a, b) = (s.create_securt().await, s.create_securt().await);
    let http = reqwest::Client::new();
    let open = |path: String| http.get(s.url(&path)).send();
    let sse = |id: uuid::Uuid| format!("/v1/core/instance/{id}/consume_events_sse");
    let refused = |r: reqwest::Response, cap: &'static str| async move {
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "Unavailable", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(cap), "{message}");
    };

    // Two streams of instance a (events and the live view): its cap.
    let a1 = open(sse(a)).await.unwrap();
    assert_eq!(a1.status(), 200);
    let a2 = open(format!("/v1/core/instance/{a}/mjpeg")).await.unwrap();
    assert_eq!(a2.status(), 200);
    refused(open(sse(a)).await.unwrap(), "max_streams_per_instance").await;
    // A third stream in all (instance b): the server's cap.
    let b1 = open(sse(b)).await.unwrap();
    assert_eq!(b1.status(), 200);
    refused(open("/v1/rtregistry_watch".into()).await.unwrap(), "(web_server.max_streams)").await;
    // Everything else is served as usual.
    assert_eq!(open("/v1/core/instances".into()).await.unwrap().status(), 200);

    // A client that leaves frees its place.
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = open(sse(a)).await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the place of a closed stream was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((a2, b1));
}
