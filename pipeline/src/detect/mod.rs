//! The detector's pure half: everything around the model run itself, on
//! plain Rust data, so that it is unit-tested on hand-made tensors. No ORT,
//! no GStreamer, no I/O.
//!
//! A frame goes through it as follows. Upstream (GStreamer) scales and pads
//! the frame to the model input as [`Letterbox`] says; [`to_chw`] turns those
//! RGB bytes into the input tensor per the model's [`Preprocess`]; the
//! runtime runs the model; [`postprocess`] decodes the raw outputs of the
//! [`ModelFamily`] into [`Candidate`]s in input pixels above the
//! confidence threshold, runs class-wise [`nms`], and maps the survivors back
//! through the letterbox into [`Detection`]s normalised to the source image.
//!
//! # Layout
//!
//! - `rect`: [`Rect`], a box with area and IoU.
//! - `coco`: [`COCO_LABELS`] and the COCO -> RT class mapping [`rt_class`].
//! - `letterbox`: [`Letterbox`], input pixels <-> normalised source.
//! - `preprocess`: [`Preprocess`] and [`to_chw`].
//! - `nanodet`, `yolo`: the decoders of each model family's raw outputs.
//! - `nms`: class-wise non-maximum suppression.

mod coco;
mod letterbox;
pub mod nanodet;
mod nms;
mod preprocess;
mod rect;
pub mod yolo;

use serde::{Deserialize, Serialize};

pub use coco::{COCO_LABELS, coco_label, rt_class};
pub use letterbox::Letterbox;
pub use nanodet::NanoDetLayout;
pub use nms::nms;
pub use preprocess::{Preprocess, to_chw};
pub use rect::Rect;

use crate::error::{Error, Result};
use crate::securt::ObjectClass;
use crate::settings::Sensitivity;

/// One detected object, normalised to the source image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Normalised 0..1 of the source image, origin top-left.
    pub rect: Rect,
    /// COCO class id, 0..79.
    pub class_id: usize,
    /// COCO label of `class_id`, e.g. `person`, `backpack`.
    pub label: &'static str,
    /// RT class of `class_id`.
    pub class: ObjectClass,
    /// Detector confidence, 0..1.
    pub score: f32,
}

impl Detection {
    /// A detection of COCO class `class_id`, with its label and RT class.
    pub fn new(rect: Rect, class_id: usize, score: f32) -> Self {
        Detection { rect, class_id, label: coco_label(class_id), class: rt_class(class_id), score }
    }
}

/// A decoder's raw box before NMS, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// In model-input pixels, clamped to the input.
    pub rect: Rect,
    pub class_id: usize,
    pub score: f32,
}

/// One model output as the runtime hands it over: ONNX-style dimensions
/// (`i64`, as ORT reports them) and the values, row-major.
#[derive(Debug, Clone, Copy)]
pub struct OutputTensor<'a> {
    pub shape: &'a [i64],
    pub data: &'a [f32],
}

/// The output format of the configured detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFamily {
    /// NanoDet (GFL head: per-stride class scores and side distributions);
    /// see [`nanodet`]. Preprocessing [`Preprocess::NANODET`].
    #[default]
    NanoDet,
    /// Ultralytics YOLOv8 and YOLO11 (same output format); see [`yolo`].
    /// Preprocessing [`Preprocess::YOLO`]. Also accepted as `"yolo11"`.
    #[serde(alias = "yolo11")]
    Yolov8,
}

impl ModelFamily {
    /// The input preprocessing the family's models were trained with.
    pub fn preprocess(self) -> Preprocess {
        match self {
            ModelFamily::NanoDet => Preprocess::NANODET,
            ModelFamily::Yolov8 => Preprocess::YOLO,
        }
    }
}

/// The detector confidence a box needs to count, per the instance's
/// `detectionSensitivity`: a more sensitive detector accepts less certain
/// boxes.
///
/// - `Low` 0.5: only clear objects; fewer false alarms, misses small or
///   partly hidden ones.
/// - `Medium` 0.35 (RT's default sensitivity): the score threshold of
///   NanoDet's own demo.
/// - `High` 0.25: Ultralytics' default `conf` for prediction.
///
/// Measured with NanoDet-m (stack-notes part B §3), real objects scored 0.53
/// to 0.88, and one wrong `person` on a cat 0.59, so no threshold separates
/// everything; the tracker's confirmation (several hits in a row) does the rest.
pub fn confidence_threshold(sensitivity: Sensitivity) -> f32 {
    match sensitivity {
        Sensitivity::Low => 0.5,
        Sensitivity::Medium => 0.35,
        Sensitivity::High => 0.25,
    }
}

/// What [`postprocess`] keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Boxes scoring below this are dropped before NMS. Default: the
    /// `Medium` [`confidence_threshold`]. To feed the tracker's low-score
    /// second pass, decode at its `low_thresh` instead.
    pub score_threshold: f32,
    /// Same-class boxes overlapping a better one by more than this IoU are
    /// suppressed. Default 0.6, NanoDet's own: crowds of pedestrians overlap
    /// a lot, and a lower value merges people walking side by side.
    pub iou_threshold: f32,
    /// At most this many detections per frame, the best kept. Default 100,
    /// NanoDet's own `keep_top_k`.
    pub max_detections: usize,
    /// The NanoDet head's conventions (ignored for YOLO).
    pub nanodet: NanoDetLayout,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            score_threshold: confidence_threshold(Sensitivity::Medium),
            iou_threshold: 0.6,
            max_detections: 100,
            nanodet: NanoDetLayout::DEFAULT,
        }
    }
}

/// The candidates of a model's raw outputs, in input pixels, with a score
/// of at least `options.score_threshold` (before NMS). The outputs are
/// recognised by shape; a set that does not fit the family is an
/// [`Error::Invalid`] naming the shapes.
pub fn decode(
    family: ModelFamily,
    outputs: &[OutputTensor<'_>],
    input_w: u32,
    input_h: u32,
    options: &DecodeOptions,
) -> Result<Vec<Candidate>> {
    match family {
        ModelFamily::NanoDet => {
            nanodet::decode(outputs, input_w, input_h, &options.nanodet, options.score_threshold)
        }
        ModelFamily::Yolov8 => match outputs {
            [output] => yolo::decode(output, input_w, input_h, options.score_threshold),
            _ => Err(Error::invalid(
                "detector output (yolov8)",
                format!("expected one output, got {}", outputs.len()),
            )),
        },
    }
}

/// Raw outputs to final detections: [`decode`] at the letterbox's input
/// size, [`nms`], then each box mapped back to the source image. Boxes that
/// lie entirely in the padding (empty once clamped) are dropped.
pub fn postprocess(
    family: ModelFamily,
    outputs: &[OutputTensor<'_>],
    letterbox: &Letterbox,
    options: &DecodeOptions,
) -> Result<Vec<Detection>> {
    let candidates = decode(family, outputs, letterbox.dst_w, letterbox.dst_h, options)?;
    Ok(nms(candidates, options.iou_threshold, options.max_detections)
        .into_iter()
        .map(|c| Detection::new(letterbox.to_source(&c.rect), c.class_id, c.score))
        .filter(|d| d.rect.area() > 0.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_fall_as_sensitivity_rises() {
        let [low, medium, high] =
            [Sensitivity::Low, Sensitivity::Medium, Sensitivity::High].map(confidence_threshold);
        assert!(low > medium && medium > high, "{low} {medium} {high}");
        assert_eq!((low, medium, high), (0.5, 0.35, 0.25));
        assert_eq!(DecodeOptions::default().score_threshold, medium);
    }

    #[test]
    fn model_family_names() {
        let names = serde_json::to_value([ModelFamily::NanoDet, ModelFamily::Yolov8]).unwrap();
        assert_eq!(names, serde_json::json!(["nanodet", "yolov8"]));
        let parsed: Vec<ModelFamily> =
            serde_json::from_str(r#"["nanodet", "yolov8", "yolo11"]"#).unwrap();
        assert_eq!(parsed, [ModelFamily::NanoDet, ModelFamily::Yolov8, ModelFamily::Yolov8]);
        assert!(serde_json::from_str::<ModelFamily>(r#""yolov5""#).is_err());
        assert_eq!(ModelFamily::NanoDet.preprocess(), Preprocess::NANODET);
    }

    #[test]
    fn detection_carries_label_and_class() {
        let d = Detection::new(Rect::new(0.0, 0.0, 0.5, 0.5), 2, 0.7);
        assert_eq!((d.label, d.class), ("car", ObjectClass::Vehicle));
    }

    /// YOLO output for a 640x480 frame letterboxed into 640x640: two
    /// overlapping persons (one suppressed), a dog, a box in the padding.
    #[test]
    fn postprocess_end_to_end() {
        const N: usize = 100; // more anchors than channels, as in any real output
        let mut data = vec![0.0f32; 84 * N];
        let boxes = [
            [320.0, 320.0, 64.0, 128.0, 0.0, 0.9],  // centre of the image
            [322.0, 322.0, 64.0, 128.0, 0.0, 0.8],  // duplicate: suppressed
            [320.0, 320.0, 64.0, 128.0, 16.0, 0.7], // a dog at the same place
            [100.0, 40.0, 40.0, 40.0, 0.0, 0.9],    // in the top padding (80 rows)
            [100.0, 100.0, 40.0, 40.0, 0.0, 0.2],   // below threshold
        ];
        for (j, b) in boxes.iter().enumerate() {
            for c in 0..4 {
                data[c * N + j] = b[c];
            }
            data[(4 + b[4] as usize) * N + j] = b[5];
        }
        let outputs = [OutputTensor { shape: &[1, 84, N as i64], data: &data }];
        let lb = Letterbox::new(640, 480, 640, 640).unwrap();
        let got =
            postprocess(ModelFamily::Yolov8, &outputs, &lb, &DecodeOptions::default()).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].label, got[0].score), ("person", 0.9));
        assert_eq!((got[1].label, got[1].class), ("dog", ObjectClass::Animal));
        let want = Rect::new(0.45, (256.0 - 80.0) / 480.0, 0.55, (384.0 - 80.0) / 480.0);
        let r = got[0].rect;
        assert!((r.x1 - want.x1).abs() < 1e-5 && (r.y1 - want.y1).abs() < 1e-5, "{r:?}");
        assert!((r.x2 - want.x2).abs() < 1e-5 && (r.y2 - want.y2).abs() < 1e-5, "{r:?}");
        let two = [outputs[0], outputs[0]];
        assert!(postprocess(ModelFamily::Yolov8, &two, &lb, &DecodeOptions::default()).is_err());
    }
}
