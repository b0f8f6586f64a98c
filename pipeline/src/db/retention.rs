//! Retention: stored events and track positions older than a maximum age,
//! and the oldest of them while the database is over a maximum size, are
//! removed in the background; what was removed and the current size are
//! kept in [`RetentionStats`] (shown in system information).
//!
//! Size is what the data occupies: on SQLite the used pages (free pages
//! left by deletions are reused, so the file does not grow again); on
//! PostgreSQL the tables' total relation size, which shrinks only after
//! (auto)vacuum. So one run removes at most the over-limit share of rows
//! (plus a margin) rather than deleting until the number drops, which on
//! PostgreSQL it would not do at once.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{Db, Pool, db_error, now_micros, on_pool};
use crate::error::Result;

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Remove rows older than this; `None` keeps them.
    pub max_age: Option<Duration>,
    /// Remove the oldest rows while the data is larger; `None`: no limit.
    pub max_size_bytes: Option<u64>,
}

/// Extra share removed beyond the excess, so that one run makes room.
const MARGIN: f64 = 0.05;

/// Retention's counters.
#[derive(Debug, Default)]
pub struct RetentionStats {
    pub removed_by_age: AtomicU64,
    pub removed_by_size: AtomicU64,
    /// Size of the data at the last run, in bytes.
    pub size_bytes: AtomicU64,
    /// When retention last ran (microseconds since the epoch; 0: never).
    pub last_run: AtomicI64,
}

impl RetentionStats {
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "removed_by_age": self.removed_by_age.load(Ordering::Relaxed),
            "removed_by_size": self.removed_by_size.load(Ordering::Relaxed),
            "size_bytes": self.size_bytes.load(Ordering::Relaxed),
        })
    }
}

impl Db {
    /// Bytes the stored data occupies (see the module notes).
    pub async fn data_size(&self) -> Result<u64> {
        let bytes: i64 = match &self.pool {
            Pool::Sqlite(p) => {
                let q = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(p);
                let pages = q("PRAGMA page_count").await.map_err(db_error)?;
                let free = q("PRAGMA freelist_count").await.map_err(db_error)?;
                let size = q("PRAGMA page_size").await.map_err(db_error)?;
                (pages - free) * size
            }
            Pool::Postgres(p) => sqlx::query_scalar::<_, i64>(
                "SELECT CAST(pg_total_relation_size('events') + pg_total_relation_size('tracks') \
                 + pg_total_relation_size('registry') + pg_total_relation_size('registry_changes') \
                 AS BIGINT)",
            )
            .fetch_one(p)
            .await
            .map_err(db_error)?,
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Removes the oldest `share` (0-1) of each table's rows.
    async fn remove_oldest(&self, share: f64) -> Result<u64> {
        let mut removed = 0;
        for table in ["events", "tracks"] {
            let count_sql = format!("SELECT COUNT(*) FROM {table}");
            let delete_sql = format!(
                "DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id LIMIT 1 OFFSET $1)"
            );
            removed += on_pool!(self, p => {
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone()))
                    .fetch_one(p)
                    .await
                    .map_err(db_error)?;
                let k = ((n as f64) * share).ceil() as i64;
                if k <= 0 {
                    0
                } else {
                    sqlx::query(sqlx::AssertSqlSafe(delete_sql.clone()))
                        .bind((k - 1).min(n - 1))
                        .execute(p)
                        .await
                        .map_err(db_error)?
                        .rows_affected()
                }
            });
        }
        Ok(removed)
    }

    /// One retention run: by age, then by size. Updates `stats`.
    pub async fn enforce_retention(&self, policy: &Policy, stats: &RetentionStats) -> Result<()> {
        // Counters are published together at the end of a run, so a reader
        // never sees rows removed before the size they left is known.
        let (mut removed_by_age, mut removed_by_size) = (0, 0);
        if let Some(age) = policy.max_age {
            let cutoff = now_micros() - i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let mut removed = 0;
            for sql in [
                "DELETE FROM events WHERE system_timestamp < $1",
                "DELETE FROM tracks WHERE system_timestamp < $1",
            ] {
                removed += on_pool!(self, p => sqlx::query(sql)
                    .bind(cutoff)
                    .execute(p)
                    .await
                    .map_err(db_error)?
                    .rows_affected());
            }
            removed_by_age = removed;
        }
        let mut size = self.data_size().await?;
        if let Some(max) = policy.max_size_bytes
            && size > max
        {
            let share = ((size - max) as f64 / size as f64 + MARGIN).min(1.0);
            removed_by_size = self.remove_oldest(share).await?;
            size = self.data_size().await?;
        }
        stats.size_bytes.store(size, Ordering::Relaxed);
        stats.removed_by_age.fetch_add(removed_by_age, Ordering::Relaxed);
        stats.removed_by_size.fetch_add(removed_by_size, Ordering::Relaxed);
        stats.last_run.store(now_micros(), Ordering::Relaxed);
        Ok(())
    }
}
