//! Instance create / read / update / delete, and their error answers.

use rt_client::types;
use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

#[tokio::test]
async fn create_read_update_delete() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create(json!({"name": "Door", "group": "g1", "solution": "securt", "frameRateLimit": 5, "detectorMode": "Detection", "sensorModality": "Thermal", "someFutureKey": [1]})).await;
    let got = c.get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.instance_id, id);
    assert_eq!((got.display_name.as_str(), got.group.as_str()), ("Door", "g1"));
    assert_eq!(
        (got.solution_id.as_str(), got.solution_name.as_str()),
        ("securt", "SecuRT (Security)")
    );
    assert_eq!(got.frame_rate_limit, 5.0);
    assert_eq!(got.detector_mode, types::DetectorMode::Detection);
    assert_eq!(got.sensor_modality, types::SensorModality::Thermal);
    assert!(
        !got.loaded && !got.running && !got.persistent && !got.read_only && !got.system_instance
    );

    let patch: types::InstanceWrite =
        serde_json::from_value(json!({"name": "Gate", "autoRestart": true})).unwrap();
    c.update_instance(&id, &patch).await.unwrap();
    let got = c.get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.display_name, "Gate");
    assert!(got.auto_restart);
    assert_eq!(got.frame_rate_limit, 5.0, "PATCH keeps fields it does not name");

    // PUT with an id of the client's choosing.
    let chosen = uuid::Uuid::new_v4();
    let w: types::InstanceWrite = serde_json::from_value(json!({"solution": "securt"})).unwrap();
    let created = c.create_instance_with_id(&chosen, &w).await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.into_inner().instance_id, chosen);

    let list = c.list_instances().await.unwrap().into_inner().instances;
    let ids: Vec<_> = list.iter().map(|i| i.instance_id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id) && ids.contains(&chosen));

    assert_eq!(c.delete_instance(&id).await.unwrap().status().as_u16(), 204);
    assert_eq!(c.list_instances().await.unwrap().into_inner().instances.len(), 1);
    let (status, _) = s.raw("GET", &format!("/v1/core/instance/{id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_and_change_nothing() {
    let s = TestServer::start();
    let id = s.create(json!({"solution": "securt", "name": "kept"})).await;
    let before = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    let unknown = uuid::Uuid::new_v4();
    let i = format!("/v1/core/instance/{id}");
    let u = format!("/v1/core/instance/{unknown}");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let cases = vec![
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "lpr"}"#),
            400,
            "unknown solution 'lpr'",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "securt""#),
            400,
            "unable to parse JSON body",
        ),
        Case::new("POST", "/v1/core/instance", Some("not json"), 400, "unable to parse JSON body"),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "securt", "persistent": "yes"}"#),
            400,
            "persistent",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "securt", "frameRateLimit": -1}"#),
            400,
            "frameRateLimit: must be a number >= 0",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "securt", "detectorMode": "Fast"}"#),
            400,
            "unknown variant `Fast`",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(r#"{"solution": "securt", "inputOrientation": 9}"#),
            400,
            "inputOrientation: must be 0, 1, 2 or 3",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some("\"securt\""),
            400,
            "unable to parse JSON body",
        ),
        Case::new(
            "POST",
            "/v1/core/instance",
            Some(&huge),
            400,
            "request body exceeded maximum size",
        ),
        Case::new("POST", "/v1/core/instance", None, 400, "unable to parse JSON body"),
        // serde would read a struct from an array of its fields in order.
        Case::new(
            "POST",
            "/v1/core/instance",
            Some("[null, null]"),
            400,
            "unable to parse JSON body: expected a JSON object, got an array",
        ),
        Case::new("PATCH", &i, Some(r#"[{"name": "x"}]"#), 400, "got an array"),
        Case::new("PUT", &u, Some(" [] "), 400, "got an array"),
        Case::new("PUT", &i, Some(r#"{"solution": "securt"}"#), 409, "already exists"),
        Case::new(
            "PUT",
            "/v1/core/instance/not-a-uuid",
            Some(r#"{"solution": "securt"}"#),
            400,
            "UUID parsing failed",
        ),
        Case::new("PUT", &u, Some(r#"{"solution": 3}"#), 400, "solution: invalid type"),
        Case::new("GET", &u, None, 404, "not found"),
        Case::new("GET", "/v1/core/instance/1234", None, 400, "UUID parsing failed"),
        Case::new("PATCH", &u, Some(r#"{"name": "x"}"#), 404, "not found"),
        Case::new("PATCH", &i, Some(r#"{"solution": "nope"}"#), 400, "unknown solution 'nope'"),
        Case::new("PATCH", &i, Some(r#"{"name": 5}"#), 400, "unable to parse JSON body"),
        Case::new("PATCH", &i, Some(r#"{"frameRateLimit": -3}"#), 400, "frameRateLimit"),
        // A `null` field is left out, so this changes nothing either.
        Case::new("PATCH", &i, Some(r#"{"name": null, "solution": null, "group": null}"#), 204, ""),
        Case::new("PATCH", &i, Some(&huge), 400, "request body exceeded maximum size"),
        Case::new("DELETE", &u, None, 404, "not found"),
        Case::new("DELETE", "/v1/core/instance/%20", None, 400, "UUID parsing failed"),
        Case::new(
            "POST",
            format!("{u}/input"),
            Some(r#"{"type": "RTSP", "uri": "rtsp://cam/1"}"#),
            404,
            "not found",
        ),
        Case::new(
            "POST",
            format!("{i}/input"),
            Some(r#"{"type": "RTSP"}"#),
            400,
            "uri: is required",
        ),
        Case::new(
            "POST",
            format!("{i}/input"),
            Some(r#"{"type": "HTTP", "uri": "rtsp://x/y"}"#),
            400,
            "does not fit input type",
        ),
        Case::new(
            "POST",
            format!("{i}/input"),
            Some(r#"{"type": "Webcam", "uri": "x"}"#),
            400,
            "unknown variant",
        ),
        Case::new("GET", format!("{u}/error"), None, 404, "not found"),
        Case::new("GET", "/v1/core/instance/xyz/error", None, 400, "UUID parsing failed"),
        Case::new("GET", "/v1/core/nothing-here", None, 404, "Not Found"),
    ];
    check_cases(&s, &cases).await;
    let after = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    assert_eq!(before, after, "bad requests must not change the stored instance");
    assert_eq!(s.client().list_instances().await.unwrap().into_inner().instances.len(), 1);
}

#[tokio::test]
async fn input_is_stored_in_the_config_tree() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    let input: types::InputWrite =
        serde_json::from_value(json!({"type": "RTSP", "uri": "rtsp://10.0.0.5/stream1"})).unwrap();
    c.set_instance_input(&id, &input).await.unwrap();
    let tree = c.get_instance_config(&id).await.unwrap().into_inner();
    assert_eq!(
        Value::Object(tree.0)["Input"],
        json!({"type": "RTSP", "uri": "rtsp://10.0.0.5/stream1"})
    );
    let manual: types::InputWrite = serde_json::from_value(json!({"type": "Manual"})).unwrap();
    c.set_instance_input(&id, &manual).await.unwrap();
    let tree = c.get_instance_config(&id).await.unwrap().into_inner();
    assert_eq!(Value::Object(tree.0)["Input"], json!({"type": "Manual"}));
}

#[tokio::test]
async fn read_only_system_instances_refuse_changes_with_403() {
    let tmp = tempfile::tempdir().unwrap();
    let id = uuid::Uuid::new_v4();
    std::fs::create_dir_all(tmp.path().join("instances")).unwrap();
    let file = json!({"instanceId": id, "readOnly": true, "systemInstance": true, "config": {"solution": "securt", "name": "system"}});
    std::fs::write(tmp.path().join(format!("instances/{id}.json")), file.to_string()).unwrap();
    let s = TestServer::start_in(tmp.path(), &[]);
    let got = s.client().get_instance(&id).await.unwrap().into_inner();
    assert!(got.read_only && got.system_instance);
    let i = format!("/v1/core/instance/{id}");
    let cases = vec![
        Case::new("PATCH", &i, Some(r#"{"name": "x"}"#), 403, "read-only"),
        Case::new("DELETE", &i, None, 403, "read-only"),
        Case::new(
            "POST",
            format!("{i}/config"),
            Some(r#"{"path": "a", "jsonValue": "1"}"#),
            403,
            "read-only",
        ),
        Case::new("POST", format!("{i}/input"), Some(r#"{"type": "Manual"}"#), 403, "read-only"),
    ];
    check_cases(&s, &cases).await;
    // It can still be run.
    s.client().start_instance(&id).await.unwrap();
    assert!(s.client().get_instance(&id).await.unwrap().into_inner().running);
}

/// Every instance-scoped operation answers 404 for an unknown id and 400 for
/// an id that is not a UUID, whatever its body.
#[tokio::test]
async fn unknown_and_malformed_ids_across_every_instance_operation() {
    let s = TestServer::start();
    let unknown = uuid::Uuid::new_v4();
    let ops: &[(&str, &str, Option<&str>)] = &[
        ("GET", "", None),
        ("PATCH", "", Some("{}")),
        ("DELETE", "", None),
        ("POST", "/load", None),
        ("POST", "/unload", None),
        ("POST", "/start", None),
        ("POST", "/stop", None),
        ("POST", "/restart", None),
        ("GET", "/config", None),
        ("POST", "/config", Some(r#"{"path": "a", "jsonValue": "1"}"#)),
        ("GET", "/state", None),
        ("POST", "/state", Some(r#"{"path": "a", "jsonValue": "1"}"#)),
        ("POST", "/input", Some(r#"{"type": "Manual"}"#)),
        ("GET", "/error", None),
    ];
    let mut cases = Vec::new();
    for (method, suffix, body) in ops {
        cases.push(Case::new(
            method,
            format!("/v1/core/instance/{unknown}{suffix}"),
            *body,
            404,
            "not found",
        ));
        cases.push(Case::new(
            method,
            format!("/v1/core/instance/nope{suffix}"),
            *body,
            400,
            "UUID parsing failed",
        ));
    }
    check_cases(&s, &cases).await;
}
