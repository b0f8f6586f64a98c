//! The shared inference service (issue 13), with the real model on the
//! real clip: eight instances at 5 frames/s all get their turns and track
//! (their frames batched), the default model runs batches with the answers
//! of single frames, running six instances does not cost six copies of the
//! model, and an execution provider that cannot be used says so at start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{TestServer, failed_start};
use crate::media::{asset, media_server, media_server_with, test_video};

/// An instance on the clip at 5 frames/s, started.
async fn clip_at_5_fps(s: &TestServer) -> uuid::Uuid {
    let id = s.create(serde_json::json!({"solution": "securt", "frameRateLimit": 5})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    id
}

async fn stats(s: &TestServer, id: &uuid::Uuid) -> Value {
    s.raw("GET", &format!("/v1/securt/instance/{id}/stats"), None).await.1
}

fn frames(v: &Value) -> u64 {
    v["framesProcessed"].as_u64().unwrap_or(0)
}

/// Waits until every instance has processed `n` frames (the model loaded
/// and the clip playing), for at most `limit`.
async fn until_processed(s: &TestServer, ids: &[uuid::Uuid], n: u64, limit: Duration) {
    let end = Instant::now() + limit;
    loop {
        let mut all = true;
        for id in ids {
            all &= frames(&stats(s, id).await) >= n;
        }
        if all {
            return;
        }
        assert!(Instant::now() < end, "not every instance processed {n} frames in {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rss_mib(s: &TestServer) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

/// Eight instances on the clip at `frameRateLimit` 5 all get their turns
/// at the one model, their frames batched up to 4 a run: each processes
/// frames and tracks the clip's people. (How many hold their rate on a
/// machine is measured by `rt-bench --scale`, not asserted here: a test's
/// timing on shared cores is not a benchmark.)
#[tokio::test]
async fn eight_instances_share_the_model_and_each_tracks_the_clip() {
    let s = media_server_with(Some(&json!({"detector": {"batch_frames": 4}})));
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(clip_at_5_fps(&s).await);
    }
    until_processed(&s, &ids, 10, Duration::from_secs(60)).await;
    let mut untracked: Vec<_> = ids.clone();
    let end = Instant::now() + Duration::from_secs(30);
    while !untracked.is_empty() {
        assert!(Instant::now() < end, "{} of 8 instances tracked nobody in 30 s", untracked.len());
        let mut still = Vec::new();
        for id in untracked {
            if stats(&s, &id).await["trackCount"].as_u64().unwrap_or(0) == 0 {
                still.push(id);
            }
        }
        untracked = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The default model's batch dimension is dynamic (setup-assets makes it
/// so): three different frames in one run get the outputs each gets alone.
#[test]
fn the_default_model_runs_a_batch_with_the_answers_of_single_frames() {
    use rt_pipeline::media::infer::{Model, ModelOptions};
    let mut model = Model::load(&ModelOptions {
        model: asset("RT_MODEL_PATH", "models/nanodet-m.onnx").into(),
        library: asset("ORT_DYLIB_PATH", "onnxruntime/libonnxruntime.so.1.31.1").into(),
        threads: 1,
        spin: false,
        provider: Default::default(),
    })
    .unwrap();
    assert!(model.max_batch > 1, "the model's batch is fixed at {}", model.max_batch);
    let len = 3 * model.width as usize * model.height as usize;
    // Three unlike inputs: gradients in different directions.
    let frames: Vec<Vec<f32>> = (0..3)
        .map(|k| (0..len).map(|i| ((i * (k + 1)) % 251) as f32 / 251.0 - 0.5).collect())
        .collect();
    let views: Vec<&[f32]> = frames.iter().map(Vec::as_slice).collect();
    let mut batched = vec![Vec::new(); 3];
    model.run(&views, &mut batched).unwrap();
    for (k, frame) in views.iter().enumerate() {
        let mut alone = [Vec::new()];
        model.run(std::slice::from_ref(frame), &mut alone).unwrap();
        let [alone] = alone;
        assert_eq!(alone.len(), batched[k].len());
        for (a, b) in alone.iter().zip(&batched[k]) {
            assert_eq!(a.shape, b.shape, "frame {k}");
            let worst = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-4, "frame {k}: outputs differ by {worst}");
        }
    }
    // Unlike frames, unlike outputs: the batch is not one answer copied.
    assert_ne!(batched[0][0].data, batched[1][0].data);
}

/// Six running instances hold less than twice the memory of one: they share
/// one model session instead of loading one each.
#[tokio::test]
async fn six_instances_cost_less_than_twice_one() {
    let s = media_server();
    let first = clip_at_5_fps(&s).await;
    until_processed(&s, &[first], 10, Duration::from_secs(60)).await;
    let one = rss_mib(&s);
    let mut ids = vec![first];
    for _ in 0..5 {
        ids.push(clip_at_5_fps(&s).await);
    }
    until_processed(&s, &ids, 20, Duration::from_secs(60)).await;
    let six = rss_mib(&s);
    assert!(six < 2.0 * one, "resident memory: {one:.0} MiB with one instance, {six:.0} with six");
}

/// `detector.execution_provider: cuda` with this machine's CPU-only ONNX
/// Runtime: the start stops with the reason, unless CPU fallback is on,
/// when the server starts and instances run on the CPU.
#[tokio::test]
async fn a_provider_that_cannot_be_used_stops_the_start_unless_cpu_fallback() {
    let model = asset("RT_MODEL_PATH", "models/nanodet-m.onnx");
    let ort = asset("ORT_DYLIB_PATH", "onnxruntime/libonnxruntime.so.1.31.1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rtconfig.json"),
        json!({"detector": {"execution_provider": "cuda"}}).to_string(),
    )
    .unwrap();
    let data = dir.path().to_str().unwrap();
    let err = failed_start(&["--model", &model, "--onnxruntime", &ort, "--data-dir", data]);
    assert!(
        err.contains("detector.execution_provider")
            && err.contains("cannot use the cuda execution provider")
            && err.contains("detector.cpu_fallback"),
        "{err}"
    );

    let fallback = json!({"detector": {"execution_provider": "cuda", "cpu_fallback": true}});
    let s = media_server_with(Some(&fallback));
    let id = clip_at_5_fps(&s).await;
    until_processed(&s, &[id], 10, Duration::from_secs(60)).await;
}

/// An unknown provider is a configuration error that names the choices.
#[test]
fn an_unknown_provider_names_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rtconfig.json"),
        json!({"detector": {"execution_provider": "gpu"}}).to_string(),
    )
    .unwrap();
    let err = failed_start(&["--data-dir", dir.path().to_str().unwrap()]);
    assert!(err.contains("unknown variant `gpu`, expected `cpu` or `cuda`"), "{err}");
}
