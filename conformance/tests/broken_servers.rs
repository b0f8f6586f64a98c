//! The suite against deliberately broken servers: a small fake RT server,
//! healthy or with one fault, speaks raw HTTP/1.1 on `127.0.0.1:0`. Each
//! fault must be caught by the check that names it (and the same check must
//! pass on the healthy fake, so the fault is what it caught), and the suite
//! must finish within its bounds even when the server hangs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rt_conformance::{Contract, Options, Outcome, Report, plan, run};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// A POST with no `Content-Length` waits for a body forever.
    HangsOnBodylessPost,
    /// `GET /v1/core/instance/{unknown}` answers 200.
    OkWhereNotFound,
    /// SSE records without `id` and with their JSON split over two `data:` lines.
    MalformedSse,
    /// `GET /v1/core/version` answers a body its schema refuses.
    SchemaViolation,
}

struct Request {
    method: String,
    path: String,
    /// The `Authorization` header, as sent.
    authorization: Option<String>,
}

/// The `Authorization` header of each request a fake received, in order.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// Reads one request; `None` when the client is gone. A body-less POST
/// never returns under [`Fault::HangsOnBodylessPost`].
async fn read_request(io: &mut BufReader<TcpStream>, fault: Fault) -> Option<Request> {
    let mut line = String::new();
    if io.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut chunked, mut authorization) = (None, false, None);
    loop {
        let mut h = String::new();
        io.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            "authorization" => authorization = Some(v.trim().to_string()),
            _ => {}
        }
    }
    if chunked {
        loop {
            let mut size = String::new();
            io.read_line(&mut size).await.ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            io.read_exact(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        io.read_exact(&mut body).await.ok()?;
    } else if method == "POST" && fault == Fault::HangsOnBodylessPost {
        // Waits for a body that never comes, as a server that wants Content-Length would.
        let mut byte = [0u8; 1];
        let _ = io.read_exact(&mut byte).await;
        std::future::pending::<()>().await;
    }
    let path = path.split('?').next().unwrap_or_default().to_string();
    Some(Request { method, path, authorization })
}

fn answer(status: u16, body: Option<String>) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "Not Found",
    };
    match body {
        Some(b) => format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ),
        None => format!("HTTP/1.1 {status} {reason}\r\n\r\n"),
    }
    .into_bytes()
}

fn not_found() -> Vec<u8> {
    answer(404, Some(r#"{"request_id":"fake","message":"not found"}"#.into()))
}

/// The SSE records the fake sends, healthy or malformed.
fn sse_records(fault: Fault) -> String {
    let mut out = String::new();
    for id in 1..=5 {
        if fault == Fault::MalformedSse {
            out.push_str(
                "event: lagged\ndata: {\"$id\":\"lagged\",\ndata: \"$version\":1,\"missed\":0}\n\n",
            );
        } else {
            out.push_str(&format!(
                "id: {id}\nevent: lagged\ndata: {{\"$id\":\"lagged\",\"$version\":1,\"missed\":0}}\n\n"
            ));
        }
    }
    out
}

async fn connection(stream: TcpStream, fault: Fault, seen: Seen) {
    let mut io = BufReader::new(stream);
    while let Some(req) = read_request(&mut io, fault).await {
        seen.lock().unwrap().push(req.authorization.clone());
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let bytes = match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "core", "version"]) => {
                let body = if fault == Fault::SchemaViolation {
                    r#"{"engine":3}"#
                } else {
                    r#"{"engine":"fake"}"#
                };
                answer(200, Some(body.into()))
            }
            ("PUT", ["v1", "core", "instance", id]) => {
                answer(201, Some(format!(r#"{{"instanceId":"{id}"}}"#)))
            }
            ("GET", ["v1", "core", "instance", id]) if fault == Fault::OkWhereNotFound => {
                answer(200, Some(format!(r#"{{"instanceId":"{id}"}}"#)))
            }
            ("GET", ["v1", "core", "instance", _]) => not_found(),
            ("DELETE", ["v1", "core", "instance", _]) => answer(204, None),
            (
                "POST",
                ["v1", "core", "instance", _, "input" | "load" | "start" | "stop" | "unload"],
            ) => answer(204, None),
            ("POST", ["v1", "core", "instance", _, "push", "compressed"]) => answer(204, None),
            ("GET", ["v1", "core", "instance", _, "consume_events_sse"]) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
                let _ = io.get_mut().write_all(head.as_bytes()).await;
                let _ = io.get_mut().write_all(sse_records(fault).as_bytes()).await;
                // Then silence, as an idle stream: the client closes it.
                std::future::pending::<()>().await;
                return;
            }
            _ => not_found(),
        };
        if io.get_mut().write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Starts a fake on `127.0.0.1:0`; it lives as long as the test's runtime.
async fn fake(fault: Fault) -> String {
    recording_fake(fault).await.0
}

/// A fake, and what it records of the requests it receives.
async fn recording_fake(fault: Fault) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, fault, sink.clone()));
        }
    });
    (format!("http://{addr}"), seen)
}

/// Runs the one check `name` against a fake with `fault`.
async fn run_check(fault: Fault, name: &str) -> (Report, Duration) {
    let base = fake(fault).await;
    let contract = Arc::new(Contract::embedded().unwrap());
    let mut options = Options::new(base);
    options.only = vec![name.to_string()];
    options.request_timeout = Duration::from_secs(2);
    options.check_timeout = Duration::from_secs(20);
    let checks = plan(&contract, &options);
    assert_eq!(checks.len(), 1, "{name} selects one check");
    let started = Instant::now();
    let report = run(contract, &options, checks, |_, _, _| {}).await.unwrap();
    (report, started.elapsed())
}

#[tokio::test]
async fn each_fault_is_caught_by_the_check_that_names_it() {
    // (fault, the check that must catch it, words its message must hold)
    let cases = [
        (Fault::HangsOnBodylessPost, "keepalive.load_instance", "the server hangs"),
        (Fault::OkWhereNotFound, "core.get_instance.404", "expected 404, got 200"),
        (Fault::MalformedSse, "sse.framing", "no `id:`"),
        (Fault::SchemaViolation, "core.get_version.200", "does not match the contract's schema"),
    ];
    for (fault, name, words) in cases {
        let (healthy, _) = run_check(Fault::None, name).await;
        assert!(
            healthy.passed(),
            "{name} fails on the healthy fake: {:?}",
            healthy.checks[0].message
        );

        let (report, took) = run_check(fault, name).await;
        let check = &report.checks[0];
        assert_eq!(check.outcome, Outcome::Fail, "{fault:?} not caught by {name}");
        let message = check.message.clone().unwrap_or_default();
        assert!(message.contains(words), "{fault:?}: {name} says {message:?}, not {words:?}");
        assert!(!report.passed(), "a run with a failure does not pass");
        // Bounded: the request bound (2 s) plus setup, never the server's pace.
        assert!(took < Duration::from_secs(10), "{fault:?}: the suite took {took:?}");
    }
}

#[tokio::test]
async fn malformed_sse_names_every_fault_of_the_record() {
    let (report, _) = run_check(Fault::MalformedSse, "sse.framing").await;
    let message = report.checks[0].message.clone().unwrap_or_default();
    assert!(message.contains("2 `data:` lines"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_fails_checks_instead_of_hanging() {
    // A port nobody listens on: bind, take the address, close.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let contract = Arc::new(Contract::embedded().unwrap());
    let mut options = Options::new(format!("http://{addr}"));
    options.only = vec!["core.get_version.200".into(), "lifecycle.*".into()];
    options.request_timeout = Duration::from_secs(2);
    let checks = plan(&contract, &options);
    let report = run(contract, &options, checks, |_, _, _| {}).await.unwrap();
    assert_eq!(report.count(Outcome::Fail), report.checks.len());
}

/// Runs the `rt-conformance` binary with `args`; returns its exit status and stdout.
async fn cli(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rt-conformance"))
        .args(args)
        .env_remove("RT_CONFORMANCE_TOKEN")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn the_html_report_shows_a_failure_with_its_request_answer_and_reason() {
    let (base, seen) = recording_fake(Fault::SchemaViolation).await;
    let args = ["--base-url", &base, "--only", "core.get_version.200", "--report", "html"];
    let (status, html) = cli(&[&args[..], &["--token", "cli-t0ken"]].concat()).await;
    assert_eq!(status, Some(1), "a failed check exits 1:\n{html}");
    let failure = html
        .split("<section class=\"failure\" data-check=\"core.get_version.200\">")
        .nth(1)
        .expect("the failure's section");
    let reason = failure.split("<pre class=\"reason\">").nth(1).unwrap();
    assert!(reason.starts_with("get_version: status 200 body does not match"), "{reason}");
    let exchanges = failure.split("<pre class=\"exchanges\">").nth(1).unwrap();
    assert!(exchanges.starts_with(&format!("&gt; GET {base}/v1/core/version\n")), "{exchanges}");
    assert!(
        exchanges.contains("&lt; 200 application/json")
            && exchanges.contains("&quot;engine&quot;:3")
    );
    assert!(
        html.contains(
            "<tr data-group=\"core\"><td><a href=\"#group-core\">core</a></td><td>1</td>"
        )
    );
    // The token went with the request, and stays out of the report.
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty() && seen.iter().all(|a| a.as_deref() == Some("Bearer cli-t0ken")));
    assert!(!html.contains("cli-t0ken"));
}

#[tokio::test]
async fn raw_connections_carry_the_token_too_and_exit_statuses_are_as_documented() {
    let (base, seen) = recording_fake(Fault::None).await;
    let args = ["--base-url", &base, "--only", "keepalive.load_instance", "--token", "raw-t0ken"];
    let (status, report) = cli(&args).await;
    assert_eq!(status, Some(0), "{report}");
    // The keep-alive check's two requests on its own connection, and the fixtures' calls.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    assert!(seen.iter().all(|a| a.as_deref() == Some("Bearer raw-t0ken")), "{seen:?}");

    let (status, _) = cli(&["--base-url", &base, "--only", "no-such-check"]).await;
    assert_eq!(status, Some(2), "nothing to run is a usage error");
    let (status, version) = cli(&["--version"]).await;
    assert_eq!(status, Some(0));
    let contract = Contract::embedded().unwrap();
    let want =
        format!("rt-conformance {} (contract {})", env!("CARGO_PKG_VERSION"), contract.version());
    assert_eq!(version.trim(), want);
}
