//! JPEG from full-size frames: `crop` events (a newly confirmed track, cut
//! from the frame, at most a few a second) and the live view's frames.

use base64::Engine as _;
use jpeg_encoder::{ColorType, Encoder};

use super::source::YuvFrame;
use crate::detect::Rect;

/// Crops sent per second at most (bursts of up to `BURST`): enough for a
/// busy street, cheap next to the model.
pub const PER_SECOND: f64 = 2.0;
const BURST: f64 = 5.0;

/// Margin around the box, as a fraction of its size: context helps a
/// person recognise what they see.
const MARGIN: f32 = 0.1;

/// A token bucket over stream time.
#[derive(Debug)]
pub struct Budget {
    tokens: f64,
    last_ms: Option<i64>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { tokens: BURST, last_ms: None }
    }
}

impl Budget {
    /// Takes one crop's worth, if there is one.
    pub fn take(&mut self, now_ms: i64) -> bool {
        if let Some(last) = self.last_ms {
            let dt = (now_ms - last).max(0) as f64 / 1000.0;
            self.tokens = (self.tokens + dt * PER_SECOND).min(BURST);
        }
        self.last_ms = Some(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The box (normalised) with a margin, cut from `frame`, as base64 JPEG.
pub fn jpeg_base64(frame: &YuvFrame, rect: &Rect) -> Option<String> {
    let (w, h) = (frame.width as f32, frame.height as f32);
    let mx = rect.width() * MARGIN;
    let my = rect.height() * MARGIN;
    let x1 = ((rect.x1 - mx).max(0.0) * w) as usize;
    let y1 = ((rect.y1 - my).max(0.0) * h) as usize;
    let x2 = (((rect.x2 + mx).min(1.0)) * w) as usize;
    let y2 = (((rect.y2 + my).min(1.0)) * h) as usize;
    let out = jpeg_region(frame, (x1, y1, x2, y2), 85)?;
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

/// The whole frame as JPEG (the live view).
pub fn jpeg(frame: &YuvFrame, quality: u8) -> Option<Vec<u8>> {
    jpeg_region(frame, (0, 0, frame.width as usize, frame.height as usize), quality)
}

/// The pixels `x1..x2`, `y1..y2` of `frame` as JPEG. They are copied as
/// they are (YCbCr, chroma from the 2x2 subsampled planes); the encoder
/// takes YCbCr directly, so no colour conversion runs in Rust.
fn jpeg_region(
    frame: &YuvFrame,
    (x1, y1, x2, y2): (usize, usize, usize, usize),
    quality: u8,
) -> Option<Vec<u8>> {
    if x2 <= x1 + 1 || y2 <= y1 + 1 {
        return None;
    }
    let (cw, ch) = (x2 - x1, y2 - y1);
    let [oy, ou, ov] = frame.offsets;
    let [sy, su, sv] = frame.strides;
    let d = &frame.data;
    let mut ycbcr = Vec::with_capacity(cw * ch * 3);
    for row in y1..y2 {
        let (luma, cb, cr) = (oy + row * sy, ou + (row / 2) * su, ov + (row / 2) * sv);
        for col in x1..x2 {
            ycbcr.push(*d.get(luma + col)?);
            ycbcr.push(*d.get(cb + col / 2)?);
            ycbcr.push(*d.get(cr + col / 2)?);
        }
    }
    let mut out = Vec::new();
    Encoder::new(&mut out, quality)
        .encode(&ycbcr, u16::try_from(cw).ok()?, u16::try_from(ch).ok()?, ColorType::Ycbcr)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_with_stream_time() {
        let mut b = Budget::default();
        let taken = (0..10).filter(|_| b.take(0)).count();
        assert_eq!(taken, 5, "burst");
        assert!(!b.take(100));
        assert!(b.take(600), "one more after half a second");
    }

    #[test]
    fn crops_are_jpegs_of_the_box() {
        let (w, h) = (64usize, 48usize);
        let frame = YuvFrame {
            data: vec![128; w * h * 3 / 2],
            width: w as u32,
            height: h as u32,
            offsets: [0, w * h, w * h + w * h / 4],
            strides: [w, w / 2, w / 2],
            pts_ms: None,
        };
        let b64 = jpeg_base64(&frame, &Rect { x1: 0.25, y1: 0.25, x2: 0.5, y2: 0.75 }).unwrap();
        let jpeg = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert!(jpeg_base64(&frame, &Rect { x1: 0.5, y1: 0.5, x2: 0.5, y2: 0.5 }).is_none());
        // The whole frame: its size is in the start-of-frame segment.
        let whole = super::jpeg(&frame, 80).unwrap();
        let sof = whole.windows(2).position(|m| m == [0xFF, 0xC0]).expect("baseline SOF0");
        let size = |i: usize| u16::from_be_bytes([whole[sof + i], whole[sof + i + 1]]);
        assert_eq!((size(7), size(5)), (w as u16, h as u16));
    }
}
