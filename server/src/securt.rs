//! The `/v1/securt` operations over the engine: conversions between the
//! wire types and the engine's SecuRT model, and the small logic of each
//! operation. Handlers in `http_entrypoints` call these.

use rt_api::core::InstanceCreated;
use rt_api::securt as wire;
use rt_pipeline::LifecycleState;
use rt_pipeline::analytics::RuleKind;
use rt_pipeline::securt::{
    AppearanceSearch, AreaEvent, AreaKind, Direction, EntityKind, EntityWrite, LineKind,
    ObjectClass, Point, SecurtConfig,
};
use rt_pipeline::settings::SettingsPatch;
use rt_pipeline::solutions::SECURT;
use std::sync::atomic::Ordering;

use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::context::ServerContext;
use crate::convert;
use crate::error::Error;

/// The settings part of a SecuRT write, as an engine patch.
fn patch(w: wire::SecuRTInstanceWrite) -> SettingsPatch {
    let core = rt_api::core::InstanceWrite {
        name: w.name,
        group: w.group,
        persistent: w.persistent,
        auto_start: w.auto_start,
        auto_restart: w.auto_restart,
        detector_mode: w.detector_mode,
        detection_sensitivity: w.detection_sensitivity,
        movement_sensitivity: w.movement_sensitivity,
        sensor_modality: w.sensor_modality,
        frame_rate_limit: w.frame_rate_limit,
        metadata_mode: w.metadata_mode,
        statistics_mode: w.statistics_mode,
        diagnostics_mode: w.diagnostics_mode,
        debug_mode: w.debug_mode,
        ..Default::default()
    };
    convert::settings_patch(core)
}

/// `POST` (id from the body or generated) and `PUT` (id from the path).
pub fn create_instance(
    ctx: &ServerContext,
    path_id: Option<Uuid>,
    wire::SecuRTInstanceCreate(w): wire::SecuRTInstanceCreate,
) -> Result<InstanceCreated, Error> {
    if w.name.is_none() {
        return Err(Error::Missing("name"));
    }
    let id = path_id.or(w.instance_id);
    let patch = SettingsPatch { solution: Some(SECURT.into()), ..patch(w) };
    Ok(InstanceCreated { instance_id: ctx.engine.create(id, &patch)? })
}

pub fn get_instance(ctx: &ServerContext, id: Uuid) -> Result<wire::SecuRTInstanceRead, Error> {
    let r = convert::instance_read(ctx.engine.securt_instance(id)?, &ctx.engine_version);
    Ok(wire::SecuRTInstanceRead {
        id: r.instance_id,
        instance_id: r.instance_id,
        version: r.version,
        name: r.display_name,
        group: r.group,
        persistent: r.persistent,
        auto_start: r.auto_start,
        auto_restart: r.auto_restart,
        detector_mode: r.detector_mode,
        detection_sensitivity: r.detection_sensitivity,
        movement_sensitivity: r.movement_sensitivity,
        sensor_modality: r.sensor_modality,
        frame_rate_limit: r.frame_rate_limit,
        metadata_mode: r.metadata_mode,
        statistics_mode: r.statistics_mode,
        diagnostics_mode: r.diagnostics_mode,
        debug_mode: r.debug_mode,
    })
}

pub fn update_instance(
    ctx: &ServerContext,
    id: Uuid,
    w: wire::SecuRTInstanceWrite,
) -> Result<(), Error> {
    ctx.engine.securt_instance(id)?;
    Ok(ctx.engine.update(id, &patch(w))?)
}

pub fn delete_instance(ctx: &ServerContext, id: Uuid) -> Result<(), Error> {
    ctx.engine.securt_instance(id)?;
    Ok(ctx.engine.delete(id)?)
}

pub fn stats(ctx: &ServerContext, id: Uuid) -> Result<wire::SecuRTStats, Error> {
    let snap = ctx.engine.securt_instance(id)?;
    let cfg = ctx.engine.securt_config(id)?;
    let run = ctx.engine.stats(id)?;
    let running = snap.state == LifecycleState::Running;
    // Counters come from the rule engine of the running pipeline; rules it
    // has not seen yet (just added, or the instance is not running) count 0.
    let live = if running { run.rules() } else { Vec::new() };
    // An area and a line may share an id: the kind tells them apart.
    let counters = |rule_id: &str, is_line: bool| {
        live.iter().find(|r| r.id == rule_id && matches!(r.kind, RuleKind::Line(_)) == is_line)
    };
    let mut rules = Vec::new();
    let entities = cfg
        .areas
        .iter()
        .map(|a| {
            (
                &a.id,
                false,
                &a.name,
                AreaKind::of(&a.rule).type_name(),
                rt_pipeline::analytics::inactive_reason(&a.rule),
            )
        })
        .chain(
            cfg.lines
                .iter()
                .map(|l| (&l.id, true, &l.name, LineKind::of(&l.rule).type_name(), None)),
        );
    for (rule_id, is_line, name, type_name, reason) in entities {
        let c = counters(rule_id, is_line);
        rules.push(wire::RuleStatistics {
            id: rule_id.clone(),
            name: name.clone(),
            kind: from_json(serde_json::json!(type_name))?,
            active: reason.is_none(),
            inactive_reason: reason.map(String::from),
            event_count: c.map_or(0, |c| c.event_count as i64),
            current_count: c.and_then(|c| c.current_count).map(|n| n as i64),
            totals: c.and_then(|c| c.totals.as_ref()).map(|t| wire::LineTotals {
                up: t.by_class.iter().map(|x| (payload_class(x.class), x.up as i64)).collect(),
                down: t.by_class.iter().map(|x| (payload_class(x.class), x.down as i64)).collect(),
            }),
        });
    }
    Ok(wire::SecuRTStats {
        start_time: snap.started_at.map(|t| t.timestamp_millis()).unwrap_or(0),
        frame_rate: snap.fps,
        latency: if running { run.latency_ms.get() } else { 0.0 },
        frames_processed: run.frames_processed.load(Ordering::Relaxed) as i64,
        track_count: if running { run.track_count.load(Ordering::Relaxed) as i64 } else { 0 },
        is_running: running,
        rules: Some(rules),
    })
}

fn payload_class(c: ObjectClass) -> String {
    format!("{c:?}")
}

/// Stored entities are kept in exactly their wire form, so a conversion is
/// a JSON round trip; a failure means the two models disagree (a bug).
fn from_json<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(v)
        .map_err(|e| Error::Internal(format!("a stored SecuRT entity has no wire form: {e}")))
}

fn wire_of<T: serde::Serialize, W: DeserializeOwned>(entity: &T) -> Result<W, Error> {
    from_json(serde_json::to_value(entity).unwrap_or_default())
}

pub fn areas(cfg: &SecurtConfig) -> Result<wire::AreaList, Error> {
    let mut out = wire::AreaList::default();
    for a in &cfg.areas {
        match AreaKind::of(&a.rule) {
            AreaKind::Intrusion => out.intrusion_areas.push(wire_of(a)?),
            AreaKind::Crossing => out.crossing_areas.push(wire_of(a)?),
            AreaKind::Loitering => out.loitering_areas.push(wire_of(a)?),
            AreaKind::Crowding => out.crowding_areas.push(wire_of(a)?),
            AreaKind::Occupancy => out.occupancy_areas.push(wire_of(a)?),
            AreaKind::CrowdEstimation => out.crowd_estimation_areas.push(wire_of(a)?),
            AreaKind::Dwelling => out.dwelling_areas.push(wire_of(a)?),
            AreaKind::ObjectLeft => out.object_left_areas.push(wire_of(a)?),
            AreaKind::ObjectRemoved => out.object_removed_areas.push(wire_of(a)?),
            AreaKind::FallenPerson => out.fallen_person_areas.push(wire_of(a)?),
            AreaKind::ArmedPerson => out.armed_person_areas.push(wire_of(a)?),
            AreaKind::Alpr => out.alpr_areas.push(wire_of(a)?),
        }
    }
    Ok(out)
}

pub fn lines(cfg: &SecurtConfig) -> Result<wire::LineList, Error> {
    let mut out = wire::LineList::default();
    for l in &cfg.lines {
        match LineKind::of(&l.rule) {
            LineKind::Crossing => out.crossing_lines.push(wire_of(l)?),
            LineKind::Counting => out.counting_lines.push(wire_of(l)?),
            LineKind::Tailgating => out.tailgating_lines.push(wire_of(l)?),
        }
    }
    Ok(out)
}

fn points(c: Vec<wire::Coordinate>) -> Vec<Point> {
    c.into_iter().map(|c| Point { x: c.x, y: c.y }).collect()
}

fn entity_write(w: wire::EntityWrite) -> EntityWrite {
    EntityWrite {
        name: w.name,
        coordinates: points(w.coordinates),
        color: w.color,
        classes: w.classes.map(|cs| {
            cs.into_iter()
                .map(|c| match c {
                    wire::ObjectClass::Person => ObjectClass::Person,
                    wire::ObjectClass::Vehicle => ObjectClass::Vehicle,
                    wire::ObjectClass::Animal => ObjectClass::Animal,
                    wire::ObjectClass::Face => ObjectClass::Face,
                    wire::ObjectClass::Unknown => ObjectClass::Unknown,
                })
                .collect()
        }),
        area_event: w.area_event.map(|e| match e {
            wire::AreaEventType::Enter => AreaEvent::Enter,
            wire::AreaEventType::Exit => AreaEvent::Exit,
            wire::AreaEventType::Both => AreaEvent::Both,
        }),
        ignore_stationary_objects: w.ignore_stationary_objects,
        seconds: w.seconds,
        object_count: w.object_count,
        direction: w.direction.map(|d| match d {
            wire::LineDirection::Up => Direction::Up,
            wire::LineDirection::Down => Direction::Down,
            wire::LineDirection::Both => Direction::Both,
        }),
    }
}

/// The area type in a create path. `POST .../area/{areaRef}` is also the
/// URL of the area whose id is `areaRef` (ids are the caller's strings), so
/// there a value that is no type is a method that URL does not take: 405,
/// `Allow: DELETE`. In `PUT .../area/{areaRef}/{areaId}` (`with_id`) it can
/// only be a type: 404. Checked before the body is read.
pub fn area_kind(given: &str, with_id: bool) -> Result<AreaKind, Error> {
    AreaKind::from_segment(given).ok_or_else(|| {
        let known = AreaKind::ALL.map(AreaKind::segment).join(", ");
        unknown_type("area", given, known, with_id)
    })
}

/// The line type in a create path, as [`area_kind`].
pub fn line_kind(given: &str, with_id: bool) -> Result<LineKind, Error> {
    LineKind::from_segment(given).ok_or_else(|| {
        let known = LineKind::ALL.map(LineKind::segment).join(", ");
        unknown_type("line", given, known, with_id)
    })
}

fn unknown_type(kind: &'static str, given: &str, known: String, with_id: bool) -> Error {
    if with_id {
        return Error::UnknownEntityType { kind, given: given.into(), known };
    }
    let one = if kind == "area" { "an area" } else { "a line" };
    Error::MethodNotAllowed {
        allow: "DELETE",
        message: format!(
            "unknown {kind} type '{given}' (known: {known}): POST creates {one} of a known \
             type, and .../{kind}/{given} names {one} by id, which takes only DELETE"
        ),
    }
}

pub fn create_area(
    ctx: &ServerContext,
    id: Uuid,
    kind: AreaKind,
    area_id: Option<String>,
    w: wire::EntityWrite,
) -> Result<wire::AreaCreated, Error> {
    let area_id = ctx.engine.create_area(id, area_id, kind, entity_write(w))?;
    Ok(wire::AreaCreated { area_id })
}

pub fn create_line(
    ctx: &ServerContext,
    id: Uuid,
    kind: LineKind,
    line_id: Option<String>,
    w: wire::EntityWrite,
) -> Result<wire::LineCreated, Error> {
    let line_id = ctx.engine.create_line(id, line_id, kind, entity_write(w))?;
    Ok(wire::LineCreated { area_id: line_id.clone(), line_id })
}

/// `DELETE .../area/{areaRef}`: `areaRef` is an id, whatever it looks like
/// (an area may be called `intrusion`).
pub fn delete_area(ctx: &ServerContext, id: Uuid, area_ref: &str) -> Result<(), Error> {
    Ok(ctx.engine.delete_entity(id, EntityKind::Area, area_ref)?)
}

pub fn delete_line(ctx: &ServerContext, id: Uuid, line_ref: &str) -> Result<(), Error> {
    Ok(ctx.engine.delete_entity(id, EntityKind::Line, line_ref)?)
}

pub fn set_motion_area(
    ctx: &ServerContext,
    id: Uuid,
    w: wire::MotionAreaWrite,
) -> Result<(), Error> {
    Ok(ctx.engine.set_motion_area(id, points(w.coordinates))?)
}

pub fn set_exclusion_areas(
    ctx: &ServerContext,
    id: Uuid,
    w: wire::ExclusionAreasWrite,
) -> Result<(), Error> {
    Ok(ctx.engine.set_exclusion_areas(id, w.areas.into_iter().map(points).collect())?)
}

pub fn set_appearance_search(
    ctx: &ServerContext,
    id: Uuid,
    w: wire::AppearanceSearchWrite,
) -> Result<(), Error> {
    let mode = match w.mode {
        wire::AppearanceSearchMode::Off => AppearanceSearch::Off,
        wire::AppearanceSearchMode::Person => AppearanceSearch::Person,
        wire::AppearanceSearchMode::Vehicle => AppearanceSearch::Vehicle,
        wire::AppearanceSearchMode::Both => AppearanceSearch::Both,
    };
    Ok(ctx.engine.set_appearance_search(id, mode)?)
}
