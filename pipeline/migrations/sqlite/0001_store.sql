-- The store: the registry, its change log, events and track positions.
-- Times are microseconds since the Unix epoch (UTC), JSON is text: the same
-- schema on SQLite and PostgreSQL (see ../postgres/0001_store.sql).
CREATE TABLE registry (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE TABLE registry_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT,
    at BIGINT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    event_id TEXT,
    event_type TEXT,
    trigger_id TEXT,
    trigger_name TEXT,
    tracking_id TEXT,
    object_class TEXT,
    direction TEXT,
    count BIGINT,
    event_duration_ms BIGINT,
    system_timestamp BIGINT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (instance_id, seq)
);
CREATE INDEX events_time ON events (system_timestamp);
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    tracking_id TEXT NOT NULL,
    object_class TEXT,
    confidence DOUBLE PRECISION,
    system_timestamp BIGINT NOT NULL,
    x DOUBLE PRECISION,
    y DOUBLE PRECISION,
    width DOUBLE PRECISION,
    height DOUBLE PRECISION
);
CREATE INDEX tracks_time ON tracks (system_timestamp);
