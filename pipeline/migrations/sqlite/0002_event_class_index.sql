-- Hourly (or daily...) counts per class over a time range read only this
-- index: the analytics query's common shape, kept off the wide rows.
CREATE INDEX events_time_class ON events (system_timestamp, object_class);
