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

/// glibc's malloc, as tuned for this server: large blocks (128 KiB and up:
/// frames, tensors, encoded images) always get their own mapping, returned to
/// the system when freed. By default glibc raises that threshold as such
/// blocks are freed and then carves them out of its arenas, and under the
/// per-frame churn of buffers from many threads the resident memory crept up
/// by 0.6-0.8 MiB a minute while the live heap stayed flat (heaptrack); with
/// the threshold fixed it stays flat (`rt-bench --soak`, bench/RESULTS.md).
/// Another allocator for Rust's side alone (mimalloc) made it worse: most of
/// the churn is in GStreamer and ONNX Runtime, which use malloc.
const MALLOC_TUNABLE: &str = "glibc.malloc.mmap_threshold";
const MALLOC_THRESHOLD: u32 = 128 * 1024;

/// glibc reads its tunables only when a process starts, so the server
/// starts itself again, same PID, arguments and descriptors, with
/// [`MALLOC_TUNABLE`] added to `GLIBC_TUNABLES`, unless that already names
/// it (an operator's own choice, or this is the second start). If the exec
/// fails, the server runs untuned and says so.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    use std::os::unix::process::CommandExt;
    const AGAIN: &str = "RT_MALLOC_TUNED";
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if tunables.contains(MALLOC_TUNABLE) || std::env::var_os(AGAIN).is_some() {
        return;
    }
    let ours = format!("{MALLOC_TUNABLE}={MALLOC_THRESHOLD}");
    let tunables = if tunables.is_empty() { ours } else { format!("{tunables}:{ours}") };
    let mut argv = std::env::args_os();
    let (Ok(exe), Some(arg0)) = (std::env::current_exe(), argv.next()) else { return };
    let error = std::process::Command::new(exe)
        .arg0(arg0)
        .args(argv)
        .env("GLIBC_TUNABLES", tunables)
        // Never a loop, even where glibc drops GLIBC_TUNABLES.
        .env(AGAIN, "1")
        .exec();
    eprintln!("rt-server: could not restart with {MALLOC_TUNABLE} set ({error}); running without");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() -> anyhow::Result<()> {
    tune_malloc();
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
