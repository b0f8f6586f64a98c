//! `just bench`: measures what issue 3 asks of the pipeline and appends the
//! figures to `bench/RESULTS.md`, with the machine and the date.
//!
//! - (a) raw model throughput: the ONNX session alone, on a real letterboxed
//!   frame of the clip, with the threads an instance uses;
//! - (b) one instance on the clip with pacing off, end to end (decode,
//!   detection, tracking, rules, events), read from its own statistics;
//! - b/a, the share of the model's speed the pipeline keeps (target >= 0.85);
//! - event latency, frame decoded to SSE delivered, p50/p99, on the clip at
//!   its own pace (target p99 <= inference time + 50 ms);
//! - resident memory added by each extra running instance;
//! - (issue 6) event latency, frame decoded to MQTT message received through
//!   a local mosquitto, p50/p99, and the CPU cost of one HLS and one RTSP
//!   output (with one client) on the clip at its own pace.
//!
//! - (issue 5, `rt-bench --db`, see [`db`]) the store on SQLite and on
//!   PostgreSQL: sustained ingest rate, and p50/p99 of a filtered, paginated
//!   events query and an hourly analytics query over 1,000,000 events.
//!
//! - (issue 17, `rt-bench --churn SERVER_BINARY`, see [`churn`]) API latency
//!   at rest and while instances stop and start, and stop latency;
//! - (issue 17, `rt-bench --soak MINUTES SERVER_BINARY`, see [`soak`]) whether
//!   resident memory stays flat while instances loop and are reconfigured.
//! - (issue 12, `rt-bench --panel SERVER_BINARY`, see [`panel`]) the web
//!   panel in headless Chromium: first load, live view latency and CPU.
//! - (issue 16, `rt-bench --security SERVER_BINARY`, see [`security`]) the
//!   request cost of bearer tokens and of TLS.
//! - (issue 13, `rt-bench --scale SERVER_BINARY`, see [`scale`]) streams per
//!   box at 5 frames/s, inferences per second with 1-8 instances, memory per
//!   extra instance, against the raw model.
//! - `rt-bench --raw`: the raw model's frames/s on one thread and on every
//!   core, printed only (a reference while working on the pipeline).
//!
//! Usage: `rt-bench SERVER_BINARY` (release build), with RT_MODEL_PATH,
//! ORT_DYLIB_PATH and RT_TEST_VIDEO set, then `rt-bench --db` (`./dev bench`
//! does all of it; `./dev bench-db` only the second). RT_BENCH_NOTE, when
//! set, is added under the heading (e.g. that the machine was shared).

mod churn;
mod db;
mod panel;
mod scale;
mod security;
mod soak;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use rt_pipeline::detect::{ModelFamily, to_chw};
use rt_pipeline::media::infer::{Model, ModelOptions};
use rt_pipeline::media::source::{FrameSource, Next, Source, SourceKind};
use serde_json::{Value, json};

/// ONNX Runtime threads of the raw model runs: the server's default, one
/// per core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn env_path(var: &str) -> Result<PathBuf> {
    Ok(PathBuf::from(
        std::env::var(var).with_context(|| format!("{var} is not set: run ./dev bench"))?,
    ))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// (a): milliseconds per inference, median of 200 runs after warm-up, on
/// the server's default threads.
fn raw_model(model_path: &Path, ort: &Path, video: &str) -> Result<f64> {
    raw_model_with(model_path, ort, video, threads(), 1)
}

/// Frames/s of the model alone in as many one-thread sessions as cores,
/// side by side, each on its own thread (the narrow sessions' ceiling).
fn raw_side_by_side(model: &Path, ort: &Path, video: &str) -> Result<f64> {
    let sessions: Vec<_> = (0..threads())
        .map(|_| {
            let (model, ort, video) = (model.to_path_buf(), ort.to_path_buf(), video.to_string());
            std::thread::spawn(move || raw_model_with(&model, &ort, &video, 1, 1))
        })
        .collect();
    let mut total = 0.0;
    for s in sessions {
        total += 1000.0 / s.join().map_err(|_| anyhow::anyhow!("a raw run panicked"))??;
    }
    Ok(total)
}

/// Milliseconds per frame of the model alone on `threads` threads, in runs
/// of `batch` copies of a real letterboxed frame of the clip: the median
/// run of 200 after warm-up, over `batch`.
fn raw_model_with(
    model_path: &Path,
    ort: &Path,
    video: &str,
    threads: usize,
    batch: usize,
) -> Result<f64> {
    let mut model = Model::load(&ModelOptions {
        model: model_path.to_path_buf(),
        library: ort.to_path_buf(),
        threads,
        // ONNX Runtime's default, its fastest with the cores to itself.
        spin: true,
        provider: Default::default(),
    })?;
    let uri = format!("file://{video}");
    let mut src = Source::open(&SourceKind::Uri(uri), model.width, model.height, false, None)?;
    let frame = loop {
        match src.next(Duration::from_secs(5)) {
            Next::Frame(f) => break f,
            Next::Timeout => continue,
            other => bail!("no frame from the clip: {other:?}"),
        }
    };
    let mut chw = vec![0.0; 3 * frame.width as usize * frame.height as usize];
    let pre = ModelFamily::NanoDet.preprocess();
    to_chw(&frame.data, frame.width as usize, frame.height as usize, frame.stride, &pre, &mut chw)?;
    let frames: Vec<&[f32]> = vec![&chw; batch];
    let mut outputs = vec![Vec::new(); batch];
    for _ in 0..10 {
        model.run(&frames, &mut outputs)?;
    }
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        model.run(&frames, &mut outputs)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0 / batch as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(percentile(&times, 0.5))
}

/// A server process on a free port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(binary: &str, data: &std::path::Path) -> Result<Server> {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--log-level", "warn", "--data-dir"])
            .arg(data)
            .env("RUST_LOG", "warn,rt_server=info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("start rt-server")?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines.next().context("rt-server exited")??;
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap_or_default().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base })
    }

    /// The server's `GLIBC_TUNABLES`, as it runs (rt-server sets its malloc
    /// tuning there itself).
    fn glibc_tunables(&self) -> String {
        let environ = std::fs::read(format!("/proc/{}/environ", self.child.id()));
        environ
            .unwrap_or_default()
            .split(|b| *b == 0)
            .find_map(|v| v.strip_prefix(b"GLIBC_TUNABLES="))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| "(unset)".into())
    }

    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn instance(
    http: &reqwest::Client,
    base: &str,
    video: &str,
    realtime: bool,
) -> Result<String> {
    let r: Value = http
        .post(format!("{base}/v1/core/instance"))
        .json(&json!({"solution": "securt", "name": "bench", "debugMode": true}))
        .send()
        .await?
        .json()
        .await?;
    let id = r["instanceId"].as_str().context("instanceId")?.to_string();
    let i = format!("{base}/v1/core/instance/{id}");
    http.post(format!("{i}/input")).json(&json!({"type": "File", "uri": video})).send().await?;
    let rt = json!({"path": "Input/realtime", "jsonValue": realtime.to_string()});
    http.post(format!("{i}/config")).json(&rt).send().await?;
    http.post(format!("{i}/start")).send().await?.error_for_status()?;
    Ok(id)
}

/// Frames the instance has processed (its SecuRT statistics).
async fn frames_processed(http: &reqwest::Client, base: &str, id: &str) -> Result<u64> {
    let stats: Value =
        http.get(format!("{base}/v1/securt/instance/{id}/stats")).send().await?.json().await?;
    stats["framesProcessed"].as_u64().context("framesProcessed")
}

/// Reads the instance's SSE stream for `secs`, returning (receive time ms,
/// record) pairs.
async fn listen(base: &str, id: &str, secs: u64) -> Result<Vec<(i64, Value)>> {
    let resp = reqwest::Client::new()
        .get(format!("{base}/v1/core/instance/{id}/consume_events_sse"))
        .send()
        .await?;
    let mut body = resp.bytes_stream();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), body.next()).await {
        let now = chrono::Utc::now().timestamp_millis();
        buf.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                out.push((now, serde_json::from_str(data)?));
            }
        }
    }
    Ok(out)
}

/// Of SSE records: decoded -> published (the worker's own measure, once a
/// second) and published -> received by this client (per `track` event),
/// each sorted.
fn latencies(records: &[(i64, Value)]) -> (Vec<f64>, Vec<f64>) {
    let mut worker: Vec<f64> = records
        .iter()
        .filter(|(_, v)| v["$id"] == "statistics")
        .filter_map(|(_, v)| v["latency"].as_f64())
        .collect();
    let mut hop: Vec<f64> = records
        .iter()
        .filter(|(_, v)| v["$id"] == "track")
        .filter_map(|(t, v)| v["system_timestamp"].as_i64().map(|s| (t - s) as f64))
        .collect();
    worker.sort_by(f64::total_cmp);
    hop.sort_by(f64::total_cmp);
    (worker, hop)
}

/// CPU seconds the process has used (user + system; 100 ticks a second).
fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): 14 and 15.
    let rest = stat.rsplit_once(')').context("/proc stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// Percent of one core the server uses over `secs`.
async fn cpu_percent(pid: u32, secs: u64) -> Result<f64> {
    let before = cpu_secs(pid)?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Ok((cpu_secs(pid)? - before) / secs as f64 * 100.0)
}

/// Frame decoded -> MQTT message received (ms, sorted), through a
/// mosquitto started here, for `secs` of `track` events of instance `id`.
async fn mqtt_latency(http: &reqwest::Client, base: &str, id: &str, secs: u64) -> Result<Vec<f64>> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut broker = Command::new("mosquitto")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start mosquitto")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("mosquitto did not listen");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (client, mut eventloop) =
        AsyncClient::new(MqttOptions::new("rt-bench", "127.0.0.1", port), 64);
    client.subscribe("bench/#", QoS::AtMostOnce).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let poller = tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let now = chrono::Utc::now().timestamp_millis();
                if tx.send((now, p.payload.to_vec())).is_err() {
                    break;
                }
            }
        }
    });
    let handler = json!({"uri": format!("mqtt://127.0.0.1:{port}"), "sink": "tracks",
        "config": {"topic": "bench/{eventType}", "qos": 0}});
    let write = json!({"path": "Output/handlers/Bench", "jsonValue": handler.to_string()});
    http.post(format!("{base}/v1/core/instance/{id}/config"))
        .json(&write)
        .send()
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    poller.abort();
    let _ = broker.kill();
    let _ = broker.wait();
    let mut hop = Vec::new();
    while let Ok((now, body)) = rx.try_recv() {
        let v: Value = serde_json::from_slice(&body)?;
        if let Some(ts) = v["system_timestamp"].as_i64() {
            hop.push((now - ts) as f64);
        }
    }
    hop.sort_by(f64::total_cmp);
    Ok(hop)
}

/// The CPU the server spends on one HLS output and on one RTSP output
/// watched by one client, over the instance alone (percent of one core).
async fn output_cost(server: &Server, http: &reqwest::Client, id: &str) -> Result<(f64, f64)> {
    let pid = server.child.id();
    let i = format!("{}/v1/core/instance/{id}", server.base);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alone = cpu_percent(pid, 10).await?;
    http.post(format!("{i}/output/hls")).json(&json!({"enabled": true})).send().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hls = cpu_percent(pid, 10).await? - alone;
    http.post(format!("{i}/output/hls")).json(&json!({"enabled": false})).send().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("rtsp://127.0.0.1:{port}/bench");
    http.post(format!("{i}/output/rtsp"))
        .json(&json!({"enabled": true, "uri": url}))
        .send()
        .await?
        .error_for_status()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut viewer = Command::new("gst-launch-1.0")
        .args(["-q", "rtspsrc", &format!("location={url}"), "protocols=tcp", "!", "fakesink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start an RTSP client")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rtsp = cpu_percent(pid, 10).await? - alone;
    let _ = viewer.kill();
    let _ = viewer.wait();
    http.post(format!("{i}/output/rtsp")).json(&json!({"enabled": false})).send().await?;
    Ok((hls, rtsp))
}

#[tokio::main]
async fn main() -> Result<()> {
    let binary = std::env::args().nth(1).context("usage: rt-bench SERVER_BINARY | --db | --raw")?;
    if binary == "--db" {
        return db_report().await;
    }
    if binary == "--raw" {
        // The raw model alone (nothing appended): a quick reference while
        // working on the pipeline.
        let (model, ort) = (env_path("RT_MODEL_PATH")?, env_path("ORT_DYLIB_PATH")?);
        let video = env_path("RT_TEST_VIDEO")?.display().to_string();
        for t in [1, threads()] {
            let ms = raw_model_with(&model, &ort, &video, t, 1)?;
            eprintln!("raw model, {t} thread(s): {ms:.1} ms, {:.1} frames/s", 1000.0 / ms);
        }
        let total = raw_side_by_side(&model, &ort, &video)?;
        eprintln!("raw model, {} one-thread sessions side by side: {total:.1} frames/s", threads());
        return Ok(());
    }
    if binary == "--churn" {
        let server = std::env::args().nth(2).context("usage: rt-bench --churn SERVER_BINARY")?;
        return append(&churn::run(&server).await?);
    }
    if binary == "--scale" {
        let server = std::env::args().nth(2).context("usage: rt-bench --scale SERVER_BINARY")?;
        return append(&scale::run(&server).await?);
    }
    if binary == "--security" {
        let server = std::env::args().nth(2).context("usage: rt-bench --security SERVER_BINARY")?;
        return append(&security::run(&server).await?);
    }
    if binary == "--panel" {
        let server = std::env::args().nth(2).context("usage: rt-bench --panel SERVER_BINARY")?;
        return append(&panel::run(&server).await?);
    }
    if binary == "--soak" {
        let usage = "usage: rt-bench --soak MINUTES SERVER_BINARY";
        let minutes: u64 = std::env::args().nth(2).context(usage)?.parse().context(usage)?;
        let server = std::env::args().nth(3).context(usage)?;
        return append(&soak::run(&server, minutes).await?);
    }
    let model = env_path("RT_MODEL_PATH")?;
    let ort = env_path("ORT_DYLIB_PATH")?;
    let video = env_path("RT_TEST_VIDEO")?.display().to_string();

    eprintln!("bench: (a) raw model throughput");
    let infer_ms = raw_model(&model, &ort, &video)?;

    let data = std::env::temp_dir().join(format!("rt-bench-{}", std::process::id()));
    let server = Server::start(&binary, &data)?;
    let http = reqwest::Client::new();
    // The server reads the detector from its environment (RT_MODEL_PATH,
    // ORT_DYLIB_PATH), like `./dev run`.

    eprintln!("bench: (b) one instance, pacing off");
    let rss_idle = server.rss_kib()?;
    let fast = instance(&http, &server.base, &video, false).await?;
    let records = listen(&server.base, &fast, 25).await?;
    let stats: Vec<&Value> =
        records.iter().map(|(_, v)| v).filter(|v| v["$id"] == "statistics").collect();
    // Skip the first seconds (model load, warm-up).
    let steady: Vec<f64> =
        stats.iter().skip(3).filter_map(|v| v["current_framerate"].as_f64()).collect();
    let pipeline_fps = steady.iter().sum::<f64>() / steady.len().max(1) as f64;
    http.post(format!("{}/v1/core/instance/{fast}/stop", server.base)).send().await?;

    eprintln!("bench: latency at the clip's pace, and memory per instance");
    let paced = instance(&http, &server.base, &video, true).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_one = server.rss_kib()?;
    let records = listen(&server.base, &paced, 20).await?;
    let (worker_sorted, hop) = latencies(&records);
    let extra_a = instance(&http, &server.base, &video, true).await?;
    let extra_b = instance(&http, &server.base, &video, true).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_three = server.rss_kib()?;
    for id in [&paced, &extra_a, &extra_b] {
        http.post(format!("{}/v1/core/instance/{id}/stop", server.base)).send().await?;
    }

    eprintln!("bench: MQTT latency, and the CPU cost of HLS and RTSP outputs");
    let exporting = instance(&http, &server.base, &video, true).await?;
    let (hls_cpu, rtsp_cpu) = output_cost(&server, &http, &exporting).await?;
    let mqtt_hop = mqtt_latency(&http, &server.base, &exporting, 15).await?;
    http.post(format!("{}/v1/core/instance/{exporting}/stop", server.base)).send().await?;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);

    let model_fps = 1000.0 / infer_ms;
    let ratio = pipeline_fps / model_fps;
    let p50 = percentile(&worker_sorted, 0.5) + percentile(&hop, 0.5);
    let p99 = percentile(&worker_sorted, 0.99) + percentile(&hop, 0.99);
    let mqtt_p50 = percentile(&worker_sorted, 0.5) + percentile(&mqtt_hop, 0.5);
    let mqtt_p99 = percentile(&worker_sorted, 0.99) + percentile(&mqtt_hop, 0.99);
    let per_instance_mib = (rss_three.saturating_sub(rss_one)) as f64 / 2.0 / 1024.0;
    let report = format!(
        "{}\
         Model NanoDet-m 416x416 (ONNX Runtime 1.31.1, {} threads), clip vtest.avi 768x576.\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | (a) raw model, median of 200 runs | {infer_ms:.1} ms ({model_fps:.1} frames/s) | |\n\
         | (b) one instance, pacing off, end to end | {pipeline_fps:.1} frames/s | |\n\
         | b/a | {ratio:.3} | >= 0.85: {} |\n\
         | latency decoded -> SSE delivered, p50 | {p50:.1} ms | |\n\
         | latency decoded -> SSE delivered, p99 | {p99:.1} ms | <= {:.1} ms: {} |\n\
         | resident memory, idle server | {:.0} MiB | |\n\
         | resident memory per extra running instance | {per_instance_mib:.0} MiB | |\n\
         | latency decoded -> MQTT received (local mosquitto, {} messages), p50 | {mqtt_p50:.1} ms | |\n\
         | latency decoded -> MQTT received, p99 | {mqtt_p99:.1} ms | |\n\
         | CPU of one HLS output | {hls_cpu:.0}% of a core | |\n\
         | CPU of one RTSP output, one client | {rtsp_cpu:.0}% of a core | |\n\n\
         Latency is the worker's own decoded-to-published time (sampled once a second) plus the \
         published-to-received time of every `track` event at this client; the p99 adds the two \
         p99s, an upper bound. Memory is VmRSS with 1 and then 3 instances running at the clip's pace. \
         MQTT latency adds the worker's time the same way; output CPU is the server's user+system \
         time with the output over the instance alone, 10 s each, at the clip's pace.\n",
        heading(),
        threads(),
        verdict(ratio >= 0.85),
        infer_ms + 50.0,
        verdict(p99 <= infer_ms + 50.0),
        rss_idle as f64 / 1024.0,
        mqtt_hop.len(),
    );
    append(&report)
}

/// How a figure stands against its target, in the tables.
fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// `## date — cpu, cores`, the load average, and RT_BENCH_NOTE if set.
fn heading() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let note = std::env::var("RT_BENCH_NOTE").map(|n| format!(" {n}")).unwrap_or_default();
    format!(
        "\n## {date} — {cpu}, {cores} cores\n\nLoad average (1, 5, 15 min): {load}.{note}\n\n",
        date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    )
}

/// Appends `report` to bench/RESULTS.md and prints it.
fn append(report: &str) -> Result<()> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    if file.metadata()?.len() == 0 {
        file.write_all(b"# Benchmark results\n\nAppended by `just bench` (see `bench/src/main.rs` for the method).\n")?;
    }
    file.write_all(report.as_bytes())?;
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    Ok(())
}

/// `rt-bench --db`: the store figures of issue 5 (see [`db`]).
async fn db_report() -> Result<()> {
    let head = heading();
    let (s, p) = db::run().await?;
    let q = |name: &str, backend: &str, (p50, p99): (f64, f64)| {
        format!(
            "| {name}, {backend}, p50 | {p50:.1} ms | |\n\
             | {name}, {backend}, p99 | {p99:.1} ms | <= 50 ms: {} |\n",
            verdict(p99 <= 50.0)
        )
    };
    let events = "filtered, paginated events query";
    let hourly = "hourly analytics query";
    let report = format!(
        "{head}Store (issue 5), {n} events on each backend, through `rt_pipeline::db` directly \
         (no HTTP).\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | sustained ingest, SQLite | {:.0} events/s | >= 20000 events/s: {} |\n\
         | sustained ingest, PostgreSQL | {:.0} events/s | |\n\
         {}{}{}{}\n\
         Ingest: {n} events pushed into the batched writer as fast as it takes them, timed until \
         it reports all committed (SQLite in WAL mode; PostgreSQL a throwaway local cluster with \
         default settings). Events are spread over 10 days, 4 instances, 4 types, 4 classes. \
         Queries, 200 runs each after 10 warm-up runs, one day at a time (about 100,000 events): \
         events with event_type and object_class equal to a value, newest first, 100 rows at \
         offset 0 to 900; analytics, count per hour and object class.\n",
        s.ingest,
        verdict(s.ingest >= 20_000.0),
        p.ingest,
        q(events, "SQLite", s.events_query),
        q(events, "PostgreSQL", p.events_query),
        q(hourly, "SQLite", s.analytics_query),
        q(hourly, "PostgreSQL", p.analytics_query),
        n = db::EVENTS,
    );
    append(&report)
}
