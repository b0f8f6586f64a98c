//! The `rt-server` binary: command line, logging, signals.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use rt_server::config::{CONFIG_FILE_NAME, DEFAULT_DATA_DIR};
use rt_server::logging::{LevelControl, LogBuffer};
use rt_server::{ConfigFile, ServerOptions};
use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt, reload};

/// RT-compatible video analytics server (RT Server REST API on port 3546).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// rtconfig.json to read (and to save `PUT /v1/core/system/config` to).
    /// Default: rtconfig.json in the data directory, if it exists.
    #[arg(long, env = "RT_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides web_server.ip_address); 0.0.0.0
    /// opens the API to the network.
    #[arg(long, env = "RT_IP")]
    ip: Option<IpAddr>,
    /// Port to listen on (overrides web_server.port); 0 picks a free port.
    #[arg(long, env = "RT_PORT")]
    port: Option<u16>,
    /// Data directory (overrides data_dir). Default: ./rt-data.
    #[arg(long, env = "RT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log level (overrides log_level): error, warn, info, debug, trace.
    #[arg(long, env = "RT_LOG_LEVEL")]
    log_level: Option<String>,
    /// The ONNX detection model (overrides detector.model).
    #[arg(long, env = "RT_MODEL_PATH")]
    model: Option<PathBuf>,
    /// libonnxruntime.so, 1.31 or newer (overrides detector.onnxruntime).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    onnxruntime: Option<PathBuf>,
    /// Database of events, tracks and the registry (overrides
    /// database.url): postgres://... or sqlite://FILE. Default: rt.db in
    /// the data directory.
    #[arg(long, env = "RT_DATABASE_URL")]
    database_url: Option<String>,
    /// A file of bearer tokens, one per line (overrides
    /// web_server.auth.token_file): every request but GET /v1/core/version
    /// and the panel's files then needs one. Read again on SIGHUP and on change.
    #[arg(long, env = "RT_AUTH_TOKEN_FILE")]
    auth_token_file: Option<PathBuf>,
    /// The key file that seals stored camera credentials (overrides
    /// secret_key_file); created 0600 on first use. Default:
    /// $XDG_CONFIG_HOME/rt-server/secret.key or ~/.config/rt-server/secret.key.
    #[arg(long, env = "RT_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (path, must_exist) = match &args.config {
        Some(p) => (p.clone(), true),
        None => (
            args.data_dir.clone().unwrap_or_else(|| DEFAULT_DATA_DIR.into()).join(CONFIG_FILE_NAME),
            false,
        ),
    };
    let mut file = ConfigFile::load(&path, must_exist)?;
    let cfg = &mut file.config;
    if let Some(ip) = args.ip {
        cfg.web_server.ip_address = ip;
    }
    if let Some(port) = args.port {
        cfg.web_server.port = port;
    }
    if let Some(dir) = &args.data_dir {
        cfg.data_dir = dir.clone();
    }
    if let Some(level) = &args.log_level {
        cfg.log_level = level.clone();
    }
    if let Some(model) = &args.model {
        cfg.detector.model = Some(model.clone());
    }
    if let Some(lib) = &args.onnxruntime {
        cfg.detector.onnxruntime = Some(lib.clone());
    }
    if let Some(url) = &args.database_url {
        cfg.database.url = Some(url.clone());
    }
    if let Some(file) = &args.auth_token_file {
        cfg.web_server.auth.token_file = Some(file.clone());
    }
    if let Some(file) = &args.secret_key_file {
        cfg.secret_key_file = Some(file.clone());
    }
    // A key given directly (base64 of 32 bytes) wins over any key file; it
    // is read here, never stored in the configuration, never logged.
    let secret_key = std::env::var("RT_SECRET_KEY").ok().filter(|k| !k.trim().is_empty());

    let log = LogBuffer::default();
    let level = init_tracing(&cfg.log_level, log.clone())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?
        .block_on(run(ServerOptions { config: file, log, level: Some(level), secret_key }))
}

async fn run(opts: ServerOptions) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listened to before the server starts: a signal that comes early (a
    // reload as the service starts) must not take its default action, which
    // for SIGHUP is to end the process; it is handled once the server runs.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut server = rt_server::start_server(opts).await?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => info!("interrupt received, shutting down (again to exit at once)"),
            _ = terminate.recv() => info!("SIGTERM received, shutting down (again to exit at once)"),
            _ = hangup.recv() => {
                info!("SIGHUP received: reading the token file and the TLS files again");
                server.reload().await;
                continue;
            }
            _ = server.shutdown_requested() => {}
        }
        break;
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
    server.close().await.map_err(|e| anyhow::anyhow!("error while stopping the server: {e}"))
}

/// stderr for people, the ring buffer for `GET /v1/core/log`, one filter
/// for both that `PUT /v1/core/system/config` can change. `RUST_LOG`, when
/// set, wins over the configured level at startup.
fn init_tracing(level: &str, log: LogBuffer) -> anyhow::Result<LevelControl> {
    let filter = |level: &str| EnvFilter::try_new(format!("{level},dropshot=info"));
    let initial = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(spec)?,
        _ => filter(level)?,
    };
    let (filter_layer, handle) = reload::Layer::new(initial);
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr))
        .with(fmt::layer().with_ansi(false).with_writer(log))
        .try_init()
        .context("failed to set up logging")?;
    Ok(Arc::new(move |level: &str| {
        let f = filter(level).map_err(|e| e.to_string())?;
        handle.reload(f).map_err(|e| e.to_string())
    }))
}
