//! Test doubles for the worker's parts: simulated time whose waits return
//! at once, scripted sources and an opener that records what it opened, and
//! detectors whose load can fail or block. Shared by the worker's and the
//! runner's unit tests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::watch;
use uuid::Uuid;

use super::clock::{Clock, Sleeper};
use super::detector::{Detected, Detector, LoadDetector};
use super::error::{DetectorError, SourceError};
use super::source::{
    FrameSource, Next, OpenSource, PushClock, RateGate, RgbFrame, SourceKind, YuvFrame,
};
use super::{MediaOptions, lock};
use crate::detect::{Letterbox, ModelFamily};
use crate::events::{BusOptions, EventBus};
use crate::runtime::{ErrorCell, ErrorSink, PushedData, RunContext, RunStats};

/// Simulated time. A wait advances it by the wait at once and is recorded;
/// a stop can be requested during the n-th wait, which then returns at once
/// without advancing time, as a real wait woken by the stop would.
#[derive(Debug)]
pub struct FakeTime {
    start: Instant,
    elapsed: Mutex<Duration>,
    stopped: AtomicBool,
    waits: Mutex<Vec<Duration>>,
    stop_during_wait: Mutex<Option<usize>>,
}

/// Wall-clock time of the simulated epoch, ms.
pub const WALL_START_MS: i64 = 1_700_000_000_000;

impl FakeTime {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeTime {
            start: Instant::now(),
            elapsed: Mutex::default(),
            stopped: AtomicBool::new(false),
            waits: Mutex::default(),
            stop_during_wait: Mutex::default(),
        })
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        *lock(&self.elapsed)
    }

    pub fn advance(&self, d: Duration) {
        *lock(&self.elapsed) += d;
    }

    /// Every wait made so far (those cut short by a stop included).
    pub fn waits(&self) -> Vec<Duration> {
        lock(&self.waits).clone()
    }

    /// Requests a stop during the `n`-th wait from now on (1 = the next).
    pub fn stop_during_wait(&self, n: usize) {
        *lock(&self.stop_during_wait) = Some(lock(&self.waits).len() + n);
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}

impl Clock for FakeTime {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn wall_ms(&self) -> i64 {
        WALL_START_MS + self.elapsed().as_millis() as i64
    }
}

impl Sleeper for FakeTime {
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn sleep(&self, d: Duration) {
        let n = {
            let mut waits = lock(&self.waits);
            waits.push(d);
            waits.len()
        };
        if *lock(&self.stop_during_wait) == Some(n) {
            self.stop();
        }
        if !self.stopped() {
            self.advance(d);
        }
    }
}

/// What the fakes saw, for the test to check.
#[derive(Debug, Default)]
pub struct Log {
    /// Each open: what, and when (simulated time since the start).
    pub opens: Mutex<Vec<(SourceKind, Duration)>>,
    /// Each pushed frame handed to a source: its bytes and timestamp.
    pub pushes: Mutex<Vec<(PushedData, Option<i64>)>>,
    /// How many pushed frames the sources take in all (`None`: any).
    pub push_room: Mutex<Option<usize>>,
    pub loads: Mutex<usize>,
    /// Stream times are not visible to a detector; frames are counted.
    pub detected: Mutex<usize>,
    /// Each frame sent to a detector: whether it was sent `behind`.
    pub behind: Mutex<Vec<bool>>,
    /// Frames a thinning source skipped itself.
    pub thinned: Mutex<u64>,
    /// The times of the frames the worker told a source it skipped.
    pub skipped: Mutex<Vec<Option<i64>>>,
    /// For each time a detector was told to rest: the frames sent to
    /// detectors by then.
    pub rests: Mutex<Vec<usize>>,
}

impl Log {
    pub fn opens(&self) -> Vec<(SourceKind, Duration)> {
        lock(&self.opens).clone()
    }

    pub fn open_times_ms(&self) -> Vec<u128> {
        self.opens().iter().map(|(_, t)| t.as_millis()).collect()
    }

    pub fn pushes(&self) -> Vec<(PushedData, Option<i64>)> {
        lock(&self.pushes).clone()
    }

    pub fn loads(&self) -> usize {
        *lock(&self.loads)
    }

    pub fn detected(&self) -> usize {
        *lock(&self.detected)
    }

    pub fn behind(&self) -> Vec<bool> {
        lock(&self.behind).clone()
    }

    pub fn thinned(&self) -> u64 {
        *lock(&self.thinned)
    }

    pub fn skipped(&self) -> Vec<Option<i64>> {
        lock(&self.skipped).clone()
    }
}

/// A model frame of the fake sources (size matters, pixels do not).
pub fn frame(pts_ms: Option<i64>) -> Next {
    Next::Frame(RgbFrame {
        data: vec![0; 4 * 4 * 3].into(),
        width: 4,
        height: 4,
        stride: 12,
        pts_ms,
    })
}

/// A source that plays its script, then times out (waiting its timeout on
/// the simulated clock, or not at all once a stop is requested); an end of
/// stream in it is final. A thinning one skips the frames
/// `frameRateLimit` skips, as the GStreamer source's probes do.
pub struct FakeSource {
    script: VecDeque<Next>,
    time: Arc<FakeTime>,
    log: Arc<Log>,
    push_clock: PushClock,
    /// When thinning: the limit, the gate, and the frames skipped since
    /// the worker last asked.
    thinning: Option<(f64, RateGate, u64)>,
}

impl FrameSource for FakeSource {
    fn next(&mut self, timeout: Duration) -> Next {
        if matches!(self.script.front(), Some(Next::Eos)) {
            // An ended stream stays ended, as an appsink does.
            return Next::Eos;
        }
        loop {
            let next = self.script.pop_front().unwrap_or_else(|| {
                if !self.time.stopped() {
                    self.time.advance(timeout);
                }
                Next::Timeout
            });
            if let (Next::Frame(f), Some((limit, gate, skipped))) = (&next, &mut self.thinning)
                && let Some(pts) = f.pts_ms
                && !gate.pass(pts, *limit)
            {
                *skipped += 1;
                *lock(&self.log.thinned) += 1;
                continue;
            }
            return next;
        }
    }

    fn thin(&mut self, limit: f64) -> u64 {
        match &mut self.thinning {
            Some((l, _, skipped)) => {
                *l = limit;
                std::mem::take(skipped)
            }
            None => 0,
        }
    }

    fn full_frame(&mut self, pts_ms: Option<i64>) -> Option<YuvFrame> {
        // A grey I420 frame (the outputs and the live view encode it).
        let (w, h) = (16usize, 16usize);
        Some(YuvFrame {
            data: vec![128; w * h * 3 / 2],
            width: w as u32,
            height: h as u32,
            offsets: [0, w * h, w * h + w * h / 4],
            strides: [w, w / 2, w / 2],
            pts_ms,
        })
    }

    fn passed(&mut self, _pts_ms: Option<i64>) {}

    fn skipped(&mut self, pts_ms: Option<i64>) {
        lock(&self.log.skipped).push(pts_ms);
    }

    fn source_size(&self) -> Option<(u32, u32)> {
        Some((640, 480))
    }

    fn takes_push(&self) -> bool {
        lock(&self.log.push_room).is_none_or(|room| lock(&self.log.pushes).len() < room)
    }

    fn push(&mut self, data: PushedData, timestamp_ms: Option<i64>) -> Result<(), SourceError> {
        self.push_clock.pts_ms(timestamp_ms.unwrap_or(WALL_START_MS));
        lock(&self.log.pushes).push((data, timestamp_ms));
        Ok(())
    }

    fn push_epoch_ms(&self) -> Option<i64> {
        self.push_clock.epoch_ms()
    }
}

/// Opens [`FakeSource`]s: each open takes the next scripted outcome (a
/// failure, or a source playing the given items); once the script is done,
/// every open gives a source that only times out.
pub struct FakeOpener {
    pub script: Mutex<VecDeque<Option<Vec<Next>>>>,
    pub time: Arc<FakeTime>,
    pub log: Arc<Log>,
    /// Told after each open.
    pub opened: Option<Mutex<mpsc::Sender<()>>>,
    /// Whether its sources skip frames for `frameRateLimit` themselves.
    pub thinning: bool,
}

impl FakeOpener {
    pub fn new(
        time: &Arc<FakeTime>,
        log: &Arc<Log>,
        script: impl IntoIterator<Item = Option<Vec<Next>>>,
    ) -> Self {
        FakeOpener {
            script: Mutex::new(script.into_iter().collect()),
            time: time.clone(),
            log: log.clone(),
            opened: None,
            thinning: false,
        }
    }
}

impl OpenSource for FakeOpener {
    fn open(
        &self,
        kind: &SourceKind,
        _size: (u32, u32),
        _realtime: bool,
        _login: Option<(String, String)>,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        lock(&self.log.opens).push((kind.clone(), self.time.elapsed()));
        let outcome = lock(&self.script).pop_front().unwrap_or(Some(Vec::new()));
        if let Some(tx) = &self.opened {
            let _ = lock(tx).send(());
        }
        let Some(script) = outcome else {
            return Err(SourceError::Open("scripted failure".into()));
        };
        Ok(Box::new(FakeSource {
            script: script.into(),
            time: self.time.clone(),
            log: self.log.clone(),
            push_clock: PushClock::default(),
            thinning: self.thinning.then(|| (0.0, RateGate::default(), 0)),
        }))
    }
}

/// How a [`FakeDetector`]'s outputs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No objects.
    Nothing,
    /// Its outputs cannot be decoded.
    Undecodable,
}

/// Loads [`FakeDetector`]s: each load first calls `on_load`, then waits
/// for `gate` (if any) to be opened or dropped, as a slow model load
/// would; the first `failures` loads fail.
pub struct FakeLoader {
    pub log: Arc<Log>,
    pub on_load: Option<Box<dyn Fn() + Send + Sync>>,
    pub failures: usize,
    pub outcome: Outcome,
    /// Whether its detectors take a second frame before the first one's
    /// answer.
    pub room: bool,
    pub gate: Option<Mutex<mpsc::Receiver<()>>>,
    /// Told when a loaded detector is dropped.
    pub dropped: Option<mpsc::Sender<()>>,
}

impl FakeLoader {
    pub fn new(log: &Arc<Log>) -> Self {
        FakeLoader {
            log: log.clone(),
            on_load: None,
            failures: 0,
            outcome: Outcome::Nothing,
            room: false,
            gate: None,
            dropped: None,
        }
    }
}

impl LoadDetector for FakeLoader {
    fn load(&self) -> Result<Box<dyn Detector>, DetectorError> {
        if let Some(hook) = &self.on_load {
            hook();
        }
        if let Some(gate) = &self.gate {
            let _ = lock(gate).recv();
        }
        let n = {
            let mut loads = lock(&self.log.loads);
            *loads += 1;
            *loads
        };
        if n <= self.failures {
            return Err(DetectorError::NoModel);
        }
        Ok(Box::new(FakeDetector {
            log: self.log.clone(),
            outcome: self.outcome,
            room: self.room,
            sent: 0,
            dropped: self.dropped.clone(),
        }))
    }
}

/// A detector that sees nothing, or gives undecodable outputs; with
/// `room`, it takes a second frame before the first one's answer.
pub struct FakeDetector {
    log: Arc<Log>,
    outcome: Outcome,
    room: bool,
    /// Frames sent and not received.
    sent: usize,
    dropped: Option<mpsc::Sender<()>>,
}

impl Detector for FakeDetector {
    fn input_size(&self) -> (u32, u32) {
        (4, 4)
    }

    fn send(&mut self, _frame: RgbFrame, _letterbox: &Letterbox, behind: bool) {
        *lock(&self.log.detected) += 1;
        lock(&self.log.behind).push(behind);
        self.sent += 1;
    }

    fn receive(&mut self) -> Result<Detected, DetectorError> {
        if self.sent == 0 {
            return Err(DetectorError::NothingSent);
        }
        self.sent -= 1;
        match self.outcome {
            Outcome::Nothing => Ok(Detected::default()),
            Outcome::Undecodable => {
                Err(DetectorError::Decode(crate::error::Error::invalid("outputs", "scripted")))
            }
        }
    }

    fn has_room(&self, _may_wait: bool) -> bool {
        self.room
    }

    fn rest(&mut self) {
        assert_eq!(self.sent, 0, "told to rest with frames in the detector");
        let detected = *lock(&self.log.detected);
        lock(&self.log.rests).push(detected);
    }
}

impl Drop for FakeDetector {
    fn drop(&mut self) {
        if let Some(tx) = &self.dropped {
            let _ = tx.send(());
        }
    }
}

/// A run's context on a fresh bus, and the handles a test reads it by.
pub struct Harness {
    pub ctx: Option<RunContext>,
    pub config: watch::Sender<Arc<Map<String, Value>>>,
    pub stats: Arc<RunStats>,
    pub error: Arc<ErrorCell>,
}

impl Harness {
    /// For the instance config `tree` (a JSON object).
    pub fn new(tree: Value) -> Self {
        let id = Uuid::new_v4();
        let Value::Object(tree) = tree else { panic!("a config tree is an object") };
        let (config, rx) = watch::channel(Arc::new(tree));
        let stats = Arc::new(RunStats::default());
        let error = Arc::new(ErrorCell::default());
        let ctx = RunContext {
            instance_id: id,
            bus: Arc::new(EventBus::new(BusOptions::default())),
            config: rx,
            stats: stats.clone(),
            errors: ErrorSink::new(id, error.clone(), Arc::new(ErrorCell::default())),
        };
        Harness { ctx: Some(ctx), config, stats, error }
    }

    /// The last error reported, if any.
    pub fn last_error(&self) -> Option<String> {
        self.error.get().map(|e| e.message)
    }
}

/// Media options that load nothing real.
pub fn options() -> MediaOptions {
    MediaOptions {
        model: Default::default(),
        family: ModelFamily::default(),
        onnxruntime: Default::default(),
        sessions: super::service::Sessions { narrow: 1, wide_threads: 0 },
        batching: Default::default(),
        provider: Default::default(),
        store: None,
        credentials: None,
        hls_dir: std::env::temp_dir().join(format!("rt-fake-hls-{}", Uuid::new_v4())),
    }
}
