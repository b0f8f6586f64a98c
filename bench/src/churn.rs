//! `rt-bench --churn SERVER_BINARY` (issue 17): how fast the API answers
//! at rest and while instances stop and start, and how long a stop takes.
//! Four instances run on the clip (frameRateLimit 5); `GET
//! /v1/core/instances` and `GET /v1/core/version` are probed every 25 ms,
//! 20 s at rest, then 20 s while two clients stop and start the instances
//! in a loop (each stop timed).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::{Server, env_path, instance, percentile, verdict};

/// Latencies (ms, sorted) of probes every 25 ms for `secs`, and failures.
async fn probe(base: &str, secs: u64) -> Result<(Vec<f64>, usize)> {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for path in ["/v1/core/instances", "/v1/core/version"].iter().cycle() {
        if Instant::now() >= end {
            break;
        }
        tick.tick().await;
        let t = Instant::now();
        let ok =
            http.get(format!("{base}{path}")).send().await.is_ok_and(|r| r.status().is_success());
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        failed += usize::from(!ok);
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, failed))
}

/// Stops and starts `ids` in turn for `secs`; returns the stop latencies (ms).
async fn churn(base: String, ids: Vec<String>, secs: u64) -> Result<Vec<f64>> {
    let http = reqwest::Client::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut stops = Vec::new();
    while Instant::now() < end {
        for id in &ids {
            let t = Instant::now();
            http.post(format!("{base}/v1/core/instance/{id}/stop"))
                .send()
                .await?
                .error_for_status()?;
            stops.push(t.elapsed().as_secs_f64() * 1000.0);
            http.post(format!("{base}/v1/core/instance/{id}/start"))
                .send()
                .await?
                .error_for_status()?;
        }
    }
    Ok(stops)
}

pub async fn run(binary: &str) -> Result<String> {
    let head = crate::heading();
    let video = env_path("RT_TEST_VIDEO")?.display().to_string();
    let data = std::env::temp_dir().join(format!("rt-bench-churn-{}", std::process::id()));
    let server = Server::start(binary, &data)?;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id = instance(&http, &base, &video, true).await?;
        http.patch(format!("{base}/v1/core/instance/{id}"))
            .json(&json!({"frameRateLimit": 5}))
            .send()
            .await?
            .error_for_status()?;
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rest, rest_failed) = probe(&base, 20).await?;
    let clients = [
        tokio::spawn(churn(base.clone(), ids[..2].to_vec(), 20)),
        tokio::spawn(churn(base.clone(), ids[2..].to_vec(), 20)),
    ];
    let (busy, busy_failed) = probe(&base, 20).await?;
    let mut stops = Vec::new();
    for c in clients {
        stops.extend(c.await??);
    }
    stops.sort_by(f64::total_cmp);
    let p = |xs: &[f64], q: f64| percentile(xs, q);
    Ok(format!(
        "{head}### API under lifecycle churn (issue 17)\n\n\
         Four instances on the clip at frameRateLimit 5; probes of `GET /v1/core/instances` and \
         `/v1/core/version` every 25 ms, 20 s at rest, then 20 s while two clients stop and \
         start the instances in a loop.\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | API p50 / p99 at rest | {:.1} / {:.1} ms ({} probes, {rest_failed} failed) | |\n\
         | API p50 / p99 under churn | {:.1} / {:.1} ms ({} probes, {busy_failed} failed) | p99 <= 2x rest: {} |\n\
         | stop latency p50 / p99 | {:.0} / {:.0} ms ({} stops) | p99 < 1000 ms: {} |\n",
        p(&rest, 0.5),
        p(&rest, 0.99),
        rest.len(),
        p(&busy, 0.5),
        p(&busy, 0.99),
        busy.len(),
        verdict(p(&busy, 0.99) <= 2.0 * p(&rest, 0.99)),
        p(&stops, 0.5),
        p(&stops, 0.99),
        stops.len(),
        verdict(p(&stops, 0.99) < 1000.0),
    ))
}
