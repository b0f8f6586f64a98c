//! Wire types of the `/v1/core` namespace, with RT's camelCase field names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// `{instanceId}` in instance paths.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstancePath {
    pub instance_id: Uuid,
}

/// `GET /v1/core/version`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// The RT release whose API is implemented, `YYYY.MINOR.PATCH`.
    pub engine: String,
    /// This server's own version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DetectorMode {
    SmartDetection,
    Detection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Sensitivity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SensorModality {
    #[serde(rename = "RGB")]
    Rgb,
    Thermal,
}

/// Settings sent on create and update; absent fields are left as they are.
/// Unknown keys are accepted and ignored.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceWrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_mode: Option<DetectorMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_sensitivity: Option<Sensitivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub movement_sensitivity: Option<Sensitivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_modality: Option<SensorModality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_orientation: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_pixel_limit: Option<i64>,
}

/// One instance as RT reports it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRead {
    pub instance_id: Uuid,
    pub display_name: String,
    pub group: String,
    pub solution_id: String,
    pub solution_name: String,
    pub persistent: bool,
    pub loaded: bool,
    pub running: bool,
    pub fps: f64,
    pub version: String,
    pub frame_rate_limit: f64,
    pub metadata_mode: bool,
    pub statistics_mode: bool,
    pub diagnostics_mode: bool,
    pub debug_mode: bool,
    pub read_only: bool,
    pub auto_start: bool,
    pub auto_restart: bool,
    pub system_instance: bool,
    pub detector_mode: DetectorMode,
    pub detection_sensitivity: Sensitivity,
    pub movement_sensitivity: Sensitivity,
    pub sensor_modality: SensorModality,
    pub input_orientation: i32,
    pub input_pixel_limit: i64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct InstanceList {
    pub instances: Vec<InstanceRead>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceCreated {
    pub instance_id: Uuid,
}

/// `{path, jsonValue}`: write the JSON text `jsonValue` at `path`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValueWrite {
    pub path: String,
    pub json_value: String,
}

/// A free-form JSON object (config and state trees).
pub type ConfigTree = Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum InputType {
    #[serde(rename = "RTSP")]
    Rtsp,
    Manual,
    File,
    #[serde(rename = "HTTP")]
    Http,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct InputWrite {
    #[serde(rename = "type")]
    pub kind: InputType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Solution {
    pub id: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SolutionList {
    pub solutions: Vec<Solution>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub license_key: String,
    pub expiry_date: String,
    pub max_machines: i32,
    pub max_streams: i32,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LicenseList {
    pub licenses: Vec<License>,
}

/// `?count=N`: the last N lines; 0 (the default) for all that are retained.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogQuery {
    /// A whole number; RT's client sends it as a double (`50.000000000000000`).
    #[serde(default)]
    pub count: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LogTail {
    pub log: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfoEntry {
    pub display_name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemInfo {
    pub system_info: Vec<SystemInfoEntry>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfigValue {
    pub display_name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfigEntity {
    pub field_id: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub group: String,
    pub available_values: Vec<SystemConfigValue>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfig {
    pub system_config: Vec<SystemConfigEntity>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfigFieldWrite {
    pub field_id: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemConfigUpdate {
    pub system_config: Vec<SystemConfigFieldWrite>,
}

/// One recorded failure.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ErrorRecord {
    /// When it happened (RFC 3339, UTC).
    #[schemars(schema_with = "date_time")]
    pub time: String,
    /// What failed (`engine`, `store`, `instance <id>`, ...).
    pub source: String,
    pub message: String,
}

/// The last error, absent when nothing has failed.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct LastError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord>,
}

/// Schema of a string holding an RFC 3339 date-time (kept a `String` here so
/// this crate needs no date library).
fn date_time(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
    schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        format: Some("date-time".into()),
        ..Default::default()
    }
    .into()
}

/// The path of a panel file under `/ui/` (dropshot's wildcard route: one
/// item per segment).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PanelFilePath {
    pub path: Vec<String>,
}

/// `Last-Event-ID` on the SSE stream.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SseHeaders {
    #[serde(rename = "Last-Event-ID", default)]
    pub last_event_id: Option<String>,
}

/// One event taken by `consume_events`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumedEvent {
    /// The event name (`track`, `event-intrusion`, ...).
    pub data_type: String,
    /// The payload as JSON text.
    pub json_object: String,
}

/// `GET .../frame`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Frame {
    /// Base64 JPEG of the last processed frame; empty when there is none.
    #[schemars(schema_with = "base64_bytes")]
    pub frame: String,
    pub running: bool,
}

/// `{enabled}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EnabledWrite {
    pub enabled: bool,
}

/// `POST .../output/rtsp`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct OutputRtspWrite {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// `POST .../output/hls`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct OutputHlsWrite {
    pub enabled: bool,
}

/// The playlist of an enabled HLS output.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct OutputHlsEnabled {
    pub uri: String,
}

/// `POST .../render_preset`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenderPresetWrite {
    pub preset_name: String,
}

/// `{file}` of `/hls/{file}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HlsFilePath {
    pub file: String,
}

/// Schema of a string holding base64 data (`format: byte`).
fn base64_bytes(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
    schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        format: Some("byte".into()),
        ..Default::default()
    }
    .into()
}

/// Codec of frames pushed to `push/encoded/{codecId}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodecId {
    H264,
    H265,
}

/// `{instanceId}/push/encoded/{codecId}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncodedPushPath {
    pub instance_id: Uuid,
    pub codec_id: CodecId,
}
