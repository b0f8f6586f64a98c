//! SecuRT behaviour beyond one operation, as CVEDIA's own SDK shows it:
//! area and line ids are strings the caller chooses, areas and lines are
//! separate id namespaces (an area and a line may share an id; a second
//! area with it is a conflict), and `analytics_entities` lists RT's groups,
//! every entry with its `type`. RT passes these, so `--strict-rt` runs them.

use reqwest::Method;
use serde_json::Value;

use super::{Check, check};
use crate::ctx::{CheckResult, Ctx, Fail, Req, State};
use crate::ensure;

/// RT's `analytics_entities` groups, with the `type` of what each lists and
/// the operation that creates one (all RT types).
const RT_GROUPS: [(&str, &str, &str); 5] = [
    ("intrusionAreas", "AreaIntrusion", "securt_create_area_intrusion"),
    ("crossingAreas", "AreaCrossing", "securt_create_area_crossing"),
    ("loiteringAreas", "AreaLoitering", "securt_create_area_loitering"),
    ("crowdingAreas", "AreaCrowding", "securt_create_area_crowding"),
    ("crossingLines", "LineCrossing", "securt_create_line_crossing"),
];

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "securt.caller_chosen_ids",
            "securt",
            false,
            "PUT area/intrusion/<id> and line/crossing/<same id> both answer 201 with that id; \
             the same area id again is 409",
            |ctx| async move { caller_chosen_ids(&ctx).await },
        ),
        check(
            "securt.analytics_entities_groups",
            "securt",
            false,
            "analytics_entities has RT's five groups, each entry with its type",
            |ctx| async move { entity_groups(&ctx).await },
        ),
    ]
}

/// The contract's example body of `op` (a create), named with the run's prefix.
fn example(ctx: &Ctx, op: &str) -> Result<Value, Fail> {
    let mut body = ctx
        .op(op)?
        .request_example
        .ok_or_else(|| Fail::skip(format!("the contract has no example body for `{op}`")))?;
    body["name"] = Value::String(ctx.name("rule"));
    Ok(body)
}

/// Creates an area or line with `op` (a `POST` by type) on `instance`,
/// returning its id. RT answers `{areaId}` for lines too.
pub(super) async fn create(ctx: &Ctx, instance: &str, op: &str, key: &str) -> Result<String, Fail> {
    let req = Req::new(Method::POST, "").json(example(ctx, op)?);
    let reply = ctx.expect(op, &[("instanceId", instance)], req, 201).await?;
    reply.str_at(key).ok_or_else(|| Fail::new(format!("{op} answered 201 without `{}`", &key[1..])))
}

async fn entities(ctx: &Ctx, instance: &str) -> Result<Value, Fail> {
    let get = Req::new(Method::GET, "");
    let reply =
        ctx.expect("securt_get_analytics_entities", &[("instanceId", instance)], get, 200).await?;
    reply.json.ok_or_else(|| Fail::new("analytics_entities answered 200 without a JSON body"))
}

/// The ids listed under `group`.
fn ids(all: &Value, group: &str) -> Vec<String> {
    let entries = all.get(group).and_then(Value::as_array).into_iter().flatten();
    entries.filter_map(|e| e.get("id").and_then(Value::as_str).map(String::from)).collect()
}

async fn caller_chosen_ids(ctx: &Ctx) -> CheckResult {
    let instance = ctx.instance("securt", State::Registered).await?.to_string();
    // Not a UUID, as in RT's own tests (`area_id`).
    let id = ctx.name("area_id");
    // `PUT .../<create's type>/{id}`, with the body of `create` (a POST).
    let put = |create: &'static str| {
        let (instance, id) = (instance.clone(), id.clone());
        async move {
            let req = Req::new(Method::PUT, "").json(example(ctx, create)?);
            let param = if create.contains("_line_") { "lineId" } else { "areaId" };
            let params = [("instanceId", instance.as_str()), (param, id.as_str())];
            ctx.call(&format!("{create}_with_id"), &params, req).await
        }
    };
    let area = put("securt_create_area_intrusion").await?;
    ensure!(
        area.status == 201 && area.str_at("/areaId").as_deref() == Some(id.as_str()),
        "PUT area/intrusion/{id}: expected 201 with areaId {id}, got {} {}",
        area.status,
        String::from_utf8_lossy(&area.body)
    );
    let line = put("securt_create_line_crossing").await?;
    ensure!(
        line.status == 201,
        "PUT line/crossing/{id} beside an area with that id: expected 201 (areas and lines are \
         separate namespaces), got {} {}",
        line.status,
        String::from_utf8_lossy(&line.body)
    );
    let again = put("securt_create_area_intrusion").await?;
    ensure!(
        again.status == 409,
        "PUT area/intrusion/{id} a second time: expected 409, got {}",
        again.status
    );
    let all = entities(ctx, &instance).await?;
    ensure!(
        ids(&all, "intrusionAreas") == [id.clone()] && ids(&all, "crossingLines") == [id.clone()],
        "analytics_entities should list {id} once as an intrusion area and once as a crossing \
         line: {all}"
    );
    Ok(())
}

async fn entity_groups(ctx: &Ctx) -> CheckResult {
    let instance = ctx.instance("securt", State::Registered).await?.to_string();
    let empty = entities(ctx, &instance).await?;
    for (group, _, _) in RT_GROUPS {
        ensure!(
            empty.get(group).and_then(Value::as_array).is_some_and(Vec::is_empty),
            "an instance without areas or lines should list `{group}` as []: {empty}"
        );
    }
    let mut created = Vec::new();
    for (group, kind, op) in RT_GROUPS {
        created.push((group, kind, create(ctx, &instance, op, "/areaId").await?));
    }
    let all = entities(ctx, &instance).await?;
    let mut faults = Vec::new();
    for (group, kind, id) in created {
        if !ids(&all, group).contains(&id) {
            faults.push(format!("the {kind} {id} is not listed under `{group}`"));
        }
    }
    for (group, kind, _) in RT_GROUPS {
        for entry in all.get(group).and_then(Value::as_array).into_iter().flatten() {
            if entry.get("type").and_then(Value::as_str) != Some(kind) {
                faults.push(format!("`{group}` lists an entry whose type is not {kind}: {entry}"));
            }
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}
