//! Bearer tokens: with a token file, every operation of the contract but
//! the health probe answers 401 without a token or with a wrong one, and
//! serves with a right one; no TCP port of the process (the CORS front's
//! internal hop included) serves an unauthenticated read; tokens rotate on
//! SIGHUP and when the file changes; the panel's shell stays public.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::common::{TestServer, failed_start};

const ALPHA: &str = "alpha-3f1c9e-token";
const BETA: &str = "beta-77d0aa-token";

/// A server with a token file (ALPHA and BETA), CORS on (two TCP ports) and
/// ONVIF probes kept on loopback.
fn guarded() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("# operators\n{ALPHA}\n\n{BETA}\n")).unwrap();
    let s = TestServer::start_with_config(&json!({
        "web_server": {"cors": {"enabled": true}, "auth": {"token_file": tokens}},
        "onvif": {"probe_address": "127.0.0.1:9", "listen_address": null},
    }));
    (s, dir)
}

/// A request for `op` whose parameters and body pass extraction.
fn request(
    http: &reqwest::Client,
    base: &str,
    op: &rt_conformance::spec::Operation,
) -> reqwest::RequestBuilder {
    let mut path = op.path.clone();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap();
        let value = match &path[start + 1..end] {
            "instanceId" => uuid::Uuid::new_v4().to_string(),
            "codecId" => "h264".into(),
            _ => "x".into(),
        };
        path.replace_range(start..=end, &value);
    }
    let method = Method::from_bytes(op.method.as_bytes()).unwrap();
    let r = http.request(method, format!("{base}{path}"));
    match op.request_type.as_deref() {
        Some("multipart/form-data") => {
            r.multipart(reqwest::multipart::Form::new().part(
                "frame",
                reqwest::multipart::Part::bytes(vec![0xFF, 0xD8]).file_name("f.jpg"),
            ))
        }
        Some(_) => r.header("Content-Type", "application/json").body("{}"),
        None => r,
    }
}

async fn status(r: reqwest::RequestBuilder) -> (u16, Option<String>) {
    // Streams answer with their headers at once; the body is not read.
    let resp = tokio::time::timeout(Duration::from_secs(10), r.send())
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), challenge)
}

#[tokio::test]
async fn every_operation_needs_a_token_but_the_health_probe() {
    let (s, _dir) = guarded();
    let contract = rt_conformance::Contract::embedded().unwrap();
    let http = reqwest::Client::new();
    let mut checked = 0;
    for op in contract.operations() {
        let what = format!("{} {} ({})", op.method, op.path, op.id);
        let (code, challenge) = status(request(&http, &s.base, op)).await;
        if op.id == "get_version" {
            assert_eq!(code, 200, "{what}: the health probe needs no token");
            continue;
        }
        assert_eq!(code, 401, "{what} without a token");
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="rt-server""#), "{what}");
        let wrong = request(&http, &s.base, op).bearer_auth("alpha-3f1c9e-tokeN");
        let (code, challenge) = status(wrong).await;
        assert_eq!(code, 401, "{what} with a wrong token");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer realm="rt-server", error="invalid_token""#),
            "{what}"
        );
        // The right token (either of them) is served; shutting down would
        // end the test.
        if op.id != "shutdown_system" {
            let token = if checked % 2 == 0 { ALPHA } else { BETA };
            let (code, _) = status(request(&http, &s.base, op).bearer_auth(token)).await;
            assert_ne!(code, 401, "{what} with a right token");
        }
        checked += 1;
    }
    assert!(checked >= 90, "{checked} operations checked");

    // The panel's shell holds no data and stays public.
    for path in ["/", "/docs", "/ui/js/app.js"] {
        assert_eq!(http.get(s.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
}

/// The TCP ports `pid` listens on (from /proc: its sockets' inodes in the
/// kernel's table of listening sockets).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state (0A: listening), inode
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

#[tokio::test]
async fn no_port_of_the_process_serves_without_a_token() {
    let (s, _dir) = guarded();
    let ports = listening_ports(s.pid());
    assert!(ports.len() >= 2, "the CORS front and dropshot's port: {ports:?}");
    let http = reqwest::Client::new();
    for port in &ports {
        for path in ["/v1/core/instances", "/v1/core/system/config", "/v1/rtregistry"] {
            let url = format!("http://127.0.0.1:{port}{path}");
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 401, "{url}");
        }
    }
}

/// Polls until `token` gets `want` on a guarded read (the file is watched
/// every second).
async fn until_token(s: &TestServer, token: &str, want: u16) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http.get(s.url("/v1/core/instances")).bearer_auth(token).send().await.unwrap();
        if r.status() == want {
            return;
        }
        assert!(Instant::now() < deadline, "token {token}: still {} (want {want})", r.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write(file: &Path, text: &str) {
    let tmp = file.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[tokio::test]
async fn tokens_rotate_on_sighup_and_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("{ALPHA}\n")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(data.path(), &["--auth-token-file", file.to_str().unwrap()]);
    s.keep(data);
    until_token(&s, ALPHA, 200).await;
    until_token(&s, BETA, 401).await;

    // Rotated by hand: BETA in, ALPHA out, then SIGHUP.
    write(&file, &format!("# rotated\n{BETA}\n"));
    s.sighup();
    until_token(&s, BETA, 200).await;
    until_token(&s, ALPHA, 401).await;

    // Changed without a signal: seen within a second or two.
    write(&file, &format!("{ALPHA}\n"));
    until_token(&s, ALPHA, 200).await;
    until_token(&s, BETA, 401).await;

    // Emptied by mistake: the tokens in force stay, the server stays closed.
    write(&file, "# nothing\n");
    s.sighup();
    until_token(&s, ALPHA, 200).await;
    let r = reqwest::get(s.url("/v1/core/instances")).await.unwrap();
    assert_eq!(r.status(), 401);
    let logs = s.logs_so_far().await;
    assert!(!logs.contains(ALPHA) && !logs.contains(BETA), "a token in the log:\n{logs}");
}

#[tokio::test]
async fn a_token_file_without_tokens_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "# none yet\n").unwrap();
    let data = dir.path().join("data");
    let err = failed_start(&[
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--auth-token-file".as_ref(),
        file.as_os_str(),
    ]);
    assert!(err.contains("holds no token"), "{err}");
}

/// Browser sessions in a real Chromium (`server/ui/tests/browser/session.mjs`):
/// the cookie plays the live view in a plain `<img>` and the event stream in
/// a plain `EventSource`; forms posted from another site, and from another
/// port of this host, cannot act with it.
#[tokio::test]
async fn a_browser_session_reads_but_a_cross_site_form_cannot_act() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("{ALPHA}\n")).unwrap();
    let s = crate::media::media_server_with(Some(
        &json!({"web_server": {"auth": {"token_file": file}}}),
    ));
    let http = reqwest::Client::new();
    let created = http
        .post(s.url("/v1/core/instance"))
        .bearer_auth(ALPHA)
        .body(r#"{"name": "session", "solution": "securt"}"#)
        .send()
        .await
        .unwrap();
    let id = created.json::<serde_json::Value>().await.unwrap()["instanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let input = json!({"type": "File", "uri": crate::media::test_video()}).to_string();
    let r = http
        .post(s.url(&format!("/v1/core/instance/{id}/input")))
        .bearer_auth(ALPHA)
        .body(input)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = http
        .post(s.url(&format!("/v1/core/instance/{id}/start")))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/tests/browser/session.mjs");
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .args(["--base", &base, "--token", ALPHA, "--instance", &id])
            .output()
            .expect("node runs (./dev installs it)")
    })
    .await
    .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}\nserver log:\n{}", s.logs());
    assert!(text.contains("PASS sessions"), "{text}");
    eprintln!("{text}");
}
