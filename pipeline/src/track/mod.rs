//! A ByteTrack-style multi-object tracker: it turns each frame's
//! [`Detection`]s into [`Track`]s with stable ids.
//!
//! Pure: no I/O, no threads, no clock. The caller passes each processed
//! frame's time in milliseconds to [`Tracker::update`].
//!
//! # One update
//!
//! 1. Every track's Kalman filter (`kalman`) is predicted to the frame's time.
//! 2. Detections are split by score: *high* (>= `high_thresh`) and *low*
//!    (`low_thresh` to `high_thresh`); lower ones are ignored.
//! 3. Association, each pass greedy by IoU between predicted track boxes and
//!    detections (all pairs above the pass's minimum IoU, best IoU first,
//!    each track and detection used once; greedy rather than Hungarian
//!    because with IoU gating conflicts are rare and the best-overlap-first
//!    order is what Hungarian would pick in nearly all of them):
//!    - first, high detections to confirmed tracks (coasting ones included);
//!    - second (ByteTrack's idea), low detections to the confirmed tracks
//!      still unmatched, at a stricter IoU: a dim, blurred or half-hidden
//!      object keeps its track, yet a low score never starts one;
//!    - third, the high detections left to tentative tracks.
//!
//!    A pair must be of the same kind: the same RT class (a car box may
//!    continue a truck track, a person box never a car track), or for
//!    [`ObjectClass::Unknown`] the same COCO class.
//! 4. Lifecycle: a matched track is corrected by its detection. A high
//!    detection left over starts a *tentative* track; a track becomes
//!    *confirmed* once it has been matched `min_hits` times (its first
//!    detection counts), which for a tentative track means in consecutive
//!    frames, because a tentative track missed once is dropped. A confirmed
//!    track that is missed coasts on its prediction for up to `max_lost_ms`,
//!    then is removed; so is one whose predicted box has left the image.
//! 5. Ids are a counter: never reused, even after removal.
//!
//! A track's label is that of the class with the highest total score among
//! its detections, so a car seen once as a truck stays a car.

mod kalman;

use crate::detect::{Detection, Rect};
use crate::securt::ObjectClass;
use kalman::BoxFilter;

/// The tracker's tunables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerOptions {
    /// Detections scoring at least this are *high*: they are matched first
    /// and may start tracks. Default 0.35, the `Medium` detection threshold
    /// ([`crate::detect::confidence_threshold`]); set it to the instance's
    /// threshold.
    pub high_thresh: f32,
    /// Detections scoring at least this (and below `high_thresh`) only keep
    /// confirmed tracks alive. Default 0.1, ByteTrack's. The detector must
    /// be decoded down to this score for the second pass to see anything.
    pub low_thresh: f32,
    /// Minimum IoU between a predicted track box and a high detection.
    /// Default 0.2: ByteTrack's match threshold (cost `1 - IoU` <= 0.8).
    pub min_iou: f32,
    /// Minimum IoU for the second (low-score) pass. Default 0.5, ByteTrack's
    /// second-pass threshold: low boxes are less reliable, so they must sit
    /// well on the prediction.
    pub min_iou_low: f32,
    /// Matches needed to confirm a track, its first detection included.
    /// Default 3: a false positive rarely survives three frames in a row,
    /// and at 10-30 fps a real object is confirmed within 0.1-0.3 s. 0 and
    /// 1 confirm at once.
    pub min_hits: u32,
    /// How long a confirmed track is kept without a match, coasting on its
    /// prediction. Default 1000 ms: bridges short occlusions (a person
    /// passing behind a pole or another person) and detector misses, yet a
    /// constant-velocity prediction is still close after a second, and a
    /// track that truly left does not linger. (ByteTrack keeps 30 frames.)
    pub max_lost_ms: i64,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            high_thresh: 0.35,
            low_thresh: 0.1,
            min_iou: 0.2,
            min_iou_low: 0.5,
            min_hits: 3,
            max_lost_ms: 1000,
        }
    }
}

/// Velocity of a box centre, normalised image units per second (x right,
/// y down).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity {
    pub x: f32,
    pub y: f32,
}

/// One live track after an update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Track {
    /// The stable `tracking_id`: assigned at creation, never reused.
    pub id: u64,
    /// The filtered box (the prediction while lost), normalised 0..1 of the
    /// source image and clamped to it.
    pub rect: Rect,
    /// COCO class id of the track's label.
    pub class_id: usize,
    pub class: ObjectClass,
    pub label: &'static str,
    /// Score of the last matched detection.
    pub score: f32,
    /// Tentative tracks are `false`; they should not raise events.
    pub confirmed: bool,
    /// Frames matched so far (consecutive while tentative).
    pub hits: u32,
    /// Time since the track's first detection.
    pub age_ms: i64,
    /// Time since the last match; 0 when matched in this update.
    pub lost_ms: i64,
    pub velocity: Velocity,
}

/// The tracker's state: live tracks and the id counter.
#[derive(Debug, Clone)]
pub struct Tracker {
    options: TrackerOptions,
    next_id: u64,
    last_time_ms: Option<i64>,
    tracks: Vec<TrackState>,
}

/// Accumulated score of one class among a track's detections.
#[derive(Debug, Clone, Copy)]
struct ClassVote {
    class_id: usize,
    label: &'static str,
    class: ObjectClass,
    weight: f32,
}

#[derive(Debug, Clone)]
struct TrackState {
    id: u64,
    filter: BoxFilter,
    votes: Vec<ClassVote>,
    /// The class with the highest weight in `votes`.
    label: ClassVote,
    score: f32,
    confirmed: bool,
    hits: u32,
    first_ms: i64,
    last_matched_ms: i64,
}

impl TrackState {
    fn same_kind(&self, d: &Detection) -> bool {
        let c = self.label.class;
        if c == ObjectClass::Unknown || d.class == ObjectClass::Unknown {
            self.label.class_id == d.class_id
        } else {
            c == d.class
        }
    }

    fn vote(&mut self, d: &Detection) {
        match self.votes.iter_mut().find(|v| v.class_id == d.class_id) {
            Some(v) => v.weight += d.score,
            None => self.votes.push(ClassVote {
                class_id: d.class_id,
                label: d.label,
                class: d.class,
                weight: d.score,
            }),
        }
        if let Some(best) = self.votes.iter().max_by(|a, b| a.weight.total_cmp(&b.weight)) {
            self.label = *best;
        }
    }
}

impl Tracker {
    pub fn new(options: TrackerOptions) -> Self {
        Tracker { options, next_id: 1, last_time_ms: None, tracks: Vec::new() }
    }

    pub fn options(&self) -> &TrackerOptions {
        &self.options
    }

    /// Changes the tunables (e.g. `high_thresh` after a sensitivity
    /// change); live tracks are kept.
    pub fn set_options(&mut self, options: TrackerOptions) {
        self.options = options;
    }

    /// Feeds one processed frame, taken at `time_ms`, and returns every live
    /// track (confirmed and tentative), by id. Times are taken as
    /// non-decreasing: an earlier time than the last counts as the last.
    pub fn update(&mut self, time_ms: i64, detections: &[Detection]) -> Vec<Track> {
        let now = self.last_time_ms.map_or(time_ms, |last| time_ms.max(last));
        let dt_s = self.last_time_ms.map_or(0.0, |last| (now - last) as f64 / 1000.0);
        self.last_time_ms = Some(now);
        for t in &mut self.tracks {
            t.filter.predict(dt_s);
        }
        let opts = self.options;
        let predicted: Vec<Rect> = self.tracks.iter().map(|t| t.filter.rect()).collect();

        let usable = |d: &Detection| d.rect.is_valid() && d.score.is_finite();
        let (mut high, mut low) = (Vec::new(), Vec::new());
        for (i, d) in detections.iter().enumerate() {
            if !usable(d) {
                continue;
            }
            if d.score >= opts.high_thresh {
                high.push(i);
            } else if d.score >= opts.low_thresh {
                low.push(i);
            }
        }
        let confirmed: Vec<usize> =
            (0..self.tracks.len()).filter(|&t| self.tracks[t].confirmed).collect();
        let tentative: Vec<usize> =
            (0..self.tracks.len()).filter(|&t| !self.tracks[t].confirmed).collect();

        let mut m =
            Matching { det_of: vec![None; self.tracks.len()], used: vec![false; detections.len()] };
        m.greedy(&self.tracks, &predicted, &confirmed, detections, &high, opts.min_iou);
        m.greedy(&self.tracks, &predicted, &confirmed, detections, &low, opts.min_iou_low);
        m.greedy(&self.tracks, &predicted, &tentative, detections, &high, opts.min_iou);

        // Correct the matched tracks, drop the lapsed ones.
        let mut index = 0;
        self.tracks.retain_mut(|t| {
            let det = m.det_of[index];
            index += 1;
            if let Some(d) = det {
                let d = &detections[d];
                t.filter.update(&d.rect);
                t.vote(d);
                t.score = d.score;
                t.hits += 1;
                t.last_matched_ms = now;
                t.confirmed |= t.hits >= opts.min_hits;
                true
            } else {
                t.confirmed
                    && now - t.last_matched_ms <= opts.max_lost_ms
                    && t.filter.rect().clamp(1.0, 1.0).area() > 0.0
            }
        });

        // New tentative tracks from the high detections left.
        for &i in &high {
            if m.used[i] {
                continue;
            }
            let d = &detections[i];
            let label =
                ClassVote { class_id: d.class_id, label: d.label, class: d.class, weight: d.score };
            self.tracks.push(TrackState {
                id: self.next_id,
                filter: BoxFilter::new(&d.rect),
                votes: vec![label],
                label,
                score: d.score,
                confirmed: opts.min_hits <= 1,
                hits: 1,
                first_ms: now,
                last_matched_ms: now,
            });
            self.next_id += 1;
        }

        self.tracks
            .iter()
            .map(|t| Track {
                id: t.id,
                rect: t.filter.rect().clamp(1.0, 1.0),
                class_id: t.label.class_id,
                class: t.label.class,
                label: t.label.label,
                score: t.score,
                confirmed: t.confirmed,
                hits: t.hits,
                age_ms: now - t.first_ms,
                lost_ms: now - t.last_matched_ms,
                velocity: t.filter.velocity(),
            })
            .collect()
    }
}

/// The assignment being built over the passes of one update.
struct Matching {
    /// Per track (by index): the detection matched to it.
    det_of: Vec<Option<usize>>,
    /// Per detection: already matched.
    used: Vec<bool>,
}

/// A candidate (track, detection) pair of one pass.
struct Pair {
    track: usize,
    det: usize,
    iou: f32,
}

impl Matching {
    /// Greedy IoU matching of the still free `track_ids` and `det_ids`:
    /// pairs of the same kind with IoU >= `min_iou` (and > 0), best IoU
    /// first (ties by track, then detection index, for determinism).
    fn greedy(
        &mut self,
        tracks: &[TrackState],
        predicted: &[Rect],
        track_ids: &[usize],
        detections: &[Detection],
        det_ids: &[usize],
        min_iou: f32,
    ) {
        let mut pairs = Vec::new();
        for &t in track_ids.iter().filter(|&&t| self.det_of[t].is_none()) {
            for &d in det_ids.iter().filter(|&&d| !self.used[d]) {
                if !tracks[t].same_kind(&detections[d]) {
                    continue;
                }
                let iou = predicted[t].iou(&detections[d].rect);
                if iou > 0.0 && iou >= min_iou {
                    pairs.push(Pair { track: t, det: d, iou });
                }
            }
        }
        pairs.sort_by(|a, b| {
            b.iou.total_cmp(&a.iou).then(a.track.cmp(&b.track)).then(a.det.cmp(&b.det))
        });
        for p in pairs {
            if self.det_of[p.track].is_none() && !self.used[p.det] {
                self.det_of[p.track] = Some(p.det);
                self.used[p.det] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests;
