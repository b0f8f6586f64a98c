//! The media pipeline of a running instance: video in (GStreamer), the
//! detector (ONNX Runtime), the tracker, the SecuRT rules, and events out.
//!
//! [`MediaRunner`] implements the engine's [`Runner`]: each started
//! instance gets one worker thread (inference is blocking work and never
//! runs on the async runtime) that owns its GStreamer pipeline and ONNX
//! session and stops within a frame's time when asked. Its waits wake at
//! once on a stop; a model load, which cannot be interrupted, is left to
//! finish in the background (see [`STOP_GRACE`]), so a stop never takes
//! more than a second.
//!
//! Config changes arrive on a watch channel and apply on the next frame:
//! rules, detection options and the frame rate limit at once; a new input
//! reopens the source.
//!
//! # Layout
//!
//! - `worker`: the loop (`Worker`, stepped until a stop), over its parts'
//!   traits: [`clock`] (time, and waits a stop cuts short), [`source`]
//!   (video in, GStreamer), [`detector`] (frames in, detections out: the
//!   shared inference [`service`], on ONNX Runtime in [`infer`]).
//! - `gate`, `payload`, `crop`: what is published for each frame.
//! - `output`, `rtsp_out`: HLS and RTSP video out.
//! - [`error`]: what can fail in all of these.

pub mod clock;
mod crop;
pub mod detector;
pub mod error;
#[cfg(test)]
mod fakes;
mod gate;
pub mod infer;
mod output;
mod payload;
mod rtsp_out;
pub mod service;
pub mod source;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::warn;

use self::clock::{Sleeper, StopSignal, SystemClock};
use self::detector::LoadDetector;
use self::infer::{ModelOptions, Provider};
use self::service::{Batching, InferenceService, OrtBackends, Sessions};
use self::source::{GstOpener, OpenSource};
use crate::detect::ModelFamily;
use crate::runtime::{PushError, PushedFrame, RunContext, Runner, Running, StreamCredentials};

/// Locks `m`, going on with the data of a thread that panicked holding it
/// (every lock here guards state that stays whole between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a stop waits for the worker thread to finish before leaving
/// it to finish alone (a model load in progress cannot be interrupted; the
/// thread releases everything when it ends). Under the one second a stop
/// may take.
pub const STOP_GRACE: Duration = Duration::from_millis(800);

/// How instances detect objects.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// The ONNX model file.
    pub model: PathBuf,
    /// Its output format.
    pub family: ModelFamily,
    /// `libonnxruntime.so`.
    pub onnxruntime: PathBuf,
    /// The inference service's sessions.
    pub sessions: Sessions,
    /// How its sessions batch the frames of several instances.
    pub batching: Batching,
    /// Where the model runs.
    pub provider: Provider,
    /// The store writer's counters, reported as `store_queue_size` in each
    /// instance's statistics (rows waiting to be written).
    pub store: Option<Arc<crate::db::writer::WriterStats>>,
    /// Credentials for RTSP inputs given without user information (ONVIF
    /// cameras' stored ones).
    pub credentials: Option<Arc<dyn StreamCredentials>>,
    /// Where HLS outputs write their playlists and segments (served by
    /// the HTTP server at `/hls/`).
    pub hls_dir: PathBuf,
}

/// Starts media pipelines, all served by one inference service.
#[derive(Debug)]
pub struct MediaRunner {
    options: MediaOptions,
    inference: Arc<InferenceService>,
}

impl MediaRunner {
    pub fn new(options: MediaOptions) -> Self {
        let model = ModelOptions {
            model: options.model.clone(),
            library: options.onnxruntime.clone(),
            threads: 1,
            // The wide session's second thread spinning after its runs was
            // 7-8% of one instance's samples, taken from the narrow
            // sessions running next, and from decoding (bench/RESULTS.md).
            spin: false,
            provider: options.provider,
        };
        let inference =
            InferenceService::new(Box::new(OrtBackends(model)), options.sessions, options.batching);
        MediaRunner { options, inference }
    }
}

impl MediaRunner {
    /// Loads the model now instead of at the first instance's start.
    pub fn preload(&self) -> Result<(), error::DetectorError> {
        self.inference.preload()
    }
}

impl Runner for MediaRunner {
    fn start(&self, ctx: RunContext) -> Box<dyn Running> {
        let o = &self.options;
        let detectors = self.inference.loader(o.family);
        Box::new(MediaRun::spawn(ctx, o.clone(), Box::new(GstOpener), Box::new(detectors)))
    }
}

/// A running worker thread.
struct MediaRun {
    stop: StopSignal,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread has ended (everything it held is
    /// released by then).
    done: mpsc::Receiver<()>,
    pushed: Arc<Mutex<worker::PushSlot>>,
}

impl MediaRun {
    /// Starts a worker thread on the system clock, opening sources and
    /// loading the detector with these.
    fn spawn(
        ctx: RunContext,
        options: MediaOptions,
        sources: Box<dyn OpenSource>,
        detectors: Box<dyn LoadDetector>,
    ) -> Self {
        let stop = StopSignal::default();
        // Pushes are accepted from the moment `start` answers, not only once
        // the worker has loaded its model.
        let pushed = Arc::new(Mutex::new(worker::PushSlot::for_config(&ctx.config.borrow())));
        let parts = worker::Parts {
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(stop.clone()),
            sources,
            detectors,
        };
        let (done_tx, done) = mpsc::channel::<()>();
        let slot = pushed.clone();
        let id = ctx.instance_id;
        let thread = std::thread::Builder::new()
            .name(format!("instance-{}", &id.to_string()[..8]))
            .spawn(move || {
                // Dropped last, after everything the worker held.
                let _done = done_tx;
                worker::run(ctx, options, slot, parts);
            })
            .ok();
        MediaRun { stop, thread, done, pushed }
    }
}

impl fmt::Debug for MediaRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaRun").field("stopping", &self.stop.stopped()).finish()
    }
}

impl Running for MediaRun {
    /// Returns once the worker has released everything, or after
    /// [`STOP_GRACE`] when it is still busy (loading its model): it then
    /// finishes in the background, touching nothing, and releases what it
    /// holds when its load returns.
    fn stop(mut self: Box<Self>) {
        self.stop.stop();
        let Some(thread) = self.thread.take() else { return };
        match self.done.recv_timeout(STOP_GRACE) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
            }
            Err(RecvTimeoutError::Timeout) => {
                let name = thread.thread().name().unwrap_or_default().to_owned();
                warn!(thread = %name, "worker still busy after a stop; it finishes in the background");
            }
        }
    }

    fn push(&self, frame: PushedFrame) -> Result<(), PushError> {
        lock(&self.pushed).offer(frame)
    }

    fn ready_for_push(&self) -> Result<(), PushError> {
        lock(&self.pushed).ready()
    }
}

#[cfg(test)]
mod tests;
