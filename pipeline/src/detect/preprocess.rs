//! Turning an already letterboxed RGB frame (packed 8-bit, rows possibly
//! padded to a stride, as GStreamer hands them over) into the detector's
//! NCHW float input, with the model family's channel order and
//! normalisation. One pass over the pixels, no allocation.

use crate::error::{Error, Result};

/// Channel order and normalisation of a model's input: output channel `c`
/// is `(pixel - mean[c]) / std[c]`, where the pixel's channel is R, G, B
/// (`bgr == false`) or B, G, R (`bgr == true`). `mean` and `std` are
/// indexed by *output* channel, so for a BGR model they are in B, G, R order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocess {
    pub bgr: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// NanoDet's own preprocessing (BGR, ImageNet mean/std in 0..255 units,
    /// from NanoDet's configs). Feeding it RGB/255 as Human's JS does gives
    /// clearly worse detections (stack-notes part B §3).
    pub const NANODET: Preprocess =
        Preprocess { bgr: true, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] };

    /// Ultralytics YOLOv8 / YOLO11 exports: RGB scaled to 0..1.
    pub const YOLO: Preprocess = Preprocess { bgr: false, mean: [0.0; 3], std: [255.0; 3] };
}

/// Writes the `width` x `height` packed RGB frame `rgb` (row `y` starts at
/// byte `y * stride`) into `out` as three planes (NCHW with N = 1), each
/// value normalised per `p`. `out` must hold exactly `3 * width * height`
/// values.
pub fn to_chw(
    rgb: &[u8],
    width: usize,
    height: usize,
    stride: usize,
    p: &Preprocess,
    out: &mut [f32],
) -> Result<()> {
    let row_bytes = width * 3;
    let plane = width * height;
    if width == 0 || height == 0 {
        return Err(Error::invalid("frame", format!("empty frame {width}x{height}")));
    }
    if stride < row_bytes {
        return Err(Error::invalid("frame", format!("stride {stride} < 3 x width {width}")));
    }
    let needed = stride * (height - 1) + row_bytes;
    if rgb.len() < needed {
        return Err(Error::invalid(
            "frame",
            format!("{} bytes for a {width}x{height} frame of stride {stride}", rgb.len()),
        ));
    }
    if out.len() != 3 * plane {
        return Err(Error::invalid(
            "frame",
            format!("tensor of {} values for 3x{height}x{width}", out.len()),
        ));
    }
    // (v - mean) / std == v * scale + bias.
    let scale = p.std.map(|s| 1.0 / s);
    let bias = [0, 1, 2].map(|c| -p.mean[c] * scale[c]);
    if p.bgr {
        fill::<true>(rgb, width, stride, scale, bias, out);
    } else {
        fill::<false>(rgb, width, stride, scale, bias, out);
    }
    Ok(())
}

/// The loop of [`to_chw`], with the channel order a constant so the inner
/// loop has no branch. Sizes were checked by the caller.
fn fill<const BGR: bool>(
    rgb: &[u8],
    width: usize,
    stride: usize,
    scale: [f32; 3],
    bias: [f32; 3],
    out: &mut [f32],
) {
    let plane = out.len() / 3;
    let (p0, rest) = out.split_at_mut(plane);
    let (p1, p2) = rest.split_at_mut(plane);
    let rows =
        p0.chunks_exact_mut(width).zip(p1.chunks_exact_mut(width)).zip(p2.chunks_exact_mut(width));
    for (y, ((o0, o1), o2)) in rows.enumerate() {
        let row = &rgb[y * stride..y * stride + width * 3];
        for (((px, a), b), c) in row.chunks_exact(3).zip(o0).zip(o1).zip(o2) {
            let (first, third) = if BGR { (px[2], px[0]) } else { (px[0], px[2]) };
            *a = f32::from(first) * scale[0] + bias[0];
            *b = f32::from(px[1]) * scale[1] + bias[1];
            *c = f32::from(third) * scale[2] + bias[2];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x2 frame with a stride of 8 (2 bytes of row padding).
    const FRAME: [u8; 14] = [
        10, 20, 30, 40, 50, 60, 0xEE, 0xEE, //
        70, 80, 90, 255, 0, 128,
    ];

    #[test]
    fn yolo_is_rgb_planes_over_255() {
        let mut out = [0.0f32; 12];
        to_chw(&FRAME, 2, 2, 8, &Preprocess::YOLO, &mut out).unwrap();
        let expect =
            [10., 40., 70., 255., 20., 50., 80., 0., 30., 60., 90., 128.].map(|v| v / 255.);
        for (o, e) in out.iter().zip(expect) {
            assert!((o - e).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn nanodet_is_bgr_planes_normalised() {
        let mut out = [0.0f32; 12];
        let p = Preprocess::NANODET;
        to_chw(&FRAME, 2, 2, 8, &p, &mut out).unwrap();
        let b = [30., 60., 90., 128.];
        let g = [20., 50., 80., 0.];
        let r = [10., 40., 70., 255.];
        for (c, plane) in [b, g, r].iter().enumerate() {
            for (i, v) in plane.iter().enumerate() {
                let want = (v - p.mean[c]) / p.std[c];
                assert!((out[c * 4 + i] - want).abs() < 1e-5, "c{c} i{i}: {out:?}");
            }
        }
    }

    #[test]
    fn bad_sizes_are_refused() {
        let mut out = [0.0f32; 12];
        let p = Preprocess::YOLO;
        assert!(to_chw(&FRAME, 2, 2, 5, &p, &mut out).is_err()); // stride < 6
        assert!(to_chw(&FRAME[..13], 2, 2, 8, &p, &mut out).is_err()); // short frame
        assert!(to_chw(&FRAME, 2, 2, 8, &p, &mut out[..11]).is_err());
        assert!(to_chw(&FRAME, 0, 2, 8, &p, &mut out).is_err());
    }
}
