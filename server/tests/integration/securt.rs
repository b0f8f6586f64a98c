//! The `/v1/securt` namespace: SecuRT instances, every area and line type,
//! detection options, and their validation.

use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

fn body<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("request body")
}

const SQUARE: &str =
    r#"[{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.1}, {"x": 0.9, "y": 0.9}, {"x": 0.1, "y": 0.9}]"#;

fn square() -> Value {
    serde_json::from_str(SQUARE).unwrap()
}

fn segment() -> Value {
    json!([{"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 0.5}])
}

/// An area or line id for the typed client, which checks it as the
/// contract's `EntityId`.
fn entity_id(id: &str) -> rt_client::types::EntityId {
    id.parse().expect("a valid area or line id")
}

async fn securt_instance(s: &TestServer) -> uuid::Uuid {
    let w = body(json!({"name": "Perimeter", "detectionSensitivity": "High"}));
    s.client().securt_create_instance(&w).await.unwrap().into_inner().instance_id
}

#[tokio::test]
async fn securt_instances_create_read_update_delete() {
    let s = TestServer::start();
    let c = s.client();
    let id = securt_instance(&s).await;
    let got = c.securt_get_instance(&id).await.unwrap().into_inner();
    assert_eq!((got.id, got.instance_id, got.name.as_str()), (id, Some(id), "Perimeter"));
    // The same instance, seen through Core.
    let core = c.get_instance(&id).await.unwrap().into_inner();
    assert_eq!((core.solution_id.as_str(), core.display_name.as_str()), ("securt", "Perimeter"));

    c.securt_update_instance(&id, &body(json!({"frameRateLimit": 7.5, "name": "North"})))
        .await
        .unwrap();
    let got = c.securt_get_instance(&id).await.unwrap().into_inner();
    assert_eq!((got.frame_rate_limit, got.name.as_str()), (7.5, "North"));

    let chosen = uuid::Uuid::new_v4();
    let w = body(json!({"name": "Chosen", "instanceId": chosen}));
    assert_eq!(c.securt_create_instance(&w).await.unwrap().into_inner().instance_id, chosen);
    let put = uuid::Uuid::new_v4();
    let created =
        c.securt_create_instance_with_id(&put, &body(json!({"name": "Put"}))).await.unwrap();
    assert_eq!((created.status().as_u16(), created.into_inner().instance_id), (201, put));

    c.securt_delete_instance(&id).await.unwrap();
    let unknown = uuid::Uuid::new_v4();
    check_cases(
        &s,
        &[
            Case::new("POST", "/v1/securt/instance", Some("{}"), 400, "name: is required"),
            Case::new(
                "POST",
                "/v1/securt/instance",
                Some(r#"{"name": null, "debugMode": true}"#),
                400,
                "name: is required",
            ),
            Case::new(
                "PUT",
                format!("/v1/securt/instance/{unknown}"),
                Some(r#"{"group": "g"}"#),
                400,
                "name: is required",
            ),
            Case::new("POST", "/v1/securt/instance", Some("[]"), 400, "got an array"),
            // `null` is the same as absent: nothing changes (checked below).
            Case::new(
                "PATCH",
                format!("/v1/securt/instance/{put}"),
                Some(r#"{"name": null, "frameRateLimit": null, "detectorMode": null}"#),
                204,
                "",
            ),
            Case::new(
                "POST",
                "/v1/securt/instance",
                Some(&format!(r#"{{"name": "x", "instanceId": "{chosen}"}}"#)),
                409,
                "already exists",
            ),
            Case::new(
                "PUT",
                format!("/v1/securt/instance/{put}"),
                Some(r#"{"name": "x"}"#),
                409,
                "already exists",
            ),
            Case::new(
                "POST",
                "/v1/securt/instance",
                Some(r#"{"name": "x", "detectorMode": "Magic"}"#),
                400,
                "unknown variant",
            ),
            Case::new("GET", format!("/v1/securt/instance/{id}"), None, 404, "not found"),
            Case::new(
                "PATCH",
                format!("/v1/securt/instance/{unknown}"),
                Some("{}"),
                404,
                "not found",
            ),
            Case::new(
                "PATCH",
                format!("/v1/securt/instance/{put}"),
                Some(r#"{"frameRateLimit": -1}"#),
                400,
                "frameRateLimit",
            ),
            Case::new("DELETE", format!("/v1/securt/instance/{unknown}"), None, 404, "not found"),
            Case::new("GET", "/v1/securt/instance/abc/stats", None, 400, "UUID parsing failed"),
            Case::new(
                "GET",
                format!("/v1/securt/instance/{unknown}/areas"),
                None,
                404,
                "not found",
            ),
        ],
    )
    .await;
    let got = c.securt_get_instance(&put).await.unwrap().into_inner();
    assert_eq!((got.name.as_str(), got.frame_rate_limit), ("Put", 0.0));
    assert!(c.securt_get_instance(&unknown).await.is_err(), "a refused create stores nothing");
}

#[tokio::test]
async fn every_area_and_line_type_is_created_listed_and_deleted() {
    let s = TestServer::start();
    let c = s.client();
    let id = securt_instance(&s).await;
    let sq = square();
    let mut ids = Vec::new();
    ids.push(
        c.securt_create_area_intrusion(
            &id,
            &body(json!({"name": "door", "coordinates": sq, "classes": ["Person"]})),
        )
        .await
        .unwrap()
        .into_inner()
        .area_id,
    );
    ids.push(
        c.securt_create_area_crossing(
            &id,
            &body(
                json!({"coordinates": sq, "areaEvent": "Enter", "ignoreStationaryObjects": true}),
            ),
        )
        .await
        .unwrap()
        .into_inner()
        .area_id,
    );
    ids.push(
        c.securt_create_area_loitering(&id, &body(json!({"coordinates": sq, "seconds": 30})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_crowding(&id, &body(json!({"coordinates": sq, "objectCount": 3})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_occupancy(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_crowd_estimation(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_dwelling(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_object_left(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_object_removed(&id, &body(json!({"coordinates": sq, "seconds": 10})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_fallen_person(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_armed_person(&id, &body(json!({"coordinates": sq})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    ids.push(
        c.securt_create_area_alpr(&id, &body(json!({"coordinates": sq, "color": [0, 1, 0, 0.5]})))
            .await
            .unwrap()
            .into_inner()
            .area_id,
    );
    let put = c
        .securt_create_area_intrusion_with_id(
            &id,
            &entity_id("front door"),
            &body(json!({"coordinates": sq})),
        )
        .await
        .unwrap();
    assert_eq!((put.status().as_u16(), put.into_inner().area_id.as_str()), (201, "front door"));
    let line = c
        .securt_create_line_crossing(
            &id,
            &body(json!({"name": "gate", "coordinates": segment(), "direction": "Up"})),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(line.line_id, line.area_id, "areaId repeats lineId");
    c.securt_create_line_counting(&id, &body(json!({"coordinates": segment()}))).await.unwrap();
    let tail_id = "tailgate";
    c.securt_create_line_tailgating_with_id(
        &id,
        &entity_id(tail_id),
        &body(json!({"coordinates": segment(), "seconds": 2})),
    )
    .await
    .unwrap();

    // The typed client parses the lists: they match the contract's schemas.
    let areas = c.securt_list_areas(&id).await.unwrap().into_inner();
    assert_eq!(areas.intrusion_areas.len(), 2);
    for (name, n) in [
        ("crossing", areas.crossing_areas.len()),
        ("loitering", areas.loitering_areas.len()),
        ("crowding", areas.crowding_areas.len()),
        ("occupancy", areas.occupancy_areas.len()),
        ("crowd_estimation", areas.crowd_estimation_areas.len()),
        ("dwelling", areas.dwelling_areas.len()),
        ("object_left", areas.object_left_areas.len()),
        ("object_removed", areas.object_removed_areas.len()),
        ("fallen_person", areas.fallen_person_areas.len()),
        ("armed_person", areas.armed_person_areas.len()),
        ("alpr", areas.alpr_areas.len()),
    ] {
        assert_eq!(n, 1, "{name}");
    }
    let (_, raw) = s.raw("GET", &format!("/v1/securt/instance/{id}/areas"), None).await;
    let loitering = &raw["loiteringAreas"][0];
    assert_eq!(
        (loitering["seconds"].as_i64(), loitering["type"].as_str()),
        (Some(30), Some("AreaLoitering"))
    );
    assert_eq!(raw["dwellingAreas"][0]["seconds"], 60, "dwelling default");
    assert_eq!(raw["objectLeftAreas"][0]["seconds"], 30, "object_left default");
    assert_eq!(raw["crowdingAreas"][0]["objectCount"], 3);
    assert_eq!(
        raw["intrusionAreas"].as_array().unwrap().iter().find(|a| a["name"] == "door").unwrap()["classes"],
        json!(["Person"])
    );
    assert_eq!(raw["alprAreas"][0]["color"], json!([0.0, 1.0, 0.0, 0.5]));
    let lines = c.securt_list_lines(&id).await.unwrap().into_inner();
    assert_eq!(
        (lines.crossing_lines.len(), lines.counting_lines.len(), lines.tailgating_lines.len()),
        (1, 1, 1)
    );
    let (_, all) =
        s.raw("GET", &format!("/v1/securt/instance/{id}/analytics_entities"), None).await;
    assert_entries_are_typed(&all);
    assert_eq!(all["tailgatingLines"][0]["seconds"], 2);
    assert_eq!(all["crossingLines"][0]["direction"], "Up");
    assert_eq!(all["intrusionAreas"].as_array().unwrap().len(), 2);
    c.securt_get_analytics_entities(&id).await.unwrap();

    // Stats list every rule; the types that need models we lack say so.
    let stats = c.securt_get_stats(&id).await.unwrap().into_inner();
    assert!(!stats.is_running && stats.start_time == 0);
    let rules = stats.rules;
    assert_eq!(rules.len(), 16);
    let (_, raw_stats) = s.raw("GET", &format!("/v1/securt/instance/{id}/stats"), None).await;
    let inactive: Vec<&str> = raw_stats["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["active"] == false)
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(inactive.len(), 3, "{inactive:?}");
    for t in ["AreaArmedPerson", "AreaAlpr", "AreaCrowdEstimation"] {
        assert!(inactive.contains(&t), "{t} inactive");
    }
    c.start_instance(&id).await.unwrap();
    let stats = c.securt_get_stats(&id).await.unwrap().into_inner();
    assert!(stats.is_running && stats.start_time > 0);

    // Everything is in the config tree.
    let tree = Value::Object(c.get_instance_config(&id).await.unwrap().into_inner().0);
    assert_eq!(tree["SecuRT"]["areas"].as_object().unwrap().len(), 13);
    assert_eq!(tree["SecuRT"]["lines"][tail_id]["type"], "LineTailgating");

    // Delete one, then all.
    c.securt_delete_area(&id, &entity_id(&ids[0])).await.unwrap();
    c.securt_delete_line(&id, &entity_id(tail_id)).await.unwrap();
    assert_eq!(c.securt_list_areas(&id).await.unwrap().into_inner().intrusion_areas.len(), 1);
    c.securt_delete_areas(&id).await.unwrap();
    c.securt_delete_lines(&id).await.unwrap();
    let (_, all) =
        s.raw("GET", &format!("/v1/securt/instance/{id}/analytics_entities"), None).await;
    for (key, v) in all.as_object().unwrap() {
        assert_eq!(v, &json!([]), "{key} emptied");
    }
    for key in RT_ENTITY_KEYS {
        assert!(all.get(key).is_some(), "{key} is listed even when empty");
    }
}

/// The keys RT's `analytics_entities` always has.
const RT_ENTITY_KEYS: [&str; 5] =
    ["crossingAreas", "intrusionAreas", "loiteringAreas", "crowdingAreas", "crossingLines"];

/// Every entry of every group of an `analytics_entities` answer carries
/// the `type` of its group, and RT's groups are all there.
fn assert_entries_are_typed(all: &Value) {
    let want = [
        ("intrusionAreas", "AreaIntrusion"),
        ("crossingAreas", "AreaCrossing"),
        ("loiteringAreas", "AreaLoitering"),
        ("crowdingAreas", "AreaCrowding"),
        ("occupancyAreas", "AreaOccupancy"),
        ("crowdEstimationAreas", "AreaCrowdEstimation"),
        ("dwellingAreas", "AreaDwelling"),
        ("objectLeftAreas", "AreaObjectLeft"),
        ("objectRemovedAreas", "AreaObjectRemoved"),
        ("fallenPersonAreas", "AreaFallenPerson"),
        ("armedPersonAreas", "AreaArmedPerson"),
        ("alprAreas", "AreaAlpr"),
        ("crossingLines", "LineCrossing"),
        ("countingLines", "LineCounting"),
        ("tailgatingLines", "LineTailgating"),
    ];
    let groups = all.as_object().expect("an object");
    assert_eq!(groups.len(), want.len(), "{:?}", groups.keys());
    for key in RT_ENTITY_KEYS {
        assert!(groups.contains_key(key), "{key} missing");
    }
    for (key, t) in want {
        let entries = groups[key].as_array().unwrap_or_else(|| panic!("{key}: {all}"));
        assert!(!entries.is_empty(), "{key}: the test creates one of each type");
        for e in entries {
            assert_eq!(e["type"], t, "{key}: {e}");
        }
    }
}

#[tokio::test]
async fn invalid_areas_and_lines_are_refused_and_change_nothing() {
    let s = TestServer::start();
    let c = s.client();
    let id = securt_instance(&s).await;
    let kept = c
        .securt_create_area_intrusion(&id, &body(json!({"coordinates": square()})))
        .await
        .unwrap()
        .into_inner()
        .area_id;
    let line = c
        .securt_create_line_crossing(&id, &body(json!({"coordinates": segment()})))
        .await
        .unwrap()
        .into_inner()
        .line_id;
    let before = s.raw("GET", &format!("/v1/securt/instance/{id}/analytics_entities"), None).await;
    let a = |t: &str| format!("/v1/securt/instance/{id}/area/{t}");
    let l = |t: &str| format!("/v1/securt/instance/{id}/line/{t}");
    let two = r#"[{"x": 0.1, "y": 0.1}, {"x": 0.5, "y": 0.5}]"#;
    let unknown = uuid::Uuid::new_v4();
    let too_long_in_tree = json!({
        "path": format!("SecuRT/areas/{unknown}"),
        "jsonValue": json!({
            "id": unknown, "type": "AreaObjectLeft", "name": "", "coordinates": square(),
            "color": [1, 0, 0, 1], "seconds": 3_000_000_000_u32,
        })
        .to_string(),
    })
    .to_string();
    let cases = vec![
        Case::new(
            "POST",
            a("intrusion"),
            Some(&format!(r#"{{"coordinates": {two}}}"#)),
            400,
            "coordinates: an area needs at least 3 points, got 2",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(
                r#"{"coordinates": [{"x": 0.1, "y": 0.1}, {"x": 1.5, "y": 0.1}, {"x": 0.1, "y": 0.9}]}"#,
            ),
            400,
            "coordinates[1].x: 1.5 is outside [0, 1]",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(
                r#"{"coordinates": [{"x": 0.1, "y": -0.2}, {"x": 0.5, "y": 0.1}, {"x": 0.1, "y": 0.9}]}"#,
            ),
            400,
            "coordinates[0].y: -0.2 is outside",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "classes": ["Cat"]}}"#)),
            400,
            "unknown variant `Cat`",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "classes": []}}"#)),
            400,
            "classes: must name at least one class",
        ),
        Case::new(
            "POST",
            a("loitering"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "seconds": -5}}"#)),
            400,
            "seconds: -5 is not allowed",
        ),
        Case::new(
            "POST",
            a("crowding"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "objectCount": -1}}"#)),
            400,
            "objectCount: -1 is not allowed",
        ),
        // Found by schemathesis: a count above int32 was stored, and every
        // later listing of the instance's entities failed with 500.
        Case::new(
            "POST",
            a("loitering"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "seconds": 2147483648}}"#)),
            400,
            "seconds: 2147483648 is not allowed: must be between 0 and 2147483647",
        ),
        Case::new(
            "POST",
            a("crowding"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "objectCount": 4294967295}}"#)),
            400,
            "objectCount: 4294967295 is not allowed",
        ),
        Case::new(
            "POST",
            format!("/v1/core/instance/{id}/config"),
            Some(&too_long_in_tree),
            400,
            "/seconds: 3000000000 is not allowed",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "seconds": 3}}"#)),
            400,
            "seconds: does not apply to intrusion areas",
        ),
        Case::new(
            "POST",
            a("crowd_estimation"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "classes": ["Person"]}}"#)),
            400,
            "classes: crowd_estimation areas take no classes",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(&format!(r#"{{"coordinates": {SQUARE}, "color": [1, 0, 0]}}"#)),
            400,
            "color: must be 4 numbers",
        ),
        Case::new(
            "POST",
            a("intrusion"),
            Some(r#"{"name": "no coordinates"}"#),
            400,
            "missing field `coordinates`",
        ),
        // `.../area/teleport` is the URL of the area whose id is
        // `teleport`, which takes DELETE only: 405, before the body is read.
        Case::new(
            "POST",
            a("teleport"),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            405,
            "unknown area type 'teleport' (known: intrusion, ",
        )
        .allow("DELETE"),
        Case::new("POST", a(&kept), None, 405, "takes only DELETE").allow("DELETE"),
        Case::new(
            "PUT",
            format!("{}/x", a("teleport")),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            404,
            "unknown area type 'teleport'",
        ),
        Case::new("PUT", format!("{}/x", a("teleport")), None, 404, "unknown area type"),
        // A body that is an array: serde would read the fields in order.
        Case::new("POST", a("intrusion"), Some(&format!("[{SQUARE}]")), 400, "got an array"),
        Case::new(
            "PUT",
            format!("{}/{kept}", a("intrusion")),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            409,
            "already exists",
        ),
        // Any area type: one namespace for areas.
        Case::new(
            "PUT",
            format!("{}/{kept}", a("crossing")),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            409,
            "already exists",
        ),
        Case::new(
            "PUT",
            format!("{}/{line}", l("tailgating")),
            Some(&format!(r#"{{"coordinates": {two}}}"#)),
            409,
            "already exists",
        ),
        Case::new("DELETE", a(&unknown.to_string()), None, 404, "not found"),
        Case::new("DELETE", a("not-a-uuid"), None, 404, "area 'not-a-uuid' not found"),
        Case::new("DELETE", a(&line), None, 404, "area"),
        Case::new(
            "POST",
            l("crossing"),
            Some(r#"{"coordinates": [{"x": 0.1, "y": 0.1}]}"#),
            400,
            "coordinates: a line needs exactly 2 points, got 1",
        ),
        Case::new(
            "POST",
            l("crossing"),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            400,
            "coordinates: a line needs exactly 2 points, got 4",
        ),
        Case::new(
            "POST",
            l("crossing"),
            Some(r#"{"coordinates": [{"x": 0.1, "y": 0.1}, {"x": 0.1, "y": 2}]}"#),
            400,
            "coordinates[1].y: 2 is outside",
        ),
        Case::new(
            "POST",
            l("crossing"),
            Some(&format!(r#"{{"coordinates": {two}, "direction": "Sideways"}}"#)),
            400,
            "unknown variant `Sideways`",
        ),
        Case::new(
            "POST",
            l("tailgating"),
            Some(&format!(r#"{{"coordinates": {two}, "seconds": -1}}"#)),
            400,
            "seconds: -1 is not allowed",
        ),
        Case::new(
            "POST",
            l("tailgating"),
            Some(&format!(r#"{{"coordinates": {two}, "seconds": 2147483648}}"#)),
            400,
            "seconds: 2147483648 is not allowed",
        ),
        Case::new(
            "POST",
            l("zigzag"),
            Some(&format!(r#"{{"coordinates": {two}}}"#)),
            405,
            "unknown line type 'zigzag' (known: crossing, ",
        )
        .allow("DELETE"),
        Case::new("POST", l(&line), Some("{}"), 405, "a line by id").allow("DELETE"),
        Case::new(
            "PUT",
            format!("{}/x", l("zigzag")),
            Some(&format!(r#"{{"coordinates": {two}}}"#)),
            404,
            "unknown line type 'zigzag'",
        ),
        // The contract's `uniqueItems`.
        Case::new(
            "POST",
            l("counting"),
            Some(r#"{"coordinates": [{"x": 0.2, "y": 0.2}, {"x": 0.2, "y": 0.2}]}"#),
            400,
            "coordinates: the two points of a line must differ",
        ),
        Case::new("DELETE", l(&unknown.to_string()), None, 404, "line"),
        Case::new("DELETE", l(&kept), None, 404, "line"),
        Case::new(
            "POST",
            format!("/v1/securt/instance/{id}/motion_area"),
            Some(r#"{"coordinates": [{"x": 0.1, "y": 0.1}]}"#),
            400,
            "coordinates: an area needs at least 3 points",
        ),
        Case::new(
            "POST",
            format!("/v1/securt/instance/{id}/exclusion_areas"),
            Some(&format!(r#"{{"areas": [{SQUARE}, {two}]}}"#)),
            400,
            "areas[1]: an area needs at least 3 points",
        ),
        Case::new(
            "POST",
            format!("/v1/securt/instance/{id}/appearance_search"),
            Some(r#"{"mode": "Cats"}"#),
            400,
            "unknown variant `Cats`",
        ),
        Case::new(
            "POST",
            format!("/v1/securt/instance/{unknown}/area/intrusion"),
            Some(&format!(r#"{{"coordinates": {SQUARE}}}"#)),
            404,
            "not found",
        ),
    ];
    check_cases(&s, &cases).await;
    let after = s.raw("GET", &format!("/v1/securt/instance/{id}/analytics_entities"), None).await;
    assert_eq!(before, after, "refused writes change nothing");
}

#[tokio::test]
async fn options_and_entities_persist_with_the_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), &[]);
    let c = s.client();
    let id = c
        .securt_create_instance(&body(json!({"name": "kept", "persistent": true})))
        .await
        .unwrap()
        .into_inner()
        .instance_id;
    let area = c
        .securt_create_area_loitering(
            &id,
            &body(json!({"name": "bench", "coordinates": square(), "seconds": 45})),
        )
        .await
        .unwrap()
        .into_inner()
        .area_id;
    c.securt_set_motion_area(&id, &body(json!({"coordinates": square()}))).await.unwrap();
    c.securt_set_exclusion_areas(&id, &body(json!({"areas": [square()]}))).await.unwrap();
    c.securt_set_appearance_search(&id, &body(json!({"mode": "Person"}))).await.unwrap();
    // Caller-chosen ids, one shared by an area and a line.
    let sq = json!({"coordinates": square()}).to_string();
    let seg = json!({"coordinates": segment()}).to_string();
    let base = format!("/v1/securt/instance/{id}");
    assert_eq!(s.raw("PUT", &format!("{base}/area/crowding/gate 1"), Some(&sq)).await.0, 201);
    assert_eq!(s.raw("PUT", &format!("{base}/line/crossing/gate 1"), Some(&seg)).await.0, 201);
    let before = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await.1;
    assert_eq!(before["SecuRT"]["appearanceSearch"], "Person");
    assert_eq!(before["SecuRT"]["exclusionAreas"].as_array().unwrap().len(), 1);
    s.kill9();
    let s = TestServer::start_in(tmp.path(), &[]);
    let after = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await.1;
    assert_eq!(before, after);
    let areas = s.client().securt_list_areas(&id).await.unwrap().into_inner();
    assert_eq!(areas.loitering_areas[0].id, area);
    assert_eq!(areas.crowding_areas[0].id, "gate 1");
    let lines = s.client().securt_list_lines(&id).await.unwrap().into_inner();
    assert_eq!(lines.crossing_lines[0].id, "gate 1");
    // Still one of each kind after the restart.
    assert_eq!(s.raw("PUT", &format!("{base}/area/intrusion/gate 1"), Some(&sq)).await.0, 409);
    assert_eq!(s.raw("DELETE", &format!("{base}/line/gate 1"), None).await.0, 204);
    assert_eq!(s.raw("DELETE", &format!("{base}/area/gate 1"), None).await.0, 204);
}

/// A server with one SecuRT instance: its id, its path, and valid
/// bodies for an area and for a line.
struct Rig {
    s: TestServer,
    id: uuid::Uuid,
    base: String,
    sq: String,
    seg: String,
}

async fn rig() -> Rig {
    let s = TestServer::start();
    let id = securt_instance(&s).await;
    let base = format!("/v1/securt/instance/{id}");
    let sq = json!({"coordinates": square()}).to_string();
    let seg = json!({"coordinates": segment()}).to_string();
    Rig { s, id, base, sq, seg }
}

/// RT's own SDK test: an area and a line may share an id (separate
/// namespaces); a second area with it is a conflict whatever its type.
#[tokio::test]
async fn an_area_and_a_line_may_share_a_caller_chosen_id() {
    let Rig { s, id, base, sq, seg } = rig().await;
    let (status, created) =
        s.raw("PUT", &format!("{base}/area/intrusion/area_id"), Some(&sq)).await;
    assert_eq!((status, &created), (201, &json!({"areaId": "area_id"})));
    let (status, created) =
        s.raw("PUT", &format!("{base}/line/crossing/area_id"), Some(&seg)).await;
    assert_eq!((status, &created), (201, &json!({"lineId": "area_id", "areaId": "area_id"})));
    let before = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
    check_cases(
        &s,
        &[
            Case::new(
                "PUT",
                format!("{base}/area/intrusion/area_id"),
                Some(&sq),
                409,
                "area 'area_id' already exists",
            ),
            Case::new(
                "PUT",
                format!("{base}/area/loitering/area_id"),
                Some(&sq),
                409,
                "area 'area_id' already exists",
            ),
            Case::new(
                "PUT",
                format!("{base}/line/tailgating/area_id"),
                Some(&seg),
                409,
                "line 'area_id' already exists",
            ),
        ],
    )
    .await;
    let all = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
    assert_eq!(all, before, "a refused create changes nothing");
    assert_eq!(
        (&all["intrusionAreas"][0]["id"], &all["intrusionAreas"][0]["type"]),
        (&json!("area_id"), &json!("AreaIntrusion"))
    );
    assert_eq!(
        (&all["crossingLines"][0]["id"], &all["crossingLines"][0]["type"]),
        (&json!("area_id"), &json!("LineCrossing"))
    );
    // Each counts apart in the stats.
    let stats = s.client().securt_get_stats(&id).await.unwrap().into_inner();
    let rules: Vec<(String, String)> =
        stats.rules.iter().map(|r| (r.id.clone(), format!("{:?}", r.type_))).collect();
    assert_eq!(
        rules,
        [("area_id".into(), "AreaIntrusion".into()), ("area_id".into(), "LineCrossing".into())]
    );
    // Deleting the line leaves the area, and the other way round.
    assert_eq!(s.raw("DELETE", &format!("{base}/line/area_id"), None).await.0, 204);
    let (status, gone) = s.raw("DELETE", &format!("{base}/line/area_id"), None).await;
    assert_eq!((status, gone["message"].as_str()), (404, Some("line 'area_id' not found")));
    let all = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
    assert_eq!(all["intrusionAreas"][0]["id"], "area_id");
    assert_eq!(all["crossingLines"], json!([]));
    assert_eq!(s.raw("DELETE", &format!("{base}/area/area_id"), None).await.0, 204);
    assert_eq!(s.raw("DELETE", &format!("{base}/area/area_id"), None).await.0, 404);
}

/// The server routes `.../area/{areaRef}` and decides by method: an area
/// whose id is a type name is created by `PUT`, deleted by `DELETE`, and
/// `POST` to the same path still creates an area of that type.
#[tokio::test]
async fn an_area_or_line_may_be_called_like_a_type() {
    let Rig { s, base, sq, seg, .. } = rig().await;
    for (kind, t, body, group) in
        [("area", "intrusion", &sq, "intrusionAreas"), ("line", "crossing", &seg, "crossingLines")]
    {
        let named = format!("{base}/{kind}/{t}");
        let (status, created) = s.raw("PUT", &format!("{named}/{t}"), Some(body)).await;
        assert_eq!((status, created[format!("{kind}Id")].as_str()), (201, Some(t)), "{created}");
        let (status, other) = s.raw("POST", &named, Some(body)).await;
        assert_eq!(status, 201, "{other}");
        let other = other[format!("{kind}Id")].as_str().unwrap().to_string();
        assert!(other.parse::<uuid::Uuid>().is_ok(), "a generated id is a UUID: {other}");
        let ids = |all: &Value| -> Vec<String> {
            all[group]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().into())
                .collect()
        };
        let all = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
        assert_eq!(ids(&all).len(), 2, "{all}");
        assert!(ids(&all).contains(&t.to_string()), "{all}");
        // DELETE .../intrusion deletes the area called `intrusion`, only it.
        assert_eq!(s.raw("DELETE", &named, None).await.0, 204);
        let all = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
        assert_eq!(ids(&all), [other], "{all}");
        let (status, gone) = s.raw("DELETE", &named, None).await;
        assert_eq!(status, 404, "{gone}");
    }
}

/// Ids a caller chooses: 1 to 128 characters, no `/`. Anything else is a
/// 400 naming the id, and nothing is stored.
#[tokio::test]
async fn caller_chosen_ids_are_checked() {
    let Rig { s, base, sq, seg, .. } = rig().await;
    let longest = "x".repeat(128);
    let too_long = "x".repeat(129);
    let before = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
    // Ids as sent in the path (percent-encoded where needed).
    let bad = [too_long.clone(), "a%2Fb".into(), "%2F".into(), "%C3%A9".repeat(129)];
    // What the message says about each, for areas and for lines.
    let area_messages = [
        "areaId: is 129 characters long; at most 128 are allowed",
        "areaId: 'a/b' contains '/', which an id cannot hold",
        "areaId: '/' contains '/'",
        "areaId: is 129 characters long",
    ];
    let line_messages = [
        "lineId: is 129 characters long; at most 128 are allowed",
        "lineId: 'a/b' contains '/', which an id cannot hold",
        "lineId: '/' contains '/'",
        "lineId: is 129 characters long",
    ];
    let mut cases = Vec::new();
    for (kind, t, body, messages) in
        [("area", "intrusion", &sq, area_messages), ("line", "crossing", &seg, line_messages)]
    {
        for (given, message) in bad.iter().zip(messages) {
            let put = format!("{base}/{kind}/{t}/{given}");
            cases.push(Case::new("PUT", put, Some(body), 400, message));
            cases.push(Case::new("DELETE", format!("{base}/{kind}/{given}"), None, 400, message));
        }
    }
    check_cases(&s, &cases).await;
    let after = s.raw("GET", &format!("{base}/analytics_entities"), None).await.1;
    assert_eq!(before, after, "refused ids store nothing");
    // An empty id never reaches a handler: the router drops the trailing
    // `/`, and `.../area/intrusion` takes POST and DELETE, not PUT.
    for kind in ["area/intrusion", "line/crossing"] {
        let (status, _) = s.raw("PUT", &format!("{base}/{kind}/"), Some(&sq)).await;
        assert_eq!(status, 405, "PUT {kind}/");
    }
    // The limits themselves are fine, with any other character.
    for given in [longest.as_str(), "%C3%A9", "a%20b%3F%23", "area.1"] {
        let (status, created) =
            s.raw("PUT", &format!("{base}/area/loitering/{given}"), Some(&sq)).await;
        assert_eq!(status, 201, "{given}: {created}");
        let stored = created["areaId"].as_str().unwrap().to_string();
        let listed = s.raw("GET", &format!("{base}/areas"), None).await.1;
        assert!(
            listed["loiteringAreas"].as_array().unwrap().iter().any(|a| a["id"] == stored),
            "{given}: {listed}"
        );
    }
}
