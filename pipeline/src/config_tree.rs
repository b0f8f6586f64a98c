//! The `path`/`jsonValue` operations of RT's config and state trees.
//!
//! RT clients write one node of an instance's JSON tree at a time:
//! `{"path": "Output/handlers/mqtt", "jsonValue": "{\"enabled\":true}"}`.
//! The path is a `/`-separated list of object keys; missing intermediate
//! objects are created; the node at the end is replaced by the parsed value.
//! These functions are pure: they never half-apply a write.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Splits and checks a tree path. Leading and trailing `/` are ignored, as
/// RT's resolver does (`/A/B`, `A/B` and `A/B/` are one node; CVEDIA's own
/// code writes `/Zone/Zones/<id>`); what remains must be non-empty and have
/// no empty segment (`A//B`).
pub fn parse_path(path: &str) -> Result<Vec<&str>> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err(Error::invalid("path", format!("'{path}' names no node")));
    }
    let segments: Vec<&str> = trimmed.split('/').collect();
    if let Some(pos) = segments.iter().position(|s| s.is_empty()) {
        return Err(Error::invalid(
            "path",
            format!("'{path}' has an empty segment at position {}", pos + 1),
        ));
    }
    Ok(segments)
}

/// Parses `jsonValue`, the JSON text a client sends as a string.
pub fn parse_json_value(json_value: &str) -> Result<Value> {
    serde_json::from_str(json_value)
        .map_err(|e| Error::invalid("jsonValue", format!("is not valid JSON text: {e}")))
}

/// Writes `value` at `path` in `root`, creating intermediate objects.
///
/// Fails, leaving `root` unchanged, when the path is invalid or when an
/// intermediate node exists but is not an object (writing through a string,
/// number, array, boolean or null).
pub fn set(root: &mut Map<String, Value>, path: &str, value: Value) -> Result<()> {
    let segments = parse_path(path)?;
    // Check the whole walk first so a failure cannot leave objects created
    // half-way down the path.
    let mut node = Some(&*root);
    for (i, seg) in segments[..segments.len() - 1].iter().enumerate() {
        let Some(obj) = node else { break };
        node = match obj.get(*seg) {
            None => None,
            Some(Value::Object(child)) => Some(child),
            Some(other) => {
                return Err(Error::invalid(
                    "path",
                    format!(
                        "cannot write '{path}': '{}' is {}, not an object",
                        segments[..=i].join("/"),
                        describe(other)
                    ),
                ));
            }
        };
    }
    let mut obj = root;
    for seg in &segments[..segments.len() - 1] {
        let child = obj.entry(seg.to_string()).or_insert_with(|| Value::Object(Map::new()));
        obj = match child {
            Value::Object(map) => map,
            // Checked above: every existing intermediate node is an object.
            _ => unreachable!("intermediate node checked to be an object"),
        };
    }
    obj.insert(segments[segments.len() - 1].to_string(), value);
    Ok(())
}

/// Reads the node at `path`, if there is one.
pub fn get<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let segments = parse_path(path).ok()?;
    let (last, parents) = segments.split_last()?;
    let mut obj = root;
    for seg in parents {
        obj = obj.get(*seg)?.as_object()?;
    }
    obj.get(*last)
}

/// A short English description of a JSON value's type, for error messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
    fn nested_paths_create_objects_and_read_back() {
        let mut t = Map::new();
        set(&mut t, "Output/render_preset", json!("Default")).unwrap();
        set(&mut t, "Output/handlers/mqtt/enabled", json!(true)).unwrap();
        assert_eq!(
            Value::Object(t.clone()),
            json!({"Output": {"render_preset": "Default", "handlers": {"mqtt": {"enabled": true}}}})
        );
        assert_eq!(get(&t, "Output/handlers/mqtt/enabled"), Some(&json!(true)));
        assert_eq!(get(&t, "Output/missing"), None);
    }

    #[test]
    fn every_json_type_reads_back_identically() {
        for v in [
            json!(null),
            json!(true),
            json!(-12),
            json!(1.5e300),
            json!("x/y \"quoted\" ü"),
            json!([1, "a", {"b": null}]),
            json!({"deep": {"er": [true]}}),
        ] {
            let mut t = Map::new();
            let text = serde_json::to_string(&v).unwrap();
            set(&mut t, "A/B", parse_json_value(&text).unwrap()).unwrap();
            assert_eq!(get(&t, "A/B"), Some(&v), "value {text}");
        }
    }

    #[test]
    fn leading_and_trailing_slashes_name_the_same_node() {
        for path in ["A/B", "/A/B", "A/B/", "/A/B/"] {
            let mut t = Map::new();
            set(&mut t, path, json!(1)).unwrap();
            assert_eq!(Value::Object(t.clone()), json!({"A": {"B": 1}}), "{path}");
            for read in ["A/B", "/A/B", "A/B/"] {
                assert_eq!(get(&t, read), Some(&json!(1)), "{path} read as {read}");
            }
        }
    }

    #[test]
    fn overwrite_replaces_the_node_and_keeps_siblings() {
        let mut t = tree(json!({"A": {"B": {"x": 1}, "C": 2}}));
        set(&mut t, "A/B", json!(5)).unwrap();
        assert_eq!(Value::Object(t), json!({"A": {"B": 5, "C": 2}}));
    }

    #[test]
    fn bad_paths_and_values_are_refused_without_change() {
        let original = tree(json!({"A": {"s": "text", "n": 1, "l": [1]}}));
        let cases: &[(&str, &str)] = &[
            ("", "'' names no node"),
            ("/", "'/' names no node"),
            ("A//B", "empty segment at position 2"),
            ("/A//B/", "empty segment at position 2"),
            ("A/s/x", "'A/s' is a string, not an object"),
            ("A/n/x/y", "'A/n' is a number, not an object"),
            ("A/l/0", "'A/l' is an array, not an object"),
        ];
        for (path, want) in cases {
            let mut t = original.clone();
            let err = set(&mut t, path, json!(1)).unwrap_err().to_string();
            assert!(err.contains(want), "path {path:?}: {err}");
            assert_eq!(t, original, "path {path:?} changed the tree");
        }
        for bad in ["", "{", "Default", "'x'", "[1,]", "tru"] {
            let err = parse_json_value(bad).unwrap_err().to_string();
            assert!(err.starts_with("jsonValue: is not valid JSON"), "{bad:?}: {err}");
        }
    }
}
