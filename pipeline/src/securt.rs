//! SecuRT's analytics entities: areas, lines (tripwires), the motion area,
//! exclusion areas and appearance search, as stored in an instance's config
//! tree (pure: no I/O).
//!
//! Everything lives under the `SecuRT` node of the config tree, so it
//! persists with the instance and shows in `GET .../config`:
//!
//! - `SecuRT/areas/<id>`: one area, in the JSON form `GET .../areas` returns
//!   (`id`, `type`, `name`, `coordinates`, `color`, and the type's options);
//! - `SecuRT/lines/<id>`: one line, likewise;
//!
//! Ids are strings the caller chooses (see [`EntityKind::check_id`]), or
//! UUIDs the server generates; areas and lines are separate namespaces, as
//! in RT, so an area and a line may share an id.
//! - `SecuRT/motionArea`: a polygon (empty = the whole frame);
//! - `SecuRT/exclusionAreas`: a list of polygons;
//! - `SecuRT/appearanceSearch`: `Off`, `Person`, `Vehicle` or `Both`.
//!
//! [`SecurtConfig::from_tree`] reads and validates all of it; a write that
//! would leave an invalid entity is refused with the offending field named.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::config_tree::describe;
use crate::error::{Error, Result};

/// The config tree node that holds SecuRT's entities.
pub const ROOT: &str = "SecuRT";

/// RT's object classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectClass {
    Person,
    Vehicle,
    Animal,
    Face,
    Unknown,
}

impl ObjectClass {
    pub const ALL: [ObjectClass; 5] = [
        ObjectClass::Person,
        ObjectClass::Vehicle,
        ObjectClass::Animal,
        ObjectClass::Face,
        ObjectClass::Unknown,
    ];
}

/// A normalised image point: 0..1, origin top-left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// RGBA, each 0..1.
pub type Color = [f64; 4];

/// Opaque red: the colour of an entity created without one.
pub const DEFAULT_COLOR: Color = [1.0, 0.0, 0.0, 1.0];

/// Which boundary crossings of a `crossing` area fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AreaEvent {
    Enter,
    Exit,
    #[default]
    Both,
}

/// Which crossings of a line fire. For a line drawn from its first point to
/// its second, `Up` is moving to the side on the left of that walk (for a
/// line drawn left to right: towards the top of the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Direction {
    Up,
    Down,
    #[default]
    Both,
}

/// What an area does, with the options of its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AreaRule {
    /// An object is inside.
    #[serde(rename = "AreaIntrusion")]
    Intrusion { classes: Vec<ObjectClass> },
    /// An object enters and/or leaves.
    #[serde(rename = "AreaCrossing", rename_all = "camelCase")]
    Crossing { classes: Vec<ObjectClass>, ignore_stationary_objects: bool, area_event: AreaEvent },
    /// One object stays inside for `seconds`.
    #[serde(rename = "AreaLoitering")]
    Loitering { classes: Vec<ObjectClass>, seconds: u32 },
    /// At least `objectCount` objects inside (for `seconds`, if not 0).
    #[serde(rename = "AreaCrowding", rename_all = "camelCase")]
    Crowding { classes: Vec<ObjectClass>, object_count: u32, seconds: u32 },
    /// The count of objects inside changes.
    #[serde(rename = "AreaOccupancy")]
    Occupancy { classes: Vec<ObjectClass> },
    /// Crowd size estimation (needs a crowd model).
    #[serde(rename = "AreaCrowdEstimation")]
    CrowdEstimation,
    /// An object that stayed at least `seconds` leaves.
    #[serde(rename = "AreaDwelling")]
    Dwelling { classes: Vec<ObjectClass>, seconds: u32 },
    /// A new stationary object stays for `seconds` with nobody near it.
    #[serde(rename = "AreaObjectLeft")]
    ObjectLeft { seconds: u32 },
    /// A stationary object is gone for `seconds`.
    #[serde(rename = "AreaObjectRemoved")]
    ObjectRemoved { seconds: u32 },
    /// A person's box stays wider than tall.
    #[serde(rename = "AreaFallenPerson")]
    FallenPerson,
    /// An armed person (needs a weapon model).
    #[serde(rename = "AreaArmedPerson")]
    ArmedPerson,
    /// Licence plates (needs a plate model and OCR).
    #[serde(rename = "AreaAlpr")]
    Alpr,
}

/// An area: a closed polygon and a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub id: String,
    pub name: String,
    pub coordinates: Vec<Point>,
    pub color: Color,
    #[serde(flatten)]
    pub rule: AreaRule,
}

/// What a line does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LineRule {
    /// One event per crossing.
    #[serde(rename = "LineCrossing")]
    Crossing,
    /// Crossings, with in/out totals per class.
    #[serde(rename = "LineCounting")]
    Counting,
    /// Two different objects cross in the same direction within `seconds`.
    #[serde(rename = "LineTailgating")]
    Tailgating { seconds: u32 },
}

/// A line (tripwire): a segment from `coordinates[0]` to `coordinates[1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub id: String,
    pub name: String,
    pub coordinates: [Point; 2],
    pub color: Color,
    pub classes: Vec<ObjectClass>,
    pub direction: Direction,
    #[serde(flatten)]
    pub rule: LineRule,
}

/// The area types, by their path segment in `/area/<type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AreaKind {
    Intrusion,
    Crossing,
    Loitering,
    Crowding,
    Occupancy,
    CrowdEstimation,
    Dwelling,
    ObjectLeft,
    ObjectRemoved,
    FallenPerson,
    ArmedPerson,
    Alpr,
}

impl AreaKind {
    pub const ALL: [AreaKind; 12] = [
        AreaKind::Intrusion,
        AreaKind::Crossing,
        AreaKind::Loitering,
        AreaKind::Crowding,
        AreaKind::Occupancy,
        AreaKind::CrowdEstimation,
        AreaKind::Dwelling,
        AreaKind::ObjectLeft,
        AreaKind::ObjectRemoved,
        AreaKind::FallenPerson,
        AreaKind::ArmedPerson,
        AreaKind::Alpr,
    ];

    /// The path segment (`intrusion`, `crowd_estimation`, ...).
    pub fn segment(self) -> &'static str {
        match self {
            AreaKind::Intrusion => "intrusion",
            AreaKind::Crossing => "crossing",
            AreaKind::Loitering => "loitering",
            AreaKind::Crowding => "crowding",
            AreaKind::Occupancy => "occupancy",
            AreaKind::CrowdEstimation => "crowd_estimation",
            AreaKind::Dwelling => "dwelling",
            AreaKind::ObjectLeft => "object_left",
            AreaKind::ObjectRemoved => "object_removed",
            AreaKind::FallenPerson => "fallen_person",
            AreaKind::ArmedPerson => "armed_person",
            AreaKind::Alpr => "alpr",
        }
    }

    pub fn from_segment(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.segment() == s)
    }

    /// RT's `AnalyticsType` name (the `type` of a stored area).
    pub fn type_name(self) -> &'static str {
        match self {
            AreaKind::Intrusion => "AreaIntrusion",
            AreaKind::Crossing => "AreaCrossing",
            AreaKind::Loitering => "AreaLoitering",
            AreaKind::Crowding => "AreaCrowding",
            AreaKind::Occupancy => "AreaOccupancy",
            AreaKind::CrowdEstimation => "AreaCrowdEstimation",
            AreaKind::Dwelling => "AreaDwelling",
            AreaKind::ObjectLeft => "AreaObjectLeft",
            AreaKind::ObjectRemoved => "AreaObjectRemoved",
            AreaKind::FallenPerson => "AreaFallenPerson",
            AreaKind::ArmedPerson => "AreaArmedPerson",
            AreaKind::Alpr => "AreaAlpr",
        }
    }

    /// The kind of a stored rule.
    pub fn of(rule: &AreaRule) -> Self {
        match rule {
            AreaRule::Intrusion { .. } => AreaKind::Intrusion,
            AreaRule::Crossing { .. } => AreaKind::Crossing,
            AreaRule::Loitering { .. } => AreaKind::Loitering,
            AreaRule::Crowding { .. } => AreaKind::Crowding,
            AreaRule::Occupancy { .. } => AreaKind::Occupancy,
            AreaRule::CrowdEstimation => AreaKind::CrowdEstimation,
            AreaRule::Dwelling { .. } => AreaKind::Dwelling,
            AreaRule::ObjectLeft { .. } => AreaKind::ObjectLeft,
            AreaRule::ObjectRemoved { .. } => AreaKind::ObjectRemoved,
            AreaRule::FallenPerson => AreaKind::FallenPerson,
            AreaRule::ArmedPerson => AreaKind::ArmedPerson,
            AreaRule::Alpr => AreaKind::Alpr,
        }
    }

    fn takes_classes(self) -> bool {
        matches!(
            self,
            AreaKind::Intrusion
                | AreaKind::Crossing
                | AreaKind::Loitering
                | AreaKind::Crowding
                | AreaKind::Occupancy
                | AreaKind::Dwelling
        )
    }

    /// Default `seconds` for the types that have it.
    fn default_seconds(self) -> Option<u32> {
        match self {
            AreaKind::Loitering => Some(120),
            AreaKind::Dwelling => Some(60),
            AreaKind::ObjectLeft => Some(30),
            AreaKind::ObjectRemoved => Some(4),
            AreaKind::Crowding => Some(0),
            _ => None,
        }
    }
}

/// The line types, by their path segment in `/line/<type>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    Crossing,
    Counting,
    Tailgating,
}

impl LineKind {
    pub const ALL: [LineKind; 3] = [LineKind::Crossing, LineKind::Counting, LineKind::Tailgating];

    pub fn segment(self) -> &'static str {
        match self {
            LineKind::Crossing => "crossing",
            LineKind::Counting => "counting",
            LineKind::Tailgating => "tailgating",
        }
    }

    pub fn from_segment(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.segment() == s)
    }

    /// RT's `AnalyticsType` name (the `type` of a stored line).
    pub fn type_name(self) -> &'static str {
        match self {
            LineKind::Crossing => "LineCrossing",
            LineKind::Counting => "LineCounting",
            LineKind::Tailgating => "LineTailgating",
        }
    }

    pub fn of(rule: &LineRule) -> Self {
        match rule {
            LineRule::Crossing => LineKind::Crossing,
            LineRule::Counting => LineKind::Counting,
            LineRule::Tailgating { .. } => LineKind::Tailgating,
        }
    }
}

/// Areas or lines: the two id namespaces of a SecuRT instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Area,
    Line,
}

/// The longest id a caller may choose, in characters.
pub const MAX_ID_CHARS: usize = 128;

impl EntityKind {
    /// `area` or `line`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Area => "area",
            EntityKind::Line => "line",
        }
    }

    /// The path parameter that carries a caller-chosen id.
    pub fn id_field(self) -> &'static str {
        match self {
            EntityKind::Area => "areaId",
            EntityKind::Line => "lineId",
        }
    }

    /// The node under [`ROOT`] that holds them.
    pub fn node(self) -> &'static str {
        match self {
            EntityKind::Area => "areas",
            EntityKind::Line => "lines",
        }
    }

    /// The tree path of the entity `id`, for writing it.
    pub fn path(self, id: &str) -> String {
        format!("{ROOT}/{}/{id}", self.node())
    }

    /// Checks an id a caller chose: 1 to [`MAX_ID_CHARS`] characters, no
    /// `/` (it would split the entity's tree path and its URL). The error
    /// names `field`.
    pub fn check_id(field: &str, id: &str) -> Result<()> {
        let chars = id.chars().count();
        if chars == 0 {
            return Err(Error::invalid(field, "must not be empty"));
        }
        if chars > MAX_ID_CHARS {
            return Err(Error::invalid(
                field,
                format!("is {chars} characters long; at most {MAX_ID_CHARS} are allowed"),
            ));
        }
        if id.contains('/') {
            return Err(Error::invalid(
                field,
                format!("'{id}' contains '/', which an id cannot hold"),
            ));
        }
        Ok(())
    }

    /// The id a create uses: the caller's, checked, or a new UUID.
    pub fn new_id(self, chosen: Option<String>) -> Result<String> {
        match chosen {
            Some(id) => Self::check_id(self.id_field(), &id).map(|()| id),
            None => Ok(Uuid::new_v4().to_string()),
        }
    }
}

/// A create request for an area or a line: every option any type takes.
/// Which ones apply, and their defaults, depend on the type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityWrite {
    pub name: Option<String>,
    pub coordinates: Vec<Point>,
    pub color: Option<Vec<f64>>,
    pub classes: Option<Vec<ObjectClass>>,
    pub area_event: Option<AreaEvent>,
    pub ignore_stationary_objects: Option<bool>,
    pub seconds: Option<i64>,
    pub object_count: Option<i64>,
    pub direction: Option<Direction>,
}

impl EntityWrite {
    /// Builds an area of `kind`, applying the type's defaults. Options that
    /// the type does not take are refused, so a client learns that they
    /// have no effect.
    pub fn into_area(self, id: String, kind: AreaKind) -> Result<Area> {
        let t = kind.segment();
        check_polygon("coordinates", &self.coordinates)?;
        let color = check_color(self.color.as_deref())?;
        if !kind.takes_classes() && self.classes.is_some() {
            return Err(Error::invalid("classes", format!("{t} areas take no classes")));
        }
        let classes = check_classes(self.classes)?;
        let not_for = |field: &str, set: bool| -> Result<()> {
            if set {
                Err(Error::invalid(field, format!("does not apply to {t} areas")))
            } else {
                Ok(())
            }
        };
        if kind != AreaKind::Crossing {
            not_for("areaEvent", self.area_event.is_some())?;
            not_for("ignoreStationaryObjects", self.ignore_stationary_objects.is_some())?;
        }
        if kind != AreaKind::Crowding {
            not_for("objectCount", self.object_count.is_some())?;
        }
        not_for("direction", self.direction.is_some())?;
        let seconds = match kind.default_seconds() {
            Some(d) => count("seconds", self.seconds, d)?,
            None => {
                not_for("seconds", self.seconds.is_some())?;
                0
            }
        };
        let rule = match kind {
            AreaKind::Intrusion => AreaRule::Intrusion { classes },
            AreaKind::Crossing => AreaRule::Crossing {
                classes,
                ignore_stationary_objects: self.ignore_stationary_objects.unwrap_or(false),
                area_event: self.area_event.unwrap_or_default(),
            },
            AreaKind::Loitering => AreaRule::Loitering { classes, seconds },
            AreaKind::Crowding => {
                let object_count = count("objectCount", self.object_count, 5)?;
                if object_count == 0 {
                    return Err(Error::invalid("objectCount", "must be at least 1"));
                }
                AreaRule::Crowding { classes, object_count, seconds }
            }
            AreaKind::Occupancy => AreaRule::Occupancy { classes },
            AreaKind::CrowdEstimation => AreaRule::CrowdEstimation,
            AreaKind::Dwelling => AreaRule::Dwelling { classes, seconds },
            AreaKind::ObjectLeft => AreaRule::ObjectLeft { seconds },
            AreaKind::ObjectRemoved => AreaRule::ObjectRemoved { seconds },
            AreaKind::FallenPerson => AreaRule::FallenPerson,
            AreaKind::ArmedPerson => AreaRule::ArmedPerson,
            AreaKind::Alpr => AreaRule::Alpr,
        };
        Ok(Area {
            id,
            name: self.name.unwrap_or_default(),
            coordinates: self.coordinates,
            color,
            rule,
        })
    }

    /// Builds a line of `kind`, applying the type's defaults.
    pub fn into_line(self, id: String, kind: LineKind) -> Result<Line> {
        let t = kind.segment();
        let coordinates = check_segment("coordinates", &self.coordinates)?;
        let color = check_color(self.color.as_deref())?;
        let classes = check_classes(self.classes)?;
        for (field, set) in [
            ("areaEvent", self.area_event.is_some()),
            ("ignoreStationaryObjects", self.ignore_stationary_objects.is_some()),
            ("objectCount", self.object_count.is_some()),
            ("seconds", self.seconds.is_some() && kind != LineKind::Tailgating),
        ] {
            if set {
                return Err(Error::invalid(field, format!("does not apply to {t} lines")));
            }
        }
        let rule = match kind {
            LineKind::Crossing => LineRule::Crossing,
            LineKind::Counting => LineRule::Counting,
            LineKind::Tailgating => {
                LineRule::Tailgating { seconds: count("seconds", self.seconds, 3)? }
            }
        };
        Ok(Line {
            id,
            name: self.name.unwrap_or_default(),
            coordinates,
            color,
            classes,
            direction: self.direction.unwrap_or_default(),
            rule,
        })
    }
}

fn check_point(field: &str, i: usize, p: &Point) -> Result<()> {
    for (axis, v) in [("x", p.x), ("y", p.y)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::invalid(
                format!("{field}[{i}].{axis}"),
                format!("{v} is outside [0, 1] (coordinates are normalised to the image)"),
            ));
        }
    }
    Ok(())
}

/// A polygon: at least 3 points, each inside the image.
pub fn check_polygon(field: &str, points: &[Point]) -> Result<()> {
    if points.len() < 3 {
        return Err(Error::invalid(
            field,
            format!("an area needs at least 3 points, got {}", points.len()),
        ));
    }
    points.iter().enumerate().try_for_each(|(i, p)| check_point(field, i, p))
}

fn check_segment(field: &str, points: &[Point]) -> Result<[Point; 2]> {
    let [a, b] = points else {
        return Err(Error::invalid(
            field,
            format!("a line needs exactly 2 points, got {}", points.len()),
        ));
    };
    check_point(field, 0, a)?;
    check_point(field, 1, b)?;
    if a == b {
        return Err(Error::invalid(field, "the two points of a line must differ"));
    }
    Ok([*a, *b])
}

fn check_color(color: Option<&[f64]>) -> Result<Color> {
    let Some(c) = color else { return Ok(DEFAULT_COLOR) };
    let Ok(rgba) = <Color>::try_from(c) else {
        return Err(Error::invalid("color", format!("must be 4 numbers (RGBA), got {}", c.len())));
    };
    if let Some(v) = rgba.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(Error::invalid(
            "color",
            format!("{v} is outside [0, 1] (RGBA components are 0.0-1.0)"),
        ));
    }
    Ok(rgba)
}

/// `None` means every class; an empty list is refused (it would never fire).
fn check_classes(classes: Option<Vec<ObjectClass>>) -> Result<Vec<ObjectClass>> {
    match classes {
        None => Ok(ObjectClass::ALL.to_vec()),
        Some(c) if c.is_empty() => Err(Error::invalid(
            "classes",
            "must name at least one class (leave it out for every class)",
        )),
        Some(mut c) => {
            c.sort();
            c.dedup();
            Ok(c)
        }
    }
}

/// The largest `seconds` or `objectCount`: the wire form of both is an
/// int32 (RT's SDK model), so a larger stored value could not be read back.
const MAX_COUNT: u32 = i32::MAX as u32;

fn count(field: &str, value: Option<i64>, default: u32) -> Result<u32> {
    match value {
        None => Ok(default),
        Some(v) => u32::try_from(v).ok().filter(|v| *v <= MAX_COUNT).ok_or_else(|| {
            Error::invalid(field, format!("{v} is not allowed: must be between 0 and {MAX_COUNT}"))
        }),
    }
}

/// The counts of a stored rule, by wire field name.
fn rule_counts(rule: &AreaRule) -> Vec<(&'static str, u32)> {
    match *rule {
        AreaRule::Loitering { seconds, .. }
        | AreaRule::Dwelling { seconds, .. }
        | AreaRule::ObjectLeft { seconds }
        | AreaRule::ObjectRemoved { seconds } => vec![("seconds", seconds)],
        AreaRule::Crowding { object_count, seconds, .. } => {
            vec![("objectCount", object_count), ("seconds", seconds)]
        }
        AreaRule::Intrusion { .. }
        | AreaRule::Crossing { .. }
        | AreaRule::Occupancy { .. }
        | AreaRule::CrowdEstimation
        | AreaRule::FallenPerson
        | AreaRule::ArmedPerson
        | AreaRule::Alpr => Vec::new(),
    }
}

/// Counts written straight into the tree (`POST .../config`) get the same
/// bound as those of the typed endpoints.
fn check_counts(at: &str, counts: &[(&'static str, u32)]) -> Result<()> {
    match counts.iter().find(|(_, v)| *v > MAX_COUNT) {
        Some((field, v)) => Err(Error::invalid(
            format!("{at}/{field}"),
            format!("{v} is not allowed: must be between 0 and {MAX_COUNT}"),
        )),
        None => Ok(()),
    }
}

/// Appearance search modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AppearanceSearch {
    #[default]
    Off,
    Person,
    Vehicle,
    Both,
}

/// Everything SecuRT keeps in one instance's config tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecurtConfig {
    /// In the order of their ids in the tree.
    pub areas: Vec<Area>,
    pub lines: Vec<Line>,
    /// Empty: the whole frame.
    pub motion_area: Vec<Point>,
    pub exclusion_areas: Vec<Vec<Point>>,
    pub appearance_search: AppearanceSearch,
}

impl SecurtConfig {
    /// Reads and validates the `SecuRT` node of a config tree (absent: an
    /// empty configuration).
    pub fn from_tree(tree: &Map<String, Value>) -> Result<Self> {
        let mut out = SecurtConfig::default();
        let Some(node) = tree.get(ROOT) else { return Ok(out) };
        let Some(node) = node.as_object() else {
            return Err(Error::invalid(ROOT, format!("must be an object, not {}", describe(node))));
        };
        for (key, value) in object(node, EntityKind::Area.node())? {
            let at = EntityKind::Area.path(key);
            let area: Area = entity(&at, key, value)?;
            check_polygon(&format!("{at}/coordinates"), &area.coordinates)?;
            check_counts(&at, &rule_counts(&area.rule))?;
            out.areas.push(area);
        }
        for (key, value) in object(node, EntityKind::Line.node())? {
            let at = EntityKind::Line.path(key);
            let line: Line = entity(&at, key, value)?;
            check_segment(&format!("{at}/coordinates"), &line.coordinates)?;
            if let LineRule::Tailgating { seconds } = line.rule {
                check_counts(&at, &[("seconds", seconds)])?;
            }
            out.lines.push(line);
        }
        if let Some(v) = node.get("motionArea") {
            let at = format!("{ROOT}/motionArea");
            out.motion_area = parse(&at, v)?;
            if !out.motion_area.is_empty() {
                check_polygon(&at, &out.motion_area)?;
            }
        }
        if let Some(v) = node.get("exclusionAreas") {
            let at = format!("{ROOT}/exclusionAreas");
            out.exclusion_areas = parse(&at, v)?;
            for (i, poly) in out.exclusion_areas.iter().enumerate() {
                check_polygon(&format!("{at}[{i}]"), poly)?;
            }
        }
        if let Some(v) = node.get("appearanceSearch") {
            out.appearance_search = parse(&format!("{ROOT}/appearanceSearch"), v)?;
        }
        Ok(out)
    }

    pub fn area(&self, id: &str) -> Option<&Area> {
        self.areas.iter().find(|a| a.id == id)
    }

    pub fn line(&self, id: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.id == id)
    }

    /// Whether an area (or a line: a separate namespace) has this id.
    pub fn has(&self, kind: EntityKind, id: &str) -> bool {
        match kind {
            EntityKind::Area => self.area(id).is_some(),
            EntityKind::Line => self.line(id).is_some(),
        }
    }
}

fn object<'a>(node: &'a Map<String, Value>, key: &str) -> Result<Vec<(&'a String, &'a Value)>> {
    match node.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Object(m)) => Ok(m.iter().collect()),
        Some(other) => Err(Error::invalid(
            format!("{ROOT}/{key}"),
            format!("must be an object, not {}", describe(other)),
        )),
    }
}

fn parse<T: serde::de::DeserializeOwned>(at: &str, v: &Value) -> Result<T> {
    serde_json::from_value(v.clone()).map_err(|e| Error::invalid(at, format!("invalid: {e}")))
}

/// An entity stored under `key`: the key is an id a caller could have
/// chosen (a `POST .../config` can write any key), and the entity's `id`
/// repeats it.
fn entity<T: serde::de::DeserializeOwned + HasId>(at: &str, key: &str, v: &Value) -> Result<T> {
    EntityKind::check_id(at, key)?;
    let e: T = parse(at, v)?;
    if e.id() != key {
        return Err(Error::invalid(format!("{at}/id"), format!("must equal the key {key}")));
    }
    Ok(e)
}

trait HasId {
    fn id(&self) -> &str;
}
impl HasId for Area {
    fn id(&self) -> &str {
        &self.id
    }
}
impl HasId for Line {
    fn id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pts(v: &[(f64, f64)]) -> Vec<Point> {
        v.iter().map(|&(x, y)| Point { x, y }).collect()
    }

    fn square() -> Vec<Point> {
        pts(&[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)])
    }

    #[test]
    fn areas_get_their_type_defaults_and_round_trip_through_json() {
        for kind in AreaKind::ALL {
            let w = EntityWrite { coordinates: square(), ..Default::default() };
            let area = w.into_area(Uuid::new_v4().to_string(), kind).unwrap();
            assert_eq!(AreaKind::of(&area.rule), kind);
            let v = serde_json::to_value(&area).unwrap();
            assert_eq!(v["type"], kind.type_name(), "{v}");
            let back: Area = serde_json::from_value(v).unwrap();
            assert_eq!(back, area);
        }
        let w = EntityWrite { coordinates: square(), ..Default::default() };
        let v = serde_json::to_value(w.into_area("bench".into(), AreaKind::Loitering).unwrap())
            .unwrap();
        assert_eq!(v["seconds"], 120);
        assert_eq!(v["classes"], json!(["Person", "Vehicle", "Animal", "Face", "Unknown"]));
        assert_eq!(v["color"], json!([1.0, 0.0, 0.0, 1.0]));
    }

    #[test]
    fn lines_get_their_type_defaults_and_round_trip_through_json() {
        for kind in LineKind::ALL {
            let w =
                EntityWrite { coordinates: pts(&[(0.0, 0.5), (1.0, 0.5)]), ..Default::default() };
            let line = w.into_line(Uuid::new_v4().to_string(), kind).unwrap();
            let v = serde_json::to_value(&line).unwrap();
            assert_eq!(v["direction"], "Both");
            assert_eq!(v["type"], kind.type_name());
            let back: Line = serde_json::from_value(v).unwrap();
            assert_eq!(back, line);
        }
    }

    #[test]
    fn invalid_writes_name_the_field() {
        let ok = || EntityWrite { coordinates: square(), ..Default::default() };
        let cases: Vec<(EntityWrite, AreaKind, &str)> = vec![
            (
                EntityWrite { coordinates: pts(&[(0.1, 0.1), (0.2, 0.2)]), ..ok() },
                AreaKind::Intrusion,
                "coordinates: an area needs at least 3 points, got 2",
            ),
            (
                EntityWrite { coordinates: pts(&[(0.1, 0.1), (1.2, 0.2), (0.3, 0.3)]), ..ok() },
                AreaKind::Intrusion,
                "coordinates[1].x: 1.2 is outside [0, 1]",
            ),
            (
                EntityWrite { coordinates: pts(&[(0.1, 0.1), (0.2, -0.1), (0.3, 0.3)]), ..ok() },
                AreaKind::Intrusion,
                "coordinates[1].y: -0.1 is outside",
            ),
            (
                EntityWrite { classes: Some(vec![]), ..ok() },
                AreaKind::Intrusion,
                "classes: must name at least one class",
            ),
            (
                EntityWrite { classes: Some(vec![ObjectClass::Person]), ..ok() },
                AreaKind::CrowdEstimation,
                "classes: crowd_estimation areas take no classes",
            ),
            (
                EntityWrite { seconds: Some(-1), ..ok() },
                AreaKind::Loitering,
                "seconds: -1 is not allowed",
            ),
            (
                EntityWrite { seconds: Some(2_147_483_648), ..ok() },
                AreaKind::Loitering,
                "seconds: 2147483648 is not allowed: must be between 0 and 2147483647",
            ),
            (
                EntityWrite { object_count: Some(4_294_967_295), ..ok() },
                AreaKind::Crowding,
                "objectCount: 4294967295 is not allowed",
            ),
            (
                EntityWrite { seconds: Some(5), ..ok() },
                AreaKind::Intrusion,
                "seconds: does not apply to intrusion areas",
            ),
            (
                EntityWrite { object_count: Some(-2), ..ok() },
                AreaKind::Crowding,
                "objectCount: -2 is not allowed",
            ),
            (
                EntityWrite { object_count: Some(0), ..ok() },
                AreaKind::Crowding,
                "objectCount: must be at least 1",
            ),
            (
                EntityWrite { object_count: Some(3), ..ok() },
                AreaKind::Intrusion,
                "objectCount: does not apply",
            ),
            (
                EntityWrite { area_event: Some(AreaEvent::Enter), ..ok() },
                AreaKind::Loitering,
                "areaEvent: does not apply",
            ),
            (
                EntityWrite { direction: Some(Direction::Up), ..ok() },
                AreaKind::Intrusion,
                "direction: does not apply",
            ),
            (
                EntityWrite { color: Some(vec![1.0, 0.0, 0.0]), ..ok() },
                AreaKind::Intrusion,
                "color: must be 4 numbers",
            ),
            (
                EntityWrite { color: Some(vec![255.0, 0.0, 0.0, 1.0]), ..ok() },
                AreaKind::Intrusion,
                "color: 255 is outside [0, 1]",
            ),
        ];
        for (w, kind, want) in cases {
            let err = w.into_area("a".into(), kind).unwrap_err().to_string();
            assert!(err.starts_with(want), "{kind:?}: {err}");
        }
        let line = |c: &[(f64, f64)]| EntityWrite { coordinates: pts(c), ..Default::default() };
        let line_cases: Vec<(EntityWrite, LineKind, &str)> = vec![
            (
                line(&[(0.1, 0.1)]),
                LineKind::Crossing,
                "coordinates: a line needs exactly 2 points, got 1",
            ),
            (
                line(&[(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)]),
                LineKind::Crossing,
                "coordinates: a line needs exactly 2 points, got 3",
            ),
            (
                line(&[(0.1, 0.1), (0.1, 0.1)]),
                LineKind::Crossing,
                "coordinates: the two points of a line must differ",
            ),
            (line(&[(0.1, 0.1), (0.5, 2.0)]), LineKind::Counting, "coordinates[1].y: 2 is outside"),
            (
                EntityWrite { seconds: Some(2), ..line(&[(0.1, 0.1), (0.5, 0.5)]) },
                LineKind::Crossing,
                "seconds: does not apply to crossing lines",
            ),
            (
                EntityWrite { seconds: Some(-2), ..line(&[(0.1, 0.1), (0.5, 0.5)]) },
                LineKind::Tailgating,
                "seconds: -2 is not allowed",
            ),
            (
                EntityWrite { seconds: Some(1 << 31), ..line(&[(0.1, 0.1), (0.5, 0.5)]) },
                LineKind::Tailgating,
                "seconds: 2147483648 is not allowed",
            ),
        ];
        for (w, kind, want) in line_cases {
            let err = w.into_line("l".into(), kind).unwrap_err().to_string();
            assert!(err.starts_with(want), "{kind:?}: {err}");
        }
    }

    #[test]
    fn the_tree_node_is_validated() {
        let id = Uuid::new_v4();
        let area = EntityWrite { coordinates: square(), ..Default::default() }
            .into_area(id.to_string(), AreaKind::Intrusion)
            .unwrap();
        let good = json!({"SecuRT": {"areas": {id.to_string(): area}, "motionArea": [], "appearanceSearch": "Person"}});
        let cfg = SecurtConfig::from_tree(good.as_object().unwrap()).unwrap();
        assert_eq!(cfg.areas, vec![area.clone()]);
        assert_eq!(cfg.appearance_search, AppearanceSearch::Person);
        let mut two_points = serde_json::to_value(&area).unwrap();
        two_points["coordinates"] = json!([{"x": 0.1, "y": 0.1}, {"x": 0.2, "y": 0.2}]);
        let loitering = EntityWrite { coordinates: square(), ..Default::default() }
            .into_area(id.to_string(), AreaKind::Loitering)
            .unwrap();
        let mut too_long = serde_json::to_value(&loitering).unwrap();
        too_long["seconds"] = json!(2_147_483_648_u32);
        let other = Uuid::new_v4();
        let bad = [
            (json!({"SecuRT": 1}), "SecuRT: must be an object"),
            (json!({"SecuRT": {"areas": []}}), "SecuRT/areas: must be an object"),
            (json!({"SecuRT": {"areas": {id.to_string(): {"type": "AreaNope"}}}}), "invalid"),
            (
                json!({"SecuRT": {"areas": {id.to_string(): two_points}}}),
                "/coordinates: an area needs at least 3 points",
            ),
            (json!({"SecuRT": {"areas": {other.to_string(): area}}}), "/id: must equal the key"),
            (
                json!({"SecuRT": {"motionArea": [{"x": 0.1, "y": 0.1}]}}),
                "SecuRT/motionArea: an area needs at least 3 points",
            ),
            (
                json!({"SecuRT": {"exclusionAreas": [[{"x": 0.1, "y": 0.1}]]}}),
                "SecuRT/exclusionAreas[0]",
            ),
            (json!({"SecuRT": {"appearanceSearch": "Cats"}}), "SecuRT/appearanceSearch: invalid"),
            (
                json!({"SecuRT": {"areas": {id.to_string(): too_long}}}),
                "/seconds: 2147483648 is not allowed",
            ),
        ];
        for (t, want) in bad {
            let err = SecurtConfig::from_tree(t.as_object().unwrap()).unwrap_err().to_string();
            assert!(err.contains(want), "{t}: {err}");
        }
    }

    #[test]
    fn caller_chosen_ids_are_1_to_128_characters_without_a_slash() {
        let ok =
            ["area_id", "intrusion", "a", "Zone 1 (north)", &"x".repeat(128), &"é".repeat(128)];
        for id in ok {
            EntityKind::check_id("areaId", id).unwrap_or_else(|e| panic!("{id:?}: {e}"));
        }
        let bad = [
            (String::new(), "areaId: must not be empty"),
            ("x".repeat(129), "areaId: is 129 characters long; at most 128 are allowed"),
            ("é".repeat(129), "areaId: is 129 characters long"),
            ("a/b".into(), "areaId: 'a/b' contains '/', which an id cannot hold"),
            ("/".into(), "areaId: '/' contains '/'"),
        ];
        for (id, want) in bad {
            let err = EntityKind::check_id("areaId", &id).unwrap_err().to_string();
            assert!(err.starts_with(want), "{id:?}: {err}");
        }
        // A chosen id is kept; none gives a UUID; the field named is the kind's.
        assert_eq!(EntityKind::Line.new_id(Some("line_id".into())).unwrap(), "line_id");
        let generated = EntityKind::Area.new_id(None).unwrap();
        assert!(generated.parse::<Uuid>().is_ok(), "{generated}");
        let err = EntityKind::Line.new_id(Some(String::new())).unwrap_err().to_string();
        assert!(err.starts_with("lineId: must not be empty"), "{err}");
        assert_eq!(EntityKind::Area.path("area_id"), "SecuRT/areas/area_id");
    }

    #[test]
    fn areas_and_lines_are_separate_id_namespaces() {
        let area = EntityWrite { coordinates: square(), ..Default::default() }
            .into_area("shared".into(), AreaKind::Intrusion)
            .unwrap();
        let line =
            EntityWrite { coordinates: pts(&[(0.0, 0.5), (1.0, 0.5)]), ..Default::default() }
                .into_line("other".into(), LineKind::Crossing)
                .unwrap();
        let tree = json!({"SecuRT": {"areas": {"shared": area}, "lines": {"other": line}}});
        let cfg = SecurtConfig::from_tree(tree.as_object().unwrap()).unwrap();
        assert!(cfg.has(EntityKind::Area, "shared") && !cfg.has(EntityKind::Line, "shared"));
        assert!(cfg.has(EntityKind::Line, "other") && !cfg.has(EntityKind::Area, "other"));
    }

    /// Trees written when ids were UUIDs load unchanged; a key no caller
    /// could choose (written through `POST .../config`) is refused.
    #[test]
    fn stored_ids_old_and_new_are_read_and_checked() {
        let old = r#"{"SecuRT": {"areas": {"5b0e8c9e-7a1f-4a57-9a8e-0c1d2e3f4a5b": {
            "id": "5b0e8c9e-7a1f-4a57-9a8e-0c1d2e3f4a5b", "type": "AreaIntrusion", "name": "Fence",
            "coordinates": [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.1}, {"x": 0.9, "y": 0.9}],
            "color": [1.0, 0.0, 0.0, 1.0], "classes": ["Person"]}},
            "lines": {"5b0e8c9e-7a1f-4a57-9a8e-0c1d2e3f4a5b": {
            "id": "5b0e8c9e-7a1f-4a57-9a8e-0c1d2e3f4a5b", "type": "LineCrossing", "name": "",
            "coordinates": [{"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 0.5}],
            "color": [1.0, 0.0, 0.0, 1.0], "classes": ["Person"], "direction": "Both"}}},
            "Unknown": {"kept": true}}"#;
        let tree: Map<String, Value> = serde_json::from_str(old).unwrap();
        let cfg = SecurtConfig::from_tree(&tree).unwrap();
        assert_eq!(cfg.areas[0].id, "5b0e8c9e-7a1f-4a57-9a8e-0c1d2e3f4a5b");
        assert_eq!(cfg.lines[0].id, cfg.areas[0].id);
        let mut long = serde_json::to_value(&cfg.areas[0]).unwrap();
        long["id"] = json!("x".repeat(129));
        let bad = json!({"SecuRT": {"areas": {"x".repeat(129): long}}});
        let err = SecurtConfig::from_tree(bad.as_object().unwrap()).unwrap_err().to_string();
        assert!(err.contains("is 129 characters long"), "{err}");
        let mut slash = serde_json::to_value(&cfg.lines[0]).unwrap();
        slash["id"] = json!("a/b");
        let bad = json!({"SecuRT": {"lines": {"a/b": slash}}});
        let err = SecurtConfig::from_tree(bad.as_object().unwrap()).unwrap_err().to_string();
        assert!(err.starts_with("SecuRT/lines/a/b: 'a/b' contains '/'"), "{err}");
    }
}
