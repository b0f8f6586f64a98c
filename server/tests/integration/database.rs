//! `/v1/database/{events,tracks,analytics}` over HTTP, on a SQLite file
//! seeded before the server starts (the query semantics themselves are
//! table-tested in `rt_pipeline::db`), and the writer's lines in system
//! information.

use rt_pipeline::db::Db;
use rt_pipeline::db::writer::{EventRow, Row, TrackRow};
use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

const INSTANCE: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// 2024-11-27T08:00:00Z.
const T0: i64 = 1_732_694_400_000_000;
const MIN: i64 = 60_000_000;

/// 40 events, one a minute: lines crossed by people (even) and vehicles
/// (odd), and 3 track positions.
async fn seed(dir: &std::path::Path) {
    let db = Db::open_sqlite(&dir.join("rt.db")).await.unwrap();
    let mut rows: Vec<Row> = (0..40)
        .map(|i| {
            let class = if i % 2 == 0 { "Person" } else { "Vehicle" };
            Row::Event(EventRow {
                instance_id: INSTANCE.into(),
                seq: i,
                kind: "event-line-crossing".into(),
                event_id: Some(uuid::Uuid::new_v4().to_string()),
                event_type: Some("Line Crossing".into()),
                trigger_id: Some(uuid::Uuid::nil().to_string()),
                trigger_name: Some("Door".into()),
                tracking_id: Some(i.to_string()),
                object_class: Some(class.into()),
                direction: Some("Up".into()),
                count: Some(1),
                event_duration_ms: Some(0),
                system_timestamp: T0 + i * MIN,
                payload: json!({"$id": "event-line-crossing", "$version": 1, "i": i}).to_string(),
            })
        })
        .collect();
    rows.extend((0..3).map(|i| {
        Row::Track(TrackRow {
            instance_id: INSTANCE.into(),
            tracking_id: "7".into(),
            object_class: Some("Person".into()),
            confidence: Some(0.9),
            system_timestamp: T0 + i * MIN,
            x: 0.25 * i as f64,
            y: 0.5,
            width: 0.1,
            height: 0.2,
        })
    }));
    db.write_batch(&rows).await.unwrap();
    db.close().await;
}

/// A server over the seeded events, which are from 2024: `database` is
/// its rtconfig.json block (retention would remove them by default).
async fn seeded_server_with(database: Value) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path()).await;
    let config = json!({"database": database}).to_string();
    std::fs::write(dir.path().join("rtconfig.json"), config).unwrap();
    let mut s = TestServer::start_in(dir.path(), &[]);
    s.keep(dir);
    s
}

async fn seeded_server() -> TestServer {
    seeded_server_with(json!({"max_age_days": null})).await
}

fn info(v: &Value, name: &str) -> Option<String> {
    v["systemInfo"]
        .as_array()?
        .iter()
        .find(|e| e["displayName"] == name)
        .and_then(|e| e["value"].as_str().map(String::from))
}

#[tokio::test]
async fn retention_removes_old_events_and_says_so() {
    let s = seeded_server_with(json!({"max_age_days": 1, "retention_every_secs": 1})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, v) = s.raw("GET", "/v1/core/system/info", None).await;
        let removed = info(&v, "Database rows removed by age").unwrap_or_default();
        if removed == "43" {
            let size: u64 = info(&v, "Database size (bytes)").unwrap().parse().unwrap();
            assert!(size > 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "removed by age: {removed:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let out = post(&s, "/v1/database/events", json!({})).await;
    assert_eq!(out["data"], json!([]));
}

async fn post(s: &TestServer, path: &str, body: Value) -> Value {
    let (status, out) = s.raw("POST", path, Some(&body.to_string())).await;
    assert_eq!(status, 200, "{path} {body}: {out}");
    out
}

#[tokio::test]
async fn stored_events_are_queried_filtered_and_paged() {
    let s = seeded_server().await;
    let out = post(
        &s,
        "/v1/database/events",
        json!({
            "timeRange": {"startTime": "2024-11-27T08:10:00Z", "endTime": "2024-11-27T08:20:00Z"},
            "filters": {"object_class": "Vehicle", "instance_id": INSTANCE},
            "columns": ["id", "system_timestamp", "event_type", "object_class", "direction", "payload"],
            "orderBy": "system_timestamp desc",
        }),
    )
    .await;
    let data = out["data"].as_array().unwrap();
    let times: Vec<&str> = data.iter().map(|r| r["system_timestamp"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        [
            "2024-11-27T08:19:00.000Z",
            "2024-11-27T08:17:00.000Z",
            "2024-11-27T08:15:00.000Z",
            "2024-11-27T08:13:00.000Z",
            "2024-11-27T08:11:00.000Z"
        ]
    );
    let first = data[0].as_object().unwrap();
    assert_eq!(first.len(), 6, "{first:?}");
    assert_eq!(first["event_type"], "Line Crossing");
    assert_eq!(first["payload"]["i"], 19);

    // The afterId cursor walks every event once, newest first.
    let mut seen = Vec::new();
    let mut query = json!({"limit": 7, "columns": ["id", "tracking_id"]});
    loop {
        let page = post(&s, "/v1/database/events", query.clone()).await["data"].clone();
        let page = page.as_array().unwrap();
        let Some(last) = page.last() else { break };
        seen.extend(
            page.iter().map(|r| r["tracking_id"].as_str().unwrap().parse::<i64>().unwrap()),
        );
        query["afterId"] = last["id"].clone();
    }
    assert_eq!(seen, (0..40).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn tracks_and_analytics_are_served() {
    let s = seeded_server().await;
    let out = post(
        &s,
        "/v1/database/tracks",
        json!({"instanceId": INSTANCE, "columns": ["x", "tracking_id"]}),
    )
    .await;
    assert_eq!(
        out["data"],
        json!([{"x": 0.0, "tracking_id": "7"}, {"x": 0.25, "tracking_id": "7"}, {"x": 0.5, "tracking_id": "7"}])
    );
    let other = post(&s, "/v1/database/tracks", json!({"instanceId": uuid::Uuid::nil()})).await;
    assert_eq!(other["data"], json!([]));

    let out = post(
        &s,
        "/v1/database/analytics",
        json!({
            "metrics": {"crossings": {"function": "count"}, "total": {"function": "sum", "field": "count"}},
            "groupBy": ["object_class"],
            "interval": {"unit": "minute", "size": 30},
        }),
    )
    .await;
    assert_eq!(
        out["data"],
        json!([
            {"bucket": "2024-11-27T08:00:00.000Z", "object_class": "Person", "crossings": 15, "total": 15},
            {"bucket": "2024-11-27T08:00:00.000Z", "object_class": "Vehicle", "crossings": 15, "total": 15},
            {"bucket": "2024-11-27T08:30:00.000Z", "object_class": "Person", "crossings": 5, "total": 5},
            {"bucket": "2024-11-27T08:30:00.000Z", "object_class": "Vehicle", "crossings": 5, "total": 5},
        ])
    );

    // The writer reports itself in system information.
    let (_, info) = s.raw("GET", "/v1/core/system/info", None).await;
    let names: Vec<&str> = info["systemInfo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["displayName"].as_str())
        .collect();
    for want in ["Database", "Database writer lag (ms)", "Database writer dropped events"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
}

#[tokio::test]
async fn bad_database_queries_name_the_field() {
    let s = TestServer::start();
    let e = "/v1/database/events";
    let a = "/v1/database/analytics";
    let cases = [
        Case::new("POST", e, Some(r#"{"filters": {"colour": "red"}}"#), 400, "filters.colour"),
        Case::new("POST", e, Some(r#"{"columns": ["id", "secret"]}"#), 400, "columns"),
        Case::new("POST", e, Some(r#"{"orderBy": "id; DROP TABLE events"}"#), 400, "orderBy"),
        Case::new("POST", e, Some(r#"{"limit": 0}"#), 400, "limit"),
        Case::new("POST", e, Some(r#"{"limit": 10001}"#), 400, "limit"),
        Case::new("POST", e, Some(r#"{"offset": -1}"#), 400, "offset"),
        Case::new("POST", e, Some(r#"{"offset": 5, "afterId": 3}"#), 400, "afterId"),
        Case::new(
            "POST",
            e,
            Some(
                r#"{"timeRange": {"startTime": "2024-11-28T00:00:00Z", "endTime": "2024-11-27T00:00:00Z"}}"#,
            ),
            400,
            "timeRange",
        ),
        Case::new(
            "POST",
            e,
            Some(
                r#"{"timeRange": {"startTime": "2024-11-27 00:00", "endTime": "2024-11-28T00:00:00Z"}}"#,
            ),
            400,
            "timeRange.startTime",
        ),
        Case::new(
            "POST",
            "/v1/database/tracks",
            Some(r#"{"columns": ["payload"]}"#),
            400,
            "columns",
        ),
        Case::new("POST", a, Some(r#"{"metrics": {}}"#), 400, "metrics"),
        Case::new(
            "POST",
            a,
            Some(r#"{"metrics": {"x": {"function": "median"}}}"#),
            400,
            "function",
        ),
        Case::new(
            "POST",
            a,
            Some(r#"{"metrics": {"x": {"function": "sum"}}}"#),
            400,
            "metrics.x.field",
        ),
        Case::new(
            "POST",
            a,
            Some(
                r#"{"metrics": {"x": {"function": "count"}}, "groupBy": ["event_type", "object_class", "direction", "trigger_name"]}"#,
            ),
            400,
            "groupBy",
        ),
        Case::new(
            "POST",
            a,
            Some(
                r#"{"metrics": {"x": {"function": "count"}}, "interval": {"unit": "hour", "size": 0}}"#,
            ),
            400,
            "interval.size",
        ),
        // Wider than 64 bits of microseconds: refused, not a panic or a 500.
        Case::new(
            "POST",
            a,
            Some(
                r#"{"metrics": {"x": {"function": "count"}}, "interval": {"unit": "day", "size": 200000000}}"#,
            ),
            400,
            "interval.size: 200000000 days is too long an interval",
        ),
    ];
    check_cases(&s, &cases).await;
}

/// A client that resumes with a `Last-Event-ID` from before the server
/// started (older than any bus ring) gets the stored events after it.
#[tokio::test]
async fn sse_resumes_from_the_store_across_restarts() {
    let s = seeded_server().await;
    let (status, body) = s
        .raw("PUT", &format!("/v1/core/instance/{INSTANCE}"), Some(r#"{"solution": "securt"}"#))
        .await;
    assert_eq!(status, 201, "{body}");
    let path = format!("/v1/core/instance/{INSTANCE}/consume_events_sse");
    let records =
        crate::media::read_sse(&s, &path, Some(36), std::time::Duration::from_secs(5), |r| {
            r.len() >= 3
        })
        .await;
    let got: Vec<(Option<u64>, &str, &Value)> =
        records.iter().map(|r| (r.id, r.event.as_str(), &r.data["i"])).collect();
    assert_eq!(
        got,
        [
            (Some(37), "event-line-crossing", &json!(37)),
            (Some(38), "event-line-crossing", &json!(38)),
            (Some(39), "event-line-crossing", &json!(39)),
        ]
    );
}
