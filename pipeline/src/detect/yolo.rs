//! Decoding the one output of an Ultralytics YOLOv8 / YOLO11 detection
//! export into candidate boxes.
//!
//! The output is `[1, 4 + nc, N]`: for each of the `N` anchor points, the
//! box centre and size `(cx, cy, w, h)` in model-input pixels, then `nc`
//! class scores (already sigmoid; no objectness column). Some exports
//! transpose it to `[1, N, 4 + nc]`; both are accepted. The layout is told
//! by which dimension is the smaller: `N` is in the thousands for any
//! useful input size (2100 at 320x320, 8400 at 640x640) while `4 + nc` is 84
//! for COCO; on a tie the Ultralytics default (channels first) is assumed.
//!
//! Each anchor yields at most one candidate: its best class, if that score
//! reaches the threshold (Ultralytics' `multi_label=False` default).

use super::nanodet::{ClassScore, class_reaching};
use super::{Candidate, OutputTensor, Rect};
use crate::error::{Error, Result};

/// Candidates of score >= `score_threshold`, in model-input pixels (clamped
/// to the `input_w` x `input_h` input), from a YOLOv8/YOLO11 output.
pub fn decode(
    output: &OutputTensor<'_>,
    input_w: u32,
    input_h: u32,
    score_threshold: f32,
) -> Result<Vec<Candidate>> {
    let (d1, d2) = match output.shape {
        [1, a, b] | [a, b] => (usize::try_from(*a).ok(), usize::try_from(*b).ok()),
        _ => (None, None),
    };
    let (Some(d1), Some(d2)) = (d1, d2) else {
        return Err(bad(format!("shape {:?}, expected [1, 4 + nc, N]", output.shape)));
    };
    if d1.checked_mul(d2) != Some(output.data.len()) {
        return Err(bad(format!("shape {:?} but {} values", output.shape, output.data.len())));
    }
    let channels_first = d1 <= d2;
    let (channels, anchors) = if channels_first { (d1, d2) } else { (d2, d1) };
    if channels < 5 {
        return Err(bad(format!("shape {:?}: fewer than 4 + 1 channels", output.shape)));
    }
    let (w, h) = (input_w as f32, input_h as f32);
    let make = |cx: f32, cy: f32, bw: f32, bh: f32, class_id: usize, score: f32| Candidate {
        rect: Rect::from_center(cx, cy, bw, bh).clamp(w, h),
        class_id,
        score,
    };
    let data = output.data;
    let mut candidates = Vec::new();
    if channels_first {
        // Class-major: scan each class row once (contiguous) for the best
        // class of every anchor, then read the boxes of the survivors.
        let mut best = vec![ClassScore { class_id: 0, score: f32::NEG_INFINITY }; anchors];
        for (class_id, row) in data[4 * anchors..].chunks_exact(anchors).enumerate() {
            for (b, &score) in best.iter_mut().zip(row) {
                if score > b.score {
                    *b = ClassScore { class_id, score };
                }
            }
        }
        for (j, &ClassScore { class_id, score }) in best.iter().enumerate() {
            if score >= score_threshold {
                let at = |c: usize| data[c * anchors + j];
                candidates.push(make(at(0), at(1), at(2), at(3), class_id, score));
            }
        }
    } else {
        for row in data.chunks_exact(channels) {
            let Some(ClassScore { class_id, score }) = class_reaching(&row[4..], score_threshold)
            else {
                continue;
            };
            candidates.push(make(row[0], row[1], row[2], row[3], class_id, score));
        }
    }
    Ok(candidates)
}

fn bad(message: String) -> Error {
    Error::invalid("detector output (yolov8)", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NC: usize = 80;
    const N: usize = 100;

    /// Rows of (cx, cy, w, h, class, score); every other anchor is zero.
    const BOXES: [[f32; 6]; 3] = [
        [100.0, 120.0, 40.0, 80.0, 0.0, 0.9],
        [300.0, 50.0, 20.0, 20.0, 2.0, 0.6],
        [630.0, 630.0, 40.0, 40.0, 16.0, 0.3], // below 0.5; clamped if kept
    ];

    fn channels_first() -> Vec<f32> {
        let mut data = vec![0.0f32; (4 + NC) * N];
        for (j, b) in BOXES.iter().enumerate() {
            let j = j * 7; // spread over the anchors
            for c in 0..4 {
                data[c * N + j] = b[c];
            }
            data[(4 + b[4] as usize) * N + j] = b[5];
            data[(4 + 1) * N + j] = 0.05; // a weaker class elsewhere
        }
        data
    }

    fn transpose(data: &[f32]) -> Vec<f32> {
        let mut t = vec![0.0f32; data.len()];
        for c in 0..4 + NC {
            for j in 0..N {
                t[j * (4 + NC) + c] = data[c * N + j];
            }
        }
        t
    }

    fn check(got: &[Candidate], threshold: f32) {
        let want: Vec<_> = BOXES.iter().filter(|b| b[5] >= threshold).collect();
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, b) in got.iter().zip(want) {
            assert_eq!((g.class_id, g.score), (b[4] as usize, b[5]));
            let r = Rect::from_center(b[0], b[1], b[2], b[3]).clamp(640.0, 640.0);
            assert_eq!(g.rect, r);
        }
    }

    #[test]
    fn channels_first_layout() {
        let data = channels_first();
        let out = OutputTensor { shape: &[1, 84, N as i64], data: &data };
        check(&decode(&out, 640, 640, 0.5).unwrap(), 0.5);
        let got = decode(&out, 640, 640, 0.25).unwrap();
        check(&got, 0.25);
        assert_eq!(got[0].rect, Rect::new(80.0, 80.0, 120.0, 160.0));
        assert_eq!(got[2].rect, Rect::new(610.0, 610.0, 640.0, 640.0));
    }

    #[test]
    fn transposed_layout() {
        let data = transpose(&channels_first());
        let out = OutputTensor { shape: &[1, N as i64, 84], data: &data };
        check(&decode(&out, 640, 640, 0.5).unwrap(), 0.5);
        check(&decode(&out, 640, 640, 0.25).unwrap(), 0.25);
        let flat = OutputTensor { shape: &[N as i64, 84], data: &data };
        check(&decode(&flat, 640, 640, 0.25).unwrap(), 0.25);
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let data = channels_first();
        for shape in [&[1, 84, 99][..], &[2, 84, 50], &[1, 1, 84, 100], &[1, -84, -100]] {
            let out = OutputTensor { shape, data: &data };
            assert!(decode(&out, 640, 640, 0.5).is_err(), "{shape:?}");
        }
        let small = [0.0f32; 8];
        let out = OutputTensor { shape: &[1, 4, 2], data: &small };
        assert!(decode(&out, 640, 640, 0.5).is_err());
    }
}
