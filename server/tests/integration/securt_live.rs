//! SecuRT rules on a running instance, with the real model on the clip:
//! intrusion start/end pairs, line crossings whose direction agrees with
//! the walkers' motion, rules added or removed while running, and RT's
//! track gating, event names and tracking ids.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::media::{Record, media_server, read_sse, test_video};

/// The paved area in the middle of the clip, where people walk.
fn footpath() -> Value {
    json!([{"x": 0.35, "y": 0.25}, {"x": 0.95, "y": 0.25}, {"x": 0.95, "y": 0.6}, {"x": 0.35, "y": 0.6}])
}

/// An instance on the clip, with every track update sent (`debugMode`).
async fn running_instance(s: &crate::common::TestServer) -> uuid::Uuid {
    instance_on_clip(s, true, json!({"type": "File", "uri": test_video()})).await
}

/// A running instance on the clip with an intrusion area on the footpath.
async fn watching_the_footpath(s: &crate::common::TestServer) -> uuid::Uuid {
    let id = running_instance(s).await;
    let area = json!({"name": "path", "coordinates": footpath(), "classes": ["Person"]});
    let (status, body) = s
        .raw("POST", &format!("/v1/securt/instance/{id}/area/intrusion"), Some(&area.to_string()))
        .await;
    assert_eq!(status, 201, "{body}");
    s.client().start_instance(&id).await.unwrap();
    id
}

/// An instance on the clip, read as fast as the model goes.
async fn instance_on_clip(s: &crate::common::TestServer, debug: bool, input: Value) -> uuid::Uuid {
    let w = serde_json::from_value(json!({"name": "live", "debugMode": debug})).unwrap();
    let id = s.client().securt_create_instance(&w).await.unwrap().into_inner().instance_id;
    let input = input.to_string();
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

/// A file that does not loop ends its open analytics events at its last
/// frame: every intrusion a client saw has its end, with nobody stopping
/// the instance.
#[tokio::test]
async fn a_file_that_ends_ends_its_open_events() {
    let s = media_server();
    let input = json!({"type": "File", "uri": test_video()});
    let id = instance_on_clip(&s, false, input).await;
    let once = r#"{"path": "Input/loop", "jsonValue": "false"}"#;
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(once)).await.0, 204);
    // The whole picture: people are in it to the clip's last frame.
    let everywhere =
        json!([{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}, {"x": 0, "y": 1}]);
    let area = json!({"name": "all", "coordinates": everywhere, "classes": ["Person"]});
    let path = format!("/v1/securt/instance/{id}/area/intrusion");
    assert_eq!(s.raw("POST", &path, Some(&area.to_string())).await.0, 201);
    s.client().start_instance(&id).await.unwrap();
    let open = |rs: &[Record]| {
        let mut open = BTreeSet::new();
        for r in rs {
            let key = r.data["event_id"].as_str().map(String::from);
            match r.event.as_str() {
                "event-intrusion" => assert!(open.insert(key.unwrap()), "started twice"),
                "event-intrusion-end" => assert!(open.remove(&key.unwrap()), "ended twice"),
                _ => {}
            }
        }
        open.len()
    };
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let records = read_sse(&s, &path, None, Duration::from_secs(90), |rs| {
        count(rs, "event-intrusion") >= 3 && open(rs) == 0
    })
    .await;
    assert_eq!(open(&records), 0, "{} intrusions", count(&records, "event-intrusion"));
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
    let id = watching_the_footpath(&s).await;
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

fn uuid_of(r: &Record, key: &str) -> uuid::Uuid {
    r.data[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{} {key} is not a UUID: {}", r.event, r.data))
}

fn event_ids(r: &Record) -> Vec<String> {
    r.data["events"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// A crowding area over the whole frame with count 1 gives RT's
/// `event-crowd-detection`; the `track` updates sent are only those taking
/// part in an event, and those that follow carry the crowd's id.
#[tokio::test]
async fn crowding_fires_rt_event_and_gates_tracks_on_it() {
    let s = media_server();
    let id = instance_on_clip(&s, false, json!({"type": "File", "uri": test_video()})).await;
    let whole = json!([{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}, {"x": 0, "y": 1}]);
    let area =
        json!({"name": "all", "coordinates": whole, "classes": ["Person"], "objectCount": 1});
    let path = format!("/v1/securt/instance/{id}/area/crowding");
    let (status, body) = s.raw("POST", &path, Some(&area.to_string())).await;
    assert_eq!(status, 201, "{body}");
    s.client().start_instance(&id).await.unwrap();
    let sse = format!("/v1/core/instance/{id}/consume_events_sse");
    let records = read_sse(&s, &sse, None, Duration::from_secs(40), |rs| {
        let start = rs.iter().position(|r| r.event == "event-crowd-detection");
        start.is_some_and(|i| count(&rs[i..], "track") >= 10)
    })
    .await;
    s.client().stop_instance(&id).await.unwrap();

    let start = records
        .iter()
        .position(|r| r.event == "event-crowd-detection")
        .expect("event-crowd-detection, RT's name for crowding");
    assert!(!records.iter().any(|r| r.event == "event-crowd"), "the old name is gone");
    let crowd = records[start].data["event_id"].as_str().unwrap().to_string();
    let mut tracks_after = 0;
    for r in &records {
        match r.event.as_str() {
            "track" => {
                uuid_of(r, "tracking_id");
                let events = event_ids(r);
                assert!(!events.is_empty(), "a track update with no event was sent: {}", r.data);
                if r.id > records[start].id {
                    assert!(events.contains(&crowd), "{} lacks the crowd {crowd}", r.data);
                    tracks_after += 1;
                }
            }
            "crop" => {
                uuid_of(r, "ref_tracking_id");
                uuid_of(r, "ref_event_id");
            }
            "event-crowd-detection-end" => break,
            _ => {}
        }
    }
    assert!(tracks_after >= 10, "{tracks_after} track updates after the crowd started");
}

/// With only a rule nobody triggers, no `track` (and no `crop`) is sent;
/// turning `debugMode` on sends every update, live.
#[tokio::test]
async fn no_track_without_an_event_unless_debug_mode() {
    let s = media_server();
    let id = instance_on_clip(&s, false, json!({"type": "File", "uri": test_video()})).await;
    // A corner of the sky: nobody walks there.
    let corner =
        json!([{"x": 0, "y": 0}, {"x": 0.05, "y": 0}, {"x": 0.05, "y": 0.05}, {"x": 0, "y": 0.05}]);
    let area = json!({"name": "sky", "coordinates": corner});
    let (status, body) = s
        .raw("POST", &format!("/v1/securt/instance/{id}/area/intrusion"), Some(&area.to_string()))
        .await;
    assert_eq!(status, 201, "{body}");
    s.client().start_instance(&id).await.unwrap();
    let sse = format!("/v1/core/instance/{id}/consume_events_sse");
    // Until the pipeline has seen people for a while (statistics say how
    // many frames it processed).
    let quiet = read_sse(&s, &sse, None, Duration::from_secs(30), |rs| {
        rs.iter()
            .any(|r| r.event == "statistics" && r.data["frames_processed"].as_u64() > Some(100))
    })
    .await;
    assert!(count(&quiet, "statistics") >= 1, "the instance is processing");
    assert_eq!(count(&quiet, "track"), 0, "tracks sent with no event");
    assert_eq!(count(&quiet, "crop"), 0, "crops sent with no event");

    let debug = r#"{"path": "debugMode", "jsonValue": "true"}"#;
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(debug)).await.0, 204);
    let loud =
        read_sse(&s, &sse, None, Duration::from_secs(20), |rs| count(rs, "track") >= 5).await;
    s.client().stop_instance(&id).await.unwrap();
    assert!(count(&loud, "track") >= 5, "debugMode sends every update");
}

/// Tracking ids are UUIDs, and a sensitivity change mid-run does not make the
/// tracker hand out an old track's id again (it used to restart at 1). The
/// input is RT's `RTSP` type with a `file://` URI, as RT's clients say it.
#[tokio::test]
async fn tracking_ids_are_uuids_never_reused_after_a_sensitivity_change() {
    let s = media_server();
    let input = json!({"type": "RTSP", "uri": format!("file://{}", test_video())});
    let id = instance_on_clip(&s, true, input).await;
    s.client().start_instance(&id).await.unwrap();
    let sse = format!("/v1/core/instance/{id}/consume_events_sse");
    let stream_ms = |rs: &[Record]| {
        rs.iter().filter_map(|r| r.data["event_timestamp_ms"].as_i64()).max().unwrap_or(0)
    };
    // 6 s of the clip, then the change, then 6 s more.
    let before =
        read_sse(&s, &sse, None, Duration::from_secs(40), |rs| stream_ms(rs) >= 6000).await;
    let last = before.iter().filter_map(|r| r.id).max().expect("records before the change");
    let high = r#"{"path": "detectionSensitivity", "jsonValue": "\"High\""}"#;
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/config"), Some(high)).await.0, 204);
    let until = stream_ms(&before) + 6000;
    let after =
        read_sse(&s, &sse, Some(last), Duration::from_secs(40), |rs| stream_ms(rs) >= until).await;
    s.client().stop_instance(&id).await.unwrap();

    // Each id's sightings form one life: a track unseen for 1 s is dropped
    // by the tracker, so an id seen again after 3 s of stream time would be
    // a second object under an old id.
    let mut lives: BTreeMap<uuid::Uuid, Vec<i64>> = BTreeMap::new();
    for r in before.iter().chain(&after).filter(|r| r.event == "track") {
        let t = r.data["event_timestamp_ms"].as_i64().unwrap();
        lives.entry(uuid_of(r, "tracking_id")).or_default().push(t);
    }
    assert!(lives.len() >= 5, "{} tracks", lives.len());
    assert!(count(&after, "track") > 0, "tracks after the change");
    for (tid, times) in &lives {
        for w in times.windows(2) {
            assert!(w[1] - w[0] < 3000, "{tid} seen at {} then again at {}", w[0], w[1]);
        }
    }
}

/// SIGTERM while the clip produces events: the server exits 0 and has stored
/// every analytics event its pipelines published, the ends of the events
/// the stop closed included. A `track` update names
/// the events it takes part in the moment they are published, before they
/// are stored (SSE holds analytics events back until then), so the ids it
/// names are exactly what a hasty shutdown would lose.
#[tokio::test]
async fn sigterm_stores_every_event_published_before_it() {
    let mut s = media_server();
    let id = watching_the_footpath(&s).await;
    let sse = format!("/v1/core/instance/{id}/consume_events_sse");
    let named = |rs: &[Record]| -> BTreeSet<String> {
        rs.iter().filter(|r| r.event == "track").flat_map(event_ids).collect()
    };
    let records =
        read_sse(&s, &sse, None, Duration::from_secs(40), |rs| named(rs).len() >= 3).await;
    // At once, while the clip still produces events.
    s.sigterm();
    let exit = s.wait_exit(Duration::from_secs(30)).expect("the server exits after SIGTERM");
    assert!(exit.success(), "exit status {exit:?}");
    let published = named(&records);
    assert!(published.len() >= 3, "{} events named by tracks", published.len());

    let db = rt_pipeline::db::Db::open_sqlite(&s.data_dir.join("rt.db")).await.unwrap();
    let rows = db.stored_events_between(id, 0, u64::MAX, 100_000).await.unwrap();
    // The event ids stored, of one kind or of any (`None`).
    let stored = |kind: Option<&str>| -> BTreeSet<String> {
        rows.iter()
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .filter_map(|e| {
                let v: Value = serde_json::from_str(&e.data).ok()?;
                v["event_id"].as_str().map(String::from)
            })
            .collect()
    };
    let lost: Vec<String> = published.difference(&stored(None)).cloned().collect();
    assert!(lost.is_empty(), "published before SIGTERM but not stored: {lost:?}");
    // The stop ended the intrusions still open, in the pipeline's very last
    // moments: each start is stored with its end.
    let (starts, ends) = (stored(Some("event-intrusion")), stored(Some("event-intrusion-end")));
    assert!(!starts.is_empty());
    let unended: Vec<&String> = starts.difference(&ends).collect();
    assert!(unended.is_empty(), "intrusions stored without their end: {unended:?}");
    db.close().await;
}
