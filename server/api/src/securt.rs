//! Wire types of the `/v1/securt` namespace.
//!
//! dropshot's router cannot hold RT's `POST .../area/intrusion` beside
//! `DELETE .../area/{areaId}` (a literal and a variable at one level), so
//! the server routes `.../area/{areaRef}` and `.../line/{lineRef}` and
//! dispatches on the value: an area or line type to create, or an id to
//! delete. The contract keeps one operation per type; the drift test maps
//! them (see `ROUTE_MAP` there). Area and line ids are strings the caller
//! chooses, so an area may even be called `intrusion`: `DELETE
//! .../area/intrusion` deletes it, `POST .../area/intrusion` creates an
//! intrusion area.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::{DetectorMode, Sensitivity, SensorModality};

/// `{instanceId}/area/{areaRef}`: `areaRef` is an area type on create, an
/// area id on delete.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaRefPath {
    pub instance_id: Uuid,
    pub area_ref: String,
}

/// `{instanceId}/area/{areaRef}/{areaId}`: create an area of type
/// `areaRef` with the caller's id `areaId` (checked by the engine).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaRefIdPath {
    pub instance_id: Uuid,
    pub area_ref: String,
    pub area_id: String,
}

/// `{instanceId}/line/{lineRef}`, as [`AreaRefPath`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineRefPath {
    pub instance_id: Uuid,
    pub line_ref: String,
}

/// `{instanceId}/line/{lineRef}/{lineId}`, as [`AreaRefIdPath`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineRefIdPath {
    pub instance_id: Uuid,
    pub line_ref: String,
    pub line_id: String,
}

/// Settings of a SecuRT instance; absent fields keep their value (or take
/// their default on create).
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuRTInstanceWrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_mode: Option<DetectorMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_sensitivity: Option<Sensitivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movement_sensitivity: Option<Sensitivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_modality: Option<SensorModality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_mode: Option<bool>,
}

/// The body of the SecuRT create operations: [`SecuRTInstanceWrite`] with
/// `name` required, as RT's 2024.2.3 model has it. It reads as the write
/// model, so the server checks `name` itself and its 400 names the field
/// (`null` is refused as absence is); only the schema says `required`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecuRTInstanceCreate(pub SecuRTInstanceWrite);

impl JsonSchema for SecuRTInstanceCreate {
    fn schema_name() -> String {
        "SecuRTInstanceCreate".into()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = SecuRTInstanceWrite::json_schema(generator).into_object();
        schema.object().required.insert("name".into());
        schema.into()
    }
}

/// RT names the id `id`; `instanceId` repeats it (an extension, so not
/// required of a server: `default` keeps it out of the schema's `required`).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuRTInstanceRead {
    pub id: Uuid,
    #[serde(default)]
    pub instance_id: Uuid,
    pub version: String,
    pub name: String,
    pub group: String,
    pub persistent: bool,
    pub auto_start: bool,
    pub auto_restart: bool,
    pub detector_mode: DetectorMode,
    pub detection_sensitivity: Sensitivity,
    pub movement_sensitivity: Sensitivity,
    pub sensor_modality: SensorModality,
    pub frame_rate_limit: f64,
    pub metadata_mode: bool,
    pub statistics_mode: bool,
    pub diagnostics_mode: bool,
    pub debug_mode: bool,
}

/// Running totals of a counting line, by direction and class.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LineTotals {
    pub up: std::collections::BTreeMap<String, i64>,
    pub down: std::collections::BTreeMap<String, i64>,
}

/// Counters of one area or line.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatistics {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AnalyticsType,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_reason: Option<String>,
    pub event_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<LineTotals>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuRTStats {
    pub start_time: i64,
    pub frame_rate: f64,
    pub latency: f64,
    pub frames_processed: i64,
    pub track_count: i64,
    pub is_running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleStatistics>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Coordinate {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ObjectClass {
    Person,
    Vehicle,
    Animal,
    Face,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AreaEventType {
    Enter,
    Exit,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LineDirection {
    Up,
    Down,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AppearanceSearchMode {
    Off,
    Person,
    Vehicle,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AnalyticsType {
    AreaIntrusion,
    AreaCrossing,
    AreaLoitering,
    AreaCrowding,
    AreaOccupancy,
    AreaCrowdEstimation,
    AreaDwelling,
    AreaObjectLeft,
    AreaObjectRemoved,
    AreaFallenPerson,
    AreaArmedPerson,
    AreaAlpr,
    LineCrossing,
    LineCounting,
    LineTailgating,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct MotionAreaWrite {
    pub coordinates: Vec<Coordinate>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExclusionAreasWrite {
    pub areas: Vec<Vec<Coordinate>>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AppearanceSearchWrite {
    pub mode: AppearanceSearchMode,
}

/// Create an area or a line: every field any type takes. Which apply, and
/// their defaults, depend on the type in the path; a field the type does
/// not take is refused with 400.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityWrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub coordinates: Vec<Coordinate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<ObjectClass>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_event: Option<AreaEventType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_stationary_objects: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<LineDirection>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaCreated {
    pub area_id: String,
}

/// `areaId` repeats `lineId`: the 2024.2.3 SDK model names it so.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineCreated {
    pub line_id: String,
    pub area_id: String,
}

/// What every stored area and line carries.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EntityRead {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AnalyticsType,
    pub name: String,
    pub coordinates: Vec<Coordinate>,
    pub color: Vec<f64>,
}

/// Areas whose only options are their classes (intrusion, occupancy).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AreaClassesRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaCrossingRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
    pub ignore_stationary_objects: bool,
    pub area_event: AreaEventType,
}

/// Areas with classes and a duration (loitering, dwelling).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AreaTimedRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
    pub seconds: i32,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaCrowdingRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
    pub object_count: i32,
    pub seconds: i32,
}

/// Areas without options (crowd estimation, fallen person, armed person,
/// ALPR).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AreaPlainRead {
    #[serde(flatten)]
    pub common: EntityRead,
}

/// Object left / object removed areas.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AreaObjectRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub seconds: i32,
}

/// Crossing and counting lines.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LineCrossingRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
    pub direction: LineDirection,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LineTailgatingRead {
    #[serde(flatten)]
    pub common: EntityRead,
    pub classes: Vec<ObjectClass>,
    pub direction: LineDirection,
    pub seconds: i32,
}

/// Every area of an instance, by type; empty types are empty arrays.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AreaList {
    pub intrusion_areas: Vec<AreaClassesRead>,
    pub crossing_areas: Vec<AreaCrossingRead>,
    pub loitering_areas: Vec<AreaTimedRead>,
    pub crowding_areas: Vec<AreaCrowdingRead>,
    pub occupancy_areas: Vec<AreaClassesRead>,
    pub crowd_estimation_areas: Vec<AreaPlainRead>,
    pub dwelling_areas: Vec<AreaTimedRead>,
    pub armed_person_areas: Vec<AreaPlainRead>,
    pub fallen_person_areas: Vec<AreaPlainRead>,
    pub object_left_areas: Vec<AreaObjectRead>,
    pub object_removed_areas: Vec<AreaObjectRead>,
    pub alpr_areas: Vec<AreaPlainRead>,
}

/// Every line of an instance, by type.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineList {
    pub crossing_lines: Vec<LineCrossingRead>,
    pub counting_lines: Vec<LineCrossingRead>,
    pub tailgating_lines: Vec<LineTailgatingRead>,
}

/// Areas and lines together.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct AnalyticsEntities {
    #[serde(flatten)]
    pub areas: AreaList,
    #[serde(flatten)]
    pub lines: LineList,
}
