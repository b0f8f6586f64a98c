//! What a running instance is given, and what it reports back: the seam
//! between the engine (lifecycle, config) and the media pipeline that
//! processes video. The engine starts a [`Runner`] when an instance starts
//! and stops it when the instance stops; everything in between flows
//! through [`RunContext`].

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::watch;
use uuid::Uuid;

use crate::events::EventBus;
use crate::still::Still;

/// A failure worth showing at `GET .../error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecord {
    pub time: DateTime<Utc>,
    /// What failed: `engine`, `store`, or `instance <id>`.
    pub source: String,
    pub message: String,
}

/// The server-wide last error, and one instance's. Kept outside the engine's
/// instance lock so a pipeline thread can report while the engine waits for
/// it to stop.
#[derive(Debug, Default)]
pub struct ErrorCell(Mutex<Option<ErrorRecord>>);

impl ErrorCell {
    pub fn set(&self, source: &str, message: &str) {
        let rec = ErrorRecord { time: Utc::now(), source: source.into(), message: message.into() };
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(rec);
    }

    pub fn get(&self) -> Option<ErrorRecord> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Reports a running instance's failures: to the instance's error and the
/// server's last error, and to the log.
#[derive(Clone)]
pub struct ErrorSink {
    instance: Arc<ErrorCell>,
    global: Arc<ErrorCell>,
    source: String,
}

impl fmt::Debug for ErrorSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorSink").field("source", &self.source).finish_non_exhaustive()
    }
}

impl ErrorSink {
    pub fn new(id: Uuid, instance: Arc<ErrorCell>, global: Arc<ErrorCell>) -> Self {
        ErrorSink { instance, global, source: format!("instance {id}") }
    }

    pub fn report(&self, message: &str) {
        tracing::warn!(source = %self.source, message, "error recorded");
        self.instance.set(&self.source, message);
        self.global.set(&self.source, message);
    }
}

/// An `f64` that can be shared between threads.
#[derive(Debug, Default)]
pub struct AtomicF64(AtomicU64);

impl AtomicF64 {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Live measurements of a running instance, written by its pipeline and
/// read by the API (instance `fps`, SecuRT `stats`, the `frame` endpoint).
#[derive(Debug, Default)]
pub struct RunStats {
    /// Frames processed per second (last second).
    pub fps: AtomicF64,
    /// Frames delivered by the source per second (last second).
    pub source_fps: AtomicF64,
    /// Milliseconds from frame decoded to events published (last frame).
    pub latency_ms: AtomicF64,
    pub frames_processed: AtomicU64,
    pub frames_dropped: AtomicU64,
    /// Confirmed tracks alive now.
    pub track_count: AtomicU64,
    /// The last processed frame as JPEG, for `GET .../frame`.
    pub preview: Preview,
    /// The processed frames, overlay drawn, for `GET .../mjpeg`.
    pub live: LiveView,
    /// Milliseconds per model run (all runs of the instance, for
    /// `/metrics`).
    pub inference_ms: crate::metrics::Histogram,
    /// Milliseconds from frame decoded to its events published.
    pub event_latency_ms: crate::metrics::Histogram,
    /// The input's state (`Connecting`, `Connected`, `Reconnecting`,
    /// `Failed`, `Ended`) and reopenings, refreshed once a second.
    pub source: Mutex<(&'static str, u64)>,
    /// Per-rule counters of the rule engine, refreshed once a second.
    pub rules: Mutex<Vec<crate::analytics::RuleStats>>,
    /// The MQTT handlers' state, for the statistics event.
    pub handlers: Arc<crate::handlers::HandlerTable>,
}

impl RunStats {
    /// Zeroes the measurements (a new run starts).
    pub fn reset(&self) {
        self.fps.set(0.0);
        self.source_fps.set(0.0);
        self.latency_ms.set(0.0);
        self.frames_processed.store(0, Ordering::Relaxed);
        self.frames_dropped.store(0, Ordering::Relaxed);
        self.track_count.store(0, Ordering::Relaxed);
        self.preview.clear();
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.handlers.clear();
    }

    pub fn rules(&self) -> Vec<crate::analytics::RuleStats> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How long a request for the last frame keeps the pipeline encoding it.
pub const PREVIEW_WANTED_MS: i64 = 10_000;
/// Processed frames encoded a second, at most, while the last frame is
/// wanted.
pub const PREVIEW_FPS: i64 = 2;
/// A frame encoded this recently is given at once; an older one is given
/// only when no newer one comes within [`PREVIEW_WAIT`].
const PREVIEW_FRESH_MS: i64 = 1_000;
/// How long a request waits for the next processed frame.
const PREVIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The last processed frame as JPEG, without overlay (`GET .../frame`).
/// Encoding every instance's frames full size whether anyone looks or not
/// cost as much as decoding them, so the pipeline encodes them while
/// someone asks: a request marks the frame wanted for
/// [`PREVIEW_WANTED_MS`], and the pipeline then encodes at most
/// [`PREVIEW_FPS`] processed frames a second. A request that finds none
/// encoded lately waits for the next one ([`Preview::request`]). Frames
/// the next one may be long in coming after are encoded unasked (the
/// pipeline says which), so that a request finds one. The frame given is
/// the last one encoded: with at most [`PREVIEW_FPS`] a second, up to
/// half a second older than the last one processed.
#[derive(Debug)]
pub struct Preview {
    frame: watch::Sender<Option<PreviewFrame>>,
    /// Unix ms until which it is wanted.
    wanted_until_ms: AtomicI64,
}

/// A frame of the [`Preview`].
#[derive(Debug, Clone)]
pub struct PreviewFrame {
    pub jpeg: Arc<Vec<u8>>,
    /// When it was encoded (Unix ms).
    pub at_ms: i64,
}

impl Default for Preview {
    fn default() -> Self {
        Preview { frame: watch::channel(None).0, wanted_until_ms: AtomicI64::new(i64::MIN) }
    }
}

impl Preview {
    /// Someone asks for the frame at `now_ms` (Unix ms): frames are encoded
    /// for the next [`PREVIEW_WANTED_MS`].
    pub fn want(&self, now_ms: i64) {
        self.wanted_until_ms.fetch_max(now_ms.saturating_add(PREVIEW_WANTED_MS), Ordering::Relaxed);
    }

    /// Whether the pipeline encodes the frame it processes at `now_ms`:
    /// wanted (or `unasked`), and none encoded in the last
    /// 1/[`PREVIEW_FPS`] s (or one stamped later than now: the clock went
    /// back).
    pub fn due(&self, now_ms: i64, unasked: bool) -> bool {
        (unasked || now_ms <= self.wanted_until_ms.load(Ordering::Relaxed))
            && self.frame.borrow().as_ref().is_none_or(|f| {
                let since = now_ms - f.at_ms;
                !(0..1000 / PREVIEW_FPS).contains(&since)
            })
    }

    /// The frame encoded at `at_ms`, for every request from now on.
    pub fn publish(&self, jpeg: Vec<u8>, at_ms: i64) {
        self.frame.send_replace(Some(PreviewFrame { jpeg: Arc::new(jpeg), at_ms }));
    }

    /// The last frame encoded, if any.
    pub fn latest(&self) -> Option<PreviewFrame> {
        self.frame.borrow().clone()
    }

    /// The frame for a request at `now_ms` (Unix ms), which marks it
    /// wanted: the last one encoded when it is fresh (within
    /// [`PREVIEW_FRESH_MS`]) or the instance is not `running`; otherwise
    /// the next one, waiting up to [`PREVIEW_WAIT`], or the last one if
    /// none comes.
    pub async fn request(&self, now_ms: i64, running: bool) -> Option<PreviewFrame> {
        self.want(now_ms);
        let mut frames = self.frame.subscribe();
        // One encoded after `now_ms` (between the caller's clock reading
        // and here) is fresh too.
        let fresh = frames
            .borrow_and_update()
            .as_ref()
            .is_some_and(|f| now_ms - f.at_ms <= PREVIEW_FRESH_MS);
        if running && !fresh {
            let _ = tokio::time::timeout(PREVIEW_WAIT, frames.changed()).await;
        }
        self.latest()
    }

    /// No frame (a new run starts).
    pub fn clear(&self) {
        self.frame.send_replace(None);
    }
}

/// One frame of the live view: JPEG, overlay drawn.
#[derive(Debug, Clone)]
pub struct LiveFrame {
    pub jpeg: Arc<Vec<u8>>,
    /// When the frame reached the pipeline (Unix ms).
    pub decoded_at_ms: i64,
}

/// The live view of an instance (`GET .../mjpeg`): its newest processed
/// frame, for whoever watches. The pipeline encodes frames only while
/// someone does; a watcher that falls behind sees the newest frame next
/// (a `watch` channel holds one), so it never slows the pipeline. The
/// channel lives as long as the instance: a watcher's stream ends when the
/// instance is deleted.
#[derive(Debug)]
pub struct LiveView(watch::Sender<Option<LiveFrame>>);

impl Default for LiveView {
    fn default() -> Self {
        LiveView(watch::channel(None).0)
    }
}

impl LiveView {
    /// A new watcher; it is counted until dropped.
    pub fn watch(&self) -> watch::Receiver<Option<LiveFrame>> {
        self.0.subscribe()
    }

    /// Whether anyone watches (the pipeline encodes frames only then).
    pub fn watched(&self) -> bool {
        self.0.receiver_count() > 0
    }

    pub fn publish(&self, frame: LiveFrame) {
        self.0.send_replace(Some(frame));
    }

    /// No frame (the run ended): a watcher that comes now waits for the
    /// next run instead of seeing the last frame of this one.
    pub fn clear(&self) {
        self.0.send_replace(None);
    }
}

/// Everything a running instance is given.
#[derive(Debug)]
pub struct RunContext {
    pub instance_id: Uuid,
    pub bus: Arc<EventBus>,
    /// The instance's config tree; a new value is sent on every change, so
    /// the pipeline applies rules, rate limits and inputs on the next frame.
    pub config: watch::Receiver<Arc<Map<String, Value>>>,
    pub stats: Arc<RunStats>,
    pub errors: ErrorSink,
}

/// Credentials for the streams an instance opens: an RTSP URI given without
/// user information (as `GET /v1/onvif/streams` returns them) is opened
/// with these, so passwords never live in the config tree or in URIs.
pub trait StreamCredentials: Send + Sync + fmt::Debug {
    /// User name and password for this URI's host, if any are stored; an
    /// error says why stored ones cannot be used (e.g. not decrypted).
    fn for_uri(&self, uri: &str) -> Result<Option<(String, String)>, String>;
}

/// Starts the processing of instances.
pub trait Runner: Send + Sync + fmt::Debug {
    /// Starts processing; returns quickly (work happens on the pipeline's
    /// own threads). Failures after this point are reported through
    /// `ctx.errors` and the statistics, never by panicking.
    fn start(&self, ctx: RunContext) -> Box<dyn Running>;
}

/// A running instance's pipeline.
pub trait Running: Send + fmt::Debug {
    /// Stops processing: returns within about a second (the media runner's
    /// `STOP_GRACE`), with every resource released by then, or, when a step
    /// cannot be interrupted (a model load), released by the pipeline's
    /// thread as soon as that step ends; nothing new is opened meanwhile.
    fn stop(self: Box<Self>);

    /// Accepts a frame pushed over the API (`Manual` input).
    fn push(&self, frame: PushedFrame) -> Result<(), PushError>;

    /// Whether a frame pushed now would be taken (the input is `Manual`
    /// and its queue has room), asked before an image is decoded, so that a
    /// frame refused anyway costs no decoding; [`Running::push`] decides.
    /// (A pipeline that cannot tell: yes.)
    fn ready_for_push(&self) -> Result<(), PushError> {
        Ok(())
    }
}

/// A frame pushed over the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedFrame {
    pub data: PushedData,
    /// Client timestamp (ms), if given.
    pub timestamp_ms: Option<i64>,
}

/// A pushed frame's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushedData {
    /// A still image, already decoded ([`crate::still::decode`]).
    Image(Still),
    /// An H.264 access unit (byte stream).
    H264(Vec<u8>),
    /// An H.265 access unit (byte stream).
    H265(Vec<u8>),
}

impl PushedData {
    pub fn kind(&self) -> PushedKind {
        match self {
            PushedData::Image(_) => PushedKind::Image,
            PushedData::H264(_) => PushedKind::H264,
            PushedData::H265(_) => PushedKind::H265,
        }
    }

    /// Bytes held while the frame waits.
    pub fn bytes(&self) -> usize {
        match self {
            PushedData::Image(s) => s.rgb.len(),
            PushedData::H264(d) | PushedData::H265(d) => d.len(),
        }
    }
}

/// How a pushed frame is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushedKind {
    /// A still image: JPEG, PNG or BMP.
    Image,
    H264,
    H265,
}

/// Why a pushed frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the instance's input is not Manual: frames cannot be pushed to it")]
    NotManual,
    #[error("the instance is busy: the push queue is full")]
    QueueFull,
    #[error("the pipeline is not accepting frames: {0}")]
    Closed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Preview {
        fn due_asked(&self, now_ms: i64) -> bool {
            self.due(now_ms, false)
        }
    }

    /// The frame is encoded while wanted, at most every 1/PREVIEW_FPS s.
    #[test]
    fn the_preview_is_due_while_wanted_and_not_twice_in_a_gap() {
        let gap = 1000 / PREVIEW_FPS;
        let p = Preview::default();
        assert!(!p.due_asked(0), "never asked for");
        p.want(1_000);
        // (now, encoded at, due), wanted from 1 000 on
        let cases: [(i64, Option<i64>, bool); 7] = [
            (1_000, None, true),
            (1_000, Some(1_000), false),
            (1_000 + gap - 1, Some(1_000), false),
            (1_000 + gap, Some(1_000), true),
            (999, Some(1_000), true),
            (1_000 + PREVIEW_WANTED_MS, Some(0), true),
            (1_001 + PREVIEW_WANTED_MS, Some(0), false),
        ];
        for (now, encoded, due) in cases {
            p.clear();
            if let Some(at) = encoded {
                p.publish(vec![0xFF, 0xD8], at);
            }
            assert_eq!(p.due_asked(now), due, "at {now}, encoded at {encoded:?}");
        }
        // Unasked: still not twice in a gap.
        p.clear();
        p.publish(vec![0xFF, 0xD8], 0);
        assert!(!p.due(gap - 1, true) && p.due(gap, true));
        // An older request never shortens a later one.
        p.want(0);
        assert!(p.due_asked(1_000 + PREVIEW_WANTED_MS));
        p.clear();
        assert!(p.latest().is_none());
    }

    /// A request gets a fresh frame at once, waits for the next one
    /// otherwise (while the instance runs), and keeps frames coming. Time
    /// is paused: a wait shows as time passed.
    #[tokio::test(start_paused = true)]
    async fn a_request_waits_for_a_frame_only_when_the_last_is_stale() {
        use std::time::Duration;
        use tokio::time::Instant;
        let p = Arc::new(Preview::default());
        let start = Instant::now();
        // Not running: nothing to wait for.
        assert!(p.request(5_000, false).await.is_none());
        assert!(p.due_asked(5_000), "the request asked for frames");
        // Fresh: at once, one encoded since the request read its clock too.
        for at in [4_000, 4_500, 5_100] {
            p.publish(vec![1], at);
            assert_eq!(p.request(5_000, true).await.unwrap().jpeg[..], [1]);
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "no wait");
        // Stale, running: the next frame.
        let publisher = {
            let p = p.clone();
            tokio::spawn(async move {
                while p.frame.receiver_count() == 0 {
                    tokio::task::yield_now().await;
                }
                p.publish(vec![2], 9_000);
            })
        };
        assert_eq!(p.request(9_000, true).await.unwrap().jpeg[..], [2]);
        publisher.await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO, "the frame came at once");
        // Stale, and none comes: the last one, after the wait.
        assert_eq!(p.request(60_000, true).await.unwrap().jpeg[..], [2]);
        assert_eq!(start.elapsed(), PREVIEW_WAIT, "the whole wait");
    }
}
