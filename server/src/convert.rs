//! Conversions between the API's wire types (`rt-api`) and the engine's
//! domain types (`rt-pipeline`). The two crates never see each other.

use rt_api::core as wire;
use rt_pipeline::settings as dom;
use rt_pipeline::{InstanceSnapshot, LifecycleState, solutions};

/// `version` is the RT version the server reports (`engine_version`).
pub fn instance_read(s: InstanceSnapshot, version: &str) -> wire::InstanceRead {
    let st = s.settings;
    wire::InstanceRead {
        instance_id: s.id,
        display_name: st.name,
        group: st.group,
        solution_name: solutions::find(&st.solution)
            .map(|x| x.name.to_string())
            .unwrap_or_default(),
        solution_id: st.solution,
        persistent: st.persistent,
        loaded: s.state != LifecycleState::Registered,
        running: s.state == LifecycleState::Running,
        fps: s.fps,
        version: version.to_string(),
        frame_rate_limit: st.frame_rate_limit,
        metadata_mode: st.metadata_mode,
        statistics_mode: st.statistics_mode,
        diagnostics_mode: st.diagnostics_mode,
        debug_mode: st.debug_mode,
        read_only: s.read_only,
        auto_start: st.auto_start,
        auto_restart: st.auto_restart,
        system_instance: s.system_instance,
        detector_mode: match st.detector_mode {
            dom::DetectorMode::SmartDetection => wire::DetectorMode::SmartDetection,
            dom::DetectorMode::Detection => wire::DetectorMode::Detection,
        },
        detection_sensitivity: sensitivity_out(st.detection_sensitivity),
        movement_sensitivity: sensitivity_out(st.movement_sensitivity),
        sensor_modality: match st.sensor_modality {
            dom::SensorModality::Rgb => wire::SensorModality::Rgb,
            dom::SensorModality::Thermal => wire::SensorModality::Thermal,
        },
        input_orientation: st.input_orientation,
        input_pixel_limit: st.input_pixel_limit,
    }
}

fn sensitivity_out(s: dom::Sensitivity) -> wire::Sensitivity {
    match s {
        dom::Sensitivity::Low => wire::Sensitivity::Low,
        dom::Sensitivity::Medium => wire::Sensitivity::Medium,
        dom::Sensitivity::High => wire::Sensitivity::High,
    }
}

fn sensitivity_in(s: wire::Sensitivity) -> dom::Sensitivity {
    match s {
        wire::Sensitivity::Low => dom::Sensitivity::Low,
        wire::Sensitivity::Medium => dom::Sensitivity::Medium,
        wire::Sensitivity::High => dom::Sensitivity::High,
    }
}

pub fn settings_patch(w: wire::InstanceWrite) -> dom::SettingsPatch {
    dom::SettingsPatch {
        name: w.name,
        group: w.group,
        solution: w.solution,
        persistent: w.persistent,
        frame_rate_limit: w.frame_rate_limit,
        metadata_mode: w.metadata_mode,
        statistics_mode: w.statistics_mode,
        diagnostics_mode: w.diagnostics_mode,
        debug_mode: w.debug_mode,
        detector_mode: w.detector_mode.map(|m| match m {
            wire::DetectorMode::SmartDetection => dom::DetectorMode::SmartDetection,
            wire::DetectorMode::Detection => dom::DetectorMode::Detection,
        }),
        detection_sensitivity: w.detection_sensitivity.map(sensitivity_in),
        movement_sensitivity: w.movement_sensitivity.map(sensitivity_in),
        sensor_modality: w.sensor_modality.map(|m| match m {
            wire::SensorModality::Rgb => dom::SensorModality::Rgb,
            wire::SensorModality::Thermal => dom::SensorModality::Thermal,
        }),
        auto_start: w.auto_start,
        auto_restart: w.auto_restart,
        input_orientation: w.input_orientation,
        input_pixel_limit: w.input_pixel_limit,
    }
}

pub fn input_source(w: wire::InputWrite) -> dom::InputSource {
    dom::InputSource {
        kind: match w.kind {
            wire::InputType::Rtsp => dom::InputType::Rtsp,
            wire::InputType::Manual => dom::InputType::Manual,
            wire::InputType::File => dom::InputType::File,
            wire::InputType::Http => dom::InputType::Http,
        },
        uri: w.uri,
    }
}

pub fn last_error(e: Option<rt_pipeline::ErrorRecord>) -> wire::LastError {
    wire::LastError {
        error: e.map(|e| wire::ErrorRecord {
            time: e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            source: e.source,
            message: e.message,
        }),
    }
}
