//! The media pipeline end to end, with the real model on the real clip:
//! events over SSE and polling, statistics, the last frame, resume.
//! Needs the assets `./dev` installs (ORT_DYLIB_PATH, RT_MODEL_PATH,
//! RT_TEST_VIDEO, or their default place in the cache).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{Base, TestServer};

/// An asset's path: from its variable, else from `./dev`'s cache.
pub(crate) fn asset(var: &str, default: &str) -> String {
    if let Ok(v) = std::env::var(var) {
        return v;
    }
    let cache = std::env::var("RT_CACHE_DIR").unwrap_or_else(|_| {
        format!("{}/.cache/rt-server", std::env::var("HOME").unwrap_or_default())
    });
    let path = format!("{cache}/assets/{default}");
    assert!(std::path::Path::new(&path).exists(), "{var} unset and {path} missing: run ./dev test");
    path
}

/// A server with the detector configured.
pub fn media_server() -> TestServer {
    media_server_with(None)
}

/// A server with the detector configured and, if given, this rtconfig.json.
pub fn media_server_with(config: Option<&Value>) -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    if let Some(c) = config {
        std::fs::write(tmp.path().join("rtconfig.json"), c.to_string()).unwrap();
    }
    media_server_in(tmp)
}

/// A server with the detector configured, on a data directory the caller
/// prepared (it is removed with the server).
pub fn media_server_in(data: tempfile::TempDir) -> TestServer {
    let model = asset("RT_MODEL_PATH", "models/nanodet-m.onnx");
    let ort = asset("ORT_DYLIB_PATH", "onnxruntime/libonnxruntime.so.1.31.1");
    let mut s = TestServer::start_in(data.path(), &["--model", &model, "--onnxruntime", &ort]);
    s.keep(data);
    s
}

pub fn test_video() -> String {
    asset("RT_TEST_VIDEO", "video/vtest.avi")
}

/// One SSE record.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
}

/// Reads SSE records from `path` until `done` says so or `limit` passes.
pub async fn read_sse(
    s: &impl Base,
    path: &str,
    last_event_id: Option<u64>,
    limit: Duration,
    mut done: impl FnMut(&[Record]) -> bool,
) -> Vec<Record> {
    let mut req = reqwest::Client::new().get(s.url(path));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.expect("SSE request");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut records = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && !done(&records) {
        let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), body.next()).await else {
            break;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("SSE chunk")));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, String::new(), None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse().expect("numeric id"));
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    assert!(data.is_none(), "one data line per record: {block:?}");
                    data =
                        Some(serde_json::from_str::<Value>(v).expect("data is one line of JSON"));
                }
            }
            if let Some(data) = data {
                assert_eq!(data["$id"], json!(event), "{block}");
                assert_eq!(data["$version"], 1);
                records.push(Record { id, event, data });
            }
        }
    }
    records
}

async fn start_on_clip(s: &TestServer) -> uuid::Uuid {
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "clip"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    id
}

#[tokio::test]
async fn the_clip_yields_confirmed_person_tracks_and_statistics() {
    let s = media_server();
    let id = start_on_clip(&s).await;
    let started = Instant::now();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let persons = |rs: &[Record]| -> BTreeSet<String> {
        rs.iter()
            .filter(|r| r.event == "track" && r.data["object_class"] == "Person")
            .map(|r| r.data["tracking_id"].as_str().unwrap().to_string())
            .collect()
    };
    let records = read_sse(&s, &path, None, Duration::from_secs(20), |rs| {
        persons(rs).len() >= 5
            && rs.iter().filter(|r| r.event == "statistics").count() >= 3
            && rs.iter().any(|r| r.event == "crop")
    })
    .await;
    let ids = persons(&records);
    assert!(
        ids.len() >= 5,
        "{} distinct person tracks in {:?}: {ids:?}",
        ids.len(),
        started.elapsed()
    );
    // Ids increase; payloads carry RT's fields.
    let seqs: Vec<u64> = records.iter().filter_map(|r| r.id).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "ids increase");
    let track = records.iter().find(|r| r.event == "track").unwrap();
    for key in [
        "instance_id",
        "system_timestamp",
        "system_datetime",
        "tracking_id",
        "object_class",
        "detection_confidence",
        "age_ms",
        "is_moving",
        "events",
        "location",
    ] {
        assert!(track.data.get(key).is_some(), "track lacks {key}: {}", track.data);
    }
    let loc = &track.data["location"];
    for k in ["x", "y", "width", "height"] {
        let v = loc[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "normalised {k}: {loc}");
    }
    // A crop shows a confirmed track, as a JPEG.
    let crop = records.iter().find(|r| r.event == "crop").expect("a crop event");
    let tracked: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.event == "track")
        .filter_map(|r| r.data["tracking_id"].as_str())
        .collect();
    assert!(tracked.contains(crop.data["ref_tracking_id"].as_str().unwrap()), "crop of a track");
    let image = base64::engine::general_purpose::STANDARD
        .decode(crop.data["image"].as_str().unwrap())
        .unwrap();
    assert_eq!(&image[..2], &[0xFF, 0xD8], "crop is a JPEG");
    let crops = records.iter().filter(|r| r.event == "crop").count();
    let seconds = (times_span(&records) as f64 / 1000.0).max(1.0);
    // The budget (a burst of 5, then 2 a second) runs on stream time; the
    // records' timestamps are when they were published, which can lag it by
    // a frame or two at either end: one crop of slack.
    assert!(crops as f64 <= 6.0 + 2.0 * seconds, "{crops} crops in {seconds} s: rate-limited");

    // Statistics: once a second, with the clip's facts.
    let stats: Vec<&Record> = records.iter().filter(|r| r.event == "statistics").collect();
    let times: Vec<i64> =
        stats.iter().map(|r| r.data["system_timestamp"].as_i64().unwrap()).collect();
    for w in times.windows(2) {
        assert!((800..=1500).contains(&(w[1] - w[0])), "statistics about once a second: {times:?}");
    }
    let last = &stats.last().unwrap().data;
    assert_eq!(last["source_resolution"], "768x576");
    assert_eq!(last["source_state"], "Connected");
    assert!(last["store_queue_size"].is_u64(), "the store writer's queue is reported: {last}");
    assert!(last["current_framerate"].as_f64().unwrap() > 5.0, "{last}");
    assert!(last["frames_processed"].as_u64().unwrap() > 10, "{last}");

    // The measured rate shows on the instance; the last frame is a JPEG.
    let inst = s.client().get_instance(&id).await.unwrap().into_inner();
    assert!(inst.fps > 5.0, "fps {}", inst.fps);
    let frame = s.client().get_frame(&id).await.unwrap().into_inner();
    assert!(frame.running);
    let jpeg = base64::engine::general_purpose::STANDARD.decode(frame.frame.as_bytes()).unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "JPEG magic");

    // Polling clients drain the same events.
    let (status, polled) =
        s.raw("GET", &format!("/v1/core/instance/{id}/consume_events"), None).await;
    assert_eq!(status, 200);
    let polled = polled.as_array().unwrap();
    assert!(!polled.is_empty());
    let first: Value = serde_json::from_str(polled[0]["jsonObject"].as_str().unwrap()).unwrap();
    assert_eq!(first["$id"], polled[0]["dataType"]);

    // stop ends the pipeline promptly; the instance reports no error.
    let t = Instant::now();
    s.client().stop_instance(&id).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
    assert!(s.client().get_instance_error(&id).await.unwrap().into_inner().error.is_none());
}

#[tokio::test]
async fn last_event_id_resumes_without_gap_or_duplicate() {
    let s = media_server();
    let id = start_on_clip(&s).await;
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let first = read_sse(&s, &path, None, Duration::from_secs(15), |rs| rs.len() >= 20).await;
    assert!(first.len() >= 20, "{} records", first.len());
    let resume_after = first[9].id.unwrap();
    let resumed =
        read_sse(&s, &path, Some(resume_after), Duration::from_secs(10), |rs| rs.len() >= 15).await;
    let ids: Vec<u64> = resumed.iter().filter_map(|r| r.id).collect();
    assert_eq!(ids[0], resume_after + 1, "resume starts right after Last-Event-ID");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "no gap: {ids:?}");
    // A record replayed is the record first sent.
    assert_eq!(resumed[0].data, first[10].data);
}

#[tokio::test]
async fn a_missing_file_is_an_instance_error_not_a_crash() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
    let input = r#"{"type": "File", "uri": "/nonexistent/clip.mp4"}"#;
    s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(input)).await;
    s.client().start_instance(&id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        if let Some(e) = s.client().get_instance_error(&id).await.unwrap().into_inner().error {
            break e;
        }
        assert!(Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(error.message.contains("clip.mp4"), "{}", error.message);
    assert!(s.client().get_instance(&id).await.unwrap().into_inner().running);
    s.client().stop_instance(&id).await.unwrap();
    assert_eq!(s.client().get_version().await.unwrap().status().as_u16(), 200);
}

/// Milliseconds between the first and the last record.
fn times_span(rs: &[Record]) -> i64 {
    let ts: Vec<i64> = rs.iter().filter_map(|r| r.data["system_timestamp"].as_i64()).collect();
    ts.iter().max().unwrap_or(&0) - ts.iter().min().unwrap_or(&0)
}
