//! The server-wide endpoints: version, solutions, licenses, log, system
//! info and config, errors, shutdown and the contract itself.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

#[tokio::test]
async fn version_solutions_licenses() {
    let s = TestServer::start();
    let c = s.client();
    let version = c.get_version().await.unwrap().into_inner();
    assert_eq!(version.engine, "2024.2.4", "RT's form, the default engine_version");
    assert_eq!(version.server_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let solutions = c.list_solutions().await.unwrap().into_inner().solutions;
    assert!(solutions.iter().any(|s| s.id == "securt" && s.name == "SecuRT (Security)"));
    assert!(c.get_licenses().await.unwrap().into_inner().licenses.is_empty());
}

#[tokio::test]
async fn log_tail_shows_the_servers_own_lines() {
    let s = TestServer::start();
    let c = s.client();
    let _ = s.raw("GET", "/v1/core/instance/not-a-uuid", None).await;
    let all = c.get_log(None).await.unwrap().into_inner().log;
    assert!(all.contains("listening on http://"), "{all}");
    assert!(all.contains("not-a-uuid"), "request lines are logged: {all}");
    let two = c.get_log(Some(2.0)).await.unwrap().into_inner().log;
    assert_eq!(two.lines().count(), 2, "{two}");
    check_cases(
        &s,
        &[
            Case::new("GET", "/v1/core/log?count=abc", None, 400, "unable to parse query string"),
            Case::new("GET", "/v1/core/log?count=-1", None, 400, "count: must be a non-negative"),
        ],
    )
    .await;
}

#[tokio::test]
async fn system_info_reports_the_host() {
    let s = TestServer::start();
    let info = s.client().get_system_info().await.unwrap().into_inner().system_info;
    let get = |k: &str| info.iter().find(|e| e.display_name == k).map(|e| e.value.clone());
    assert_eq!(get("Server"), Some(format!("rt-server {}", env!("CARGO_PKG_VERSION"))));
    let cores: usize = get("CPU cores").unwrap().parse().unwrap();
    assert_eq!(cores, std::thread::available_parallelism().unwrap().get());
    assert!(get("Memory total").unwrap().ends_with("MiB"));
    assert!(get("Operating system").is_some() && get("Library dropshot").is_some());
}

#[tokio::test]
async fn system_config_changes_are_validated_and_saved() {
    let s = TestServer::start();
    let c = s.client();
    let config = c.get_system_config().await.unwrap().into_inner().system_config;
    let port = config.iter().find(|e| e.field_id == "web_server.port").expect("port entity");
    assert_eq!(port.value, "0", "the command line override is what runs");
    let update = serde_json::from_value(json!({"systemConfig": [{"fieldId": "log_level", "value": "debug"}, {"fieldId": "web_server.port", "value": "3547"}]})).unwrap();
    c.update_system_config(&update).await.unwrap();
    let config = c.get_system_config().await.unwrap().into_inner().system_config;
    let level = config.iter().find(|e| e.field_id == "log_level").unwrap();
    assert_eq!(level.value, "debug");
    assert!(level.available_values.iter().any(|v| v.value == "trace"));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(s.data_dir.join("rtconfig.json")).unwrap())
            .unwrap();
    assert_eq!(saved["log_level"], "debug");
    assert_eq!(saved["web_server"]["port"], 3547);
    let before = std::fs::read_to_string(s.data_dir.join("rtconfig.json")).unwrap();
    check_cases(
        &s,
        &[
            Case::new("PUT", "/v1/core/system/config", Some(r#"{"systemConfig": [{"fieldId": "web_server.port", "value": "http"}]}"#), 400, "web_server.port: 'http' is not a port number"),
            Case::new("PUT", "/v1/core/system/config", Some(r#"{"systemConfig": [{"fieldId": "log_level", "value": "info"}, {"fieldId": "colour", "value": "red"}]}"#), 400, "unknown field 'colour'"),
            Case::new("PUT", "/v1/core/system/config", Some(r#"{"systemConfig": [{"fieldId": "log_level"}]}"#), 400, "missing field `value`"),
            Case::new("PUT", "/v1/core/system/config", Some("{}"), 400, "missing field `systemConfig`"),
        ],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(s.data_dir.join("rtconfig.json")).unwrap(),
        before,
        "refused updates change nothing"
    );
    assert_eq!(level.value, "debug");
}

#[tokio::test]
async fn errors_are_recorded_with_time_and_message() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("instances")).unwrap();
    let bad = uuid::Uuid::new_v4();
    std::fs::write(tmp.path().join(format!("instances/{bad}.json")), "{ torn").unwrap();
    let s = TestServer::start_in(tmp.path(), &[]);
    let c = s.client();
    let last =
        c.get_last_error().await.unwrap().into_inner().error.expect("restore error recorded");
    assert!(
        last.message.contains(&bad.to_string())
            && last.message.contains("not a valid instance file"),
        "{last:?}"
    );
    assert!((chrono::Utc::now() - last.time).num_seconds().abs() < 60);
    let id = s.create_securt().await;
    assert!(c.get_instance_error(&id).await.unwrap().into_inner().error.is_none());
}

#[tokio::test]
async fn shutdown_is_graceful() {
    let mut s = TestServer::start();
    let c = s.client();
    assert_eq!(c.shutdown_system().await.unwrap().status().as_u16(), 204);
    let status = s.wait_exit(Duration::from_secs(10)).expect("server exits after shutdown");
    assert!(status.success(), "{status:?}");
    s.wait_for_log("word of the stop", |l| l.contains("server stopped"));
}

#[tokio::test]
async fn the_contract_is_served_verbatim() {
    let s = TestServer::start();
    let resp = reqwest::get(s.url("/openapi.yaml")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/yaml");
    let text = resp.text().await.unwrap();
    assert_eq!(text, include_str!("../../../openapi/openapi.yaml"));
}

/// A 500 says only that the request failed, with its request_id; the cause
/// (here a file path) is in the server's log under that id, not in the body.
#[tokio::test]
async fn internal_errors_keep_their_cause_in_the_log() {
    let s = TestServer::start();
    let id = s.create(json!({"solution": "securt", "persistent": true})).await;
    // The instances directory is replaced by a file: the next save fails.
    let dir = s.data_dir.join("instances");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    let (status, body) =
        s.raw("PATCH", &format!("/v1/core/instance/{id}"), Some(r#"{"name": "x"}"#)).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error_code"], "Internal");
    let message = body["message"].as_str().unwrap();
    let request_id = body["request_id"].as_str().unwrap();
    assert!(!message.contains("instances"), "the body names no path: {message}");
    s.wait_for_log(&format!("the cause under {request_id}"), |l| {
        l.contains(request_id) && l.contains("failed to persist")
    });
    // Nothing changed.
    assert_ne!(s.client().get_instance(&id).await.unwrap().into_inner().display_name, "x");
}
