//! The tracker's motion model: a constant-velocity Kalman filter over a
//! box's centre and size `(cx, cy, w, h)`, predicted by elapsed time.
//!
//! The textbook form is one 8-dimensional state (the four values and their
//! velocities) with 8x8 covariances, as in SORT/ByteTrack. Here the
//! transition, the process noise, the measurement noise and the initial
//! covariance are all separable per value (each value moves with its own
//! velocity; every noise matrix is diagonal), so the 8x8 covariance stays
//! block-diagonal: the filter is *exactly* four independent filters over
//! `(value, velocity)` with 2x2 covariances, which is what this module
//! computes, by hand, in `f64`.
//!
//! Noise levels are ByteTrack's (relative to the box size: `1/20` for
//! positions, `1/160` for velocities, per frame at the 30 fps they were
//! tuned at), converted to per-second terms so that a frame interval of any
//! length predicts correctly. Horizontal values (`cx`, `w`) scale with the
//! box width and vertical ones (`cy`, `h`) with its height, since the
//! coordinates are normalised per axis.

use super::Velocity;
use crate::detect::Rect;

/// Measurement noise std, relative to the box size (ByteTrack's
/// `std_weight_position`).
const MEASUREMENT_STD: f64 = 1.0 / 20.0;
/// Initial position std, relative to the box size (ByteTrack: 2 x 1/20).
const INITIAL_POSITION_STD: f64 = 2.0 / 20.0;
/// Initial velocity std, box sizes per second (ByteTrack: 10 x 1/160 per
/// frame = 1.875 per second at 30 fps).
const INITIAL_VELOCITY_STD: f64 = 10.0 / 160.0 * 30.0;
/// Process noise variance added to a position per second, in box sizes
/// squared (ByteTrack's (1/20)^2 per frame, 30 frames).
const POSITION_NOISE_PER_S: f64 = 30.0 / 400.0;
/// Process noise variance added to a velocity (box sizes per second) per
/// second: ByteTrack's per-frame velocity std 1/160 box per frame, i.e.
/// 30/160 box per second, accumulated over 30 frames.
const VELOCITY_NOISE_PER_S: f64 = 30.0 * (30.0 / 160.0) * (30.0 / 160.0);
/// Sizes are kept at least this large (normalised) so that noise levels
/// and the box never collapse.
const MIN_SIZE: f64 = 1e-4;

/// One value and its velocity (units per second), with their covariance
/// `[[pp, pv], [pv, vv]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    value: f64,
    velocity: f64,
    pp: f64,
    pv: f64,
    vv: f64,
}

impl Axis {
    fn new(value: f64, size: f64) -> Self {
        Axis {
            value,
            velocity: 0.0,
            pp: (INITIAL_POSITION_STD * size).powi(2),
            pv: 0.0,
            vv: (INITIAL_VELOCITY_STD * size).powi(2),
        }
    }

    /// x' = F x, P' = F P F^T + Q with F = [[1, dt], [0, 1]].
    fn predict(&mut self, dt: f64, size: f64) {
        let s2 = size * size;
        self.value += self.velocity * dt;
        self.pp += 2.0 * dt * self.pv + dt * dt * self.vv + POSITION_NOISE_PER_S * s2 * dt;
        self.pv += dt * self.vv;
        self.vv += VELOCITY_NOISE_PER_S * s2 * dt;
    }

    /// The standard update with H = [1, 0] and measurement variance `r`.
    fn update(&mut self, measured: f64, r: f64) {
        let s = self.pp + r;
        if s <= 0.0 {
            return;
        }
        let (k0, k1) = (self.pp / s, self.pv / s);
        let innovation = measured - self.value;
        self.value += k0 * innovation;
        self.velocity += k1 * innovation;
        // P' = (I - K H) P, written out (P is symmetric).
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = (1.0 - k0) * pp;
        self.pv = (1.0 - k0) * pv;
        self.vv = vv - k1 * pv;
    }
}

/// The filter of one track: `cx`, `cy`, `w`, `h`, normalised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoxFilter {
    cx: Axis,
    cy: Axis,
    w: Axis,
    h: Axis,
}

impl BoxFilter {
    /// A filter at `rect`, at rest, with ByteTrack's initial uncertainty.
    pub(crate) fn new(rect: &Rect) -> Self {
        let (w, h) = size_of(rect);
        BoxFilter {
            cx: Axis::new(f64::from(rect.center_x()), w),
            cy: Axis::new(f64::from(rect.center_y()), h),
            w: Axis::new(w, w),
            h: Axis::new(h, h),
        }
    }

    /// Moves the state `dt_s` seconds ahead (nothing for `dt_s <= 0`).
    pub(crate) fn predict(&mut self, dt_s: f64) {
        if dt_s <= 0.0 {
            return;
        }
        let (w, h) = (self.w.value.max(MIN_SIZE), self.h.value.max(MIN_SIZE));
        self.cx.predict(dt_s, w);
        self.w.predict(dt_s, w);
        self.cy.predict(dt_s, h);
        self.h.predict(dt_s, h);
        self.w.value = self.w.value.max(MIN_SIZE);
        self.h.value = self.h.value.max(MIN_SIZE);
    }

    /// Corrects the state with a measured box.
    pub(crate) fn update(&mut self, rect: &Rect) {
        let (w, h) = size_of(rect);
        let rw = (MEASUREMENT_STD * w).powi(2);
        let rh = (MEASUREMENT_STD * h).powi(2);
        self.cx.update(f64::from(rect.center_x()), rw);
        self.w.update(w, rw);
        self.cy.update(f64::from(rect.center_y()), rh);
        self.h.update(h, rh);
        self.w.value = self.w.value.max(MIN_SIZE);
        self.h.value = self.h.value.max(MIN_SIZE);
    }

    /// The current box (not clamped to the image).
    pub(crate) fn rect(&self) -> Rect {
        Rect::from_center(
            self.cx.value as f32,
            self.cy.value as f32,
            self.w.value as f32,
            self.h.value as f32,
        )
    }

    /// Velocity of the centre, normalised units per second.
    pub(crate) fn velocity(&self) -> Velocity {
        Velocity { x: self.cx.velocity as f32, y: self.cy.velocity as f32 }
    }
}

fn size_of(rect: &Rect) -> (f64, f64) {
    (f64::from(rect.width()).max(MIN_SIZE), f64::from(rect.height()).max(MIN_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_velocity_and_predicts_by_time() {
        // A box moving right at 0.3 per second, seen every 100 ms.
        let at = |t: f32| Rect::from_center(0.2 + 0.3 * t, 0.5, 0.1, 0.2);
        let mut f = BoxFilter::new(&at(0.0));
        for i in 1..=20 {
            f.predict(0.1);
            f.update(&at(i as f32 * 0.1));
        }
        let Velocity { x: vx, y: vy } = f.velocity();
        assert!((vx - 0.3).abs() < 0.02, "vx {vx}");
        assert!(vy.abs() < 0.01, "vy {vy}");
        // Half a second without measurements: the box keeps moving.
        f.predict(0.5);
        let r = f.rect();
        assert!((r.center_x() - at(2.5).center_x()).abs() < 0.01, "{r:?}");
        assert!((r.width() - 0.1).abs() < 1e-3 && (r.height() - 0.2).abs() < 1e-3);
        // No time, no change.
        let before = f.clone();
        f.predict(0.0);
        f.predict(-1.0);
        assert_eq!(f, before);
    }

    #[test]
    fn update_pulls_towards_the_measurement_and_shrinks_uncertainty() {
        let mut a = Axis::new(0.0, 1.0);
        a.predict(0.1, 1.0);
        let before = a.pp;
        a.update(1.0, 0.01);
        assert!(a.value > 0.5 && a.value < 1.0, "{a:?}");
        assert!(a.pp < before);
        assert!(a.velocity > 0.0);
        // Covariance stays positive definite.
        assert!(a.pp > 0.0 && a.vv > 0.0 && a.pp * a.vv > a.pv * a.pv);
    }
}
