//! Wire types of the `/v1/database` namespace: queries over stored events,
//! track positions and aggregates.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::securt::ObjectClass;

fn formatted(format: &str) -> Schema {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        format: Some(format.into()),
        ..Default::default()
    }
    .into()
}

fn date_time(_: &mut SchemaGenerator) -> Schema {
    formatted("date-time")
}

fn uuid_text(_: &mut SchemaGenerator) -> Schema {
    formatted("uuid")
}

/// Inclusive start, exclusive end; ISO-8601 with a timezone. Kept as text
/// so that a bad value is refused with a message naming the field.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    #[schemars(schema_with = "date_time")]
    pub start_time: String,
    #[schemars(schema_with = "date_time")]
    pub end_time: String,
}

/// `POST /v1/database/events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsQuery {
    pub time_range: Option<TimeRange>,
    pub filters: Option<Map<String, Value>>,
    pub columns: Option<Vec<String>>,
    pub order_by: Option<String>,
    pub limit: Option<i32>,
    pub offset: Option<i64>,
    pub after_id: Option<i64>,
}

/// `POST /v1/database/tracks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracksQuery {
    pub instance_id: Option<uuid::Uuid>,
    pub time_range: Option<TimeRange>,
    pub filters: Option<Map<String, Value>>,
    pub columns: Option<Vec<String>>,
    pub order_by: Option<String>,
    pub limit: Option<i32>,
    pub offset: Option<i64>,
    pub after_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricFunction {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Percentage,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Metric {
    pub function: MetricFunction,
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntervalUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Interval {
    pub unit: IntervalUnit,
    pub size: Option<i32>,
}

/// `POST /v1/database/analytics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsQuery {
    pub metrics: BTreeMap<String, Metric>,
    pub time_range: Option<TimeRange>,
    pub filters: Option<Map<String, Value>>,
    pub group_by: Option<Vec<String>>,
    pub interval: Option<Interval>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CrossingDirection {
    Up,
    Down,
}

/// One stored analytics event; only the requested columns are present.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct EventRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uuid_text")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uuid_text")]
    pub instance_id: Option<String>,
    /// An area's or a line's id: a string the caller chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_class: Option<ObjectClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<CrossingDirection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub system_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Map<String, Value>>,
}

/// One recorded track position; only the requested columns are present.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct TrackRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "uuid_text")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_class: Option<ObjectClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub system_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EventsResult {
    pub data: Vec<EventRecord>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TracksResult {
    pub data: Vec<TrackRecord>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct AnalyticsResult {
    /// One row per group and bucket: the `groupBy` columns, `bucket` (with
    /// `interval`) and one number per metric name.
    pub data: Vec<Map<String, Value>>,
}
