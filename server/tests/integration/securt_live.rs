//! SecuRT rules on a running instance, with the real model on the clip:
//! intrusion start/end pairs, line crossings whose direction agrees with
//! the walkers' motion, and rules added or removed while running.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::media::{Record, media_server, read_sse, test_video};

/// The paved area in the middle of the clip, where people walk.
fn footpath() -> Value {
    json!([{"x": 0.35, "y": 0.25}, {"x": 0.95, "y": 0.25}, {"x": 0.95, "y": 0.6}, {"x": 0.35, "y": 0.6}])
}

async fn running_instance(s: &crate::common::TestServer) -> uuid::Uuid {
    let w = serde_json::from_value(json!({"name": "live"})).unwrap();
    let id = s.client().securt_create_instance(&w).await.unwrap().into_inner().instance_id;
    let input = format!(r#"{{"type": "File", "uri": "{}"}}"#, test_video());
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    // As fast as the model goes: the clip's 80 s take a fraction of that.
    let fast = r#"{"path": "Input/realtime", "jsonValue": "false"}"#;
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(fast)).await.0, 204);
    id
}

fn count(rs: &[Record], event: &str) -> usize {
    rs.iter().filter(|r| r.event == event).count()
}

#[tokio::test]
async fn intrusion_pairs_and_crossing_directions_on_the_clip() {
    let s = media_server();
    let c = s.client();
    let id = running_instance(&s).await;
    let area = c
        .securt_create_area_intrusion(
            &id,
            &serde_json::from_value(
                json!({"name": "path", "coordinates": footpath(), "classes": ["Person"]}),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner()
        .area_id;
    // A vertical line drawn top to bottom: `Up` is towards the right.
    let line = c
        .securt_create_line_crossing(&id, &serde_json::from_value(json!({"name": "gate", "coordinates": [{"x": 0.6, "y": 0.15}, {"x": 0.6, "y": 0.75}]})).unwrap())
        .await
        .unwrap()
        .into_inner()
        .line_id;
    c.start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let records = read_sse(&s, &path, None, Duration::from_secs(40), |rs| {
        count(rs, "event-intrusion-end") >= 3 && count(rs, "event-line-crossing") >= 4
    })
    .await;
    c.stop_instance(&id).await.unwrap();

    // Every intrusion end closes a start of the same track, with its id.
    let starts: BTreeMap<String, &Record> = records
        .iter()
        .filter(|r| r.event == "event-intrusion")
        .map(|r| (r.data["event_id"].as_str().unwrap().to_string(), r))
        .collect();
    let ends: Vec<&Record> = records.iter().filter(|r| r.event == "event-intrusion-end").collect();
    assert!(ends.len() >= 3, "{} intrusion ends, {} starts", ends.len(), starts.len());
    for end in &ends {
        let start =
            starts.get(end.data["event_id"].as_str().unwrap()).expect("end matches a start");
        assert_eq!(start.data["tracking_id"], end.data["tracking_id"]);
        assert_eq!(end.data["area_id"], json!(area));
        assert!(end.data["event_duration_ms"].as_i64().unwrap() > 0);
        assert!(end.id > start.id);
    }
    let mut open = BTreeSet::new();
    for r in &records {
        let key = r.data["event_id"].as_str().map(String::from);
        match r.event.as_str() {
            "event-intrusion" => assert!(open.insert(key.unwrap()), "started twice"),
            "event-intrusion-end" => assert!(open.remove(&key.unwrap()), "ended twice"),
            _ => {}
        }
    }

    // Each crossing's direction agrees with the walker's motion: the track's
    // anchor is left of the line before an `Up` crossing and right after it.
    let mut xs: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.event == "track") {
        let l = &r.data["location"];
        let x = l["x"].as_f64().unwrap() + l["width"].as_f64().unwrap() / 2.0;
        let t = r.data["event_timestamp_ms"].as_i64().unwrap();
        xs.entry(r.data["tracking_id"].as_str().unwrap().into()).or_default().push((t, x));
    }
    let crossings: Vec<&Record> =
        records.iter().filter(|r| r.event == "event-line-crossing").collect();
    assert!(crossings.len() >= 4, "{} crossings", crossings.len());
    let mut checked = 0;
    for cr in &crossings {
        assert_eq!(cr.data["line_id"], json!(line));
        let track = cr.data["tracking_id"].as_str().unwrap();
        let t = cr.data["event_timestamp_ms"].as_i64().unwrap();
        let path = &xs[track];
        let before = path.iter().rev().find(|(pt, _)| *pt <= t - 1000);
        let after = path.iter().find(|(pt, _)| *pt >= t + 300);
        let (Some(b), Some(a)) = (before, after) else { continue };
        let moved_right = a.1 > b.1;
        let dir = cr.data["direction"].as_str().unwrap();
        assert_eq!(dir == "Up", moved_right, "track {track} {dir}: x {} -> {}", b.1, a.1);
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} crossings had track positions around them");
}

#[tokio::test]
async fn lines_added_and_deleted_while_running_take_effect() {
    let s = media_server();
    let c = s.client();
    let id = running_instance(&s).await;
    c.start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    // Nothing to cross yet.
    let before = read_sse(&s, &path, None, Duration::from_secs(3), |_| false).await;
    assert!(count(&before, "track") > 0);
    assert_eq!(count(&before, "event-line-crossing"), 0);
    let w = serde_json::from_value(
        json!({"coordinates": [{"x": 0.6, "y": 0.15}, {"x": 0.6, "y": 0.75}]}),
    )
    .unwrap();
    let line = c.securt_create_line_crossing(&id, &w).await.unwrap().into_inner().line_id;
    let with = read_sse(&s, &path, None, Duration::from_secs(30), |rs| {
        count(rs, "event-line-crossing") >= 2
    })
    .await;
    assert!(count(&with, "event-line-crossing") >= 2, "the new line fires without a restart");
    c.securt_delete_line(&id, &line.parse().unwrap()).await.unwrap();
    // Events already in flight may still arrive; after a moment, none.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = read_sse(&s, &path, None, Duration::from_secs(5), |_| false).await;
    assert!(count(&after, "track") > 0);
    assert_eq!(count(&after, "event-line-crossing"), 0, "the deleted line is silent");
    let stats = c.securt_get_stats(&id).await.unwrap().into_inner();
    assert!(stats.is_running && stats.frames_processed > 0 && stats.frame_rate > 0.0);
}

/// SIGKILL while the clip produces events: after it, the database passes
/// its integrity check and holds every analytics event a client received
/// over SSE before the kill (SSE sends them only once they are stored).
#[tokio::test]
async fn events_seen_over_sse_survive_sigkill() {
    let mut s = media_server();
    let id = running_instance(&s).await;
    let area = json!({"name": "path", "coordinates": footpath(), "classes": ["Person"]});
    let (status, body) = s
        .raw("POST", &format!("/v1/securt/instance/{id}/area/intrusion"), Some(&area.to_string()))
        .await;
    assert_eq!(status, 201, "{body}");
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let records = read_sse(&s, &path, None, Duration::from_secs(40), |rs| {
        rs.iter().filter(|r| r.event.starts_with("event-")).count() >= 6
    })
    .await;
    // Still running: the kill lands in the middle of the burst.
    s.kill9();
    let seen: BTreeSet<u64> =
        records.iter().filter(|r| r.event.starts_with("event-")).filter_map(|r| r.id).collect();
    assert!(seen.len() >= 6, "{} analytics events before the kill", seen.len());

    let db = rt_pipeline::db::Db::open_sqlite(&s.data_dir.join("rt.db")).await.unwrap();
    assert_eq!(db.integrity_check().await.unwrap(), "ok");
    let (first, last) = (*seen.first().unwrap(), *seen.last().unwrap());
    let stored: BTreeSet<u64> = db
        .stored_events_between(id, first - 1, last + 1, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    let lost: Vec<&u64> = seen.difference(&stored).collect();
    assert!(lost.is_empty(), "seen over SSE but not stored: {lost:?}");
    db.close().await;
}
