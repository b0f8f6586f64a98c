//! `rt-server`: an open-source server for the RT Server REST API.
//!
//! The library starts the HTTP server over an engine and hands back a
//! [`Server`] handle; the binary (`src/bin/rt-server.rs`) owns the command
//! line, logging and signals.
//!
//! # Layout
//!
//! - [`config`]: `rtconfig.json` and its defaults.
//! - `auth`: bearer tokens (checked by every handler but the health probe).
//! - `tls`: HTTPS (`web_server.tls`), by dropshot or by the CORS front.
//! - `cors`: the front that adds CORS when `web_server.cors.enabled` is set.
//! - `context`: what every handler sees (engine, config, log, shutdown).
//! - `http_entrypoints`: the [`rt_api::RtApi`] implementation.
//! - `convert`: wire types <-> engine types.
//! - `database`: the `/v1/database` queries; attaches buses to the store writer.
//! - `securt`: the `/v1/securt` operations (SecuRT instances, areas, lines).
//! - `onvif`: the `/v1/onvif` operations (cameras, streams, credentials).
//! - `sse`: the Server-Sent Events stream of an instance's events.
//! - `live`: the Motion JPEG live view of an instance.
//! - `metrics`: `GET /metrics` (OpenMetrics text).
//! - `streams`: caps on the streams open at once (503 beyond them).
//! - `panel`: the web panel and the interactive docs (embedded files).
//! - `registry`: the `/v1/rtregistry` operations and the watch stream.
//! - `push`: frames pushed over HTTP to `Manual` inputs.
//! - `error`: the one place that maps failures to HTTP statuses.
//! - [`logging`]: log ring for `GET /v1/core/log`, slog -> tracing bridge.
//! - `system_config`, `system_info`: the `/v1/core/system/*` views.

mod auth;
pub mod config;
mod context;
mod convert;
mod cors;
mod database;
mod error;
mod hls;
mod http_entrypoints;
mod live;
pub mod logging;
mod metrics;
mod onvif;
mod panel;
mod push;
mod registry;
mod securt;
mod sse;
mod streams;
mod system_config;
mod system_info;
mod tls;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use dropshot::{ConfigDropshot, HandlerTaskMode, HttpServer, ServerBuilder};
use rt_pipeline::Engine;
use rt_pipeline::db::Db;
use rt_pipeline::db::writer::{Writer, WriterStats};
use rt_pipeline::media::infer::ExecutionProvider;
use rt_pipeline::media::{MediaOptions, MediaRunner};
use rt_pipeline::onvif::Onvif;
use rt_pipeline::secrets::{KeySource, SecretKey, Secrets};
use tokio::sync::watch;
use tracing::{info, warn};

pub use crate::config::{ConfigFile, RtConfig};
pub use crate::context::ServerContext;
pub use crate::http_entrypoints::OPENAPI_YAML;
use crate::logging::{LevelControl, LogBuffer};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("failed to open the instance store")]
    Engine(#[source] rt_pipeline::Error),
    #[error("failed to open the database")]
    Database(#[source] rt_pipeline::Error),
    #[error("bearer tokens (web_server.auth.token_file)")]
    Auth(#[source] auth::TokenFileError),
    #[error("TLS (web_server.tls)")]
    Tls(#[source] tls::TlsError),
    #[error("the secret key that seals camera credentials")]
    Secrets(#[source] rt_pipeline::Error),
    #[error("the detector's execution provider (detector.execution_provider)")]
    Detector(#[source] rt_pipeline::media::error::DetectorError),
    #[error("failed to start the HTTP server on {address}: {message}")]
    Http { address: SocketAddr, message: String },
}

/// What [`start_server`] needs.
pub struct ServerOptions {
    pub config: ConfigFile,
    /// Receives the server's log lines for `GET /v1/core/log` (the caller
    /// wires it into its tracing subscriber).
    pub log: LogBuffer,
    pub level: Option<LevelControl>,
    /// A secret key given directly (`RT_SECRET_KEY`, base64); overrides
    /// `secret_key_file`.
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions").field("config", &self.config).finish_non_exhaustive()
    }
}

/// How long shutdown waits for the store writer to store what the stopped
/// instances published. Batches commit in milliseconds; a database that is
/// gone must not keep the process alive.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// A started server.
pub struct Server {
    http: Option<HttpServer<Arc<ServerContext>>>,
    /// In front of `http` when CORS is enabled.
    front: Option<cors::Front>,
    ctx: Arc<ServerContext>,
    shutdown: watch::Receiver<bool>,
    /// Hears ONVIF Hello/Bye announcements.
    listener: tokio::task::JoinHandle<()>,
    /// Expires registry keys.
    sweeper: tokio::task::JoinHandle<()>,
    /// Reads the token file again when it changes.
    tokens: tokio::task::JoinHandle<()>,
    /// Attaches instances' buses to the store writer.
    attacher: tokio::task::JoinHandle<()>,
    /// Removes old stored data.
    retention: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("address", &self.local_addr()).finish_non_exhaustive()
    }
}

/// The ONVIF credentials file, in the data directory (passwords sealed).
pub const ONVIF_CREDENTIALS_FILE: &str = "onvif-credentials.json";

/// The key that seals stored credentials: `RT_SECRET_KEY` if given, else
/// the configured key file, else the default one.
fn secrets(given: &Option<String>, cfg: &config::RtConfig) -> Result<Secrets, StartError> {
    let source = match given {
        Some(text) => KeySource::Given {
            name: "key in RT_SECRET_KEY".into(),
            key: SecretKey::from_base64(text).map_err(|reason| {
                StartError::Secrets(rt_pipeline::Error::SecretKey {
                    key: "RT_SECRET_KEY".into(),
                    reason,
                })
            })?,
        },
        None => KeySource::File(
            cfg.secret_key_file.clone().or_else(config::default_secret_key_file).ok_or_else(
                || {
                    StartError::Secrets(rt_pipeline::Error::SecretKey {
                        key: "no key file".into(),
                        reason: "neither XDG_CONFIG_HOME nor HOME is set: give \
                                 --secret-key-file, RT_SECRET_KEY_FILE or RT_SECRET_KEY"
                            .into(),
                    })
                },
            )?,
        ),
    };
    Ok(Secrets::new(source))
}

/// Restores the instances in the data directory and starts serving the API
/// (unless `web_server.enabled` is false).
pub async fn start_server(opts: ServerOptions) -> Result<Server, StartError> {
    let cfg = opts.config.config.clone();
    let d = &cfg.detector;
    if d.model.is_none() || d.onnxruntime.is_none() {
        warn!(
            "no detector configured (detector.model and detector.onnxruntime, or --model and \
             --onnxruntime): instances can be managed but will not process video"
        );
    }
    let tls = cfg.web_server.tls.as_ref().map(tls::load).transpose().map_err(StartError::Tls)?;
    let auth = Arc::new(match &cfg.web_server.auth.token_file {
        Some(file) => auth::Auth::from_file(file).map_err(StartError::Auth)?,
        None => auth::Auth::open(),
    });
    let secrets = Arc::new(secrets(&opts.secret_key, &cfg)?);
    info!(key = %secrets.describe(), "camera credentials are sealed at rest with this key");
    let onvif = Arc::new(
        Onvif::with_saved(
            cfg.onvif.options(),
            cfg.data_dir.join(ONVIF_CREDENTIALS_FILE),
            secrets.clone(),
        )
        .map_err(StartError::Secrets)?,
    );
    // HLS files live only while their output runs: any left by an earlier
    // run that did not stop cleanly go now.
    let hls_dir = cfg.data_dir.join("hls");
    let _ = std::fs::remove_dir_all(&hls_dir);
    // Created before the writer so that instances can report its queue.
    let writer_stats = Arc::new(WriterStats::default());
    let runner = Arc::new(MediaRunner::new(MediaOptions {
        model: d.model.clone().unwrap_or_default(),
        family: d.family,
        onnxruntime: d.onnxruntime.clone().unwrap_or_default(),
        sessions: rt_pipeline::media::service::Sessions {
            narrow: d.sessions,
            wide_threads: d.threads,
        },
        batching: rt_pipeline::media::service::Batching {
            max_frames: d.batch_frames,
            wait: std::time::Duration::from_millis(d.batch_wait_ms),
        },
        provider: rt_pipeline::media::infer::Provider {
            kind: d.execution_provider,
            cpu_fallback: d.cpu_fallback,
        },
        store: Some(writer_stats.clone()),
        credentials: Some(onvif.clone()),
        hls_dir: hls_dir.clone(),
    }));
    // A provider other than the CPU is tried at start (the model loads
    // now rather than at the first instance's start), so a GPU that cannot
    // be used stops the start with the reason instead of failing later.
    if d.execution_provider != ExecutionProvider::Cpu && d.model.is_some() {
        // A model load is blocking work: off the async runtime's threads.
        let r = runner.clone();
        tokio::task::spawn_blocking(move || r.preload())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            .map_err(StartError::Detector)?;
    }
    let (engine, report) =
        Engine::open_sealed(cfg.data_dir.join("instances"), runner, Some(secrets))
            .map_err(StartError::Engine)?;
    info!(
        data_dir = %cfg.data_dir.display(),
        restored = report.restored,
        started = report.started,
        failed = report.failed.len(),
        "instances restored"
    );
    let db = match &cfg.database.url {
        Some(url) => Db::open_url(url).await,
        None => Db::open_sqlite(&cfg.data_dir.join(rt_pipeline::db::DEFAULT_SQLITE_FILE)).await,
    }
    .map_err(StartError::Database)?;
    info!(backend = ?db.backend(), "database open");
    let listener = tokio::spawn(onvif.clone().listen());
    let sweeper = tokio::spawn(registry::sweep(db.clone()));
    let tokens = tokio::spawn({
        let auth = auth.clone();
        async move {
            let mut tick = tokio::time::interval(auth::WATCH_EVERY);
            loop {
                tick.tick().await;
                auth.reload_if_changed();
            }
        }
    });
    let writer = Writer::start(db.clone(), writer_stats);
    let ctx = Arc::new(ServerContext::new(
        engine,
        onvif,
        (db, writer),
        opts.config,
        (opts.log, opts.level),
        hls_dir,
        auth.clone(),
    ));
    let shutdown = ctx.shutdown.subscribe();
    let attacher = tokio::spawn(database::attach_buses(ctx.clone()));
    let retention = tokio::spawn(database::retention(
        ctx.clone(),
        cfg.database.policy(),
        std::time::Duration::from_secs(cfg.database.retention_every_secs.max(1)),
    ));
    let (http, front) = if cfg.web_server.enabled {
        let address = SocketAddr::new(cfg.web_server.ip_address, cfg.web_server.port);
        let http_error =
            |e: &dyn std::fmt::Display| StartError::Http { address, message: e.to_string() };
        // With CORS, the public address belongs to the front and dropshot
        // listens on loopback only.
        let public = if cfg.web_server.cors.enabled {
            Some(cors::bind(address).map_err(|e| http_error(&e))?)
        } else {
            None
        };
        let bind_address = match (&public, address.ip()) {
            (None, _) => address,
            (Some(_), IpAddr::V4(_)) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            (Some(_), IpAddr::V6(_)) => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0),
        };
        let config = ConfigDropshot {
            bind_address,
            default_request_body_max_bytes: rt_api::MAX_REQUEST_BODY_BYTES,
            default_handler_task_mode: HandlerTaskMode::Detached,
            ..Default::default()
        };
        // TLS is the public side's: dropshot's own without CORS, the front's
        // with it.
        let dropshot_tls = tls.as_ref().filter(|_| public.is_none()).map(|t| t.config.clone());
        let server =
            ServerBuilder::new(http_entrypoints::api(), ctx.clone(), logging::dropshot_logger())
                .config(config)
                .tls(dropshot_tls)
                .start()
                .map_err(|e| http_error(&e))?;
        let front = match public {
            Some(listener) => {
                let acceptor = tls.as_ref().map(|t| Arc::new(RwLock::new(t.server.clone())));
                Some(
                    cors::Front::start(listener, server.local_addr(), acceptor)
                        .map_err(|e| http_error(&e))?,
                )
            }
            None => None,
        };
        let public = front.as_ref().map_or(server.local_addr(), cors::Front::local_addr);
        let scheme = if tls.is_some() { "https" } else { "http" };
        info!(address = %public, cors = front.is_some(), "listening on {scheme}://{public}");
        (Some(server), front)
    } else {
        warn!("web_server.enabled is false in rtconfig.json: the REST API is not served");
        (None, None)
    };
    Ok(Server { http, front, ctx, shutdown, listener, sweeper, tokens, attacher, retention })
}

impl Server {
    /// The address the API listens on (the CORS front's when there is
    /// one), if it is served.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.front {
            Some(front) => Some(front.local_addr()),
            None => self.http.as_ref().map(|s| s.local_addr()),
        }
    }

    /// Reads again what changes without a restart (SIGHUP): the bearer
    /// tokens, and the TLS certificate and key (for new connections).
    pub async fn reload(&self) {
        self.ctx.auth.reload();
        let Some(files) = self.ctx.config().config.web_server.tls.clone() else { return };
        let loaded = match tls::load(&files) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %error::chain(&e), "TLS files not reloaded: the certificate in force stays");
                return;
            }
        };
        if let Some(front) = &self.front {
            front.set_tls(loaded.server);
        } else if let Some(http) = &self.http
            && let Err(e) = http.refresh_tls(&loaded.config).await
        {
            warn!(error = %e, "TLS files not reloaded");
            return;
        }
        info!(cert = %files.cert.display(), "TLS certificate reloaded");
    }

    /// Resolves when a client asks the server to shut down.
    pub async fn shutdown_requested(&mut self) {
        let _ = self.shutdown.wait_for(|requested| *requested).await;
    }

    /// Graceful shutdown: stop taking requests and let those in flight
    /// finish, stop every instance, store everything they published, close
    /// the database.
    pub async fn close(self) -> Result<(), String> {
        // Ends the event streams, which would otherwise hold connections open.
        self.ctx.shutdown.send_replace(true);
        // The front first: its connections are dropshot's clients.
        if let Some(front) = self.front {
            front.close().await;
        }
        let result = match self.http {
            Some(http) => http.close().await,
            None => Ok(()),
        };
        self.listener.abort();
        self.sweeper.abort();
        self.tokens.abort();
        self.retention.abort();
        // Stop the sources: each pipeline ends its frame in hand, so every
        // event it produced is on its bus (all instances at once; off the
        // runtime's workers, as stops wait for threads).
        let ctx = self.ctx.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || ctx.engine.stop_all()).await {
            warn!(error = %e, "stopping the instances failed");
        }
        // Then store what the buses hold, to the last row.
        self.ctx.writer.drain();
        let drained = async {
            let _ = self.attacher.await;
            self.ctx.writer.flush().await;
        };
        if tokio::time::timeout(DRAIN_LIMIT, drained).await.is_err() {
            warn!(limit = ?DRAIN_LIMIT, "the store writer did not drain in time: exiting anyway");
        }
        self.ctx.db.close().await;
        info!("server stopped");
        result
    }
}
