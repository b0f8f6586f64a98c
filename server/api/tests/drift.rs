//! The drift test: the operations the server serves (dropshot's document,
//! rendered from the `RtApi` trait) must match `openapi/openapi.yaml`.
//!
//! Compared per operation: method, path, operationId, parameters (where,
//! name, required), the request body schema, the success status and the
//! success body schema, all after `$ref` resolution and after the
//! normalisation in [`shape`]. Not compared: descriptions, examples, error
//! responses (dropshot only documents `4XX`/`5XX` ranges; the contract lists
//! each status), the bodies of free-form responses (dropshot writes
//! `default: */*` for a raw `Response<Body>`; the contract says what they
//! really carry) and the fields of multipart request bodies (dropshot
//! describes them as one opaque value; their media type is compared).
//!
//! Contract operations the server does not serve yet are listed in
//! [`NOT_SERVED_YET`]; that list only shrinks: serving one of them without
//! removing it here fails the test.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// Contract operations without a server implementation yet, with the issue
/// that brings them. Remove an entry when its operation is served.
const NOT_SERVED_YET: &[&str] = &[];

/// Contract operations served through a dropshot wildcard route
/// (`/v1/rtregistry/{key:.*}`), which dropshot refuses to publish in its
/// document: registry keys may contain `/`, and only a wildcard matches
/// several segments (a published `{key}` would take `%2F` only). These
/// operations are therefore absent from the rendered document; the
/// integration tests (`server/tests/integration/registry.rs`) check them.
const SERVED_UNPUBLISHED: &[&str] = &["registry_delete", "registry_get", "registry_put"];

/// How the server serves a contract path that dropshot's router cannot hold
/// as written. RT puts `POST .../area/intrusion` beside `DELETE
/// .../area/{areaId}`: a literal and a variable at one level, which dropshot
/// refuses. The server routes `.../area/{areaRef}` (and `.../line/{lineRef}`)
/// and dispatches on the value: an area type to create, or an id to delete.
#[derive(Debug, Clone, PartialEq)]
struct Routing {
    /// The path the server registers.
    served_path: String,
    /// The contract's literal type segment became the `{areaRef}` /
    /// `{lineRef}` parameter: one served operation stands for one contract
    /// operation per type, so operationIds differ, and the request body is
    /// the union of every type's fields, checked per type by the engine
    /// (and by the server's validation tables), not here.
    by_type: bool,
    /// Contract path parameter renamed on the server (`areaId` -> `areaRef`).
    renamed: Option<(&'static str, &'static str)>,
}

fn routing(path: &str) -> Routing {
    let mut parts: Vec<String> = path.split('/').map(String::from).collect();
    let mut r = Routing { served_path: path.to_string(), by_type: false, renamed: None };
    for (word, var, id) in [("area", "{areaRef}", "areaId"), ("line", "{lineRef}", "lineId")] {
        let Some(i) = parts.iter().position(|p| p == word) else { continue };
        if !path.starts_with("/v1/securt/instance/{instanceId}/") || i + 1 >= parts.len() {
            continue;
        }
        if parts[i + 1] == format!("{{{id}}}") {
            r.renamed = Some((id, &var[1..var.len() - 1]));
        } else {
            r.by_type = true;
        }
        parts[i + 1] = var.to_string();
    }
    r.served_path = parts.join("/");
    r
}

fn contract() -> Value {
    let text = include_str!("../../../openapi/openapi.yaml");
    serde_norway::from_str(text).expect("openapi/openapi.yaml parses as YAML")
}

fn served() -> Value {
    rt_api::rt_api_mod::stub_api_description()
        .expect("the API trait is valid")
        .openapi("RT Server REST API", semver::Version::new(1, 0, 0))
        .json()
        .expect("dropshot renders its document")
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// (METHOD path) -> operation.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(*m) {
                out.insert((m.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

/// Follows `#/components/...` references.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.strip_prefix('#').expect("local reference");
            resolve(doc, doc.pointer(ptr).unwrap_or_else(|| panic!("dangling reference {r}")))
        }
        None => v,
    }
}

/// The comparable shape of a schema: type, format (unsigned folded into
/// signed), enum values, properties, required names, items and whether
/// free-form properties are allowed. `nullable`, bounds and prose are not
/// part of the shape.
fn shape(doc: &Value, schema: &Value) -> Value {
    let s = resolve(doc, schema);
    // schemars wraps a described or optional `$ref` in a one-element allOf.
    if let Some([only]) = s.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return shape(doc, only);
    }
    // The contract builds a schema from another and a constraint (`allOf`
    // of `SecuRTInstanceWrite` and `required: [name]`): the shapes together.
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        let mut out = Map::new();
        for part in parts {
            let Value::Object(part) = shape(doc, part) else { continue };
            for (key, value) in part {
                match (out.get_mut(&key), value) {
                    // Properties: each part's, the first part's shape of a name.
                    (Some(Value::Object(have)), Value::Object(more)) => {
                        for (name, property) in more {
                            have.entry(name).or_insert(property);
                        }
                    }
                    // Required names: those of every part.
                    (Some(Value::Array(have)), Value::Array(more)) => {
                        let all: BTreeSet<&str> =
                            have.iter().chain(&more).filter_map(Value::as_str).collect();
                        *have = all.into_iter().map(|n| json!(n)).collect();
                    }
                    (Some(_), _) => {}
                    (None, value) => {
                        out.insert(key, value);
                    }
                }
            }
        }
        return Value::Object(out);
    }
    let mut out = Map::new();
    if let Some(t) = s.get("type") {
        out.insert("type".into(), t.clone());
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        let f = match f {
            "uint64" => "int64",
            "uint32" | "uint16" | "uint8" | "int16" | "int8" => "int32",
            "float" => "double",
            other => other,
        };
        out.insert("format".into(), json!(f));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let set: BTreeSet<String> = e.iter().map(|v| v.to_string()).collect();
        out.insert("enum".into(), json!(set));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let p: Map<String, Value> = props.iter().map(|(k, v)| (k.clone(), shape(doc, v))).collect();
        out.insert("properties".into(), Value::Object(p));
    }
    if let Some(r) = s.get("required").and_then(Value::as_array) {
        let set: BTreeSet<String> = r.iter().filter_map(|v| v.as_str().map(String::from)).collect();
        out.insert("required".into(), json!(set));
    }
    if let Some(items) = s.get("items") {
        out.insert("items".into(), shape(doc, items));
    }
    match s.get("additionalProperties") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            out.insert("additionalProperties".into(), json!(true));
        }
        Some(v) if v.as_object().is_some_and(Map::is_empty) => {
            out.insert("additionalProperties".into(), json!(true));
        }
        Some(v) => {
            out.insert("additionalProperties".into(), shape(doc, v));
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            out.insert(key.into(), Value::Array(alts.iter().map(|a| shape(doc, a)).collect()));
        }
    }
    Value::Object(out)
}

fn params(doc: &Value, op: &Value) -> BTreeSet<(String, String, bool)> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let p = resolve(doc, p);
            (
                p["in"].as_str().unwrap_or_default().to_string(),
                p["name"].as_str().unwrap_or_default().to_string(),
                p.get("required").and_then(Value::as_bool).unwrap_or(false),
            )
        })
        .collect()
}

/// The request body's (media type, shape), if any.
fn request(doc: &Value, op: &Value) -> Option<(String, Value)> {
    let body = resolve(doc, op.get("requestBody")?);
    let (media, content) = body["content"].as_object()?.iter().next()?;
    Some((media.clone(), shape(doc, &content["schema"])))
}

/// Success responses: status -> (media type, shape) of their body, if any.
fn successes(doc: &Value, op: &Value) -> BTreeMap<String, Option<(String, Value)>> {
    let mut out = BTreeMap::new();
    for (status, resp) in op["responses"].as_object().expect("responses") {
        if !status.starts_with('2') && status != "default" {
            continue;
        }
        let resp = resolve(doc, resp);
        let body = resp
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| c.iter().next())
            .map(|(media, content)| (media.clone(), shape(doc, &content["schema"])));
        out.insert(status.clone(), body);
    }
    out
}

#[test]
fn served_operations_match_the_contract() {
    let (contract, served) = (contract(), served());
    let c_ops = operations(&contract);
    let s_ops = operations(&served);
    let mut problems = Vec::new();
    let mut served_by_contract: BTreeSet<(String, String)> = BTreeSet::new();

    for ((method, c_path), c_op) in &c_ops {
        let id = c_op["operationId"].as_str().unwrap_or("?");
        let r = routing(c_path);
        let key = (method.clone(), r.served_path.clone());
        let Some(s_op) = s_ops.get(&key) else {
            if !NOT_SERVED_YET.contains(&id) && !SERVED_UNPUBLISHED.contains(&id) {
                problems.push(format!(
                    "{method} {c_path} ({id}) is in the contract but neither served nor in NOT_SERVED_YET"
                ));
            }
            continue;
        };
        served_by_contract.insert(key);
        if NOT_SERVED_YET.contains(&id) {
            problems.push(format!("{id} is served now: remove it from NOT_SERVED_YET"));
        }
        if SERVED_UNPUBLISHED.contains(&id) {
            problems.push(format!("{id} is published now: remove it from SERVED_UNPUBLISHED"));
        }
        let here = format!("{method} {c_path}");
        if !r.by_type && c_op["operationId"] != s_op["operationId"] {
            problems.push(format!(
                "{here}: operationId {} in the contract, {} served",
                c_op["operationId"], s_op["operationId"]
            ));
        }
        let mut cp = params(&contract, c_op);
        if let Some((from, to)) = r.renamed {
            cp = cp
                .into_iter()
                .map(|(i, n, req)| if n == from { (i, to.to_string(), req) } else { (i, n, req) })
                .collect();
        }
        if r.by_type {
            let var = if c_path.contains("/area/") { "areaRef" } else { "lineRef" };
            cp.insert(("path".into(), var.into(), true));
        }
        let sp = params(&served, s_op);
        if cp != sp {
            problems.push(format!("{here}: parameters {cp:?} in the contract, {sp:?} served"));
        }
        let (cr, sr) = (request(&contract, c_op), request(&served, s_op));
        // dropshot describes a multipart body as one opaque value; the
        // contract describes its form fields. Only the media type compares.
        let multipart = sr.as_ref().is_some_and(|(m, _)| m == "multipart/form-data");
        if r.by_type || multipart {
            if cr.as_ref().map(|(m, _)| m) != sr.as_ref().map(|(m, _)| m) {
                problems.push(format!("{here}: request media type differs"));
            }
        } else if cr != sr {
            problems.push(format!("{here}: request body\n  contract {cr:?}\n  served   {sr:?}"));
        }
        let (cs, ss) = (successes(&contract, c_op), successes(&served, s_op));
        // A raw `Response<Body>` (`default: */*`): dropshot cannot describe
        // it, so the contract must say what it is, with one 2xx status
        // (two for `set_output_hls`, which answers 200 or 204 as RT does).
        let free_form = matches!(ss.iter().next(), Some((status, Some((media, _)))) if status == "default" && media == "*/*");
        if free_form {
            let allowed = if c_op["operationId"] == "set_output_hls" { 2 } else { 1 };
            if cs.is_empty() || cs.len() > allowed || cs.keys().any(|s| !s.starts_with('2')) {
                problems.push(format!(
                    "{here}: free-form response, contract must list {allowed} 2xx: {:?}",
                    cs.keys()
                ));
            }
        } else if cs != ss {
            problems
                .push(format!("{here}: success responses\n  contract {cs:?}\n  served   {ss:?}"));
        }
    }

    // Every served operation stands for at least one contract operation.
    for ((method, path), s_op) in &s_ops {
        if !served_by_contract.contains(&(method.clone(), path.clone())) {
            let id = s_op["operationId"].as_str().unwrap_or("?");
            problems.push(format!("{method} {path} ({id}) is served but not in the contract"));
        }
    }
    let contract_ids: BTreeSet<&str> =
        c_ops.values().filter_map(|op| op["operationId"].as_str()).collect();
    for id in NOT_SERVED_YET.iter().chain(SERVED_UNPUBLISHED) {
        if !contract_ids.contains(id) {
            problems.push(format!("{id} in NOT_SERVED_YET is not a contract operation"));
        }
    }
    assert!(problems.is_empty(), "contract drift:\n- {}", problems.join("\n- "));
}

#[test]
fn routing_maps_only_the_securt_entity_paths() {
    let base = "/v1/securt/instance/{instanceId}";
    let r = routing(&format!("{base}/area/intrusion"));
    assert_eq!((r.served_path.as_str(), r.by_type), (&*format!("{base}/area/{{areaRef}}"), true));
    let r = routing(&format!("{base}/line/tailgating/{{lineId}}"));
    assert_eq!(r.served_path, format!("{base}/line/{{lineRef}}/{{lineId}}"));
    let r = routing(&format!("{base}/area/{{areaId}}"));
    assert_eq!((r.by_type, r.renamed), (false, Some(("areaId", "areaRef"))));
    assert_eq!(routing(&format!("{base}/areas")).served_path, format!("{base}/areas"));
    assert_eq!(
        routing("/v1/core/instance/{instanceId}/config").served_path,
        "/v1/core/instance/{instanceId}/config"
    );
}

#[test]
fn shape_normalisation_is_strict_where_it_matters() {
    let doc = json!({"components": {"schemas": {"A": {"type": "object", "properties": {"x": {"type": "integer", "format": "uint64"}}, "required": ["x"]}}}});
    let via_ref =
        shape(&doc, &json!({"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": true}));
    let inline = shape(
        &doc,
        &json!({"type": "object", "description": "d", "properties": {"x": {"type": "integer", "format": "int64", "minimum": 0}}, "required": ["x"]}),
    );
    assert_eq!(via_ref, inline);
    let other = shape(
        &doc,
        &json!({"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}),
    );
    assert_ne!(via_ref, other);
    let not_required = shape(
        &doc,
        &json!({"type": "object", "properties": {"x": {"type": "integer", "format": "int64"}}}),
    );
    assert_ne!(via_ref, not_required);
}
