//! The shared inference service: one model, loaded once, serving every
//! running instance, instead of one ONNX Runtime session (and its threads,
//! and its copy of the model) per instance.
//!
//! - A small pool of sessions (`detector.sessions`, default 1), each on its
//!   own thread with `detector.threads` intra-op threads (default: the
//!   machine's cores), so N instances never start 2N inference threads that
//!   fight over the cores.
//! - Instances hand in their frames, already turned into the model's input
//!   on their own threads, through one queue; pre- and post-processing stay
//!   on the instances' threads, in parallel.
//! - Fair under overload: an instance has at most one frame in the service
//!   (its detector waits for the answer), so the queue, first in first out,
//!   serves the waiting instances in turn: a 30 fps camera cannot starve a
//!   5 fps one, and an instance whose source stalls asks for nothing. Newer
//!   frames wait at the instance's source, which keeps only the newest for
//!   live sources.
//! - A frame whose instance has stopped meanwhile is skipped, not run.
//! - The model loads on the first instance's first need, on that instance's
//!   thread (as before: not interruptible); a failed load is tried again by
//!   the next instance that needs it.
//!
//! [`Backend`] is the seam: ONNX Runtime's [`Model`] in production, fakes in
//! the unit tests.

use std::collections::VecDeque;
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use tracing::{info, warn};

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
    fn open(&self) -> Result<Box<dyn Backend>, DetectorError>;
}

/// Opens ONNX Runtime sessions of the configured model.
#[derive(Debug, Clone)]
pub struct OrtBackends(pub ModelOptions);

impl OpenBackend for OrtBackends {
    fn open(&self) -> Result<Box<dyn Backend>, DetectorError> {
        Ok(Box::new(Model::load(&self.0)?))
    }
}

/// What a session thread answers: the outputs, and the input buffer back
/// for the instance to reuse.
type Answer = (Result<Vec<Output>, DetectorError>, Vec<f32>);

/// One frame waiting for a session.
struct Job {
    chw: Vec<f32>,
    /// Gone once the instance's detector is dropped (its run ended).
    client: Weak<()>,
    reply: mpsc::SyncSender<Answer>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// Counters of the service (for tests and the statistics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCounts {
    /// Frames run through a session.
    pub runs: u64,
    /// Frames skipped because their instance had stopped.
    pub skipped: u64,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
    counts: Mutex<ServiceCounts>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// The next job for a session thread; `None` once the service closes.
    fn next(&self) -> Option<Job> {
        let mut q = lock(&self.queue);
        loop {
            if let Some(job) = q.jobs.pop_front() {
                return Some(job);
            }
            if q.closed {
                return None;
            }
            q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn serve(&self, mut backend: Box<dyn Backend>) {
        while let Some(job) = self.next() {
            if job.client.strong_count() == 0 {
                lock(&self.counts).skipped += 1;
                continue;
            }
            let result = backend.run(&job.chw);
            lock(&self.counts).runs += 1;
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
    sessions: usize,
    pool: Mutex<Option<Pool>>,
}

impl fmt::Debug for InferenceService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferenceService").field("sessions", &self.sessions).finish()
    }
}

impl InferenceService {
    /// A service that opens `sessions` sessions (at least one) with
    /// `opener` when first needed.
    pub fn new(opener: Box<dyn OpenBackend>, sessions: usize) -> Arc<Self> {
        Arc::new(InferenceService {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
                counts: Mutex::new(ServiceCounts::default()),
            }),
            opener,
            sessions: sessions.max(1),
            pool: Mutex::new(None),
        })
    }

    /// What a worker loads its detector with.
    pub fn loader(self: &Arc<Self>, family: ModelFamily) -> SharedLoader {
        SharedLoader { service: self.clone(), family }
    }

    pub fn counts(&self) -> ServiceCounts {
        *lock(&self.inner.counts)
    }

    /// Loads the sessions unless they are; the model's input size.
    /// Concurrent callers wait for the one loading.
    fn ensure_loaded(&self) -> Result<(u32, u32), DetectorError> {
        let mut pool = lock(&self.pool);
        if let Some(p) = pool.as_ref() {
            return Ok(p.input_size);
        }
        let mut backends = Vec::with_capacity(self.sessions);
        for _ in 0..self.sessions {
            backends.push(self.opener.open()?);
        }
        let input_size = backends[0].input_size();
        let mut threads = Vec::with_capacity(backends.len());
        for (i, backend) in backends.into_iter().enumerate() {
            let inner = self.inner.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("inference-{i}"))
                .spawn(move || inner.serve(backend));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => warn!(error = %e, "cannot start an inference thread"),
            }
        }
        if threads.is_empty() {
            return Err(DetectorError::Input("no inference thread could be started".into()));
        }
        info!(sessions = threads.len(), "inference service started");
        *pool = Some(Pool { input_size, threads });
        Ok(input_size)
    }

    /// Runs `chw` on the next free session; waits for the answer.
    fn run(&self, client: &Arc<()>, chw: Vec<f32>) -> Answer {
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let mut q = lock(&self.inner.queue);
            q.jobs.push_back(Job { chw, client: Arc::downgrade(client), reply });
        }
        self.inner.wake.notify_one();
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
            client: Arc::new(()),
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
    /// Its frames are skipped once this is dropped.
    client: Arc<()>,
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
