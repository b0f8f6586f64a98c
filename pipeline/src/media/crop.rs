//! `crop` events: a JPEG of a newly confirmed track, cut from the full-size
//! frame, at most a few a second.

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
/// The crop's pixels are copied as they are (YCbCr, chroma from the 2x2
/// subsampled planes); the encoder takes YCbCr directly, so no colour
/// conversion runs in Rust.
pub fn jpeg_base64(frame: &YuvFrame, rect: &Rect) -> Option<String> {
    let (w, h) = (frame.width as f32, frame.height as f32);
    let mx = rect.width() * MARGIN;
    let my = rect.height() * MARGIN;
    let x1 = ((rect.x1 - mx).max(0.0) * w) as usize;
    let y1 = ((rect.y1 - my).max(0.0) * h) as usize;
    let x2 = (((rect.x2 + mx).min(1.0)) * w) as usize;
    let y2 = (((rect.y2 + my).min(1.0)) * h) as usize;
    if x2 <= x1 + 1 || y2 <= y1 + 1 {
        return None;
    }
    let (cw, ch) = (x2 - x1, y2 - y1);
    let [oy, ou, ov] = frame.offsets;
    let [sy, su, sv] = frame.strides;
    let d = &frame.data;
    let mut ycbcr = Vec::with_capacity(cw * ch * 3);
    for row in y1..y2 {
        for col in x1..x2 {
            ycbcr.push(*d.get(oy + row * sy + col)?);
            ycbcr.push(*d.get(ou + (row / 2) * su + col / 2)?);
            ycbcr.push(*d.get(ov + (row / 2) * sv + col / 2)?);
        }
    }
    let mut out = Vec::new();
    Encoder::new(&mut out, 85)
        .encode(&ycbcr, u16::try_from(cw).ok()?, u16::try_from(ch).ok()?, ColorType::Ycbcr)
        .ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(out))
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
    }
}
