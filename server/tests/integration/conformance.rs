//! The conformance suite (`rt-conformance`) against this server: every
//! check must pass, directly and through the CORS front. The report is
//! printed in full when one fails.

use std::sync::Arc;
use std::time::Duration;

use rt_conformance::{Contract, Format, Options, Outcome, plan, render, run, summary};
use serde_json::json;

use crate::common::TestServer;
use crate::media::media_server_in;

/// A media server whose data directory holds a read-only system instance
/// (what an operator would drop there), with `rtconfig` if given.
fn server(rtconfig: Option<serde_json::Value>) -> (TestServer, uuid::Uuid) {
    let data = tempfile::tempdir().unwrap();
    let read_only = uuid::Uuid::new_v4();
    std::fs::create_dir_all(data.path().join("instances")).unwrap();
    let file = json!({
        "instanceId": read_only, "readOnly": true, "systemInstance": true,
        "config": {"solution": "securt", "name": "system"}
    });
    std::fs::write(data.path().join(format!("instances/{read_only}.json")), file.to_string())
        .unwrap();
    if let Some(c) = rtconfig {
        std::fs::write(data.path().join("rtconfig.json"), c.to_string()).unwrap();
    }
    (media_server_in(data), read_only)
}

async fn suite(s: &TestServer, options: Options) -> rt_conformance::Report {
    let contract = Arc::new(Contract::embedded().unwrap());
    let checks = plan(&contract, &options);
    assert!(checks.len() > 300, "only {} checks planned", checks.len());
    let report = run(contract, &options, checks, |_, _, _| {}).await;
    assert!(
        report.passed(),
        "{}\n{}\nserver log:\n{}",
        summary(&report),
        render(&report, Format::Markdown),
        s.logs()
    );
    report
}

/// The checks that may be skipped here, and why: no ONVIF camera answers
/// on a CI machine.
const CAMERA_CHECKS: [&str; 4] = [
    "onvif.onvif_set_credentials.204",
    "onvif.onvif_get_streams.200",
    "onvif.onvif_get_streams.403",
    "onvif.onvif_get_streams.406",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_including_shutdown() {
    let (mut s, read_only) = server(None);
    let mut options = Options::new(&s.base);
    options.read_only_instance = Some(read_only);
    options.allow_shutdown = true;
    let report = suite(&s, options).await;
    let skipped: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Skip)
        .map(|c| c.name.as_str())
        .collect();
    let unexpected: Vec<&&str> =
        skipped.iter().filter(|n| !CAMERA_CHECKS.contains(n) && !n.starts_with("cors.")).collect();
    assert!(unexpected.is_empty(), "skipped: {unexpected:?}");
    // The last check shut the server down; it exits by itself, cleanly.
    let status = s.wait_exit(Duration::from_secs(10)).expect("the server exits after shutdown");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_passes_through_the_cors_front() {
    let (s, read_only) = server(Some(json!({"web_server": {"cors": {"enabled": true}}})));
    let mut options = Options::new(&s.base);
    options.read_only_instance = Some(read_only);
    let report = suite(&s, options).await;
    for name in ["cors.simple", "cors.errors", "cors.preflight"] {
        let c = report.checks.iter().find(|c| c.name == name).expect(name);
        assert_eq!(c.outcome, Outcome::Pass, "{name}: {:?}", c.message);
    }
    // Nothing the suite created is left; the read-only instance is intact.
    let left = s.client().list_instances().await.unwrap().into_inner().instances;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].instance_id, read_only);
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
