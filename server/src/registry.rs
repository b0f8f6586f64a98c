//! The `/v1/rtregistry` operations: read, write and delete JSON values
//! with ETags, list keys, and the watch stream (Server-Sent Events in the
//! framing of `consume_events_sse`), plus the background task that expires
//! keys. The values live in the database ([`rt_pipeline::db`]), so on
//! PostgreSQL every node serves the same registry.

use std::time::Duration;

use bytes::Bytes;
use dropshot::Body;
use futures::SinkExt;
use futures::channel::mpsc;
use http_body::Frame;
use rt_pipeline::db::Db;
use rt_pipeline::db::registry::etag;
use serde_json::Value;
use tokio::sync::watch;
use tracing::warn;

use crate::error::{Error, chain};
use crate::sse;
use crate::streams::StreamPermit;

/// How often expired keys are removed (they are invisible from the moment
/// they expire; this only cleans up and reports `expire` to watchers).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Changes read from the log per query while catching a watcher up.
const WATCH_BATCH: i64 = 500;

/// Expires keys forever (aborted at shutdown).
pub async fn sweep(db: Db) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        if let Err(e) = db.sweep_registry().await {
            warn!(error = %chain(&e), "registry sweep failed");
        }
    }
}

/// dropshot's router sends `/v1/rtregistry` itself to the key routes (an
/// empty key): that resource is the key list, which takes only GET, so
/// `method` there is a 405 (`Allow: GET`) rather than a write of no key.
pub fn key_given(key: &str, method: &str) -> Result<(), Error> {
    if !key.is_empty() {
        return Ok(());
    }
    Err(Error::MethodNotAllowed {
        allow: "GET",
        message: format!(
            "{method} /v1/rtregistry: the key list takes only GET; a value is written or \
             deleted at /v1/rtregistry/{{key}}"
        ),
    })
}

/// `200` with the value and its `ETag`.
pub async fn get(db: &Db, key: &str) -> Result<http::Response<Body>, Error> {
    let entry = db.registry_get(key).await?;
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ETAG, entry.etag())
        .body(Body::from(entry.value.to_string()))
        .expect("a valid response"))
}

/// `200` with the keys starting with `prefix` (`GET /v1/rtregistry`, which
/// dropshot routes to the wildcard `registry_get`).
pub async fn list(db: &Db, prefix: &str) -> Result<http::Response<Body>, Error> {
    let keys = db.registry_list(prefix).await?;
    let body = serde_json::json!({ "keys": keys }).to_string();
    Ok(http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid response"))
}

/// `204` with the new `ETag`.
pub async fn put(
    db: &Db,
    key: &str,
    ttl: Option<i64>,
    if_match: Option<&str>,
    body: &[u8],
) -> Result<http::Response<Body>, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Error::Engine(rt_pipeline::Error::invalid("body", format!("not JSON: {e}")))
    })?;
    let version = db.registry_put(key, &value, ttl, if_match).await?;
    Ok(http::Response::builder()
        .status(http::StatusCode::NO_CONTENT)
        .header(http::header::ETAG, etag(version))
        .body(Body::empty())
        .expect("a valid response"))
}

type Chunk = Result<Frame<Bytes>, std::io::Error>;

/// The watch stream: changes of keys starting with `prefix` after
/// `last_event_id` (or from now on).
pub async fn watch(
    db: &Db,
    prefix: String,
    (last_event_id, permit): (Option<i64>, StreamPermit),
    keep_alive: Duration,
    shutdown: watch::Receiver<bool>,
) -> Result<http::Response<Body>, Error> {
    let mut wake = db.registry_subscribe();
    let mut after = match last_event_id {
        Some(id) => id,
        None => db.registry_last_change().await?,
    };
    let db = db.clone();
    let (mut tx, rx) = mpsc::channel::<Chunk>(32);
    sse::spawn_until_shutdown(shutdown, async move {
        if tx.send(Ok(Frame::data(Bytes::from_static(b": connected\n\n")))).await.is_err() {
            return;
        }
        let mut quiet = tokio::time::Instant::now();
        loop {
            let changes = match db.registry_changes(after, &prefix, WATCH_BATCH).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %chain(&e), "registry watch failed");
                    return;
                }
            };
            let caught_up = changes.len() < WATCH_BATCH as usize;
            for c in changes {
                after = c.id;
                let record = format!("id: {}\nevent: {}\ndata: {}\n\n", c.id, c.kind, c.data());
                if tx.send(Ok(Frame::data(Bytes::from(record)))).await.is_err() {
                    return;
                }
                quiet = tokio::time::Instant::now();
            }
            if !caught_up {
                continue;
            }
            if quiet.elapsed() >= keep_alive {
                if tx.send(Ok(Frame::data(Bytes::from_static(b": keep-alive\n\n")))).await.is_err()
                {
                    return;
                }
                quiet = tokio::time::Instant::now();
            }
            db.registry_wait(&mut wake).await;
        }
    });
    Ok(sse::streaming("text/event-stream", rx, permit))
}
