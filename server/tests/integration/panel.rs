//! The web panel, the interactive docs and the live view: the embedded
//! files as a browser gets them (content types, ETag revalidation, gzip,
//! the pages' security policy), the Motion JPEG stream of a running
//! instance, and the panel driven end to end in a real headless Chromium
//! (`server/ui/tests/browser/panel.mjs`, playwright-core).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::json;

use crate::common::TestServer;
use crate::media::{media_server, media_server_with, read_sse, test_video};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

#[tokio::test]
async fn the_panel_and_the_docs_are_served_from_the_binary() {
    let s = TestServer::start();
    let http = reqwest::Client::new();

    for (path, kind) in [("/", "text/html; charset=utf-8"), ("/docs", "text/html; charset=utf-8")] {
        let r = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], kind, "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let etag = h["etag"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        assert!(body.contains("<html") || body.contains("<!doctype"), "{path}: {body}");
        // Revalidation: the same ETag back gives a 304 without a body.
        let again = http.get(s.url(path)).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }

    // Every page's scripts and styles come from /ui/ and are served with
    // the right type; large text files go out gzip-compressed on request.
    let index = http.get(s.url("/")).send().await.unwrap().text().await.unwrap();
    let assets: Vec<String> =
        index.split(['"', '\'']).filter(|v| v.starts_with("/ui/")).map(String::from).collect();
    assert!(!assets.is_empty(), "the panel loads files from /ui/: {index}");
    for a in &assets {
        let r = http.get(s.url(a)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{a}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        let want = if a.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(
            kind.starts_with(want) || !(a.ends_with(".js") || a.ends_with(".css")),
            "{a}: {kind}"
        );
    }
    // The vendored Preact + htm module: 13 KB of text, well above the size
    // from which files are compressed.
    let big = "/ui/vendor/htm-preact-3.1.1.module.js";
    let gz = http.get(s.url(big)).header("Accept-Encoding", "gzip").send().await.unwrap();
    let plain = http.get(s.url(big)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_len = plain.bytes().await.unwrap().len();
    assert!(plain_len >= 1024, "{big}: {plain_len} bytes");
    assert_eq!(gz.headers()["content-encoding"], "gzip", "{big}");
    assert!(gz.bytes().await.unwrap().len() < plain_len);

    // Files outside the panel are not reachable; unknown ones are 404.
    for (path, status) in [
        ("/ui/no-such-file.js", 404),
        ("/ui/tests/unit", 404),
        ("/ui/package.json", 404),
        // (A literal `..` segment never arrives: clients resolve it.)
        ("/ui/..%2FCargo.toml", 400),
        ("/ui/js/..%2F..%2FCargo.toml", 400),
    ] {
        let r = http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
}

/// Reads multipart parts from `resp` until `n` JPEGs arrived; returns each
/// part's `X-Frame-Time` and size.
async fn jpeg_parts(resp: reqwest::Response, n: usize, limit: Duration) -> Vec<(i64, usize)> {
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut parts = Vec::new();
    let deadline = Instant::now() + limit;
    while parts.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, body.next())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} JPEG parts in {limit:?}", parts.len()))
            .expect("the stream stays open")
            .unwrap();
        buf.extend_from_slice(&chunk);
        // Parse whole parts off the front of the buffer.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            assert!(head.starts_with("--frame\r\n"), "{head}");
            let field = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("{name} in {head}"))
                    .trim()
                    .to_string()
            };
            assert_eq!(field("Content-Type:"), "image/jpeg");
            let len: usize = field("Content-Length:").parse().unwrap();
            let time: i64 = field("X-Frame-Time:").parse().unwrap();
            let start = end + 4;
            if buf.len() < start + len + 2 {
                break;
            }
            assert_eq!(&buf[start..start + 2], &[0xFF, 0xD8], "a JPEG");
            assert_eq!(&buf[start + len..start + len + 2], b"\r\n");
            parts.push((time, len));
            buf.drain(..start + len + 2);
        }
    }
    parts
}

#[tokio::test]
async fn the_live_view_streams_jpegs_of_a_running_instance() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "name": "live", "debugMode": true})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let http = reqwest::Client::new();
    let url = s.url(&format!("/v1/core/instance/{id}/mjpeg"));

    // Opened before the start: headers at once, parts once frames flow.
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "multipart/x-mixed-replace; boundary=frame");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    s.client().start_instance(&id).await.unwrap();
    let parts = jpeg_parts(resp, 3, Duration::from_secs(60)).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    // Times never go back, and no frame comes twice. Two frames may share a
    // millisecond: a worker takes its next frame as soon as the model has
    // room for it.
    for w in parts.windows(2) {
        assert!(w[1].0 >= w[0].0 && w[1] != w[0], "frame times go on: {parts:?}");
    }
    let last = parts.last().unwrap().0;
    assert!(
        (now - 60_000..=now).contains(&last),
        "X-Frame-Time {last} is server wall time ({now})"
    );

    // A second watcher gets the stream too; unknown instances are a 404.
    let second = http.get(&url).send().await.unwrap();
    assert_eq!(jpeg_parts(second, 1, Duration::from_secs(30)).await.len(), 1);
    let unknown = uuid::Uuid::new_v4();
    let r = http.get(s.url(&format!("/v1/core/instance/{unknown}/mjpeg"))).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Crops keep coming while the view is watched (the crops and the view
    // share the full-size frames).
    let _watching = http.get(&url).send().await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let records = read_sse(&s, &path, None, Duration::from_secs(30), |rs| {
        rs.iter().filter(|r| r.event == "crop").count() >= 3
    })
    .await;
    let crops = records.iter().filter(|r| r.event == "crop").count();
    assert!(crops >= 3, "{crops} crops in 30 s while the live view is watched");

    // Deleting the instance ends the stream.
    let resp = http.get(&url).send().await.unwrap();
    let mut body = resp.bytes_stream();
    assert!(body.next().await.is_some(), "a first part");
    assert_eq!(s.raw("DELETE", &format!("/v1/core/instance/{id}"), None).await.0, 204);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends with its instance");
}

/// Runs the browser test (`server/ui/tests/browser/panel.mjs`) against `s`.
async fn browser_test(s: &TestServer, extra: &[&str]) {
    let ui = ui_dir();
    let script = ui.join("tests/browser/panel.mjs");
    assert!(
        ui.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "playwright-core (server/ui/node_modules) and /usr/bin/chromium are needed: ./dev installs them"
    );
    let out = std::env::var_os("RT_PANEL_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| s.data_dir.join("screenshots"));
    std::fs::create_dir_all(&out).unwrap();
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    let run = tokio::task::spawn_blocking({
        let (base, out) = (s.url(""), out.clone());
        move || {
            Command::new("node")
                .arg(&script)
                .args(["--base", base.trim_end_matches('/'), "--video", &test_video()])
                .arg("--out")
                .arg(&out)
                .args(&extra)
                .output()
                .expect("node runs (./dev installs it)")
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "the browser test failed:\n{text}\nserver log:\n{}", s.logs());
    eprintln!("{text}");
}

#[tokio::test]
async fn the_panel_works_in_a_real_browser() {
    browser_test(&media_server(), &[]).await;
}

/// With bearer tokens on: the panel asks for one once, and every call, the
/// event feed and the live view carry it.
#[tokio::test]
async fn the_panel_works_in_a_real_browser_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "panel-e2e-7c41d9";
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let s = media_server_with(Some(&json!({"web_server": {"auth": {"token_file": file}}})));
    browser_test(&s, &["--token", token]).await;
}
