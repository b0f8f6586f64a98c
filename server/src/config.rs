//! `rtconfig.json`: the server's own settings.
//!
//! The file has RT's `web_server` block plus our keys:
//!
//! ```json
//! {
//!   "web_server": { "enabled": true, "ip_address": "127.0.0.1", "port": 3546,
//!                   "cors": { "enabled": false }, "sse_keepalive_s": 15,
//!                   "max_streams": 20000, "max_streams_per_instance": 10000 },
//!   "data_dir": "rt-data",
//!   "log_level": "info",
//!   "engine_version": "2024.2.4",
//!   "onvif": { "interface": null, "probe_address": "239.255.255.250:3702",
//!              "listen_address": "0.0.0.0:3702", "request_timeout_ms": 5000 }
//! }
//! ```
//!
//! Every key is optional (defaults below). Keys we do not know are kept, so
//! an RT installation's file can be used as it is and survives our rewrites
//! (`PUT /v1/core/system/config` edits only the keys it owns).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Default port of RT Server.
pub const DEFAULT_PORT: u16 = 3546;
/// Default bind address: loopback only, so a fresh install is not reachable
/// from the network until the operator says so (`--ip 0.0.0.0`).
pub const DEFAULT_IP: &str = "127.0.0.1";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "rt-data";
/// The name of the config file inside the data directory.
pub const CONFIG_FILE_NAME: &str = "rtconfig.json";
/// Log levels accepted by `log_level`.
pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];
/// What `GET /v1/core/version` reports by default: the CVEDIA-RT SDK
/// release whose API this server follows (`shared/reference/rt-events.md`,
/// "Release 2024.2.4"), in RT's `YYYY.MINOR.PATCH` form, for plugins that
/// gate on RT's version.
pub const DEFAULT_ENGINE_VERSION: &str = "2024.2.4";

/// The typed settings read from `rtconfig.json` (and the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtConfig {
    #[serde(default)]
    pub web_server: WebServer,
    /// Where instances and other state live. Default: `rt-data`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// One of error, warn, info, debug, trace. Default: `info`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// The RT version reported as `engine` by `GET /v1/core/version` and
    /// as every instance's `version`, `YYYY.MINOR.PATCH`. Default:
    /// [`DEFAULT_ENGINE_VERSION`].
    #[serde(default = "default_engine_version")]
    pub engine_version: String,
    /// The object detector.
    #[serde(default)]
    pub detector: Detector,
    /// ONVIF camera discovery.
    #[serde(default)]
    pub onvif: Onvif,
    /// The database of events, tracks and the registry, and retention.
    #[serde(default)]
    pub database: Database,
    /// The key file that seals stored camera credentials (our extension).
    /// Default: [`default_secret_key_file`], outside the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
}

/// Where the secret key lives by default: `$XDG_CONFIG_HOME/rt-server/
/// secret.key`, else `$HOME/.config/rt-server/secret.key`: apart from the
/// data directory, so a copy or backup of the data alone holds no
/// usable credential. `None` when neither variable is set.
pub fn default_secret_key_file() -> Option<PathBuf> {
    let non_empty = |v: &str| std::env::var_os(v).filter(|p| !p.is_empty()).map(PathBuf::from);
    non_empty("XDG_CONFIG_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".config")))
        .map(|base| base.join("rt-server").join("secret.key"))
}

/// Our `database` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    /// `postgres://...` or `sqlite://FILE`. Default: none, the SQLite file
    /// `rt.db` in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Stored events and track positions older than this many days are
    /// removed; `null` keeps them. Default: 30.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: Option<f64>,
    /// The oldest are removed while the data is larger than this many MiB;
    /// `null`: no limit. Default: 1024.
    #[serde(default = "default_max_size_mb")]
    pub max_size_mb: Option<u64>,
    /// Seconds between retention runs. Default: 60.
    #[serde(default = "default_retention_every_secs")]
    pub retention_every_secs: u64,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: None,
            max_age_days: default_max_age_days(),
            max_size_mb: default_max_size_mb(),
            retention_every_secs: default_retention_every_secs(),
        }
    }
}

impl Database {
    /// The engine's retention policy.
    pub fn policy(&self) -> rt_pipeline::db::retention::Policy {
        rt_pipeline::db::retention::Policy {
            max_age: self
                .max_age_days
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(|d| Duration::from_secs_f64(d * 86_400.0)),
            max_size_bytes: self.max_size_mb.map(|m| m.saturating_mul(1024 * 1024)),
        }
    }
}

fn default_max_age_days() -> Option<f64> {
    Some(30.0)
}
fn default_max_size_mb() -> Option<u64> {
    Some(1024)
}
fn default_retention_every_secs() -> u64 {
    60
}

/// Our `onvif` block: where WS-Discovery probes and listens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Onvif {
    /// IPv4 address of the network interface to discover on. Default: none
    /// (the system's routing decides).
    #[serde(default)]
    pub interface: Option<Ipv4Addr>,
    /// Where the Probe is sent. Default: `239.255.255.250:3702`, the
    /// WS-Discovery multicast group; a unicast address probes one host.
    #[serde(default = "default_probe_address")]
    pub probe_address: SocketAddr,
    /// Where Hello and Bye announcements are heard; `null` turns that off.
    /// Default: `0.0.0.0:3702` (joins the multicast group).
    #[serde(default = "default_listen_address")]
    pub listen_address: Option<SocketAddr>,
    /// Limit of one SOAP call to a camera, in milliseconds. Default: 5000.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

impl Default for Onvif {
    fn default() -> Self {
        Onvif {
            interface: None,
            probe_address: default_probe_address(),
            listen_address: default_listen_address(),
            request_timeout_ms: default_request_timeout_ms(),
        }
    }
}

impl Onvif {
    /// The engine's view of this block.
    pub fn options(&self) -> rt_pipeline::onvif::OnvifOptions {
        rt_pipeline::onvif::OnvifOptions {
            interface: self.interface,
            probe_address: self.probe_address,
            listen_address: self.listen_address,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
        }
    }
}

fn default_probe_address() -> SocketAddr {
    rt_pipeline::onvif::OnvifOptions::default().probe_address
}
fn default_listen_address() -> Option<SocketAddr> {
    rt_pipeline::onvif::OnvifOptions::default().listen_address
}
fn default_request_timeout_ms() -> u64 {
    5000
}

/// Our `detector` block: which model runs, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// The ONNX model file. Required to process video.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Its output format: `nanodet` (default) or `yolov8` (also YOLO11).
    #[serde(default)]
    pub family: rt_pipeline::detect::ModelFamily,
    /// `libonnxruntime.so` (version 1.31 or newer). Required to process
    /// video.
    #[serde(default)]
    pub onnxruntime: Option<PathBuf>,
    /// Threads of the inference service's wide session, which runs a frame
    /// alone when it is the only one waiting (0 or 1: no wide session).
    /// Default: the machine's cores.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// The inference service's narrow sessions, of one thread each, which
    /// run frames side by side when several instances wait. Default: the
    /// machine's cores.
    #[serde(default = "default_threads")]
    pub sessions: usize,
    /// The most frames of different instances one run of the model takes,
    /// for models with a dynamic batch dimension (the default model has
    /// one); 1 (no batching) to 64. Default: 1 (on the CPU a batch runs no faster
    /// per frame: see bench/RESULTS.md).
    #[serde(default = "one")]
    pub batch_frames: usize,
    /// How long a run waits to fill its batch while other instances may
    /// still hand in a frame, in milliseconds (0 to 100). Default: 5.
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// Where the model runs: `cpu` (default) or `cuda` (an
    /// `onnxruntime-gpu` library with CUDA and cuDNN on the host). Other
    /// than `cpu`, the model loads at start, and a provider that cannot be
    /// used stops the start, unless `cpu_fallback`.
    #[serde(default)]
    pub execution_provider: rt_pipeline::media::infer::ExecutionProvider,
    /// Run on the CPU when the execution provider cannot be used, instead
    /// of failing. Default: false.
    #[serde(default)]
    pub cpu_fallback: bool,
}

impl Default for Detector {
    fn default() -> Self {
        Detector {
            model: None,
            family: Default::default(),
            onnxruntime: None,
            threads: default_threads(),
            sessions: default_threads(),
            batch_frames: one(),
            batch_wait_ms: default_batch_wait_ms(),
            execution_provider: Default::default(),
            cpu_fallback: false,
        }
    }
}

/// The largest `detector.batch_frames`.
const MAX_BATCH_FRAMES: usize = 64;
/// The longest `detector.batch_wait_ms`.
const MAX_BATCH_WAIT_MS: u64 = 100;

fn one() -> usize {
    1
}

fn default_batch_wait_ms() -> u64 {
    5
}

/// The machine's cores.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// RT's `web_server` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebServer {
    /// Serve the REST API at all. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address to bind. Default: 127.0.0.1.
    #[serde(default = "default_ip")]
    pub ip_address: IpAddr,
    /// Port to bind (0 picks a free one). Default: 3546.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Cross-origin requests from browsers.
    #[serde(default)]
    pub cors: Cors,
    /// Seconds without traffic after which an event stream sends a
    /// keep-alive comment (1-300; our extension). Below a proxy's read
    /// timeout (nginx: 60 s), so idle streams stay open. Default: 15.
    #[serde(default = "default_keepalive")]
    pub sse_keepalive_s: u64,
    /// Streams (event streams, registry watches, live views) open at once,
    /// in all; one more is refused with 503 (our extension). Default: 20000.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    /// Streams of one instance open at once (its event streams and live
    /// views; our extension). Default: 10000.
    #[serde(default = "default_max_streams_per_instance")]
    pub max_streams_per_instance: usize,
    /// Bearer tokens (see `auth.rs`).
    #[serde(default)]
    pub auth: AuthConfig,
    /// HTTPS instead of HTTP (see `tls.rs`; our extension). Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
}

/// `web_server.tls`: PEM files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsFiles {
    /// The certificate chain, the server's own first.
    pub cert: PathBuf,
    /// Its private key (PKCS #8).
    pub key: PathBuf,
}

/// `web_server.auth` (our extension).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// A file of bearer tokens, one per line; when set, every request but
    /// the health probe and the panel's shell needs one. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// RT's `web_server.cors` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cors {
    /// Answer preflights and add `Access-Control-Allow-Origin: *` to every
    /// response (see `cors.rs`). Read at start. Default: false.
    #[serde(default)]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}
fn default_ip() -> IpAddr {
    DEFAULT_IP.parse().expect("valid default address")
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_keepalive() -> u64 {
    15
}
fn default_max_streams() -> usize {
    20_000
}
fn default_max_streams_per_instance() -> usize {
    10_000
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}
fn default_log_level() -> String {
    "info".into()
}
fn default_engine_version() -> String {
    DEFAULT_ENGINE_VERSION.into()
}

/// Whether `v` has RT's version form `YYYY.MINOR.PATCH` (digits only).
fn is_rt_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Default for WebServer {
    fn default() -> Self {
        WebServer {
            enabled: true,
            ip_address: default_ip(),
            port: DEFAULT_PORT,
            cors: Cors::default(),
            sse_keepalive_s: default_keepalive(),
            max_streams: default_max_streams(),
            max_streams_per_instance: default_max_streams_per_instance(),
            auth: AuthConfig::default(),
            tls: None,
        }
    }
}

impl Default for RtConfig {
    fn default() -> Self {
        RtConfig {
            web_server: WebServer::default(),
            data_dir: default_data_dir(),
            log_level: default_log_level(),
            engine_version: default_engine_version(),
            detector: Detector::default(),
            onvif: Onvif::default(),
            database: Database::default(),
            secret_key_file: None,
        }
    }
}

/// Why the config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration in {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid configuration in {}: log_level must be one of {}", path.display(), LOG_LEVELS.join(", "))]
    LogLevel { path: PathBuf },
    #[error("invalid configuration in {}: engine_version must look like 2024.2.4 (YYYY.MINOR.PATCH), not {given:?}", path.display())]
    EngineVersion { path: PathBuf, given: String },
    #[error("invalid configuration in {}: web_server.sse_keepalive_s must be 1 to 300 seconds, not {given}", path.display())]
    KeepAlive { path: PathBuf, given: u64 },
    #[error("invalid configuration in {}: detector.batch_frames must be 1 to {MAX_BATCH_FRAMES}, not {given}", path.display())]
    BatchFrames { path: PathBuf, given: usize },
    #[error("invalid configuration in {}: detector.batch_wait_ms must be 0 to {MAX_BATCH_WAIT_MS} ms, not {given} (every batch may wait that long for a camera that has stalled)", path.display())]
    BatchWait { path: PathBuf, given: u64 },
}

/// The config file as read: the typed view plus the whole document.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub config: RtConfig,
    /// The whole JSON document, unknown keys included.
    pub raw: Map<String, Value>,
}

impl ConfigFile {
    /// Reads `path`; a missing file gives the defaults when `must_exist` is
    /// false (the file is created on the first change).
    pub fn load(path: &Path, must_exist: bool) -> Result<Self, LoadError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => "{}".into(),
            Err(source) => {
                return Err(LoadError::Read { path: path.into(), source });
            }
        };
        let parse_err = |source| LoadError::Parse { path: path.into(), source };
        let raw: Map<String, Value> = serde_json::from_str(&text).map_err(parse_err)?;
        let config: RtConfig =
            serde_json::from_value(Value::Object(raw.clone())).map_err(parse_err)?;
        if !LOG_LEVELS.contains(&config.log_level.as_str()) {
            return Err(LoadError::LogLevel { path: path.into() });
        }
        if !is_rt_version(&config.engine_version) {
            let given = config.engine_version;
            return Err(LoadError::EngineVersion { path: path.into(), given });
        }
        let given = config.web_server.sse_keepalive_s;
        if !(1..=300).contains(&given) {
            return Err(LoadError::KeepAlive { path: path.into(), given });
        }
        let given = config.detector.batch_frames;
        if !(1..=MAX_BATCH_FRAMES).contains(&given) {
            return Err(LoadError::BatchFrames { path: path.into(), given });
        }
        let given = config.detector.batch_wait_ms;
        if given > MAX_BATCH_WAIT_MS {
            return Err(LoadError::BatchWait { path: path.into(), given });
        }
        Ok(ConfigFile { path: path.into(), config, raw })
    }

    /// Writes the typed settings back into the document and saves it
    /// atomically (temporary file + rename), keeping unknown keys.
    pub fn save(&mut self) -> std::io::Result<()> {
        if let Value::Object(typed) =
            serde_json::to_value(&self.config).map_err(std::io::Error::other)?
        {
            for (k, v) in typed {
                merge(self.raw.entry(k).or_insert(Value::Null), v);
            }
        }
        let bytes = serde_json::to_vec_pretty(&self.raw).map_err(std::io::Error::other)?;
        rt_pipeline::store::write_atomically(
            &self.path,
            &self.path.with_extension("json.tmp"),
            &bytes,
        )
    }
}

/// Overlays `new` on `old`, keeping keys of `old` objects that `new` lacks.
fn merge(old: &mut Value, new: Value) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in n {
                merge(o.entry(k).or_insert(Value::Null), v);
            }
        }
        (old, new) => *old = new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_unknown_keys_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rtconfig.json");
        assert_eq!(ConfigFile::load(&path, false).unwrap().config, RtConfig::default());
        assert!(ConfigFile::load(&path, true).is_err());
        std::fs::write(
            &path,
            r#"{"web_server": {"port": 8080, "ssl": {"x": 1}}, "plugins": ["a"], "log_level": "debug"}"#,
        )
        .unwrap();
        let mut f = ConfigFile::load(&path, true).unwrap();
        assert_eq!(f.config.web_server.port, 8080);
        assert_eq!(f.config.web_server.ip_address.to_string(), "127.0.0.1");
        f.config.web_server.port = 9000;
        f.save().unwrap();
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(raw["web_server"]["port"], 9000);
        assert_eq!(raw["web_server"]["ssl"]["x"], 1);
        assert_eq!(raw["plugins"][0], "a");
    }

    #[test]
    fn bad_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rtconfig.json");
        for bad in [
            r#"{"web_server": {"port": "x"}}"#,
            r#"{"log_level": "loud"}"#,
            r#"{"engine_version": "0.1.0"}"#,
            r#"{"engine_version": "2024.2"}"#,
            r#"{"engine_version": "2024.2.x"}"#,
            r#"{"web_server": {"sse_keepalive_s": 0}}"#,
            r#"{"web_server": {"sse_keepalive_s": 301}}"#,
            r#"{"web_server": {"sse_keepalive_s": -1}}"#,
            r#"{"detector": {"batch_frames": 0}}"#,
            r#"{"detector": {"batch_frames": 65}}"#,
            r#"{"detector": {"batch_wait_ms": 101}}"#,
            r#"{"detector": {"batch_wait_ms": -5}}"#,
            "{",
            "[]",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = ConfigFile::load(&path, true).unwrap_err().to_string();
            assert!(err.contains("rtconfig.json"), "{bad}: {err}");
        }
    }
}
