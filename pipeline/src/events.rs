//! The event bus of one instance: numbering, the replay ring, live fan-out
//! to SSE clients, and the queue drained by `consume_events`.
//!
//! Publishing never blocks and never waits for a consumer: live subscribers
//! get events through a bounded broadcast channel, and one that falls too
//! far behind is told how many it missed (`lagged`) instead of slowing the
//! pipeline or other clients. The ring keeps the most recent events so a
//! client that reconnects with `Last-Event-ID` resumes without a gap; it is
//! bounded in bytes as well as in events, so that an instance's history
//! costs the same small memory whatever its scene (older analytics events
//! are served from the store). The polling queue is bounded the same way:
//! nobody may ever poll it, and crops are images.
//!
//! Sequence numbers start at the bus's creation time in microseconds since
//! the Unix epoch and grow by one per event, so they keep increasing across
//! server restarts (as long as fewer than a million events a second are
//! published), and a `Last-Event-ID` from before a restart is never mistaken
//! for a newer one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::broadcast;

/// Schema version of every payload this engine emits (`"$version"`).
pub const EVENT_VERSION: u64 = 1;

/// One published event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increases by one per event of this instance.
    pub seq: u64,
    /// The event name (SSE `event:`), equal to the payload's `$id`.
    pub kind: String,
    /// The payload as one line of JSON, with `$id` and `$version`.
    pub data: String,
}

/// Sizes of the bus's buffers.
#[derive(Debug, Clone, Copy)]
pub struct BusOptions {
    /// Events kept for `Last-Event-ID` resume.
    pub ring: usize,
    /// Bytes of payload the ring keeps at most (it always keeps the newest
    /// event).
    pub ring_bytes: usize,
    /// Events held for `consume_events` pollers; the oldest go first.
    pub queue: usize,
    /// Bytes of payload the polling queue holds at most (it always holds
    /// the newest event): nobody may ever poll, and crops are images.
    pub queue_bytes: usize,
    /// Events a live subscriber may fall behind before it is told it lagged.
    pub live: usize,
}

impl Default for BusOptions {
    fn default() -> Self {
        // A busy scene makes ~100 track events per second, of 0.5-0.7 KB
        // each: the ring holds 15-20 seconds of them (a minute and more for
        // a quiet one: enough for a client to reconnect), the queue ten
        // seconds. Unbounded in bytes, a full ring of 10,000 track events
        // was 6 MiB per running instance (heaptrack), more than its video.
        BusOptions {
            ring: 10_000,
            ring_bytes: 1 << 20,
            queue: 1_000,
            queue_bytes: 1 << 20,
            live: 2_048,
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// The sequence number of this bus's first event.
    first_seq: u64,
    next_seq: u64,
    ring: VecDeque<Arc<Event>>,
    /// Bytes of the events in `ring`.
    ring_bytes: usize,
    queue: VecDeque<Arc<Event>>,
    /// Bytes of the events in `queue`.
    queue_bytes: usize,
    /// Events dropped from the polling queue because nobody drained it.
    queue_dropped: u64,
}

/// One instance's event bus.
#[derive(Debug)]
pub struct EventBus {
    options: BusOptions,
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<Event>>,
}

/// What a new subscriber gets: the events it missed (from the ring) and a
/// receiver for everything after them, with no gap and no duplicate.
#[derive(Debug)]
pub struct Subscription {
    pub replay: Vec<Arc<Event>>,
    /// Events after `Last-Event-ID` that the ring no longer holds.
    pub missed: u64,
    /// The sequence number the next published event will get: everything
    /// below it is in `replay` or earlier, everything from it on `live`.
    pub next: u64,
    pub live: broadcast::Receiver<Arc<Event>>,
}

impl Event {
    /// What the event's text takes in memory.
    fn size(&self) -> usize {
        self.kind.len() + self.data.len()
    }
}

impl EventBus {
    pub fn new(options: BusOptions) -> Self {
        let start = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1).max(1);
        let (live, _) = broadcast::channel(options.live.max(1));
        EventBus {
            options,
            inner: Mutex::new(Inner {
                first_seq: start,
                next_seq: start,
                ring: VecDeque::new(),
                ring_bytes: 0,
                queue: VecDeque::new(),
                queue_bytes: 0,
                queue_dropped: 0,
            }),
            live,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes `payload` (a JSON object) as an event named `kind`; `$id`
    /// and `$version` are added. Returns its sequence number.
    pub fn publish(&self, kind: &str, mut payload: Map<String, Value>) -> u64 {
        payload.insert("$id".into(), Value::String(kind.into()));
        payload.insert("$version".into(), Value::from(EVENT_VERSION));
        let data = Value::Object(payload).to_string();
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let event = Arc::new(Event { seq, kind: kind.into(), data });
        inner.ring_bytes += event.size();
        inner.ring.push_back(event.clone());
        while inner.ring.len() > 1
            && (inner.ring.len() > self.options.ring || inner.ring_bytes > self.options.ring_bytes)
            && let Some(old) = inner.ring.pop_front()
        {
            inner.ring_bytes -= old.size();
        }
        inner.queue_bytes += event.size();
        inner.queue.push_back(event.clone());
        while inner.queue.len() > 1
            && (inner.queue.len() > self.options.queue
                || inner.queue_bytes > self.options.queue_bytes)
            && let Some(old) = inner.queue.pop_front()
        {
            inner.queue_bytes -= old.size();
            inner.queue_dropped += 1;
        }
        // Sent under the lock so that `subscribe` sees each event either in
        // the ring or on the channel, never both or neither. No receiver is
        // not an error.
        let _ = self.live.send(event);
        seq
    }

    /// Subscribes to live events, first replaying those after `after`
    /// (a `Last-Event-ID`) that the ring still holds. An id from before
    /// this bus existed (an earlier run) replays the whole ring.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let inner = self.lock();
        let live = self.live.subscribe();
        let Some(after) = after else {
            return Subscription { replay: Vec::new(), missed: 0, next: inner.next_seq, live };
        };
        let replay: Vec<_> = inner.ring.iter().filter(|e| e.seq > after).cloned().collect();
        let first_kept = inner.ring.front().map_or(inner.next_seq, |e| e.seq);
        // Events of this run after `after` that the ring has already let go.
        let missed = first_kept.saturating_sub(after.saturating_add(1).max(inner.first_seq));
        Subscription { replay, missed, next: inner.next_seq, live }
    }

    /// Takes every queued event (`GET .../consume_events`).
    pub fn drain(&self) -> Vec<Arc<Event>> {
        let mut inner = self.lock();
        inner.queue_bytes = 0;
        inner.queue.drain(..).collect()
    }

    /// Events dropped from the polling queue so far.
    pub fn queue_dropped(&self) -> u64 {
        self.lock().queue_dropped
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(n: u64) -> Map<String, Value> {
        json!({"n": n}).as_object().unwrap().clone()
    }

    fn small() -> EventBus {
        EventBus::new(BusOptions {
            ring: 3,
            ring_bytes: 1 << 20,
            queue: 2,
            queue_bytes: 1 << 20,
            live: 4,
        })
    }

    #[test]
    fn events_are_numbered_and_carry_id_and_version() {
        let bus = small();
        let a = bus.publish("track", payload(1));
        let b = bus.publish("statistics", payload(2));
        assert_eq!(b, a + 1);
        let e = bus.subscribe(Some(a - 1)).replay;
        assert_eq!(e.len(), 2);
        let v: Value = serde_json::from_str(&e[0].data).unwrap();
        assert_eq!(v, json!({"$id": "track", "$version": 1, "n": 1}));
        assert!(!e[1].data.contains('\n'));
    }

    /// SSE ids are these numbers: clients in JavaScript (and any that read
    /// them as a double) need them below 2^53; they start from the clock in
    /// microseconds, so a bus made after a restart numbers above the last.
    #[test]
    fn sequence_numbers_fit_a_double() {
        let first = small().publish("e", payload(0));
        assert!(first < 1 << 53, "{first} does not fit a double exactly");
        // Microseconds leave room for 2^53 until the year 2255.
        assert!(first > u64::from(i32::MAX.unsigned_abs()), "an int32 parser must not be used");
    }

    #[test]
    fn resume_replays_what_the_ring_holds_and_counts_the_rest() {
        let bus = small();
        let first = bus.publish("e", payload(0));
        for n in 1..6 {
            bus.publish("e", payload(n));
        }
        // Ring holds the last 3 (first+3..=first+5).
        let s = bus.subscribe(Some(first + 3));
        assert_eq!(s.replay.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![first + 4, first + 5]);
        assert_eq!(s.missed, 0);
        let s = bus.subscribe(Some(first));
        assert_eq!(s.replay.len(), 3);
        assert_eq!(s.missed, 2, "first+1 and first+2 are gone");
        // An id from an earlier run: the whole ring, and this run's losses.
        let s = bus.subscribe(Some(1));
        assert_eq!((s.replay.len(), s.missed), (3, 3));
        // A future id: nothing to replay.
        let s = bus.subscribe(Some(first + 100));
        assert_eq!((s.replay.len(), s.missed), (0, 0));
    }

    #[test]
    fn the_ring_is_bounded_in_bytes_too_and_keeps_the_newest_event() {
        let bus = EventBus::new(BusOptions {
            ring: 100,
            ring_bytes: 100,
            queue: 2,
            queue_bytes: 1 << 20,
            live: 4,
        });
        // Each event: "e" and {"$id":"e","$version":1,"n":N}, 31 bytes.
        let first = bus.publish("e", payload(0));
        for n in 1..10 {
            bus.publish("e", payload(n));
        }
        let s = bus.subscribe(Some(first));
        let kept: Vec<u64> = s.replay.iter().map(|e| e.seq).collect();
        assert_eq!(kept, [first + 7, first + 8, first + 9], "3 x 31 bytes fit in 100, 4 do not");
        assert_eq!(s.missed, 6, "first+1 to first+6 are gone");
        // An event larger than the whole budget is still kept, alone.
        let mut big = payload(10);
        big.insert("pad".into(), Value::String("x".repeat(200)));
        let last = bus.publish("e", big);
        let s = bus.subscribe(Some(first));
        assert_eq!(s.replay.iter().map(|e| e.seq).collect::<Vec<_>>(), [last]);
        assert_eq!(s.missed, 9);
        // And the next one pushes it out.
        let next = bus.publish("e", payload(11));
        assert_eq!(
            bus.subscribe(Some(last - 1)).replay.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [next]
        );
    }

    #[test]
    fn live_subscribers_get_later_events_without_gap_or_duplicate() {
        let bus = small();
        let a = bus.publish("e", payload(0));
        let mut s = bus.subscribe(Some(a - 1));
        let b = bus.publish("e", payload(1));
        assert_eq!(s.replay.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![a]);
        assert_eq!(s.live.try_recv().unwrap().seq, b);
        assert!(s.live.try_recv().is_err());
    }

    #[test]
    fn a_slow_subscriber_lags_instead_of_blocking() {
        let bus = small();
        let mut s = bus.subscribe(None);
        for n in 0..10 {
            bus.publish("e", payload(n));
        }
        match s.live.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert_eq!(n, 6),
            other => panic!("expected lag, got {other:?}"),
        }
    }

    #[test]
    fn the_polling_queue_drains_and_drops_the_oldest() {
        let bus = small();
        for n in 0..3 {
            bus.publish("e", payload(n));
        }
        let drained = bus.drain();
        assert_eq!(drained.len(), 2);
        assert!(drained[0].data.contains("\"n\":1"));
        assert_eq!(bus.queue_dropped(), 1);
        assert!(bus.drain().is_empty());
    }

    #[test]
    fn the_polling_queue_is_bounded_in_bytes_too_and_keeps_the_newest_event() {
        let bus = EventBus::new(BusOptions {
            ring: 100,
            ring_bytes: 1 << 20,
            queue: 100,
            queue_bytes: 100,
            live: 4,
        });
        // Each event: "e" and {"$id":"e","$version":1,"n":N}, 31 bytes.
        for n in 0..10 {
            bus.publish("e", payload(n));
        }
        let kept: Vec<String> = bus.drain().iter().map(|e| e.data.clone()).collect();
        assert_eq!(kept.len(), 3, "3 x 31 bytes fit in 100, 4 do not: {kept:?}");
        assert!(kept[0].contains("\"n\":7"), "{kept:?}");
        assert_eq!(bus.queue_dropped(), 7);
        // An event larger than the whole budget is still kept, alone; a
        // drain starts the count again.
        let mut big = payload(10);
        big.insert("pad".into(), Value::String("x".repeat(200)));
        bus.publish("e", big);
        assert_eq!(bus.drain().len(), 1);
        for n in 0..3 {
            bus.publish("e", payload(n));
        }
        assert_eq!(bus.drain().len(), 3);
    }
}
