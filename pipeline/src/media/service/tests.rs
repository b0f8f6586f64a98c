//! Unit tests of the shared inference service with fake sessions: one load
//! for every instance, a failed load tried again, fair service under
//! overload, answers to the right instance, the wide and narrow sessions
//! taking their turns, and batches: their bounds, their wait, a failed one,
//! an instance stopping while one fills or runs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::Duration;

use super::{Backend, Batching, Client, InferenceService, OpenBackend, Sessions};
use crate::detect::{Letterbox, ModelFamily, Preprocess};
use crate::media::detector::LoadDetector;
use crate::media::error::DetectorError;
use crate::media::infer::Output;
use crate::media::lock;
use crate::media::source::RgbFrame;

/// Pixels as the fake sessions see them: each byte less 100.
const SHIFTED: Preprocess = Preprocess { bgr: false, mean: [100.0; 3], std: [1.0; 3] };

/// A frame of the fake model's size (4x4, rows padded) whose every value
/// is `v` (-100 to 155) once it is the model's input.
fn frame_of(v: f32) -> RgbFrame {
    RgbFrame {
        data: vec![(v + 100.0) as u8; 4 * 16].into(),
        width: 4,
        height: 4,
        stride: 16,
        pts_ms: None,
    }
}

impl InferenceService {
    /// Hands in a frame of value `v`.
    fn send(&self, client: &Client, v: f32, behind: bool) -> mpsc::Receiver<super::Answer> {
        self.submit(client, frame_of(v), SHIFTED, behind)
    }

    /// Waits until the queue's state is as `ready` says (a session took a
    /// frame, a frame waits, ...).
    fn wait_until(&self, ready: impl Fn(&super::Queue) -> bool) {
        while !ready(&lock(&self.inner.queue)) {
            std::thread::yield_now();
        }
    }

    /// One frame of value `v`, alone, and its outputs.
    fn run(&self, client: &Client, v: f32) -> Result<Vec<Output>, DetectorError> {
        self.send(client, v, false).recv().expect("an answer").outputs
    }

    /// Instances (each a client and the value of its frames) sending
    /// `frames` frames each as a worker sends them: the next one before the
    /// last one's answer (marked behind) only while the service has room,
    /// at most two at once. One thread drives them all, in turn, taking
    /// each answer as it comes: the OS cannot hold one of them back while
    /// the others ask. The answers' values, for each instance, in order.
    fn run_pipelined(&self, instances: &[(&Client, f32)], frames: usize) -> Vec<Vec<f32>> {
        let mut sent: Vec<VecDeque<mpsc::Receiver<super::Answer>>> =
            instances.iter().map(|_| VecDeque::new()).collect();
        let mut got: Vec<Vec<f32>> = instances.iter().map(|_| Vec::new()).collect();
        let mut left = vec![frames; instances.len()];
        for turn in 0.. {
            if got.iter().all(|g| g.len() == frames) {
                break;
            }
            // Who goes first changes each round.
            for k in 0..instances.len() {
                let i = (turn + k) % instances.len();
                while let Some(rx) = sent[i].front() {
                    match rx.try_recv() {
                        Ok(answer) => got[i].push(answer.outputs.unwrap()[0].data[0]),
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(e) => panic!("no answer: {e}"),
                    }
                    sent[i].pop_front();
                }
                let room = || sent[i].len() < 2 && lock(&self.inner.queue).has_room(false);
                if left[i] > 0 && (sent[i].is_empty() || room()) {
                    let (client, id) = instances[i];
                    let behind = !sent[i].is_empty();
                    sent[i].push_back(self.send(client, id, behind));
                    left[i] -= 1;
                }
            }
            std::thread::yield_now();
        }
        got
    }
}

/// A frame value on which the fake sessions panic.
const PANICS: f32 = 150.0;

/// A session that records which client each frame came from (its first
/// value) and answers it back; `work` is busy work per run (overload
/// without sleeping), and a run can be held until the test lets it go.
/// Runs of several frames (up to `max_batch`) are recorded in `batches`;
/// a frame whose value is negative fails its whole run, and one of value
/// [`PANICS`] makes it panic.
struct FakeBackend {
    served: Arc<Mutex<Vec<f32>>>,
    batches: Arc<Mutex<Vec<usize>>>,
    max_batch: usize,
    work: u32,
    hold: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
    /// Its threads, and what every session of the test is running:
    /// (narrow, wide) runs at this moment, and the most seen at once.
    threads: usize,
    running: Arc<Mutex<Running>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Running {
    narrow: usize,
    wide: usize,
    /// Whether a wide and a narrow run ever overlapped.
    overlapped: bool,
    most_narrow: usize,
    wide_runs: usize,
    narrow_runs: usize,
}

impl Backend for FakeBackend {
    fn input_size(&self) -> (u32, u32) {
        (4, 4)
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn run(&mut self, frames: &[&[f32]], outputs: &mut [Vec<Output>]) -> Result<(), DetectorError> {
        assert!((1..=self.max_batch).contains(&frames.len()), "a run of {}", frames.len());
        self.batches.lock().unwrap().push(frames.len());
        let wide = self.threads > 1;
        {
            let mut r = self.running.lock().unwrap();
            if wide {
                r.wide += 1;
                r.wide_runs += 1
            } else {
                r.narrow += 1;
                r.narrow_runs += 1
            }
            r.overlapped |= r.wide > 0 && r.narrow > 0;
            r.most_narrow = r.most_narrow.max(r.narrow);
        }
        if let Some(hold) = &self.hold {
            // Bounded: a test that fails while runs are held drops the
            // service (which waits for its sessions) before the sender.
            let _ = hold.lock().unwrap().recv_timeout(Duration::from_secs(30));
        }
        let mut x = 0u64;
        for i in 0..self.work {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(u64::from(i)));
        }
        {
            let mut r = self.running.lock().unwrap();
            if wide { r.wide -= 1 } else { r.narrow -= 1 }
        }
        if frames.iter().any(|f| f[0] == PANICS) {
            panic!("the fake model panics on {PANICS}");
        }
        if frames.iter().any(|f| f[0] < 0.0) {
            return Err(DetectorError::Batch("a bad frame".into()));
        }
        self.served.lock().unwrap().extend(frames.iter().map(|f| f[0]));
        // Each frame's value, into the memory its slot has.
        for (f, slot) in frames.iter().zip(outputs) {
            slot.resize_with(1, Output::default);
            slot[0].shape = vec![1];
            slot[0].data.clear();
            slot[0].data.push(f[0]);
        }
        Ok(())
    }
}

/// Opens fake sessions, counting the opens; the first `fail` opens fail.
struct FakeOpener {
    opens: AtomicUsize,
    fail: usize,
    served: Arc<Mutex<Vec<f32>>>,
    batches: Arc<Mutex<Vec<usize>>>,
    max_batch: usize,
    work: u32,
    /// Every session's runs wait for one message each on it.
    hold: Mutex<Option<Arc<Mutex<mpsc::Receiver<()>>>>>,
    running: Arc<Mutex<Running>>,
}

impl FakeOpener {
    fn new(fail: usize, work: u32) -> Self {
        FakeOpener {
            opens: AtomicUsize::new(0),
            fail,
            served: Arc::default(),
            batches: Arc::default(),
            max_batch: 1,
            work,
            hold: Mutex::new(None),
            running: Arc::default(),
        }
    }

    /// Makes every session opened from now on hold each run until the test
    /// sends a message on the returned sender.
    fn held(&self) -> mpsc::Sender<()> {
        let (go, hold) = mpsc::channel();
        *self.hold.lock().unwrap() = Some(Arc::new(Mutex::new(hold)));
        go
    }
}

/// A service of `opener`'s sessions, loaded.
fn loaded(
    opener: &Arc<FakeOpener>,
    sessions: Sessions,
    batching: Batching,
) -> Arc<InferenceService> {
    let service = InferenceService::new(Box::new(opener.clone()), sessions, batching);
    service.ensure_loaded().unwrap();
    service
}

/// Only narrow sessions, `n` of them.
fn narrow(n: usize) -> Sessions {
    Sessions { narrow: n, wide_threads: 0 }
}

impl OpenBackend for Arc<FakeOpener> {
    fn open(&self, threads: usize) -> Result<Box<dyn Backend>, DetectorError> {
        let n = self.opens.fetch_add(1, Ordering::SeqCst);
        if n < self.fail {
            return Err(DetectorError::NoModel);
        }
        Ok(Box::new(FakeBackend {
            served: self.served.clone(),
            batches: self.batches.clone(),
            max_batch: self.max_batch,
            work: self.work,
            hold: self.hold.lock().unwrap().clone(),
            threads,
            running: self.running.clone(),
        }))
    }
}

#[test]
fn the_model_loads_once_for_every_instance_and_a_failed_load_is_tried_again() {
    let opener = Arc::new(FakeOpener::new(1, 0));
    let service = InferenceService::new(Box::new(opener.clone()), narrow(2), Batching::default());
    assert!(matches!(service.ensure_loaded(), Err(DetectorError::NoModel)));
    // Loads from many instances at once: one pool of two sessions.
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (service, barrier) = (service.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                service.ensure_loaded().map_err(|e| e.to_string())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok((4, 4)));
    }
    assert_eq!(opener.opens.load(Ordering::SeqCst), 1 + 2);
}

/// Two instances (values 1 and 2) sent `frames` frames each: while both
/// were waiting (until the first finished its frames), the turns
/// alternated, neither getting much more than the other.
fn assert_equal_turns(served: &[f32], frames: usize) {
    let both = served.len()
        - (served.iter().rev().take_while(|c| **c == served[served.len() - 1]).count());
    let (a, b) = served[..both]
        .iter()
        .fold((0, 0), |(a, b), c| if *c == 1.0 { (a + 1, b) } else { (a, b + 1) });
    assert!(a.min(b) * 10 >= a.max(b) * 8, "turns while both waited: {a} and {b} of {both}");
    assert_eq!(served.len(), 2 * frames);
}

/// Two instances that always have a frame waiting, one asking as fast as
/// it can and one doing more work between frames: each gets its turn.
#[test]
fn instances_get_equal_service_under_overload() {
    let opener = Arc::new(FakeOpener::new(0, 200_000));
    let service = loaded(&opener, narrow(1), Batching::default());
    let frames = 200;
    let client = |id: f32, between: u32| {
        let service = service.clone();
        std::thread::spawn(move || {
            let me = service.client();
            for _ in 0..frames {
                assert_eq!(service.run(&me, id).unwrap()[0].data, [id]);
                let mut x = 0u64;
                for i in 0..between {
                    x = std::hint::black_box(x.wrapping_add(u64::from(i)));
                }
            }
        })
    };
    let (fast, slow) = (client(1.0, 0), client(2.0, 20_000));
    fast.join().unwrap();
    slow.join().unwrap();
    assert_equal_turns(&opener.served.lock().unwrap(), frames);
}

/// Instances waiting together each get the answer to their own frame.
#[test]
fn each_waiting_instance_gets_the_answer_to_its_own_frame() {
    let opener = Arc::new(FakeOpener::new(0, 0));
    let go = opener.held();
    let service = loaded(&opener, narrow(1), Batching::default());
    let waiting: Vec<_> = (0..3)
        .map(|i| {
            let service = service.clone();
            std::thread::spawn(move || {
                let me = service.client();
                service.run(&me, i as f32).map(|o| o[0].data[0])
            })
        })
        .collect();
    // One frame running (held), the two others queued behind it.
    service.wait_until(|q| q.jobs.len() >= 2);
    for _ in 0..3 {
        go.send(()).unwrap();
    }
    let mut got: Vec<f32> = waiting.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    got.sort_by(f32::total_cmp);
    assert_eq!(got, [0.0, 1.0, 2.0]);
    drop(service);
}

/// The frames of an instance running alone run on the wide session; those
/// of instances running together on the narrow ones, side by side; the two
/// kinds never run at once.
#[test]
fn an_instance_alone_gets_every_core_and_instances_together_share_them() {
    let opener = Arc::new(FakeOpener::new(0, 50_000));
    let sessions = Sessions { narrow: 2, wide_threads: 2 };
    let service = loaded(&opener, sessions, Batching::default());
    assert_eq!(opener.opens.load(Ordering::SeqCst), 3);
    // One instance alone: every frame on the wide session.
    let me = service.client();
    for _ in 0..20 {
        assert!(service.run(&me, 1.0).is_ok());
    }
    let r = *opener.running.lock().unwrap();
    assert_eq!((r.wide_runs, r.narrow_runs), (20, 0), "{r:?}");
    // Four instances asking at once: the narrow sessions run side by side.
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let service = service.clone();
            std::thread::spawn(move || {
                let me = service.client();
                for _ in 0..100 {
                    assert!(service.run(&me, i as f32).is_ok());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let r = *opener.running.lock().unwrap();
    assert!(!r.overlapped, "a wide and a narrow run overlapped: {r:?}");
    assert_eq!(r.wide_runs + r.narrow_runs, 420, "{r:?}");
    assert!(r.narrow_runs > 0 && r.most_narrow == 2, "narrow sessions side by side: {r:?}");
    // Alone again: the wide session.
    assert!(service.run(&me, 1.0).is_ok());
    let after = *opener.running.lock().unwrap();
    assert_eq!((after.wide_runs, after.narrow_runs), (r.wide_runs + 1, r.narrow_runs));
}

/// An instance alone whose source outruns the model sends its next frame
/// before the last one's answer: those frames run on the narrow sessions
/// side by side (never beside the wide one), and come back in order.
#[test]
fn an_instance_alone_that_is_behind_gets_its_frames_run_side_by_side() {
    let opener = Arc::new(FakeOpener::new(0, 2_000_000));
    let sessions = Sessions { narrow: 2, wide_threads: 2 };
    let service = loaded(&opener, sessions, Batching::default());
    let me = service.client();
    assert_eq!(service.run_pipelined(&[(&me, 3.0)], 20), [[3.0; 20]]);
    let r = *opener.running.lock().unwrap();
    assert!(!r.overlapped, "a wide and a narrow run overlapped: {r:?}");
    assert_eq!(r.wide_runs + r.narrow_runs, 20, "{r:?}");
    assert_eq!(r.most_narrow, 2, "two frames of one instance side by side: {r:?}");
}

/// An instance alone that could not fill the narrow sessions (one of them,
/// or more than two) gets every frame run on the wide session, on every
/// core, even while it is behind: never one or two one-thread sessions
/// while the other cores idle.
#[test]
fn an_instance_alone_that_cannot_fill_the_narrow_sessions_runs_on_the_wide_one() {
    for narrow in [1, 3, 4] {
        let opener = Arc::new(FakeOpener::new(0, 200_000));
        let sessions = Sessions { narrow, wide_threads: 4 };
        let service = loaded(&opener, sessions, Batching::default());
        let me = service.client();
        assert_eq!(service.run_pipelined(&[(&me, 3.0)], 20), [[3.0; 20]]);
        let r = *opener.running.lock().unwrap();
        assert_eq!((r.wide_runs, r.narrow_runs), (20, 0), "{narrow} narrow: {r:?}");
    }
}

/// An instance alone whose frames run on the wide session has room for a
/// second frame only to wait for it, and only with `may_wait` (a source
/// that keeps every frame): a live frame waiting would go stale.
#[test]
fn an_instance_alone_on_the_wide_session_has_room_only_for_one_frame_to_wait() {
    let opener = Arc::new(FakeOpener::new(0, 0));
    let go = opener.held();
    let service = loaded(&opener, Sessions { narrow: 4, wide_threads: 4 }, Batching::default());
    let room = |may_wait| lock(&service.inner.queue).has_room(may_wait);
    let me = service.client();
    let first = service.send(&me, 1.0, false);
    service.wait_until(|q| q.wide_busy);
    assert_eq!((room(false), room(true)), (false, true), "its frame on the wide session");
    let second = service.send(&me, 2.0, true);
    assert_eq!((room(false), room(true)), (false, false), "one frame waits");
    let other = service.client();
    assert!(room(false), "with another instance, the narrow sessions are free for it");
    drop(other);
    for _ in 0..2 {
        go.send(()).unwrap();
    }
    for (rx, v) in [(first, 1.0), (second, 2.0)] {
        assert_eq!(rx.recv().unwrap().outputs.unwrap()[0].data, [v]);
    }
    let r = *opener.running.lock().unwrap();
    assert_eq!((r.wide_runs, r.narrow_runs), (2, 0), "{r:?}");
}

/// The service has room for a second frame of an instance only when more
/// narrow sessions are free than frames wait: spare capacity, never a turn
/// of another instance.
#[test]
fn there_is_room_for_a_second_frame_only_while_more_sessions_are_free_than_frames_wait() {
    let opener = Arc::new(FakeOpener::new(0, 0));
    let go = opener.held();
    let service = loaded(&opener, narrow(2), Batching::default());
    let room = || lock(&service.inner.queue).has_room(false);
    let me = service.client();
    assert!(room(), "idle");
    let first = service.send(&me, 1.0, false);
    service.wait_until(|q| q.narrow_busy >= 1);
    assert!(room(), "one session of two busy");
    let second = service.send(&me, 2.0, true);
    service.wait_until(|q| q.narrow_busy >= 2);
    assert!(!room(), "both sessions busy");
    let other = service.client();
    let third = service.send(&other, 3.0, false);
    assert!(!room(), "a frame waits");
    for _ in 0..3 {
        go.send(()).unwrap();
    }
    for (rx, v) in [(first, 1.0), (second, 2.0), (third, 3.0)] {
        assert_eq!(rx.recv().unwrap().outputs.unwrap()[0].data, [v]);
    }
    assert!(room(), "idle again");
}

/// With `may_wait` (a source that keeps every frame), an instance alone on
/// the service may have one frame waiting beyond the free sessions, ready
/// for the next one to finish; never while another instance uses the
/// service, whose turn it would take.
#[test]
fn an_instance_alone_may_have_one_frame_waiting_for_the_next_free_session() {
    let opener = Arc::new(FakeOpener::new(0, 0));
    let go = opener.held();
    let service = loaded(&opener, narrow(2), Batching::default());
    let room = |may_wait| lock(&service.inner.queue).has_room(may_wait);
    let me = service.client();
    let mut sent = vec![service.send(&me, 1.0, false), service.send(&me, 2.0, true)];
    service.wait_until(|q| q.narrow_busy >= 2);
    assert_eq!((room(false), room(true)), (false, true), "both sessions busy");
    sent.push(service.send(&me, 3.0, true));
    assert_eq!((room(false), room(true)), (false, false), "one frame waits");
    // One run done: the waiting frame takes its session.
    go.send(()).unwrap();
    service.wait_until(|q| q.jobs.is_empty());
    let other = service.client();
    assert_eq!((room(false), room(true)), (false, false), "another instance on the service");
    drop(other);
    for _ in 0..2 {
        go.send(()).unwrap();
    }
    for (rx, v) in sent.into_iter().zip([1.0, 2.0, 3.0]) {
        assert_eq!(rx.recv().unwrap().outputs.unwrap()[0].data, [v]);
    }
    assert!(room(true), "idle again");
}

/// Two instances whose sources both outrun the model, each sending a
/// second frame whenever the service has room: under overload they still
/// get equal service.
#[test]
fn instances_sending_ahead_get_equal_service_under_overload() {
    let opener = Arc::new(FakeOpener::new(0, 200_000));
    let service = loaded(&opener, narrow(2), Batching::default());
    let frames = 200;
    let (one, two) = (service.client(), service.client());
    let got = service.run_pipelined(&[(&one, 1.0), (&two, 2.0)], frames);
    assert_eq!(got, [vec![1.0; frames], vec![2.0; frames]]);
    assert_equal_turns(&opener.served.lock().unwrap(), frames);
}

/// A service of one narrow session on a model that batches up to 8 frames,
/// batching up to `max_frames` and waiting for ever (or until no other
/// instance can hand in a frame) to fill a batch.
fn batching_service(max_frames: usize) -> (Arc<FakeOpener>, Arc<InferenceService>) {
    let mut opener = FakeOpener::new(0, 0);
    opener.max_batch = 8;
    let opener = Arc::new(opener);
    let batching = Batching { max_frames, wait: std::time::Duration::from_secs(3600) };
    let service = loaded(&opener, narrow(1), batching);
    (opener, service)
}

/// Each client (already counted by the service) hands in one frame of its
/// value and goes away with the answer.
fn one_frame_each(service: &Arc<InferenceService>, values: &[f32]) -> Vec<Result<f32, String>> {
    let clients: Vec<_> = values.iter().map(|_| service.client()).collect();
    let threads: Vec<_> = clients
        .into_iter()
        .zip(values.to_vec())
        .map(|(me, v)| {
            let service = service.clone();
            std::thread::spawn(move || {
                service.run(&me, v).map(|o| o[0].data[0]).map_err(|e| e.to_string())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Frames of instances waiting together run together, never more than the
/// batch size at once; a batch runs without waiting out its bound as soon
/// as no other instance can hand in a frame.
#[test]
fn waiting_frames_run_together_up_to_the_batch_size() {
    let (opener, service) = batching_service(3);
    let got = one_frame_each(&service, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    assert_eq!(got, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0].map(Ok));
    assert_eq!(*opener.batches.lock().unwrap(), [3, 3, 1]);
}

/// The model's own limit wins over the configured one, and a model with a
/// fixed batch of one runs frame by frame.
#[test]
fn a_batch_never_exceeds_what_the_model_takes() {
    for (model, configured, want) in [(8, 3, vec![3, 1]), (2, 8, vec![2, 2]), (1, 8, vec![1; 4])] {
        let mut opener = FakeOpener::new(0, 0);
        opener.max_batch = model;
        let opener = Arc::new(opener);
        let batching =
            Batching { max_frames: configured, wait: std::time::Duration::from_secs(3600) };
        let service = loaded(&opener, narrow(1), batching);
        assert!(one_frame_each(&service, &[1.0; 4]).iter().all(Result::is_ok));
        assert_eq!(*opener.batches.lock().unwrap(), want, "model {model}, configured {configured}");
    }
}

/// A batch waits for the frames of running instances only as long as its
/// bound; one that stops meanwhile lets it run at once.
#[test]
fn a_batch_waits_at_most_its_bound_and_not_for_an_instance_that_stopped() {
    // Bounded: the other instance never hands in a frame.
    let mut opener = FakeOpener::new(0, 0);
    opener.max_batch = 8;
    let opener = Arc::new(opener);
    let batching = Batching { max_frames: 4, wait: std::time::Duration::from_millis(20) };
    let service = loaded(&opener, narrow(1), batching);
    let (me, _idle) = (service.client(), service.client());
    for _ in 0..3 {
        assert!(service.run(&me, 1.0).is_ok());
    }
    assert_eq!(*opener.batches.lock().unwrap(), [1, 1, 1]);

    // Unbounded: the other instance stopping ends the wait.
    let (opener, service) = batching_service(4);
    let (me, other) = (service.client(), service.client());
    let waiting = {
        let service = service.clone();
        std::thread::spawn(move || service.run(&me, 5.0).map(|o| o[0].data[0]))
    };
    service.wait_until(|q| q.in_flight >= 1);
    drop(other);
    assert_eq!(waiting.join().unwrap().unwrap(), 5.0);
    assert_eq!(*opener.batches.lock().unwrap(), [1]);
}

/// A failed batch runs again frame by frame: each instance gets its own
/// frame's answer, and only the bad frame fails.
#[test]
fn a_failed_batch_runs_again_frame_by_frame() {
    let (opener, service) = batching_service(4);
    let got = one_frame_each(&service, &[1.0, -1.0, 2.0]);
    assert_eq!(got[0], Ok(1.0));
    assert!(got[1].as_ref().is_err_and(|e| e.contains("a bad frame")), "{:?}", got[1]);
    assert_eq!(got[2], Ok(2.0));
    assert_eq!(*opener.batches.lock().unwrap(), [3, 1, 1, 1]);
}

/// A run that panics fails its frames, saying so, and leaves its session
/// free: the frames after it, on either kind of session and in batches,
/// are answered.
#[test]
fn a_run_that_panics_fails_its_frames_and_the_sessions_serve_on() {
    // The wide session (an instance alone), then a narrow one.
    for sessions in [Sessions { narrow: 1, wide_threads: 2 }, narrow(1)] {
        let opener = Arc::new(FakeOpener::new(0, 0));
        let service = loaded(&opener, sessions, Batching::default());
        let me = service.client();
        let failed = service.run(&me, PANICS).unwrap_err();
        assert!(matches!(failed, DetectorError::Panicked(_)), "{sessions:?}: {failed:?}");
        assert!(failed.to_string().contains("panics on 150"), "{failed}");
        for v in [1.0, 2.0] {
            assert_eq!(service.run(&me, v).unwrap()[0].data, [v], "{sessions:?}");
        }
        let q = lock(&service.inner.queue);
        assert!(!q.wide_busy && q.narrow_busy == 0 && q.in_flight == 0, "{sessions:?}");
    }
    // A batch: every frame of the run fails, the next batch runs.
    let (opener, service) = batching_service(2);
    let got = one_frame_each(&service, &[PANICS, 3.0]);
    assert!(got.iter().all(|g| g.as_ref().is_err_and(|e| e.contains("panicked"))), "{got:?}");
    assert_eq!(one_frame_each(&service, &[4.0, 5.0]), [Ok(4.0), Ok(5.0)]);
    assert_eq!(*opener.batches.lock().unwrap(), [2, 2]);
}

/// An instance whose source is gone for a while (resting) does not count
/// among the clients, so another one runs alone; its next frame counts it
/// again.
#[test]
fn an_instance_at_rest_leaves_the_service_to_the_others() {
    let opener = Arc::new(FakeOpener::new(0, 0));
    let service = loaded(&opener, Sessions { narrow: 2, wide_threads: 2 }, Batching::default());
    let loader = service.loader(ModelFamily::NanoDet);
    let (mut resting, _running) = (loader.load().unwrap(), loader.load().unwrap());
    let clients = || lock(&service.inner.queue).clients;
    assert_eq!(clients(), 2);
    for _ in 0..2 {
        resting.rest();
        assert_eq!(clients(), 1, "the other instance is alone");
    }
    let letterbox = Letterbox::new(4, 4, 4, 4).unwrap();
    resting.send(frame_of(1.0), &letterbox, false);
    assert_eq!(clients(), 2, "counted again from its next frame");
    drop(resting);
    assert_eq!(clients(), 1);
}

/// An instance gone while its frame is in a batch (its worker ended, no
/// one waits for the answer): the others in the batch still get theirs.
#[test]
fn an_instance_gone_mid_batch_leaves_the_others_their_answers() {
    let (opener, service) = batching_service(4);
    // Counted before the orphan frame comes, so that the batch that takes
    // it waits for theirs.
    let clients: Vec<_> = (0..2).map(|_| service.client()).collect();
    let (reply, answer) = mpsc::sync_channel(1);
    drop(answer);
    service.inner.queue.lock().unwrap().jobs.push_back(super::Job {
        frame: frame_of(9.0),
        preprocess: SHIFTED,
        behind: false,
        reply,
    });
    service.inner.wake.notify_all();
    let threads: Vec<_> = clients
        .into_iter()
        .zip([1.0, 2.0])
        .map(|(me, v)| {
            let service = service.clone();
            std::thread::spawn(move || service.run(&me, v).map(|o| o[0].data[0]))
        })
        .collect();
    let got: Vec<f32> = threads.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    assert_eq!(got, [1.0, 2.0]);
    let batches = opener.batches.lock().unwrap().clone();
    assert_eq!(batches.iter().sum::<usize>(), 3, "{batches:?}");
    assert!(batches[0] >= 2, "the orphan frame ran with another: {batches:?}");
    assert!(opener.served.lock().unwrap().contains(&9.0));
}

/// A frame that cannot be the model's input (not its size) fails alone,
/// saying why; the others of its batch run.
#[test]
fn a_frame_that_cannot_be_the_models_input_fails_alone() {
    let (opener, service) = batching_service(4);
    let clients: Vec<_> = (0..3).map(|_| service.client()).collect();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, me)| {
            let service = service.clone();
            std::thread::spawn(move || {
                let mut frame = frame_of(i as f32);
                if i == 1 {
                    frame.width = 2;
                }
                let answer = service.submit(&me, frame, SHIFTED, false).recv().unwrap();
                answer.outputs.map(|o| o[0].data[0]).map_err(|e| crate::error::chain(&e))
            })
        })
        .collect();
    let got: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got[0], Ok(0.0));
    assert_eq!(got[1], Err("unusable frame: frame size: 2x4, the model takes 4x4".into()));
    assert_eq!(got[2], Ok(2.0));
    assert_eq!(*opener.batches.lock().unwrap(), [2]);
}

/// Outputs an instance is done with are where the next frames' go, in a
/// batch and when a failed batch runs again frame by frame; the service
/// keeps no more of them than its runs can fill twice over.
#[test]
fn outputs_given_back_hold_the_next_frames_outputs() {
    let (_opener, service) = batching_service(4);
    let kept = || lock(&service.inner.queue).spare.len();
    let places: Vec<_> = (0..3)
        .map(|_| {
            let outputs = vec![Output { shape: vec![1], data: Vec::with_capacity(1000) }];
            // Where its memory is (an address, to compare across threads).
            let place = outputs[0].data.as_ptr() as usize;
            service.inner.give_back(outputs);
            place
        })
        .collect();
    assert_eq!(kept(), 3);
    let clients: Vec<_> = (0..3).map(|_| service.client()).collect();
    let threads: Vec<_> = clients
        .into_iter()
        .zip([1.0, -1.0, 2.0])
        .map(|(me, v)| {
            let service = service.clone();
            std::thread::spawn(move || {
                let answer = service.send(&me, v, false).recv().unwrap();
                answer.outputs.map(|o| (o[0].data[0], o[0].data.as_ptr() as usize))
            })
        })
        .collect();
    let got: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(got[1].is_err());
    for (i, v) in [(0, 1.0), (2, 2.0)] {
        let (value, place) = *got[i].as_ref().unwrap();
        assert_eq!(value, v);
        assert!(places.contains(&place), "frame {i}'s outputs are in new memory");
    }
    // One session of up to 4 frames: 8 kept at most.
    for _ in 0..20 {
        service.inner.give_back(Vec::new());
    }
    assert_eq!(kept(), 8);
}
