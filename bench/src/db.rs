//! `rt-bench --db` (issue 5): the store, on each backend, used directly
//! through `rt_pipeline::db` (the writer and the query functions the HTTP
//! handlers call; no HTTP in between).
//!
//! - sustained ingest: [`EVENTS`] analytics events pushed into the batched
//!   [`Writer`] as fast as it takes them, timed from the first push until
//!   the writer reports all of them committed (target on SQLite >= 20,000
//!   events/s);
//! - with those 1,000,000 events stored, p50/p99 of a filtered, paginated
//!   events query (one day, two equality filters, newest first, 100 rows at
//!   a varying offset) and of an hourly analytics query (count per hour and
//!   object class over one day) (target p99 <= 50 ms).
//!
//! SQLite is a file in a temporary directory; PostgreSQL is a throwaway
//! cluster (`initdb` into a temporary directory, `pg_ctl start` on a free
//! port as `postgres`, stopped at the end), as the tests do.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rt_pipeline::db::Db;
use rt_pipeline::db::query::{AnalyticsQuery, Metric, RowsQuery, Table, TimeRange};
use rt_pipeline::db::writer::{EventRow, Row, Writer};
use serde_json::{Map, Value, json};

use crate::percentile;

/// Events stored (and ingested) on each backend.
pub const EVENTS: u64 = 1_000_000;
/// Runs of each query (after [`WARMUP`] unmeasured ones).
const RUNS: usize = 200;
const WARMUP: usize = 10;
/// The stored events are spread evenly over this many days.
const DAYS: i64 = 10;
/// 2026-11-01 00:00 UTC, microseconds: the first stored event.
const START_US: i64 = 1_793_491_200_000_000;
const DAY_US: i64 = 86_400_000_000;

const TYPES: [(&str, &str); 4] = [
    ("event-line-crossing", "Line Crossing"),
    ("event-area-enter", "Area Enter"),
    ("event-area-exit", "Area Exit"),
    ("event-intrusion", "Intrusion"),
];
const CLASSES: [&str; 4] = ["person", "vehicle", "bicycle", "animal"];
const INSTANCES: [&str; 4] = [
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003",
    "00000000-0000-4000-8000-000000000004",
];

/// A small deterministic generator (xorshift), so every run stores the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The `i`th stored event.
fn event(i: u64, rng: &mut Rng) -> Row {
    let (kind, event_type) = TYPES[rng.below(TYPES.len() as u64) as usize];
    let class = CLASSES[rng.below(CLASSES.len() as u64) as usize];
    let instance = INSTANCES[(i % INSTANCES.len() as u64) as usize];
    let ts = START_US + (i as i64) * (DAYS * DAY_US / EVENTS as i64);
    let area = rng.below(8);
    let tracking = rng.below(100_000);
    let payload = json!({
        "event_id": format!("{i:016x}"),
        "area_id": format!("area-{area}"),
        "area_name": format!("Area {area}"),
        "tracking_id": tracking.to_string(),
        "object_class": class,
        "direction": "in",
        "count": 1,
        "system_timestamp": ts / 1000,
        "location": {"x": 0.25, "y": 0.5, "width": 0.1, "height": 0.2},
    });
    Row::Event(EventRow {
        instance_id: instance.to_string(),
        seq: (i / INSTANCES.len() as u64) as i64 + 1,
        kind: kind.to_string(),
        event_id: Some(format!("{i:016x}")),
        event_type: Some(event_type.to_string()),
        trigger_id: Some(format!("area-{area}")),
        trigger_name: Some(format!("Area {area}")),
        tracking_id: Some(tracking.to_string()),
        object_class: Some(class.to_string()),
        direction: Some("in".to_string()),
        count: Some(1),
        event_duration_ms: None,
        system_timestamp: ts,
        payload: payload.to_string(),
    })
}

/// Pushes [`EVENTS`] events through the writer; events/s until all are committed.
async fn ingest(db: &Db) -> Result<f64> {
    let writer = Writer::start(db.clone(), Default::default());
    let stats = writer.stats().clone();
    let producer = writer.clone();
    let start = Instant::now();
    let push = tokio::spawn(async move {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..EVENTS {
            producer.push(event(i, &mut rng)).await;
        }
    });
    let mut last = (0, Instant::now());
    loop {
        let n = stats.events_written.load(std::sync::atomic::Ordering::Relaxed);
        if n >= EVENTS {
            break;
        }
        anyhow::ensure!(
            stats.failed_batches.load(std::sync::atomic::Ordering::Relaxed) == 0,
            "the writer failed a batch"
        );
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("the writer stalled at {n} of {EVENTS} events");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    push.await?;
    Ok(EVENTS as f64 / secs)
}

fn iso(us: i64) -> String {
    rt_pipeline::db::query::format_time(us)
}

fn filters(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect()
}

/// (p50, p99) in milliseconds of `RUNS` runs of `run(i)`.
async fn time<F, Fut>(mut run: F) -> Result<(f64, f64)>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<usize>>,
{
    for i in 0..WARMUP {
        run(i).await?;
    }
    let mut ms = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let t = Instant::now();
        let rows = run(i).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(rows > 0, "the query returned no rows");
    }
    ms.sort_by(f64::total_cmp);
    Ok((percentile(&ms, 0.5), percentile(&ms, 0.99)))
}

/// The figures of one backend.
#[derive(Debug)]
pub struct Figures {
    pub ingest: f64,
    pub events_query: (f64, f64),
    pub analytics_query: (f64, f64),
}

async fn measure(db: &Db) -> Result<Figures> {
    let ingest = ingest(db).await?;
    // One day of the ten, a different one for each run.
    let day = |i: usize| {
        let s = START_US + (i as i64 % DAYS) * DAY_US;
        Some(TimeRange { start: iso(s), end: iso(s + DAY_US) })
    };
    let events_query = time(|i| {
        let q = RowsQuery {
            time_range: day(i),
            filters: filters(&[("event_type", "Line Crossing"), ("object_class", "person")]),
            columns: None,
            order_by: Some("system_timestamp desc".into()),
            limit: Some(100),
            offset: Some((i as i64 % 10) * 100),
            after_id: None,
        };
        async move { Ok(db.query_rows(Table::Events, &q).await?.len()) }
    })
    .await?;
    let analytics_query = time(|i| {
        let q = AnalyticsQuery {
            metrics: vec![("count".into(), Metric { function: "count".into(), field: None })],
            time_range: day(i),
            filters: Map::new(),
            group_by: vec!["object_class".into()],
            interval: Some(("hour".into(), 1)),
        };
        async move { Ok(db.query_analytics(&q).await?.len()) }
    })
    .await?;
    Ok(Figures { ingest, events_query, analytics_query })
}

/// Both backends: (SQLite, PostgreSQL).
pub async fn run() -> Result<(Figures, Figures)> {
    let dir = std::env::temp_dir().join(format!("rt-bench-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    eprintln!("bench: SQLite, ingest {EVENTS} events and query them");
    let db = Db::open_sqlite(&dir.join("rt.db")).await.context("opening SQLite")?;
    let sqlite = measure(&db).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite = sqlite?;

    eprintln!("bench: PostgreSQL (throwaway cluster), ingest {EVENTS} events and query them");
    let cluster = rt_pipeline::db::pg_test::Cluster::start();
    let db = Db::open_url(&cluster.url()).await.context("opening PostgreSQL")?;
    let postgres = measure(&db).await;
    db.close().await;
    drop(cluster);
    Ok((sqlite, postgres?))
}
