//! `GET /metrics`: scraped while an instance runs on the clip with an MQTT
//! handler (a real mosquitto) and a client on its event stream, read back
//! with an OpenMetrics parser, and every family the contract lists found
//! with sensible values; labels never carry a raw path.

use std::time::{Duration, Instant};

use openmetrics_parser::openmetrics::parse_openmetrics;
use serde_json::json;

use crate::export::{Broker, config};
use crate::media::{media_server, test_video};

const FAMILIES: [&str; 20] = [
    "rt_instance_running",
    "rt_instance_fps",
    "rt_instance_frames_processed",
    "rt_instance_frames_dropped",
    "rt_instance_inference_seconds",
    "rt_instance_event_latency_seconds",
    "rt_instance_source_state",
    "rt_instance_source_reconnects",
    "rt_instance_tracks",
    "rt_instance_streams",
    "rt_mqtt_queue_depth",
    "rt_mqtt_sent",
    "rt_mqtt_dropped",
    "rt_mqtt_connected",
    "rt_store_queue_depth",
    "rt_store_lag_seconds",
    "rt_store_events_written",
    "rt_streams_open",
    "rt_http_requests",
    "rt_http_request_duration_seconds",
];

#[tokio::test]
async fn a_scrape_holds_every_family_with_live_values() {
    let broker = Broker::start();
    let s = media_server();
    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "metrics"})).await;
    let input = json!({"type": "File", "uri": test_video()}).to_string();
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    let handler = json!({"uri": format!("mqtt://127.0.0.1:{}", broker.port), "sink": "all",
        "enabled": true, "config": {"clientId": "rt-metrics", "topic": "rt/{instanceId}", "qos": 1}});
    assert_eq!(config(&s, id, "Output/handlers/Mqtt", &handler).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    let http = reqwest::Client::new();
    let _watching = http
        .get(s.url(&format!("/v1/core/instance/{id}/consume_events_sse")))
        .send()
        .await
        .unwrap();

    let value = |text: &str, family: &str, needle: &str| -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with(family) && l.contains(needle))
            .find_map(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let id_label = format!("instance_id=\"{id}\"");
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let r = http.get(s.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let text = r.text().await.unwrap();
        let processed =
            value(&text, "rt_instance_frames_processed_total", &id_label).unwrap_or(0.0);
        let sent = value(&text, "rt_mqtt_sent_total", &id_label).unwrap_or(0.0);
        if processed >= 10.0 && sent >= 1.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "no live values in 60 s:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let exposition = parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    for f in FAMILIES {
        assert!(exposition.families.contains_key(f), "family {f} missing:\n{text}");
    }
    assert_eq!(value(&text, "rt_instance_running", &id_label), Some(1.0));
    assert!(value(&text, "rt_instance_fps", &id_label).unwrap() > 0.0);
    assert_eq!(
        value(&text, "rt_instance_source_state", &format!("{id_label},state=\"Connected\"")),
        Some(1.0)
    );
    assert_eq!(value(&text, "rt_instance_streams", &id_label), Some(1.0), "one event stream");
    assert!(value(&text, "rt_instance_inference_seconds_count", &id_label).unwrap() >= 10.0);
    assert_eq!(value(&text, "rt_mqtt_connected", "handler=\"Mqtt\""), Some(1.0));
    // HTTP: by operation id, never by path.
    assert!(text.contains("operation=\"get_metrics\",status=\"200\""), "{text}");
    assert!(text.contains("operation=\"start_instance\""), "{text}");
    for line in text.lines().filter(|l| l.starts_with("rt_http")) {
        assert!(!line.contains("/v1/"), "a path as a label: {line}");
    }
}
