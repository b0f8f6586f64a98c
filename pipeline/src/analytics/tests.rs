//! Table-driven tests of the rule engine on synthetic track sequences and a
//! simulated clock. [`Script`] builds the sequences (objects standing,
//! walking from P to Q over N frames, or following a path) at a given frame
//! rate; the tables then read as "who does what, and which events follow".
//!
//! Unless a case says otherwise: 10 fps (frame `k` is at `k * 100` ms),
//! inertia 3 frames, lost timeout 2000 ms, `Detection` mode.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::event_names as ev;
use super::*;
use crate::securt::{
    Area, AreaEvent, AreaRule, DEFAULT_COLOR, Direction, Line, LineRule, ObjectClass, Point,
    SecurtConfig,
};
use crate::settings::{DetectorMode, Sensitivity};

const FPS: i64 = 10;

fn p(x: f64, y: f64) -> Point {
    Point { x, y }
}

/// The time of frame `k`.
fn t(k: i64) -> i64 {
    k * 1000 / FPS
}

/// A synthetic object: what the tracker reports about it, except where it is.
#[derive(Debug, Clone)]
struct Obj {
    id: u64,
    class: ObjectClass,
    label: &'static str,
    width: f64,
    height: f64,
    confirmed: bool,
}

fn person(id: u64) -> Obj {
    Obj {
        id,
        class: ObjectClass::Person,
        label: "person",
        width: 0.04,
        height: 0.12,
        confirmed: true,
    }
}

fn car(id: u64) -> Obj {
    Obj { id, class: ObjectClass::Vehicle, label: "car", width: 0.12, height: 0.08, ..person(id) }
}

fn suitcase(id: u64) -> Obj {
    Obj {
        id,
        class: ObjectClass::Unknown,
        label: "suitcase",
        width: 0.04,
        height: 0.05,
        ..person(id)
    }
}

impl Obj {
    fn tentative(self) -> Self {
        Obj { confirmed: false, ..self }
    }

    fn size(self, width: f64, height: f64) -> Self {
        Obj { width, height, ..self }
    }

    /// Its observation with the box's bottom-centre at `anchor`.
    fn at(&self, anchor: Point) -> TrackObservation {
        TrackObservation {
            tracking_id: self.id,
            class: self.class,
            label: self.label.to_owned(),
            bbox: BBox {
                x: anchor.x - self.width / 2.0,
                y: anchor.y - self.height,
                width: self.width,
                height: self.height,
            },
            confirmed: self.confirmed,
            confidence: 0.9,
        }
    }
}

/// A sequence of frames at [`FPS`]; frames nobody is in are empty (the clock
/// keeps running through them).
#[derive(Debug, Clone, Default)]
struct Script {
    frames: BTreeMap<i64, Vec<TrackObservation>>,
}

impl Script {
    fn new() -> Self {
        Script::default()
    }

    /// `obj` in frame `k` at `anchor` (replacing where the script had it
    /// in that frame, so a case can alter a shared script).
    fn at(mut self, obj: &Obj, anchor: Point, k: i64) -> Self {
        let frame = self.frames.entry(k).or_default();
        frame.retain(|o| o.tracking_id != obj.id);
        frame.push(obj.at(anchor));
        self
    }

    /// `obj` walks in a straight line at constant speed from `from` (frame
    /// `start`) to `to` (frame `start + n - 1`).
    fn walk(mut self, obj: &Obj, from: Point, to: Point, start: i64, n: i64) -> Self {
        for i in 0..n {
            let f = if n == 1 { 0.0 } else { i as f64 / (n - 1) as f64 };
            let anchor = p(from.x + (to.x - from.x) * f, from.y + (to.y - from.y) * f);
            self = self.at(obj, anchor, start + i);
        }
        self
    }

    /// `obj` stands at `at` for `n` frames from `start`.
    fn stay(self, obj: &Obj, at: Point, start: i64, n: i64) -> Self {
        self.walk(obj, at, at, start, n)
    }

    /// `obj` follows `points` from frame `start`, `legs` frames per leg;
    /// it is at `points[i]` in frame `start + i * legs`.
    fn path(mut self, obj: &Obj, points: &[Point], start: i64, legs: i64) -> Self {
        // Each leg starts where the previous one ended (the same frame).
        for (i, w) in points.windows(2).enumerate() {
            self = self.walk(obj, w[0], w[1], start + i as i64 * legs, legs + 1);
        }
        self
    }

    /// `obj` at `x` and, frame after frame from `start`, each of `ys`.
    fn ys(mut self, obj: &Obj, x: f64, ys: &[f64], start: i64) -> Self {
        for (i, &y) in ys.iter().enumerate() {
            self = self.at(obj, p(x, y), start + i as i64);
        }
        self
    }

    /// Runs every frame up to and including `last`.
    fn until(mut self, last: i64) -> Self {
        self.frames.entry(last).or_default();
        self
    }

    fn last_frame(&self) -> i64 {
        self.frames.keys().next_back().copied().unwrap_or(0)
    }

    /// Feeds frames `0..=last` to `engine`; returns every event.
    fn run(&self, engine: &mut RuleEngine) -> Vec<AnalyticsEvent> {
        (0..=self.last_frame()).flat_map(|k| self.run_frame(engine, k)).collect()
    }

    fn run_frame(&self, engine: &mut RuleEngine, k: i64) -> Vec<AnalyticsEvent> {
        engine.process(t(k), self.frames.get(&k).map(Vec::as_slice).unwrap_or_default())
    }
}

fn area(rule: AreaRule, coordinates: &[Point]) -> Area {
    Area {
        id: Uuid::new_v4().to_string(),
        name: "area".into(),
        coordinates: coordinates.to_vec(),
        color: DEFAULT_COLOR,
        rule,
    }
}

/// The area most cases use: x and y from 0.3 to 0.7.
fn square() -> Vec<Point> {
    vec![p(0.3, 0.3), p(0.7, 0.3), p(0.7, 0.7), p(0.3, 0.7)]
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<Point> {
    vec![p(x0, y0), p(x1, y0), p(x1, y1), p(x0, y1)]
}

fn all() -> Vec<ObjectClass> {
    ObjectClass::ALL.to_vec()
}

fn line(rule: LineRule, a: Point, b: Point, direction: Direction) -> Line {
    Line {
        id: Uuid::new_v4().to_string(),
        name: "line".into(),
        coordinates: [a, b],
        color: DEFAULT_COLOR,
        classes: all(),
        direction,
        rule,
    }
}

/// The horizontal line most line cases use, drawn left to right at y = 0.5
/// from x = 0.2 to 0.8 (so `Up` is towards the top of the image).
fn horizontal(rule: LineRule, direction: Direction) -> Line {
    line(rule, p(0.2, 0.5), p(0.8, 0.5), direction)
}

/// Everything a case configures besides its rules.
#[derive(Debug, Clone)]
struct Setup {
    motion_area: Vec<Point>,
    exclusion_areas: Vec<Vec<Point>>,
    mode: DetectorMode,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            motion_area: Vec::new(),
            exclusion_areas: Vec::new(),
            mode: DetectorMode::Detection,
        }
    }
}

fn engine(areas: Vec<Area>, lines: Vec<Line>, setup: &Setup) -> RuleEngine {
    let mut e = RuleEngine::new(EngineOptions::default());
    let config = SecurtConfig {
        areas,
        lines,
        motion_area: setup.motion_area.clone(),
        exclusion_areas: setup.exclusion_areas.clone(),
        ..SecurtConfig::default()
    };
    e.set_config(&config, setup.mode, Sensitivity::Medium);
    e
}

/// The comparable summary of an event: type, time, tracking id.
type Brief = (&'static str, i64, Option<u64>);

fn brief(events: &[AnalyticsEvent]) -> Vec<Brief> {
    events.iter().map(|e| (e.event_type, e.time_ms, e.tracking_id)).collect()
}

/// Every `-end` event repeats the id of an earlier start event of the same
/// rule and object, and no id starts twice.
fn assert_paired(name: &str, events: &[AnalyticsEvent]) {
    let mut open: BTreeMap<Uuid, &AnalyticsEvent> = BTreeMap::new();
    for e in events {
        match e.event_type.strip_suffix("-end") {
            Some(start) => {
                let s = open
                    .remove(&e.event_id)
                    .unwrap_or_else(|| panic!("{name}: {e:?} ends nothing"));
                assert_eq!(s.event_type, start, "{name}");
                assert_eq!((&s.rule_id, s.tracking_id), (&e.rule_id, e.tracking_id), "{name}");
                assert!(e.event_duration_ms.is_some_and(|d| d >= 0), "{name}: {e:?}");
            }
            None => assert!(open.insert(e.event_id, e).is_none(), "{name}: id reused"),
        }
    }
}

// ---------------------------------------------------------------- lines

#[test]
fn line_crossings() {
    use CrossingDirection::{Down, Up};
    let walker = person(1);
    let down = Script::new().walk(&walker, p(0.5, 0.31), p(0.5, 0.71), 0, 21);
    let up = Script::new().walk(&walker, p(0.5, 0.71), p(0.5, 0.31), 0, 21);
    // (name, line, script, expected (time, track, direction))
    type Expected = Vec<(i64, u64, CrossingDirection)>;
    let cases: Vec<(&str, Line, Script, Expected)> = vec![
        // Down: y = 0.51 in frame 10, the onset; accepted 2 frames later.
        (
            "clean crossing downwards",
            horizontal(LineRule::Crossing, Direction::Both),
            down.clone(),
            vec![(t(12), 1, Down)],
        ),
        // Up: y = 0.49 in frame 11.
        (
            "clean crossing upwards",
            horizontal(LineRule::Crossing, Direction::Both),
            up.clone(),
            vec![(t(13), 1, Up)],
        ),
        (
            "Up-only line ignores a downward crossing",
            horizontal(LineRule::Crossing, Direction::Up),
            down.clone(),
            vec![],
        ),
        (
            "Down-only line reports it",
            horizontal(LineRule::Crossing, Direction::Down),
            down.clone(),
            vec![(t(12), 1, Down)],
        ),
        (
            "Up-only line reports an upward crossing",
            horizontal(LineRule::Crossing, Direction::Up),
            up.clone(),
            vec![(t(13), 1, Up)],
        ),
        (
            "Down-only line ignores an upward crossing",
            horizontal(LineRule::Crossing, Direction::Down),
            up.clone(),
            vec![],
        ),
        (
            "a box flickering across the line: nothing",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().ys(
                &walker,
                0.5,
                &[
                    0.45, 0.45, 0.45, 0.51, 0.49, 0.51, 0.51, 0.49, 0.51, 0.49, 0.49, 0.51, 0.51,
                    0.45,
                ],
                0,
            ),
            vec![],
        ),
        (
            "flicker back after a crossing: never the opposite direction",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().ys(
                &walker,
                0.5,
                &[
                    0.45, 0.45, 0.45, 0.55, 0.55, 0.55, 0.49, 0.55, 0.49, 0.49, 0.55, 0.48, 0.55,
                    0.55, 0.49, 0.48, 0.55,
                ],
                0,
            ),
            vec![(t(5), 1, Down)],
        ),
        (
            "a tentative track: nothing",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().walk(&walker.clone().tentative(), p(0.5, 0.31), p(0.5, 0.71), 0, 21),
            vec![],
        ),
        (
            "crossed beyond the end point: nothing",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().walk(&walker, p(0.9, 0.31), p(0.9, 0.71), 0, 21),
            vec![],
        ),
        (
            "crossed beyond the start point: nothing",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().walk(&walker, p(0.1, 0.71), p(0.1, 0.31), 0, 21),
            vec![],
        ),
        (
            // Around the end (no crossing, but the side changes), then back
            // up through the segment: that is a real Up crossing.
            "around the end and back through the line",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().path(
                &walker,
                &[p(0.5, 0.3), p(0.9, 0.3), p(0.9, 0.7), p(0.5, 0.7), p(0.5, 0.31)],
                0,
                10,
            ),
            // Last leg from frame 30: y = 0.7 - 0.039 i < 0.5 from i = 6.
            vec![(t(38), 1, Up)],
        ),
        (
            // Down (onset 300), Up (onset 1000), Down again at 1500: within
            // the 2 s cooldown of the first Down, so not counted.
            "same direction twice within the cooldown: once",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().path(
                &walker,
                &[p(0.5, 0.45), p(0.5, 0.57), p(0.5, 0.45), p(0.5, 0.57)],
                0,
                6,
            ),
            vec![(t(5), 1, Down), (t(12), 1, Up)],
        ),
        (
            "same direction twice after the cooldown: twice",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().path(
                &walker,
                &[
                    p(0.5, 0.45),
                    p(0.5, 0.57),
                    p(0.5, 0.57),
                    p(0.5, 0.45),
                    p(0.5, 0.45),
                    p(0.5, 0.57),
                ],
                0,
                6,
            ),
            vec![(t(5), 1, Down), (t(18), 1, Up), (t(29), 1, Down)],
        ),
        (
            "a class the line does not watch: nothing",
            Line {
                classes: vec![ObjectClass::Vehicle],
                ..horizontal(LineRule::Crossing, Direction::Both)
            },
            down.clone(),
            vec![],
        ),
        (
            "two tracks, each counted",
            horizontal(LineRule::Crossing, Direction::Both),
            down.clone().walk(&person(2), p(0.4, 0.71), p(0.4, 0.31), 5, 21),
            vec![(t(12), 1, Down), (t(18), 2, Up)],
        ),
        (
            "a track missing for a few frames while crossing",
            horizontal(LineRule::Crossing, Direction::Both),
            Script::new().ys(&walker, 0.5, &[0.4, 0.4, 0.4, 0.42], 0).ys(
                &walker,
                0.5,
                &[0.58, 0.6, 0.6],
                8,
            ),
            vec![(t(10), 1, Down)],
        ),
    ];
    for (name, line, script, want) in cases {
        let mut e = engine(vec![], vec![line.clone()], &Setup::default());
        let events = script.run(&mut e);
        let got: Vec<_> = events
            .iter()
            .map(|e| {
                assert_eq!(e.event_type, ev::LINE_CROSSING, "{name}");
                assert_eq!(
                    (e.rule_id.as_str(), e.is_line, e.rule_name.as_str()),
                    (line.id.as_str(), true, "line"),
                    "{name}"
                );
                (e.time_ms, e.tracking_id.unwrap(), e.direction.unwrap())
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn direction_convention_on_lines_drawn_each_way() {
    use CrossingDirection::{Down, Up};
    // Walks: downwards, upwards, rightwards, leftwards across the centre.
    let walks = [
        ("down", p(0.5, 0.31), p(0.5, 0.71)),
        ("up", p(0.5, 0.71), p(0.5, 0.31)),
        ("right", p(0.31, 0.5), p(0.71, 0.5)),
        ("left", p(0.71, 0.5), p(0.31, 0.5)),
        ("up-right", p(0.31, 0.71), p(0.71, 0.31)),
        ("down-left", p(0.71, 0.31), p(0.31, 0.71)),
    ];
    // (line drawn from, to, walk, expected direction): Up is the side on the
    // left of the walk from the first point to the second.
    let cases = [
        ("left to right", p(0.2, 0.5), p(0.8, 0.5), "up", Up),
        ("left to right", p(0.2, 0.5), p(0.8, 0.5), "down", Down),
        ("right to left", p(0.8, 0.5), p(0.2, 0.5), "up", Down),
        ("right to left", p(0.8, 0.5), p(0.2, 0.5), "down", Up),
        ("top to bottom", p(0.5, 0.2), p(0.5, 0.8), "right", Up),
        ("top to bottom", p(0.5, 0.2), p(0.5, 0.8), "left", Down),
        ("bottom to top", p(0.5, 0.8), p(0.5, 0.2), "right", Down),
        ("bottom to top", p(0.5, 0.8), p(0.5, 0.2), "left", Up),
        ("diagonal, top-left to bottom-right", p(0.2, 0.2), p(0.8, 0.8), "up-right", Up),
        ("diagonal, top-left to bottom-right", p(0.2, 0.2), p(0.8, 0.8), "down-left", Down),
        ("diagonal, bottom-right to top-left", p(0.8, 0.8), p(0.2, 0.2), "up-right", Down),
        ("diagonal, bottom-left to top-right", p(0.2, 0.8), p(0.8, 0.2), "down", Down),
        ("diagonal, bottom-left to top-right", p(0.2, 0.8), p(0.8, 0.2), "left", Up),
    ];
    for (name, a, b, walk, want) in cases {
        let (_, from, to) = walks.iter().find(|w| w.0 == walk).unwrap();
        let script = Script::new().walk(&person(1), *from, *to, 0, 21);
        let mut e = engine(
            vec![],
            vec![line(LineRule::Crossing, a, b, Direction::Both)],
            &Setup::default(),
        );
        let got: Vec<_> = script.run(&mut e).iter().map(|e| e.direction.unwrap()).collect();
        assert_eq!(got, vec![want], "{name}, walking {walk}");
    }
}

#[test]
fn counting_lines_keep_totals_per_direction_and_class() {
    let l = horizontal(LineRule::Counting, Direction::Both);
    let script = Script::new()
        .walk(&person(1), p(0.5, 0.31), p(0.5, 0.71), 0, 21) // Down at frame 12
        .walk(&car(2), p(0.4, 0.31), p(0.4, 0.71), 10, 21) // Down at 22
        .walk(&person(3), p(0.6, 0.71), p(0.6, 0.31), 20, 21); // Up at 33
    let mut e = engine(vec![], vec![l], &Setup::default());
    let events = script.run(&mut e);
    let got: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_type,
                e.time_ms,
                e.tracking_id.unwrap(),
                e.totals.as_ref().map(|t| (t.up, t.down)),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (ev::LINE_COUNTING, t(12), 1, Some((0, 1))),
            (ev::LINE_COUNTING, t(22), 2, Some((0, 2))),
            (ev::LINE_COUNTING, t(33), 3, Some((1, 2))),
        ]
    );
    let want = LineTotals {
        up: 1,
        down: 2,
        by_class: vec![
            ClassTotals { class: ObjectClass::Person, up: 1, down: 1 },
            ClassTotals { class: ObjectClass::Vehicle, up: 0, down: 1 },
        ],
    };
    assert_eq!(events.last().unwrap().totals.as_ref(), Some(&want));
    let stats = e.stats();
    assert_eq!(stats[0].totals.as_ref(), Some(&want));
    assert_eq!((stats[0].event_count, stats[0].current_count), (3, None));
    assert_eq!(stats[0].kind, RuleKind::Line(crate::securt::LineKind::Counting));
}

#[test]
fn tailgating_needs_two_tracks_in_the_same_direction_within_the_window() {
    let l = horizontal(LineRule::Tailgating { seconds: 2 }, Direction::Both);
    // Each walk crosses (onset) 10 frames after it starts, going down;
    // `upwards` walks cross going up.
    let down = |id: u64, start: i64| (person(id), p(0.5, 0.31), p(0.5, 0.71), start);
    let upwards = |id: u64, start: i64| (person(id), p(0.5, 0.71), p(0.5, 0.31), start);
    type Walk = (Obj, Point, Point, i64);
    // (name, walks, expected (time, track, earlier track))
    type Expected = Vec<(i64, u64, u64)>;
    let cases: Vec<(&str, Vec<Walk>, Expected)> = vec![
        ("one track: nothing", vec![down(1, 0)], vec![]),
        ("second 1.5 s after the first", vec![down(1, 0), down(2, 15)], vec![(t(27), 2, 1)]),
        ("second exactly 2 s after the first", vec![down(1, 0), down(2, 20)], vec![(t(32), 2, 1)]),
        ("second 2.1 s after the first: nothing", vec![down(1, 0), down(2, 21)], vec![]),
        ("opposite directions: nothing", vec![down(1, 0), upwards(2, 10)], vec![]),
        (
            "a third within the window of the second",
            vec![down(1, 0), down(2, 15), down(3, 30)],
            vec![(t(27), 2, 1), (t(42), 3, 2)],
        ),
    ];
    for (name, walks, want) in cases {
        let script = walks
            .iter()
            .fold(Script::new(), |s, (o, from, to, start)| s.walk(o, *from, *to, *start, 21));
        let mut e = engine(vec![], vec![l.clone()], &Setup::default());
        let got: Vec<_> = script
            .run(&mut e)
            .iter()
            .map(|e| {
                assert_eq!(e.event_type, ev::TAILGATING, "{name}");
                (e.time_ms, e.tracking_id.unwrap(), e.ref_tracking_id.unwrap())
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

// ---------------------------------------------------------------- areas

/// One area case: an area rule, what happens, and the events that follow.
#[derive(Debug, Clone)]
struct AreaCase {
    name: &'static str,
    rule: AreaRule,
    coordinates: Vec<Point>,
    setup: Setup,
    script: Script,
    want: Vec<Brief>,
}

fn case(name: &'static str, rule: AreaRule, script: Script, want: Vec<Brief>) -> AreaCase {
    AreaCase { name, rule, coordinates: square(), setup: Setup::default(), script, want }
}

fn run_area_cases(cases: Vec<AreaCase>) {
    for c in cases {
        let a = area(c.rule.clone(), &c.coordinates);
        let mut e = engine(vec![a.clone()], vec![], &c.setup);
        let events = c.script.run(&mut e);
        assert_eq!(brief(&events), c.want, "{}", c.name);
        assert_paired(c.name, &events);
        for ev in &events {
            assert_eq!((&ev.rule_id, ev.is_line), (&a.id, false), "{}", c.name);
        }
    }
}

/// Outside the square, left of it.
const OUT: Point = Point { x: 0.1, y: 0.5 };
/// Inside the square.
const IN: Point = Point { x: 0.5, y: 0.5 };
/// Outside the square, right of it.
const OUT_RIGHT: Point = Point { x: 0.9, y: 0.5 };

/// A person outside in frames 0-9, inside from frame 10 for `n` frames,
/// then outside again for 10 frames.
fn visit(id: u64, n: i64) -> Script {
    let o = person(id);
    Script::new().stay(&o, OUT, 0, 10).stay(&o, IN, 10, n).stay(&o, OUT_RIGHT, 10 + n, 10)
}

/// Walks in from the left (inside from frame 10), stays until frame 40, and
/// walks out to the right (outside from frame 51).
fn walk_through(o: &Obj) -> Script {
    Script::new().walk(o, p(0.11, 0.5), p(0.51, 0.5), 0, 21).stay(o, p(0.51, 0.5), 21, 20).walk(
        o,
        p(0.51, 0.5),
        p(0.91, 0.5),
        41,
        21,
    )
}

#[test]
fn intrusion() {
    let rule = || AreaRule::Intrusion { classes: all() };
    let (start, end) = (ev::INTRUSION, ev::INTRUSION_END);
    run_area_cases(vec![
        case(
            "walk in and out",
            rule(),
            walk_through(&person(1)),
            vec![(start, t(12), Some(1)), (end, t(53), Some(1))],
        ),
        case("a tentative track: nothing", rule(), walk_through(&person(1).tentative()), vec![]),
        case(
            // Last seen (inside) in frame 29; gone 2 s later.
            "lost mid-area: ends after the timeout",
            rule(),
            Script::new()
                .walk(&person(1), p(0.11, 0.5), p(0.51, 0.5), 0, 21)
                .stay(&person(1), p(0.51, 0.5), 21, 9)
                .until(60),
            vec![(start, t(12), Some(1)), (end, t(49), Some(1))],
        ),
        case(
            "missing for less than the timeout: one event",
            rule(),
            // In 10-19, unseen 20-29, in 30-39, out from 40.
            Script::new()
                .stay(&person(1), OUT, 0, 10)
                .stay(&person(1), IN, 10, 10)
                .stay(&person(1), IN, 30, 10)
                .stay(&person(1), OUT, 40, 10),
            vec![(start, t(12), Some(1)), (end, t(42), Some(1))],
        ),
        case(
            "flickering at the edge: nothing",
            rule(),
            Script::new()
                .walk(&person(1), p(0.1, 0.5), p(0.28, 0.5), 0, 10)
                .at(&person(1), p(0.31, 0.5), 10)
                .at(&person(1), p(0.29, 0.5), 11)
                .at(&person(1), p(0.31, 0.5), 12)
                .at(&person(1), p(0.31, 0.5), 13)
                .at(&person(1), p(0.29, 0.5), 14)
                .stay(&person(1), p(0.2, 0.5), 15, 5),
            vec![],
        ),
        case(
            "classes filter: a person in a vehicle area",
            AreaRule::Intrusion { classes: vec![ObjectClass::Vehicle] },
            walk_through(&person(1)),
            vec![],
        ),
        case(
            "classes filter: a car in a vehicle area",
            AreaRule::Intrusion { classes: vec![ObjectClass::Vehicle] },
            walk_through(&car(4)),
            vec![(start, t(12), Some(4)), (end, t(53), Some(4))],
        ),
        AreaCase {
            setup: Setup {
                exclusion_areas: vec![rect(0.25, 0.25, 0.75, 0.75)],
                ..Setup::default()
            },
            ..case(
                "exclusion area over the area: nothing",
                rule(),
                walk_through(&person(1)),
                vec![],
            )
        },
        AreaCase {
            // The exclusion covers where the person stands: unseen there,
            // so lost after the timeout.
            setup: Setup { exclusion_areas: vec![rect(0.44, 0.4, 0.56, 0.6)], ..Setup::default() },
            ..case(
                "exclusion area inside the area",
                rule(),
                walk_through(&person(1)),
                // x = 0.11 + 0.02 k is excluded from frame 17 (0.45): last
                // seen in frame 16. Seen again from frame 44 (x = 0.57).
                vec![
                    (start, t(12), Some(1)),
                    (end, t(36), Some(1)),
                    (start, t(46), Some(1)),
                    (end, t(53), Some(1)),
                ],
            )
        },
        AreaCase {
            setup: Setup { motion_area: rect(0.0, 0.0, 0.25, 1.0), ..Setup::default() },
            ..case(
                "motion area away from the area: nothing",
                rule(),
                walk_through(&person(1)),
                vec![],
            )
        },
        AreaCase {
            setup: Setup { motion_area: rect(0.0, 0.0, 1.0, 1.0), ..Setup::default() },
            ..case(
                "motion area covering it",
                rule(),
                walk_through(&person(1)),
                vec![(start, t(12), Some(1)), (end, t(53), Some(1))],
            )
        },
        AreaCase {
            setup: Setup { mode: DetectorMode::SmartDetection, ..Setup::default() },
            ..case(
                "SmartDetection: a person standing still from the start: nothing",
                rule(),
                Script::new().stay(&person(1), IN, 0, 30),
                vec![],
            )
        },
        case(
            "Detection: the same person is reported",
            rule(),
            Script::new().stay(&person(1), IN, 0, 30).until(60),
            vec![(start, t(2), Some(1)), (end, t(49), Some(1))],
        ),
        AreaCase {
            setup: Setup { mode: DetectorMode::SmartDetection, ..Setup::default() },
            ..case(
                "SmartDetection: a person who walked in is reported",
                rule(),
                walk_through(&person(1)),
                vec![(start, t(12), Some(1)), (end, t(53), Some(1))],
            )
        },
        AreaCase {
            setup: Setup { mode: DetectorMode::SmartDetection, ..Setup::default() },
            ..case(
                // Still for 1 s, then walks 0.04 (over the medium threshold,
                // 0.02): reported from then on.
                "SmartDetection: standing, then moving",
                rule(),
                Script::new()
                    .stay(&person(1), IN, 0, 10)
                    .walk(&person(1), IN, p(0.54, 0.5), 10, 4)
                    .stay(&person(1), p(0.54, 0.5), 14, 10)
                    .until(50),
                // Moved (0.027 from where it stood) in frame 12: seen by the
                // rule from then on, accepted inside 2 frames later. Last
                // seen in frame 23.
                vec![(start, t(14), Some(1)), (end, t(43), Some(1))],
            )
        },
    ]);
}

#[test]
fn intrusion_end_repeats_the_start_id_with_the_time_inside() {
    let a = area(AreaRule::Intrusion { classes: all() }, &square());
    let mut e = engine(vec![a.clone()], vec![], &Setup::default());
    let events = walk_through(&person(7)).run(&mut e);
    let [s, end] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(s.event_id, end.event_id);
    assert_eq!((s.event_type, end.event_type), (ev::INTRUSION, ev::INTRUSION_END));
    // Inside from frame 10 (x = 0.31) to frame 51 (x = 0.71): the inertia
    // delays both events but not the duration.
    assert_eq!(end.event_duration_ms, Some(t(51) - t(10)));
    assert_eq!(s.event_duration_ms, None);
    assert_eq!(
        (s.rule_id.as_str(), s.rule_name.as_str(), s.object_class),
        (a.id.as_str(), "area", Some(ObjectClass::Person))
    );
    // Events locate the object in the frame that decided them.
    let (from, to) = (s.location.unwrap().anchor(), end.location.unwrap().anchor());
    assert!((from.x - 0.35).abs() < 1e-9 && (to.x - 0.75).abs() < 1e-9, "{from:?} {to:?}");
    // Lost tracks end with the time they were last seen.
    let mut e = engine(vec![a], vec![], &Setup::default());
    let events = Script::new().stay(&person(1), IN, 0, 10).until(40).run(&mut e);
    assert_eq!(events[1].event_duration_ms, Some(t(9)));
}

#[test]
fn area_crossing() {
    let rule = |area_event, ignore_stationary_objects| AreaRule::Crossing {
        classes: all(),
        ignore_stationary_objects,
        area_event,
    };
    let (enter, exit) = (ev::AREA_ENTER, ev::AREA_EXIT);
    // A parked car whose box jitters across the area's left edge (0.3) by
    // 0.01: it never moves as far as the medium movement threshold.
    let jitter: Script = (0..40).fold(Script::new(), |s, k| {
        let x = if (k / 5) % 2 == 0 { 0.295 } else { 0.305 };
        s.at(&car(9), p(x, 0.5), k)
    });
    run_area_cases(vec![
        case(
            "enter and exit",
            rule(AreaEvent::Both, false),
            walk_through(&person(1)),
            vec![(enter, t(12), Some(1)), (exit, t(53), Some(1))],
        ),
        case(
            "enter only",
            rule(AreaEvent::Enter, false),
            walk_through(&person(1)),
            vec![(enter, t(12), Some(1))],
        ),
        case(
            "exit only",
            rule(AreaEvent::Exit, false),
            walk_through(&person(1)),
            vec![(exit, t(53), Some(1))],
        ),
        case(
            "appearing inside is no entry, vanishing is no exit",
            rule(AreaEvent::Both, false),
            Script::new().stay(&person(1), IN, 0, 10).until(40),
            vec![],
        ),
        case(
            "a stationary object's jitter, counted when stationary objects count",
            rule(AreaEvent::Both, false),
            jitter.clone(),
            vec![
                (enter, t(7), Some(9)),
                (exit, t(12), Some(9)),
                (enter, t(17), Some(9)),
                (exit, t(22), Some(9)),
                (enter, t(27), Some(9)),
                (exit, t(32), Some(9)),
                (enter, t(37), Some(9)),
            ],
        ),
        case("ignoreStationaryObjects drops it", rule(AreaEvent::Both, true), jitter, vec![]),
        case(
            "ignoreStationaryObjects keeps moving objects",
            rule(AreaEvent::Both, true),
            walk_through(&person(1)),
            vec![(enter, t(12), Some(1)), (exit, t(53), Some(1))],
        ),
    ]);
}

#[test]
fn loitering() {
    let rule = AreaRule::Loitering { classes: all(), seconds: 3 };
    let (start, end) = (ev::LOITERING, ev::LOITERING_END);
    run_area_cases(vec![
        // Inside from frame 10 (onset 1000 ms).
        case("inside 2.9 s: nothing", rule.clone(), visit(1, 30), vec![]),
        case(
            "inside 3.0 s: just enough",
            rule.clone(),
            visit(1, 31),
            vec![(start, t(40), Some(1)), (end, t(43), Some(1))],
        ),
        case(
            "inside 3.1 s",
            rule.clone(),
            visit(1, 32),
            vec![(start, t(40), Some(1)), (end, t(44), Some(1))],
        ),
        case(
            "two people, 2 s each: nothing (one object must stay)",
            rule.clone(),
            visit(1, 20).stay(&person(2), OUT, 20, 10).stay(&person(2), IN, 30, 20).stay(
                &person(2),
                OUT,
                50,
                5,
            ),
            vec![],
        ),
        case(
            "lost while loitering: ends after the timeout",
            rule.clone(),
            Script::new().stay(&person(1), OUT, 0, 10).stay(&person(1), IN, 10, 40).until(80),
            vec![(start, t(40), Some(1)), (end, t(69), Some(1))],
        ),
    ]);
    // Durations: the start reports the time inside so far, the end the
    // whole stay and the alarm's length.
    let a = area(rule, &square());
    let mut e = engine(vec![a], vec![], &Setup::default());
    let events = visit(1, 35).run(&mut e);
    let loiter: Vec<_> =
        events.iter().map(|e| (e.loiter_duration_ms, e.event_duration_ms)).collect();
    assert_eq!(loiter, vec![(Some(3000), None), (Some(3500), Some(500))]);
}

#[test]
fn crowding() {
    let rule = |object_count, seconds| AreaRule::Crowding { classes: all(), object_count, seconds };
    let (start, end) = (ev::CROWD, ev::CROWD_END);
    // Person 1 inside throughout; person 2 inside from frame 10 to 29.
    let base = || {
        Script::new()
            .stay(&person(1), IN, 0, 60)
            .stay(&person(2), OUT, 0, 10)
            .stay(&person(2), p(0.45, 0.5), 10, 20)
            .stay(&person(2), OUT, 30, 30)
    };
    run_area_cases(vec![
        case(
            // Person 2 accepted inside in frame 12: the count is 2 from then,
            // accepted as a crowd 3 frames later; it falls in frame 32.
            "rises, holds and falls",
            rule(2, 0),
            base(),
            vec![(start, t(14), None), (end, t(34), None)],
        ),
        case("below the threshold: nothing", rule(3, 0), base(), vec![]),
        case(
            "holding for 1 s",
            rule(2, 1),
            base(),
            // The count has been >= 2 since frame 12 (its onset).
            vec![(start, t(22), None), (end, t(34), None)],
        ),
        case("not held for 3 s: nothing", rule(2, 3), base(), vec![]),
        case(
            // Person 2 steps out for 2 frames, twice: the crowd holds.
            "a dip of two frames does not end it",
            rule(2, 0),
            base().ys(&person(2), 0.1, &[0.5, 0.5], 15).ys(&person(2), 0.1, &[0.5, 0.5], 20),
            vec![(start, t(14), None), (end, t(34), None)],
        ),
        case(
            // Person 3 takes person 2's place in the same frames: the count
            // never drops, so neither does the crowd.
            "one leaves as another enters",
            rule(2, 0),
            base().stay(&person(3), OUT, 0, 30).stay(&person(3), p(0.55, 0.5), 30, 20).stay(
                &person(3),
                OUT_RIGHT,
                50,
                10,
            ),
            vec![(start, t(14), None), (end, t(54), None)],
        ),
    ]);
    let a = area(rule(2, 0), &square());
    let mut e = engine(vec![a], vec![], &Setup::default());
    let events = base().run(&mut e);
    let counts: Vec<_> = events.iter().map(|e| (e.count, e.event_duration_ms)).collect();
    // The crowd's onset was frame 12, its end's onset frame 32.
    assert_eq!(counts, vec![(Some(2), None), (Some(1), Some(2000))]);
}

#[test]
fn occupancy_reports_each_change_of_the_count() {
    let a = area(AreaRule::Occupancy { classes: all() }, &square());
    let mut e = engine(vec![a], vec![], &Setup::default());
    let script = Script::new()
        .stay(&person(1), OUT, 0, 10)
        .stay(&person(1), IN, 10, 30) // in 10-39, out from 40
        .stay(&person(1), OUT, 40, 10)
        .stay(&person(2), IN, 20, 30) // in 20-49, then lost (last seen 49)
        .stay(&car(3), p(0.6, 0.6), 25, 10) // in 25-34, then out
        .stay(&car(3), OUT_RIGHT, 35, 5)
        .until(80);
    let got: Vec<_> =
        script.run(&mut e).iter().map(|e| (e.event_type, e.time_ms, e.count.unwrap())).collect();
    let o = ev::OCCUPANCY;
    assert_eq!(
        got,
        vec![
            (o, t(12), 1),
            (o, t(22), 2),
            (o, t(27), 3),
            (o, t(37), 2),
            (o, t(42), 1),
            (o, t(69), 0)
        ]
    );
    assert_eq!(e.stats()[0].current_count, Some(0));
}

#[test]
fn dwelling() {
    let rule = AreaRule::Dwelling { classes: all(), seconds: 2 };
    let d = ev::DWELLING;
    run_area_cases(vec![
        case("stays 3 s, leaves", rule.clone(), visit(1, 30), vec![(d, t(42), Some(1))]),
        case("stays exactly 2 s, leaves", rule.clone(), visit(1, 20), vec![(d, t(32), Some(1))]),
        case("stays 1.9 s: nothing", rule.clone(), visit(1, 19), vec![]),
        case(
            "lost inside after 2.5 s: it left",
            rule.clone(),
            Script::new().stay(&person(1), OUT, 0, 10).stay(&person(1), IN, 10, 26).until(60),
            vec![(d, t(55), Some(1))],
        ),
    ]);
    let mut e = engine(vec![area(rule, &square())], vec![], &Setup::default());
    let events = visit(1, 30).run(&mut e);
    assert_eq!(events[0].event_duration_ms, Some(3000));
}

#[test]
fn object_left() {
    let rule = AreaRule::ObjectLeft { seconds: 3 };
    let (start, end) = (ev::OBJECT_LEFT, ev::OBJECT_LEFT_END);
    let bag = suitcase(5);
    let owner = person(1);
    // The owner walks in with the bag, puts it down in frame 10 (it is
    // accepted inside in frame 12) and walks away: more than a body height
    // (0.12) from it from frame 14 on, standing at x = 0.95 in frames 22-33.
    let drop = || {
        Script::new()
            .walk(&owner, p(0.1, 0.55), p(0.52, 0.55), 0, 11)
            .walk(&owner, p(0.52, 0.55), p(0.95, 0.55), 11, 11)
            .stay(&owner, p(0.95, 0.55), 22, 12)
            .stay(&bag, p(0.5, 0.55), 10, 80)
    };
    let away = || drop().stay(&owner, p(0.95, 0.55), 34, 70);
    run_area_cases(vec![
        // Unattended from frame 14: 3 s later, frame 44. The bag is last
        // seen in frame 89, so gone in frame 109.
        case(
            "left alone for 3 s",
            rule.clone(),
            away().until(110),
            vec![(start, t(44), Some(5)), (end, t(109), Some(5))],
        ),
        case(
            "picked up again: ends",
            rule.clone(),
            away().walk(&bag, p(0.5, 0.55), p(0.5, 0.95), 90, 10),
            vec![(start, t(44), Some(5)), (end, t(91), Some(5))],
        ),
        case(
            "the owner stays near it: nothing",
            rule.clone(),
            Script::new().stay(&owner, p(0.55, 0.55), 0, 80).stay(&bag, p(0.5, 0.55), 10, 70),
            vec![],
        ),
        case(
            "left for 2 s, then the owner comes back: nothing",
            rule.clone(),
            // Near it again from frame 42, and stays.
            drop().walk(&owner, p(0.95, 0.55), p(0.53, 0.55), 34, 10).stay(
                &owner,
                p(0.53, 0.55),
                44,
                50,
            ),
            vec![],
        ),
        case(
            "a bag already there when the engine started: nothing",
            rule.clone(),
            Script::new().stay(&bag, p(0.5, 0.55), 0, 80),
            vec![],
        ),
        case(
            "a person is not a left object",
            rule.clone(),
            Script::new().stay(&person(2), OUT, 0, 5).stay(&person(2), IN, 5, 80),
            vec![],
        ),
    ]);
}

#[test]
fn object_removed() {
    let rule = AreaRule::ObjectRemoved { seconds: 2 };
    let (start, end) = (ev::OBJECT_REMOVED, ev::OBJECT_REMOVED_END);
    let parked = Point { x: 0.5, y: 0.6 };
    run_area_cases(vec![
        // Still inside since frame 0: guarded from frame 50 (5 s); last seen
        // in frame 79; gone for 2 s in frame 99.
        case(
            "taken away",
            rule.clone(),
            Script::new().stay(&car(3), parked, 0, 80).until(110),
            vec![(start, t(99), Some(3))],
        ),
        case(
            "taken away and returned (as a new track)",
            rule.clone(),
            Script::new().stay(&car(3), parked, 0, 80).stay(&car(8), p(0.505, 0.6), 120, 10),
            vec![(start, t(99), Some(3)), (end, t(120), Some(3))],
        ),
        case(
            "there for 4 s only: never guarded",
            rule.clone(),
            Script::new().stay(&car(3), parked, 0, 40).until(100),
            vec![],
        ),
        case(
            "hidden for 1.5 s: nothing",
            rule.clone(),
            Script::new().stay(&car(3), parked, 0, 60).stay(&car(3), parked, 75, 20),
            vec![],
        ),
        case(
            "people are not guarded",
            rule.clone(),
            Script::new().stay(&person(1), parked, 0, 80).until(110),
            vec![],
        ),
    ]);
}

#[test]
fn fallen_person() {
    let rule = AreaRule::FallenPerson;
    let (start, end) = (ev::FALLEN_PERSON, ev::FALLEN_PERSON_END);
    let standing = person(1);
    let lying = person(1).size(0.12, 0.05); // 2.4 wide per tall, 4.3 in pixels (16:9)
    let crouching = person(1).size(0.05, 0.1); // 0.9 in pixels
    let fall = |down: &Obj, frames: i64| {
        Script::new().stay(&standing, IN, 0, 20).stay(down, IN, 20, frames).stay(
            &standing,
            IN,
            20 + frames,
            20,
        )
    };
    run_area_cases(vec![
        // Lying from frame 20: 3 s later, frame 50; stands in frame 61.
        case(
            "lies 4 s, gets up",
            rule.clone(),
            fall(&lying, 41),
            vec![(start, t(50), Some(1)), (end, t(63), Some(1))],
        ),
        case("lies 2.9 s: nothing", rule.clone(), fall(&lying, 30), vec![]),
        case("crouches 5 s: nothing", rule.clone(), fall(&crouching, 50), vec![]),
        case(
            "lies outside the area: nothing",
            rule.clone(),
            Script::new().stay(&standing, OUT, 0, 20).stay(&lying, OUT, 20, 50),
            vec![],
        ),
        case(
            "a vehicle is no person",
            rule.clone(),
            Script::new().stay(&car(2), IN, 0, 80),
            vec![],
        ),
        case(
            "lost while lying: ends after the timeout",
            rule,
            Script::new().stay(&standing, IN, 0, 20).stay(&lying, IN, 20, 40).until(90),
            vec![(start, t(50), Some(1)), (end, t(79), Some(1))],
        ),
    ]);
}

#[test]
fn inactive_types_never_emit_and_say_why() {
    let people = (1..=6).fold(Script::new(), |s, id| {
        walk_through(&person(id)).frames.into_iter().fold(s, |mut s, (k, obs)| {
            s.frames.entry(k + id as i64).or_default().extend(obs);
            s
        })
    });
    for rule in [AreaRule::ArmedPerson, AreaRule::Alpr, AreaRule::CrowdEstimation] {
        let a = area(rule.clone(), &square());
        let mut e = engine(vec![a.clone()], vec![], &Setup::default());
        assert_eq!(people.run(&mut e), vec![], "{rule:?}");
        let [s] = e.stats().try_into().unwrap();
        assert_eq!(
            (s.id.as_str(), s.active, s.event_count, s.current_count),
            (a.id.as_str(), false, 0, None),
            "{rule:?}"
        );
        assert!(s.inactive_reason.unwrap().contains("does not ship"), "{rule:?}");
    }
}

// ---------------------------------------------------------------- live changes

#[test]
fn rules_change_on_the_next_frame() {
    let a = area(AreaRule::Intrusion { classes: all() }, &square());
    let l = horizontal(LineRule::Crossing, Direction::Both);
    let config = |areas: Vec<Area>, lines: Vec<Line>| SecurtConfig {
        areas,
        lines,
        ..SecurtConfig::default()
    };
    let set = |e: &mut RuleEngine, c: &SecurtConfig| {
        e.set_config(c, DetectorMode::Detection, Sensitivity::Medium)
    };
    // A person stands inside (frames 0-99), another walks up and down
    // across the line (y 0.41 <-> 0.61, 10 frames per leg).
    let mut script = Script::new().stay(&person(1), p(0.5, 0.65), 0, 100);
    let zigzag: Vec<Point> =
        (0..11).map(|i| p(0.25, if i % 2 == 0 { 0.41 } else { 0.61 })).collect();
    script = script.path(&person(2), &zigzag, 0, 10);

    let mut e = engine(vec![a.clone()], vec![], &Setup::default());
    let mut events = Vec::new();
    let mut run = |e: &mut RuleEngine, frames: std::ops::Range<i64>| {
        let got: Vec<_> = frames.flat_map(|k| script.run_frame(e, k)).collect();
        events.extend(got.clone());
        got
    };
    assert_eq!(brief(&run(&mut e, 0..20)), vec![(ev::INTRUSION, t(2), Some(1))]);

    // Renamed only: the state is kept (no end, no new start).
    set(&mut e, &config(vec![Area { name: "renamed".into(), ..a.clone() }], vec![]));
    assert_eq!(run(&mut e, 20..25), vec![]);
    assert_eq!(e.stats()[0].name, "renamed");

    // A line added between frames sees the next crossing.
    set(&mut e, &config(vec![a.clone()], vec![l.clone()]));
    let got = run(&mut e, 25..40);
    // The leg from frame 30 goes up (0.61 -> 0.41): y < 0.5 from frame 36.
    assert_eq!(brief(&got), vec![(ev::LINE_CROSSING, t(38), Some(2))]);
    assert_eq!(got[0].direction, Some(CrossingDirection::Up));

    // The area changes shape: its open event ends on the next frame, and
    // the restarted rule finds the person inside again.
    let moved = Area { coordinates: rect(0.3, 0.3, 0.7, 0.8), ..a.clone() };
    set(&mut e, &config(vec![moved.clone()], vec![l.clone()]));
    let got = run(&mut e, 40..45);
    assert_eq!(
        brief(&got),
        vec![(ev::INTRUSION_END, t(40), Some(1)), (ev::INTRUSION, t(42), Some(1))]
    );
    assert_eq!(got[0].event_duration_ms, Some(t(40)));

    // Deleting the area ends its open event; deleting the line stops its
    // crossings (the walk crosses again down in frame 45 and up in 55).
    set(&mut e, &config(vec![], vec![]));
    let got = run(&mut e, 45..70);
    assert_eq!(brief(&got), vec![(ev::INTRUSION_END, t(45), Some(1))]);
    assert_eq!(got[0].event_duration_ms, Some(t(45) - t(40)));
    assert_eq!(e.stats(), vec![]);
    assert_paired("live changes", &events);
}

#[test]
fn the_same_input_gives_the_same_events() {
    let rules = || {
        (
            vec![
                area(AreaRule::Intrusion { classes: all() }, &square()),
                area(AreaRule::Crowding { classes: all(), object_count: 2, seconds: 0 }, &square()),
                area(AreaRule::Occupancy { classes: all() }, &square()),
            ],
            vec![horizontal(LineRule::Counting, Direction::Both)],
        )
    };
    let script = walk_through(&person(1))
        .walk(&person(2), p(0.5, 0.31), p(0.5, 0.71), 5, 21)
        .walk(&person(3), p(0.4, 0.71), p(0.4, 0.31), 30, 21)
        .until(80);
    let strip = |events: Vec<AnalyticsEvent>| -> Vec<AnalyticsEvent> {
        events
            .into_iter()
            .map(|e| AnalyticsEvent { event_id: Uuid::nil(), rule_id: String::new(), ..e })
            .collect()
    };
    let (a1, l1) = rules();
    let first = strip(script.run(&mut engine(a1, l1, &Setup::default())));
    let (a2, l2) = rules();
    let second = strip(script.run(&mut engine(a2, l2, &Setup::default())));
    assert!(first.len() >= 8, "{first:?}");
    assert_eq!(first, second);
}

#[test]
fn stats_count_start_events_and_objects_inside() {
    let areas = vec![
        area(AreaRule::Intrusion { classes: all() }, &square()),
        area(AreaRule::Intrusion { classes: vec![ObjectClass::Vehicle] }, &square()),
    ];
    let mut e = engine(areas.clone(), vec![], &Setup::default());
    let script = walk_through(&person(1)).stay(&person(2), IN, 0, 30);
    for k in 0..=30 {
        script.run_frame(&mut e, k);
    }
    let got: Vec<_> =
        e.stats().into_iter().map(|s| (s.id, s.active, s.event_count, s.current_count)).collect();
    assert_eq!(
        got,
        vec![(areas[0].id.clone(), true, 2, Some(2)), (areas[1].id.clone(), true, 0, Some(0))]
    );
    for k in 31..=script.last_frame() {
        script.run_frame(&mut e, k);
    }
    // Ends do not count; person 2 is gone (lost), person 1 walked out.
    let s = &e.stats()[0];
    assert_eq!((s.event_count, s.current_count), (2, Some(0)));
}

#[test]
fn movement_thresholds_follow_sensitivity() {
    assert!(movement_threshold(Sensitivity::High) < movement_threshold(Sensitivity::Medium));
    assert!(movement_threshold(Sensitivity::Medium) < movement_threshold(Sensitivity::Low));
    // A 0.03 step is movement at High and Medium, not at Low.
    for (s, want) in [(Sensitivity::High, 1), (Sensitivity::Medium, 1), (Sensitivity::Low, 0)] {
        let mut e = RuleEngine::new(EngineOptions::default());
        let config = SecurtConfig {
            areas: vec![area(AreaRule::Intrusion { classes: all() }, &square())],
            ..SecurtConfig::default()
        };
        e.set_config(&config, DetectorMode::SmartDetection, s);
        let script = Script::new().stay(&person(1), IN, 0, 5).stay(&person(1), p(0.53, 0.5), 5, 10);
        let starts = script.run(&mut e).iter().filter(|e| e.event_type == ev::INTRUSION).count();
        assert_eq!(starts, want, "{s:?}");
    }
}

/// What `track` updates list in `events`: every open event a track takes part
/// in, its own and group ones, for exactly as long as the event is open.
#[test]
fn open_events_list_each_track_in_its_open_events() {
    let crowd = area(AreaRule::Crowding { classes: all(), object_count: 2, seconds: 0 }, &square());
    let intrusion = area(AreaRule::Intrusion { classes: all() }, &square());
    let mut e = engine(vec![crowd, intrusion], vec![], &Setup::default());
    // Person 1 inside from frame 0; person 2 joins in frames 10-29; person 3
    // stays outside throughout.
    let script = Script::new()
        .stay(&person(1), IN, 0, 50)
        .stay(&person(2), OUT, 0, 10)
        .stay(&person(2), p(0.45, 0.5), 10, 20)
        .stay(&person(2), OUT, 30, 20)
        .stay(&person(3), OUT_RIGHT, 0, 50);
    let mut crowd_id = None;
    let mut intrusion_of_1 = None;
    for k in 0..50 {
        for ev in script.run_frame(&mut e, k) {
            match ev.event_type {
                ev::CROWD => crowd_id = Some(ev.event_id),
                ev::INTRUSION if ev.tracking_id == Some(1) => intrusion_of_1 = Some(ev.event_id),
                _ => {}
            }
        }
        let open = e.open_events();
        let of = |tid: u64| open.get(&tid).cloned().unwrap_or_default();
        assert!(of(3).is_empty(), "frame {k}: person 3 is never inside: {:?}", of(3));
        // The crowd opens in frame 14 and ends in frame 34 (see `crowding`).
        let crowd_open = (14..34).contains(&k);
        let crowd = crowd_id.filter(|_| crowd_open);
        assert_eq!(of(1).contains(&crowd_id.unwrap_or_default()), crowd.is_some(), "frame {k}");
        // Person 2 is accepted outside again in frame 32; the crowd's end
        // is debounced until frame 34, without person 2 in it.
        if let Some(c) = crowd {
            assert_eq!(of(2).contains(&c), k < 32, "frame {k}: person 2: {:?}", of(2));
        }
        if k >= 2 {
            // Person 1's own intrusion is open throughout, beside the crowd.
            let own = intrusion_of_1.expect("person 1 intruded by frame 2");
            assert!(of(1).contains(&own), "frame {k}: {:?}", of(1));
        }
    }
    assert!(crowd_id.is_some(), "no crowd event");
}

/// A stop ends every open event at the last frame, with its duration, and
/// leaves nothing open for the next run.
#[test]
fn close_all_ends_open_events() {
    let intrusion = area(AreaRule::Intrusion { classes: all() }, &square());
    let mut e = engine(vec![intrusion], vec![], &Setup::default());
    let script = Script::new().stay(&person(1), IN, 0, 20);
    let started: Vec<_> =
        script.run(&mut e).into_iter().filter(|e| e.event_type == ev::INTRUSION).collect();
    assert_eq!(started.len(), 1);
    let ends = e.close_all(t(19));
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!((ends[0].event_type, ends[0].event_id), (ev::INTRUSION_END, started[0].event_id));
    // Durations run from the onset (frame 0), not from the frame that
    // decided the start (see the module notes on inertia).
    assert_eq!(ends[0].event_duration_ms, Some(t(19)));
    assert!(e.open_events().is_empty());
    assert!(e.close_all(t(20)).is_empty(), "nothing is ended twice");
}
