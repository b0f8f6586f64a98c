//! What every rule shares: the [`Frame`] a rule sees, the [`Rule`] interface
//! the engine drives, open-event bookkeeping and event building.

use std::fmt;

use uuid::Uuid;

use super::{AnalyticsEvent, BBox, CrossingDirection, EngineOptions, RuleStats, TrackObservation};
use crate::securt::{ObjectClass, Point};

/// One processed frame, as the rules see it.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub now_ms: i64,
    /// Confirmed tracks that passed the motion and exclusion areas, in
    /// tracking id order.
    pub seen: &'a [Seen<'a>],
    /// `SmartDetection`: only objects that have moved count.
    pub smart: bool,
    pub options: &'a EngineOptions,
}

/// A visible track, with what the engine knows about it across frames.
#[derive(Debug)]
pub(crate) struct Seen<'a> {
    pub obs: &'a TrackObservation,
    pub anchor: Point,
    /// Its anchor has got further than the movement threshold from where it
    /// was first seen, at some point.
    pub moved: bool,
    /// It was first seen after the engine's first frame (not part of the
    /// scene as the engine found it).
    pub is_new: bool,
}

/// An area or line rule, driven by the engine once per frame.
pub(crate) trait Rule: fmt::Debug {
    /// Updates the rule with one frame and emits its events.
    fn process(&mut self, frame: &Frame<'_>, out: &mut Vec<AnalyticsEvent>);
    /// Ends every open event (the rule is deleted or restarts).
    fn close(&mut self, now_ms: i64, out: &mut Vec<AnalyticsEvent>);
    fn stats(&self) -> RuleStats;
    /// Adds `(tracking id, event id)` for every open event each track takes
    /// part in: its own (intrusion, loitering, ...) and group events such as
    /// crowding, for every object that makes the group. Instantaneous events
    /// are never open.
    fn open_events(&self, out: &mut Vec<(u64, Uuid)>);
    /// A name change alone keeps the rule's state.
    fn rename(&mut self, name: &str);
}

/// The identity events carry.
#[derive(Debug, Clone)]
pub(crate) struct RuleRef {
    pub id: String,
    pub name: String,
    pub is_line: bool,
}

/// A started event that has not ended yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenEvent {
    pub id: Uuid,
    /// Its onset, from which the end's duration is measured.
    pub start_ms: i64,
}

impl OpenEvent {
    pub fn new(start_ms: i64) -> Self {
        OpenEvent { id: Uuid::new_v4(), start_ms }
    }
}

/// Pushes a rule's events and counts the ones that start something.
#[derive(Debug)]
pub(crate) struct Emitter<'a> {
    pub rule: &'a RuleRef,
    pub out: &'a mut Vec<AnalyticsEvent>,
    pub started: &'a mut u64,
    pub now_ms: i64,
}

impl Emitter<'_> {
    /// Emits an event of `event_type` with `id`, to be filled in by the caller.
    pub fn emit(&mut self, event_type: &'static str, id: Uuid) -> &mut AnalyticsEvent {
        if !event_type.ends_with("-end") {
            *self.started += 1;
        }
        self.out.push(AnalyticsEvent {
            event_type,
            event_id: id,
            time_ms: self.now_ms,
            rule_id: self.rule.id.clone(),
            rule_name: self.rule.name.clone(),
            is_line: self.rule.is_line,
            tracking_id: None,
            ref_tracking_id: None,
            object_class: None,
            location: None,
            direction: None,
            event_duration_ms: None,
            loiter_duration_ms: None,
            count: None,
            totals: None,
        });
        self.out.last_mut().expect("just pushed")
    }

    /// Emits a new event (a fresh id).
    pub fn emit_new(&mut self, event_type: &'static str) -> &mut AnalyticsEvent {
        self.emit(event_type, Uuid::new_v4())
    }

    /// Emits the end of `open`, which ended at `end_ms`.
    pub fn end(
        &mut self,
        event_type: &'static str,
        open: OpenEvent,
        end_ms: i64,
    ) -> &mut AnalyticsEvent {
        let e = self.emit(event_type, open.id);
        e.event_duration_ms = Some((end_ms - open.start_ms).max(0));
        e
    }
}

impl AnalyticsEvent {
    /// Sets the object the event is about.
    pub(crate) fn about(&mut self, tracking_id: u64, class: ObjectClass, bbox: BBox) -> &mut Self {
        self.tracking_id = Some(tracking_id);
        self.object_class = Some(class);
        self.location = Some(bbox);
        self
    }

    pub(crate) fn toward(&mut self, direction: CrossingDirection) -> &mut Self {
        self.direction = Some(direction);
        self
    }
}
