//! What RT's own clients send and expect, as CVEDIA's SDK shows it
//! (`shared/reference/rt-events.md`): JSON bodies with any or no
//! `Content-Type`, config paths with outer slashes, the solution left out,
//! `count` as a double, RT's version form, and repeated start/stop.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

/// `curl -d` sends `application/x-www-form-urlencoded`; a bare `fetch` sends
/// `text/plain`; some clients send nothing. RT reads the body as JSON.
#[tokio::test]
async fn json_bodies_are_read_whatever_their_content_type() {
    let s = TestServer::start();
    // Verbatim, as a user types it.
    let out = Command::new("curl")
        .args(["-sS", "-d", r#"{"name":"x"}"#, &s.url("/v1/core/instance")])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).expect("a JSON answer");
    let id = created["instanceId"].as_str().expect("an instanceId").to_string();
    let got = s.client().get_instance(&id.parse().unwrap()).await.unwrap().into_inner();
    assert_eq!((got.display_name.as_str(), got.solution_id.as_str()), ("x", "securt"));

    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    // (Content-Type or none, body, expected status, fragment of the message)
    let cases: &[(Option<&str>, &str, u16, &str)] = &[
        (Some("text/plain"), r#"{"name": "fetch"}"#, 201, ""),
        (Some("application/x-www-form-urlencoded"), r#"{"name": "form"}"#, 201, ""),
        (Some("application/json; charset=utf-8"), r#"{"name": "utf8"}"#, 201, ""),
        (None, r#"{"name": "none"}"#, 201, ""),
        (Some("text/plain"), "name=x", 400, "unable to parse JSON body"),
        (Some("application/x-www-form-urlencoded"), "{", 400, "unable to parse JSON body"),
        (None, r#"{"name": 5}"#, 400, "unable to parse JSON body"),
    ];
    for (ctype, body, want, fragment) in cases {
        let mut req = http.post(s.url("/v1/core/instance")).body(*body);
        if let Some(t) = ctype {
            req = req.header("Content-Type", *t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        let message = answer["message"].as_str().unwrap_or_default();
        if status != *want || !message.contains(fragment) {
            failures
                .push(format!("{ctype:?} {body}: want {want} {fragment:?}, got {status} {answer}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The bad bodies created nothing: curl's instance and the four good ones.
    assert_eq!(s.client().list_instances().await.unwrap().into_inner().instances.len(), 5);
}

#[tokio::test]
async fn config_paths_with_outer_slashes_name_the_same_node() {
    let s = TestServer::start();
    let id = s.create_securt().await;
    let cfg = format!("/v1/core/instance/{id}/config");
    for (n, path) in
        ["/Custom/node", "Custom/node/", "/Custom/node/", "Custom/node"].iter().enumerate()
    {
        let body = json!({"path": path, "jsonValue": n.to_string()}).to_string();
        assert_eq!(s.raw("POST", &cfg, Some(&body)).await.0, 204, "{path}");
        let (_, tree) = s.raw("GET", &cfg, None).await;
        assert_eq!(tree["Custom"], json!({"node": n}), "after writing {path}");
        assert!(tree.get("").is_none(), "{path} made a key named \"\"");
    }
    // A typed field written as RT's own code writes it.
    let body = json!({"path": "/frameRateLimit", "jsonValue": "7"}).to_string();
    assert_eq!(s.raw("POST", &cfg, Some(&body)).await.0, 204);
    let got = s.client().get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.frame_rate_limit, 7.0);
}

#[tokio::test]
async fn rt_client_shapes_are_accepted() {
    let s = TestServer::start();
    // The solution is optional on create (PUT with an id too).
    let id = uuid::Uuid::new_v4();
    let (status, _) = s.raw("PUT", &format!("/v1/core/instance/{id}"), Some("{}")).await;
    assert_eq!(status, 201);
    let got = s.client().get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.solution_id, "securt");

    // RT's generated client sends `count` as a double.
    for q in ["count=50.0", "count=50.000000000000000", "count=0", "count=3"] {
        let (status, body) = s.raw("GET", &format!("/v1/core/log?{q}"), None).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert!(body["log"].is_string(), "{q}: {body}");
    }
    check_cases(
        &s,
        &[
            Case::new("GET", "/v1/core/log?count=1.5", None, 400, "count: must be a non-negative"),
            Case::new("GET", "/v1/core/log?count=-1", None, 400, "count: must be a non-negative"),
            Case::new("GET", "/v1/core/log?count=NaN", None, 400, "count: must be a non-negative"),
            Case::new("GET", "/v1/core/log?count=many", None, 400, ""),
        ],
    )
    .await;

    // An `RTSP` input may name a file or an HTTP stream (RT's clients have
    // no other type for them); a URI with no scheme is still refused.
    let input = format!("/v1/core/instance/{id}/input");
    for uri in ["file:///data/clip.mp4", "/data/clip.mp4", "https://cams.example/live.m3u8"] {
        let body = json!({"type": "RTSP", "uri": uri}).to_string();
        assert_eq!(s.raw("POST", &input, Some(&body)).await.0, 204, "{uri}");
    }
    let body = json!({"type": "RTSP", "uri": "cam/1"}).to_string();
    check_cases(&s, &[Case::new("POST", &input, Some(&body), 400, "does not fit input type")])
        .await;
}

#[tokio::test]
async fn repeated_start_and_stop_succeed_and_change_nothing() {
    let s = TestServer::start();
    let c = s.client();
    let id = s.create_securt().await;
    let i = format!("/v1/core/instance/{id}");
    // (action, expected (loaded, running) after)
    let steps = [
        ("stop", (false, false)),
        ("start", (true, true)),
        ("start", (true, true)),
        ("stop", (true, false)),
        ("stop", (true, false)),
    ];
    for (action, want) in steps {
        let (status, body) = s.raw("POST", &format!("{i}/{action}"), None).await;
        assert_eq!(status, 204, "{action}: {body}");
        let got = c.get_instance(&id).await.unwrap().into_inner();
        assert_eq!((got.loaded, got.running), want, "after {action}");
    }
}

#[tokio::test]
async fn the_version_is_in_rt_form_and_configurable() {
    let rt_form = |v: &str| {
        let parts: Vec<&str> = v.split('.').collect();
        parts.len() == 3 && parts[0].len() == 4 && parts.iter().all(|p| p.parse::<u32>().is_ok())
    };
    let s = TestServer::start();
    let (_, v) = s.raw("GET", "/v1/core/version", None).await;
    assert!(rt_form(v["engine"].as_str().unwrap()), "{v}");
    assert_eq!(v["serverVersion"], env!("CARGO_PKG_VERSION"));
    let id = s.create_securt().await;
    let got = s.client().get_instance(&id).await.unwrap().into_inner();
    assert_eq!(got.version, v["engine"].as_str().unwrap(), "instances report the same version");

    let s = TestServer::start_with_config(&json!({"engine_version": "2025.1.0"}));
    let (_, v) = s.raw("GET", "/v1/core/version", None).await;
    assert_eq!(v["engine"], "2025.1.0");
}
