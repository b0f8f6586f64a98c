//! The media pipeline of a running instance: video in (GStreamer), the
//! detector (ONNX Runtime), the tracker, the SecuRT rules, and events out.
//!
//! [`MediaRunner`] implements the engine's [`Runner`]: each started
//! instance gets one worker thread (inference is blocking work and never
//! runs on the async runtime) that owns its GStreamer pipeline and ONNX
//! session and stops within a frame's time when asked.
//!
//! Config changes arrive on a watch channel and apply on the next frame:
//! rules, detection options and the frame rate limit at once; a new input
//! reopens the source.

mod crop;
pub mod error;
mod gate;
pub mod infer;
mod output;
mod payload;
mod rtsp_out;
pub mod source;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::detect::ModelFamily;
use crate::runtime::{PushError, PushedFrame, RunContext, Runner, Running, StreamCredentials};

/// How instances detect objects.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// The ONNX model file.
    pub model: PathBuf,
    /// Its output format.
    pub family: ModelFamily,
    /// `libonnxruntime.so`.
    pub onnxruntime: PathBuf,
    /// ONNX Runtime intra-op threads per instance.
    pub threads: usize,
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

/// Starts media pipelines.
#[derive(Debug)]
pub struct MediaRunner {
    options: MediaOptions,
}

impl MediaRunner {
    pub fn new(options: MediaOptions) -> Self {
        MediaRunner { options }
    }
}

impl Runner for MediaRunner {
    fn start(&self, ctx: RunContext) -> Box<dyn Running> {
        let stop = Arc::new(AtomicBool::new(false));
        // Pushes are accepted from the moment `start` answers, not only once
        // the worker has loaded its model.
        let pushed = Arc::new(Mutex::new(worker::PushSlot::for_config(&ctx.config.borrow())));
        let options = self.options.clone();
        let (stop2, pushed2) = (stop.clone(), pushed.clone());
        let id = ctx.instance_id;
        let thread = std::thread::Builder::new()
            .name(format!("instance-{}", &id.to_string()[..8]))
            .spawn(move || worker::run(ctx, options, stop2, pushed2))
            .ok();
        Box::new(MediaRun { stop, thread, pushed })
    }
}

/// A running worker thread.
struct MediaRun {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pushed: Arc<Mutex<worker::PushSlot>>,
}

impl fmt::Debug for MediaRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaRun").field("stopping", &self.stop.load(Ordering::Relaxed)).finish()
    }
}

impl Running for MediaRun {
    fn stop(mut self: Box<Self>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn push(&self, frame: PushedFrame) -> Result<(), PushError> {
        self.pushed.lock().unwrap_or_else(|p| p.into_inner()).offer(frame)
    }
}
