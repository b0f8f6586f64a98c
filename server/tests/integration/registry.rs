//! `/v1/rtregistry`: values, keys with `/`, prefixes, TTL, ETag/If-Match
//! and the watch stream, on the default SQLite database.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{Case, TestServer, check_cases};

/// A raw registry request: status, `ETag` header, body as JSON (or `Null`).
async fn call(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<&str>,
    if_match: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), s.url(path));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let etag = resp.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    (status, etag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn keys(s: &TestServer, query: &str) -> Value {
    let (status, body) = s.raw("GET", &format!("/v1/rtregistry{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["keys"].clone()
}

#[tokio::test]
async fn values_round_trip_under_keys_with_slashes() {
    let s = TestServer::start();
    let layout = json!({"columns": 3, "widgets": ["live-view", "counters"]});
    let cases = [
        ("dashboards/site-a/layout", layout.clone()),
        ("dashboards/site-a/theme", json!("dark")),
        ("dashboards/site-b/theme", json!(null)),
        ("counter", json!(42)),
        ("Dashboards/upper", json!([true, 1.5])),
    ];
    for (key, value) in &cases {
        let (status, etag, _) =
            call(&s, "PUT", &format!("/v1/rtregistry/{key}"), Some(&value.to_string()), None).await;
        assert_eq!(status, 204, "{key}");
        assert!(etag.is_some_and(|e| e.starts_with('"')), "{key}: ETag");
    }
    for (key, value) in &cases {
        let (status, etag, body) =
            call(&s, "GET", &format!("/v1/rtregistry/{key}"), None, None).await;
        assert_eq!((status, &body), (200, value), "{key}");
        assert!(etag.is_some(), "{key}: ETag on GET");
    }
    // `%2F` names the same key as `/`.
    let (status, _, body) =
        call(&s, "GET", "/v1/rtregistry/dashboards%2Fsite-a%2Flayout", None, None).await;
    assert_eq!((status, body), (200, layout));

    for (query, want) in [
        (
            "",
            json!([
                "Dashboards/upper",
                "counter",
                "dashboards/site-a/layout",
                "dashboards/site-a/theme",
                "dashboards/site-b/theme"
            ]),
        ),
        (
            "?prefix=dashboards/",
            json!([
                "dashboards/site-a/layout",
                "dashboards/site-a/theme",
                "dashboards/site-b/theme"
            ]),
        ),
        (
            "?prefix=dashboards%2Fsite-a%2F",
            json!(["dashboards/site-a/layout", "dashboards/site-a/theme"]),
        ),
        // Prefixes are case-sensitive and `%`/`_` are not wildcards.
        ("?prefix=D", json!(["Dashboards/upper"])),
        ("?prefix=dash_", json!([])),
        ("?prefix=%25", json!([])),
        ("?prefix=nothing", json!([])),
    ] {
        assert_eq!(keys(&s, query).await, want, "list {query}");
    }

    let (status, _, _) =
        call(&s, "DELETE", "/v1/rtregistry/dashboards/site-a/theme", None, None).await;
    assert_eq!(status, 204);
    let (status, _, _) =
        call(&s, "GET", "/v1/rtregistry/dashboards/site-a/theme", None, None).await;
    assert_eq!(status, 404);

    // Values live in the database: a restart keeps them.
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]);
    call(&s, "PUT", "/v1/rtregistry/a/b", Some("{\"x\":1}"), None).await;
    drop(s);
    let s = TestServer::start_in(dir.path(), &[]);
    let (status, _, body) = call(&s, "GET", "/v1/rtregistry/a/b", None, None).await;
    assert_eq!((status, body), (200, json!({"x": 1})));
}

#[tokio::test]
async fn if_match_guards_concurrent_edits() {
    let s = TestServer::start();
    let path = "/v1/rtregistry/dashboards/shared";
    let (_, first, _) = call(&s, "PUT", path, Some("1"), None).await;
    let first = first.unwrap();
    let (status, second, _) = call(&s, "PUT", path, Some("2"), Some(&first)).await;
    assert_eq!(status, 204);
    let second = second.unwrap();
    assert_ne!(first, second);
    // (method, body, If-Match, expected status)
    let table: &[(&str, Option<&str>, &str, u16)] = &[
        ("PUT", Some("3"), &first, 412),
        ("PUT", Some("3"), "\"not-a-version\"", 412),
        ("DELETE", None, &first, 412),
        ("PUT", Some("3"), "*", 204),
    ];
    for (method, body, m, want) in table {
        let (status, _, err) = call(&s, method, path, *body, Some(m)).await;
        assert_eq!(status, *want, "{method} If-Match {m}: {err}");
        if *want == 412 {
            assert!(err["message"].as_str().unwrap().contains("If-Match"), "{err}");
        }
    }
    let (_, current, body) = call(&s, "GET", path, None, None).await;
    assert_eq!(body, json!(3));
    let (status, _, _) = call(&s, "DELETE", path, None, current.as_deref()).await;
    assert_eq!(status, 204);
    // If-Match on a key that does not exist: 412 for a put, 404 for a delete.
    let (status, _, _) = call(&s, "PUT", path, Some("4"), Some("*")).await;
    assert_eq!(status, 412);
    let (status, _, _) = call(&s, "DELETE", path, None, Some("*")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn keys_expire_after_their_ttl() {
    let s = TestServer::start();
    call(&s, "PUT", "/v1/rtregistry/tmp/short?ttl=1", Some("\"soon gone\""), None).await;
    call(&s, "PUT", "/v1/rtregistry/tmp/kept?ttl=1", Some("1"), None).await;
    // A put without ttl clears the earlier one.
    call(&s, "PUT", "/v1/rtregistry/tmp/kept", Some("2"), None).await;
    assert_eq!(keys(&s, "?prefix=tmp/").await, json!(["tmp/kept", "tmp/short"]));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, _, _) = call(&s, "GET", "/v1/rtregistry/tmp/short", None, None).await;
    assert_eq!(status, 404);
    assert_eq!(keys(&s, "?prefix=tmp/").await, json!(["tmp/kept"]));
}

#[tokio::test]
async fn bad_registry_requests_are_refused() {
    let s = TestServer::start();
    let long = "k".repeat(513);
    let cases = [
        Case::new("GET", "/v1/rtregistry/missing", None, 404, "missing"),
        Case::new("DELETE", "/v1/rtregistry/missing/too", None, 404, "missing/too"),
        Case::new("PUT", "/v1/rtregistry/a?ttl=0", Some("1"), 400, "ttl"),
        Case::new("PUT", "/v1/rtregistry/a?ttl=-5", Some("1"), 400, "ttl"),
        Case::new("PUT", "/v1/rtregistry/a", Some("{not json"), 400, "body"),
        Case::new("PUT", format!("/v1/rtregistry/{long}"), Some("1"), 400, "key"),
        Case::new("GET", format!("/v1/rtregistry/{long}"), None, 400, "key"),
        // The key list takes GET only; without these 405s dropshot's router
        // would hand PUT and DELETE to the key routes with an empty key.
        Case::new("PUT", "/v1/rtregistry", Some("1"), 405, "the key list takes only GET")
            .allow("GET"),
        Case::new("DELETE", "/v1/rtregistry/", None, 405, "DELETE /v1/rtregistry").allow("GET"),
    ];
    check_cases(&s, &cases).await;
    assert_eq!(keys(&s, "").await, json!([]), "refused writes store nothing");
}

/// One watch record: (id, event, data).
type Change = (i64, String, Value);

/// Reads the watch stream until `n` records came or `limit` passed.
async fn watch(s: &TestServer, query: &str, last: Option<i64>, n: usize) -> Vec<Change> {
    let mut req = reqwest::Client::new().get(s.url(&format!("/v1/rtregistry_watch{query}")));
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id.to_string());
    }
    let resp = req.send().await.expect("watch");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.bytes_stream();
    let (mut buf, mut out) = (String::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), body.next()).await else {
            break;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, String::new(), None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse().unwrap());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).expect("one line of JSON"));
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, event, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn watchers_see_sets_deletes_and_expiries() {
    let s = TestServer::start();
    call(&s, "PUT", "/v1/rtregistry/before/watch", Some("0"), None).await;
    let base = s.base.clone();
    let writer = async {
        // Let the watcher connect first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = TestServer::attach(&base);
        let http = reqwest::Client::new();
        let put = |p: &str, b: &str| http.put(s.url(p)).body(b.to_string()).send();
        put("/v1/rtregistry/ui/theme", "\"dark\"").await.unwrap();
        put("/v1/rtregistry/other/x", "1").await.unwrap();
        http.delete(s.url("/v1/rtregistry/ui/theme")).send().await.unwrap();
        put("/v1/rtregistry/ui/flash?ttl=1", "true").await.unwrap();
    };
    let (seen, ()) = tokio::join!(watch(&s, "?prefix=ui/", None, 4), writer);
    let kinds: Vec<(&str, &Value)> = seen.iter().map(|(_, e, d)| (e.as_str(), &d["key"])).collect();
    assert_eq!(
        kinds,
        [
            ("set", &json!("ui/theme")),
            ("delete", &json!("ui/theme")),
            ("set", &json!("ui/flash")),
            ("expire", &json!("ui/flash")),
        ],
        "{seen:?}"
    );
    let (id, _, data) = &seen[0];
    assert_eq!(data["value"], "dark");
    assert_eq!(data["etag"], format!("\"{id}\""));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "ids grow: {seen:?}");

    // Resume after the first change: the rest are replayed from the log.
    let resumed = watch(&s, "?prefix=ui/", Some(*id), 3).await;
    assert_eq!(resumed, seen[1..]);
}

/// SIGKILL during a burst of writes: after restart the database passes its
/// integrity check and every write that was acknowledged is there.
#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), &[]);
    let base = s.base.clone();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (base, acked) = (base.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let key = format!("burst/{w}/{i}");
                let url = format!("{base}/v1/rtregistry/{key}");
                match http.put(url).body(format!("{{\"i\":{i}}}")).send().await {
                    Ok(r) if r.status().as_u16() == 204 => acked.lock().unwrap().push(key),
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.kill9();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the burst got going: {}", acked.len());

    let db = rt_pipeline::db::Db::open_sqlite(&dir.path().join("rt.db")).await.unwrap();
    assert_eq!(db.integrity_check().await.unwrap(), "ok");
    let stored = db.registry_list("burst/").await.unwrap();
    let missing: Vec<&String> = acked.iter().filter(|k| !stored.contains(k)).collect();
    assert!(missing.is_empty(), "{} acknowledged writes lost: {missing:?}", missing.len());
    db.close().await;
    let s = TestServer::start_in(dir.path(), &[]);
    assert_eq!(keys(&s, "?prefix=burst/0/0").await, json!(["burst/0/0"]));
}

/// Two servers on one PostgreSQL database share the registry, and a
/// watcher on one hears changes made through the other.
#[tokio::test]
async fn nodes_on_postgres_share_the_registry() {
    let cluster = rt_pipeline::db::pg_test::Cluster::start();
    let url = cluster.url();
    let node = || {
        let dir = tempfile::tempdir().unwrap();
        let mut s = TestServer::start_in(dir.path(), &["--database-url", &url]);
        s.keep(dir);
        s
    };
    let (a, b) = (node(), node());
    let (status, etag, _) =
        call(&a, "PUT", "/v1/rtregistry/site/layout", Some("[1,2]"), None).await;
    assert_eq!(status, 204);
    let (status, etag_b, body) = call(&b, "GET", "/v1/rtregistry/site/layout", None, None).await;
    assert_eq!((status, body, etag_b), (200, json!([1, 2]), etag.clone()));
    // If-Match across nodes.
    let (status, _, _) =
        call(&b, "PUT", "/v1/rtregistry/site/layout", Some("3"), etag.as_deref()).await;
    assert_eq!(status, 204);
    let (status, _, _) =
        call(&a, "PUT", "/v1/rtregistry/site/layout", Some("4"), etag.as_deref()).await;
    assert_eq!(status, 412);

    let base = a.base.clone();
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let a = TestServer::attach(&base);
        reqwest::Client::new()
            .put(a.url("/v1/rtregistry/site/theme"))
            .body("\"dark\"")
            .send()
            .await
            .unwrap();
    };
    let (seen, ()) = tokio::join!(watch(&b, "?prefix=site/", None, 1), writer);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].1.as_str(), &seen[0].2["value"]), ("set", &json!("dark")));
    drop((a, b));
}
