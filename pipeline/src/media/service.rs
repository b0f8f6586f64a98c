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
//!   never runs beside a narrow one.
//!   (Measured on two cores: one session of two threads ran two instances at
//!   64-70 frames/s in all, two sessions of one thread at 81-84, the raw
//!   model's speed; one instance alone ran at 70 and 42.)
//! - Instances hand in their frames, already turned into the model's input
//!   on their own threads, through one queue; pre- and post-processing stay
//!   on the instances' threads, in parallel.
//! - Fair under overload: an instance has at most one frame in the service
//!   (its detector waits for the answer), so the queue, first in first out,
//!   serves the waiting instances in turn: a 30 fps camera cannot starve a
//!   5 fps one, and an instance whose source stalls asks for nothing. Newer
//!   frames wait at the instance's source, which keeps only the newest for
//!   live sources.
//! - A stop needs nothing of the service: a worker waiting for its frame's
//!   answer gets it within one turn of the queue and then stops (past the
//!   stop's grace it finishes in the background, like a model load).
//! - The model loads on the first instance's first need, on that instance's
//!   thread (as before: not interruptible); a failed load is tried again by
//!   the next instance that needs it.
//!
//! [`Backend`] is the seam: ONNX Runtime's [`Model`] in production, fakes in
//! the unit tests.

use std::collections::VecDeque;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tracing::info;

use super::detector::{Detector, LoadDetector};
use super::error::DetectorError;
use super::infer::{Model, ModelOptions, Output};
use super::source::RgbFrame;
use crate::detect::{DecodeOptions, Detection, Letterbox, ModelFamily, postprocess, to_chw};
use crate::track::TrackerOptions;

/// One loaded model session.
pub trait Backend: Send {
    /// The model's input size (width, height).
    fn input_size(&self) -> (u32, u32);
    /// Runs the model on one NCHW float frame.
    fn run(&mut self, chw: &[f32]) -> Result<Vec<Output>, DetectorError>;
}

impl Backend for Model {
    fn input_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn run(&mut self, chw: &[f32]) -> Result<Vec<Output>, DetectorError> {
        Model::run(self, chw)
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

/// What a session thread answers: the outputs, and the input buffer back
/// for the instance to reuse.
type Answer = (Result<Vec<Output>, DetectorError>, Vec<f32>);

/// One frame waiting for a session.
struct Job {
    chw: Vec<f32>,
    reply: mpsc::SyncSender<Answer>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Narrow sessions running a frame.
    narrow_busy: usize,
    /// Whether the wide session is running a frame.
    wide_busy: bool,
    /// Whether there is a wide session (and narrow ones leave it a frame
    /// waiting alone).
    has_wide: bool,
    /// Whether there are narrow sessions.
    has_narrow: bool,
    /// Instances with a detector on the service (running ones).
    clients: usize,
}

impl Queue {
    /// Whether a session of this kind may take the next frame now.
    fn may_take(&self, wide: bool) -> bool {
        if self.jobs.is_empty() || self.wide_busy {
            return false;
        }
        // The wide session's turn: one instance running (or no narrow
        // session at all). Otherwise frames share the narrow sessions.
        let solo = self.clients <= 1 || !self.has_narrow;
        if wide { solo && self.narrow_busy == 0 } else { !(solo && self.has_wide) }
    }
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// The next job for a session thread of this kind; `None` once the
    /// service closes and its queue is empty.
    fn next(&self, wide: bool) -> Option<Job> {
        let mut q = lock(&self.queue);
        loop {
            if q.may_take(wide) {
                let job = q.jobs.pop_front();
                if wide {
                    q.wide_busy = true;
                } else {
                    q.narrow_busy += 1;
                }
                return job;
            }
            if q.closed && q.jobs.is_empty() {
                return None;
            }
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A session of this kind has finished its frame.
    fn done(&self, wide: bool) {
        let mut q = lock(&self.queue);
        if wide {
            q.wide_busy = false;
        } else {
            q.narrow_busy -= 1;
        }
        drop(q);
        self.wake.notify_all();
    }

    fn serve(&self, mut backend: Box<dyn Backend>, wide: bool) {
        while let Some(job) = self.next(wide) {
            let result = backend.run(&job.chw);
            self.done(wide);
            // The instance may have gone meanwhile: nothing to tell it.
            let _ = job.reply.send((result, job.chw));
        }
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
    pool: Mutex<Option<Pool>>,
}

impl fmt::Debug for InferenceService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceService").field("sessions", &self.sessions).finish()
    }
}

impl InferenceService {
    /// A service that opens these sessions (at least one) with `opener`
    /// when first needed.
    pub fn new(opener: Box<dyn OpenBackend>, sessions: Sessions) -> Arc<Self> {
        let mut sessions = sessions;
        if sessions.narrow == 0 && !sessions.has_wide() {
            sessions.narrow = 1;
        }
        let queue = Queue {
            has_wide: sessions.has_wide(),
            has_narrow: sessions.narrow > 0,
            ..Queue::default()
        };
        Arc::new(InferenceService {
            inner: Arc::new(Inner { queue: Mutex::new(queue), wake: Condvar::new() }),
            opener,
            sessions,
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
        let mut threads = Vec::with_capacity(backends.len());
        for (i, (backend, wide)) in backends.into_iter().enumerate() {
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("inference-{i}"))
                .spawn(move || inner.serve(backend, wide));
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
        info!(narrow, wide_threads, "inference service started");
        *pool = Some(Pool { input_size, threads });
        Ok(input_size)
    }

    /// A new client (an instance's detector), counted until dropped.
    fn client(&self) -> Client {
        lock(&self.inner.queue).clients += 1;
        self.inner.wake.notify_all();
        Client { inner: self.inner.clone() }
    }

    /// Runs `chw` on the next free session for `_client` (one frame at a
    /// time: it waits here for the answer).
    fn run(&self, _client: &Client, chw: Vec<f32>) -> Answer {
        let (reply, answer) = mpsc::sync_channel(1);
        lock(&self.inner.queue).jobs.push_back(Job { chw, reply });
        // Every kind of session may be waiting: each checks whether the
        // frame is its to take.
        self.inner.wake.notify_all();
        answer.recv().unwrap_or_else(|_| (Err(DetectorError::ServiceStopped), Vec::new()))
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
            client: self.service.client(),
            family: self.family,
            input_size,
            chw: Vec::new(),
        }))
    }
}

/// One instance's way to the service: its frames' pre- and
/// post-processing, on the instance's thread.
#[derive(Debug)]
pub struct SharedDetector {
    service: Arc<InferenceService>,
    client: Client,
    family: ModelFamily,
    input_size: (u32, u32),
    /// The model input, reused from frame to frame.
    chw: Vec<f32>,
}

impl Detector for SharedDetector {
    fn input_size(&self) -> (u32, u32) {
        self.input_size
    }

    fn detect(
        &mut self,
        frame: &RgbFrame,
        letterbox: &Letterbox,
    ) -> Result<Vec<Detection>, DetectorError> {
        let (fw, fh) = (frame.width as usize, frame.height as usize);
        let mut chw = std::mem::take(&mut self.chw);
        chw.resize(3 * fw * fh, 0.0);
        let pre = self.family.preprocess();
        to_chw(&frame.data, fw, fh, frame.stride, &pre, &mut chw).map_err(DetectorError::Frame)?;
        let (outputs, chw) = self.service.run(&self.client, chw);
        self.chw = chw;
        let outputs = outputs?;
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        let decode = DecodeOptions {
            score_threshold: TrackerOptions::default().low_thresh,
            ..DecodeOptions::default()
        };
        postprocess(self.family, &views, letterbox, &decode).map_err(DetectorError::Decode)
    }
}

#[cfg(test)]
mod tests;
