//! The conformance suite (`rt-conformance`) against this server: every
//! check must pass, directly and through the CORS front, with what the
//! suite needs offered to it: a read-only system instance in the data
//! directory, and a simulated ONVIF camera (plus one that cannot be
//! reached). The report is printed in full when a check fails.

use std::sync::Arc;
use std::time::Duration;

use rt_conformance::ctx::OnvifCamera;
use rt_conformance::{Contract, Format, Options, Outcome, Report, plan, render, run, summary};
use serde_json::{Value, json};

use crate::common::TestServer;
use crate::media::media_server_in;
use crate::onvif::{Behaviour, PASSWORD, Simulator, USER, free_udp_port, onvif_config};

/// A media server with what the suite needs, and the options that offer it.
struct Rig {
    server: TestServer,
    options: Options,
    read_only: uuid::Uuid,
    _cameras: Simulator,
}

/// `extra` is merged into the rtconfig.json (beside the `onvif` block
/// aimed at the simulator).
async fn rig(extra: Value) -> Rig {
    let cameras = Simulator::start(&[
        ("Lobby", Behaviour::Normal, "rtsp://127.0.0.1:8554/clip".into()),
        ("dead", Behaviour::Hang, String::new()),
    ])
    .await;
    let data = tempfile::tempdir().unwrap();
    let read_only = uuid::Uuid::new_v4();
    std::fs::create_dir_all(data.path().join("instances")).unwrap();
    let file = json!({
        "instanceId": read_only, "readOnly": true, "systemInstance": true,
        "config": {"solution": "securt", "name": "system"}
    });
    std::fs::write(data.path().join(format!("instances/{read_only}.json")), file.to_string())
        .unwrap();
    let mut rtconfig = onvif_config(&cameras, free_udp_port());
    if let (Value::Object(c), Value::Object(e)) = (&mut rtconfig, extra) {
        c.extend(e);
    }
    std::fs::write(data.path().join("rtconfig.json"), rtconfig.to_string()).unwrap();
    let server = media_server_in(data);
    // The suite works with cameras the server has already discovered.
    assert_eq!(server.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    let mut options = Options::new(&server.base);
    options.read_only_instance = Some(read_only);
    options.onvif_camera = Some(OnvifCamera {
        id: cameras.cameras[0].uuid.clone(),
        username: USER.into(),
        password: PASSWORD.into(),
    });
    options.onvif_unreachable_camera = Some(cameras.cameras[1].uuid.clone());
    Rig { server, options, read_only, _cameras: cameras }
}

async fn suite(s: &TestServer, options: &Options) -> Report {
    let contract = Arc::new(Contract::embedded().unwrap());
    let checks = plan(&contract, options);
    assert!(checks.len() > 300, "only {} checks planned", checks.len());
    let report = run(contract, options, checks, |_, _, _| {}).await.unwrap();
    assert!(
        report.passed(),
        "{}\n{}\nserver log:\n{}",
        summary(&report),
        render(&report, Format::Markdown),
        s.logs()
    );
    report
}

fn skipped(report: &Report) -> Vec<&str> {
    let skips = report.checks.iter().filter(|c| c.outcome == Outcome::Skip);
    skips.map(|c| c.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_including_shutdown() {
    let mut rig = rig(json!({})).await;
    rig.options.allow_shutdown = true;
    let report = suite(&rig.server, &rig.options).await;
    // Only the CORS checks skip: CORS is off here.
    let skipped = skipped(&report);
    assert!(skipped.iter().all(|n| n.starts_with("cors.")), "skipped: {skipped:?}");
    // The last check shut the server down; it exits by itself, cleanly.
    let status = rig.server.wait_exit(Duration::from_secs(10)).expect("the server exits");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_through_the_cors_front() {
    let rig = rig(json!({"web_server": {"cors": {"enabled": true}}})).await;
    let report = suite(&rig.server, &rig.options).await;
    assert_eq!(skipped(&report), vec!["core.shutdown_system.204"]);
    // Nothing the suite created is left; the read-only instance is intact.
    let left = rig.server.client().list_instances().await.unwrap().into_inner().instances;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].instance_id, rig.read_only);
    // The camera has the offered credentials again (the 403 check stored wrong ones).
    let (status, cameras) = rig.server.raw("GET", "/v1/onvif/cameras", None).await;
    assert_eq!(status, 200);
    let lobby = cameras.as_array().unwrap().iter().find(|c| c["name"] == "Lobby camera").unwrap();
    assert_eq!(lobby["state"], "Ok", "{lobby}");
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_rt_leaves_out_extensions() {
    let contract = Contract::embedded().unwrap();
    let mut options = Options::new("http://127.0.0.1:9");
    let all = plan(&contract, &options);
    options.strict_rt = true;
    let strict = plan(&contract, &options);
    assert!(strict.len() < all.len());
    assert!(strict.iter().all(|c| !c.extension));
    for gone in
        ["sse.resume", "securt.securt_create_area_occupancy.201", "onvif.onvif_discover.204"]
    {
        assert!(all.iter().any(|c| c.name == gone), "{gone} exists");
        assert!(!strict.iter().any(|c| c.name == gone), "{gone} is an extension");
    }
}
