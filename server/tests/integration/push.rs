//! Frames pushed over HTTP to a `Manual` input: detections from a still
//! image of the clip, and the 400/409 answers.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::common::{Case, TestServer, check_cases};
use crate::media::{Record, media_server, read_sse, test_video};

/// Frame 135 of the clip, as JPEG: nine people in view, eight of them
/// clearly.
fn still_frame() -> Vec<u8> {
    let dir = clip_jpegs(136);
    std::fs::read(dir.path().join("f0135.jpg")).expect("frame 135")
}

/// The clip's first `count` frames as JPEG files `f0000.jpg`, `f0001.jpg`, ...
pub fn clip_jpegs(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", test_video()))
        .args(["!", "decodebin", "!", "videoconvert", "!"])
        .args(["identity", &format!("eos-after={}", count + 2), "!"])
        .args(["jpegenc", "quality=90", "!", "multifilesink"])
        .arg(format!("location={}/f%04d.jpg", dir.path().display()))
        .status()
        .expect("gst-launch-1.0 runs (./dev installs it)");
    assert!(status.success());
    dir
}

async fn push(s: &TestServer, id: uuid::Uuid, jpeg: &[u8]) -> u16 {
    let form = reqwest::multipart::Form::new()
        .part(
            "frame",
            reqwest::multipart::Part::bytes(jpeg.to_vec())
                .file_name("f.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
        .text("timestamp", chrono::Utc::now().timestamp_millis().to_string());
    let url = s.url(&format!("/v1/core/instance/{id}/push/compressed"));
    reqwest::Client::new().post(url).multipart(form).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_pushed_still_frame_yields_the_people_in_it() {
    let s = media_server();
    let c = s.client();
    let jpeg = still_frame();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "pushed"})).await;
    assert_eq!(
        s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(r#"{"type": "Manual"}"#))
            .await
            .0,
        204
    );
    assert_eq!(push(&s, id, &jpeg).await, 409, "not running yet");
    c.start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let reader = {
        let path = path.clone();
        let base = s.base.clone();
        tokio::spawn(async move {
            let s = crate::common::TestServer::attach(&base);
            read_sse(&s, &path, None, Duration::from_secs(20), |rs: &[Record]| {
                persons(rs).len() >= 7
            })
            .await
        })
    };
    // The tracker confirms a track after three matches in a row.
    for _ in 0..8 {
        let mut status = push(&s, id, &jpeg).await;
        while status == 409 {
            // The queue is full: the model has not caught up yet.
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = push(&s, id, &jpeg).await;
        }
        assert_eq!(status, 204);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let records = reader.await.unwrap();
    let ids = persons(&records);
    assert!(ids.len() >= 7, "{} people confirmed on a frame with 8 clear ones: {ids:?}", ids.len());
    // Events carry the pushed frames' own timestamps (Unix ms).
    let now = chrono::Utc::now().timestamp_millis();
    for r in records.iter().filter(|r| r.event == "track") {
        let t = r.data["event_timestamp_ms"].as_i64().unwrap();
        assert!((now - 60_000..=now).contains(&t), "frame time {t} is the client's, now {now}");
    }
    // Pushed frames are encoded for `frame` unasked: the last one is there,
    // full size, though nobody asked while they came.
    let frame = c.get_frame(&id).await.unwrap().into_inner();
    assert!(frame.running);
    let shown = base64::engine::general_purpose::STANDARD.decode(frame.frame.as_bytes()).unwrap();
    assert_eq!(jpeg_size(&shown), jpeg_size(&jpeg), "the pushed frame, full size");
}

/// Width and height in a baseline JPEG's start-of-frame segment.
fn jpeg_size(jpeg: &[u8]) -> Option<(u16, u16)> {
    let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0])?;
    let at = |i: usize| Some(u16::from_be_bytes([*jpeg.get(sof + i)?, *jpeg.get(sof + i + 1)?]));
    Some((at(7)?, at(5)?))
}

fn persons(rs: &[Record]) -> BTreeSet<String> {
    rs.iter()
        .filter(|r| r.event == "track" && r.data["object_class"] == "Person")
        .map(|r| r.data["tracking_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pushes_are_refused_clearly() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
    let file_input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&file_input)).await;
    s.client().start_instance(&id).await.unwrap();
    assert_eq!(push(&s, id, b"\xff\xd8not really").await, 409, "input is not Manual");
    let unknown = uuid::Uuid::new_v4();
    let form = |fields: &[(&str, &str)]| {
        let boundary = "XyZ";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        body
    };
    let send = |path: String, body: String| {
        let url = s.url(&path);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("content-type", "multipart/form-data; boundary=XyZ")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let p = format!("/v1/core/instance/{id}/push/compressed");
    let (st, text) = send(p.clone(), form(&[("timestamp", "5")])).await;
    assert!(st == 400 && text.contains("frame: is required"), "{st} {text}");
    let (st, text) = send(p.clone(), form(&[("frame", "x"), ("timestamp", "soon")])).await;
    assert!(st == 400 && text.contains("timestamp: 'soon' is not an integer"), "{st} {text}");
    let (st, _) =
        send(format!("/v1/core/instance/{unknown}/push/compressed"), form(&[("frame", "x")])).await;
    assert_eq!(st, 404);
    let (st, text) =
        send(format!("/v1/core/instance/{id}/push/encoded/vp9"), form(&[("frame", "x")])).await;
    assert!(st == 400, "{st} {text}");
    check_cases(&s, &[Case::new("POST", &p, Some("{}"), 400, "missing boundary")]).await;
}

/// The clip's first frames as H.264 access units (Annex B byte stream),
/// one file each. Two frames more are encoded than kept: on a loaded
/// machine `identity eos-after` now and then lets the last one go unwritten
/// (39 files of 40 in 5 of 15 runs with both cores busy).
fn h264_access_units(count: usize) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", test_video()))
        .args(["!", "decodebin", "!", "videoconvert", "!", "video/x-raw,format=I420", "!"])
        .args(["identity", &format!("eos-after={}", count + 2), "!"])
        .args(["x264enc", "tune=zerolatency", "key-int-max=10", "!", "h264parse", "!"])
        .args(["video/x-h264,stream-format=byte-stream,alignment=au", "!", "multifilesink"])
        .arg(format!("location={}/au%04d.h264", dir.path().display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success());
    (0..count).map(|i| std::fs::read(dir.path().join(format!("au{i:04}.h264"))).unwrap()).collect()
}

#[tokio::test]
async fn pushed_h264_access_units_are_decoded_and_detected() {
    let s = media_server();
    let units = h264_access_units(40);
    let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
    assert_eq!(
        s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(r#"{"type": "Manual"}"#))
            .await
            .0,
        204
    );
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let base = s.base.clone();
    let reader = tokio::spawn(async move {
        let s = crate::common::TestServer::attach(&base);
        read_sse(&s, &path, None, Duration::from_secs(20), |rs: &[Record]| !persons(rs).is_empty())
            .await
    });
    let url = s.url(&format!("/v1/core/instance/{id}/push/encoded/h264"));
    for au in &units {
        loop {
            let form = reqwest::multipart::Form::new()
                .part("frame", reqwest::multipart::Part::bytes(au.clone()).file_name("au.h264"));
            let status =
                reqwest::Client::new().post(&url).multipart(form).send().await.unwrap().status();
            if status.as_u16() != 409 {
                assert_eq!(status.as_u16(), 204);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = reader.await.unwrap();
    assert!(!persons(&records).is_empty(), "people tracked from pushed H.264");
}
