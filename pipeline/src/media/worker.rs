//! One running instance's worker loop: read a frame, detect, track,
//! evaluate the rules, publish events; once a second, statistics. It owns
//! its source and model, applies config changes between frames, retries a
//! failing source with backoff until it comes back, and returns promptly
//! when asked to stop.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing::{debug, info};

use super::MediaOptions;
use super::crop;
use super::gate::TrackGate;
use super::infer::{Model, ModelOptions};
use super::output::Outputs;
use super::payload::{self, Statistics, TrackPayload};
use super::source::{Next, Source, SourceKind};
use crate::analytics::{BBox, EngineOptions, RuleEngine, RuleStats, TrackObservation};
use crate::detect::{DecodeOptions, Letterbox, confidence_threshold, postprocess, to_chw};
use crate::error::chain;
use crate::outputs::{OutputConfig, RenderPreset};
use crate::overlay::{self, Canvas, Labelled, Scene, Shape};
use crate::runtime::{PushError, PushedFrame, PushedKind, RunContext};
use crate::securt::{ObjectClass, SecurtConfig};
use crate::settings::{InputSource, InputType, Settings};
use crate::track::{Track, Tracker, TrackerOptions};

/// Frames waiting to be fed to a `Manual` input. Small: a client pushing
/// faster than the model keeps up is told so (409) rather than queued.
const PUSH_QUEUE: usize = 8;

/// Longest wait between two attempts to reopen a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long one wait for a frame may block before the loop checks for a
/// stop request or a config change.
const POLL: Duration = Duration::from_millis(100);

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

    pub fn offer(&mut self, frame: PushedFrame) -> Result<(), PushError> {
        if !self.manual {
            return Err(PushError::NotManual);
        }
        if self.queue.len() >= PUSH_QUEUE {
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
    fn of(tree: &Map<String, Value>) -> Result<Self, String> {
        let settings = Settings::from_tree(tree).map_err(|e| e.to_string())?;
        Ok(Plan {
            settings,
            input: InputSource::from_tree(tree).map_err(|e| e.to_string())?,
            looping: flag(tree, "Input/loop", true),
            realtime: flag(tree, "Input/realtime", true),
            tentative: flag(tree, "Output/tentative_tracks", false),
            securt: SecurtConfig::from_tree(tree).map_err(|e| e.to_string())?,
            outputs: OutputConfig::from_tree(tree).map_err(|e| e.to_string())?,
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
    fn new() -> Self {
        Meter { since: Instant::now(), processed: 0, delivered: 0 }
    }
}

/// The worker thread's body.
pub fn run(
    mut ctx: RunContext,
    options: MediaOptions,
    stop: Arc<AtomicBool>,
    pushed: Arc<Mutex<PushSlot>>,
) {
    let id = ctx.instance_id;
    info!(instance_id = %id, "pipeline started");
    let started_ms = chrono::Utc::now().timestamp_millis();
    let mut plan = match Plan::of(&ctx.config.borrow_and_update()) {
        Ok(p) => p,
        Err(e) => {
            ctx.errors.report(&format!("invalid configuration: {e}"));
            return;
        }
    };
    let mut model: Option<Model> = None;
    let mut source: Option<Source> = None;
    let mut source_state = "Connecting";
    let mut reconnects = 0u64;
    let mut backoff = Duration::from_millis(500);
    let mut retry_at = Instant::now();
    let tracker_options = |plan: &Plan| TrackerOptions {
        high_thresh: confidence_threshold(plan.settings.detection_sensitivity),
        ..TrackerOptions::default()
    };
    let mut tracker = Tracker::new(tracker_options(&plan));
    // Tracking ids on the wire are UUIDs drawn afresh for each run.
    let track_ids = payload::TrackIds::new();
    let mut gate = TrackGate::new(plan.settings.debug_mode);
    let mut rules = RuleEngine::new(EngineOptions::default());
    rules.set_config(&plan.securt, plan.settings.detector_mode, plan.settings.movement_sensitivity);
    let mut meter = Meter::new();
    let mut last_stats = Instant::now();
    let mut last_processed_ms: Option<i64> = None;
    let mut time_offset_ms = 0i64;
    let mut last_time_ms = 0i64;
    let mut chw: Vec<f32> = Vec::new();
    let mut first_seen: HashMap<u64, i64> = HashMap::new();
    let mut reported_no_input = false;
    let mut opened: Option<SourceKind> = None;
    let mut crops = crop::Budget::default();
    let mut cropped: HashSet<u64> = HashSet::new();
    let mut video_out = Outputs::new(id, options.hls_dir.clone());
    video_out.configure(&plan.outputs);

    while !stop.load(Ordering::SeqCst) {
        // Config changes apply between frames.
        if ctx.config.has_changed().unwrap_or(false) {
            match Plan::of(&ctx.config.borrow_and_update()) {
                Ok(next) => {
                    if next.source_kind() != plan.source_kind()
                        || next.is_manual() != plan.is_manual()
                        || next.realtime != plan.realtime
                    {
                        source = None;
                        opened = None;
                        source_state = "Connecting";
                        retry_at = Instant::now();
                        reported_no_input = false;
                    }
                    if next.settings.detection_sensitivity != plan.settings.detection_sensitivity {
                        // Live tracks and the id counter stay: a new track
                        // must never take an old one's id (and its rule state).
                        tracker.set_options(tracker_options(&next));
                    }
                    gate.set_debug(next.settings.debug_mode);
                    rules.set_config(
                        &next.securt,
                        next.settings.detector_mode,
                        next.settings.movement_sensitivity,
                    );
                    video_out.configure(&next.outputs);
                    plan = next;
                }
                Err(e) => ctx.errors.report(&format!("invalid configuration ignored: {e}")),
            }
        }

        if last_stats.elapsed() >= Duration::from_secs(1) {
            let secs = meter.since.elapsed().as_secs_f64().max(1e-3);
            let fps = meter.processed as f64 / secs;
            let source_fps = meter.delivered as f64 / secs;
            ctx.stats.fps.set(fps);
            ctx.stats.source_fps.set(source_fps);
            let resolution = model.as_ref().map(|m| format!("{}x{}", m.width, m.height));
            let source_resolution =
                source.as_ref().and_then(Source::source_size).map(|(w, h)| format!("{w}x{h}"));
            let stats = Statistics {
                current_framerate: fps,
                source_framerate: source_fps,
                dropped_frames_count: ctx.stats.frames_dropped.load(Ordering::Relaxed),
                frames_processed: ctx.stats.frames_processed.load(Ordering::Relaxed),
                input_queue_size: pushed.lock().map(|p| p.queue.len() as u64).unwrap_or(0),
                latency: ctx.stats.latency_ms.get(),
                resolution: resolution.unwrap_or_default(),
                source_resolution: source_resolution.unwrap_or_default(),
                start_time: started_ms,
                source_state,
                source_reconnects: reconnects,
            };
            let mut p = payload::statistics(id, &stats);
            if let Some(h) = ctx.stats.handlers.to_json() {
                p.insert("handlers".into(), h);
            }
            if let Some(store) = &options.store {
                let pending = store.pending.load(Ordering::Relaxed);
                p.insert("store_queue_size".into(), serde_json::json!(pending));
            }
            ctx.bus.publish("statistics", p);
            *ctx.stats.rules.lock().unwrap_or_else(|p| p.into_inner()) = rules.stats();
            meter = Meter::new();
            last_stats = Instant::now();
        }

        // The model loads on first need, once per run.
        if model.is_none() {
            let opts = ModelOptions {
                model: options.model.clone(),
                library: options.onnxruntime.clone(),
                threads: options.threads,
            };
            match Model::load(&opts) {
                Ok(m) => model = Some(m),
                Err(e) => {
                    source_state = "Failed";
                    ctx.errors.report(&format!("detector unavailable: {}", chain(&e)));
                    sleep_unless_stopped(&stop, MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(m) = model.as_mut() else { continue };

        // Open the source when there is one to open. A `Manual` input opens
        // when frames arrive, for their kind (images or H.264/H.265), and
        // reopens if a client switches kinds.
        set_manual(&pushed, plan.is_manual());
        let wanted = if plan.is_manual() {
            let next_kind = pushed.lock().ok().and_then(|p| p.queue.front().map(|f| f.kind));
            match next_kind {
                Some(PushedKind::Image) => Some(SourceKind::PushedImages),
                Some(PushedKind::H264) => Some(SourceKind::PushedVideo { h265: false }),
                Some(PushedKind::H265) => Some(SourceKind::PushedVideo { h265: true }),
                None => opened.clone(),
            }
        } else {
            plan.source_kind()
        };
        if wanted != opened {
            source = None;
            opened = None;
        }
        if source.is_none() {
            let Some(kind) = wanted else {
                if !plan.is_manual() && !reported_no_input {
                    ctx.errors.report("no input configured: set one with POST .../input");
                    reported_no_input = true;
                }
                sleep_unless_stopped(&stop, POLL);
                continue;
            };
            if Instant::now() < retry_at {
                sleep_unless_stopped(&stop, POLL);
                continue;
            }
            let login = match (&kind, &options.credentials) {
                (SourceKind::Uri(u), Some(c)) if u.starts_with("rtsp") => c.for_uri(u),
                _ => None,
            };
            match Source::open(&kind, m.width, m.height, plan.realtime, login) {
                Ok(s) => {
                    debug!(instance_id = %id, ?kind, "source opened");
                    source = Some(s);
                    opened = Some(kind);
                    source_state = "Connected";
                }
                Err(e) => {
                    source_state = "Reconnecting";
                    reconnects += 1;
                    ctx.errors.report(&format!("cannot open the input: {}", chain(&e)));
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let Some(src) = source.as_mut() else { continue };

        // Feed pushed frames to a Manual input.
        let queued: Vec<PushedFrame> =
            pushed.lock().map(|mut p| p.queue.drain(..).collect()).unwrap_or_default();
        for f in queued {
            if let Err(e) = src.push(f.data, f.timestamp_ms) {
                ctx.errors.report(&format!("pushed frame refused by the pipeline: {}", chain(&e)));
            }
        }
        // Pushed frames' times are the clients' own (Unix ms).
        if let Some(epoch) = src.push_epoch_ms() {
            time_offset_ms = epoch;
        }

        match src.next(POLL) {
            Next::Timeout => {}
            Next::Eos => {
                let file = matches!(plan.source_kind(), Some(SourceKind::Uri(ref u)) if !u.starts_with("rtsp"));
                if file && plan.looping {
                    // Start the file again with a fresh pipeline: a flushing
                    // seek back to 0 on a stream that has reached EOS left
                    // this tee'd pipeline silent. Stream time continues.
                    time_offset_ms = last_time_ms + 1;
                    source = None;
                    opened = None;
                } else if file {
                    source_state = "Ended";
                    sleep_unless_stopped(&stop, POLL);
                } else {
                    // A live source that ends has dropped: reconnect.
                    source = None;
                    source_state = "Reconnecting";
                    reconnects += 1;
                    ctx.errors.report("the input ended; reconnecting");
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            Next::Error(e) => {
                source = None;
                source_state = "Reconnecting";
                reconnects += 1;
                let (e, ms) = (chain(&e), backoff.as_millis());
                ctx.errors.report(&format!("input failed: {e}; retrying in {ms} ms"));
                retry_at = Instant::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Next::Frame(frame) => {
                let decoded_at = Instant::now();
                backoff = Duration::from_millis(500);
                source_state = "Connected";
                meter.delivered += 1;
                if let Some(jpeg) = src.take_jpeg() {
                    *ctx.stats.last_frame.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Arc::new(jpeg));
                }
                // Stream time: the frame's timestamp (files keep their own
                // pace even when processed faster), continued across loops.
                let time_ms = frame
                    .pts_ms
                    .map(|p| p + time_offset_ms)
                    .unwrap_or_else(|| chrono::Utc::now().timestamp_millis() - started_ms);
                let time_ms = time_ms.max(last_time_ms);
                last_time_ms = time_ms;
                let limit = plan.settings.frame_rate_limit;
                if limit > 0.0
                    && let Some(last) = last_processed_ms
                    && ((time_ms - last) as f64) < 1000.0 / limit - 1.0
                {
                    ctx.stats.frames_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                last_processed_ms = Some(time_ms);
                let Some((sw, sh)) = src.source_size().or(Some((frame.width, frame.height))) else {
                    continue;
                };
                let Ok(letterbox) = Letterbox::new(sw, sh, m.width, m.height) else { continue };
                let pre = options.family.preprocess();
                chw.resize(3 * frame.width as usize * frame.height as usize, 0.0);
                let (fw, fh) = (frame.width as usize, frame.height as usize);
                if let Err(e) = to_chw(&frame.data, fw, fh, frame.stride, &pre, &mut chw) {
                    ctx.errors.report(&format!("unusable frame: {e}"));
                    continue;
                }
                let outputs = match m.run(&chw) {
                    Ok(o) => o,
                    Err(e) => {
                        ctx.errors.report(&chain(&e));
                        continue;
                    }
                };
                let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
                // Decoded down to the tracker's low threshold: weak boxes keep
                // confirmed tracks alive (ByteTrack's second pass) but never
                // start one.
                let decode = DecodeOptions {
                    score_threshold: TrackerOptions::default().low_thresh,
                    ..DecodeOptions::default()
                };
                let detections = match postprocess(options.family, &views, &letterbox, &decode) {
                    Ok(d) => d,
                    Err(e) => {
                        ctx.errors.report(&format!("the model's output cannot be decoded: {e}"));
                        sleep_unless_stopped(&stop, MAX_BACKOFF);
                        continue;
                    }
                };
                let tracks = tracker.update(time_ms, &detections);
                rules.set_frame_size(sw, sh);
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
                let events = rules.process(time_ms, &observations);
                // The events each track takes part in, for its payload: the
                // open ones (group events included) and this frame's
                // instantaneous ones.
                let mut open = rules.open_events();
                for e in &events {
                    if let Some(t) = e.tracking_id
                        && !e.event_type.ends_with("-end")
                    {
                        let ids = open.entry(t).or_default();
                        if !ids.contains(&e.event_id) {
                            ids.push(e.event_id);
                        }
                    }
                }
                let mut confirmed = 0u64;
                first_seen.retain(|tid, _| tracks.iter().any(|t| t.id == *tid));
                for t in tracks.iter().filter(|t| t.lost_ms == 0) {
                    if t.confirmed {
                        confirmed += 1;
                    }
                    if !t.confirmed && !plan.tentative {
                        continue;
                    }
                    let first = *first_seen.entry(t.id).or_insert(time_ms);
                    let speed = t.velocity.x.hypot(t.velocity.y);
                    let part_of = open.get(&t.id).map(Vec::as_slice).unwrap_or(&[]);
                    let p = TrackPayload {
                        tracking_id: track_ids.uuid(t.id),
                        class: t.class,
                        confidence: t.score,
                        age_ms: (time_ms - first).max(t.age_ms),
                        // Normalised image widths per second: a walker crosses a
                        // typical frame in seconds (0.1-0.5/s); jitter of a
                        // parked object stays well below 0.02/s.
                        is_moving: speed > 0.02,
                        location: bbox(&t.rect),
                        open_events: part_of,
                        tentative: !t.confirmed,
                    };
                    let update = payload::track(id, time_ms, &p);
                    for (kind, m) in gate.track(t.id, time_ms, part_of, update) {
                        ctx.bus.publish(kind, m);
                    }
                }
                gate.forget_old(time_ms);
                for e in &events {
                    ctx.bus.publish(e.event_type, payload::analytics(id, e, &track_ids));
                }
                // A crop of each newly confirmed track, within the budget,
                // cut from the very frame the model saw (a track waits for
                // the next frame when that one is no longer at hand).
                cropped.retain(|tid| tracks.iter().any(|t| t.id == *tid));
                // The very frame the model saw, full size, when an output
                // wants it (crops fetch it on demand below).
                let mut full = None;
                if video_out.active() {
                    full = src.full_frame(frame.pts_ms);
                }
                for t in tracks.iter().filter(|t| t.confirmed && t.lost_ms == 0) {
                    if cropped.contains(&t.id) {
                        continue;
                    }
                    if full.is_none() {
                        full = src.full_frame(frame.pts_ms).filter(|f| f.pts_ms == frame.pts_ms);
                    }
                    let Some(f) = full.as_ref().filter(|f| f.pts_ms == frame.pts_ms) else {
                        break;
                    };
                    if !crops.take(time_ms) {
                        break;
                    }
                    cropped.insert(t.id);
                    if let Some(image) = crop::jpeg_base64(f, &t.rect) {
                        let tid = track_ids.uuid(t.id);
                        let p = payload::crop(id, time_ms, tid, t.score, &bbox(&t.rect), image);
                        if let Some(p) = gate.crop(t.id, time_ms, p) {
                            ctx.bus.publish("crop", p);
                        }
                    }
                }
                // The overlay is drawn once, into the frame every output gets.
                if video_out.active()
                    && let Some(f) = full.as_mut()
                {
                    if plan.outputs.render == RenderPreset::Default {
                        let scene = scene(&plan, &tracks, &rules.stats());
                        let mut canvas = Canvas {
                            data: &mut f.data,
                            width: f.width as usize,
                            height: f.height as usize,
                            offsets: f.offsets,
                            strides: f.strides,
                        };
                        overlay::draw(&mut canvas, &scene);
                    }
                    if let Err(e) = video_out.push(f) {
                        ctx.errors.report(&chain(&e));
                    }
                }
                ctx.stats.track_count.store(confirmed, Ordering::Relaxed);
                ctx.stats.frames_processed.fetch_add(1, Ordering::Relaxed);
                ctx.stats.latency_ms.set(decoded_at.elapsed().as_secs_f64() * 1000.0);
                meter.processed += 1;
            }
        }
    }
    set_manual(&pushed, false);
    drop(source);
    info!(instance_id = %id, "pipeline stopped");
}

fn bbox(r: &crate::detect::Rect) -> BBox {
    BBox {
        x: f64::from(r.x1),
        y: f64::from(r.y1),
        width: f64::from(r.x2 - r.x1),
        height: f64::from(r.y2 - r.y1),
    }
}

fn set_manual(pushed: &Mutex<PushSlot>, manual: bool) {
    let mut p = pushed.lock().unwrap_or_else(|p| p.into_inner());
    if !manual {
        p.queue.clear();
    }
    p.manual = manual;
}

/// Sleeps up to `d`, waking early when a stop is requested.
fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
}
