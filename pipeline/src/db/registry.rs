//! The registry: a JSON key/value store for dashboards (`/v1/rtregistry`).
//!
//! Every change (set, delete, expiry) is first appended to
//! `registry_changes`; its row id is the change's number, the key's new
//! version and, quoted, its `ETag`. Conditional writes (`If-Match`) are a
//! single `UPDATE ... WHERE version = $n`, so they are atomic on both
//! backends and across nodes. Watchers read the change log after the last
//! change they saw: woken at once by changes made in this process, and by
//! polling for those made by other nodes sharing a PostgreSQL database.
//! Expired keys are invisible at once and removed (with an `expire` change)
//! by [`Db::sweep_registry`].

use std::time::Duration;

use serde_json::Value;

use super::{BeginWrite as _, Db, db_error, now_micros, on_pool};
use crate::error::{Error, Result};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// Changes kept for `Last-Event-ID` resume of watch streams.
pub const CHANGES_KEPT: i64 = 10_000;

/// How often a watcher looks for changes made by other nodes.
pub const WATCH_POLL: Duration = Duration::from_millis(500);

/// A stored value and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub version: i64,
}

impl Entry {
    /// The `ETag` header of this version.
    pub fn etag(&self) -> String {
        etag(self.version)
    }
}

/// `"<version>"`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` value names; `None` when it names none (it
/// then matches nothing).
fn parse_etag(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.trim_matches('"').parse().ok()
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub id: i64,
    pub key: String,
    /// `set`, `delete` or `expire`.
    pub kind: String,
    /// The new value (`set` only).
    pub value: Option<Value>,
}

impl Change {
    /// The SSE `data:` of this change (`RegistryWatchEvent`).
    pub fn data(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("key".into(), Value::String(self.key.clone()));
        if let Some(v) = &self.value {
            m.insert("value".into(), v.clone());
            m.insert("etag".into(), Value::String(etag(self.id)));
        }
        Value::Object(m)
    }
}

/// Checks a key: 1 to [`MAX_KEY_BYTES`] bytes.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("key", "must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::invalid("key", format!("longer than {MAX_KEY_BYTES} bytes")));
    }
    Ok(())
}

impl Db {
    /// The live value of `key`.
    pub async fn registry_get(&self, key: &str) -> Result<Entry> {
        check_key(key)?;
        let row: Option<(String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT value, version FROM registry \
             WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(key)
        .bind(now_micros())
        .fetch_optional(p)
        .await
        .map_err(db_error)?);
        let (text, version) = row.ok_or_else(|| Error::KeyNotFound(key.to_string()))?;
        let value = serde_json::from_str(&text).map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(Entry { value, version })
    }

    /// Live keys starting with `prefix`, sorted.
    pub async fn registry_list(&self, prefix: &str) -> Result<Vec<String>> {
        let keys: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT key FROM registry WHERE substr(key, 1, length(CAST($1 AS TEXT))) = $1 \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY key",
        )
        .bind(prefix)
        .bind(now_micros())
        .fetch_all(p)
        .await
        .map_err(db_error)?);
        let mut keys: Vec<String> = keys.into_iter().map(|(k,)| k).collect();
        // Byte order on both backends, whatever the collation.
        keys.sort();
        Ok(keys)
    }

    /// Stores `value` under `key`, expiring after `ttl` seconds if given;
    /// with `if_match`, only when the live version has that ETag
    /// ([`Error::PreconditionFailed`] otherwise). Returns the new version.
    pub async fn registry_put(
        &self,
        key: &str,
        value: &Value,
        ttl: Option<i64>,
        if_match: Option<&str>,
    ) -> Result<i64> {
        check_key(key)?;
        if let Some(t) = ttl
            && t < 1
        {
            return Err(Error::invalid("ttl", "must be at least 1 second"));
        }
        let now = now_micros();
        let expires = ttl.map(|t| now.saturating_add(t.saturating_mul(1_000_000)));
        let text = value.to_string();
        // `*` matches any live version.
        let any = if_match.is_some_and(|m| m.trim() == "*");
        let expected = if_match.map(parse_etag);
        let version = on_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_error)?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO registry_changes (key, kind, value, at) \
                 VALUES ($1, 'set', $2, $3) RETURNING id",
            )
            .bind(key)
            .bind(&text)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            let done = match expected {
                Some(expected) => sqlx::query(
                    "UPDATE registry SET value = $1, version = $2, expires_at = $3 \
                     WHERE key = $4 AND (version = $5 OR $7) \
                     AND (expires_at IS NULL OR expires_at > $6)",
                )
                .bind(&text)
                .bind(id)
                .bind(expires)
                .bind(key)
                .bind(expected.unwrap_or(-1))
                .bind(now)
                .bind(any)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected(),
                None => sqlx::query(
                    "INSERT INTO registry (key, value, version, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     version = excluded.version, expires_at = excluded.expires_at",
                )
                .bind(key)
                .bind(&text)
                .bind(id)
                .bind(expires)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected(),
            };
            if done == 0 {
                tx.rollback().await.map_err(db_error)?;
                return Err(Error::PreconditionFailed(key.to_string()));
            }
            tx.commit().await.map_err(db_error)?;
            id
        });
        let _ = self.registry_changed.send(());
        Ok(version)
    }

    /// Removes `key` ([`Error::KeyNotFound`] when it is not live); with
    /// `if_match`, only when its ETag matches.
    pub async fn registry_delete(&self, key: &str, if_match: Option<&str>) -> Result<()> {
        check_key(key)?;
        let now = now_micros();
        on_pool!(self, p => {
            let mut tx = p.begin_write().await.map_err(db_error)?;
            let current: Option<(i64,)> = sqlx::query_as(
                "SELECT version FROM registry \
                 WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some((version,)) = current else {
                return Err(Error::KeyNotFound(key.to_string()));
            };
            if let Some(m) = if_match
                && m.trim() != "*"
                && parse_etag(m) != Some(version)
            {
                return Err(Error::PreconditionFailed(key.to_string()));
            }
            let gone = sqlx::query("DELETE FROM registry WHERE key = $1 AND version = $2")
                .bind(key)
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            if gone == 0 {
                // Changed by someone else since we read it.
                return Err(Error::PreconditionFailed(key.to_string()));
            }
            sqlx::query("INSERT INTO registry_changes (key, kind, at) VALUES ($1, 'delete', $2)")
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
        });
        let _ = self.registry_changed.send(());
        Ok(())
    }

    /// Removes expired keys, logging an `expire` change for each, and trims
    /// the change log to [`CHANGES_KEPT`]. Returns how many keys expired.
    pub async fn sweep_registry(&self) -> Result<usize> {
        let now = now_micros();
        let expired = on_pool!(self, p => {
            let mut tx = p.begin_write().await.map_err(db_error)?;
            let keys: Vec<(String, i64)> = sqlx::query_as(
                "SELECT key, version FROM registry WHERE expires_at IS NOT NULL AND expires_at <= $1",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            let mut n = 0;
            for (key, version) in keys {
                let gone = sqlx::query("DELETE FROM registry WHERE key = $1 AND version = $2")
                    .bind(&key)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                if gone > 0 {
                    sqlx::query(
                        "INSERT INTO registry_changes (key, kind, at) VALUES ($1, 'expire', $2)",
                    )
                    .bind(&key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    n += 1;
                }
            }
            sqlx::query(
                "DELETE FROM registry_changes WHERE id <= \
                 (SELECT COALESCE(MAX(id), 0) FROM registry_changes) - $1",
            )
            .bind(CHANGES_KEPT)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            n
        });
        if expired > 0 {
            let _ = self.registry_changed.send(());
        }
        Ok(expired)
    }

    /// The newest change number (0 when there is none).
    pub async fn registry_last_change(&self) -> Result<i64> {
        let (id,): (i64,) = on_pool!(self, p => sqlx::query_as(
            "SELECT COALESCE(MAX(id), 0) FROM registry_changes",
        )
        .fetch_one(p)
        .await
        .map_err(db_error)?);
        Ok(id)
    }

    /// Up to `limit` changes after `after` of keys starting with `prefix`,
    /// oldest first.
    pub async fn registry_changes(
        &self,
        after: i64,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<Change>> {
        let rows: Vec<(i64, String, String, Option<String>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, key, kind, value FROM registry_changes \
             WHERE id > $1 AND substr(key, 1, length(CAST($2 AS TEXT))) = $2 ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(prefix)
        .bind(limit)
        .fetch_all(p)
        .await
        .map_err(db_error)?);
        rows.into_iter()
            .map(|(id, key, kind, value)| {
                let value = value
                    .map(|v| serde_json::from_str(&v))
                    .transpose()
                    .map_err(|e| Error::Corrupt(e.to_string()))?;
                Ok(Change { id, key, kind, value })
            })
            .collect()
    }

    /// Resolves when this process changes the registry, or after
    /// [`WATCH_POLL`] (to see other nodes' changes).
    pub async fn registry_wait(&self, rx: &mut tokio::sync::broadcast::Receiver<()>) {
        let _ = tokio::time::timeout(WATCH_POLL, rx.recv()).await;
    }

    /// A receiver for [`Db::registry_wait`]; take it before reading changes.
    pub fn registry_subscribe(&self) -> tokio::sync::broadcast::Receiver<()> {
        self.registry_changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip_and_odd_ones_match_nothing() {
        for (given, want) in [
            ("\"7\"", Some(7)),
            ("W/\"7\"", Some(7)),
            (" \"12\" ", Some(12)),
            ("7", Some(7)),
            ("\"x\"", None),
            ("", None),
        ] {
            assert_eq!(parse_etag(given), want, "{given:?}");
        }
        assert_eq!(parse_etag(&etag(42)), Some(42));
    }
}
