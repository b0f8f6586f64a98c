//! What a running instance is given, and what it reports back: the seam
//! between the engine (lifecycle, config) and the media pipeline that
//! processes video. The engine starts a [`Runner`] when an instance starts
//! and stops it when the instance stops; everything in between flows
//! through [`RunContext`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tokio::sync::watch;
use uuid::Uuid;

use crate::events::EventBus;

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
    pub last_frame: Mutex<Option<Arc<Vec<u8>>>>,
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
        *self.last_frame.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.handlers.clear();
    }

    pub fn rules(&self) -> Vec<crate::analytics::RuleStats> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn last_frame(&self) -> Option<Arc<Vec<u8>>> {
        self.last_frame.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
}

/// A frame pushed over the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedFrame {
    pub kind: PushedKind,
    pub data: Vec<u8>,
    /// Client timestamp (ms), if given.
    pub timestamp_ms: Option<i64>,
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
