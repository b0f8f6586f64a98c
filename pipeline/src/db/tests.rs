//! Query semantics on a real database, as tables of cases: filters,
//! ordering, pagination by offset and by cursor, buckets, and every bad
//! input refused with the field it names. Runs on SQLite here; the same
//! cases run on PostgreSQL through [`check_all`] when a URL is given.

use serde_json::{Value, json};

use super::query::{AnalyticsQuery, Metric, RowsQuery, Table, TimeRange};
use super::writer::{EventRow, Row, TrackRow};
use super::*;
use crate::db::now_micros;

/// 2024-11-27T08:00:00Z in microseconds.
const T0: i64 = 1_732_694_400_000_000;
const MIN: i64 = 60_000_000;
const INSTANCE: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";

/// Event `i`: every 10 minutes from T0; even ones are line crossings of
/// "Door", odd ones intrusions in "Yard"; every third a vehicle; `count`
/// = i, duration = 100 i ms. Event 10 shares event 5's time.
fn event(i: i64) -> EventRow {
    let ts = if i == 10 { T0 + 50 * MIN } else { T0 + i * 10 * MIN };
    let (kind, ty, name) = if i % 2 == 0 {
        ("event-line-crossing", "Line Crossing", "Door")
    } else {
        ("event-intrusion", "Intrusion", "Yard")
    };
    EventRow {
        instance_id: INSTANCE.into(),
        seq: 1000 + i,
        kind: kind.into(),
        event_id: Some(format!("e{i}")),
        event_type: Some(ty.into()),
        trigger_id: None,
        trigger_name: Some(name.into()),
        tracking_id: Some(i.to_string()),
        object_class: Some(if i % 3 == 0 { "Vehicle" } else { "Person" }.into()),
        direction: (i % 2 == 0).then(|| if i % 4 == 0 { "Up" } else { "Down" }.into()),
        count: Some(i),
        event_duration_ms: Some(100 * i),
        system_timestamp: ts,
        payload: json!({"$id": kind, "i": i}).to_string(),
    }
}

async fn seeded(db: &Db) {
    let rows: Vec<Row> = (0..=10).map(|i| Row::Event(event(i))).collect();
    assert_eq!(db.write_batch(&rows).await.unwrap(), (11, 0));
    // Written twice: stored once.
    assert_eq!(db.write_batch(&rows[..2]).await.unwrap(), (0, 0));
    let tracks: Vec<Row> = (0..4)
        .map(|i| {
            Row::Track(TrackRow {
                instance_id: INSTANCE.into(),
                tracking_id: (i % 2).to_string(),
                object_class: Some("Person".into()),
                confidence: Some(0.5),
                system_timestamp: T0 + i * MIN,
                x: 0.1 * i as f64,
                y: 0.2,
                width: 0.1,
                height: 0.3,
            })
        })
        .collect();
    assert_eq!(db.write_batch(&tracks).await.unwrap(), (0, 4));
}

fn q(v: Value) -> RowsQuery {
    let m = v.as_object().cloned().unwrap_or_default();
    let range = m.get("timeRange").map(|r| TimeRange {
        start: r["startTime"].as_str().unwrap().into(),
        end: r["endTime"].as_str().unwrap().into(),
    });
    RowsQuery {
        time_range: range,
        filters: m.get("filters").and_then(Value::as_object).cloned().unwrap_or_default(),
        columns: m.get("columns").map(|c| serde_json::from_value(c.clone()).unwrap()),
        order_by: m.get("orderBy").and_then(Value::as_str).map(String::from),
        limit: m.get("limit").and_then(Value::as_i64),
        offset: m.get("offset").and_then(Value::as_i64),
        after_id: m.get("afterId").and_then(Value::as_i64),
    }
}

/// The `i` of each returned event (from its tracking_id).
async fn ids(db: &Db, query: Value) -> Vec<i64> {
    let mut query = q(query);
    if let Some(c) = &mut query.columns {
        c.push("tracking_id".into());
    }
    db.query_rows(Table::Events, &query)
        .await
        .unwrap()
        .iter()
        .map(|r| r["tracking_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn events_cases(db: &Db) {
    let cases: Vec<(Value, Vec<i64>)> = vec![
        (json!({}), vec![9, 8, 7, 6, 10, 5, 4, 3, 2, 1, 0]),
        (json!({"filters": {"event_type": "Line Crossing"}}), vec![8, 6, 10, 4, 2, 0]),
        (json!({"filters": {"object_class": ["Vehicle"]}}), vec![9, 6, 3, 0]),
        (json!({"filters": {"object_class": "Vehicle", "event_type": "Intrusion"}}), vec![9, 3]),
        (json!({"filters": {"count": [1, 2, 3]}}), vec![3, 2, 1]),
        (json!({"filters": {"direction": null}}), vec![9, 7, 5, 3, 1]),
        (json!({"filters": {"direction": []}}), vec![]),
        (json!({"filters": {"instance_id": "00000000-0000-0000-0000-000000000000"}}), vec![]),
        (json!({"filters": {"trigger_name": "Door' OR 1=1 --"}}), vec![]),
        // Inclusive start, exclusive end.
        (
            json!({"timeRange": {"startTime": "2024-11-27T08:20:00Z", "endTime": "2024-11-27T09:00:00Z"}}),
            vec![10, 5, 4, 3, 2],
        ),
        (
            json!({"timeRange": {"startTime": "2024-11-27T10:20:00+02:00", "endTime": "2024-11-27T10:30:00+02:00"}}),
            vec![2],
        ),
        (json!({"orderBy": "count asc", "limit": 3}), vec![0, 1, 2]),
        (json!({"orderBy": "direction desc", "limit": 3}), vec![8, 4, 0]),
        (json!({"orderBy": "id asc", "offset": 8}), vec![8, 9, 10]),
        (json!({"orderBy": "system_timestamp asc", "limit": 2, "offset": 5}), vec![5, 10]),
        (json!({"columns": ["event_type"], "limit": 1}), vec![9]),
    ];
    for (query, want) in cases {
        assert_eq!(ids(db, query.clone()).await, want, "{query}");
    }

    // Rows hold exactly the asked columns, typed.
    let rows = db
        .query_rows(Table::Events, &q(json!({"columns": ["id", "system_timestamp", "payload", "count"], "limit": 1, "orderBy": "count asc"})))
        .await
        .unwrap();
    let row = Value::Object(rows[0].clone());
    assert_eq!(row.as_object().unwrap().len(), 4, "{row}");
    assert_eq!(row["system_timestamp"], "2024-11-27T08:00:00.000Z");
    assert_eq!(row["payload"], json!({"$id": "event-line-crossing", "i": 0}));
    assert_eq!(row["count"], 0);
}

/// Pages through every order with the cursor while events are added
/// (newer, so ahead of the cursor in desc order and behind it in asc):
/// each seeded event comes exactly once.
async fn cursor_cases(db: &Db) {
    for order in [
        "system_timestamp desc",
        "system_timestamp asc",
        "id desc",
        "count asc",
        "trigger_name desc",
    ] {
        let (mut seen, mut seen_ids) = (Vec::new(), Vec::new());
        let mut after: Option<i64> = None;
        let mut added = 100;
        loop {
            let mut query = json!({"orderBy": order, "limit": 3, "columns": ["id", "tracking_id"]});
            if let Some(a) = after {
                query["afterId"] = json!(a);
            }
            let rows = db.query_rows(Table::Events, &q(query.clone())).await.unwrap();
            if rows.is_empty() {
                break;
            }
            assert!(added < 130, "{order}: no end of pages: {query} {seen:?}");
            after = rows.last().unwrap()["id"].as_i64();
            seen_ids.extend(rows.iter().map(|r| r["id"].as_i64().unwrap()));
            seen.extend(rows.iter().map(|r| r["tracking_id"].as_str().unwrap().to_string()));
            if added >= 104 {
                continue;
            }
            // Something new arrives between pages.
            let mut e = event(added);
            e.seq = 5000 + added + 1000 * seen.len() as i64;
            e.tracking_id = Some(format!("new{added}"));
            e.system_timestamp = T0 + 1000 * MIN;
            e.count = Some(1000);
            e.trigger_name = Some("Zzz".into());
            db.write_batch(&[Row::Event(e)]).await.unwrap();
            added += 1;
        }
        let mut old: Vec<i64> = seen.iter().filter_map(|s| s.parse().ok()).collect();
        let n = old.len();
        old.sort();
        old.dedup();
        assert_eq!((n, old), (11, (0..=10).collect::<Vec<_>>()), "{order}: {seen:?}");
        let unique: std::collections::BTreeSet<_> = seen_ids.iter().collect();
        assert_eq!(unique.len(), seen_ids.len(), "{order}: duplicates in {seen:?} {seen_ids:?}");
    }
}

async fn bad_rows_cases(db: &Db) {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"filters": {"nope": 1}}), "filters.nope"),
        (json!({"filters": {"payload": "x"}}), "filters.payload"),
        (json!({"filters": {"count": "abc"}}), "filters.count"),
        (json!({"filters": {"system_timestamp": "yesterday"}}), "filters.system_timestamp"),
        (json!({"columns": ["id", "nope"]}), "columns"),
        (json!({"columns": []}), "columns"),
        (json!({"orderBy": "nope desc"}), "orderBy"),
        (json!({"orderBy": "id sideways"}), "orderBy"),
        (json!({"orderBy": "id desc; DROP TABLE events"}), "orderBy"),
        (json!({"orderBy": "payload asc"}), "orderBy"),
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 10001}), "limit"),
        (json!({"offset": -1}), "offset"),
        (json!({"offset": 1, "afterId": 3}), "afterId"),
        (
            json!({"timeRange": {"startTime": "2024-11-28T00:00:00Z", "endTime": "2024-11-27T00:00:00Z"}}),
            "timeRange",
        ),
        (
            json!({"timeRange": {"startTime": "2024-11-27T00:00:00", "endTime": "2024-11-28T00:00:00Z"}}),
            "timeRange.startTime",
        ),
        (
            json!({"timeRange": {"startTime": "2024-11-27T00:00:00Z", "endTime": "tomorrow"}}),
            "timeRange.endTime",
        ),
    ];
    for (query, field) in cases {
        match db.query_rows(Table::Events, &q(query.clone())).await {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{query}"),
            other => panic!("{query}: want Invalid {field}, got {other:?}"),
        }
    }
}

async fn tracks_cases(db: &Db) {
    let rows =
        db.query_rows(Table::Tracks, &q(json!({"filters": {"tracking_id": "1"}}))).await.unwrap();
    let xs: Vec<f64> = rows.iter().map(|r| r["x"].as_f64().unwrap()).collect();
    assert_eq!(xs.len(), 2);
    assert!((xs[0] - 0.1).abs() < 1e-9 && (xs[1] - 0.3).abs() < 1e-9, "{xs:?}");
    assert_eq!(rows[0]["system_timestamp"], "2024-11-27T08:01:00.000Z");
    match db.query_rows(Table::Tracks, &q(json!({"columns": ["event_type"]}))).await {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "columns"),
        other => panic!("{other:?}"),
    }
}

fn aq(v: Value) -> AnalyticsQuery {
    let m = v.as_object().unwrap();
    let rows = q(v.clone());
    AnalyticsQuery {
        metrics: m["metrics"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, m)| {
                let function = m["function"].as_str().unwrap().to_string();
                let field = m.get("field").and_then(Value::as_str).map(String::from);
                (k.clone(), Metric { function, field })
            })
            .collect(),
        time_range: rows.time_range,
        filters: rows.filters,
        group_by: m
            .get("groupBy")
            .map(|g| serde_json::from_value(g.clone()).unwrap())
            .unwrap_or_default(),
        interval: m.get("interval").map(|i| {
            (
                i["unit"].as_str().unwrap().to_string(),
                i.get("size").and_then(Value::as_i64).unwrap_or(1),
            )
        }),
    }
}

async fn analytics_cases(db: &Db) {
    let range = json!({"startTime": "2024-11-27T00:00:00Z", "endTime": "2024-11-28T00:00:00Z"});
    let cases: Vec<(Value, Value)> = vec![
        (json!({"metrics": {"n": {"function": "count"}}}), json!([{"n": 11}])),
        (
            json!({"metrics": {"n": {"function": "count"}, "total": {"function": "sum", "field": "count"}}, "groupBy": ["event_type"], "timeRange": range}),
            json!([{"event_type": "Intrusion", "n": 5, "total": 25}, {"event_type": "Line Crossing", "n": 6, "total": 30}]),
        ),
        (
            json!({"metrics": {"avg": {"function": "avg", "field": "event_duration_ms"}, "lo": {"function": "min", "field": "count"}, "hi": {"function": "max", "field": "count"}}, "filters": {"object_class": "Vehicle"}}),
            json!([{"avg": 450.0, "lo": 0, "hi": 9}]),
        ),
        // Buckets at boundaries: 08:00 holds 08:00-08:50 (and event 10).
        (
            json!({"metrics": {"n": {"function": "count"}}, "interval": {"unit": "hour"}}),
            json!([{"bucket": "2024-11-27T08:00:00.000Z", "n": 7}, {"bucket": "2024-11-27T09:00:00.000Z", "n": 4}]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "interval": {"unit": "minute", "size": 30}, "filters": {"event_type": "Intrusion"}}),
            json!([
                // 08:10 | 08:30 (on the boundary), 08:50 | 09:10 | 09:30.
                {"bucket": "2024-11-27T08:00:00.000Z", "n": 1},
                {"bucket": "2024-11-27T08:30:00.000Z", "n": 2},
                {"bucket": "2024-11-27T09:00:00.000Z", "n": 1},
                {"bucket": "2024-11-27T09:30:00.000Z", "n": 1},
            ]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "interval": {"unit": "week"}}),
            json!([{"bucket": "2024-11-25T00:00:00.000Z", "n": 11}]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "interval": {"unit": "month", "size": 3}}),
            json!([{"bucket": "2024-10-01T00:00:00.000Z", "n": 11}]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "interval": {"unit": "year"}}),
            json!([{"bucket": "2024-01-01T00:00:00.000Z", "n": 11}]),
        ),
        (
            json!({"metrics": {"share": {"function": "percentage", "field": "event_duration_ms"}}, "groupBy": ["trigger_name"], "interval": {"unit": "day"}}),
            json!([
                {"bucket": "2024-11-27T00:00:00.000Z", "trigger_name": "Door", "share": 3000.0 * 100.0 / 5500.0},
                {"bucket": "2024-11-27T00:00:00.000Z", "trigger_name": "Yard", "share": 2500.0 * 100.0 / 5500.0},
            ]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "groupBy": ["event_type", "object_class", "direction"], "filters": {"tracking_id": ["0", "1"]}}),
            json!([
                {"event_type": "Intrusion", "object_class": "Person", "direction": null, "n": 1},
                {"event_type": "Line Crossing", "object_class": "Vehicle", "direction": "Up", "n": 1},
            ]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "groupBy": ["count"], "filters": {"count": [3, 4]}}),
            json!([{"count": 3, "n": 1}, {"count": 4, "n": 1}]),
        ),
        (
            json!({"metrics": {"n": {"function": "count"}}, "timeRange": {"startTime": "2030-01-01T00:00:00Z", "endTime": "2030-01-02T00:00:00Z"}, "groupBy": ["event_type"]}),
            json!([]),
        ),
    ];
    for (query, want) in cases {
        let got = Value::Array(
            db.query_analytics(&aq(query.clone()))
                .await
                .unwrap()
                .into_iter()
                .map(Value::Object)
                .collect(),
        );
        assert_eq!(got, want, "{query}");
    }

    let bad: Vec<(Value, &str)> = vec![
        (json!({"metrics": {}}), "metrics"),
        (json!({"metrics": {"x": {"function": "median", "field": "count"}}}), "metrics.x.function"),
        (json!({"metrics": {"x": {"function": "sum"}}}), "metrics.x.field"),
        (json!({"metrics": {"x": {"function": "avg", "field": "event_type"}}}), "metrics.x.field"),
        (json!({"metrics": {"x": {"function": "max", "field": "nope"}}}), "metrics.x.field"),
        (
            json!({"metrics": {"x": {"function": "count"}}, "groupBy": ["a", "b", "c", "d"]}),
            "groupBy",
        ),
        (json!({"metrics": {"x": {"function": "count"}}, "groupBy": ["nope"]}), "groupBy"),
        (json!({"metrics": {"x": {"function": "count"}}, "groupBy": ["payload"]}), "groupBy"),
        (
            json!({"metrics": {"x": {"function": "count"}}, "interval": {"unit": "fortnight"}}),
            "interval.unit",
        ),
        (
            json!({"metrics": {"x": {"function": "count"}}, "interval": {"unit": "hour", "size": 0}}),
            "interval.size",
        ),
        (
            json!({"metrics": {"x": {"function": "count"}}, "interval": {"unit": "week", "size": 2_000_000_000}}),
            "interval.size",
        ),
        (
            json!({"metrics": {"x": {"function": "count"}}, "filters": {"bogus": 1}}),
            "filters.bogus",
        ),
        (
            json!({"metrics": {"x": {"function": "count"}}, "timeRange": {"startTime": "2024-11-28T00:00:00Z", "endTime": "2024-11-27T00:00:00Z"}}),
            "timeRange",
        ),
    ];
    for (query, field) in bad {
        match db.query_analytics(&aq(query.clone())).await {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{query}"),
            other => panic!("{query}: want Invalid {field}, got {other:?}"),
        }
    }
}

/// The registry's rules through the database API.
async fn registry_cases(db: &Db) {
    let v1 = db.registry_put("a/b", &json!({"x": 1}), None, None).await.unwrap();
    assert_eq!(db.registry_get("a/b").await.unwrap().value, json!({"x": 1}));
    db.registry_put("a/c", &json!("two"), None, None).await.unwrap();
    db.registry_put("A/d", &json!(null), None, None).await.unwrap();
    db.registry_put("a_x", &json!(1), None, None).await.unwrap();
    assert_eq!(db.registry_list("a/").await.unwrap(), ["a/b", "a/c"]);
    assert_eq!(db.registry_list("").await.unwrap(), ["A/d", "a/b", "a/c", "a_x"]);
    assert_eq!(db.registry_list("a_").await.unwrap(), ["a_x"]);
    let v2 = db.registry_put("a/b", &json!(2), None, Some(&registry::etag(v1))).await.unwrap();
    assert!(v2 > v1);
    for m in [registry::etag(v1), "\"zz\"".to_string()] {
        match db.registry_put("a/b", &json!(3), None, Some(&m)).await {
            Err(Error::PreconditionFailed(_)) => {}
            other => panic!("If-Match {m}: {other:?}"),
        }
    }
    assert!(matches!(
        db.registry_put("new", &json!(1), None, Some("*")).await,
        Err(Error::PreconditionFailed(_))
    ));
    assert!(matches!(
        db.registry_delete("a/b", Some(&registry::etag(v1))).await,
        Err(Error::PreconditionFailed(_))
    ));
    db.registry_delete("a/b", Some(&registry::etag(v2))).await.unwrap();
    assert!(matches!(db.registry_get("a/b").await, Err(Error::KeyNotFound(_))));
    assert!(matches!(
        db.registry_put("t", &json!(1), Some(0), None).await,
        Err(Error::Invalid { .. })
    ));
    db.registry_put("t", &json!(1), Some(1), None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(matches!(db.registry_get("t").await, Err(Error::KeyNotFound(_))));
    assert_eq!(db.sweep_registry().await.unwrap(), 1);
    let changes = db.registry_changes(0, "", 100).await.unwrap();
    let kinds: Vec<(&str, &str)> =
        changes.iter().map(|c| (c.key.as_str(), c.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("a/b", "set"),
            ("a/c", "set"),
            ("A/d", "set"),
            ("a_x", "set"),
            ("a/b", "set"),
            ("a/b", "delete"),
            ("t", "set"),
            ("t", "expire")
        ]
    );
    assert_eq!(db.registry_changes(changes[4].id, "a/", 100).await.unwrap().len(), 1);
    assert_eq!(db.registry_last_change().await.unwrap(), changes[7].id);
}

/// Retention by age keeps recent rows; by size removes the oldest share.
async fn retention_cases(db: &Db) {
    use super::retention::{Policy, RetentionStats};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    let now = now_micros();
    let rows: Vec<Row> = (0..2000)
        .map(|i| {
            let mut e = event(i % 10);
            e.seq = 100_000 + i;
            // Half of them a year old, half within the last hour.
            e.system_timestamp = if i < 1000 { now - 365 * 24 * 60 * MIN } else { now - i * 1000 };
            e.tracking_id = Some(format!("r{i}"));
            e.payload = "x".repeat(500);
            Row::Event(e)
        })
        .collect();
    db.write_batch(&rows).await.unwrap();
    let stats = RetentionStats::default();
    let by_age =
        Policy { max_age: Some(Duration::from_secs(30 * 24 * 3600)), max_size_bytes: None };
    db.enforce_retention(&by_age, &stats).await.unwrap();
    // The seeded 2024 events go too: they are older than 30 days.
    let removed = stats.removed_by_age.load(Ordering::Relaxed);
    assert!(removed >= 1000, "{removed}");
    let left = db
        .query_rows(Table::Events, &q(json!({"limit": 10000, "columns": ["id"]})))
        .await
        .unwrap()
        .len();
    assert!((1000..1100).contains(&left), "{left}");
    let size = db.data_size().await.unwrap();
    assert_eq!(stats.size_bytes.load(Ordering::Relaxed), size);

    let by_size = Policy { max_age: None, max_size_bytes: Some(size / 2) };
    db.enforce_retention(&by_size, &stats).await.unwrap();
    let removed = stats.removed_by_size.load(Ordering::Relaxed) as usize;
    assert!(removed >= left / 2, "{removed} of {left}");
    // The newest are kept.
    let newest = db
        .query_rows(
            Table::Events,
            &q(json!({"limit": 1, "columns": ["tracking_id"], "orderBy": "id desc"})),
        )
        .await
        .unwrap();
    assert!(!newest.is_empty());
}

/// Every case, on a fresh database.
pub async fn check_all(db: &Db) {
    registry_cases(db).await;
    seeded(db).await;
    events_cases(db).await;
    bad_rows_cases(db).await;
    tracks_cases(db).await;
    analytics_cases(db).await;
    cursor_cases(db).await;
    retention_cases(db).await;
    nul_cases(db).await;
}

/// A NUL character in a name (an area's, from the API) is stored as
/// U+FFFD in the columns of their own (PostgreSQL's text refuses it), and
/// escaped in the payload; the batch is written.
async fn nul_cases(db: &Db) {
    let e = crate::events::Event {
        seq: 7,
        kind: "event-intrusion".into(),
        data:
            json!({"area_name": "Ya\u{0}rd", "object_class": "Per\u{0}son", "system_timestamp": 1})
                .to_string(),
    };
    let row = writer::event_row(uuid::Uuid::from_u128(7), &e).unwrap();
    assert_eq!(row.trigger_name.as_deref(), Some("Ya\u{FFFD}rd"));
    assert_eq!(row.object_class.as_deref(), Some("Per\u{FFFD}son"));
    assert!(row.payload.contains("Ya\\u0000rd"), "{}", row.payload);
    assert_eq!(db.write_batch(&[Row::Event(row)]).await.unwrap(), (1, 0));
}

#[tokio::test]
async fn query_semantics_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("rt.db")).await.unwrap();
    check_all(&db).await;
    assert_eq!(db.integrity_check().await.unwrap(), "ok");
}

/// The writer stores a bus's analytics events (those published before it
/// attached too, from the ring) and one position per track per second,
/// and leaves other events out.
#[tokio::test]
async fn the_writer_stores_what_a_bus_publishes() {
    use std::sync::atomic::Ordering;

    use crate::events::{BusOptions, EventBus};

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("rt.db")).await.unwrap();
    let bus = std::sync::Arc::new(EventBus::new(BusOptions::default()));
    let obj = |v: Value| v.as_object().unwrap().clone();
    let early =
        bus.publish("event-intrusion", obj(json!({"area_name": "Yard", "system_timestamp": 1000})));
    let writer = writer::Writer::start(db.clone(), Default::default());
    let task = writer.attach(uuid::Uuid::nil(), bus.clone());
    for t in [0, 400, 1200] {
        let loc = json!({"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.4});
        bus.publish(
            "track",
            obj(json!({"tracking_id": "5", "system_timestamp": 5000 + t, "location": loc})),
        );
    }
    bus.publish("statistics", obj(json!({"system_timestamp": 7000})));
    bus.publish(
        "event-line-crossing",
        obj(json!({"line_name": "Door", "direction": "Up", "system_timestamp": 8000})),
    );
    let stats = writer.stats().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats.events_written.load(Ordering::Relaxed) < 2
        || stats.tracks_written.load(Ordering::Relaxed) < 2
    {
        assert!(std::time::Instant::now() < deadline, "{}", stats.to_json());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    let rows = db
        .query_rows(Table::Events, &q(json!({"orderBy": "id asc", "columns": ["event_type", "trigger_name", "direction", "system_timestamp"]})))
        .await
        .unwrap();
    assert_eq!(
        Value::Array(rows.into_iter().map(Value::Object).collect()),
        json!([
            {"event_type": "Intrusion", "trigger_name": "Yard", "direction": null, "system_timestamp": "1970-01-01T00:00:01.000Z"},
            {"event_type": "Line Crossing", "trigger_name": "Door", "direction": "Up", "system_timestamp": "1970-01-01T00:00:08.000Z"},
        ])
    );
    let tracks =
        db.query_rows(Table::Tracks, &q(json!({"columns": ["system_timestamp"]}))).await.unwrap();
    let times: Vec<&str> = tracks.iter().map(|r| r["system_timestamp"].as_str().unwrap()).collect();
    assert_eq!(times, ["1970-01-01T00:00:05.000Z", "1970-01-01T00:00:06.200Z"]);
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
    assert!(early > 0);
}

/// The same cases on a throwaway PostgreSQL cluster (see [`super::pg_test`]).
#[tokio::test]
async fn query_semantics_and_registry_on_postgres() {
    let cluster = super::pg_test::Cluster::start();
    let db = Db::open_url(&cluster.url()).await.unwrap();
    assert_eq!(db.backend(), Backend::Postgres);
    check_all(&db).await;
    db.close().await;
}

/// Shutdown: after `drain` the forwarding task stores what the bus holds and
/// ends, and `flush` returns once all of it is committed: every event
/// published before the drain is in the store, none twice.
#[tokio::test]
async fn drain_and_flush_store_everything_published_before() {
    use crate::events::{BusOptions, EventBus};

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("rt.db")).await.unwrap();
    let bus = std::sync::Arc::new(EventBus::new(BusOptions::default()));
    let writer = writer::Writer::start(db.clone(), Default::default());
    let task = writer.attach(uuid::Uuid::nil(), bus.clone());
    let n = 500;
    for i in 0..n {
        let e = json!({"area_name": format!("a{i}"), "system_timestamp": 1000 + i});
        bus.publish("event-intrusion", e.as_object().unwrap().clone());
    }
    writer.drain();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the forwarding task ends after a drain")
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), writer.flush())
        .await
        .expect("flush returns");
    let rows = db
        .query_rows(Table::Events, &q(json!({"limit": 10000, "columns": ["trigger_name"]})))
        .await
        .unwrap();
    assert_eq!(rows.len(), n as usize, "every event published before the drain is stored");
    db.close().await;
}

/// Transactions that read before they write (registry deletes, the TTL
/// sweep) wait for a concurrent writer instead of failing with "database is
/// locked" when their snapshot went stale (SQLite, WAL).
#[tokio::test]
async fn read_then_write_transactions_wait_for_other_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("rt.db")).await.unwrap();
    let writes = {
        let db = db.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                db.registry_put(&format!("busy/{}", i % 7), &json!(i), None, None).await.unwrap();
            }
        })
    };
    let mut deleted = 0;
    for i in 0..300 {
        let key = format!("gone/{i}");
        db.registry_put(&key, &json!(i), None, None).await.unwrap();
        db.registry_delete(&key, Some("*")).await.unwrap();
        db.sweep_registry().await.unwrap();
        deleted += 1;
    }
    writes.await.unwrap();
    assert_eq!(deleted, 300);
}
