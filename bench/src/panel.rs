//! `rt-bench --panel SERVER_BINARY` (issue 12): the web panel in a real
//! headless Chromium (`bench/panel.mjs`): its first load (time, bytes),
//! the live view's glass-to-glass latency (frame reached the pipeline to
//! frame painted in the page) p50/p99, and the CPU of one open live view,
//! on the server and in the browser. One instance on the clip at its own
//! pace, with the default overlay.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{Server, env_path, instance};

/// Seconds each measurement lasts.
const SECS: u64 = 15;

pub async fn run(binary: &str) -> Result<String> {
    let head = crate::heading();
    let video = env_path("RT_TEST_VIDEO")?.display().to_string();
    let data = std::env::temp_dir().join(format!("rt-bench-panel-{}", std::process::id()));
    let server = Server::start(binary, &data)?;
    let http = reqwest::Client::new();
    let id = instance(&http, &server.base, &video, true).await?;
    // Past the model load and warm-up.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("panel.mjs");
    let (base, pid) = (server.base.clone(), server.child.id().to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(["--base", &base, "--instance", &id, "--server-pid", &pid])
            .args(["--secs", &SECS.to_string()])
            .output()
    })
    .await?
    .context("node bench/panel.mjs (./dev installs node, chromium and playwright-core)")?;
    if !out.status.success() {
        bail!("bench/panel.mjs failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let r: Value = serde_json::from_slice(&out.stdout).context("bench/panel.mjs output")?;
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let load = &r["first_load"];
    let lat = &r["latency"];
    let (idle, view) = (f(&r["server_cpu_idle"]), f(&r["server_cpu_view"]));
    Ok(format!(
        "{head}### Web panel (issue 12)\n\n\
         Headless Chromium (Debian's) on the same machine; one instance on the clip at its own \
         pace, overlay on. Glass to glass: from `X-Frame-Time` (the frame reached the pipeline) \
         to the frame decoded and painted in the page (next animation frame), same clock. CPU \
         over {SECS} s, in % of one core.\n\n\
         | measure | value |\n|---|---|\n\
         | panel first load (`/`, empty cache) | {:.0} ms to `load`, first paint {:.0} ms; {} requests, {:.1} KiB transferred ({:.1} KiB decoded) |\n\
         | live view glass to glass p50 / p99 | {:.0} / {:.0} ms ({} frames) |\n\
         | server CPU, no view / one view open | {idle:.0}% / {view:.0}% (the view: +{:.0}%) |\n\
         | browser CPU, one view open | {:.0}% |\n",
        f(&load["load_ms"]),
        f(&load["fcp_ms"]),
        load["requests"],
        f(&load["transferred_bytes"]) / 1024.0,
        f(&load["decoded_bytes"]) / 1024.0,
        f(&lat["p50_ms"]),
        f(&lat["p99_ms"]),
        lat["frames"],
        view - idle,
        f(&r["browser_cpu_view"]),
    ))
}
