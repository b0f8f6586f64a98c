//! Persistence across a SIGKILL.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::TestServer;

#[tokio::test]
async fn after_sigkill_exactly_the_persistent_instances_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), &[]);
    let auto = s
        .create(
            json!({"solution": "securt", "name": "auto", "persistent": true, "autoStart": true}),
        )
        .await;
    let kept = s
        .create(
            json!({"solution": "securt", "name": "kept", "persistent": true, "frameRateLimit": 4}),
        )
        .await;
    let gone = s.create(json!({"solution": "securt", "name": "gone"})).await;
    let c = s.client();
    let w =
        serde_json::from_value(json!({"path": "Output/render_preset", "jsonValue": "\"Default\""}))
            .unwrap();
    c.set_instance_config(&kept, &w).await.unwrap();
    c.start_instance(&kept).await.unwrap();
    c.start_instance(&gone).await.unwrap();
    let kept_tree = c.get_instance_config(&kept).await.unwrap().into_inner();
    s.kill9();

    let s = TestServer::start_in(tmp.path(), &[]);
    let c = s.client();
    let list = c.list_instances().await.unwrap().into_inner().instances;
    let ids: BTreeSet<_> = list.iter().map(|i| i.instance_id).collect();
    assert_eq!(ids, BTreeSet::from([auto, kept]), "not {gone}");
    let a = c.get_instance(&auto).await.unwrap().into_inner();
    assert!(a.running && a.auto_start && a.display_name == "auto");
    let k = c.get_instance(&kept).await.unwrap().into_inner();
    assert!(!k.running && !k.loaded, "only autoStart instances come back running");
    assert_eq!(k.frame_rate_limit, 4.0);
    assert_eq!(c.get_instance_config(&kept).await.unwrap().into_inner().0, kept_tree.0);
}

/// Writes keep flowing to several persistent instances while the server is
/// killed; every instance file must still load, with a value that was
/// acknowledged or the one being written.
#[tokio::test]
async fn sigkill_during_writes_never_corrupts_an_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), &[]);
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            s.create(json!({"solution": "securt", "name": format!("i{n}"), "persistent": true}))
                .await,
        );
    }
    let mut writers = Vec::new();
    for id in ids.clone() {
        let url = s.url(&format!("/v1/core/instance/{id}/config"));
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acked = -1i64;
            for n in 0..100_000i64 {
                let body = json!({"path": "Counter/n", "jsonValue": n.to_string()});
                match http.post(&url).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 204 => acked = n,
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.kill9();
    let mut acked = Vec::new();
    for w in writers {
        acked.push(w.await.unwrap());
    }
    assert!(acked.iter().all(|n| *n >= 0), "writes were acknowledged before the kill: {acked:?}");

    let s = TestServer::start_in(tmp.path(), &[]);
    let c = s.client();
    let error = c.get_last_error().await.unwrap().into_inner();
    assert!(error.error.is_none(), "restore reported {:?}", error.error);
    for (id, acked) in ids.iter().zip(acked) {
        let tree = Value::Object(c.get_instance_config(id).await.unwrap().into_inner().0);
        let n = tree["Counter"]["n"].as_i64().expect("counter restored");
        assert!(
            n == acked || n == acked + 1,
            "instance {id}: restored {n}, last acknowledged {acked}"
        );
    }
}
