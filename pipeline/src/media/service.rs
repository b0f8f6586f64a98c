//! The shared inference service: one model, loaded once, serving every
//! running instance, instead of one ONNX Runtime session (and its threads,
//! and its copy of the model) per instance.
//!
//! - Two kinds of sessions share the cores without ever oversubscribing
//!   them. `detector.sessions` narrow sessions (default: one per core) of one
//!   intra-op thread each run frames side by side when several instances
//!   are running; one wide session of `detector.threads` threads (default:
//!   the cores) runs the frames of an instance running alone, so a single
//!   camera still gets every core on each of its frames. The wide session
//!   never runs beside a narrow one, and its threads do not spin once a
//!   run is done (`ModelOptions::spin`): they would spin on the cores the
//!   narrow sessions and the decoders need next.
//!   (Measured on two cores: one session of two threads ran two instances at
//!   64-70 frames/s in all, two sessions of one thread at 81-84, the raw
//!   model's speed; one instance alone ran at 70 and 42.)
//! - Instances hand in their frames through one queue as GStreamer gave
//!   them (8-bit RGB at the model's size, GStreamer's own buffer), and the
//!   session that takes a frame turns it into the model's float input, in
//!   an input of its own. So a frame waiting in the queue holds a quarter of
//!   the memory (0.5 MB for NanoDet-m's 416x416, 2 MB as floats), and there
//!   are as many float inputs as sessions, not as instances. Post-processing
//!   stays on the instances' threads, in parallel. A frame's outputs are
//!   copied into memory the service keeps for them (given back once the
//!   instance has decoded them, a few sets for the whole service, none per
//!   instance): no fresh 1.7 MB (NanoDet-m) per frame, whose page faults
//!   were 13-15 thousand a second for one instance (under 1,000 now).
//! - Fair under overload: an instance has one frame in the service while
//!   others wait (its detector waits for the answer), so the queue, first in
//!   first out, serves the waiting instances in turn: a 30 fps camera cannot
//!   starve a 5 fps one, and an instance whose source stalls asks for
//!   nothing (and one that gets no frames for a while, with no input,
//!   reconnecting, ended, or stalled for a second, rests: it does not count
//!   among the running instances until its next frame, [`Detector::rest`]). Newer frames wait at the
//!   instance's source, which keeps only the newest for sources read in
//!   real time (cameras, pushed frames, files at their own pace). An
//!   instance whose source outruns the model may hand in a second frame,
//!   but only when more sessions are free than frames wait
//!   ([`SharedDetector::has_room`]): spare capacity, never a turn taken
//!   from another instance. Such a frame is marked `behind`, and
//!   goes to a narrow session even for an instance alone where there are
//!   two (two cores, by default): two frames of one camera on two one-thread
//!   sessions run faster in all than one after the other on the wide
//!   session, where every run waits for its slowest thread
//!   (bench/RESULTS.md). With one narrow session, or more than two, an
//!   instance alone could not fill them, and all its frames go to the wide
//!   session, which runs each on every core. A camera that keeps up still
//!   gets the wide session's short runs. An instance alone on the service
//!   whose source keeps every frame (a file read as fast as the model goes)
//!   may also have one frame waiting, so the session that finishes next
//!   starts on it at once instead of idling while the instance tracks,
//!   publishes and takes its next frame (about 5% of the two cores here,
//!   bench/RESULTS.md); a live source's frame would only go stale there.
//! - Batches: with a model whose batch dimension is dynamic, a session
//!   takes up to `Batching::max_frames` waiting frames into one run, and
//!   waits up to `Batching::wait` for more while other running instances
//!   may still hand one in (never when none can: a single camera never
//!   waits). A failed batch runs again frame by frame, so each instance
//!   gets its own frame's answer. On the CPU a batch runs no faster per
//!   frame than single frames on as many sessions (bench/RESULTS.md), so
//!   batching is off by default; it is for accelerators.
//! - A stop needs nothing of the service: a worker waiting for its frame's
//!   answer gets it within one turn of the queue and then stops (past the
//!   stop's grace it finishes in the background, like a model load).
//! - The model loads on the first instance's first need, on that instance's
//!   thread (as before: not interruptible); a failed load is tried again by
//!   the next instance that needs it.
//! - A run that panics fails its frames, saying so, and its session serves
//!   on: it never stays marked busy with every frame after it waiting.
//!
//! [`Backend`] is the seam: ONNX Runtime's [`Model`] in production, fakes in
//! the unit tests.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tracing::{error, info};

use super::detector::{Detected, Detector, LoadDetector};
use super::error::DetectorError;
use super::infer::{Model, ModelOptions, Output};
use super::lock;
use super::source::RgbFrame;
use crate::detect::{DecodeOptions, Letterbox, ModelFamily, Preprocess, postprocess, to_chw};
use crate::track::TrackerOptions;

/// One loaded model session.
pub trait Backend: Send {
    /// The model's input size (width, height).
    fn input_size(&self) -> (u32, u32);
    /// The most frames one run takes (1: the model's batch is fixed at 1).
    fn max_batch(&self) -> usize;
    /// Runs the model on NCHW float frames (1 to [`Backend::max_batch`])
    /// in one run, each frame's outputs into its slot of `outputs` (one per
    /// frame, in order; their memory reused).
    fn run(&mut self, frames: &[&[f32]], outputs: &mut [Vec<Output>]) -> Result<(), DetectorError>;
}

impl Backend for Model {
    fn input_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn run(&mut self, frames: &[&[f32]], outputs: &mut [Vec<Output>]) -> Result<(), DetectorError> {
        Model::run(self, frames, outputs)
    }
}

/// Opens sessions (slow: loads the model).
pub trait OpenBackend: Send + Sync {
    /// A session whose runs use `threads` threads.
    fn open(&self, threads: usize) -> Result<Box<dyn Backend>, DetectorError>;
}

/// Opens ONNX Runtime sessions of the configured model (its `threads` are
/// replaced by each session's).
#[derive(Debug, Clone)]
pub struct OrtBackends(pub ModelOptions);

impl OpenBackend for OrtBackends {
    fn open(&self, threads: usize) -> Result<Box<dyn Backend>, DetectorError> {
        Ok(Box::new(Model::load(&ModelOptions { threads, ..self.0.clone() })?))
    }
}

/// How many sessions of each kind the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sessions {
    /// Narrow sessions, one thread each (0: none).
    pub narrow: usize,
    /// Threads of the wide session (0 or 1: no wide session).
    pub wide_threads: usize,
}

impl Sessions {
    fn has_wide(&self) -> bool {
        self.wide_threads > 1
    }
}

/// How the sessions batch frames of several instances into one run (for
/// models with a dynamic batch dimension; others run frame by frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// The most frames one run takes (1: no batching).
    pub max_frames: usize,
    /// How long a run waits for more frames while other instances may
    /// still hand one in (never when none can).
    pub wait: Duration,
}

impl Batching {
    /// The most frames a run takes with a model that takes `model_max`.
    fn frames_per_run(&self, model_max: usize) -> usize {
        self.max_frames.min(model_max).max(1)
    }
}

impl Default for Batching {
    fn default() -> Self {
        Batching { max_frames: 1, wait: Duration::ZERO }
    }
}

/// What a session thread answers for a frame.
#[derive(Debug)]
struct Answer {
    outputs: Result<Vec<Output>, DetectorError>,
    /// How long the run it was part of took (zero for a frame that never
    /// ran).
    run_time: Duration,
}

impl Answer {
    fn failed(e: DetectorError) -> Self {
        Answer { outputs: Err(e), run_time: Duration::ZERO }
    }

    /// For a frame a run gave no answer to (`run` answers each: never).
    fn lost() -> Self {
        Answer::failed(DetectorError::Batch("the run gave no answer for this frame".into()))
    }
}

/// One frame waiting for a session.
struct Job {
    /// Letterboxed to the model's input size; its buffer goes back to
    /// GStreamer once the session has turned it into the model's input.
    frame: RgbFrame,
    /// How the model wants its pixels.
    preprocess: Preprocess,
    /// Another frame of its instance was in the service when it came.
    behind: bool,
    reply: mpsc::SyncSender<Answer>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Frames the sessions have taken and not answered yet.
    in_flight: usize,
    /// Narrow sessions running a frame.
    narrow_busy: usize,
    /// Whether the wide session is running a frame.
    wide_busy: bool,
    /// Whether there is a wide session (and narrow ones leave it a frame
    /// waiting alone).
    has_wide: bool,
    /// Narrow sessions.
    narrow: usize,
    /// Instances with a detector on the service (running ones).
    clients: usize,
    /// Outputs given back once decoded, for the next runs to copy theirs
    /// into; at most `spare_limit` are kept.
    spare: Vec<Vec<Output>>,
    spare_limit: usize,
}

impl Queue {
    /// Whether a session of this kind may take the next frame now.
    fn may_take(&self, wide: bool) -> bool {
        let Some(next) = self.jobs.front() else { return false };
        if self.wide_busy {
            return false;
        }
        // The wide session's turn: a frame of an instance running alone,
        // which came while none of its others was in the service, or any
        // of its frames where they would not fill the narrow sessions (or
        // there is no narrow session at all). Otherwise frames share the
        // narrow sessions.
        let alone = self.clients <= 1 && self.narrow_busy == 0;
        let solo = self.narrow == 0 || (alone && (!next.behind || !self.lone_side_by_side()));
        if wide { solo } else { !(solo && self.has_wide) }
    }

    /// Whether the frames of an instance alone, handed in while another of
    /// its frames is in the service, run on the narrow sessions side by
    /// side rather than one after the other on the wide session: only
    /// where its two frames there fill every narrow session (two, as on two
    /// cores, where that runs more frames than the wide session,
    /// bench/RESULTS.md). With one narrow session, or more than two, the
    /// wide session runs it on every core instead of one or two.
    fn lone_side_by_side(&self) -> bool {
        self.narrow == 2 || !self.has_wide
    }

    /// Whether a frame handed in now would start at once: more narrow
    /// sessions are free than frames wait (one just handed in and not
    /// taken yet among them; a running wide session is done first, as it
    /// never runs beside a narrow one). With `may_wait`, one frame more may
    /// wait while a single instance uses the service: no other instance's
    /// turn is taken, and the session that finishes next does not wait for
    /// the instance to hand in its next frame. (Asked by an instance with a
    /// frame in the service already.)
    fn has_room(&self, may_wait: bool) -> bool {
        let alone = self.clients <= 1;
        if self.closed {
            false
        } else if alone && self.has_wide && !self.lone_side_by_side() {
            // Its frames run one at a time on the wide session, where its
            // frame in the service is or will be: the next could only wait.
            may_wait && self.jobs.is_empty()
        } else {
            let waiting = usize::from(may_wait && alone);
            self.jobs.len() + self.narrow_busy < self.narrow + waiting
        }
    }

    /// Whether an instance may still hand in a frame: one with none queued
    /// or running. (An instance with room may hand in a second one; this
    /// only decides how long a batch waits.)
    fn more_may_come(&self) -> bool {
        !self.closed && self.clients > self.in_flight + self.jobs.len()
    }

    /// Moves the next queued frames into `batch`, up to `limit` in all.
    fn take_into(&mut self, batch: &mut Vec<Job>, limit: usize) {
        while batch.len() < limit
            && let Some(job) = self.jobs.pop_front()
        {
            batch.push(job);
            self.in_flight += 1;
        }
    }
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Inner {
    /// The next frames for a session thread of this kind, up to `limit`,
    /// waiting up to `wait` for more while other instances may still hand
    /// one in; `None` once the service closes and its queue is empty.
    fn next(&self, wide: bool, limit: usize, wait: Duration) -> Option<Vec<Job>> {
        let mut q = lock(&self.queue);
        loop {
            if q.may_take(wide) {
                if wide {
                    q.wide_busy = true;
                } else {
                    q.narrow_busy += 1;
                }
                let mut batch = Vec::with_capacity(limit.min(8));
                q.take_into(&mut batch, limit);
                let deadline = Instant::now() + wait;
                while batch.len() < limit && q.more_may_come() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    q = self.wake.wait_timeout(q, left).unwrap_or_else(|p| p.into_inner()).0;
                    q.take_into(&mut batch, limit);
                }
                return Some(batch);
            }
            if q.closed && q.jobs.is_empty() {
                return None;
            }
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A session of this kind has run its `frames` frames.
    fn done(&self, wide: bool, frames: usize) {
        let mut q = lock(&self.queue);
        if wide {
            q.wide_busy = false;
        } else {
            q.narrow_busy -= 1;
        }
        q.in_flight -= frames;
        drop(q);
        self.wake.notify_all();
    }

    /// Memory for the outputs of `n` frames: given back, or new.
    fn spare(&self, n: usize) -> Vec<Vec<Output>> {
        let mut q = lock(&self.queue);
        (0..n).map(|_| q.spare.pop().unwrap_or_default()).collect()
    }

    /// Outputs an instance is done with, kept for the next runs (up to the
    /// limit; beyond it, freed).
    fn give_back(&self, outputs: Vec<Output>) {
        let mut q = lock(&self.queue);
        if q.spare.len() < q.spare_limit {
            q.spare.push(outputs);
        }
    }

    fn serve(&self, mut backend: Box<dyn Backend>, wide: bool, batching: Batching) {
        let limit = batching.frames_per_run(backend.max_batch());
        let size = backend.input_size();
        // The model's inputs, one per frame of a run, reused from run to run.
        let mut inputs: Vec<Vec<f32>> = Vec::new();
        while let Some(jobs) = self.next(wide, limit, batching.wait) {
            let taken = jobs.len();
            let (replies, frames): (Vec<_>, Vec<_>) =
                jobs.into_iter().map(|j| (j.reply, (j.frame, j.preprocess))).unzip();
            // A run that panics (inside ONNX Runtime's bindings, say) fails
            // its frames, and the session serves on: unwinding past `done`
            // would leave it marked busy, and every frame after it waiting.
            let answers = panic::catch_unwind(AssertUnwindSafe(|| {
                self.answer(&mut *backend, size, &mut inputs, frames)
            }))
            .unwrap_or_else(|cause| {
                let why = panic_message(&*cause);
                error!(wide, error = %why, "a model run panicked; its frames fail");
                (0..taken).map(|_| Answer::failed(DetectorError::Panicked(why.clone()))).collect()
            });
            self.done(wide, taken);
            // The instance may have gone meanwhile: nothing to tell it.
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
    }

    /// The answers to `frames`, in order: each turned into its input (its
    /// buffer goes back at once; a frame that cannot be a model input fails
    /// alone), then those that could, run together.
    fn answer(
        &self,
        backend: &mut dyn Backend,
        size: (u32, u32),
        inputs: &mut Vec<Vec<f32>>,
        frames: Vec<(RgbFrame, Preprocess)>,
    ) -> Vec<Answer> {
        let mut failed: Vec<Option<Answer>> = Vec::with_capacity(frames.len());
        let mut ready = 0;
        for (frame, preprocess) in frames {
            if inputs.len() == ready {
                inputs.push(Vec::new());
            }
            match model_input(&frame, size, &preprocess, &mut inputs[ready]) {
                Ok(()) => {
                    ready += 1;
                    failed.push(None);
                }
                Err(e) => failed.push(Some(Answer::failed(e))),
            }
        }
        let runs: Vec<&[f32]> = inputs[..ready].iter().map(Vec::as_slice).collect();
        let mut ran =
            if runs.is_empty() { Vec::new() } else { run(backend, &runs, self.spare(ready)) }
                .into_iter();
        // `run` answers each frame it is given, in order.
        failed.into_iter().map(|f| f.or_else(|| ran.next()).unwrap_or_else(Answer::lost)).collect()
    }
}

/// What a panic carried, as text.
fn panic_message(cause: &(dyn std::any::Any + Send)) -> String {
    cause
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// Turns `frame` (packed RGB, letterboxed to the model's `size`) into the
/// model's input, in `input`.
fn model_input(
    frame: &RgbFrame,
    (width, height): (u32, u32),
    preprocess: &Preprocess,
    input: &mut Vec<f32>,
) -> Result<(), DetectorError> {
    if (frame.width, frame.height) != (width, height) {
        let message = format!("{}x{}, the model takes {width}x{height}", frame.width, frame.height);
        return Err(DetectorError::Frame(crate::error::Error::invalid("frame size", message)));
    }
    let (w, h) = (width as usize, height as usize);
    input.resize(3 * w * h, 0.0);
    to_chw(&frame.data, w, h, frame.stride, preprocess, input).map_err(DetectorError::Frame)
}

/// Runs `frames` on `backend`, their outputs into `outputs` (a slot for
/// each): an answer for each, in order. A failed batch runs again frame by
/// frame, so each instance gets its own frame's answer and a bad frame
/// fails alone.
fn run(backend: &mut dyn Backend, frames: &[&[f32]], mut outputs: Vec<Vec<Output>>) -> Vec<Answer> {
    let started = Instant::now();
    match backend.run(frames, &mut outputs) {
        Ok(()) => {
            let run_time = started.elapsed();
            outputs.into_iter().map(|o| Answer { outputs: Ok(o), run_time }).collect()
        }
        Err(_) if frames.len() > 1 => frames
            .iter()
            .zip(outputs)
            .map(|(f, mut slot)| {
                let started = Instant::now();
                let done = backend.run(std::slice::from_ref(f), std::slice::from_mut(&mut slot));
                Answer { outputs: done.map(|()| slot), run_time: started.elapsed() }
            })
            .collect(),
        Err(e) => vec![Answer { outputs: Err(e), run_time: started.elapsed() }],
    }
}

/// The sessions, once loaded.
struct Pool {
    input_size: (u32, u32),
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// The shared inference service; [`InferenceService::loader`] gives the
/// instances' workers their [`LoadDetector`].
pub struct InferenceService {
    inner: Arc<Inner>,
    opener: Box<dyn OpenBackend>,
    sessions: Sessions,
    batching: Batching,
    pool: Mutex<Option<Pool>>,
}

impl fmt::Debug for InferenceService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceService")
            .field("sessions", &self.sessions)
            .field("batching", &self.batching)
            .finish()
    }
}

impl InferenceService {
    /// A service that opens these sessions (at least one) with `opener`
    /// when first needed, and batches frames as `batching` says.
    pub fn new(opener: Box<dyn OpenBackend>, sessions: Sessions, batching: Batching) -> Arc<Self> {
        let mut sessions = sessions;
        if sessions.narrow == 0 && !sessions.has_wide() {
            sessions.narrow = 1;
        }
        let queue =
            Queue { has_wide: sessions.has_wide(), narrow: sessions.narrow, ..Queue::default() };
        Arc::new(InferenceService {
            inner: Arc::new(Inner { queue: Mutex::new(queue), wake: Condvar::new() }),
            opener,
            sessions,
            batching,
            pool: Mutex::new(None),
        })
    }

    /// What a worker loads its detector with.
    pub fn loader(self: &Arc<Self>, family: ModelFamily) -> SharedLoader {
        SharedLoader { service: self.clone(), family }
    }

    /// Loads the sessions now (they load on first need otherwise).
    pub fn preload(&self) -> Result<(), DetectorError> {
        self.ensure_loaded().map(|_| ())
    }

    /// Loads the sessions unless they are; the model's input size.
    /// Concurrent callers wait for the one loading.
    fn ensure_loaded(&self) -> Result<(u32, u32), DetectorError> {
        let mut pool = lock(&self.pool);
        if let Some(p) = pool.as_ref() {
            return Ok(p.input_size);
        }
        let Sessions { narrow, wide_threads } = self.sessions;
        let mut backends = Vec::new();
        if self.sessions.has_wide() {
            backends.push((self.opener.open(wide_threads)?, true));
        }
        for _ in 0..narrow {
            backends.push((self.opener.open(1)?, false));
        }
        let input_size = backends[0].0.input_size();
        let max_batch = self.batching.frames_per_run(backends[0].0.max_batch());
        // Outputs kept for reuse: as many as the runs fill at once, and as
        // many again answered and being decoded.
        lock(&self.inner.queue).spare_limit = 2 * backends.len() * max_batch;
        let mut threads = Vec::with_capacity(backends.len());
        for (i, (backend, wide)) in backends.into_iter().enumerate() {
            let inner = self.inner.clone();
            let batching = self.batching;
            let spawned = std::thread::Builder::new()
                .name(format!("inference-{i}"))
                .spawn(move || inner.serve(backend, wide, batching));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // All or nothing: the queue's rules count on every
                    // session it was told of. End those started.
                    lock(&self.inner.queue).closed = true;
                    self.inner.wake.notify_all();
                    for t in threads {
                        let _ = t.join();
                    }
                    lock(&self.inner.queue).closed = false;
                    return Err(DetectorError::Threads(e));
                }
            }
        }
        info!(
            narrow,
            wide_threads,
            max_batch,
            batch_wait_ms = self.batching.wait.as_millis() as u64,
            "inference service started"
        );
        *pool = Some(Pool { input_size, threads });
        Ok(input_size)
    }

    /// A new client (an instance's detector), counted until dropped.
    fn client(&self) -> Client {
        lock(&self.inner.queue).clients += 1;
        self.inner.wake.notify_all();
        Client { inner: self.inner.clone() }
    }

    /// Queues `frame` for the next free session on behalf of `_client`; the
    /// answer comes on the receiver.
    fn submit(
        &self,
        _client: &Client,
        frame: RgbFrame,
        preprocess: Preprocess,
        behind: bool,
    ) -> mpsc::Receiver<Answer> {
        let (reply, answer) = mpsc::sync_channel(1);
        lock(&self.inner.queue).jobs.push_back(Job { frame, preprocess, behind, reply });
        // Every kind of session may be waiting: each checks whether the
        // frame is its to take.
        self.inner.wake.notify_all();
        answer
    }
}

impl Drop for InferenceService {
    /// Lets the session threads finish the frames queued, then end.
    fn drop(&mut self) {
        lock(&self.inner.queue).closed = true;
        self.inner.wake.notify_all();
        if let Some(pool) = lock(&self.pool).take() {
            for t in pool.threads {
                let _ = t.join();
            }
        }
    }
}

/// One instance on the service, counted among the clients (which decide
/// between the wide and the narrow sessions) while it lives.
struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Client")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        lock(&self.inner.queue).clients -= 1;
        self.inner.wake.notify_all();
    }
}

/// Loads [`SharedDetector`]s: the service's model, loaded once.
#[derive(Debug, Clone)]
pub struct SharedLoader {
    service: Arc<InferenceService>,
    family: ModelFamily,
}

impl LoadDetector for SharedLoader {
    fn load(&self) -> Result<Box<dyn Detector>, DetectorError> {
        let input_size = self.service.ensure_loaded()?;
        Ok(Box::new(SharedDetector {
            service: self.service.clone(),
            client: Some(self.service.client()),
            family: self.family,
            input_size,
            sent: VecDeque::new(),
        }))
    }
}

/// One instance's way to the service: its frames' post-processing, on the
/// instance's thread.
#[derive(Debug)]
pub struct SharedDetector {
    service: Arc<InferenceService>,
    /// Counted among the service's clients, except while resting.
    client: Option<Client>,
    family: ModelFamily,
    input_size: (u32, u32),
    /// The frames sent and not received yet, oldest first: the answer to
    /// come and how to map its boxes back.
    sent: VecDeque<(mpsc::Receiver<Answer>, Letterbox)>,
}

impl Detector for SharedDetector {
    fn input_size(&self) -> (u32, u32) {
        self.input_size
    }

    fn send(&mut self, frame: RgbFrame, letterbox: &Letterbox, behind: bool) {
        let client = self.client.get_or_insert_with(|| self.service.client());
        let answer = self.service.submit(client, frame, self.family.preprocess(), behind);
        self.sent.push_back((answer, *letterbox));
    }

    fn receive(&mut self) -> Result<Detected, DetectorError> {
        let (answer, letterbox) = self.sent.pop_front().ok_or(DetectorError::NothingSent)?;
        let Answer { outputs, run_time } =
            answer.recv().unwrap_or_else(|_| Answer::failed(DetectorError::ServiceStopped));
        let outputs = outputs?;
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        let decode = DecodeOptions {
            score_threshold: TrackerOptions::default().low_thresh,
            ..DecodeOptions::default()
        };
        let detections = postprocess(self.family, &views, &letterbox, &decode);
        self.service.inner.give_back(outputs);
        Ok(Detected { detections: detections.map_err(DetectorError::Decode)?, run_time })
    }

    fn has_room(&self, may_wait: bool) -> bool {
        lock(&self.service.inner.queue).has_room(may_wait)
    }

    /// An instance that gets no frames for a while leaves the others the
    /// service to themselves: one camera left running gets the wide
    /// session's short runs again, whatever the others' inputs do.
    fn rest(&mut self) {
        self.client = None;
    }
}

#[cfg(test)]
mod tests;
