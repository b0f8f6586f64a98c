//! One running instance's worker loop: read a frame, detect, track,
//! evaluate the rules, publish events; once a second, statistics. It owns
//! its source and model, applies config changes between frames, retries a
//! failing source with backoff until it comes back, and returns promptly
//! when asked to stop.
//!
//! [`Worker::step`] is one turn of the loop and [`Worker::run`] steps until
//! a stop. Every side effect is behind a trait ([`Parts`]: clock, sleeper,
//! source opener, detector loader), so the loop's timing (backoff, frame
//! rate limit, file loops, pushed frames, stops) is unit-tested with fakes
//! on simulated time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing::{debug, info};

use super::MediaOptions;
use super::clock::{Clock, Sleeper};
use super::crop;
use super::detector::{Detector, LoadDetector};
use super::error::DetectorError;
use super::gate::TrackGate;
use super::lock;
use super::output::Outputs;
use super::payload::{self, Statistics, TrackPayload};
use super::source::{FrameSource, Next, OpenSource, RgbFrame, SourceKind, too_soon};
use crate::analytics::{
    AnalyticsEvent, BBox, EngineOptions, RuleEngine, RuleStats, TrackObservation,
};
use crate::detect::{Letterbox, confidence_threshold};
use crate::error::chain;
use crate::outputs::{OutputConfig, RenderPreset};
use crate::overlay::{self, Canvas, Labelled, Scene, Shape};
use crate::runtime::{LiveFrame, PushError, PushedFrame, PushedKind, RunContext};
use crate::securt::{ObjectClass, SecurtConfig};
use crate::settings::{InputSource, InputType, Settings};
use crate::track::{Track, Tracker, TrackerOptions};

/// Frames waiting to be fed to a `Manual` input. Small: a client pushing
/// faster than the model keeps up is told so (409) rather than queued.
const PUSH_QUEUE: usize = 8;

/// The most bytes pushed frames may hold while they wait (decoded images
/// are large: an 8K one is 100 MB): a frame that would pass it is refused
/// unless none is waiting.
const PUSH_QUEUE_BYTES: usize = 128 << 20;

/// First wait before reopening a failing source; it doubles with each
/// failure and starts over once a frame comes.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between two attempts to reopen a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// JPEG quality of the live view: sharp enough to read labels, a quarter of
/// the bytes of 95.
const LIVE_QUALITY: u8 = 75;

/// JPEG quality of the last frame (`GET .../frame`), a still to look at.
const PREVIEW_QUALITY: u8 = 85;

/// A processed frame this long (stream time) after the one before is
/// encoded for `GET .../frame` even unasked: the source is slow, and the
/// frame may be the last one for a while.
const UNASKED_GAP_MS: i64 = 1_000;

/// How long one wait for a frame may block before the loop checks for a
/// stop request or a config change.
const POLL: Duration = Duration::from_millis(100);

/// How long a source may give no frame before its instance rests
/// ([`Detector::rest`]): longer than a slow camera's frame interval, so an
/// instance does not leave and join the service between frames.
const REST_AFTER: Duration = Duration::from_secs(1);

/// The most frames a worker has in its detector at once: the next one is
/// sent before the last one's answer when the source has it ready and the
/// detector has room, so the model does not wait while the worker tracks
/// and publishes. A source that keeps every frame may have one more there,
/// waiting for the next free session (see [`Detector::has_room`]).
const IN_DETECTOR: usize = 2;

/// A frame in the detector, waiting for its detections.
#[derive(Debug)]
struct InDetector {
    pts_ms: Option<i64>,
    /// Stream time.
    time_ms: i64,
    decoded_at: Instant,
    decoded_at_ms: i64,
    source_size: (u32, u32),
}

/// Pushed frames handed from the API to the worker.
#[derive(Debug, Default)]
pub struct PushSlot {
    /// Whether the input is `Manual` (accepts pushed frames).
    manual: bool,
    queue: VecDeque<PushedFrame>,
}

impl PushSlot {
    /// An empty slot, accepting pushes if the configured input is `Manual`.
    pub fn for_config(tree: &Map<String, Value>) -> Self {
        let manual = InputSource::from_tree(tree)
            .ok()
            .flatten()
            .is_some_and(|i| i.kind == InputType::Manual);
        PushSlot { manual, queue: VecDeque::new() }
    }

    /// Whether a frame would be taken now, its size aside.
    pub fn ready(&self) -> Result<(), PushError> {
        if !self.manual {
            return Err(PushError::NotManual);
        }
        if self.queue.len() >= PUSH_QUEUE {
            return Err(PushError::QueueFull);
        }
        Ok(())
    }

    pub fn offer(&mut self, frame: PushedFrame) -> Result<(), PushError> {
        self.ready()?;
        let waiting: usize = self.queue.iter().map(|f| f.data.bytes()).sum();
        if waiting > 0 && waiting + frame.data.bytes() > PUSH_QUEUE_BYTES {
            return Err(PushError::QueueFull);
        }
        self.queue.push_back(frame);
        Ok(())
    }
}

/// What the worker needs from the config tree.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    settings: Settings,
    input: Option<InputSource>,
    /// `Input/loop`: restart a file at its end (default: true).
    looping: bool,
    /// `Input/realtime`: pace files at their frame rate (default: true).
    realtime: bool,
    /// `tentative_tracks`: also publish tracks not confirmed yet.
    tentative: bool,
    securt: SecurtConfig,
    /// `Output/...`: HLS, RTSP and the overlay.
    outputs: OutputConfig,
}

fn flag(tree: &Map<String, Value>, path: &str, default: bool) -> bool {
    crate::config_tree::get(tree, path).and_then(Value::as_bool).unwrap_or(default)
}

impl Plan {
    fn of(tree: &Map<String, Value>) -> crate::error::Result<Self> {
        Ok(Plan {
            settings: Settings::from_tree(tree)?,
            input: InputSource::from_tree(tree)?,
            looping: flag(tree, "Input/loop", true),
            realtime: flag(tree, "Input/realtime", true),
            tentative: flag(tree, "Output/tentative_tracks", false),
            securt: SecurtConfig::from_tree(tree)?,
            outputs: OutputConfig::from_tree(tree)?,
        })
    }

    fn is_manual(&self) -> bool {
        self.input.as_ref().is_some_and(|i| i.kind == InputType::Manual)
    }

    fn source_kind(&self) -> Option<SourceKind> {
        let input = self.input.as_ref()?;
        Some(match input.kind {
            // Opened when the first frame arrives, for its kind.
            InputType::Manual => return None,
            // What is played follows the URI, not the type: an `RTSP` input
            // may name a file (RT's clients have no other type for it).
            InputType::File | InputType::Rtsp | InputType::Http => {
                SourceKind::Uri(input.gst_uri()?)
            }
        })
    }
}

/// What the `Default` preset draws: the rules' areas and lines, the
/// objects seen in this frame, and one counter per rule.
fn scene(plan: &Plan, tracks: &[Track], stats: &[RuleStats]) -> Scene {
    let areas = plan
        .securt
        .areas
        .iter()
        .map(|a| Shape { points: a.coordinates.clone(), color: a.color, name: a.name.clone() })
        .collect();
    let lines = plan
        .securt
        .lines
        .iter()
        .map(|l| Shape { points: l.coordinates.to_vec(), color: l.color, name: l.name.clone() })
        .collect();
    let boxes = tracks
        .iter()
        .filter(|t| t.lost_ms == 0 && (t.confirmed || plan.tentative))
        .map(|t| Labelled {
            x1: f64::from(t.rect.x1),
            y1: f64::from(t.rect.y1),
            x2: f64::from(t.rect.x2),
            y2: f64::from(t.rect.y2),
            color: match t.class {
                ObjectClass::Person => [1.0, 1.0, 0.0, 1.0],
                ObjectClass::Vehicle => [0.0, 1.0, 1.0, 1.0],
                ObjectClass::Animal => [1.0, 0.0, 1.0, 1.0],
                _ => [1.0, 1.0, 1.0, 1.0],
            },
            label: format!("{} #{}", payload::class_name(t.class), t.id),
        })
        .collect();
    let counters = stats
        .iter()
        .filter(|s| s.active)
        .map(|s| match (&s.totals, s.current_count) {
            (Some(t), _) => format!("{}: UP {} DOWN {}", s.name, t.up, t.down),
            (None, Some(n)) => format!("{}: {n}", s.name),
            (None, None) => format!("{}: {} EVENTS", s.name, s.event_count),
        })
        .collect();
    Scene { areas, lines, boxes, counters }
}

/// Per-second counters behind the statistics.
#[derive(Debug)]
struct Meter {
    since: Instant,
    processed: u64,
    delivered: u64,
}

impl Meter {
    fn new(since: Instant) -> Self {
        Meter { since, processed: 0, delivered: 0 }
    }
}

/// The worker's side effects: time, waits and the stop request, the video
/// input and the detector. Real ones in production, fakes in tests.
pub struct Parts {
    pub clock: Arc<dyn Clock>,
    /// Every wait goes through it, and it says when to stop.
    pub sleeper: Arc<dyn Sleeper>,
    pub sources: Box<dyn OpenSource>,
    pub detectors: Box<dyn LoadDetector>,
}

/// The worker thread's body: a worker stepped until a stop is requested.
pub fn run(ctx: RunContext, options: MediaOptions, pushed: Arc<Mutex<PushSlot>>, parts: Parts) {
    if let Some(mut worker) = Worker::new(ctx, options, pushed, parts) {
        worker.run();
    }
}

/// One running instance's state between two steps.
pub struct Worker {
    ctx: RunContext,
    options: MediaOptions,
    pushed: Arc<Mutex<PushSlot>>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    sources: Box<dyn OpenSource>,
    detectors: Box<dyn LoadDetector>,
    /// Wall-clock time (ms) the run started.
    started_ms: i64,
    plan: Plan,
    detector: Option<Box<dyn Detector>>,
    /// Frames sent to `detector`, oldest first; their full frames are in
    /// `source`, which stays open while any is here.
    in_detector: VecDeque<InDetector>,
    source: Option<Box<dyn FrameSource>>,
    /// What `source` was opened for.
    opened: Option<SourceKind>,
    source_state: &'static str,
    reconnects: u64,
    /// The wait before the next reopen of a failing source.
    backoff: Duration,
    retry_at: Instant,
    reported_no_input: bool,
    tracker: Tracker,
    /// Tracking ids on the wire are UUIDs drawn afresh for each run.
    track_ids: payload::TrackIds,
    gate: TrackGate,
    rules: RuleEngine,
    meter: Meter,
    last_stats: Instant,
    /// When the source last gave a frame (or the worker started).
    last_frame_at: Instant,
    /// Stream time of the last frame processed (not skipped).
    last_processed_ms: Option<i64>,
    /// Stream time of the last frame finished (its events published).
    last_finished_ms: Option<i64>,
    /// Added to frame times: keeps stream time increasing across new
    /// pipelines (a file's loops, a camera reconnected), and makes pushed
    /// frames' times the clients' own.
    time_offset_ms: i64,
    /// Whether a source was opened before in this run.
    had_source: bool,
    /// Stream time of the last frame delivered.
    last_time_ms: i64,
    first_seen: HashMap<u64, i64>,
    crops: crop::Budget,
    cropped: HashSet<u64>,
    video_out: Outputs,
}

fn tracker_options(plan: &Plan) -> TrackerOptions {
    TrackerOptions {
        high_thresh: confidence_threshold(plan.settings.detection_sensitivity),
        ..TrackerOptions::default()
    }
}

impl Worker {
    /// A worker for the instance's current config; `None` (reported) when
    /// that config is invalid.
    pub fn new(
        mut ctx: RunContext,
        options: MediaOptions,
        pushed: Arc<Mutex<PushSlot>>,
        parts: Parts,
    ) -> Option<Self> {
        let plan = match Plan::of(&ctx.config.borrow_and_update()) {
            Ok(p) => p,
            Err(e) => {
                ctx.errors.report(&format!("invalid configuration: {}", chain(&e)));
                return None;
            }
        };
        let Parts { clock, sleeper, sources, detectors } = parts;
        let now = clock.now();
        let mut rules = RuleEngine::new(EngineOptions::default());
        rules.set_config(
            &plan.securt,
            plan.settings.detector_mode,
            plan.settings.movement_sensitivity,
        );
        let mut video_out = Outputs::new(ctx.instance_id, options.hls_dir.clone());
        video_out.configure(&plan.outputs);
        Some(Worker {
            started_ms: clock.wall_ms(),
            tracker: Tracker::new(tracker_options(&plan)),
            track_ids: payload::TrackIds::new(),
            gate: TrackGate::new(plan.settings.debug_mode),
            rules,
            meter: Meter::new(now),
            last_stats: now,
            last_frame_at: now,
            detector: None,
            in_detector: VecDeque::new(),
            source: None,
            opened: None,
            source_state: "Connecting",
            reconnects: 0,
            backoff: FIRST_BACKOFF,
            retry_at: now,
            reported_no_input: false,
            last_processed_ms: None,
            last_finished_ms: None,
            time_offset_ms: 0,
            had_source: false,
            last_time_ms: 0,
            first_seen: HashMap::new(),
            crops: crop::Budget::default(),
            cropped: HashSet::new(),
            video_out,
            plan,
            ctx,
            options,
            pushed,
            clock,
            sleeper,
            sources,
            detectors,
        })
    }

    /// Steps until a stop is requested, then releases the source.
    pub fn run(&mut self) {
        let id = self.ctx.instance_id;
        info!(instance_id = %id, "pipeline started");
        while !self.sleeper.stopped() {
            self.step();
        }
        self.finish_all();
        // As the contract says of a stop.
        self.close_open_events();
        set_manual(&self.pushed, false, &self.ctx.stats.frames_dropped);
        // Outputs first: a source's teardown (an RTSP camera's) may outlast
        // the stop's grace, and outputs stopped after it could remove the
        // mounts and files of the instance's next run.
        self.video_out.stop();
        self.ctx.stats.live.clear();
        self.source = None;
        info!(instance_id = %id, "pipeline stopped");
    }

    /// One turn of the loop: apply config changes, publish the statistics
    /// when due, make sure the detector and the source are there, feed
    /// pushed frames, then handle what the source gives (at most one
    /// frame), and finish the oldest frame in the detector unless there is
    /// room for another first. Every wait in it returns at once on a stop.
    pub fn step(&mut self) {
        self.apply_config();
        if self.clock.now() - self.last_stats >= Duration::from_secs(1) {
            self.publish_statistics();
        }
        if self.detector.is_none() {
            // The model loads on first need, once per run. A load cannot be
            // interrupted: a stop requested meanwhile is honoured right
            // after it, before anything else is opened.
            if !self.load_detector() || self.sleeper.stopped() {
                return;
            }
        }
        if !self.ensure_source() {
            return;
        }
        let Some(mut src) = self.source.take() else { return };
        self.feed_pushed(src.as_mut());
        // Another frame goes in beside the one in the detector only while
        // the detector has room for it; otherwise that one finishes first.
        if !self.in_detector.is_empty() && !self.room_for_another() {
            self.finish(Some(src.as_mut()));
        }
        // With a frame in the detector, only a frame ready now is taken:
        // the one in the detector is not kept waiting for the source.
        let waiting = !self.in_detector.is_empty();
        // Frames the source dropped (for `frameRateLimit`, or for newer ones
        // while this worker was busy) count as the worker's own skips do.
        let dropped = src.thin(self.plan.settings.frame_rate_limit);
        self.meter.delivered += dropped;
        self.ctx.stats.frames_dropped.fetch_add(dropped, Ordering::Relaxed);
        match src.next(if waiting { Duration::ZERO } else { POLL }) {
            Next::Timeout => {
                self.finish(Some(src.as_mut()));
                if self.in_detector.is_empty()
                    && self.clock.now() - self.last_frame_at >= REST_AFTER
                {
                    // A stalled camera, a manual input nobody pushes to.
                    self.rest_detector();
                }
                self.source = Some(src);
            }
            Next::Eos => {
                self.source = Some(src);
                self.on_end_of_stream();
            }
            Next::Error(e) => {
                self.source = Some(src);
                let wait = self.retry_later();
                let e = match &self.opened {
                    Some(kind) => kind.redact(&chain(&e)),
                    None => chain(&e),
                };
                let ms = wait.as_millis();
                self.ctx.errors.report(&format!("input failed: {e}; retrying in {ms} ms"));
            }
            Next::Frame(frame) => {
                self.begin(src.as_mut(), frame);
                if !self.room_for_another() {
                    self.finish(Some(src.as_mut()));
                }
                self.source = Some(src);
            }
        }
    }

    /// Whether the next frame may go into the detector before the answers
    /// for those in it: fewer than [`IN_DETECTOR`] are there (one more for
    /// a source that keeps every frame), and the detector has room for it
    /// (under load, each instance has one frame in at a time, and the
    /// service serves them in turn).
    fn room_for_another(&self) -> bool {
        let every_frame =
            self.opened.as_ref().is_some_and(|k| k.keeps_every_frame(self.plan.realtime));
        self.in_detector.len() < IN_DETECTOR + usize::from(every_frame)
            && self.detector.as_ref().is_some_and(|d| d.has_room(every_frame))
    }

    /// Finishes every frame in the detector: before the source goes (their
    /// full frames are in it), at a config change, at the end of a run.
    fn finish_all(&mut self) {
        let mut src = self.source.take();
        while !self.in_detector.is_empty() {
            match src.as_mut() {
                Some(s) => self.finish(Some(s.as_mut())),
                None => self.finish(None),
            }
        }
        self.source = src;
    }

    /// Applies a changed config between frames.
    fn apply_config(&mut self) {
        if !self.ctx.config.has_changed().unwrap_or(false) {
            return;
        }
        let next = match Plan::of(&self.ctx.config.borrow_and_update()) {
            Ok(next) => next,
            Err(e) => {
                let e = chain(&e);
                self.ctx.errors.report(&format!("invalid configuration ignored: {e}"));
                return;
            }
        };
        // The frames in the detector finish under the config they came in.
        self.finish_all();
        let plan = &self.plan;
        if next.source_kind() != plan.source_kind()
            || next.is_manual() != plan.is_manual()
            || next.realtime != plan.realtime
        {
            self.source = None;
            self.opened = None;
            self.source_state = "Connecting";
            self.retry_at = self.clock.now();
            self.reported_no_input = false;
        }
        if next.settings.detection_sensitivity != plan.settings.detection_sensitivity {
            // Live tracks and the id counter stay: a new track must never
            // take an old one's id (and its rule state).
            self.tracker.set_options(tracker_options(&next));
        }
        self.gate.set_debug(next.settings.debug_mode);
        self.rules.set_config(
            &next.securt,
            next.settings.detector_mode,
            next.settings.movement_sensitivity,
        );
        self.video_out.configure(&next.outputs);
        self.plan = next;
    }

    fn publish_statistics(&mut self) {
        let (ctx, now) = (&self.ctx, self.clock.now());
        let secs = (now - self.meter.since).as_secs_f64().max(1e-3);
        let fps = self.meter.processed as f64 / secs;
        let source_fps = self.meter.delivered as f64 / secs;
        ctx.stats.fps.set(fps);
        ctx.stats.source_fps.set(source_fps);
        let resolution = self.detector.as_ref().map(|d| {
            let (w, h) = d.input_size();
            format!("{w}x{h}")
        });
        let source_resolution =
            self.source.as_ref().and_then(|s| s.source_size()).map(|(w, h)| format!("{w}x{h}"));
        let stats = Statistics {
            current_framerate: fps,
            source_framerate: source_fps,
            dropped_frames_count: ctx.stats.frames_dropped.load(Ordering::Relaxed),
            frames_processed: ctx.stats.frames_processed.load(Ordering::Relaxed),
            input_queue_size: self.pushed.lock().map(|p| p.queue.len() as u64).unwrap_or(0),
            latency: ctx.stats.latency_ms.get(),
            resolution: resolution.unwrap_or_default(),
            source_resolution: source_resolution.unwrap_or_default(),
            start_time: self.started_ms,
            source_state: self.source_state,
            source_reconnects: self.reconnects,
        };
        let mut p = payload::statistics(ctx.instance_id, &stats);
        if let Some(h) = ctx.stats.handlers.to_json() {
            p.insert("handlers".into(), h);
        }
        if let Some(store) = &self.options.store {
            let pending = store.pending.load(Ordering::Relaxed);
            p.insert("store_queue_size".into(), serde_json::json!(pending));
        }
        ctx.bus.publish("statistics", p);
        *ctx.stats.source.lock().unwrap_or_else(|p| p.into_inner()) =
            (self.source_state, self.reconnects);
        *ctx.stats.rules.lock().unwrap_or_else(|p| p.into_inner()) = self.rules.stats();
        self.meter = Meter::new(now);
        self.last_stats = now;
    }

    /// Loads the detector; on failure reports it and waits before the next
    /// try. Whether it is loaded.
    fn load_detector(&mut self) -> bool {
        match self.detectors.load() {
            Ok(d) => {
                self.detector = Some(d);
                true
            }
            Err(e) => {
                self.source_state = "Failed";
                self.ctx.errors.report(&format!("detector unavailable: {}", chain(&e)));
                self.sleeper.sleep(MAX_BACKOFF);
                false
            }
        }
    }

    /// The source that should be open now. A `Manual` input opens when
    /// frames arrive, for their kind (images or H.264/H.265), and reopens
    /// if a client switches kinds.
    fn wanted_source(&self) -> Option<SourceKind> {
        if !self.plan.is_manual() {
            return self.plan.source_kind();
        }
        let next = lock(&self.pushed).queue.front().map(|f| pushed_source(f.data.kind()));
        next.or_else(|| self.opened.clone())
    }

    /// Opens the wanted source unless it is open, when its retry time has
    /// come. Whether a source is open.
    fn ensure_source(&mut self) -> bool {
        set_manual(&self.pushed, self.plan.is_manual(), &self.ctx.stats.frames_dropped);
        let wanted = self.wanted_source();
        if wanted != self.opened {
            self.finish_all();
            self.source = None;
            self.opened = None;
        }
        if self.source.is_some() {
            return true;
        }
        let Some(kind) = wanted else {
            // No input yet, or a manual one before its first frame.
            self.rest_detector();
            if !self.plan.is_manual() && !self.reported_no_input {
                self.ctx.errors.report("no input configured: set one with POST .../input");
                self.reported_no_input = true;
            }
            self.sleeper.sleep(POLL);
            return false;
        };
        if self.clock.now() < self.retry_at {
            self.sleeper.sleep(POLL);
            return false;
        }
        let login = match (&kind, &self.options.credentials) {
            (SourceKind::Uri(u), Some(c)) if u.starts_with("rtsp") => c.for_uri(u),
            _ => Ok(None),
        };
        let login = match login {
            Ok(l) => l,
            Err(why) => {
                self.retry_later();
                self.ctx.errors.report(&format!("cannot open the input: {why}"));
                return false;
            }
        };
        let size = self.detector.as_ref().map_or((0, 0), |d| d.input_size());
        match self.sources.open(&kind, size, self.plan.realtime, login) {
            Ok(s) => {
                debug!(instance_id = %self.ctx.instance_id, kind = %kind.redacted(), "source opened");
                self.source = Some(s);
                self.opened = Some(kind);
                self.source_state = "Connected";
                // A new pipeline's timestamps start again near 0: stream
                // time goes on from the last frame's by the time since it
                // came (1 ms at least: a file's next loop), so that a
                // camera's outage counts, for its tracks and open events,
                // and `frameRateLimit` does not skip every frame until the
                // new timestamps catch up with the old.
                if self.had_source {
                    let gap = (self.clock.now() - self.last_frame_at).as_millis() as i64;
                    self.time_offset_ms = self.last_time_ms + gap.max(1);
                }
                self.had_source = true;
                // Its first frame is shown unasked: its stream time may not
                // be a second past the last source's.
                self.last_finished_ms = None;
                true
            }
            Err(e) => {
                self.retry_later();
                let e = kind.redact(&chain(&e));
                self.ctx.errors.report(&format!("cannot open the input: {e}"));
                false
            }
        }
    }

    /// Drops the source and schedules the next attempt after the current
    /// backoff, which then doubles (up to [`MAX_BACKOFF`]). Returns the wait.
    fn retry_later(&mut self) -> Duration {
        let wait = self.backoff;
        self.finish_all();
        self.rest_detector();
        self.source = None;
        self.source_state = "Reconnecting";
        self.reconnects += 1;
        self.retry_at = self.clock.now() + wait;
        self.backoff = (wait * 2).min(MAX_BACKOFF);
        wait
    }

    /// Ends the open analytics events at the last frame processed (a stop,
    /// the end of a file that does not loop), so that every start a client
    /// saw has its end.
    fn close_open_events(&mut self) {
        let id = self.ctx.instance_id;
        if let Some(at) = self.last_processed_ms {
            for e in self.rules.close_all(at) {
                self.ctx.bus.publish(e.event_type, payload::analytics(id, &e, &self.track_ids));
            }
        }
    }

    /// Tells the detector no frame will come for a while (nothing is in it:
    /// the frames in it were finished first).
    fn rest_detector(&mut self) {
        if let Some(d) = self.detector.as_mut() {
            d.rest();
        }
    }

    /// Feeds pushed frames to a `Manual` input while it takes them; the
    /// others wait in the push queue, whose bounds the clients see (409).
    /// Their times are the clients' own (Unix ms).
    fn feed_pushed(&mut self, src: &mut dyn FrameSource) {
        while src.takes_push() {
            let next = {
                let mut slot = lock(&self.pushed);
                // A frame of another kind waits for a source of its kind.
                let fits = slot
                    .queue
                    .front()
                    .is_some_and(|f| self.opened.as_ref() == Some(&pushed_source(f.data.kind())));
                if fits { slot.queue.pop_front() } else { None }
            };
            let Some(f) = next else { break };
            if let Err(e) = src.push(f.data, f.timestamp_ms) {
                let e = chain(&e);
                self.ctx.errors.report(&format!("pushed frame refused by the pipeline: {e}"));
            }
        }
        if let Some(epoch) = src.push_epoch_ms() {
            self.time_offset_ms = epoch;
        }
    }

    fn on_end_of_stream(&mut self) {
        self.finish_all();
        let file = matches!(self.plan.source_kind(), Some(SourceKind::Uri(ref u)) if !u.starts_with("rtsp"));
        if file && self.plan.looping {
            // Start the file again with a fresh pipeline: a flushing seek
            // back to 0 on a stream that has reached EOS left this tee'd
            // pipeline silent. Stream time continues (`ensure_source`).
            self.source = None;
            self.opened = None;
        } else if file {
            self.rest_detector();
            if self.source_state != "Ended" {
                // Nothing more will come to end them.
                self.close_open_events();
            }
            self.source_state = "Ended";
            self.sleeper.sleep(POLL);
        } else {
            // A live source that ends has dropped: reconnect.
            self.retry_later();
            self.ctx.errors.report("the input ended; reconnecting");
        }
    }

    /// Stream time of a frame: its timestamp (files keep their own pace
    /// even when processed faster), continued across loops, never going
    /// back; time since the start for frames without one.
    fn stream_time(&mut self, pts_ms: Option<i64>) -> i64 {
        let time_ms = pts_ms
            .map(|p| p + self.time_offset_ms)
            .unwrap_or_else(|| self.clock.wall_ms() - self.started_ms);
        let time_ms = time_ms.max(self.last_time_ms);
        self.last_time_ms = time_ms;
        time_ms
    }

    /// Whether `frameRateLimit` skips a frame at `time_ms`.
    fn rate_limited(&self, time_ms: i64) -> bool {
        too_soon(time_ms, self.last_processed_ms, self.plan.settings.frame_rate_limit)
    }

    /// Takes a frame from the source: counts it, and sends it to the
    /// detector unless `frameRateLimit` skips it.
    fn begin(&mut self, src: &mut dyn FrameSource, frame: RgbFrame) {
        let decoded_at = self.clock.now();
        let decoded_at_ms = self.clock.wall_ms();
        self.last_frame_at = decoded_at;
        self.backoff = FIRST_BACKOFF;
        self.source_state = "Connected";
        self.meter.delivered += 1;
        let time_ms = self.stream_time(frame.pts_ms);
        if self.rate_limited(time_ms) {
            self.ctx.stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
            src.skipped(frame.pts_ms);
            return;
        }
        self.last_processed_ms = Some(time_ms);
        let source_size = src.source_size().unwrap_or((frame.width, frame.height));
        let Some(detector) = self.detector.as_mut() else { return };
        let (iw, ih) = detector.input_size();
        let Ok(letterbox) = Letterbox::new(source_size.0, source_size.1, iw, ih) else { return };
        let pts_ms = frame.pts_ms;
        detector.send(frame, &letterbox, !self.in_detector.is_empty());
        self.in_detector.push_back(InDetector {
            pts_ms,
            time_ms,
            decoded_at,
            decoded_at_ms,
            source_size,
        });
    }

    /// Waits for the detections of the oldest frame in the detector, then
    /// tracks, evaluates the rules and publishes the frame's events, crops
    /// and output video (these with `src`, which holds its full frame).
    fn finish(&mut self, src: Option<&mut dyn FrameSource>) {
        let (Some(frame), Some(detector)) = (self.in_detector.pop_front(), self.detector.as_mut())
        else {
            return;
        };
        let detected = match detector.receive() {
            Ok(d) => d,
            Err(e) => {
                self.ctx.errors.report(&chain(&e));
                // No crop or output will ask for this frame.
                if let Some(src) = src {
                    src.passed(frame.pts_ms);
                }
                if matches!(e, DetectorError::Decode(_) | DetectorError::Panicked(_)) {
                    // A model whose outputs cannot be read, or whose runs
                    // panic, will not get better at the next frame.
                    self.sleeper.sleep(MAX_BACKOFF);
                }
                return;
            }
        };
        self.ctx.stats.inference_ms.observe(detected.run_time.as_secs_f64() * 1000.0);
        let InDetector { pts_ms, time_ms, decoded_at, decoded_at_ms, source_size: (sw, sh) } =
            frame;
        let tracks = self.tracker.update(time_ms, &detected.detections);
        self.rules.set_frame_size(sw, sh);
        let observations: Vec<TrackObservation> = tracks
            .iter()
            .filter(|t| t.lost_ms == 0)
            .map(|t| TrackObservation {
                tracking_id: t.id,
                class: t.class,
                label: t.label.to_string(),
                bbox: bbox(&t.rect),
                confirmed: t.confirmed,
                confidence: t.score,
            })
            .collect();
        let events = self.rules.process(time_ms, &observations);
        let confirmed = self.publish_tracks(time_ms, &tracks, &events);
        let id = self.ctx.instance_id;
        for e in &events {
            self.ctx.bus.publish(e.event_type, payload::analytics(id, e, &self.track_ids));
        }
        if let Some(src) = src {
            self.crops_and_outputs(src, (pts_ms, decoded_at_ms), time_ms, &tracks);
            src.passed(pts_ms);
        }
        let stats = &self.ctx.stats;
        stats.track_count.store(confirmed, Ordering::Relaxed);
        stats.frames_processed.fetch_add(1, Ordering::Relaxed);
        let latency_ms = (self.clock.now() - decoded_at).as_secs_f64() * 1000.0;
        stats.latency_ms.set(latency_ms);
        stats.event_latency_ms.observe(latency_ms);
        self.meter.processed += 1;
    }

    /// Publishes the tracks (through the gate); returns how many are
    /// confirmed.
    fn publish_tracks(&mut self, time_ms: i64, tracks: &[Track], events: &[AnalyticsEvent]) -> u64 {
        // The events each track takes part in, for its payload: the open
        // ones (group events included) and this frame's instantaneous ones.
        let mut open = self.rules.open_events();
        for e in events {
            if let Some(t) = e.tracking_id
                && !e.event_type.ends_with("-end")
            {
                let ids = open.entry(t).or_default();
                if !ids.contains(&e.event_id) {
                    ids.push(e.event_id);
                }
            }
        }
        let id = self.ctx.instance_id;
        let mut confirmed = 0u64;
        self.first_seen.retain(|tid, _| tracks.iter().any(|t| t.id == *tid));
        for t in tracks.iter().filter(|t| t.lost_ms == 0) {
            if t.confirmed {
                confirmed += 1;
            }
            if !t.confirmed && !self.plan.tentative {
                continue;
            }
            let first = *self.first_seen.entry(t.id).or_insert(time_ms);
            let speed = t.velocity.x.hypot(t.velocity.y);
            let part_of = open.get(&t.id).map(Vec::as_slice).unwrap_or(&[]);
            let p = TrackPayload {
                tracking_id: self.track_ids.uuid(t.id),
                class: t.class,
                confidence: t.score,
                age_ms: (time_ms - first).max(t.age_ms),
                // Normalised image widths per second: a walker crosses a
                // typical frame in seconds (0.1-0.5/s); jitter of a parked
                // object stays well below 0.02/s.
                is_moving: speed > 0.02,
                location: bbox(&t.rect),
                open_events: part_of,
                tentative: !t.confirmed,
            };
            let update = payload::track(id, time_ms, &p);
            for (kind, m) in self.gate.track(t.id, time_ms, part_of, update) {
                self.ctx.bus.publish(kind, m);
            }
        }
        self.gate.forget_old(time_ms);
        confirmed
    }

    /// A crop of each newly confirmed track, within the budget, cut from
    /// the very frame the model saw (a track waits for the next frame when
    /// that one is no longer at hand); and that frame, overlay drawn once,
    /// to the video outputs and the live view (when someone watches).
    fn crops_and_outputs(
        &mut self,
        src: &mut dyn FrameSource,
        (pts_ms, decoded_at_ms): (Option<i64>, i64),
        time_ms: i64,
        tracks: &[Track],
    ) {
        let id = self.ctx.instance_id;
        self.cropped.retain(|tid| tracks.iter().any(|t| t.id == *tid));
        // The very frame the model saw, full size, when an output wants it
        // (crops fetch it on demand below).
        let live = self.ctx.stats.live.watched();
        let video = live || self.video_out.active();
        let now_ms = self.clock.wall_ms();
        // Encoded unasked: a source's first frame, pushed frames, and frames
        // of a slow source (a second or more apart), any of which may be
        // the last for a while; a request then has one to show.
        let previous = self.last_finished_ms.replace(time_ms);
        let unasked = self.plan.is_manual()
            || previous.is_none_or(|p| !(0..UNASKED_GAP_MS).contains(&(time_ms - p)));
        let preview = self.ctx.stats.preview.due(now_ms, unasked);
        let mut full = None;
        if video || preview {
            full = src.full_frame(pts_ms);
        }
        if preview
            && let Some(f) = full.as_ref()
            && let Some(jpeg) = crop::jpeg(f, PREVIEW_QUALITY)
        {
            // Before the overlay is drawn: `GET .../frame` shows none.
            self.ctx.stats.preview.publish(jpeg, now_ms);
        }
        for t in tracks.iter().filter(|t| t.confirmed && t.lost_ms == 0) {
            if self.cropped.contains(&t.id) {
                continue;
            }
            if full.is_none() {
                full = src.full_frame(pts_ms).filter(|f| f.pts_ms == pts_ms);
            }
            let Some(f) = full.as_ref().filter(|f| f.pts_ms == pts_ms) else {
                break;
            };
            if !self.crops.take(time_ms) {
                break;
            }
            self.cropped.insert(t.id);
            if let Some(image) = crop::jpeg_base64(f, &t.rect) {
                let tid = self.track_ids.uuid(t.id);
                let p = payload::crop(id, time_ms, tid, t.score, &bbox(&t.rect), image);
                if let Some(p) = self.gate.crop(t.id, time_ms, p) {
                    self.ctx.bus.publish("crop", p);
                }
            }
        }
        if video && let Some(f) = full.as_mut() {
            if self.plan.outputs.render == RenderPreset::Default {
                let scene = scene(&self.plan, tracks, &self.rules.stats());
                let mut canvas = Canvas {
                    data: &mut f.data,
                    width: f.width as usize,
                    height: f.height as usize,
                    offsets: f.offsets,
                    strides: f.strides,
                };
                overlay::draw(&mut canvas, &scene);
            }
            if let Err(e) = self.video_out.push(f) {
                self.ctx.errors.report(&chain(&e));
            }
            if live && let Some(jpeg) = crop::jpeg(f, LIVE_QUALITY) {
                self.ctx.stats.live.publish(LiveFrame { jpeg: Arc::new(jpeg), decoded_at_ms });
            }
        }
    }
}

/// The source pushed frames of `kind` go to.
fn pushed_source(kind: PushedKind) -> SourceKind {
    match kind {
        PushedKind::Image => SourceKind::PushedImages,
        PushedKind::H264 => SourceKind::PushedVideo { h265: false },
        PushedKind::H265 => SourceKind::PushedVideo { h265: true },
    }
}

fn bbox(r: &crate::detect::Rect) -> BBox {
    BBox {
        x: f64::from(r.x1),
        y: f64::from(r.y1),
        width: f64::from(r.x2 - r.x1),
        height: f64::from(r.y2 - r.y1),
    }
}

/// Says whether pushes are accepted; when they stop being (a stop, or an
/// input that is no longer `Manual`), the frames still queued are discarded
/// and counted as dropped, like frames a busy pipeline drops.
fn set_manual(pushed: &Mutex<PushSlot>, manual: bool, dropped: &AtomicU64) {
    let mut p = pushed.lock().unwrap_or_else(|p| p.into_inner());
    if !manual {
        dropped.fetch_add(p.queue.len() as u64, Ordering::Relaxed);
        p.queue.clear();
    }
    p.manual = manual;
}

#[cfg(test)]
mod tests;
