//! The `config` group: `POST .../config` with `path`/`jsonValue` creates
//! nested nodes, overwrites, reads back equal for every JSON type, refuses
//! invalid JSON and empty inner segments with 400 (changing nothing), reads
//! `/A/B`, `A/B` and `A/B/` as one node (RT's resolver ignores the outer
//! slashes), and keeps keys it does not know through other writes.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Check, check};
use crate::ctx::{CheckResult, Ctx, Fail, Req, State};
use crate::ensure;

/// Where the suite writes inside an instance's tree: a key no server knows.
const ROOT: &str = "RtConformance";

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "config.nested_create",
            "config",
            false,
            "a write to a/b/c creates the intermediate objects",
            |ctx| async move { nested_create(&ctx).await },
        ),
        check(
            "config.roundtrip",
            "config",
            false,
            "every JSON type written reads back equal",
            |ctx| async move { roundtrip(&ctx).await },
        ),
        check(
            "config.overwrite",
            "config",
            false,
            "a second write replaces the node, whatever the types",
            |ctx| async move { overwrite(&ctx).await },
        ),
        check(
            "config.invalid_json",
            "config",
            false,
            "jsonValue that is not JSON gives 400 and changes nothing",
            |ctx| async move {
                refused(&ctx, &[("invalid JSON", format!("{ROOT}/x"), "{not json")]).await
            },
        ),
        check(
            "config.empty_segments",
            "config",
            false,
            "an empty path or an empty inner segment gives 400 and changes nothing",
            |ctx| async move {
                let cases = [
                    ("empty path", String::new(), "1"),
                    ("only a slash", "/".to_string(), "1"),
                    ("empty middle segment", format!("{ROOT}//x"), "1"),
                    ("empty middle segment with outer slashes", format!("/{ROOT}//x/"), "1"),
                ];
                refused(&ctx, &cases).await
            },
        ),
        check(
            "config.outer_slashes",
            "config",
            false,
            "/A/B, A/B and A/B/ write and read the same node",
            |ctx| async move { outer_slashes(&ctx).await },
        ),
        check(
            "config.unknown_keys_preserved",
            "config",
            false,
            "keys the server does not know survive other writes and typed updates",
            |ctx| async move { unknown_keys(&ctx).await },
        ),
    ]
}

async fn write(ctx: &Ctx, id: Uuid, path: &str, json_value: &str) -> Result<u16, Fail> {
    let body = json!({"path": path, "jsonValue": json_value});
    let reply = ctx
        .call(
            "set_instance_config",
            &[("instanceId", &id.to_string())],
            Req::new(Method::POST, "").json(body),
        )
        .await?;
    Ok(reply.status)
}

async fn write_ok(ctx: &Ctx, id: Uuid, path: &str, json_value: &str) -> CheckResult {
    let status = write(ctx, id, path, json_value).await?;
    ensure!(status == 204, "writing {json_value} at {path}: expected 204, got {status}");
    Ok(())
}

async fn tree(ctx: &Ctx, id: Uuid) -> Result<Value, Fail> {
    let reply = ctx
        .expect(
            "get_instance_config",
            &[("instanceId", &id.to_string())],
            Req::new(Method::GET, ""),
            200,
        )
        .await?;
    reply.json.ok_or_else(|| Fail::new("get_instance_config: the body is not JSON"))
}

/// The node at slash-separated `path` of `tree`.
fn at<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/').try_fold(tree, |node, key| node.get(key))
}

async fn nested_create(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    write_ok(ctx, id, &format!("{ROOT}/a/b/c"), "42").await?;
    let t = tree(ctx, id).await?;
    ensure!(
        at(&t, &format!("{ROOT}/a/b/c")) == Some(&json!(42)),
        "{ROOT}/a/b/c reads back as {:?}",
        at(&t, &format!("{ROOT}/a/b/c"))
    );
    ensure!(
        at(&t, &format!("{ROOT}/a/b")).is_some_and(Value::is_object),
        "{ROOT}/a/b is not an object"
    );
    Ok(())
}

async fn roundtrip(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let cases = [
        ("null", json!(null)),
        ("true", json!(true)),
        ("false", json!(false)),
        ("zero", json!(0)),
        ("negative integer", json!(-17)),
        ("large integer", json!(9_007_199_254_740_991_i64)),
        ("fraction", json!(0.125)),
        ("string", json!("plain")),
        ("string with escapes and unicode", json!("quote \" backslash \\ newline \n é ✓")),
        ("empty string", json!("")),
        ("empty array", json!([])),
        ("mixed array", json!([1, "two", null, {"three": [3]}])),
        ("empty object", json!({})),
        ("nested object", json!({"a": {"b": [true, {"c": null}]}, "d": 1.5})),
    ];
    let mut faults = Vec::new();
    for (n, (name, value)) in cases.iter().enumerate() {
        let path = format!("{ROOT}/types/t{n}");
        write_ok(ctx, id, &path, &value.to_string()).await?;
        let t = tree(ctx, id).await?;
        if at(&t, &path) != Some(value) {
            faults.push(format!("{name}: wrote {value}, read back {:?}", at(&t, &path)));
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}

async fn overwrite(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let path = format!("{ROOT}/node");
    let steps =
        [json!(1), json!("text"), json!({"object": true}), json!([1, 2]), json!(null), json!(3)];
    for value in steps {
        write_ok(ctx, id, &path, &value.to_string()).await?;
        let t = tree(ctx, id).await?;
        ensure!(
            at(&t, &path) == Some(&value),
            "after writing {value}, {path} reads back {:?}",
            at(&t, &path)
        );
    }
    Ok(())
}

async fn outer_slashes(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let node = format!("{ROOT}/slashes");
    for (n, path) in [format!("/{node}"), format!("{node}/"), format!("/{node}/"), node.clone()]
        .iter()
        .enumerate()
    {
        write_ok(ctx, id, path, &n.to_string()).await?;
        let t = tree(ctx, id).await?;
        ensure!(
            at(&t, &node) == Some(&json!(n)),
            "after writing {n} at {path:?}, {node} reads back {:?}",
            at(&t, &node)
        );
        ensure!(t.get("").is_none(), "writing at {path:?} created a key named \"\"");
    }
    Ok(())
}

async fn refused(ctx: &Ctx, cases: &[(&str, String, &str)]) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    write_ok(ctx, id, &format!("{ROOT}/x"), "\"before\"").await?;
    let before = tree(ctx, id).await?;
    let mut faults = Vec::new();
    for (name, path, json_value) in cases {
        let status = write(ctx, id, path, json_value).await?;
        if status != 400 {
            faults.push(format!(
                "{name} (path {path:?}, jsonValue {json_value:?}): expected 400, got {status}"
            ));
        }
    }
    let after = tree(ctx, id).await?;
    if after != before {
        faults.push("the configuration changed after refused writes".into());
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}

async fn unknown_keys(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let sid = id.to_string();
    let kept = json!({"dashboard": {"layout": [1, 2, 3], "owner": "rt-conformance"}});
    write_ok(ctx, id, &format!("{ROOT}/kept"), &kept.to_string()).await?;
    write_ok(ctx, id, &format!("{ROOT}/other"), "1").await?;
    let patch = Req::new(Method::PATCH, "").json(json!({"frameRateLimit": 5}));
    ctx.expect("update_instance", &[("instanceId", &sid)], patch, 204).await?;
    let tentative = Req::new(Method::POST, "").json(json!({"enabled": false}));
    ctx.expect("set_tentative_tracks", &[("instanceId", &sid)], tentative, 204).await?;
    let t = tree(ctx, id).await?;
    ensure!(
        at(&t, &format!("{ROOT}/kept")) == Some(&kept),
        "{ROOT}/kept reads back {:?} after other writes",
        at(&t, &format!("{ROOT}/kept"))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nodes_by_path() {
        let tree = json!({"a": {"b": {"c": 1}}, "x": 2});
        let cases =
            [("a/b/c", Some(json!(1))), ("x", Some(json!(2))), ("a/missing", None), ("x/y", None)];
        for (path, want) in cases {
            assert_eq!(at(&tree, path).cloned(), want, "{path}");
        }
    }
}
