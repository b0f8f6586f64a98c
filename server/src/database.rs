//! The `/v1/database` operations (wire <-> engine query types), and the
//! task that attaches every instance's event bus to the store writer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rt_api::database as wire;
use rt_pipeline::db::Db;
use rt_pipeline::db::query::{self, RowsQuery, Table};
use rt_pipeline::db::retention::Policy;
use rt_pipeline::engine::Lifecycle;
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tracing::warn;

use crate::context::ServerContext;
use crate::error::{Error, chain};

fn range(r: Option<wire::TimeRange>) -> Option<query::TimeRange> {
    r.map(|r| query::TimeRange { start: r.start_time, end: r.end_time })
}

fn records<T: serde::de::DeserializeOwned>(rows: Vec<Map<String, Value>>) -> Result<Vec<T>, Error> {
    rows.into_iter()
        .map(|mut r| {
            // Absent and NULL read the same on the wire: the column is left out.
            r.retain(|_, v| !v.is_null());
            serde_json::from_value(Value::Object(r))
                .map_err(|e| Error::Internal(format!("stored row does not fit the contract: {e}")))
        })
        .collect()
}

pub async fn events(db: &Db, q: wire::EventsQuery) -> Result<wire::EventsResult, Error> {
    let q = RowsQuery {
        time_range: range(q.time_range),
        filters: q.filters.unwrap_or_default(),
        columns: q.columns,
        order_by: q.order_by,
        limit: q.limit.map(i64::from),
        offset: q.offset,
        after_id: q.after_id,
    };
    let rows = db.query_rows(Table::Events, &q).await?;
    Ok(wire::EventsResult { data: records(rows)? })
}

pub async fn tracks(db: &Db, q: wire::TracksQuery) -> Result<wire::TracksResult, Error> {
    let mut filters = q.filters.unwrap_or_default();
    if let Some(id) = q.instance_id {
        filters.insert("instance_id".into(), Value::String(id.to_string()));
    }
    let q = RowsQuery {
        time_range: range(q.time_range),
        filters,
        columns: q.columns,
        order_by: q.order_by,
        limit: q.limit.map(i64::from),
        offset: q.offset,
        after_id: q.after_id,
    };
    let rows = db.query_rows(Table::Tracks, &q).await?;
    Ok(wire::TracksResult { data: records(rows)? })
}

fn lower<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

pub async fn analytics(db: &Db, q: wire::AnalyticsQuery) -> Result<wire::AnalyticsResult, Error> {
    let metrics: BTreeMap<String, wire::Metric> = q.metrics;
    let q = query::AnalyticsQuery {
        metrics: metrics
            .into_iter()
            .map(|(name, m)| (name, query::Metric { function: lower(m.function), field: m.field }))
            .collect(),
        time_range: range(q.time_range),
        filters: q.filters.unwrap_or_default(),
        group_by: q.group_by.unwrap_or_default(),
        interval: q.interval.map(|i| (lower(i.unit), i64::from(i.size.unwrap_or(1)))),
    };
    Ok(wire::AnalyticsResult { data: db.query_analytics(&q).await? })
}

/// Attaches each instance's bus to the writer as the engine announces
/// instances, and detaches it when one is deleted. Ends when the engine's
/// announcements do, or on [`Writer::drain`] (shutdown): then each bus is
/// stored to its end before this returns.
///
/// [`Writer::drain`]: rt_pipeline::db::writer::Writer::drain
pub async fn attach_buses(ctx: Arc<ServerContext>) {
    let (engine, writer) = (&ctx.engine, &ctx.writer);
    // Subscribed before listing: an instance created in between is both
    // listed and announced, and attached once.
    let mut announced = engine.subscribe();
    let mut attached: BTreeMap<uuid::Uuid, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let attach = |id: uuid::Uuid, attached: &mut BTreeMap<_, tokio::task::JoinHandle<()>>| {
        if !attached.contains_key(&id)
            && let Ok(bus) = engine.bus(id)
        {
            attached.insert(id, writer.attach(id, bus));
        }
    };
    let resync = |attached: &mut BTreeMap<uuid::Uuid, tokio::task::JoinHandle<()>>| {
        let ids: Vec<uuid::Uuid> = engine.list().into_iter().map(|i| i.id).collect();
        attached.retain(|id, task| {
            let keep = ids.contains(id);
            if !keep {
                task.abort();
            }
            keep
        });
        ids
    };
    for id in resync(&mut attached) {
        attach(id, &mut attached);
    }
    let mut draining = writer.draining();
    loop {
        let announcement = tokio::select! {
            a = announced.recv() => a,
            _ = draining.wait_for(|d| *d) => break,
        };
        match announcement {
            Ok(Lifecycle::Created(id)) => attach(id, &mut attached),
            Ok(Lifecycle::Deleted(id)) => {
                if let Some(task) = attached.remove(&id) {
                    task.abort();
                }
            }
            Ok(Lifecycle::Started(_) | Lifecycle::Stopped(_)) => {}
            // Missed announcements: the directory says what exists.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                for id in resync(&mut attached) {
                    attach(id, &mut attached);
                }
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    // Each forwarder stores what its bus holds, then ends.
    for (_, task) in attached {
        let _ = task.await;
    }
}

/// Enforces `policy` every `every`. Runs until aborted.
pub async fn retention(ctx: Arc<ServerContext>, policy: Policy, every: Duration) {
    loop {
        if let Err(e) = ctx.db.enforce_retention(&policy, &ctx.retention).await {
            warn!(error = %chain(&e), "database retention failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// Lines for `GET /v1/core/system/info`.
pub fn info(ctx: &ServerContext) -> Vec<(String, String)> {
    let (db, s, r) = (&ctx.db, ctx.writer.stats(), &ctx.retention);
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed).to_string();
    vec![
        ("Database".into(), format!("{:?}", db.backend())),
        ("Database events written".into(), n(&s.events_written)),
        ("Database track positions written".into(), n(&s.tracks_written)),
        ("Database writer pending rows".into(), n(&s.pending)),
        ("Database writer lag (ms)".into(), s.lag_ms.load(Ordering::Relaxed).to_string()),
        ("Database writer dropped events".into(), n(&s.dropped)),
        ("Database writer failed batches".into(), n(&s.failed_batches)),
        ("Database size (bytes)".into(), n(&r.size_bytes)),
        ("Database rows removed by age".into(), n(&r.removed_by_age)),
        ("Database rows removed by size".into(), n(&r.removed_by_size)),
    ]
}
