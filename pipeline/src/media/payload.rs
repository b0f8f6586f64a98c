//! The JSON payloads of the events a running instance publishes, with RT's
//! snake_case field names (`rt-api.md` §3; schemas in the contract).

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::analytics::{AnalyticsEvent, BBox, CrossingDirection};
use crate::securt::ObjectClass;

/// Tracking ids on the wire: UUIDs, as RT's. The tracker numbers a run's
/// tracks 1, 2, 3, ... and never reuses a number; each run of an instance
/// draws a random prefix, so an id is never reused while the server runs
/// (nor across instances, restarts or runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackIds {
    prefix: [u8; 16],
}

impl TrackIds {
    /// Ids with a fresh random prefix.
    pub fn new() -> Self {
        TrackIds { prefix: *Uuid::new_v4().as_bytes() }
    }

    /// The UUID of the tracker's track `id`: the prefix's first 9 bytes (with
    /// the version 4 and variant bits), then the low 56 bits of `id`.
    pub fn uuid(&self, id: u64) -> Uuid {
        let mut bytes = self.prefix;
        bytes[9..].copy_from_slice(&id.to_be_bytes()[1..]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl Default for TrackIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The fields every payload carries.
pub fn common(instance_id: Uuid, frame_ms: Option<i64>) -> Map<String, Value> {
    let now = Utc::now();
    let mut m = Map::new();
    m.insert("instance_id".into(), json!(instance_id));
    m.insert("system_timestamp".into(), json!(now.timestamp_millis()));
    m.insert("system_datetime".into(), json!(now.to_rfc3339_opts(SecondsFormat::Millis, true)));
    if let Some(t) = frame_ms {
        m.insert("event_timestamp_ms".into(), json!(t));
    }
    m
}

/// `{x, y, width, height}`, normalised.
pub fn location(b: &BBox) -> Value {
    json!({"x": b.x, "y": b.y, "width": b.width, "height": b.height})
}

pub fn class_name(c: ObjectClass) -> &'static str {
    match c {
        ObjectClass::Person => "Person",
        ObjectClass::Vehicle => "Vehicle",
        ObjectClass::Animal => "Animal",
        ObjectClass::Face => "Face",
        ObjectClass::Unknown => "Unknown",
    }
}

/// One `track` event.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackPayload<'a> {
    pub tracking_id: Uuid,
    pub class: ObjectClass,
    pub confidence: f32,
    pub age_ms: i64,
    pub is_moving: bool,
    pub location: BBox,
    pub open_events: &'a [Uuid],
    pub tentative: bool,
}

pub fn track(instance_id: Uuid, frame_ms: i64, t: &TrackPayload<'_>) -> Map<String, Value> {
    let mut m = common(instance_id, Some(frame_ms));
    m.insert("tracking_id".into(), json!(t.tracking_id));
    m.insert("object_class".into(), json!(class_name(t.class)));
    m.insert("detection_confidence".into(), json!(f64::from(t.confidence)));
    m.insert("age_ms".into(), json!(t.age_ms));
    m.insert("is_moving".into(), json!(t.is_moving));
    m.insert("events".into(), json!(t.open_events.iter().map(Uuid::to_string).collect::<Vec<_>>()));
    m.insert("location".into(), location(&t.location));
    if t.tentative {
        m.insert("tentative".into(), json!(true));
    }
    m
}

/// One analytics event (`event-<type>` / `event-<type>-end`).
pub fn analytics(instance_id: Uuid, e: &AnalyticsEvent, ids: &TrackIds) -> Map<String, Value> {
    let mut m = common(instance_id, Some(e.time_ms));
    m.insert("event_id".into(), json!(e.event_id));
    let (id_key, name_key) =
        if e.is_line { ("line_id", "line_name") } else { ("area_id", "area_name") };
    m.insert(id_key.into(), json!(e.rule_id));
    m.insert(name_key.into(), json!(e.rule_name));
    if let Some(t) = e.tracking_id {
        m.insert("tracking_id".into(), json!(ids.uuid(t)));
    }
    if let Some(t) = e.ref_tracking_id {
        m.insert("ref_tracking_id".into(), json!(ids.uuid(t)));
    }
    if let Some(c) = e.object_class {
        m.insert("object_class".into(), json!(class_name(c)));
    }
    if let Some(l) = &e.location {
        m.insert("location".into(), location(l));
    }
    if let Some(d) = e.direction {
        let d = match d {
            CrossingDirection::Up => "Up",
            CrossingDirection::Down => "Down",
        };
        m.insert("direction".into(), json!(d));
    }
    if let Some(v) = e.event_duration_ms {
        m.insert("event_duration_ms".into(), json!(v));
    }
    if let Some(v) = e.loiter_duration_ms {
        m.insert("loiter_duration_ms".into(), json!(v));
    }
    if let Some(v) = e.count {
        m.insert("count".into(), json!(v));
    }
    if let Some(t) = &e.totals {
        let per = |up: bool| -> Map<String, Value> {
            t.by_class
                .iter()
                .map(|c| (class_name(c.class).to_string(), json!(if up { c.up } else { c.down })))
                .collect()
        };
        m.insert("totals".into(), json!({"up": per(true), "down": per(false)}));
    }
    m
}

/// The once-a-second `statistics` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub current_framerate: f64,
    pub source_framerate: f64,
    pub dropped_frames_count: u64,
    pub frames_processed: u64,
    pub input_queue_size: u64,
    pub latency: f64,
    pub resolution: String,
    pub source_resolution: String,
    pub start_time: i64,
    pub source_state: &'static str,
    pub source_reconnects: u64,
}

pub fn statistics(instance_id: Uuid, s: &Statistics) -> Map<String, Value> {
    let mut m = common(instance_id, None);
    m.insert("current_framerate".into(), json!(s.current_framerate));
    m.insert("source_framerate".into(), json!(s.source_framerate));
    m.insert("dropped_frames_count".into(), json!(s.dropped_frames_count));
    m.insert("frames_processed".into(), json!(s.frames_processed));
    m.insert("input_queue_size".into(), json!(s.input_queue_size));
    m.insert("latency".into(), json!(s.latency));
    m.insert("format".into(), json!("RGB"));
    m.insert("resolution".into(), json!(s.resolution));
    m.insert("source_resolution".into(), json!(s.source_resolution));
    m.insert("start_time".into(), json!(s.start_time));
    m.insert("source_state".into(), json!(s.source_state));
    m.insert("source_reconnects".into(), json!(s.source_reconnects));
    m
}

/// One `crop` event: the view of a newly confirmed track.
pub fn crop(
    instance_id: Uuid,
    frame_ms: i64,
    tracking_id: Uuid,
    confidence: f32,
    at: &BBox,
    image: String,
) -> Map<String, Value> {
    let mut m = common(instance_id, Some(frame_ms));
    m.insert("ref_tracking_id".into(), json!(tracking_id));
    m.insert("confidence".into(), json!(f64::from(confidence)));
    m.insert("crop_timestamp_ms".into(), json!(frame_ms));
    m.insert("image".into(), json!(image));
    m.insert("location".into(), location(at));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_ids_are_v4_uuids_distinct_per_track_and_per_run() {
        let (a, b) = (TrackIds::new(), TrackIds::new());
        let ids: Vec<Uuid> = (1..=1000).map(|i| a.uuid(i)).collect();
        for id in &ids {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(a.uuid(7), a.uuid(7), "stable for the life of the track");
        assert_ne!(a.uuid(7), b.uuid(7), "another run numbers its tracks apart");
        // The counter's low bits land in the last bytes, untouched by the
        // version and variant bits.
        assert_eq!(&a.uuid(0x0102_0304).as_bytes()[12..], &[1, 2, 3, 4]);
    }
}
