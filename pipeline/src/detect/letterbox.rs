//! Letterboxing: the source frame is scaled uniformly to fit the model input
//! and centred, the rest padded. The scaling and padding themselves happen
//! upstream (GStreamer); [`Letterbox`] holds the numbers so that both sides
//! agree, and maps boxes between model-input pixels and normalised source
//! coordinates.

use super::Rect;
use crate::error::{Error, Result};

/// How a `src_w` x `src_h` frame sits in a `dst_w` x `dst_h` model input:
/// scaled by one factor to `content_w` x `content_h` (the side that does
/// not fill the input rounded down to whole pixels, at least 1), with
/// `pad_x` columns on the left and `pad_y` rows on the top: half the
/// padding, rounded down to an even number, as GStreamer places a picture
/// it scales in I420, whose colour is shared by 2x2 pixels (the rest of the
/// padding goes right / bottom).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    pub content_w: u32,
    pub content_h: u32,
    pub pad_x: u32,
    pub pad_y: u32,
}

impl Letterbox {
    /// The letterbox of a source frame into a model input. Every size must
    /// be positive.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Result<Self> {
        if src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 {
            return Err(Error::invalid(
                "letterbox",
                format!("sizes must be positive, got {src_w}x{src_h} into {dst_w}x{dst_h}"),
            ));
        }
        // GStreamer's arithmetic: the width at full height, rounded down;
        // if it does not fit, the height at full width, rounded down.
        let scaled = |a: u32, b: u32, c: u32| (u64::from(a) * u64::from(b) / u64::from(c)) as u32;
        let to_w = scaled(dst_h, src_w, src_h);
        let (content_w, content_h) = if to_w <= dst_w {
            (to_w.max(1), dst_h)
        } else {
            (dst_w, scaled(dst_w, src_h, src_w).clamp(1, dst_h))
        };
        Ok(Letterbox {
            src_w,
            src_h,
            dst_w,
            dst_h,
            content_w,
            content_h,
            pad_x: ((dst_w - content_w) / 2) & !1,
            pad_y: ((dst_h - content_h) / 2) & !1,
        })
    }

    /// A box in model-input pixels as a box normalised to the source image,
    /// clamped to 0..1 (a box reaching into the padding is cut at the
    /// image's edge).
    pub fn to_source(&self, input: &Rect) -> Rect {
        let (px, py) = (self.pad_x as f32, self.pad_y as f32);
        let (cw, ch) = (self.content_w as f32, self.content_h as f32);
        Rect {
            x1: (input.x1 - px) / cw,
            y1: (input.y1 - py) / ch,
            x2: (input.x2 - px) / cw,
            y2: (input.y2 - py) / ch,
        }
        .clamp(1.0, 1.0)
    }

    /// A box normalised to the source image, in model-input pixels (the
    /// inverse of [`Letterbox::to_source`] inside the image).
    pub fn to_input(&self, source: &Rect) -> Rect {
        let (px, py) = (self.pad_x as f32, self.pad_y as f32);
        let (cw, ch) = (self.content_w as f32, self.content_h as f32);
        Rect {
            x1: source.x1 * cw + px,
            y1: source.y1 * ch + py,
            x2: source.x2 * cw + px,
            y2: source.y2 * ch + py,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Rect, b: &Rect) -> bool {
        [(a.x1, b.x1), (a.y1, b.y1), (a.x2, b.x2), (a.y2, b.y2)]
            .iter()
            .all(|(p, q)| (p - q).abs() < 1e-4)
    }

    #[test]
    fn landscape_pads_top_and_bottom() {
        // 640x480 -> 416x416: scale 0.65, content 416x312, 52 rows each side.
        let lb = Letterbox::new(640, 480, 416, 416).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (416, 312, 0, 52));
        let src = Rect::new(0.25, 0.5, 0.75, 1.0);
        let input = lb.to_input(&src);
        assert!(close(&input, &Rect::new(104.0, 208.0, 312.0, 364.0)), "{input:?}");
        assert!(close(&lb.to_source(&input), &src));
        // The full input maps to the full image; the padding is cut off.
        assert!(close(
            &lb.to_source(&Rect::new(0.0, 0.0, 416.0, 416.0)),
            &Rect::new(0., 0., 1., 1.)
        ));
        // A box entirely in the top padding collapses to the top edge.
        assert_eq!(lb.to_source(&Rect::new(10.0, 0.0, 50.0, 40.0)).area(), 0.0);
    }

    #[test]
    fn portrait_pads_left_and_right() {
        // 480x640 -> 416x416: content 312x416, 52 columns each side.
        let lb = Letterbox::new(480, 640, 416, 416).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (312, 416, 52, 0));
        let input = Rect::new(52.0 + 78.0, 104.0, 52.0 + 156.0, 312.0);
        let src = lb.to_source(&input);
        assert!(close(&src, &Rect::new(0.25, 0.25, 0.5, 0.75)), "{src:?}");
        assert!(close(&lb.to_input(&src), &input));
    }

    #[test]
    fn non_square_input_and_odd_padding() {
        // 1920x1080 -> 640x384: scale 1/3, content 640x360, 12 rows each side.
        let lb = Letterbox::new(1920, 1080, 640, 384).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (640, 360, 0, 12));
        // 1920x1080 -> 416x416: content 416x234, 182 rows of padding: 91
        // each side, 90 on top (even), 92 below.
        let lb = Letterbox::new(1920, 1080, 416, 416).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (416, 234, 0, 90));
        let lb = Letterbox::new(1080, 1920, 416, 416).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (234, 416, 90, 0));
        // 100x99 -> 10x10: content 10x10 (10.1 rounded down), no padding.
        let lb = Letterbox::new(100, 99, 10, 10).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (10, 10, 0, 0));
        // 300x100 -> 416x416: content 416x138 (138.67 rounded down), 278
        // rows of padding: 138 on top (139, even).
        let lb = Letterbox::new(300, 100, 416, 416).unwrap();
        assert_eq!((lb.content_w, lb.content_h, lb.pad_x, lb.pad_y), (416, 138, 0, 138));
    }

    #[test]
    fn zero_sizes_are_refused() {
        assert!(Letterbox::new(0, 480, 416, 416).is_err());
        assert!(Letterbox::new(640, 480, 416, 0).is_err());
    }
}
