//! An RTSP camera that goes away and comes back: the instance reconnects
//! by itself and its events resume, without anyone touching it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::free_port;
use crate::media::{Record, media_server, read_sse, test_video};

/// The clip served over RTSP by `tests/fixtures/rtsp_server.py`.
pub struct Camera {
    child: Child,
}

impl Camera {
    pub fn start(port: u16) -> Camera {
        Camera::start_with_login(port, &[])
    }

    /// A camera that wants RTSP basic auth with `login` (user, password).
    pub fn start_with_login(port: u16, login: &[&str]) -> Camera {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rtsp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(test_video())
            .args(login)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the RTSP test server starts (Debian python3-gi)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "RTSP test server did not start");
        Camera { child }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tracks(rs: &[Record]) -> usize {
    rs.iter().filter(|r| r.event == "track").count()
}

#[tokio::test]
async fn events_resume_after_the_camera_restarts() {
    let port = free_port();
    let camera = Camera::start(port);
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "camera"})).await;
    let input = format!(r#"{{"type": "RTSP", "uri": "rtsp://127.0.0.1:{port}/clip"}}"#);
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let first = read_sse(&s, &path, None, Duration::from_secs(30), |rs| tracks(rs) >= 20).await;
    assert!(tracks(&first) >= 20, "events from the camera: {} tracks", tracks(&first));

    // The camera reboots.
    drop(camera);
    let down = read_sse(&s, &path, None, Duration::from_secs(15), |rs| {
        rs.iter().any(|r| r.event == "statistics" && r.data["source_state"] == "Reconnecting")
    })
    .await;
    assert!(
        down.iter().any(|r| r.event == "statistics" && r.data["source_state"] == "Reconnecting"),
        "statistics say the input is reconnecting"
    );
    let error = s
        .client()
        .get_instance_error(&id)
        .await
        .unwrap()
        .into_inner()
        .error
        .expect("error recorded");
    assert!(error.message.contains("input"), "{}", error.message);

    let _camera = Camera::start(port);
    let back = read_sse(&s, &path, None, Duration::from_secs(45), |rs| tracks(rs) >= 20).await;
    assert!(tracks(&back) >= 20, "events resumed: {} tracks", tracks(&back));
    let inst = s.client().get_instance(&id).await.unwrap().into_inner();
    assert!(inst.running);
}
