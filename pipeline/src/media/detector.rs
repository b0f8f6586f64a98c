//! The detector seam: frames in, detections out. [`LoadDetector`] loads a
//! model (slow, and not interruptible), [`Detector`] runs it on one frame,
//! pre- and post-processing included. The shared inference service
//! ([`super::service`]) implements them for every instance; the worker's
//! unit tests use fakes.

use super::error::DetectorError;
use super::source::RgbFrame;
use crate::detect::{Detection, Letterbox};

/// A loaded model, ready to detect.
pub trait Detector: Send {
    /// The model's input size (width, height): frames are given letterboxed
    /// to it.
    fn input_size(&self) -> (u32, u32);

    /// The objects in `frame`, mapped back to the source image through
    /// `letterbox`, down to the tracker's low threshold (weak boxes keep
    /// confirmed tracks alive but never start one).
    fn detect(
        &mut self,
        frame: &RgbFrame,
        letterbox: &Letterbox,
    ) -> Result<Vec<Detection>, DetectorError>;
}

/// Loads detectors; called once per run, on the worker's thread.
pub trait LoadDetector: Send + Sync {
    fn load(&self) -> Result<Box<dyn Detector>, DetectorError>;
}
