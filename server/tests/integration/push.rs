//! Frames pushed over HTTP to a `Manual` input: detections from a still
//! image of the clip, and the 400/409 answers.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::common::{Case, TestServer, check_cases};
use crate::media::{Record, media_server, read_sse, test_video};

/// Frame 135 of the clip, as JPEG: nine people in view, eight of them
/// clearly; and the same frame as a square PNG (black below it).
fn still_frames() -> (Vec<u8>, Vec<u8>) {
    let dir = clip_jpegs(136);
    let jpeg = dir.path().join("f0135.jpg");
    let png = dir.path().join("square.png");
    let status = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", jpeg.display()))
        .args(["!", "jpegdec", "!", "videoconvert", "!", "videobox", "bottom=-192"])
        .args(["!", "videoconvert", "!", "pngenc", "!", "filesink"])
        .arg(format!("location={}", png.display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success());
    (std::fs::read(jpeg).expect("frame 135"), std::fs::read(png).expect("the square PNG"))
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

async fn push(s: &TestServer, id: uuid::Uuid, image: &[u8]) -> u16 {
    push_at(s, id, image, chrono::Utc::now().timestamp_millis()).await.0
}

/// Pushes `image` stamped `timestamp_ms`: the status and the body.
async fn push_at(s: &TestServer, id: uuid::Uuid, image: &[u8], timestamp_ms: i64) -> (u16, String) {
    let form = reqwest::multipart::Form::new()
        .part("frame", reqwest::multipart::Part::bytes(image.to_vec()).file_name("f"))
        .text("timestamp", timestamp_ms.to_string());
    let url = s.url(&format!("/v1/core/instance/{id}/push/compressed"));
    let r = reqwest::Client::new().post(url).multipart(form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Pushes `image` `times` times, 150 ms apart, pushing again (for up to
/// 10 s) while the queue is full; the last push's timestamp.
async fn push_times(s: &TestServer, id: uuid::Uuid, image: &[u8], times: usize) -> i64 {
    let mut last = 0;
    for _ in 0..times {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            last = chrono::Utc::now().timestamp_millis();
            let (status, body) = push_at(s, id, image, last).await;
            if status != 409 || std::time::Instant::now() > deadline {
                assert_eq!(status, 204, "{body}");
                break;
            }
            // The queue is full: the model has not caught up yet.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    last
}

/// Reads the instance's events, from after `last_event_id`, until `done`.
fn events_until(
    s: &TestServer,
    id: uuid::Uuid,
    last_event_id: Option<u64>,
    done: impl FnMut(&[Record]) -> bool + Send + 'static,
) -> tokio::task::JoinHandle<Vec<Record>> {
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let base = s.base.clone();
    tokio::spawn(async move {
        let s = crate::common::TestServer::attach(&base);
        read_sse(&s, &path, last_event_id, Duration::from_secs(20), done).await
    })
}

#[tokio::test]
async fn pushed_still_frames_yield_the_people_in_them_whatever_their_size() {
    let s = media_server();
    let c = s.client();
    let (jpeg, square_png) = still_frames();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "pushed"})).await;
    assert_eq!(
        s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(r#"{"type": "Manual"}"#))
            .await
            .0,
        204
    );
    assert_eq!(push(&s, id, &jpeg).await, 409, "not running yet");
    c.start_instance(&id).await.unwrap();
    let reader = events_until(&s, id, None, |rs: &[Record]| persons(rs).len() >= 7);
    // The tracker confirms a track after three matches in a row.
    push_times(&s, id, &jpeg, 8).await;
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

    // The same people in an image of another size and shape (a square PNG,
    // 768 x 768, the frame at its top: the model sees them at the same
    // scale): each is found where it was in pixels, so at 576/768 of its
    // height in the image. (Mapped back with the first image's size, they
    // would be 52 model pixels higher, ~96 in the image.) Locations are
    // normalised, so they jump: most tracks are new ones, and those that go
    // on are smoothed towards the new place over a few frames, so only the
    // last frame's are judged.
    let before = last_locations(&records);
    let last_id = records.iter().filter_map(|r| r.id).max();
    let last_ms = push_times(&s, id, &square_png, 8).await;
    let at_last = move |r: &Record| {
        r.event == "track" && r.data["event_timestamp_ms"].as_i64() == Some(last_ms)
    };
    // Replayed from after the JPEG's events.
    let records = events_until(&s, id, last_id, move |rs: &[Record]| {
        let last: Vec<Record> = rs.iter().filter(|r| at_last(r)).cloned().collect();
        last_locations(&last).len() >= 5
    })
    .await
    .unwrap();
    let after: Vec<Record> = records.iter().filter(|r| at_last(r)).cloned().collect();
    let after = last_locations(&after);
    assert!(after.len() >= 5, "{} people found in the square image", after.len());
    let centre = |l: &[f64; 4]| (l[0] + l[2] / 2.0, l[1] + l[3] / 2.0);
    for (tid, now) in &after {
        let (x1, y1) = centre(now);
        // The person it was: the nearest where it should now be.
        let off = |was: &[f64; 4]| {
            let (x0, y0) = centre(was);
            (x1 - x0).hypot(y1 - y0 * 0.75)
        };
        let was = before.values().min_by(|a, b| off(a).total_cmp(&off(b))).unwrap();
        let case = format!("{tid}: {now:?}, before {was:?}");
        assert!(off(was) < 0.02, "{case}: moved {}", off(was));
        assert!((now[3] - was[3] * 0.75).abs() < 0.02, "{case}: height");
        assert!((now[2] - was[2]).abs() < 0.02, "{case}: width");
    }
    let frame = c.get_frame(&id).await.unwrap().into_inner();
    let shown = base64::engine::general_purpose::STANDARD.decode(frame.frame.as_bytes()).unwrap();
    assert_eq!(jpeg_size(&shown), Some((768, 768)), "the square frame, full size");
}

fn tracking_id(r: &Record) -> String {
    r.data["tracking_id"].as_str().unwrap().to_string()
}

/// A track event's location: x, y, width, height (normalised).
fn location(r: &Record) -> [f64; 4] {
    let l = &r.data["location"];
    ["x", "y", "width", "height"].map(|k| l[k].as_f64().unwrap())
}

/// The last location of each person track.
fn last_locations(rs: &[Record]) -> std::collections::BTreeMap<String, [f64; 4]> {
    rs.iter()
        .filter(|r| r.event == "track" && r.data["object_class"] == "Person")
        .map(|r| (tracking_id(r), location(r)))
        .collect()
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
    let frames = clip_jpegs(1);
    let jpeg = std::fs::read(frames.path().join("f0000.jpg")).unwrap();
    assert_eq!(push(&s, id, &jpeg).await, 409, "input is not Manual");
    // Refused before it would be decoded.
    assert_eq!(push(&s, id, b"not an image").await, 409, "input is not Manual");
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
    // Times that are not Unix milliseconds from 1970 to the end of 9999
    // (past GStreamer's clock, some of them, where they crashed the
    // instance).
    for ts in ["soon", "-1", "253402300800000", "1700000000000000000", "99999999999999999999"] {
        let (st, text) = send(p.clone(), form(&[("frame", "x"), ("timestamp", ts)])).await;
        let want = format!("timestamp: '{ts}' is not a time in milliseconds since the Unix epoch");
        assert!(st == 400 && text.contains(&want), "{ts}: {st} {text}");
    }
    let (st, _) =
        send(format!("/v1/core/instance/{unknown}/push/compressed"), form(&[("frame", "x")])).await;
    assert_eq!(st, 404);
    let (st, text) =
        send(format!("/v1/core/instance/{id}/push/encoded/vp9"), form(&[("frame", "x")])).await;
    assert!(st == 400, "{st} {text}");
    check_cases(&s, &[Case::new("POST", &p, Some("{}"), 400, "missing boundary")]).await;

    // Images that cannot be decoded, to a running Manual instance: refused
    // saying why, and the instance goes on taking good ones.
    let id = s.create(json!({"solution": "securt", "debugMode": true})).await;
    s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(r#"{"type": "Manual"}"#)).await;
    s.client().start_instance(&id).await.unwrap();
    // A 40000 x 40000 PNG's header (IHDR, its CRC), an empty IDAT and IEND:
    // a few bytes that would take 4.8 GB decoded.
    let huge_png = [
        &b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x9c\x40\0\0\x9c\x40\x08\x02\0\0\0"[..],
        b"\xde\x6e\x99\x52\0\0\0\0IDAT\x35\xaf\x06\x1e\0\0\0\0IEND\xae\x42\x60\x82",
    ]
    .concat();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("text", b"not an image".to_vec(), "frame: is not a JPEG, PNG or BMP image"),
        ("GIF", b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(), "not a JPEG, PNG or BMP"),
        ("JPEG start", b"\xff\xd8\xffnot really".to_vec(), "frame: cannot be decoded as JPEG"),
        ("JPEG headers only", jpeg[..200].to_vec(), "frame: cannot be decoded as JPEG"),
        ("40000x40000 PNG", huge_png, "frame: is 40000x40000: larger than"),
    ];
    for (case, bytes, want) in cases {
        let (status, body) = push_at(&s, id, &bytes, 1_000).await;
        assert!(status == 400 && body.contains(want), "{case}: {status} {body}");
    }
    assert_eq!(push(&s, id, &jpeg).await, 204);
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
