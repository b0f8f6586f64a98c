//! The typed view over the known keys of an instance's config tree.
//!
//! The config tree is the single source of truth. An instance's settings
//! (the fields of RT's `InstanceWrite`) live at the top level of that tree
//! under their RT names (`name`, `solution`, `frameRateLimit`, ...), and its
//! input under `Input/type` and `Input/uri`. [`Settings::from_tree`] reads and
//! validates them, so a write through `POST .../config` and one through
//! `PATCH .../instance` are checked by the same code and read back the same.
//! Keys the engine does not know are left alone.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config_tree::describe;
use crate::error::{Error, Result};
use crate::solutions;

/// Which detector pipeline SecuRT runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DetectorMode {
    /// Detection plus motion filtering of stationary objects (RT's default).
    #[default]
    SmartDetection,
    /// Plain per-frame detection.
    Detection,
}

/// Low / Medium / High, used for detection and movement sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sensitivity {
    Low,
    #[default]
    Medium,
    High,
}

/// The kind of camera sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SensorModality {
    #[default]
    #[serde(rename = "RGB")]
    Rgb,
    Thermal,
}

/// An instance's settings: RT's `InstanceWrite` with every field resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub name: String,
    pub group: String,
    pub solution: String,
    pub persistent: bool,
    /// Frames per second to process at most; 0 means unlimited.
    pub frame_rate_limit: f64,
    pub metadata_mode: bool,
    pub statistics_mode: bool,
    pub diagnostics_mode: bool,
    pub debug_mode: bool,
    pub detector_mode: DetectorMode,
    pub detection_sensitivity: Sensitivity,
    pub movement_sensitivity: Sensitivity,
    pub sensor_modality: SensorModality,
    pub auto_start: bool,
    pub auto_restart: bool,
    /// Rotation of the input in quarter turns, 0 to 3.
    pub input_orientation: i32,
    /// Largest number of input pixels processed; 0 means no limit.
    pub input_pixel_limit: i64,
}

/// A partial update of [`Settings`]: what `POST`/`PUT`/`PATCH` bodies carry.
/// Fields left `None` keep their current value.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug_mode: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector_mode: Option<DetectorMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_sensitivity: Option<Sensitivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub movement_sensitivity: Option<Sensitivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor_modality: Option<SensorModality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_restart: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_orientation: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_pixel_limit: Option<i64>,
}

impl SettingsPatch {
    /// Writes the fields that are set into `tree` (unvalidated: call
    /// [`Settings::from_tree`] on the result before keeping it).
    pub fn apply_to(&self, tree: &mut Map<String, Value>) {
        if let Ok(Value::Object(fields)) = serde_json::to_value(self) {
            tree.extend(fields);
        }
    }
}

impl Settings {
    /// Settings of a new instance of `solution`, before the create body applies.
    pub fn defaults(solution: &str) -> Self {
        Settings {
            name: String::new(),
            group: String::new(),
            solution: solution.to_string(),
            persistent: false,
            frame_rate_limit: 0.0,
            metadata_mode: false,
            statistics_mode: false,
            diagnostics_mode: false,
            debug_mode: false,
            detector_mode: DetectorMode::default(),
            detection_sensitivity: Sensitivity::default(),
            movement_sensitivity: Sensitivity::default(),
            sensor_modality: SensorModality::default(),
            auto_start: false,
            auto_restart: false,
            input_orientation: 0,
            input_pixel_limit: 0,
        }
    }

    /// Reads and validates the settings stored in `tree`, and the input node.
    /// Missing keys take their defaults; a key with a wrong type or value is
    /// an [`Error::Invalid`] naming it.
    pub fn from_tree(tree: &Map<String, Value>) -> Result<Self> {
        let solution: String = field(tree, "solution", String::new())?;
        if solutions::find(&solution).is_none() {
            return Err(Error::invalid(
                "solution",
                format!(
                    "unknown solution '{solution}' (known: {})",
                    solutions::SOLUTIONS.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let d = Settings::defaults(&solution);
        let s = Settings {
            name: field(tree, "name", d.name)?,
            group: field(tree, "group", d.group)?,
            solution,
            persistent: field(tree, "persistent", d.persistent)?,
            frame_rate_limit: field(tree, "frameRateLimit", d.frame_rate_limit)?,
            metadata_mode: field(tree, "metadataMode", d.metadata_mode)?,
            statistics_mode: field(tree, "statisticsMode", d.statistics_mode)?,
            diagnostics_mode: field(tree, "diagnosticsMode", d.diagnostics_mode)?,
            debug_mode: field(tree, "debugMode", d.debug_mode)?,
            detector_mode: field(tree, "detectorMode", d.detector_mode)?,
            detection_sensitivity: field(tree, "detectionSensitivity", d.detection_sensitivity)?,
            movement_sensitivity: field(tree, "movementSensitivity", d.movement_sensitivity)?,
            sensor_modality: field(tree, "sensorModality", d.sensor_modality)?,
            auto_start: field(tree, "autoStart", d.auto_start)?,
            auto_restart: field(tree, "autoRestart", d.auto_restart)?,
            input_orientation: field(tree, "inputOrientation", d.input_orientation)?,
            input_pixel_limit: field(tree, "inputPixelLimit", d.input_pixel_limit)?,
        };
        if !s.frame_rate_limit.is_finite() || s.frame_rate_limit < 0.0 {
            return Err(Error::invalid("frameRateLimit", "must be a number >= 0 (0 = unlimited)"));
        }
        if !(0..=3).contains(&s.input_orientation) {
            return Err(Error::invalid("inputOrientation", "must be 0, 1, 2 or 3 (quarter turns)"));
        }
        if s.input_pixel_limit < 0 {
            return Err(Error::invalid("inputPixelLimit", "must be >= 0 (0 = no limit)"));
        }
        InputSource::from_tree(tree)?;
        Ok(s)
    }

    /// Writes every setting into `tree` under its RT name.
    pub fn write_to(&self, tree: &mut Map<String, Value>) {
        if let Ok(Value::Object(fields)) = serde_json::to_value(self) {
            tree.extend(fields);
        }
    }
}

/// Reads one known key, naming it and the expected values on a type error.
fn field<T: DeserializeOwned>(tree: &Map<String, Value>, key: &str, default: T) -> Result<T> {
    match tree.get(key) {
        None => Ok(default),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            Error::invalid(key, format!("has an invalid value ({} given): {e}", describe(v)))
        }),
    }
}

/// RT's input types, plus `File` and `HTTP` (our extension for file and
/// HTTP(S) URIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputType {
    #[serde(rename = "RTSP")]
    Rtsp,
    Manual,
    File,
    #[serde(rename = "HTTP")]
    Http,
}

/// Whether `uri` starts with a URI scheme and `://` (RFC 3986: a letter,
/// then letters, digits, `+`, `-` or `.`).
fn has_scheme(uri: &str) -> bool {
    uri.split_once("://").is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Where an instance reads its video from; stored under `Input` in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSource {
    #[serde(rename = "type")]
    pub kind: InputType,
    /// The source URI; absent for `Manual` (frames are pushed over HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

impl InputSource {
    /// Checks that the URI fits the input type. `RTSP` takes any URI
    /// GStreamer may open (`scheme://...`) or an absolute file path: RT's
    /// generated clients know only `Manual` and `RTSP`, so that is how they
    /// ask for a file or an HTTP stream.
    pub fn validate(&self) -> Result<()> {
        let uri = self.uri.as_deref().unwrap_or("");
        let ok_schemes: &[&str] = match self.kind {
            InputType::Manual => return Ok(()),
            InputType::Rtsp => &["<scheme>://", "/"],
            InputType::File => &["file://", "/"],
            InputType::Http => &["http://", "https://"],
        };
        if uri.is_empty() {
            return Err(Error::invalid("uri", "is required for this input type"));
        }
        let fits = match self.kind {
            InputType::Rtsp => uri.starts_with('/') || has_scheme(uri),
            _ => ok_schemes.iter().any(|s| uri.starts_with(s)),
        };
        if !fits {
            return Err(Error::invalid(
                "uri",
                format!(
                    "'{uri}' does not fit input type {:?}: expected it to start with {}",
                    self.kind,
                    ok_schemes.join(" or ")
                ),
            ));
        }
        Ok(())
    }

    /// The URI GStreamer opens: an absolute path becomes a `file://` URI.
    pub fn gst_uri(&self) -> Option<String> {
        let uri = self.uri.as_deref()?;
        Some(if uri.starts_with('/') { format!("file://{uri}") } else { uri.to_string() })
    }

    /// Reads the `Input` node, if it names a type.
    pub fn from_tree(tree: &Map<String, Value>) -> Result<Option<Self>> {
        let Some(input) = tree.get("Input") else {
            return Ok(None);
        };
        let Some(obj) = input.as_object() else {
            return Err(Error::invalid(
                "Input",
                format!("must be an object, not {}", describe(input)),
            ));
        };
        if !obj.contains_key("type") {
            return Ok(None);
        }
        let kind: InputType = field(obj, "type", InputType::Manual)
            .map_err(|_| Error::invalid("Input/type", "must be one of RTSP, Manual, File, HTTP"))?;
        let uri: Option<String> =
            field(obj, "uri", None).map_err(|_| Error::invalid("Input/uri", "must be a string"))?;
        Ok(Some(InputSource { kind, uri }))
    }

    /// Writes `Input/type` and `Input/uri`, keeping other keys under `Input`.
    pub fn write_to(&self, tree: &mut Map<String, Value>) {
        let node = tree.entry("Input").or_insert_with(|| Value::Object(Map::new()));
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        if let (Value::Object(obj), Ok(Value::Object(fields))) = (node, serde_json::to_value(self))
        {
            obj.remove("uri");
            obj.extend(fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tree(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn settings_round_trip_through_the_tree() {
        let mut s = Settings::defaults("securt");
        s.name = "cam 1".into();
        s.frame_rate_limit = 7.5;
        s.sensor_modality = SensorModality::Thermal;
        let mut t = tree(json!({"Output": {"x": 1}}));
        s.write_to(&mut t);
        assert_eq!(t["sensorModality"], json!("Thermal"));
        assert_eq!(t["Output"], json!({"x": 1}));
        assert_eq!(Settings::from_tree(&t).unwrap(), s);
    }

    #[test]
    fn patch_writes_only_what_it_sets() {
        let mut t = tree(json!({"solution": "securt", "name": "a", "autoStart": true}));
        SettingsPatch { name: Some("b".into()), ..Default::default() }.apply_to(&mut t);
        let s = Settings::from_tree(&t).unwrap();
        assert_eq!((s.name.as_str(), s.auto_start), ("b", true));
    }

    #[test]
    fn invalid_known_keys_name_the_key() {
        let cases = [
            (json!({"solution": "nope"}), "solution: unknown solution 'nope'"),
            (json!({"solution": 3}), "solution: has an invalid value (a number given)"),
            (
                json!({"solution": "securt", "frameRateLimit": "fast"}),
                "frameRateLimit: has an invalid value (a string given)",
            ),
            (
                json!({"solution": "securt", "frameRateLimit": -1}),
                "frameRateLimit: must be a number >= 0",
            ),
            (
                json!({"solution": "securt", "inputOrientation": 4}),
                "inputOrientation: must be 0, 1, 2 or 3",
            ),
            (json!({"solution": "securt", "inputPixelLimit": -5}), "inputPixelLimit: must be >= 0"),
            (
                json!({"solution": "securt", "detectorMode": "Fast"}),
                "detectorMode: has an invalid value (a string given)",
            ),
            (
                json!({"solution": "securt", "persistent": "yes"}),
                "persistent: has an invalid value",
            ),
            (json!({"solution": "securt", "Input": 5}), "Input: must be an object"),
            (json!({"solution": "securt", "Input": {"type": "VHS"}}), "Input/type: must be one of"),
            (
                json!({"solution": "securt", "Input": {"type": "RTSP", "uri": 1}}),
                "Input/uri: must be a string",
            ),
        ];
        for (t, want) in cases {
            let err = Settings::from_tree(&tree(t.clone())).unwrap_err().to_string();
            assert!(err.starts_with(want), "{t}: {err}");
        }
    }

    #[test]
    fn input_uri_must_fit_its_type() {
        let ok = [
            (InputType::Rtsp, Some("rtsp://cam/1")),
            // RT's clients can only say RTSP: files and HTTP come that way.
            (InputType::Rtsp, Some("file:///data/vtest.avi")),
            (InputType::Rtsp, Some("/data/vtest.avi")),
            (InputType::Rtsp, Some("https://host/v.mp4")),
            (InputType::Rtsp, Some("srt://host:9000")),
            (InputType::Manual, None),
            (InputType::File, Some("/data/vtest.avi")),
            (InputType::File, Some("file:///data/vtest.avi")),
            (InputType::Http, Some("https://host/v.mp4")),
        ];
        for (kind, uri) in ok {
            InputSource { kind, uri: uri.map(String::from) }.validate().unwrap();
        }
        let bad = [
            (InputType::Rtsp, None, "uri: is required"),
            (InputType::Rtsp, Some("cam/1"), "does not fit input type Rtsp"),
            (InputType::Rtsp, Some("rtsp://"), "does not fit input type Rtsp"),
            (InputType::Rtsp, Some("1rtsp://cam"), "does not fit input type Rtsp"),
            (InputType::Rtsp, Some("rt sp://cam"), "does not fit input type Rtsp"),
            (InputType::Http, Some("rtsp://cam/1"), "does not fit input type Http"),
            (InputType::File, Some("relative.avi"), "does not fit input type File"),
            (InputType::Http, Some(""), "uri: is required"),
        ];
        for (kind, uri, want) in bad {
            let err = InputSource { kind, uri: uri.map(String::from) }
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{kind:?} {uri:?}: {err}");
        }
    }

    #[test]
    fn input_write_keeps_other_input_keys() {
        let mut t = tree(json!({"Input": {"uri": "old", "media_type": "IP Camera"}}));
        InputSource { kind: InputType::Manual, uri: None }.write_to(&mut t);
        assert_eq!(t["Input"], json!({"type": "Manual", "media_type": "IP Camera"}));
    }
}
