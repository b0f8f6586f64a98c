//! The conformance suite (`rt-conformance`) against this server: every
//! check must pass, directly and through the CORS front, with what the
//! suite needs offered to it: a read-only system instance in the data
//! directory, and a simulated ONVIF camera (plus one that cannot be
//! reached). The report is printed in full when a check fails. And the
//! suite as users get it: installed with `cargo install`, run elsewhere.

use std::sync::Arc;
use std::time::Duration;

use rt_conformance::ctx::OnvifCamera;
use rt_conformance::{Contract, Format, Options, Outcome, Report, plan, render, run, summary};
use serde_json::{Value, json};

use crate::common::{RecordingProxy, TestServer, cargo, header};
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
    // What CVEDIA's SDK shows of SecuRT ids and entity groups, RT passes.
    for kept in ["securt.caller_chosen_ids", "securt.analytics_entities_groups"] {
        assert!(strict.iter().any(|c| c.name == kept), "{kept} runs in strict-RT mode");
    }
}

/// `cargo install --path conformance` gives a binary that needs nothing of
/// the repository: run from an empty directory against this server (through
/// a proxy that records what it sends), with the token from the environment,
/// it writes an HTML report of the checks it ran.
#[tokio::test(flavor = "multi_thread")]
async fn the_installed_suite_runs_anywhere_and_writes_an_html_report() {
    let root = tempfile::tempdir().unwrap();
    let root_dir = root.path().to_str().unwrap();
    let conformance = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance");
    let install = ["install", "--offline", "--locked", "--debug", "--path", conformance];
    let out = cargo(&install).args(["--root", root_dir]).output().expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bin = root.path().join("bin/rt-conformance");

    let version = std::process::Command::new(&bin).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let want = format!("rt-conformance 0.1.0 (contract {})", rt_client::CONTRACT_VERSION);
    assert_eq!(version.trim(), want);

    let s = crate::media::media_server();
    let proxy = RecordingProxy::start(s.addr).await;
    let elsewhere = tempfile::tempdir().unwrap();
    let selection = ["core.get_version.*", "core.list_instances.*", "lifecycle.*", "sse.framing"];
    let mut run = tokio::process::Command::new(&bin);
    run.current_dir(elsewhere.path()).env("RT_CONFORMANCE_TOKEN", "installed-t0ken").args([
        "--base-url",
        &proxy.base,
        "--report",
        "html",
        "--out",
        "report.html",
    ]);
    for only in selection {
        run.args(["--only", only]);
    }
    let out = run.kill_on_drop(true).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let html = std::fs::read_to_string(elsewhere.path().join("report.html")).unwrap();
    let rows: Vec<(&str, &str)> = html
        .split("<tr class=\"check\" data-check=\"")
        .skip(1)
        .map(|row| {
            let (name, rest) = row.split_once('"').unwrap();
            let outcome = rest.split("data-outcome=\"").nth(1).unwrap().split('"').next().unwrap();
            (name, outcome)
        })
        .collect();
    assert!(rows.len() >= 6, "{rows:?}");
    assert!(rows.iter().all(|(_, outcome)| *outcome == "pass"), "{rows:?}");
    for group in ["core", "lifecycle", "sse"] {
        let row = format!("<tr data-group=\"{group}\">");
        assert!(html.contains(&row), "no {group} in the summary by group");
    }
    let summary = format!(
        "<p id=\"summary\">{} checks (contract {}): {} passed, 0 failed",
        rows.len(),
        rt_client::CONTRACT_VERSION,
        rows.len()
    );
    assert!(html.contains(&summary), "{summary} not in\n{html}");
    assert!(!html.contains("<section class=\"failure\""));
    // Every request carried the token; the report does not.
    let heads = proxy.heads();
    assert!(heads.len() > rows.len(), "{heads:?}");
    for head in &heads {
        assert_eq!(header(head, "authorization"), Some("Bearer installed-t0ken"), "{head}");
    }
    assert!(!html.contains("installed-t0ken"));
}
