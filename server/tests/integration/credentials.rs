//! Camera credentials across a restart: an RTSP input with `user:pw@` and
//! ONVIF camera credentials are kept sealed (the data directory holds
//! neither in clear), come back with the key, and a missing or wrong key
//! says so at `.../error` and in the log.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::TestServer;
use crate::media::{Record, asset, read_sse};
use crate::onvif::{Behaviour, PASSWORD, Simulator, USER, free_udp_port, onvif_config};

fn tracks(rs: &[Record]) -> usize {
    rs.iter().filter(|r| r.event == "track").count()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

/// Neither the password nor a URI with it is in any file under `dir`.
fn assert_no_clear_secret(dir: &Path) {
    for f in files(dir) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(PASSWORD), "the password in clear in {}", f.display());
        assert!(!text.contains(&format!("{USER}:{PASSWORD}@")), "a URI in {}", f.display());
    }
}

#[tokio::test]
async fn rtsp_and_onvif_credentials_survive_a_restart() {
    let port = crate::common::free_port();
    let _camera = crate::rtsp::Camera::start_with_login(port, &[USER, PASSWORD]);
    let clip = format!("rtsp://127.0.0.1:{port}/clip");
    let sim = Simulator::start(&[("Gate", Behaviour::Normal, clip.clone())]).await;
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("rt-server/secret.key");
    let config = onvif_config(&sim, free_udp_port());
    std::fs::write(data.path().join("rtconfig.json"), config.to_string()).unwrap();
    let model = asset("RT_MODEL_PATH", "models/nanodet-m.onnx");
    let ort = asset("ORT_DYLIB_PATH", "onnxruntime/libonnxruntime.so.1.31.1");
    let args = ["--model", &model, "--onnxruntime", &ort, "--secret-key-file"];
    let mut args = args.to_vec();
    args.push(key_file.to_str().unwrap());

    let mut s = TestServer::start_in(data.path(), &args);
    // ONVIF: credentials for the camera, whose stream URI carries none.
    assert_eq!(s.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    let uuid = sim.cameras[0].uuid.clone();
    let body = json!({"username": USER, "password": PASSWORD}).to_string();
    let set = format!("/v1/onvif/camera/{uuid}/credentials");
    assert_eq!(s.raw("POST", &set, Some(&body)).await.0, 204);
    let mut ids = Vec::new();
    for uri in [format!("rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/clip"), clip.clone()] {
        let id = s
            .create(json!({"solution": "securt", "persistent": true, "autoStart": true,
                           "debugMode": true}))
            .await;
        let input = json!({"type": "RTSP", "uri": uri}).to_string();
        let path = format!("/v1/core/instance/{id}/input");
        assert_eq!(s.raw("POST", &path, Some(&input)).await.0, 204);
        ids.push(id);
    }
    let (_, cfg) = s.raw("GET", &format!("/v1/core/instance/{}/config", ids[0]), None).await;
    assert_eq!(cfg["Input"]["uri"], json!(format!("rtsp://{USER}:********@127.0.0.1:{port}/clip")));
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key file is private");
    s.kill9();
    assert_no_clear_secret(data.path());

    // Same data and key, no discovery: both instances log in again.
    let s = TestServer::start_in(data.path(), &args);
    for id in &ids {
        let path = format!("/v1/core/instance/{id}/consume_events_sse");
        let got = read_sse(&s, &path, None, Duration::from_secs(60), |rs| tracks(rs) >= 5).await;
        assert!(tracks(&got) >= 5, "tracks from instance {id} after the restart: {got:?}");
    }
    let (_, cfg) = s.raw("GET", &format!("/v1/core/instance/{}/config", ids[0]), None).await;
    assert!(!cfg.to_string().contains(PASSWORD), "{cfg}");
    // Writing back what was read keeps the stored password.
    let masked = json!({"type": "RTSP", "uri": cfg["Input"]["uri"]}).to_string();
    let path = format!("/v1/core/instance/{}/input", ids[0]);
    assert_eq!(s.raw("POST", &path, Some(&masked)).await.0, 204);
    assert_no_clear_secret(data.path());
    assert!(!s.logs_so_far().await.contains(PASSWORD), "the password was logged");
}

#[tokio::test]
async fn a_missing_or_wrong_key_says_so() {
    let data = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("secret.key");
    let key_arg = ["--secret-key-file", key_file.to_str().unwrap()];
    let mut s = TestServer::start_in(data.path(), &key_arg);
    let id = s.create(json!({"solution": "securt", "persistent": true, "autoStart": true})).await;
    let input = json!({"type": "RTSP", "uri": "rtsp://u:pw-123@127.0.0.1:9/x"}).to_string();
    let input_path = format!("/v1/core/instance/{id}/input");
    assert_eq!(s.raw("POST", &input_path, Some(&input)).await.0, 204);
    s.kill9();
    let other_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let moved = keys.path().join("moved.key");
    std::fs::rename(&key_file, &moved).unwrap();
    let key_path = key_file.display().to_string();
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 2] = [
        ("missing key file", &[], &[key_path.as_str(), "does not exist"]),
        (
            "wrong key",
            &[("RT_SECRET_KEY", other_key.as_str())],
            &["sealed with key", "RT_SECRET_KEY"],
        ),
    ];
    for (name, env, want) in cases {
        let mut s = TestServer::start_in_env(data.path(), &key_arg, env);
        let (status, err) = s.raw("GET", &format!("/v1/core/instance/{id}/error"), None).await;
        assert_eq!(status, 200, "{name}: {err}");
        let msg = err.to_string();
        for w in want {
            assert!(msg.contains(w), "{name}: the error names {w}: {msg}");
            s.wait_for_log(&format!("{name}: {w}"), |l| l.contains(w));
        }
        assert!(!msg.contains("pw-123"), "{name}: {msg}");
        let inst = s.client().get_instance(&id).await.unwrap().into_inner();
        assert!(!inst.running, "{name}: it does not run");
        let (status, _) = s.raw("POST", &format!("/v1/core/instance/{id}/start"), None).await;
        assert_eq!(status, 500, "{name}: a start is refused");
        s.kill9();
    }
    // The key back: the instance starts; a new password also unlocks it.
    std::fs::rename(&moved, &key_file).unwrap();
    let s = TestServer::start_in(data.path(), &key_arg);
    let (status, _) = s.raw("POST", &format!("/v1/core/instance/{id}/start"), None).await;
    assert_eq!(status, 204, "the right key opens the credentials");
    drop(s);
    let s = TestServer::start_in_env(data.path(), &key_arg, &[("RT_SECRET_KEY", &other_key)]);
    let input = json!({"type": "RTSP", "uri": "rtsp://u:new@127.0.0.1:9/x"}).to_string();
    assert_eq!(s.raw("POST", &input_path, Some(&input)).await.0, 204);
    let (status, _) = s.raw("POST", &format!("/v1/core/instance/{id}/start"), None).await;
    assert_eq!(status, 204, "credentials set again unlock the instance");
}
