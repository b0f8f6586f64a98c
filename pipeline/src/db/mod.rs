//! The database: stored events and track positions, and the registry
//! (`/v1/rtregistry`), on SQLite (a file in the data directory, the default)
//! or PostgreSQL (`--database-url postgres://...`, shared by every node).
//!
//! Both backends get the same schema (`pipeline/migrations/{sqlite,postgres}`,
//! which differ only in how row ids are generated): times are microseconds
//! since the Unix epoch in `BIGINT`, JSON is `TEXT`. Queries are plain
//! `sqlx::query` with `$N` placeholders (both backends accept them) and
//! bound values; column names only ever come from fixed lists.
//!
//! # Layout
//!
//! - [`registry`]: the JSON key/value store, TTL, ETags and the change log.
//! - [`writer`]: the batched writer that stores the events of every bus.
//! - [`retention`]: removal by age and by size, in the background.
//! - [`query`]: the `/v1/database/{events,tracks,analytics}` queries.

pub mod query;
pub mod registry;
pub mod retention;
pub mod writer;

#[cfg(any(test, feature = "test-support"))]
pub mod pg_test;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use tokio::sync::broadcast;

use crate::error::{Error, Result};

/// Name of the SQLite file in the data directory when no URL is given.
pub const DEFAULT_SQLITE_FILE: &str = "rt.db";

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the backend's pool (each arm is typed
/// for its backend, so the same query code serves both).
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opens a transaction that reads, then writes. SQLite takes its write
/// lock at `BEGIN IMMEDIATE`, waiting for another writer (the busy
/// timeout); a plain `BEGIN` would take a read snapshot first and, when
/// another writer committed meanwhile, fail the first write at once with
/// "database is locked" (a stale snapshot cannot be upgraded). PostgreSQL
/// locks the rows it writes and needs nothing more.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Self::Database>>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: Pool,
    /// Wakes registry watchers when this process changes a key (changes
    /// made by other nodes are found by polling).
    pub(crate) registry_changed: Arc<broadcast::Sender<()>>,
}

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn db_error(e: impl Into<sqlx::Error>) -> Error {
    Error::Database(e.into())
}

impl Db {
    /// Opens (creating it if needed) the SQLite file `path` and brings its
    /// schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Db> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL: readers never wait for the writer, and a committed batch
            // survives a killed process.
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(db_error)?;
        Ok(Db::with_pool(Pool::Sqlite(pool)))
    }

    /// Opens `url`: `postgres://...` or `sqlite://FILE`.
    pub async fn open_url(url: &str) -> Result<Db> {
        if let Some(file) = url.strip_prefix("sqlite://") {
            return Db::open_sqlite(Path::new(file)).await;
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid(
                "database_url",
                "must start with postgres://, postgresql:// or sqlite://",
            ));
        }
        let opts = sqlx::postgres::PgConnectOptions::from_str(url).map_err(db_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.map_err(db_error)?;
        Ok(Db::with_pool(Pool::Postgres(pool)))
    }

    fn with_pool(pool: Pool) -> Db {
        let (tx, _) = broadcast::channel(16);
        Db { pool, registry_changed: Arc::new(tx) }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when sound); PostgreSQL
    /// answers "ok" when it answers at all.
    pub async fn integrity_check(&self) -> Result<String> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
                .fetch_one(p)
                .await
                .map_err(db_error),
            Pool::Postgres(p) => {
                sqlx::query("SELECT 1").execute(p).await.map_err(db_error)?;
                Ok("ok".into())
            }
        }
    }

    /// Closes every connection (waits for those in use).
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Now, in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
