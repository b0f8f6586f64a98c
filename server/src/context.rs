//! The state every request handler sees.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::sync::Arc;

use rt_pipeline::Engine;
use rt_pipeline::db::Db;
use rt_pipeline::db::retention::RetentionStats;
use rt_pipeline::db::writer::Writer;
use rt_pipeline::onvif::Onvif;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::config::ConfigFile;
use crate::logging::{LevelControl, LogBuffer};
use crate::streams::StreamLimits;

/// Shared by all handlers (as `Arc<ServerContext>`).
pub struct ServerContext {
    pub engine: Engine,
    /// Known ONVIF cameras (shared with the media pipeline for credentials).
    pub onvif: Arc<Onvif>,
    /// Stored events and tracks, and the registry.
    pub db: Db,
    /// Stores every instance's events.
    pub writer: Writer,
    /// What retention removed, and the data's size.
    pub retention: RetentionStats,
    /// rtconfig.json as loaded (and as changed by `PUT system/config`).
    config: Mutex<ConfigFile>,
    pub log: LogBuffer,
    /// Changes the log level live; `None` when the embedding program owns
    /// logging (tests).
    pub level: Option<LevelControl>,
    /// Set to `true` by `POST /v1/core/system/shutdown`.
    pub shutdown: watch::Sender<bool>,
    pub started: Instant,
    /// Where HLS outputs write (served at `/hls/`).
    pub hls_dir: PathBuf,
    /// The RT version this server reports (`engine_version` in rtconfig.json).
    pub engine_version: String,
    /// Quiet time after which an event stream sends a keep-alive comment
    /// (`web_server.sse_keepalive_s`, read at start).
    pub keep_alive: Duration,
    /// Caps on open streams (`web_server.max_streams*`, read at start).
    pub streams: Arc<StreamLimits>,
    /// The bearer tokens in force (none: every request is served).
    pub auth: Arc<Auth>,
}

impl std::fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerContext").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl ServerContext {
    pub fn new(
        engine: Engine,
        onvif: Arc<Onvif>,
        (db, writer): (Db, Writer),
        config: ConfigFile,
        (log, level): (LogBuffer, Option<LevelControl>),
        hls_dir: PathBuf,
        auth: Arc<Auth>,
    ) -> Self {
        let engine_version = config.config.engine_version.clone();
        let ws = &config.config.web_server;
        let keep_alive = Duration::from_secs(ws.sse_keepalive_s);
        let streams = StreamLimits::new(ws.max_streams, ws.max_streams_per_instance);
        ServerContext {
            engine_version,
            keep_alive,
            streams,
            auth,
            engine,
            onvif,
            writer,
            retention: RetentionStats::default(),
            db,
            config: Mutex::new(config),
            log,
            level,
            shutdown: watch::Sender::new(false),
            started: Instant::now(),
            hls_dir,
        }
    }

    /// The config file. Held only for short, synchronous work.
    pub fn config(&self) -> MutexGuard<'_, ConfigFile> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }
}
