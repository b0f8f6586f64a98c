//! RT's track gating: which `track` updates and `crop`s of a running
//! instance are published.
//!
//! CVEDIA-RT holds a track's updates back and releases them only once an
//! update has a non-empty `events` array (the track takes part in an
//! analytics event), with the track's pending crop; in debug mode everything
//! goes out at once (`shared/reference/rt-events.md` §1, "Track gating").
//! RT clients, and CVEDIA's own tests, count on seeing no `track` or `crop`
//! when no rule fires.
//!
//! Here a held update is dropped as soon as a newer one of the same track
//! arrives (only the newest matters, as RT keeps only the last update when
//! tentative tracks are off), so what is held is each track's crop, until
//! the track's first eventful update carries it out with `ref_event_id` set
//! to the event it illustrates. A crop still held for a track unseen for
//! [`FORGET_AFTER_MS`] is dropped. Pure logic: no clock, no I/O.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A held crop is dropped when its track has not been seen for this long
/// (RT purges a track's history 15 s after it was last seen).
pub const FORGET_AFTER_MS: i64 = 15_000;

/// What to publish: an event name and its payload.
pub type Publish = (&'static str, Map<String, Value>);

/// The gate of one running instance. Tracks are known by the tracker's ids.
#[derive(Debug, Default)]
pub struct TrackGate {
    /// `debugMode`: everything passes at once.
    debug: bool,
    tracks: HashMap<u64, Gated>,
}

#[derive(Debug, Default)]
struct Gated {
    last_seen_ms: i64,
    /// The crop waiting for the track's first eventful update.
    crop: Option<Map<String, Value>>,
    /// The frame time and first event of the last update released.
    released: Option<(i64, Uuid)>,
}

impl TrackGate {
    pub fn new(debug: bool) -> Self {
        TrackGate { debug, tracks: HashMap::new() }
    }

    /// Turns debug mode on or off (the instance's `debugMode`).
    pub fn set_debug(&mut self, debug: bool) {
        self.debug = debug;
    }

    /// A `track` update of track `id` at frame time `now_ms`, taking part in
    /// `events`. Returns what to publish now: the update if it is released,
    /// followed by the track's held crop if there is one.
    pub fn track(
        &mut self,
        id: u64,
        now_ms: i64,
        events: &[Uuid],
        update: Map<String, Value>,
    ) -> Vec<Publish> {
        let gated = self.tracks.entry(id).or_default();
        gated.last_seen_ms = gated.last_seen_ms.max(now_ms);
        if self.debug {
            return vec![("track", update)];
        }
        let Some(&first) = events.first() else {
            // Superseded by the track's next update: nothing is held.
            return Vec::new();
        };
        gated.released = Some((now_ms, first));
        let mut out = vec![("track", update)];
        if let Some(crop) = gated.crop.take() {
            out.push(("crop", with_event(crop, first)));
        }
        out
    }

    /// The crop of track `id`, cut from the frame at `now_ms`. Returns it when
    /// it is published now: in debug mode, or when the track's update of this
    /// very frame was released; otherwise it is held for the track's first
    /// eventful update.
    pub fn crop(
        &mut self,
        id: u64,
        now_ms: i64,
        crop: Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        if self.debug {
            return Some(crop);
        }
        let gated = self.tracks.entry(id).or_default();
        gated.last_seen_ms = gated.last_seen_ms.max(now_ms);
        match gated.released {
            Some((at, event)) if at == now_ms => Some(with_event(crop, event)),
            _ => {
                gated.crop = Some(crop);
                None
            }
        }
    }

    /// Forgets tracks unseen for [`FORGET_AFTER_MS`] before `now_ms`, and
    /// with them their held crops.
    pub fn forget_old(&mut self, now_ms: i64) {
        self.tracks.retain(|_, g| now_ms - g.last_seen_ms < FORGET_AFTER_MS);
    }

    /// How many tracks the gate remembers.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tracks.len()
    }
}

fn with_event(mut crop: Map<String, Value>, event: Uuid) -> Map<String, Value> {
    crop.insert("ref_event_id".into(), json!(event));
    crop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(n: i64) -> Map<String, Value> {
        json!({"n": n}).as_object().unwrap().clone()
    }

    fn crop_payload() -> Map<String, Value> {
        json!({"image": "..."}).as_object().unwrap().clone()
    }

    fn names(out: &[Publish]) -> Vec<&'static str> {
        out.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn updates_without_events_are_not_sent_and_eventful_ones_are() {
        let mut g = TrackGate::new(false);
        let e = Uuid::new_v4();
        assert!(g.track(1, 0, &[], update(0)).is_empty());
        assert!(g.track(1, 100, &[], update(1)).is_empty());
        let out = g.track(1, 200, &[e], update(2));
        assert_eq!(names(&out), ["track"]);
        assert_eq!(out[0].1["n"], 2, "the eventful update itself, not a stale one");
        // After the event, empty updates are held (dropped) again.
        assert!(g.track(1, 300, &[], update(3)).is_empty());
    }

    #[test]
    fn the_crop_waits_for_the_first_eventful_update_and_names_its_event() {
        let mut g = TrackGate::new(false);
        let (e1, e2) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(g.track(1, 0, &[], update(0)).is_empty());
        assert!(g.crop(1, 0, crop_payload()).is_none(), "held");
        assert!(g.track(1, 100, &[], update(1)).is_empty());
        let out = g.track(1, 200, &[e1, e2], update(2));
        assert_eq!(names(&out), ["track", "crop"]);
        assert_eq!(out[1].1["ref_event_id"], json!(e1));
        // Sent once only.
        assert_eq!(names(&g.track(1, 300, &[e1], update(3))), ["track"]);
    }

    #[test]
    fn a_crop_cut_in_the_frame_of_a_released_update_goes_out_at_once() {
        // A crossing is instantaneous: the track's next eventful update may
        // never come, so the crop of that frame must not wait for one.
        let mut g = TrackGate::new(false);
        let e = Uuid::new_v4();
        assert_eq!(names(&g.track(1, 500, &[e], update(5))), ["track"]);
        let crop = g.crop(1, 500, crop_payload()).expect("released with its frame");
        assert_eq!(crop["ref_event_id"], json!(e));
        // A crop of a later frame, with no event in it, is held.
        assert!(g.crop(1, 600, crop_payload()).is_none());
    }

    #[test]
    fn tracks_are_gated_separately() {
        let mut g = TrackGate::new(false);
        let e = Uuid::new_v4();
        assert!(g.crop(1, 0, crop_payload()).is_none());
        assert!(g.crop(2, 0, crop_payload()).is_none());
        assert_eq!(names(&g.track(2, 100, &[e], update(1))), ["track", "crop"]);
        assert!(g.track(1, 100, &[], update(1)).is_empty(), "track 1 took part in nothing");
    }

    #[test]
    fn debug_mode_sends_everything_at_once() {
        let mut g = TrackGate::new(true);
        assert_eq!(names(&g.track(1, 0, &[], update(0))), ["track"]);
        assert!(g.crop(1, 0, crop_payload()).is_some_and(|c| !c.contains_key("ref_event_id")));
        // Turned off: gating again.
        g.set_debug(false);
        assert!(g.track(1, 100, &[], update(1)).is_empty());
    }

    #[test]
    fn held_crops_of_tracks_gone_for_15_s_are_forgotten() {
        let mut g = TrackGate::new(false);
        assert!(g.crop(1, 0, crop_payload()).is_none());
        assert!(g.crop(2, 10_000, crop_payload()).is_none());
        g.forget_old(FORGET_AFTER_MS - 1);
        assert_eq!(g.len(), 2);
        g.forget_old(FORGET_AFTER_MS);
        assert_eq!(g.len(), 1, "track 1 was last seen 15 s ago");
        // Track 1 comes back with an event: its crop is gone with it.
        assert_eq!(names(&g.track(1, FORGET_AFTER_MS, &[Uuid::new_v4()], update(9))), ["track"]);
        g.forget_old(10_000 + FORGET_AFTER_MS + 1);
        assert_eq!(g.len(), 1, "track 2 forgotten, track 1 seen lately");
    }
}
