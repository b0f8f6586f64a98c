//! `rt-bench --scale SERVER_BINARY` (issue 13): how the shared inference
//! service scales with cameras, each figure against the raw model on the
//! same threads, measured in the same run:
//! - total inferences per second with N = 1, 2, 4, 8 instances on the clip
//!   with pacing off (every instance asks as fast as it can), over the raw
//!   model's frames/s (target >= 0.9);
//! - streams per box at 5 frames/s: the largest N with every instance at
//!   `frameRateLimit` 5 holding >= 4.5 frames/s (target: N x 5 >= 0.9 x the
//!   raw model's frames/s);
//! - resident memory per extra running instance, from two instances on
//!   (target <= 10 MiB).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::{Server, env_path, frames_processed, instance, raw_model};

/// Frames processed per second by each instance over `secs`, after every
/// instance has processed `warm` frames.
async fn rates(http: &reqwest::Client, base: &str, ids: &[String], secs: u64) -> Result<Vec<f64>> {
    let warm = 10;
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let mut all = true;
        for id in ids {
            all &= frames_processed(http, base, id).await? >= warm;
        }
        if all {
            break;
        }
        anyhow::ensure!(Instant::now() < end, "instances did not start processing in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut before = Vec::new();
    for id in ids {
        before.push(frames_processed(http, base, id).await?);
    }
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (id, b) in ids.iter().zip(before) {
        out.push((frames_processed(http, base, id).await? - b) as f64 / elapsed);
    }
    Ok(out)
}

/// An instance on the clip at `frameRateLimit` 5, at the clip's pace.
async fn at_5_fps(http: &reqwest::Client, base: &str, video: &str) -> Result<String> {
    let id = instance(http, base, video, true).await?;
    http.patch(format!("{base}/v1/core/instance/{id}"))
        .json(&json!({"frameRateLimit": 5}))
        .send()
        .await?
        .error_for_status()?;
    Ok(id)
}

pub async fn run(binary: &str) -> Result<String> {
    let head = crate::heading();
    let (model, ort) = (env_path("RT_MODEL_PATH")?, env_path("ORT_DYLIB_PATH")?);
    let video = env_path("RT_TEST_VIDEO")?.display().to_string();
    let raw_ms = raw_model(&model, &ort, &video)?;
    let raw_fps = 1000.0 / raw_ms;
    let http = reqwest::Client::new();
    let data = std::env::temp_dir().join(format!("rt-bench-scale-{}", std::process::id()));

    // Inferences per second, pacing off.
    let mut throughput = String::new();
    for n in [1usize, 2, 4, 8] {
        let server = Server::start(binary, &data.join(format!("n{n}")))?;
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(instance(&http, &server.base, &video, false).await?);
        }
        let r = rates(&http, &server.base, &ids, 10).await?;
        let total: f64 = r.iter().sum();
        let (lo, hi) = r.iter().fold((f64::MAX, 0.0f64), |(l, h), x| (l.min(*x), h.max(*x)));
        let ratio = total / raw_fps;
        let verdict = if ratio >= 0.9 { "met" } else { "NOT met" };
        throughput.push_str(&format!(
            "| {n} | {total:.1} | {lo:.1} .. {hi:.1} | {ratio:.2} | >= 0.9: {verdict} |\n"
        ));
    }

    // Streams per box at 5 frames/s, and memory per extra instance.
    let server = Server::start(binary, &data.join("streams"))?;
    let idle_kib = server.rss_kib()?;
    let mut ids: Vec<String> = Vec::new();
    let mut held = 0;
    let mut streams = String::new();
    let mut rss_two = 0;
    let mut rss_last = (0, 0);
    for n in 1..=16usize {
        ids.push(at_5_fps(&http, &server.base, &video).await?);
        let r = rates(&http, &server.base, &ids, 8).await?;
        let min = r.iter().copied().fold(f64::MAX, f64::min);
        let rss = server.rss_kib()?;
        if n == 2 {
            rss_two = rss;
        }
        rss_last = (n, rss);
        streams.push_str(&format!("| {n} | {min:.2} | {:.0} MiB |\n", rss as f64 / 1024.0));
        if min < 4.5 {
            break;
        }
        held = n;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    // From two instances on: the second starts the narrow sessions (a
    // one-time cost; one instance alone runs on the wide session).
    let per_extra = (rss_last.1 as f64 - rss_two as f64) / 1024.0 / (rss_last.0 - 2).max(1) as f64;
    let streams_target = 0.9 * raw_fps;
    let streams_verdict = if held as f64 * 5.0 >= streams_target { "met" } else { "NOT met" };
    let mem_verdict = if per_extra <= 10.0 { "met" } else { "NOT met" };
    let threads = crate::threads();
    Ok(format!(
        "{head}### Scaling with cameras (issue 13)\n\n\
         One inference service for every instance, with the server's defaults here: \
         {threads} narrow sessions of 1 thread and a wide session of {threads} threads. \
         Raw model on {threads} threads: {raw_ms:.1} ms, {raw_fps:.1} frames/s.\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | streams per box at 5 frames/s (every instance >= 4.5) | {held} ({:.0} frames/s) | \
         >= 0.9 x raw = {streams_target:.1} frames/s: {streams_verdict} |\n\
         | resident memory per extra running instance (from 2 on) | {per_extra:.1} MiB | <= 10 MiB: \
         {mem_verdict} |\n\
         | resident memory, idle server | {:.0} MiB | |\n\n\
         Inferences per second, instances on the clip with pacing off:\n\n\
         | instances | total frames/s | per instance | total / raw | target |\n\
         |---|---|---|---|---|\n{throughput}\n\
         Instances at `frameRateLimit` 5, added one at a time (8 s windows):\n\n\
         | instances | slowest instance, frames/s | RSS |\n|---|---|---|\n{streams}",
        held as f64 * 5.0,
        idle_kib as f64 / 1024.0,
    ))
}
