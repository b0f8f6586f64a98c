//! `rt-bench --soak MINUTES SERVER_BINARY` (issue 17): does resident memory
//! stay flat? Two instances loop the clip at its own pace while their
//! configuration changes every 2 s; the server's RSS is sampled every 5 s
//! along with each instance's loop count, and the report gives the growth
//! rate over the second half (target < 0.5 MiB a minute) and the RSS at each
//! loop of the file, which tells a leak per file reopen (steady steps at
//! every loop) from an allocator settling (steps that shrink).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::{Server, env_path, frames_processed, instance};

/// One sample: minutes since the start, RSS (MiB), frames processed.
struct Sample {
    minutes: f64,
    rss_mib: f64,
    frames: u64,
}

/// Least-squares slope of `(x, y)`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let num: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    if den == 0.0 { 0.0 } else { num / den }
}

pub async fn run(binary: &str, minutes: u64) -> Result<String> {
    let head = crate::heading();
    let build = if binary.contains("/release/") { "release" } else { "debug" };
    let video = env_path("RT_TEST_VIDEO")?.display().to_string();
    let data = std::env::temp_dir().join(format!("rt-bench-soak-{}", std::process::id()));
    let server = Server::start(binary, &data)?;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let ids =
        [instance(&http, &base, &video, true).await?, instance(&http, &base, &video, true).await?];
    let tunables = server.glibc_tunables();
    let started = Instant::now();
    let end = started + Duration::from_secs(minutes * 60);
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = started;
    let mut reconfigure = tokio::time::interval(Duration::from_secs(2));
    let mut n = 0u64;
    while Instant::now() < end {
        reconfigure.tick().await;
        n += 1;
        // A live change the pipeline applies between frames: the rate limit
        // and a rule, as an operator editing zones would.
        for id in &ids {
            // Both at or above the clip's 10 fps: every frame is processed,
            // so frames processed count the loops.
            let limit = if n.is_multiple_of(2) { 10 } else { 12 };
            http.patch(format!("{base}/v1/core/instance/{id}"))
                .json(&json!({"frameRateLimit": limit}))
                .send()
                .await?
                .error_for_status()?;
            let area = json!({"coordinates": [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.1},
                {"x": 0.9, "y": 0.9}], "name": format!("soak {n}")});
            http.put(format!("{base}/v1/securt/instance/{id}/area/intrusion/soak"))
                .json(&area)
                .send()
                .await?;
            http.delete(format!("{base}/v1/securt/instance/{id}/area/soak")).send().await?;
        }
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(5);
            samples.push(Sample {
                minutes: started.elapsed().as_secs_f64() / 60.0,
                rss_mib: server.rss_kib()? as f64 / 1024.0,
                frames: frames_processed(&http, &base, &ids[0]).await?,
            });
        }
    }
    let half: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.minutes >= minutes as f64 / 2.0)
        .map(|s| (s.minutes, s.rss_mib))
        .collect();
    let growth = slope(&half);
    // The clip has about 795 frames at 10 fps: a loop ends every ~795
    // frames processed (at the rate limits used, every frame is processed).
    let clip_frames = 795;
    let mut loops = String::new();
    let mut last_loop = 0;
    for s in &samples {
        let lp = s.frames / clip_frames;
        if lp > last_loop {
            last_loop = lp;
            loops.push_str(&format!("| {lp} | {:.1} min | {:.1} MiB |\n", s.minutes, s.rss_mib));
        }
    }
    let first = samples.first().map_or(0.0, |s| s.rss_mib);
    let last = samples.last().map_or(0.0, |s| s.rss_mib);
    let verdict = crate::verdict(growth < 0.5);
    Ok(format!(
        "{head}### Memory soak (issue 17)\n\n\
         Two instances looping the clip at its pace, reconfigured every 2 s (rate limit, and \
         an area added and deleted), {minutes} min, RSS sampled every 5 s; {build} build; the server's \
         `GLIBC_TUNABLES`: `{tunables}`.\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | RSS first / last sample | {first:.1} / {last:.1} MiB | |\n\
         | growth over the second half | {growth:.2} MiB/min | < 0.5 MiB/min: {verdict} |\n\n\
         RSS when instance 1 began each loop of the file:\n\n\
         | loop | at | RSS |\n|---|---|---|\n{loops}"
    ))
}
