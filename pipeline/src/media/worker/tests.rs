//! Unit tests of the worker loop on simulated time, with scripted sources
//! and fake detectors: source backoff, the frame rate limit, file loops and
//! their stream time, pushed frames, and the stop at every wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{MAX_BACKOFF, POLL, PushSlot, Worker};
use crate::media::error::SourceError;
use crate::media::fakes::{
    FakeLoader, FakeOpener, FakeTime, Harness, Log, Outcome, frame, options,
};
use crate::media::lock;
use crate::media::source::{Next, SourceKind};
use crate::runtime::{PushError, PushedData, PushedFrame, PushedKind};
use crate::still::Still;

/// A worker on simulated time, and what a test looks at.
struct Rig {
    worker: Worker,
    time: Arc<FakeTime>,
    log: Arc<Log>,
    harness: Harness,
    pushed: Arc<Mutex<PushSlot>>,
}

/// Steps a test makes at most while it waits for a condition: far more
/// than any of them needs, so that a broken loop fails instead of hanging.
const MAX_STEPS: usize = 10_000;

impl Rig {
    fn new(
        tree: Value,
        opens: impl IntoIterator<Item = Option<Vec<Next>>>,
        loader: impl FnOnce(&mut FakeLoader),
    ) -> Rig {
        Rig::with_sources(tree, opens, loader, false)
    }

    /// A rig whose sources skip frames for `frameRateLimit` themselves
    /// when `thinning`.
    fn with_sources(
        tree: Value,
        opens: impl IntoIterator<Item = Option<Vec<Next>>>,
        loader: impl FnOnce(&mut FakeLoader),
        thinning: bool,
    ) -> Rig {
        let mut harness = Harness::new(tree);
        let ctx = harness.ctx.take().expect("a fresh harness has its context");
        let (time, log) = (FakeTime::new(), Arc::new(Log::default()));
        let mut detectors = FakeLoader::new(&log);
        loader(&mut detectors);
        let pushed = Arc::new(Mutex::new(PushSlot::for_config(&ctx.config.borrow())));
        let mut sources = FakeOpener::new(&time, &log, opens);
        sources.thinning = thinning;
        let parts = super::Parts {
            clock: time.clone(),
            sleeper: time.clone(),
            sources: Box::new(sources),
            detectors: Box::new(detectors),
        };
        let worker = Worker::new(ctx, options(), pushed.clone(), parts).expect("a valid config");
        Rig { worker, time, log, harness, pushed }
    }

    /// Steps until `done` holds.
    fn step_until(&mut self, what: &str, done: impl Fn(&Rig) -> bool) {
        for _ in 0..MAX_STEPS {
            if done(self) {
                return;
            }
            self.worker.step();
        }
        panic!("not reached after {MAX_STEPS} steps: {what}");
    }

    fn processed(&self) -> u64 {
        self.harness.stats.frames_processed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn dropped(&self) -> u64 {
        self.harness.stats.frames_dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn push(&self, kind: PushedKind, data: u8, timestamp_ms: i64) -> Result<(), PushError> {
        self.push_data(pushed(kind, data), timestamp_ms)
    }

    fn push_data(&self, data: PushedData, timestamp_ms: i64) -> Result<(), PushError> {
        let f = PushedFrame { data, timestamp_ms: Some(timestamp_ms) };
        self.pushed.lock().unwrap().offer(f)
    }
}

/// A pushed frame of `kind` told apart by `data`: a 1x1 image of that grey,
/// or a one-byte access unit.
fn pushed(kind: PushedKind, data: u8) -> PushedData {
    match kind {
        PushedKind::Image => PushedData::Image(Still { width: 1, height: 1, rgb: vec![data; 3] }),
        PushedKind::H264 => PushedData::H264(vec![data]),
        PushedKind::H265 => PushedData::H265(vec![data]),
    }
}

fn file_input(extra: Value) -> Value {
    let mut tree = json!({
        "solution": "securt",
        "Input": {"type": "File", "uri": "/videos/clip.mp4"},
    });
    if let (Value::Object(t), Value::Object(e)) = (&mut tree, extra) {
        for (k, v) in e {
            match (t.get_mut(&k), v) {
                (Some(Value::Object(a)), Value::Object(b)) => a.extend(b),
                (_, v) => {
                    t.insert(k, v);
                }
            }
        }
    }
    tree
}

fn clip() -> SourceKind {
    SourceKind::Uri("file:///videos/clip.mp4".into())
}

/// The running input fails, as GStreamer reports it.
fn failure() -> Next {
    Next::Error(SourceError::Stream {
        element: "uridecodebin0".into(),
        message: "Could not read".into(),
        debug: None,
    })
}

/// `n` frames, `gap_ms` apart from stream time 0, then the file's end.
fn file_of(n: i64, gap_ms: i64) -> Vec<Next> {
    (0..n).map(|i| frame(Some(i * gap_ms))).chain([Next::Eos]).collect()
}

#[test]
fn a_failing_source_is_retried_after_500_ms_doubling_to_10_s_and_reset_by_a_frame() {
    let opens =
        (0..7).map(|_| None).chain([Some(vec![frame(Some(0)), failure()]), None, Some(Vec::new())]);
    let mut rig = Rig::new(file_input(json!({})), opens, |_| {});
    rig.step_until("ten opens", |r| r.log.opens().len() == 10);
    assert_eq!(
        rig.log.open_times_ms(),
        // 500, 1000, 2000, 4000, 8000, then 10000 at most; after a frame
        // and a failure, 500 and 1000 again.
        [0, 500, 1_500, 3_500, 7_500, 15_500, 25_500, 35_500, 36_000, 37_000],
    );
    assert!(rig.log.opens().iter().all(|(kind, _)| *kind == clip()));
    assert_eq!(rig.processed(), 1);
    // Only short waits, each a point where a stop is noticed.
    assert!(rig.time.waits().iter().all(|w| *w == POLL), "{:?}", rig.time.waits());
    let error = rig.harness.last_error().unwrap_or_default();
    assert!(error.starts_with("cannot open the input: the input cannot be opened"), "{error}");
}

#[test]
fn the_input_failing_is_reported_with_the_retry_wait() {
    let mut rig = Rig::new(file_input(json!({})), [Some(vec![failure()])], |_| {});
    rig.step_until("the failure", |r| r.harness.last_error().is_some());
    assert_eq!(
        rig.harness.last_error().unwrap(),
        "input failed: uridecodebin0: Could not read; retrying in 500 ms"
    );
}

/// A detector is told to rest when no frame will come for a while (no
/// input, the source gone until a retry, a file ended, no frame for a
/// second), only once the frames in it are finished (the fake detector
/// checks), and never while frames come.
#[test]
fn the_detector_rests_while_no_frames_come() {
    let second = |r: &Rig| r.time.elapsed() >= Duration::from_millis(1500);
    // (case, input, what the sources give, until when, frames sent by the
    // first rest: none if it never rests).
    type Case = (&'static str, Value, Vec<Option<Vec<Next>>>, fn(&Rig) -> bool, Option<usize>);
    let cases: [Case; 6] = [
        (
            "a failing source",
            file_input(json!({})),
            vec![Some(vec![frame(Some(0)), frame(Some(40)), failure()])],
            |r| r.harness.last_error().is_some(),
            Some(2),
        ),
        (
            "an ended file",
            file_input(json!({"Input": {"loop": false}})),
            vec![Some(file_of(2, 40))],
            |r| r.worker.source_state == "Ended",
            Some(2),
        ),
        ("no input", json!({"solution": "securt"}), vec![], second, Some(0)),
        (
            "a stalled source",
            file_input(json!({})),
            vec![Some(vec![frame(Some(0))])],
            second,
            Some(1),
        ),
        (
            "a looping file",
            file_input(json!({})),
            vec![Some(file_of(2, 40)), Some(file_of(2, 40))],
            |r| r.processed() >= 3,
            None,
        ),
        (
            "frames less than a second apart",
            file_input(json!({})),
            vec![Some((0..20).map(|i| frame(Some(i * 40))).collect())],
            |r| r.processed() >= 20,
            None,
        ),
    ];
    for (case, tree, sources, until, want) in cases {
        // Room for a second frame: frames are in the detector when the
        // source fails or ends.
        let mut rig = Rig::new(tree, sources, |l| l.room = true);
        rig.step_until(case, until);
        assert_eq!(lock(&rig.log.rests).first().copied(), want, "{case}");
    }
}

#[test]
fn the_live_view_gets_frames_only_while_someone_watches() {
    let tree = file_input(json!({"Input": {"loop": false}}));
    let mut rig = Rig::new(tree, [Some(file_of(10, 40))], |_| {});
    let live = rig.harness.stats.clone();
    rig.step_until("2 frames", |r| r.processed() == 2);
    let mut watcher = live.live.watch();
    assert!(watcher.borrow().is_none(), "nothing is encoded while no one watches");
    rig.step_until("3 frames", |r| r.processed() == 3);
    let seen = watcher.borrow_and_update().clone().expect("a frame for the watcher");
    assert_eq!(&seen.jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    drop(watcher);
    rig.step_until("all frames", |r| r.processed() == 10);
    let last = live.live.watch().borrow().clone().expect("the frame seen");
    assert!(Arc::ptr_eq(&last.jpeg, &seen.jpeg), "no frame encoded once the watcher left");
    // The run ends: no frame of it is shown to a watcher that comes later.
    rig.time.stop();
    rig.worker.run();
    assert!(live.live.watch().borrow().is_none());
}

#[test]
fn the_last_frame_is_encoded_while_someone_asks_for_it_or_when_it_may_be_the_last() {
    use crate::media::clock::Clock;
    use crate::runtime::{PREVIEW_FPS, PREVIEW_WANTED_MS};
    let gap = Duration::from_millis(1000 / PREVIEW_FPS as u64);
    let tree = file_input(json!({"Input": {"loop": false}}));
    let mut rig = Rig::new(tree, [Some(file_of(10, 40))], |_| {});
    let stats = rig.harness.stats.clone();
    let latest = || stats.preview.latest().expect("a frame");
    // The run's first frame, unasked: a request has one to show.
    rig.step_until("1 frame", |r| r.processed() == 1);
    let first = latest();
    assert_eq!(&first.jpeg[..2], &[0xFF, 0xD8], "a JPEG");
    rig.time.advance(gap);
    rig.step_until("3 frames", |r| r.processed() == 3);
    assert!(Arc::ptr_eq(&latest().jpeg, &first.jpeg), "none encoded unasked mid-stream");
    let asked_at = rig.time.wall_ms();
    stats.preview.want(asked_at);
    rig.step_until("4 frames", |r| r.processed() == 4);
    let second = latest();
    assert_eq!(second.at_ms, asked_at, "the next frame once asked for");
    rig.step_until("5 frames", |r| r.processed() == 5);
    assert!(Arc::ptr_eq(&latest().jpeg, &second.jpeg), "not twice in a gap");
    rig.time.advance(gap);
    rig.step_until("6 frames", |r| r.processed() == 6);
    let third = latest();
    assert_eq!(third.at_ms, asked_at + gap.as_millis() as i64, "the next one after the gap");
    // Asked for no longer: the last one stays.
    rig.time.advance(Duration::from_millis(PREVIEW_WANTED_MS as u64));
    rig.step_until("all frames", |r| r.processed() == 10);
    assert!(Arc::ptr_eq(&latest().jpeg, &third.jpeg), "none encoded unasked");

    // A slow source (frames a second apart): each frame, unasked.
    let tree = file_input(json!({"Input": {"loop": false}}));
    let mut rig = Rig::new(tree, [Some(file_of(3, 1_000))], |_| {});
    let stats = rig.harness.stats.clone();
    let mut seen = Vec::new();
    for n in 1..=3 {
        rig.step_until("a frame", |r| r.processed() == n);
        seen.push(stats.preview.latest().expect("a frame").at_ms);
        rig.time.advance(Duration::from_secs(1));
    }
    let start = seen[0];
    assert_eq!(seen, [start, start + 1_000, start + 2_000]);
}

#[test]
fn frame_rate_limit_skips_frames_and_counts_them_as_dropped() {
    // 25 frames 40 ms apart (25 fps) at each limit: (limit, processed,
    // dropped), the same whether the worker skips them or the source does.
    for thinning in [false, true] {
        for (limit, processed, dropped) in [(0.0, 25, 0), (5.0, 5, 20), (10.0, 9, 16)] {
            let tree = file_input(json!({"frameRateLimit": limit, "Input": {"loop": false}}));
            let opens = [Some(file_of(25, 40))];
            let mut rig = Rig::with_sources(tree, opens, |_| {}, thinning);
            rig.step_until("all frames seen", |r| r.processed() + r.dropped() == 25);
            let case = format!("limit {limit}, thinned by the source: {thinning}");
            assert_eq!((rig.processed(), rig.dropped()), (processed, dropped), "{case}");
            let by_source = if thinning { dropped } else { 0 };
            assert_eq!(rig.log.thinned(), by_source, "{case}");
            // Frames the worker skips itself are told to the source (their
            // full frames may go at once).
            let told = rig.log.skipped().len() as u64;
            assert_eq!(told, dropped - by_source, "{case}");
            assert_eq!(rig.log.detected() as u64, processed, "{case}");
        }
    }
}

/// A detector with room gets the next frame before the last one's answer
/// (sent behind); each frame is still processed once, in order, and the
/// last ones finish when the file ends. Without room, one at a time.
#[test]
fn with_room_in_the_detector_the_next_frame_goes_in_before_the_last_ones_answer() {
    for (room, behind) in [(true, [false, true, true, true, true]), (false, [false; 5])] {
        let tree = file_input(json!({"Input": {"loop": false}}));
        let mut rig = Rig::new(tree, [Some(file_of(5, 40))], |d| d.room = room);
        rig.step_until("all frames processed", |r| r.processed() == 5);
        assert_eq!(rig.log.behind(), behind, "room {room}");
        assert_eq!(rig.log.detected(), 5, "room {room}");
        assert!(rig.worker.in_detector.is_empty());
    }
}

/// A file read as fast as the model goes keeps every frame, so one more may
/// wait in the detector, ready for the next free session; a file read in
/// real time (whose newest frame wins) has none waiting.
#[test]
fn a_source_that_keeps_every_frame_may_have_one_more_in_the_detector() {
    for (realtime, most) in [(false, 3), (true, 2)] {
        let tree = file_input(json!({"Input": {"loop": false, "realtime": realtime}}));
        let mut rig = Rig::new(tree, [Some(file_of(5, 40))], |d| d.room = true);
        rig.step_until("the first frame processed", |r| r.processed() == 1);
        assert_eq!(rig.log.detected(), most, "realtime {realtime}");
        rig.step_until("all frames processed", |r| r.processed() == 5);
        assert_eq!(rig.log.behind(), [false, true, true, true, true], "realtime {realtime}");
    }
}

/// A stop with a frame in the detector: it finishes before the run ends
/// (its tracks and events are published, then the open events close).
#[test]
fn frames_in_the_detector_at_a_stop_are_finished() {
    let tree = file_input(json!({}));
    let mut rig = Rig::new(tree, [Some(file_of(3, 40))], |d| d.room = true);
    rig.step_until("two frames sent", |r| r.log.detected() == 2);
    assert_eq!((rig.processed(), rig.worker.in_detector.len()), (1, 1));
    rig.time.stop();
    rig.worker.run();
    assert_eq!(rig.processed(), 2);
}

#[test]
fn a_looping_file_reopens_at_its_end_and_stream_time_keeps_increasing() {
    let opens = [Some(file_of(3, 40)), Some(file_of(3, 40)), Some(vec![frame(Some(0))])];
    let mut rig = Rig::new(file_input(json!({})), opens, |_| {});
    let mut times = Vec::new();
    for _ in 0..MAX_STEPS {
        let before = rig.processed();
        rig.worker.step();
        if rig.processed() > before {
            times.push(rig.worker.last_time_ms);
        }
        if times.len() == 7 {
            break;
        }
    }
    // Each loop goes on 1 ms after the last frame of the one before.
    assert_eq!(times, [0, 40, 80, 81, 121, 161, 162]);
    assert_eq!(
        rig.log.opens().iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        [clip(), clip(), clip()]
    );
}

/// A camera reconnected starts its timestamps again near 0: stream time
/// goes on from the last frame's by the outage, so `frameRateLimit` does
/// not skip the new pipeline's frames until they catch up with the old
/// one's, and the tracks see the time the camera was away.
#[test]
fn a_reconnected_source_goes_on_from_the_last_frames_time() {
    let before: Vec<Next> = (0..=10).map(|i| frame(Some(i * 200))).chain([failure()]).collect();
    let after: Vec<Next> = (0..4).map(|i| frame(Some(i * 200))).collect();
    let tree = file_input(json!({"frameRateLimit": 5}));
    let mut rig = Rig::new(tree, [Some(before), Some(after)], |_| {});
    rig.step_until("both sources' frames", |r| r.processed() + r.dropped() >= 15);
    assert_eq!((rig.processed(), rig.dropped()), (15, 0));
    // The last frame came at 0 of simulated time; the reconnect, after the
    // retry wait.
    let reopened = rig.log.open_times_ms()[1] as i64;
    assert!(reopened >= 500, "{reopened}");
    assert_eq!(rig.worker.last_time_ms, 2_000 + reopened + 600);
}

#[test]
fn a_file_that_does_not_loop_ends_and_stays_ended() {
    let tree = file_input(json!({"Input": {"loop": false}}));
    let mut rig = Rig::new(tree, [Some(file_of(2, 40))], |_| {});
    rig.step_until("the end waited on", |r| r.time.waits().len() >= 3);
    assert_eq!(rig.log.opens().len(), 1);
    assert_eq!(rig.processed(), 2);
    assert_eq!(rig.worker.source_state, "Ended");
    assert!(rig.time.waits().iter().all(|w| *w == POLL));
}

#[test]
fn pushed_frames_open_a_source_of_their_kind_and_set_the_stream_epoch() {
    const T0: i64 = 1_700_000_100_000;
    let tree = json!({"solution": "securt", "Input": {"type": "Manual"}});
    let opens = [Some(vec![frame(Some(0)), frame(Some(40))]), Some(vec![frame(Some(80))])];
    let mut rig = Rig::new(tree, opens, |_| {});

    // Nothing pushed yet: nothing to open, and nothing is wrong.
    for _ in 0..5 {
        rig.worker.step();
    }
    assert!(rig.log.opens().is_empty());
    assert_eq!(rig.harness.last_error(), None);
    assert_eq!(rig.time.waits(), [POLL; 5]);

    // Pushed before the source opens: handed over once it has.
    rig.push(PushedKind::Image, 1, T0).unwrap();
    rig.push(PushedKind::Image, 2, T0 + 40).unwrap();
    rig.step_until("a frame processed", |r| r.processed() == 1);
    assert_eq!(
        rig.log.opens().iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        [SourceKind::PushedImages]
    );
    assert_eq!(
        rig.log.pushes(),
        [(pushed(PushedKind::Image, 1), Some(T0)), (pushed(PushedKind::Image, 2), Some(T0 + 40))]
    );
    // Stream time is the clients' own time.
    assert_eq!(rig.worker.last_time_ms, T0);
    let shown = rig.harness.stats.preview.latest().expect("the first frame, shown unasked");
    rig.time.advance(Duration::from_millis(1000 / crate::runtime::PREVIEW_FPS as u64));
    rig.step_until("the second frame", |r| r.processed() == 2);
    assert_eq!(rig.worker.last_time_ms, T0 + 40);
    let next = rig.harness.stats.preview.latest().expect("a frame");
    assert!(!Arc::ptr_eq(&next.jpeg, &shown.jpeg), "pushed frames are shown unasked");

    // Pushed after it opened: handed to the same source.
    rig.push(PushedKind::Image, 3, T0 + 60).unwrap();
    rig.step_until("the third push", |r| r.log.pushes().len() == 3);
    assert_eq!(rig.log.opens().len(), 1);

    // Another kind of frame: a source for it.
    rig.push(PushedKind::H264, 4, T0 + 80).unwrap();
    rig.step_until("the fourth push", |r| r.log.pushes().len() == 4);
    let kinds: Vec<_> = rig.log.opens().iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(kinds, [SourceKind::PushedImages, SourceKind::PushedVideo { h265: false }]);
    // The new source's epoch is its first frame's time.
    rig.step_until("its frame", |r| r.processed() == 3);
    assert_eq!(rig.worker.last_time_ms, T0 + 80 + 80);
}

#[test]
fn pushes_are_refused_unless_the_input_is_manual_and_the_queue_has_room() {
    let rig = Rig::new(file_input(json!({})), [], |_| {});
    assert_eq!(rig.push(PushedKind::Image, 0, 0), Err(PushError::NotManual));
    let tree = json!({"solution": "securt", "Input": {"type": "Manual"}});
    let rig = Rig::new(tree, [], |_| {});
    for i in 0..8 {
        rig.push(PushedKind::Image, i, 0).unwrap();
    }
    assert_eq!(rig.push(PushedKind::Image, 8, 0), Err(PushError::QueueFull));

    // Large images: the waiting ones hold at most PUSH_QUEUE_BYTES, but one
    // is taken whatever its size when none is waiting.
    let rig = Rig::new(json!({"solution": "securt", "Input": {"type": "Manual"}}), [], |_| {});
    let big = |mib: usize| PushedData::H264(vec![0; mib << 20]);
    rig.push_data(big(200), 0).unwrap();
    assert_eq!(rig.push(PushedKind::Image, 1, 0), Err(PushError::QueueFull));
    let rig = Rig::new(json!({"solution": "securt", "Input": {"type": "Manual"}}), [], |_| {});
    rig.push_data(big(100), 0).unwrap();
    rig.push_data(big(27), 0).unwrap();
    assert_eq!(rig.push_data(big(2), 0), Err(PushError::QueueFull));
    rig.push(PushedKind::Image, 1, 0).unwrap();
}

/// A source that takes no more pushed frames (its pipeline is behind)
/// leaves them in the push queue, where they count toward its bound (the
/// clients' 409), and they go on, in order, once it takes them again.
#[test]
fn pushed_frames_wait_in_the_queue_while_the_source_takes_none() {
    let tree = json!({"solution": "securt", "Input": {"type": "Manual"}});
    let mut rig = Rig::new(tree, [Some(vec![frame(Some(0))])], |_| {});
    *rig.log.push_room.lock().unwrap() = Some(1);
    for i in 1..=3 {
        rig.push(PushedKind::Image, i, i64::from(i) * 40).unwrap();
    }
    rig.step_until("the first push handed over", |r| r.log.pushes().len() == 1);
    for _ in 0..5 {
        rig.worker.step();
    }
    assert_eq!(rig.log.pushes().len(), 1);
    for i in 4..=9 {
        rig.push(PushedKind::Image, i, i64::from(i) * 40).unwrap();
    }
    assert_eq!(rig.push(PushedKind::Image, 10, 400), Err(PushError::QueueFull));
    *rig.log.push_room.lock().unwrap() = None;
    rig.step_until("all handed over", |r| r.log.pushes().len() == 9);
    let order: Vec<PushedData> = rig.log.pushes().into_iter().map(|(d, _)| d).collect();
    assert_eq!(order, (1..=9).map(|i| pushed(PushedKind::Image, i)).collect::<Vec<_>>());
}

#[test]
fn frames_still_queued_at_a_stop_are_counted_as_dropped() {
    let tree = json!({"solution": "securt", "Input": {"type": "Manual"}});
    let mut rig = Rig::new(tree, [Some(vec![frame(Some(0))])], |_| {});
    rig.push(PushedKind::Image, 1, 0).unwrap();
    rig.step_until("the first push handed over", |r| r.log.pushes().len() == 1);
    for i in 2..5 {
        rig.push(PushedKind::Image, i, 0).unwrap();
    }
    rig.time.stop();
    rig.worker.run();
    // The three pushed after the hand-over never reached the pipeline.
    assert_eq!(rig.log.pushes().len(), 1);
    assert_eq!(rig.dropped(), 3);
    // And the slot refuses pushes until the next run.
    assert_eq!(rig.push(PushedKind::Image, 5, 0), Err(PushError::NotManual));
}

/// Each wait of the loop, with a stop requested during it: the worker
/// returns from `run` without doing anything more (no load, no open, no
/// other wait).
#[test]
fn a_stop_during_any_wait_ends_the_run_at_once() {
    struct Case {
        name: &'static str,
        tree: Value,
        opens: Vec<Option<Vec<Next>>>,
        failures: usize,
        outcome: Outcome,
        /// The waits before the one the stop comes in, and that one.
        waits: Vec<Duration>,
        /// Sources opened by then.
        opened: usize,
    }
    let case = |name, tree, opens, waits: &[Duration], opened| Case {
        name,
        tree,
        opens,
        failures: 0,
        outcome: Outcome::Nothing,
        waits: waits.to_vec(),
        opened,
    };
    let no_loop = file_input(json!({"Input": {"loop": false}}));
    let cases = [
        Case {
            failures: 1,
            ..case("after a failed model load", file_input(json!({})), vec![], &[MAX_BACKOFF], 0)
        },
        case("for an input to be configured", json!({"solution": "securt"}), vec![], &[POLL], 0),
        case("for the source's retry time", file_input(json!({})), vec![None], &[POLL], 1),
        case("at the end of a file", no_loop, vec![Some(vec![Next::Eos])], &[POLL], 1),
        Case {
            outcome: Outcome::Undecodable,
            ..case(
                "after outputs that cannot be decoded",
                file_input(json!({})),
                vec![Some(vec![frame(Some(0))])],
                &[MAX_BACKOFF],
                1,
            )
        },
    ];
    for c in cases {
        let mut rig = Rig::new(c.tree, c.opens, |l| {
            l.failures = c.failures;
            l.outcome = c.outcome;
        });
        rig.time.stop_during_wait(c.waits.len());
        rig.worker.run();
        assert_eq!(rig.time.waits(), c.waits, "{}", c.name);
        assert_eq!(rig.log.loads(), 1, "{}", c.name);
        assert_eq!(rig.log.opens().len(), c.opened, "{}", c.name);
        // The interrupted wait did not run its course.
        let waited: Duration = c.waits[..c.waits.len() - 1].iter().sum();
        assert_eq!(rig.time.elapsed(), waited, "{}", c.name);
    }
}

#[test]
fn a_stop_during_the_model_load_opens_nothing_after_it() {
    let time = Arc::new(Mutex::new(None::<Arc<FakeTime>>));
    let t = time.clone();
    let mut rig = Rig::new(file_input(json!({})), [Some(vec![frame(Some(0))])], |l| {
        l.on_load = Some(Box::new(move || {
            if let Some(t) = t.lock().unwrap().as_ref() {
                t.stop();
            }
        }));
    });
    *time.lock().unwrap() = Some(rig.time.clone());
    rig.worker.run();
    assert_eq!(rig.log.loads(), 1);
    assert!(rig.log.opens().is_empty());
    assert_eq!(rig.processed(), 0);
}

#[test]
fn a_new_input_applies_between_frames_and_opens_at_once() {
    let opens = [Some(vec![frame(Some(0)), frame(Some(40))]), Some(vec![frame(Some(0))])];
    let mut rig = Rig::new(file_input(json!({})), opens, |_| {});
    rig.step_until("a frame", |r| r.processed() == 1);
    let other = file_input(json!({"Input": {"uri": "/videos/other.mp4"}}));
    let Value::Object(other) = other else { unreachable!() };
    rig.harness.config.send(Arc::new(other)).unwrap();
    rig.step_until("the new input's frame", |r| r.processed() == 2);
    let other = SourceKind::Uri("file:///videos/other.mp4".into());
    assert_eq!(rig.log.opens(), [(clip(), Duration::ZERO), (other, Duration::ZERO)]);
}
