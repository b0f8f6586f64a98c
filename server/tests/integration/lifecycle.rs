//! The lifecycle state machine over HTTP, and the runtime state tree.

use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

/// Every action from every state: 204 and the new state, or 406 naming
/// the current state. A repeated `start` or `stop` is a 204 that changes
/// nothing (clients retry).
#[tokio::test]
async fn transitions_table() {
    let s = TestServer::start();
    let c = s.client();
    // (setup actions, action, expected status, expected (loaded, running))
    type Row = (&'static [&'static str], &'static str, u16, (bool, bool));
    let table: &[Row] = &[
        (&[], "load", 204, (true, false)),
        (&["load"], "load", 406, (true, false)),
        (&["start"], "load", 406, (true, true)),
        (&[], "start", 204, (true, true)),
        (&["load"], "start", 204, (true, true)),
        (&["start"], "start", 204, (true, true)),
        (&[], "stop", 204, (false, false)),
        (&["load"], "stop", 204, (true, false)),
        (&["start"], "stop", 204, (true, false)),
        (&[], "unload", 406, (false, false)),
        (&["load"], "unload", 204, (false, false)),
        (&["start"], "unload", 204, (false, false)),
        (&[], "restart", 406, (false, false)),
        (&["load"], "restart", 406, (true, false)),
        (&["start"], "restart", 204, (true, true)),
    ];
    let mut failures = Vec::new();
    for (setup, action, want_status, (loaded, running)) in table {
        let id = s.create_securt().await;
        for step in *setup {
            let (st, _) = s.raw("POST", &format!("/v1/core/instance/{id}/{step}"), None).await;
            assert_eq!(st, 204, "setup {step}");
        }
        let (status, body) = s.raw("POST", &format!("/v1/core/instance/{id}/{action}"), None).await;
        let got = c.get_instance(&id).await.unwrap().into_inner();
        if status != *want_status || (got.loaded, got.running) != (*loaded, *running) {
            failures.push(format!(
                "{setup:?} then {action}: want {want_status} {:?}, got {status} {:?} {body}",
                (loaded, running),
                (got.loaded, got.running)
            ));
        }
        if status == 406 {
            let msg = body["message"].as_str().unwrap_or_default();
            if !msg.contains("it is ") || body["error_code"] != "InvalidState" {
                failures.push(format!("{setup:?} then {action}: 406 without the state: {body}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let unknown = uuid::Uuid::new_v4();
    let cases: Vec<Case> = ["load", "unload", "start", "stop", "restart"]
        .iter()
        .flat_map(|a| {
            [
                Case::new(
                    "POST",
                    format!("/v1/core/instance/{unknown}/{a}"),
                    None,
                    404,
                    "not found",
                ),
                Case::new(
                    "POST",
                    format!("/v1/core/instance/bad-id/{a}"),
                    None,
                    400,
                    "UUID parsing failed",
                ),
            ]
        })
        .collect();
    check_cases(&s, &cases).await;
}

#[tokio::test]
async fn runtime_state_tree() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    let st = format!("/v1/core/instance/{id}/state");
    check_cases(
        &s,
        &[
            Case::new("GET", &st, None, 406, "load or start it first"),
            Case::new(
                "POST",
                &st,
                Some(r#"{"path": "a", "jsonValue": "1"}"#),
                406,
                "load or start it first",
            ),
        ],
    )
    .await;
    c.load_instance(&id).await.unwrap();
    let w = serde_json::from_value(json!({"path": "Tracker/debug", "jsonValue": "{\"on\": true}"}))
        .unwrap();
    c.set_instance_state(&id, &w).await.unwrap();
    let state = c.get_instance_state(&id).await.unwrap().into_inner();
    assert_eq!(Value::Object(state.0), json!({"Tracker": {"debug": {"on": true}}}));
    check_cases(
        &s,
        &[
            Case::new(
                "POST",
                &st,
                Some(r#"{"path": "a//b", "jsonValue": "1"}"#),
                400,
                "empty segment",
            ),
            Case::new(
                "POST",
                &st,
                Some(r#"{"path": "a", "jsonValue": "{"}"#),
                400,
                "jsonValue: is not valid JSON",
            ),
        ],
    )
    .await;
    // State is runtime-only: it is gone after unload, and never in config.
    let config = c.get_instance_config(&id).await.unwrap().into_inner();
    assert!(!config.contains_key("Tracker"));
    c.unload_instance(&id).await.unwrap();
    c.start_instance(&id).await.unwrap();
    assert!(c.get_instance_state(&id).await.unwrap().into_inner().is_empty());
}
