//! Plane geometry of the rule engine, in normalised image coordinates (0..1,
//! origin top-left, y grows downwards): boxes and their anchor point, point in
//! polygon, which side of a line a point is on, and segment intersection.
//!
//! Pure functions only; the rules decide what the answers mean.

use crate::securt::Point;

/// A detection box, normalised 0..1, origin top-left: `(x, y)` is the
/// top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl BBox {
    /// The point every rule tests: the bottom-centre of the box, where a
    /// person stands or a vehicle touches the road.
    pub fn anchor(&self) -> Point {
        Point { x: self.x + self.width / 2.0, y: self.y + self.height }
    }

    /// Intersection over union with `other` (0 when either box is empty).
    pub fn iou(&self, other: &BBox) -> f64 {
        let w = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let h = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        let union = self.width * self.height + other.width * other.height - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// Euclidean distance between two points.
pub(crate) fn distance(a: Point, b: Point) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// Whether `p` is inside the closed polygon `poly` (even-odd rule; a point
/// exactly on an edge may fall either way). Fewer than 3 points: never.
pub(crate) fn polygon_contains(poly: &[Point], p: Point) -> bool {
    if poly.len() < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = poly.len() - 1;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x);
            if p.x < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Which side of the directed line `a -> b` a point is on.
///
/// `Left` is the side on your left as you walk from `a` to `b` on the image
/// as displayed (for a line drawn left to right: the top of the image).
/// Moving onto the `Left` side is an `Up` crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Left,
    Right,
}

/// The z component of `(b - a) x (p - a)`. With y growing downwards a
/// negative value is on the left of the walk from `a` to `b`.
fn cross(a: Point, b: Point, p: Point) -> f64 {
    (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)
}

/// The side of the directed line `a -> b` that `p` lies on; `None` when it
/// lies exactly on the (infinite) line.
pub(crate) fn side_of(a: Point, b: Point, p: Point) -> Option<Side> {
    let c = cross(a, b, p);
    if c < 0.0 {
        Some(Side::Left)
    } else if c > 0.0 {
        Some(Side::Right)
    } else {
        None
    }
}

/// Whether the segments `p1-p2` and `q1-q2` share a point (touching counts).
pub(crate) fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = cross(q1, q2, p1);
    let d2 = cross(q1, q2, p2);
    let d3 = cross(p1, p2, q1);
    let d4 = cross(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |a: Point, b: Point, p: Point| {
        p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
    };
    (d1 == 0.0 && on(q1, q2, p1))
        || (d2 == 0.0 && on(q1, q2, p2))
        || (d3 == 0.0 && on(p1, p2, q1))
        || (d4 == 0.0 && on(p1, p2, q2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    #[test]
    fn anchor_is_the_bottom_centre() {
        let b = BBox { x: 0.2, y: 0.1, width: 0.2, height: 0.5 };
        assert_eq!(b.anchor(), p(0.30000000000000004, 0.6));
    }

    #[test]
    fn iou_of_boxes() {
        let a = BBox { x: 0.0, y: 0.0, width: 0.2, height: 0.2 };
        let cases = [
            (a, 1.0),
            (BBox { x: 0.1, ..a }, 0.02 / 0.06),
            (BBox { x: 0.5, ..a }, 0.0),
            (BBox { width: 0.0, ..a }, 0.0),
        ];
        for (b, want) in cases {
            assert!((a.iou(&b) - want).abs() < 1e-9, "{b:?}: {}", a.iou(&b));
        }
    }

    #[test]
    fn polygon_contains_points() {
        let square = [p(0.2, 0.2), p(0.8, 0.2), p(0.8, 0.8), p(0.2, 0.8)];
        // A concave "U": the notch between its arms is outside.
        let u = [p(0.1, 0.1), p(0.3, 0.1), p(0.3, 0.6), p(0.7, 0.6), p(0.7, 0.1), p(0.9, 0.1)]
            .into_iter()
            .chain([p(0.9, 0.9), p(0.1, 0.9)])
            .collect::<Vec<_>>();
        let cases: [(&[Point], Point, bool); 7] = [
            (&square, p(0.5, 0.5), true),
            (&square, p(0.1, 0.5), false),
            (&square, p(0.5, 0.9), false),
            (&u, p(0.2, 0.3), true),
            (&u, p(0.5, 0.3), false),
            (&u, p(0.5, 0.8), true),
            (&square[..2], p(0.5, 0.2), false),
        ];
        for (poly, pt, want) in cases {
            assert_eq!(polygon_contains(poly, pt), want, "{pt:?}");
        }
    }

    #[test]
    fn left_is_up_whatever_the_drawing_direction() {
        // (a, b, point, expected side): Left means "Up" for that line.
        let cases = [
            // Drawn left to right: the top of the image is Left.
            (p(0.1, 0.5), p(0.9, 0.5), p(0.5, 0.3), Some(Side::Left)),
            (p(0.1, 0.5), p(0.9, 0.5), p(0.5, 0.7), Some(Side::Right)),
            // Drawn right to left: the bottom is Left.
            (p(0.9, 0.5), p(0.1, 0.5), p(0.5, 0.7), Some(Side::Left)),
            // Drawn top to bottom: walking down the image, the right of the
            // image is on your left.
            (p(0.5, 0.1), p(0.5, 0.9), p(0.7, 0.5), Some(Side::Left)),
            // Drawn bottom to top: the left of the image is Left.
            (p(0.5, 0.9), p(0.5, 0.1), p(0.3, 0.5), Some(Side::Left)),
            (p(0.1, 0.1), p(0.9, 0.9), p(0.5, 0.5), None),
        ];
        for (a, b, pt, want) in cases {
            assert_eq!(side_of(a, b, pt), want, "{a:?}->{b:?} {pt:?}");
        }
    }

    #[test]
    fn segment_intersection() {
        let (a, b) = (p(0.2, 0.5), p(0.8, 0.5));
        let cases = [
            (p(0.5, 0.4), p(0.5, 0.6), true),
            (p(0.9, 0.4), p(0.9, 0.6), false), // beyond the end point
            (p(0.1, 0.4), p(0.1, 0.6), false), // beyond the start point
            (p(0.5, 0.4), p(0.5, 0.45), false), // short of the line
            (p(0.8, 0.4), p(0.8, 0.6), true),  // through the end point
            (p(0.5, 0.4), p(0.5, 0.5), true),  // ends on the line
        ];
        for (from, to, want) in cases {
            assert_eq!(segments_intersect(from, to, a, b), want, "{from:?}->{to:?}");
        }
    }
}
