//! Exporting: MQTT handlers against a real mosquitto broker that the test
//! starts on a free port. The queue through broker restarts is tested in
//! `rt-pipeline` (`handlers::tests`); here, the server end to end.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::common::{TestServer, free_port, wait_listening};
use crate::media::{Record, media_server, read_sse, test_video};

/// `mosquitto -p PORT` on a free port, stopped when dropped.
pub struct Broker {
    pub port: u16,
    child: Child,
}

impl Broker {
    pub fn start() -> Broker {
        let port = free_port();
        let child = Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (./dev installs it)");
        wait_listening(port, "mosquitto");
        Broker { port, child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Messages = Arc<Mutex<Vec<(String, Value)>>>;

/// Subscribes to `topic`; resolves once the broker confirmed it.
async fn subscribe(port: u16, topic: &str) -> Messages {
    let (client, mut eventloop) =
        AsyncClient::new(MqttOptions::new("export-test", "127.0.0.1", port), 64);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    let got: Messages = Arc::default();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sink = got.clone();
    tokio::spawn(async move {
        let _client = client;
        let mut tx = Some(tx);
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let v = serde_json::from_slice(&p.payload).expect("MQTT payload is JSON");
                    sink.lock().unwrap().push((p.topic.clone(), v));
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), rx).await.unwrap().unwrap();
    got
}

pub async fn config(s: &TestServer, id: uuid::Uuid, path: &str, value: &Value) -> (u16, Value) {
    let body = json!({"path": path, "jsonValue": value.to_string()}).to_string();
    s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(&body)).await
}

#[tokio::test]
async fn mqtt_handlers_are_validated_and_hide_their_password() {
    let s = TestServer::start();
    let id = s.create_securt().await;
    let cases = [
        (json!({"sink": "events"}), "Output/handlers/Mqtt/uri"),
        (json!({"uri": "mqtt://127.0.0.1:1883", "sink": "frames"}), "Output/handlers/Mqtt/sink"),
        (
            json!({"uri": "mqtt://127.0.0.1:1883", "config": {"qos": 7}}),
            "Output/handlers/Mqtt/config/qos",
        ),
    ];
    for (handler, field) in cases {
        let (status, body) = config(&s, id, "Output/handlers/Mqtt", &handler).await;
        assert_eq!(status, 400, "{handler}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{handler}: {body}");
    }
    let handler = json!({"uri": "mqtt://127.0.0.1:1883", "enabled": false,
        "config": {"username": "rt", "password": "s3cret"}});
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &handler).await.0, 204);
    let (_, tree) = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    let shown = tree["Output"]["handlers"]["Mqtt"].clone();
    assert_eq!(shown["config"]["password"], "********");
    // Writing back what was read is accepted (the stored secret stays).
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &shown).await.0, 204);
    // The mask where nothing is stored is not a password.
    assert_eq!(config(&s, id, "Output/handlers/Other", &shown).await.0, 400);
}

#[tokio::test]
async fn a_subscriber_receives_every_sse_event_on_its_topic_as_the_same_json() {
    let broker = Broker::start();
    let messages = subscribe(broker.port, "rt/#").await;
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "clip"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    // Added to the running instance.
    let handler = json!({"uri": format!("mqtt://127.0.0.1:{}", broker.port), "sink": "all",
        "enabled": true, "config": {"clientId": "rt-clip", "topic": "rt/{instanceId}/{eventType}",
        "qos": 1, "queueSize": 5000}});
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &handler).await.0, 204);

    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let connected =
        |r: &Record| r.event == "statistics" && r.data["handlers"]["Mqtt"]["connected"] == true;
    let records = read_sse(&s, &path, None, Duration::from_secs(30), |rs| {
        rs.iter().filter(|r| connected(r)).count() >= 2
            && rs.iter().filter(|r| r.event == "track").count() >= 20
    })
    .await;
    assert!(records.iter().filter(|r| connected(r)).count() >= 2, "handler stats in statistics");
    // Every SSE event since the handler connected reaches the broker.
    let first = records.iter().position(connected).unwrap();
    let wanted = &records[first..];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = messages.lock().unwrap().clone();
        let missing: Vec<&Record> = wanted
            .iter()
            .filter(|r| !got.contains(&(format!("rt/{id}/{}", r.event), r.data.clone())))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} SSE events never reached MQTT, e.g. {:?}",
            missing.len(),
            wanted.len(),
            missing[0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = &records.iter().rev().find(|r| connected(r)).unwrap().data["handlers"]["Mqtt"];
    assert_eq!(stats["dropped_count"], 0, "{stats}");

    // Removed on the running instance: messages stop.
    assert_eq!(config(&s, id, "Output/handlers", &json!({})).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = messages.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(messages.lock().unwrap().len(), before, "no messages after removal");
}

/// The clip's frame size.
const CLIP: (usize, usize) = (768, 576);

/// Decodes MPEG-TS (a concatenation of segments) with GStreamer into
/// packed RGB frames of the clip's size.
fn decode_ts(file: &std::path::Path) -> Vec<Vec<u8>> {
    let raw = file.with_extension("rgb");
    let out = Command::new("gst-launch-1.0")
        .args(["-q", "filesrc"])
        .arg(format!("location={}", file.display()))
        .args(["!", "tsdemux", "!", "h264parse", "!", "avdec_h264", "!", "videoconvert", "!"])
        .args(["video/x-raw,format=RGB", "!", "filesink"])
        .arg(format!("location={}", raw.display()))
        .output()
        .expect("gst-launch-1.0 runs");
    assert!(out.status.success(), "decoding failed: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&raw).unwrap();
    let frame = CLIP.0 * CLIP.1 * 3;
    assert_eq!(bytes.len() % frame, 0, "whole {}x{} RGB frames", CLIP.0, CLIP.1);
    bytes.chunks(frame).map(<[u8]>::to_vec).collect()
}

#[tokio::test]
async fn hls_serves_a_decodable_playlist_while_enabled_and_cleans_up() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "hls"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let hls = format!("/v1/core/instance/{id}/output/hls");
    let (status, body) = s.raw("POST", &hls, Some(r#"{"enabled": true}"#)).await;
    assert_eq!(status, 200, "{body}");
    let uri = body["uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("http://") && uri.ends_with(&format!("/hls/{id}.m3u8")), "{uri}");
    s.client().start_instance(&id).await.unwrap();

    // The playlist lists segments once a few seconds of video are encoded.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let segments = loop {
        let resp = http.get(&uri).send().await.unwrap();
        if resp.status() == 200 {
            assert_eq!(resp.headers()["content-type"], "application/vnd.apple.mpegurl");
            let text = resp.text().await.unwrap();
            assert!(text.starts_with("#EXTM3U"), "{text}");
            let segs: Vec<String> =
                text.lines().filter(|l| l.ends_with(".ts")).map(String::from).collect();
            if segs.len() >= 2 {
                break segs;
            }
        }
        assert!(Instant::now() < deadline, "no playlist with 2 segments at {uri}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let dir = tempfile::tempdir().unwrap();
    let joined = dir.path().join("all.ts");
    let mut all = Vec::new();
    for seg in &segments {
        assert!(seg.starts_with(&format!("{id}-")), "segment name {seg}");
        let resp = http.get(s.url(&format!("/hls/{seg}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{seg}");
        assert_eq!(resp.headers()["content-type"], "video/mp2t");
        all.extend_from_slice(&resp.bytes().await.unwrap());
    }
    std::fs::write(&joined, &all).unwrap();
    let frames = decode_ts(&joined);
    assert!(frames.len() >= 5, "{} frames decoded from {} segments", frames.len(), segments.len());

    // Names that are not plain file names are refused; unknown ones are 404.
    assert_eq!(s.raw("GET", "/hls/..%2Fsecret.m3u8", None).await.0, 400);
    assert_eq!(s.raw("GET", &format!("/hls/{}.m3u8", uuid::Uuid::new_v4()), None).await.0, 404);

    // Disabled: 204, and the files go.
    assert_eq!(s.raw("POST", &hls, Some(r#"{"enabled": false}"#)).await.0, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while http.get(&uri).send().await.unwrap().status() != 404 {
        assert!(Instant::now() < deadline, "playlist still served after disabling");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seg = s.url(&format!("/hls/{}", segments[0]));
    assert_eq!(http.get(&seg).send().await.unwrap().status(), 404);

    // Enabled again, then the instance stops: the files go too.
    assert_eq!(s.raw("POST", &hls, Some(r#"{"enabled": true}"#)).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(&uri).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "playlist not back after re-enabling");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.client().stop_instance(&id).await.unwrap();
    assert_eq!(http.get(&uri).send().await.unwrap().status(), 404, "removed on stop");
}

/// Receives `n` frames from an RTSP URL with a GStreamer client, decoded
/// to packed RGB of the clip's size. Retries while the stream is not
/// mounted yet (it is, with the instance's first processed frame), and
/// once more when a client that connected got no frames in 15 s (its
/// messages are printed, and kept for the failure if the retry fails too).
async fn receive_rtsp(url: &str, n: usize) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("frames.rgb");
    let log = dir.path().join("client.log");
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut stalled = Vec::new();
    loop {
        let out = std::fs::File::create(&log).unwrap();
        let mut child = Command::new("gst-launch-1.0")
            .args(["rtspsrc", &format!("location={url}"), "protocols=tcp", "latency=0"])
            .args(["!", "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!", "videoconvert"])
            .args(["!", "video/x-raw,format=RGB", "!", "identity", &format!("eos-after={}", n + 1)])
            .args(["!", "filesink", &format!("location={}", raw.display())])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("gst-launch-1.0 runs");
        let attempt_end = (Instant::now() + Duration::from_secs(15)).min(deadline);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > attempt_end {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        match status {
            Some(status) if status.success() => break,
            Some(status) => {
                assert!(Instant::now() < deadline, "the RTSP client keeps failing: {status}");
            }
            None => {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                eprintln!("the RTSP client got no {n} frames in 15 s; it said:\n{said}");
                stalled.push(said);
                assert!(
                    Instant::now() < deadline && stalled.len() < 2,
                    "no {n} frames from {url}; the clients said:\n{}",
                    stalled.join("\n---\n")
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let bytes = std::fs::read(&raw).unwrap();
    let frame = CLIP.0 * CLIP.1 * 3;
    assert_eq!(bytes.len() % frame, 0, "whole {}x{} RGB frames", CLIP.0, CLIP.1);
    bytes.chunks(frame).map(<[u8]>::to_vec).collect()
}

#[tokio::test]
async fn rtsp_output_is_served_here_and_decodable() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "rtsp"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let out = format!("/v1/core/instance/{id}/output/rtsp");
    for bad in [r#"{"enabled": true}"#, r#"{"enabled": true, "uri": "http://127.0.0.1/x"}"#] {
        assert_eq!(s.raw("POST", &out, Some(bad)).await.0, 400, "{bad}");
    }
    let port = free_port();
    let url = format!("rtsp://127.0.0.1:{port}/live/{id}");
    let body = json!({"enabled": true, "uri": url}).to_string();
    assert_eq!(s.raw("POST", &out, Some(&body)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    let frames = receive_rtsp(&url, 10).await;
    assert_eq!(frames.len(), 10);
    // Not a blank picture: the clip has texture.
    let f = &frames[9];
    let mean = f.iter().map(|&b| f64::from(b)).sum::<f64>() / f.len() as f64;
    let var = f.iter().map(|&b| (f64::from(b) - mean).powi(2)).sum::<f64>() / f.len() as f64;
    assert!(var > 100.0, "a real picture (variance {var})");

    // Disabled: the mount goes.
    assert_eq!(s.raw("POST", &out, Some(r#"{"enabled": false}"#)).await.0, 204);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gone = Command::new("gst-launch-1.0")
        .args(["-q", "rtspsrc", &format!("location={url}"), "protocols=tcp", "!", "fakesink"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!gone.success(), "the stream is no longer served");
}

/// The share of sample points along the inside of the square
/// (x0,y0)-(x1,y1) (normalised) whose pixel is pure green, give or take
/// the encoding.
fn green_on_outline(frame: &[u8], (x0, y0, x1, y1): (f64, f64, f64, f64)) -> f64 {
    let (w, h) = (CLIP.0 as f64, CLIP.1 as f64);
    let green = |x: f64, y: f64| {
        let i = ((y.round() as usize) * CLIP.0 + x.round() as usize) * 3;
        let (r, g, b) = (frame[i], frame[i + 1], frame[i + 2]);
        g > 150 && r < 110 && b < 110
    };
    let mut points = Vec::new();
    for k in 1..20 {
        let t = k as f64 / 20.0;
        let (x, y) = ((x0 + (x1 - x0) * t) * w, (y0 + (y1 - y0) * t) * h);
        points.extend([(x, y0 * h), (x, y1 * h), (x0 * w, y), (x1 * w, y)]);
    }
    points.iter().filter(|(x, y)| green(*x, *y)).count() as f64 / points.len() as f64
}

#[tokio::test]
async fn the_default_preset_draws_areas_in_their_colour_and_empty_is_clean() {
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "overlay"})).await;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let square = (0.1, 0.1, 0.4, 0.4);
    let area = json!({"name": "Zone", "color": [0.0, 1.0, 0.0, 1.0], "coordinates": [
        {"x": square.0, "y": square.1}, {"x": square.2, "y": square.1},
        {"x": square.2, "y": square.3}, {"x": square.0, "y": square.3}]});
    let (status, body) = s
        .raw("POST", &format!("/v1/securt/instance/{id}/area/intrusion"), Some(&area.to_string()))
        .await;
    assert_eq!(status, 201, "{body}");
    let preset = format!("/v1/core/instance/{id}/render_preset");
    assert_eq!(s.raw("POST", &preset, Some(r#"{"presetName": "Fancy"}"#)).await.0, 400);
    assert_eq!(s.raw("POST", &preset, Some(r#"{"presetName": "Default"}"#)).await.0, 204);
    let port = free_port();
    let url = format!("rtsp://127.0.0.1:{port}/overlay");
    let out = json!({"enabled": true, "uri": url}).to_string();
    assert_eq!(
        s.raw("POST", &format!("/v1/core/instance/{id}/output/rtsp"), Some(&out)).await.0,
        204
    );
    s.client().start_instance(&id).await.unwrap();

    let frames = receive_rtsp(&url, 5).await;
    let drawn = green_on_outline(frames.last().unwrap(), square);
    assert!(drawn > 0.6, "{:.0}% of the outline is the area's green", drawn * 100.0);

    // Clean video, changed on the running instance.
    assert_eq!(s.raw("POST", &preset, Some(r#"{"presetName": ""}"#)).await.0, 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frames = receive_rtsp(&url, 5).await;
    let clean = green_on_outline(frames.last().unwrap(), square);
    assert!(clean < 0.1, "{:.0}% green without an overlay", clean * 100.0);
    let (_, tree) = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    assert_eq!(tree["Output"]["render_preset"], "");
}
