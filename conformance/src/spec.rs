//! The contract as the suite reads it: the operations of an OpenAPI 3.0
//! document (embedded `openapi/openapi.yaml`, or `--spec FILE`), what each
//! documents per status, and JSON Schema validation of bodies against it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::error::Error;

/// The contract this crate was built with.
pub const EMBEDDED: &str = include_str!("../../openapi/openapi.yaml");

/// What an operation documents for one status.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// Media types of the body (empty: no body).
    pub content_types: Vec<String>,
    /// The schema of the JSON body, `$ref`s left in place.
    pub schema: Option<Value>,
}

/// One operation of the contract.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template (`/v1/core/instance/{instanceId}`).
    pub path: String,
    /// The first tag, the namespace checks are grouped by.
    pub namespace: String,
    /// Marked `x-rt-extension` (not RT behaviour).
    pub extension: bool,
    /// Documented responses by status (`"200"`, `"4XX"` ...).
    pub responses: BTreeMap<String, Response>,
    /// The request body's media type, when there is one.
    pub request_type: Option<String>,
    /// The request body's example, when the contract gives one.
    pub request_example: Option<Value>,
    /// The request body is required.
    pub request_required: bool,
    /// Path parameter names, in order.
    pub path_params: Vec<String>,
}

impl Operation {
    /// The documented success status (the lowest 2xx).
    pub fn success(&self) -> Option<u16> {
        self.statuses().into_iter().find(|s| (200..300).contains(s))
    }

    /// Documented numeric statuses, ascending.
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.keys().filter_map(|k| k.parse().ok()).collect()
    }

    /// The documentation of `status` (exact, or by its `4XX`-style range);
    /// `None` when it is not documented.
    pub fn response(&self, status: u16) -> Option<&Response> {
        self.responses
            .get(&status.to_string())
            .or_else(|| self.responses.get(&format!("{}XX", status / 100)))
            .or_else(|| self.responses.get("default"))
    }
}

/// A parsed contract with compiled response validators.
#[derive(Debug)]
pub struct Contract {
    /// `info.version`: the version of the API the document describes.
    version: String,
    operations: Vec<Operation>,
    /// `components` converted to JSON Schema, the root every `$ref` resolves in.
    components: Value,
    /// The same for strict-RT mode: properties marked `x-rt-extension` are
    /// not required (the contract: "required of this server only").
    components_strict: Value,
    raw_components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    /// The embedded contract.
    pub fn embedded() -> Result<Self, Error> {
        Self::from_yaml(EMBEDDED)
    }

    /// Parses an OpenAPI 3.0 document (YAML or JSON).
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        let doc: Value =
            serde_norway::from_str(text).map_err(|e| Error::Spec(format!("not YAML/JSON: {e}")))?;
        let version = doc.get("openapi").and_then(Value::as_str).unwrap_or_default();
        if !version.starts_with("3.0") {
            return Err(Error::Spec(format!(
                "expected an OpenAPI 3.0 document, found `openapi: {version}`"
            )));
        }
        let raw_components = doc.get("components").cloned().unwrap_or(Value::Object(Map::new()));
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::Spec("the document has no `paths`".into()))?;
        let mut operations = Vec::new();
        for (path, item) in paths {
            let item_extension =
                item.get("x-rt-extension").and_then(Value::as_bool).unwrap_or(false);
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get(method) else { continue };
                operations.push(parse_operation(
                    path,
                    method,
                    op,
                    item_extension,
                    &raw_components,
                )?);
            }
        }
        let version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or_default();
        Ok(Self {
            version: version.to_string(),
            operations,
            components: to_json_schema(&raw_components, false),
            components_strict: to_json_schema(&raw_components, true),
            raw_components,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The contract's `info.version` (empty when it has none).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// The `$id` values the SSE payload schemas allow: the contract's event names.
    pub fn sse_event_names(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let variants = self
            .raw_components
            .pointer("/schemas/SseEventPayload/oneOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for variant in variants {
            let schema = match variant.get("$ref").and_then(Value::as_str) {
                Some(r) => self.resolve(r).cloned().unwrap_or(Value::Null),
                None => variant,
            };
            if let Some(values) = schema.pointer("/properties/$id/enum").and_then(Value::as_array) {
                names.extend(values.iter().filter_map(Value::as_str).map(str::to_string));
            }
        }
        names
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        resolve(&self.raw_components, reference)
    }

    /// Validates `body` against `schema` (an OpenAPI schema of this contract);
    /// the errors name where in the body each fault is. In `strict_rt` mode
    /// properties marked `x-rt-extension` are not required.
    pub fn validate(
        &self,
        schema: &Value,
        body: &Value,
        strict_rt: bool,
    ) -> Result<(), Vec<String>> {
        let validator = self.validator(schema, strict_rt).map_err(|e| vec![e])?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .take(5)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{} {e}", if at.is_empty() { "(root)".to_string() } else { at })
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validates against a component schema by name (`TrackEvent`).
    pub fn validate_component(
        &self,
        name: &str,
        body: &Value,
        strict_rt: bool,
    ) -> Result<(), Vec<String>> {
        let schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        self.validate(&schema, body, strict_rt)
    }

    fn validator(
        &self,
        schema: &Value,
        strict_rt: bool,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let key = format!("{strict_rt} {schema}");
        if let Some(v) = self.validators.lock().expect("validator cache").get(&key) {
            return Ok(v.clone());
        }
        let components = if strict_rt { &self.components_strict } else { &self.components };
        let mut root = to_json_schema(schema, strict_rt);
        if let Value::Object(map) = &mut root {
            map.insert("components".into(), components.clone());
        } else {
            root = serde_json::json!({"allOf": [root], "components": components});
        }
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("the contract's schema does not compile: {e}"))?;
        let validator = Arc::new(validator);
        self.validators.lock().expect("validator cache").insert(key, validator.clone());
        Ok(validator)
    }
}

fn resolve<'a>(components: &'a Value, reference: &str) -> Option<&'a Value> {
    components.pointer(reference.strip_prefix("#/components")?)
}

/// Follows a `$ref` to a component (responses, parameters, request bodies).
fn deref<'a>(value: &'a Value, components: &'a Value) -> Result<&'a Value, Error> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            resolve(components, r).ok_or_else(|| Error::Spec(format!("unresolved $ref {r}")))
        }
        None => Ok(value),
    }
}

fn parse_operation(
    path: &str,
    method: &str,
    op: &Value,
    item_extension: bool,
    components: &Value,
) -> Result<Operation, Error> {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Spec(format!("{} {path} has no operationId", method.to_uppercase())))?
        .to_string();
    let mut responses = BTreeMap::new();
    for (status, response) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
        let response = deref(response, components)?;
        let content = response.get("content").and_then(Value::as_object);
        let content_types: Vec<String> =
            content.into_iter().flatten().map(|(k, _)| k.clone()).collect();
        let schema = content
            .and_then(|c| c.get("application/json"))
            .and_then(|media| media.get("schema"))
            .cloned();
        responses.insert(status.clone(), Response { content_types, schema });
    }
    let (mut request_type, mut request_example, mut request_required) = (None, None, false);
    if let Some(body) = op.get("requestBody") {
        let body = deref(body, components)?;
        request_required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
        if let Some((media, content)) =
            body.get("content").and_then(Value::as_object).and_then(|c| c.iter().next())
        {
            request_type = Some(media.clone());
            request_example = content.get("example").cloned().or_else(|| {
                content
                    .get("examples")
                    .and_then(Value::as_object)
                    .and_then(|e| e.values().next())
                    .and_then(|e| e.get("value"))
                    .cloned()
            });
        }
    }
    let mut path_params = Vec::new();
    for segment in path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            path_params.push(name.to_string());
        }
    }
    Ok(Operation {
        id,
        method: method.to_uppercase(),
        path: path.to_string(),
        namespace: op.pointer("/tags/0").and_then(Value::as_str).unwrap_or("other").to_string(),
        extension: item_extension
            || op.get("x-rt-extension").and_then(Value::as_bool).unwrap_or(false),
        responses,
        request_type,
        request_example,
        request_required,
        path_params,
    })
}

/// OpenAPI 3.0 schema -> JSON Schema 2020-12: `nullable` becomes a `null`
/// alternative, boolean `exclusiveMinimum`/`Maximum` become numbers, and the
/// keywords JSON Schema does not know (`example`, `discriminator`, `x-*` ...) go.
/// With `strict_rt`, properties marked `x-rt-extension` leave `required`.
pub fn to_json_schema(schema: &Value, strict_rt: bool) -> Value {
    let convert = |v: &Value| to_json_schema(v, strict_rt);
    match schema {
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "example" | "discriminator" | "xml" | "externalDocs" | "nullable" => {}
                    k if k.starts_with("x-") => {}
                    // Property names are data, not keywords: keep them all.
                    "properties" => {
                        let props = v
                            .as_object()
                            .map(|p| p.iter().map(|(name, s)| (name.clone(), convert(s))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    "required" if strict_rt => {
                        let extension = |name: &str| {
                            map.get("properties")
                                .and_then(|p| p.get(name))
                                .and_then(|p| p.get("x-rt-extension"))
                                == Some(&Value::Bool(true))
                        };
                        let kept: Vec<Value> = v
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|n| !n.as_str().is_some_and(extension))
                            .cloned()
                            .collect();
                        out.insert(k.clone(), Value::Array(kept));
                    }
                    _ => {
                        out.insert(k.clone(), convert(v));
                    }
                }
            }
            for (flag, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")]
            {
                if out.get(flag) == Some(&Value::Bool(true)) {
                    let b = out.remove(bound).unwrap_or(Value::Null);
                    out.insert(flag.into(), b);
                } else if out.get(flag) == Some(&Value::Bool(false)) {
                    out.remove(flag);
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), serde_json::json!([t, "null"]));
                        if let Some(Value::Array(values)) = out.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    _ => {
                        return serde_json::json!({"anyOf": [Value::Object(out), {"type": "null"}]});
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_contract_is_the_one_the_client_was_generated_from() {
        let contract = Contract::embedded().unwrap();
        assert!(!contract.version().is_empty());
        assert_eq!(contract.version(), rt_client::CONTRACT_VERSION);
    }

    #[test]
    fn converts_openapi_isms() {
        let cases = [
            (json!({"type": "string", "nullable": true}), json!({"type": ["string", "null"]})),
            (
                json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true}),
                json!({"type": "integer", "exclusiveMinimum": 0}),
            ),
            (json!({"type": "integer", "exclusiveMaximum": false}), json!({"type": "integer"})),
            (
                json!({"$ref": "#/components/schemas/A", "nullable": true}),
                json!({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]}),
            ),
            (
                json!({"type": "object", "example": {}, "x-rt-extension": true, "properties": {"example": {"type": "string"}}}),
                json!({"type": "object", "properties": {"example": {"type": "string"}}}),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(to_json_schema(&input, false), want, "{input}");
        }
    }

    #[test]
    fn strict_rt_does_not_require_extension_properties() {
        let schema = json!({
            "type": "object",
            "required": ["rt", "ours"],
            "properties": {"rt": {"type": "string"}, "ours": {"type": "string", "x-rt-extension": true}}
        });
        assert_eq!(to_json_schema(&schema, false)["required"], json!(["rt", "ours"]));
        assert_eq!(to_json_schema(&schema, true)["required"], json!(["rt"]));
        let c = Contract::embedded().unwrap();
        let s = json!({"$ref": "#/components/schemas/Error"});
        assert!(
            c.validate(&s, &json!({"request_id": "r"}), true).is_err(),
            "message stays required"
        );
    }

    #[test]
    fn reads_the_embedded_contract() {
        let c = Contract::embedded().unwrap();
        let op = c.operation("get_instance").unwrap();
        assert_eq!((op.method.as_str(), op.success()), ("GET", Some(200)));
        assert_eq!(op.path_params, vec!["instanceId".to_string()]);
        assert!(op.response(404).is_some() && op.response(409).is_none());
        let names = c.sse_event_names();
        for name in ["track", "statistics", "event-intrusion", "lagged"] {
            assert!(names.contains(name), "{name} in {names:?}");
        }
    }

    #[test]
    fn validates_bodies_against_components() {
        let c = Contract::embedded().unwrap();
        let schema = json!({"$ref": "#/components/schemas/Error"});
        let cases = [
            (json!({"request_id": "r1", "message": "x"}), true),
            (json!({"message": "x"}), false),
            (json!({"request_id": "r1", "message": 3}), false),
            (json!([]), false),
        ];
        for (body, ok) in cases {
            assert_eq!(c.validate(&schema, &body, false).is_ok(), ok, "{body}");
        }
    }
}
