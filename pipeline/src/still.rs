//! Still images pushed to a `Manual` input (`POST .../push/compressed`):
//! JPEG, PNG or BMP, decoded here to packed RGB before they are queued, so
//! that an image that cannot be decoded is refused (400) when it is pushed
//! rather than failing in the pipeline, and so that every image carries its
//! own size (pushed images may differ in size from one to the next). Pure:
//! no system library.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

use crate::error::{Error, Result};

/// The widest and tallest image taken, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// The most pixels an image may have: 8K UHD (7680 x 4320).
pub const MAX_PIXELS: u64 = 7680 * 4320;

/// A decoded image: packed RGB rows, `width * 3` bytes each.
#[derive(Clone, PartialEq, Eq)]
pub struct Still {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Still {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Still({}x{})", self.width, self.height)
    }
}

/// Decodes a pushed image. Errors are [`Error::Invalid`] on `frame`, saying
/// what was wrong: not a JPEG, PNG or BMP; too large; or the decoder's own
/// reason (a corrupt file, one cut short in its headers). A JPEG cut short
/// in its picture data is decoded as far as it goes, the rest grey, as
/// libjpeg (and so RT's OpenCV) does.
pub fn decode(bytes: &[u8]) -> Result<Still> {
    let bad = |message: String| Error::invalid("frame", message);
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(format!("unreadable: {e}")))
    };
    let image = reader()?;
    let name = match image.format() {
        Some(ImageFormat::Jpeg) => "JPEG",
        Some(ImageFormat::Png) => "PNG",
        Some(ImageFormat::Bmp) => "BMP",
        Some(other) => {
            let other = format!("{other:?}").to_uppercase();
            return Err(bad(format!("is {other}, not a JPEG, PNG or BMP image")));
        }
        None => return Err(bad("is not a JPEG, PNG or BMP image".into())),
    };
    // The header alone first: a small file can claim a huge picture.
    let undecodable = |e: image::ImageError| bad(format!("cannot be decoded as {name}: {e}"));
    let (width, height) = reader()?.into_dimensions().map_err(undecodable)?;
    if width == 0 || height == 0 {
        return Err(bad(format!("is an empty {name} ({width}x{height})")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(bad(format!(
            "is {width}x{height}: larger than this server takes (at most {MAX_SIDE} pixels a \
             side and {MAX_PIXELS} pixels)"
        )));
    }
    let rgb = image.decode().map_err(undecodable)?.into_rgb8();
    Ok(Still { width: rgb.width(), height: rgb.height(), rgb: rgb.into_raw() })
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, RgbImage};

    use super::*;

    /// `image` of `w` x `h` (a gradient) encoded as `format`.
    fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encoded");
        out.into_inner()
    }

    #[test]
    fn jpeg_png_and_bmp_decode_to_rgb_of_their_own_size() {
        for (format, w, h) in
            [(ImageFormat::Jpeg, 64, 48), (ImageFormat::Png, 33, 7), (ImageFormat::Bmp, 5, 9)]
        {
            let still = decode(&encoded(w, h, format)).expect("decoded");
            assert_eq!((still.width, still.height), (w, h), "{format:?}");
            assert_eq!(still.rgb.len(), (w * h * 3) as usize, "{format:?}");
        }
        // Lossless formats keep the pixels: (2, 3) is [2, 3, 128].
        let still = decode(&encoded(33, 7, ImageFormat::Png)).expect("decoded");
        let i = (3 * 33 + 2) * 3;
        assert_eq!(still.rgb[i..i + 3], [2, 3, 128]);
        // A JPEG cut short in its picture data: decoded as far as it goes.
        let jpeg = encoded(256, 192, ImageFormat::Jpeg);
        let cut = decode(&jpeg[..jpeg.len() * 3 / 4]).expect("decoded as far as it goes");
        assert_eq!((cut.width, cut.height), (256, 192));
        // Grey with alpha comes as RGB.
        let grey = image::GrayAlphaImage::from_pixel(4, 4, image::LumaA([200, 10]));
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(grey.as_raw(), 4, 4, image::ExtendedColorType::La8)
            .expect("encoded");
        assert_eq!(decode(&png).expect("decoded").rgb[..3], [200, 200, 200]);
    }

    /// A PNG claiming `w` x `h`, with no pixel data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = png.len();
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            let crc = crc32fast::hash(&png[start..]);
            png.extend_from_slice(&crc.to_be_bytes());
        };
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = [w.to_be_bytes(), h.to_be_bytes()].concat();
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &[]);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn what_cannot_be_decoded_is_refused_saying_why() {
        let jpeg = encoded(64, 48, ImageFormat::Jpeg);
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
        let cases: [(&str, Vec<u8>, &str); 7] = [
            ("text", b"hello, not an image".to_vec(), "not a JPEG, PNG or BMP"),
            ("empty", Vec::new(), "not a JPEG, PNG or BMP"),
            ("GIF", gif, "is GIF, not a JPEG, PNG or BMP"),
            ("JPEG headers only", jpeg[..200].to_vec(), "cannot be decoded as JPEG"),
            ("a JPEG's start only", jpeg[..4].to_vec(), "cannot be decoded as JPEG"),
            ("huge PNG", png_header(40_000, 40_000), "is 40000x40000: larger than"),
            ("too many pixels", png_header(8192, 8192), "is 8192x8192: larger than"),
        ];
        for (case, bytes, want) in cases {
            match decode(&bytes) {
                Err(Error::Invalid { field, message }) => {
                    assert_eq!(field, "frame", "{case}");
                    assert!(message.contains(want), "{case}: {message}");
                }
                other => panic!("{case}: {other:?}"),
            }
        }
        // The largest taken: 8K UHD (header only here: it fails later, on
        // the missing data, not on its size).
        match decode(&png_header(7680, 4320)) {
            Err(Error::Invalid { message, .. }) => {
                assert!(!message.contains("larger"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
