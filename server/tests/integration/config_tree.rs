//! `GET`/`POST .../config`: RT's path/jsonValue pattern.

use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

/// The seed's own curl example, run with curl exactly as written (only the
/// port and the instance id filled in).
#[tokio::test]
async fn the_seed_curl_example_works_verbatim() {
    let s = TestServer::start();
    let id = s.create_securt().await;
    let port = s.addr.port();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(format!("http://localhost:{port}/v1/core/instance/{id}/config"))
        .args(["-H", "Content-Type: application/json"])
        .args(["-d", r#"{"path": "Output/render_preset", "jsonValue": "\"Default\""}"#])
        .output()
        .expect("curl runs (./dev installs it)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "204",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, tree) = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    assert_eq!(status, 200);
    assert_eq!(tree["Output"], json!({"render_preset": "Default"}));
}

#[tokio::test]
async fn every_json_type_reads_back_identically_and_unknown_keys_stay() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    let values = [
        json!(null),
        json!(false),
        json!(0),
        json!(-17),
        json!(3.25),
        json!(""),
        json!("Ünïcode \"quoted\" / slash"),
        json!([]),
        json!([1, "two", {"three": [3]}]),
        json!({}),
        json!({"uri": "mqtt://broker:1883", "sink": "events", "enabled": true, "config": {"qos": 1}}),
    ];
    for (n, v) in values.iter().enumerate() {
        let path = format!("Custom/deep/v{n}");
        let w = serde_json::from_value(json!({"path": path, "jsonValue": v.to_string()})).unwrap();
        c.set_instance_config(&id, &w).await.unwrap();
    }
    let tree = Value::Object(c.get_instance_config(&id).await.unwrap().into_inner().0);
    for (n, v) in values.iter().enumerate() {
        assert_eq!(&tree["Custom"]["deep"][format!("v{n}")], v, "value {n}");
    }
    // Overwrite replaces the node, siblings stay.
    let w =
        serde_json::from_value(json!({"path": "Custom/deep/v0", "jsonValue": "\"new\""})).unwrap();
    c.set_instance_config(&id, &w).await.unwrap();
    let tree = Value::Object(c.get_instance_config(&id).await.unwrap().into_inner().0);
    assert_eq!(tree["Custom"]["deep"]["v0"], "new");
    assert_eq!(tree["Custom"]["deep"]["v4"], 3.25);
}

#[tokio::test]
async fn typed_fields_and_the_tree_agree_both_ways() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    for (path, json_value) in [
        ("name", "\"Lobby\""),
        ("frameRateLimit", "12.5"),
        ("autoStart", "true"),
        ("detectionSensitivity", "\"High\""),
    ] {
        let w = serde_json::from_value(json!({"path": path, "jsonValue": json_value})).unwrap();
        c.set_instance_config(&id, &w).await.unwrap();
    }
    let got = c.get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.display_name, "Lobby");
    assert_eq!(got.frame_rate_limit, 12.5);
    assert!(got.auto_start);
    assert_eq!(got.detection_sensitivity, rt_client::types::Sensitivity::High);
    let patch =
        serde_json::from_value(json!({"group": "east", "inputPixelLimit": 2073600})).unwrap();
    c.update_instance(&id, &patch).await.unwrap();
    let tree = Value::Object(c.get_instance_config(&id).await.unwrap().into_inner().0);
    assert_eq!(tree["group"], "east");
    assert_eq!(tree["inputPixelLimit"], 2073600);
}

#[tokio::test]
async fn bad_config_writes_are_400_and_change_nothing() {
    let s = TestServer::start();
    let id = s.create_securt().await;
    let cfg = format!("/v1/core/instance/{id}/config");
    let seed = r#"{"path": "Output/render_preset", "jsonValue": "\"Default\""}"#;
    assert_eq!(s.raw("POST", &cfg, Some(seed)).await.0, 204);
    let before = s.raw("GET", &cfg, None).await;
    let unknown = format!("/v1/core/instance/{}/config", uuid::Uuid::new_v4());
    let cases = vec![
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "A", "jsonValue": "Default"}"#),
            400,
            "jsonValue: is not valid JSON",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "A", "jsonValue": "{\"a\":"}"#),
            400,
            "jsonValue: is not valid JSON",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "A", "jsonValue": ""}"#),
            400,
            "jsonValue: is not valid JSON",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "", "jsonValue": "1"}"#),
            400,
            "path: '' names no node",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "/", "jsonValue": "1"}"#),
            400,
            "path: '/' names no node",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "A//B", "jsonValue": "1"}"#),
            400,
            "empty segment at position 2",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "/A//B/", "jsonValue": "1"}"#),
            400,
            "empty segment at position 2",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "Output/render_preset/x", "jsonValue": "1"}"#),
            400,
            "'Output/render_preset' is a string, not an object",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "frameRateLimit", "jsonValue": "\"fast\""}"#),
            400,
            "frameRateLimit",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "solution", "jsonValue": "\"nope\""}"#),
            400,
            "unknown solution",
        ),
        Case::new(
            "POST",
            &cfg,
            Some(r#"{"path": "Input", "jsonValue": "7"}"#),
            400,
            "Input: must be an object",
        ),
        Case::new("POST", &cfg, Some(r#"{"path": "A"}"#), 400, "missing field `jsonValue`"),
        Case::new("POST", &cfg, Some(r#"{"path": 1, "jsonValue": "1"}"#), 400, "invalid type"),
        Case::new("POST", &cfg, Some(r#"{"path": "A", "jsonValue": 1}"#), 400, "invalid type"),
        Case::new("POST", &cfg, Some("{"), 400, "unable to parse JSON body"),
        Case::new("POST", &unknown, Some(seed), 404, "not found"),
        Case::new("GET", &unknown, None, 404, "not found"),
    ];
    check_cases(&s, &cases).await;
    assert_eq!(s.raw("GET", &cfg, None).await, before);
}
