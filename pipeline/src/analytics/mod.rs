//! The SecuRT rule engine: turns tracked objects, frame by frame, into the
//! analytics events of areas and lines (`event-intrusion`,
//! `event-line-crossing`, ...), with the semantics of
//! `shared/reference/analytics-semantics.md`.
//!
//! It is pure: no I/O, no threads, no wall clock. The caller (the pipeline)
//! feeds [`RuleEngine::process`] the tracker's output for each processed
//! frame with that frame's time in milliseconds, and forwards the returned
//! [`AnalyticsEvent`]s to its sinks; tests drive it on a simulated clock.
//!
//! # Semantics in brief
//!
//! - The point tested is the bottom-centre of the box ([`BBox::anchor`]).
//! - Only confirmed tracks count. A track whose anchor is outside a non-empty
//!   motion area, or inside an exclusion area, is not seen at all that frame.
//! - Every per-object state (inside an area, side of a line, lying down) and
//!   the crowding condition change only after the new state held for
//!   [`EngineOptions::inertia_frames`] consecutive observations, so a box
//!   flickering across a boundary changes nothing. Durations are measured
//!   between the *onsets* of states (the first frame of each), so that
//!   inertia delays the events but does not bias their durations.
//! - A track unseen (by a rule) for [`EngineOptions::lost_timeout_ms`] is
//!   gone: its open events end, with the time it was last seen as their end.
//! - Rules are replaced with [`RuleEngine::set_config`]: unchanged rules keep
//!   their state, changed ones restart, deleted ones end their open events.
//!
//! # Layout
//!
//! - `geometry`: boxes, anchor, point in polygon, sides and segments.
//! - `hysteresis`: debouncing and stillness.
//! - `engine`: [`RuleEngine`]: the global track table, filters, rule set.
//! - `areas`, `lines`: the rules of each area and line type.
//! - `rule`: what every rule shares (the frame it sees, event building).

mod areas;
mod engine;
mod geometry;
mod hysteresis;
mod lines;
mod rule;
#[cfg(test)]
mod tests;

use uuid::Uuid;

pub use areas::inactive_reason;
pub use engine::RuleEngine;
pub use geometry::BBox;

use crate::securt::{AreaKind, LineKind, ObjectClass};
use crate::settings::Sensitivity;

/// One tracked object in one processed frame (from the tracker).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackObservation {
    pub tracking_id: u64,
    /// RT class.
    pub class: ObjectClass,
    /// Detector label, e.g. COCO `person`, `backpack`, `suitcase`.
    pub label: String,
    /// Normalised 0..1, origin top-left.
    pub bbox: BBox,
    /// Tentative tracks never trigger anything.
    pub confirmed: bool,
    pub confidence: f32,
}

/// Tunables of the rule engine. Every default is chosen for a typical
/// fixed security camera at 5-30 processed frames per second.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Consecutive observations a new state must hold before it counts.
    /// Default 3: one or two odd frames (a detector miss, a box jumping
    /// across a line) are common; three in a row are rare, and at 10 fps
    /// this delays events by only 0.2 s.
    pub inertia_frames: u32,
    /// A track unseen this long is gone and its open events end. Default
    /// 2000 ms: long enough to bridge a short occlusion (a person behind a
    /// pole), short enough that an alarm does not outlive its object.
    pub lost_timeout_ms: i64,
    /// One track is counted at most once per direction of a line within
    /// this time. Default 2000 ms: two crossings in the same direction need
    /// one in the other direction between them, and a person who does that
    /// within 2 s is dithering on the line, not passing twice.
    pub line_cooldown_ms: i64,
    /// Width / height of the frame in pixels, to judge box shapes (boxes are
    /// normalised, so a square box is not square on a 16:9 image). Default
    /// 16/9, the shape of nearly every camera; set the real one with
    /// [`RuleEngine::set_frame_size`].
    pub frame_aspect: f64,
    /// A person box whose width / height (in pixels) is at least this is
    /// lying. Default 1.2: standing people are about 0.3-0.5 and sitting or
    /// crouching ones up to about 1.0; a person lying seen from a raised
    /// camera is at least 1.3 unless strongly foreshortened.
    pub fallen_ratio: f64,
    /// A lying person stands again when the ratio drops below this. Default
    /// 1.0 (below [`Self::fallen_ratio`]): a band, so a ratio hovering at the
    /// threshold does not toggle the state.
    pub standing_ratio: f64,
    /// How long a person must stay lying before `event-fallen-person`.
    /// Default 3000 ms: longer than a stumble or bending down to pick
    /// something up, short enough to call for help quickly.
    pub fallen_min_ms: i64,
    /// An object whose anchor stays within this distance (normalised units)
    /// of where it settled is stationary. Default 0.02 (about 38 px on a
    /// 1080p frame): above the jitter of a still object's box, below how far
    /// a bag moves within a second of being carried.
    pub stationary_radius: f64,
    /// An object must stay stationary inside an `object_removed` area this
    /// long before it is guarded. Default 5000 ms: a bag carried through or
    /// a car stopping briefly does not become "an object that was there".
    pub guard_min_ms: i64,
    /// A track is still "the same object at the same place" for
    /// `object_removed` when its box overlaps the guarded box by at least this
    /// IoU. Default 0.5, the usual "same object" match of detection metrics.
    pub same_place_iou: f64,
    /// Detector labels `object_left` watches. Default COCO `backpack`,
    /// `handbag`, `suitcase` (the semantics page).
    pub left_object_labels: Vec<String>,
    /// A person is near an object when their anchors are at most this many
    /// times the person's box height apart. Default 1.0: about one body
    /// length, which scales with the distance from the camera.
    pub owner_distance: f64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            inertia_frames: 3,
            lost_timeout_ms: 2000,
            line_cooldown_ms: 2000,
            frame_aspect: 16.0 / 9.0,
            fallen_ratio: 1.2,
            standing_ratio: 1.0,
            fallen_min_ms: 3000,
            stationary_radius: 0.02,
            guard_min_ms: 5000,
            same_place_iou: 0.5,
            left_object_labels: ["backpack", "handbag", "suitcase"].map(String::from).to_vec(),
            owner_distance: 1.0,
        }
    }
}

/// How far (normalised units) an object's anchor must get from where it was
/// first seen to count as having moved, for `SmartDetection` and
/// `ignoreStationaryObjects`. High sensitivity reacts to smaller movement:
/// High 0.01 (about 19 px at 1080p, above a still box's jitter), Medium 0.02,
/// Low 0.04 (for scenes with swaying vegetation or a shaking camera).
pub fn movement_threshold(sensitivity: Sensitivity) -> f64 {
    match sensitivity {
        Sensitivity::High => 0.01,
        Sensitivity::Medium => 0.02,
        Sensitivity::Low => 0.04,
    }
}

/// The direction of a line crossing; see [`crate::securt::Direction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrossingDirection {
    Up,
    Down,
}

/// The SSE event names the engine emits: RT's own where CVEDIA's SDK shows
/// them (`shared/reference/rt-events.md` §1), ours for rules and ends RT
/// does not have.
pub mod event_names {
    pub const INTRUSION: &str = "event-intrusion";
    pub const INTRUSION_END: &str = "event-intrusion-end";
    pub const AREA_ENTER: &str = "event-area-enter";
    pub const AREA_EXIT: &str = "event-area-exit";
    pub const LOITERING: &str = "event-loitering";
    pub const LOITERING_END: &str = "event-loitering-end";
    /// RT's crowding event.
    pub const CROWD: &str = "event-crowd-detection";
    /// Ours: RT's crowding event has no end.
    pub const CROWD_END: &str = "event-crowd-detection-end";
    pub const OCCUPANCY: &str = "event-occupancy";
    pub const DWELLING: &str = "event-dwelling";
    /// RT's one event for object left and object removed areas (one model
    /// serves both); the `area_id` tells which area fired.
    pub const OBJECT_LEFT: &str = "event-object-left-removed";
    /// Ours: RT's event has no end.
    pub const OBJECT_LEFT_END: &str = "event-object-left-removed-end";
    pub const OBJECT_REMOVED: &str = OBJECT_LEFT;
    pub const OBJECT_REMOVED_END: &str = OBJECT_LEFT_END;
    pub const FALLEN_PERSON: &str = "event-fallen-person";
    pub const FALLEN_PERSON_END: &str = "event-fallen-person-end";
    pub const LINE_CROSSING: &str = "event-line-crossing";
    pub const LINE_COUNTING: &str = "event-line-counting";
    pub const TAILGATING: &str = "event-tailgating";
}

/// One analytics event. Fields that do not apply to its type are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsEvent {
    /// One of [`event_names`].
    pub event_type: &'static str,
    /// An `-end` event repeats its start event's id.
    pub event_id: Uuid,
    /// The time of the frame that decided the event.
    pub time_ms: i64,
    /// The area's or line's id and name (an area and a line may share an
    /// id: `is_line` tells them apart).
    pub rule_id: String,
    pub rule_name: String,
    pub is_line: bool,
    pub tracking_id: Option<u64>,
    /// Tailgating: the track that crossed first. The end of an object
    /// removed event: the track of the returned object (often a new one).
    pub ref_tracking_id: Option<u64>,
    pub object_class: Option<ObjectClass>,
    pub location: Option<BBox>,
    pub direction: Option<CrossingDirection>,
    /// `-end` events: how long the event lasted; `event-dwelling`: how long
    /// the object stayed.
    pub event_duration_ms: Option<i64>,
    /// Loitering: how long the object has been inside.
    pub loiter_duration_ms: Option<i64>,
    /// Crowding and occupancy: objects inside.
    pub count: Option<i64>,
    /// Counting lines: the totals after this crossing.
    pub totals: Option<LineTotals>,
}

/// Crossings of a counting line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTotals {
    pub up: u64,
    pub down: u64,
    /// Per class, in [`ObjectClass`] order, only classes seen crossing.
    pub by_class: Vec<ClassTotals>,
}

/// Crossings of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassTotals {
    pub class: ObjectClass,
    pub up: u64,
    pub down: u64,
}

/// The type of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Area(AreaKind),
    Line(LineKind),
}

/// Counters of one rule, for `GET /v1/securt/instance/{id}/stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStats {
    pub id: String,
    pub name: String,
    pub kind: RuleKind,
    /// False for types that need a model we do not ship.
    pub active: bool,
    pub inactive_reason: Option<&'static str>,
    /// Start (and instantaneous) events since the rule was (re)started.
    pub event_count: u64,
    /// Active areas: objects currently inside (for fallen person: lying
    /// inside), as the rule sees them (its classes, debounced).
    pub current_count: Option<u64>,
    /// Counting lines.
    pub totals: Option<LineTotals>,
}
