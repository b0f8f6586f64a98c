//! The test harness: a real `rt-server` process per test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rt_client::types;
use serde_json::{Value, json};

/// Starts `rt-server` on a free loopback port with `args`, expecting the
/// start to fail; what it wrote to stderr (no backtrace).
pub fn failed_start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rt-server"))
        .args(["--ip", "127.0.0.1", "--port", "0"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the start succeeded: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running server process, killed when dropped.
pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    pub data_dir: PathBuf,
    logs: Arc<Logs>,
    _tmp: Option<tempfile::TempDir>,
}

/// The server's stderr, line by line, as a thread reads it: a line is
/// here some time after the server wrote it.
#[derive(Default)]
struct Logs {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl Logs {
    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl TestServer {
    /// A server on a fresh data directory.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut s = Self::start_in(tmp.path(), &[]);
        s._tmp = Some(tmp);
        s
    }

    /// A server on a fresh data directory whose `rtconfig.json`, passed
    /// with `--config`, is `config`.
    pub fn start_with_config(config: &Value) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("rtconfig.json");
        std::fs::write(&path, config.to_string()).expect("write rtconfig.json");
        let mut s = Self::start_in(tmp.path(), &["--config", path.to_str().expect("utf-8 path")]);
        s._tmp = Some(tmp);
        s
    }

    /// A server on HTTPS (`web_server.tls`, a certificate made now by
    /// [`self_signed`]) with the rest of `config` (a `web_server` object
    /// included); returns it, the certificate (PEM) and the directory of the
    /// certificate and key files.
    pub fn start_tls(config: &Value) -> (Self, Vec<u8>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let (pem, key_pem) = self_signed("rt-server test");
        std::fs::write(&cert, &pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let mut config = config.clone();
        config["web_server"]["tls"] = json!({"cert": cert, "key": key});
        (Self::start_with_config(&config), pem, dir)
    }

    /// A server with `web_server.cors.enabled` set.
    pub fn start_cors() -> Self {
        Self::start_with_config(&json!({"web_server": {"cors": {"enabled": true}}}))
    }

    /// A server on `data_dir` (kept by the caller), with extra arguments.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_in_env(data_dir, extra, &[])
    }

    /// [`TestServer::start_in`] with environment variables. The secret key
    /// file defaults to one under `data_dir/xdg` (never the user's own
    /// `~/.config`); tests of the key give `--secret-key-file` or
    /// `RT_SECRET_KEY`.
    pub fn start_in_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rt-server"))
            .args(["--ip", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("RUST_LOG")
            .env_remove("RT_SECRET_KEY")
            .env_remove("RT_SECRET_KEY_FILE")
            .env("XDG_CONFIG_HOME", data_dir.join("xdg"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rt-server");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Logs::default());
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or_default().to_string();
                    let _ = tx.send(url);
                }
                sink.lines.lock().unwrap().push(line);
                sink.grew.notify_all();
            }
        });
        let url: String = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("rt-server did not report its address; log:\n{}", logs.text());
            }
        };
        let addr: SocketAddr = url
            .split_once("://")
            .and_then(|(_, a)| a.parse().ok())
            .expect("http://ADDRESS or https://ADDRESS in the listening line");
        TestServer { child, addr, base: url, data_dir: data_dir.to_path_buf(), logs, _tmp: None }
    }

    /// A handle on a server another `TestServer` owns (for tasks that need
    /// their own): no process, nothing killed on drop.
    pub fn attach(base: &str) -> AttachedServer {
        AttachedServer { base: base.to_string() }
    }

    /// Keeps `dir` alive (and removes it) with the server.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self._tmp = Some(dir);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> rt_client::Client {
        rt_client::Client::new(&self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: the graceful shutdown an init system asks for.
    pub fn sigterm(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a child pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    }

    /// SIGHUP: the server reads its token file again.
    pub fn sighup(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a child pid");
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("SIGHUP");
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The log so far: a line the server has just written may not be
    /// here yet (see [`TestServer::wait_for_log`]).
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// The log up to now, every line the server wrote before the call
    /// included: a request to a path marked with a fresh id is sent, and
    /// the log read until dropshot's line for it. For checks that a line is
    /// *not* there (a password, a token).
    pub async fn logs_so_far(&self) -> String {
        let mark = format!("/v1/log-mark-{}", uuid::Uuid::new_v4());
        let _ = reqwest::get(self.url(&mark)).await;
        self.wait_for_log(&format!("the request to {mark}"), |l| l.contains(&mark));
        self.logs()
    }

    /// Waits (up to 10 s) for a line of the log for which `found` holds,
    /// and returns it; `what` says what it was waited for if none comes.
    pub fn wait_for_log(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut lines = self.logs.lines.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(line) = lines[seen..].iter().find(|l| found(l)) {
                return line.clone();
            }
            seen = lines.len();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "no {what} in the log within 10 s:\n{}", lines.join("\n"));
            lines = self.logs.grew.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// Raw request: any method, path and body, with `Content-Type:
    /// application/json` when a body is given. Returns status and body
    /// (JSON, or a JSON string holding the text).
    pub async fn raw(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, _, value) = self.raw_with_headers(method, path, body).await;
        (status, value)
    }

    /// [`TestServer::raw`], with the response headers.
    pub async fn raw_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let http = reqwest::Client::new();
        let mut req = http.request(method.parse().expect("method"), self.url(path));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    /// Creates an instance through the client; returns its id.
    pub async fn create(&self, body: Value) -> uuid::Uuid {
        let write: types::InstanceWrite = serde_json::from_value(body).expect("InstanceWrite");
        self.client()
            .create_instance(&write)
            .await
            .expect("create instance")
            .into_inner()
            .instance_id
    }

    pub async fn create_securt(&self) -> uuid::Uuid {
        self.create(json!({"solution": "securt"})).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- rt-server log ---\n{}", self.logs());
        }
    }
}

/// A server reached by address only (see [`TestServer::attach`]).
#[derive(Debug, Clone)]
pub struct AttachedServer {
    pub base: String,
}

impl AttachedServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Anything with a base URL.
pub trait Base {
    fn url(&self, path: &str) -> String;
}

impl Base for TestServer {
    fn url(&self, path: &str) -> String {
        TestServer::url(self, path)
    }
}

impl Base for AttachedServer {
    fn url(&self, path: &str) -> String {
        AttachedServer::url(self, path)
    }
}

/// One row of an error table: request and expected answer.
pub struct Case {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub status: u16,
    /// A fragment the error message must contain.
    pub message: &'static str,
    /// The `Allow` header a 405 must carry.
    pub allow: Option<&'static str>,
}

impl Case {
    pub fn new(
        method: &'static str,
        path: impl Into<String>,
        body: Option<&str>,
        status: u16,
        message: &'static str,
    ) -> Self {
        Case {
            method,
            path: path.into(),
            body: body.map(String::from),
            status,
            message,
            allow: None,
        }
    }

    /// The answer must also carry `Allow: methods`.
    pub fn allow(self, methods: &'static str) -> Self {
        Case { allow: Some(methods), ..self }
    }
}

/// Runs every case and reports all mismatches at once.
pub async fn check_cases(server: &TestServer, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let (status, headers, body) =
            server.raw_with_headers(c.method, &c.path, c.body.as_deref()).await;
        let message = body.get("message").and_then(Value::as_str).unwrap_or_default();
        if status != c.status || !message.contains(c.message) {
            failures.push(format!(
                "{} {} {:?}: want {} containing {:?}, got {} {}",
                c.method, c.path, c.body, c.status, c.message, status, body
            ));
        }
        let allow = headers.get("allow").and_then(|v| v.to_str().ok());
        if c.allow.is_some() && allow != c.allow {
            failures
                .push(format!("{} {}: want Allow {:?}, got {allow:?}", c.method, c.path, c.allow));
        }
        if status >= 400 && body.get("request_id").is_none() {
            failures
                .push(format!("{} {}: error body without request_id: {body}", c.method, c.path));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A TCP proxy on `127.0.0.1:0` in front of a server that records the head
/// (request line and headers) of each request it forwards, so a test sees
/// what a client really sent while the server still answers. It asks for one
/// request per connection (`Connection: close`), so every head passes it.
pub struct RecordingProxy {
    pub base: String,
    heads: Arc<Mutex<Vec<String>>>,
    recorded: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::new(tokio::sync::Notify::new());
        let (sink, notify) = (heads.clone(), recorded.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, sink.clone(), notify.clone()));
            }
        });
        RecordingProxy { base, heads, recorded, task }
    }

    /// The heads recorded so far, in arrival order.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// Waits until a recorded head contains `needle`, up to `limit`.
    pub async fn wait_for(&self, needle: &str, limit: Duration) {
        let found = tokio::time::timeout(limit, async {
            loop {
                let notified = self.recorded.notified();
                if self.heads().iter().any(|h| h.contains(needle)) {
                    return;
                }
                notified.await;
            }
        })
        .await;
        assert!(found.is_ok(), "no request with {needle:?} within {limit:?}: {:?}", self.heads());
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: reads the request head, records it, forwards it with
/// `Connection: close`, then relays bytes both ways until both ends close.
async fn relay(
    mut client: tokio::net::TcpStream,
    upstream: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    recorded: Arc<tokio::sync::Notify>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let kept: Vec<&str> = head
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut forwarded = format!("{}\r\nConnection: close\r\n\r\n", kept.join("\r\n")).into_bytes();
    forwarded.extend_from_slice(&buf[end + 4..]);
    heads.lock().unwrap().push(head);
    recorded.notify_waiters();
    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
    if server.write_all(&forwarded).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

/// The value of header `name` in a recorded request head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `cargo` with this workspace as its directory and the target directory
/// this test binary was built in, so what it builds reuses this build (the
/// tests run under nextest, which holds no lock on it while they run).
pub fn cargo(args: &[&str]) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/debug/deps/integration-<hash>
    let target = exe.ancestors().nth(3).expect("the target directory");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null());
    cargo
}

/// A self-signed certificate for `127.0.0.1` named `cn` (PEM) and its key
/// (PKCS #8 PEM), made by openssl.
pub fn self_signed(cn: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={cn}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA (webpki refuses a CA as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

/// A free loopback port, and a wait until a program started on it accepts
/// connections (10 s at most).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_listening(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
