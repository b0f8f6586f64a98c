//! The `rt-conformance` command: runs the suite against a server and writes
//! the report. Its exit statuses are stable (see the crate's README): 0 only
//! when every selected check passes (or does not apply) and nothing was left
//! behind; 1 when some fail, something was left behind or the run was
//! interrupted; 2 when the suite could not run (usage, contract, I/O).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use clap::Parser;
use rt_conformance::ctx::OnvifCamera;
use rt_conformance::{Contract, Error, Format, Options, Outcome, plan, render, run, summary};

/// `--version`: this crate's version and the contract's it embeds.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!("{} (contract {})", env!("CARGO_PKG_VERSION"), rt_client::CONTRACT_VERSION)
});

/// Checks an RT-compatible server against the RT Server REST API contract.
///
/// Exit status: 0 every selected check passed or did not apply; 1 some
/// failed, something was left behind or the run was interrupted; 2 the
/// suite could not run.
#[derive(Debug, Parser)]
#[command(version = VERSION.as_str(), about)]
struct Cli {
    /// The server, e.g. http://127.0.0.1:3546.
    #[arg(long)]
    base_url: String,
    /// The contract to hold the server to (default: the embedded one).
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Leave out checks of features marked x-rt-extension (RT Server itself has none of them).
    #[arg(long)]
    strict_rt: bool,
    /// Run only checks whose name matches (substring, or a pattern with `*`). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value = "markdown")]
    report: Format,
    /// Write the report here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Bound on each request, in seconds.
    #[arg(long, default_value_t = 10.0)]
    request_timeout: f64,
    /// Bound on each check, in seconds.
    #[arg(long, default_value_t = 60.0)]
    check_timeout: f64,
    /// A read-only instance the suite may send (refused) writes to, for the 403 checks.
    #[arg(long, value_name = "UUID")]
    read_only_instance: Option<uuid::Uuid>,
    /// Also check POST /v1/core/system/shutdown (run last: it stops the server).
    #[arg(long)]
    allow_shutdown: bool,
    /// An ONVIF camera the server has discovered (uuid or address, as GET /v1/onvif/cameras
    /// lists it), for the ONVIF checks: the suite stores the credentials given with it, and
    /// wrong ones for a moment (the 403 check), then the given ones again.
    #[arg(long, value_name = "ID", requires_all = ["onvif_username", "onvif_password"])]
    onvif_camera: Option<String>,
    /// The user name for --onvif-camera.
    #[arg(long, requires = "onvif_camera")]
    onvif_username: Option<String>,
    /// The password for --onvif-camera.
    #[arg(
        long,
        env = "RT_CONFORMANCE_ONVIF_PASSWORD",
        hide_env_values = true,
        requires = "onvif_camera"
    )]
    onvif_password: Option<String>,
    /// A discovered camera that cannot be reached (state Unknown), for the ONVIF 406 check.
    #[arg(long, value_name = "ID")]
    onvif_unreachable_camera: Option<String>,
    /// A bearer token for a server that requires one (sent as `Authorization: Bearer`).
    #[arg(long, env = "RT_CONFORMANCE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// List the selected checks and exit.
    #[arg(long)]
    list: bool,
}

fn seconds(s: f64, what: &str) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| Error::Usage(format!("--{what} must be a positive number of seconds")))
}

async fn main_inner(cli: Cli) -> Result<bool, Error> {
    let contract = match &cli.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            Contract::from_yaml(&text)?
        }
        None => Contract::embedded()?,
    };
    let contract = Arc::new(contract);
    let stop = Arc::new(tokio::sync::Notify::new());
    let options = Options {
        base_url: cli.base_url.clone(),
        strict_rt: cli.strict_rt,
        only: cli.only.clone(),
        request_timeout: seconds(cli.request_timeout, "request-timeout")?,
        check_timeout: seconds(cli.check_timeout, "check-timeout")?,
        read_only_instance: cli.read_only_instance,
        allow_shutdown: cli.allow_shutdown,
        onvif_camera: cli.onvif_camera.clone().map(|id| OnvifCamera {
            id,
            username: cli.onvif_username.clone().unwrap_or_default(),
            password: cli.onvif_password.clone().unwrap_or_default(),
        }),
        onvif_unreachable_camera: cli.onvif_unreachable_camera.clone(),
        stop: Some(stop.clone()),
        token: cli.token.clone(),
    };
    let checks = plan(&contract, &options);
    if cli.list {
        let mut out = std::io::stdout().lock();
        for c in &checks {
            let _ = writeln!(
                out,
                "{}\t{}{}",
                c.name,
                c.about,
                if c.extension { " (extension)" } else { "" }
            );
        }
        return Ok(true);
    }
    if checks.is_empty() {
        return Err(Error::Usage("no check matches the selection".into()));
    }
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: cleaning up what this run created");
            stop.notify_one();
        }
    });
    eprintln!("rt-conformance: {} checks against {}", checks.len(), options.base_url);
    let report = run(contract, &options, checks, |n, total, c| {
        let tag = match c.outcome {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        eprintln!("[{n:>3}/{total}] {tag} {} ({} ms)", c.name, c.millis);
        if c.outcome != Outcome::Pass
            && let Some(m) = &c.message
        {
            for line in m.lines() {
                eprintln!("          {line}");
            }
        }
    })
    .await?;
    for p in &report.cleanup_problems {
        eprintln!("left behind: {p}");
    }
    eprintln!("{}", summary(&report));
    let text = render(&report, cli.report);
    match &cli.out {
        Some(path) => std::fs::write(path, text)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?,
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(report.passed())
}

#[tokio::main]
async fn main() -> ExitCode {
    match main_inner(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("rt-conformance: {e}");
            ExitCode::from(2)
        }
    }
}
