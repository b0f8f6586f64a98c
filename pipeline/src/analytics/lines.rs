//! The line rules (crossing, counting, tailgating): one [`LineRuleState`] per
//! line, following which side of the line each eligible track is on.
//!
//! A crossing is a debounced change of side whose path (from the last
//! anchor on the old side to the first on the new side) intersects the
//! *segment*: walking around an end of the line changes the side without a
//! crossing. Moving onto the left of the walk from the line's first point to
//! its second is `Up`, onto the right `Down`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::geometry::{Side, segments_intersect, side_of};
use super::hysteresis::Debounced;
use super::rule::{Emitter, Frame, Rule, RuleRef, Seen};
use super::{
    AnalyticsEvent, ClassTotals, CrossingDirection, LineTotals, RuleKind, RuleStats,
    event_names as ev,
};
use crate::securt::{Direction, Line, LineKind, LineRule, ObjectClass, Point};

/// Builds the rule of `line`.
pub(crate) fn build(line: &Line) -> Box<dyn Rule> {
    let tailgate_ms = match line.rule {
        LineRule::Tailgating { seconds } => i64::from(seconds) * 1000,
        _ => 0,
    };
    Box::new(LineRuleState {
        rule: RuleRef { id: line.id.clone(), name: line.name.clone(), is_line: true },
        kind: LineKind::of(&line.rule),
        a: line.coordinates[0],
        b: line.coordinates[1],
        classes: line.classes.clone(),
        direction: line.direction,
        tailgate_ms,
        tracks: BTreeMap::new(),
        last_crossing: [None, None],
        totals: LineTotals::default(),
        event_count: 0,
    })
}

/// One line and the state of its rule.
#[derive(Debug)]
pub(crate) struct LineRuleState {
    rule: RuleRef,
    kind: LineKind,
    a: Point,
    b: Point,
    classes: Vec<ObjectClass>,
    direction: Direction,
    /// Tailgating: the window between two crossings.
    tailgate_ms: i64,
    tracks: BTreeMap<u64, LineTrack>,
    /// Tailgating: the last crossing per direction (`Up`, `Down`).
    last_crossing: [Option<Crossing>; 2],
    /// Counting: the totals so far.
    totals: LineTotals,
    event_count: u64,
}

/// A crossing: which track, and the onset (first frame on the new side).
#[derive(Debug, Clone, Copy)]
struct Crossing {
    tracking_id: u64,
    onset_ms: i64,
}

#[derive(Debug)]
struct LineTrack {
    side: Debounced<Side>,
    /// Its last anchor off the line.
    last_anchor: Point,
    /// From the last anchor on the accepted side to the first on the
    /// pending one.
    path: (Point, Point),
    last_seen_ms: i64,
    /// The last counted crossing per direction (`Up`, `Down`), for the
    /// cooldown.
    last_counted: [Option<i64>; 2],
}

fn index(d: CrossingDirection) -> usize {
    match d {
        CrossingDirection::Up => 0,
        CrossingDirection::Down => 1,
    }
}

fn allows(filter: Direction, d: CrossingDirection) -> bool {
    match filter {
        Direction::Both => true,
        Direction::Up => d == CrossingDirection::Up,
        Direction::Down => d == CrossingDirection::Down,
    }
}

impl LineTotals {
    fn add(&mut self, class: ObjectClass, d: CrossingDirection) {
        let i = match self.by_class.binary_search_by_key(&class, |c| c.class) {
            Ok(i) => i,
            Err(i) => {
                self.by_class.insert(i, ClassTotals { class, up: 0, down: 0 });
                i
            }
        };
        let c = &mut self.by_class[i];
        match d {
            CrossingDirection::Up => {
                self.up += 1;
                c.up += 1;
            }
            CrossingDirection::Down => {
                self.down += 1;
                c.down += 1;
            }
        }
    }
}

impl LineRuleState {
    /// Handles one crossing of the segment.
    fn crossed(
        &mut self,
        seen: &Seen<'_>,
        d: CrossingDirection,
        onset_ms: i64,
        frame: &Frame<'_>,
        out: &mut Vec<AnalyticsEvent>,
    ) {
        let tid = seen.obs.tracking_id;
        if !allows(self.direction, d) {
            return;
        }
        let track = self.tracks.get_mut(&tid).expect("a crossing track is followed");
        let last = &mut track.last_counted[index(d)];
        if last.is_some_and(|t| onset_ms - t < frame.options.line_cooldown_ms) {
            return;
        }
        *last = Some(onset_ms);

        let LineRuleState { rule, kind, tailgate_ms, last_crossing, totals, event_count, .. } =
            self;
        let mut em = Emitter { rule, out, started: event_count, now_ms: frame.now_ms };
        let (class, bbox) = (seen.obs.class, seen.obs.bbox);
        match kind {
            LineKind::Crossing => {
                em.emit_new(ev::LINE_CROSSING).about(tid, class, bbox).toward(d);
            }
            LineKind::Counting => {
                totals.add(class, d);
                em.emit_new(ev::LINE_COUNTING).about(tid, class, bbox).toward(d).totals =
                    Some(totals.clone());
            }
            LineKind::Tailgating => {
                let slot = &mut last_crossing[index(d)];
                if let Some(prev) = *slot
                    && prev.tracking_id != tid
                    && onset_ms - prev.onset_ms <= *tailgate_ms
                {
                    em.emit_new(ev::TAILGATING).about(tid, class, bbox).toward(d).ref_tracking_id =
                        Some(prev.tracking_id);
                }
                *slot = Some(Crossing { tracking_id: tid, onset_ms });
            }
        }
    }
}

impl Rule for LineRuleState {
    fn process(&mut self, frame: &Frame<'_>, out: &mut Vec<AnalyticsEvent>) {
        let now = frame.now_ms;
        for seen in frame.seen {
            if !self.classes.contains(&seen.obs.class) || (frame.smart && !seen.moved) {
                continue;
            }
            let tid = seen.obs.tracking_id;
            let track = self.tracks.entry(tid).or_insert_with(|| LineTrack {
                side: Debounced::new(),
                last_anchor: seen.anchor,
                path: (seen.anchor, seen.anchor),
                last_seen_ms: now,
                last_counted: [None, None],
            });
            track.last_seen_ms = now;
            // Exactly on the line: no side; the path will span it.
            let Some(side) = side_of(self.a, self.b, seen.anchor) else { continue };
            if track.side.stable() != Some(side) && !track.side.is_pending(side) {
                track.path = (track.last_anchor, seen.anchor);
            }
            track.last_anchor = seen.anchor;
            let Some(change) = track.side.update(side, now, frame.options.inertia_frames) else {
                continue;
            };
            // The first accepted side is where the track starts, not a
            // crossing; a change of side around an end of the segment is
            // accepted (so the next real crossing is judged from the right
            // side) but is no crossing.
            let (p, q) = track.path;
            if change.from.is_none() || !segments_intersect(p, q, self.a, self.b) {
                continue;
            }
            let d = match change.to {
                Side::Left => CrossingDirection::Up,
                Side::Right => CrossingDirection::Down,
            };
            self.crossed(seen, d, change.onset_ms, frame, out);
        }
        let timeout = frame.options.lost_timeout_ms;
        self.tracks.retain(|_, t| now - t.last_seen_ms < timeout);
    }

    fn close(&mut self, _now_ms: i64, _out: &mut Vec<AnalyticsEvent>) {
        // Line events are instantaneous: nothing is ever open.
    }

    fn stats(&self) -> RuleStats {
        RuleStats {
            id: self.rule.id.clone(),
            name: self.rule.name.clone(),
            kind: RuleKind::Line(self.kind),
            active: true,
            inactive_reason: None,
            event_count: self.event_count,
            current_count: None,
            totals: (self.kind == LineKind::Counting).then(|| self.totals.clone()),
        }
    }

    fn open_events(&self, _out: &mut Vec<(u64, Uuid)>) {
        // Line events are instantaneous: none is ever open.
    }

    fn rename(&mut self, name: &str) {
        self.rule.name = name.to_owned();
    }
}
