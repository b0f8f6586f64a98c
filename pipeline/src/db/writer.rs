//! The store writer: every analytics event (`event-*`) of every instance,
//! and a subsampled record of track positions, written in batches.
//!
//! Each instance's bus gets a forwarding task that subscribes like any SSE
//! client, so the pipeline never waits for the database: when the writer
//! falls behind, the bus lets the subscriber lag, and the task resumes from
//! the bus's replay ring after the last event it forwarded (only what the
//! ring no longer holds is lost, and counted as `dropped`). One batching
//! task writes whatever is queued in one transaction at a time: up to
//! [`BATCH`] rows, at least every [`FLUSH_EVERY`]. [`WriterStats`] says how
//! far behind it is.
//!
//! Each instance has a durability watermark ([`Writer::durable`]): the
//! highest sequence number of its analytics events that is committed (or
//! given up on after a failed batch). SSE holds an analytics event back
//! until the watermark passes it, so an event a client has seen is in the
//! store even if the server is killed the next moment.
//!
//! Rows are keyed by `(instance_id, seq)` (the bus's sequence number), and
//! written with `ON CONFLICT DO NOTHING`, so a replayed event is stored once.
//!
//! At shutdown, once the instances have stopped, [`Writer::drain`] makes
//! every forwarding task read what its bus still holds and end, and
//! [`Writer::flush`] waits until every queued row is committed: nothing a
//! pipeline published before it stopped is lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, watch};
use tracing::warn;
use uuid::Uuid;

use super::{Db, db_error, now_micros, on_pool};
use crate::error::{Result, chain};
use crate::events::{Event, EventBus};

/// Largest batch written in one transaction.
pub const BATCH: usize = 2_000;
/// Longest a queued row waits for its batch.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Rows queued between the forwarding tasks and the batching task.
pub const QUEUE: usize = 50_000;
/// At most one stored position per track per this many microseconds.
pub const TRACK_SAMPLE_US: i64 = 1_000_000;

/// How the writer is doing; shared, read at any time.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Events stored.
    pub events_written: AtomicU64,
    /// Track positions stored.
    pub tracks_written: AtomicU64,
    /// Rows waiting to be written.
    pub pending: AtomicU64,
    /// Events lost because the writer fell further behind than the bus
    /// retains (or the queue was full).
    pub dropped: AtomicU64,
    /// Age in milliseconds of the oldest row of the last batch when it was
    /// written: how far the store is behind the pipeline.
    pub lag_ms: AtomicI64,
    /// Batches that failed to write (logged; their rows are lost).
    pub failed_batches: AtomicU64,
}

impl WriterStats {
    /// A JSON summary (for system information).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "events_written": self.events_written.load(Ordering::Relaxed),
            "tracks_written": self.tracks_written.load(Ordering::Relaxed),
            "pending": self.pending.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "lag_ms": self.lag_ms.load(Ordering::Relaxed),
            "failed_batches": self.failed_batches.load(Ordering::Relaxed),
        })
    }
}

/// One stored analytics event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub instance_id: String,
    pub seq: i64,
    pub kind: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub trigger_id: Option<String>,
    pub trigger_name: Option<String>,
    pub tracking_id: Option<String>,
    pub object_class: Option<String>,
    pub direction: Option<String>,
    pub count: Option<i64>,
    pub event_duration_ms: Option<i64>,
    /// Microseconds since the epoch.
    pub system_timestamp: i64,
    pub payload: String,
}

/// One stored track position.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    pub instance_id: String,
    pub tracking_id: String,
    pub object_class: Option<String>,
    pub confidence: Option<f64>,
    pub system_timestamp: i64,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A row for the batching task.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Event(EventRow),
    Track(TrackRow),
}

/// RT's human-readable event type of an event name: `event-line-crossing`
/// -> `Line Crossing`, `event-intrusion-end` -> `Intrusion End`.
pub fn event_type(kind: &str) -> Option<String> {
    let name = kind.strip_prefix("event-")?;
    let words: Vec<String> = name
        .split('-')
        .map(|w| match w {
            "alpr" => "ALPR".to_string(),
            w => {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
        })
        .collect();
    Some(words.join(" "))
}

/// A payload value for a column of its own. PostgreSQL's text holds no NUL
/// character (one in an area's name failed every batch holding its events,
/// other instances' rows with them): it becomes U+FFFD, as in the payload's
/// own JSON it stays escaped.
fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    let s = match m.get(key)? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        v => v.to_string(),
    };
    Some(if s.contains('\0') { s.replace('\0', "\u{FFFD}") } else { s })
}

/// The payload's `system_timestamp` (milliseconds) in microseconds, or now.
fn timestamp(m: &Map<String, Value>) -> i64 {
    m.get("system_timestamp")
        .and_then(Value::as_i64)
        .map_or_else(now_micros, |ms| ms.saturating_mul(1000))
}

/// The stored row of an analytics event; `None` for other events.
pub fn event_row(instance_id: Uuid, e: &Event) -> Option<EventRow> {
    let event_type = event_type(&e.kind)?;
    let m: Map<String, Value> = serde_json::from_str(&e.data).ok()?;
    Some(EventRow {
        instance_id: instance_id.to_string(),
        seq: i64::try_from(e.seq).unwrap_or(i64::MAX),
        kind: e.kind.clone(),
        event_id: text(&m, "event_id"),
        event_type: Some(event_type),
        trigger_id: text(&m, "area_id").or_else(|| text(&m, "line_id")),
        trigger_name: text(&m, "area_name").or_else(|| text(&m, "line_name")),
        tracking_id: text(&m, "tracking_id"),
        object_class: text(&m, "object_class"),
        direction: text(&m, "direction"),
        count: m.get("count").and_then(Value::as_i64),
        event_duration_ms: m.get("event_duration_ms").and_then(Value::as_i64),
        system_timestamp: timestamp(&m),
        payload: e.data.clone(),
    })
}

/// The stored position of a confirmed `track` event.
pub fn track_row(instance_id: Uuid, e: &Event) -> Option<TrackRow> {
    if e.kind != "track" {
        return None;
    }
    let m: Map<String, Value> = serde_json::from_str(&e.data).ok()?;
    if m.get("tentative").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let loc = m.get("location")?;
    let f = |k: &str| loc.get(k).and_then(Value::as_f64);
    Some(TrackRow {
        instance_id: instance_id.to_string(),
        tracking_id: text(&m, "tracking_id")?,
        object_class: text(&m, "object_class"),
        confidence: m.get("detection_confidence").and_then(Value::as_f64),
        system_timestamp: timestamp(&m),
        x: f("x")?,
        y: f("y")?,
        width: f("width")?,
        height: f("height")?,
    })
}

/// What the batching task is sent. Rows are the traffic; the size of the
/// rare flush does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Msg {
    Row(Row),
    /// Answered once every row sent before it is committed.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The writer: attach buses to it; it stores what they publish.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
    durable: Watermarks,
    /// Set by [`Writer::drain`]: forwarding tasks finish their bus and end.
    draining: watch::Sender<bool>,
}

/// Per instance: the highest analytics event seq that is stored.
type Watermarks = Arc<std::sync::Mutex<HashMap<Uuid, watch::Sender<u64>>>>;

fn watermark(marks: &Watermarks, id: Uuid) -> watch::Sender<u64> {
    let mut m = marks.lock().unwrap_or_else(|p| p.into_inner());
    m.entry(id).or_insert_with(|| watch::Sender::new(0)).clone()
}

impl Writer {
    /// Starts the batching task on `db`, counting into `stats` (created
    /// first by whoever also reports them, e.g. instance statistics).
    pub fn start(db: Db, stats: Arc<WriterStats>) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let durable = Watermarks::default();
        tokio::spawn(batch_loop(db, rx, stats.clone(), durable.clone()));
        Writer { tx, stats, durable, draining: watch::Sender::new(false) }
    }

    /// Makes every forwarding task store what its bus holds after the last
    /// event it forwarded, then end (call it once the pipelines stopped).
    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// Whether [`Self::drain`] was called (for whoever attaches buses).
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Resolves once every row queued before the call is committed (or
    /// given up on after a failed batch, which is counted).
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The durability watermark of `instance_id` (see the module notes).
    pub fn durable(&self, instance_id: Uuid) -> watch::Receiver<u64> {
        watermark(&self.durable, instance_id).subscribe()
    }

    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    /// Stores a row now (tests, imports); waits for room in the queue.
    pub async fn push(&self, row: Row) {
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Msg::Row(row)).await.is_err() {
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Forwards `bus`'s events, starting with everything its ring holds,
    /// until the returned task is aborted, the bus closes, or [`Self::drain`]
    /// (then after what the bus holds).
    pub fn attach(&self, instance_id: Uuid, bus: Arc<EventBus>) -> tokio::task::JoinHandle<()> {
        let writer = self.clone();
        tokio::spawn(async move { writer.forward(instance_id, bus).await })
    }

    async fn forward(self, instance_id: Uuid, bus: Arc<EventBus>) {
        let mut last_track: HashMap<String, i64> = HashMap::new();
        let mut after = 0u64;
        let mut draining = self.draining.subscribe();
        loop {
            let sub = bus.subscribe(Some(after));
            self.stats.dropped.fetch_add(sub.missed, Ordering::Relaxed);
            let mut live = sub.live;
            for e in sub.replay {
                after = e.seq;
                self.offer(instance_id, &e, &mut last_track).await;
            }
            if *draining.borrow_and_update() {
                // What the bus held is stored: done.
                return;
            }
            loop {
                let next = tokio::select! {
                    next = live.recv() => next,
                    // Resubscribe once more: the replay is what is left.
                    _ = draining.changed() => break,
                };
                match next {
                    Ok(e) => {
                        if e.seq <= after {
                            continue;
                        }
                        after = e.seq;
                        self.offer(instance_id, &e, &mut last_track).await;
                    }
                    // Fell behind: resubscribe from the ring after `after`.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }

    async fn offer(&self, instance_id: Uuid, e: &Event, last_track: &mut HashMap<String, i64>) {
        let row = if let Some(r) = event_row(instance_id, e) {
            Row::Event(r)
        } else if let Some(t) = track_row(instance_id, e) {
            let last = last_track.get(&t.tracking_id).copied();
            if last.is_some_and(|l| t.system_timestamp - l < TRACK_SAMPLE_US) {
                return;
            }
            if last_track.len() > 10_000 {
                last_track.clear();
            }
            last_track.insert(t.tracking_id.clone(), t.system_timestamp);
            Row::Track(t)
        } else {
            return;
        };
        self.push(row).await;
    }
}

/// Tells every flush waiting on the rows just written that they are.
fn ack_all(acks: &mut Vec<tokio::sync::oneshot::Sender<()>>) {
    for ack in acks.drain(..) {
        // A waiter that gave up is fine.
        let _ = ack.send(());
    }
}

async fn batch_loop(
    db: Db,
    mut rx: mpsc::Receiver<Msg>,
    stats: Arc<WriterStats>,
    durable: Watermarks,
) {
    let mut msgs = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut acks = Vec::new();
    loop {
        if rx.recv_many(&mut msgs, BATCH).await == 0 {
            return;
        }
        // Let a batch fill for a moment when events trickle in (not when
        // someone waits for a flush).
        let flushing = |m: &[Msg]| m.iter().any(|m| matches!(m, Msg::Flush(_)));
        if msgs.len() < BATCH && !flushing(&msgs) {
            let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
            while msgs.len() < BATCH && !flushing(&msgs) {
                let room = BATCH - msgs.len();
                match tokio::time::timeout_at(deadline, rx.recv_many(&mut msgs, room)).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        for m in msgs.drain(..) {
            match m {
                Msg::Row(r) => batch.push(r),
                Msg::Flush(ack) => acks.push(ack),
            }
        }
        if batch.is_empty() {
            ack_all(&mut acks);
            continue;
        }
        let oldest = batch
            .iter()
            .map(|r| match r {
                Row::Event(e) => e.system_timestamp,
                Row::Track(t) => t.system_timestamp,
            })
            .min()
            .unwrap_or_else(now_micros);
        let n = batch.len() as u64;
        match db.write_batch(&batch).await {
            Ok((events, tracks)) => {
                stats.events_written.fetch_add(events, Ordering::Relaxed);
                stats.tracks_written.fetch_add(tracks, Ordering::Relaxed);
            }
            Err(e) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                warn!(error = %chain(&e), rows = n, "store writer: batch lost");
            }
        }
        // Advanced after a failure too: those rows are lost (and counted),
        // and SSE must not hold events back for them.
        let mut highest: HashMap<&str, i64> = HashMap::new();
        for r in &batch {
            if let Row::Event(e) = r {
                let h = highest.entry(e.instance_id.as_str()).or_insert(e.seq);
                *h = (*h).max(e.seq);
            }
        }
        for (id, seq) in highest {
            if let Ok(id) = Uuid::parse_str(id) {
                let seq = u64::try_from(seq).unwrap_or(0);
                watermark(&durable, id).send_if_modified(|d| {
                    let newer = seq > *d;
                    if newer {
                        *d = seq;
                    }
                    newer
                });
            }
        }
        stats.pending.fetch_sub(n, Ordering::Relaxed);
        stats.lag_ms.store((now_micros() - oldest) / 1000, Ordering::Relaxed);
        batch.clear();
        ack_all(&mut acks);
    }
}

impl Db {
    /// Stored events of `instance_id` with `after < seq < before`, oldest
    /// first, at most `limit`: (seq, event name, payload). Serves SSE
    /// clients that resume from before the bus's replay ring (a restart).
    pub async fn stored_events_between(
        &self,
        instance_id: Uuid,
        after: u64,
        before: u64,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT seq, kind, payload FROM events WHERE instance_id = $1 AND seq > $2 AND seq < $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(instance_id.to_string())
        .bind(clamp(after))
        .bind(clamp(before))
        .bind(limit)
        .fetch_all(p)
        .await
        .map_err(db_error)?);
        Ok(rows
            .into_iter()
            .map(|(seq, kind, data)| Event { seq: u64::try_from(seq).unwrap_or(0), kind, data })
            .collect())
    }

    /// Writes rows in one transaction; returns (events, tracks) stored.
    pub async fn write_batch(&self, rows: &[Row]) -> Result<(u64, u64)> {
        let (mut events, mut tracks) = (0, 0);
        on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_error)?;
            for row in rows {
                match row {
                    Row::Event(e) => {
                        events += sqlx::query(
                            "INSERT INTO events (instance_id, seq, kind, event_id, event_type, \
                             trigger_id, trigger_name, tracking_id, object_class, direction, count, \
                             event_duration_ms, system_timestamp, payload) VALUES \
                             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                             ON CONFLICT (instance_id, seq) DO NOTHING",
                        )
                        .bind(&e.instance_id)
                        .bind(e.seq)
                        .bind(&e.kind)
                        .bind(&e.event_id)
                        .bind(&e.event_type)
                        .bind(&e.trigger_id)
                        .bind(&e.trigger_name)
                        .bind(&e.tracking_id)
                        .bind(&e.object_class)
                        .bind(&e.direction)
                        .bind(e.count)
                        .bind(e.event_duration_ms)
                        .bind(e.system_timestamp)
                        .bind(&e.payload)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                    }
                    Row::Track(t) => {
                        tracks += sqlx::query(
                            "INSERT INTO tracks (instance_id, tracking_id, object_class, confidence, \
                             system_timestamp, x, y, width, height) VALUES \
                             ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(&t.instance_id)
                        .bind(&t.tracking_id)
                        .bind(&t.object_class)
                        .bind(t.confidence)
                        .bind(t.system_timestamp)
                        .bind(t.x)
                        .bind(t.y)
                        .bind(t.width)
                        .bind(t.height)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                    }
                }
            }
            tx.commit().await.map_err(db_error)?;
        });
        Ok((events, tracks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_become_rt_event_types() {
        for (kind, want) in [
            ("event-line-crossing", Some("Line Crossing")),
            ("event-intrusion-end", Some("Intrusion End")),
            ("event-area-enter", Some("Area Enter")),
            ("event-crowd-detection", Some("Crowd Detection")),
            ("event-crowd-detection-end", Some("Crowd Detection End")),
            ("event-object-left-removed", Some("Object Left Removed")),
            ("event-fallen-person-end", Some("Fallen Person End")),
            ("track", None),
            ("statistics", None),
        ] {
            assert_eq!(event_type(kind).as_deref(), want, "{kind}");
        }
    }
}
