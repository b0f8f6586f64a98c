//! The area rules: one [`AreaRuleState`] per area, whose behaviour depends on
//! the area's type (intrusion, crossing, loitering, crowding, occupancy,
//! dwelling, object left, object removed, fallen person; crowd estimation,
//! armed person and ALPR are inactive).
//!
//! Every active type follows each eligible track with a debounced
//! per-track condition (its anchor is inside; for fallen person: inside and
//! lying), and reacts to that condition's changes, to time spent in it, to
//! the track being lost, or to the count of tracks in it.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::geometry::{distance, polygon_contains};
use super::hysteresis::{Change, Debounced, Stillness};
use super::rule::{Emitter, Frame, OpenEvent, Rule, RuleRef, Seen};
use super::{AnalyticsEvent, BBox, RuleKind, RuleStats, event_names as ev};
use crate::securt::{Area, AreaEvent, AreaKind, AreaRule, ObjectClass, Point};

/// Builds the rule of `area`.
pub(crate) fn build(area: &Area) -> Box<dyn Rule> {
    let secs = |s: u32| i64::from(s) * 1000;
    let (classes, behaviour) = match &area.rule {
        AreaRule::Intrusion { classes } => (classes.clone(), Behaviour::Intrusion),
        AreaRule::Crossing { classes, ignore_stationary_objects, area_event } => (
            classes.clone(),
            Behaviour::Crossing {
                ignore_stationary: *ignore_stationary_objects,
                area_event: *area_event,
            },
        ),
        AreaRule::Loitering { classes, seconds } => {
            (classes.clone(), Behaviour::Loitering { seconds_ms: secs(*seconds) })
        }
        AreaRule::Crowding { classes, object_count, seconds } => (
            classes.clone(),
            Behaviour::Crowding {
                object_count: *object_count as usize,
                seconds_ms: secs(*seconds),
                crowd: Debounced::new(),
                open: None,
            },
        ),
        AreaRule::Occupancy { classes } => {
            (classes.clone(), Behaviour::Occupancy { last_count: 0 })
        }
        AreaRule::Dwelling { classes, seconds } => {
            (classes.clone(), Behaviour::Dwelling { seconds_ms: secs(*seconds) })
        }
        AreaRule::ObjectLeft { seconds } => {
            (Vec::new(), Behaviour::ObjectLeft { seconds_ms: secs(*seconds) })
        }
        AreaRule::ObjectRemoved { seconds } => {
            (Vec::new(), Behaviour::ObjectRemoved { seconds_ms: secs(*seconds), spots: Vec::new() })
        }
        AreaRule::FallenPerson => (vec![ObjectClass::Person], Behaviour::FallenPerson),
        AreaRule::CrowdEstimation | AreaRule::ArmedPerson | AreaRule::Alpr => (
            Vec::new(),
            Behaviour::Inactive { reason: inactive_reason(&area.rule).unwrap_or_default() },
        ),
    };
    Box::new(AreaRuleState {
        rule: RuleRef { id: area.id.clone(), name: area.name.clone(), is_line: false },
        kind: AreaKind::of(&area.rule),
        polygon: area.coordinates.clone(),
        classes,
        behaviour,
        tracks: BTreeMap::new(),
        event_count: 0,
    })
}

/// One area and the state of its rule.
#[derive(Debug)]
pub(crate) struct AreaRuleState {
    rule: RuleRef,
    kind: AreaKind,
    polygon: Vec<Point>,
    /// For the types with a `classes` filter (fallen person: `Person`).
    classes: Vec<ObjectClass>,
    behaviour: Behaviour,
    tracks: BTreeMap<u64, AreaTrack>,
    event_count: u64,
}

#[derive(Debug)]
enum Behaviour {
    Intrusion,
    Crossing {
        ignore_stationary: bool,
        area_event: AreaEvent,
    },
    Loitering {
        seconds_ms: i64,
    },
    Crowding {
        object_count: usize,
        seconds_ms: i64,
        /// Whether at least `object_count` are inside, debounced.
        crowd: Debounced<bool>,
        open: Option<OpenEvent>,
    },
    Occupancy {
        last_count: usize,
    },
    Dwelling {
        seconds_ms: i64,
    },
    ObjectLeft {
        seconds_ms: i64,
    },
    ObjectRemoved {
        seconds_ms: i64,
        spots: Vec<Spot>,
    },
    FallenPerson,
    Inactive {
        reason: &'static str,
    },
}

impl Behaviour {
    /// The end event of the per-track events of this type, if it has any.
    fn track_end_name(&self) -> Option<&'static str> {
        match self {
            Behaviour::Intrusion => Some(ev::INTRUSION_END),
            Behaviour::Loitering { .. } => Some(ev::LOITERING_END),
            Behaviour::ObjectLeft { .. } => Some(ev::OBJECT_LEFT_END),
            Behaviour::FallenPerson => Some(ev::FALLEN_PERSON_END),
            _ => None,
        }
    }
}

/// One track as an area rule follows it.
#[derive(Debug)]
struct AreaTrack {
    /// The rule's per-track condition (inside; fallen person: inside and
    /// lying), debounced.
    state: Debounced<bool>,
    /// Onset of the current (or last) accepted `true`.
    entered_ms: i64,
    last_seen_ms: i64,
    class: ObjectClass,
    bbox: BBox,
    /// Its started, not yet ended, event.
    open: Option<OpenEvent>,
    still: Stillness,
    /// Object left: since when it has been inside, still, with nobody near.
    unattended_since: Option<i64>,
}

/// Object removed: a place where a stationary object was guarded.
#[derive(Debug)]
struct Spot {
    bbox: BBox,
    class: ObjectClass,
    tracking_id: u64,
    /// The last frame an object of its class was at the place.
    last_present_ms: i64,
    open: Option<OpenEvent>,
}

impl AreaRuleState {
    /// Whether this rule looks at `seen` at all.
    fn eligible(&self, seen: &Seen<'_>, frame: &Frame<'_>) -> bool {
        let class = seen.obs.class;
        let moving = !frame.smart || seen.moved;
        match &self.behaviour {
            Behaviour::Inactive { .. } => false,
            // Left and guarded objects are stationary by nature: the
            // SmartDetection movement filter does not apply to them.
            Behaviour::ObjectLeft { .. } => frame
                .options
                .left_object_labels
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&seen.obs.label)),
            Behaviour::ObjectRemoved { .. } => is_guardable(class),
            Behaviour::Crossing { ignore_stationary, .. } => {
                self.classes.contains(&class) && moving && (!ignore_stationary || seen.moved)
            }
            _ => self.classes.contains(&class) && moving,
        }
    }
}

/// Object removed guards things, not people or animals: vehicles and
/// whatever else the detector finds (`Unknown`: bags, screens, ...).
fn is_guardable(class: ObjectClass) -> bool {
    matches!(class, ObjectClass::Vehicle | ObjectClass::Unknown)
}

/// Width / height of a box in pixels.
fn pixel_ratio(bbox: &BBox, frame_aspect: f64) -> f64 {
    if bbox.height <= 0.0 { 0.0 } else { bbox.width / bbox.height * frame_aspect }
}

/// Whether a person (other than the object itself) is near `object`.
fn person_near(frame: &Frame<'_>, object: &Seen<'_>) -> bool {
    frame.seen.iter().any(|p| {
        p.obs.class == ObjectClass::Person
            && p.obs.tracking_id != object.obs.tracking_id
            && distance(p.anchor, object.anchor) <= frame.options.owner_distance * p.obs.bbox.height
    })
}

impl Rule for AreaRuleState {
    fn process(&mut self, frame: &Frame<'_>, out: &mut Vec<AnalyticsEvent>) {
        let now = frame.now_ms;
        let options = frame.options;
        let eligible: Vec<&Seen<'_>> =
            frame.seen.iter().filter(|s| self.eligible(s, frame)).collect();
        let AreaRuleState { rule, polygon, behaviour, tracks, event_count, .. } = self;
        let mut em = Emitter { rule, out, started: event_count, now_ms: now };

        for seen in eligible {
            let tid = seen.obs.tracking_id;
            let track = tracks.entry(tid).or_insert_with(|| AreaTrack {
                state: Debounced::new(),
                entered_ms: now,
                last_seen_ms: now,
                class: seen.obs.class,
                bbox: seen.obs.bbox,
                open: None,
                still: Stillness::new(seen.anchor, now),
                unattended_since: None,
            });
            track.last_seen_ms = now;
            track.class = seen.obs.class;
            track.bbox = seen.obs.bbox;
            let moved_now = track.still.update(seen.anchor, now, options.stationary_radius);

            let mut condition = polygon_contains(polygon, seen.anchor);
            if let Behaviour::FallenPerson = behaviour {
                let lying = track.state.stable() == Some(true);
                let threshold = if lying { options.standing_ratio } else { options.fallen_ratio };
                condition &= pixel_ratio(&seen.obs.bbox, options.frame_aspect) >= threshold;
            }
            if let Some(change) = track.state.update(condition, now, options.inertia_frames) {
                on_change(behaviour, &mut em, tid, track, change);
            }

            let inside = track.state.stable() == Some(true) && track.state.settled();
            match behaviour {
                Behaviour::Loitering { seconds_ms }
                    if inside && track.open.is_none() && now - track.entered_ms >= *seconds_ms =>
                {
                    let open = OpenEvent::new(now);
                    track.open = Some(open);
                    let e = em.emit(ev::LOITERING, open.id);
                    e.about(tid, track.class, track.bbox);
                    e.loiter_duration_ms = Some(now - track.entered_ms);
                }
                Behaviour::FallenPerson
                    if inside
                        && track.open.is_none()
                        && now - track.entered_ms >= options.fallen_min_ms =>
                {
                    let open = OpenEvent::new(now);
                    track.open = Some(open);
                    em.emit(ev::FALLEN_PERSON, open.id).about(tid, track.class, track.bbox);
                }
                Behaviour::ObjectLeft { seconds_ms } => {
                    if moved_now && let Some(open) = track.open.take() {
                        // Picked up (or pushed away): it is no longer left here.
                        em.end(ev::OBJECT_LEFT_END, open, now).about(tid, track.class, track.bbox);
                    }
                    let unattended =
                        seen.is_new && inside && !moved_now && !person_near(frame, seen);
                    track.unattended_since =
                        if unattended { Some(track.unattended_since.unwrap_or(now)) } else { None };
                    if let Some(since) = track.unattended_since
                        && track.open.is_none()
                        && now - since >= *seconds_ms
                    {
                        track.open = Some(OpenEvent::new(now));
                        em.emit(ev::OBJECT_LEFT, track.open.unwrap().id).about(
                            tid,
                            track.class,
                            track.bbox,
                        );
                    }
                }
                _ => {}
            }
        }

        let lost: Vec<u64> = tracks
            .iter()
            .filter(|(_, t)| now - t.last_seen_ms >= options.lost_timeout_ms)
            .map(|(&tid, _)| tid)
            .collect();
        for tid in lost {
            let track = tracks.remove(&tid).expect("listed above");
            on_lost(behaviour, &mut em, tid, &track);
        }

        let count = tracks.values().filter(|t| t.state.stable() == Some(true)).count();
        match behaviour {
            Behaviour::Crowding { object_count, seconds_ms, crowd, open } => {
                let change = crowd.update(count >= *object_count, now, options.inertia_frames);
                if let Some(c) = change
                    && !c.to
                    && let Some(o) = open.take()
                {
                    em.end(ev::CROWD_END, o, c.onset_ms).count = Some(count as i64);
                }
                if crowd.stable() == Some(true)
                    && crowd.settled()
                    && open.is_none()
                    && now - crowd.since_ms() >= *seconds_ms
                {
                    // With no time to hold, the crowd started at its onset;
                    // otherwise when it had held long enough.
                    let start = if *seconds_ms == 0 { crowd.since_ms() } else { now };
                    *open = Some(OpenEvent::new(start));
                    em.emit(ev::CROWD, open.unwrap().id).count = Some(count as i64);
                }
            }
            Behaviour::Occupancy { last_count } if count != *last_count => {
                *last_count = count;
                em.emit_new(ev::OCCUPANCY).count = Some(count as i64);
            }
            Behaviour::ObjectRemoved { seconds_ms, spots } => {
                guard(spots, *seconds_ms, tracks, polygon, frame, &mut em);
            }
            _ => {}
        }
    }

    fn close(&mut self, now_ms: i64, out: &mut Vec<AnalyticsEvent>) {
        let AreaRuleState { rule, behaviour, tracks, event_count, .. } = self;
        let mut em = Emitter { rule, out, started: event_count, now_ms };
        if let Some(name) = behaviour.track_end_name() {
            for (&tid, track) in tracks.iter_mut() {
                if let Some(open) = track.open.take() {
                    let e = em.end(name, open, now_ms);
                    e.about(tid, track.class, track.bbox);
                    if name == ev::LOITERING_END {
                        e.loiter_duration_ms = Some(now_ms - track.entered_ms);
                    }
                }
            }
        }
        let count = tracks.values().filter(|t| t.state.stable() == Some(true)).count();
        match behaviour {
            Behaviour::Crowding { open, .. } => {
                if let Some(o) = open.take() {
                    em.end(ev::CROWD_END, o, now_ms).count = Some(count as i64);
                }
            }
            Behaviour::ObjectRemoved { spots, .. } => {
                for spot in spots {
                    if let Some(o) = spot.open.take() {
                        em.end(ev::OBJECT_REMOVED_END, o, now_ms).about(
                            spot.tracking_id,
                            spot.class,
                            spot.bbox,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn stats(&self) -> RuleStats {
        let (active, inactive_reason) = match self.behaviour {
            Behaviour::Inactive { reason } => (false, Some(reason)),
            _ => (true, None),
        };
        let inside = self.tracks.values().filter(|t| t.state.stable() == Some(true)).count();
        RuleStats {
            id: self.rule.id.clone(),
            name: self.rule.name.clone(),
            kind: RuleKind::Area(self.kind),
            active,
            inactive_reason,
            event_count: self.event_count,
            current_count: active.then_some(inside as u64),
            totals: None,
        }
    }

    fn open_events(&self, out: &mut Vec<(u64, Uuid)>) {
        for (&tid, track) in &self.tracks {
            if let Some(open) = track.open {
                out.push((tid, open.id));
            }
        }
        match &self.behaviour {
            Behaviour::Crowding { open: Some(open), .. } => out.extend(
                self.tracks
                    .iter()
                    .filter(|(_, t)| t.state.stable() == Some(true))
                    .map(|(&tid, _)| (tid, open.id)),
            ),
            Behaviour::ObjectRemoved { spots, .. } => {
                out.extend(spots.iter().filter_map(|s| Some((s.tracking_id, s.open.as_ref()?.id))))
            }
            _ => {}
        }
    }

    fn rename(&mut self, name: &str) {
        self.rule.name = name.to_owned();
    }
}

/// Reacts to an accepted change of a track's condition.
fn on_change(
    behaviour: &Behaviour,
    em: &mut Emitter<'_>,
    tid: u64,
    track: &mut AreaTrack,
    change: Change<bool>,
) {
    let entered_ms = track.entered_ms;
    if change.to {
        track.entered_ms = change.onset_ms;
    }
    match behaviour {
        Behaviour::Intrusion if change.to => {
            let open = OpenEvent::new(change.onset_ms);
            track.open = Some(open);
            em.emit(ev::INTRUSION, open.id).about(tid, track.class, track.bbox);
        }
        Behaviour::Crossing { area_event, .. } => {
            let name = match (change.from, change.to) {
                (Some(false), true) if *area_event != AreaEvent::Exit => ev::AREA_ENTER,
                (Some(true), false) if *area_event != AreaEvent::Enter => ev::AREA_EXIT,
                _ => return,
            };
            em.emit_new(name).about(tid, track.class, track.bbox);
        }
        Behaviour::Dwelling { seconds_ms } if change.from == Some(true) => {
            let dwell = change.onset_ms - entered_ms;
            if dwell >= *seconds_ms {
                let e = em.emit_new(ev::DWELLING);
                e.about(tid, track.class, track.bbox);
                e.event_duration_ms = Some(dwell);
            }
        }
        _ if !change.to => {
            track.unattended_since = None;
            if let (Some(name), Some(open)) = (behaviour.track_end_name(), track.open.take()) {
                let e = em.end(name, open, change.onset_ms);
                e.about(tid, track.class, track.bbox);
                if name == ev::LOITERING_END {
                    e.loiter_duration_ms = Some(change.onset_ms - entered_ms);
                }
            }
        }
        _ => {}
    }
}

/// A track is gone: its open event ends when it was last seen; a dwelling
/// object that stayed long enough has left.
fn on_lost(behaviour: &Behaviour, em: &mut Emitter<'_>, tid: u64, track: &AreaTrack) {
    let end_ms = track.last_seen_ms;
    if let (Some(name), Some(open)) = (behaviour.track_end_name(), track.open) {
        let e = em.end(name, open, end_ms);
        e.about(tid, track.class, track.bbox);
        if name == ev::LOITERING_END {
            e.loiter_duration_ms = Some(end_ms - track.entered_ms);
        }
    }
    if let Behaviour::Dwelling { seconds_ms } = behaviour
        && track.state.stable() == Some(true)
    {
        let dwell = end_ms - track.entered_ms;
        if dwell >= *seconds_ms {
            let e = em.emit_new(ev::DWELLING);
            e.about(tid, track.class, track.bbox);
            e.event_duration_ms = Some(dwell);
        }
    }
}

/// Object removed: checks every guarded place, then guards the objects that
/// have stayed still inside long enough.
fn guard(
    spots: &mut Vec<Spot>,
    seconds_ms: i64,
    tracks: &BTreeMap<u64, AreaTrack>,
    polygon: &[Point],
    frame: &Frame<'_>,
    em: &mut Emitter<'_>,
) {
    let now = frame.now_ms;
    let iou = frame.options.same_place_iou;
    for spot in spots.iter_mut() {
        let present = frame.seen.iter().find(|s| {
            s.obs.class == spot.class
                && polygon_contains(polygon, s.anchor)
                && s.obs.bbox.iou(&spot.bbox) >= iou
        });
        match present {
            Some(s) => {
                spot.last_present_ms = now;
                if let Some(open) = spot.open.take() {
                    // The end names the guarded track, like the start, and
                    // the returned one (often a new track) as its reference.
                    let e = em.end(ev::OBJECT_REMOVED_END, open, now);
                    e.about(spot.tracking_id, spot.class, s.obs.bbox);
                    e.ref_tracking_id = Some(s.obs.tracking_id);
                }
                spot.tracking_id = s.obs.tracking_id;
            }
            None if spot.open.is_none() && now - spot.last_present_ms >= seconds_ms => {
                let open = OpenEvent::new(now);
                spot.open = Some(open);
                em.emit(ev::OBJECT_REMOVED, open.id).about(spot.tracking_id, spot.class, spot.bbox);
            }
            None => {}
        }
    }
    for (&tid, track) in tracks {
        let guardable = track.last_seen_ms == now
            && track.state.stable() == Some(true)
            && track.state.settled()
            && track.still.still_for(now) >= frame.options.guard_min_ms;
        let known = spots.iter().any(|s| {
            s.tracking_id == tid || (s.class == track.class && s.bbox.iou(&track.bbox) >= iou)
        });
        if guardable && !known {
            spots.push(Spot {
                bbox: track.bbox,
                class: track.class,
                tracking_id: tid,
                last_present_ms: now,
                open: None,
            });
        }
    }
}

/// Why an area of this type cannot run on this server, if it cannot: the
/// types that need models we do not ship. They are stored and listed, and
/// never emit events.
pub fn inactive_reason(rule: &AreaRule) -> Option<&'static str> {
    match rule {
        AreaRule::CrowdEstimation => {
            Some("crowd estimation needs a crowd-density model, which this server does not ship")
        }
        AreaRule::ArmedPerson => Some(
            "armed person detection needs a weapon detection model, which this server does not ship",
        ),
        AreaRule::Alpr => Some(
            "licence plate recognition needs a plate detection and OCR model, which this server \
             does not ship",
        ),
        _ => None,
    }
}
