//! HTTP/1.1 keep-alive: body-less and `{}` writes, in any order, on one
//! reused connection, each answered without hanging, straight to dropshot and
//! through the CORS front.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::TestServer;

/// Reads one response (status, body) from a keep-alive connection.
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut status_line = String::new();
    r.read_line(&mut status_line).expect("status line before the timeout");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        assert!(!lower.starts_with("connection: close"), "server closed the connection: {line}");
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().expect("content-length");
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn request(method: &str, path: &str, body: Option<&str>) -> String {
    match body {
        None => format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n"),
        Some(b) => format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ),
    }
}

#[tokio::test]
async fn bodyless_and_empty_object_writes_share_one_connection() {
    writes_share_one_connection(TestServer::start()).await;
}

#[tokio::test]
async fn bodyless_and_empty_object_writes_share_one_connection_through_the_cors_front() {
    writes_share_one_connection(TestServer::start_cors()).await;
}

async fn writes_share_one_connection(s: TestServer) {
    let id = s.create_securt().await;
    let doomed = s.create_securt().await;
    let i = format!("/v1/core/instance/{id}");
    let steps: Vec<(&str, String, Option<&str>, u16)> = vec![
        ("POST", format!("{i}/load"), None, 204),
        ("POST", format!("{i}/start"), Some("{}"), 204),
        ("POST", format!("{i}/restart"), None, 204),
        ("POST", format!("{i}/restart"), Some("{}"), 204),
        ("POST", format!("{i}/stop"), Some("{}"), 204),
        ("POST", format!("{i}/start"), None, 204),
        ("POST", format!("{i}/stop"), None, 204),
        ("POST", format!("{i}/unload"), Some("{}"), 204),
        ("POST", format!("{i}/load"), Some("{}"), 204),
        ("POST", format!("{i}/unload"), None, 204),
        ("POST", format!("{i}/restart"), None, 406),
        ("GET", i.to_string(), None, 200),
        ("PATCH", i.to_string(), Some("{}"), 204),
        ("DELETE", format!("/v1/core/instance/{doomed}"), Some("{}"), 204),
        ("DELETE", i.to_string(), None, 204),
        ("DELETE", i.to_string(), None, 404),
        ("GET", "/v1/core/version".into(), None, 200),
    ];
    let addr = s.addr;
    tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        // One at a time, then all pipelined at once.
        for (method, path, body, want) in &steps[..4] {
            writer.write_all(request(method, path, *body).as_bytes()).unwrap();
            let (status, text) = read_response(&mut reader);
            assert_eq!(status, *want, "{method} {path} {body:?}: {text}");
        }
        let batch: String = steps[4..].iter().map(|(m, p, b, _)| request(m, p, *b)).collect();
        writer.write_all(batch.as_bytes()).unwrap();
        for (method, path, body, want) in &steps[4..] {
            let (status, text) = read_response(&mut reader);
            assert_eq!(status, *want, "{method} {path} {body:?}: {text}");
        }
    })
    .await
    .unwrap();
}

/// How long the server gives a new connection to send its first byte (and
/// a TLS client its handshake), a client to send a whole request head, and
/// an idle keep-alive connection to start its next request: 30 s, hyper's
/// header timeout (vendor/dropshot/PATCHES.md adds the first one to
/// dropshot; the CORS front has all three).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits (up to the header timeout and a margin) for the server to close
/// `stream`, calling `tick` about once a second meanwhile (a slow client
/// trickling bytes); returns how long it took.
pub fn wait_for_close(mut stream: TcpStream, mut tick: impl FnMut(&mut TcpStream)) -> Duration {
    let started = std::time::Instant::now();
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = [0u8; 512];
    loop {
        assert!(
            started.elapsed() < HEADER_TIMEOUT + Duration::from_secs(10),
            "the server kept a slow or idle connection open past {HEADER_TIMEOUT:?}"
        );
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            // A 408 or another answer before the close is fine: the
            // connection is being ended.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tick(&mut stream)
            }
            // Reset by the server: closed too.
            Err(_) => return started.elapsed(),
        }
    }
}

/// Asserts that `took` is about the header timeout. Not a timing assertion
/// on the server's speed: a close long before the timeout would mean the
/// connection broke for another reason.
pub fn closed_by_the_timeout(what: &str, took: Duration) {
    assert!(took >= HEADER_TIMEOUT - Duration::from_secs(2), "{what}: closed after {took:?}");
}

/// A client that connects and never sends a byte, one that trickles its
/// request head a byte a second (slowloris), and one that goes quiet on a
/// keep-alive connection after a request are all disconnected after the
/// header timeout, so none of them holds a connection for ever.
fn slow_clients_are_disconnected(addr: std::net::SocketAddr) {
    let silent =
        std::thread::spawn(move || wait_for_close(TcpStream::connect(addr).unwrap(), |_| {}));
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /v1/core/version HTTP/1.1\r\nHost: test\r\n").unwrap();
        // A header that never ends, a byte at a time.
        wait_for_close(s, |s| {
            let _ = s.write_all(b"X");
        })
    });
    let idle = std::thread::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = s.try_clone().unwrap();
        w.write_all(request("GET", "/v1/core/version", None).as_bytes()).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert_eq!(read_response(&mut r).0, 200);
        wait_for_close(s, |_| {})
    });
    for (what, t) in [("silent", silent), ("slow head", slow), ("idle keep-alive", idle)] {
        closed_by_the_timeout(what, t.join().unwrap());
    }
}

#[tokio::test]
async fn silent_slow_and_idle_clients_are_disconnected() {
    let s = TestServer::start();
    let addr = s.addr;
    tokio::task::spawn_blocking(move || slow_clients_are_disconnected(addr)).await.unwrap();
}

#[tokio::test]
async fn silent_slow_and_idle_clients_are_disconnected_by_the_cors_front() {
    let s = TestServer::start_cors();
    let addr = s.addr;
    tokio::task::spawn_blocking(move || slow_clients_are_disconnected(addr)).await.unwrap();
}
