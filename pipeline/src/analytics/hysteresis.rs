//! Debouncing of per-frame observations: [`Debounced`] accepts a new value
//! (inside/outside, side of a line, ...) only after it held for `inertia`
//! consecutive observations, and [`Stillness`] measures how long a point has
//! stayed put. Both are pure state machines driven by the caller's clock.

use super::geometry::distance;
use crate::securt::Point;

/// A value that changes only after the new value was observed in `inertia`
/// consecutive updates. A value that flickers never changes it.
#[derive(Debug, Clone)]
pub(crate) struct Debounced<T> {
    /// The accepted value; `None` until the first value held.
    stable: Option<T>,
    /// When the accepted value was first observed (its onset, not the time
    /// it was accepted).
    since_ms: i64,
    pending: Option<Pending<T>>,
}

#[derive(Debug, Clone, Copy)]
struct Pending<T> {
    value: T,
    frames: u32,
    onset_ms: i64,
}

/// An accepted change: `from` is `None` for the first accepted value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Change<T> {
    pub from: Option<T>,
    pub to: T,
    /// When the new value was first observed.
    pub onset_ms: i64,
}

impl<T: Copy + PartialEq> Debounced<T> {
    pub fn new() -> Self {
        Debounced { stable: None, since_ms: 0, pending: None }
    }

    pub fn stable(&self) -> Option<T> {
        self.stable
    }

    /// The onset of the accepted value.
    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    /// True when the last observation agreed with the accepted value.
    pub fn settled(&self) -> bool {
        self.pending.is_none()
    }

    /// Whether `value` is the value waiting to be accepted.
    pub fn is_pending(&self, value: T) -> bool {
        self.pending.is_some_and(|p| p.value == value)
    }

    /// Feeds one observation; returns the change it completes, if any.
    /// `inertia` below 1 is treated as 1 (every observation is accepted).
    pub fn update(&mut self, value: T, now_ms: i64, inertia: u32) -> Option<Change<T>> {
        if self.stable == Some(value) {
            self.pending = None;
            return None;
        }
        let pending = match self.pending {
            Some(p) if p.value == value => Pending { frames: p.frames + 1, ..p },
            _ => Pending { value, frames: 1, onset_ms: now_ms },
        };
        if pending.frames < inertia.max(1) {
            self.pending = Some(pending);
            return None;
        }
        let from = self.stable.replace(value);
        self.since_ms = pending.onset_ms;
        self.pending = None;
        Some(Change { from, to: value, onset_ms: pending.onset_ms })
    }
}

/// How long a point has stayed within `radius` of where it settled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stillness {
    reference: Point,
    since_ms: i64,
}

impl Stillness {
    pub fn new(at: Point, now_ms: i64) -> Self {
        Stillness { reference: at, since_ms: now_ms }
    }

    /// Feeds a position; returns true when it moved more than `radius` from
    /// the reference, which then restarts at the new position.
    pub fn update(&mut self, at: Point, now_ms: i64, radius: f64) -> bool {
        if distance(at, self.reference) > radius {
            *self = Stillness::new(at, now_ms);
            return true;
        }
        false
    }

    /// How long it has stayed put, as of `now_ms`.
    pub fn still_for(&self, now_ms: i64) -> i64 {
        now_ms - self.since_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_accepted_after_inertia_consecutive_observations() {
        // (observations, expected accepted value after each, with its onset)
        type Case = (&'static str, Vec<bool>, Vec<Option<(Option<bool>, bool, i64)>>);
        let cases: Vec<Case> = vec![
            (
                "first value needs inertia too",
                vec![true, true, true, true],
                vec![None, None, Some((None, true, 0)), None],
            ),
            (
                "flicker never changes it",
                vec![false, false, false, true, false, true, true, false, true],
                vec![None, None, Some((None, false, 0)), None, None, None, None, None, None],
            ),
            (
                "a held change is accepted with its onset",
                vec![false, false, false, true, true, true],
                vec![None, None, Some((None, false, 0)), None, None, Some((Some(false), true, 3))],
            ),
        ];
        for (name, obs, want) in cases {
            let mut d = Debounced::new();
            let got: Vec<_> = obs
                .iter()
                .enumerate()
                .map(|(i, &v)| d.update(v, i as i64, 3).map(|c| (c.from, c.to, c.onset_ms)))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn stillness_restarts_when_the_point_moves() {
        let mut s = Stillness::new(Point { x: 0.5, y: 0.5 }, 0);
        assert!(!s.update(Point { x: 0.505, y: 0.5 }, 100, 0.01));
        assert_eq!(s.still_for(100), 100);
        assert!(s.update(Point { x: 0.52, y: 0.5 }, 200, 0.01));
        assert_eq!(s.still_for(300), 100);
    }
}
