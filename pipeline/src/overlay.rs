//! The `Default` render preset, drawn into an I420 frame (pure): areas
//! (outlined and lightly filled) and lines in their colours, object boxes
//! labelled with class and tracking id, and the rules' live counters.
//!
//! Coordinates are normalised (0..1 of the frame), as in the config tree
//! and the tracker. Text uses a built-in 5x7 font (upper case, digits and a
//! few signs), drawn at twice its size on a dark plate.

use crate::securt::{Color, Point};

/// An I420 frame to draw on: three planes in one buffer.
#[derive(Debug)]
pub struct Canvas<'a> {
    pub data: &'a mut [u8],
    pub width: usize,
    pub height: usize,
    /// Byte offset and stride of the Y, U and V planes.
    pub offsets: [usize; 3],
    pub strides: [usize; 3],
}

/// One labelled box.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// Normalised corners.
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    pub color: Color,
    pub label: String,
}

/// A polygon or a line with its colour and name.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub points: Vec<Point>,
    pub color: Color,
    pub name: String,
}

/// Everything drawn on one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scene {
    pub areas: Vec<Shape>,
    pub lines: Vec<Shape>,
    pub boxes: Vec<Labelled>,
    /// One text line each, top left.
    pub counters: Vec<String>,
}

/// Fill opacity of areas.
const AREA_FILL: f64 = 0.25;
/// Outline thickness in pixels.
const STROKE: i64 = 3;
/// Font scale.
const SCALE: i64 = 2;

/// Y, U, V of an RGB colour (BT.601, limited range).
fn yuv(c: Color) -> [f64; 3] {
    let [r, g, b] = [c[0], c[1], c[2]].map(|v| v.clamp(0.0, 1.0));
    [
        16.0 + 65.481 * r + 128.553 * g + 24.966 * b,
        128.0 - 37.797 * r - 74.203 * g + 112.0 * b,
        128.0 + 112.0 * r - 93.786 * g - 18.214 * b,
    ]
}

fn blend(px: &mut u8, v: f64, alpha: f64) {
    *px = (f64::from(*px) * (1.0 - alpha) + v * alpha).round().clamp(0.0, 255.0) as u8;
}

impl Canvas<'_> {
    fn px(&mut self, x: i64, y: i64, c: [f64; 3], alpha: f64) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        let i = self.offsets[0] + y * self.strides[0] + x;
        if let Some(p) = self.data.get_mut(i) {
            blend(p, c[0], alpha);
        }
        // Chroma is shared by 2x2 pixels: written once, by the top-left one.
        if x % 2 == 0 && y % 2 == 0 {
            for (plane, v) in [(1, c[1]), (2, c[2])] {
                let i = self.offsets[plane] + (y / 2) * self.strides[plane] + x / 2;
                if let Some(p) = self.data.get_mut(i) {
                    blend(p, v, alpha);
                }
            }
        }
    }

    fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [f64; 3], alpha: f64) {
        for y in y0.max(0)..y1.min(self.height as i64) {
            for x in x0.max(0)..x1.min(self.width as i64) {
                self.px(x, y, c, alpha);
            }
        }
    }

    /// A thick segment (squares stamped along Bresenham's line).
    fn segment(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [f64; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let h = STROKE / 2;
        loop {
            self.fill_rect(x - h, y - h, x + h + 1, y + h + 1, c, 1.0);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn to_px(&self, p: Point) -> (i64, i64) {
        ((p.x * self.width as f64).round() as i64, (p.y * self.height as f64).round() as i64)
    }

    /// Fills a polygon (even-odd rule, pixel centres).
    fn fill_polygon(&mut self, points: &[Point], c: [f64; 3], alpha: f64) {
        let pts: Vec<(f64, f64)> =
            points.iter().map(|p| (p.x * self.width as f64, p.y * self.height as f64)).collect();
        for y in 0..self.height as i64 {
            let yc = y as f64 + 0.5;
            let mut xs: Vec<f64> = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= yc) != (b.1 <= yc) {
                    xs.push(a.0 + (yc - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks(2) {
                if let [from, to] = pair {
                    let (from, to) = ((from - 0.5).ceil() as i64, (to - 0.5).floor() as i64);
                    for x in from..=to {
                        self.px(x, y, c, alpha);
                    }
                }
            }
        }
    }

    /// Text at (x, y) (top left), light on a dark plate.
    fn text(&mut self, x: i64, y: i64, s: &str) {
        if s.is_empty() {
            return;
        }
        let n = s.chars().count() as i64;
        let (w, h) = (n * 6 * SCALE + 2 * SCALE, 9 * SCALE);
        self.fill_rect(x, y, x + w, y + h, yuv([0.0, 0.0, 0.0, 1.0]), 0.6);
        let white = yuv([1.0, 1.0, 1.0, 1.0]);
        for (i, ch) in s.chars().enumerate() {
            let rows = glyph(ch);
            let gx = x + SCALE + i as i64 * 6 * SCALE;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let (px, py) = (gx + col * SCALE, y + SCALE + r as i64 * SCALE);
                        self.fill_rect(px, py, px + SCALE, py + SCALE, white, 1.0);
                    }
                }
            }
        }
    }
}

/// Draws `scene` on `canvas`.
pub fn draw(canvas: &mut Canvas<'_>, scene: &Scene) {
    for area in &scene.areas {
        let c = yuv(area.color);
        canvas.fill_polygon(&area.points, c, AREA_FILL);
        let px: Vec<_> = area.points.iter().map(|p| canvas.to_px(*p)).collect();
        for i in 0..px.len() {
            canvas.segment(px[i], px[(i + 1) % px.len()], c);
        }
        if let Some(&(x, y)) = px.first() {
            canvas.text(x + 4, y + 4, &area.name);
        }
    }
    for line in &scene.lines {
        let c = yuv(line.color);
        let px: Vec<_> = line.points.iter().map(|p| canvas.to_px(*p)).collect();
        for w in px.windows(2) {
            canvas.segment(w[0], w[1], c);
        }
        if let Some(&(x, y)) = px.first() {
            canvas.text(x + 4, y + 4, &line.name);
        }
    }
    for b in &scene.boxes {
        let c = yuv(b.color);
        let p = |x: f64, y: f64| canvas.to_px(Point { x, y });
        let (tl, br) = (p(b.x1, b.y1), p(b.x2, b.y2));
        let (tr, bl) = ((br.0, tl.1), (tl.0, br.1));
        for (a, z) in [(tl, tr), (tr, br), (br, bl), (bl, tl)] {
            canvas.segment(a, z, c);
        }
        canvas.text(tl.0, (tl.1 - 9 * SCALE - 2).max(0), &b.label);
    }
    for (i, line) in scene.counters.iter().enumerate() {
        canvas.text(8, 8 + i as i64 * 10 * SCALE, line);
    }
}

/// The 5x7 glyph of `c` (rows top to bottom, bit 4 the leftmost pixel).
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        ' ' => [0; 7],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey `w`x`h` I420 frame.
    fn frame(w: usize, h: usize) -> (Vec<u8>, [usize; 3], [usize; 3]) {
        let (cw, ch) = (w / 2, h / 2);
        let data = vec![128u8; w * h + 2 * cw * ch];
        (data, [0, w * h, w * h + cw * ch], [w, cw, cw])
    }

    fn pt(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    #[test]
    fn colours_convert_to_bt601() {
        let cases = [
            ([0.0, 0.0, 0.0, 1.0], [16.0, 128.0, 128.0]),
            ([1.0, 1.0, 1.0, 1.0], [235.0, 128.0, 128.0]),
            ([1.0, 0.0, 0.0, 1.0], [81.5, 90.2, 240.0]),
        ];
        for (rgb, want) in cases {
            let got = yuv(rgb);
            for i in 0..3 {
                assert!((got[i] - want[i]).abs() < 0.5, "{rgb:?}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn an_area_is_outlined_in_its_colour_and_tinted_inside_only() {
        let (mut data, offsets, strides) = frame(100, 80);
        let mut canvas = Canvas { data: &mut data, width: 100, height: 80, offsets, strides };
        let green = [0.0, 1.0, 0.0, 1.0];
        let scene = Scene {
            areas: vec![Shape {
                points: vec![pt(0.5, 0.5), pt(0.9, 0.5), pt(0.9, 0.9), pt(0.5, 0.9)],
                color: green,
                name: String::new(),
            }],
            ..Scene::default()
        };
        draw(&mut canvas, &scene);
        let y = |x: usize, y: usize| data[y * 100 + x];
        let g = yuv(green)[0].round() as u8;
        assert_eq!(y(50, 60), g, "on the outline");
        assert_eq!(y(89, 70), g, "on the outline");
        let inside = y(70, 65);
        assert!(inside != 128 && inside != g, "tinted inside: {inside}");
        assert_eq!(y(20, 20), 128, "outside untouched");
        assert_eq!(y(70, 30), 128, "outside untouched");
    }

    #[test]
    fn boxes_lines_and_counters_draw_within_the_frame() {
        let (mut data, offsets, strides) = frame(64, 48);
        let before = data.clone();
        let mut canvas = Canvas { data: &mut data, width: 64, height: 48, offsets, strides };
        let scene = Scene {
            boxes: vec![Labelled {
                x1: 0.9,
                y1: 0.0,
                x2: 1.2,
                y2: 0.5,
                color: [1.0, 1.0, 0.0, 1.0],
                label: "PERSON #1".into(),
            }],
            lines: vec![Shape {
                points: vec![pt(0.0, 1.0), pt(1.0, 0.0)],
                color: [0.0, 0.0, 1.0, 1.0],
                name: "door".into(),
            }],
            counters: vec!["DOOR: 3".into()],
            ..Scene::default()
        };
        draw(&mut canvas, &scene);
        assert_ne!(data, before);
        assert_eq!(data.len(), before.len());
    }
}
