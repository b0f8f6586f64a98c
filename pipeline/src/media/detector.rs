//! The detector seam: frames in, detections out. [`LoadDetector`] loads a
//! model (slow, and not interruptible), [`Detector`] runs it on frames,
//! pre- and post-processing included. A worker may have up to two frames in
//! a detector at once, three for a source that keeps every frame (it sends
//! its next frame before the answer to the last one comes, when the
//! detector has room), so the model never waits for the worker's own work.
//! The shared inference service ([`super::service`]) implements them for
//! every instance; the worker's unit tests use fakes.

use std::time::Duration;

use super::error::DetectorError;
use super::source::RgbFrame;
use crate::detect::{Detection, Letterbox};

/// One frame's detections.
#[derive(Debug, Default)]
pub struct Detected {
    /// The objects, mapped back to the source image, down to the tracker's
    /// low threshold (weak boxes keep confirmed tracks alive but never
    /// start one).
    pub detections: Vec<Detection>,
    /// How long the model ran on the frame (on the run it was part of).
    pub run_time: Duration,
}

/// A loaded model, ready to detect.
pub trait Detector: Send {
    /// The model's input size (width, height): frames are given letterboxed
    /// to it.
    fn input_size(&self) -> (u32, u32);

    /// Hands in `frame`, letterboxed through `letterbox` (the detector keeps
    /// it only until the model's input is made of it); its detections come
    /// from [`Detector::receive`], in the order the frames were sent.
    /// `behind`: another frame of this instance is still in the detector
    /// (its source outruns the model).
    fn send(&mut self, frame: RgbFrame, letterbox: &Letterbox, behind: bool);

    /// The detections of the oldest frame sent and not received yet, once
    /// they are there.
    fn receive(&mut self) -> Result<Detected, DetectorError>;

    /// Whether a frame sent now would be run at once (a session is free for
    /// it), or, with `may_wait`, would be the one frame waiting while its
    /// instance is alone on the detector: only then does the worker send
    /// its next frame before the last one's answer. The worker passes
    /// `may_wait` for a source that keeps every frame, whose frames do not
    /// go stale waiting; the session that finishes next then starts on one
    /// at once instead of waiting for the worker. Never, unless a detector
    /// says so.
    fn has_room(&self, _may_wait: bool) -> bool {
        false
    }

    /// No frame will come for a while (no input yet, the source gone until
    /// a retry, a file ended, or no frame for a second): the detector stops
    /// counting this instance among those that share it, until its next
    /// frame. Nothing is in the detector when the worker says so.
    fn rest(&mut self) {}
}

/// Loads detectors; called once per run, on the worker's thread.
pub trait LoadDetector: Send + Sync {
    fn load(&self) -> Result<Box<dyn Detector>, DetectorError>;
}
