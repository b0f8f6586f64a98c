//! [`Rect`]: an axis-aligned box given by its corners, with the measures
//! detection and tracking need (area, centre, IoU, clamping).
//!
//! A `Rect` carries no unit: in a [`Detection`](super::Detection) or a
//! track it is normalised to 0..1 of the source image (origin top-left,
//! y down); in a [`Candidate`](super::Candidate) it is in model-input
//! pixels. IoU does not care: it is invariant under scaling either axis.

/// An axis-aligned box: `(x1, y1)` top-left, `(x2, y2)` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl Rect {
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Rect { x1, y1, x2, y2 }
    }

    /// The box of centre `(cx, cy)` and size `w` x `h`.
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Rect { x1: cx - w / 2.0, y1: cy - h / 2.0, x2: cx + w / 2.0, y2: cy + h / 2.0 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area; 0 for an empty or inverted box.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center_x(&self) -> f32 {
        (self.x1 + self.x2) / 2.0
    }

    pub fn center_y(&self) -> f32 {
        (self.y1 + self.y2) / 2.0
    }

    /// Whether every coordinate is finite and the box has a positive area.
    pub fn is_valid(&self) -> bool {
        [self.x1, self.y1, self.x2, self.y2].iter().all(|v| v.is_finite())
            && self.x2 > self.x1
            && self.y2 > self.y1
    }

    /// Area of the overlap with `other` (0 when they do not overlap).
    pub fn intersection(&self, other: &Rect) -> f32 {
        let w = self.x2.min(other.x2) - self.x1.max(other.x1);
        let h = self.y2.min(other.y2) - self.y1.max(other.y1);
        if w <= 0.0 || h <= 0.0 { 0.0 } else { w * h }
    }

    /// Intersection over union, 0..1 (0 when either box is empty).
    pub fn iou(&self, other: &Rect) -> f32 {
        let inter = self.intersection(other);
        if inter <= 0.0 {
            return 0.0;
        }
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// This box with each coordinate clamped to `0..=max_x` / `0..=max_y`.
    pub fn clamp(&self, max_x: f32, max_y: f32) -> Rect {
        Rect {
            x1: self.x1.clamp(0.0, max_x),
            y1: self.y1.clamp(0.0, max_y),
            x2: self.x2.clamp(0.0, max_x),
            y2: self.y2.clamp(0.0, max_y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        let r = Rect::new(0.1, 0.2, 0.5, 0.6);
        assert!((r.width() - 0.4).abs() < 1e-6);
        assert!((r.area() - 0.16).abs() < 1e-6);
        assert!((r.center_x() - 0.3).abs() < 1e-6);
        assert!((r.center_y() - 0.4).abs() < 1e-6);
        let c = Rect::from_center(0.3, 0.4, 0.4, 0.4);
        assert!((c.x1 - 0.1).abs() < 1e-6 && (c.y2 - 0.6).abs() < 1e-6, "{c:?}");
        assert!(r.is_valid());
        assert!(!Rect::new(0.5, 0.2, 0.5, 0.6).is_valid());
        assert!(!Rect::new(f32::NAN, 0.2, 0.5, 0.6).is_valid());
        assert_eq!(Rect::new(0.6, 0.0, 0.5, 1.0).area(), 0.0);
    }

    #[test]
    fn iou() {
        let a = Rect::new(0.0, 0.0, 2.0, 2.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        // Half overlap: inter 2, union 6.
        let b = Rect::new(1.0, 0.0, 3.0, 2.0);
        assert!((a.iou(&b) - 2.0 / 6.0).abs() < 1e-6);
        assert_eq!(a.iou(&Rect::new(2.0, 0.0, 3.0, 1.0)), 0.0); // touching
        assert_eq!(a.iou(&Rect::new(5.0, 5.0, 6.0, 6.0)), 0.0);
        // Invariant under scaling one axis.
        let sa = Rect::new(0.0, 0.0, 2.0, 4.0);
        let sb = Rect::new(1.0, 0.0, 3.0, 4.0);
        assert!((sa.iou(&sb) - a.iou(&b)).abs() < 1e-6);
    }

    #[test]
    fn clamp() {
        let r = Rect::new(-0.2, 0.5, 1.3, 0.9).clamp(1.0, 1.0);
        assert_eq!(r, Rect::new(0.0, 0.5, 1.0, 0.9));
    }
}
