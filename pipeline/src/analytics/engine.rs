//! [`RuleEngine`]: the engine-wide state (which tracks exist, whether each
//! has moved, the motion and exclusion filters) and the set of rules, with
//! live replacement of that set. The rules themselves are in `areas` and
//! `lines`.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::geometry::{distance, polygon_contains};
use super::rule::{Frame, Rule, Seen};
use super::{AnalyticsEvent, EngineOptions, RuleStats, TrackObservation, areas, lines};
use crate::securt::{AreaRule, Direction, LineRule, ObjectClass, Point, SecurtConfig};
use crate::settings::{DetectorMode, Sensitivity};

/// Turns tracked objects, frame by frame, into analytics events.
#[derive(Debug)]
pub struct RuleEngine {
    options: EngineOptions,
    smart: bool,
    movement_threshold: f64,
    motion_area: Vec<Point>,
    exclusion_areas: Vec<Vec<Point>>,
    rules: Vec<Slot>,
    /// Deleted or changed rules whose open events end on the next frame.
    retired: Vec<Box<dyn Rule>>,
    tracks: BTreeMap<u64, TrackInfo>,
    /// The time of the first processed frame.
    start_ms: Option<i64>,
}

/// What the engine remembers of a track, whatever the rules.
#[derive(Debug)]
struct TrackInfo {
    first_seen_ms: i64,
    last_seen_ms: i64,
    /// Where its anchor was first seen.
    origin: Point,
    moved: bool,
}

#[derive(Debug)]
struct Slot {
    id: String,
    definition: Definition,
    rule: Box<dyn Rule>,
}

/// What makes a rule behave as it does: a rule whose definition is
/// unchanged keeps its state (its name and colour may change).
#[derive(Debug, PartialEq)]
enum Definition {
    Area {
        coordinates: Vec<Point>,
        rule: AreaRule,
    },
    Line {
        coordinates: [Point; 2],
        classes: Vec<ObjectClass>,
        direction: Direction,
        rule: LineRule,
    },
}

impl RuleEngine {
    /// An engine with no rules, in `SmartDetection` mode at medium movement
    /// sensitivity (RT's defaults) until [`RuleEngine::set_config`].
    pub fn new(options: EngineOptions) -> Self {
        RuleEngine {
            options,
            smart: true,
            movement_threshold: super::movement_threshold(Sensitivity::default()),
            motion_area: Vec::new(),
            exclusion_areas: Vec::new(),
            rules: Vec::new(),
            retired: Vec::new(),
            tracks: BTreeMap::new(),
            start_ms: None,
        }
    }

    /// Tells the engine the frame size in pixels, so that box shapes (a
    /// fallen person) are judged in pixels rather than normalised units.
    pub fn set_frame_size(&mut self, width: u32, height: u32) {
        if width > 0 && height > 0 {
            self.options.frame_aspect = f64::from(width) / f64::from(height);
        }
    }

    /// Replaces the rule set (areas, lines, motion area, exclusion areas)
    /// and the detection options. Takes effect on the next
    /// [`RuleEngine::process`] call. Rules whose id and definition are
    /// unchanged keep their state; a changed rule restarts; a deleted rule's
    /// open events end (on the next frame) so no alarm stays open forever.
    pub fn set_config(
        &mut self,
        config: &SecurtConfig,
        detector_mode: DetectorMode,
        movement: Sensitivity,
    ) {
        self.smart = detector_mode == DetectorMode::SmartDetection;
        self.movement_threshold = super::movement_threshold(movement);
        self.motion_area = config.motion_area.clone();
        self.exclusion_areas = config.exclusion_areas.clone();

        let mut old = std::mem::take(&mut self.rules);
        let mut keep_or_build =
            |id: &str, name: &str, definition: Definition, build: &dyn Fn() -> Box<dyn Rule>| {
                match old.iter().position(|s| s.id == id && s.definition == definition) {
                    Some(i) => {
                        let mut slot = old.remove(i);
                        slot.rule.rename(name);
                        slot
                    }
                    None => Slot { id: id.to_string(), definition, rule: build() },
                }
            };
        let mut rules = Vec::new();
        for area in &config.areas {
            let definition =
                Definition::Area { coordinates: area.coordinates.clone(), rule: area.rule.clone() };
            rules.push(keep_or_build(&area.id, &area.name, definition, &|| areas::build(area)));
        }
        for line in &config.lines {
            let definition = Definition::Line {
                coordinates: line.coordinates,
                classes: line.classes.clone(),
                direction: line.direction,
                rule: line.rule.clone(),
            };
            rules.push(keep_or_build(&line.id, &line.name, definition, &|| lines::build(line)));
        }
        self.retired.extend(old.into_iter().map(|s| s.rule));
        self.rules = rules;
    }

    /// Feeds one processed frame at `time_ms`: every track the tracker
    /// currently holds, confirmed or not. A track missing from a frame is
    /// not seen in it; after `lost_timeout_ms` unseen it is gone and its
    /// open events end. Returns the frame's events, in rule order.
    pub fn process(&mut self, time_ms: i64, tracks: &[TrackObservation]) -> Vec<AnalyticsEvent> {
        let start_ms = *self.start_ms.get_or_insert(time_ms);
        let mut sorted: Vec<&TrackObservation> = tracks.iter().collect();
        sorted.sort_by_key(|t| t.tracking_id);

        for t in &sorted {
            let anchor = t.bbox.anchor();
            let info = self.tracks.entry(t.tracking_id).or_insert(TrackInfo {
                first_seen_ms: time_ms,
                last_seen_ms: time_ms,
                origin: anchor,
                moved: false,
            });
            info.last_seen_ms = time_ms;
            info.moved |= distance(anchor, info.origin) > self.movement_threshold;
        }
        let timeout = self.options.lost_timeout_ms;
        self.tracks.retain(|_, t| time_ms - t.last_seen_ms < timeout);

        let seen: Vec<Seen<'_>> = sorted
            .iter()
            .filter(|t| t.confirmed)
            .filter_map(|t| {
                let anchor = t.bbox.anchor();
                let in_motion_area =
                    self.motion_area.is_empty() || polygon_contains(&self.motion_area, anchor);
                let excluded = self.exclusion_areas.iter().any(|a| polygon_contains(a, anchor));
                if !in_motion_area || excluded {
                    return None;
                }
                let info = &self.tracks[&t.tracking_id];
                Some(Seen {
                    obs: t,
                    anchor,
                    moved: info.moved,
                    is_new: info.first_seen_ms > start_ms,
                })
            })
            .collect();

        let mut out = Vec::new();
        for mut rule in self.retired.drain(..) {
            rule.close(time_ms, &mut out);
        }
        let frame =
            Frame { now_ms: time_ms, seen: &seen, smart: self.smart, options: &self.options };
        for slot in &mut self.rules {
            slot.rule.process(&frame, &mut out);
        }
        out
    }

    /// Ends every open event at `time_ms` (the instance stops): returns the
    /// end events, in rule order. The rules keep their counters; a later
    /// frame starts from nothing open.
    pub fn close_all(&mut self, time_ms: i64) -> Vec<AnalyticsEvent> {
        let mut out = Vec::new();
        for mut rule in self.retired.drain(..) {
            rule.close(time_ms, &mut out);
        }
        for slot in &mut self.rules {
            slot.rule.close(time_ms, &mut out);
        }
        out
    }

    /// Per-rule counters, areas first, in configuration order.
    pub fn stats(&self) -> Vec<RuleStats> {
        self.rules.iter().map(|s| s.rule.stats()).collect()
    }

    /// The open events each track takes part in after the last
    /// [`Self::process`], by tracking id, in rule order (group events such
    /// as crowding listed for every object in the group).
    pub fn open_events(&self) -> HashMap<u64, Vec<Uuid>> {
        let mut pairs = Vec::new();
        for slot in &self.rules {
            slot.rule.open_events(&mut pairs);
        }
        let mut by_track: HashMap<u64, Vec<Uuid>> = HashMap::new();
        for (tid, event) in pairs {
            by_track.entry(tid).or_default().push(event);
        }
        by_track
    }
}
