//! `GET .../consume_events_sse`: an instance's events as Server-Sent Events.
//!
//! Each record is `id: <seq>`, `event: <type>`, one `data:` line of JSON.
//! A comment line (`: keep-alive`) goes out after a quiet time
//! (`web_server.sse_keepalive_s`, 15 s by default) so proxies keep the
//! connection. Every stream of this server ([`streaming`]) says
//! `Cache-Control: no-cache` and `X-Accel-Buffering: no`, so an nginx in
//! front passes each record on at once, even one left at its defaults
//! (which buffers responses). A client that reconnects with
//! `Last-Event-ID` gets the retained events after that id first; one that
//! falls too far behind (or asks for more than is retained) gets an
//! `event: lagged` record saying how many it missed, then live events again.
//! A slow client only ever slows itself: the bus never waits for it.
//! A `Last-Event-ID` older than the ring (from before a restart, or long
//! ago) is first served from the store: the analytics events stored after
//! it (at most [`FROM_STORE`]), then the ring, then live events.
//! Analytics events (`event-*`) go out only once the store writer has
//! committed them (up to [`DURABLE_WAIT`]), so whatever a client has seen
//! survives a crash of the server. Once such a wait runs out (a stalled
//! database), the stream's events go out without waiting until the store
//! has caught up, rather than one every [`DURABLE_WAIT`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dropshot::Body;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use http_body::Frame;
use rt_pipeline::db::Db;
use rt_pipeline::events::{Event, EventBus};
use tokio::sync::{broadcast, watch};
use tracing::warn;
use uuid::Uuid;

use crate::error::chain;
use crate::streams::StreamPermit;

/// Records buffered between the forwarding task and the connection: small,
/// so a stalled client is detected as lag on the bus rather than hidden here.
const BUFFER: usize = 32;

/// Longest an analytics event is held back waiting for the store; past it
/// (a stalled database) it is sent anyway.
pub const DURABLE_WAIT: Duration = Duration::from_secs(2);

/// Runs a stream's forwarding task until it ends or the server shuts down,
/// whichever comes first: a stream opened as the shutdown began, or one
/// whose client stopped reading (its sends waiting for room, for as long as
/// TCP takes to give up on the peer), never holds the shutdown up.
pub fn spawn_until_shutdown(
    mut shutdown: watch::Receiver<bool>,
    task: impl Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        tokio::select! {
            () = task => {}
            // Also when it is shutting down already (or cannot tell).
            _ = shutdown.wait_for(|closing| *closing) => {}
        }
    });
}

/// The store's progress, as one stream waits on it.
struct Durable {
    /// The last event stored.
    stored: watch::Receiver<u64>,
    /// How long an event waits for it.
    wait: Duration,
    /// A wait ran out and the store has not caught up since (a stalled
    /// database): events go out without waiting, or the live feed would
    /// slow to one analytics event per `wait` and lag behind the bus.
    stalled: bool,
}

impl Durable {
    fn new(stored: watch::Receiver<u64>) -> Self {
        Durable { stored, wait: DURABLE_WAIT, stalled: false }
    }

    /// Waits until the store holds `e` (analytics events only).
    async fn hold(&mut self, e: &Event) {
        if !e.kind.starts_with("event-") {
            return;
        }
        if self.stalled {
            self.stalled = *self.stored.borrow() < e.seq;
            return;
        }
        let wait = tokio::time::timeout(self.wait, self.stored.wait_for(|s| *s >= e.seq));
        if wait.await.is_err() {
            warn!(seq = e.seq, "store writer is behind: events sent before they are stored");
            self.stalled = true;
        }
    }
}

/// Most stored events replayed to one resuming client.
pub const FROM_STORE: i64 = 10_000;

/// One piece of a streamed body.
pub type Chunk = Result<Frame<Bytes>, std::io::Error>;

fn record(e: &Event) -> Bytes {
    Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", e.seq, e.kind, e.data))
}

fn lagged(missed: u64) -> Bytes {
    Bytes::from(format!(
        "event: lagged\ndata: {{\"$id\":\"lagged\",\"$version\":1,\"missed\":{missed}}}\n\n"
    ))
}

/// A `200` whose body streams from `chunks`: no caching, and no buffering
/// by a proxy (`X-Accel-Buffering: no` turns nginx's off for this response).
/// The body holds `permit`: the stream's place is freed when the body is
/// dropped.
pub fn streaming<S>(content_type: &str, chunks: S, permit: StreamPermit) -> http::Response<Body>
where
    S: futures::Stream<Item = Chunk> + Send + Sync + 'static,
{
    let chunks = chunks.map(move |c| {
        let _place = &permit;
        c
    });
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CACHE_CONTROL, "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(Body::wrap(http_body_util::StreamBody::new(chunks)))
        .expect("a valid response")
}

/// The streaming response for one client; a keep-alive comment goes out
/// after `keep_alive` without a record.
pub fn response(
    bus: &Arc<EventBus>,
    (last_event_id, permit): (Option<u64>, StreamPermit),
    keep_alive: Duration,
    shutdown: watch::Receiver<bool>,
    store: Option<(Db, Uuid)>,
    durable: Option<watch::Receiver<u64>>,
) -> http::Response<Body> {
    let mut durable = durable.map(Durable::new);
    let sub = bus.subscribe(last_event_id);
    let (mut tx, rx) = mpsc::channel::<Chunk>(BUFFER);
    spawn_until_shutdown(shutdown, async move {
        let mut live = sub.live;
        let send = |tx: &mut mpsc::Sender<Chunk>, b: Bytes| {
            let mut tx = tx.clone();
            async move { tx.send(Ok(Frame::data(b))).await.is_ok() }
        };
        // Headers go out at once; this comment is the first byte of body.
        if !send(&mut tx, Bytes::from_static(b": connected\n\n")).await {
            return;
        }
        // What the ring does not hold, from the store (analytics events).
        let ring_start = sub.replay.first().map_or(sub.next, |e| e.seq);
        if let (Some(after), Some((db, id))) = (last_event_id, &store)
            && after.saturating_add(1) < ring_start
        {
            match db.stored_events_between(*id, after, ring_start, FROM_STORE).await {
                Ok(stored) => {
                    for e in &stored {
                        if !send(&mut tx, record(e)).await {
                            return;
                        }
                    }
                }
                Err(e) => warn!(error = %chain(&e), "SSE resume from the store failed"),
            }
        }
        if sub.missed > 0 && !send(&mut tx, lagged(sub.missed)).await {
            return;
        }
        for e in &sub.replay {
            if let Some(d) = &mut durable {
                d.hold(e).await;
            }
            if !send(&mut tx, record(e)).await {
                return;
            }
        }
        loop {
            let next = tokio::select! {
                r = live.recv() => r,
                _ = tokio::time::sleep(keep_alive) => {
                    if !send(&mut tx, Bytes::from_static(b": keep-alive\n\n")).await {
                        return;
                    }
                    continue;
                }
            };
            let chunk = match next {
                Ok(e) => {
                    if let Some(d) = &mut durable {
                        d.hold(&e).await;
                    }
                    record(&e)
                }
                Err(broadcast::error::RecvError::Lagged(n)) => lagged(n),
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if !send(&mut tx, chunk).await {
                return;
            }
        }
    });
    streaming("text/event-stream", rx, permit)
}

#[cfg(test)]
mod tests {
    use std::future::pending;
    use std::time::Duration;

    use tokio::sync::{mpsc, watch};

    use super::{Durable, spawn_until_shutdown};
    use rt_pipeline::events::Event;

    /// A task that never ends on its own (a stream whose client stopped
    /// reading): the shutdown drops it, also when it began before the
    /// stream opened. Its sender going tells that it was dropped.
    #[tokio::test]
    async fn a_stream_ends_at_shutdown_whenever_it_was_opened() {
        for already in [true, false] {
            let (flag, shutdown) = watch::channel(already);
            let (gone, mut dropped) = mpsc::channel::<()>(1);
            spawn_until_shutdown(shutdown, async move {
                let _held = gone;
                pending::<()>().await;
            });
            flag.send_replace(true);
            // Bounded, so that a task left running fails the test.
            let end = tokio::time::timeout(Duration::from_secs(30), dropped.recv()).await;
            assert!(matches!(end, Ok(None)), "shutting down already: {already}");
        }
    }

    /// Once a wait for the store has run out, events go out at once until
    /// it has caught up; then they wait for it again.
    #[tokio::test]
    async fn a_stalled_store_holds_back_one_event_not_every_one() {
        let event = |seq| Event { seq, kind: "event-intrusion".into(), data: "{}".into() };
        let (mark, stored) = watch::channel(0);
        let mut d = Durable::new(stored);
        d.wait = Duration::from_millis(10);
        d.hold(&event(1)).await;
        assert!(d.stalled, "the store did not take it in time");
        // Bounded, so that a wait of an hour fails the test.
        d.wait = Duration::from_secs(3600);
        for seq in 2..5 {
            tokio::time::timeout(Duration::from_secs(30), d.hold(&event(seq))).await.unwrap();
        }
        assert!(d.stalled);
        mark.send_replace(5);
        d.hold(&event(5)).await;
        assert!(!d.stalled, "caught up: the next ones wait again");
        let held = tokio::time::timeout(Duration::from_millis(50), d.hold(&event(6))).await;
        assert!(held.is_err(), "event 6 waits for the store");
    }
}
