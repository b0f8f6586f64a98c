//! The pipeline under stress: rate limits, tentative tracks, a stalled SSE
//! client, and repeated start/stop without leaking threads.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::common::TestServer;
use crate::media::{Record, media_server, read_sse, test_video};

async fn clip_instance(s: &TestServer, extra: &[(&str, &str)]) -> uuid::Uuid {
    let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    for (path, value) in extra {
        let body = json!({"path": path, "jsonValue": value}).to_string();
        assert_eq!(
            s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(&body)).await.0,
            204
        );
    }
    id
}

fn statistics(rs: &[Record]) -> Vec<&serde_json::Value> {
    rs.iter().filter(|r| r.event == "statistics").map(|r| &r.data).collect()
}

#[tokio::test]
async fn frame_rate_limit_is_honoured() {
    let s = media_server();
    // The clip runs at 10 frames/s; the limit keeps half of them.
    let id = clip_instance(&s, &[("frameRateLimit", "5")]).await;
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let rs =
        read_sse(&s, &path, None, Duration::from_secs(10), |rs| statistics(rs).len() >= 5).await;
    let stats = statistics(&rs);
    let last = stats.last().unwrap();
    for st in &stats[2..] {
        let fps = st["current_framerate"].as_f64().unwrap();
        assert!((3.5..=6.0).contains(&fps), "processed {fps} frames/s with a limit of 5");
    }
    assert!(last["dropped_frames_count"].as_u64().unwrap() > 5, "{last}");
    assert!(last["source_framerate"].as_f64().unwrap() > 8.0, "{last}");
}

#[tokio::test]
async fn tentative_tracks_are_published_when_asked() {
    let s = media_server();
    let id = clip_instance(&s, &[]).await;
    let body = serde_json::from_value(json!({"enabled": true})).unwrap();
    s.client().set_tentative_tracks(&id, &body).await.unwrap();
    let tree = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await.1;
    assert_eq!(tree["Output"]["tentative_tracks"], true);
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let rs = read_sse(&s, &path, None, Duration::from_secs(10), |rs| {
        rs.iter().any(|r| r.event == "track" && r.data["tentative"] == true)
    })
    .await;
    assert!(rs.iter().any(|r| r.event == "track" && r.data["tentative"] == true));
}

#[tokio::test]
async fn a_stalled_sse_client_slows_nobody() {
    let s = media_server();
    let id = clip_instance(&s, &[("Input/realtime", "false")]).await;
    // A client that asks for the stream and never reads it.
    let mut stalled = TcpStream::connect(s.addr).unwrap();
    write!(stalled, "GET /v1/core/instance/{id}/consume_events_sse HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let rs =
        read_sse(&s, &path, None, Duration::from_secs(15), |rs| statistics(rs).len() >= 8).await;
    let stats = statistics(&rs);
    assert!(stats.len() >= 8, "statistics keep coming once a second: {}", stats.len());
    // The pipeline keeps going once the stalled client's buffers have long
    // filled: a publisher that waited for that client would stop it dead.
    // (Its pace on shared cores is not measured here: other tests' load
    // once took it from 38 to 21 frames/s for a few seconds.)
    let fps: Vec<f64> = stats.iter().map(|st| st["current_framerate"].as_f64().unwrap()).collect();
    let early = fps[1..4].iter().sum::<f64>() / 3.0;
    let late = fps[fps.len() - 3..].iter().sum::<f64>() / 3.0;
    assert!(late > early * 0.25, "the pipeline stalled: {fps:?}");
    drop(stalled);
}

/// Threads of the server process.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn start_and_stop_leak_no_threads() {
    let s = media_server();
    let c = s.client();
    let id = clip_instance(&s, &[]).await;
    let cycle = || async {
        c.start_instance(&id).await.unwrap();
        // Until it processes frames.
        let path = format!("/v1/core/instance/{id}/consume_events_sse");
        read_sse(&s, &path, None, Duration::from_secs(10), |rs| {
            rs.iter().any(|r| r.event == "track")
        })
        .await;
        let t = std::time::Instant::now();
        c.stop_instance(&id).await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(1), "stop took {:?}", t.elapsed());
    };
    cycle().await;
    let after_one = threads(s.pid());
    for _ in 0..4 {
        cycle().await;
    }
    // Threads that end on their own after a while (the async runtime keeps
    // an idle blocking thread for 10 s) may still be there: wait for the
    // count to come back, up to past that.
    let end = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = threads(s.pid());
        if now <= after_one {
            break;
        }
        assert!(std::time::Instant::now() < end, "threads grew from {after_one} to {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A one-second clip made for the test.
fn short_clip(dir: &std::path::Path) -> String {
    let path = dir.join("short.mp4");
    let status = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=30", "!"])
        .args(["video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!"])
        .args(["x264enc", "!", "video/x-h264,profile=main", "!", "mp4mux", "!", "filesink"])
        .arg(format!("location={}", path.display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success());
    path.display().to_string()
}

#[tokio::test]
async fn files_loop_unless_told_not_to() {
    let s = media_server();
    let dir = tempfile::tempdir().unwrap();
    let clip = short_clip(dir.path());
    for (looping, check) in [(true, "loops"), (false, "ends")] {
        let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
        let input = format!(r#"{{"type": "File", "uri": "{clip}"}}"#);
        s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await;
        for (path, value) in
            [("Input/realtime", "false"), ("Input/loop", if looping { "true" } else { "false" })]
        {
            let body = json!({"path": path, "jsonValue": value}).to_string();
            s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(&body)).await;
        }
        s.client().start_instance(&id).await.unwrap();
        let path = format!("/v1/core/instance/{id}/consume_events_sse");
        let rs = read_sse(&s, &path, None, Duration::from_secs(15), |rs| {
            statistics(rs).last().is_some_and(|st| {
                st["frames_processed"].as_u64().unwrap_or(0) > 90 || st["source_state"] == "Ended"
            })
        })
        .await;
        let last = statistics(&rs).last().cloned().cloned().expect("statistics");
        let frames = last["frames_processed"].as_u64().unwrap();
        if looping {
            assert!(frames > 90, "{check}: {frames} frames of a 30-frame clip: {last}");
        } else {
            assert_eq!(
                (frames, last["source_state"].as_str()),
                (30, Some("Ended")),
                "{check}: {last}"
            );
        }
        s.client().stop_instance(&id).await.unwrap();
    }
}

/// p-th percentile (0..=100) of `xs`, in milliseconds.
fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// Probes `GET /v1/core/instances` and `/v1/core/version` every 25 ms for
/// `secs` seconds; returns their latencies (ms) and how many failed.
async fn probe(s: &TestServer, secs: u64) -> (Vec<f64>, usize) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for path in ["/v1/core/instances", "/v1/core/version"].iter().cycle() {
        if std::time::Instant::now() >= end {
            break;
        }
        tick.tick().await;
        let t = std::time::Instant::now();
        let ok = tokio::time::timeout(Duration::from_secs(5), http.get(s.url(path)).send())
            .await
            .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        failed += usize::from(!ok);
    }
    (latencies, failed)
}

/// Four instances on the clip; while two clients stop and start them in a
/// loop, the API answers as it does at rest. (A stop used to join its
/// pipeline under the engine's one lock: p99 went from 12 ms to 523 ms.)
/// On two busy cores a start's model load competes with the probes for the
/// CPU, so the bound is 2x the rest p99 or 150 ms, whichever is larger:
/// well below what a lock held across stops cost.
#[tokio::test]
async fn the_api_answers_while_instances_stop_and_start() {
    let s = media_server();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let id = clip_instance(&s, &[("frameRateLimit", "2")]).await;
        s.client().start_instance(&id).await.unwrap();
        ids.push(id);
    }
    let (mut rest, failed) = probe(&s, 3).await;
    assert_eq!(failed, 0, "probes failed at rest");
    let churn = |pair: Vec<uuid::Uuid>| {
        let base = s.url("");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let end = std::time::Instant::now() + Duration::from_secs(6);
            let mut cycles = 0;
            while std::time::Instant::now() < end {
                for id in &pair {
                    for action in ["stop", "start"] {
                        let url = format!("{base}/v1/core/instance/{id}/{action}");
                        let st = http.post(url).send().await.unwrap().status();
                        assert_eq!(st.as_u16(), 204, "{action} {id}");
                    }
                }
                cycles += 1;
            }
            cycles
        })
    };
    let clients = [churn(ids[..2].to_vec()), churn(ids[2..].to_vec())];
    let (mut busy, failed) = probe(&s, 6).await;
    for c in clients {
        assert!(c.await.unwrap() > 0, "the clients stopped and started instances");
    }
    assert_eq!(failed, 0, "probes failed while instances stopped and started");
    let (rest_p99, busy_p99) = (percentile(&mut rest, 99.0), percentile(&mut busy, 99.0));
    assert!(
        busy_p99 <= (2.0 * rest_p99).max(150.0),
        "probe p99 {busy_p99:.1} ms during the churn, {rest_p99:.1} ms at rest"
    );
}
