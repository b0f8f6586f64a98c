//! The detector seam: frames in, detections out. [`LoadDetector`] loads a
//! model (slow, and not interruptible), [`Detector`] runs it on one frame,
//! pre- and post-processing included. [`OrtLoader`] and [`OrtDetector`]
//! are the ONNX Runtime implementation (one session per running instance);
//! a shared inference service can later take their place behind the same
//! traits.

use super::error::DetectorError;
use super::infer::{Model, ModelOptions};
use super::source::RgbFrame;
use crate::detect::{DecodeOptions, Detection, Letterbox, ModelFamily, postprocess, to_chw};
use crate::track::TrackerOptions;

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

/// Loads [`OrtDetector`]s.
#[derive(Debug, Clone)]
pub struct OrtLoader {
    pub model: ModelOptions,
    /// The model's output format.
    pub family: ModelFamily,
}

impl LoadDetector for OrtLoader {
    fn load(&self) -> Result<Box<dyn Detector>, DetectorError> {
        let model = Model::load(&self.model)?;
        Ok(Box::new(OrtDetector { model, family: self.family, chw: Vec::new() }))
    }
}

/// One ONNX Runtime session and its family's pre- and post-processing.
#[derive(Debug)]
pub struct OrtDetector {
    model: Model,
    family: ModelFamily,
    /// The model input, reused from frame to frame.
    chw: Vec<f32>,
}

impl Detector for OrtDetector {
    fn input_size(&self) -> (u32, u32) {
        (self.model.width, self.model.height)
    }

    fn detect(
        &mut self,
        frame: &RgbFrame,
        letterbox: &Letterbox,
    ) -> Result<Vec<Detection>, DetectorError> {
        let (fw, fh) = (frame.width as usize, frame.height as usize);
        self.chw.resize(3 * fw * fh, 0.0);
        let pre = self.family.preprocess();
        to_chw(&frame.data, fw, fh, frame.stride, &pre, &mut self.chw)
            .map_err(DetectorError::Frame)?;
        let outputs = self.model.run(&self.chw)?;
        let views: Vec<_> = outputs.iter().map(|o| o.view()).collect();
        let decode = DecodeOptions {
            score_threshold: TrackerOptions::default().low_thresh,
            ..DecodeOptions::default()
        };
        postprocess(self.family, &views, letterbox, &decode).map_err(DetectorError::Decode)
    }
}
