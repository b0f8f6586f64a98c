//! The video outputs of an instance as stored in its config tree (pure):
//! `Output/hls` (`{enabled}`), `Output/rtsp` (`{enabled, uri}`) and
//! `Output/render_preset` (`"Default"` or `""`).

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The overlay drawn on output video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenderPreset {
    /// Boxes with class and tracking id, areas and lines, counters.
    #[default]
    Default,
    /// Clean video.
    None,
}

impl RenderPreset {
    pub fn parse(s: &str) -> Option<RenderPreset> {
        match s {
            "Default" => Some(RenderPreset::Default),
            "" => Some(RenderPreset::None),
            _ => None,
        }
    }
}

/// Where an RTSP output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtspTarget {
    pub uri: String,
    /// Host and port of the URI.
    pub host: String,
    pub port: u16,
    /// The mount path (`/stream1`).
    pub path: String,
}

impl RtspTarget {
    /// Whether the URI names this host by a loopback name (the media
    /// pipeline also serves IP addresses of this machine); otherwise it is
    /// published to another RTSP server.
    pub fn served_here(&self) -> bool {
        matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "0.0.0.0" | "::1" | "[::1]")
    }
}

/// The outputs of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputConfig {
    pub hls: bool,
    pub rtsp: Option<RtspTarget>,
    pub render: RenderPreset,
}

impl OutputConfig {
    /// Reads and validates `Output/...`; errors name the path.
    pub fn from_tree(tree: &Map<String, Value>) -> Result<OutputConfig> {
        let mut out = OutputConfig::default();
        let Some(output) = tree.get("Output") else {
            return Ok(out);
        };
        if let Some(p) = output.get("render_preset") {
            out.render = p.as_str().and_then(RenderPreset::parse).ok_or_else(|| {
                Error::invalid("Output/render_preset", "must be \"Default\" or \"\" (clean video)")
            })?;
        }
        if let Some(h) = output.get("hls") {
            out.hls = enabled(h, "Output/hls")?;
        }
        if let Some(r) = output.get("rtsp")
            && enabled(r, "Output/rtsp")?
        {
            let uri = r.get("uri").and_then(Value::as_str).unwrap_or_default();
            out.rtsp = Some(parse_rtsp(uri, "Output/rtsp/uri")?);
        }
        Ok(out)
    }
}

fn enabled(v: &Value, at: &str) -> Result<bool> {
    v.get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| Error::invalid(format!("{at}/enabled"), "is required, a boolean"))
}

/// Checks an `rtsp://host[:port]/path` URI; an error names `field`.
pub fn parse_rtsp(uri: &str, field: &str) -> Result<RtspTarget> {
    let bad = || Error::invalid(field, format!("{uri:?} is not an rtsp://host[:port]/path URI"));
    let rest = uri.strip_prefix("rtsp://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
    if path.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (h, p.parse::<u16>().map_err(|_| bad())?),
        _ => (authority, 554),
    };
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(RtspTarget { uri: uri.into(), host: host.into(), port, path: format!("/{path}") })
}

/// Writes `Output/hls`.
pub fn set_hls(tree: &mut Map<String, Value>, enabled: bool) {
    output(tree).insert("hls".into(), json!({ "enabled": enabled }));
}

/// Writes `Output/rtsp`.
pub fn set_rtsp(tree: &mut Map<String, Value>, enabled: bool, uri: Option<&str>) {
    let mut v = json!({ "enabled": enabled });
    if let Some(u) = uri {
        v["uri"] = json!(u);
    }
    output(tree).insert("rtsp".into(), v);
}

/// Writes `Output/render_preset`.
pub fn set_render_preset(tree: &mut Map<String, Value>, preset: &str) {
    output(tree).insert("render_preset".into(), json!(preset));
}

fn output(tree: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let o = tree.entry("Output").or_insert_with(|| json!({}));
    if !o.is_object() {
        *o = json!({});
    }
    o.as_object_mut().expect("an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn outputs_read_from_the_tree() {
        let t = tree(json!({"Output": {"hls": {"enabled": true}, "render_preset": "",
            "rtsp": {"enabled": true, "uri": "rtsp://127.0.0.1:8554/live/a"}}}));
        let o = OutputConfig::from_tree(&t).unwrap();
        assert!(o.hls);
        assert_eq!(o.render, RenderPreset::None);
        let r = o.rtsp.unwrap();
        assert_eq!((r.host.as_str(), r.port, r.path.as_str()), ("127.0.0.1", 8554, "/live/a"));
        assert!(r.served_here());
        assert_eq!(OutputConfig::from_tree(&Map::new()).unwrap(), OutputConfig::default());
        let off = tree(json!({"Output": {"rtsp": {"enabled": false}}}));
        assert_eq!(OutputConfig::from_tree(&off).unwrap().rtsp, None);
    }

    #[test]
    fn bad_outputs_name_the_field() {
        let cases = [
            (json!({"render_preset": "Fancy"}), "Output/render_preset"),
            (json!({"render_preset": 1}), "Output/render_preset"),
            (json!({"hls": {}}), "Output/hls/enabled"),
            (json!({"rtsp": {"enabled": "yes"}}), "Output/rtsp/enabled"),
            (json!({"rtsp": {"enabled": true}}), "Output/rtsp/uri"),
            (json!({"rtsp": {"enabled": true, "uri": "http://x/y"}}), "Output/rtsp/uri"),
            (json!({"rtsp": {"enabled": true, "uri": "rtsp://x:99999/y"}}), "Output/rtsp/uri"),
            (json!({"rtsp": {"enabled": true, "uri": "rtsp://x"}}), "Output/rtsp/uri"),
        ];
        for (output, field) in cases {
            match OutputConfig::from_tree(&tree(json!({ "Output": output.clone() }))) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{output}"),
                other => panic!("{output}: expected an error naming {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn setters_write_the_tree() {
        let mut t = tree(json!({"Output": {"render_preset": "Default"}}));
        set_hls(&mut t, true);
        set_rtsp(&mut t, true, Some("rtsp://127.0.0.1:8554/a"));
        set_render_preset(&mut t, "");
        assert_eq!(
            t["Output"],
            json!({"render_preset": "", "hls": {"enabled": true},
                   "rtsp": {"enabled": true, "uri": "rtsp://127.0.0.1:8554/a"}})
        );
    }
}
