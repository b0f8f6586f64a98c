//! The `lifecycle` group: `Registered -> Loaded -> Running` as the contract
//! describes it, with the `loaded`/`running` flags agreeing at each step,
//! `start` loading first, `unload` stopping first, a repeated `start` or
//! `stop` that succeeds and changes nothing, and a 406 whose message names
//! the state that forbade it.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use super::{Check, check};
use crate::ctx::{CheckResult, Ctx, Fail, Req, State};
use crate::ensure;

pub fn checks() -> Vec<Check> {
    vec![
        check(
            "lifecycle.transitions",
            "lifecycle",
            false,
            "load, start, restart, stop, unload, start from Registered, unload from Running: flags follow",
            |ctx| async move { transitions(&ctx).await },
        ),
        check(
            "lifecycle.repeat_is_noop",
            "lifecycle",
            // RT's own behaviour here is not known; the contract decides it.
            true,
            "start on a running instance and stop on a stopped one give 204 and change nothing",
            |ctx| async move { repeat_is_noop(&ctx).await },
        ),
        check(
            "lifecycle.406_names_state",
            "lifecycle",
            false,
            "a 406 says which state forbade the request",
            |ctx| async move { names_state(&ctx).await },
        ),
        check(
            "lifecycle.delete_running",
            "lifecycle",
            false,
            "a running instance can be deleted and is gone after",
            |ctx| async move { delete_running(&ctx).await },
        ),
    ]
}

async fn action(ctx: &Ctx, op: &str, id: Uuid) -> Result<u16, Fail> {
    Ok(ctx.call(op, &[("instanceId", &id.to_string())], Req::new(Method::POST, "")).await?.status)
}

/// (`loaded`, `running`) as `GET .../instance/{id}` reports them.
async fn flags(ctx: &Ctx, id: Uuid) -> Result<(bool, bool), Fail> {
    let reply = ctx
        .expect("get_instance", &[("instanceId", &id.to_string())], Req::new(Method::GET, ""), 200)
        .await?;
    let json = reply.json.unwrap_or(Value::Null);
    let flag = |k: &str| json.get(k).and_then(Value::as_bool);
    match (flag("loaded"), flag("running")) {
        (Some(l), Some(r)) => Ok((l, r)),
        _ => Err(Fail::new(format!("get_instance has no boolean loaded/running: {json}"))),
    }
}

async fn transitions(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Registered).await?;
    let sid = id.to_string();
    let input = Req::new(Method::POST, "").json(serde_json::json!({"type": "Manual"}));
    ctx.expect("set_instance_input", &[("instanceId", &sid)], input, 204).await?;
    ensure!(flags(ctx, id).await? == (false, false), "a new instance is not Registered");
    // (action, expected status, (loaded, running) after)
    let steps = [
        ("load_instance", 204, (true, false)),
        ("start_instance", 204, (true, true)),
        ("restart_instance", 204, (true, true)),
        ("stop_instance", 204, (true, false)),
        ("unload_instance", 204, (false, false)),
        ("start_instance", 204, (true, true)),
        ("unload_instance", 204, (false, false)),
    ];
    for (n, (op, status, after)) in steps.into_iter().enumerate() {
        let got = action(ctx, op, id).await?;
        ensure!(got == status, "step {n} {op}: expected {status}, got {got}");
        let now = flags(ctx, id).await?;
        ensure!(
            now == after,
            "after step {n} {op}: (loaded, running) is {now:?}, expected {after:?}"
        );
    }
    Ok(())
}

async fn names_state(ctx: &Ctx) -> CheckResult {
    // (instance state, forbidden action, words one of which the message must hold)
    let cases: [(State, &str, &[&str]); 3] = [
        (State::Registered, "unload_instance", &["Registered", "not loaded"]),
        (State::Loaded, "restart_instance", &["Loaded", "not running"]),
        (State::Running, "load_instance", &["Running"]),
    ];
    let mut faults = Vec::new();
    for (state, op, words) in cases {
        let id = ctx.instance("securt", state).await?;
        let reply =
            ctx.call(op, &[("instanceId", &id.to_string())], Req::new(Method::POST, "")).await?;
        let message = reply.str_at("/message").unwrap_or_default();
        if reply.status != 406 {
            faults
                .push(format!("{op} on a {state:?} instance: expected 406, got {}", reply.status));
        } else if !words.iter().any(|w| message.to_lowercase().contains(&w.to_lowercase())) {
            faults.push(format!(
                "{op} on a {state:?} instance: the message {message:?} does not name the state"
            ));
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}

async fn repeat_is_noop(ctx: &Ctx) -> CheckResult {
    // (state, action, (loaded, running) before and after)
    let cases = [
        (State::Running, "start_instance", (true, true)),
        (State::Loaded, "stop_instance", (true, false)),
        (State::Registered, "stop_instance", (false, false)),
    ];
    let mut faults = Vec::new();
    for (state, op, want) in cases {
        let id = ctx.instance("securt", state).await?;
        let status = action(ctx, op, id).await?;
        let now = flags(ctx, id).await?;
        if status != 204 || now != want {
            faults.push(format!(
                "{op} on a {state:?} instance: expected 204 and (loaded, running) {want:?}, \
                 got {status} and {now:?}"
            ));
        }
    }
    ensure!(faults.is_empty(), "{}", faults.join("\n"));
    Ok(())
}

async fn delete_running(ctx: &Ctx) -> CheckResult {
    let id = ctx.instance("securt", State::Running).await?;
    let sid = id.to_string();
    ctx.expect("delete_instance", &[("instanceId", &sid)], Req::new(Method::DELETE, ""), 204)
        .await?;
    ctx.expect("get_instance", &[("instanceId", &sid)], Req::new(Method::GET, ""), 404).await?;
    Ok(())
}
